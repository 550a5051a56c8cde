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
 * Every reply's text starts with "[simulated]" and ends with "#### <answer>".
 * The same model also judges candidates (rs_sim_judge) and revises its own answers after a
 * critique (rs_sim_revise), with salts of their own; docs/SIM.md defines both. */
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

/* One judge call: judge j (whose model is judge_model, with seed) critiques candidate k of case c.
 * The verdict agrees with the truth (cand_correct) iff draw("judge:<j>:<round>") < judge_accuracy;
 * when is_self and the candidate is wrong, a "wrong" verdict becomes "correct" iff
 * draw("selfbias:<j>:<round>") < self_bias. Every draw is keyed on the CANDIDATE's model name,
 * case id and k, under the judge model's seed. The call fails like a generation (error_rate,
 * salt "error:judge:<j>:<round>") and takes latency_ms (salt "latency:judge:<j>:<round>"), both
 * the judge model's. The text is "[simulated] Critique: <sentence>\nVerdict: <choice>" (choices:
 * the highest-scoring choice for "correct", the lowest for "wrong", the first by text among ties)
 * or "...\nScore: <max or min>" for a regex verdict. */
typedef struct rs_sim_judge_req {
    const char *cand_model; /* the candidate's model name: the model part of every draw key */
    int k;                  /* the candidate number */
    int round;              /* what is judged: 0 = the original answer, r = revision r */
    int cand_correct;       /* the truth: 1 when the first grader found the candidate correct */
    int is_self;            /* 1 when the judge's model wrote the candidate */
    size_t prompt_bytes;    /* bytes of all message contents of the rendered prompt (tokens) */
} rs_sim_judge_req_t;

void rs_sim_judge(const rs_model_cfg_t *judge_model, int64_t seed, const rs_case_t *c,
                  const rs_judge_cfg_t *j, const rs_sim_judge_req_t *req, rs_sim_reply_t *out);

/* One revision: model m (with seed) rewrites its answer for candidate k of case c in round
 * `round` (1-based), after a critique of its answer of round - 1. After a critique that said
 * correct the answer stays; otherwise a wrong answer becomes the target iff draw("fix:<round>") <
 * fix_rate and a right one becomes wrong iff draw("break:<round>") < break_rate, the wrong answer
 * being generate's formula on hash("wrong:<round>"). Draws are keyed on m's name, the case id
 * and k. The previous answer is read from prev_text: what follows its last "#### " up to the
 * line's end (without one: the target when prev_correct, else the wrong answer; "42" without a
 * target). Errors and latency as for a generation, salts "error:revise:<round>" and
 * "latency:revise:<round>". */
typedef struct rs_sim_revise_req {
    int k;                     /* the candidate number */
    int round;                 /* the revision being written: 1 .. revise.rounds */
    const char *prev_text;     /* the output of round - 1 (round 0: the generation); may be NULL */
    int prev_correct;          /* 1 when the first grader found that output correct */
    int critique_said_correct; /* 1 when the driving judge judged it correct */
    size_t prompt_bytes;       /* bytes of all message contents of the rendered prompt (tokens) */
} rs_sim_revise_req_t;

void rs_sim_revise(const rs_model_cfg_t *m, int64_t seed, const rs_case_t *c,
                   const rs_sim_revise_req_t *req, rs_sim_reply_t *out);

#endif
