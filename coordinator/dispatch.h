/* dispatch: the coordinator's event loop — one ROUTER socket, the live workers, their tasks and
 * leases, and the batch of results on its way to Redis.
 *
 * Credit flow: a worker says HELLO, gets WELCOME{spec}, answers with CREDIT{free slots and
 * backlog}; the loop sends it TASKs of at most shard_size cases while it has credit and the cluster
 * is under max_in_flight and every adaptive model's cap (backlogs count), no model is paused and
 * the pace allows; each case in a RESULT returns one credit. The stats of RESULTs and HEARTBEATs
 * feed the caps (concurrency.h); a pause a worker reports goes to every worker as PAUSE.
 * Every worker's free slots are served before any backlog. The backlog (cluster.worker_backlog
 * cases beyond cluster.worker_slots) is what a worker starts the moment a case finishes, while its
 * result travels back and the next TASK comes: dispatch round trips overlap the model calls.
 * A worker silent for 3 heartbeats is dead: its unfinished cases, backlog included, go back to the
 * scheduler. A task out longer than lease_ms is taken back too (and CANCELled), so a stuck worker
 * cannot hold cases forever; a task that went into a backlog starts that clock once the cases
 * ahead of it have left the worker, and at the latest one lease after it was sent.
 *
 * Peers are not trusted (docs/SECURITY.md). A case's result is taken only from the holder of its
 * current lease, or of a lease that ended less than one lease ago (late), once; the scheduler's
 * bitmap and the store's HSETNX keep the first. Anything else is rejected and counted per peer; a
 * peer over cluster.max_rejects_per_minute is cut off (its leases go back) and its messages are
 * dropped unread for a minute. Credit is capped at cluster.worker_slots + cluster.worker_backlog
 * less what the worker holds. No send ever blocks: a peer that does not read is cut off the same
 * way. */
#ifndef COORD_DISPATCH_H
#define COORD_DISPATCH_H

#include <jansson.h>
#include <signal.h>
#include <stdint.h>

#include "budget.h"
#include "concurrency.h"
#include "config.h"
#include "curve.h"
#include "dataset.h"
#include "jsonlout.h"
#include "sched.h"
#include "store.h"
#include "otlpfeed.h"
#include "tally.h"
#include "units.h"
#include "usage.h"
#include "util.h"

typedef struct coord_dispatch coord_dispatch_t;

typedef struct coord_progress {
    uint64_t done;       /* cases with a result (including those of earlier attempts) */
    uint64_t total;
    uint64_t failed;     /* cases with a model error */
    uint64_t this_run;   /* results received by this process */
    uint64_t requeued;   /* cases handed out again after a lease expired */
    uint64_t records_rejected; /* records not stored: they failed record.h's checks */
    size_t workers;      /* live workers */
    int64_t in_flight;   /* cases out at workers */
} coord_progress_t;

typedef void (*coord_progress_fn)(const coord_progress_t *p, void *arg);

typedef struct coord_dispatch_opts {
    const rs_config_t *cfg;
    const char *run_id;
    const char *spec_json; /* sent in WELCOME */
    rs_dataset_t *ds;
    coord_sched_t *sched;
    coord_store_t *store;
    const char *bind;      /* e.g. "tcp://127.0.0.1:*" */
    coord_usage_t *usage;  /* live counters fed by each RESULT's stats; may be NULL */
    coord_otlpfeed_t *otlp; /* live trace export (report.otlp); may be NULL */
    coord_curve_t *curve;  /* CURVE and its ZAP handler (cluster.curve); NULL = plain TCP */
    coord_tally_t *tally;  /* the report's counters: each record is folded in once it is stored;
                              may be NULL */
    coord_jsonlout_t *jsonl; /* results.jsonl written as records are stored; may be NULL */
    coord_budget_t *budget; /* the run's spending limits: a case goes out only within them
                               (budget.h); NULL when there are none */
    coord_conc_t *conc;    /* adaptive caps and pauses, fed by workers' stats; NULL: only
                              cluster.max_in_flight */
    const coord_units_t *units; /* the run's (case, prompt, epoch) numbering: the scheduler's
                                   indices are units (units.h) */
} coord_dispatch_opts_t;

/* Binds the ROUTER socket. NULL with err (address in use, bad endpoint). */
coord_dispatch_t *coord_dispatch_new(const coord_dispatch_opts_t *opts, rs_err_t *err);
/* coord_dispatch_new in two steps, so that local workers can be started (and load, and connect,
 * and say HELLO, which waits in the socket) while the run is still being set up: listen binds
 * (curve: cluster.curve's keys, or NULL), init takes the run (its bind and curve are listen's). A
 * dispatch that failed init is only for coord_dispatch_destroy. */
coord_dispatch_t *coord_dispatch_listen(const char *bind, coord_curve_t *curve, rs_err_t *err);
int coord_dispatch_init(coord_dispatch_t *d, const coord_dispatch_opts_t *opts, rs_err_t *err);
void coord_dispatch_destroy(coord_dispatch_t **d);

/* The bound endpoint with its real port, for workers to --connect to. */
const char *coord_dispatch_endpoint(const coord_dispatch_t *d);

/* Runs until every case has a result (returns 0), *stop becomes non-zero (returns 1), the budget
 * is exhausted and nothing is in flight any more (returns 2), or a fatal error (-1 with err). progress is called every tick (100 ms). Results may still be held in memory
 * when it returns: call coord_dispatch_flush. */
int coord_dispatch_run(coord_dispatch_t *d, volatile sig_atomic_t *stop, coord_progress_fn progress,
                       void *arg, rs_err_t *err);

/* Sends DRAIN to every live worker (they finish what they hold and leave) and keeps accepting their
 * results for up to timeout_ms or until none holds a case. */
void coord_dispatch_drain(coord_dispatch_t *d, int64_t timeout_ms);

/* After the drain: answers what workers send for up to wait_ms, handing out no work (a worker
 * that joins now is sent DRAIN). */
void coord_dispatch_idle(coord_dispatch_t *d, long wait_ms);

/* Writes every held result to Redis, waiting out a Redis outage, until done (0) or *stop reaches
 * max_stops (-1 with err saying how many results were not written). */
int coord_dispatch_flush(coord_dispatch_t *d, volatile sig_atomic_t *stop, int max_stops,
                         rs_err_t *err);
int coord_dispatch_redis_down(const coord_dispatch_t *d);

/* The live workers: [{id, host, pid, in_flight, tasks, results, rejected, late, silent_ms}]
 * (new reference). id and host are sanitised (printable ASCII, at most 64 bytes). Under CURVE, id
 * is the worker's key name (authenticated) and worker_id what it calls itself. */
json_t *coord_dispatch_workers_json(const coord_dispatch_t *d);

/* What was rejected from peers, taken late, cut off (coord_peers_json's shape; new reference),
 * and the same from an earlier coordinator of the run, added on a resume. */
json_t *coord_dispatch_peers_json(const coord_dispatch_t *d);
void coord_dispatch_peers_restore(coord_dispatch_t *d, const char *saved);

void coord_dispatch_progress(const coord_dispatch_t *d, coord_progress_t *out);

#endif
