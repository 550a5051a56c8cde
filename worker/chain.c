/* chain: each case as a small state machine over model calls (HTTP or in-process sim). Each
 * candidate moves on by itself: generated, graded, critiqued by every judge, revised after the
 * revise judge's critique and graded again, round after round; when the case's last call is done
 * its record (with strategies and trace) is written. */
#include "chain.h"

#include <curl/curl.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "critique.h"
#include "embed.h"
#include "embedcall.h"
#include "execgrade.h"
#include "jsonw.h"
#include "log.h"
#include "provider.h"
#include "rank.h"
#include "trace.h"

/* What a response said about itself beyond the answer (docs/PROVIDERS.md, "What comes back"):
 * heap strings or NULL, recorded only when present so that other records stay as they were. */
enum { WK_SPARE_SPANS = 128 }; /* span buffers kept for reuse (wk_chain_t.spare) */

typedef struct call_meta {
    char *thinking;     /* the reasoning text: recorded, never graded or extracted */
    char *served_model; /* the response's model */
    char *fingerprint;  /* its system_fingerprint */
    int64_t reasoning_tokens; /* this answer's share of the call's (part of output_tokens) */
} call_meta_t;

static void meta_cleanup(call_meta_t *m)
{
    free(m->thinking);
    free(m->served_model);
    free(m->fingerprint);
    memset(m, 0, sizeof(*m));
}
typedef struct wk_case wk_case_t;

/* An exec grader's grading of one answer (docs/GRADERS.md): the job while its process works on
 * it, then what it said. */
typedef struct exec_grade {
    wk_case_t *cs;       /* the answer it grades: round of candidate k of model */
    size_t model, g;     /* g: the grader */
    int k, round;
    wk_exec_job_t *job;  /* in flight; NULL once answered (or never sent) */
    int done;
    double score;        /* NaN when none */
    char *reason;
    char error_type[24]; /* "" for a verdict */
    double latency_ms;   /* the process's time on it */
    double start_sec;    /* submitted: its "grade" span starts there (a wait for a process too) */
} exec_grade_t;

/* One answer of a candidate: its generation (round 0) or its revision r. */
typedef struct answer {
    char *text;          /* NULL when it failed */
    char *finish_reason;
    char *error;         /* NULL on success */
    char error_type[32];
    int64_t input_tokens, output_tokens;
    call_meta_t meta;
    double latency_ms;
    int settled;            /* its call ended, well or not */
    int cached;             /* the response cache answered its call */
    char *extracted;        /* graded: the normalised answer, or NULL */
    const char *extract_why; /* static: why extraction could not decide ("match limit reached") */
    unsigned char *grades;  /* graded: per grader (judge graders are filled by the record) */
    exec_grade_t *exec;     /* graded with exec graders: per grader (others unused); else NULL */
    size_t n_exec;          /* entries of exec (the run's graders) */
    int exec_pending;       /* exec graders still to answer; the chain waits for them */
} answer_t;

/* One judge's critique of one answer. */
typedef struct crit {
    int started;
    char *text;          /* NULL when the call failed */
    char *error;
    char error_type[32];
    wk_verdict_t v;
    int64_t input_tokens, output_tokens; /* the judge's call */
    call_meta_t meta;
    double latency_ms;
    int cached; /* the response cache answered it */
} crit_t;

/* One candidate's chain. Critique slots: judge j's of the generation at j, then the revise
 * judge's of revision r (1 .. rounds - 1: the last revision drives nothing) at n_judges + r - 1. */
typedef struct cand {
    answer_t *ans; /* 1 + revise.rounds: [0] the generation, [r] revision r */
    crit_t *crits;
    float *vec;    /* the generation's embedding, for consensus; NULL when unused */
    int ready;     /* the generation settled and its chain began */
} cand_t;

/* One model's part of a case. */
typedef struct model_run {
    cand_t *cands; /* m->n of them */
    int retries;   /* every call this model made in the case: generate, critique, revise */
    wk_retry_count_t reasons[WK_HTTP_MAX_REASONS];
    size_t n_reasons;
} model_run_t;

typedef enum req_kind {
    REQ_GENERATE = 0, /* candidates k .. k+n-1 of model */
    REQ_CRITIQUE,     /* judge critiques answer `round` of candidate k of model */
    REQ_REVISE,       /* model writes revision `round` of its candidate k */
    REQ_EMBED,        /* the remote embedder embeds the case's texts (case_embed_t) */
} req_kind_t;

/* One call in flight: over HTTP (x) or, for sim, a timer that stands for the simulated latency
 * (a sim critique or revision keeps its reply in sim until then). */
typedef struct req {
    wk_case_t *cs;
    req_kind_t kind;
    size_t model; /* the candidates' model */
    int k, n;
    size_t judge;
    int round;
    wk_xfer_t *x;
    wk_timer_t timer;
    rs_sim_reply_t sim;
    double start_sec; /* rs_mono_sec at submission: the call's span starts there */
    struct req *prev, *next;
} req_t;

/* One text of a case's embeddings call: an answer (round of candidate cd), or a target. */
typedef struct embed_item {
    cand_t *cd;     /* NULL for a target */
    int round;
    size_t target;  /* a target's index */
} embed_item_t;

/* The case's call to the remote embedder, made once every other call is done. */
typedef struct case_embed {
    int started;
    embed_item_t *items;
    size_t n_items;
    size_t dim;          /* of the vectors that came back; 0 before or without them */
    int64_t input_tokens;
    int retries;
    double latency_ms;
    char *error;         /* NULL on success */
    char error_type[32];
    int cached;          /* the response cache answered it */
} case_embed_t;

struct wk_case {
    wk_chain_t *ch;
    rs_case_t c;
    uint64_t task_id, lease;
    model_run_t *runs; /* one per model */
    req_t *reqs;       /* requests not done yet */
    float *target_vecs; /* the targets' embeddings (embed_sim), made on first use */
    int targets_embedded;
    case_embed_t emb;   /* the remote embedder's call (unused with the hash embedder) */
    size_t hash_inputs; /* texts the hash embedder embedded, and the time it took: one "embed" */
    double hash_sec;    /* span for the case (worker time, not a call) */
    wk_case_t *prev, *next;
    /* Span times are the wall clock at receipt plus the monotonic time since, so a clock step
     * during the case cannot put a child before its parent. */
    int64_t t0_us;
    double t0_sec;
    int64_t last_us;   /* the latest end among the spans so far */
    char trace_id[WK_TRACE_ID_HEX], root_id[WK_SPAN_ID_HEX];
    int traced;        /* report.spans is on */
    rs_buf_t spans;    /* the child spans' text so far, each after a ','; the root span is
                        * written last (its end and status come last), in front of them */
    wk_call_t *calls;  /* every model call, for the usage summary */
    size_t n_calls, cap_calls;
    size_t exec_pending; /* exec gradings in flight over all its answers */
};

struct wk_chain {
    rs_config_t *cfg;
    rs_scorer_t *scorer;
    wk_critique_t *critique;
    rs_embedder_t *embedder;    /* the hash embedder, in-process; NULL when remote or unused */
    wk_execgrade_t *exec;       /* the exec graders' processes; NULL when the run has none */
    wk_embedcall_t *remote;     /* the openai embedder, one call per case; NULL otherwise */
    int embed_gen;              /* the generations are embedded: consensus or embed_sim */
    int embed_sim;              /* some grader is embed_sim: revisions and targets embedded too */
    size_t n_crits;             /* critique slots per candidate */
    wk_http_t *http;
    const wk_envguard_t *env;   /* the only way to a key */
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
    /* Span buffers of finished cases, for the next ones: a trace is a few KiB, and a fresh block
     * that size from malloc for every case was 4% of a worker's time. */
    rs_buf_t spare[WK_SPARE_SPANS];
    size_t n_spare;
};

static void case_finish(wk_case_t *cs);
static void case_settled(wk_case_t *cs);

/* ---- life cycle ---- */

/* The host and port a model's requests go to, for the spans' server.address and server.port.
 * Taken from the URL by libcurl, so user:password in a base_url never reaches a span. */
static void model_server(const rs_provider_t *p, const rs_model_cfg_t *m, char **host, long *port)
{
    *host = NULL;
    *port = 0;
    if (p->simulate) return;
    char *url = rs_provider_url(p, m, "");
    wk_http_url_server(url, host, port);
    free(url);
}

/* The embeddings behind consensus and embed_sim: the hash embedder in-process, or a remote
 * openai embedder called once per case when the case's other calls are done. */
static int setup_embedding(wk_chain_t *ch, rs_err_t *err)
{
    const rs_config_t *cfg = ch->cfg;
    rs_embeds_t embeds = rs_config_embeds(cfg);
    ch->embed_sim = embeds == RS_EMBEDS_ALL;
    ch->embed_gen = embeds != RS_EMBEDS_NONE;
    if (!ch->embed_gen) return 0;
    if (cfg->embedder.type == RS_EMBEDDER_HASH) {
        ch->embedder = rs_embedder_new_hash(cfg->embedder.dim > 0 ? (size_t)cfg->embedder.dim : 0);
        return 0;
    }
    ch->remote = wk_embedcall_new(&cfg->embedder, ch->env, err);
    return ch->remote ? 0 : -1;
}

static int find_providers(const rs_config_t *cfg, const rs_provider_t **prov, rs_err_t *err)
{
    for (size_t m = 0; m < cfg->n_models; m++)
        if (!(prov[m] = rs_provider_find(cfg->models[m].provider)))
            return rs_err_set(err, "model %s: provider '%s' is unknown to this worker",
                              cfg->models[m].name, cfg->models[m].provider);
    return 0;
}

wk_chain_t *wk_chain_new(const char *spec_json, const char *run_id, const char *worker_id,
                         wk_http_t *http, const wk_envguard_t *env, rs_err_t *err)
{
    rs_config_t *cfg = rs_config_from_json(spec_json, err);
    if (!cfg) return NULL;
    if (wk_envguard_check(env, cfg, err) != 0) {
        rs_config_destroy(&cfg);
        return NULL;
    }
    const rs_provider_t **prov = rs_xcalloc(cfg->n_models, sizeof(*prov));
    rs_scorer_t *sc = NULL;
    wk_critique_t *cq = NULL;
    if (find_providers(cfg, prov, err) != 0 || !(sc = rs_scorer_new(&cfg->scoring, err)) ||
        !(cq = wk_critique_new(cfg, err))) {
        rs_scorer_destroy(&sc);
        free(prov);
        rs_config_destroy(&cfg);
        return NULL;
    }
    wk_chain_t *ch = rs_xcalloc(1, sizeof(*ch));
    ch->cfg = cfg;
    ch->scorer = sc;
    ch->critique = cq;
    ch->n_crits = cfg->n_judges + (cfg->revise.rounds > 1 ? (size_t)cfg->revise.rounds - 1 : 0);
    ch->http = http;
    ch->env = env;
    ch->prov = prov;
    ch->warned = rs_xcalloc(cfg->n_models, 1);
    ch->run_id = rs_xstrdup(run_id);
    ch->worker_id = rs_xstrdup(worker_id);
    wk_trace_seed(&ch->rng);
    ch->servers = rs_xcalloc(cfg->n_models, sizeof(char *));
    ch->ports = rs_xcalloc(cfg->n_models, sizeof(long));
    for (size_t m = 0; m < cfg->n_models; m++)
        model_server(prov[m], &cfg->models[m], &ch->servers[m], &ch->ports[m]);
    ch->exec = wk_execgrade_new(&cfg->scoring, env, wk_http_timers(http));
    wk_http_set_exec(http, ch->exec);
    if (setup_embedding(ch, err) != 0) wk_chain_destroy(&ch);
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

static void answer_cleanup(const wk_chain_t *ch, answer_t *a)
{
    for (size_t g = 0; g < a->n_exec; g++) {
        if (a->exec[g].job) wk_execgrade_cancel(ch->exec, a->exec[g].job);
        free(a->exec[g].reason);
    }
    free(a->exec);
    free(a->text);
    free(a->finish_reason);
    free(a->error);
    free(a->extracted);
    free(a->grades);
    meta_cleanup(&a->meta);
}

static void cand_cleanup(const wk_chain_t *ch, cand_t *c)
{
    for (int64_t r = 0; r <= ch->cfg->revise.rounds; r++) answer_cleanup(ch, &c->ans[r]);
    for (size_t i = 0; i < ch->n_crits; i++) {
        free(c->crits[i].text);
        free(c->crits[i].error);
        meta_cleanup(&c->crits[i].meta);
    }
    free(c->ans);
    free(c->crits);
    free(c->vec);
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
        rs_sim_reply_cleanup(&r->sim);
        free(r);
    }
    for (size_t m = 0; m < ch->cfg->n_models; m++) {
        for (int64_t k = 0; k < ch->cfg->models[m].n; k++) cand_cleanup(ch, &cs->runs[m].cands[k]);
        free(cs->runs[m].cands);
    }
    free(cs->runs);
    free(cs->target_vecs);
    free(cs->emb.items);
    free(cs->emb.error);
    if (cs->traced && ch->n_spare < WK_SPARE_SPANS) {
        rs_buf_reset(&cs->spans);
        ch->spare[ch->n_spare++] = cs->spans;
    } else {
        rs_buf_cleanup(&cs->spans);
    }
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
    if (wk_http_exec(ch->http) == ch->exec) wk_http_set_exec(ch->http, NULL);
    wk_execgrade_destroy(&ch->exec);
    free(ch->done);
    while (ch->n_spare) rs_buf_cleanup(&ch->spare[--ch->n_spare]);
    free(ch->prov);
    free(ch->warned);
    for (size_t m = 0; m < ch->cfg->n_models; m++) free(ch->servers[m]);
    free(ch->servers);
    free(ch->ports);
    free(ch->run_id);
    free(ch->worker_id);
    rs_embedder_destroy(&ch->embedder);
    wk_embedcall_destroy(&ch->remote);
    wk_critique_destroy(&ch->critique);
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

size_t wk_chain_running(const wk_chain_t *ch)
{
    return ch->n_active;
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
    req_kind_t kind;
    size_t model;   /* the model that was called (a critique's: the judge's model) */
    size_t cand_model;
    int k, n;       /* the candidates it answers or judges */
    size_t judge;   /* critique: which judge */
    int round;      /* critique: the answer judged; revise: the revision written */
    int made;       /* a request went out (or the sim answered) */
    int cache;      /* WK_CACHE_HIT (then made is 0), WK_CACHE_MISS or 0 (usage.h) */
    double start_sec, end_sec;
    int64_t input_tokens, output_tokens; /* the whole call's usage */
    double latency_ms;
    const char *finish_reasons; /* distinct values, comma-joined; NULL when none */
    const char *served_model;   /* the response's model; NULL when it said none */
    int64_t reasoning_tokens;   /* the whole call's; 0 when the server did not say */
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

/* The trace opens at receipt (a wait in the backlog comes before its first call) with the ids
 * of the case and of its root span "case"; the root is written by case_finish. */
static void open_trace(wk_case_t *cs)
{
    wk_chain_t *ch = cs->ch;
    wk_trace_trace_id(ch->run_id, cs->c.idx, cs->trace_id);
    wk_trace_span_id(&ch->rng, cs->root_id);
    cs->traced = 1;
    if (ch->n_spare) cs->spans = ch->spare[--ch->n_spare];
    else rs_buf_reserve(&cs->spans, 2048); /* a case's spans at once, not in doublings from 64 */
}

/* Begins a child span of the root (the caller ends it); its end moves the case's latest end. */
static void child_span(wk_case_t *cs, wk_span_t *s, const char *name, const char *kind,
                       int64_t start, int64_t end)
{
    char id[WK_SPAN_ID_HEX];
    wk_trace_span_id(&cs->ch->rng, id);
    if (end > cs->last_us) cs->last_us = end;
    rs_buf_putc(&cs->spans, ',');
    wk_span_begin(s, &cs->spans, cs->trace_id, id, cs->root_id, name, kind, start, end);
}

static void retry_event(const wk_case_t *cs, wk_span_t *s, const wk_retry_event_t *e)
{
    wk_span_event_begin(s, "retry", case_us(cs, e->at_sec));
    wk_attr_int(s, "attempt", e->attempt);
    wk_attr_str(s, "reason", e->reason);
    if (e->status) wk_attr_int(s, "http.response.status_code", e->status);
    wk_attr_int(s, "delay_ms", e->delay_ms);
    wk_span_event_end(s);
}

static const char *const CALL_SPAN[] = {"generate", "critique", "revise"};

/* What a critique or revision span adds: which chain step it was. */
static void chain_attrs(const wk_case_t *cs, wk_span_t *a, const call_info_t *ci)
{
    const rs_config_t *cfg = cs->ch->cfg;
    if (ci->kind == REQ_GENERATE) return;
    wk_attr_int(a, "reasonsaver.round", ci->round);
    if (ci->kind != REQ_CRITIQUE) return;
    wk_attr_str(a, "reasonsaver.judge", cfg->judges[ci->judge].name);
    wk_attr_str(a, "reasonsaver.judged_model", cfg->models[ci->cand_model].name);
}

/* The span of one call ("generate", "critique" or "revise"): OpenTelemetry GenAI attributes,
 * never a prompt, an output, a header or a key. */
static void call_span(wk_case_t *cs, const call_info_t *ci)
{
    const wk_chain_t *ch = cs->ch;
    const rs_model_cfg_t *m = &ch->cfg->models[ci->model];
    wk_span_t span, *a = &span;
    child_span(cs, a, CALL_SPAN[ci->kind], "client", case_us(cs, ci->start_sec),
               case_us(cs, ci->end_sec));
    wk_attr_str(a, "gen_ai.system", m->provider);
    wk_attr_str(a, "gen_ai.operation.name", "chat");
    wk_attr_str(a, "gen_ai.request.model", m->model);
    /* only what the request carried: an unset parameter is not sent (docs/PROVIDERS.md) */
    if (!isnan(m->temperature)) wk_attr_real(a, "gen_ai.request.temperature", m->temperature);
    if (!isnan(m->top_p)) wk_attr_real(a, "gen_ai.request.top_p", m->top_p);
    int64_t max = m->max_completion_tokens ? m->max_completion_tokens : rs_provider_max_tokens(m);
    if (max) wk_attr_int(a, "gen_ai.request.max_tokens", max);
    wk_attr_int(a, "gen_ai.usage.input_tokens", ci->input_tokens);
    wk_attr_int(a, "gen_ai.usage.output_tokens", ci->output_tokens);
    if (ci->reasoning_tokens)
        wk_attr_int(a, "reasonsaver.usage.reasoning_tokens", ci->reasoning_tokens);
    wk_attr_str(a, "gen_ai.response.finish_reasons", ci->finish_reasons);
    wk_attr_str(a, "gen_ai.response.model", ci->served_model);
    wk_attr_str(a, "server.address", ch->servers[ci->model]);
    if (ch->ports[ci->model]) wk_attr_int(a, "server.port", ch->ports[ci->model]);
    if (ci->status) wk_attr_int(a, "http.response.status_code", ci->status);
    wk_attr_str(a, "reasonsaver.model", m->name);
    wk_attr_int(a, "reasonsaver.candidate", ci->k);
    wk_attr_int(a, "reasonsaver.candidates", ci->n);
    if (ci->cache == WK_CACHE_HIT) wk_attr_true(a, "reasonsaver.cached");
    chain_attrs(cs, a, ci);
    if (ci->error_type) {
        wk_attr_str(a, "error.type", ci->error_type);
        wk_span_error(a, ci->error);
    }
    for (int i = 0; i < ci->n_events; i++) retry_event(cs, a, &ci->events[i]);
    wk_span_end(a);
}

/* Keeps a call for the usage summary. model: the config's index, n_models for the embedder. */
static void keep_call(wk_case_t *cs, size_t model, int made, int64_t input_tokens,
                      int64_t output_tokens, double latency_ms, int stage, const char *error_type,
                      int cache)
{
    if (cs->n_calls == cs->cap_calls) {
        cs->cap_calls = cs->cap_calls ? 2 * cs->cap_calls : 4;
        cs->calls = rs_xrealloc(cs->calls, cs->cap_calls * sizeof(*cs->calls));
    }
    wk_call_t *c = &cs->calls[cs->n_calls++];
    *c = (wk_call_t){.model = (uint32_t)model, .made = made, .input_tokens = input_tokens,
                     .output_tokens = output_tokens, .latency_ms = latency_ms, .stage = stage,
                     .cache = cache};
    /* most calls succeed: skip snprintf's cost then (c is zeroed) */
    if (error_type) snprintf(c->error_type, sizeof(c->error_type), "%s", error_type);
}

/* Keeps a call for the usage summary and, with spans on, traces it. */
static void record_call(wk_case_t *cs, const call_info_t *ci)
{
    keep_call(cs, ci->model, ci->made, ci->input_tokens, ci->output_tokens, ci->latency_ms,
              (int)ci->kind, ci->error_type, ci->cache);
    if (cs->traced) call_span(cs, ci);
}

/* ---- requests ---- */

/* The model a call goes to: a critique's is its judge's, the others' the candidates' own. */
static size_t call_model(const wk_chain_t *ch, req_kind_t kind, size_t model, size_t judge)
{
    return kind == REQ_CRITIQUE ? ch->cfg->judges[judge].model_idx : model;
}

static call_info_t call_info_of(const wk_case_t *cs, const req_t *r)
{
    return (call_info_t){.kind = r->kind, .model = call_model(cs->ch, r->kind, r->model, r->judge),
                         .cand_model = r->model, .k = r->k, .n = r->n, .judge = r->judge,
                         .round = r->round};
}

/* A new request like spec (kind, model, k, n, judge, round), linked into its case. */
static req_t *req_new(wk_case_t *cs, const req_t *spec)
{
    req_t *r = rs_xcalloc(1, sizeof(*r));
    r->cs = cs;
    r->kind = spec->kind;
    r->model = spec->model;
    r->k = spec->k;
    r->n = spec->n;
    r->judge = spec->judge;
    r->round = spec->round;
    r->start_sec = rs_mono_sec();
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
    rs_sim_reply_cleanup(&r->sim);
    free(r);
    if (!cs->reqs) case_settled(cs);
}

/* The model's key from this worker's environment; NULL when the model names no variable (or,
 * never after wk_chain_new's check, one that --allow-env does not allow). */
static const char *model_key(const wk_chain_t *ch, const rs_model_cfg_t *m)
{
    return wk_envguard_getenv(ch->env, m->api_key_env);
}

/* The no_key message of a model whose variable is unset, logged once per model. 1 when the key
 * is missing (msg filled), 0 when the call may go out. */
static int key_missing(wk_chain_t *ch, size_t model, char *msg, size_t size)
{
    const rs_model_cfg_t *m = &ch->cfg->models[model];
    const char *key = model_key(ch, m);
    if (!m->api_key_env || (key && *key)) return 0;
    snprintf(msg, size, "model %s: $%s is not set in the worker's environment", m->name,
             m->api_key_env);
    if (!ch->warned[model]) rs_warn("%s; its calls fail", msg);
    ch->warned[model] = 1;
    return 1;
}

static answer_t *gen_of(wk_case_t *cs, size_t model, int k)
{
    return &cs->runs[model].cands[k].ans[0];
}

/* Marks candidates k .. k+n-1 failed. The message may quote a server, which may echo the key. */
static void fail_range(wk_case_t *cs, size_t model, int k, int n, const char *type,
                       const char *msg, double latency_ms)
{
    const rs_model_cfg_t *m = &cs->ch->cfg->models[model];
    for (int j = k; j < k + n; j++) {
        answer_t *a = gen_of(cs, model, j);
        free(a->error);
        a->error = rs_xstrdup(msg);
        rs_provider_redact(a->error, model_key(cs->ch, m));
        snprintf(a->error_type, sizeof(a->error_type), "%s", type);
        a->latency_ms = latency_ms;
        a->settled = 1;
    }
}

/* ---- grading and embedding ---- */

/* One text through the hash embedder, timed for the case's "embed" span. */
static void hash_embed(wk_case_t *cs, const char *text, float *out)
{
    double t0 = rs_mono_sec();
    rs_embedder_embed(cs->ch->embedder, text, out, NULL);
    cs->hash_sec += rs_mono_sec() - t0;
    cs->hash_inputs++;
}

/* The dimension of the case's vectors: the hash embedder's, or what the remote one sent. */
static size_t case_dim(const wk_case_t *cs)
{
    return cs->ch->embedder ? rs_embedder_dim(cs->ch->embedder) : cs->emb.dim;
}

/* The best cosine of vec with the case's targets; NaN without a target (embed_sim skips). The
 * hash embedder embeds them on first use; the remote one's vectors are in place already. */
static double target_similarity(wk_case_t *cs, const float *vec)
{
    size_t dim = case_dim(cs);
    if (!cs->targets_embedded) {
        cs->targets_embedded = 1;
        cs->target_vecs = rs_xcalloc(cs->c.n_targets ? cs->c.n_targets * dim : 1, sizeof(float));
        for (size_t t = 0; t < cs->c.n_targets; t++)
            if (cs->c.targets[t])
                hash_embed(cs, cs->c.targets[t], cs->target_vecs + t * dim);
    }
    double best = NAN;
    for (size_t t = 0; t < cs->c.n_targets; t++) {
        if (!cs->c.targets[t]) continue;
        double s = rs_cosine(vec, cs->target_vecs + t * dim, dim);
        if (isnan(best) || s > best) best = s;
    }
    return best;
}

/* The embed_sim verdicts of an answer from its embedding; without one (a remote embedder's call
 * still to come) they are skipped for now. */
static void grade_similarity(wk_case_t *cs, answer_t *a, const float *vec)
{
    const rs_scoring_cfg_t *sc = &cs->ch->cfg->scoring;
    for (size_t g = 0; g < sc->n_graders; g++)
        if (sc->graders[g].kind == RS_GRADE_EMBED_SIM)
            a->grades[g] = rs_scorer_grade_value(cs->ch->scorer, g,
                                                 vec ? target_similarity(cs, vec) : NAN);
}

static json_t *str_or_null(const char *s);
static json_t *strings_json(char *const *s, size_t n);
static void start_critique(wk_case_t *cs, size_t model, int k, size_t judge, int round);

/* Answer `round` of candidate k of model is graded (its exec graders have answered): every judge
 * critiques a generation (in parallel: each critique is a call of its own), the revise judge
 * critiques a revision that is not the last. */
static void answer_graded(wk_case_t *cs, size_t model, int k, int round)
{
    const rs_config_t *cfg = cs->ch->cfg;
    if (round == 0)
        for (size_t j = 0; j < cfg->n_judges; j++) start_critique(cs, model, k, j, 0);
    else if (round < cfg->revise.rounds)
        start_critique(cs, model, k, cfg->revise.judge_idx, round);
}

/* The request line of an exec grader (docs/GRADERS.md, "The request"); heap, *len bytes. */
static char *exec_request(const wk_case_t *cs, const exec_grade_t *x, const answer_t *a, size_t *len)
{
    const rs_config_t *cfg = cs->ch->cfg;
    char *prompt = rs_chat_text(cs->c.msgs, cs->c.n_msgs);
    json_t *o = json_object();
    json_object_set_new(o, "grader", json_string(cfg->scoring.graders[x->g].name));
    json_object_set_new(o, "id", str_or_null(cs->c.id));
    json_object_set_new(o, "idx", json_integer((json_int_t)cs->c.idx));
    json_object_set_new(o, "model", json_string(cfg->models[x->model].name));
    json_object_set_new(o, "k", json_integer(x->k));
    json_object_set_new(o, "round", json_integer(x->round));
    json_object_set_new(o, "input", str_or_null(cs->c.input));
    json_object_set_new(o, "prompt", str_or_null(prompt));
    json_object_set_new(o, "target",
                        str_or_null(cs->c.n_targets ? cs->c.targets[0] : NULL));
    json_object_set_new(o, "targets", strings_json(cs->c.targets, cs->c.n_targets));
    json_object_set_new(o, "output", str_or_null(a->text));
    json_object_set_new(o, "extracted", str_or_null(a->extracted));
    json_object_set_new(o, "tags", strings_json(cs->c.tags, cs->c.n_tags));
    char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER); /* one line: \n escaped */
    json_decref(o);
    free(prompt);
    *len = strlen(line);
    return line;
}

/* Which asking of the case this is (docs/EXPERIMENTS.md): the prompt variant's name in a run of
 * several, the epoch in a run of several, the cluster when the dataset names one. A variant the
 * spec does not have (a confused coordinator) is written null, which the coordinator refuses. */
static void put_unit(const wk_case_t *cs, rs_jsonw_t *rec)
{
    const rs_config_t *cfg = cs->ch->cfg;
    size_t variants = rs_config_variants(cfg);
    if (variants > 1) {
        const char *name = NULL;
        if (cs->c.variant < variants) rs_config_variant(cfg, cs->c.variant, &name);
        rs_jsonw_str_or_null(rec, "prompt", name);
    }
    if (cfg->epochs > 1) rs_jsonw_int(rec, "epoch", (int64_t)cs->c.epoch);
    if (cs->c.cluster) rs_jsonw_str(rec, "cluster", cs->c.cluster);
}

static void on_exec(void *ud, const wk_exec_reply_t *r);

/* Sends answer `round` of candidate k to every exec grader; 1 when some was sent (the chain goes
 * on from on_exec), 0 when the run has none. */
static int exec_grade(wk_case_t *cs, size_t model, int k, int round)
{
    const rs_scoring_cfg_t *sc = &cs->ch->cfg->scoring;
    answer_t *a = &cs->runs[model].cands[k].ans[round];
    if (!cs->ch->exec) return 0;
    a->n_exec = sc->n_graders;
    a->exec = rs_xcalloc(sc->n_graders, sizeof(*a->exec));
    for (size_t g = 0; g < sc->n_graders; g++) {
        if (sc->graders[g].kind != RS_GRADE_EXEC) continue;
        exec_grade_t *x = &a->exec[g];
        *x = (exec_grade_t){.cs = cs, .model = model, .g = g, .k = k, .round = round,
                            .score = NAN, .start_sec = rs_mono_sec()};
        size_t len;
        char *line = exec_request(cs, x, a, &len);
        x->job = wk_execgrade_submit(cs->ch->exec, g, line, len, on_exec, x);
        free(line);
        a->grades[g] = WK_GRADE_ERROR; /* until it answers */
        a->exec_pending++;
        cs->exec_pending++;
    }
    return a->exec_pending > 0;
}

/* Extracts and grades answer `round` of candidate k of model (it has text). Judge graders wait
 * for the critiques (the record fills them); embed_sim grades here with the hash embedder, after
 * the case's embeddings call with a remote one; exec graders answer later (on_exec). Then the
 * chain goes on (answer_graded). keep_vec, when not NULL, receives the hash embedding. */
static void grade_answer(wk_case_t *cs, size_t model, int k, int round, int embed,
                         float *keep_vec)
{
    const wk_chain_t *ch = cs->ch;
    const rs_scoring_cfg_t *sc = &ch->cfg->scoring;
    answer_t *a = &cs->runs[model].cands[k].ans[round];
    a->extracted = rs_scorer_extract_why(ch->scorer, a->text, &a->extract_why);
    a->grades = rs_xmalloc(sc->n_graders ? sc->n_graders : 1);
    float *vec = NULL;
    if (embed && ch->embedder) {
        vec = keep_vec ? keep_vec : rs_xmalloc(rs_embedder_dim(ch->embedder) * sizeof(float));
        hash_embed(cs, a->text, vec);
    }
    for (size_t g = 0; g < sc->n_graders; g++) {
        rs_grader_kind_t kind = sc->graders[g].kind;
        if (kind == RS_GRADE_JUDGE || kind == RS_GRADE_EMBED_SIM || kind == RS_GRADE_EXEC)
            a->grades[g] = RS_VERDICT_SKIPPED;
        else
            a->grades[g] = rs_scorer_grade(ch->scorer, g, a->text, a->extracted, cs->c.targets,
                                           cs->c.n_targets);
    }
    grade_similarity(cs, a, vec);
    if (vec != keep_vec) free(vec);
    if (!exec_grade(cs, model, k, round)) answer_graded(cs, model, k, round);
}

/* The "grade" span of one exec grading: from its submission (a wait for a free process
 * included) to its reply. */
static void grade_span(wk_case_t *cs, const exec_grade_t *x, unsigned char verdict)
{
    const rs_config_t *cfg = cs->ch->cfg;
    wk_span_t span, *a = &span;
    child_span(cs, a, "grade", "internal", case_us(cs, x->start_sec), case_us(cs, rs_mono_sec()));
    wk_attr_str(a, "reasonsaver.grader", cfg->scoring.graders[x->g].name);
    wk_attr_str(a, "reasonsaver.model", cfg->models[x->model].name);
    wk_attr_int(a, "reasonsaver.candidate", x->k);
    wk_attr_int(a, "reasonsaver.round", x->round);
    wk_attr_str(a, "reasonsaver.verdict", wk_grade_name(verdict));
    if (x->error_type[0]) {
        wk_attr_str(a, "error.type", x->error_type);
        wk_span_error(a, x->reason ? x->reason : x->error_type);
    }
    wk_span_end(a);
}

/* An exec grader answered (or failed to): its verdict goes into the answer's grades; the last of
 * an answer's exec graders moves its chain on, the last of the case's settles it. */
static void on_exec(void *ud, const wk_exec_reply_t *r)
{
    exec_grade_t *x = ud;
    wk_case_t *cs = x->cs;
    answer_t *a = &cs->runs[x->model].cands[x->k].ans[x->round];
    x->job = NULL;
    x->done = 1;
    x->score = r->score;
    x->reason = r->reason ? rs_xstrdup(r->reason) : NULL;
    snprintf(x->error_type, sizeof(x->error_type), "%s", r->error_type ? r->error_type : "");
    x->latency_ms = r->latency_ms;
    a->grades[x->g] = (unsigned char)r->verdict;
    if (cs->traced) grade_span(cs, x, a->grades[x->g]);
    if (r->error_type)
        rs_debug("exec grader %s on case %s: %s: %s", cs->ch->cfg->scoring.graders[x->g].name,
                 cs->c.id, r->error_type, r->reason ? r->reason : "");
    cs->exec_pending--;
    if (--a->exec_pending == 0) answer_graded(cs, x->model, x->k, x->round);
    case_settled(cs);
}

/* The truth a sim judge and a sim reviser go by: the first grader found the answer correct. */
static int first_correct(const answer_t *a)
{
    return a->grades && a->grades[0] == RS_VERDICT_CORRECT;
}

/* ---- the chain of one candidate ---- */

/* What one critique or revision call brought back; its strings are taken by settle. */
typedef struct reply {
    char *text, *finish_reason, *error;
    const char *error_type;
    int64_t input_tokens, output_tokens;
    call_meta_t meta;
    double latency_ms;
    int cached;
} reply_t;

static void start_revise(wk_case_t *cs, size_t model, int k, int round);

static crit_t *crit_slot(wk_case_t *cs, size_t model, int k, size_t judge, int round)
{
    size_t i = round == 0 ? judge : cs->ch->cfg->n_judges + (size_t)round - 1;
    return &cs->runs[model].cands[k].crits[i];
}

static void settle_critique(wk_case_t *cs, const req_t *r, reply_t *rep)
{
    const rs_config_t *cfg = cs->ch->cfg;
    crit_t *cr = crit_slot(cs, r->model, r->k, r->judge, r->round);
    cr->text = rep->text;
    cr->error = rep->error;
    cr->input_tokens = rep->input_tokens;
    cr->output_tokens = rep->output_tokens;
    cr->meta = rep->meta;
    cr->latency_ms = rep->latency_ms;
    cr->cached = rep->cached;
    free(rep->finish_reason);
    snprintf(cr->error_type, sizeof(cr->error_type), "%s", rep->error_type ? rep->error_type : "");
    wk_critique_verdict(cs->ch->critique, r->judge, cr->text, &cr->v);
    /* the revise judge's critique drives the next revision; a failed critique drives none */
    if (r->judge == cfg->revise.judge_idx && r->round < cfg->revise.rounds && cr->text)
        start_revise(cs, r->model, r->k, r->round + 1);
}

static void settle_revision(wk_case_t *cs, const req_t *r, reply_t *rep)
{
    cand_t *cd = &cs->runs[r->model].cands[r->k];
    answer_t *a = &cd->ans[r->round];
    a->text = rep->text;
    a->finish_reason = rep->finish_reason;
    a->error = rep->error;
    snprintf(a->error_type, sizeof(a->error_type), "%s", rep->error_type ? rep->error_type : "");
    a->input_tokens = rep->input_tokens;
    a->output_tokens = rep->output_tokens;
    a->meta = rep->meta;
    a->latency_ms = rep->latency_ms;
    a->cached = rep->cached;
    a->settled = 1;
    if (!a->text) return; /* a failed revision ends the candidate's chain */
    grade_answer(cs, r->model, r->k, r->round, cs->ch->embed_sim, NULL);
}

/* A critique or revision call ended: its reply goes where it belongs, and the chain moves on. */
static void settle(wk_case_t *cs, const req_t *r, reply_t *rep)
{
    if (r->kind == REQ_CRITIQUE) settle_critique(cs, r, rep);
    else settle_revision(cs, r, rep);
}

static void on_chain_sim_due(wk_timer_t *t);

static void sim_settle(wk_case_t *cs, const req_t *r, rs_sim_reply_t *sim)
{
    reply_t rep = {.text = sim->text, .error = sim->error,
                   .error_type = sim->failed ? "sim_error" : NULL,
                   .input_tokens = sim->input_tokens, .output_tokens = sim->output_tokens,
                   .latency_ms = sim->latency_ms};
    memset(sim, 0, sizeof(*sim));
    settle(cs, r, &rep);
}

/* A sim critique or revision: traced as a call lasting its simulated latency, settled at once
 * when it has none, else when its timer fires. Takes sim's contents. */
static void sim_call(wk_case_t *cs, const req_t *spec, rs_sim_reply_t *sim)
{
    double now = rs_mono_sec();
    call_info_t ci = call_info_of(cs, spec);
    ci.made = 1;
    ci.start_sec = now;
    ci.end_sec = now + sim->latency_ms / 1000.0;
    ci.input_tokens = sim->input_tokens;
    ci.output_tokens = sim->output_tokens;
    ci.latency_ms = sim->latency_ms;
    ci.error_type = sim->failed ? "sim_error" : NULL;
    ci.error = sim->error;
    record_call(cs, &ci);
    if (sim->latency_ms <= 0) {
        sim_settle(cs, spec, sim);
        return;
    }
    req_t *r = req_new(cs, spec);
    r->sim = *sim;
    memset(sim, 0, sizeof(*sim));
    wk_timerq_add(wk_http_timers(cs->ch->http), &r->timer,
                  rs_mono_ms() + (int64_t)r->sim.latency_ms, on_chain_sim_due);
}

static void on_http(void *ud, const wk_http_done_t *d);

/* The response-cache key of request hr to model m about to go out, into key; NULL (no lookup,
 * no write) when the engine has no cache. */
static const char *cache_key(const wk_chain_t *ch, const rs_model_cfg_t *m, const rs_http_req_t *hr,
                             int k, uint32_t epoch, char key[RS_CACHEKEY_HEX])
{
    if (!wk_http_caching(ch->http)) return NULL;
    rs_provider_cache_key(m, hr, k, epoch, key);
    return key;
}

/* A call made and looked up (a miss), answered from the cache (a hit), or neither. */
static int cache_outcome(const wk_http_done_t *d)
{
    return d->cached ? WK_CACHE_HIT : d->cache_key ? WK_CACHE_MISS : 0;
}

/* A call that failed before any request went out: traced, then settled with the error. */
static void refuse_call(wk_case_t *cs, const req_t *spec, const char *type, const char *msg)
{
    double now = rs_mono_sec();
    call_info_t ci = call_info_of(cs, spec);
    ci.start_sec = ci.end_sec = now;
    ci.error_type = type;
    ci.error = msg;
    record_call(cs, &ci);
    reply_t rep = {.error = rs_xstrdup(msg), .error_type = type};
    settle(cs, spec, &rep);
}

/* A critique or revision over HTTP: one chat request with the rendered prompt in place of the
 * case's messages (the case's id and targets, and the step in chain, still go along for mock
 * servers). */
static void http_call(wk_case_t *cs, const req_t *spec, const wk_prompt_t *p,
                      const rs_chat_chain_t *step)
{
    wk_chain_t *ch = cs->ch;
    size_t cm = call_model(ch, spec->kind, spec->model, spec->judge);
    const rs_model_cfg_t *m = &ch->cfg->models[cm];
    char msg[256];
    if (key_missing(ch, cm, msg, sizeof(msg))) {
        refuse_call(cs, spec, "no_key", msg);
        return;
    }
    rs_case_t view = {.idx = cs->c.idx, .id = cs->c.id, .msgs = p->msgs, .n_msgs = p->n_msgs,
                      .targets = cs->c.targets, .n_targets = cs->c.n_targets,
                      .variant = cs->c.variant, .epoch = cs->c.epoch};
    rs_chat_req_t cr = {m, &view, spec->k, 1, model_key(ch, m), step};
    rs_http_req_t hr;
    rs_err_t err;
    if (ch->prov[cm]->build_chat(&cr, &hr, &err) != 0) {
        refuse_call(cs, spec, "bad_request_body", err.msg);
        return;
    }
    char key[RS_CACHEKEY_HEX];
    const char *kp = cache_key(ch, m, &hr, spec->k, cs->c.epoch, key);
    req_t *r = req_new(cs, spec);
    r->x = wk_http_submit_keyed(ch->http, m, &hr, kp, on_http, r);
}

static int is_sim(const wk_chain_t *ch, size_t model)
{
    return ch->prov[model]->simulate != NULL;
}

/* Judge `judge` critiques answer `round` of candidate k of model. */
static void start_critique(wk_case_t *cs, size_t model, int k, size_t judge, int round)
{
    wk_chain_t *ch = cs->ch;
    const rs_config_t *cfg = ch->cfg;
    const rs_judge_cfg_t *j = &cfg->judges[judge];
    const answer_t *a = &cs->runs[model].cands[k].ans[round];
    crit_slot(cs, model, k, judge, round)->started = 1;
    req_t spec = {.kind = REQ_CRITIQUE, .model = model, .k = k, .n = 1, .judge = judge,
                  .round = round};
    wk_prompt_t p;
    wk_critique_judge_prompt(ch->critique, judge, &cs->c, a->text, &p);
    if (is_sim(ch, j->model_idx)) {
        const rs_model_cfg_t *jm = &cfg->models[j->model_idx];
        rs_sim_judge_req_t q = {.cand_model = cfg->models[model].name, .k = k, .round = round,
                                .cand_correct = first_correct(a),
                                .is_self = j->model_idx == model, .prompt_bytes = p.bytes};
        rs_sim_reply_t sim;
        int64_t seed;
        rs_provider_seed(jm, &cs->c, &seed);
        rs_sim_judge(jm, seed, &cs->c, j, &q, &sim);
        sim_call(cs, &spec, &sim);
    } else {
        rs_chat_chain_t step = {.stage = "critique", .round = round, .judge = j->name,
                                .cand_model = cfg->models[model].name,
                                .truth = first_correct(a), .is_self = j->model_idx == model};
        http_call(cs, &spec, &p, &step);
    }
    wk_prompt_cleanup(&p);
}

/* Model writes revision `round` of its candidate k from the answer before it and the revise
 * judge's critique of that answer. */
static void start_revise(wk_case_t *cs, size_t model, int k, int round)
{
    wk_chain_t *ch = cs->ch;
    const rs_config_t *cfg = ch->cfg;
    const answer_t *prev = &cs->runs[model].cands[k].ans[round - 1];
    const crit_t *cr = crit_slot(cs, model, k, cfg->revise.judge_idx, round - 1);
    req_t spec = {.kind = REQ_REVISE, .model = model, .k = k, .n = 1, .round = round};
    wk_prompt_t p;
    wk_critique_revise_prompt(ch->critique, &cs->c, prev->text, cr->text, &p);
    if (is_sim(ch, model)) {
        const rs_model_cfg_t *m = &cfg->models[model];
        rs_sim_revise_req_t q = {.k = k, .round = round, .prev_text = prev->text,
                                 .prev_correct = first_correct(prev),
                                 .critique_said_correct = cr->v.judged_correct,
                                 .prompt_bytes = p.bytes};
        rs_sim_reply_t sim;
        int64_t seed;
        rs_provider_seed(m, &cs->c, &seed);
        rs_sim_revise(m, seed, &cs->c, &q, &sim);
        sim_call(cs, &spec, &sim);
    } else {
        rs_chat_chain_t step = {.stage = "revise", .round = round, .truth = first_correct(prev),
                                .critique_said_correct = cr->v.judged_correct,
                                .prev_text = prev->text};
        http_call(cs, &spec, &p, &step);
    }
    wk_prompt_cleanup(&p);
}

/* The generation of candidate k settled: grade it, then every judge critiques it (answer_graded).
 * A failed generation has nothing to judge. */
static void cand_ready(wk_case_t *cs, size_t model, int k)
{
    wk_chain_t *ch = cs->ch;
    cand_t *cd = &cs->runs[model].cands[k];
    if (cd->ready || !cd->ans[0].settled) return;
    cd->ready = 1;
    if (!cd->ans[0].text) return;
    if (ch->embedder && ch->embed_gen && ch->cfg->ranking.use[RS_STRATEGY_CONSENSUS])
        cd->vec = rs_xmalloc(rs_embedder_dim(ch->embedder) * sizeof(float));
    grade_answer(cs, model, k, 0, ch->embed_gen, cd->vec);
}

static void cands_ready(wk_case_t *cs, size_t model, int k, int n)
{
    for (int j = k; j < k + n; j++) cand_ready(cs, model, j);
}

/* ---- generation ---- */

/* A generation that failed before any request went out (no key, a body that cannot be built). */
static void record_refused(wk_case_t *cs, size_t model, int k, int n)
{
    const answer_t *a = gen_of(cs, model, k);
    double now = rs_mono_sec();
    call_info_t ci = {.kind = REQ_GENERATE, .model = model, .cand_model = model, .k = k, .n = n,
                      .start_sec = now, .end_sec = now, .error_type = a->error_type,
                      .error = a->error};
    record_call(cs, &ci);
}

static void start_http(wk_case_t *cs, size_t model, int k, int n)
{
    wk_chain_t *ch = cs->ch;
    const rs_model_cfg_t *m = &ch->cfg->models[model];
    rs_chat_req_t cr = {m, &cs->c, k, n, model_key(ch, m), NULL};
    rs_http_req_t hr;
    rs_err_t err;
    if (ch->prov[model]->build_chat(&cr, &hr, &err) != 0) {
        fail_range(cs, model, k, n, "bad_request_body", err.msg, 0);
        record_refused(cs, model, k, n);
        return;
    }
    req_t spec = {.kind = REQ_GENERATE, .model = model, .k = k, .n = n};
    char key[RS_CACHEKEY_HEX];
    const char *kp = cache_key(ch, m, &hr, k, cs->c.epoch, key);
    req_t *r = req_new(cs, &spec);
    r->x = wk_http_submit_keyed(ch->http, m, &hr, kp, on_http, r);
}

/* A sim call's latency is over: a generation's candidates start their chains, a critique or
 * revision settles. */
static void on_chain_sim_due(wk_timer_t *t)
{
    req_t *r = WK_CONTAINER_OF(t, req_t, timer);
    if (r->kind == REQ_GENERATE) cands_ready(r->cs, r->model, r->k, r->n);
    else sim_settle(r->cs, r, &r->sim);
    req_done(r);
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
        answer_t *c = gen_of(cs, model, k);
        c->text = r.text;
        c->error = r.error;
        if (r.failed) snprintf(c->error_type, sizeof(c->error_type), "sim_error");
        c->input_tokens = r.input_tokens;
        c->output_tokens = r.output_tokens;
        c->latency_ms = r.latency_ms;
        c->settled = 1;
        if (r.latency_ms > slowest) slowest = r.latency_ms;
        /* each candidate is a call of its own, lasting its simulated latency */
        call_info_t ci = {.kind = REQ_GENERATE, .model = model, .cand_model = model, .k = k,
                          .n = 1, .made = 1, .start_sec = now,
                          .end_sec = now + r.latency_ms / 1000.0,
                          .input_tokens = r.input_tokens, .output_tokens = r.output_tokens,
                          .latency_ms = r.latency_ms, .error_type = r.failed ? "sim_error" : NULL,
                          .error = c->error};
        record_call(cs, &ci);
    }
    if (slowest <= 0) {
        cands_ready(cs, model, 0, (int)m->n);
        return;
    }
    req_t spec = {.kind = REQ_GENERATE, .model = model, .k = 0, .n = (int)m->n};
    req_t *r = req_new(cs, &spec);
    wk_timerq_add(wk_http_timers(ch->http), &r->timer, rs_mono_ms() + (int64_t)slowest,
                  on_chain_sim_due);
}

static void start_model(wk_case_t *cs, size_t model)
{
    const rs_model_cfg_t *m = &cs->ch->cfg->models[model];
    const rs_provider_t *p = cs->ch->prov[model];
    if (p->simulate) {
        start_sim(cs, model);
        return;
    }
    char msg[256];
    if (key_missing(cs->ch, model, msg, sizeof(msg))) {
        fail_range(cs, model, 0, (int)m->n, "no_key", msg, 0);
        record_refused(cs, model, 0, (int)m->n);
        return;
    }
    for (int k = 0; k < (int)m->n; k += p->max_choices)
        start_http(cs, model, k, (int)m->n - k < p->max_choices ? (int)m->n - k : p->max_choices);
}

static void case_alloc(wk_case_t *cs)
{
    const wk_chain_t *ch = cs->ch;
    size_t answers = 1 + (size_t)ch->cfg->revise.rounds;
    cs->runs = rs_xcalloc(ch->cfg->n_models, sizeof(model_run_t));
    for (size_t m = 0; m < ch->cfg->n_models; m++) {
        size_t n = (size_t)ch->cfg->models[m].n;
        cs->runs[m].cands = rs_xcalloc(n, sizeof(cand_t));
        for (size_t k = 0; k < n; k++) {
            cs->runs[m].cands[k].ans = rs_xcalloc(answers, sizeof(answer_t));
            cs->runs[m].cands[k].crits = rs_xcalloc(ch->n_crits ? ch->n_crits : 1, sizeof(crit_t));
        }
    }
}

void wk_chain_start(wk_chain_t *ch, uint64_t task_id, uint64_t lease, wk_arrival_t arrival,
                    rs_case_t *c)
{
    wk_case_t *cs = rs_xcalloc(1, sizeof(*cs));
    cs->ch = ch;
    cs->c = *c;
    memset(c, 0, sizeof(*c));
    cs->task_id = task_id;
    cs->lease = lease;
    cs->t0_us = cs->last_us = arrival.wall_us;
    cs->t0_sec = arrival.mono_sec;
    if (ch->cfg->report.spans) open_trace(cs);
    case_alloc(cs);
    cs->next = ch->active;
    if (ch->active) ch->active->prev = cs;
    ch->active = cs;
    ch->n_active++;
    for (size_t m = 0; m < ch->cfg->n_models; m++) start_model(cs, m);
    if (!cs->reqs) case_settled(cs); /* nothing to wait for (sim without latency, no key, ...) */
}

/* ---- the remote embedder ---- */

/* The texts that need a vector, in the call's order: each model's candidates' generations (for
 * consensus and embed_sim) and, with embed_sim, their revisions and then the case's targets. */
static void embed_plan(wk_case_t *cs)
{
    const wk_chain_t *ch = cs->ch;
    const rs_config_t *cfg = ch->cfg;
    size_t cap = 0, answers = 1 + (ch->embed_sim ? (size_t)cfg->revise.rounds : 0);
    for (size_t m = 0; m < cfg->n_models; m++) cap += (size_t)cfg->models[m].n * answers;
    cap += ch->embed_sim ? cs->c.n_targets : 0;
    case_embed_t *e = &cs->emb;
    e->items = rs_xcalloc(cap ? cap : 1, sizeof(*e->items));
    for (size_t m = 0; m < cfg->n_models; m++)
        for (int64_t k = 0; k < cfg->models[m].n; k++)
            for (size_t r = 0; r < answers; r++) {
                cand_t *cd = &cs->runs[m].cands[k];
                if (cd->ans[r].text && cd->ans[r].grades)
                    e->items[e->n_items++] = (embed_item_t){.cd = cd, .round = (int)r};
            }
    if (e->n_items == 0) return; /* nothing answered: no targets to compare with either */
    for (size_t t = 0; ch->embed_sim && t < cs->c.n_targets; t++)
        if (cs->c.targets[t]) e->items[e->n_items++] = (embed_item_t){.target = t};
}

static const char *item_text(const wk_case_t *cs, const embed_item_t *it)
{
    return it->cd ? it->cd->ans[it->round].text : cs->c.targets[it->target];
}

/* The embeddings call failed: its answers' embed_sim verdicts are errors, consensus goes without
 * vectors (candidate 0). */
static void embed_failed(wk_case_t *cs, const rs_failure_t *f)
{
    const rs_scoring_cfg_t *sc = &cs->ch->cfg->scoring;
    cs->emb.error = rs_xstrdup(f->message);
    snprintf(cs->emb.error_type, sizeof(cs->emb.error_type), "%s", f->reason);
    for (size_t i = 0; i < cs->emb.n_items; i++) {
        const embed_item_t *it = &cs->emb.items[i];
        for (size_t g = 0; it->cd && g < sc->n_graders; g++)
            if (sc->graders[g].kind == RS_GRADE_EMBED_SIM)
                it->cd->ans[it->round].grades[g] = WK_GRADE_ERROR;
    }
}

/* The vectors came back: targets first (embed_sim compares with them), then the answers. */
static void embed_took(wk_case_t *cs, float *vecs, size_t dim)
{
    case_embed_t *e = &cs->emb;
    e->dim = dim;
    cs->targets_embedded = 1;
    cs->target_vecs = rs_xcalloc(cs->c.n_targets && dim ? cs->c.n_targets * dim : 1, sizeof(float));
    for (size_t i = 0; i < e->n_items; i++)
        if (!e->items[i].cd)
            memcpy(cs->target_vecs + e->items[i].target * dim, vecs + i * dim, dim * sizeof(float));
    for (size_t i = 0; i < e->n_items; i++) {
        embed_item_t *it = &e->items[i];
        if (!it->cd) continue;
        grade_similarity(cs, &it->cd->ans[it->round], vecs + i * dim);
        if (it->round == 0 && cs->ch->cfg->ranking.use[RS_STRATEGY_CONSENSUS]) {
            it->cd->vec = rs_xmalloc(dim * sizeof(float));
            memcpy(it->cd->vec, vecs + i * dim, dim * sizeof(float));
        }
    }
}

/* The "embed" span of the case's embeddings call. */
static void embed_span(wk_case_t *cs, double start_sec, const wk_http_done_t *d)
{
    const wk_embedcall_t *ec = cs->ch->remote;
    const rs_model_cfg_t *m = wk_embedcall_model(ec);
    wk_span_t span, *a = &span;
    child_span(cs, a, "embed", "client", case_us(cs, start_sec), case_us(cs, rs_mono_sec()));
    wk_attr_str(a, "gen_ai.system", m->provider);
    wk_attr_str(a, "gen_ai.operation.name", "embeddings");
    wk_attr_str(a, "gen_ai.request.model", m->model);
    wk_attr_int(a, "gen_ai.usage.input_tokens", cs->emb.input_tokens);
    wk_attr_str(a, "server.address", wk_embedcall_host(ec));
    if (wk_embedcall_port(ec)) wk_attr_int(a, "server.port", wk_embedcall_port(ec));
    if (d && d->status) wk_attr_int(a, "http.response.status_code", d->status);
    if (d && d->cached) wk_attr_true(a, "reasonsaver.cached");
    wk_attr_int(a, "reasonsaver.inputs", (int64_t)cs->emb.n_items);
    if (cs->emb.error) {
        wk_attr_str(a, "error.type", cs->emb.error_type);
        wk_span_error(a, cs->emb.error);
    }
    for (int i = 0; d && i < d->retries; i++) retry_event(cs, a, &d->events[i]);
    wk_span_end(a);
}

/* Sends the case's texts to the remote embedder in one request. */
static void start_embed(wk_case_t *cs)
{
    case_embed_t *e = &cs->emb;
    e->started = 1;
    embed_plan(cs);
    if (e->n_items == 0) return;
    const char **texts = rs_xmalloc(e->n_items * sizeof(*texts));
    for (size_t i = 0; i < e->n_items; i++) texts[i] = item_text(cs, &e->items[i]);
    rs_http_req_t hr;
    rs_failure_t f;
    int rc = wk_embedcall_build(cs->ch->remote, texts, e->n_items, &hr, &f);
    free(texts);
    if (rc != 0) {
        embed_failed(cs, &f);
        keep_call(cs, cs->ch->cfg->n_models, 0, 0, 0, 0, REQ_EMBED, e->error_type, 0);
        if (cs->traced) embed_span(cs, rs_mono_sec(), NULL);
        return;
    }
    req_t spec = {.kind = REQ_EMBED};
    const rs_model_cfg_t *m = wk_embedcall_model(cs->ch->remote);
    char key[RS_CACHEKEY_HEX];
    const char *kp = cache_key(cs->ch, m, &hr, 0, 0, key); /* an embedding is not sampled */
    req_t *r = req_new(cs, &spec);
    r->x = wk_http_submit_keyed(cs->ch->http, m, &hr, kp, on_http, r);
}

static void on_embed(req_t *r, const wk_http_done_t *d)
{
    wk_case_t *cs = r->cs;
    case_embed_t *e = &cs->emb;
    float *vecs;
    size_t dim;
    rs_failure_t f;
    e->retries = d->retries;
    e->latency_ms = d->latency_ms;
    if (wk_embedcall_parse(cs->ch->remote, d, e->n_items, &vecs, &dim, &e->input_tokens, &f) == 0) {
        embed_took(cs, vecs, dim);
        e->cached = d->cached;
        wk_http_cache_store(cs->ch->http, d);
    } else {
        embed_failed(cs, &f);
    }
    free(vecs);
    keep_call(cs, cs->ch->cfg->n_models, !d->cached, e->input_tokens, 0, d->latency_ms, REQ_EMBED,
              e->error ? e->error_type : NULL, cache_outcome(d));
    if (cs->traced) embed_span(cs, r->start_sec, d);
}

/* Every call of the case is done: with a remote embedder, its one call comes now (the texts
 * are all known); after it, or without one, the record. */
static void case_settled(wk_case_t *cs)
{
    if (cs->reqs || cs->exec_pending) return; /* it settles when the last of them ends */
    if (cs->ch->remote && !cs->emb.started) start_embed(cs);
    if (!cs->reqs) case_finish(cs);
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

/* The response's own words about choice i into meta (the key redacted from the thinking, as
 * from the text); reasoning tokens shared as output tokens are. */
static void take_meta(const rs_chat_resp_t *resp, rs_choice_t *ch, const char *key,
                      int64_t reasoning, call_meta_t *meta)
{
    if (ch->thinking && *ch->thinking) {
        meta->thinking = ch->thinking;
        ch->thinking = NULL;
        rs_provider_redact(meta->thinking, key);
    }
    meta->served_model = resp->model ? rs_xstrdup(resp->model) : NULL;
    meta->fingerprint = resp->system_fingerprint ? rs_xstrdup(resp->system_fingerprint) : NULL;
    meta->reasoning_tokens = reasoning;
}

static void take_choices(wk_case_t *cs, req_t *r, rs_chat_resp_t *resp, double latency_ms,
                         int cached)
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
        answer_t *c = gen_of(cs, r->model, r->k + slot_of[i]);
        c->text = resp->choices[i].text;
        c->finish_reason = resp->choices[i].finish_reason;
        resp->choices[i].text = resp->choices[i].finish_reason = NULL;
        rs_provider_redact(c->text, model_key(cs->ch, m));
        c->latency_ms = latency_ms;
        c->cached = cached;
        /* usage covers the whole request: input once, output shared */
        c->input_tokens = first ? resp->input_tokens : 0;
        c->output_tokens = resp->output_tokens / taken + (first ? resp->output_tokens % taken : 0);
        take_meta(resp, &resp->choices[i], model_key(cs->ch, m),
                  resp->reasoning_tokens / taken + (first ? resp->reasoning_tokens % taken : 0),
                  &c->meta);
        c->settled = 1;
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
    const answer_t *c = gen_of(cs, r->model, r->k);
    ci->error_type = c->error_type;
    ci->error = c->error;
}

/* A 2xx response: its choices go to the candidates, its usage and finish reasons to the call. */
static void take_response(wk_case_t *cs, req_t *r, const wk_http_done_t *d, call_info_t *ci,
                          rs_buf_t *fin, rs_buf_t *served)
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
    ci->reasoning_tokens = resp.reasoning_tokens;
    finish_reasons(&resp, fin);
    ci->finish_reasons = fin->len ? fin->data : NULL;
    if (resp.model) rs_buf_puts(served, resp.model);
    ci->served_model = served->len ? served->data : NULL;
    take_choices(cs, r, &resp, d->latency_ms, d->cached);
    rs_chat_resp_cleanup(&resp);
    wk_http_cache_store(cs->ch->http, d); /* parsed: worth keeping */
}

static void on_generate(req_t *r, const wk_http_done_t *d, call_info_t *ci)
{
    wk_case_t *cs = r->cs;
    rs_buf_t fin, served;
    rs_buf_init(&fin);
    rs_buf_init(&served);
    if (d->ok) take_response(cs, r, d, ci, &fin, &served);
    else fail_call(cs, r, ci, d->fail->reason, d->fail->message);
    record_call(cs, ci);
    rs_buf_cleanup(&fin);
    rs_buf_cleanup(&served);
    cands_ready(cs, r->model, r->k, r->n); /* the candidates asked for again are not settled */
}

/* A critique's or revision's response: its first choice is the reply. */
static void on_chain_call(req_t *r, const wk_http_done_t *d, call_info_t *ci)
{
    wk_case_t *cs = r->cs;
    const rs_model_cfg_t *m = &cs->ch->cfg->models[ci->model];
    reply_t rep = {.latency_ms = d->latency_ms};
    rs_failure_t f = {0};
    rs_chat_resp_t resp = {0};
    rs_err_t err;
    if (!d->ok) {
        f = *d->fail;
    } else if (cs->ch->prov[ci->model]->parse_chat(d->body, d->body_len, &resp, &err) != 0) {
        rs_provider_bad_response(m, err.msg, d->body, d->body_len, &f);
    } else {
        rep.text = resp.choices[0].text;
        rep.finish_reason = resp.choices[0].finish_reason;
        resp.choices[0].text = resp.choices[0].finish_reason = NULL;
        rs_provider_redact(rep.text, model_key(cs->ch, m));
        ci->input_tokens = rep.input_tokens = resp.input_tokens;
        ci->output_tokens = rep.output_tokens = resp.output_tokens;
        ci->finish_reasons = rep.finish_reason;
        take_meta(&resp, &resp.choices[0], model_key(cs->ch, m), resp.reasoning_tokens,
                  &rep.meta);
        ci->served_model = rep.meta.served_model;
        ci->reasoning_tokens = resp.reasoning_tokens;
        rep.cached = d->cached;
        wk_http_cache_store(cs->ch->http, d); /* parsed: worth keeping */
    }
    rs_chat_resp_cleanup(&resp);
    if (!rep.text) {
        rep.error = rs_xstrdup(f.message);
        rs_provider_redact(rep.error, model_key(cs->ch, m));
        rep.error_type = f.reason;
        ci->error_type = f.reason;
        ci->error = rep.error;
    }
    record_call(cs, ci);
    settle(cs, r, &rep);
}

static void on_embed(req_t *r, const wk_http_done_t *d);

static void on_http(void *ud, const wk_http_done_t *d)
{
    req_t *r = ud;
    wk_case_t *cs = r->cs;
    r->x = NULL;
    if (r->kind == REQ_EMBED) {
        on_embed(r, d);
        req_done(r);
        return;
    }
    call_info_t ci = call_info_of(cs, r);
    ci.made = !d->cached;
    ci.cache = cache_outcome(d);
    ci.start_sec = r->start_sec;
    ci.end_sec = rs_mono_sec();
    ci.latency_ms = d->latency_ms;
    ci.status = d->status;
    ci.events = d->events;
    ci.n_events = d->retries;
    add_retries(&cs->runs[ci.model], d);
    if (r->kind == REQ_GENERATE) on_generate(r, d, &ci);
    else on_chain_call(r, d, &ci);
    req_done(r);
}

/* ---- the record ---- */

/* NULL and text that is not UTF-8 (which jansson refuses) are both written as null. */
static json_t *str_or_null(const char *s)
{
    json_t *j = s ? json_string(s) : NULL;
    return j ? j : json_null();
}

static json_t *real_or_null(double v)
{
    return isnan(v) ? json_null() : json_real(v);
}

/* The judge graders' verdicts on answer `round` of a candidate: its judge's score of it, when
 * that judge critiqued it and the verdict parsed; skipped otherwise. Failed answers: errors. */
static void final_grades(const wk_case_t *cs, cand_t *cd, int round)
{
    const wk_chain_t *ch = cs->ch;
    const rs_scoring_cfg_t *sc = &ch->cfg->scoring;
    answer_t *a = &cd->ans[round];
    if (!a->grades) {
        a->grades = rs_xmalloc(sc->n_graders ? sc->n_graders : 1);
        memset(a->grades, WK_GRADE_ERROR, sc->n_graders);
        return;
    }
    for (size_t g = 0; g < sc->n_graders; g++) {
        if (sc->graders[g].kind != RS_GRADE_JUDGE) continue;
        size_t j = sc->graders[g].judge_idx;
        double score = NAN;
        if (round == 0 || j == ch->cfg->revise.judge_idx) {
            size_t slot = round == 0 ? j : ch->cfg->n_judges + (size_t)round - 1;
            if (slot < ch->n_crits && cd->crits[slot].started)
                score = cd->crits[slot].v.score; /* NaN unless parsed */
        }
        a->grades[g] = rs_scorer_grade_value(ch->scorer, g, score);
    }
}

static void write_verdicts(rs_jsonw_t *o, const wk_chain_t *ch, const unsigned char *grades)
{
    rs_jsonw_t g;
    rs_jsonw_object_in(&g, o, "grades");
    for (size_t i = 0; i < ch->cfg->scoring.n_graders; i++)
        rs_jsonw_str(&g, ch->cfg->scoring.graders[i].name, wk_grade_name(grades[i]));
    rs_jsonw_end(&g);
}

/* The response's own words, each only when it said it (so other records stay as they were). */
static void write_meta(rs_jsonw_t *o, const call_meta_t *m)
{
    if (m->served_model) rs_jsonw_str_or_null(o, "served_model", m->served_model);
    if (m->fingerprint) rs_jsonw_str_or_null(o, "system_fingerprint", m->fingerprint);
    if (m->reasoning_tokens) rs_jsonw_int(o, "reasoning_tokens", m->reasoning_tokens);
    if (m->thinking) rs_jsonw_str_or_null(o, "thinking", m->thinking);
}

/* A call's error and error_type: both null on success. */
static void write_error(rs_jsonw_t *o, const char *error, const char *error_type)
{
    rs_jsonw_str_or_null(o, "error", error);
    if (error) rs_jsonw_str(o, "error_type", error_type);
    else rs_jsonw_null(o, "error_type");
}

/* {grader: {score, reason, error_type, latency_ms}} of an answer's exec graders. */
static json_t *exec_details_json(const wk_chain_t *ch, const answer_t *a)
{
    json_t *o = json_object();
    for (size_t g = 0; g < a->n_exec; g++) {
        const exec_grade_t *x = &a->exec[g];
        if (!x->done) continue;
        json_object_set_new(o, ch->cfg->scoring.graders[g].name,
                            json_pack("{sosososf}", "score", real_or_null(x->score), "reason",
                                      str_or_null(x->reason), "error_type",
                                      str_or_null(x->error_type[0] ? x->error_type : NULL),
                                      "latency_ms", x->latency_ms));
    }
    return o;
}

/* The fields an answer has in the record, generation and revision alike. */
static void write_answer(rs_jsonw_t *o, const wk_chain_t *ch, const answer_t *a)
{
    rs_jsonw_str_or_null(o, "output", a->error ? NULL : a->text);
    rs_jsonw_str_or_null(o, "extracted", a->extracted);
    if (a->extract_why) rs_jsonw_str(o, "extract_error", a->extract_why);
    write_verdicts(o, ch, a->grades);
    if (a->exec) rs_jsonw_tree(o, "grade_details", exec_details_json(ch, a));
    rs_jsonw_real(o, "latency_ms", a->latency_ms);
    rs_jsonw_int(o, "input_tokens", a->input_tokens);
    rs_jsonw_int(o, "output_tokens", a->output_tokens);
    rs_jsonw_str_or_null(o, "finish_reason", a->finish_reason);
    write_error(o, a->error, a->error_type);
    /* only on a hit: records of runs without the cache stay as they were */
    if (a->cached) rs_jsonw_bool(o, "cached", 1);
    write_meta(o, &a->meta);
}

static void write_critique(rs_jsonw_t *list, const wk_case_t *cs, size_t model, size_t judge,
                           int round, const crit_t *cr)
{
    const rs_config_t *cfg = cs->ch->cfg;
    const rs_judge_cfg_t *j = &cfg->judges[judge];
    rs_jsonw_t o;
    rs_jsonw_object_in(&o, list, NULL);
    rs_jsonw_str(&o, "judge", j->name);
    rs_jsonw_str(&o, "model", cfg->models[j->model_idx].name);
    rs_jsonw_int(&o, "round", round);
    rs_jsonw_bool(&o, "self", j->model_idx == model);
    rs_jsonw_str_or_null(&o, "text", cr->text);
    if (isnan(cr->v.score)) rs_jsonw_null(&o, "score");
    else rs_jsonw_real(&o, "score", cr->v.score);
    rs_jsonw_bool(&o, "parsed", cr->v.parsed);
    if (cr->v.parsed) rs_jsonw_bool(&o, "judged_correct", cr->v.judged_correct);
    else rs_jsonw_null(&o, "judged_correct");
    rs_jsonw_real(&o, "latency_ms", cr->latency_ms);
    rs_jsonw_int(&o, "input_tokens", cr->input_tokens);
    rs_jsonw_int(&o, "output_tokens", cr->output_tokens);
    write_error(&o, cr->error, cr->error_type);
    if (cr->cached) rs_jsonw_bool(&o, "cached", 1);
    write_meta(&o, &cr->meta);
    rs_jsonw_end(&o);
}

/* The critiques a candidate got, round 0 by judge order, then the revise judge's later ones. */
static void write_critiques(rs_jsonw_t *o, const wk_case_t *cs, size_t model, const cand_t *cd)
{
    const rs_config_t *cfg = cs->ch->cfg;
    rs_jsonw_t a;
    rs_jsonw_array_in(&a, o, "critiques");
    for (size_t i = 0; i < cs->ch->n_crits; i++) {
        if (!cd->crits[i].started) continue;
        size_t judge = i < cfg->n_judges ? i : cfg->revise.judge_idx;
        int round = i < cfg->n_judges ? 0 : (int)(i - cfg->n_judges) + 1;
        write_critique(&a, cs, model, judge, round, &cd->crits[i]);
    }
    rs_jsonw_end(&a);
}

static void write_revisions(rs_jsonw_t *o, const wk_case_t *cs, const cand_t *cd)
{
    rs_jsonw_t a;
    rs_jsonw_array_in(&a, o, "revisions");
    for (int64_t r = 1; r <= cs->ch->cfg->revise.rounds; r++) {
        if (!cd->ans[r].settled) break;
        rs_jsonw_t rev;
        rs_jsonw_object_in(&rev, &a, NULL);
        rs_jsonw_int(&rev, "round", r);
        write_answer(&rev, cs->ch, &cd->ans[r]);
        rs_jsonw_end(&rev);
    }
    rs_jsonw_end(&a);
}

static void write_candidate(rs_jsonw_t *list, const wk_case_t *cs, size_t model, int k,
                            const cand_t *cd)
{
    const rs_config_t *cfg = cs->ch->cfg;
    rs_jsonw_t o;
    rs_jsonw_object_in(&o, list, NULL);
    rs_jsonw_int(&o, "k", k);
    write_answer(&o, cs->ch, &cd->ans[0]);
    if (cfg->n_judges) write_critiques(&o, cs, model, cd);
    if (cfg->revise.rounds) write_revisions(&o, cs, cd);
    rs_jsonw_end(&o);
}

/* The strategies' view of a model's candidates (their generations), into out[0 .. n). */
static void rank_cands(const wk_case_t *cs, size_t model, wk_rank_cand_t *out)
{
    const rs_config_t *cfg = cs->ch->cfg;
    for (size_t k = 0; k < (size_t)cfg->models[model].n; k++) {
        const cand_t *cd = &cs->runs[model].cands[k];
        out[k] = (wk_rank_cand_t){.has_output = cd->ans[0].text != NULL,
                                  .answer = cd->ans[0].extracted, .grades = cd->ans[0].grades,
                                  .judge_score = NAN, .vec = cd->vec};
        if (cfg->n_judges && cd->crits[0].started) out[k].judge_score = cd->crits[0].v.score;
    }
}

static json_t *strategies_json(const wk_case_t *cs, size_t model)
{
    const wk_chain_t *ch = cs->ch;
    size_t n = (size_t)ch->cfg->models[model].n;
    wk_rank_cand_t *rc = rs_xcalloc(n, sizeof(*rc));
    rank_cands(cs, model, rc);
    wk_rank_set_t set = {rc, n, ch->cfg->scoring.n_graders, case_dim(cs)};
    json_t *o = wk_rank_json(&set, ch->cfg);
    free(rc);
    return o;
}

/* The record's "pool" (runs with several models): the strategies over every model's candidates
 * together, models in config order, each pick named by its model and k. A judge critiques every
 * candidate, so judges[0]'s scores compare across models; `first` is models[0]'s candidate 0. */
static json_t *pool_json(const wk_case_t *cs)
{
    const rs_config_t *cfg = cs->ch->cfg;
    size_t total = 0;
    for (size_t m = 0; m < cfg->n_models; m++) total += (size_t)cfg->models[m].n;
    wk_rank_cand_t *rc = rs_xcalloc(total, sizeof(*rc));
    size_t *model_of = rs_xcalloc(total, sizeof(size_t)), at = 0;
    for (size_t m = 0; m < cfg->n_models; m++) {
        rank_cands(cs, m, rc + at);
        for (int64_t k = 0; k < cfg->models[m].n; k++) model_of[at++] = m;
    }
    wk_rank_set_t set = {rc, total, cfg->scoring.n_graders, case_dim(cs)};
    json_t *strats = wk_rank_json(&set, cfg);
    const char *name;
    json_t *pick;
    json_object_foreach(strats, name, pick) {
        json_t *k = json_object_get(pick, "k");
        if (!k) continue; /* oracle: no single pick */
        size_t i = (size_t)json_integer_value(k), first = i;
        while (first > 0 && model_of[first - 1] == model_of[i]) first--;
        json_object_set_new(pick, "model", json_string(cfg->models[model_of[i]].name));
        json_object_set_new(pick, "k", json_integer((json_int_t)(i - first)));
    }
    free(model_of);
    free(rc);
    return json_pack("{so}", "strategies", strats);
}

/* One model's part of the record; *failed is set when its first candidate failed. Its answers'
 * judge grades are final from here on (the score span reads them). */
static void write_model(rs_jsonw_t *list, const wk_case_t *cs, size_t model, int *failed)
{
    const wk_chain_t *ch = cs->ch;
    const rs_model_cfg_t *m = &ch->cfg->models[model];
    const model_run_t *run = &cs->runs[model];
    for (int k = 0; k < (int)m->n; k++)
        for (int64_t r = 0; r <= ch->cfg->revise.rounds; r++)
            if (r == 0 || run->cands[k].ans[r].settled) final_grades(cs, &run->cands[k], (int)r);
    /* the model's verdict is its first candidate's: if that call failed, the model failed */
    const answer_t *first = &run->cands[0].ans[0];
    if (first->error) *failed = 1;
    rs_jsonw_t o, reasons, cands;
    rs_jsonw_object_in(&o, list, NULL);
    rs_jsonw_str(&o, "model", m->name);
    rs_jsonw_str(&o, "provider", m->provider);
    rs_jsonw_bool(&o, "simulated", strcmp(m->provider, "sim") == 0);
    write_error(&o, first->error, first->error_type);
    rs_jsonw_int(&o, "retries", run->retries);
    rs_jsonw_object_in(&reasons, &o, "retry_reasons");
    for (size_t i = 0; i < run->n_reasons; i++)
        rs_jsonw_int(&reasons, run->reasons[i].reason, run->reasons[i].n);
    rs_jsonw_end(&reasons);
    rs_jsonw_array_in(&cands, &o, "candidates");
    for (int k = 0; k < (int)m->n; k++) write_candidate(&cands, cs, model, k, &run->cands[k]);
    rs_jsonw_end(&cands);
    rs_jsonw_tree(&o, "strategies", strategies_json(cs, model));
    rs_jsonw_end(&o);
}

static void write_strings(rs_jsonw_t *o, const char *key, char *const *s, size_t n)
{
    rs_jsonw_t a;
    rs_jsonw_array_in(&a, o, key);
    for (size_t i = 0; i < n; i++) rs_jsonw_str(&a, NULL, s[i]);
    rs_jsonw_end(&a);
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

enum { GRADE_KEY = 160 }; /* the bound of a score span's grade key: longer names are cut */

static void grade_key(const char *grader, char key[GRADE_KEY])
{
    static const char prefix[] = "reasonsaver.grade.";
    size_t n = strlen(grader), room = GRADE_KEY - sizeof(prefix);
    if (n > room) n = room;
    memcpy(key, prefix, sizeof(prefix) - 1);
    memcpy(key + sizeof(prefix) - 1, grader, n);
    key[sizeof(prefix) - 1 + n] = '\0';
}

/* reasonsaver.grade.<grader> for each of the first answer's verdicts, as the jansson object of
 * the record's grades gave them: a grader whose name is not UTF-8 has none there; a key that,
 * cut to its bound, equals an earlier one (two long names alike in their first bytes) keeps the
 * earlier one's place and takes the later verdict. */
static void grade_attrs(wk_span_t *a, const rs_scoring_cfg_t *sc, const unsigned char *grades)
{
    char key[GRADE_KEY], other[GRADE_KEY];
    for (size_t g = 0; g < sc->n_graders; g++) {
        if (!rs_utf8_valid(sc->graders[g].name)) continue;
        grade_key(sc->graders[g].name, key);
        int seen = 0;
        for (size_t o = 0; o < g && !seen; o++) {
            grade_key(sc->graders[o].name, other);
            seen = rs_utf8_valid(sc->graders[o].name) && strcmp(key, other) == 0;
        }
        if (seen) continue;
        unsigned char verdict = grades[g];
        for (size_t o = g + 1; o < sc->n_graders; o++) {
            grade_key(sc->graders[o].name, other);
            if (rs_utf8_valid(sc->graders[o].name) && strcmp(key, other) == 0)
                verdict = grades[o];
        }
        wk_attr_str(a, key, wk_grade_name(verdict));
    }
}

/* The "score" span of one model: extraction and grading of its candidates, with its verdicts
 * (the first candidate's, as in the record). Starts no earlier than the calls it grades ended
 * (a sim's latency timer has millisecond resolution). */
static void score_span(wk_case_t *cs, size_t model, double t0, double t1)
{
    int64_t start = case_us(cs, t0);
    if (start < cs->last_us) start = cs->last_us;
    wk_span_t span, *a = &span;
    child_span(cs, a, "score", "internal", start, start + (int64_t)((t1 - t0) * 1e6));
    wk_attr_str(a, "reasonsaver.model", cs->ch->cfg->models[model].name);
    const answer_t *first = &cs->runs[model].cands[0].ans[0];
    grade_attrs(a, &cs->ch->cfg->scoring, first->grades);
    wk_attr_str(a, "reasonsaver.extracted", first->extracted);
    wk_span_end(a);
}

/* The root span "case", into out: it ends with the last of its children (end_us: the case's
 * end, taken when its record was made), in error when a model failed: the first model whose
 * record has an error_type (one that is UTF-8), named as the record names it. */
static void root_span(const wk_case_t *cs, int64_t end_us, rs_buf_t *out)
{
    const wk_chain_t *ch = cs->ch;
    wk_span_t span, *a = &span;
    wk_span_begin(a, out, cs->trace_id, cs->root_id, NULL, "case", "internal", cs->t0_us,
                  end_us > cs->last_us ? end_us : cs->last_us);
    wk_attr_str(a, "reasonsaver.run.id", ch->run_id);
    wk_attr_str(a, "reasonsaver.case.id", cs->c.id);
    wk_attr_int(a, "reasonsaver.case.index", (int64_t)cs->c.idx);
    wk_attr_str(a, "reasonsaver.worker.id", ch->worker_id);
    wk_attr_int(a, "reasonsaver.task.id", (int64_t)cs->task_id);
    char msg[160];
    for (size_t m = 0; m < ch->cfg->n_models; m++) {
        const answer_t *first = &cs->runs[m].cands[0].ans[0];
        if (!first->error || !rs_utf8_valid(first->error_type)) continue;
        const char *name = ch->cfg->models[m].name;
        snprintf(msg, sizeof(msg), "model %s failed: %s",
                 rs_utf8_valid(name) ? name : "(null)", first->error_type);
        wk_span_error(a, msg);
        break;
    }
    wk_span_end(a);
}

/* The record's "embedding": the case's call to the remote embedder, when it had texts. */
static json_t *embedding_json(const wk_case_t *cs)
{
    const case_embed_t *e = &cs->emb;
    json_t *o = json_object();
    json_object_set_new(o, "model", json_string(wk_embedcall_model(cs->ch->remote)->model));
    json_object_set_new(o, "inputs", json_integer((json_int_t)e->n_items));
    json_object_set_new(o, "dim", json_integer((json_int_t)e->dim));
    json_object_set_new(o, "input_tokens", json_integer((json_int_t)e->input_tokens));
    json_object_set_new(o, "retries", json_integer(e->retries));
    json_object_set_new(o, "latency_ms", json_real(e->latency_ms));
    json_object_set_new(o, "error", str_or_null(e->error));
    json_object_set_new(o, "error_type", e->error ? json_string(e->error_type) : json_null());
    if (e->cached) json_object_set_new(o, "cached", json_true());
    return o;
}

/* The hash embedder's work for the case as one "embed" span: it ran in pieces as answers were
 * graded, so the span has their summed duration, placed after the calls it followed. */
static void hash_embed_span(wk_case_t *cs)
{
    int64_t start = cs->last_us;
    wk_span_t span, *a = &span;
    child_span(cs, a, "embed", "internal", start, start + (int64_t)(cs->hash_sec * 1e6));
    wk_attr_str(a, "reasonsaver.embedder", "hash");
    wk_attr_int(a, "reasonsaver.inputs", (int64_t)cs->hash_inputs);
    wk_attr_int(a, "reasonsaver.embedding.dim", (int64_t)rs_embedder_dim(cs->ch->embedder));
    wk_span_end(a);
}

/* The record's text, its trace (with spans on) as its last field "spans": the root first, then
 * the children in the order they were made. NULL where a part written from a jansson tree fails
 * as json_dumps fails, or the id is not UTF-8 (json_pack refused the record); *failed is set
 * when a model's first candidate failed, either way. */
static char *record_text(wk_case_t *cs, int *failed, size_t *len)
{
    wk_chain_t *ch = cs->ch;
    rs_buf_t b;
    rs_buf_init(&b);
    rs_buf_reserve(&b, 2048 + cs->spans.len);
    rs_jsonw_t rec, models;
    rs_jsonw_object(&rec, &b);
    rs_jsonw_int(&rec, "idx", (int64_t)cs->c.idx);
    rs_jsonw_str(&rec, "id", cs->c.id);
    if (rec.n != 2) rec.failed = 1; /* no id written: json_pack refused such a record */
    write_strings(&rec, "tags", cs->c.tags, cs->c.n_tags);
    write_strings(&rec, "targets", cs->c.targets, cs->c.n_targets);
    rs_jsonw_array_in(&models, &rec, "models");
    for (size_t m = 0; m < ch->cfg->n_models; m++) {
        double t0 = rs_mono_sec();
        write_model(&models, cs, m, failed);
        if (cs->traced) score_span(cs, m, t0, rs_mono_sec());
    }
    rs_jsonw_end(&models);
    put_unit(cs, &rec);
    if (ch->cfg->n_models > 1) rs_jsonw_tree(&rec, "pool", pool_json(cs));
    if (ch->remote && cs->emb.n_items) rs_jsonw_tree(&rec, "embedding", embedding_json(cs));
    if (cs->traced) {
        int64_t end_us = case_us(cs, rs_mono_sec());
        rs_jsonw_t spans;
        rs_jsonw_array_in(&spans, &rec, "spans");
        root_span(cs, end_us, &b);
        rs_buf_append(&b, cs->spans.data, cs->spans.len); /* each child after its ',' */
        rs_jsonw_end(&spans);
    }
    if (rs_jsonw_end(&rec)) {
        rs_buf_cleanup(&b);
        return NULL;
    }
    *len = b.len;
    return rs_buf_detach(&b);
}

static void case_finish(wk_case_t *cs)
{
    wk_chain_t *ch = cs->ch;
    if (cs->traced && cs->hash_inputs) hash_embed_span(cs);
    wk_done_t d = {.task_id = cs->task_id, .lease = cs->lease, .idx = cs->c.idx};
    d.json = record_text(cs, &d.failed, &d.json_len);
    d.calls = cs->calls, d.n_calls = cs->n_calls;
    cs->calls = NULL;
    push_done(ch, &d);
    case_free(cs);
}
