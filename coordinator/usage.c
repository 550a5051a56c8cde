/* usage: per-model counters, a latency histogram and a one-minute window for percentiles. */
#include "usage.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"
#include "stats.h"

#define COORD_USAGE_COUNT_MAX (INT64_C(1) << 40) /* as a record's tokens (record.h) */

const double COORD_USAGE_BOUNDS[COORD_USAGE_BUCKETS - 1] = {
    5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000};

#define WINDOW 4096 /* recent latencies kept per model for the last-minute percentiles */

typedef struct model_usage {
    const rs_model_cfg_t *cfg;
    uint64_t calls;
    int64_t input_tokens, output_tokens;
    uint64_t cache_hits, cache_misses;   /* response-cache lookups (hits are not in calls) */
    json_t *errors;                      /* reason -> count */
    json_t *retries;                     /* reason -> attempts tried again; NULL until one is */
    uint64_t buckets[COORD_USAGE_BUCKETS];
    double lat_sum;
    double recent[WINDOW];               /* ring of (latency) ... */
    int64_t recent_at[WINDOW];           /* ... when it was seen (mono ms) ... */
    unsigned char recent_stage[WINDOW];  /* ... and its stage (generate, critique, revise, embed) */
    size_t recent_next, recent_n;
} model_usage_t;

struct coord_usage {
    model_usage_t *m;
    size_t n;
    rs_model_cfg_t embedder; /* the remote embedder as a row: its name, no prices */
};

coord_usage_t *coord_usage_new(const rs_config_t *cfg)
{
    coord_usage_t *u = rs_xcalloc(1, sizeof(*u));
    int remote = cfg->embedder.type != RS_EMBEDDER_HASH;
    u->n = cfg->n_models + (remote ? 1 : 0);
    u->m = rs_xcalloc(u->n ? u->n : 1, sizeof(model_usage_t));
    u->embedder = (rs_model_cfg_t){.name = RS_PROTO_USAGE_EMBEDDER, .provider = "openai",
                                   .model = cfg->embedder.model};
    for (size_t i = 0; i < u->n; i++) {
        u->m[i].cfg = i < cfg->n_models ? &cfg->models[i] : &u->embedder;
        u->m[i].errors = json_object();
    }
    return u;
}

void coord_usage_destroy(coord_usage_t **u)
{
    if (!u || !*u) return;
    for (size_t i = 0; i < (*u)->n; i++) {
        json_decref((*u)->m[i].errors);
        json_decref((*u)->m[i].retries);
    }
    free((*u)->m);
    free(*u);
    *u = NULL;
}

static model_usage_t *find(coord_usage_t *u, const char *name)
{
    for (size_t i = 0; i < u->n; i++)
        if (strcmp(u->m[i].cfg->name, name) == 0) return &u->m[i];
    return NULL;
}

static const char *STAGES[] = {"generate", "critique", "revise", "embed"};
#define N_STAGES 4

static void add_latency(model_usage_t *m, double ms, int stage)
{
    size_t b = 0;
    while (b < COORD_USAGE_BUCKETS - 1 && ms > COORD_USAGE_BOUNDS[b]) b++;
    m->buckets[b]++;
    m->lat_sum += ms;
    m->recent[m->recent_next] = ms;
    m->recent_at[m->recent_next] = rs_mono_ms();
    m->recent_stage[m->recent_next] = (unsigned char)(stage >= 0 && stage < N_STAGES ? stage : 0);
    m->recent_next = (m->recent_next + 1) % WINDOW;
    if (m->recent_n < WINDOW) m->recent_n++;
}

int64_t coord_usage_count(json_t *o, const char *key)
{
    json_int_t n = json_integer_value(json_object_get(o, key));
    if (n < 0) return 0;
    return n > COORD_USAGE_COUNT_MAX ? COORD_USAGE_COUNT_MAX : (int64_t)n;
}

static void add_errors(json_t *into, json_t *errors)
{
    const char *k;
    json_t *v;
    json_object_foreach(errors, k, v) {
        (void)v;
        json_int_t old = json_integer_value(json_object_get(into, k));
        json_object_set_new(into, k, json_integer(old + coord_usage_count(errors, k)));
    }
}

static void add_counts(model_usage_t *m, json_t *s)
{
    m->calls += (uint64_t)coord_usage_count(s, "calls");
    m->input_tokens += coord_usage_count(s, "input_tokens");
    m->output_tokens += coord_usage_count(s, "output_tokens");
    m->cache_hits += (uint64_t)coord_usage_count(s, "cache_hits");
    m->cache_misses += (uint64_t)coord_usage_count(s, "cache_misses");
    add_errors(m->errors, json_object_get(s, "errors"));
    json_t *retries = json_object_get(s, "retries");
    if (json_is_object(retries)) {
        if (!m->retries) m->retries = json_object();
        add_errors(m->retries, retries);
    }
}

/* A RESULT's stats carry each call's latency. */
static void add_stats(model_usage_t *m, json_t *s)
{
    add_counts(m, s);
    size_t i;
    json_t *v;
    json_t *stages = json_object_get(s, "stage");
    json_array_foreach(json_object_get(s, "latency_ms"), i, v)
        add_latency(m, json_number_value(v), (int)json_integer_value(json_array_get(stages, i)));
}

/* A stored snapshot carries the histogram already folded. */
static void add_snapshot(model_usage_t *m, json_t *s)
{
    add_counts(m, s);
    json_t *b = json_object_get(s, "buckets");
    for (size_t i = 0; i < COORD_USAGE_BUCKETS && i < json_array_size(b); i++)
        m->buckets[i] += (uint64_t)json_integer_value(json_array_get(b, i));
    m->lat_sum += json_number_value(json_object_get(s, "latency_sum_ms"));
}

/* Folds each known model's entry of a {"<model>": {...}} object (borrowed) with add. */
static int fold(coord_usage_t *u, json_t *o, void (*add)(model_usage_t *, json_t *))
{
    if (!json_is_object(o)) return -1;
    const char *name;
    json_t *s;
    json_object_foreach(o, name, s) {
        model_usage_t *m = find(u, name);
        if (m && json_is_object(s)) add(m, s);
    }
    return 0;
}

int coord_usage_add(coord_usage_t *u, json_t *stats)
{
    return fold(u, stats, add_stats);
}

int coord_usage_merge(coord_usage_t *u, const char *snapshot)
{
    json_t *o = json_loads(snapshot, 0, NULL);
    int rc = fold(u, o, add_snapshot);
    json_decref(o);
    return rc;
}

static double cost(const model_usage_t *m)
{
    return ((double)m->input_tokens * m->cfg->price_input +
            (double)m->output_tokens * m->cfg->price_output) / 1e6;
}

int coord_usage_spent(const coord_usage_t *u, size_t i, int64_t *tokens, double *usd)
{
    if (i >= u->n) return -1;
    *tokens = u->m[i].input_tokens + u->m[i].output_tokens;
    *usd = cost(&u->m[i]);
    return 0;
}

/* p50/p95 of the latencies of stage (-1: all) seen in the last 60 s; null when there were none. */
static json_t *recent_json(const model_usage_t *m, int stage)
{
    double *v = rs_xmalloc((m->recent_n + 1) * sizeof(double));
    size_t n = 0;
    int64_t since = rs_mono_ms() - 60000;
    for (size_t i = 0; i < m->recent_n; i++)
        if (m->recent_at[i] >= since && (stage < 0 || m->recent_stage[i] == stage))
            v[n++] = m->recent[i];
    json_t *o = n ? json_pack("{sfsfsI}", "p50", rs_percentile(v, n, 50), "p95",
                              rs_percentile(v, n, 95), "calls", (json_int_t)n)
                  : json_null();
    free(v);
    return o;
}

static json_t *stages_json(const model_usage_t *m)
{
    json_t *o = json_object();
    for (int st = 0; st < N_STAGES; st++) {
        json_t *r = recent_json(m, st);
        if (json_is_null(r)) json_decref(r);
        else json_object_set_new(o, STAGES[st], r);
    }
    return o;
}

json_t *coord_usage_json(coord_usage_t *u)
{
    json_t *o = json_object();
    for (size_t i = 0; i < u->n; i++) {
        model_usage_t *m = &u->m[i];
        json_t *b = json_array();
        for (size_t k = 0; k < COORD_USAGE_BUCKETS; k++)
            json_array_append_new(b, json_integer((json_int_t)m->buckets[k]));
        json_object_set_new(o, m->cfg->name,
                            json_pack("{sIsIsIsfsOsosfso}", "calls", (json_int_t)m->calls,
                                      "input_tokens", (json_int_t)m->input_tokens, "output_tokens",
                                      (json_int_t)m->output_tokens, "cost_usd", cost(m), "errors",
                                      m->errors, "last_minute_latency_ms", recent_json(m, -1),
                                      "latency_sum_ms", m->lat_sum, "buckets", b));
        json_t *mo = json_object_get(o, m->cfg->name);
        json_object_set_new(mo, "last_minute_latency_ms_by_stage", stages_json(m));
        json_object_set_new(mo, "cache_hits", json_integer((json_int_t)m->cache_hits));
        json_object_set_new(mo, "cache_misses", json_integer((json_int_t)m->cache_misses));
        if (m->retries) json_object_set(mo, "retries", m->retries);
    }
    return o;
}

void coord_usage_label(rs_buf_t *out, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"') rs_buf_putc(out, '\\');
        if (*v == '\n') {
            rs_buf_puts(out, "\\n");
            continue;
        }
        rs_buf_putc(out, *v);
    }
}

static void histogram(rs_buf_t *out, const model_usage_t *m)
{
    uint64_t cum = 0;
    for (size_t k = 0; k < COORD_USAGE_BUCKETS; k++) {
        cum += m->buckets[k];
        rs_buf_puts(out, "reasonsaver_model_latency_ms_bucket{model=\"");
        coord_usage_label(out, m->cfg->name);
        if (k < COORD_USAGE_BUCKETS - 1) rs_buf_printf(out, "\",le=\"%g\"} %llu\n", COORD_USAGE_BOUNDS[k], (unsigned long long)cum);
        else rs_buf_printf(out, "\",le=\"+Inf\"} %llu\n", (unsigned long long)cum);
    }
    rs_buf_puts(out, "reasonsaver_model_latency_ms_sum{model=\"");
    coord_usage_label(out, m->cfg->name);
    rs_buf_printf(out, "\"} %.3f\nreasonsaver_model_latency_ms_count{model=\"", m->lat_sum);
    coord_usage_label(out, m->cfg->name);
    rs_buf_printf(out, "\"} %llu\n", (unsigned long long)cum);
}

/* One line per reason of counts ({reason: n}) under metric{model, reason}. */
static void reason_lines(rs_buf_t *out, const char *metric, const char *model, json_t *counts)
{
    const char *reason;
    json_t *n;
    json_object_foreach(counts, reason, n) {
        rs_buf_printf(out, "%s{model=\"", metric);
        coord_usage_label(out, model);
        rs_buf_puts(out, "\",reason=\"");
        coord_usage_label(out, reason);
        rs_buf_printf(out, "\"} %lld\n", (long long)json_integer_value(n));
    }
}

static void model_lines(rs_buf_t *out, const model_usage_t *m)
{
    static const char *names[] = {"reasonsaver_model_calls_total", "reasonsaver_input_tokens_total",
                                  "reasonsaver_output_tokens_total", "reasonsaver_cost_usd_total",
                                  "reasonsaver_cache_hits_total", "reasonsaver_cache_misses_total"};
    double vals[] = {(double)m->calls,         (double)m->input_tokens,  (double)m->output_tokens,
                     cost(m),                  (double)m->cache_hits,    (double)m->cache_misses};
    for (size_t i = 0; i < RS_ARRAY_LEN(names); i++) {
        rs_buf_printf(out, "%s{model=\"", names[i]);
        coord_usage_label(out, m->cfg->name);
        rs_buf_printf(out, "\"} %.10g\n", vals[i]);
    }
    reason_lines(out, "reasonsaver_model_errors_total", m->cfg->name, m->errors);
    if (m->retries) reason_lines(out, "reasonsaver_model_retries_total", m->cfg->name, m->retries);
}

void coord_usage_prometheus(coord_usage_t *u, rs_buf_t *out)
{
    rs_buf_puts(out, "# HELP reasonsaver_model_calls_total Model calls made (redone calls included).\n"
                     "# TYPE reasonsaver_model_calls_total counter\n"
                     "# HELP reasonsaver_input_tokens_total Input tokens sent to the model.\n"
                     "# TYPE reasonsaver_input_tokens_total counter\n"
                     "# HELP reasonsaver_output_tokens_total Output tokens returned by the model.\n"
                     "# TYPE reasonsaver_output_tokens_total counter\n"
                     "# HELP reasonsaver_cost_usd_total Cost from the configured prices.\n"
                     "# TYPE reasonsaver_cost_usd_total counter\n"
                     "# HELP reasonsaver_cache_hits_total Model calls answered by the response cache.\n"
                     "# TYPE reasonsaver_cache_hits_total counter\n"
                     "# HELP reasonsaver_cache_misses_total Model calls looked up in the response cache and made.\n"
                     "# TYPE reasonsaver_cache_misses_total counter\n"
                     "# HELP reasonsaver_model_errors_total Model calls that ended in error, by reason.\n"
                     "# TYPE reasonsaver_model_errors_total counter\n"
                     "# HELP reasonsaver_model_retries_total Attempts tried again, by reason.\n"
                     "# TYPE reasonsaver_model_retries_total counter\n"
                     "# HELP reasonsaver_model_latency_ms Model call latency in milliseconds.\n"
                     "# TYPE reasonsaver_model_latency_ms histogram\n");
    for (size_t i = 0; i < u->n; i++) model_lines(out, &u->m[i]);
    for (size_t i = 0; i < u->n; i++) histogram(out, &u->m[i]);
}
