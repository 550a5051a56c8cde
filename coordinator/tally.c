/* tally: the report's counters, folded one record at a time, and their JSON (tally.h). */
#include "tally.h"

#include "experiment.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "embed.h"
#include "log.h"

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

typedef struct stage_tally {
    uint64_t outputs; /* answers, critiques or revisions (an n-choice request makes n answers) */
    int64_t input_tokens, output_tokens;
    uint64_t hits;             /* outputs the response cache gave ("cached": true) ... */
    int64_t hit_in, hit_out;   /* ... and their tokens: in the counts, not in the cost */
    coord_lathist_t lat;       /* of the calls made: a hit took no time */
} stage_tally_t;

/* What one model's exec graders said beyond their verdicts (records' "grade_details"): their
 * scores, summed in millionths so that the sum does not depend on the order records come in, and
 * their error types. */
typedef struct exec_tally {
    uint64_t scored, score_millionths;
    json_t *reasons; /* error type -> count; NULL for graders of other kinds */
} exec_tally_t;

/* Counters of one model: [grader][kind], and its calls by stage. */
typedef struct model_tally {
    uint64_t (*counts)[C_N];
    exec_tally_t *exec; /* per grader */
    uint64_t cases, errors;
    stage_tally_t st[ST_N];
    json_t *reasons; /* error reason -> count */
    json_t *served;  /* served model id (the responses' "served_model") -> outputs */
    int64_t reasoning_tokens; /* of every stage, part of output_tokens */
} model_tally_t;

/* The remote embedder's calls (records' "embedding"; docs/CHAINS.md): one per case. */
typedef struct embed_tally {
    uint64_t calls, inputs, retries, errors;
    int64_t input_tokens;
    json_t *reasons; /* error reason -> count */
} embed_tally_t;

struct coord_tally {
    const rs_config_t *cfg;
    model_tally_t *models;
    embed_tally_t embed;
    json_t *tag_index;    /* tag -> integer index into tag_counts */
    uint64_t *tag_counts; /* [tag][model][grader][kind] */
    size_t n_tags, cap_tags;
    uint64_t cases;
    coord_corrupt_t corrupt; /* records whose checksum or checks failed (record.h) */
    rs_jdoc_t *doc;          /* coord_tally_add_text's reading, made on first use */
    coord_analysis_t *an;
    coord_experiment_t *exp; /* prompts x models, epochs, pass@k, paired differences */
};

/* ---- latency histogram ---- */

enum { LAT_EXACT = 2048, LAT_SUB = 1024, LAT_CHUNKS = 31 };

/* The chunk and slot of a latency of us microseconds. */
static void lat_slot(uint64_t us, size_t *chunk, size_t *slot)
{
    if (us < LAT_EXACT) {
        *chunk = 0;
        *slot = (size_t)us;
        return;
    }
    int e = 63 - __builtin_clzll(us); /* 11 .. 63 */
    if (e > 10 + LAT_CHUNKS - 1) {    /* beyond 2^41 us (25 days): the last bucket */
        *chunk = LAT_CHUNKS - 1;
        *slot = LAT_SUB - 1;
        return;
    }
    *chunk = (size_t)(e - 10);
    *slot = (size_t)((us >> (e - 10)) & (LAT_SUB - 1));
}

/* The middle of a bucket, in microseconds (the value itself below LAT_EXACT). */
static double lat_value(size_t chunk, size_t slot)
{
    if (chunk == 0) return (double)slot;
    double lower = (double)((uint64_t)(LAT_SUB + slot) << chunk);
    return lower + (double)((uint64_t)1 << chunk) / 2;
}

void coord_lathist_add(coord_lathist_t *h, double ms)
{
    double us_d = isfinite(ms) && ms > 0 ? round(ms * 1000) : 0;
    uint64_t us = us_d >= 0x1p62 ? (uint64_t)1 << 62 : (uint64_t)us_d;
    size_t chunk, slot;
    lat_slot(us, &chunk, &slot);
    if (!h->chunk[chunk])
        h->chunk[chunk] = rs_xcalloc(chunk ? LAT_SUB : LAT_EXACT, sizeof(uint32_t));
    if (h->chunk[chunk][slot] < UINT32_MAX) h->chunk[chunk][slot]++;
    h->n++;
    h->sum_us += us;
    if (us > h->max_us) h->max_us = us;
}

void coord_lathist_cleanup(coord_lathist_t *h)
{
    for (size_t c = 0; c < LAT_CHUNKS; c++)
        free(h->chunk[c]);
    memset(h, 0, sizeof(*h));
}

/* The values (us) of the rank-th and (rank + 1)-th smallest latencies (0-based). */
static void lat_ranks(const coord_lathist_t *h, uint64_t rank, double *v0, double *v1)
{
    uint64_t seen = 0;
    int got0 = 0;
    for (size_t c = 0; c < LAT_CHUNKS; c++) {
        if (!h->chunk[c]) continue;
        size_t slots = c ? LAT_SUB : LAT_EXACT;
        for (size_t s = 0; s < slots; s++) {
            seen += h->chunk[c][s];
            double v = fmin(lat_value(c, s), (double)h->max_us);
            if (!got0 && seen > rank) {
                *v0 = v;
                got0 = 1;
            }
            if (seen > rank + 1) {
                *v1 = v;
                return;
            }
        }
    }
    *v1 = (double)h->max_us;
}

double coord_lathist_percentile(const coord_lathist_t *h, double p)
{
    if (h->n == 0) return NAN;
    p = fmin(100, fmax(0, p));
    double pos = (double)(h->n - 1) * p / 100;
    uint64_t lo = (uint64_t)floor(pos);
    if (lo + 1 >= h->n) return (double)h->max_us / 1000;
    double v0 = 0, v1 = 0;
    lat_ranks(h, lo, &v0, &v1);
    return (v0 + (pos - (double)lo) * (v1 - v0)) / 1000;
}

json_t *coord_lathist_json(const coord_lathist_t *h)
{
    if (h->n == 0) return json_null();
    return json_pack("{sfsfsfsf}", "mean", (double)h->sum_us / (double)h->n / 1000, "p50",
                     coord_lathist_percentile(h, 50), "p95", coord_lathist_percentile(h, 95), "max",
                     (double)h->max_us / 1000);
}

/* ---- the tally ---- */

static size_t block_size(const coord_tally_t *t)
{
    return t->cfg->n_models * t->cfg->scoring.n_graders * C_N;
}

static coord_analysis_t *analysis_new(const rs_config_t *cfg)
{
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
    coord_analysis_t *a = coord_analysis_new(&opts);
    free(models);
    free(graders);
    free(jnames);
    free(jmodels);
    free(rubrics);
    return a;
}

coord_tally_t *coord_tally_new(const rs_config_t *cfg)
{
    coord_tally_t *t = rs_xcalloc(1, sizeof(*t));
    t->cfg = cfg;
    t->models = rs_xcalloc(cfg->n_models + 1, sizeof(model_tally_t));
    for (size_t m = 0; m < cfg->n_models; m++) {
        t->models[m].counts = rs_xcalloc(cfg->scoring.n_graders + 1, sizeof(*t->models[m].counts));
        t->models[m].reasons = json_object();
        t->models[m].served = json_object();
        t->models[m].exec = rs_xcalloc(cfg->scoring.n_graders + 1, sizeof(exec_tally_t));
        for (size_t g = 0; g < cfg->scoring.n_graders; g++)
            if (cfg->scoring.graders[g].kind == RS_GRADE_EXEC)
                t->models[m].exec[g].reasons = json_object();
    }
    t->tag_index = json_object();
    t->embed.reasons = json_object();
    t->an = analysis_new(cfg);
    t->exp = coord_experiment_new(cfg);
    return t;
}

void coord_tally_destroy(coord_tally_t **tp)
{
    coord_tally_t *t = tp ? *tp : NULL;
    if (!t) return;
    for (size_t m = 0; m < t->cfg->n_models; m++) {
        free(t->models[m].counts);
        for (size_t g = 0; g < t->cfg->scoring.n_graders; g++)
            json_decref(t->models[m].exec[g].reasons);
        free(t->models[m].exec);
        for (int st = 0; st < ST_N; st++)
            coord_lathist_cleanup(&t->models[m].st[st].lat);
        json_decref(t->models[m].reasons);
        json_decref(t->models[m].served);
    }
    free(t->models);
    json_decref(t->embed.reasons);
    free(t->tag_counts);
    json_decref(t->tag_index);
    coord_analysis_destroy(&t->an);
    coord_experiment_destroy(&t->exp);
    rs_jdoc_free(&t->doc);
    free(t);
    *tp = NULL;
}

static uint64_t *tag_block(coord_tally_t *t, const char *tag)
{
    json_t *v = json_object_get(t->tag_index, tag);
    size_t i;
    if (v) {
        i = (size_t)json_integer_value(v);
    } else {
        i = t->n_tags++;
        json_object_set_new(t->tag_index, tag, json_integer((json_int_t)i));
        if (t->n_tags > t->cap_tags) {
            t->cap_tags = t->cap_tags ? 2 * t->cap_tags : 16;
            t->tag_counts = rs_xrealloc(t->tag_counts, t->cap_tags * block_size(t) * sizeof(uint64_t));
        }
        memset(t->tag_counts + i * block_size(t), 0, block_size(t) * sizeof(uint64_t));
    }
    return t->tag_counts + i * block_size(t);
}

static void count_reason(json_t *reasons, const char *reason)
{
    json_t *n = json_object_get(reasons, reason);
    json_object_set_new(reasons, reason, json_integer(json_integer_value(n) + 1));
}

/* One answer, critique or revision: its call's tokens and latency under its stage of model mt,
 * the model the server said it served under mt's served ids. */
static void add_output(model_tally_t *mt, stage_tally_t *st, const rs_jv_t *o)
{
    int64_t in = rs_jv_int(rs_jv_get(o, "input_tokens"));
    int64_t out = rs_jv_int(rs_jv_get(o, "output_tokens"));
    const char *served = rs_jv_str(rs_jv_get(o, "served_model"));
    if (served) count_reason(mt->served, served);
    mt->reasoning_tokens += rs_jv_int(rs_jv_get(o, "reasoning_tokens"));
    st->outputs++;
    st->input_tokens += in;
    st->output_tokens += out;
    if (rs_jv_is_true(rs_jv_get(o, "cached"))) {
        st->hits++;
        st->hit_in += in;
        st->hit_out += out;
        return;
    }
    coord_lathist_add(&st->lat, rs_jv_num(rs_jv_get(o, "latency_ms")));
}

/* Model m's candidates: their generations and revisions count for m, each critique for the
 * model that judged (the critique's "model"). */
static void add_candidates(coord_tally_t *t, size_t m, const rs_jv_t *cands)
{
    size_t i, j;
    const rs_jv_t *c, *x;
    rs_jv_array_foreach(cands, i, c) {
        add_output(&t->models[m], &t->models[m].st[ST_GENERATE], c);
        rs_jv_array_foreach(rs_jv_get(c, "revisions"), j, x)
            add_output(&t->models[m], &t->models[m].st[ST_REVISE], x);
        rs_jv_array_foreach(rs_jv_get(c, "critiques"), j, x) {
            const char *judge_model = rs_jv_str(rs_jv_get(x, "model"));
            int judge = judge_model ? rs_config_model_index(t->cfg, judge_model) : -1;
            if (judge >= 0) add_output(&t->models[judge], &t->models[judge].st[ST_CRITIQUE], x);
        }
    }
}

/* An exec grader's score and error type on a model's first candidate (its "grade_details"). */
static void add_exec(exec_tally_t *x, const rs_jv_t *detail)
{
    const rs_jv_t *score = rs_jv_get(detail, "score");
    const char *type = rs_jv_str(rs_jv_get(detail, "error_type"));
    if (rs_jv_is_number(score)) {
        double v = rs_jv_num(score);
        x->scored++;
        x->score_millionths += (uint64_t)llround((v < 0 ? 0 : v > 1 ? 1 : v) * 1e6);
    }
    if (type) count_reason(x->reasons, type);
}

/* Folds one model's outcome for one case into its counters and the case's tag counters. */
static void add_model(coord_tally_t *t, size_t m, const rs_jv_t *entry, const rs_jv_t *tags)
{
    model_tally_t *mt = &t->models[m];
    const rs_scoring_cfg_t *sc = &t->cfg->scoring;
    const rs_jv_t *cands = rs_jv_get(entry, "candidates");
    const char *error = rs_jv_str(rs_jv_get(entry, "error"));
    const rs_jv_t *grades = rs_jv_get(rs_jv_at(cands, 0), "grades");
    const rs_jv_t *details = rs_jv_get(rs_jv_at(cands, 0), "grade_details");
    mt->cases++;
    add_candidates(t, m, cands);
    if (error) {
        /* Count by the short reason code when the worker gives one ("http_429", "timeout"). */
        const char *reason = rs_jv_str(rs_jv_get(entry, "error_type"));
        mt->errors++;
        count_reason(mt->reasons, reason ? reason : error);
    }
    for (size_t g = 0; g < sc->n_graders; g++) {
        int kind = error ? C_ERROR : (int)coord_verdict_of(grades, sc->graders[g].name);
        mt->counts[g][kind]++;
        const rs_jv_t *detail = rs_jv_get(details, sc->graders[g].name);
        if (!error && mt->exec[g].reasons && rs_jv_is_obj(detail)) add_exec(&mt->exec[g], detail);
        size_t i;
        const rs_jv_t *tag;
        rs_jv_array_foreach(tags, i, tag) {
            if (!rs_jv_is_str(tag)) continue;
            uint64_t *blk = tag_block(t, rs_jv_str(tag));
            blk[(m * sc->n_graders + g) * C_N + (size_t)kind]++;
        }
    }
}

static void add_embedding(embed_tally_t *e, const rs_jv_t *emb)
{
    e->calls++;
    e->inputs += (uint64_t)rs_jv_int(rs_jv_get(emb, "inputs"));
    e->input_tokens += rs_jv_int(rs_jv_get(emb, "input_tokens"));
    e->retries += (uint64_t)rs_jv_int(rs_jv_get(emb, "retries"));
    const char *reason = rs_jv_str(rs_jv_get(emb, "error_type"));
    if (!reason) return;
    e->errors++;
    count_reason(e->reasons, reason);
}

void coord_tally_add(coord_tally_t *t, const rs_jv_t *r)
{
    const rs_jv_t *tags = rs_jv_get(r, "tags"), *e;
    size_t i;
    t->cases++;
    rs_jv_array_foreach(rs_jv_get(r, "models"), i, e) {
        const char *name = rs_jv_str(rs_jv_get(e, "model"));
        int m = name ? rs_config_model_index(t->cfg, name) : -1;
        if (m >= 0) add_model(t, (size_t)m, e, tags);
    }
    const rs_jv_t *emb = rs_jv_get(r, "embedding");
    if (rs_jv_is_obj(emb)) add_embedding(&t->embed, emb);
    coord_analysis_add(t->an, r);
    coord_experiment_add(t->exp, r);
}

int coord_tally_add_text(coord_tally_t *t, uint64_t idx, const char *text, size_t len)
{
    rs_err_t why;
    if (!t->doc) t->doc = rs_jdoc_new();
    const rs_jv_t *r = coord_record_read(t->doc, text, len, idx, NULL, t->cfg,
                                         COORD_RECORD_SKIP_SPANS, &why);
    if (!r) {
        rs_warn("%s", why.msg);
        coord_corrupt_add(&t->corrupt, idx);
        return -1;
    }
    coord_tally_add(t, r);
    return 0;
}

void coord_tally_corrupt(coord_tally_t *t, uint64_t idx)
{
    coord_corrupt_add(&t->corrupt, idx);
}

uint64_t coord_tally_cases(const coord_tally_t *t)
{
    return t->cases;
}

coord_corrupt_t *coord_tally_corrupted(coord_tally_t *t)
{
    return &t->corrupt;
}

/* ---- JSON ---- */

static int cmp_str(const void *x, const void *y)
{
    return strcmp(*(const char *const *)x, *(const char *const *)y);
}

/* The keys of object o, sorted (borrowed from o; heap array). */
static const char **sorted_keys(json_t *o, size_t *n)
{
    const char **keys = rs_xcalloc(json_object_size(o) + 1, sizeof(char *));
    const char *k;
    json_t *v;
    *n = 0;
    json_object_foreach(o, k, v) keys[(*n)++] = k;
    qsort(keys, *n, sizeof(char *), cmp_str);
    return keys;
}

/* A copy of a reason -> count object with its keys sorted: the order records came in must not
 * show in the report. */
static json_t *sorted_counts(json_t *o)
{
    size_t n;
    const char **keys = sorted_keys(o, &n);
    json_t *out = json_object();
    for (size_t i = 0; i < n; i++)
        json_object_set(out, keys[i], json_object_get(o, keys[i]));
    free(keys);
    return out;
}

/* Prices are per million tokens. */
static double cost_of(const rs_model_cfg_t *mc, int64_t in, int64_t out)
{
    return ((double)in * mc->price_input + (double)out * mc->price_output) / 1e6;
}

/* What the calls that were made cost: the response cache's hits are free. */
static double paid_cost(const rs_model_cfg_t *mc, const stage_tally_t *st)
{
    return cost_of(mc, st->input_tokens - st->hit_in, st->output_tokens - st->hit_out);
}

/* {"generate": {outputs, input_tokens, output_tokens, cost_usd, latency_ms}, ...}: the stages
 * the model answered in. */
static json_t *stages_json(const rs_model_cfg_t *mc, const model_tally_t *mt)
{
    json_t *o = json_object();
    for (int i = 0; i < ST_N; i++) {
        const stage_tally_t *st = &mt->st[i];
        if (!st->outputs) continue;
        json_object_set_new(o, STAGE_NAMES[i],
                            json_pack("{sIsIsIsfso}", "outputs", (json_int_t)st->outputs,
                                      "input_tokens", (json_int_t)st->input_tokens,
                                      "output_tokens", (json_int_t)st->output_tokens, "cost_usd",
                                      paid_cost(mc, st), "latency_ms",
                                      coord_lathist_json(&st->lat)));
    }
    return o;
}

/* The response cache's part of a model's outputs (every stage): hits, misses (outputs it did not
 * give, all of them with the cache off) and what the hits would have cost. */
static json_t *cache_json(const rs_model_cfg_t *mc, const model_tally_t *mt)
{
    uint64_t hits = 0, outputs = 0;
    int64_t in = 0, out = 0;
    for (int i = 0; i < ST_N; i++) {
        hits += mt->st[i].hits;
        outputs += mt->st[i].outputs;
        in += mt->st[i].hit_in;
        out += mt->st[i].hit_out;
    }
    return json_pack("{sIsIsf}", "hits", (json_int_t)hits, "misses", (json_int_t)(outputs - hits),
                     "saved_usd", cost_of(mc, in, out));
}

/* input_tokens and output_tokens cover every stage, cost_usd what the calls made cost (the
 * response cache's hits are in "cache", for models that are not simulated); latency_ms is its
 * generations'. */
static json_t *model_json(const coord_tally_t *t, size_t m)
{
    const rs_model_cfg_t *mc = &t->cfg->models[m];
    const model_tally_t *mt = &t->models[m];
    json_t *graders = json_array();
    for (size_t g = 0; g < t->cfg->scoring.n_graders; g++) {
        json_t *o = coord_counts_json(t->cfg->scoring.graders[g].name,
                                      rs_grader_kind_name(t->cfg->scoring.graders[g].kind),
                                      mt->counts[g]);
        const exec_tally_t *x = &mt->exec[g];
        if (x->reasons) { /* an exec grader: its mean score and why it failed */
            json_object_set_new(o, "score_mean",
                                x->scored ? json_real((double)x->score_millionths / 1e6 /
                                                      (double)x->scored)
                                          : json_null());
            json_object_set_new(o, "errors_by_reason", sorted_counts(x->reasons));
        }
        json_array_append_new(graders, o);
    }
    int64_t in = 0, out = 0, hit_in = 0, hit_out = 0;
    for (int i = 0; i < ST_N; i++) {
        in += mt->st[i].input_tokens;
        out += mt->st[i].output_tokens;
        hit_in += mt->st[i].hit_in;
        hit_out += mt->st[i].hit_out;
    }
    double cost = cost_of(mc, in - hit_in, out - hit_out);
    int sim = strcmp(mc->provider, "sim") == 0;
    json_t *o = json_pack("{sssssssbsIsIsosIsIsfsososo}", "name", mc->name, "provider",
                          mc->provider, "model", mc->model, "simulated", sim, "cases",
                          (json_int_t)mt->cases, "errors", (json_int_t)mt->errors,
                          "errors_by_reason", sorted_counts(mt->reasons), "input_tokens",
                          (json_int_t)in, "output_tokens", (json_int_t)out, "cost_usd", cost,
                          "latency_ms", coord_lathist_json(&mt->st[ST_GENERATE].lat), "stages",
                          stages_json(mc, mt), "graders", graders);
    if (!sim) json_object_set_new(o, "cache", cache_json(mc, mt)); /* sim calls are never cached */
    /* only when the responses said so: a report without them stays as it was */
    if (mt->reasoning_tokens)
        json_object_set_new(o, "reasoning_tokens", json_integer((json_int_t)mt->reasoning_tokens));
    if (json_object_size(mt->served))
        json_object_set_new(o, "served_models", sorted_counts(mt->served));
    return o;
}

json_t *coord_tally_models_json(const coord_tally_t *t)
{
    json_t *models = json_array();
    for (size_t m = 0; m < t->cfg->n_models; m++)
        json_array_append_new(models, model_json(t, m));
    return models;
}

json_t *coord_tally_tags_json(const coord_tally_t *t)
{
    size_t n;
    const char **names = sorted_keys(t->tag_index, &n);
    json_t *arr = json_array();
    size_t ng = t->cfg->scoring.n_graders;
    for (size_t i = 0; i < n; i++) {
        const uint64_t *blk = t->tag_counts + (size_t)json_integer_value(
                                  json_object_get(t->tag_index, names[i])) * block_size(t);
        json_t *models = json_array();
        for (size_t m = 0; m < t->cfg->n_models; m++) {
            json_t *gs = json_array();
            for (size_t g = 0; g < ng; g++)
                json_array_append_new(gs, coord_counts_json(t->cfg->scoring.graders[g].name, NULL,
                                                            blk + (m * ng + g) * C_N));
            json_array_append_new(models, json_pack("{ssso}", "name", t->cfg->models[m].name,
                                                    "graders", gs));
        }
        json_array_append_new(arr, json_pack("{ssso}", "tag", names[i], "models", models));
    }
    free(names);
    return arr;
}

json_t *coord_tally_embedder_json(const coord_tally_t *t)
{
    const embed_tally_t *e = &t->embed;
    if (!e->calls) return NULL;
    return json_pack("{sssssIsIsIsIsIso}", "type", rs_embedder_kind_name(t->cfg->embedder.type),
                     "model", t->cfg->embedder.model, "calls", (json_int_t)e->calls, "inputs",
                     (json_int_t)e->inputs, "input_tokens", (json_int_t)e->input_tokens, "retries",
                     (json_int_t)e->retries, "errors", (json_int_t)e->errors, "errors_by_reason",
                     sorted_counts(e->reasons));
}

void coord_tally_fill_analysis(coord_tally_t *t, json_t *report)
{
    coord_analysis_fill(t->an, report);
    json_object_set_new(report, "experiment", coord_experiment_json(t->exp));
}
