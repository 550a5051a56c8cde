/* caseindex: what the viewer (docs/VIEWER.md) filters, sorts and pages a run's cases by, a few
 * bytes per case and model, built from the stored records once and grown as a live run stores
 * more. No I/O: records go in as jansson objects, case indices come out; the server (serve.c)
 * fetches the records of the page it shows.
 *
 * Per (case, model): the first grader's verdict of `first`, the error reason, whether a revision
 * flipped the answer (wrong to right or back) and whether some judge disagreed with the grader,
 * each ranking strategy's verdict (2 bits), the first candidate's latency and output tokens. Per
 * case: its tags, the hash of its id, and the snapshot it was added in (`as_of`): a query on
 * snapshot s sees only cases added by then, so paging a live run is stable. A query costs time
 * proportional to the run but memory proportional to the page (sorting by latency or tokens keeps
 * the offset + limit best rows). Not thread-safe: the caller locks. */
#ifndef COORD_CASEINDEX_H
#define COORD_CASEINDEX_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "jdoc.h"
#include "util.h"

#define COORD_CI_MAX_MODELS 16  /* models a run's index tells apart (the rest are not indexed) */
#define COORD_CI_MAX_STRATEGIES 16
#define COORD_CI_MAX_REASONS 255
#define COORD_CI_MAX_TAGS 65535
#define COORD_CI_MAX_LIMIT 500

typedef struct coord_caseindex coord_caseindex_t;

/* For the run configured by cfg (borrowed: it must outlive the index). */
coord_caseindex_t *coord_caseindex_new(const rs_config_t *cfg);
void coord_caseindex_destroy(coord_caseindex_t **ci);

/* Starts a new snapshot: cases added from now on belong to it. Returns its number (>= 1). */
uint32_t coord_caseindex_snapshot(coord_caseindex_t *ci);
/* Adds a checked record (record.h) of case idx; a case already indexed is left as it was. The
 * same as coord_caseindex_encode, then coord_caseindex_add_row with no remap. */
void coord_caseindex_add(coord_caseindex_t *ci, uint64_t idx, const rs_jv_t *record);

/* A case's row: what the index keeps of a checked record, as bytes (a few dozen a model), appended
 * to out. Ids of tags, error reasons and strategies are those of ci's dictionaries (grown as new
 * names come); its arrays are not touched, so an index used only to encode stays small: the
 * coordinator encodes each record's row into results.idx (jsonlidx.h) as it is written. */
void coord_caseindex_encode(coord_caseindex_t *ci, const rs_jv_t *record, rs_buf_t *out);
/* The names behind ci's ids, for rows it encoded: {"strategies", "tags", "reasons"} (new
 * reference). */
json_t *coord_caseindex_names(const coord_caseindex_t *ci);
/* Translates another index's ids (its coord_caseindex_names) into ci's, each name given an id in
 * ci the first time a row uses it, exactly as if ci had indexed the records itself in that order.
 * NULL with err when names is not such an object. */
typedef struct coord_ci_remap coord_ci_remap_t;
coord_ci_remap_t *coord_caseindex_remap_new(coord_caseindex_t *ci, json_t *names, rs_err_t *err);
void coord_caseindex_remap_free(coord_ci_remap_t **m);
/* Adds case idx from a row encoded by ci itself (m NULL) or by the index m translates from;
 * a case already indexed is left as it was. -1 when the row is not one of this run's (its length
 * does not fit the run's models). */
int coord_caseindex_add_row(coord_caseindex_t *ci, uint64_t idx, const void *row, size_t len,
                            coord_ci_remap_t *m);
/* Whether case idx is indexed; how many are; the latest snapshot. */
int coord_caseindex_has(const coord_caseindex_t *ci, uint64_t idx);
uint64_t coord_caseindex_count(const coord_caseindex_t *ci);
uint32_t coord_caseindex_as_of(const coord_caseindex_t *ci);

/* The names values are filtered by, as the JSON of GET /api/runs/{id} needs them: "models",
 * "strategies", "tags", "reasons", "prompts", "epochs" (new reference). */
json_t *coord_caseindex_facets(const coord_caseindex_t *ci);

typedef enum coord_ci_sort { COORD_CI_BY_IDX = 0, COORD_CI_BY_LATENCY, COORD_CI_BY_TOKENS } coord_ci_sort_t;

/* A query; -1 (or 0 for the flags) means "any". Names are resolved by coord_caseindex_parse. */
typedef struct coord_ci_query {
    int model;            /* the model the verdict filters apply to, >= 0 */
    int verdict;          /* coord_verdict_t of first under the first grader */
    int strategy, outcome; /* a strategy slot and its verdict */
    int tag, reason;      /* ids in the facets' lists */
    int flipped;          /* 1 wrong to right, 2 right to wrong */
    int disagree;         /* 1: a judge disagreed with the grader */
    int prompt, epoch;
    uint32_t as_of;       /* the snapshot; 0 = the latest */
    const uint8_t *only;  /* a bitmap of cases to keep (the text search's hits), or NULL */
    uint64_t only_len;    /* cases the bitmap covers */
    const uint8_t *also;  /* a second one (a failure cluster's cases), or NULL */
    uint64_t also_len;
    coord_ci_sort_t sort;
    int desc;
} coord_ci_query_t;

/* Fills q from URL query parameters (get returns a parameter's value or NULL). 0, or -1 with
 * err naming the parameter ("verdict: must be correct, wrong, error or skipped"). */
typedef const char *(*coord_ci_param_fn)(void *arg, const char *name);
int coord_caseindex_parse(const coord_caseindex_t *ci, coord_ci_param_fn get, void *arg,
                          coord_ci_query_t *q, rs_err_t *err);

/* Whether case idx passes q (ignoring sort). */
int coord_caseindex_match(const coord_caseindex_t *ci, const coord_ci_query_t *q, uint64_t idx);

/* The cases of q in its order: the total, and out[0 .. *n) the ones at offset .. offset + limit
 * (limit <= COORD_CI_MAX_LIMIT). counts (may be NULL) gets the filtered cases counted by value of
 * each facet: {"verdict": {...}, "tag": {...}, "reason": {...}, "flipped": {...}, "disagree": n,
 * "prompt": {...}, "epoch": {...}} (new reference). */
uint64_t coord_caseindex_query(const coord_caseindex_t *ci, const coord_ci_query_t *q,
                               uint64_t offset, size_t limit, uint64_t *out, size_t *n,
                               json_t **counts);

/* The case before and after idx in q's order (-1 when none). */
void coord_caseindex_neighbours(const coord_caseindex_t *ci, const coord_ci_query_t *q,
                                uint64_t idx, int64_t *prev, int64_t *next);

/* The first grader's verdict of first for model m in case idx (coord_verdict_t; skipped when not
 * indexed), and the XXH64 of the case id (0 when not indexed): what `compare` pairs by. */
int coord_caseindex_verdict(const coord_caseindex_t *ci, uint64_t idx, size_t m);
uint64_t coord_caseindex_id_hash(const coord_caseindex_t *ci, uint64_t idx);
uint64_t coord_caseindex_span(const coord_caseindex_t *ci); /* highest indexed case + 1 */
/* Model m's accuracy over the indexed cases (first grader, first): correct / (correct + wrong);
 * -1 when none is graded. */
double coord_caseindex_accuracy(const coord_caseindex_t *ci, size_t m);
int coord_caseindex_model(const coord_caseindex_t *ci, const char *name); /* -1 when unknown */

#endif
