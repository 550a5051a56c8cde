/* chain: each case as a small state machine — requests out (HTTP or in-process sim), replies in,
 * graded and written as one result record (with its trace) when its last request is done. */
#include "chain.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "provider.h"
#include "trace.h"

/* One candidate's outcome. */
typedef struct cand {
    char *text;          /* NULL when it failed */
    char *finish_reason;
    char *error;         /* NULL on success */
    char error_type[32];
    int64_t input_tokens, output_tokens;
    double latency_ms;
} cand_t;

/* One model's part of a case. */
typedef struct model_run {
    cand_t *cands; /* m->n of them */
    int retries;
    wk_retry_count_t reasons[WK_HTTP_MAX_REASONS];
    size_t n_reasons;
} model_run_t;

typedef struct wk_case wk_case_t;

/* One request in flight: candidates k .. k+n-1 of one model, over HTTP (x) or, for sim, a timer
 * that stands for the simulated latency. */
typedef struct req {
    wk_case_t *cs;
    size_t model;
    int k, n;
    wk_xfer_t *x;
    wk_timer_t timer;
    double start_sec; /* rs_mono_sec at submission: the generate span starts there */
    struct req *prev, *next;
} req_t;

struct wk_case {
    wk_chain_t *ch;
    rs_case_t c;
    uint64_t task_id, lease;
    model_run_t *runs; /* one per model */
    req_t *reqs;       /* requests not done yet */
    wk_case_t *prev, *next;
    /* Span times are the wall clock at receipt plus the monotonic time since, so a clock step
     * during the case cannot put a child before its parent. */
    int64_t t0_us;
    double t0_sec;
    int64_t last_us;   /* the latest end among the spans so far */
    char trace_id[WK_TRACE_ID_HEX], root_id[WK_SPAN_ID_HEX];
    json_t *spans;     /* the trace so far; NULL when report.spans is off */
    json_t *root;      /* borrowed from spans */
    wk_call_t *calls;  /* every model call, for the usage summary */
    size_t n_calls, cap_calls;
};

struct wk_chain {
    rs_config_t *cfg;
    rs_scorer_t *scorer;
    wk_http_t *http;
    const rs_provider_t **prov; /* per model */
    unsigned char *warned;      /* per model: its missing key was logged once */
    char *run_id, *worker_id;
    uint64_t rng;               /* span ids */
    char **servers;             /* per model: server.address (NULL for sim) ... */
    long *ports;                /* ... and server.port */
    wk_case_t *active;
    size_t n_active;
    wk_done_t *done;
    size_t n_done, cap_done;
};

static void case_finish(wk_case_t *cs);

/* ---- life cycle ---- */

/* The host and port a model's requests go to, for the spans' server.address and server.port.
 * Taken from the URL by libcurl, so user:password in a base_url never reaches a span. */
static void model_server(const rs_provider_t *p, const rs_model_cfg_t *m, char **host, long *port)
{
    *host = NULL;
    *port = 0;
    if (p->simulate) return;
    char *url = rs_provider_url(p, m, ""), *h = NULL, *pt = NULL;
    CURLU *u = curl_url();
    int64_t v = 0;
    if (u && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK) {
        if (curl_url_get(u, CURLUPART_HOST, &h, 0) == CURLUE_OK) *host = rs_xstrdup(h);
        if (curl_url_get(u, CURLUPART_PORT, &pt, CURLU_DEFAULT_PORT) == CURLUE_OK &&
            rs_parse_i64(pt, &v) == 0)
            *port = (long)v;
    }
    curl_free(h);
    curl_free(pt);
    curl_url_cleanup(u);
    free(url);
}

wk_chain_t *wk_chain_new(const char *spec_json, const char *run_id, const char *worker_id,
                         wk_http_t *http, rs_err_t *err)
{
    rs_config_t *cfg = rs_config_from_json(spec_json, err);
    if (!cfg) return NULL;
    const rs_provider_t **prov = rs_xcalloc(cfg->n_models, sizeof(*prov));
    for (size_t m = 0; m < cfg->n_models; m++)
        if (!(prov[m] = rs_provider_find(cfg->models[m].provider))) {
            rs_err_set(err, "model %s: provider '%s' is unknown to this worker",
                       cfg->models[m].name, cfg->models[m].provider);
            free(prov);
            rs_config_destroy(&cfg);
            return NULL;
        }
    rs_scorer_t *sc = rs_scorer_new(&cfg->scoring, err);
    if (!sc) {
        free(prov);
        rs_config_destroy(&cfg);
        return NULL;
    }
    wk_chain_t *ch = rs_xcalloc(1, sizeof(*ch));
    ch->cfg = cfg;
    ch->scorer = sc;
    ch->http = http;
    ch->prov = prov;
    ch->warned = rs_xcalloc(cfg->n_models, 1);
    ch->run_id = rs_xstrdup(run_id);
    ch->worker_id = rs_xstrdup(worker_id);
    wk_trace_seed(&ch->rng);
    ch->servers = rs_xcalloc(cfg->n_models, sizeof(char *));
    ch->ports = rs_xcalloc(cfg->n_models, sizeof(long));
    for (size_t m = 0; m < cfg->n_models; m++)
        model_server(prov[m], &cfg->models[m], &ch->servers[m], &ch->ports[m]);
    return ch;
}

void wk_done_cleanup(wk_done_t *d)
{
    free(d->json);
    free(d->calls);
    d->json = NULL;
    d->calls = NULL;
    d->n_calls = 0;
}

static void cand_cleanup(cand_t *c)
{
    free(c->text);
    free(c->finish_reason);
    free(c->error);
}

/* Frees a case and aborts whatever it still has in flight. */
static void case_free(wk_case_t *cs)
{
    wk_chain_t *ch = cs->ch;
    while (cs->reqs) {
        req_t *r = cs->reqs;
        cs->reqs = r->next;
        if (r->x) wk_http_cancel(ch->http, r->x);
        wk_timerq_remove(wk_http_timers(ch->http), &r->timer);
        free(r);
    }
    for (size_t m = 0; m < ch->cfg->n_models; m++) {
        for (int64_t k = 0; k < ch->cfg->models[m].n; k++) cand_cleanup(&cs->runs[m].cands[k]);
        free(cs->runs[m].cands);
    }
    free(cs->runs);
    json_decref(cs->spans);
    free(cs->calls);
    rs_case_cleanup(&cs->c);
    if (cs->prev) cs->prev->next = cs->next;
    else ch->active = cs->next;
    if (cs->next) cs->next->prev = cs->prev;
    ch->n_active--;
    free(cs);
}

static void drop_done(wk_chain_t *ch, int all, uint64_t task_id, size_t *dropped)
{
    size_t j = 0;
    for (size_t i = 0; i < ch->n_done; i++) {
        if (all || ch->done[i].task_id == task_id) {
            wk_done_cleanup(&ch->done[i]);
            (*dropped)++;
        } else {
            ch->done[j++] = ch->done[i];
        }
    }
    ch->n_done = j;
}

size_t wk_chain_cancel(wk_chain_t *ch, int all, uint64_t task_id)
{
    size_t n = 0;
    for (wk_case_t *cs = ch->active, *next; cs; cs = next) {
        next = cs->next;
        if (all || cs->task_id == task_id) {
            case_free(cs);
            n++;
        }
    }
    drop_done(ch, all, task_id, &n);
    return n;
}

void wk_chain_destroy(wk_chain_t **chp)
{
    if (!chp || !*chp) return;
    wk_chain_t *ch = *chp;
    wk_chain_cancel(ch, 1, 0);
    free(ch->done);
    free(ch->prov);
    free(ch->warned);
    for (size_t m = 0; m < ch->cfg->n_models; m++) free(ch->servers[m]);
    free(ch->servers);
    free(ch->ports);
    free(ch->run_id);
    free(ch->worker_id);
    rs_scorer_destroy(&ch->scorer);
    rs_config_destroy(&ch->cfg);
    free(ch);
    *chp = NULL;
}

const rs_config_t *wk_chain_config(const wk_chain_t *ch)
{
    return ch->cfg;
}

size_t wk_chain_held(const wk_chain_t *ch)
{
    return ch->n_active + ch->n_done;
}

size_t wk_chain_n_done(const wk_chain_t *ch)
{
    return ch->n_done;
}

wk_done_t *wk_chain_take_done(wk_chain_t *ch, size_t *n)
{
    wk_done_t *d = ch->n_done ? ch->done : NULL;
    *n = ch->n_done;
    if (d) {
        ch->done = NULL;
        ch->n_done = ch->cap_done = 0;
    }
    return d;
}

/* ---- the trace and the calls ---- */

/* One model call as the trace and the usage summary see it. Strings are borrowed. */
typedef struct call_info {
    size_t model;
    int k, n;    /* the candidates it answers */
    int made;    /* a request went out (or the sim answered) */
    double start_sec, end_sec;
    int64_t input_tokens, output_tokens; /* the whole call's usage */
    double latency_ms;
    const char *finish_reasons; /* distinct values, comma-joined; NULL when none */
    const char *error_type;     /* NULL on success */
    const char *error;          /* the recorded (redacted) message */
    long status;                /* HTTP status of the last attempt; 0 for none */
    const wk_retry_event_t *events;
    int n_events;
} call_info_t;

static int64_t case_us(const wk_case_t *cs, double mono_sec)
{
    return cs->t0_us + (int64_t)((mono_sec - cs->t0_sec) * 1e6);
}

/* The root span "case", opened at receipt; its end and status are set by case_finish. */
static void open_trace(wk_case_t *cs)
{
    wk_chain_t *ch = cs->ch;
    wk_trace_trace_id(ch->run_id, cs->c.idx, cs->trace_id);
    wk_trace_span_id(&ch->rng, cs->root_id);
    cs->root = wk_span_new(cs->trace_id, cs->root_id, NULL, "case", "internal", cs->t0_us,
                           cs->t0_us);
    json_t *a = wk_span_attrs(cs->root);
    wk_attr_str(a, "reasonsaver.run.id", ch->run_id);
    wk_attr_str(a, "reasonsaver.case.id", cs->c.id);
    wk_attr_int(a, "reasonsaver.case.index", (int64_t)cs->c.idx);
    wk_attr_str(a, "reasonsaver.worker.id", ch->worker_id);
    wk_attr_int(a, "reasonsaver.task.id", (int64_t)cs->task_id);
    cs->spans = json_array();
    json_array_append_new(cs->spans, cs->root);
}

/* A child span of the root; its end moves the case's latest end. */
static json_t *child_span(wk_case_t *cs, const char *name, const char *kind, int64_t start,
                          int64_t end)
{
    char id[WK_SPAN_ID_HEX];
    wk_trace_span_id(&cs->ch->rng, id);
    if (end > cs->last_us) cs->last_us = end;
    json_t *s = wk_span_new(cs->trace_id, id, cs->root_id, name, kind, start, end);
    json_array_append_new(cs->spans, s);
    return s;
}

static void retry_event(const wk_case_t *cs, json_t *span, const wk_retry_event_t *e)
{
    json_t *a = json_object();
    wk_attr_int(a, "attempt", e->attempt);
    wk_attr_str(a, "reason", e->reason);
    if (e->status) wk_attr_int(a, "http.response.status_code", e->status);
    wk_attr_int(a, "delay_ms", e->delay_ms);
    wk_span_event(span, "retry", case_us(cs, e->at_sec), a);
}

/* The "generate" span of one call: OpenTelemetry GenAI attributes, never a prompt, an output, a
 * header or a key. */
static void generate_span(wk_case_t *cs, const call_info_t *ci)
{
    const wk_chain_t *ch = cs->ch;
    const rs_model_cfg_t *m = &ch->cfg->models[ci->model];
    json_t *s = child_span(cs, "generate", "client", case_us(cs, ci->start_sec),
                           case_us(cs, ci->end_sec));
    json_t *a = wk_span_attrs(s);
    wk_attr_str(a, "gen_ai.system", m->provider);
    wk_attr_str(a, "gen_ai.operation.name", "chat");
    wk_attr_str(a, "gen_ai.request.model", m->model);
    wk_attr_real(a, "gen_ai.request.temperature", m->temperature);
    wk_attr_real(a, "gen_ai.request.top_p", m->top_p);
    wk_attr_int(a, "gen_ai.request.max_tokens", m->max_tokens);
    wk_attr_int(a, "gen_ai.usage.input_tokens", ci->input_tokens);
    wk_attr_int(a, "gen_ai.usage.output_tokens", ci->output_tokens);
    wk_attr_str(a, "gen_ai.response.finish_reasons", ci->finish_reasons);
    wk_attr_str(a, "server.address", ch->servers[ci->model]);
    if (ch->ports[ci->model]) wk_attr_int(a, "server.port", ch->ports[ci->model]);
    if (ci->status) wk_attr_int(a, "http.response.status_code", ci->status);
    wk_attr_str(a, "reasonsaver.model", m->name);
    wk_attr_int(a, "reasonsaver.candidate", ci->k);
    wk_attr_int(a, "reasonsaver.candidates", ci->n);
    if (ci->error_type) {
        wk_attr_str(a, "error.type", ci->error_type);
        wk_span_error(s, ci->error);
    }
    for (int i = 0; i < ci->n_events; i++) retry_event(cs, s, &ci->events[i]);
}

/* Keeps a call for the usage summary and, with spans on, traces it. */
static void record_call(wk_case_t *cs, const call_info_t *ci)
{
    if (cs->n_calls == cs->cap_calls) {
        cs->cap_calls = cs->cap_calls ? 2 * cs->cap_calls : 4;
        cs->calls = rs_xrealloc(cs->calls, cs->cap_calls * sizeof(*cs->calls));
    }
    wk_call_t *c = &cs->calls[cs->n_calls++];
    c->model = (uint32_t)ci->model;
    c->made = ci->made;
    c->input_tokens = ci->input_tokens;
    c->output_tokens = ci->output_tokens;
    c->latency_ms = ci->latency_ms;
    snprintf(c->error_type, sizeof(c->error_type), "%s", ci->error_type ? ci->error_type : "");
    if (cs->spans) generate_span(cs, ci);
}

/* A call that failed before any request went out (no key, a body that cannot be built). */
static void record_refused(wk_case_t *cs, size_t model, int k, int n)
{
    const cand_t *c = &cs->runs[model].cands[k];
    double now = rs_mono_sec();
    call_info_t ci = {.model = model, .k = k, .n = n, .start_sec = now, .end_sec = now,
                      .error_type = c->error_type, .error = c->error};
    record_call(cs, &ci);
}

/* ---- requests ---- */

static req_t *req_new(wk_case_t *cs, size_t model, int k, int n)
{
    req_t *r = rs_xcalloc(1, sizeof(*r));
    r->cs = cs;
    r->model = model;
    r->k = k;
    r->n = n;
    r->next = cs->reqs;
    if (cs->reqs) cs->reqs->prev = r;
    cs->reqs = r;
    return r;
}

/* Retires r; the case finishes when it was its last request. */
static void req_done(req_t *r)
{
    wk_case_t *cs = r->cs;
    if (r->prev) r->prev->next = r->next;
    else cs->reqs = r->next;
    if (r->next) r->next->prev = r->prev;
    free(r);
    if (!cs->reqs) case_finish(cs);
}

/* The model's key from this worker's environment; NULL when the model names no variable. */
static const char *model_key(const rs_model_cfg_t *m)
{
    return m->api_key_env ? getenv(m->api_key_env) : NULL;
}

/* Marks candidates k .. k+n-1 failed. The message may quote a server, which may echo the key. */
static void fail_range(wk_case_t *cs, size_t model, int k, int n, const char *type,
                       const char *msg, double latency_ms)
{
    const rs_model_cfg_t *m = &cs->ch->cfg->models[model];
    for (int j = k; j < k + n; j++) {
        cand_t *c = &cs->runs[model].cands[j];
        free(c->error);
        c->error = rs_xstrdup(msg);
        rs_provider_redact(c->error, model_key(m));
        snprintf(c->error_type, sizeof(c->error_type), "%s", type);
        c->latency_ms = latency_ms;
    }
}

static void on_http(void *ud, const wk_http_done_t *d);

static void start_http(wk_case_t *cs, size_t model, int k, int n)
{
    wk_chain_t *ch = cs->ch;
    const rs_model_cfg_t *m = &ch->cfg->models[model];
    rs_chat_req_t cr = {m, &cs->c, k, n, model_key(m)};
    rs_http_req_t hr;
    rs_err_t err;
    if (ch->prov[model]->build_chat(&cr, &hr, &err) != 0) {
        fail_range(cs, model, k, n, "bad_request_body", err.msg, 0);
        record_refused(cs, model, k, n);
        return;
    }
    req_t *r = req_new(cs, model, k, n);
    r->start_sec = rs_mono_sec();
    r->x = wk_http_submit(ch->http, m, &hr, on_http, r);
}

static void on_sim_due(wk_timer_t *t)
{
    req_done(WK_CONTAINER_OF(t, req_t, timer));
}

/* The sim answers at once; its simulated latency is waited out on the worker's heap. */
static void start_sim(wk_case_t *cs, size_t model)
{
    wk_chain_t *ch = cs->ch;
    const rs_model_cfg_t *m = &ch->cfg->models[model];
    double slowest = 0, now = rs_mono_sec();
    for (int k = 0; k < (int)m->n; k++) {
        rs_sim_reply_t r;
        ch->prov[model]->simulate(m, &cs->c, k, &r);
        cand_t *c = &cs->runs[model].cands[k];
        c->text = r.text;
        c->error = r.error;
        if (r.failed) snprintf(c->error_type, sizeof(c->error_type), "sim_error");
        c->input_tokens = r.input_tokens;
        c->output_tokens = r.output_tokens;
        c->latency_ms = r.latency_ms;
        if (r.latency_ms > slowest) slowest = r.latency_ms;
        /* each candidate is a call of its own, lasting its simulated latency */
        call_info_t ci = {.model = model, .k = k, .n = 1, .made = 1, .start_sec = now,
                          .end_sec = now + r.latency_ms / 1000.0,
                          .input_tokens = r.input_tokens, .output_tokens = r.output_tokens,
                          .latency_ms = r.latency_ms, .error_type = r.failed ? "sim_error" : NULL,
                          .error = c->error};
        record_call(cs, &ci);
    }
    if (slowest <= 0) return;
    req_t *r = req_new(cs, model, 0, (int)m->n);
    wk_timerq_add(wk_http_timers(ch->http), &r->timer, rs_mono_ms() + (int64_t)slowest, on_sim_due);
}

static void start_model(wk_case_t *cs, size_t model)
{
    const rs_model_cfg_t *m = &cs->ch->cfg->models[model];
    const rs_provider_t *p = cs->ch->prov[model];
    if (p->simulate) {
        start_sim(cs, model);
        return;
    }
    const char *key = model_key(m);
    if (m->api_key_env && (!key || !*key)) {
        char msg[256];
        snprintf(msg, sizeof(msg), "model %s: $%s is not set in the worker's environment",
                 m->name, m->api_key_env);
        fail_range(cs, model, 0, (int)m->n, "no_key", msg, 0);
        record_refused(cs, model, 0, (int)m->n);
        if (!cs->ch->warned[model]) rs_warn("%s; its cases fail", msg);
        cs->ch->warned[model] = 1;
        return;
    }
    for (int k = 0; k < (int)m->n; k += p->max_choices)
        start_http(cs, model, k, (int)m->n - k < p->max_choices ? (int)m->n - k : p->max_choices);
}

void wk_chain_start(wk_chain_t *ch, uint64_t task_id, uint64_t lease, rs_case_t *c)
{
    wk_case_t *cs = rs_xcalloc(1, sizeof(*cs));
    cs->ch = ch;
    cs->c = *c;
    memset(c, 0, sizeof(*c));
    cs->task_id = task_id;
    cs->lease = lease;
    cs->t0_us = cs->last_us = wk_trace_wall_us();
    cs->t0_sec = rs_mono_sec();
    if (ch->cfg->report.spans) open_trace(cs);
    cs->runs = rs_xcalloc(ch->cfg->n_models, sizeof(model_run_t));
    cs->next = ch->active;
    if (ch->active) ch->active->prev = cs;
    ch->active = cs;
    ch->n_active++;
    for (size_t m = 0; m < ch->cfg->n_models; m++)
        cs->runs[m].cands = rs_xcalloc((size_t)ch->cfg->models[m].n, sizeof(cand_t));
    for (size_t m = 0; m < ch->cfg->n_models; m++) start_model(cs, m);
    if (!cs->reqs) case_finish(cs); /* nothing to wait for (sim without latency, no key, ...) */
}

/* ---- replies ---- */

static void add_retries(model_run_t *run, const wk_http_done_t *d)
{
    run->retries += d->retries;
    for (size_t i = 0; i < d->n_reasons; i++)
        wk_retry_count_add(run->reasons, &run->n_reasons, d->reasons[i].reason, d->reasons[i].n);
}

/* Which choice answers which of the request's n candidates: by its index when that is in range
 * and unused; a one-choice request takes the first choice whatever its index says. */
static void map_choices(const rs_chat_resp_t *resp, int n, int *slot_of)
{
    unsigned char *used = rs_xcalloc((size_t)n, 1);
    for (size_t i = 0; i < resp->n_choices; i++) {
        int at = resp->choices[i].index;
        slot_of[i] = -1;
        if (n == 1 && i == 0) at = 0;
        if (at >= 0 && at < n && !used[at]) slot_of[i] = at, used[at] = 1;
    }
    free(used);
}

static void take_choices(wk_case_t *cs, req_t *r, rs_chat_resp_t *resp, double latency_ms)
{
    const rs_model_cfg_t *m = &cs->ch->cfg->models[r->model];
    int *slot_of = rs_xcalloc(resp->n_choices, sizeof(int));
    unsigned char *got = rs_xcalloc((size_t)r->n, 1);
    map_choices(resp, r->n, slot_of);
    int64_t taken = 0;
    for (size_t i = 0; i < resp->n_choices; i++) taken += slot_of[i] >= 0;
    int first = 1;
    for (size_t i = 0; i < resp->n_choices; i++) {
        if (slot_of[i] < 0) continue;
        cand_t *c = &cs->runs[r->model].cands[r->k + slot_of[i]];
        c->text = resp->choices[i].text;
        c->finish_reason = resp->choices[i].finish_reason;
        resp->choices[i].text = resp->choices[i].finish_reason = NULL;
        rs_provider_redact(c->text, model_key(m));
        c->latency_ms = latency_ms;
        /* usage covers the whole request: input once, output shared */
        c->input_tokens = first ? resp->input_tokens : 0;
        c->output_tokens = resp->output_tokens / taken + (first ? resp->output_tokens % taken : 0);
        got[slot_of[i]] = 1;
        first = 0;
    }
    /* fewer choices than asked for (servers that ignore n): ask for the rest one by one */
    for (int j = 0; j < r->n; j++)
        if (!got[j]) start_http(cs, r->model, r->k + j, 1);
    free(got);
    free(slot_of);
}

/* 1 when the comma-separated list holds item. */
static int list_has(const char *list, const char *item)
{
    size_t len = strlen(item);
    for (const char *p = list; p; p = strchr(p, ',')) {
        if (*p == ',') p++;
        if (strncmp(p, item, len) == 0 && (p[len] == ',' || p[len] == '\0')) return 1;
    }
    return 0;
}

/* The distinct finish reasons of a response, comma-joined in order of first appearance (one
 * per choice would make a 128-choice span long for nothing). */
static void finish_reasons(const rs_chat_resp_t *resp, rs_buf_t *out)
{
    for (size_t i = 0; i < resp->n_choices; i++) {
        const char *f = resp->choices[i].finish_reason;
        if (!f || !*f || strchr(f, ',') || list_has(out->data, f)) continue;
        if (out->len) rs_buf_putc(out, ',');
        rs_buf_puts(out, f);
    }
}

/* Marks the call's candidates failed; the call reports the recorded (redacted) message. */
static void fail_call(wk_case_t *cs, const req_t *r, call_info_t *ci, const char *type,
                      const char *msg)
{
    fail_range(cs, r->model, r->k, r->n, type, msg, ci->latency_ms);
    const cand_t *c = &cs->runs[r->model].cands[r->k];
    ci->error_type = c->error_type;
    ci->error = c->error;
}

/* A 2xx response: its choices go to the candidates, its usage and finish reasons to the call. */
static void take_response(wk_case_t *cs, req_t *r, const wk_http_done_t *d, call_info_t *ci,
                          rs_buf_t *fin)
{
    const rs_model_cfg_t *m = &cs->ch->cfg->models[r->model];
    rs_chat_resp_t resp;
    rs_err_t err;
    if (cs->ch->prov[r->model]->parse_chat(d->body, d->body_len, &resp, &err) != 0) {
        rs_failure_t f;
        rs_provider_bad_response(m, err.msg, d->body, d->body_len, &f);
        fail_call(cs, r, ci, f.reason, f.message);
        return;
    }
    ci->input_tokens = resp.input_tokens;
    ci->output_tokens = resp.output_tokens;
    finish_reasons(&resp, fin);
    ci->finish_reasons = fin->len ? fin->data : NULL;
    take_choices(cs, r, &resp, d->latency_ms);
    rs_chat_resp_cleanup(&resp);
}

static void on_http(void *ud, const wk_http_done_t *d)
{
    req_t *r = ud;
    wk_case_t *cs = r->cs;
    r->x = NULL;
    add_retries(&cs->runs[r->model], d);
    call_info_t ci = {.model = r->model, .k = r->k, .n = r->n, .made = 1,
                      .start_sec = r->start_sec, .end_sec = rs_mono_sec(),
                      .latency_ms = d->latency_ms, .status = d->status, .events = d->events,
                      .n_events = d->retries};
    rs_buf_t fin;
    rs_buf_init(&fin);
    if (d->ok) take_response(cs, r, d, &ci, &fin);
    else fail_call(cs, r, &ci, d->fail->reason, d->fail->message);
    record_call(cs, &ci);
    rs_buf_cleanup(&fin);
    req_done(r);
}

/* ---- the record ---- */

static const char *VERDICT_NAMES[] = {"wrong", "correct", "skipped"};

static json_t *str_or_null(const char *s)
{
    return s ? json_string(s) : json_null();
}

static json_t *grades_json(const wk_chain_t *ch, const rs_case_t *c, const char *output,
                           const char *extracted)
{
    json_t *g = json_object();
    for (size_t i = 0; i < ch->cfg->scoring.n_graders; i++) {
        const char *v = "error";
        if (output)
            v = VERDICT_NAMES[rs_scorer_grade(ch->scorer, i, output, extracted, c->targets,
                                              c->n_targets)];
        json_object_set_new(g, ch->cfg->scoring.graders[i].name, json_string(v));
    }
    return g;
}

static json_t *candidate_json(const wk_chain_t *ch, const rs_case_t *c, int k, const cand_t *cd)
{
    const char *text = cd->error ? NULL : cd->text;
    char *extracted = text ? rs_scorer_extract(ch->scorer, text) : NULL;
    json_t *o = json_object();
    json_object_set_new(o, "k", json_integer(k));
    /* jansson refuses text that is not UTF-8: such an output is recorded as null */
    json_object_set_new(o, "output", str_or_null(text));
    json_object_set_new(o, "extracted", str_or_null(extracted));
    json_object_set_new(o, "grades", grades_json(ch, c, text, extracted));
    json_object_set_new(o, "latency_ms", json_real(cd->latency_ms));
    json_object_set_new(o, "input_tokens", json_integer((json_int_t)cd->input_tokens));
    json_object_set_new(o, "output_tokens", json_integer((json_int_t)cd->output_tokens));
    json_object_set_new(o, "finish_reason", str_or_null(cd->finish_reason));
    json_object_set_new(o, "error", str_or_null(cd->error));
    json_object_set_new(o, "error_type", cd->error ? json_string(cd->error_type) : json_null());
    free(extracted);
    return o;
}

/* One model's part of the record; *failed is set when its first candidate failed. */
static json_t *model_json(const wk_case_t *cs, size_t model, int *failed)
{
    const wk_chain_t *ch = cs->ch;
    const rs_model_cfg_t *m = &ch->cfg->models[model];
    const model_run_t *run = &cs->runs[model];
    json_t *cands = json_array(), *reasons = json_object();
    for (int k = 0; k < (int)m->n; k++)
        json_array_append_new(cands, candidate_json(ch, &cs->c, k, &run->cands[k]));
    for (size_t i = 0; i < run->n_reasons; i++)
        json_object_set_new(reasons, run->reasons[i].reason, json_integer(run->reasons[i].n));
    /* the model's verdict is its first candidate's: if that call failed, the model failed */
    const cand_t *first = &run->cands[0];
    if (first->error) *failed = 1;
    json_t *o = json_object();
    json_object_set_new(o, "model", json_string(m->name));
    json_object_set_new(o, "provider", json_string(m->provider));
    json_object_set_new(o, "simulated", json_boolean(strcmp(m->provider, "sim") == 0));
    json_object_set_new(o, "error", str_or_null(first->error));
    json_object_set_new(o, "error_type",
                        first->error ? json_string(first->error_type) : json_null());
    json_object_set_new(o, "retries", json_integer(run->retries));
    json_object_set_new(o, "retry_reasons", reasons);
    json_object_set_new(o, "candidates", cands);
    return o;
}

static json_t *strings_json(char *const *s, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++) json_array_append_new(a, json_string(s[i]));
    return a;
}

static void push_done(wk_chain_t *ch, const wk_done_t *d)
{
    if (ch->n_done == ch->cap_done) {
        ch->cap_done = ch->cap_done ? 2 * ch->cap_done : 64;
        ch->done = rs_xrealloc(ch->done, ch->cap_done * sizeof(*ch->done));
    }
    ch->done[ch->n_done++] = *d;
}

/* The "score" span of one model: extraction and grading of its candidates, with its verdicts
 * (the first candidate's, as in the record). Starts no earlier than the calls it grades ended
 * (a sim's latency timer has millisecond resolution). */
static void score_span(wk_case_t *cs, size_t model, json_t *mj, double t0, double t1)
{
    int64_t start = case_us(cs, t0);
    if (start < cs->last_us) start = cs->last_us;
    json_t *s = child_span(cs, "score", "internal", start, start + (int64_t)((t1 - t0) * 1e6));
    json_t *a = wk_span_attrs(s);
    wk_attr_str(a, "reasonsaver.model", cs->ch->cfg->models[model].name);
    json_t *first = json_array_get(json_object_get(mj, "candidates"), 0);
    const char *grader;
    json_t *verdict;
    json_object_foreach(json_object_get(first, "grades"), grader, verdict) {
        char key[160];
        snprintf(key, sizeof(key), "reasonsaver.grade.%s", grader);
        json_object_set(a, key, verdict);
    }
    wk_attr_str(a, "reasonsaver.extracted", json_string_value(json_object_get(first, "extracted")));
}

/* Closes the root span: it ends with the last of its children, in error when a model failed. */
static void close_trace(wk_case_t *cs, json_t *models)
{
    int64_t end = case_us(cs, rs_mono_sec());
    json_object_set_new(cs->root, "end_us", json_integer(end > cs->last_us ? end : cs->last_us));
    size_t i;
    json_t *m;
    json_array_foreach(models, i, m) {
        const char *type = json_string_value(json_object_get(m, "error_type"));
        if (!type) continue;
        char msg[160];
        snprintf(msg, sizeof(msg), "model %s failed: %s",
                 json_string_value(json_object_get(m, "model")), type);
        wk_span_error(cs->root, msg);
        break;
    }
}

static void case_finish(wk_case_t *cs)
{
    wk_chain_t *ch = cs->ch;
    wk_done_t d = {.task_id = cs->task_id, .lease = cs->lease, .idx = cs->c.idx};
    json_t *models = json_array();
    for (size_t m = 0; m < ch->cfg->n_models; m++) {
        double t0 = rs_mono_sec();
        json_t *mj = model_json(cs, m, &d.failed);
        json_array_append_new(models, mj);
        if (cs->spans) score_span(cs, m, mj, t0, rs_mono_sec());
    }
    json_t *rec = json_pack("{sIsssososo}", "idx", (json_int_t)cs->c.idx, "id", cs->c.id, "tags",
                            strings_json(cs->c.tags, cs->c.n_tags), "targets",
                            strings_json(cs->c.targets, cs->c.n_targets), "models", models);
    if (cs->spans) {
        close_trace(cs, models);
        json_object_set_new(rec, "spans", cs->spans);
        cs->spans = NULL;
    }
    d.json = json_dumps(rec, JSON_COMPACT | JSON_PRESERVE_ORDER);
    d.json_len = strlen(d.json);
    json_decref(rec);
    d.calls = cs->calls, d.n_calls = cs->n_calls;
    cs->calls = NULL;
    push_done(ch, &d);
    case_free(cs);
}
