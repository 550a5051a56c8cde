/* aimd: one model's cluster-wide in-flight cap, adapted by additive increase and multiplicative
 * decrease (the rule TCP uses for its window), with no I/O and no clock of its own.
 *
 * The coordinator feeds it what workers report for the model (coordinator/concurrency.c): a
 * congestion signal for each 429 or 503 the server answered, and the number of calls that went
 * through. On congestion the cap becomes factor x min(cap, cases in flight), so a cap far above
 * what was really out (the start, at cluster.max_in_flight) falls to what the server refused at
 * once; later signals within cooldown_ms are the same congestion seen late (requests sent before
 * the cut) and change nothing. After a cool-down without congestion, each window of successful
 * calls as large as the cap adds step, but only while the cap is what limits dispatch (in flight
 * came within a tenth of it): a cap nobody reaches proves nothing. The cap stays within
 * [floor, ceiling]. */
#ifndef COORD_AIMD_H
#define COORD_AIMD_H

#include <stdint.h>

typedef struct coord_aimd_params {
    int64_t floor;       /* >= 1 */
    int64_t ceiling;     /* >= floor */
    double factor;       /* in (0, 1): the cap kept on congestion */
    int64_t step;        /* >= 1: added per window of successes */
    int64_t cooldown_ms; /* >= 0: at most one decrease per cool-down */
} coord_aimd_params_t;

typedef struct coord_aimd {
    coord_aimd_params_t p;
    int64_t cap;
    int64_t congested_ms; /* the last congestion that lowered (or would have lowered) the cap */
    int congested;        /* whether congested_ms is set */
    int64_t ok;           /* successful calls since the cap last changed */
    int64_t peak;         /* most cases in flight seen since the cap last changed */
    uint64_t decreases, increases;
} coord_aimd_t;

/* Starts at the ceiling. p must be valid (the config loader checks the bounds). */
void coord_aimd_init(coord_aimd_t *a, const coord_aimd_params_t *p);

/* A 429 or 503 with in_flight cases out. Returns 1 when the cap went down. */
int coord_aimd_congested(coord_aimd_t *a, int64_t in_flight, int64_t now_ms);

/* n calls went through, with in_flight cases out before they returned, at now_ms (unused: the
 * window is counted in calls). Returns 1 when the cap went up. */
int coord_aimd_success(coord_aimd_t *a, int64_t n, int64_t in_flight, int64_t now_ms);

#endif
