/* usage: the per-model summary of model calls that each RESULT carries in its `stats` field (shape
 * in common/proto.h), folded from the calls behind the cases it answers. The coordinator adds it
 * to its live counters (coordinator/usage.c: status, top, /metrics) without parsing records.
 *
 * A call is one HTTP request (an OpenAI request with n choices is one call) or one sim candidate.
 * "calls" and "latency_ms" count the calls that were made; "errors" counts failed calls by reason,
 * including those that never went out (no_key, bad_request_body). "retries" counts failed
 * attempts that were tried again, by reason, as they happen (not when their case ends), and
 * "retry_after_ms" is the longest Retry-After a 429 or 503 asked for since the last take: the
 * coordinator adapts the model's cluster-wide cap to them and pauses the model for everyone. */
#ifndef WORKER_USAGE_H
#define WORKER_USAGE_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* One model call of a case, as the summary needs it. */
typedef struct wk_call {
    uint32_t model;      /* index into the config's models; n_models: the remote embedder */
    int made;            /* 0: refused before a request went out (no latency) */
    int64_t input_tokens, output_tokens;
    double latency_ms;   /* the last attempt's duration (the simulated latency for sim) */
    int stage;           /* 0 generate, 1 critique, 2 revise, 3 embed */
    int cache;           /* WK_CACHE_HIT (answered by the response cache; made is 0), or
                          * WK_CACHE_MISS (looked up, not found: made), or 0 (not looked up) */
    char error_type[32]; /* "" on success */
} wk_call_t;

enum { WK_CACHE_HIT = 1, WK_CACHE_MISS = 2 };

typedef struct wk_usage wk_usage_t;

/* A summary for cfg's models; cfg must outlive it. */
wk_usage_t *wk_usage_new(const rs_config_t *cfg);
void wk_usage_destroy(wk_usage_t **u);

/* Folds n calls into the summary. */
void wk_usage_add(wk_usage_t *u, const wk_call_t *calls, size_t n);

/* One attempt of a call to the model named model that will be tried again (reason as in
 * rs_failure_t), with the server's Retry-After in ms (-1: none). An unknown name is ignored. */
void wk_usage_retry(wk_usage_t *u, const char *model, const char *reason, int64_t retry_after_ms);

/* Whether a retry for a 429 or 503 was added since the last take: the coordinator should hear of
 * it now, not when some case ends. */
int wk_usage_urgent(const wk_usage_t *u);

/* What was added since the last take, as compact JSON {"<model name>": {"calls", "input_tokens",
 * (the remote embedder's calls under RS_PROTO_USAGE_EMBEDDER)
 * "output_tokens", "errors": {reason: n}, "latency_ms": [...], "retries": {reason: n} and
 * "retry_after_ms" (both only when there were any), and with the response cache "cache_hits" and
 * "cache_misses" when not 0}} (heap, *len its length; models with nothing to say left out), and
 * starts over. NULL with *len 0 when nothing was added. */
char *wk_usage_take(wk_usage_t *u, size_t *len);

#endif
