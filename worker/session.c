/* session: the worker's one event loop — the DEALER socket and every HTTP transfer wait together
 * in one poll (the socket's ZMQ_FD beside the transfers' epoll set); no thread, no zmq_poll. */
#define _GNU_SOURCE
#include "session.h"
#include "session_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zmq.h>

#include "backlog.h"
#include "cache.h"
#include "chain.h"
#include "http.h"
#include "log.h"
#include "proto.h"
#include "provider.h"
#include "trace.h"
#include "usage.h"

#define HELLO_RETRY_MS 10 /* a HELLO that could not go out (no connection yet) is tried again */
#define NO_ANSWER_MS 5000       /* no frame at all from the coordinator this long: say why */
#define NO_ANSWER_AGAIN_MS 60000 /* ...and again this often while it lasts */
#define RECONNECT_MS 2000        /* a connection that brought nothing is made again after this, */
#define RECONNECT_MAX_MS 10000   /* ...doubling up to this */

typedef struct session {
    const wk_opts_t *o;
    void *zctx, *sock;
    int zfd; /* ZMQ_FD: edge-triggered, so ZMQ_EVENTS is checked after every wake-up */
    wk_http_t *http;
    wk_cache_t *cache; /* the run's response cache; NULL when it has none */
    wk_chain_t *chain;
    wk_usage_t *usage; /* the stats of the RESULT being built; goes with chain */
    wk_backlog_t backlog; /* cases held beyond the slots, started as running ones finish */
    int64_t slots, backlog_max, heartbeat_ms;
    int64_t last_recv_ms, last_send_ms, backoff_ms, hello_ms;
    int64_t hello_at; /* when to send a HELLO (mono ms); 0: none due */
    int spec_failures; /* WELCOMEs in a row whose spec failed */
    int fatal;         /* give up: fatal_err says why */
    rs_err_t fatal_err;
    int draining;
    int64_t leave_by; /* drained and idle: when to leave even with cache writes unanswered */
    int64_t opened_ms, no_answer_ms; /* for the "no answer" warning; 0 once anything arrived */
    int heard; /* a frame arrived since the coordinator was last heard of as silent */
    int64_t reconnect_at, reconnect_ms;
    rs_buf_t out;
} session_t;

static size_t held(const session_t *s)
{
    return (s->chain ? wk_chain_held(s->chain) : 0) + wk_backlog_len(&s->backlog);
}

/* Starts waiting cases while slots are free: the moment a running case finishes, the next one
 * starts, without waiting for its RESULT to travel and a TASK to come back. */
static void start_waiting(session_t *s)
{
    wk_waiting_t w;
    while (s->chain && wk_chain_running(s->chain) < (size_t)s->slots &&
           wk_backlog_pop(&s->backlog, &w) == 0)
        wk_chain_start(s->chain, w.task_id, w.lease, w.arrival, &w.c);
}

/* Drops what this worker holds of task_id (of everything, when all), running or waiting. */
static size_t drop_cases(session_t *s, int all, uint64_t task_id)
{
    size_t n = wk_backlog_drop(&s->backlog, all, task_id);
    return n + (s->chain ? wk_chain_cancel(s->chain, all, task_id) : 0);
}

/* A frame that cannot go out (no connection: ZMQ_IMMEDIATE) still counts as the heartbeat's
 * "sent": retrying it before the next heartbeat is due would make the loop spin. */
static int send_frame(session_t *s)
{
    s->last_send_ms = rs_mono_ms();
    return zmq_send(s->sock, s->out.data, s->out.len, ZMQ_DONTWAIT) < 0 ? -1 : 0;
}

/* With ZMQ_IMMEDIATE a HELLO cannot go out before the connection is up; it is then tried again
 * shortly rather than after a heartbeat backoff, so a worker joins as soon as it can. */
static void send_hello(session_t *s)
{
    char host[256] = "";
    gethostname(host, sizeof(host) - 1);
    /* slots 0: the run's cluster.worker_slots (the coordinator times backlog leases by it) */
    rs_hello_t h = {(char *)s->o->id, host, (int64_t)getpid(), RS_VERSION, s->o->slots};
    rs_buf_reset(&s->out);
    rs_proto_encode_hello(&s->out, &h);
    s->hello_ms = rs_mono_ms();
    s->hello_at = send_frame(s) == 0 ? 0 : s->hello_ms + HELLO_RETRY_MS;
}

static void send_credit(session_t *s, int64_t n)
{
    rs_buf_reset(&s->out);
    rs_proto_encode_credit(&s->out, n);
    send_frame(s);
}

static void on_cancel(session_t *s, uint64_t task_id)
{
    size_t n = drop_cases(s, 0, task_id);
    if (n) send_credit(s, (int64_t)n); /* dropped cases give their slots back */
}

/* A spec this worker cannot read is most likely version skew: the coordinator is newer (or
 * older). It asks again a few times (the coordinator may be mid-upgrade), then gives up with one
 * line, so a fleet of mismatched workers fails visibly instead of idling connected. */
static void spec_failed(session_t *s, const char *run_id, const char *why)
{
    s->spec_failures++;
    rs_debug("run %s: cannot use its spec (try %d of %d): %s", run_id, s->spec_failures,
             SPEC_TRIES, why);
    if (s->spec_failures < SPEC_TRIES) {
        s->hello_at = rs_mono_ms() + 1000 * s->spec_failures;
        return;
    }
    s->fatal = 1;
    /* a variable refused by --allow-env, or an exec grader without --allow-exec, is no version
     * skew: its message says what to do */
    int skew = strstr(why, "--allow-env") == NULL && strstr(why, "--allow-exec") == NULL;
    rs_err_set(&s->fatal_err, "run %s: cannot use the coordinator's run spec (%d tries): %s%s%s%s",
               run_id, SPEC_TRIES, why, skew ? "; is this worker (version " : "",
               skew ? RS_VERSION : "", skew ? ") the same version as the coordinator?" : "");
}

static void on_welcome(session_t *s, rs_welcome_t *w)
{
    rs_err_t err;
    wk_chain_t *ch = wk_chain_new(w->spec, w->run_id, s->o->id, s->http, s->o->env, &err);
    /* a new WELCOME voids whatever the old run held, even when its spec is unusable: TASKs
     * that follow belong to the new run and must not run under the old spec */
    wk_backlog_drop(&s->backlog, 1, 0);
    wk_usage_destroy(&s->usage);
    wk_chain_destroy(&s->chain);
    wk_http_set_cache(s->http, NULL);
    wk_cache_destroy(&s->cache);
    if (!ch) {
        spec_failed(s, w->run_id, err.msg);
        return;
    }
    s->spec_failures = 0;
    s->hello_at = 0; /* welcomed: a HELLO still waiting for its retry would start over */
    s->chain = ch;
    s->usage = wk_usage_new(wk_chain_config(ch));
    s->cache = wk_cache_new(&wk_chain_config(ch)->cache, s->o->env);
    wk_http_set_cache(s->http, s->cache);
    s->heartbeat_ms = w->heartbeat_ms > 0 ? w->heartbeat_ms : 1000;
    int64_t spec_slots = wk_chain_config(ch)->cluster.worker_slots;
    if (spec_slots > WK_SLOTS_MAX) spec_slots = WK_SLOTS_MAX;
    s->slots = s->o->slots ? s->o->slots : spec_slots;
    /* what it holds, waiting cases included, stays within WK_SLOTS_MAX too */
    s->backlog_max = wk_chain_config(ch)->cluster.worker_backlog;
    if (s->backlog_max > WK_SLOTS_MAX - s->slots) s->backlog_max = WK_SLOTS_MAX - s->slots;
    wk_http_set_limit(s->http, (size_t)(s->o->requests ? s->o->requests : s->slots));
    wk_http_set_max_body(s->http, (size_t)wk_chain_config(ch)->cluster.max_response_bytes);
    s->backoff_ms = 1000;
    rs_debug("joined run %s with %lld slots and a backlog of %lld", w->run_id,
             (long long)s->slots, (long long)s->backlog_max);
    send_credit(s, s->slots + s->backlog_max - (int64_t)held(s));
}

static void on_task(session_t *s, rs_task_t *t)
{
    if (!s->chain) {
        /* its lease ends, or our next HELLO gives its cases back at once */
        rs_debug("task %llu arrived without a usable spec; ignored", (unsigned long long)t->task_id);
        return;
    }
    wk_arrival_t now = {wk_trace_wall_us(), rs_mono_sec()};
    for (size_t i = 0; i < t->n_cases; i++)
        wk_backlog_push(&s->backlog, t->task_id, t->lease, now, &t->cases[i]);
    start_waiting(s);
}

/* The coordinator relays a server's Retry-After to the whole cluster: hold that model's requests. */
static void on_pause(session_t *s, const rs_pause_t *p)
{
    /* only a model of the run: a name the spec does not have would hold nothing, and kept, it
     * would grow the list of pauses with every such message */
    if (!s->chain || rs_config_model_index(wk_chain_config(s->chain), p->model) < 0) {
        rs_debug("PAUSE for a model the run does not have; ignored");
        return;
    }
    int64_t ms = p->ms < RS_PROVIDER_RETRY_AFTER_MAX_MS ? p->ms : RS_PROVIDER_RETRY_AFTER_MAX_MS;
    rs_debug("model %s paused for %lld ms (the server asked for it)", p->model, (long long)ms);
    wk_http_pause(s->http, p->model, rs_mono_ms() + ms);
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
    case RS_MSG_PAUSE: on_pause(s, &m.u.pause); break;
    default: rs_warn("unexpected %s from the coordinator; ignored", rs_msg_type_name(m.type));
    }
    rs_msg_cleanup(&m);
}

/* Sends the cases that finished, one RESULT per task (and lease), at most RS_PROTO_MAX_CASES
 * a frame, each with the usage summary of its cases' model calls. Each case in a RESULT returns
 * its credit implicitly. The spans travel inside the records, so RESULT's own spans stay empty. */
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
            wk_usage_add(s->usage, d[j].calls, d[j].n_calls);
            sent[j] = 1;
        }
        r.stats = wk_usage_take(s->usage, &r.stats_len);
        rs_buf_reset(&s->out);
        rs_proto_encode_result(&s->out, &r);
        if (send_frame(s) != 0) rs_warn("could not send a result: %s", zmq_strerror(errno));
        free(r.stats);
    }
    for (size_t i = 0; i < n; i++) wk_done_cleanup(&d[i]);
    free(sent);
    free(cases);
    free(d);
}

/* A 429 or 503 is news the coordinator needs now (it adapts the model's cap and may pause the
 * model for every worker), not when some case ends: when no RESULT took it, a HEARTBEAT carries
 * the stats. */
static void report_congestion(session_t *s)
{
    /* with a HELLO due the coordinator does not know this worker (yet, or any more): the stats
     * wait for a RESULT or a HEARTBEAT after the WELCOME */
    if (!s->usage || s->hello_at || !wk_usage_urgent(s->usage)) return;
    rs_heartbeat_t hb = {(int64_t)held(s), NULL, 0};
    hb.stats = wk_usage_take(s->usage, &hb.stats_len);
    rs_buf_reset(&s->out);
    rs_proto_encode_heartbeat(&s->out, &hb);
    send_frame(s);
    free(hb.stats);
}

/* Each retry is counted as it happens (see report_congestion). */
static void on_retry(void *ud, const rs_model_cfg_t *m, const rs_failure_t *f)
{
    session_t *s = ud;
    if (s->usage) wk_usage_retry(s->usage, m->name, f->reason, f->retry_after_ms);
}

/* A CURVE handshake that fails (the coordinator has another key, or does not know ours) is
 * silent on this side: ZeroMQ just reconnects. So a worker that has heard nothing says so. */
static void warn_no_answer(session_t *s, int64_t now)
{
    if (!s->no_answer_ms || now < s->no_answer_ms) return;
    if (s->o->server_key[0])
        rs_warn("no answer from the coordinator at %s after %llds: the CURVE handshake has not "
                "completed; check that --server-key is the coordinator's public key and that this "
                "worker's public key is in its cluster.curve.authorized_keys_dir",
                s->o->connect, (long long)((now - s->opened_ms) / 1000));
    else
        rs_warn("no answer from the coordinator at %s after %llds: is it running, and does it "
                "require CURVE keys (--server-key, --key)?",
                s->o->connect, (long long)((now - s->opened_ms) / 1000));
    s->no_answer_ms = now + NO_ANSWER_AGAIN_MS;
}

/* ZeroMQ gives up a connection for good when the coordinator refuses our CURVE key (its ZAP
 * handler said 400): a worker whose key is authorised later would never get in. So while nothing
 * comes back the connection is made again, every RECONNECT_MS doubling to RECONNECT_MAX_MS. */
static void reconnect_if_unheard(session_t *s, int64_t now)
{
    /* Only CURVE needs it: ZeroMQ gives up on a connection whose key a ZAP handler refused, but
     * reconnects plain TCP by itself (a new connection would only churn the routing id). */
    if (!s->o->server_key[0] || s->heard || now < s->reconnect_at) return;
    zmq_disconnect(s->sock, s->o->connect); /* fails harmlessly when ZeroMQ already dropped it */
    if (zmq_connect(s->sock, s->o->connect) != 0)
        rs_warn("cannot connect to %s again: %s", s->o->connect, zmq_strerror(errno));
    rs_debug("no answer from %s yet; connecting again", s->o->connect);
    s->reconnect_at = now + s->reconnect_ms;
    s->reconnect_ms = s->reconnect_ms * 2 > RECONNECT_MAX_MS ? RECONNECT_MAX_MS : s->reconnect_ms * 2;
}

/* The coordinator went silent: from now on its connection counts as unheard. */
static void unheard(session_t *s, int64_t now)
{
    if (!s->heard) return;
    s->heard = 0;
    s->reconnect_ms = RECONNECT_MS;
    s->reconnect_at = now + RECONNECT_MS;
}

static void timers(session_t *s)
{
    int64_t now = rs_mono_ms();
    warn_no_answer(s, now);
    reconnect_if_unheard(s, now);
    if (s->hello_at && now >= s->hello_at) {
        send_hello(s);
    } else if (now - s->last_recv_ms > 3 * s->heartbeat_ms && now - s->hello_ms > s->backoff_ms) {
        if (held(s)) rs_warn("coordinator silent; dropping %zu held case(s)", held(s));
        drop_cases(s, 1, 0);
        unheard(s, now);
        send_hello(s);
        s->backoff_ms = s->backoff_ms * 2 > 32000 ? 32000 : s->backoff_ms * 2;
    } else if (!s->hello_at && now - s->last_send_ms >= s->heartbeat_ms) {
        /* Never a HEARTBEAT before the HELLO is out: the coordinator would greet an unknown peer
         * with WELCOME and work, then see the late HELLO, take the work back and send it again. */
        rs_buf_reset(&s->out);
        rs_proto_encode_heartbeat(&s->out, &(rs_heartbeat_t){(int64_t)held(s), NULL, 0});
        send_frame(s);
    }
}

/* How long the loop may sleep: not past the next heartbeat, not at all with results to send.
 * HTTP timers and transfers shorten it further inside wk_http_wait. */
static int64_t next_wait(const session_t *s)
{
    if (s->chain && wk_chain_n_done(s->chain)) return 0;
    int64_t now = rs_mono_ms(), wait = s->last_send_ms + s->heartbeat_ms - now;
    if (wait > s->heartbeat_ms) wait = s->heartbeat_ms;
    if (s->hello_at && s->hello_at - now < wait) wait = s->hello_at - now;
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
        s->no_answer_ms = 0;
        s->heard = 1;
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
    wk_backlog_init(&s->backlog);
    rs_buf_init(&s->out);
    s->http = wk_http_new((size_t)(o->requests ? o->requests : s->slots), err);
    if (!s->http) return -1;
    wk_http_on_retry(s->http, on_retry, s);
    if (!(s->zctx = zmq_ctx_new())) return rs_err_set(err, "zmq_ctx_new: %s", zmq_strerror(errno));
    if (!(s->sock = zmq_socket(s->zctx, ZMQ_DEALER)))
        return rs_err_set(err, "cannot create the coordinator's socket: %s", zmq_strerror(errno));
    int64_t maxsize = RS_PROTO_MAX_FRAME;
    int linger = 2000, immediate = 1;
    size_t fdlen = sizeof(s->zfd);
    /* With IMMEDIATE, frames sent while disconnected fail at once instead of queueing: HELLOs
     * queued during an outage would be replayed in bulk on reconnect, each granting the worker
     * its slots again. */
    if (zmq_setsockopt(s->sock, ZMQ_MAXMSGSIZE, &maxsize, sizeof(maxsize)) != 0 ||
        zmq_setsockopt(s->sock, ZMQ_LINGER, &linger, sizeof(linger)) != 0 ||
        zmq_setsockopt(s->sock, ZMQ_IMMEDIATE, &immediate, sizeof(immediate)) != 0)
        return rs_err_set(err, "cannot set the coordinator's socket options: %s",
                          zmq_strerror(errno));
    if (zmq_getsockopt(s->sock, ZMQ_FD, &s->zfd, &fdlen) != 0)
        return rs_err_set(err, "ZMQ_FD: %s", zmq_strerror(errno));
    if (o->server_key[0] &&
        (zmq_setsockopt(s->sock, ZMQ_CURVE_SERVERKEY, o->server_key, 40) != 0 ||
         zmq_setsockopt(s->sock, ZMQ_CURVE_PUBLICKEY, o->public_key, 40) != 0 ||
         zmq_setsockopt(s->sock, ZMQ_CURVE_SECRETKEY, o->secret_key, 40) != 0))
        return rs_err_set(err, "cannot set the CURVE keys: %s", zmq_strerror(errno));
    s->last_recv_ms = s->opened_ms = rs_mono_ms();
    s->no_answer_ms = s->opened_ms + NO_ANSWER_MS;
    s->reconnect_ms = RECONNECT_MS;
    s->reconnect_at = s->opened_ms + RECONNECT_MS;
    return 0;
}

static void session_close(session_t *s)
{
    wk_backlog_cleanup(&s->backlog);
    wk_usage_destroy(&s->usage);
    wk_chain_destroy(&s->chain); /* before the engine: it cancels its transfers there */
    if (s->http) wk_http_set_cache(s->http, NULL);
    wk_cache_destroy(&s->cache);
    wk_http_destroy(&s->http);
    rs_buf_cleanup(&s->out);
    if (s->sock) zmq_close(s->sock);
    if (s->zctx) zmq_ctx_term(s->zctx);
}

/* A worker leaving after DRAIN first sees its last response-cache writes answered, for at most
 * WK_CACHE_LOOKUP_MS: what a run paid for is kept for the next one. */
static int done_writing(session_t *s)
{
    if (!wk_cache_writing(s->cache)) return 1;
    int64_t now = rs_mono_ms();
    if (!s->leave_by) s->leave_by = now + WK_CACHE_LOOKUP_MS;
    return now >= s->leave_by;
}

/* One turn of the loop: read the socket dry, move the transfers and timers, send what finished,
 * heartbeat, then sleep in wk_http_wait. 1 to leave (drained), 0 to go on, -1 on error. */
static int turn(session_t *s, rs_err_t *err)
{
    if (recv_all(s) != 0) return rs_err_set(err, "receive: %s", zmq_strerror(errno));
    if (s->fatal) {
        *err = s->fatal_err;
        return -2;
    }
    if (wk_http_step(s->http, err) != 0) return -1;
    start_waiting(s); /* into the slots the finished cases left; on the wire at the next step */
    report_done(s);
    report_congestion(s);
    if (s->draining && held(s) == 0 && wk_http_live(s->http) == 0 && s->o->exit_on_drain &&
        done_writing(s))
        return 1;
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
    return rc == -2 ? -2 : rc < 0 ? -1 : 0;
}
