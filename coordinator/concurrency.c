/* concurrency: per-model AIMD caps and pauses fed by workers' stats, their series, their JSON. */
#include "concurrency.h"

#include <stdlib.h>
#include <string.h>

#include "aimd.h"
#include "usage.h"

typedef struct model_conc {
    const rs_model_cfg_t *cfg;
    int adaptive;
    coord_aimd_t aimd;      /* adaptive models only */
    uint64_t congested;     /* 429s and 503s reported */
    uint64_t pauses;        /* pauses begun or extended */
    int64_t paused_ms;      /* their total length */
    int64_t pause_until;    /* mono ms; 0: never paused */
    int announce;           /* the pause began or grew since it was last announced */
    int64_t min_cap;
    int64_t (*series)[2];   /* [offset_ms, cap] at each change */
    size_t n_series;
} model_conc_t;

struct coord_conc {
    model_conc_t *m;
    size_t n;
    int64_t max_in_flight;
    int64_t start_ms; /* wall ms: the series' origin */
};

static void series_add(model_conc_t *m, int64_t offset_ms, int64_t cap)
{
    if (m->n_series == COORD_CONC_MAX_POINTS) { /* keep every other point: the shape survives */
        for (size_t i = 0; i < COORD_CONC_MAX_POINTS / 2; i++) {
            m->series[i][0] = m->series[2 * i][0];
            m->series[i][1] = m->series[2 * i][1];
        }
        m->n_series = COORD_CONC_MAX_POINTS / 2;
    }
    m->series[m->n_series][0] = offset_ms;
    m->series[m->n_series][1] = cap;
    m->n_series++;
    if (cap < m->min_cap) m->min_cap = cap;
}

coord_conc_t *coord_conc_new(const rs_config_t *cfg, int64_t wall_ms)
{
    coord_conc_t *c = rs_xcalloc(1, sizeof(*c));
    c->n = cfg->n_models;
    c->m = rs_xcalloc(c->n ? c->n : 1, sizeof(*c->m));
    c->max_in_flight = cfg->cluster.max_in_flight;
    c->start_ms = wall_ms;
    for (size_t i = 0; i < c->n; i++) {
        model_conc_t *m = &c->m[i];
        const rs_model_cfg_t *mc = &cfg->models[i];
        m->cfg = mc;
        m->adaptive = mc->adaptive == RS_ADAPTIVE_ON;
        int64_t ceiling = mc->conc_ceiling && mc->conc_ceiling < c->max_in_flight
                              ? mc->conc_ceiling
                              : c->max_in_flight;
        coord_aimd_params_t p = {mc->conc_floor < ceiling ? mc->conc_floor : ceiling, ceiling,
                                 mc->conc_factor, mc->conc_step, mc->conc_cooldown_ms};
        coord_aimd_init(&m->aimd, &p);
        m->min_cap = INT64_MAX;
        m->series = rs_xmalloc(COORD_CONC_MAX_POINTS * sizeof(*m->series));
        if (m->adaptive) series_add(m, 0, m->aimd.cap);
    }
    return c;
}

void coord_conc_destroy(coord_conc_t **c)
{
    if (!c || !*c) return;
    for (size_t i = 0; i < (*c)->n; i++) free((*c)->m[i].series);
    free((*c)->m);
    free(*c);
    *c = NULL;
}

static model_conc_t *model_find(coord_conc_t *c, const char *name)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->m[i].cfg->name, name) == 0) return &c->m[i];
    return NULL;
}

/* 429s and 503s among a model's failed calls and retried attempts (each count held by
 * coord_usage_count, so the sum cannot overflow). */
static json_int_t congestion(json_t *s)
{
    json_t *e = json_object_get(s, "errors"), *r = json_object_get(s, "retries");
    return coord_usage_count(e, "http_429") + coord_usage_count(e, "http_503") +
           coord_usage_count(r, "http_429") + coord_usage_count(r, "http_503");
}

static void pause_model(model_conc_t *m, json_int_t ms, int64_t now_ms)
{
    if (ms > COORD_CONC_MAX_PAUSE_MS) ms = COORD_CONC_MAX_PAUSE_MS;
    int64_t until = now_ms + (int64_t)ms;
    if (until <= m->pause_until) return;
    m->paused_ms += until - (m->pause_until > now_ms ? m->pause_until : now_ms);
    m->pause_until = until;
    m->pauses++;
    m->announce = 1;
}

static void feed_model(coord_conc_t *c, model_conc_t *m, json_t *s, int64_t in_flight,
                       int64_t now_ms, int64_t wall_ms)
{
    json_int_t congested = congestion(s), calls = coord_usage_count(s, "calls");
    json_int_t after = coord_usage_count(s, "retry_after_ms"); /* pause_model caps it */
    m->congested += (uint64_t)congested;
    if (after > 0) pause_model(m, after, now_ms);
    if (!m->adaptive) return;
    int changed = 0;
    if (congested > 0) changed = coord_aimd_congested(&m->aimd, in_flight, now_ms);
    else if (calls > 0) changed = coord_aimd_success(&m->aimd, calls, in_flight, now_ms);
    if (changed) series_add(m, wall_ms - c->start_ms, m->aimd.cap);
}

void coord_conc_feed(coord_conc_t *c, json_t *stats, int64_t in_flight, int64_t now_ms,
                     int64_t wall_ms)
{
    const char *name;
    json_t *s;
    json_object_foreach(stats, name, s) {
        model_conc_t *m = model_find(c, name);
        if (m && json_is_object(s)) feed_model(c, m, s, in_flight, now_ms, wall_ms);
    }
}

int64_t coord_conc_limit(const coord_conc_t *c, int64_t now_ms)
{
    int64_t limit = c->max_in_flight;
    for (size_t i = 0; i < c->n; i++) {
        const model_conc_t *m = &c->m[i];
        if (m->pause_until > now_ms) return 0;
        if (m->adaptive && m->aimd.cap < limit) limit = m->aimd.cap;
    }
    return limit;
}

size_t coord_conc_pauses(coord_conc_t *c, int fresh, int64_t now_ms, rs_pause_t *out, size_t max)
{
    size_t k = 0;
    for (size_t i = 0; i < c->n && k < max; i++) {
        model_conc_t *m = &c->m[i];
        if (m->pause_until <= now_ms || (fresh && !m->announce)) continue;
        if (fresh) m->announce = 0;
        out[k++] = (rs_pause_t){m->cfg->name, m->pause_until - now_ms};
    }
    return k;
}

int coord_conc_active(const coord_conc_t *c)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->m[i].adaptive || c->m[i].congested || c->m[i].pauses) return 1;
    return 0;
}

static json_t *series_json(const model_conc_t *m)
{
    json_t *a = json_array();
    for (size_t i = 0; i < m->n_series; i++)
        json_array_append_new(a, json_pack("[II]", (json_int_t)m->series[i][0],
                                           (json_int_t)m->series[i][1]));
    return a;
}

static json_t *model_json(const model_conc_t *m, int64_t now_ms)
{
    const coord_aimd_t *a = &m->aimd;
    int64_t left = m->pause_until > now_ms ? m->pause_until - now_ms : 0;
    return json_pack("{sbsIsIsIsIsIsIsIsIsIsIso}", "adaptive", m->adaptive, "floor",
                     (json_int_t)a->p.floor, "ceiling", (json_int_t)a->p.ceiling, "cap",
                     (json_int_t)a->cap, "min_cap",
                     (json_int_t)(m->min_cap == INT64_MAX ? a->cap : m->min_cap), "decreases",
                     (json_int_t)a->decreases, "increases", (json_int_t)a->increases, "congested",
                     (json_int_t)m->congested, "pauses", (json_int_t)m->pauses, "paused_ms",
                     (json_int_t)m->paused_ms, "paused_left_ms", (json_int_t)left, "series",
                     series_json(m));
}

json_t *coord_conc_json(const coord_conc_t *c, int64_t now_ms)
{
    json_t *models = json_object();
    for (size_t i = 0; i < c->n; i++)
        json_object_set_new(models, c->m[i].cfg->name, model_json(&c->m[i], now_ms));
    return json_pack("{sIso}", "start_ms", (json_int_t)c->start_ms, "models", models);
}

static void restore_model(model_conc_t *m, json_t *s)
{
    json_int_t cap = json_integer_value(json_object_get(s, "cap"));
    if (cap >= m->aimd.p.floor && cap <= m->aimd.p.ceiling) m->aimd.cap = cap;
    m->aimd.decreases = (uint64_t)json_integer_value(json_object_get(s, "decreases"));
    m->aimd.increases = (uint64_t)json_integer_value(json_object_get(s, "increases"));
    m->congested = (uint64_t)json_integer_value(json_object_get(s, "congested"));
    m->pauses = (uint64_t)json_integer_value(json_object_get(s, "pauses"));
    m->paused_ms = json_integer_value(json_object_get(s, "paused_ms"));
    m->n_series = 0;
    m->min_cap = INT64_MAX;
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(s, "series"), i, p)
        series_add(m, json_integer_value(json_array_get(p, 0)),
                   json_integer_value(json_array_get(p, 1)));
    if (m->adaptive && (m->n_series == 0 || m->series[m->n_series - 1][1] != m->aimd.cap))
        series_add(m, m->n_series ? m->series[m->n_series - 1][0] : 0, m->aimd.cap);
}

int coord_conc_restore(coord_conc_t *c, const char *saved)
{
    json_t *o = saved ? json_loads(saved, 0, NULL) : NULL;
    json_t *models = json_object_get(o, "models");
    if (!json_is_object(models) || !json_is_integer(json_object_get(o, "start_ms"))) {
        json_decref(o);
        return -1;
    }
    c->start_ms = json_integer_value(json_object_get(o, "start_ms"));
    const char *name;
    json_t *s;
    json_object_foreach(models, name, s) {
        model_conc_t *m = model_find(c, name);
        if (m && json_is_object(s)) restore_model(m, s);
    }
    json_decref(o);
    return 0;
}

static void gauge(rs_buf_t *out, const char *metric, const char *model, long long v)
{
    rs_buf_printf(out, "%s{model=\"", metric);
    coord_usage_label(out, model);
    rs_buf_printf(out, "\"} %lld\n", v);
}

void coord_conc_prometheus(const coord_conc_t *c, int64_t now_ms, rs_buf_t *out)
{
    rs_buf_puts(out, "# HELP reasonsaver_model_concurrency_cap Cluster-wide cap on cases in flight "
                     "(adaptive models).\n"
                     "# TYPE reasonsaver_model_concurrency_cap gauge\n"
                     "# HELP reasonsaver_model_concurrency_decreases_total Cap decreases after a "
                     "429 or 503.\n"
                     "# TYPE reasonsaver_model_concurrency_decreases_total counter\n"
                     "# HELP reasonsaver_model_concurrency_increases_total Cap increases after "
                     "sustained success.\n"
                     "# TYPE reasonsaver_model_concurrency_increases_total counter\n"
                     "# HELP reasonsaver_model_pauses_total Cluster-wide pauses asked for by "
                     "Retry-After.\n"
                     "# TYPE reasonsaver_model_pauses_total counter\n"
                     "# HELP reasonsaver_model_paused Whether the model is paused now.\n"
                     "# TYPE reasonsaver_model_paused gauge\n");
    for (size_t i = 0; i < c->n; i++) {
        const model_conc_t *m = &c->m[i];
        const char *name = m->cfg->name;
        if (m->adaptive) {
            gauge(out, "reasonsaver_model_concurrency_cap", name, (long long)m->aimd.cap);
            gauge(out, "reasonsaver_model_concurrency_decreases_total", name,
                  (long long)m->aimd.decreases);
            gauge(out, "reasonsaver_model_concurrency_increases_total", name,
                  (long long)m->aimd.increases);
        }
        gauge(out, "reasonsaver_model_pauses_total", name, (long long)m->pauses);
        gauge(out, "reasonsaver_model_paused", name, m->pause_until > now_ms);
    }
}
