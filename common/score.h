/* score: answer extraction, normalisation and the deterministic graders.
 *
 * An rs_scorer_t is the compiled form of the config's scoring section (regexes compiled once);
 * it is immutable after creation, so one scorer serves every case. */
#ifndef RS_SCORE_H
#define RS_SCORE_H

#include <stddef.h>

#include "config.h"
#include "util.h"

typedef enum rs_verdict {
    RS_VERDICT_WRONG = 0,
    RS_VERDICT_CORRECT = 1,
    RS_VERDICT_SKIPPED = 2, /* the grader cannot apply: no target for this case */
} rs_verdict_t;

typedef struct rs_scorer rs_scorer_t;

rs_scorer_t *rs_scorer_new(const rs_scoring_cfg_t *cfg, rs_err_t *err);
void rs_scorer_destroy(rs_scorer_t **s);

/* The answer extracted from a model's output and normalised; heap, or NULL when none is found. */
char *rs_scorer_extract(const rs_scorer_t *s, const char *output);

/* Grades one output with grader g (index into cfg->graders). extracted may be NULL. */
rs_verdict_t rs_scorer_grade(const rs_scorer_t *s, size_t g, const char *output,
                             const char *extracted, char *const *targets, size_t n_targets);

/* Normalises an answer: trims spaces and trailing '.', strips currency signs ($ € £) and
 * thousands separators from numbers, writes numbers canonically ("18.0" -> "18", "-0" -> "0",
 * "1,234.50" -> "1234.5"). Non-numeric text is trimmed only. Heap result. */
char *rs_normalize_answer(const char *s);

/* 1 and the value in out when s (after normalisation) is a number. */
int rs_answer_number(const char *s, double *out);

#endif
