/* timerq: a binary min-heap of intrusive timers ordered by (deadline, insertion order); each
 * timer knows its heap slot, so removal is O(log n) without a search. */
#include "timerq.h"

#include <stdlib.h>

#include "util.h"

void wk_timerq_init(wk_timerq_t *q)
{
    q->heap = NULL;
    q->n = q->cap = 0;
    q->seq = 0;
}

void wk_timerq_cleanup(wk_timerq_t *q)
{
    for (size_t i = 0; i < q->n; i++) q->heap[i]->pos = 0;
    free(q->heap);
    wk_timerq_init(q);
}

static int before(const wk_timer_t *a, const wk_timer_t *b)
{
    return a->due_ms < b->due_ms || (a->due_ms == b->due_ms && a->seq < b->seq);
}

static void place(wk_timerq_t *q, size_t i, wk_timer_t *t)
{
    q->heap[i] = t;
    t->pos = i + 1;
}

static void sift_up(wk_timerq_t *q, size_t i)
{
    wk_timer_t *t = q->heap[i];
    while (i > 0 && before(t, q->heap[(i - 1) / 2])) {
        place(q, i, q->heap[(i - 1) / 2]);
        i = (i - 1) / 2;
    }
    place(q, i, t);
}

static void sift_down(wk_timerq_t *q, size_t i)
{
    wk_timer_t *t = q->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= q->n) break;
        if (c + 1 < q->n && before(q->heap[c + 1], q->heap[c])) c++;
        if (!before(q->heap[c], t)) break;
        place(q, i, q->heap[c]);
        i = c;
    }
    place(q, i, t);
}

void wk_timerq_remove(wk_timerq_t *q, wk_timer_t *t)
{
    if (!t->pos) return;
    size_t i = t->pos - 1;
    t->pos = 0;
    wk_timer_t *last = q->heap[--q->n];
    if (i == q->n) return;
    place(q, i, last);
    sift_up(q, i);
    sift_down(q, last->pos - 1);
}

void wk_timerq_add(wk_timerq_t *q, wk_timer_t *t, int64_t due_ms, wk_timer_fn fire)
{
    wk_timerq_remove(q, t);
    if (q->n == q->cap) {
        q->cap = q->cap ? 2 * q->cap : 64;
        q->heap = rs_xrealloc(q->heap, q->cap * sizeof(*q->heap));
    }
    t->due_ms = due_ms;
    t->seq = q->seq++;
    t->fire = fire;
    place(q, q->n++, t);
    sift_up(q, q->n - 1);
}

int64_t wk_timerq_next_due(const wk_timerq_t *q)
{
    return q->n ? q->heap[0]->due_ms : INT64_MAX;
}

size_t wk_timerq_run(wk_timerq_t *q, int64_t now_ms)
{
    size_t fired = 0;
    while (q->n && q->heap[0]->due_ms <= now_ms) {
        wk_timer_t *t = q->heap[0];
        wk_timerq_remove(q, t);
        fired++;
        t->fire(t);
    }
    return fired;
}
