/* statusview: what `status` and `top` show — a run's state gathered from Redis into one JSON
 * object, and its rendering as text for a terminal. */
#ifndef COORD_STATUSVIEW_H
#define COORD_STATUSVIEW_H

#include <jansson.h>

#include "store.h"
#include "util.h"

/* {run_id, name, status, live, total, done, failed, skipped, percent, elapsed_seconds,
 *  cases_per_second, eta_seconds, dataset, coordinator, workers: [...], usage: {model: {calls,
 *  input_tokens, output_tokens, cost_usd, errors, last_minute_latency_ms: {p50, p95}}}}
 * (new reference). Usage counts work done, redone calls included. */
json_t *coord_status_json(coord_store_t *st, const char *run_id, json_t *manifest);

/* Appends the human view; width 0 means 80 columns. */
void coord_status_render(rs_buf_t *out, json_t *status, int width);

#endif
