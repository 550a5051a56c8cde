/* backlog: the cases a worker holds beyond its slots, in arrival order, not started yet. The
 * session starts the oldest the moment a running case finishes, so the next model call never
 * waits for a RESULT to reach the coordinator and a TASK to come back (cluster.worker_backlog). */
#ifndef WORKER_BACKLOG_H
#define WORKER_BACKLOG_H

#include <stddef.h>
#include <stdint.h>

#include "dataset.h"
#include "trace.h"

/* A case waiting for a slot, under the task and lease it came with, and when it came. */
typedef struct wk_waiting {
    uint64_t task_id, lease;
    wk_arrival_t arrival;
    rs_case_t c;
} wk_waiting_t;

/* A FIFO of waiting cases; embedded, zeroed by wk_backlog_init. */
typedef struct wk_backlog {
    wk_waiting_t *v;
    size_t head, n, cap;
} wk_backlog_t;

void wk_backlog_init(wk_backlog_t *b);
/* Drops every case still waiting and frees the storage. */
void wk_backlog_cleanup(wk_backlog_t *b);

/* Appends case c of a task, arrived at arrival; takes over c's contents (c is left zeroed). */
void wk_backlog_push(wk_backlog_t *b, uint64_t task_id, uint64_t lease, wk_arrival_t arrival,
                     rs_case_t *c);
/* Moves the oldest waiting case into *out (the caller owns its case: rs_case_cleanup or hand
 * it on). 0 when one was there, -1 when the backlog is empty. */
int wk_backlog_pop(wk_backlog_t *b, wk_waiting_t *out);
/* Drops the waiting cases of task_id (every case, when all), keeping the others' order. Returns
 * how many were dropped. */
size_t wk_backlog_drop(wk_backlog_t *b, int all, uint64_t task_id);

static inline size_t wk_backlog_len(const wk_backlog_t *b)
{
    return b->n;
}

#endif
