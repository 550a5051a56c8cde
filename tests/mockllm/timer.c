/* timer: a binary min-heap of (deadline, sequence) under one mutex, and one thread that sleeps
 * on a CLOCK_MONOTONIC condition variable until the earliest deadline or an earlier new entry.
 * Due entries are popped in batches and fired outside the lock, so a slow fire never blocks
 * the server threads that add entries. */
#include "timer.h"

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define FIRE_BATCH 256

typedef struct entry {
    int64_t due_ns;
    uint64_t seq; /* ties fire in the order added */
    void *arg;
} entry_t;

struct mock_timer {
    pthread_mutex_t mu;
    pthread_cond_t wake;    /* an earlier entry, a flush or stop */
    pthread_cond_t flushed; /* flush_done moved */
    entry_t *heap;
    size_t n, cap;
    uint64_t seq;
    uint64_t flush_req, flush_done;
    int stop;
    mock_timer_fn fire;
    pthread_t thread;
};

static int64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int earlier(const entry_t *a, const entry_t *b)
{
    return a->due_ns < b->due_ns || (a->due_ns == b->due_ns && a->seq < b->seq);
}

static void swap(entry_t *a, entry_t *b)
{
    entry_t t = *a;
    *a = *b;
    *b = t;
}

static void heap_push(mock_timer_t *t, entry_t e)
{
    if (t->n == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 1024;
        t->heap = rs_xrealloc(t->heap, t->cap * sizeof(*t->heap));
    }
    size_t i = t->n++;
    t->heap[i] = e;
    while (i > 0 && earlier(&t->heap[i], &t->heap[(i - 1) / 2])) {
        swap(&t->heap[i], &t->heap[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
}

static entry_t heap_pop(mock_timer_t *t)
{
    entry_t top = t->heap[0];
    t->heap[0] = t->heap[--t->n];
    for (size_t i = 0;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < t->n && earlier(&t->heap[l], &t->heap[m])) m = l;
        if (r < t->n && earlier(&t->heap[r], &t->heap[m])) m = r;
        if (m == i) break;
        swap(&t->heap[i], &t->heap[m]);
        i = m;
    }
    return top;
}

/* Pops what is due (everything while a flush is asked for) into batch; returns the count. */
static size_t pop_due(mock_timer_t *t, int flushing, void **batch)
{
    int64_t now = mono_ns();
    size_t k = 0;
    while (k < FIRE_BATCH && t->n > 0 && (flushing || t->heap[0].due_ns <= now))
        batch[k++] = heap_pop(t).arg;
    return k;
}

static void sleep_until_due(mock_timer_t *t)
{
    if (t->n == 0) {
        pthread_cond_wait(&t->wake, &t->mu);
        return;
    }
    struct timespec ts = {.tv_sec = t->heap[0].due_ns / 1000000000,
                          .tv_nsec = t->heap[0].due_ns % 1000000000};
    pthread_cond_timedwait(&t->wake, &t->mu, &ts);
}

static void *timer_main(void *arg)
{
    mock_timer_t *t = arg;
    void *batch[FIRE_BATCH];
    pthread_mutex_lock(&t->mu);
    while (!t->stop) {
        uint64_t want = t->flush_req;
        int flushing = want != t->flush_done;
        size_t k = pop_due(t, flushing, batch);
        if (k > 0) {
            pthread_mutex_unlock(&t->mu);
            for (size_t i = 0; i < k; i++)
                t->fire(batch[i]);
            pthread_mutex_lock(&t->mu);
        } else if (flushing) {
            t->flush_done = want;
            pthread_cond_broadcast(&t->flushed);
        } else {
            sleep_until_due(t);
        }
    }
    pthread_mutex_unlock(&t->mu);
    return NULL;
}

mock_timer_t *mock_timer_new(mock_timer_fn fire, rs_err_t *err)
{
    mock_timer_t *t = rs_xcalloc(1, sizeof(*t));
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* deadlines must not jump with the wall */
    pthread_cond_init(&t->wake, &ca);
    pthread_condattr_destroy(&ca);
    pthread_cond_init(&t->flushed, NULL);
    pthread_mutex_init(&t->mu, NULL);
    t->fire = fire;
    int rc = pthread_create(&t->thread, NULL, timer_main, t);
    if (rc != 0) {
        rs_err_set(err, "cannot start the timer thread: %s", strerror(rc));
        pthread_cond_destroy(&t->wake);
        pthread_cond_destroy(&t->flushed);
        pthread_mutex_destroy(&t->mu);
        free(t);
        return NULL;
    }
    return t;
}

void mock_timer_add(mock_timer_t *t, double delay_ms, void *arg)
{
    int64_t due = mono_ns() + (int64_t)(delay_ms * 1e6);
    pthread_mutex_lock(&t->mu);
    heap_push(t, (entry_t){.due_ns = due, .seq = t->seq++, .arg = arg});
    if (t->heap[0].seq == t->seq - 1) pthread_cond_signal(&t->wake); /* a new earliest deadline */
    pthread_mutex_unlock(&t->mu);
}

void mock_timer_flush(mock_timer_t *t)
{
    pthread_mutex_lock(&t->mu);
    uint64_t mine = ++t->flush_req;
    pthread_cond_signal(&t->wake);
    while (t->flush_done < mine && !t->stop)
        pthread_cond_wait(&t->flushed, &t->mu);
    pthread_mutex_unlock(&t->mu);
}

size_t mock_timer_pending(mock_timer_t *t)
{
    pthread_mutex_lock(&t->mu);
    size_t n = t->n;
    pthread_mutex_unlock(&t->mu);
    return n;
}

void mock_timer_destroy(mock_timer_t **tp)
{
    mock_timer_t *t = tp ? *tp : NULL;
    if (!t) return;
    pthread_mutex_lock(&t->mu);
    t->stop = 1;
    pthread_cond_signal(&t->wake);
    pthread_cond_broadcast(&t->flushed);
    pthread_mutex_unlock(&t->mu);
    pthread_join(t->thread, NULL);
    pthread_cond_destroy(&t->wake);
    pthread_cond_destroy(&t->flushed);
    pthread_mutex_destroy(&t->mu);
    free(t->heap);
    free(t);
    *tp = NULL;
}
