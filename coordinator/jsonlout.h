/* jsonlout: results.jsonl written while the run goes on, in case order.
 *
 * Records are stored in the order workers answer, which is close to case order (cases are handed
 * out in order) but not equal to it. Each record the coordinator stores is offered here: the next
 * case's is written at once, with any held ones it unblocks; one further ahead is held (a copy)
 * until the cases before it are written. What is held is bounded (JSONLOUT_WINDOW cases ahead and
 * JSONLOUT_MAX_HELD bytes): past it, writing stops for good. At the end of a run that went
 * straight through every case has been written and nothing is read back: the file is fsynced and
 * renamed into place (its pages were handed to the disk every few megabytes as they were
 * written, so the fsync is short). Otherwise (writing stopped, a case never came: the run was
 * interrupted, a resumed run whose first cases were stored before) the file is dropped and
 * report.c reads results.jsonl back from Redis whole.
 *
 * The file is an rs_afile_t: a temporary file until coord_jsonlout_commit, so results.jsonl is
 * always whole, never half of one. results.idx (jsonlidx.h) is written beside it and committed
 * after it. */
#ifndef COORD_JSONLOUT_H
#define COORD_JSONLOUT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "jdoc.h"
#include "util.h"

#define JSONLOUT_WINDOW 65536          /* cases ahead of the next one that may be held */
#define JSONLOUT_MAX_HELD (32u << 20) /* bytes of records held */

typedef struct coord_jsonlout coord_jsonlout_t;

/* Starts <dir>/results.jsonl's temporary file for cases 0 .. total-1 of the run configured by cfg
 * (borrowed), and results.idx's beside it. NULL with err. */
coord_jsonlout_t *coord_jsonlout_open(const char *dir, uint64_t total, const rs_config_t *cfg,
                                      rs_err_t *err);
/* Removes the temporary file (nothing committed) and frees; *j becomes NULL. */
void coord_jsonlout_abort(coord_jsonlout_t **j);

/* Offers case idx's stored record (len bytes, one line without its newline; copied when held)
 * and the checked record it is (record.h; its results.idx row is kept with it). A case offered
 * twice, or before the next one, is ignored. -1 with err when the file cannot be written (writing
 * stops); 0 otherwise. */
int coord_jsonlout_offer(coord_jsonlout_t *j, uint64_t idx, const char *json, size_t len,
                         const rs_jv_t *record, rs_err_t *err);

/* The first case not yet written: every case before it is in the file. */
uint64_t coord_jsonlout_next(const coord_jsonlout_t *j);
/* Whether every case 0 .. total-1 was written (and writing never stopped). */
int coord_jsonlout_complete(const coord_jsonlout_t *j);

/* When complete: flushes, fsyncs and renames the file into place (rs_afile_commit); else -1
 * with err and the temporary file removed. Frees; *j becomes NULL. */
int coord_jsonlout_commit(coord_jsonlout_t **j, rs_err_t *err);

/* Removes the temporary results.jsonl and results.idx files a coordinator that died left in dir
 * (a resume). */
void coord_jsonlout_remove_stale(const char *dir);

#endif
