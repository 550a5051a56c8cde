/* report: merges a run's results from Redis into runs/<id>/report.json, report.md and
 * results.jsonl, and prints the summary table.
 *
 * Results are read back in case order, 1,000 at a time, and folded into counters as they stream
 * past, so memory stays small whatever the run's size (one latency value per model call is kept
 * for percentiles). Accuracy is correct / (correct + wrong): cases whose model call failed are
 * counted as errors, reported beside it, and never silently scored as wrong. */
#ifndef COORD_REPORT_H
#define COORD_REPORT_H

#include <jansson.h>
#include <stdio.h>

#include "config.h"
#include "store.h"
#include "util.h"

#define COORD_REPORT_SCHEMA "reasonsaver.report/1"

/* Builds the report of run_id (manifest = coord_store_run_get's object) and writes the files the
 * config's report section asks for into dir. *out (optional) gets the report object. */
int coord_report_build(coord_store_t *st, const char *run_id, const rs_config_t *cfg,
                       json_t *manifest, const char *dir, json_t **out, rs_err_t *err);

/* Prints "reports: <dir>/report.json  <dir>/report.md ..." for the formats the config wrote. */
void coord_report_print_paths(FILE *f, const rs_config_t *cfg, const char *dir);

/* The per-model, per-grader table a person reads at the end of a run. */
void coord_report_print_summary(FILE *f, json_t *report);

#endif
