/* experiment: what a run says as an experiment (docs/EXPERIMENTS.md) — the prompt x model matrix,
 * the epochs' mean with an interval that counts repeats of a case as one cluster, the agreement
 * across epochs, unbiased pass@k, and the paired difference of every two models, prompts, and
 * ranking strategies against first, with McNemar's p and Holm's correction.
 *
 * Folded one result record at a time, like tally.h (whose records it reads): per unit (units.h)
 * and model, two bits per ranking strategy (its first-grader verdict) and the count of correct
 * candidates, which pairing across records (a prompt against a prompt: different units of one
 * case) and clustering need; about 4 bytes a unit and model. Counters are integers and every
 * sum over units or clusters runs in index order at the end, so the state, and the JSON, do not
 * depend on the order records arrive in: the folded and the rebuilt report are byte-identical.
 * Clusters are the dataset's cluster field (dataset.fields.cluster) when set, else the case. */
#ifndef COORD_EXPERIMENT_H
#define COORD_EXPERIMENT_H

#include <jansson.h>

#include "config.h"
#include "jdoc.h"

typedef struct coord_experiment coord_experiment_t;

/* For the run configured by cfg (borrowed: it must outlive the experiment). */
coord_experiment_t *coord_experiment_new(const rs_config_t *cfg);
void coord_experiment_destroy(coord_experiment_t **x);

/* Folds one checked record (record.h). Each unit at most once. */
void coord_experiment_add(coord_experiment_t *x, const rs_jv_t *record);

/* The report's "experiment" object (new reference):
 *   grader, prompts [names], epochs, clusters {by: "case"|"field", field, count},
 *   matrix (more than one prompt): [{prompt, model, correct, wrong, error, skipped, accuracy,
 *     ci95, interval: "wilson"|"clustered", best, strategies: [{name, correct, wrong, accuracy}]}],
 *   models: [{model, units, correct, wrong, accuracy, ci95, interval, and with epochs > 1
 *     per_epoch [accuracy], agreement {groups, unanimous, rate}, and when n * epochs > 1
 *     pass_at_k {samples, groups, values [k = 1 .. min(samples, 100)]}}],
 *   differences {models, prompts, strategies}: lists of {a, b, [model], pairs, both_correct,
 *     only_a, only_b, both_wrong, accuracy_a, accuracy_b, difference, ci95, method:
 *     "newcombe"|"clustered", mcnemar_p, holm_p}. */
json_t *coord_experiment_json(coord_experiment_t *x);

#define COORD_PASS_AT_K_MAX 100 /* pass@k is listed for k = 1 .. this at most */

#endif
