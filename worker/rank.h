/* rank: the ranking strategies of docs/CHAINS.md over one model's candidates for a case — which
 * candidate `first`, `judge`, `consensus` and `majority` pick, what `oracle` says per grader —
 * and the record's "strategies" object. No I/O: the chain hands in what it already computed.
 *
 * Ownership: a wk_rank_set_t only borrows; nothing here keeps a pointer past the call. */
#ifndef WORKER_RANK_H
#define WORKER_RANK_H

#include <jansson.h>
#include <stddef.h>

#include "config.h"

/* A grader's verdict on one answer as the record writes it: an rs_verdict_t (wrong, correct,
 * skipped), or WK_GRADE_ERROR when the call that should have produced the answer failed. */
#define WK_GRADE_ERROR 3

/* "wrong", "correct", "skipped" or "error". */
const char *wk_grade_name(unsigned char g);

/* One candidate as the strategies see it (its round-0 answer, never a revision). */
typedef struct wk_rank_cand {
    int has_output;              /* 0: its call failed; it takes no part in consensus */
    const char *answer;          /* the normalised extracted answer; NULL when none */
    const unsigned char *grades; /* n_graders verdicts */
    double judge_score;          /* judges[0]'s round-0 score in [0, 1]; NaN: none (unparsed,
                                    failed call, no judge) */
    const float *vec;            /* dim floats: the unit embedding of the output (NULL without
                                    output or when consensus is off) */
} wk_rank_cand_t;

typedef struct wk_rank_set {
    const wk_rank_cand_t *cands; /* candidate k at index k */
    size_t n;                    /* >= 1 */
    size_t n_graders;
    size_t dim; /* of every vec */
} wk_rank_set_t;

/* judge: the highest judge_score; ties go to the lowest k; a NaN never beats a number. With no
 * number at all it is candidate 0. */
size_t wk_rank_judge(const wk_rank_set_t *s);

/* consensus: rs_medoid over the candidates that have an output (and a vec), mapped back to
 * their k; one such candidate is itself the pick; none at all gives candidate 0. */
size_t wk_rank_consensus(const wk_rank_set_t *s);

/* majority: the most frequent answer (byte equality of the normalised answers); ties go to the
 * answer whose first occurrence has the lowest k, and that first occurrence is the pick.
 * Candidates without an answer do not vote; when none has one the pick is candidate 0 (whose
 * answer is then NULL). */
size_t wk_rank_majority(const wk_rank_set_t *s);

/* oracle, per grader: correct if any candidate is correct, else wrong if any is wrong, else
 * skipped if any is skipped, else error. out has n_graders entries. */
void wk_rank_oracle(const wk_rank_set_t *s, unsigned char *out);

/* The record's "strategies" object (new reference) for the strategies cfg->ranking.use turns on,
 * in rs_strategy_t order: {"first": {"k", "grades"}, "judge": {"k", "grades"}, "consensus":
 * {"k", "grades"}, "majority": {"k", "answer", "grades"}, "oracle": {"grades"}}, grades keyed by
 * cfg->scoring.graders[].name. judge is left out when the config has no judges, and every
 * strategy but first when there is only one candidate (each would be candidate 0). */
json_t *wk_rank_json(const wk_rank_set_t *s, const rs_config_t *cfg);

#endif
