/* report: streaming aggregation of stored results and the report writers (JSON, Markdown, JSONL;
 * HTML is rendered by html.c from the same report object). Each stored result is parsed once and
 * folded both into the per-model and per-tag counters here and into the analysis (analysis.c). */
#include "report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analysis.h"
#include "dataset.h"
#include "embed.h"
#include "html.h"
#include "log.h"
#include "record.h"
#include "stats.h"
#include "vecset.h"

enum {
    C_CORRECT = COORD_V_CORRECT,
    C_WRONG = COORD_V_WRONG,
    C_ERROR = COORD_V_ERROR,
    C_SKIPPED = COORD_V_SKIPPED,
    C_N = COORD_V_N
};

/* The calls a model answered, by stage: its generations, its critiques as a judge (of any
 * model's answers) and its revisions. */
enum { ST_GENERATE, ST_CRITIQUE, ST_REVISE, ST_N };
static const char *const STAGE_NAMES[ST_N] = {"generate", "critique", "revise"};

typedef struct stage_agg {
    uint64_t outputs; /* answers, critiques or revisions (an n-choice request makes n answers) */
    int64_t input_tokens, output_tokens;
    double *lat;
    size_t n_lat, cap_lat;
} stage_agg_t;

/* Counters of one model: [grader][kind], and its calls by stage. */
typedef struct model_agg {
    uint64_t (*counts)[C_N];
    uint64_t cases, errors;
    stage_agg_t st[ST_N];
    json_t *reasons; /* error reason -> count */
} model_agg_t;

/* The remote embedder's calls (records' "embedding"; docs/CHAINS.md): one per case. */
typedef struct embed_agg {
    uint64_t calls, inputs, retries, errors;
    int64_t input_tokens;
    json_t *reasons; /* error reason -> count */
} embed_agg_t;

typedef struct agg {
    const rs_config_t *cfg;
    model_agg_t *models;
    embed_agg_t embed;
    json_t *tag_index;       /* tag -> integer index into tag_counts */
    uint64_t *tag_counts;    /* [tag][model][grader][kind] */
    size_t n_tags, cap_tags;
    uint64_t cases, missing;
    coord_corrupt_t corrupt; /* records whose checksum or checks failed (record.h) */
    coord_analysis_t *an;
    FILE *jsonl; /* results.jsonl being written, or NULL */
} agg_t;

static size_t block_size(const agg_t *a)
{
    return a->cfg->n_models * a->cfg->scoring.n_graders * C_N;
}

static void agg_init(agg_t *a, const rs_config_t *cfg)
{
    memset(a, 0, sizeof(*a));
    a->cfg = cfg;
    a->models = rs_xcalloc(cfg->n_models, sizeof(model_agg_t));
    for (size_t m = 0; m < cfg->n_models; m++) {
        a->models[m].counts = rs_xcalloc(cfg->scoring.n_graders, sizeof(*a->models[m].counts));
        a->models[m].reasons = json_object();
    }
    a->tag_index = json_object();
    a->embed.reasons = json_object();
    const char **models = rs_xcalloc(cfg->n_models + 1, sizeof(char *));
    const char **graders = rs_xcalloc(cfg->scoring.n_graders + 1, sizeof(char *));
    for (size_t m = 0; m < cfg->n_models; m++)
        models[m] = cfg->models[m].name;
    for (size_t g = 0; g < cfg->scoring.n_graders; g++)
        graders[g] = cfg->scoring.graders[g].name;
    const char **jnames = rs_xcalloc(cfg->n_judges + 1, sizeof(char *));
    const char **jmodels = rs_xcalloc(cfg->n_judges + 1, sizeof(char *));
    const char *const **rubrics = rs_xcalloc(cfg->n_judges + 1, sizeof(*rubrics));
    for (size_t j = 0; j < cfg->n_judges; j++) {
        jnames[j] = cfg->judges[j].name;
        jmodels[j] = cfg->judges[j].model;
        rubrics[j] = (const char *const *)cfg->judges[j].rubric;
    }
    coord_analysis_opts_t opts = {.models = models,
                                  .n_models = cfg->n_models,
                                  .graders = graders,
                                  .n_graders = cfg->scoring.n_graders,
                                  .seed = (uint64_t)cfg->run.seed,
                                  .judge_names = jnames,
                                  .judge_models = jmodels,
                                  .judge_rubrics = rubrics,
                                  .n_judges = cfg->n_judges};
    a->an = coord_analysis_new(&opts);
    free(models);
    free(graders);
    free(jnames);
    free(jmodels);
    free(rubrics);
}

static void agg_cleanup(agg_t *a)
{
    for (size_t m = 0; m < a->cfg->n_models; m++) {
        free(a->models[m].counts);
        for (int st = 0; st < ST_N; st++) free(a->models[m].st[st].lat);
        json_decref(a->models[m].reasons);
    }
    free(a->models);
    json_decref(a->embed.reasons);
    free(a->tag_counts);
    json_decref(a->tag_index);
    coord_analysis_destroy(&a->an);
}

static uint64_t *tag_block(agg_t *a, const char *tag)
{
    json_t *v = json_object_get(a->tag_index, tag);
    size_t i;
    if (v) {
        i = (size_t)json_integer_value(v);
    } else {
        i = a->n_tags++;
        json_object_set_new(a->tag_index, tag, json_integer((json_int_t)i));
        if (a->n_tags > a->cap_tags) {
            a->cap_tags = a->cap_tags ? 2 * a->cap_tags : 16;
            a->tag_counts = rs_xrealloc(a->tag_counts, a->cap_tags * block_size(a) * sizeof(uint64_t));
        }
        memset(a->tag_counts + i * block_size(a), 0, block_size(a) * sizeof(uint64_t));
    }
    return a->tag_counts + i * block_size(a);
}

static int model_index(const rs_config_t *cfg, const char *name)
{
    for (size_t m = 0; m < cfg->n_models; m++)
        if (name && strcmp(cfg->models[m].name, name) == 0) return (int)m;
    return -1;
}

/* One answer, critique or revision: its call's tokens and latency under its stage. */
static void add_output(stage_agg_t *st, json_t *o)
{
    st->outputs++;
    st->input_tokens += json_integer_value(json_object_get(o, "input_tokens"));
    st->output_tokens += json_integer_value(json_object_get(o, "output_tokens"));
    if (st->n_lat == st->cap_lat) {
        st->cap_lat = st->cap_lat ? 2 * st->cap_lat : 1024;
        st->lat = rs_xrealloc(st->lat, st->cap_lat * sizeof(double));
    }
    st->lat[st->n_lat++] = json_number_value(json_object_get(o, "latency_ms"));
}

/* Model m's candidates: their generations and revisions count for m, each critique for the
 * model that judged (the critique's "model"). */
static void agg_candidates(agg_t *a, size_t m, json_t *cands)
{
    size_t i, j;
    json_t *c, *x;
    json_array_foreach(cands, i, c) {
        add_output(&a->models[m].st[ST_GENERATE], c);
        json_array_foreach(json_object_get(c, "revisions"), j, x)
            add_output(&a->models[m].st[ST_REVISE], x);
        json_array_foreach(json_object_get(c, "critiques"), j, x) {
            int judge = model_index(a->cfg, json_string_value(json_object_get(x, "model")));
            if (judge >= 0) add_output(&a->models[judge].st[ST_CRITIQUE], x);
        }
    }
}

/* Folds one model's outcome for one case into its counters and the case's tag counters. */
static void agg_model(agg_t *a, size_t m, json_t *entry, json_t *tags)
{
    model_agg_t *ma = &a->models[m];
    const rs_scoring_cfg_t *sc = &a->cfg->scoring;
    json_t *cands = json_object_get(entry, "candidates");
    const char *error = json_string_value(json_object_get(entry, "error"));
    json_t *grades = json_object_get(json_array_get(cands, 0), "grades");
    ma->cases++;
    agg_candidates(a, m, cands);
    if (error) {
        /* Count by the short reason code when the worker gives one ("http_429", "timeout"). */
        const char *reason = json_string_value(json_object_get(entry, "error_type"));
        if (!reason) reason = error;
        ma->errors++;
        json_t *n = json_object_get(ma->reasons, reason);
        json_object_set_new(ma->reasons, reason, json_integer(json_integer_value(n) + 1));
    }
    for (size_t g = 0; g < sc->n_graders; g++) {
        int kind = error ? C_ERROR : (int)coord_verdict_of(grades, sc->graders[g].name);
        ma->counts[g][kind]++;
        size_t i;
        json_t *t;
        json_array_foreach(tags, i, t) {
            if (!json_is_string(t)) continue;
            uint64_t *blk = tag_block(a, json_string_value(t));
            blk[(m * sc->n_graders + g) * C_N + (size_t)kind]++;
        }
    }
}

static void agg_embedding(embed_agg_t *e, json_t *emb)
{
    e->calls++;
    e->inputs += (uint64_t)json_integer_value(json_object_get(emb, "inputs"));
    e->input_tokens += json_integer_value(json_object_get(emb, "input_tokens"));
    e->retries += (uint64_t)json_integer_value(json_object_get(emb, "retries"));
    const char *reason = json_string_value(json_object_get(emb, "error_type"));
    if (!reason) return;
    e->errors++;
    json_t *n = json_object_get(e->reasons, reason);
    json_object_set_new(e->reasons, reason, json_integer(json_integer_value(n) + 1));
}

/* Folds one stored result (or its absence) into the counters, the analysis and results.jsonl.
 * A record that fails record.h's checks is counted as corrupted and left out of everything else.
 * Its trace ("spans", most of its bytes) is not parsed: the checksum vouches for its bytes. */
static int agg_case(uint64_t idx, const char *text, void *arg, rs_err_t *err)
{
    agg_t *a = arg;
    if (!text) {
        a->missing++;
        return 0;
    }
    rs_err_t why;
    json_t *r = coord_record_load(text, strlen(text), idx, NULL, a->cfg, COORD_RECORD_SKIP_SPANS, &why);
    if (!r) {
        rs_warn("%s", why.msg);
        coord_corrupt_add(&a->corrupt, idx);
        return 0;
    }
    json_t *tags = json_object_get(r, "tags"), *models = json_object_get(r, "models"), *e;
    size_t i;
    a->cases++;
    json_array_foreach(models, i, e)
    {
        int m = model_index(a->cfg, json_string_value(json_object_get(e, "model")));
        if (m >= 0) agg_model(a, (size_t)m, e, tags);
    }
    json_t *emb = json_object_get(r, "embedding");
    if (json_is_object(emb)) agg_embedding(&a->embed, emb);
    coord_analysis_add(a->an, r);
    json_decref(r);
    if (a->jsonl) fprintf(a->jsonl, "%s\n", text);
    return 0;
}

enum { STREAM_BATCH = 1000 };

int coord_report_foreach(coord_store_t *st, const char *run_id, uint64_t total, coord_result_fn fn,
                         void *arg, coord_corrupt_t *corrupt, rs_err_t *err)
{
    char *batch[STREAM_BATCH];
    for (uint64_t first = 0; first < total; first += STREAM_BATCH) {
        size_t n = total - first < STREAM_BATCH ? (size_t)(total - first) : STREAM_BATCH;
        if (coord_store_results_get(st, run_id, first, n, batch, err) != 0) return -1;
        int rc = 0;
        for (size_t i = 0; i < n; i++) {
            const char *json = NULL;
            size_t len;
            rs_err_t why;
            if (rc == 0 && batch[i] &&
                coord_record_unwrap(batch[i], strlen(batch[i]), &json, &len, &why) != 0) {
                rs_warn("case %llu: %s", (unsigned long long)(first + i), why.msg);
                if (corrupt) coord_corrupt_add(corrupt, first + i);
            } else if (rc == 0) {
                rc = fn(first + i, json, arg, err);
            }
            free(batch[i]);
        }
        if (rc) return -1;
    }
    return 0;
}

/* ---- building the JSON ---- */

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

static json_t *latency_json(stage_agg_t *st)
{
    if (st->n_lat == 0) return json_null();
    qsort(st->lat, st->n_lat, sizeof(double), cmp_double);
    double sum = 0;
    for (size_t i = 0; i < st->n_lat; i++) sum += st->lat[i];
    return json_pack("{sfsfsfsf}", "mean", sum / (double)st->n_lat, "p50",
                     rs_percentile_sorted(st->lat, st->n_lat, 50), "p95",
                     rs_percentile_sorted(st->lat, st->n_lat, 95), "max", st->lat[st->n_lat - 1]);
}

/* Prices are per million tokens. */
static double cost_of(const rs_model_cfg_t *mc, int64_t in, int64_t out)
{
    return ((double)in * mc->price_input + (double)out * mc->price_output) / 1e6;
}

/* {"generate": {outputs, input_tokens, output_tokens, cost_usd, latency_ms}, ...}: the stages
 * the model answered in. */
static json_t *stages_json(const rs_model_cfg_t *mc, model_agg_t *ma)
{
    json_t *o = json_object();
    for (int i = 0; i < ST_N; i++) {
        stage_agg_t *st = &ma->st[i];
        if (!st->outputs) continue;
        json_object_set_new(o, STAGE_NAMES[i],
                            json_pack("{sIsIsIsfso}", "outputs", (json_int_t)st->outputs,
                                      "input_tokens", (json_int_t)st->input_tokens,
                                      "output_tokens", (json_int_t)st->output_tokens, "cost_usd",
                                      cost_of(mc, st->input_tokens, st->output_tokens),
                                      "latency_ms", latency_json(st)));
    }
    return o;
}

/* input_tokens, output_tokens and cost_usd cover every stage (what the model's calls cost);
 * latency_ms is its generations'. */
static json_t *model_json(const agg_t *a, size_t m)
{
    const rs_model_cfg_t *mc = &a->cfg->models[m];
    model_agg_t *ma = &a->models[m];
    json_t *graders = json_array();
    for (size_t g = 0; g < a->cfg->scoring.n_graders; g++)
        json_array_append_new(graders, coord_counts_json(a->cfg->scoring.graders[g].name,
                              rs_grader_kind_name(a->cfg->scoring.graders[g].kind), ma->counts[g]));
    int64_t in = 0, out = 0;
    for (int i = 0; i < ST_N; i++) {
        in += ma->st[i].input_tokens;
        out += ma->st[i].output_tokens;
    }
    return json_pack("{sssssssbsIsIsOsIsIsfsososo}", "name", mc->name, "provider", mc->provider,
                     "model", mc->model, "simulated", strcmp(mc->provider, "sim") == 0,
                     "cases", (json_int_t)ma->cases, "errors", (json_int_t)ma->errors,
                     "errors_by_reason", ma->reasons, "input_tokens", (json_int_t)in,
                     "output_tokens", (json_int_t)out, "cost_usd", cost_of(mc, in, out),
                     "latency_ms", latency_json(&ma->st[ST_GENERATE]), "stages",
                     stages_json(mc, ma), "graders", graders);
}

static int cmp_tag(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

static json_t *tags_json(const agg_t *a)
{
    const char **names = rs_xcalloc(a->n_tags + 1, sizeof(char *));
    const char *k;
    json_t *v;
    size_t n = 0;
    json_object_foreach(a->tag_index, k, v) names[n++] = k;
    qsort(names, n, sizeof(char *), cmp_tag);
    json_t *arr = json_array();
    size_t ng = a->cfg->scoring.n_graders;
    for (size_t i = 0; i < n; i++) {
        const uint64_t *blk = a->tag_counts + (size_t)json_integer_value(
                                  json_object_get(a->tag_index, names[i])) * block_size(a);
        json_t *models = json_array();
        for (size_t m = 0; m < a->cfg->n_models; m++) {
            json_t *gs = json_array();
            for (size_t g = 0; g < ng; g++)
                json_array_append_new(gs, coord_counts_json(a->cfg->scoring.graders[g].name, NULL,
                                                      blk + (m * ng + g) * C_N));
            json_array_append_new(models, json_pack("{ssso}", "name", a->cfg->models[m].name,
                                                    "graders", gs));
        }
        json_array_append_new(arr, json_pack("{ssso}", "tag", names[i], "models", models));
    }
    free(names);
    return arr;
}

static int any_simulated(const rs_config_t *cfg)
{
    for (size_t m = 0; m < cfg->n_models; m++)
        if (strcmp(cfg->models[m].provider, "sim") == 0) return 1;
    return 0;
}

static json_t *report_json(const agg_t *a, const char *run_id, json_t *man)
{
    int64_t started = coord_manifest_int(man, "started_at"), finished = coord_manifest_int(man, "finished_at");
    if (!finished) finished = rs_wall_ms();
    double wall = (double)(finished - started) / 1000.0;
    json_t *models = json_array();
    for (size_t m = 0; m < a->cfg->n_models; m++) json_array_append_new(models, model_json(a, m));
    json_t *dataset = json_pack("{sssssIsIsI}", "path", coord_manifest_str(man, "dataset_path"),
                                "sha256", coord_manifest_str(man, "dataset_sha256"),
                                "cases", (json_int_t)coord_manifest_int(man, "total"),
                                "skipped_lines", (json_int_t)coord_manifest_int(man, "skipped"),
                                "missing_results", (json_int_t)a->missing);
    int64_t redis_mem = coord_manifest_int(man, "redis_used_memory");
    json_t *resources = json_pack("{sIsIsf}", "coordinator_peak_rss_kib",
                                  (json_int_t)coord_manifest_int(man, "coordinator_peak_rss_kib"),
                                  "redis_used_memory_bytes", (json_int_t)redis_mem,
                                  "redis_bytes_per_case",
                                  a->cases ? (double)redis_mem / (double)a->cases : 0.0);
    /* Cases sent to workers more than once: those in flight when a worker or the coordinator
     * died, or whose lease expired. Each was paid for again. */
    int64_t dispatched = coord_manifest_int(man, "dispatched"), total = coord_manifest_int(man, "total");
    const char *forced = json_string_value(json_object_get(man, "forced"));
    json_t *reliability = json_pack("{sIsIsIso}", "resumes", (json_int_t)coord_manifest_int(man, "resumes"),
                                    "dispatched_cases", (json_int_t)dispatched, "redone_cases",
                                    (json_int_t)(dispatched > total ? dispatched - total : 0),
                                    "forced", forced ? json_string(forced) : json_null());
    /* A run with damaged records is never reported as finished: its status says so until a
     * resume has run those cases again. */
    const char *status = a->corrupt.count ? "corrupted" : coord_manifest_str(man, "status");
    json_object_set_new(reliability, "records_rejected",
                        json_integer((json_int_t)coord_manifest_int(man, "records_rejected")));
    /* insecure: some coordinator of this run bound an address other machines reach, without
     * CURVE (--insecure); the manifest keeps that endpoint */
    /* worker_keys: under CURVE, the names of the keys the run's workers were let in with */
    json_t *keys = json_loads(coord_manifest_str(man, "worker_keys"), 0, NULL);
    return json_pack("{sssssssssbsbsososssIsIsfsfsososososo}", "schema", COORD_REPORT_SCHEMA, "run_id", run_id,
                     "name", coord_manifest_str(man, "name"), "status", status,
                     "simulated", any_simulated(a->cfg),
                     "insecure", json_is_string(json_object_get(man, "insecure")),
                     "worker_keys", json_is_array(keys) ? keys : (json_decref(keys), json_null()),
                     "dataset", dataset,
                     "config_sha256", coord_manifest_str(man, "config_sha256"),
                     "started_at_ms", (json_int_t)started, "finished_at_ms", (json_int_t)finished,
                     "wall_seconds", wall, "cases_per_second",
                     wall > 0 ? (double)a->cases / wall : 0.0, "models", models, "tags", tags_json(a),
                     "resources", resources, "reliability", reliability, "corrupted",
                     coord_corrupt_json(&a->corrupt));
}

/* report.json's "peers": what the coordinator rejected from workers, took late or cut off
 * (rs:run:<id>:peers, kept by dispatch; docs/SECURITY.md). Zeros when nothing was. */
static json_t *peers_json(coord_store_t *st, const char *run_id)
{
    char *text = coord_store_run_fetch(st, run_id, ":peers");
    json_t *p = text ? json_loads(text, 0, NULL) : NULL;
    free(text);
    if (json_is_object(p)) return p;
    json_decref(p);
    return json_pack("{sIsIsIs{}s{}}", "rejected", (json_int_t)0, "late", (json_int_t)0, "cut_off",
                     (json_int_t)0, "reasons", "by_peer");
}

/* report.json's "embedder": the remote embedder's usage, when it was called. */
static json_t *embedder_json(const agg_t *a)
{
    const embed_agg_t *e = &a->embed;
    return json_pack("{sssssIsIsIsIsIsO}", "type", rs_embedder_kind_name(a->cfg->embedder.type),
                     "model", a->cfg->embedder.model, "calls", (json_int_t)e->calls, "inputs",
                     (json_int_t)e->inputs, "input_tokens", (json_int_t)e->input_tokens, "retries",
                     (json_int_t)e->retries, "errors", (json_int_t)e->errors, "errors_by_reason",
                     e->reasons);
}

/* ---- Markdown ---- */

static const char *jstr_or(json_t *o, const char *key, const char *dflt)
{
    const char *s = json_string_value(json_object_get(o, key));
    return s ? s : dflt;
}

void coord_report_md_counts(rs_buf_t *b, json_t *g)
{
    json_t *acc = json_object_get(g, "accuracy"), *ci = json_object_get(g, "ci95");
    rs_buf_printf(b, "%lld | %lld | %lld | %lld | ",
                  (long long)json_integer_value(json_object_get(g, "correct")),
                  (long long)json_integer_value(json_object_get(g, "wrong")),
                  (long long)json_integer_value(json_object_get(g, "error")),
                  (long long)json_integer_value(json_object_get(g, "skipped")));
    if (json_is_number(acc))
        rs_buf_printf(b, "%.1f%% [%.1f, %.1f] |", 100 * json_number_value(acc),
                      100 * json_number_value(json_array_get(ci, 0)),
                      100 * json_number_value(json_array_get(ci, 1)));
    else
        rs_buf_puts(b, "n/a |");
}

static void md_text(rs_buf_t *b, const char *text, size_t max);

static void md_counts_row(rs_buf_t *b, const char *model, json_t *g)
{
    rs_buf_puts(b, "| ");
    md_text(b, model, 200);
    rs_buf_puts(b, " | ");
    md_text(b, json_string_value(json_object_get(g, "name")), 200);
    rs_buf_puts(b, " | ");
    coord_report_md_counts(b, g);
    rs_buf_putc(b, '\n');
}

static const char MD_HEADER[] = "| model | grader | correct | wrong | error | skipped | accuracy "
                                "[95% CI] |\n|---|---|---:|---:|---:|---:|---|\n";

/* input tokens | output tokens | cost USD | latency p50 | p95 |, and the line's end. */
static void md_usage_cells(rs_buf_t *b, json_t *o)
{
    json_t *lat = json_object_get(o, "latency_ms");
    rs_buf_printf(b, "%lld | %lld | %.4f | %.1f | %.1f |\n",
                  (long long)json_integer_value(json_object_get(o, "input_tokens")),
                  (long long)json_integer_value(json_object_get(o, "output_tokens")),
                  json_number_value(json_object_get(o, "cost_usd")),
                  json_number_value(json_object_get(lat, "p50")),
                  json_number_value(json_object_get(lat, "p95")));
}

/* Tokens, cost and latency by stage, when some model did more than generate. */
static void md_stages(rs_buf_t *b, json_t *report)
{
    size_t i;
    json_t *m, *st;
    const char *name;
    if (!coord_has_chain_stages(json_object_get(report, "models"))) return;
    rs_buf_puts(b, "\n### By stage\n\n| model | stage | outputs | input tokens | output tokens | "
                   "cost USD | latency p50 ms | latency p95 ms |\n"
                   "|---|---|---:|---:|---:|---:|---:|---:|\n");
    json_array_foreach(json_object_get(report, "models"), i, m)
        json_object_foreach(json_object_get(m, "stages"), name, st)
    {
        rs_buf_printf(b, "| %s | %s | %lld | ", jstr_or(m, "name", ""), name,
                      (long long)json_integer_value(json_object_get(st, "outputs")));
        md_usage_cells(b, st);
    }
    rs_buf_puts(b, "\nA model's critiques are those it wrote as a judge, of any model's answers; the "
                   "Models table's tokens and cost are the sum of its stages, its latency its "
                   "generations'.\n");
}

static void md_models(rs_buf_t *b, json_t *report)
{
    size_t i, j;
    json_t *m, *g;
    rs_buf_puts(b, "## Accuracy\n\n");
    rs_buf_puts(b, MD_HEADER);
    json_array_foreach(json_object_get(report, "models"), i, m)
        json_array_foreach(json_object_get(m, "graders"), j, g)
            md_counts_row(b, json_string_value(json_object_get(m, "name")), g);
    rs_buf_puts(b, "\nAccuracy = correct / (correct + wrong), with a Wilson 95% interval; "
                   "model errors are counted apart.\n\n## Models\n\n"
                   "| model | provider | cases | errors | input tokens | output tokens | cost USD | "
                   "latency p50 ms | latency p95 ms |\n|---|---|---:|---:|---:|---:|---:|---:|---:|\n");
    json_array_foreach(json_object_get(report, "models"), i, m) {
        rs_buf_printf(b, "| %s | %s | %lld | %lld | ", jstr_or(m, "name", ""),
                      jstr_or(m, "provider", ""),
                      (long long)json_integer_value(json_object_get(m, "cases")),
                      (long long)json_integer_value(json_object_get(m, "errors")));
        md_usage_cells(b, m);
    }
    md_stages(b, report);
    json_t *e = json_object_get(report, "embedder");
    if (json_is_object(e))
        rs_buf_printf(b, "\nEmbedder `%s` (%s): %lld calls, %lld texts, %lld input tokens, "
                         "%lld retries, %lld failed calls.\n",
                      jstr_or(e, "model", ""), jstr_or(e, "type", ""),
                      (long long)json_integer_value(json_object_get(e, "calls")),
                      (long long)json_integer_value(json_object_get(e, "inputs")),
                      (long long)json_integer_value(json_object_get(e, "input_tokens")),
                      (long long)json_integer_value(json_object_get(e, "retries")),
                      (long long)json_integer_value(json_object_get(e, "errors")));
}

static void md_tags(rs_buf_t *b, json_t *report)
{
    json_t *tags = json_object_get(report, "tags"), *t, *m, *g;
    size_t i, j, k;
    if (json_array_size(tags) == 0) return;
    rs_buf_puts(b, "\n## By tag\n\n| tag | model | grader | correct | wrong | error | skipped | "
                   "accuracy [95% CI] |\n|---|---|---|---:|---:|---:|---:|---|\n");
    json_array_foreach(tags, i, t)
        json_array_foreach(json_object_get(t, "models"), j, m)
            json_array_foreach(json_object_get(m, "graders"), k, g) {
                rs_buf_puts(b, "| ");
                md_text(b, json_string_value(json_object_get(t, "tag")), 200);
                rs_buf_putc(b, ' ');
                md_counts_row(b, json_string_value(json_object_get(m, "name")), g);
            }
}

/* Text for a Markdown table cell or list item: one line of at most max characters, with the
 * characters Markdown reads as markup escaped (outputs and prompts come from models and datasets). */
static void md_text(rs_buf_t *b, const char *text, size_t max)
{
    size_t chars = 0;
    rs_buf_t safe;
    rs_buf_init(&safe);
    const char *s = rs_text_safe_str(&safe, text, RS_TEXT_SPACES);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if ((ch & 0xC0) != 0x80 && chars++ == max) {
            rs_buf_puts(b, "\xE2\x80\xA6");
            break;
        }
        if (strchr("\\`*_[]<>|#&", ch)) rs_buf_putc(b, '\\');
        rs_buf_putc(b, (char)ch);
    }
    rs_buf_cleanup(&safe);
}

/* Whether some model's array field has at least min entries. */
static int any_model_array(json_t *report, const char *field, size_t min)
{
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(report, "models"), i, m)
    {
        if (json_array_size(json_object_get(m, field)) >= min) return 1;
    }
    return 0;
}

static void md_strategy_row(rs_buf_t *b, const char *model, json_t *s)
{
    json_t *t = json_object_get(s, "mcnemar_vs_first");
    rs_buf_printf(b, "| %s | %s | ", model, jstr_or(s, "name", ""));
    coord_report_md_counts(b, json_array_get(json_object_get(s, "graders"), 0));
    if (json_is_object(t)) {
        rs_buf_printf(b, " %lld / %lld | ", (long long)json_integer_value(json_object_get(t, "b")),
                      (long long)json_integer_value(json_object_get(t, "c")));
        coord_put_num(b, json_object_get(t, "exact_p"), -3);
        rs_buf_puts(b, " |\n");
    } else {
        rs_buf_puts(b, " \xE2\x80\x94 | \xE2\x80\x94 |\n");
    }
}

/* Each model's strategies, then the pool's (every model's candidates together), if any. */
static void md_strategies(rs_buf_t *b, json_t *report)
{
    size_t i, j;
    json_t *m, *s, *pool = json_object_get(json_object_get(report, "pool"), "strategies");
    if (!any_model_array(report, "strategies", 2) && json_array_size(pool) < 2) return;
    rs_buf_puts(b, "\n## Ranking strategies\n\n| model | strategy | correct | wrong | error | "
                   "skipped | accuracy [95% CI] | b / c vs first | McNemar p |\n"
                   "|---|---|---:|---:|---:|---:|---|---:|---:|\n");
    json_array_foreach(json_object_get(report, "models"), i, m)
        json_array_foreach(json_object_get(m, "strategies"), j, s)
            md_strategy_row(b, jstr_or(m, "name", ""), s);
    json_array_foreach(pool, j, s)
        md_strategy_row(b, "*pool: all models*", s);
    rs_buf_puts(b, "\nFirst grader. b = cases `first` got wrong and the strategy right, c = the "
                   "reverse; the p-value is McNemar's exact test.");
    if (pool)
        rs_buf_puts(b, " The pool ranks every model's candidates of a case together; its `first` "
                       "is the first model's first candidate.");
    rs_buf_puts(b, "\n");
}

static void md_rounds(rs_buf_t *b, json_t *report)
{
    size_t i, j;
    json_t *m, *r;
    if (!any_model_array(report, "rounds", 2)) return;
    rs_buf_puts(b, "\n## Revision rounds\n\n| model | round | correct | wrong | error | skipped | "
                   "accuracy [95% CI] |\n|---|---:|---:|---:|---:|---:|---|\n");
    json_array_foreach(json_object_get(report, "models"), i, m)
        json_array_foreach(json_object_get(m, "rounds"), j, r)
    {
        rs_buf_printf(b, "| %s | %lld | ", jstr_or(m, "name", ""),
                      (long long)json_integer_value(json_object_get(r, "round")));
        coord_report_md_counts(b, json_array_get(json_object_get(r, "graders"), 0));
        rs_buf_putc(b, '\n');
    }
    rs_buf_puts(
        b, "\n| model | cases compared | wrong \xE2\x86\x92 right | right \xE2\x86\x92 wrong | "
           "McNemar p |\n|---|---:|---:|---:|---:|\n");
    json_array_foreach(json_object_get(report, "models"), i, m)
    {
        json_t *f = json_object_get(m, "flips");
        if (!json_is_object(f)) continue;
        rs_buf_printf(b, "| %s | %lld | %lld | %lld | ", jstr_or(m, "name", ""),
                      (long long)json_integer_value(json_object_get(f, "pairs")),
                      (long long)json_integer_value(json_object_get(f, "wrong_to_right")),
                      (long long)json_integer_value(json_object_get(f, "right_to_wrong")));
        coord_put_num(b, json_object_get(json_object_get(f, "mcnemar"), "exact_p"), -3);
        rs_buf_puts(b, " |\n");
    }
    rs_buf_puts(b, "\nFirst grader; flips compare each case's original answer with its last "
                   "revision.\n");
}

/* One row of a judge-quality table: the label cells (escaped, cut to 80 characters), then the
 * split's counts and statistics. A split other than "all" is left out when it is empty. */
static void md_quality_row(rs_buf_t *b, const char *const *labels, size_t n_labels, json_t *group,
                           const char *split)
{
    json_t *q = json_object_get(group, split), *c = json_object_get(q, "confusion");
    if (!json_is_object(q) ||
        (strcmp(split, "all") != 0 && !json_integer_value(json_object_get(q, "n"))))
        return;
    rs_buf_putc(b, '|');
    for (size_t i = 0; i < n_labels; i++) {
        rs_buf_putc(b, ' ');
        md_text(b, labels[i], 80);
        rs_buf_puts(b, " |");
    }
    rs_buf_printf(b, " %s | %lld | %lld | %lld | %lld | %lld | %lld | %lld | ", split,
                  (long long)json_integer_value(json_object_get(q, "n")),
                  (long long)json_integer_value(json_object_get(q, "unparsed")),
                  (long long)json_integer_value(json_object_get(q, "errors")),
                  (long long)json_integer_value(json_object_get(c, "tp")),
                  (long long)json_integer_value(json_object_get(c, "fp")),
                  (long long)json_integer_value(json_object_get(c, "tn")),
                  (long long)json_integer_value(json_object_get(c, "fn")));
    static const char *const stats[] = {"precision", "recall", "kappa", "auroc"};
    for (size_t i = 0; i < RS_ARRAY_LEN(stats); i++) {
        coord_put_num(b, json_object_get(q, stats[i]), 3);
        rs_buf_puts(b, " |");
        rs_buf_putc(b, i + 1 < RS_ARRAY_LEN(stats) ? ' ' : '\n');
    }
}

static void md_quality_rows(rs_buf_t *b, const char *const *labels, size_t n_labels, json_t *group)
{
    md_quality_row(b, labels, n_labels, group, "all");
    md_quality_row(b, labels, n_labels, group, "self");
    md_quality_row(b, labels, n_labels, group, "cross");
}

#define MD_QUALITY_HEAD                                                                            \
    " candidates | n | unparsed | errors | tp | fp | tn | fn | precision | recall | kappa | "      \
    "AUROC |\n"
#define MD_QUALITY_RULE "---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"

/* "Judges by model" / "Judges by rubric": report[field], each entry labelled by its key (a model,
 * or a rubric's principles joined by "; ") and its judges. */
static void md_judge_groups(rs_buf_t *b, json_t *report, const char *field, const char *key,
                            const char *title)
{
    json_t *groups = json_object_get(report, field), *g;
    size_t i;
    if (json_array_size(groups) == 0) return;
    rs_buf_printf(b, "\n### %s\n\n| %s | judges |" MD_QUALITY_HEAD "|---|---|" MD_QUALITY_RULE,
                  title, key);
    rs_buf_t label, names;
    rs_buf_init(&label);
    rs_buf_init(&names);
    json_array_foreach(groups, i, g)
    {
        json_t *k = json_object_get(g, key);
        rs_buf_reset(&label);
        rs_buf_reset(&names);
        if (json_is_array(k))
            coord_join_strings(&label, k, "; ");
        else
            rs_buf_puts(&label, jstr_or(g, key, "?"));
        if (label.len == 0) rs_buf_puts(&label, "(none)");
        coord_join_strings(&names, json_object_get(g, "judges"), ", ");
        const char *labels[] = {label.data, names.data};
        md_quality_rows(b, labels, 2, g);
    }
    rs_buf_cleanup(&label);
    rs_buf_cleanup(&names);
}

static void md_judges(rs_buf_t *b, json_t *report)
{
    size_t i;
    json_t *j, *judges = json_object_get(report, "judges");
    if (json_array_size(judges) == 0) return;
    rs_buf_puts(b, "\n## Judges\n\n| judge | model |" MD_QUALITY_HEAD "|---|---|" MD_QUALITY_RULE);
    json_array_foreach(judges, i, j)
    {
        const char *labels[] = {jstr_or(j, "name", ""), jstr_or(j, "model", "?")};
        md_quality_rows(b, labels, 2, j);
    }
    rs_buf_puts(b, "\nThe judges' verdicts against the first grader's (positive = correct); "
                   "`self` = the judge's own model's answers, `cross` = other models'.\n");
    if (json_array_size(judges) < 2) return; /* one judge: the groups would repeat its rows */
    md_judge_groups(b, report, "judge_models", "model", "Judges by model");
    md_judge_groups(b, report, "rubrics", "rubric", "Judges by rubric");
}

static void md_clusters(rs_buf_t *b, json_t *report)
{
    json_t *clusters = json_object_get(report, "clusters"),
           *f = json_object_get(report, "failures");
    json_t *c, *e;
    size_t i, j;
    if (json_array_size(clusters) == 0) return;
    long long total = (long long)json_integer_value(json_object_get(f, "total")),
              sampled = (long long)json_integer_value(json_object_get(f, "sampled"));
    rs_buf_printf(b, "\n## Failure clusters\n\n%lld answers the first grader marked wrong", total);
    if (sampled < total) rs_buf_printf(b, " (a random sample of %lld clustered)", sampled);
    rs_buf_puts(b, ", grouped by hash embeddings and k-means++; the examples are the nearest to "
                   "each cluster's centre.\n");
    json_array_foreach(clusters, i, c)
    {
        rs_buf_printf(b, "\n%zu. %lld answers (%.1f%%)\n", i + 1,
                      (long long)json_integer_value(json_object_get(c, "size")),
                      100 * json_number_value(json_object_get(c, "share")));
        json_array_foreach(json_object_get(c, "examples"), j, e)
        {
            rs_buf_puts(b, "   - ");
            md_text(b, jstr_or(e, "case_id", ""), 60);
            rs_buf_puts(b, " (");
            md_text(b, jstr_or(e, "model", ""), 60);
            rs_buf_puts(b, "): ");
            md_text(b, jstr_or(e, "output", ""), 160);
            rs_buf_putc(b, '\n');
        }
    }
}

static void md_near_dups(rs_buf_t *b, json_t *report)
{
    json_t *d = json_object_get(report, "near_duplicates"), *p;
    size_t i;
    if (!json_is_object(d)) return;
    rs_buf_printf(b,
                  "\n## Near-duplicate prompts\n\n%lld pair(s) of prompts with cosine "
                  "similarity >= %.2f among %lld cases%s (hash embeddings).\n",
                  (long long)json_integer_value(json_object_get(d, "total")),
                  json_number_value(json_object_get(d, "threshold")),
                  (long long)json_integer_value(json_object_get(d, "cases")),
                  json_is_true(json_object_get(d, "capped")) ? " (the first ones only)" : "");
    if (json_array_size(json_object_get(d, "pairs")) == 0) return;
    rs_buf_puts(b, "\n| case a | case b | similarity | prompt a | prompt b |\n"
                   "|---|---|---:|---|---|\n");
    json_array_foreach(json_object_get(d, "pairs"), i, p)
    {
        static const char *const cols[] = {"a", "b"};
        rs_buf_puts(b, "| ");
        for (size_t k = 0; k < 2; k++) {
            md_text(b, jstr_or(p, cols[k], ""), 60);
            rs_buf_puts(b, " | ");
        }
        coord_put_num(b, json_object_get(p, "similarity"), 3);
        rs_buf_puts(b, " | ");
        md_text(b, jstr_or(p, "a_text", ""), 80);
        rs_buf_puts(b, " | ");
        md_text(b, jstr_or(p, "b_text", ""), 80);
        rs_buf_puts(b, " |\n");
    }
}

/* One warning line when workers sent what was not theirs to send, or were cut off. */
static void md_peers(rs_buf_t *b, json_t *peers)
{
    long long rejected = json_integer_value(json_object_get(peers, "rejected"));
    long long cut = json_integer_value(json_object_get(peers, "cut_off"));
    long long late = json_integer_value(json_object_get(peers, "late"));
    if (rejected == 0 && cut == 0 && late == 0) return;
    rs_buf_printf(b, "> **Workers**: %lld result(s) or message(s) rejected", rejected);
    const char *key;
    json_t *v;
    int first = 1;
    json_object_foreach(json_object_get(peers, "reasons"), key, v) {
        rs_buf_printf(b, "%s", first ? " (" : ", ");
        md_text(b, key, 40);
        rs_buf_printf(b, " %lld", (long long)json_integer_value(v));
        first = 0;
    }
    rs_buf_printf(b, "%s; %lld taken late; %lld worker(s) cut off. Per worker: `report.json` "
                     "`peers.by_peer`.\n\n", first ? "" : ")", late, cut);
}

/* The cases of report.json's "corrupted", joined by ", " (at most the listed ones). */
static void corrupted_cases(rs_buf_t *b, json_t *report)
{
    json_t *c = json_object_get(report, "corrupted"), *i;
    size_t k;
    json_array_foreach(json_object_get(c, "cases"), k, i)
        rs_buf_printf(b, "%s%lld", k ? ", " : "", (long long)json_integer_value(i));
    if ((json_int_t)json_array_size(json_object_get(c, "cases")) <
        json_integer_value(json_object_get(c, "count")))
        rs_buf_puts(b, ", \xE2\x80\xA6");
}

static void md_corrupted(rs_buf_t *b, json_t *report)
{
    if (!coord_report_corrupted(report)) return;
    rs_buf_printf(b, "> **Warning: %llu corrupted record(s)**: their stored bytes fail their "
                     "checksum or checks (cases ",
                  (unsigned long long)coord_report_corrupted(report));
    corrupted_cases(b, report);
    rs_buf_printf(b, "). They are left out of the counts and results.jsonl. Run `reasonsaver "
                     "resume %s` to run them again.\n\n",
                  json_string_value(json_object_get(report, "run_id")));
}

uint64_t coord_report_corrupted(json_t *report)
{
    return (uint64_t)json_integer_value(json_object_get(json_object_get(report, "corrupted"), "count"));
}

int coord_report_warn_corrupted(FILE *f, json_t *report, const char *resume_cmd)
{
    if (!coord_report_corrupted(report)) return 0;
    rs_buf_t b;
    rs_buf_init(&b);
    corrupted_cases(&b, report);
    fflush(stdout);
    fprintf(f, "reasonsaver: run %s has %llu corrupted stored record(s) (cases %s), left out of "
               "the report; run them again with\n  %s\n",
            json_string_value(json_object_get(report, "run_id")),
            (unsigned long long)coord_report_corrupted(report), b.data, resume_cmd);
    rs_buf_cleanup(&b);
    return 1;
}

static char *markdown(json_t *report)
{
    rs_buf_t b;
    rs_buf_init(&b);
    json_t *ds = json_object_get(report, "dataset");
    rs_buf_printf(&b, "# reasonsaver report: %s\n\n",
                  json_string_value(json_object_get(report, "run_id")));
    if (json_is_true(json_object_get(report, "simulated")))
        rs_buf_puts(&b, "> **Simulated**: outputs of `sim` models come from reasonsaver's built-in "
                        "simulated model, not a language model.\n\n");
    rs_buf_printf(&b, "- status: %s\n- dataset: `%s` (sha256 %.12s…), %lld cases, %lld lines "
                      "skipped\n- wall time: %.2f s, %.0f cases/s\n\n",
                  json_string_value(json_object_get(report, "status")),
                  json_string_value(json_object_get(ds, "path")),
                  json_string_value(json_object_get(ds, "sha256")),
                  (long long)json_integer_value(json_object_get(ds, "cases")),
                  (long long)json_integer_value(json_object_get(ds, "skipped_lines")),
                  json_number_value(json_object_get(report, "wall_seconds")),
                  json_number_value(json_object_get(report, "cases_per_second")));
    md_corrupted(&b, report);
    json_t *rel = json_object_get(report, "reliability");
    if (json_integer_value(json_object_get(rel, "resumes")) ||
        json_integer_value(json_object_get(rel, "redone_cases")))
        rs_buf_printf(&b, "- resumed %lld time(s); %lld case(s) were handed to a worker again after "
                          "a crash or an expired lease\n\n",
                      (long long)json_integer_value(json_object_get(rel, "resumes")),
                      (long long)json_integer_value(json_object_get(rel, "redone_cases")));
    md_peers(&b, json_object_get(report, "peers"));
    if (json_is_string(json_object_get(rel, "forced")))
        rs_buf_printf(&b, "> **Resumed with --force**: %s\n\n",
                      json_string_value(json_object_get(rel, "forced")));
    json_t *keys = json_object_get(report, "worker_keys"), *k;
    size_t ki;
    if (json_array_size(keys)) {
        rs_buf_puts(&b, "- workers (CURVE keys):");
        json_array_foreach(keys, ki, k) rs_buf_printf(&b, "%s `%s`", ki ? "," : "", json_string_value(k));
        rs_buf_puts(&b, "\n\n");
    }
    if (json_is_true(json_object_get(report, "insecure")))
        rs_buf_puts(&b, "> **Warning: insecure run** (--insecure): workers connected without CURVE "
                        "on an address other machines can reach, so any peer could read the cases "
                        "and send results.\n\n");
    md_models(&b, report);
    md_strategies(&b, report);
    md_rounds(&b, report);
    md_judges(&b, report);
    md_tags(&b, report);
    md_clusters(&b, report);
    md_near_dups(&b, report);
    return rs_buf_detach(&b);
}

/* ---- near-duplicate prompts ---- */

enum { DUP_MAX_CASES = 50000, DUP_TOP = 20, DUP_DIM = 256, DUP_SNIPPET = 160 };
static const double DUP_THRESHOLD = 0.95;

/* The stored config with the prompt reduced to the bare input (the template's words, shared by
 * every case, would make all pairs look alike) and at most DUP_MAX_CASES cases: the all-pairs
 * product grows with their square. */
static rs_config_t *dup_config(const rs_config_t *cfg, rs_err_t *err)
{
    char *text = rs_config_to_json(cfg);
    rs_config_t *c = rs_config_from_json(text, err);
    free(text);
    if (!c) return NULL;
    free(c->prompt.template);
    c->prompt.template = rs_xstrdup("{{input}}");
    free(c->prompt.system);
    c->prompt.system = NULL;
    if (c->dataset.limit <= 0 || c->dataset.limit > DUP_MAX_CASES) c->dataset.limit = DUP_MAX_CASES;
    return c;
}

/* A case's prompt: its messages other than system ones, a line each. Heap. */
/* The case's prompt as the dataset has it: its input field before prompt.template (an evals
 * case: its non-system messages), so a template shared by every case adds no similarity. */
static char *case_text(const rs_case_t *c)
{
    if (c->input) return rs_xstrdup(c->input);
    rs_buf_t b;
    rs_buf_init(&b);
    for (size_t i = 0; i < c->n_msgs; i++) {
        if (strcmp(c->msgs[i].role, "system") == 0) continue;
        if (b.len) rs_buf_putc(&b, '\n');
        rs_buf_puts(&b, c->msgs[i].content);
    }
    return rs_buf_detach(&b);
}

static int embed_cases(rs_dataset_t *ds, float *v, size_t n, rs_err_t *err)
{
    for (size_t i = 0; i < n; i++) {
        rs_case_t c;
        if (rs_dataset_read(ds, i, &c, err)) return -1;
        char *text = case_text(&c);
        rs_embed_hash(text, DUP_DIM, v + i * DUP_DIM);
        free(text);
        rs_case_cleanup(&c);
    }
    return 0;
}

/* One side of a pair: the case id and the start of its prompt. */
static void dup_side(json_t *o, rs_dataset_t *ds, size_t idx, const char *id_key,
                     const char *text_key)
{
    rs_case_t c;
    rs_err_t err;
    if (rs_dataset_read(ds, idx, &c, &err)) return;
    char *text = case_text(&c);
    size_t n = strlen(text);
    if (n > DUP_SNIPPET) {
        n = DUP_SNIPPET;
        while (n > 0 && ((unsigned char)text[n] & 0xC0) == 0x80)
            n--;
        text[n] = '\0';
    }
    json_object_set_new(o, id_key, json_string(c.id));
    json_object_set_new(o, text_key, json_string(text));
    free(text);
    rs_case_cleanup(&c);
}

static json_t *dups_json(rs_dataset_t *ds, const float *v, size_t n, uint64_t run_cases)
{
    rs_dups_t d;
    rs_vecset_near_dups(v, n, DUP_DIM, (float)DUP_THRESHOLD, DUP_TOP, &d);
    json_t *pairs = json_array();
    for (size_t k = 0; k < d.n_pairs; k++) {
        json_t *o = json_object();
        dup_side(o, ds, d.pairs[k].i, "a", "a_text");
        dup_side(o, ds, d.pairs[k].j, "b", "b_text");
        json_object_set_new(o, "similarity", json_real(d.pairs[k].sim));
        json_array_append_new(pairs, o);
    }
    json_t *out =
        json_pack("{sfsIsIsbso}", "threshold", DUP_THRESHOLD, "total", (json_int_t)d.total, "cases",
                  (json_int_t)n, "capped", run_cases > n, "pairs", pairs);
    rs_dups_cleanup(&d);
    return out;
}

/* Near-duplicate pairs over the run's dataset prompts (hash embeddings, cosine >= 0.95), or NULL
 * when the dataset cannot be read as it was (moved, changed): the report is still written. */
static json_t *near_dups_json(const rs_config_t *cfg, json_t *man)
{
    rs_err_t err;
    rs_config_t *c = dup_config(cfg, &err);
    rs_dataset_t *ds = c ? rs_dataset_open(c, &err) : NULL;
    rs_config_destroy(&c);
    if (!ds) {
        rs_warn("near-duplicate prompts left out: %s", err.msg);
        return NULL;
    }
    json_t *out = NULL;
    size_t n = (size_t)rs_dataset_count(ds);
    if (strcmp(rs_dataset_sha256(ds), coord_manifest_str(man, "dataset_sha256")) != 0) {
        rs_warn("near-duplicate prompts left out: %s changed since the run", rs_dataset_path(ds));
    } else {
        float *v = rs_xmalloc((n + 1) * DUP_DIM * sizeof(float));
        if (embed_cases(ds, v, n, &err) == 0)
            out = dups_json(ds, v, n, (uint64_t)coord_manifest_int(man, "total"));
        else
            rs_warn("near-duplicate prompts left out: %s", err.msg);
        free(v);
    }
    rs_dataset_destroy(&ds);
    return out;
}

/* ---- files ---- */

static int write_text(const char *dir, const char *name, const char *text, rs_err_t *err)
{
    char *path = rs_xasprintf("%s/%s", dir, name);
    int rc = rs_write_file_atomic(path, text, strlen(text), err);
    free(path);
    return rc;
}

int coord_report_build(coord_store_t *st, const char *run_id, const rs_config_t *cfg,
                       json_t *manifest, const char *dir, json_t **out, rs_err_t *err)
{
    agg_t a;
    agg_init(&a, cfg);
    char *jsonl_path = rs_xasprintf("%s/results.jsonl", dir);
    rs_err_t why;
    rs_afile_t *jsonl = cfg->report.jsonl ? rs_afile_open(jsonl_path, 0644, &why) : NULL;
    if (cfg->report.jsonl && !jsonl) rs_warn("%s; skipping results.jsonl", why.msg);
    a.jsonl = jsonl ? rs_afile_stream(jsonl) : NULL;
    int rc = coord_report_foreach(st, run_id, (uint64_t)coord_manifest_int(manifest, "total"), agg_case,
                                  &a, &a.corrupt, err);
    if (jsonl && rc == 0) rc = rs_afile_commit(&jsonl, err);
    rs_afile_abort(&jsonl);
    free(jsonl_path);
    json_t *report = rc == 0 ? report_json(&a, run_id, manifest) : NULL;
    if (report && a.embed.calls) json_object_set_new(report, "embedder", embedder_json(&a));
    if (report) json_object_set_new(report, "peers", peers_json(st, run_id));
    if (report) coord_analysis_fill(a.an, report);
    agg_cleanup(&a);
    if (!report) return -1;
    /* The near-duplicate pass re-reads and embeds every prompt (seconds per 10,000 cases), so
     * it runs only when asked for (report.near_duplicates). */
    json_t *dups = cfg->report.near_duplicates ? near_dups_json(cfg, manifest) : NULL;
    if (dups) json_object_set_new(report, "near_duplicates", dups);
    char *text = json_dumps(report, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (cfg->report.json) rc = write_text(dir, "report.json", text, err);
    free(text);
    if (rc == 0 && cfg->report.markdown) {
        char *md = markdown(report);
        rc = write_text(dir, "report.md", md, err);
        free(md);
    }
    if (rc == 0 && cfg->report.html) {
        char *html = coord_html_render(report);
        rc = write_text(dir, "report.html", html, err);
        free(html);
    }
    if (out && rc == 0)
        *out = report;
    else
        json_decref(report);
    return rc;
}

/* "84.6% [81.2, 87.5]" of a counts object, or "n/a". */
static void acc_text(json_t *g, char *out, size_t n)
{
    json_t *acc = json_object_get(g, "accuracy"), *ci = json_object_get(g, "ci95");
    if (!json_is_number(acc)) {
        snprintf(out, n, "n/a");
        return;
    }
    snprintf(out, n, "%5.1f%% [%.1f, %.1f]", 100 * json_number_value(acc),
             100 * json_number_value(json_array_get(ci, 0)),
             100 * json_number_value(json_array_get(ci, 1)));
}

static void print_strategy(FILE *f, const char *model, json_t *s)
{
    json_t *g = json_array_get(json_object_get(s, "graders"), 0);
    json_t *p = json_object_get(json_object_get(s, "mcnemar_vs_first"), "exact_p");
    char accs[64];
    acc_text(g, accs, sizeof(accs));
    rs_buf_t m, n;
    rs_buf_init(&m);
    rs_buf_init(&n);
    fprintf(f, "%-20s %-12s %-24s ", rs_text_safe_str(&m, model, RS_TEXT_SPACES),
            rs_text_safe_str(&n, jstr_or(s, "name", ""), RS_TEXT_SPACES), accs);
    rs_buf_cleanup(&m);
    rs_buf_cleanup(&n);
    if (json_is_number(p)) fprintf(f, "%.4g\n", json_number_value(p));
    else fprintf(f, "-\n");
}

/* The strategies' first-grader accuracy, when a model (or the pool) has more than `first`. */
static void print_strategies(FILE *f, json_t *report)
{
    size_t i, j;
    json_t *m, *s, *pool = json_object_get(json_object_get(report, "pool"), "strategies");
    if (!any_model_array(report, "strategies", 2) && json_array_size(pool) < 2) return;
    fprintf(f, "\n%-20s %-12s %-24s %s\n", "model", "strategy", "accuracy [95% CI]",
            "McNemar p vs first");
    json_array_foreach(json_object_get(report, "models"), i, m)
        json_array_foreach(json_object_get(m, "strategies"), j, s)
            print_strategy(f, jstr_or(m, "name", ""), s);
    json_array_foreach(pool, j, s)
        print_strategy(f, COORD_POOL_NAME, s);
}

/* Names in the summary come from the config (and so from whoever wrote it): shown escaped. */
void coord_report_print_summary(FILE *f, json_t *report)
{
    size_t i, j;
    json_t *m, *g;
    rs_buf_t mb, gb;
    rs_buf_init(&mb);
    rs_buf_init(&gb);
    fprintf(f, "\n%-20s %-12s %8s %8s %7s %8s  %-24s\n", "model", "grader", "correct", "wrong",
            "error", "skipped", "accuracy [95% CI]");
    json_array_foreach(json_object_get(report, "models"), i, m)
        json_array_foreach(json_object_get(m, "graders"), j, g) {
            char accs[64];
            acc_text(g, accs, sizeof(accs));
            fprintf(f, "%-20s %-12s %8lld %8lld %7lld %8lld  %s\n",
                    rs_text_safe_str(&mb, json_string_value(json_object_get(m, "name")), RS_TEXT_SPACES),
                    rs_text_safe_str(&gb, json_string_value(json_object_get(g, "name")), RS_TEXT_SPACES),
                    (long long)json_integer_value(json_object_get(g, "correct")),
                    (long long)json_integer_value(json_object_get(g, "wrong")),
                    (long long)json_integer_value(json_object_get(g, "error")),
                    (long long)json_integer_value(json_object_get(g, "skipped")), accs);
        }
    rs_buf_cleanup(&mb);
    rs_buf_cleanup(&gb);
    print_strategies(f, report);
    json_t *peers = json_object_get(report, "peers");
    if (json_integer_value(json_object_get(peers, "rejected")) ||
        json_integer_value(json_object_get(peers, "cut_off")))
        fprintf(f, "workers: %lld result(s) or message(s) rejected, %lld worker(s) cut off "
                   "(report.json: peers)\n",
                (long long)json_integer_value(json_object_get(peers, "rejected")),
                (long long)json_integer_value(json_object_get(peers, "cut_off")));
    if (json_is_true(json_object_get(report, "simulated")))
        fprintf(f, "(sim models are simulated: their outputs do not come from a language model)\n");
    if (json_is_true(json_object_get(report, "insecure")))
        fprintf(f, "WARNING: insecure run (--insecure): workers connected without CURVE on an "
                   "address other machines can reach; any peer could read the cases and send "
                   "results\n");
}

void coord_report_print_paths(FILE *f, const rs_config_t *cfg, const char *dir)
{
    const struct {
        int on;
        const char *name;
    } files[] = {{cfg->report.json, "report.json"},
                 {cfg->report.markdown, "report.md"},
                 {cfg->report.html, "report.html"},
                 {cfg->report.jsonl, "results.jsonl"}};
    fprintf(f, "\nreports:");
    for (size_t i = 0; i < RS_ARRAY_LEN(files); i++)
        if (files[i].on) fprintf(f, " %s/%s ", dir, files[i].name);
    fprintf(f, "\n");
}
