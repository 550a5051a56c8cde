/* stats: the counters GET /stats reports: requests in total, by endpoint and by status code,
 * the faults the client saw (hangs, truncated and wrong-content-type replies), and the gauges
 * in_flight and waiting. Atomics only: every server thread bumps them on every request. */
#ifndef MOCK_STATS_H
#define MOCK_STATS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "faults.h"

typedef enum mock_endpoint {
    MOCK_EP_CHAT = 0,   /* POST /v1/chat/completions */
    MOCK_EP_EMBEDDINGS, /* POST /v1/embeddings */
    MOCK_EP_MESSAGES,   /* POST /v1/messages */
    MOCK_EP_MODELS,     /* GET /v1/models */
    MOCK_EP_HEALTH,     /* GET /health */
    MOCK_EP_OTHER,      /* anything else (404, 405) */
    MOCK_EP_COUNT,
} mock_endpoint_t;

#define MOCK_STATUS_MAX 600

/* Embedded in the server. Requests to /stats and /stats/reset are not counted: watching the
 * numbers must not change them. */
typedef struct mock_stats {
    atomic_uint_fast64_t requests;
    atomic_uint_fast64_t by_endpoint[MOCK_EP_COUNT];
    atomic_uint_fast64_t by_status[MOCK_STATUS_MAX];
    atomic_uint_fast64_t hangs, truncated, wrong_content_type;
    atomic_int_fast64_t in_flight; /* received, not yet answered or closed (gauge) */
    atomic_int_fast64_t waiting;   /* of those, suspended on the timer now (gauge) */
    atomic_int_fast64_t model_open; /* model requests received and not answered (gauge) */
    atomic_int_fast64_t peak_concurrency; /* the most model_open seen at an arrival */
    atomic_uint_fast64_t limited;  /* 429s for --max-concurrency */
    atomic_int_fast64_t paused_at_ms; /* wall ms of the --pause-request 429; 0 before it */
} mock_stats_t;

void mock_stats_init(mock_stats_t *s);
/* A request arrived (in_flight + 1). */
void mock_stats_request(mock_stats_t *s, mock_endpoint_t ep);
/* A reply with this status was queued; fault is what was injected into it (NONE, 500,
 * TRUNCATE, WRONG_TYPE or 429). Does not touch in_flight. */
void mock_stats_reply(mock_stats_t *s, int status, mock_fault_t fault);
/* A request started to hang. */
void mock_stats_hang(mock_stats_t *s);
/* A counted request is over: answered, closed after a hang, or its client went away. */
void mock_stats_done(mock_stats_t *s);
/* A model request arrived (model_open + 1, the peak follows); returns how many are open now. */
int64_t mock_stats_model_open(mock_stats_t *s);
/* A model request was answered or closed. */
void mock_stats_model_done(mock_stats_t *s);
/* Zeroes the counters (the gauges stay: they describe requests that are still open; the peak
 * starts again from what is open now). */
void mock_stats_reset(mock_stats_t *s);
/* The counters as JSON (caller frees); *len its length. */
char *mock_stats_json(mock_stats_t *s, size_t *len);
/* The endpoint's key in the JSON ("/v1/chat/completions", ..., "other"). */
const char *mock_endpoint_name(mock_endpoint_t ep);

#endif
