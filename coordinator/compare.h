/* compare: paired verdicts across runs (`reasonsaver compare`). Each run's first-grader verdict
 * per case and per (model, strategy) is kept, keyed by case id, so that runs pair case by case;
 * this store is the one part of the analysis that grows with the cases: 12 bytes a case plus one
 * byte per (model, strategy). No I/O: records go in as jansson objects and JSON comes out. */
#ifndef COORD_COMPARE_H
#define COORD_COMPARE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "analysis.h"

/* One run's first-grader verdict per case and per (model, strategy), keyed by case id (and a
 * hash of the case's targets, so that two datasets that reuse an id for another question do
 * not pair). */
typedef struct coord_verdicts coord_verdicts_t;

/* run: the run's label (its id); models: its config's model names; grader: its first grader. */
coord_verdicts_t *coord_verdicts_new(const char *run, const char *const *models, size_t n_models,
                                     const char *grader);
void coord_verdicts_destroy(coord_verdicts_t **v);
void coord_verdicts_add(coord_verdicts_t *v, const rs_jv_t *record);
/* Cases folded in. */
uint64_t coord_verdicts_cases(const coord_verdicts_t *v);

/* Ranks every (run, model, strategy) by accuracy on the cases all runs share (same id, same
 * targets; a run's later duplicates of an id are ignored) and tests the best against each other
 * one with McNemar (every pair too when all_pairs). Returns {shared_cases, runs: [{run, grader,
 * cases, duplicate_ids}], conflicting_ids, ranking: [{rank, run, model, strategy, correct, wrong,
 * error, skipped, accuracy, ci95}], vs_best: [{run, model, strategy, b, c, exact_p, chi2,
 * chi2_p}], pairs: [...]}, where b counts the cases only the first of the two got right.
 * With no shared case, shared_cases is 0 and the lists are empty. New reference. */
json_t *coord_compare_json(coord_verdicts_t *const *runs, size_t n_runs, int all_pairs);

#endif
