/* report: report.json from a tally (tally.h) and the run's manifest, the files the config asks
 * for (Markdown by reportmd.c, HTML by html.c, results.jsonl streamed from Redis as stored), and
 * the summary printed at the end of a run. */
#include "report.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analysis.h"
#include "gates.h"
#include "html.h"
#include "jsonget.h"
#include "jsonlidx.h"
#include "log.h"
#include "neardup.h"
#include "record.h"
#include "reportmd.h"
#include "tally.h"
#include "units.h"

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

static int any_simulated(const rs_config_t *cfg)
{
    for (size_t m = 0; m < cfg->n_models; m++)
        if (strcmp(cfg->models[m].provider, "sim") == 0) return 1;
    return 0;
}

static json_t *report_json(coord_tally_t *t, const rs_config_t *cfg, const char *run_id,
                           json_t *man)
{
    int64_t started = coord_manifest_int(man, "started_at"), finished = coord_manifest_int(man, "finished_at");
    if (!finished) finished = rs_wall_ms();
    double wall = (double)(finished - started) / 1000.0;
    uint64_t cases = coord_tally_cases(t), total = (uint64_t)coord_manifest_int(man, "total");
    const coord_corrupt_t *corrupt = coord_tally_corrupted(t);
    uint64_t missing = total > cases + corrupt->count ? total - cases - corrupt->count : 0;
    /* the manifest's total counts units (units.h): the dataset's cases are that over each case's
     * prompts and epochs */
    coord_units_t u;
    coord_units_init(&u, cfg, 0);
    uint64_t per_case = (uint64_t)u.variants * u.epochs;
    json_t *dataset = json_pack("{sssssIsIsI}", "path", coord_manifest_str(man, "dataset_path"),
                                "sha256", coord_manifest_str(man, "dataset_sha256"),
                                "cases", (json_int_t)(total / per_case),
                                "skipped_lines", (json_int_t)coord_manifest_int(man, "skipped"),
                                "missing_results", (json_int_t)missing);
    if (per_case > 1) json_object_set_new(dataset, "units", json_integer((json_int_t)total));
    int64_t redis_mem = coord_manifest_int(man, "redis_used_memory");
    json_t *resources = json_pack("{sIsIsf}", "coordinator_peak_rss_kib",
                                  (json_int_t)coord_manifest_int(man, "coordinator_peak_rss_kib"),
                                  "redis_used_memory_bytes", (json_int_t)redis_mem,
                                  "redis_bytes_per_case",
                                  cases ? (double)redis_mem / (double)cases : 0.0);
    /* Cases sent to workers more than once: those in flight when a worker or the coordinator
     * died, or whose lease expired. Each was paid for again. */
    int64_t dispatched = coord_manifest_int(man, "dispatched");
    const char *forced = json_string_value(json_object_get(man, "forced"));
    json_t *reliability = json_pack("{sIsIsIso}", "resumes", (json_int_t)coord_manifest_int(man, "resumes"),
                                    "dispatched_cases", (json_int_t)dispatched, "redone_cases",
                                    (json_int_t)(dispatched > (int64_t)total ? dispatched - (int64_t)total : 0),
                                    "forced", forced ? json_string(forced) : json_null());
    /* A run with damaged records is never reported as finished: its status says so until a
     * resume has run those cases again. */
    const char *status = corrupt->count ? "corrupted" : coord_manifest_str(man, "status");
    json_object_set_new(reliability, "records_rejected",
                        json_integer((json_int_t)coord_manifest_int(man, "records_rejected")));
    /* insecure: some coordinator of this run bound an address other machines reach, without
     * CURVE (--insecure); the manifest keeps that endpoint */
    /* worker_keys: under CURVE, the names of the keys the run's workers were let in with */
    json_t *keys = json_loads(coord_manifest_str(man, "worker_keys"), 0, NULL);
    return json_pack("{sssssssssbsbsososssIsIsfsfsososososo}", "schema", COORD_REPORT_SCHEMA, "run_id", run_id,
                     "name", coord_manifest_str(man, "name"), "status", status,
                     "simulated", any_simulated(cfg),
                     "insecure", json_is_string(json_object_get(man, "insecure")),
                     "worker_keys", json_is_array(keys) ? keys : (json_decref(keys), json_null()),
                     "dataset", dataset,
                     "config_sha256", coord_manifest_str(man, "config_sha256"),
                     "started_at_ms", (json_int_t)started, "finished_at_ms", (json_int_t)finished,
                     "wall_seconds", wall, "cases_per_second",
                     wall > 0 ? (double)cases / wall : 0.0, "models", coord_tally_models_json(t),
                     "tags", coord_tally_tags_json(t),
                     "resources", resources, "reliability", reliability, "corrupted",
                     coord_corrupt_json(corrupt));
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

/* report.json's "concurrency": each model's cluster-wide cap over the run and its pauses
 * (rs:run:<id>:concurrency, kept by the coordinator; docs/RATELIMITS.md), without what only
 * means something live. NULL when the run had no adaptive model, 429, 503 or pause. */
static json_t *concurrency_json(coord_store_t *st, const char *run_id)
{
    char *text = coord_store_run_fetch(st, run_id, ":concurrency");
    json_t *c = text ? json_loads(text, 0, NULL) : NULL;
    free(text);
    json_t *models = json_incref(json_object_get(c, "models"));
    json_decref(c);
    if (!json_is_object(models)) {
        json_decref(models);
        return NULL;
    }
    const char *name;
    json_t *m;
    json_object_foreach(models, name, m) json_object_del(m, "paused_left_ms");
    return models;
}

int coord_report_warn_corrupted(FILE *f, json_t *report, const char *resume_cmd)
{
    if (!coord_report_corrupted(report)) return 0;
    rs_buf_t b;
    rs_buf_init(&b);
    coord_report_corrupted_cases(&b, report);
    fflush(stdout);
    fprintf(f, "reasonsaver: run %s has %llu corrupted stored record(s) (cases %s), left out of "
               "the report; run them again with\n  %s\n",
            json_string_value(json_object_get(report, "run_id")),
            (unsigned long long)coord_report_corrupted(report), b.data, resume_cmd);
    rs_buf_cleanup(&b);
    return 1;
}

/* ---- files ---- */

static int write_text(const char *dir, const char *name, const char *text, rs_err_t *err)
{
    char *path = rs_xasprintf("%s/%s", dir, name);
    int rc = rs_write_file_atomic(path, text, strlen(text), err);
    free(path);
    return rc;
}

/* The report of the tally t: report.json, report.md and report.html as the config asks. */
static int write_reports(coord_store_t *st, const char *run_id, const rs_config_t *cfg,
                         json_t *manifest, const char *dir, coord_tally_t *t, json_t **out,
                         rs_err_t *err)
{
    json_t *report = report_json(t, cfg, run_id, manifest);
    json_t *embedder = coord_tally_embedder_json(t);
    if (embedder) json_object_set_new(report, "embedder", embedder);
    json_object_set_new(report, "peers", peers_json(st, run_id));
    json_t *conc = concurrency_json(st, run_id);
    if (conc) json_object_set_new(report, "concurrency", conc);
    coord_tally_fill_analysis(t, report);
    /* The near-duplicate pass re-reads and embeds every prompt (seconds per 10,000 cases), so
     * it runs only when asked for (report.near_duplicates). */
    json_t *dups = cfg->report.near_duplicates ? coord_neardup_json(cfg, manifest) : NULL;
    if (dups) json_object_set_new(report, "near_duplicates", dups);
    /* last: gates read the report's own numbers (gates.h) */
    if (cfg->n_gates) json_object_set_new(report, "gates", coord_gates_eval(cfg, report));
    /* the resolved config beside the report: what the viewer opens a finished run with, without
     * its Redis (never a secret: a config holds the names of variables, not their values) */
    int rc = cfg->report.json ? write_text(dir, "config.json", coord_manifest_str(manifest, "config"), err) : 0;
    char *text = json_dumps(report, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (rc == 0 && cfg->report.json) rc = write_text(dir, "report.json", text, err);
    free(text);
    if (rc == 0 && cfg->report.markdown) {
        char *md = coord_reportmd_render(report);
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

/* One pass over the stored records in case order: each is folded into tally (when not NULL;
 * one that fails the checks is left out) and written to results.jsonl (when open) as stored,
 * one per line. */
typedef struct pass {
    const rs_config_t *cfg;
    coord_tally_t *tally;
    FILE *jsonl;
    coord_jsonlidx_t *idx; /* results.idx beside results.jsonl, or NULL */
    uint64_t written;      /* bytes of results.jsonl */
    rs_buf_t row;
    rs_jdoc_t *doc; /* each record is read into it */
} pass_t;

/* Case idx's line of results.idx: its row, from its checked record (NULL: it has none, and the
 * file could not say so: it is given up, the viewer reads the run from Redis). */
static void pass_row(pass_t *p, uint64_t idx, const rs_jv_t *rec)
{
    rs_err_t why;
    rs_buf_reset(&p->row);
    if (rec) coord_jsonlidx_encode(p->idx, rec, &p->row);
    if (!rec) rs_err_set(&why, "case %llu's record fails its checks", (unsigned long long)idx);
    if (!rec || coord_jsonlidx_mark(p->idx, idx, p->written, p->row.data, p->row.len, &why)) {
        rs_warn("results.idx: %s; the viewer reads this run from Redis", why.msg);
        coord_jsonlidx_abort(&p->idx);
    }
}

static int pass_case(uint64_t idx, const char *text, void *arg, rs_err_t *err)
{
    pass_t *p = arg;
    if (!text) return 0;
    size_t len = strlen(text);
    rs_err_t why;
    const rs_jv_t *rec = p->tally || p->idx ? coord_record_read(p->doc, text, len, idx, NULL, p->cfg,
                                                                COORD_RECORD_SKIP_SPANS, &why)
                                            : NULL;
    if (p->tally && !rec) { /* left out of the counts and of results.jsonl */
        rs_warn("%s", why.msg);
        coord_tally_corrupt(p->tally, idx);
        return 0;
    }
    if (p->tally) coord_tally_add(p->tally, rec);
    int rc = 0;
    if (p->jsonl && (fwrite(text, 1, len, p->jsonl) != len || putc('\n', p->jsonl) == EOF))
        rc = rs_err_set(err, "writing results.jsonl: %s", strerror(errno));
    if (rc == 0 && p->jsonl && p->idx) pass_row(p, idx, rec);
    p->written += len + 1;
    return rc;
}

/* Reads every stored record of the run once: into tally (may be NULL) and, when the config asks
 * for it, into <dir>/results.jsonl, written atomically (a temporary file, fsync, rename, each
 * checked; a file that cannot be created is a warning). Records whose checksum fails are added to
 * corrupt. 0 / -1 (Redis or the file failed). */
static int read_records(coord_store_t *st, const char *run_id, const rs_config_t *cfg,
                        uint64_t total, const char *dir, coord_tally_t *tally,
                        coord_corrupt_t *corrupt, rs_err_t *err)
{
    rs_err_t why;
    rs_afile_t *jsonl = NULL;
    if (cfg->report.jsonl) {
        char *path = rs_xasprintf("%s/results.jsonl", dir);
        jsonl = rs_afile_open(path, 0644, &why);
        if (!jsonl) rs_warn("%s; skipping results.jsonl", why.msg);
        free(path);
    }
    pass_t p = {cfg, tally, jsonl ? rs_afile_stream(jsonl) : NULL, NULL, 0, {0}, rs_jdoc_new()};
    rs_buf_init(&p.row);
    if (jsonl && !(p.idx = coord_jsonlidx_open(dir, total, cfg, &why)))
        rs_warn("%s; the viewer reads this run from Redis", why.msg);
    int rc = 0;
    if (p.tally || p.jsonl) rc = coord_report_foreach(st, run_id, total, pass_case, &p, corrupt, err);
    if (jsonl && rc == 0) rc = rs_afile_commit(&jsonl, err);
    if (rc == 0 && p.idx && coord_jsonlidx_commit(&p.idx, p.written, &why))
        rs_warn("%s; the viewer reads this run from Redis", why.msg);
    coord_jsonlidx_abort(&p.idx);
    rs_buf_cleanup(&p.row);
    rs_jdoc_free(&p.doc);
    rs_afile_abort(&jsonl);
    return rc;
}

int coord_report_build(coord_store_t *st, const char *run_id, const rs_config_t *cfg,
                       json_t *manifest, const char *dir, json_t **out, rs_err_t *err)
{
    coord_tally_t *t = coord_tally_new(cfg);
    uint64_t total = (uint64_t)coord_manifest_int(manifest, "total");
    int rc = read_records(st, run_id, cfg, total, dir, t, coord_tally_corrupted(t), err);
    if (rc == 0) rc = write_reports(st, run_id, cfg, manifest, dir, t, out, err);
    coord_tally_destroy(&t);
    return rc;
}

int coord_report_write(coord_store_t *st, const char *run_id, const rs_config_t *cfg,
                       json_t *manifest, const char *dir, coord_tally_t *t,
                       coord_jsonlout_t **jsonl, json_t **out, rs_err_t *err)
{
    coord_corrupt_t corrupt = {0};
    uint64_t total = (uint64_t)coord_manifest_int(manifest, "total");
    if (jsonl && *jsonl && coord_jsonlout_complete(*jsonl)) {
        /* written during the run: nothing to read back */
        if (coord_jsonlout_commit(jsonl, err) != 0) return -1;
        return write_reports(st, run_id, cfg, manifest, dir, t, out, err);
    }
    if (jsonl) coord_jsonlout_abort(jsonl);
    if (read_records(st, run_id, cfg, total, dir, NULL, &corrupt, err) != 0) return -1;
    if (corrupt.count == 0) return write_reports(st, run_id, cfg, manifest, dir, t, out, err);
    /* A record changed in Redis after it was stored and folded: the counts must leave it out,
     * so they are read again from what Redis holds. */
    rs_warn("%llu stored record(s) changed since they were stored; reading the run back from Redis",
            (unsigned long long)corrupt.count);
    return coord_report_build(st, run_id, cfg, manifest, dir, out, err);
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
            rs_text_safe_str(&n, coord_jstr_or(s, "name", ""), RS_TEXT_SPACES), accs);
    rs_buf_cleanup(&m);
    rs_buf_cleanup(&n);
    if (json_is_number(p)) fprintf(f, "%.4g\n", json_number_value(p));
    else fprintf(f, "-\n");
}

/* The strategies' first-grader accuracy, when a model (or the pool) has more than `first`. */
static void print_strategies(FILE *f, json_t *report)
{
    size_t i, j;
    json_t *m, *s, *pool;
    if (!coord_report_has_strategies(report, &pool)) return;
    fprintf(f, "\n%-20s %-12s %-24s %s\n", "model", "strategy", "accuracy [95% CI]",
            "McNemar p vs first");
    json_array_foreach(json_object_get(report, "models"), i, m)
        json_array_foreach(json_object_get(m, "strategies"), j, s)
            print_strategy(f, coord_jstr_or(m, "name", ""), s);
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
