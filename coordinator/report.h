/* report: merges a run's results from Redis into runs/<id>/report.json, report.md and
 * results.jsonl, and prints the summary table.
 *
 * Results are read back in case order, 1,000 at a time, and folded into counters as they stream
 * past, so memory stays small whatever the run's size (one latency value per model call is kept
 * for percentiles). Accuracy is correct / (correct + wrong): cases whose model call failed are
 * counted as errors, reported beside it, and never silently scored as wrong. The strategy,
 * round, judge and failure-cluster parts come from analysis.h, fed from the same stream; the
 * near-duplicate pass then re-reads at most 50,000 prompts from the dataset file (50 MB of
 * embeddings, ~6 s on two cores at the cap). */
#ifndef COORD_REPORT_H
#define COORD_REPORT_H

#include <jansson.h>
#include <stdio.h>

#include "config.h"
#include "record.h"
#include "store.h"
#include "util.h"

/* /2 added models[].strategies, rounds and flips, and judges, clusters, failures and
 * near_duplicates (docs/CHAINS.md); every /1 field kept its meaning. */
#define COORD_REPORT_SCHEMA "reasonsaver.report/2"

/* Called for each case idx in order with its result record (JSON text, checksum verified), or
 * NULL when the case has none. The text is only valid during the call. 0 goes on; -1 (err set)
 * stops the stream. */
typedef int (*coord_result_fn)(uint64_t idx, const char *text, void *arg, rs_err_t *err);

/* Streams results 0 .. total-1 of run_id from Redis, 1,000 per round trip, into fn. A stored
 * value whose checksum does not match (record.h) is not passed to fn: it is added to corrupt
 * (when not NULL) with a warning. 0 / -1. */
int coord_report_foreach(coord_store_t *st, const char *run_id, uint64_t total,
                         coord_result_fn fn, void *arg, coord_corrupt_t *corrupt, rs_err_t *err);

/* The number of corrupted records a report counted (report.json's reliability.corrupted). */
uint64_t coord_report_corrupted(json_t *report);
/* When the report counted corrupted records: says so on f, with the cases and the command that
 * runs them again, and returns 1; else 0. */
int coord_report_warn_corrupted(FILE *f, json_t *report, const char *resume_cmd);

/* Builds the report of run_id (manifest = coord_store_run_get's object) and writes the files the
 * config's report section asks for into dir. *out (optional) gets the report object. */
int coord_report_build(coord_store_t *st, const char *run_id, const rs_config_t *cfg,
                       json_t *manifest, const char *dir, json_t **out, rs_err_t *err);

/* Prints "reports: <dir>/report.json  <dir>/report.md ..." for the formats the config wrote. */
void coord_report_print_paths(FILE *f, const rs_config_t *cfg, const char *dir);

/* The Markdown cells "correct | wrong | error | skipped | accuracy [95% CI] |" of one counts
 * object (analysis.h's coord_counts_json), appended to b. */
void coord_report_md_counts(rs_buf_t *b, json_t *counts);

/* The per-model, per-grader table a person reads at the end of a run. */
void coord_report_print_summary(FILE *f, json_t *report);

#endif
