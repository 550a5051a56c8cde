/* backlog: a FIFO of waiting cases in one array, oldest at head. */
#include "backlog.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

void wk_backlog_init(wk_backlog_t *b)
{
    memset(b, 0, sizeof(*b));
}

void wk_backlog_cleanup(wk_backlog_t *b)
{
    wk_backlog_drop(b, 1, 0);
    free(b->v);
    wk_backlog_init(b);
}

void wk_backlog_push(wk_backlog_t *b, uint64_t task_id, uint64_t lease, wk_arrival_t arrival,
                     rs_case_t *c)
{
    if (b->head + b->n == b->cap) {
        if (b->head > b->cap / 2) { /* mostly consumed: slide down rather than grow */
            memmove(b->v, b->v + b->head, b->n * sizeof(*b->v));
            b->head = 0;
        } else {
            b->cap = b->cap ? 2 * b->cap : 64;
            b->v = rs_xrealloc(b->v, b->cap * sizeof(*b->v));
        }
    }
    wk_waiting_t *w = &b->v[b->head + b->n++];
    w->task_id = task_id;
    w->lease = lease;
    w->arrival = arrival;
    w->c = *c;
    memset(c, 0, sizeof(*c));
}

int wk_backlog_pop(wk_backlog_t *b, wk_waiting_t *out)
{
    if (b->n == 0) return -1;
    *out = b->v[b->head++];
    if (--b->n == 0) b->head = 0;
    return 0;
}

size_t wk_backlog_drop(wk_backlog_t *b, int all, uint64_t task_id)
{
    size_t kept = 0, dropped = 0;
    for (size_t i = 0; i < b->n; i++) {
        wk_waiting_t *w = &b->v[b->head + i];
        if (all || w->task_id == task_id) {
            rs_case_cleanup(&w->c);
            dropped++;
        } else {
            b->v[b->head + kept++] = *w;
        }
    }
    b->n = kept;
    if (b->n == 0) b->head = 0;
    return dropped;
}
