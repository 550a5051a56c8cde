/* analysis: folds result records (docs/CHAINS.md) into what the report says beyond the plain
 * per-model counts: ranking strategies, revision rounds and flips, judge quality, failure clusters,
 * and the verdicts, counts and strategies of a record that `compare` (compare.h) reads too. No I/O:
 * records go in as jansson objects and JSON comes out, so every statistic is reachable from unit
 * tests.
 *
 * Memory is bounded whatever the run's size: counters per (model, strategy, grader), per (model,
 * pair of strategies) and per round,
 * one table of judge scores per judge, per judging model and per rubric (a fixed number of each)
 * on a 1e-4 grid (at most 10,001 entries), and a random sample (by a hash of seed, case and model,
 * so the same whatever order records are folded in) of
 * at most max_failures failure texts.
 */
#ifndef COORD_ANALYSIS_H
#define COORD_ANALYSIS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "jdoc.h"
#include "util.h"

/* A grade string ("correct", "wrong", "error"; anything else or none is skipped) as a counter
 * index. */
typedef enum coord_verdict {
    COORD_V_CORRECT = 0,
    COORD_V_WRONG,
    COORD_V_ERROR,
    COORD_V_SKIPPED,
    COORD_V_N
} coord_verdict_t;

/* grades[grader] as a verdict; a missing grades object or grader is skipped. */
coord_verdict_t coord_verdict_of(const rs_jv_t *grades, const char *grader);

/* The report's counts object {name, [type], correct, wrong, error, skipped, accuracy, ci95} of
 * counts[COORD_V_N]; accuracy = correct / (correct + wrong) with a Wilson 95% interval, both null
 * when nothing was graded. type may be NULL (left out). New reference. */
json_t *coord_counts_json(const char *name, const char *type, const uint64_t *counts);

/* 1 when some entry of a report's models array has a critique or revise stage (its "stages"),
 * so the by-stage tables of report.md and report.html have something to add. */
int coord_has_chain_stages(json_t *models);

/* {b, c, exact_p, chi2, chi2_p} of rs_mcnemar(b, c). New reference. */
json_t *coord_mcnemar_json(uint64_t b, uint64_t c);

/* Appends a report number with prec decimals (prec < 0: -prec significant digits, for p-values
 * that may be tiny), or "n/a" for null (an undefined statistic), to b. */
void coord_put_num(rs_buf_t *b, json_t *v, int prec);

/* Appends the strings of a JSON array (a rubric, a list of judges) joined by sep to b; an element
 * that is not a string counts as empty. */
void coord_join_strings(rs_buf_t *b, json_t *arr, const char *sep);

/* ---- one model's ranking strategies in one record ---- */

#define COORD_MAX_STRATEGIES 16

/* The model name the candidate pool (every model's candidates of a case ranked together, the
 * records' "pool") goes by in report.html and in `compare`. */
#define COORD_POOL_NAME "all models (pool)"

typedef struct coord_strategy_ref {
    const char *name;      /* borrowed from the record (or the static "first") */
    const rs_jv_t *grades; /* borrowed; NULL when the strategy carries none */
    int failed;            /* first only: the model's own call failed, so every grade is an error */
} coord_strategy_ref_t;

/* The strategies of one entry of a record's models[], "first" always at out[0]: strategies.first
 * when the record has it, else candidate 0 (today's records). When the entry's first call failed
 * (its "error" is set) first counts as an error under every grader, as the per-model counts do.
 * Returns how many were written (1 .. max); max >= 1. */
size_t coord_strategies_of(const rs_jv_t *entry, coord_strategy_ref_t *out, size_t max);

/* The strategy's verdict under grader. */
coord_verdict_t coord_strategy_verdict(const coord_strategy_ref_t *s, const char *grader);

/* The record's case id: its "id", else its index as text. Caller frees. */
char *coord_case_id_of(const rs_jv_t *rec);

/* ---- the run's analysis ---- */

#define COORD_ANALYSIS_MAX_FAILURES 5000
#define COORD_ANALYSIS_MAX_OUTPUT 1000 /* bytes of each kept failure's output */

typedef struct coord_analysis_opts {
    const char *const *models; /* the report's model names, in order; others are ignored */
    size_t n_models;
    const char *const *graders; /* grader names; graders[0] is "the first grader" */
    size_t n_graders;           /* >= 1 */
    size_t max_failures;        /* failures sampled; 0 = COORD_ANALYSIS_MAX_FAILURES */
    uint64_t seed;              /* the failure sample's keys and k-means seeding */
    /* The config's judges, to group judge quality by model and by rubric (n_judges may be 0):
     * judge i is named judge_names[i], judges with the model judge_models[i] (NULL: not known)
     * and has the rubric judge_rubrics[i], NULL-terminated principles (NULL, or judge_rubrics
     * NULL: none). judge_models lists the configured judges' models first; judges with identical
     * rubrics share one rubrics entry. Critiques by other judges count in "judges" and
     * "judge_models" but in no "rubrics" entry. */
    const char *const *judge_names;
    const char *const *judge_models;
    const char *const *const *judge_rubrics;
    size_t n_judges;
} coord_analysis_opts_t;

typedef struct coord_analysis coord_analysis_t;

/* Copies what it needs from opts (the names included). */
coord_analysis_t *coord_analysis_new(const coord_analysis_opts_t *opts);
void coord_analysis_destroy(coord_analysis_t **a);

/* Folds one result record (only read; nothing of it is kept but copies). */
void coord_analysis_add(coord_analysis_t *a, const rs_jv_t *record);

/* At most this many "judge_models" entries and this many distinct rubrics ("rubrics" entries);
 * critiques of a model past the cap, or of a judge whose rubric is past it, count in "judges"
 * only. */
#define COORD_MAX_JUDGE_GROUPS 16

/* Adds the analysis to a report object: to each report.models[] whose name is a model of opts,
 * "strategies" and "mcnemar_pairs" (always), and "rounds" and "flips" (when some record of that model had a
 * revision); at the top level "judges", "judge_models" and "rubrics" (when a record had a
 * critique), "clusters" and "failures" (when the first grader marked an answer wrong). The
 * clustering runs here, once. */
void coord_analysis_fill(coord_analysis_t *a, json_t *report);

/* Failures seen and kept (the sample's size), for tests and logs. */
uint64_t coord_analysis_failures_seen(const coord_analysis_t *a);
size_t coord_analysis_failures_kept(const coord_analysis_t *a);

#endif
