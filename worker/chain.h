/* chain: what a worker does with one case — generate with every model, extract, grade — and the
 * case's result record (JSON) that travels back to the coordinator and into Redis.
 *
 * Result record: {"idx", "id", "tags", "targets", "models": [{"model", "provider", "simulated",
 * "error", "candidates": [{"k", "output", "extracted", "grades": {grader: "correct"|"wrong"|
 * "skipped"}, "latency_ms", "input_tokens", "output_tokens", "error"}]}]}. A model whose call
 * failed has "error" set (its reason) and its grades are "error". */
#ifndef WORKER_CHAIN_H
#define WORKER_CHAIN_H

#include <stdint.h>

#include "config.h"
#include "dataset.h"
#include "score.h"

typedef struct wk_chain wk_chain_t;

/* Everything a case needs that is the same for every case: built from WELCOME's spec. */
wk_chain_t *wk_chain_new(const char *spec_json, rs_err_t *err);
void wk_chain_destroy(wk_chain_t **ch);
const rs_config_t *wk_chain_config(const wk_chain_t *ch);

typedef struct wk_outcome {
    char *json;         /* the result record (heap) */
    size_t json_len;
    int failed;         /* some model call failed */
    double latency_ms;  /* how long the slowest model call takes (simulated latency) */
} wk_outcome_t;

/* Runs the chain for case c. Never fails as a whole: a model's error is part of the record. */
void wk_chain_run(wk_chain_t *ch, const rs_case_t *c, wk_outcome_t *out);

#endif
