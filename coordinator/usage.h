/* usage: live counters of the model calls behind a run — calls, tokens, errors by reason and
 * latency — fed by the small stats summary each RESULT carries, so the coordinator never parses
 * result records on its hot path.
 *
 * These count work done, redone work included (a redone call is paid for again), while the report
 * counts each case once. They feed status/top (stored in rs:run:<id>:usage) and /metrics. */
#ifndef COORD_USAGE_H
#define COORD_USAGE_H

#include <jansson.h>
#include <stdint.h>

#include "config.h"
#include "util.h"

#define COORD_USAGE_BUCKETS 14 /* latency histogram upper bounds, ms; the last is +Inf */

typedef struct coord_usage coord_usage_t;

coord_usage_t *coord_usage_new(const rs_config_t *cfg);
void coord_usage_destroy(coord_usage_t **u);

/* A count a worker's stats give (key of o), held to [0, 2^40]: a peer's number, so neither a
 * negative one (spending taken back from a budget) nor one that would overflow a sum counts as
 * sent. Absent or not an integer: 0. */
int64_t coord_usage_count(json_t *o, const char *key);

/* Adds one RESULT's or HEARTBEAT's stats object (see rs_result_t.stats; borrowed); unknown
 * models are ignored. -1 when it is not an object (so the caller can log once). */
int coord_usage_add(coord_usage_t *u, json_t *stats);
/* Adds a stored snapshot (coord_usage_json's output) — a resumed run continues its counters. */
int coord_usage_merge(coord_usage_t *u, const char *snapshot);

/* {"<model>": {"calls", "input_tokens", "output_tokens", "cost_usd", "errors": {...},
 *  "latency_ms": {"p50", "p95"} (over the last minute), "buckets": [...], "cache_hits",
 *  "cache_misses"}} (new reference). Calls, tokens and cost count the calls made: a hit of the
 *  response cache is in cache_hits only. */
json_t *coord_usage_json(coord_usage_t *u);

/* What row i (the config's models in order, then the remote embedder when there is one) has
 * spent so far: its input and output tokens together, and their cost at its prices. 0, or -1
 * past the last row. */
int coord_usage_spent(const coord_usage_t *u, size_t i, int64_t *tokens, double *usd);

/* Prometheus text-format lines for the model metrics (tokens, cost, errors, latency). */
void coord_usage_prometheus(coord_usage_t *u, rs_buf_t *out);

/* Appends v as a Prometheus label value: backslash, quote and newline escaped. */
void coord_usage_label(rs_buf_t *out, const char *v);

/* The latency bucket bounds in ms (COORD_USAGE_BUCKETS - 1 finite ones). */
extern const double COORD_USAGE_BOUNDS[COORD_USAGE_BUCKETS - 1];

#endif
