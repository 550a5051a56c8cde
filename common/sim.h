/* sim: the built-in simulated model. Deterministic from (run seed, model, case id, candidate), so
 * demos, tests and benchmarks run offline and their expected counts can be computed independently.
 *
 * Definition (docs/SIM.md repeats it; tests recompute it from there):
 *   key(salt) = "<model>\x1f<case id>\x1f<candidate>\x1f<salt>", draw(salt) = XXH64(key, seed) / 2^64
 *   the reply is a simulated error iff draw("error") < error_rate;
 *   otherwise it is correct iff draw("correct") < accuracy;
 *   a wrong answer is the first target plus d, d = 1 + XXH64(key("wrong"), seed) % 9, negated when
 *   that hash's bit 32 is set (for a non-numeric target: "not <target>");
 *   with no target the answer is "42".
 * Every reply's text starts with "[simulated]" and ends with "#### <answer>". */
#ifndef RS_SIM_H
#define RS_SIM_H

#include <stdint.h>

#include "config.h"
#include "dataset.h"

typedef struct rs_sim_reply {
    char *text;           /* heap; NULL when failed */
    int failed;           /* 1 = simulated provider error */
    char *error;          /* heap reason when failed */
    int64_t input_tokens;
    int64_t output_tokens;
    double latency_ms;    /* how long a real call would have taken; the caller waits if it wants */
} rs_sim_reply_t;

/* Fills out for candidate k of case c. seed is the model's seed (run seed unless overridden). */
void rs_sim_generate(const rs_model_cfg_t *m, int64_t seed, const rs_case_t *c, int k,
                     rs_sim_reply_t *out);
void rs_sim_reply_cleanup(rs_sim_reply_t *r);

/* draw(salt) for tests: a uniform number in [0, 1). */
double rs_sim_draw(const char *model, const char *case_id, int k, const char *salt, int64_t seed);

/* XXH64 (seed = (uint64_t)seed) of key(salt) = "<model>\x1f<case id>\x1f<k in decimal>\x1f<salt>".
 * rs_sim_draw is exactly (rs_sim_hash(..) >> 11) * 2^-53: XXH64 / 2^64 truncated to 53 bits, so
 * it is never 1.0. A NULL model or case id hashes as "". rs_sim_generate uses m->name as the model
 * (m->model when name is NULL) and salts "error", "correct", "wrong" and "latency".
 * A failed reply reports 0 tokens (a failed call bills nothing) but still has its latency. */
uint64_t rs_sim_hash(const char *model, const char *case_id, int k, const char *salt, int64_t seed);

#endif
