/* fuzz_embeddings: an OpenAI-compatible /embeddings response body, through the openai provider's
 * parse_embed and then the worker's remote embedder (wk_embedcall_parse), which scales each row to
 * unit length. A body that parses has n >= 1 rows of dim >= 1 values; each scaled row has length
 * 1 or 0 (an all-zero row), or holds a non-finite value the server sent. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "embedcall.h"
#include "envguard.h"
#include "provider.h"

static wk_embedcall_t *emb;
static wk_envguard_t *env;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    rs_embedder_cfg_t cfg = {.type = RS_EMBEDDER_OPENAI, .model = "emb-1",
                             .base_url = "http://127.0.0.1:9/v1",
                             .api_key_env = "RS_FUZZ_EMBED_KEY", .timeout_ms = 1000};
    rs_err_t err = {{0}};
    env = wk_envguard_new();
    if (wk_envguard_add(env, WK_ENVGUARD_DEFAULT, &err) != 0) abort();
    emb = wk_embedcall_new(&cfg, env, &err);
    if (!emb) abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const rs_provider_t *p = rs_provider_find("openai");
    rs_embed_resp_t r;
    rs_err_t err = {{0}};
    if (p->parse_embed((const char *)data, size, &r, &err) != 0) {
        if (err.msg[0] == '\0') abort();
        return 0;
    }
    if (r.n == 0 || r.dim == 0 || !r.vecs || r.input_tokens < 0) abort();
    size_t n = r.n;
    rs_embed_resp_cleanup(&r);

    wk_http_done_t d = {.ok = 1, .body = (const char *)data, .body_len = size, .status = 200};
    float *vecs;
    size_t dim;
    int64_t tokens;
    rs_failure_t f;
    if (wk_embedcall_parse(emb, &d, n, &vecs, &dim, &tokens, &f) != 0) abort();
    for (size_t i = 0; i < n; i++) {
        double norm = 0;
        for (size_t j = 0; j < dim; j++) norm += (double)vecs[i * dim + j] * vecs[i * dim + j];
        if (isfinite(norm) && norm != 0 && fabs(norm - 1) > 1e-3) abort();
    }
    free(vecs);
    return 0;
}
