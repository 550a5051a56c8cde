/* report: writes a run's report into runs/<id>/: report.json, report.md, report.html and
 * results.jsonl, and prints the summary table.
 *
 * The counts come from a tally (tally.h). A running coordinator folds every record into one as it
 * stores it, so the end of a run reads no record back: coord_report_write only streams the stored
 * records into results.jsonl, as they are (checksum verified, not parsed). `reasonsaver report`
 * (coord_report_build) rebuilds the tally from Redis in one pass, 1,000 records per round trip,
 * and both give the same report.json byte for byte. Accuracy is correct / (correct + wrong):
 * cases whose model call failed are counted as errors, reported beside it, and never silently
 * scored as wrong. */
#ifndef COORD_REPORT_H
#define COORD_REPORT_H

#include <jansson.h>
#include <stdio.h>

#include "config.h"
#include "jsonlout.h"
#include "record.h"
#include "reportview.h"
#include "store.h"
#include "tally.h"
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

/* When the report counted corrupted records: says so on f, with the cases and the command that
 * runs them again, and returns 1; else 0. */
int coord_report_warn_corrupted(FILE *f, json_t *report, const char *resume_cmd);

/* Writes the report of run_id from the tally t of every stored record (manifest =
 * coord_store_run_get's object) into dir, the files the config's report section asks for.
 * results.jsonl: *jsonl (may be NULL; freed, *jsonl NULL after) when it holds every case, else
 * streamed from Redis. Should a record have changed in Redis since it was
 * folded (its checksum fails), the tally is rebuilt from Redis instead (coord_report_build), so
 * the report leaves it out and counts it as corrupted. *out (optional) gets the report object. */
int coord_report_write(coord_store_t *st, const char *run_id, const rs_config_t *cfg,
                       json_t *manifest, const char *dir, coord_tally_t *t,
                       coord_jsonlout_t **jsonl, json_t **out, rs_err_t *err);

/* coord_report_write of a tally rebuilt from the records stored in Redis, read once in case
 * order (results.jsonl written in the same pass). */
int coord_report_build(coord_store_t *st, const char *run_id, const rs_config_t *cfg,
                       json_t *manifest, const char *dir, json_t **out, rs_err_t *err);

/* Prints "reports: <dir>/report.json  <dir>/report.md ..." for the formats the config wrote. */
void coord_report_print_paths(FILE *f, const rs_config_t *cfg, const char *dir);

/* The per-model, per-grader table a person reads at the end of a run. */
void coord_report_print_summary(FILE *f, json_t *report);

#endif
