/* session: the worker's one event loop — the DEALER socket and every HTTP transfer wait together
 * in curl_multi_poll (the socket's ZMQ_FD as an extra descriptor); no thread, no zmq_poll. */
#define _GNU_SOURCE
#include "session.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "chain.h"
#include "http.h"
#include "log.h"
#include "proto.h"

typedef struct session {
    const wk_opts_t *o;
    void *zctx, *sock;
    int zfd; /* ZMQ_FD: edge-triggered, so ZMQ_EVENTS is checked after every wake-up */
    wk_http_t *http;
    wk_chain_t *chain;
    int64_t slots, heartbeat_ms;
    int64_t last_recv_ms, last_send_ms, backoff_ms, hello_ms;
    int draining;
    rs_buf_t out;
} session_t;

static size_t held(const session_t *s)
{
    return s->chain ? wk_chain_held(s->chain) : 0;
}

static int send_frame(session_t *s)
{
    if (zmq_send(s->sock, s->out.data, s->out.len, ZMQ_DONTWAIT) < 0) return -1;
    s->last_send_ms = rs_mono_ms();
    return 0;
}

static void send_hello(session_t *s)
{
    char host[256] = "";
    gethostname(host, sizeof(host) - 1);
    rs_hello_t h = {(char *)s->o->id, host, (int64_t)getpid(), RS_VERSION,
                    s->o->slots ? s->o->slots : 64};
    rs_buf_reset(&s->out);
    rs_proto_encode_hello(&s->out, &h);
    send_frame(s);
    s->hello_ms = rs_mono_ms();
}

static void send_credit(session_t *s, int64_t n)
{
    rs_buf_reset(&s->out);
    rs_proto_encode_credit(&s->out, n);
    send_frame(s);
}

static void on_cancel(session_t *s, uint64_t task_id)
{
    size_t n = s->chain ? wk_chain_cancel(s->chain, 0, task_id) : 0;
    if (n) send_credit(s, (int64_t)n); /* dropped cases give their slots back */
}

static void on_welcome(session_t *s, rs_welcome_t *w)
{
    rs_err_t err;
    wk_chain_t *ch = wk_chain_new(w->spec, s->http, &err);
    if (!ch) {
        rs_error("run %s: cannot use its spec: %s", w->run_id, err.msg);
        return;
    }
    wk_chain_destroy(&s->chain); /* a new run: whatever the old one held is void */
    s->chain = ch;
    s->heartbeat_ms = w->heartbeat_ms > 0 ? w->heartbeat_ms : 1000;
    s->slots = s->o->slots ? s->o->slots : wk_chain_config(ch)->cluster.worker_slots;
    wk_http_set_limit(s->http, (size_t)(s->o->requests ? s->o->requests : s->slots));
    s->backoff_ms = 1000;
    rs_debug("joined run %s with %lld slots", w->run_id, (long long)s->slots);
    send_credit(s, s->slots - (int64_t)held(s));
}

static void on_task(session_t *s, rs_task_t *t)
{
    if (!s->chain) {
        rs_warn("task %llu arrived before WELCOME; ignored", (unsigned long long)t->task_id);
        return;
    }
    for (size_t i = 0; i < t->n_cases; i++)
        wk_chain_start(s->chain, t->task_id, t->lease, &t->cases[i]);
}

static void handle(session_t *s, const void *data, size_t len)
{
    rs_msg_t m;
    rs_err_t err;
    if (rs_proto_decode(data, len, &m, &err) != 0) {
        rs_warn("rejected a frame from the coordinator: %s", err.msg);
        return;
    }
    switch (m.type) {
    case RS_MSG_WELCOME: on_welcome(s, &m.u.welcome); break;
    case RS_MSG_TASK: on_task(s, &m.u.task); break;
    case RS_MSG_HEARTBEAT: break;
    case RS_MSG_DRAIN: s->draining = 1; break;
    case RS_MSG_CANCEL: on_cancel(s, m.u.cancel); break;
    default: rs_warn("unexpected %s from the coordinator; ignored", rs_msg_type_name(m.type));
    }
    rs_msg_cleanup(&m);
}

/* Sends the cases that finished, one RESULT per task (and lease), at most RS_PROTO_MAX_CASES
 * a frame. Each case in a RESULT returns its credit implicitly. */
static void report_done(session_t *s)
{
    size_t n;
    wk_done_t *d = s->chain ? wk_chain_take_done(s->chain, &n) : NULL;
    if (!d) return;
    rs_case_result_t *cases = rs_xmalloc((n < RS_PROTO_MAX_CASES ? n : RS_PROTO_MAX_CASES) *
                                         sizeof(*cases));
    unsigned char *sent = rs_xcalloc(n, 1);
    for (size_t i = 0; i < n; i++) {
        if (sent[i]) continue;
        rs_result_t r = {.task_id = d[i].task_id, .lease = d[i].lease, .cases = cases};
        for (size_t j = i; j < n && r.n_cases < RS_PROTO_MAX_CASES; j++) {
            if (sent[j] || d[j].task_id != d[i].task_id || d[j].lease != d[i].lease) continue;
            cases[r.n_cases++] = (rs_case_result_t){d[j].idx, d[j].failed, d[j].json,
                                                    d[j].json_len};
            sent[j] = 1;
        }
        rs_buf_reset(&s->out);
        rs_proto_encode_result(&s->out, &r);
        if (send_frame(s) != 0) rs_warn("could not send a result: %s", zmq_strerror(errno));
    }
    for (size_t i = 0; i < n; i++) free(d[i].json);
    free(sent);
    free(cases);
    free(d);
}

static void timers(session_t *s)
{
    int64_t now = rs_mono_ms();
    if (now - s->last_recv_ms > 3 * s->heartbeat_ms && now - s->hello_ms > s->backoff_ms) {
        if (held(s)) rs_warn("coordinator silent; dropping %zu held case(s)", held(s));
        if (s->chain) wk_chain_cancel(s->chain, 1, 0);
        send_hello(s);
        s->backoff_ms = s->backoff_ms * 2 > 32000 ? 32000 : s->backoff_ms * 2;
    } else if (now - s->last_send_ms >= s->heartbeat_ms) {
        rs_buf_reset(&s->out);
        rs_proto_encode_heartbeat(&s->out, (int64_t)held(s));
        send_frame(s);
    }
}

/* How long the loop may sleep: not past the next heartbeat, not at all with results to send.
 * HTTP timers and transfers shorten it further inside wk_http_wait. */
static int64_t next_wait(const session_t *s)
{
    if (s->chain && wk_chain_n_done(s->chain)) return 0;
    int64_t wait = s->last_send_ms + s->heartbeat_ms - rs_mono_ms();
    if (wait > s->heartbeat_ms) wait = s->heartbeat_ms;
    return wait < 0 ? 0 : wait;
}

/* ZMQ_EVENTS says whether a frame can be read; asking it also re-arms the edge-triggered ZMQ_FD,
 * so it is the last socket call before the loop sleeps. */
static int zmq_readable(session_t *s)
{
    int ev = 0;
    size_t len = sizeof(ev);
    if (zmq_getsockopt(s->sock, ZMQ_EVENTS, &ev, &len) != 0) return 0;
    return (ev & ZMQ_POLLIN) != 0;
}

static int recv_all(session_t *s)
{
    while (zmq_readable(s)) {
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, s->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&msg);
            if (errno == EAGAIN || errno == EINTR) return 0;
            return -1;
        }
        s->last_recv_ms = rs_mono_ms();
        handle(s, zmq_msg_data(&msg), zmq_msg_size(&msg));
        zmq_msg_close(&msg);
    }
    return 0;
}

static int session_open(session_t *s, const wk_opts_t *o, rs_err_t *err)
{
    memset(s, 0, sizeof(*s));
    s->o = o;
    s->heartbeat_ms = 1000;
    s->backoff_ms = 1000;
    s->slots = o->slots ? o->slots : 64;
    rs_buf_init(&s->out);
    s->http = wk_http_new((size_t)(o->requests ? o->requests : s->slots), err);
    if (!s->http) return -1;
    s->zctx = zmq_ctx_new();
    s->sock = zmq_socket(s->zctx, ZMQ_DEALER);
    int64_t maxsize = RS_PROTO_MAX_FRAME;
    int linger = 2000;
    size_t fdlen = sizeof(s->zfd);
    zmq_setsockopt(s->sock, ZMQ_MAXMSGSIZE, &maxsize, sizeof(maxsize));
    zmq_setsockopt(s->sock, ZMQ_LINGER, &linger, sizeof(linger));
    if (zmq_getsockopt(s->sock, ZMQ_FD, &s->zfd, &fdlen) != 0)
        return rs_err_set(err, "ZMQ_FD: %s", zmq_strerror(errno));
    s->last_recv_ms = rs_mono_ms();
    return 0;
}

static void session_close(session_t *s)
{
    wk_chain_destroy(&s->chain); /* before the engine: it cancels its transfers there */
    wk_http_destroy(&s->http);
    rs_buf_cleanup(&s->out);
    if (s->sock) zmq_close(s->sock);
    if (s->zctx) zmq_ctx_term(s->zctx);
}

/* One turn of the loop: read the socket dry, move the transfers and timers, send what finished,
 * heartbeat, then sleep in curl_multi_poll. 1 to leave (drained), 0 to go on, -1 on error. */
static int turn(session_t *s, rs_err_t *err)
{
    if (recv_all(s) != 0) return rs_err_set(err, "receive: %s", zmq_strerror(errno));
    if (wk_http_step(s->http, err) != 0) return -1;
    report_done(s);
    if (s->draining && held(s) == 0 && wk_http_live(s->http) == 0 && s->o->exit_on_drain) return 1;
    timers(s);
    int64_t wait = zmq_readable(s) ? 0 : next_wait(s);
    return wk_http_wait(s->http, s->zfd, wait, err);
}

int wk_session_run(const wk_opts_t *o, volatile sig_atomic_t *stop, rs_err_t *err)
{
    session_t s;
    int rc = session_open(&s, o, err);
    if (rc == 0 && zmq_connect(s.sock, o->connect) != 0)
        rc = rs_err_set(err, "cannot connect to %s: %s", o->connect, zmq_strerror(errno));
    if (rc == 0) send_hello(&s);
    while (rc == 0 && !*stop) rc = turn(&s, err);
    session_close(&s);
    return rc < 0 ? -1 : 0;
}
