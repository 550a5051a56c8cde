/* dispatch: ROUTER loop, worker table, task leases, result batching to the store. */
#include "dispatch.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "budget.h"
#include "log.h"
#include "pace.h"
#include "peers.h"
#include "proto.h"
#include "record.h"
#include "writer.h"

#define HAND_CASES 64      /* results that go to the writer as soon as it is free */
#define FLUSH_MS 20        /* ...or this old, whichever comes first */
#define TICK_MS 100        /* timers and progress */
#define MAX_BUFFERED 100000 /* results held while Redis is away; past it no new work goes out */
#define MAX_WAITING 256    /* results waiting for a busy writer while Redis is up; past it no
                              new work goes out (the writer sets the pace) */
#define PEER_BAN_MS 60000  /* a cut-off peer's messages are dropped unread this long */
#define SEND_HWM 1000      /* frames queued for one peer before it counts as not reading */

/* One case of a task: its index and whether this lease has answered it yet. A task's cases are
 * sorted by idx, for bsearch. (The record's id is checked against the dataset's id hash.) */
typedef struct coord_leased {
    uint64_t idx;
    uint64_t id_hash; /* rs_dataset_hash_id of the id it was leased with: its record must carry it */
    int got;
} coord_leased_t;

/* One TASK: its cases are leased to one holder under (id, lease). While current it lives in its
 * worker; when the lease ends (expiry, a dead or dropped worker, a new HELLO) it moves to
 * d->ended for one more lease length, so a late answer from the same holder is still taken. */
typedef struct coord_task {
    uint64_t id;
    uint64_t lease;
    coord_leased_t *cases;
    size_t n;
    size_t left;      /* cases not yet answered under this lease */
    int64_t sent_ms;
    /* The lease clock: a task that went into the worker's backlog starts it once the worker has
     * freed start_after (its `freed` count) slots' worth of cases, and at the latest one lease
     * after it was sent; 0 while it waits. */
    int64_t clock_ms;
    uint64_t start_after;
    int64_t ended_ms; /* when the lease ended (ended tasks only) */
    char *holder;     /* who held it (ended tasks only) */
    double *budget_hold; /* its cases' upper bounds, in flight against the budget until the
                            task is answered or its lease ends (budget.h); NULL without one */
} coord_task_t;

typedef struct coord_worker {
    unsigned char ident[256];
    size_t ident_len;
    char key[513];    /* the routing identity in hex: what bans and lease holders are keyed by */
    char *user;       /* the CURVE key name (ZAP User-Id), or NULL without CURVE */
    char *id;         /* shown in logs and status: the key name, else the sanitised worker id */
    char *self_id;    /* the sanitised worker id it gave in its HELLO */
    char *host;
    int64_t pid;
    int64_t cap;      /* credit cap: cluster.worker_slots + cluster.worker_backlog */
    int64_t run_slots; /* cases it runs at once: worker_slots, or a smaller --slots of its HELLO */
    int64_t credit;
    uint64_t freed;   /* cases that left it: answered under a current lease, or taken back */
    int64_t last_seen_ms;
    int64_t last_sent_ms;
    coord_task_t *tasks;
    size_t n_tasks, cap_tasks;
    int gone;         /* a send failed: removed at the end of this step */
    int queue_full;   /* ... because it does not read what it is sent */
    uint64_t results; /* new results it delivered */
    uint64_t rejected, late;
    coord_peer_window_t window; /* rejections this minute */
    coord_peer_window_t hellos; /* HELLOs this minute */
} coord_worker_t;

struct coord_dispatch {
    coord_dispatch_opts_t o;
    void *zctx;
    void *router;
    char endpoint[256];
    coord_worker_t **workers;
    size_t n_workers, cap_workers;
    coord_task_t *ended;   /* leases that ended less than one lease ago */
    size_t n_ended, cap_ended;
    uint64_t first_task_id; /* task ids this process issued: first_task_id .. next_task_id */
    uint64_t next_task_id;
    int64_t in_flight;
    uint64_t this_run;
    uint64_t records_rejected; /* records that failed record.h's checks */
    /* Results taken and not yet handed to the writer (writer.h), which writes them to Redis on
     * a thread of its own; NULL once it was stopped with results it could not write. */
    coord_batch_t batch;
    coord_writer_t *writer;
    coord_writer_state_t ws; /* as last read */
    int closed; /* the final flush is done: a result taken later is written before the step ends */
    uint64_t dispatched_unsaved; /* cases sent since the last batch handed to the writer */
    int draining; /* DRAIN sent: a worker that joins now is sent it too */
    rs_buf_t out;    /* encode buffer, reused */
    uint64_t *take;  /* scratch for coord_sched_take */
    coord_pace_t *pace;       /* rpm / tpm limits; NULL when there are none */
    double avg_prompt_bytes;  /* running average, for the tpm estimate of cases not yet read */
    coord_peers_t *peers;     /* rejections, late results, cut-offs and bans */
    coord_peer_window_t strangers; /* malformed frames from peers with no entry (counted only) */
};

/* ---- sending ---- */

/* Never blocks: a peer whose queue is full (it does not read) or that is gone is marked and
 * removed at the end of the step, and its leases go back. */
static int send_to(coord_dispatch_t *d, coord_worker_t *w, const rs_buf_t *frame)
{
    if (w->gone) return -1;
    if (zmq_send(d->router, w->ident, w->ident_len, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(d->router, frame->data, frame->len, ZMQ_DONTWAIT) < 0) {
        w->gone = 1;
        w->queue_full = errno == EAGAIN;
        return -1;
    }
    w->last_sent_ms = rs_mono_ms();
    return 0;
}

#define MAX_PAUSES 16 /* pauses announced per step (one per model, so rarely more than one) */

/* Tells w (or, when w is NULL, every worker) of pauses: the fresh ones, or all still running. */
static void send_pauses(coord_dispatch_t *d, coord_worker_t *w, int fresh)
{
    if (!d->o.conc) return;
    rs_pause_t p[MAX_PAUSES];
    size_t n = coord_conc_pauses(d->o.conc, fresh, rs_mono_ms(), p, MAX_PAUSES);
    for (size_t k = 0; k < n; k++) {
        rs_info("model %s paused for %lld ms across the cluster (the server sent Retry-After)",
                p[k].model, (long long)p[k].ms);
        rs_buf_reset(&d->out);
        rs_proto_encode_pause(&d->out, &p[k]);
        for (size_t i = 0; i < d->n_workers; i++)
            if (!w || d->workers[i] == w) send_to(d, d->workers[i], &d->out);
    }
}

/* 0, or -1 when the WELCOME could not be sent: send_to has marked w gone, and it is removed
 * ("unreachable", its leases back) at the end of the step, so nothing more is sent to it. */
static int send_welcome(coord_dispatch_t *d, coord_worker_t *w)
{
    rs_welcome_t m = {(char *)d->o.run_id, (char *)d->o.spec_json, d->o.cfg->cluster.heartbeat_ms};
    rs_buf_reset(&d->out);
    rs_proto_encode_welcome(&d->out, &m);
    if (send_to(d, w, &d->out) != 0) return -1;
    w->credit = 0; /* until the worker's CREDIT says how many slots are free */
    send_pauses(d, w, 0); /* a worker that joins during a pause holds that model too */
    return 0;
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

static coord_worker_t *worker_add(coord_dispatch_t *d, const void *ident, size_t len,
                                  const char *key, const char *user)
{
    coord_worker_t *w = rs_xcalloc(1, sizeof(*w));
    memcpy(w->ident, ident, len);
    w->ident_len = len;
    memcpy(w->key, key, strlen(key) + 1);
    w->user = user ? rs_sanitize(user, 64) : NULL;
    w->id = rs_xstrdup(w->user ? w->user : "anonymous");
    w->host = rs_xstrdup("");
    w->run_slots = d->o.cfg->cluster.worker_slots;
    w->cap = w->run_slots + d->o.cfg->cluster.worker_backlog;
    w->last_seen_ms = rs_mono_ms();
    if (d->n_workers == d->cap_workers) {
        d->cap_workers = d->cap_workers ? 2 * d->cap_workers : 8;
        d->workers = rs_xrealloc(d->workers, d->cap_workers * sizeof(*d->workers));
    }
    d->workers[d->n_workers++] = w;
    return w;
}

/* Who holds a lease: the CURVE key, which survives a reconnection, else the connection itself. */
static const char *holder(const coord_worker_t *w)
{
    return w->user ? w->user : w->key;
}

static void task_free(coord_task_t *t)
{
    free(t->cases);
    free(t->holder);
    free(t->budget_hold);
}

/* A task's bounds leave what the budget counts in flight: it was answered, or its lease ended
 * (its unanswered cases go out again under new bounds; a late answer is paid from what it spent). */
static void budget_release(coord_dispatch_t *d, coord_task_t *t)
{
    if (d->o.budget) coord_budget_release(d->o.budget, &t->budget_hold);
}

/* Ends a current lease: its unanswered cases go back to the scheduler and the task is kept in
 * d->ended (taking over its memory) for late answers. */
static void lease_end(coord_dispatch_t *d, coord_worker_t *w, coord_task_t *t)
{
    for (size_t i = 0; i < t->n; i++)
        if (!t->cases[i].got) coord_sched_requeue(d->o.sched, &t->cases[i].idx, 1);
    d->in_flight -= (int64_t)t->left;
    budget_release(d, t);
    if (d->n_ended == d->cap_ended) {
        d->cap_ended = d->cap_ended ? 2 * d->cap_ended : 16;
        d->ended = rs_xrealloc(d->ended, d->cap_ended * sizeof(*d->ended));
    }
    coord_task_t *e = &d->ended[d->n_ended++];
    *e = *t;
    e->ended_ms = rs_mono_ms();
    e->holder = rs_xstrdup(holder(w));
    e->left = 0;
}

static void leases_end_all(coord_dispatch_t *d, coord_worker_t *w)
{
    for (size_t k = 0; k < w->n_tasks; k++) lease_end(d, w, &w->tasks[k]);
    w->n_tasks = 0;
}

/* Ended leases are kept one lease length, then forgotten. */
static void prune_ended(coord_dispatch_t *d, int64_t now)
{
    for (size_t k = 0; k < d->n_ended;) {
        if (now - d->ended[k].ended_ms <= d->o.cfg->cluster.lease_ms) {
            k++;
            continue;
        }
        task_free(&d->ended[k]);
        d->ended[k] = d->ended[--d->n_ended];
    }
}

static void worker_remove(coord_dispatch_t *d, size_t i, const char *why)
{
    coord_worker_t *w = d->workers[i];
    if (w->n_tasks) rs_warn("worker %s (%s): %s; %zu task(s) go back to the queue", w->id, w->host,
                            why, w->n_tasks);
    else rs_debug("worker %s left: %s", w->id, why);
    leases_end_all(d, w);
    free(w->tasks);
    free(w->id);
    free(w->host);
    free(w->user);
    free(w->self_id);
    free(w);
    d->workers[i] = d->workers[--d->n_workers];
}

/* Cuts a peer off: its leases go back, and what it sends is dropped unread for a while. */
static void worker_cut_off(coord_dispatch_t *d, coord_worker_t *w, const char *why)
{
    if (w->gone && !w->queue_full) return; /* already on its way out */
    rs_warn("worker %s (%s) cut off: %s", w->id, w->host, why);
    coord_peers_cut_off(d->peers, w->id, holder(w), rs_mono_ms());
    w->gone = 1;
    w->queue_full = 0;
}

/* Removes the workers a send or a cut-off marked. */
static void sweep_gone(coord_dispatch_t *d)
{
    for (size_t i = 0; i < d->n_workers;) {
        coord_worker_t *w = d->workers[i];
        if (!w->gone) {
            i++;
            continue;
        }
        if (w->queue_full) worker_cut_off(d, w, "it does not read what it is sent");
        worker_remove(d, i, "unreachable");
    }
}

/* Counts n rejections against w; over its budget for the minute it is cut off. budget = 0 for
 * what an honest worker can send, such as answers to a coordinator that has since restarted. */
static void reject(coord_dispatch_t *d, coord_worker_t *w, const char *reason, uint64_t n,
                   int budget)
{
    if (n == 0) return;
    if (w->rejected == 0)
        rs_warn("worker %s (%s): rejected %llu message(s) or result(s): %s", w->id, w->host,
                (unsigned long long)n, reason);
    else
        rs_debug("worker %s: rejected %llu: %s", w->id, (unsigned long long)n, reason);
    w->rejected += n;
    coord_peer_window_t spare = {0};
    if (coord_peers_reject(d->peers, budget ? &w->window : &spare, w->id, reason, n,
                           rs_mono_ms()) && budget)
        worker_cut_off(d, w, "too many rejected messages");
}

/* ---- results ---- */

static void writer_read(coord_dispatch_t *d)
{
    if (d->writer) coord_writer_state(d->writer, &d->ws);
}

/* Results held: in the batch and at the writer. */
static size_t results_held(const coord_dispatch_t *d)
{
    return d->batch.n + d->ws.held;
}

/* Whether more results may come: a writer slower than the workers must not let the batch (and
 * memory) grow without bound, but while Redis is away results pile up to MAX_BUFFERED. */
static int room_for_results(const coord_dispatch_t *d)
{
    if (results_held(d) >= MAX_BUFFERED) return 0;
    return !d->ws.busy || d->ws.redis_down || d->batch.n < MAX_WAITING;
}

/* A batch Redis has: its records go to results.jsonl, the live feed and the counters (on this
 * thread, so nothing else touches them), then it is emptied for reuse (what this thread
 * allocated it frees, which keeps malloc's per-thread caches warm). */
static void fold_written(coord_dispatch_t *d, coord_batch_t *b)
{
    coord_fold_to_t to = {d->o.jsonl, d->o.otlp, d->o.tally};
    coord_batch_fold(b, &to);
    coord_batch_empty(b, MAX_WAITING);
}

/* Hands the batch (with the cases dispatched since the last one) to the writer, if it is free;
 * the batch it wrote before comes back and is folded. */
static int hand_batch(coord_dispatch_t *d)
{
    d->batch.dispatched = d->dispatched_unsaved;
    if (!d->writer || !coord_writer_hand(d->writer, &d->batch)) return 0;
    d->dispatched_unsaved = 0;
    fold_written(d, &d->batch);
    writer_read(d);
    return 1;
}

/* Folds the batch the writer wrote last, when it is free: the end of a run, or of the writer. */
static void collect_written(coord_dispatch_t *d)
{
    coord_batch_t b = {0};
    if (d->writer && coord_writer_collect(d->writer, &b)) fold_written(d, &b);
    coord_batch_cleanup(&b);
}

/* Stops the writer for good; returns the results it held unwritten. */
static size_t writer_give_up(coord_dispatch_t *d)
{
    collect_written(d);
    size_t held = coord_writer_stop(&d->writer);
    d->ws.busy = 0;
    d->ws.held = 0;
    return held;
}

/* After the final flush the report is being written from the counters and results.jsonl: a
 * result taken now is written before the step ends, so the writer never works beside it. A
 * writer that fails to write it is stopped (the result is not stored: its case runs again on a
 * resume). */
static void write_now(coord_dispatch_t *d)
{
    if (!hand_batch(d)) return;
    if (coord_writer_wait(d->writer) == 0) {
        writer_read(d);
        collect_written(d);
        return;
    }
    size_t held = writer_give_up(d);
    rs_warn("%zu result(s) taken after the run were not written to Redis; their cases run again "
            "on a resume", held);
}

/* The task (id, lease) in tasks[0..n) — held by who when who is not NULL — or NULL. */
static coord_task_t *task_find(coord_task_t *tasks, size_t n, uint64_t id, uint64_t lease,
                               const char *who, size_t *pos)
{
    for (size_t k = 0; k < n; k++)
        if (tasks[k].id == id && tasks[k].lease == lease &&
            (!who || strcmp(tasks[k].holder, who) == 0)) {
            *pos = k;
            return &tasks[k];
        }
    return NULL;
}

/* Case c's record read into the batch's next document, when it passes record.h's checks against
 * its case. One that does not (NULL) is not stored (the caller puts the case back in the queue)
 * and is counted. */
static const rs_jv_t *record_ok(coord_dispatch_t *d, coord_worker_t *w, const rs_case_result_t *c,
                               uint64_t id_hash)
{
    rs_err_t err;
    const rs_jv_t *rec = coord_record_read_hashed(coord_batch_doc(&d->batch), c->json, c->json_len, c->idx,
                                                  id_hash, d->o.cfg, &err);
    if (rec) return rec;
    d->records_rejected++;
    char *why = rs_sanitize(err.msg, 300);
    rs_warn("worker %s sent a record that is not stored: %s", w->id, why);
    free(why);
    return NULL;
}

static int leased_cmp(const void *a, const void *b)
{
    uint64_t x = ((const coord_leased_t *)a)->idx, y = ((const coord_leased_t *)b)->idx;
    return x < y ? -1 : x > y;
}

static coord_leased_t *task_case(coord_task_t *t, uint64_t idx)
{
    coord_leased_t key = {.idx = idx};
    return bsearch(&key, t->cases, t->n, sizeof(*t->cases), leased_cmp);
}

/* Takes one case of a RESULT under lease t (late: t has ended). Returns the reason it is refused,
 * or NULL when it was taken (stored if it is the case's first result). */
static const char *take_case(coord_dispatch_t *d, coord_worker_t *w, coord_task_t *t, int late,
                             rs_case_result_t *c)
{
    coord_leased_t *lc = task_case(t, c->idx);
    if (!lc) return "not_in_task";
    if (lc->got) return "duplicate";
    lc->got = 1;
    if (!late) {
        t->left--;
        d->in_flight--;
        w->credit++;
    }
    const rs_jv_t *rec = NULL; /* read only when the case still needs its result */
    if (!coord_sched_is_done(d->o.sched, c->idx) && !(rec = record_ok(d, w, c, lc->id_hash))) {
        /* a current lease's case goes back now; an ended one's went back when it ended */
        if (!late) coord_sched_requeue(d->o.sched, &c->idx, 1);
        return "bad_record";
    }
    if (late) {
        w->late++;
        coord_peers_late(d->peers, w->id, 1);
    }
    if (rec && coord_sched_complete(d->o.sched, c->idx)) {
        d->this_run++;
        w->results++;
        coord_batch_add(&d->batch, c, rec); /* held until the writer takes the batch */
    }
    return NULL;
}

/* Cases of w's current leases not answered yet. */
static int64_t held(const coord_worker_t *w)
{
    int64_t n = 0;
    for (size_t k = 0; k < w->n_tasks; k++) n += (int64_t)w->tasks[k].left;
    return n;
}

/* Credit never exceeds the worker's slots and backlog less what it holds, whatever it claims. */
static void credit_cap(coord_worker_t *w)
{
    int64_t room = w->cap - held(w);
    if (room < 0) room = 0;
    if (w->credit > room) w->credit = room;
}

/* A RESULT's or HEARTBEAT's stats: the live counters, and the caps and pauses. in_flight: cases
 * out before the message's cases came back. */
static void on_stats(coord_dispatch_t *d, coord_worker_t *w, const char *stats, size_t len,
                     int64_t in_flight)
{
    if (!stats || !len || (!d->o.usage && !d->o.conc)) return;
    json_t *o = json_loadb(stats, len, 0, NULL);
    if (!json_is_object(o)) {
        rs_debug("worker %s sent unreadable stats; ignored", w->id);
    } else {
        if (d->o.usage) coord_usage_add(d->o.usage, o);
        if (d->o.conc) coord_conc_feed(d->o.conc, o, in_flight, rs_mono_ms(), rs_wall_ms());
    }
    json_decref(o);
}

/* A case's result is taken only from the holder of its current lease, or of a lease that ended
 * less than one lease ago (counted as late), once; everything else is rejected and counted. */
static void on_result(coord_dispatch_t *d, coord_worker_t *w, rs_result_t *r)
{
    int64_t in_flight = d->in_flight;
    size_t pos;
    int late = 0;
    coord_task_t *t = task_find(w->tasks, w->n_tasks, r->task_id, r->lease, NULL, &pos);
    if (!t && (t = task_find(d->ended, d->n_ended, r->task_id, r->lease, holder(w), &pos)))
        late = 1;
    if (!t) {
        int ours = r->task_id > d->first_task_id && r->task_id <= d->next_task_id; /* issued */
        /* A task this process never issued is an answer to a coordinator that has restarted. */
        reject(d, w, ours ? "not_leased" : "unknown_task", r->n_cases ? r->n_cases : 1, ours);
        return;
    }
    size_t left = t->left;
    for (size_t i = 0; i < r->n_cases; i++) {
        const char *why = take_case(d, w, t, late, &r->cases[i]);
        if (why) reject(d, w, why, 1, 1);
    }
    if (!late) w->freed += left - t->left;
    on_stats(d, w, r->stats, r->stats_len, in_flight);
    if (!late && t->left == 0) {
        budget_release(d, t);
        task_free(t);
        w->tasks[pos] = w->tasks[--w->n_tasks];
    }
    credit_cap(w);
}

/* ---- incoming ---- */

#define MAX_HELLOS_PER_MINUTE 10

/* DRAIN: w finishes what it holds and takes no more (a local worker then exits). */
static void send_drain(coord_dispatch_t *d, coord_worker_t *w)
{
    rs_buf_reset(&d->out);
    rs_proto_encode_drain(&d->out);
    send_to(d, w, &d->out);
}

static void on_hello(coord_dispatch_t *d, coord_worker_t *w, rs_hello_t *h)
{
    int64_t now = rs_mono_ms();
    if (now - w->hellos.start_ms >= 60000) w->hellos = (coord_peer_window_t){now, 0};
    if (++w->hellos.count > MAX_HELLOS_PER_MINUTE) {
        reject(d, w, "hello_flood", 1, 1);
        return;
    }
    free(w->id);
    free(w->host);
    free(w->self_id);
    w->self_id = rs_sanitize(h->worker_id, 64);
    w->id = rs_xstrdup(w->user ? w->user : w->self_id);
    w->host = rs_sanitize(h->host, 64);
    w->pid = h->pid;
    /* A HELLO from a known identity means the worker restarted its session: what it held is gone. */
    leases_end_all(d, w);
    /* Only when its backlog's leases start depends on it (a smaller claim delays them by at most
     * one lease); credit stays capped by the run's keys. */
    w->run_slots = d->o.cfg->cluster.worker_slots;
    if (h->slots > 0 && h->slots < w->run_slots) w->run_slots = h->slots;
    rs_info("worker %s joined from %s (pid %lld, %lld slots + %lld backlog%s%s)", w->id, w->host,
            (long long)w->pid, (long long)w->run_slots,
            (long long)d->o.cfg->cluster.worker_backlog, w->user ? ", says it is " : "",
            w->user ? w->self_id : "");
    if (send_welcome(d, w) != 0) {
        rs_warn("worker %s: cannot send WELCOME; dropping it", w->id);
        return;
    }
    if (d->draining) send_drain(d, w); /* it joined after the run's end: a local one leaves */
}

/* Under CURVE a routing id belongs to the key that first used it: a peer with another key using
 * it (a routing id can be chosen by the peer) is not that worker. */
static int key_differs(const coord_worker_t *w, const char *user)
{
    return (w->user || user) && !(w->user && user && strcmp(w->user, user) == 0);
}

static void on_credit(coord_worker_t *w, int64_t n)
{
    w->credit = n > w->cap - w->credit ? w->cap : w->credit + n; /* no overflow */
    credit_cap(w);
}

static void handle_frame(coord_dispatch_t *d, const void *ident, size_t ident_len,
                         const char *user, const void *data, size_t len)
{
    int64_t now = rs_mono_ms();
    coord_worker_t *w = worker_find(d, ident, ident_len);
    if (w && key_differs(w, user)) {
        rs_debug("a peer with key %s used the routing id of worker %s; ignored",
                 user ? user : "(none)", w->id);
        return;
    }
    if (w && w->gone) return; /* cut off earlier in this step */
    char key[513];
    if (!w) rs_hex(ident, ident_len < 256 ? ident_len : 256, key);
    if (coord_peers_banned(d->peers, w ? w->key : key, now) ||
        (user && coord_peers_banned(d->peers, user, now)))
        return;
    rs_msg_t m;
    rs_err_t err;
    if (rs_proto_decode(data, len, &m, &err) != 0) {
        char *why = rs_sanitize(err.msg, 200);
        rs_debug("worker %s: rejected a frame of %zu bytes: %s", w ? w->id : "anonymous", len, why);
        free(why);
        /* A stranger's garbage is counted but makes no entry: fresh routing ids would each
         * bring a fresh budget. */
        if (w) reject(d, w, "malformed", 1, 1);
        else coord_peers_reject(d->peers, &d->strangers, "anonymous", "malformed", 1, now);
        return;
    }
    int fresh = !w;
    if (!w) w = worker_add(d, ident, ident_len, key, user);
    w->last_seen_ms = now;
    /* Anyone but a HELLO (a worker we declared dead, or one from before a restart) is greeted
     * again; what it sends is taken only within the leases it holds, even when the greeting
     * cannot be sent and the worker is dropped at the end of the step. */
    if (fresh && m.type != RS_MSG_HELLO && send_welcome(d, w) != 0)
        rs_warn("worker %s: cannot send WELCOME; dropping it", w->id);
    switch (m.type) {
    case RS_MSG_HELLO: on_hello(d, w, &m.u.hello); break;
    case RS_MSG_CREDIT: on_credit(w, m.u.credit); break;
    case RS_MSG_RESULT: on_result(d, w, &m.u.result); break;
    case RS_MSG_HEARTBEAT:
        on_stats(d, w, m.u.heartbeat.stats, m.u.heartbeat.stats_len, d->in_flight);
        break;
    default: reject(d, w, "unexpected_type", 1, 1);
    }
    rs_msg_cleanup(&m);
}

/* The name of the CURVE key the message came in with (set by the ZAP handler), or NULL. */
static const char *peer_key(coord_dispatch_t *d, zmq_msg_t *msg)
{
    const char *user = d->o.curve ? zmq_msg_gets(msg, "User-Id") : NULL;
    return user && *user ? user : NULL;
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
            handle_frame(d, zmq_msg_data(&id), zmq_msg_size(&id), peer_key(d, &body),
                         zmq_msg_data(&body), zmq_msg_size(&body));
        else
            rs_debug("dropped a message with an unexpected frame layout");
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

/* The next TASK's size for w, given room cases it may take now (its credit, or only its free
 * slots in dispatch_tasks' first pass); while w is busy and work plentiful, nothing until full
 * cases fit: fewer, larger messages. */
static int64_t task_size(coord_dispatch_t *d, coord_worker_t *w, int64_t room, int64_t full)
{
    const rs_config_t *cfg = d->o.cfg;
    int64_t n = cfg->dataset.shard_size;
    if (room < n) n = room;
    if (n > RS_PROTO_MAX_CASES) n = RS_PROTO_MAX_CASES;
    int64_t limit =
        d->o.conc ? coord_conc_limit(d->o.conc, rs_mono_ms()) : cfg->cluster.max_in_flight;
    if (limit - d->in_flight < n) n = limit - d->in_flight;
    uint64_t left = coord_sched_total(d->o.sched) - coord_sched_done(d->o.sched);
    if (n < full && w->n_tasks > 0 && left > (uint64_t)cfg->dataset.shard_size) return 0;
    if (d->o.budget && !coord_budget_open(d->o.budget)) return 0;
    return n > 0 ? (int64_t)coord_pace_room(d->pace, (size_t)n, d->avg_prompt_bytes) : 0;
}

static double prompt_bytes(const rs_case_t *c)
{
    size_t b = 0;
    for (size_t i = 0; i < c->n_msgs; i++) b += strlen(c->msgs[i].content);
    return (double)b;
}

/* Only judges and revisions ({{question}}) and exec graders (their request's "input") read a
 * case's raw input; without them it would just double the TASK, so it stays home. */
static int needs_input(const rs_config_t *cfg)
{
    for (size_t g = 0; g < cfg->scoring.n_graders; g++)
        if (cfg->scoring.graders[g].kind == RS_GRADE_EXEC) return 1;
    return cfg->n_judges > 0 || cfg->revise.rounds > 0;
}

/* Records the cases just sent as a lease of w, sorted by idx; it takes hold (the cases' bounds
 * against the budget). */
static void lease_add(coord_dispatch_t *d, coord_worker_t *w, const rs_task_t *t, double *hold)
{
    if (w->n_tasks == w->cap_tasks) {
        w->cap_tasks = w->cap_tasks ? 2 * w->cap_tasks : 8;
        w->tasks = rs_xrealloc(w->tasks, w->cap_tasks * sizeof(*w->tasks));
    }
    coord_task_t *ct = &w->tasks[w->n_tasks++];
    memset(ct, 0, sizeof(*ct));
    ct->id = t->task_id;
    ct->lease = t->lease;
    ct->budget_hold = hold;
    /* Cases beyond its free slots wait in its backlog: their lease clock starts once as many
     * cases have left it (see expire_leases). */
    int64_t wait = held(w) + (int64_t)t->n_cases - w->run_slots;
    ct->start_after = w->freed + (uint64_t)(wait > 0 ? wait : 0);
    ct->n = ct->left = t->n_cases;
    ct->cases = rs_xcalloc(t->n_cases, sizeof(*ct->cases));
    for (size_t i = 0; i < t->n_cases; i++) {
        ct->cases[i].idx = t->cases[i].idx;
        ct->cases[i].id_hash = rs_dataset_hash_id(t->cases[i].id);
    }
    qsort(ct->cases, ct->n, sizeof(*ct->cases), leased_cmp);
    ct->sent_ms = rs_mono_ms();
    ct->clock_ms = wait > 0 ? 0 : ct->sent_ms;
    w->credit -= (int64_t)t->n_cases;
    d->in_flight += (int64_t)t->n_cases;
    d->dispatched_unsaved += t->n_cases;
}

/* Reads the n cases of d->take into t, rendering their prompts, while the budget admits them:
 * those it refuses go back to the scheduler untouched, and t->n_cases says how many stay. Their
 * bounds go to *hold; *bytes gets their prompts' size. 0, or -1 with err. */
static int read_cases(coord_dispatch_t *d, rs_task_t *t, double **hold, double *bytes, rs_err_t *err)
{
    for (size_t i = 0; i < t->n_cases; i++) {
        if (coord_units_read(d->o.units, d->o.ds, d->take[i], &t->cases[i], err) != 0) return -1;
        if (d->o.budget && !coord_budget_admit(d->o.budget, &t->cases[i], hold)) {
            rs_case_cleanup(&t->cases[i]);
            coord_sched_untake(d->o.sched, d->take + i, t->n_cases - i);
            t->n_cases = i;
            return 0;
        }
        *bytes += prompt_bytes(&t->cases[i]);
        if (!needs_input(d->o.cfg)) {
            free(t->cases[i].input);
            t->cases[i].input = NULL;
        }
    }
    return 0;
}

/* Sends w one TASK of up to n cases. Returns the cases sent (0 when the scheduler had none or
 * the budget admitted none), or -1 with err when the dataset cannot be read. A failed send puts
 * the cases back; the worker is then marked gone. */
static int64_t send_task(coord_dispatch_t *d, coord_worker_t *w, size_t n, rs_err_t *err)
{
    n = coord_sched_take(d->o.sched, d->take, n);
    if (n == 0) return 0;
    rs_task_t t = {d->next_task_id + 1, d->next_task_id + 1, d->o.cfg->cluster.lease_ms, NULL, n};
    t.cases = rs_xcalloc(n, sizeof(rs_case_t));
    double bytes = 0, *hold = NULL;
    int64_t sent = read_cases(d, &t, &hold, &bytes, err) == 0 ? (int64_t)t.n_cases : -1;
    if (sent > 0) {
        d->next_task_id++;
        coord_pace_charge(d->pace, t.n_cases, bytes);
        d->avg_prompt_bytes = 0.9 * d->avg_prompt_bytes + 0.1 * bytes / (double)t.n_cases;
        rs_buf_reset(&d->out);
        rs_proto_encode_task(&d->out, &t);
        if (send_to(d, w, &d->out) != 0) {
            coord_sched_requeue(d->o.sched, d->take, t.n_cases);
            sent = 0;
        } else {
            lease_add(d, w, &t, hold);
            hold = NULL;
        }
    }
    if (hold) coord_budget_release(d->o.budget, &hold);
    for (size_t i = 0; i < n; i++) rs_case_cleanup(&t.cases[i]);
    free(t.cases);
    return sent;
}

/* What w may take in the first pass: its credit, but no more than its free slots. */
static int64_t slot_room(const coord_worker_t *w)
{
    int64_t free_slots = w->run_slots - held(w);
    return free_slots < w->credit ? free_slots : w->credit;
}

/* Two passes: every worker's free slots first, then the backlogs, so that when
 * cluster.max_in_flight or the pace binds, no backlog holds a case another worker could start.
 * A backlog is topped up by full shards, or whole when it is smaller than one, and only once a
 * case has left its worker: until then every slot is busy with its first call, so a backlog
 * would only wait, while a worker that joins a moment later (the second local worker of a small
 * run) could start those cases at once. */
static int dispatch_tasks(coord_dispatch_t *d, rs_err_t *err)
{
    int64_t shard = d->o.cfg->dataset.shard_size, backlog_max = d->o.cfg->cluster.worker_backlog;
    int64_t full[2] = {shard, backlog_max < shard ? backlog_max : shard};
    for (int backlog = 0; backlog < (backlog_max > 0 ? 2 : 1); backlog++) {
        for (size_t i = 0; i < d->n_workers; i++) {
            coord_worker_t *w = d->workers[i];
            int64_t n;
            if (backlog && w->freed == 0) continue;
            while (!w->gone &&
                   (n = task_size(d, w, backlog ? w->credit : slot_room(w), full[backlog])) > 0) {
                int64_t sent = send_task(d, w, (size_t)n, err);
                if (sent < 0) return -1;
                if (sent == 0) break; /* nothing left to hand out, or w is gone */
                if (coord_sched_done(d->o.sched) + (uint64_t)d->in_flight >=
                    coord_sched_total(d->o.sched))
                    return 0;
            }
        }
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

/* Whether t's lease has run out. A task in the worker's backlog starts its clock when the cases
 * ahead of it have left the worker (answered or taken back), for the worker starts a backlog
 * case the moment a slot frees, and at the latest one lease after it was sent. */
static int lease_over(const coord_worker_t *w, coord_task_t *t, int64_t now, int64_t lease_ms)
{
    if (!t->clock_ms) {
        if (w->freed >= t->start_after) t->clock_ms = now;
        else if (now - t->sent_ms >= lease_ms) t->clock_ms = t->sent_ms + lease_ms;
        else return 0;
    }
    return now - t->clock_ms > lease_ms;
}

static void expire_leases(coord_dispatch_t *d, coord_worker_t *w, int64_t now)
{
    for (size_t k = 0; k < w->n_tasks;) {
        coord_task_t *t = &w->tasks[k];
        if (!lease_over(w, t, now, d->o.cfg->cluster.lease_ms)) {
            k++;
            continue;
        }
        rs_warn("task %llu on worker %s passed its %lld ms lease; its cases go back to the queue",
                (unsigned long long)t->id, w->id, (long long)d->o.cfg->cluster.lease_ms);
        cancel_task(d, w, t->id);
        w->freed += t->left; /* CANCEL frees their slots */
        lease_end(d, w, t);
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
            rs_proto_encode_heartbeat(&d->out, &(rs_heartbeat_t){(int64_t)w->n_tasks, NULL, 0});
            send_to(d, w, &d->out);
        }
        i++;
    }
    prune_ended(d, now);
}

/* ---- life cycle ---- */

/* The context and the ROUTER the workers connect to: frames capped at what the decoder takes, a
 * send to a peer that is gone fails instead of vanishing (so it is noticed), no linger, a bounded
 * queue per peer. 0, or -1 with err (what is made is freed by coord_dispatch_destroy). */
static int router_open(coord_dispatch_t *d, rs_err_t *err)
{
    if (!(d->zctx = zmq_ctx_new())) return rs_err_set(err, "zmq_ctx_new: %s", zmq_strerror(errno));
    if (!(d->router = zmq_socket(d->zctx, ZMQ_ROUTER)))
        return rs_err_set(err, "cannot create the workers' socket: %s", zmq_strerror(errno));
    int64_t maxsize = RS_PROTO_MAX_FRAME;
    int one = 1, linger = 0, hwm = SEND_HWM;
    if (zmq_setsockopt(d->router, ZMQ_MAXMSGSIZE, &maxsize, sizeof(maxsize)) != 0 ||
        zmq_setsockopt(d->router, ZMQ_ROUTER_MANDATORY, &one, sizeof(one)) != 0 ||
        zmq_setsockopt(d->router, ZMQ_LINGER, &linger, sizeof(linger)) != 0 ||
        zmq_setsockopt(d->router, ZMQ_SNDHWM, &hwm, sizeof(hwm)) != 0)
        return rs_err_set(err, "cannot set the workers' socket options: %s", zmq_strerror(errno));
    return 0;
}

coord_dispatch_t *coord_dispatch_listen(const char *bind, coord_curve_t *curve, rs_err_t *err)
{
    coord_dispatch_t *d = rs_xcalloc(1, sizeof(*d));
    d->o.curve = curve;
    rs_buf_init(&d->out);
    if (router_open(d, err) != 0 ||
        (curve && coord_curve_attach(curve, d->zctx, d->router, err) != 0)) {
        coord_dispatch_destroy(&d);
        return NULL;
    }
    if (zmq_bind(d->router, bind) != 0) {
        rs_err_set(err, "cannot bind %s: %s", bind, zmq_strerror(errno));
        coord_dispatch_destroy(&d);
        return NULL;
    }
    size_t len = sizeof(d->endpoint);
    zmq_getsockopt(d->router, ZMQ_LAST_ENDPOINT, d->endpoint, &len);
    return d;
}

int coord_dispatch_init(coord_dispatch_t *d, const coord_dispatch_opts_t *opts, rs_err_t *err)
{
    coord_curve_t *curve = d->o.curve; /* the socket was bound with it: ZAP lives in its context */
    d->o = *opts;
    d->o.curve = curve;
    d->take = rs_xmalloc((size_t)opts->cfg->dataset.shard_size * sizeof(uint64_t));
    d->pace = coord_pace_new(opts->cfg);
    d->avg_prompt_bytes = 1024;
    d->peers = coord_peers_new(opts->cfg->cluster.max_rejects_per_minute, PEER_BAN_MS);
    /* Task ids differ between coordinator processes, so an answer to a task of an earlier one is
     * told from a forged one (unknown_task, not counted against the worker's budget). */
    d->first_task_id = d->next_task_id = (uint64_t)(rs_wall_ms() / 1000) << 20; /* < 2^53 */
    coord_writer_opts_t wo = {opts->store, opts->run_id};
    return (d->writer = coord_writer_start(&wo, err)) ? 0 : -1;
}

coord_dispatch_t *coord_dispatch_new(const coord_dispatch_opts_t *opts, rs_err_t *err)
{
    coord_dispatch_t *d = coord_dispatch_listen(opts->bind, opts->curve, err);
    if (d && coord_dispatch_init(d, opts, err) != 0) coord_dispatch_destroy(&d);
    return d;
}

void coord_dispatch_destroy(coord_dispatch_t **dp)
{
    if (!dp || !*dp) return;
    coord_dispatch_t *d = *dp;
    while (d->n_workers) worker_remove(d, d->n_workers - 1, "coordinator stopped");
    free(d->workers);
    for (size_t k = 0; k < d->n_ended; k++) task_free(&d->ended[k]);
    free(d->ended);
    coord_peers_destroy(&d->peers);
    coord_writer_stop(&d->writer);
    coord_batch_cleanup(&d->batch);
    free(d->take);
    coord_pace_destroy(&d->pace);
    rs_buf_cleanup(&d->out);
    if (d->router) zmq_close(d->router);
    coord_curve_detach(d->o.curve); /* its ZAP socket lives in zctx */
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
    p->failed = d->ws.failed;
    p->this_run = d->this_run;
    p->requeued = coord_sched_requeued(d->o.sched);
    p->records_rejected = d->records_rejected;
    p->workers = d->n_workers;
    p->in_flight = d->in_flight;
}

/* One pass of the loop: wait up to wait_ms for frames (or the writer's end of a write), take
 * them all, hand out work, hand the batch to the writer when it is free and the batch is full or
 * old enough. */
static int step(coord_dispatch_t *d, long wait_ms, int give_work, rs_err_t *err)
{
    zmq_pollitem_t items[3] = {{d->router, 0, ZMQ_POLLIN, 0}};
    int n = 1, wi = -1;
    if (d->o.curve) items[n++] = (zmq_pollitem_t){coord_curve_zap_socket(d->o.curve), 0, ZMQ_POLLIN, 0};
    if (d->writer) items[wi = n++] = (zmq_pollitem_t){NULL, coord_writer_fd(d->writer), ZMQ_POLLIN, 0};
    if (zmq_poll(items, n, wait_ms) < 0 && errno != EINTR)
        return rs_err_set(err, "zmq_poll: %s", zmq_strerror(errno));
    coord_curve_serve(d->o.curve); /* handshakes first: their messages may already follow */
    recv_all(d);
    send_pauses(d, NULL, 1);
    sweep_gone(d);
    /* The writer's state changes only when a try ends (its descriptor is readable then) or when
     * a batch is handed (hand_batch reads it again): no lock or read() on the other steps. */
    if (wi >= 0 && (items[wi].revents & ZMQ_POLLIN)) writer_read(d);
    if (give_work && room_for_results(d) && dispatch_tasks(d, err) != 0) return -1;
    sweep_gone(d);
    if (d->batch.n >= HAND_CASES || (d->batch.n && rs_mono_ms() - d->batch.since_ms >= FLUSH_MS)) {
        if (d->closed)
            write_now(d);
        else
            hand_batch(d);
    }
    return 0;
}

int coord_dispatch_flush(coord_dispatch_t *d, volatile sig_atomic_t *stop, int max_stops,
                         rs_err_t *err)
{
    for (;;) {
        int wrote = 0;
        if (d->writer) {
            writer_read(d);
            if (!d->ws.busy && (d->batch.n || d->dispatched_unsaved)) hand_batch(d);
            /* Told to stop: what is held still gets its try, as long as tries succeed. */
            if (d->ws.busy && *stop >= max_stops) wrote = coord_writer_wait(d->writer) == 0;
            writer_read(d);
        }
        if (!d->ws.busy && d->batch.n == 0 && d->dispatched_unsaved == 0) {
            collect_written(d);
            d->closed = 1;
            return 0;
        }
        if (wrote) continue;
        if (*stop >= max_stops || !d->writer) {
            size_t held = d->batch.n + writer_give_up(d);
            d->closed = 1;
            return rs_err_set(err, "stopped with %zu result(s) not yet written to Redis "
                                   "(their cases will run again on resume)", held);
        }
        step(d, 50, 0, err); /* keep answering workers while Redis is away */
    }
}

int coord_dispatch_run(coord_dispatch_t *d, volatile sig_atomic_t *stop, coord_progress_fn progress,
                       void *arg, rs_err_t *err)
{
    int64_t last_tick = 0;
    while (!*stop && coord_sched_done(d->o.sched) < coord_sched_total(d->o.sched)) {
        if (d->o.budget && coord_budget_exhausted(d->o.budget, d->in_flight)) return 2;
        long wait = d->batch.n && !d->ws.redis_down ? FLUSH_MS / 2 : TICK_MS / 2;
        if (step(d, wait, 1, err) != 0) return -1;
        int64_t now = rs_mono_ms();
        if (now - last_tick >= TICK_MS) {
            tick(d);
            sweep_gone(d);
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
    for (size_t i = 0; i < d->n_workers; i++) send_drain(d, d->workers[i]);
    d->draining = 1;
    int64_t until = rs_mono_ms() + timeout_ms;
    rs_err_t err;
    while (d->in_flight > 0 && rs_mono_ms() < until) {
        if (step(d, 20, 0, &err) != 0) {
            rs_warn("while draining: %s", err.msg);
            break;
        }
    }
}

void coord_dispatch_idle(coord_dispatch_t *d, long wait_ms)
{
    rs_err_t err;
    if (step(d, wait_ms, 0, &err) != 0) rs_debug("after the run: %s", err.msg);
}

int coord_dispatch_redis_down(const coord_dispatch_t *d)
{
    return d->ws.redis_down;
}

json_t *coord_dispatch_workers_json(const coord_dispatch_t *d)
{
    json_t *arr = json_array();
    int64_t now = rs_mono_ms();
    for (size_t i = 0; i < d->n_workers; i++) {
        const coord_worker_t *w = d->workers[i];
        size_t in_flight = 0;
        for (size_t k = 0; k < w->n_tasks; k++) in_flight += w->tasks[k].left;
        json_t *o = json_pack("{sssssIsIsIsIsIsIsI}", "id", w->id, "host", w->host, "pid",
                              (json_int_t)w->pid, "in_flight", (json_int_t)in_flight, "tasks",
                              (json_int_t)w->n_tasks, "results", (json_int_t)w->results,
                              "rejected", (json_int_t)w->rejected, "late", (json_int_t)w->late,
                              "silent_ms", (json_int_t)(now - w->last_seen_ms));
        if (w->user && w->self_id) json_object_set_new(o, "worker_id", json_string(w->self_id));
        json_array_append_new(arr, o);
    }
    return arr;
}

json_t *coord_dispatch_peers_json(const coord_dispatch_t *d)
{
    return coord_peers_json(d->peers);
}

void coord_dispatch_peers_restore(coord_dispatch_t *d, const char *saved)
{
    if (saved && coord_peers_restore(d->peers, saved) != 0)
        rs_warn("the run's saved peer counters are unreadable; they start again from zero");
}
