/* faults: per-request fault and latency draws. Draw i uses three uniforms from splitmix64 at
 * positions 3i+1..3i+3 of the --fault-seed stream: one picks the fault, two make the normal
 * deviate of a lognormal latency (Box-Muller). No lock: the position is one atomic increment. */
#include "faults.h"

#include <math.h>

#define GOLDEN 0x9e3779b97f4a7c15ULL
#define MAX_LATENCY_MS 3600e3 /* a lognormal tail must not park a request for days */

static const char *fault_names[MOCK_FAULT_COUNT] = {
    "none", "rate-429", "rate-500", "rate-hang", "rate-truncate", "rate-wrong-type",
};

const char *mock_fault_name(mock_fault_t fault)
{
    return fault < MOCK_FAULT_COUNT ? fault_names[fault] : "?";
}

int mock_faults_init(mock_faults_t *f, const mock_faults_cfg_t *cfg, rs_err_t *err)
{
    double sum = 0;
    for (int i = 1; i < MOCK_FAULT_COUNT; i++) {
        if (!(cfg->rate[i] >= 0 && cfg->rate[i] <= 1))
            return rs_err_set(err, "--%s: must be a probability between 0 and 1", fault_names[i]);
        sum += cfg->rate[i];
    }
    if (sum > 1 + 1e-9)
        return rs_err_set(err,
                          "the --rate-* options add up to %g: a request gets at most one "
                          "fault, so they must add up to at most 1",
                          sum);
    if (!(cfg->latency_ms >= 0 && cfg->latency_ms <= MAX_LATENCY_MS))
        return rs_err_set(err, "--latency-ms: must be between 0 and %g", MAX_LATENCY_MS);
    if (!(cfg->sigma >= 0 && cfg->sigma <= 10))
        return rs_err_set(err, "--latency-sigma: must be between 0 and 10");
    f->cfg = *cfg;
    atomic_init(&f->next, 0);
    return 0;
}

/* splitmix64's output function at stream position pos: a uniform double in [0, 1). */
static double uniform(uint64_t seed, uint64_t pos)
{
    uint64_t z = seed + GOLDEN * pos;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return (double)(z >> 11) * 0x1.0p-53;
}

static mock_fault_t pick_fault(const mock_faults_cfg_t *cfg, double u)
{
    double edge = 0;
    for (int i = 1; i < MOCK_FAULT_COUNT; i++) {
        edge += cfg->rate[i];
        if (u < edge) return (mock_fault_t)i;
    }
    return MOCK_FAULT_NONE;
}

static double latency(const mock_faults_cfg_t *cfg, double u1, double u2)
{
    if (cfg->latency_ms <= 0 || cfg->dist == MOCK_LATENCY_FIXED) return cfg->latency_ms;
    double z = sqrt(-2.0 * log(1.0 - u1)) * cos(2.0 * M_PI * u2); /* 1 - u1 > 0: no log(0) */
    double ms = cfg->latency_ms * exp(cfg->sigma * z);
    return ms < MAX_LATENCY_MS ? ms : MAX_LATENCY_MS;
}

mock_draw_t mock_faults_draw(mock_faults_t *f)
{
    uint64_t i = atomic_fetch_add_explicit(&f->next, 1, memory_order_relaxed);
    uint64_t seed = f->cfg.seed;
    mock_draw_t d;
    d.fault = pick_fault(&f->cfg, uniform(seed, 3 * i + 1));
    d.latency_ms = latency(&f->cfg, uniform(seed, 3 * i + 2), uniform(seed, 3 * i + 3));
    return d;
}
