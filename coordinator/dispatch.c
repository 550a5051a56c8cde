/* dispatch: ROUTER loop, worker table, task leases, result batching to the store. */
#include "dispatch.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "log.h"
#include "pace.h"
#include "proto.h"
#include "record.h"

#define FLUSH_CASES 512    /* results per Redis write */
#define FLUSH_MS 20        /* ...or this old, whichever comes first */
#define TICK_MS 100        /* timers and progress */
#define MAX_BUFFERED 100000 /* results held while Redis is away; past it no new work goes out */
#define REDIS_BACKOFF_MAX_MS 5000

typedef struct coord_task {
    uint64_t id;
    uint64_t lease;
    uint64_t *idx;
    size_t n;
    size_t left;           /* cases not yet reported */
    int64_t sent_ms;
} coord_task_t;

typedef struct coord_worker {
    unsigned char ident[256];
    size_t ident_len;
    char *id;
    char *host;
    int64_t pid;
    int64_t credit;
    int64_t last_seen_ms;
    int64_t last_sent_ms;
    coord_task_t *tasks;
    size_t n_tasks, cap_tasks;
    int welcomed; /* sent WELCOME, waiting for / got CREDIT */
    uint64_t results; /* new results it delivered */
} coord_worker_t;

struct coord_dispatch {
    coord_dispatch_opts_t o;
    void *zctx;
    void *router;
    char endpoint[256];
    coord_worker_t **workers;
    size_t n_workers, cap_workers;
    uint64_t next_task_id;
    int64_t in_flight;
    uint64_t failed;
    uint64_t this_run;
    uint64_t records_rejected; /* records that failed record.h's checks */
    rs_case_result_t *batch;
    size_t n_batch, cap_batch;
    int64_t batch_since_ms;
    uint64_t dispatched_unsaved; /* cases sent since the last successful write */
    int redis_down;
    int64_t redis_retry_ms, redis_backoff_ms;
    rs_buf_t out;    /* encode buffer, reused */
    uint64_t *take;  /* scratch for coord_sched_take */
    coord_pace_t *pace;       /* rpm / tpm limits; NULL when there are none */
    double avg_prompt_bytes;  /* running average, for the tpm estimate of cases not yet read */
};

/* ---- sending ---- */

static int send_to(coord_dispatch_t *d, coord_worker_t *w, const rs_buf_t *frame)
{
    if (zmq_send(d->router, w->ident, w->ident_len, ZMQ_SNDMORE) < 0) return -1;
    if (zmq_send(d->router, frame->data, frame->len, 0) < 0) return -1;
    w->last_sent_ms = rs_mono_ms();
    return 0;
}

static void send_welcome(coord_dispatch_t *d, coord_worker_t *w)
{
    rs_welcome_t m = {(char *)d->o.run_id, (char *)d->o.spec_json, d->o.cfg->cluster.heartbeat_ms};
    rs_buf_reset(&d->out);
    rs_proto_encode_welcome(&d->out, &m);
    send_to(d, w, &d->out);
    w->welcomed = 1;
    w->credit = 0; /* until the worker's CREDIT says how many slots are free */
}

/* ---- worker table ---- */

static coord_worker_t *worker_find(coord_dispatch_t *d, const void *ident, size_t len)
{
    for (size_t i = 0; i < d->n_workers; i++) {
        coord_worker_t *w = d->workers[i];
        if (w->ident_len == len && memcmp(w->ident, ident, len) == 0) return w;
    }
    return NULL;
}

static coord_worker_t *worker_add(coord_dispatch_t *d, const void *ident, size_t len)
{
    coord_worker_t *w = rs_xcalloc(1, sizeof(*w));
    memcpy(w->ident, ident, len);
    w->ident_len = len;
    w->id = rs_xstrdup("unknown");
    w->host = rs_xstrdup("");
    w->last_seen_ms = rs_mono_ms();
    if (d->n_workers == d->cap_workers) {
        d->cap_workers = d->cap_workers ? 2 * d->cap_workers : 8;
        d->workers = rs_xrealloc(d->workers, d->cap_workers * sizeof(*d->workers));
    }
    d->workers[d->n_workers++] = w;
    return w;
}

static void task_release(coord_dispatch_t *d, coord_task_t *t, int requeue)
{
    if (requeue) coord_sched_requeue(d->o.sched, t->idx, t->n);
    d->in_flight -= (int64_t)t->left;
    free(t->idx);
}

static void worker_remove(coord_dispatch_t *d, size_t i, const char *why)
{
    coord_worker_t *w = d->workers[i];
    if (w->n_tasks) rs_warn("worker %s (%s): %s; %zu task(s) go back to the queue", w->id, w->host,
                            why, w->n_tasks);
    else rs_debug("worker %s left: %s", w->id, why);
    for (size_t k = 0; k < w->n_tasks; k++) task_release(d, &w->tasks[k], 1);
    free(w->tasks);
    free(w->id);
    free(w->host);
    free(w);
    d->workers[i] = d->workers[--d->n_workers];
}

/* ---- results ---- */

/* A failed write keeps the batch: Redis may be restarting. The next try waits a backoff (100 ms
 * doubling to 5 s); meanwhile results pile up to MAX_BUFFERED, then no new work goes out. */
static void redis_failed(coord_dispatch_t *d, const char *why)
{
    if (!d->redis_down)
        rs_warn("Redis unavailable (%s); holding %zu result(s) and retrying", why, d->n_batch);
    d->redis_down = 1;
    d->redis_backoff_ms = d->redis_backoff_ms ? d->redis_backoff_ms * 2 : 100;
    if (d->redis_backoff_ms > REDIS_BACKOFF_MAX_MS) d->redis_backoff_ms = REDIS_BACKOFF_MAX_MS;
    d->redis_retry_ms = rs_mono_ms() + d->redis_backoff_ms;
}

static void flush_batch(coord_dispatch_t *d)
{
    if (d->n_batch == 0 && d->dispatched_unsaved == 0) return;
    if (d->redis_down && rs_mono_ms() < d->redis_retry_ms) return;
    uint64_t added = 0, added_failed = 0;
    rs_err_t err;
    if (coord_store_results_add(d->o.store, d->o.run_id, d->batch, d->n_batch,
                                d->dispatched_unsaved, &added, &added_failed, &err) != 0) {
        redis_failed(d, err.msg);
        return;
    }
    if (d->redis_down) rs_info("Redis is back; wrote %zu held result(s)", d->n_batch);
    d->redis_down = 0;
    d->redis_backoff_ms = 0;
    for (size_t i = 0; i < d->n_batch; i++) {
        if (d->o.otlp) coord_otlpfeed_push(d->o.otlp, d->batch[i].json, d->batch[i].json_len);
        free(d->batch[i].json);
    }
    d->n_batch = 0;
    d->dispatched_unsaved = 0;
    d->failed += added_failed;
}

static void batch_push(coord_dispatch_t *d, rs_case_result_t *c)
{
    if (d->n_batch == 0) d->batch_since_ms = rs_mono_ms();
    if (d->n_batch == d->cap_batch) {
        d->cap_batch = d->cap_batch ? 2 * d->cap_batch : FLUSH_CASES * 2;
        d->batch = rs_xrealloc(d->batch, d->cap_batch * sizeof(*d->batch));
    }
    d->batch[d->n_batch++] = *c;
    c->json = NULL; /* the batch owns it now */
}

static coord_task_t *task_find(coord_worker_t *w, uint64_t id, size_t *pos)
{
    for (size_t k = 0; k < w->n_tasks; k++)
        if (w->tasks[k].id == id) {
            *pos = k;
            return &w->tasks[k];
        }
    return NULL;
}

/* Whether case c's record passes record.h's checks against its case. One that does not is not
 * stored: the case goes back to the queue and the rejection is counted. */
static int record_ok(coord_dispatch_t *d, coord_worker_t *w, const rs_case_result_t *c)
{
    rs_err_t err;
    if (coord_record_check_hashed(c->json, c->json_len, c->idx, rs_dataset_id_hash(d->o.ds, c->idx),
                                  d->o.cfg, &err) == 0)
        return 1;
    d->records_rejected++;
    rs_warn("worker %s sent a record that is not stored: %s", w->id, err.msg);
    coord_sched_requeue(d->o.sched, &c->idx, 1);
    return 0;
}

static void on_result(coord_dispatch_t *d, coord_worker_t *w, rs_result_t *r)
{
    uint64_t total = coord_sched_total(d->o.sched);
    for (size_t i = 0; i < r->n_cases; i++) {
        rs_case_result_t *c = &r->cases[i];
        if (c->idx >= total) {
            rs_warn("worker %s sent a result for case %llu of %llu; ignored", w->id,
                    (unsigned long long)c->idx, (unsigned long long)total);
            continue;
        }
        if (!coord_sched_is_done(d->o.sched, c->idx) && !record_ok(d, w, c)) continue;
        if (coord_sched_complete(d->o.sched, c->idx)) {
            d->this_run++;
            w->results++;
            batch_push(d, c);
        }
    }
    w->credit += (int64_t)r->n_cases;
    if (d->o.usage && r->stats && r->stats_len &&
        coord_usage_add(d->o.usage, r->stats, r->stats_len) != 0)
        rs_debug("worker %s sent unreadable stats; ignored", w->id);
    size_t pos;
    coord_task_t *t = task_find(w, r->task_id, &pos);
    if (!t) return; /* an expired lease's late answer: its cases were accepted above if new */
    size_t n = r->n_cases < t->left ? r->n_cases : t->left;
    t->left -= n;
    d->in_flight -= (int64_t)n;
    if (t->left == 0) {
        free(t->idx);
        w->tasks[pos] = w->tasks[--w->n_tasks];
    }
}

/* ---- incoming ---- */

static void on_hello(coord_dispatch_t *d, coord_worker_t *w, rs_hello_t *h)
{
    free(w->id);
    free(w->host);
    w->id = h->worker_id, h->worker_id = NULL;
    w->host = h->host, h->host = NULL;
    w->pid = h->pid;
    /* A HELLO from a known identity means the worker restarted its session: what it held is gone. */
    for (size_t k = 0; k < w->n_tasks; k++) task_release(d, &w->tasks[k], 1);
    w->n_tasks = 0;
    rs_info("worker %s joined from %s (pid %lld, %lld slots)", w->id, w->host,
            (long long)w->pid, (long long)h->slots);
    send_welcome(d, w);
}

static void handle_frame(coord_dispatch_t *d, const void *ident, size_t ident_len,
                         const void *data, size_t len)
{
    rs_msg_t m;
    rs_err_t err;
    if (rs_proto_decode(data, len, &m, &err) != 0) {
        rs_warn("rejected a frame of %zu bytes: %s", len, err.msg);
        return;
    }
    coord_worker_t *w = worker_find(d, ident, ident_len);
    if (!w) {
        w = worker_add(d, ident, ident_len);
        /* Anyone but a HELLO (a worker we declared dead, or one from before a restart) is greeted
         * again; its results are still accepted below. */
        if (m.type != RS_MSG_HELLO) send_welcome(d, w);
    }
    w->last_seen_ms = rs_mono_ms();
    switch (m.type) {
    case RS_MSG_HELLO: on_hello(d, w, &m.u.hello); break;
    case RS_MSG_CREDIT: w->credit += m.u.credit; break;
    case RS_MSG_RESULT: on_result(d, w, &m.u.result); break;
    case RS_MSG_HEARTBEAT: break;
    default: rs_warn("worker %s sent an unexpected %s; ignored", w->id, rs_msg_type_name(m.type));
    }
    rs_msg_cleanup(&m);
}

static int recv_all(coord_dispatch_t *d)
{
    int got = 0;
    for (;;) {
        zmq_msg_t id, body;
        zmq_msg_init(&id);
        if (zmq_msg_recv(&id, d->router, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&id);
            return got;
        }
        zmq_msg_init(&body);
        int more = zmq_msg_more(&id);
        if (more && zmq_msg_recv(&body, d->router, 0) >= 0 && !zmq_msg_more(&body))
            handle_frame(d, zmq_msg_data(&id), zmq_msg_size(&id), zmq_msg_data(&body),
                         zmq_msg_size(&body));
        else
            rs_warn("dropped a message with an unexpected frame layout");
        while (zmq_msg_more(&body)) { /* drain any extra frames of a malformed message */
            zmq_msg_close(&body);
            zmq_msg_init(&body);
            if (zmq_msg_recv(&body, d->router, 0) < 0) break;
        }
        zmq_msg_close(&id);
        zmq_msg_close(&body);
        got++;
    }
}

/* ---- outgoing tasks ---- */

static int64_t task_size(coord_dispatch_t *d, coord_worker_t *w)
{
    const rs_config_t *cfg = d->o.cfg;
    int64_t n = cfg->dataset.shard_size;
    if (w->credit < n) n = w->credit;
    if (cfg->cluster.max_in_flight - d->in_flight < n) n = cfg->cluster.max_in_flight - d->in_flight;
    uint64_t left = coord_sched_total(d->o.sched) - coord_sched_done(d->o.sched);
    /* Wait for a full shard's credit while work is plentiful: fewer, larger messages. */
    if (n < cfg->dataset.shard_size && w->n_tasks > 0 && left > (uint64_t)cfg->dataset.shard_size)
        return 0;
    return n > 0 ? (int64_t)coord_pace_room(d->pace, (size_t)n, d->avg_prompt_bytes) : 0;
}

static double prompt_bytes(const rs_case_t *c)
{
    size_t b = 0;
    for (size_t i = 0; i < c->n_msgs; i++) b += strlen(c->msgs[i].content);
    return (double)b;
}

/* Only judges and revisions read a case's raw input ({{question}}); without them it would just
 * double the TASK, so it stays home. */
static int needs_input(const rs_config_t *cfg)
{
    return cfg->n_judges > 0 || cfg->revise.rounds > 0;
}

static int send_task(coord_dispatch_t *d, coord_worker_t *w, size_t n, rs_err_t *err)
{
    n = coord_sched_take(d->o.sched, d->take, n);
    if (n == 0) return 0;
    rs_task_t t = {++d->next_task_id, d->next_task_id, d->o.cfg->cluster.lease_ms, NULL, n};
    t.cases = rs_xcalloc(n, sizeof(rs_case_t));
    int rc = 0;
    double bytes = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if ((rc = rs_dataset_read(d->o.ds, d->take[i], &t.cases[i], err)) != 0) break;
        bytes += prompt_bytes(&t.cases[i]);
        if (!needs_input(d->o.cfg)) {
            free(t.cases[i].input);
            t.cases[i].input = NULL;
        }
    }
    if (rc == 0) {
        coord_pace_charge(d->pace, n, bytes);
        d->avg_prompt_bytes = 0.9 * d->avg_prompt_bytes + 0.1 * bytes / (double)n;
        rs_buf_reset(&d->out);
        rs_proto_encode_task(&d->out, &t);
        if (send_to(d, w, &d->out) != 0) {
            coord_sched_requeue(d->o.sched, d->take, n);
            rc = 1; /* the worker is gone: the caller removes it */
        }
    }
    for (size_t i = 0; i < n; i++) rs_case_cleanup(&t.cases[i]);
    free(t.cases);
    if (rc != 0) return rc;
    if (w->n_tasks == w->cap_tasks) {
        w->cap_tasks = w->cap_tasks ? 2 * w->cap_tasks : 8;
        w->tasks = rs_xrealloc(w->tasks, w->cap_tasks * sizeof(*w->tasks));
    }
    coord_task_t *ct = &w->tasks[w->n_tasks++];
    ct->id = t.task_id;
    ct->lease = t.lease;
    ct->n = ct->left = n;
    ct->idx = rs_xmalloc(n * sizeof(uint64_t));
    memcpy(ct->idx, d->take, n * sizeof(uint64_t));
    ct->sent_ms = rs_mono_ms();
    w->credit -= (int64_t)n;
    d->in_flight += (int64_t)n;
    d->dispatched_unsaved += n;
    return 0;
}

static int dispatch_tasks(coord_dispatch_t *d, rs_err_t *err)
{
    for (size_t i = 0; i < d->n_workers;) {
        coord_worker_t *w = d->workers[i];
        int gone = 0;
        int64_t n;
        while (!gone && (n = task_size(d, w)) > 0) {
            int rc = send_task(d, w, (size_t)n, err);
            if (rc < 0) return -1;
            if (rc > 0) gone = 1;
            if (coord_sched_done(d->o.sched) + (uint64_t)d->in_flight >= coord_sched_total(d->o.sched))
                break;
        }
        if (gone) worker_remove(d, i, "unreachable");
        else i++;
    }
    return 0;
}

/* ---- timers ---- */

static void cancel_task(coord_dispatch_t *d, coord_worker_t *w, uint64_t task_id)
{
    rs_buf_reset(&d->out);
    rs_proto_encode_cancel(&d->out, task_id);
    send_to(d, w, &d->out);
}

static void expire_leases(coord_dispatch_t *d, coord_worker_t *w, int64_t now)
{
    for (size_t k = 0; k < w->n_tasks;) {
        coord_task_t *t = &w->tasks[k];
        if (now - t->sent_ms <= d->o.cfg->cluster.lease_ms) {
            k++;
            continue;
        }
        rs_warn("task %llu on worker %s passed its %lld ms lease; its cases go back to the queue",
                (unsigned long long)t->id, w->id, (long long)d->o.cfg->cluster.lease_ms);
        cancel_task(d, w, t->id);
        task_release(d, t, 1);
        w->tasks[k] = w->tasks[--w->n_tasks];
    }
}

static void tick(coord_dispatch_t *d)
{
    int64_t now = rs_mono_ms(), hb = d->o.cfg->cluster.heartbeat_ms;
    for (size_t i = 0; i < d->n_workers;) {
        coord_worker_t *w = d->workers[i];
        if (now - w->last_seen_ms > 3 * hb) {
            worker_remove(d, i, "silent for 3 heartbeats");
            continue;
        }
        expire_leases(d, w, now);
        if (now - w->last_sent_ms >= hb) {
            rs_buf_reset(&d->out);
            rs_proto_encode_heartbeat(&d->out, (int64_t)w->n_tasks);
            send_to(d, w, &d->out);
        }
        i++;
    }
}

/* ---- life cycle ---- */

coord_dispatch_t *coord_dispatch_new(const coord_dispatch_opts_t *opts, rs_err_t *err)
{
    coord_dispatch_t *d = rs_xcalloc(1, sizeof(*d));
    d->o = *opts;
    rs_buf_init(&d->out);
    d->take = rs_xmalloc((size_t)opts->cfg->dataset.shard_size * sizeof(uint64_t));
    d->pace = coord_pace_new(opts->cfg);
    d->avg_prompt_bytes = 1024;
    d->zctx = zmq_ctx_new();
    d->router = zmq_socket(d->zctx, ZMQ_ROUTER);
    int64_t maxsize = RS_PROTO_MAX_FRAME;
    int one = 1, linger = 0;
    zmq_setsockopt(d->router, ZMQ_MAXMSGSIZE, &maxsize, sizeof(maxsize));
    zmq_setsockopt(d->router, ZMQ_ROUTER_MANDATORY, &one, sizeof(one));
    zmq_setsockopt(d->router, ZMQ_LINGER, &linger, sizeof(linger));
    if (zmq_bind(d->router, opts->bind) != 0) {
        rs_err_set(err, "cannot bind %s: %s", opts->bind, zmq_strerror(errno));
        coord_dispatch_destroy(&d);
        return NULL;
    }
    size_t len = sizeof(d->endpoint);
    zmq_getsockopt(d->router, ZMQ_LAST_ENDPOINT, d->endpoint, &len);
    return d;
}

void coord_dispatch_destroy(coord_dispatch_t **dp)
{
    if (!dp || !*dp) return;
    coord_dispatch_t *d = *dp;
    while (d->n_workers) worker_remove(d, d->n_workers - 1, "coordinator stopped");
    free(d->workers);
    for (size_t i = 0; i < d->n_batch; i++) free(d->batch[i].json);
    free(d->batch);
    free(d->take);
    coord_pace_destroy(&d->pace);
    rs_buf_cleanup(&d->out);
    if (d->router) zmq_close(d->router);
    if (d->zctx) zmq_ctx_term(d->zctx);
    free(d);
    *dp = NULL;
}

const char *coord_dispatch_endpoint(const coord_dispatch_t *d)
{
    return d->endpoint;
}

void coord_dispatch_progress(const coord_dispatch_t *d, coord_progress_t *p)
{
    p->done = coord_sched_done(d->o.sched);
    p->total = coord_sched_total(d->o.sched);
    p->failed = d->failed;
    p->this_run = d->this_run;
    p->requeued = coord_sched_requeued(d->o.sched);
    p->records_rejected = d->records_rejected;
    p->workers = d->n_workers;
    p->in_flight = d->in_flight;
}

/* One pass of the loop: wait up to wait_ms for frames, take them all, hand out work, flush. */
static int step(coord_dispatch_t *d, long wait_ms, int give_work, rs_err_t *err)
{
    zmq_pollitem_t item = {d->router, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&item, 1, wait_ms) < 0 && errno != EINTR)
        return rs_err_set(err, "zmq_poll: %s", zmq_strerror(errno));
    recv_all(d);
    if (give_work && d->n_batch < MAX_BUFFERED && dispatch_tasks(d, err) != 0) return -1;
    int64_t now = rs_mono_ms();
    if (d->n_batch >= FLUSH_CASES || (d->n_batch && now - d->batch_since_ms >= FLUSH_MS))
        flush_batch(d);
    return 0;
}

int coord_dispatch_flush(coord_dispatch_t *d, volatile sig_atomic_t *stop, int max_stops,
                         rs_err_t *err)
{
    for (;;) {
        flush_batch(d);
        if (d->n_batch == 0 && d->dispatched_unsaved == 0) return 0;
        if (*stop >= max_stops)
            return rs_err_set(err, "stopped with %zu result(s) not yet written to Redis "
                                   "(their cases will run again on resume)", d->n_batch);
        step(d, 50, 0, err); /* keep answering workers while Redis is away */
    }
}

int coord_dispatch_run(coord_dispatch_t *d, volatile sig_atomic_t *stop, coord_progress_fn progress,
                       void *arg, rs_err_t *err)
{
    int64_t last_tick = 0;
    while (!*stop && coord_sched_done(d->o.sched) < coord_sched_total(d->o.sched)) {
        long wait = d->n_batch && !d->redis_down ? FLUSH_MS / 2 : TICK_MS / 2;
        if (step(d, wait, 1, err) != 0) return -1;
        int64_t now = rs_mono_ms();
        if (now - last_tick >= TICK_MS) {
            tick(d);
            last_tick = now;
            if (progress) {
                coord_progress_t p;
                coord_dispatch_progress(d, &p);
                progress(&p, arg);
            }
        }
    }
    return *stop ? 1 : 0;
}

void coord_dispatch_drain(coord_dispatch_t *d, int64_t timeout_ms)
{
    rs_buf_reset(&d->out);
    rs_proto_encode_drain(&d->out);
    for (size_t i = 0; i < d->n_workers; i++) send_to(d, d->workers[i], &d->out);
    int64_t until = rs_mono_ms() + timeout_ms;
    rs_err_t err;
    while (d->in_flight > 0 && rs_mono_ms() < until) {
        if (step(d, 20, 0, &err) != 0) {
            rs_warn("while draining: %s", err.msg);
            break;
        }
    }
}

int coord_dispatch_redis_down(const coord_dispatch_t *d)
{
    return d->redis_down;
}

json_t *coord_dispatch_workers_json(const coord_dispatch_t *d)
{
    json_t *arr = json_array();
    int64_t now = rs_mono_ms();
    for (size_t i = 0; i < d->n_workers; i++) {
        const coord_worker_t *w = d->workers[i];
        size_t in_flight = 0;
        for (size_t k = 0; k < w->n_tasks; k++) in_flight += w->tasks[k].left;
        json_array_append_new(arr, json_pack("{sssssIsIsIsIsI}", "id", w->id, "host", w->host,
                                             "pid", (json_int_t)w->pid, "in_flight",
                                             (json_int_t)in_flight, "tasks", (json_int_t)w->n_tasks,
                                             "results", (json_int_t)w->results, "silent_ms",
                                             (json_int_t)(now - w->last_seen_ms)));
    }
    return arr;
}
