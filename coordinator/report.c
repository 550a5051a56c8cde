/* report: streaming aggregation of stored results and the report writers (JSON, Markdown, JSONL;
 * HTML is rendered by html.c from the same report object). */
#include "report.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "html.h"
#include "log.h"
#include "stats.h"

enum { C_CORRECT, C_WRONG, C_ERROR, C_SKIPPED, C_N };
static const char *COUNT_NAMES[C_N] = {"correct", "wrong", "error", "skipped"};

/* Counters of one model: [grader][kind]. */
typedef struct model_agg {
    uint64_t (*counts)[C_N];
    uint64_t cases, errors;
    int64_t input_tokens, output_tokens;
    double *lat;
    size_t n_lat, cap_lat;
    json_t *reasons; /* error reason -> count */
} model_agg_t;

typedef struct agg {
    const rs_config_t *cfg;
    model_agg_t *models;
    json_t *tag_index;       /* tag -> integer index into tag_counts */
    uint64_t *tag_counts;    /* [tag][model][grader][kind] */
    size_t n_tags, cap_tags;
    uint64_t cases, missing;
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
}

static void agg_cleanup(agg_t *a)
{
    for (size_t m = 0; m < a->cfg->n_models; m++) {
        free(a->models[m].counts);
        free(a->models[m].lat);
        json_decref(a->models[m].reasons);
    }
    free(a->models);
    free(a->tag_counts);
    json_decref(a->tag_index);
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

static int verdict_kind(json_t *grades, const char *grader)
{
    const char *v = json_string_value(json_object_get(grades, grader));
    if (!v) return C_SKIPPED;
    if (strcmp(v, "correct") == 0) return C_CORRECT;
    if (strcmp(v, "wrong") == 0) return C_WRONG;
    if (strcmp(v, "error") == 0) return C_ERROR;
    return C_SKIPPED;
}

static void add_latency(model_agg_t *ma, double ms)
{
    if (ma->n_lat == ma->cap_lat) {
        ma->cap_lat = ma->cap_lat ? 2 * ma->cap_lat : 1024;
        ma->lat = rs_xrealloc(ma->lat, ma->cap_lat * sizeof(double));
    }
    ma->lat[ma->n_lat++] = ms;
}

static void agg_candidates(model_agg_t *ma, json_t *cands)
{
    size_t i;
    json_t *c;
    json_array_foreach(cands, i, c) {
        ma->input_tokens += json_integer_value(json_object_get(c, "input_tokens"));
        ma->output_tokens += json_integer_value(json_object_get(c, "output_tokens"));
        add_latency(ma, json_number_value(json_object_get(c, "latency_ms")));
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
    agg_candidates(ma, cands);
    if (error) {
        /* Count by the short reason code when the worker gives one ("http_429", "timeout"). */
        const char *reason = json_string_value(json_object_get(entry, "error_type"));
        if (!reason) reason = error;
        ma->errors++;
        json_t *n = json_object_get(ma->reasons, reason);
        json_object_set_new(ma->reasons, reason, json_integer(json_integer_value(n) + 1));
    }
    for (size_t g = 0; g < sc->n_graders; g++) {
        int kind = error ? C_ERROR : verdict_kind(grades, sc->graders[g].name);
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

static int agg_case(agg_t *a, const char *text, rs_err_t *err)
{
    json_error_t jerr;
    json_t *r = json_loads(text, 0, &jerr);
    if (!r) return rs_err_set(err, "a stored result is not valid JSON: %s", jerr.text);
    json_t *tags = json_object_get(r, "tags"), *models = json_object_get(r, "models"), *e;
    size_t i;
    a->cases++;
    json_array_foreach(models, i, e) {
        int m = model_index(a->cfg, json_string_value(json_object_get(e, "model")));
        if (m >= 0) agg_model(a, (size_t)m, e, tags);
    }
    json_decref(r);
    return 0;
}

/* Streams every result in case order into the aggregate and, when out is open, results.jsonl. */
static int agg_stream(agg_t *a, coord_store_t *st, const char *run_id, uint64_t total, FILE *out,
                      rs_err_t *err)
{
    char *batch[1000];
    for (uint64_t first = 0; first < total; first += 1000) {
        size_t n = total - first < 1000 ? (size_t)(total - first) : 1000;
        if (coord_store_results_get(st, run_id, first, n, batch, err) != 0) return -1;
        int rc = 0;
        for (size_t i = 0; i < n; i++) {
            if (!batch[i]) {
                a->missing++;
                continue;
            }
            if (rc == 0) rc = agg_case(a, batch[i], err);
            if (rc == 0 && out) fprintf(out, "%s\n", batch[i]);
            free(batch[i]);
        }
        if (rc) return -1;
    }
    return 0;
}

/* ---- building the JSON ---- */

static json_t *counts_json(const char *name, const char *type, const uint64_t *c)
{
    uint64_t graded = c[C_CORRECT] + c[C_WRONG];
    double lo, hi;
    rs_wilson(c[C_CORRECT], graded, 1.959963984540054, &lo, &hi);
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(name));
    if (type) json_object_set_new(o, "type", json_string(type));
    for (int k = 0; k < C_N; k++) json_object_set_new(o, COUNT_NAMES[k], json_integer((json_int_t)c[k]));
    json_object_set_new(o, "accuracy", graded ? json_real((double)c[C_CORRECT] / (double)graded)
                                              : json_null());
    json_object_set_new(o, "ci95", graded ? json_pack("[ff]", lo, hi) : json_null());
    return o;
}

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

static json_t *latency_json(model_agg_t *ma)
{
    if (ma->n_lat == 0) return json_null();
    qsort(ma->lat, ma->n_lat, sizeof(double), cmp_double);
    double sum = 0;
    for (size_t i = 0; i < ma->n_lat; i++) sum += ma->lat[i];
    return json_pack("{sfsfsfsf}", "mean", sum / (double)ma->n_lat, "p50",
                     rs_percentile_sorted(ma->lat, ma->n_lat, 50), "p95",
                     rs_percentile_sorted(ma->lat, ma->n_lat, 95), "max", ma->lat[ma->n_lat - 1]);
}

static json_t *model_json(const agg_t *a, size_t m)
{
    const rs_model_cfg_t *mc = &a->cfg->models[m];
    model_agg_t *ma = &a->models[m];
    json_t *graders = json_array();
    for (size_t g = 0; g < a->cfg->scoring.n_graders; g++)
        json_array_append_new(graders, counts_json(a->cfg->scoring.graders[g].name,
                              rs_grader_kind_name(a->cfg->scoring.graders[g].kind), ma->counts[g]));
    /* Prices are per million tokens. */
    double cost = ((double)ma->input_tokens * mc->price_input +
                   (double)ma->output_tokens * mc->price_output) / 1e6;
    return json_pack("{sssssssbsIsIsOsIsIsfsoso}", "name", mc->name, "provider", mc->provider,
                     "model", mc->model, "simulated", strcmp(mc->provider, "sim") == 0,
                     "cases", (json_int_t)ma->cases, "errors", (json_int_t)ma->errors,
                     "errors_by_reason", ma->reasons, "input_tokens", (json_int_t)ma->input_tokens,
                     "output_tokens", (json_int_t)ma->output_tokens, "cost_usd", cost,
                     "latency_ms", latency_json(ma), "graders", graders);
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
                json_array_append_new(gs, counts_json(a->cfg->scoring.graders[g].name, NULL,
                                                      blk + (m * ng + g) * C_N));
            json_array_append_new(models, json_pack("{ssso}", "name", a->cfg->models[m].name,
                                                    "graders", gs));
        }
        json_array_append_new(arr, json_pack("{ssso}", "tag", names[i], "models", models));
    }
    free(names);
    return arr;
}

static int64_t manifest_int(json_t *man, const char *key)
{
    int64_t v = 0;
    const char *s = json_string_value(json_object_get(man, key));
    if (s) rs_parse_i64(s, &v);
    return v;
}

static const char *manifest_str(json_t *man, const char *key)
{
    const char *s = json_string_value(json_object_get(man, key));
    return s ? s : "";
}

static int any_simulated(const rs_config_t *cfg)
{
    for (size_t m = 0; m < cfg->n_models; m++)
        if (strcmp(cfg->models[m].provider, "sim") == 0) return 1;
    return 0;
}

static json_t *report_json(const agg_t *a, const char *run_id, json_t *man)
{
    int64_t started = manifest_int(man, "started_at"), finished = manifest_int(man, "finished_at");
    if (!finished) finished = rs_wall_ms();
    double wall = (double)(finished - started) / 1000.0;
    json_t *models = json_array();
    for (size_t m = 0; m < a->cfg->n_models; m++) json_array_append_new(models, model_json(a, m));
    json_t *dataset = json_pack("{sssssIsIsI}", "path", manifest_str(man, "dataset_path"),
                                "sha256", manifest_str(man, "dataset_sha256"),
                                "cases", (json_int_t)manifest_int(man, "total"),
                                "skipped_lines", (json_int_t)manifest_int(man, "skipped"),
                                "missing_results", (json_int_t)a->missing);
    int64_t redis_mem = manifest_int(man, "redis_used_memory");
    json_t *resources = json_pack("{sIsIsf}", "coordinator_peak_rss_kib",
                                  (json_int_t)manifest_int(man, "coordinator_peak_rss_kib"),
                                  "redis_used_memory_bytes", (json_int_t)redis_mem,
                                  "redis_bytes_per_case",
                                  a->cases ? (double)redis_mem / (double)a->cases : 0.0);
    /* Cases sent to workers more than once: those in flight when a worker or the coordinator
     * died, or whose lease expired. Each was paid for again. */
    int64_t dispatched = manifest_int(man, "dispatched"), total = manifest_int(man, "total");
    const char *forced = json_string_value(json_object_get(man, "forced"));
    json_t *reliability = json_pack("{sIsIsIso}", "resumes", (json_int_t)manifest_int(man, "resumes"),
                                    "dispatched_cases", (json_int_t)dispatched, "redone_cases",
                                    (json_int_t)(dispatched > total ? dispatched - total : 0),
                                    "forced", forced ? json_string(forced) : json_null());
    return json_pack("{sssssssssbsosssIsIsfsfsosososo}", "schema", COORD_REPORT_SCHEMA, "run_id", run_id,
                     "name", manifest_str(man, "name"), "status", manifest_str(man, "status"),
                     "simulated", any_simulated(a->cfg), "dataset", dataset,
                     "config_sha256", manifest_str(man, "config_sha256"),
                     "started_at_ms", (json_int_t)started, "finished_at_ms", (json_int_t)finished,
                     "wall_seconds", wall, "cases_per_second",
                     wall > 0 ? (double)a->cases / wall : 0.0, "models", models, "tags", tags_json(a),
                     "resources", resources, "reliability", reliability);
}

/* ---- Markdown ---- */

static void md_counts_row(rs_buf_t *b, const char *model, json_t *g)
{
    json_t *acc = json_object_get(g, "accuracy"), *ci = json_object_get(g, "ci95");
    rs_buf_printf(b, "| %s | %s | %lld | %lld | %lld | %lld | ", model,
                  json_string_value(json_object_get(g, "name")),
                  (long long)json_integer_value(json_object_get(g, "correct")),
                  (long long)json_integer_value(json_object_get(g, "wrong")),
                  (long long)json_integer_value(json_object_get(g, "error")),
                  (long long)json_integer_value(json_object_get(g, "skipped")));
    if (json_is_number(acc))
        rs_buf_printf(b, "%.1f%% [%.1f, %.1f] |\n", 100 * json_number_value(acc),
                      100 * json_number_value(json_array_get(ci, 0)),
                      100 * json_number_value(json_array_get(ci, 1)));
    else
        rs_buf_puts(b, "n/a |\n");
}

static const char MD_HEADER[] = "| model | grader | correct | wrong | error | skipped | accuracy "
                                "[95% CI] |\n|---|---|---:|---:|---:|---:|---|\n";

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
        json_t *lat = json_object_get(m, "latency_ms");
        rs_buf_printf(b, "| %s | %s | %lld | %lld | %lld | %lld | %.4f | %.1f | %.1f |\n",
                      json_string_value(json_object_get(m, "name")),
                      json_string_value(json_object_get(m, "provider")),
                      (long long)json_integer_value(json_object_get(m, "cases")),
                      (long long)json_integer_value(json_object_get(m, "errors")),
                      (long long)json_integer_value(json_object_get(m, "input_tokens")),
                      (long long)json_integer_value(json_object_get(m, "output_tokens")),
                      json_number_value(json_object_get(m, "cost_usd")),
                      json_number_value(json_object_get(lat, "p50")),
                      json_number_value(json_object_get(lat, "p95")));
    }
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
                rs_buf_printf(b, "| %s ", json_string_value(json_object_get(t, "tag")));
                md_counts_row(b, json_string_value(json_object_get(m, "name")), g);
            }
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
    json_t *rel = json_object_get(report, "reliability");
    if (json_integer_value(json_object_get(rel, "resumes")) ||
        json_integer_value(json_object_get(rel, "redone_cases")))
        rs_buf_printf(&b, "- resumed %lld time(s); %lld case(s) were sent to a model again after a "
                          "crash or an expired lease\n\n",
                      (long long)json_integer_value(json_object_get(rel, "resumes")),
                      (long long)json_integer_value(json_object_get(rel, "redone_cases")));
    if (json_is_string(json_object_get(rel, "forced")))
        rs_buf_printf(&b, "> **Resumed with --force**: %s\n\n",
                      json_string_value(json_object_get(rel, "forced")));
    md_models(&b, report);
    md_tags(&b, report);
    return rs_buf_detach(&b);
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
    char *jsonl_path = rs_xasprintf("%s/results.jsonl.tmp", dir);
    FILE *jsonl = cfg->report.jsonl ? fopen(jsonl_path, "w") : NULL;
    if (cfg->report.jsonl && !jsonl) rs_warn("cannot write %s; skipping results.jsonl", jsonl_path);
    int rc = agg_stream(&a, st, run_id, (uint64_t)manifest_int(manifest, "total"), jsonl, err);
    if (jsonl) {
        rc |= fclose(jsonl) != 0 ? rs_err_set(err, "%s: write error", jsonl_path) : 0;
        char *final = rs_xasprintf("%s/results.jsonl", dir);
        if (rc == 0) rename(jsonl_path, final);
        else remove(jsonl_path);
        free(final);
    }
    free(jsonl_path);
    json_t *report = rc == 0 ? report_json(&a, run_id, manifest) : NULL;
    agg_cleanup(&a);
    if (!report) return -1;
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
    if (out && rc == 0) *out = report;
    else json_decref(report);
    return rc;
}

void coord_report_print_summary(FILE *f, json_t *report)
{
    size_t i, j;
    json_t *m, *g;
    fprintf(f, "\n%-20s %-12s %8s %8s %7s %8s  %-24s\n", "model", "grader", "correct", "wrong",
            "error", "skipped", "accuracy [95% CI]");
    json_array_foreach(json_object_get(report, "models"), i, m)
        json_array_foreach(json_object_get(m, "graders"), j, g) {
            json_t *acc = json_object_get(g, "accuracy"), *ci = json_object_get(g, "ci95");
            char accs[64] = "n/a";
            if (json_is_number(acc))
                snprintf(accs, sizeof(accs), "%5.1f%% [%.1f, %.1f]", 100 * json_number_value(acc),
                         100 * json_number_value(json_array_get(ci, 0)),
                         100 * json_number_value(json_array_get(ci, 1)));
            fprintf(f, "%-20s %-12s %8lld %8lld %7lld %8lld  %s\n",
                    json_string_value(json_object_get(m, "name")),
                    json_string_value(json_object_get(g, "name")),
                    (long long)json_integer_value(json_object_get(g, "correct")),
                    (long long)json_integer_value(json_object_get(g, "wrong")),
                    (long long)json_integer_value(json_object_get(g, "error")),
                    (long long)json_integer_value(json_object_get(g, "skipped")), accs);
        }
    if (json_is_true(json_object_get(report, "simulated")))
        fprintf(f, "(sim models are simulated: their outputs do not come from a language model)\n");
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
