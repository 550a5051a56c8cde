/* session: the worker's event loop over its DEALER socket. */
#define _GNU_SOURCE
#include "session.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "chain.h"
#include "log.h"
#include "proto.h"

/* A finished case waiting for its simulated latency to pass before it is reported. */
typedef struct held {
    uint64_t task_id, lease, idx;
    int64_t ready_ms;
    int failed;
    char *json;
    size_t json_len;
} held_t;

typedef struct session {
    const wk_opts_t *o;
    void *zctx, *sock;
    wk_chain_t *chain;
    int64_t slots, heartbeat_ms;
    held_t *held;
    size_t n_held, cap_held;
    int64_t last_recv_ms, last_send_ms, backoff_ms, hello_ms;
    int draining;
    rs_buf_t out;
} session_t;

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

static void send_credit(session_t *s)
{
    rs_buf_reset(&s->out);
    rs_proto_encode_credit(&s->out, s->slots - (int64_t)s->n_held);
    send_frame(s);
}

/* Drops held cases (all, or one task's); returns how many were dropped. */
static size_t drop_held(session_t *s, int all, uint64_t task_id)
{
    size_t j = 0, n = s->n_held;
    for (size_t i = 0; i < n; i++) {
        if (all || s->held[i].task_id == task_id) free(s->held[i].json);
        else s->held[j++] = s->held[i];
    }
    s->n_held = j;
    return n - j;
}

static void on_cancel(session_t *s, uint64_t task_id)
{
    size_t n = drop_held(s, 0, task_id);
    if (n == 0) return;
    rs_buf_reset(&s->out);
    rs_proto_encode_credit(&s->out, (int64_t)n); /* dropped cases give their slots back */
    send_frame(s);
}

static void on_welcome(session_t *s, rs_welcome_t *w)
{
    rs_err_t err;
    wk_chain_t *ch = wk_chain_new(w->spec, &err);
    if (!ch) {
        rs_error("run %s: cannot use its spec: %s", w->run_id, err.msg);
        return;
    }
    wk_chain_destroy(&s->chain);
    s->chain = ch;
    s->heartbeat_ms = w->heartbeat_ms > 0 ? w->heartbeat_ms : 1000;
    s->slots = s->o->slots ? s->o->slots : wk_chain_config(ch)->cluster.worker_slots;
    s->backoff_ms = 1000;
    rs_debug("joined run %s with %lld slots", w->run_id, (long long)s->slots);
    send_credit(s);
}

static void hold(session_t *s, const rs_task_t *t, const rs_case_t *c)
{
    wk_outcome_t o;
    wk_chain_run(s->chain, c, &o);
    if (s->n_held == s->cap_held) {
        s->cap_held = s->cap_held ? 2 * s->cap_held : 64;
        s->held = rs_xrealloc(s->held, s->cap_held * sizeof(*s->held));
    }
    s->held[s->n_held++] = (held_t){t->task_id, t->lease, c->idx,
                                    rs_mono_ms() + (int64_t)o.latency_ms, o.failed, o.json,
                                    o.json_len};
}

static void on_task(session_t *s, rs_task_t *t)
{
    if (!s->chain) {
        rs_warn("task %llu arrived before WELCOME; ignored", (unsigned long long)t->task_id);
        return;
    }
    for (size_t i = 0; i < t->n_cases; i++) hold(s, t, &t->cases[i]);
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

/* Reports every case whose time has come, one RESULT per task. */
static void report_ready(session_t *s)
{
    int64_t now = rs_mono_ms();
    while (s->n_held) {
        size_t first = s->n_held;
        for (size_t i = 0; i < s->n_held; i++)
            if (s->held[i].ready_ms <= now) {
                first = i;
                break;
            }
        if (first == s->n_held) return;
        uint64_t task = s->held[first].task_id;
        rs_case_result_t cases[RS_PROTO_MAX_CASES];
        rs_result_t r = {task, s->held[first].lease, cases, 0, NULL, 0};
        size_t j = 0;
        for (size_t i = 0; i < s->n_held; i++) {
            held_t *h = &s->held[i];
            if (h->task_id == task && h->ready_ms <= now && r.n_cases < RS_PROTO_MAX_CASES)
                cases[r.n_cases++] = (rs_case_result_t){h->idx, h->failed, h->json, h->json_len};
            else
                s->held[j++] = *h;
        }
        s->n_held = j;
        rs_buf_reset(&s->out);
        rs_proto_encode_result(&s->out, &r);
        if (send_frame(s) != 0) rs_warn("could not send a result: %s", zmq_strerror(errno));
        for (size_t i = 0; i < r.n_cases; i++) free(cases[i].json);
    }
}

static long next_wait(const session_t *s)
{
    int64_t now = rs_mono_ms(), wait = s->heartbeat_ms;
    for (size_t i = 0; i < s->n_held; i++)
        if (s->held[i].ready_ms - now < wait) wait = s->held[i].ready_ms - now;
    return wait < 0 ? 0 : (long)wait;
}

static void timers(session_t *s)
{
    int64_t now = rs_mono_ms();
    if (now - s->last_recv_ms > 3 * s->heartbeat_ms && now - s->hello_ms > s->backoff_ms) {
        if (s->n_held) rs_warn("coordinator silent; dropping %zu held case(s)", s->n_held);
        drop_held(s, 1, 0);
        send_hello(s);
        s->backoff_ms = s->backoff_ms * 2 > 32000 ? 32000 : s->backoff_ms * 2;
    } else if (now - s->last_send_ms >= s->heartbeat_ms) {
        rs_buf_reset(&s->out);
        rs_proto_encode_heartbeat(&s->out, (int64_t)s->n_held);
        send_frame(s);
    }
}

static int recv_all(session_t *s)
{
    for (;;) {
        zmq_msg_t msg;
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, s->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&msg);
            return errno == EAGAIN || errno == EINTR ? 0 : -1;
        }
        s->last_recv_ms = rs_mono_ms();
        handle(s, zmq_msg_data(&msg), zmq_msg_size(&msg));
        zmq_msg_close(&msg);
    }
}

static void session_open(session_t *s, const wk_opts_t *o)
{
    memset(s, 0, sizeof(*s));
    s->o = o;
    s->heartbeat_ms = 1000;
    s->backoff_ms = 1000;
    s->slots = o->slots ? o->slots : 64;
    rs_buf_init(&s->out);
    s->zctx = zmq_ctx_new();
    s->sock = zmq_socket(s->zctx, ZMQ_DEALER);
    int64_t maxsize = RS_PROTO_MAX_FRAME;
    int linger = 2000;
    zmq_setsockopt(s->sock, ZMQ_MAXMSGSIZE, &maxsize, sizeof(maxsize));
    zmq_setsockopt(s->sock, ZMQ_LINGER, &linger, sizeof(linger));
    s->last_recv_ms = rs_mono_ms();
}

static void session_close(session_t *s)
{
    drop_held(s, 1, 0);
    free(s->held);
    wk_chain_destroy(&s->chain);
    rs_buf_cleanup(&s->out);
    zmq_close(s->sock);
    zmq_ctx_term(s->zctx);
}

int wk_session_run(const wk_opts_t *o, volatile sig_atomic_t *stop, rs_err_t *err)
{
    session_t s;
    session_open(&s, o);
    int rc = 0;
    if (zmq_connect(s.sock, o->connect) != 0) {
        rc = rs_err_set(err, "cannot connect to %s: %s", o->connect, zmq_strerror(errno));
        session_close(&s);
        return rc;
    }
    send_hello(&s);
    while (!*stop) {
        zmq_pollitem_t item = {s.sock, 0, ZMQ_POLLIN, 0};
        if (zmq_poll(&item, 1, next_wait(&s)) < 0 && errno != EINTR) {
            rc = rs_err_set(err, "zmq_poll: %s", zmq_strerror(errno));
            break;
        }
        if (recv_all(&s) != 0) {
            rc = rs_err_set(err, "receive: %s", zmq_strerror(errno));
            break;
        }
        report_ready(&s); /* each reported case returns its credit implicitly */
        if (s.draining && s.n_held == 0 && o->exit_on_drain) break;
        timers(&s);
    }
    session_close(&s);
    return rc;
}
