/* writer: the run's results written to Redis off the dispatch thread.
 *
 * The dispatch loop (dispatch.h) gathers the results it takes into a batch, each with its record
 * read and checked (record.h), and hands the batch here whenever the writer is free. The
 * writer's thread writes it to Redis through a connection of its own (coord_store_twin).
 * Meanwhile the dispatch loop goes on taking results and handing out work; a loop that waited for
 * each write left the workers idle a third of a sim run (docs/BENCHMARKS.md).
 *
 * A written batch comes back to the dispatch thread with the next hand (or coord_writer_collect),
 * which folds it into results.jsonl, the live OTLP feed and the report's counters (tally.h), so
 * that only Redis's own work and the packing stand between two writes: the writer and Redis take
 * turns on one batch at a time, and that chain is what a fast run waits for.
 *
 * A failed write is tried again after a backoff (100 ms doubling to 5 s) until it succeeds or the
 * writer is stopped: Redis may be restarting. Meanwhile the next batch grows (dispatch.c bounds
 * it). */
#ifndef COORD_WRITER_H
#define COORD_WRITER_H

#include <stddef.h>
#include <stdint.h>

#include "jdoc.h"
#include "jsonlout.h"
#include "otlpfeed.h"
#include "proto.h"
#include "store.h"
#include "tally.h"
#include "util.h"

/* Results on their way to Redis, with their records read. */
typedef struct coord_batch {
    rs_case_result_t *cases;
    rs_jdoc_t **doc;     /* [i]: cases[i]'s record was read into it; made once per slot, reused */
    const rs_jv_t **rec; /* [i]: that record's root */
    size_t n, cap;
    uint64_t dispatched; /* cases handed out since the last write, counted with this one */
    int64_t since_ms;    /* when its first result was added (rs_mono_ms) */
} coord_batch_t;

/* The document the next result's record is read into: slot n's, made on first use. */
rs_jdoc_t *coord_batch_doc(coord_batch_t *b);
/* Adds c with its record rec, read into coord_batch_doc(b). c->json is the batch's now (NULL). */
void coord_batch_add(coord_batch_t *b, rs_case_result_t *c, const rs_jv_t *rec);
/* Frees its results; keeps the first keep_docs documents for reuse. */
void coord_batch_empty(coord_batch_t *b, size_t keep_docs);
void coord_batch_cleanup(coord_batch_t *b);

/* Where a written batch's records go; each may be NULL. */
typedef struct coord_fold_to {
    coord_jsonlout_t *jsonl;
    coord_otlpfeed_t *otlp;
    coord_tally_t *tally;
} coord_fold_to_t;
/* Offers each record of b (stored in Redis) to results.jsonl, the live feed and the counters. */
void coord_batch_fold(const coord_batch_t *b, const coord_fold_to_t *to);

typedef struct coord_writer_opts {
    coord_store_t *store; /* the writer connects as it does (coord_store_twin) */
    const char *run_id;
} coord_writer_opts_t;

typedef struct coord_writer coord_writer_t;

/* Connects and starts the thread. NULL with err. */
coord_writer_t *coord_writer_start(const coord_writer_opts_t *o, rs_err_t *err);
/* Stops trying (a write under way ends first) and joins the thread; *w becomes NULL. Returns the
 * number of results it held unwritten. */
size_t coord_writer_stop(coord_writer_t **w);

/* Readable after each try ends (for zmq_poll); coord_writer_state empties it. */
int coord_writer_fd(const coord_writer_t *w);

typedef struct coord_writer_state {
    int busy;         /* a batch is being written (or waits to be tried again) */
    size_t held;      /* its results */
    int redis_down;   /* the last try failed */
    uint64_t failed;  /* results stored with a model error, over all batches */
} coord_writer_state_t;
void coord_writer_state(coord_writer_t *w, coord_writer_state_t *s);

/* Hands b to the writer when it is free (1): b becomes the batch it wrote last (in Redis, not yet
 * folded or emptied; an empty one the first time). 0, b unchanged, when it is busy. */
int coord_writer_hand(coord_writer_t *w, coord_batch_t *b);
/* Takes back the batch it wrote last when it is free (1), leaving b, which must be empty, in its
 * place: the end of a run folds it. 0, b unchanged, when it is busy. */
int coord_writer_collect(coord_writer_t *w, coord_batch_t *b);

/* Waits until the writer is free (0) or one of its tries fails (-1; it goes on trying). */
int coord_writer_wait(coord_writer_t *w);

#endif
