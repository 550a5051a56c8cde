/* writer: a thread that writes batches of results to Redis; the batches and their fold. */
#define _GNU_SOURCE
#include "writer.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 5000

struct coord_writer {
    coord_writer_opts_t o; /* o.store is the caller's: the writer's own is store */
    coord_store_t *store;
    char *run_id;
    int fd; /* eventfd: a try ended */
    pthread_t thread;
    int started;
    pthread_mutex_t lock;
    pthread_cond_t wake;  /* to the thread: a batch, or stop */
    pthread_cond_t ended; /* from the thread: a try ended */
    /* Under lock. While busy, slot is the thread's alone; otherwise the dispatch thread's. */
    coord_batch_t slot;
    int busy, stopping, down;
    uint64_t failed, fails;
    long backoff_ms;
};

/* ---- batches ---- */

rs_jdoc_t *coord_batch_doc(coord_batch_t *b)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 256;
        b->cases = rs_xrealloc(b->cases, cap * sizeof(*b->cases));
        b->rec = rs_xrealloc(b->rec, cap * sizeof(*b->rec));
        b->doc = rs_xrealloc(b->doc, cap * sizeof(*b->doc));
        memset(b->doc + b->cap, 0, (cap - b->cap) * sizeof(*b->doc));
        b->cap = cap;
    }
    if (!b->doc[b->n]) b->doc[b->n] = rs_jdoc_new();
    return b->doc[b->n];
}

void coord_batch_add(coord_batch_t *b, rs_case_result_t *c, const rs_jv_t *rec)
{
    if (b->n == 0) b->since_ms = rs_mono_ms();
    b->rec[b->n] = rec;
    b->cases[b->n++] = *c;
    c->json = NULL;
}

void coord_batch_empty(coord_batch_t *b, size_t keep_docs)
{
    for (size_t i = 0; i < b->n; i++) free(b->cases[i].json);
    b->n = 0;
    b->dispatched = 0;
    for (size_t i = keep_docs; i < b->cap; i++) rs_jdoc_free(&b->doc[i]);
}

void coord_batch_cleanup(coord_batch_t *b)
{
    coord_batch_empty(b, 0);
    free(b->cases);
    free(b->rec);
    free(b->doc);
    memset(b, 0, sizeof(*b));
}

void coord_batch_fold(const coord_batch_t *b, const coord_fold_to_t *to)
{
    rs_err_t err;
    for (size_t i = 0; i < b->n; i++) {
        const rs_case_result_t *c = &b->cases[i];
        if (to->otlp) coord_otlpfeed_push(to->otlp, c->json, c->json_len);
        if (to->jsonl && coord_jsonlout_offer(to->jsonl, c->idx, c->json, c->json_len, b->rec[i],
                                              &err) != 0)
            rs_warn("%s; results.jsonl is read back from Redis at the end", err.msg);
        if (to->tally) coord_tally_add(to->tally, b->rec[i]);
    }
}

/* ---- the thread ---- */

static void signal_ended(coord_writer_t *w)
{
    uint64_t one = 1;
    if (write(w->fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        rs_debug("writer: eventfd: %s", strerror(errno));
    pthread_cond_broadcast(&w->ended);
}

/* Under lock: the outcome of one try (rc 0: written, failed counted). */
static void settle(coord_writer_t *w, int rc, uint64_t failed, size_t n, const rs_err_t *err)
{
    if (rc == 0) {
        if (w->down) rs_info("Redis is back; wrote %zu held result(s)", n);
        w->down = 0;
        w->backoff_ms = 0;
        w->busy = 0;
        w->failed += failed;
    } else {
        if (!w->down) rs_warn("Redis unavailable (%s); holding %zu result(s) and retrying", err->msg, n);
        w->down = 1;
        w->fails++;
        w->backoff_ms = w->backoff_ms ? 2 * w->backoff_ms : BACKOFF_FIRST_MS;
        if (w->backoff_ms > BACKOFF_MAX_MS) w->backoff_ms = BACKOFF_MAX_MS;
    }
    signal_ended(w);
}

/* Under lock: waits the backoff after a failed try, unless stopped meanwhile. */
static void back_off(coord_writer_t *w)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += w->backoff_ms / 1000;
    until.tv_nsec += (w->backoff_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
    while (!w->stopping && pthread_cond_timedwait(&w->wake, &w->lock, &until) != ETIMEDOUT) {
    }
}

static void *writer_main(void *arg)
{
    coord_writer_t *w = arg;
    pthread_mutex_lock(&w->lock);
    for (;;) {
        while (!w->busy && !w->stopping) pthread_cond_wait(&w->wake, &w->lock);
        if (w->stopping) break;
        pthread_mutex_unlock(&w->lock);
        coord_batch_t *b = &w->slot;
        size_t n = b->n;
        uint64_t added = 0, failed = 0;
        rs_err_t err;
        int rc = coord_store_results_add(w->store, w->run_id, b->cases, b->n, b->dispatched,
                                         &added, &failed, &err);
        pthread_mutex_lock(&w->lock);
        settle(w, rc, failed, n, &err);
        if (rc != 0) back_off(w);
    }
    pthread_mutex_unlock(&w->lock);
    return NULL;
}

/* ---- the dispatch thread's side ---- */

coord_writer_t *coord_writer_start(const coord_writer_opts_t *o, rs_err_t *err)
{
    coord_store_t *store = coord_store_twin(o->store, err);
    if (!store) return NULL;
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0) {
        rs_err_set(err, "eventfd: %s", strerror(errno));
        coord_store_destroy(&store);
        return NULL;
    }
    coord_writer_t *w = rs_xcalloc(1, sizeof(*w));
    w->o = *o;
    w->store = store;
    w->run_id = rs_xstrdup(o->run_id);
    w->fd = fd;
    pthread_mutex_init(&w->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->wake, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&w->ended, NULL);
    int rc = pthread_create(&w->thread, NULL, writer_main, w);
    w->started = rc == 0;
    if (rc == 0) pthread_setname_np(w->thread, "rs-writer"); /* for top -H and perf */
    if (rc != 0) {
        rs_err_set(err, "cannot start the result writer's thread: %s", strerror(rc));
        coord_writer_stop(&w);
    }
    return w;
}

size_t coord_writer_stop(coord_writer_t **wp)
{
    if (!wp || !*wp) return 0;
    coord_writer_t *w = *wp;
    if (w->started) {
        pthread_mutex_lock(&w->lock);
        w->stopping = 1;
        pthread_cond_signal(&w->wake);
        pthread_mutex_unlock(&w->lock);
        pthread_join(w->thread, NULL);
    }
    size_t held = w->busy ? w->slot.n : 0;
    coord_batch_cleanup(&w->slot);
    coord_store_destroy(&w->store);
    close(w->fd);
    pthread_cond_destroy(&w->wake);
    pthread_cond_destroy(&w->ended);
    pthread_mutex_destroy(&w->lock);
    free(w->run_id);
    free(w);
    *wp = NULL;
    return held;
}

int coord_writer_fd(const coord_writer_t *w)
{
    return w->fd;
}

void coord_writer_state(coord_writer_t *w, coord_writer_state_t *s)
{
    uint64_t count;
    while (read(w->fd, &count, sizeof(count)) > 0) {
    }
    pthread_mutex_lock(&w->lock);
    s->busy = w->busy;
    s->held = w->busy ? w->slot.n : 0;
    s->redis_down = w->down;
    s->failed = w->failed;
    pthread_mutex_unlock(&w->lock);
}

/* When the writer is free, swaps b with the batch it wrote last; write: and has it write b. */
static int swap_slot(coord_writer_t *w, coord_batch_t *b, int write)
{
    pthread_mutex_lock(&w->lock);
    int free_now = !w->busy;
    if (free_now) {
        coord_batch_t written = w->slot;
        w->slot = *b;
        *b = written;
        if (write) {
            w->busy = 1;
            pthread_cond_signal(&w->wake);
        }
    }
    pthread_mutex_unlock(&w->lock);
    return free_now;
}

int coord_writer_hand(coord_writer_t *w, coord_batch_t *b)
{
    return swap_slot(w, b, 1);
}

int coord_writer_collect(coord_writer_t *w, coord_batch_t *b)
{
    return swap_slot(w, b, 0);
}

int coord_writer_wait(coord_writer_t *w)
{
    pthread_mutex_lock(&w->lock);
    uint64_t fails = w->fails;
    while (w->busy && w->fails == fails) pthread_cond_wait(&w->ended, &w->lock);
    int rc = w->busy ? -1 : 0;
    pthread_mutex_unlock(&w->lock);
    return rc;
}
