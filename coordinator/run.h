/* run: one run's lifecycle, new or resumed, without the command line: `reasonsaver run` and
 * `resume` (cmd_run.c) fill the options from their arguments, a test fills them itself.
 *
 *   coord_run_t *r = coord_run_new(&opts, &stop);
 *   prepare (inputs: config, dataset, a resumed run's checks) -> start (Redis, the run's keys and
 *   lock, the dispatch socket, local workers) -> execute (dispatch until done, drain, report)
 *   coord_run_destroy(&r);
 *
 * It prints what the command prints (the banner, progress, the summary; less with quiet) and logs
 * through log.h. A new run that fails before it is registered in Redis leaves no directory. */
#ifndef COORD_RUN_H
#define COORD_RUN_H

#include <signal.h>
#include <stddef.h>

#include "util.h"

typedef struct coord_run_opts {
    const char *config;          /* the YAML config; NULL on a resume: the run's stored config */
    const char *const *sets;     /* --set KEY=VALUE overrides, n_sets of them */
    size_t n_sets;
    const char *resume;          /* the run id to continue, or NULL for a new run */
    const char *out_dir;         /* where a resumed run is looked for (NULL: "runs") */
    const char *redis;           /* a resumed run's Redis (--redis), or NULL for its run.json */
    const char *junit;           /* also write the report as JUnit XML here, or NULL */
    int quiet;                   /* no banner, progress or summary */
    int force;                   /* resume although the dataset or config changed (--force) */
    int insecure;                /* allow a non-loopback bind without CURVE (--insecure) */
} coord_run_opts_t;

typedef struct coord_run coord_run_t;

/* A run to prepare; o's strings must outlive it. stop counts stop requests (a signal handler's
 * counter): 1 drains and ends the run as interrupted, 2 stops at once; the run sets it to 2 itself
 * when it cannot go on (its lock lost, every local worker given up). */
coord_run_t *coord_run_new(const coord_run_opts_t *o, volatile sig_atomic_t *stop);
/* Loads the config and the dataset and, on a resume, finds the run and checks it may continue.
 * 0, or -1 with err: the user's input (exit status 2). */
int coord_run_prepare(coord_run_t *r, rs_err_t *err);
/* Makes or reopens the run in Redis, takes its lock, binds the dispatch socket, starts the local
 * workers. 0, or -1 with err (a failure at run time). */
int coord_run_start(coord_run_t *r, rs_err_t *err);
/* Dispatches until every case has a result or a stop, then drains, flushes and writes the
 * report. 0 finished, 1 interrupted, 2 stopped at its budget, -1 with err. */
int coord_run_execute(coord_run_t *r, rs_err_t *err);
/* A finished run's exit status by its report and gates (gates.h); 0 until then. */
int coord_run_verdict(const coord_run_t *r);
/* The run's id and directory (runs/<id>), or NULL before start (before prepare on a resume). */
const char *coord_run_id(const coord_run_t *r);
const char *coord_run_dir(const coord_run_t *r);
/* Stops what is running, releases the lock, frees r and sets *r to NULL; a new run's directory
 * is removed if the run never reached Redis. */
void coord_run_destroy(coord_run_t **r);

#endif
