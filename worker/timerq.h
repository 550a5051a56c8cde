/* timerq: the worker's one deadline-ordered structure — a binary min-heap of timers (HTTP retry
 * delays, simulated latencies), so the event loop sleeps until the earliest and no request owns a
 * timer of its own. Timers are intrusive: the owner embeds a wk_timer_t and finds itself again
 * with WK_CONTAINER_OF; the heap only holds pointers and never allocates per timer. */
#ifndef WORKER_TIMERQ_H
#define WORKER_TIMERQ_H

#include <stddef.h>
#include <stdint.h>

#define WK_CONTAINER_OF(ptr, type, member) ((type *)(void *)((char *)(ptr)-offsetof(type, member)))

typedef struct wk_timer wk_timer_t;
typedef void (*wk_timer_fn)(wk_timer_t *t);

struct wk_timer {
    int64_t due_ms;  /* monotonic (rs_mono_ms) */
    uint64_t seq;    /* equal deadlines fire in the order they were added */
    size_t pos;      /* 1 + index in the heap; 0 when not queued */
    wk_timer_fn fire;
};

typedef struct wk_timerq {
    wk_timer_t **heap;
    size_t n, cap;
    uint64_t seq;
} wk_timerq_t;

void wk_timerq_init(wk_timerq_t *q);
/* Frees the heap; the timers themselves belong to their owners and are only forgotten. */
void wk_timerq_cleanup(wk_timerq_t *q);

/* Queues t to fire at due_ms (re-queues it when it is queued already). */
void wk_timerq_add(wk_timerq_t *q, wk_timer_t *t, int64_t due_ms, wk_timer_fn fire);
/* Takes t out; nothing happens when it is not queued. O(log n). */
void wk_timerq_remove(wk_timerq_t *q, wk_timer_t *t);
static inline int wk_timer_queued(const wk_timer_t *t)
{
    return t->pos != 0;
}
/* The earliest deadline, or INT64_MAX when nothing is queued. */
int64_t wk_timerq_next_due(const wk_timerq_t *q);
/* Pops and fires every timer due at now_ms, earliest first; a timer is out of the queue when it
 * fires, and fire may add or remove timers (one added for a time <= now_ms fires in this call
 * too). Returns how many fired. */
size_t wk_timerq_run(wk_timerq_t *q, int64_t now_ms);

#endif
