/* usage: per-model counters and latencies of the calls behind one RESULT, written as its stats. */
#include "usage.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "util.h"

typedef struct reason_count {
    char reason[32];
    int64_t n;
} reason_count_t;

typedef struct model_sum {
    int64_t calls, input_tokens, output_tokens;
    int64_t hits, misses; /* response-cache lookups */
    reason_count_t *errors;
    size_t n_errors, cap_errors;
    double *latency; /* kept between takes, so a steady stream of RESULTs does not reallocate */
    int *stage;      /* each latency's stage (wk_call_t.stage) */
    size_t n_latency, cap_latency;
} model_sum_t;

struct wk_usage {
    const rs_config_t *cfg;
    model_sum_t *m;
    int any; /* something was added since the last take */
};

wk_usage_t *wk_usage_new(const rs_config_t *cfg)
{
    wk_usage_t *u = rs_xcalloc(1, sizeof(*u));
    u->cfg = cfg;
    u->m = rs_xcalloc(cfg->n_models + 1, sizeof(model_sum_t)); /* + the remote embedder */
    return u;
}

void wk_usage_destroy(wk_usage_t **up)
{
    if (!up || !*up) return;
    wk_usage_t *u = *up;
    for (size_t i = 0; i <= u->cfg->n_models; i++) {
        free(u->m[i].errors);
        free(u->m[i].latency);
        free(u->m[i].stage);
    }
    free(u->m);
    free(u);
    *up = NULL;
}

static void add_error(model_sum_t *s, const char *reason)
{
    size_t i = 0;
    while (i < s->n_errors && strcmp(s->errors[i].reason, reason) != 0) i++;
    if (i == s->n_errors) {
        if (s->n_errors == s->cap_errors) {
            s->cap_errors = s->cap_errors ? 2 * s->cap_errors : 4;
            s->errors = rs_xrealloc(s->errors, s->cap_errors * sizeof(*s->errors));
        }
        snprintf(s->errors[i].reason, sizeof(s->errors[i].reason), "%s", reason);
        s->errors[i].n = 0;
        s->n_errors++;
    }
    s->errors[i].n++;
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
        if (c->error_type[0]) add_error(s, c->error_type);
        s->hits += c->cache == WK_CACHE_HIT;
        s->misses += c->cache == WK_CACHE_MISS;
        u->any = 1;
    }
}

static json_t *sum_json(const model_sum_t *s)
{
    json_t *errors = json_object(), *lat = json_array(), *stage = json_array();
    for (size_t i = 0; i < s->n_errors; i++)
        json_object_set_new(errors, s->errors[i].reason, json_integer((json_int_t)s->errors[i].n));
    for (size_t i = 0; i < s->n_latency; i++) {
        json_array_append_new(lat, json_real(s->latency[i]));
        json_array_append_new(stage, json_integer(s->stage[i]));
    }
    json_t *o = json_pack("{sIsIsIsososo}", "calls", (json_int_t)s->calls, "input_tokens",
                          (json_int_t)s->input_tokens, "output_tokens",
                          (json_int_t)s->output_tokens, "errors", errors, "latency_ms", lat,
                          "stage", stage);
    if (s->hits) json_object_set_new(o, "cache_hits", json_integer((json_int_t)s->hits));
    if (s->misses) json_object_set_new(o, "cache_misses", json_integer((json_int_t)s->misses));
    return o;
}

char *wk_usage_take(wk_usage_t *u, size_t *len)
{
    *len = 0;
    if (!u->any) return NULL;
    json_t *o = json_object();
    for (size_t i = 0; i <= u->cfg->n_models; i++) {
        model_sum_t *s = &u->m[i];
        const char *name = i < u->cfg->n_models ? u->cfg->models[i].name : RS_PROTO_USAGE_EMBEDDER;
        if (s->calls || s->n_errors || s->hits) json_object_set_new(o, name, sum_json(s));
        s->calls = s->input_tokens = s->output_tokens = s->hits = s->misses = 0;
        s->n_errors = s->n_latency = 0;
    }
    u->any = 0;
    /* latencies to the microsecond: 17 significant digits would double the frame for nothing */
    char *text = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(10));
    json_decref(o);
    if (text) *len = strlen(text);
    return text;
}
