/* chain: what a worker does with one case — generate with every model, extract, grade, critique,
 * revise, rank — as an asynchronous state machine over the HTTP engine, and the case's result
 * record (JSON) that travels back to the coordinator and into Redis.
 *
 * A case starts one request per model and candidate group (OpenAI: one request with n choices,
 * the rest as single requests if the server returns fewer; Anthropic: n requests; sim: answered
 * in-process, its simulated latency waited out on a timer). Then each candidate goes on by itself
 * (docs/CHAINS.md, "The chain"): graded (exec graders answer later, worker/execgrade.h: the
 * candidate's chain waits for them), critiqued by every judge (worker/critique.h), revised
 * after the revise judge's critique and graded again, revise.rounds times; critiques and revisions
 * are calls like generations (HTTP with the same retries, or rs_sim_judge / rs_sim_revise). When
 * the case's last call is done the judge graders are filled, the strategies ranked
 * (worker/rank.h) and the record joins the done list, which the session sends as RESULTs.
 *
 * Result record: {"idx", "id", "tags", "targets", "models": [{"model", "provider", "simulated",
 * "error", "error_type", "retries", "retry_reasons": {reason: count}, "candidates": [{"k",
 * "output", "extracted", "grades": {grader: "correct"|"wrong"|"skipped"|"error"},
 * "grade_details": {exec grader: {"score", "reason", "error_type", "latency_ms"}} (only with exec
 * graders, docs/GRADERS.md),
 * "latency_ms", "input_tokens", "output_tokens", "finish_reason", "error", "error_type",
 * "critiques": [...], "revisions": [...]}], "strategies": {...}}], "embedding": {...}}
 * (critiques, revisions, strategies and the remote embedder's call as docs/CHAINS.md fixes
 * them; "embedding" only with an openai embedder). A model's "error" / "error_type" are its first
 * candidate's (a message naming the model, and a reason code such as "http_401", "timeout",
 * "bad_response", "no_key"; both null on success); a failed candidate's grades are "error". A
 * request with several choices reports its usage on its candidates: input tokens on the first,
 * output tokens split evenly. latency_ms is the last attempt's duration (the simulated latency
 * for sim). "retries" counts every call the model made in the case (as a judge too). API keys
 * never appear in a record.
 *
 * With report.spans on (the default) the record also holds "spans": the case's trace (worker/trace.h,
 * docs/TRACING.md) — a root span "case", a "generate", "critique" or "revise" span per model call
 * with its retries as events, and a "score" span per model. Every case's calls also travel with
 * it (wk_done_t.calls) for the RESULT's usage summary (worker/usage.h), each under the model that
 * was called (a critique under its judge's model). */
#ifndef WORKER_CHAIN_H
#define WORKER_CHAIN_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "dataset.h"
#include "envguard.h"
#include "http.h"
#include "score.h"
#include "trace.h"
#include "usage.h"

typedef struct wk_chain wk_chain_t;

/* A finished case, waiting to be sent. json and calls are heap and owned by whoever holds the
 * struct: release them with wk_done_cleanup. */
typedef struct wk_done {
    uint64_t task_id, lease, idx;
    int failed;         /* some model's first candidate failed */
    char *json;
    size_t json_len;
    wk_call_t *calls;   /* the case's model calls, for the usage summary */
    size_t n_calls;
} wk_done_t;

void wk_done_cleanup(wk_done_t *d);

/* Everything a case needs that is the same for every case: built from WELCOME's spec. run_id and
 * worker_id (copied) name the run and this worker in the spans. The chain submits its requests
 * to http and reads keys through env; both must outlive it. NULL with err on a bad spec, and on
 * a spec naming an api_key_env that env does not allow (worker/envguard.h). */
wk_chain_t *wk_chain_new(const char *spec_json, const char *run_id, const char *worker_id,
                         wk_http_t *http, const wk_envguard_t *env, rs_err_t *err);
/* Aborts every case still running (its transfers and timers) and frees the chain. */
void wk_chain_destroy(wk_chain_t **ch);
const rs_config_t *wk_chain_config(const wk_chain_t *ch);

/* Starts case c of a task, which reached the worker at arrival (its trace's root span begins
 * there, so a wait in the backlog shows before its first call); takes over c's contents (c is
 * left zeroed). Never fails as a whole: a model's error becomes part of the record. The case may
 * be done before this returns. */
void wk_chain_start(wk_chain_t *ch, uint64_t task_id, uint64_t lease, wk_arrival_t arrival,
                    rs_case_t *c);

/* Drops the cases of task_id (or every case, when all): running ones are aborted, done ones not
 * yet taken are discarded. Returns how many cases were dropped. */
size_t wk_chain_cancel(wk_chain_t *ch, int all, uint64_t task_id);

/* Cases held: running plus done and not yet taken. */
size_t wk_chain_held(const wk_chain_t *ch);
/* Cases running: started and not done yet. */
size_t wk_chain_running(const wk_chain_t *ch);
size_t wk_chain_n_done(const wk_chain_t *ch);

/* Hands over the done list (*n entries, in the order they finished): the caller releases each
 * entry (wk_done_cleanup) and frees the array. NULL with *n = 0 when none is done. */
wk_done_t *wk_chain_take_done(wk_chain_t *ch, size_t *n);

#endif
