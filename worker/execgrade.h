/* execgrade: the exec graders of a run (docs/GRADERS.md) — per grader a pool of long-lived
 * processes running the user's command, each speaking one JSON line per case: the request on its
 * stdin, the reply `{"verdict", "score", "reason"}` on its stdout.
 *
 * Process model: at most `concurrency` processes per grader, started when a case needs one
 * (fork + exec, no shell: own session and process group, rlimits RLIMIT_AS / RLIMIT_CPU, every
 * descriptor but stdin, stdout and stderr closed, an environment made only of the grader's `env`
 * names and PATH), each grading one case at a time; more cases wait in the grader's queue. Pipes
 * are non-blocking and polled in the worker's one loop (wk_execgrade_fds into wk_http_wait's poll,
 * wk_execgrade_io after it); a case's deadline (timeout_ms from the moment its request is handed
 * to a process) is a timer on the worker's heap. A timeout (a grader that never reads its stdin
 * included), a reply over WK_EXEC_REPLY_MAX bytes, a reply that is not the protocol's JSON, or a
 * process that exits becomes that case's grader error with its reason; the process group is
 * killed (SIGKILL) and reaped, and a new process starts for the next case. Nothing a grader does
 * can block or crash the worker.
 *
 * Ownership: a submitted request line is copied; the callback runs once (from wk_execgrade_io,
 * from the timer, or not at all once cancelled) and its reply's strings die when it returns. */
#ifndef WORKER_EXECGRADE_H
#define WORKER_EXECGRADE_H

#include <poll.h>
#include <stddef.h>

#include "config.h"
#include "envguard.h"
#include "timerq.h"
#include "util.h"

#define WK_EXEC_REPLY_MAX 65536 /* bytes of one reply line, newline included */
#define WK_EXEC_REASON_MAX 2048 /* bytes of a reason kept (cut at a character boundary) */

typedef struct wk_execgrade wk_execgrade_t;
typedef struct wk_exec_job wk_exec_job_t;

/* What a grader said about a case, or why it said nothing usable. */
typedef struct wk_exec_reply {
    int verdict;            /* rs_verdict_t (correct, wrong, skipped) or WK_GRADE_ERROR */
    double score;           /* in [0, 1]; NaN when there is none (an error) */
    const char *reason;     /* the grader's reason, or what went wrong; may be NULL */
    const char *error_type; /* NULL for a verdict; else "grader_error" (the grader's own
                             * "error" verdict), "timeout", "crashed", "bad_reply",
                             * "reply_too_large" or "cannot_start" */
    double latency_ms;      /* from the request handed to a process to its reply */
} wk_exec_reply_t;

typedef void (*wk_exec_cb)(void *ud, const wk_exec_reply_t *r);

/* Pools for cfg's exec graders (processes start on first use), with their deadlines on timers;
 * their env variables are read through env. cfg, env and timers must outlive the pools. NULL
 * when cfg has no exec grader. */
wk_execgrade_t *wk_execgrade_new(const rs_scoring_cfg_t *cfg, const wk_envguard_t *env,
                                 wk_timerq_t *timers);
/* Kills every process (SIGKILL to its group) and reaps it; callbacks of jobs in flight never run.
 * *e becomes NULL; NULL and &NULL are fine. */
void wk_execgrade_destroy(wk_execgrade_t **e);

/* Grades with grader g (an index into cfg->graders; it must be an exec grader): line (len bytes,
 * one JSON object without a newline) goes to a process of that grader. cb runs later, never
 * inside this call. The handle is valid until cb runs or the job is cancelled. */
wk_exec_job_t *wk_execgrade_submit(wk_execgrade_t *e, size_t g, const char *line, size_t len,
                                   wk_exec_cb cb, void *ud);
/* Forgets a job: its callback never runs. A job a process is working on is let finish (its reply
 * is thrown away) so the process need not be killed. */
void wk_execgrade_cancel(wk_execgrade_t *e, wk_exec_job_t *j);

/* The descriptors to poll into out (at most cap; returns how many were written): the stdout of
 * every busy process (POLLIN) and the stdin of those with request bytes still to write (POLLOUT). */
size_t wk_execgrade_fds(const wk_execgrade_t *e, struct pollfd *out, size_t cap);
/* Upper bound of wk_execgrade_fds's count. */
size_t wk_execgrade_max_fds(const wk_execgrade_t *e);
/* Moves every busy process on without blocking: writes what its stdin takes, reads what its
 * stdout has, finishes jobs whose reply is whole (running their callbacks), hands queued jobs to
 * free processes (starting them as needed). */
void wk_execgrade_io(wk_execgrade_t *e);

/* 1 when a queued job could go to a process now: the loop must not sleep before
 * wk_execgrade_io. */
int wk_execgrade_startable(const wk_execgrade_t *e);

/* Processes started so far (restarts included) and jobs waiting for a process, for tests. */
size_t wk_execgrade_started(const wk_execgrade_t *e);
size_t wk_execgrade_queued(const wk_execgrade_t *e);

/* The reply codec, without I/O: reads one reply line (len bytes, the newline left out) into r;
 * r->reason points into why (cap bytes) or is NULL. 0 for a reply that follows the protocol (the
 * grader's own "error" verdict included), -1 with r->error_type "bad_reply" and the reason in
 * why. */
int wk_execgrade_parse_reply(const char *line, size_t len, wk_exec_reply_t *r, char *why,
                             size_t cap);

#endif
