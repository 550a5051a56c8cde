/* otlpfeed: live export of a run's traces to an OpenTelemetry collector while it runs
 * (report.otlp). The dispatch loop hands over each newly stored result; a thread of its own turns
 * their spans into OTLP batches and POSTs them, so a slow collector never slows the run. The
 * queue is bounded: past 100,000 waiting results new ones are dropped and counted (the run's
 * traces stay in Redis, and `reasonsaver export` can send them again). */
#ifndef COORD_OTLPFEED_H
#define COORD_OTLPFEED_H

#include <stddef.h>

#include "util.h"

typedef struct coord_otlpfeed coord_otlpfeed_t;

coord_otlpfeed_t *coord_otlpfeed_start(const char *base_url, const char *run_id, rs_err_t *err);
/* Queues a stored result record (copied). */
void coord_otlpfeed_push(coord_otlpfeed_t *f, const char *json, size_t len);
/* Sends what is queued, stops the thread, logs what was sent and dropped, frees, sets *f NULL. */
void coord_otlpfeed_stop(coord_otlpfeed_t **f);

#endif
