/* jsonlidx: results.idx, written beside results.jsonl at the end of a run: where each unit's line
 * starts, and the viewer's index row of its record (caseindex.h), so that `serve` opens a finished
 * run of any size at once, every case indexed, reading lines from results.jsonl without Redis.
 *
 * The file: 8 bytes "RSJIDX2\n" and the unit count N (u64); then for each unit in order its
 * line's offset in results.jsonl (u64), its row's length (u32, 0: the unit has no line, as a
 * unit without a valid record has none) and the row; then the size of results.jsonl (u64), the
 * names behind the rows' ids (JSON, coord_caseindex_names), that JSON's length (u64) and
 * "RSJIDX2\n" again. Integers are little-endian. Written with an rs_afile_t and committed after
 * the results.jsonl it describes; a reader checks both ends, the size of results.jsonl, every
 * offset and row, and the newline before every line it reads, so a results.idx that does not
 * describe its results.jsonl is refused, never misread. */
#ifndef COORD_JSONLIDX_H
#define COORD_JSONLIDX_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "caseindex.h"
#include "config.h"
#include "util.h"

/* ---- writing, beside results.jsonl ---- */

typedef struct coord_jsonlidx coord_jsonlidx_t;

/* Starts <dir>/results.idx's temporary file for units 0 .. total-1 of the run configured by cfg
 * (borrowed). NULL with err. */
coord_jsonlidx_t *coord_jsonlidx_open(const char *dir, uint64_t total, const rs_config_t *cfg,
                                      rs_err_t *err);
/* A checked record's row (coord_caseindex_encode with this file's names), appended to out. */
void coord_jsonlidx_encode(coord_jsonlidx_t *x, const rs_jv_t *record, rs_buf_t *out);
/* Unit idx's line starts at offset and its row is row[0 .. len); units since the last mark have
 * no line. Units are marked in increasing order (a smaller or repeated idx is ignored). 0 / -1
 * with err (a write failed). */
int coord_jsonlidx_mark(coord_jsonlidx_t *x, uint64_t idx, uint64_t offset, const void *row,
                        size_t len, rs_err_t *err);
/* results.jsonl is end bytes long and committed: the units not marked have no line; fsyncs and
 * renames results.idx into place. Frees; *x becomes NULL. 0 / -1 with err. */
int coord_jsonlidx_commit(coord_jsonlidx_t **x, uint64_t end, rs_err_t *err);
/* Removes the temporary file; frees; *x becomes NULL (NULL or *x NULL: nothing). */
void coord_jsonlidx_abort(coord_jsonlidx_t **x);

/* Removes <dir>/results.idx: a resumed run is read from Redis until its end writes both files
 * again (its results.jsonl is of its earlier end until then). 0, or -1 with err (not when absent). */
int coord_jsonlidx_remove(const char *dir, rs_err_t *err);

/* ---- reading ---- */

typedef struct coord_jsonlidx_reader coord_jsonlidx_reader_t;

/* Opens <dir>/results.idx and <dir>/results.jsonl and adds every unit's row to ci (when not NULL;
 * an index of the same run's config, which may hold rows already). NULL with err when either file
 * is missing or they do not describe each other; ci may then hold some of the rows. */
coord_jsonlidx_reader_t *coord_jsonlidx_reader_open(const char *dir, coord_caseindex_t *ci,
                                                    rs_err_t *err);
void coord_jsonlidx_reader_close(coord_jsonlidx_reader_t **r);
uint64_t coord_jsonlidx_reader_total(const coord_jsonlidx_reader_t *r);
/* Units first .. first + n - 1 (within the total) into texts[]: each a NUL-terminated copy of its
 * line without the newline, or NULL when the unit has none. 0, or -1 with err (a read failed, or
 * the files disagree: every text is then NULL). Safe from several threads at once. */
int coord_jsonlidx_reader_get(const coord_jsonlidx_reader_t *r, uint64_t first, size_t n,
                              char **texts, rs_err_t *err);

#endif
