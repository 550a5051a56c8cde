/* record: what a case's result record must be before it is stored, and the checksum it carries in
 * Redis. No I/O: bytes in, a verdict out, so the same checks guard the door (dispatch, a RESULT
 * from a worker) and the way back out (report, resume: a record damaged in Redis).
 *
 * A record passes when it is one JSON object that jansson reads with duplicate keys refused (read
 * by jdoc.h, which accepts exactly that, in a fraction of the time; and,
 * as jansson always does, invalid UTF-8, lone surrogates such as \ud800, \u0000 and numbers out of
 * a double's range such as 1e999 refused), nests at most COORD_RECORD_MAX_DEPTH levels, holds the
 * case's own idx and id, and has one part per model of the run, in the run's order, with the types
 * that the report and its analysis read (docs/REDIS.md lists them). A record that passes cannot
 * make the report fail or silently leave the counts.
 *
 * Stored form: 16 lowercase hex digits of XXH64 (seed 0) of the record, then the record's bytes.
 * A stored value that starts with '{' was written before the checksum existed and is read as a
 * bare record (checked, not checksummed); any other value whose digits do not match is damaged. */
#ifndef COORD_RECORD_H
#define COORD_RECORD_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "jdoc.h"
#include "util.h"

#define COORD_RECORD_MAX_DEPTH 32 /* workers write at most ~8 levels (spans' attributes) */
#define COORD_RECORD_SUM_LEN 16   /* hex digits of the checksum in front of a stored record */
#define COORD_RECORD_MAX_TOKENS (INT64_C(1) << 40) /* per call: sums over 2^23 calls cannot overflow */
#define COORD_CORRUPT_LIST 100    /* corrupted cases listed by index in the report */

/* Flags of coord_record_load. */
enum {
    /* Leave out the trailing "spans" key (the trace, most of a record's bytes) when the record
     * ends with it; the rest is still parsed and checked. For readers that verified the checksum
     * of a record that was checked whole when it was stored. */
    COORD_RECORD_SKIP_SPANS = 1
};

/* 0 when json[0 .. len) is a record of case idx whose id is case_id (NULL: the id is not
 * compared, for readers without the dataset) for the run configured by cfg; -1 with err saying
 * what is wrong ("case 7: models[0].candidates[1].grades.exact is not a verdict"). */
int coord_record_check(const char *json, size_t len, uint64_t idx, const char *case_id,
                       const rs_config_t *cfg, rs_err_t *err);

/* coord_record_check with the case's id known by its hash (rs_dataset_id_hash): the dispatch
 * path, where reading the case again would cost a third as much as the check itself. */
int coord_record_check_hashed(const char *json, size_t len, uint64_t idx, uint64_t id_hash,
                              const rs_config_t *cfg, rs_err_t *err);

/* coord_record_check that reads the record into doc (jdoc.h) and hands back its root, valid
 * until doc is read again: without its "spans" when they end it, as they do in every record a
 * worker writes (they are checked, not kept; not even checked with COORD_RECORD_SKIP_SPANS), or
 * NULL with err. What the report folds (tally.h), the viewer indexes and resume reads. */
const rs_jv_t *coord_record_read(rs_jdoc_t *doc, const char *json, size_t len, uint64_t idx,
                                 const char *case_id, const rs_config_t *cfg, int flags,
                                 rs_err_t *err);

/* coord_record_read with the case's id known by its hash: the dispatch path. */
const rs_jv_t *coord_record_read_hashed(rs_jdoc_t *doc, const char *json, size_t len,
                                        uint64_t idx, uint64_t id_hash, const rs_config_t *cfg,
                                        rs_err_t *err);

/* coord_record_check that hands back the whole record (trace included) as a jansson object (new
 * reference), or NULL with err: for the viewer's answers, which pass parts of it on. */
json_t *coord_record_load(const char *json, size_t len, uint64_t idx, const char *case_id,
                          const rs_config_t *cfg, int flags, rs_err_t *err);

/* The stored form of a record: checksum digits then the record (heap, NUL-terminated, length in
 * *out_len). */
char *coord_record_wrap(const char *json, size_t len, size_t *out_len);

/* Verifies a stored value and finds the record inside it: 0 with *json / *len pointing into
 * stored (no copy), or -1 with err when the checksum does not match the bytes (or the value is
 * too short to hold one). A legacy value (starting with '{') is returned whole. */
int coord_record_unwrap(const char *stored, size_t stored_len, const char **json, size_t *len,
                        rs_err_t *err);

/* Whether the record says a model call failed for the case (some model's "error" is a string),
 * as the worker's RESULT flag does. record is a checked record. */
int coord_record_failed(const rs_jv_t *record);

/* Cases whose stored record is damaged: how many, and the first COORD_CORRUPT_LIST indexes. */
typedef struct coord_corrupt {
    uint64_t count;
    uint64_t idx[COORD_CORRUPT_LIST];
    size_t n_idx;
} coord_corrupt_t;

void coord_corrupt_add(coord_corrupt_t *c, uint64_t idx);
/* {"count": N, "cases": [idx, ...]} (new reference). */
json_t *coord_corrupt_json(const coord_corrupt_t *c);

#endif
