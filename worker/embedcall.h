/* embedcall: the worker's remote embedder — an OpenAI-compatible /embeddings endpoint
 * (`embedder: {type: openai, ...}`) that the chain calls once per case, with every text of the
 * case that needs a vector (the answers consensus and embed_sim look at, and the targets) in one
 * request. This module owns the embedder as a model the HTTP engine can call (timeouts and
 * retries as a model's defaults), builds the request and turns the response into unit vectors;
 * when to call and what the vectors mean stays in the chain (worker/chain.c).
 *
 * The key comes from the worker's environment ($api_key_env), like a model's, and never leaves
 * the request's headers; a message a server sent back has it blanked out. */
#ifndef WORKER_EMBEDCALL_H
#define WORKER_EMBEDCALL_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "envguard.h"
#include "http.h"
#include "provider.h"

typedef struct wk_embedcall wk_embedcall_t;

/* The remote embedder of cfg->embedder, or NULL (with err) when its provider has no embeddings
 * API. cfg must be an openai embedder. Its key is read through env, which must outlive it. */
wk_embedcall_t *wk_embedcall_new(const rs_embedder_cfg_t *cfg, const wk_envguard_t *env,
                                 rs_err_t *err);
void wk_embedcall_destroy(wk_embedcall_t **e);

/* The model the engine submits with: name "embedder", provider openai, the embedder's model,
 * base_url, api_key_env, timeout and retries, a model's default connect timeout. */
const rs_model_cfg_t *wk_embedcall_model(const wk_embedcall_t *e);
/* server.address and server.port of its URL, for spans (NULL / 0 when unknown). */
const char *wk_embedcall_host(const wk_embedcall_t *e);
long wk_embedcall_port(const wk_embedcall_t *e);

/* Builds the request for texts[0..n). Returns 0, or -1 with f filled ("no_key" when
 * $api_key_env is unset, logged once; "bad_request_body" when a text is not valid UTF-8). */
int wk_embedcall_build(wk_embedcall_t *e, const char *const *texts, size_t n, rs_http_req_t *out,
                       rs_failure_t *f);

/* The vectors of a finished call for n inputs: *vecs (heap, n * *dim floats, each row scaled to
 * unit length; an all-zero row stays zero) and the usage's input tokens. Returns 0, or -1 with f
 * filled: the engine's failure, a body the parser rejects, or a count of vectors other than n
 * ("bad_response"). */
int wk_embedcall_parse(const wk_embedcall_t *e, const wk_http_done_t *d, size_t n, float **vecs,
                       size_t *dim, int64_t *input_tokens, rs_failure_t *f);

#endif
