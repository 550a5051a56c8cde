/* usage: per-model counters and latencies of the calls behind one RESULT, written as its stats. */
#include "usage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonw.h"
#include "proto.h"
#include "util.h"

typedef struct reason_count {
    char reason[32];
    int64_t n;
} reason_count_t;

typedef struct reasons {
    reason_count_t *v;
    size_t n, cap;
} reasons_t;

typedef struct model_sum {
    int64_t calls, input_tokens, output_tokens;
    int64_t hits, misses; /* response-cache lookups */
    reasons_t errors, retries;
    int64_t retry_after_ms; /* the longest asked for since the last take; -1: none */
    double *latency; /* kept between takes, so a steady stream of RESULTs does not reallocate */
    int *stage;      /* each latency's stage (wk_call_t.stage) */
    size_t n_latency, cap_latency;
} model_sum_t;

struct wk_usage {
    const rs_config_t *cfg;
    model_sum_t *m;
    int any;    /* something was added since the last take */
    int urgent; /* ... and a 429 or 503 among it */
};

wk_usage_t *wk_usage_new(const rs_config_t *cfg)
{
    wk_usage_t *u = rs_xcalloc(1, sizeof(*u));
    u->cfg = cfg;
    u->m = rs_xcalloc(cfg->n_models + 1, sizeof(model_sum_t)); /* + the remote embedder */
    for (size_t i = 0; i <= cfg->n_models; i++) u->m[i].retry_after_ms = -1;
    return u;
}

void wk_usage_destroy(wk_usage_t **up)
{
    if (!up || !*up) return;
    wk_usage_t *u = *up;
    for (size_t i = 0; i <= u->cfg->n_models; i++) {
        free(u->m[i].errors.v);
        free(u->m[i].retries.v);
        free(u->m[i].latency);
        free(u->m[i].stage);
    }
    free(u->m);
    free(u);
    *up = NULL;
}

static void add_reason(reasons_t *r, const char *reason)
{
    size_t i = 0;
    while (i < r->n && strcmp(r->v[i].reason, reason) != 0) i++;
    if (i == r->n) {
        if (r->n == r->cap) {
            r->cap = r->cap ? 2 * r->cap : 4;
            r->v = rs_xrealloc(r->v, r->cap * sizeof(*r->v));
        }
        snprintf(r->v[i].reason, sizeof(r->v[i].reason), "%s", reason);
        r->v[i].n = 0;
        r->n++;
    }
    r->v[i].n++;
}

static void add_latency(model_sum_t *s, double ms, int stage)
{
    if (s->n_latency == s->cap_latency) {
        s->cap_latency = s->cap_latency ? 2 * s->cap_latency : 64;
        s->latency = rs_xrealloc(s->latency, s->cap_latency * sizeof(double));
        s->stage = rs_xrealloc(s->stage, s->cap_latency * sizeof(int));
    }
    s->stage[s->n_latency] = stage;
    s->latency[s->n_latency++] = ms;
}

void wk_usage_add(wk_usage_t *u, const wk_call_t *calls, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const wk_call_t *c = &calls[i];
        if (c->model > u->cfg->n_models) continue;
        model_sum_t *s = &u->m[c->model];
        if (c->made) {
            s->calls++;
            s->input_tokens += c->input_tokens;
            s->output_tokens += c->output_tokens;
            add_latency(s, c->latency_ms, c->stage);
        }
        if (c->error_type[0]) add_reason(&s->errors, c->error_type);
        s->hits += c->cache == WK_CACHE_HIT;
        s->misses += c->cache == WK_CACHE_MISS;
        u->any = 1;
    }
}

void wk_usage_retry(wk_usage_t *u, const char *model, const char *reason, int64_t retry_after_ms)
{
    size_t i = 0;
    while (i < u->cfg->n_models && strcmp(u->cfg->models[i].name, model) != 0) i++;
    if (i == u->cfg->n_models && strcmp(model, RS_PROTO_USAGE_EMBEDDER) != 0) return;
    model_sum_t *s = &u->m[i];
    add_reason(&s->retries, reason);
    int congested = strcmp(reason, "http_429") == 0 || strcmp(reason, "http_503") == 0;
    if (congested && retry_after_ms > s->retry_after_ms) s->retry_after_ms = retry_after_ms;
    u->urgent |= congested;
    u->any = 1;
}

int wk_usage_urgent(const wk_usage_t *u)
{
    return u->urgent;
}

static void write_reasons(rs_jsonw_t *o, const char *key, const reasons_t *r)
{
    rs_jsonw_t w;
    rs_jsonw_object_in(&w, o, key);
    for (size_t i = 0; i < r->n; i++) rs_jsonw_int(&w, r->v[i].reason, r->v[i].n);
    rs_jsonw_end(&w);
}

static void write_sum(rs_jsonw_t *o, const char *name, const model_sum_t *s)
{
    rs_jsonw_t w, lat, stage;
    if (rs_jsonw_object_in(&w, o, name)) return; /* a name jansson refused as a key */
    rs_jsonw_int(&w, "calls", s->calls);
    rs_jsonw_int(&w, "input_tokens", s->input_tokens);
    rs_jsonw_int(&w, "output_tokens", s->output_tokens);
    write_reasons(&w, "errors", &s->errors);
    rs_jsonw_array_in(&lat, &w, "latency_ms");
    for (size_t i = 0; i < s->n_latency; i++) rs_jsonw_real(&lat, NULL, s->latency[i]);
    rs_jsonw_end(&lat);
    rs_jsonw_array_in(&stage, &w, "stage");
    for (size_t i = 0; i < s->n_latency; i++) rs_jsonw_int(&stage, NULL, s->stage[i]);
    rs_jsonw_end(&stage);
    if (s->hits) rs_jsonw_int(&w, "cache_hits", s->hits);
    if (s->misses) rs_jsonw_int(&w, "cache_misses", s->misses);
    if (s->retries.n) write_reasons(&w, "retries", &s->retries);
    if (s->retry_after_ms >= 0) rs_jsonw_int(&w, "retry_after_ms", s->retry_after_ms);
    rs_jsonw_end(&w);
}

/* Written member by member (jsonw.h): the bytes json_dumps gave the jansson tree this once was,
 * for a fraction of the cost. */
char *wk_usage_take(wk_usage_t *u, size_t *len)
{
    *len = 0;
    if (!u->any) return NULL;
    rs_buf_t b;
    rs_buf_init(&b);
    rs_jsonw_t o;
    rs_jsonw_object(&o, &b);
    /* latencies to the microsecond: 17 significant digits would double the frame for nothing */
    o.precision = 10;
    for (size_t i = 0; i <= u->cfg->n_models; i++) {
        model_sum_t *s = &u->m[i];
        const char *name = i < u->cfg->n_models ? u->cfg->models[i].name : RS_PROTO_USAGE_EMBEDDER;
        if (s->calls || s->errors.n || s->retries.n || s->hits || s->misses) write_sum(&o, name, s);
        s->calls = s->input_tokens = s->output_tokens = s->hits = s->misses = 0;
        s->errors.n = s->retries.n = s->n_latency = 0;
        s->retry_after_ms = -1;
    }
    u->any = u->urgent = 0;
    rs_jsonw_end(&o);
    *len = b.len;
    return rs_buf_detach(&b);
}
