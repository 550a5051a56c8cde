/* embedcall: one batched /embeddings request per case to the remote embedder. */
#include "embedcall.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

struct wk_embedcall {
    rs_model_cfg_t m; /* strings borrowed from the config, which outlives this */
    const rs_provider_t *prov;
    const wk_envguard_t *env;
    char *host;
    long port;
    int warned; /* the missing key was logged */
};

static void find_server(wk_embedcall_t *e)
{
    char *url = rs_provider_url(e->prov, &e->m, "");
    wk_http_url_server(url, &e->host, &e->port);
    free(url);
}

wk_embedcall_t *wk_embedcall_new(const rs_embedder_cfg_t *cfg, const wk_envguard_t *env,
                                 rs_err_t *err)
{
    const rs_provider_t *p = rs_provider_find(rs_embedder_kind_name(cfg->type));
    if (!p || !p->build_embed || !p->parse_embed) {
        rs_err_set(err, "embedder %s: this worker has no embeddings API for it",
                   rs_embedder_kind_name(cfg->type));
        return NULL;
    }
    wk_embedcall_t *e = rs_xcalloc(1, sizeof(*e));
    e->prov = p;
    e->env = env;
    /* a model's default connect timeout (common/config.c model_keys); the rest its own */
    e->m = (rs_model_cfg_t){.name = "embedder", .provider = (char *)p->name, .model = cfg->model,
                            .base_url = cfg->base_url, .api_key_env = cfg->api_key_env, .n = 1,
                            .timeout_ms = cfg->timeout_ms, .connect_timeout_ms = 10000,
                            .max_retries = cfg->max_retries, .retry_base_ms = cfg->retry_base_ms,
                            .retry_cap_ms = cfg->retry_cap_ms};
    find_server(e);
    return e;
}

void wk_embedcall_destroy(wk_embedcall_t **ep)
{
    if (!ep || !*ep) return;
    free((*ep)->host);
    free(*ep);
    *ep = NULL;
}

const rs_model_cfg_t *wk_embedcall_model(const wk_embedcall_t *e)
{
    return &e->m;
}

const char *wk_embedcall_host(const wk_embedcall_t *e)
{
    return e->host;
}

long wk_embedcall_port(const wk_embedcall_t *e)
{
    return e->port;
}

static const char *key_of(const wk_embedcall_t *e)
{
    return wk_envguard_getenv(e->env, e->m.api_key_env);
}

int wk_embedcall_build(wk_embedcall_t *e, const char *const *texts, size_t n, rs_http_req_t *out,
                       rs_failure_t *f)
{
    const char *key = key_of(e);
    if (e->m.api_key_env && !(key && *key)) {
        rs_provider_fail(f, "no_key", "embedder: $%s is not set in the worker's environment",
                         e->m.api_key_env);
        if (!e->warned) rs_warn("%s; embed_sim and consensus go without vectors", f->message);
        e->warned = 1;
        return -1;
    }
    rs_embed_req_t r = {&e->m, texts, n, key};
    rs_err_t err;
    if (e->prov->build_embed(&r, out, &err) != 0) {
        rs_provider_fail(f, "bad_request_body", "%s", err.msg);
        return -1;
    }
    return 0;
}

/* Scales each of the n rows of dim values to unit length, as float. */
static float *unit_rows(const double *v, size_t n, size_t dim)
{
    size_t len = n * dim;
    float *out = rs_xmalloc((len ? len : 1) * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        const double *row = v + i * dim;
        double norm = 0;
        for (size_t j = 0; j < dim; j++) norm += row[j] * row[j];
        norm = sqrt(norm);
        for (size_t j = 0; j < dim; j++) out[i * dim + j] = norm > 0 ? (float)(row[j] / norm) : 0;
    }
    return out;
}

int wk_embedcall_parse(const wk_embedcall_t *e, const wk_http_done_t *d, size_t n, float **vecs,
                       size_t *dim, int64_t *input_tokens, rs_failure_t *f)
{
    *vecs = NULL;
    *dim = 0;
    *input_tokens = 0;
    if (!d->ok) {
        *f = *d->fail;
        rs_provider_redact(f->message, key_of(e));
        return -1;
    }
    rs_embed_resp_t resp;
    rs_err_t err;
    if (e->prov->parse_embed(d->body, d->body_len, &resp, &err) != 0) {
        rs_provider_bad_response(&e->m, err.msg, d->body, d->body_len, f);
        rs_provider_redact(f->message, key_of(e));
        return -1;
    }
    if (resp.n != n) {
        rs_provider_fail(f, "bad_response", "embedder: %zu vectors came back for %zu inputs",
                         resp.n, n);
        rs_embed_resp_cleanup(&resp);
        return -1;
    }
    *vecs = unit_rows(resp.vecs, n, resp.dim);
    *dim = resp.dim;
    *input_tokens = resp.input_tokens;
    rs_embed_resp_cleanup(&resp);
    return 0;
}
