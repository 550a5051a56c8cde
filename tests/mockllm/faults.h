/* faults: what goes wrong with a request and how long it takes. One draw per request from a
 * counter-based PRNG seeded by --fault-seed, so the sequence of faults of a run is reproducible
 * and drawing takes no lock (server threads share one atomic counter). */
#ifndef MOCK_FAULTS_H
#define MOCK_FAULTS_H

#include <stdatomic.h>
#include <stdint.h>

#include "util.h"

/* At most one fault per request; the rates partition [0, 1), so they must add up to <= 1. */
typedef enum mock_fault {
    MOCK_FAULT_NONE = 0,   /* the normal reply, after the drawn latency */
    MOCK_FAULT_429,        /* 429 with Retry-After, at once (a rate limiter answers fast) */
    MOCK_FAULT_500,        /* 500 with an error JSON, after the drawn latency */
    MOCK_FAULT_HANG,       /* no answer for hang_ms, then the connection is closed */
    MOCK_FAULT_TRUNCATE,   /* a 200 whose JSON body is cut in half, after the latency */
    MOCK_FAULT_WRONG_TYPE, /* a 200 with Content-Type text/html and an HTML page */
    MOCK_FAULT_COUNT,
} mock_fault_t;

typedef enum mock_latency_dist {
    MOCK_LATENCY_FIXED = 0,     /* every reply waits latency_ms */
    MOCK_LATENCY_LOGNORMAL = 1, /* latency_ms * exp(sigma * Z): latency_ms is the median */
} mock_latency_dist_t;

typedef struct mock_faults_cfg {
    double rate[MOCK_FAULT_COUNT]; /* probability per request, by fault (rate[NONE] unused) */
    double latency_ms;             /* median latency of a reply; 0 = none */
    mock_latency_dist_t dist;
    double sigma;  /* lognormal shape, default 0.5 */
    uint64_t seed; /* --fault-seed */
} mock_faults_cfg_t;

typedef struct mock_draw {
    mock_fault_t fault;
    double latency_ms; /* how long this reply waits (not used by 429 and hangs) */
} mock_draw_t;

/* Embedded: the config plus the draw counter. */
typedef struct mock_faults {
    mock_faults_cfg_t cfg;
    atomic_uint_fast64_t next;
} mock_faults_t;

/* Checks cfg (rates in [0, 1] adding up to <= 1, latency >= 0, sigma >= 0). 0 / -1 with err. */
int mock_faults_init(mock_faults_t *f, const mock_faults_cfg_t *cfg, rs_err_t *err);
/* The next request's fault and latency; thread-safe. */
mock_draw_t mock_faults_draw(mock_faults_t *f);
/* The option name of a fault ("rate-429", ...), for messages. */
const char *mock_fault_name(mock_fault_t fault);

#endif
