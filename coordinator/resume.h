/* resume: what it takes to continue a run — the stored manifest and config, the checks that the
 * dataset and the config are still those the run started with, and the set of cases already done.
 *
 * The config's identity is the SHA-256 of its resolved JSON without the parts that cannot change
 * a result (cluster, cache, report, run.out_dir, run.name, dataset.shard_size, the budgets, the
 * gates, each model's concurrency), so a resume may use more workers, another bind address, a new
 * budget or new gates but not another model, prompt, grader or seed. */
#ifndef COORD_RESUME_H
#define COORD_RESUME_H

#include <jansson.h>

#include "config.h"
#include "dataset.h"
#include "sched.h"
#include "store.h"
#include "tally.h"
#include "util.h"

/* SHA-256 (hex, 65 bytes with NUL) of the result-relevant part of a resolved config JSON. */
int coord_config_identity(const char *spec_json, char out[65], rs_err_t *err);

/* Compares the run's manifest with the config and dataset about to be used. Returns 0 when they
 * match; when they do not: with force, 0 and *forced gets what differs (heap), else -1 with err
 * saying what changed and how to override. */
int coord_resume_check(json_t *manifest, const char *run_id, const char *spec_json,
                       const rs_dataset_t *ds, int force, char **forced, rs_err_t *err);

/* The budgets, gates and model concurrency of spec_json, the config a resume runs with, become
 * those of the run's stored config (its manifest's "config"), so that `report` and a later resume
 * without them judge and limit the run as this one did. Nothing is written when they are the
 * same. 0 / -1 with err. */
int coord_resume_keep_settings(coord_store_t *st, const char *run_id, json_t *manifest,
                               const char *spec_json, rs_err_t *err);

/* Marks every case whose stored record is whole (its checksum matches and it passes the checks
 * of record.h for cfg) as done in sched and folds it into tally (may be NULL): the report's
 * counters of a resumed run, rebuilt once. A damaged record is deleted, so that its case runs again;
 * *damaged gets how many were. The manifest's "done" and "failed" are set to what stays. */
int coord_resume_mark_done(coord_store_t *st, const char *run_id, const rs_config_t *cfg,
                           coord_sched_t *sched, coord_tally_t *tally, uint64_t *damaged,
                           rs_err_t *err);

#endif
