/* statusview: status JSON from the manifest and the live workers key, and its text form. */
#include "statusview.h"

#include <stdlib.h>
#include <string.h>

#include "reportview.h"

/* A JSON object the coordinator keeps under rs:run:<id><suffix>, or an empty object. */
static json_t *run_object(coord_store_t *st, const char *run_id, const char *suffix)
{
    char *text = coord_store_run_fetch(st, run_id, suffix);
    json_t *u = text ? json_loads(text, 0, NULL) : NULL;
    free(text);
    return json_is_object(u) ? u : (json_decref(u), json_object());
}

static json_t *live_workers(coord_store_t *st, const char *run_id)
{
    char *text = coord_store_live_workers(st, run_id);
    json_t *w = text ? json_loads(text, 0, NULL) : NULL;
    free(text);
    return json_is_array(w) ? w : (json_decref(w), json_null());
}

json_t *coord_status_json(coord_store_t *st, const char *run_id, json_t *m)
{
    int64_t total = coord_manifest_int(m, "total"), done = coord_manifest_int(m, "done");
    int64_t started = coord_manifest_int(m, "started_at"), updated = coord_manifest_int(m, "updated_at");
    int64_t finished = coord_manifest_int(m, "finished_at");
    int running = strcmp(coord_manifest_str(m, "status"), "running") == 0;
    int64_t end = running ? rs_wall_ms() : (finished ? finished : updated);
    double secs = (double)(end - started) / 1000.0;
    double rate = secs > 0 ? (double)done / secs : 0;
    json_t *workers = live_workers(st, run_id);
    int live = running && json_is_array(workers);
    json_t *eta = live && rate > 0 ? json_real((double)(total - done) / rate) : json_null();
    return json_pack("{sssssssbsIsIsIsIsfsfsfsosssssosososo}", "run_id", run_id, "name",
                     coord_manifest_str(m, "name"), "status", coord_manifest_str(m, "status"), "live", live,
                     "total", (json_int_t)total, "done", (json_int_t)done, "failed",
                     (json_int_t)coord_manifest_int(m, "failed"), "skipped",
                     (json_int_t)coord_manifest_int(m, "skipped"), "percent",
                     total ? 100.0 * (double)done / (double)total : 100.0, "elapsed_seconds", secs,
                     "cases_per_second", rate, "eta_seconds", eta, "dataset",
                     coord_manifest_str(m, "dataset_path"), "coordinator", coord_manifest_str(m, "coordinator"),
                     "workers", live ? workers : (json_decref(workers), json_array()),
                     "usage", run_object(st, run_id, ":usage"), "peers",
                     run_object(st, run_id, ":peers"), "concurrency",
                     run_object(st, run_id, ":concurrency"));
}

static void bar(rs_buf_t *b, double frac, int width)
{
    rs_buf_putc(b, '[');
    for (int i = 0; i < width; i++) rs_buf_putc(b, i < (int)(frac * width) ? '#' : '.');
    rs_buf_putc(b, ']');
}

static void render_errors(rs_buf_t *b, json_t *errors)
{
    const char *reason;
    json_t *n;
    int first = 1;
    json_object_foreach(errors, reason, n) {
        rs_buf_printf(b, "%s%s %lld", first ? "  errors: " : ", ", reason,
                      (long long)json_integer_value(n));
        first = 0;
    }
}

/* Last-minute p50/p95 per stage (generate, critique, revise) under a model's row. */
static void render_stages(rs_buf_t *b, json_t *stages)
{
    const char *stage;
    json_t *lat;
    if (json_object_size(stages) == 0) return;
    rs_buf_puts(b, "  last minute:");
    json_object_foreach(stages, stage, lat)
        rs_buf_printf(b, "  %s p50 %.1f ms, p95 %.1f ms", stage,
                      json_number_value(json_object_get(lat, "p50")),
                      json_number_value(json_object_get(lat, "p95")));
    rs_buf_putc(b, '\n');
}

/* The response cache's hits and misses of a model, when it was looked up at all. */
static void render_cache(rs_buf_t *b, json_t *u)
{
    long long hits = json_integer_value(json_object_get(u, "cache_hits"));
    long long misses = json_integer_value(json_object_get(u, "cache_misses"));
    if (hits || misses)
        rs_buf_printf(b, "%-20s cache: %lld hits, %lld misses (hits are not in calls)\n", "",
                      hits, misses);
}

/* Calls, tokens, cost and last-minute latency per model, from the usage counters. */
static void render_usage(rs_buf_t *b, json_t *usage)
{
    const char *model;
    json_t *u;
    if (json_object_size(usage) == 0) return;
    rs_buf_printf(b, "\n%-20s %9s %12s %12s %10s %9s %9s\n", "model", "calls", "tokens in",
                  "tokens out", "cost USD", "p50 ms", "p95 ms");
    json_object_foreach(usage, model, u) {
        json_t *lat = json_object_get(u, "last_minute_latency_ms");
        rs_buf_printf(b, "%-20s %9lld %12lld %12lld %10.4f", model,
                      (long long)json_integer_value(json_object_get(u, "calls")),
                      (long long)json_integer_value(json_object_get(u, "input_tokens")),
                      (long long)json_integer_value(json_object_get(u, "output_tokens")),
                      json_number_value(json_object_get(u, "cost_usd")));
        if (json_is_object(lat))
            rs_buf_printf(b, " %9.1f %9.1f", json_number_value(json_object_get(lat, "p50")),
                          json_number_value(json_object_get(lat, "p95")));
        else
            rs_buf_printf(b, " %9s %9s", "-", "-");
        render_errors(b, json_object_get(u, "errors"));
        rs_buf_putc(b, '\n');
        render_cache(b, u);
        render_stages(b, json_object_get(u, "last_minute_latency_ms_by_stage"));
    }
}

/* Each adaptive model's, or paused or refused one's, cluster-wide cap, and a pause still running. */
static void render_concurrency(rs_buf_t *b, json_t *conc)
{
    const char *model;
    json_t *m;
    json_object_foreach(json_object_get(conc, "models"), model, m) {
        long long left = json_integer_value(json_object_get(m, "paused_left_ms"));
        if (!json_is_true(json_object_get(m, "adaptive")) &&
            !json_integer_value(json_object_get(m, "congested")))
            continue;
        rs_buf_printf(b, "cap       %s: ", model);
        coord_report_concurrency_line(b, m);
        if (left > 0) rs_buf_printf(b, ", paused for %.1f s more", (double)left / 1000.0);
        rs_buf_putc(b, '\n');
    }
}

static void render_workers(rs_buf_t *b, json_t *workers)
{
    size_t i;
    json_t *w;
    if (json_array_size(workers) == 0) return;
    rs_buf_printf(b, "\n%-20s %-16s %8s %9s %10s %9s\n", "worker", "host", "pid", "in flight",
                  "results", "rejected");
    json_array_foreach(workers, i, w)
        rs_buf_printf(b, "%-20s %-16s %8lld %9lld %10lld %9lld\n",
                      json_string_value(json_object_get(w, "id")),
                      json_string_value(json_object_get(w, "host")),
                      (long long)json_integer_value(json_object_get(w, "pid")),
                      (long long)json_integer_value(json_object_get(w, "in_flight")),
                      (long long)json_integer_value(json_object_get(w, "results")),
                      (long long)json_integer_value(json_object_get(w, "rejected")));
}

/* What the coordinator refused from workers, when it refused anything. */
static void render_peers(rs_buf_t *b, json_t *peers)
{
    long long rejected = json_integer_value(json_object_get(peers, "rejected"));
    long long cut = json_integer_value(json_object_get(peers, "cut_off"));
    if (rejected == 0 && cut == 0) return;
    rs_buf_printf(b, "rejected  %lld result(s) or message(s) from workers, %lld worker(s) cut off",
                  rejected, cut);
    const char *reason;
    json_t *n;
    int first = 1;
    rs_buf_t safe;
    rs_buf_init(&safe);
    json_object_foreach(json_object_get(peers, "reasons"), reason, n) {
        rs_buf_printf(b, "%s%s %lld", first ? " (" : ", ",
                      rs_text_safe_str(&safe, reason, RS_TEXT_SPACES),
                      (long long)json_integer_value(n));
        first = 0;
    }
    rs_buf_cleanup(&safe);
    rs_buf_puts(b, first ? "\n" : ")\n");
}

void coord_status_render(rs_buf_t *b, json_t *s, int width)
{
    int bw = (width > 0 ? width : 80) - 40;
    if (bw < 10) bw = 10;
    long long total = json_integer_value(json_object_get(s, "total"));
    long long done = json_integer_value(json_object_get(s, "done"));
    double pct = json_number_value(json_object_get(s, "percent"));
    json_t *eta = json_object_get(s, "eta_seconds");
    rs_buf_printf(b, "run       %s\n", json_string_value(json_object_get(s, "run_id")));
    rs_buf_printf(b, "status    %s%s\n", json_string_value(json_object_get(s, "status")),
                  json_is_true(json_object_get(s, "live")) ? " (live)" : "");
    rs_buf_puts(b, "progress  ");
    bar(b, pct / 100.0, bw);
    rs_buf_printf(b, " %.1f%% %lld/%lld\n", pct, done, total);
    rs_buf_printf(b, "failed    %lld   skipped lines %lld\n",
                  (long long)json_integer_value(json_object_get(s, "failed")),
                  (long long)json_integer_value(json_object_get(s, "skipped")));
    rs_buf_printf(b, "rate      %.0f cases/s over %.1f s", json_number_value(json_object_get(s, "cases_per_second")),
                  json_number_value(json_object_get(s, "elapsed_seconds")));
    if (json_is_number(eta)) rs_buf_printf(b, ", ETA %.0f s", json_number_value(eta));
    rs_buf_printf(b, "\ndataset   %s\ncoordinator %s\n", json_string_value(json_object_get(s, "dataset")),
                  json_string_value(json_object_get(s, "coordinator")));
    render_peers(b, json_object_get(s, "peers"));
    render_concurrency(b, json_object_get(s, "concurrency"));
    render_usage(b, json_object_get(s, "usage"));
    render_workers(b, json_object_get(s, "workers"));
}
