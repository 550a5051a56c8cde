/* sched: which cases still need a result, in the order they should go out.
 *
 * Fresh cases are handed out in index order from a cursor; cases whose lease expired go on a
 * retry stack and are handed out first, so a dead worker's cases are redone soon. A bitmap marks
 * cases that have a result: a case can sit on the retry stack and still be completed by a late
 * result from its first worker, so take() skips cases that are done. Memory: one bit per case. */
#ifndef COORD_SCHED_H
#define COORD_SCHED_H

#include <stddef.h>
#include <stdint.h>

typedef struct coord_sched coord_sched_t;

coord_sched_t *coord_sched_new(uint64_t total);
void coord_sched_destroy(coord_sched_t **s);

/* Marks idx done. Returns 1 if it was not done before, 0 if it was (a duplicate). */
int coord_sched_complete(coord_sched_t *s, uint64_t idx);
int coord_sched_is_done(const coord_sched_t *s, uint64_t idx);

/* Writes up to max cases that need a result into out; returns how many. */
size_t coord_sched_take(coord_sched_t *s, uint64_t *out, size_t max);
/* Puts cases back (lease expired, worker died); done ones are dropped. */
void coord_sched_requeue(coord_sched_t *s, const uint64_t *idx, size_t n);
/* Gives back cases just taken that never went out (the budget refused them): they come out first
 * next time, and are not counted as requeued. */
void coord_sched_untake(coord_sched_t *s, const uint64_t *idx, size_t n);

uint64_t coord_sched_total(const coord_sched_t *s);
uint64_t coord_sched_done(const coord_sched_t *s);
/* Requeued cases so far: a measure of work that had to be redone. */
uint64_t coord_sched_requeued(const coord_sched_t *s);

#endif
