/* timer: one thread and one deadline-ordered heap for every delayed reply and hang, so a thousand
 * requests waiting 50 ms cost a thousand heap entries, not a thousand threads. When an entry is
 * due the thread calls fire(arg) (the server resumes the suspended connection there). */
#ifndef MOCK_TIMER_H
#define MOCK_TIMER_H

#include <stddef.h>

#include "util.h"

typedef struct mock_timer mock_timer_t;
/* Called on the timer thread, without the timer's lock held, once per entry. */
typedef void (*mock_timer_fn)(void *arg);

/* Starts the timer thread. NULL with err when the thread cannot start. */
mock_timer_t *mock_timer_new(mock_timer_fn fire, rs_err_t *err);
/* Schedules fire(arg) delay_ms from now (entries with the same deadline fire in order added). */
void mock_timer_add(mock_timer_t *t, double delay_ms, void *arg);
/* Fires every pending entry now, on the timer thread, and returns once they have fired. */
void mock_timer_flush(mock_timer_t *t);
/* Entries not yet fired. */
size_t mock_timer_pending(mock_timer_t *t);
/* Stops the thread and frees the timer; entries still pending are dropped without firing
 * (flush first). Sets *t to NULL; NULL and &NULL are fine. */
void mock_timer_destroy(mock_timer_t **t);

#endif
