/* concurrency: each model's cluster-wide cap on cases in flight, and its pauses — the
 * coordinator's half of being one polite client however many workers there are
 * (docs/RATELIMITS.md).
 *
 * Workers count, per model, the 429s and 503s their calls met (retried attempts included, as they
 * happen) and the longest Retry-After asked for, in the stats of their RESULTs and HEARTBEATs.
 * Fed those, a model with concurrency.adaptive on keeps an AIMD cap (aimd.h) starting at its
 * ceiling (cluster.max_in_flight unless set lower); every case calls every model, so dispatch
 * keeps in flight at most the smallest cap. A Retry-After pauses the model: no case goes out
 * until it ends, and every worker is told (PAUSE) to hold that model's requests as long.
 *
 * The caps over time (a bounded series sampled at each change, offsets in ms from when the run
 * first started tracking them) go to Redis (rs:run:<id>:concurrency), whence status, a resume and
 * the report read them. Workers are not trusted: a pause is cut at COORD_CONC_MAX_PAUSE_MS, and a
 * worker can at worst slow the run, as it could by answering slowly. */
#ifndef COORD_CONCURRENCY_H
#define COORD_CONCURRENCY_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "proto.h"
#include "util.h"

#define COORD_CONC_MAX_PAUSE_MS 600000 /* the longest pause a worker's report can start */
#define COORD_CONC_MAX_POINTS 200      /* series points kept per model (halved when full) */

typedef struct coord_conc coord_conc_t;

/* The models of cfg (cfg must outlive it); wall_ms is now, the series' origin. */
coord_conc_t *coord_conc_new(const rs_config_t *cfg, int64_t wall_ms);
void coord_conc_destroy(coord_conc_t **c);

/* Continues a resumed run's caps, series and counters from a stored coord_conc_json text.
 * 0, or -1 when it is unreadable (then nothing changes). */
int coord_conc_restore(coord_conc_t *c, const char *saved);

/* Folds one RESULT's or HEARTBEAT's stats object ({"<model>": {"calls", "errors", "retries",
 * "retry_after_ms"}}, rs_result_t.stats); in_flight: cases out before this message's cases
 * returned. Unknown models and wrong types are ignored. */
void coord_conc_feed(coord_conc_t *c, json_t *stats, int64_t in_flight, int64_t now_ms,
                     int64_t wall_ms);

/* How many cases may be out at now_ms: the smallest cap of the adaptive models and
 * cluster.max_in_flight; 0 while any model is paused. */
int64_t coord_conc_limit(const coord_conc_t *c, int64_t now_ms);

/* The pauses to tell workers of: with fresh set, those that began or grew since the last such
 * call (each once); without, every one still running (for a worker that just joined). Fills up
 * to max entries of out (model borrowed from the config) and returns how many. */
size_t coord_conc_pauses(coord_conc_t *c, int fresh, int64_t now_ms, rs_pause_t *out, size_t max);

/* Whether anything is worth storing or showing: an adaptive model, a 429/503 or a pause. */
int coord_conc_active(const coord_conc_t *c);

/* {"start_ms": origin, "models": {"<model>": {"adaptive", "floor", "ceiling", "cap", "min_cap",
 * "decreases", "increases", "congested", "pauses", "paused_ms", "paused_left_ms", "series":
 * [[offset_ms, cap], ...]}}} (new reference). */
json_t *coord_conc_json(const coord_conc_t *c, int64_t now_ms);

/* Prometheus lines: reasonsaver_model_concurrency_cap (gauge), _decreases_total,
 * _increases_total, reasonsaver_model_pauses_total and reasonsaver_model_paused (0/1). */
void coord_conc_prometheus(const coord_conc_t *c, int64_t now_ms, rs_buf_t *out);

#endif
