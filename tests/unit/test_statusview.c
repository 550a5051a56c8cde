/* test_statusview: what `status` and `top` show (coordinator/statusview.c). The status object
 * from a manifest and the live keys of a real redis-server (started in a temporary directory):
 * elapsed time, rate and percent from the manifest's counters, live only while the run is running
 * and its workers key exists, an ETA only then, the usage, peers and concurrency objects passed
 * through. And its text: the progress bar sized to the terminal (10 columns at least), live and
 * ETA shown only when they apply, the usage table with errors, cache and per-stage lines, the
 * workers table, and a rejection reason from a peer made safe for the terminal. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../coordinator/statusview.h"
#include "testjson.h"
#include "testredis.h"

typedef testredis_t fixture_t;

static int setup(void **state)
{
    return (*state = testredis_start("statusview")) ? 0 : -1;
}

static int teardown(void **state)
{
    return testredis_stop(*state);
}

/* A manifest as Redis gives it back: every value a string. */
static json_t *manifest(const char *status, long long total, long long done, long long started,
                        long long finished)
{
    return rec("{\"name\": \"demo\", \"status\": \"%s\", \"total\": \"%lld\", \"done\": \"%lld\","
               " \"failed\": \"1\", \"skipped\": \"2\", \"started_at\": \"%lld\","
               " \"updated_at\": \"%lld\", \"finished_at\": \"%lld\","
               " \"dataset_path\": \"d.jsonl\", \"coordinator\": \"host:1\"}",
               status, total, done, started, finished ? finished : started + 500, finished);
}

static void put(fixture_t *f, const char *run_id, const char *suffix, const char *json)
{
    rs_err_t err;
    if (coord_store_run_put(f->store, run_id, suffix, json, &err)) fail_msg("%s", err.msg);
}

static void put_workers(fixture_t *f, const char *run_id, const char *json)
{
    rs_err_t err;
    if (coord_store_live_put(f->store, run_id, json, "{}", 60000, &err)) fail_msg("%s", err.msg);
}

static void test_json_finished(void **state)
{
    fixture_t *f = *state;
    put(f, "fin", ":usage", "{\"m\": {\"calls\": 3}}");
    put_workers(f, "fin", "[{\"id\": \"w1\"}]"); /* a stale view: the run is over */
    json_t *m = manifest("finished", 10, 4, 1000, 3000);
    json_t *s = coord_status_json(f->store, "fin", m);
    assert_string_equal(json_string_value(json_object_get(s, "run_id")), "fin");
    assert_string_equal(json_string_value(json_object_get(s, "status")), "finished");
    assert_true(json_is_false(json_object_get(s, "live")));
    assert_int_equal(geti(s, "total"), 10);
    assert_int_equal(geti(s, "done"), 4);
    assert_int_equal(geti(s, "failed"), 1);
    assert_int_equal(geti(s, "skipped"), 2);
    assert_float_equal(getn(s, "elapsed_seconds"), 2.0, 1e-9); /* finished_at - started_at */
    assert_float_equal(getn(s, "cases_per_second"), 2.0, 1e-9);
    assert_float_equal(getn(s, "percent"), 40.0, 1e-9);
    assert_true(json_is_null(json_object_get(s, "eta_seconds")));
    assert_int_equal(json_array_size(json_object_get(s, "workers")), 0);
    assert_int_equal(geti(json_object_get(json_object_get(s, "usage"), "m"), "calls"), 3);
    assert_true(json_is_object(json_object_get(s, "peers"))); /* none kept: an empty object */
    assert_int_equal(json_object_size(json_object_get(s, "concurrency")), 0);
    assert_string_equal(json_string_value(json_object_get(s, "dataset")), "d.jsonl");
    json_decref(s);
    json_decref(m);
}

static void test_json_running(void **state)
{
    fixture_t *f = *state;
    long long now = (long long)rs_wall_ms();
    json_t *m = manifest("running", 10, 4, now - 2000, 0);
    /* running, but no live view published (its coordinator is gone): not live, no ETA */
    json_t *s = coord_status_json(f->store, "run", m);
    assert_true(json_is_false(json_object_get(s, "live")));
    assert_true(json_is_null(json_object_get(s, "eta_seconds")));
    json_decref(s);
    put_workers(f, "run", "[{\"id\": \"w1\", \"host\": \"h\"}]");
    s = coord_status_json(f->store, "run", m);
    assert_true(json_is_true(json_object_get(s, "live")));
    assert_int_equal(json_array_size(json_object_get(s, "workers")), 1);
    double secs = getn(s, "elapsed_seconds"), eta = getn(s, "eta_seconds");
    assert_true(secs >= 2.0 && secs < 30.0); /* up to now, not to updated_at */
    assert_float_equal(eta, 6.0 / (4.0 / secs), 1e-6);
    json_decref(s);
    /* total 0: 100 percent, not a division by zero */
    json_decref(m);
    m = manifest("finished", 0, 0, 1000, 1000);
    s = coord_status_json(f->store, "empty", m);
    assert_float_equal(getn(s, "percent"), 100.0, 1e-9);
    assert_float_equal(getn(s, "cases_per_second"), 0.0, 1e-9);
    json_decref(s);
    json_decref(m);
}

static char *render(json_t *s, int width)
{
    rs_buf_t b;
    rs_buf_init(&b);
    coord_status_render(&b, s, width);
    return b.data;
}

/* The text's line starting with prefix (a static copy), failing the test when there is none. */
static const char *line(const char *text, const char *prefix)
{
    static char out[1024];
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, prefix, strlen(prefix)) != 0) continue;
        size_t n = strcspn(p, "\n");
        snprintf(out, sizeof(out), "%.*s", (int)n, p);
        return out;
    }
    fail_msg("no line '%s' in:\n%s", prefix, text);
    return NULL;
}

static json_t *status_obj(const char *extra)
{
    return rec("{\"run_id\": \"r1\", \"status\": \"running\", \"live\": true, \"total\": 10,"
               " \"done\": 4, \"failed\": 1, \"skipped\": 2, \"percent\": 40.0,"
               " \"elapsed_seconds\": 2.0, \"cases_per_second\": 2.0, \"eta_seconds\": 3.0,"
               " \"dataset\": \"d.jsonl\", \"coordinator\": \"host:1\"%s}", extra);
}

static void test_render_progress(void **state)
{
    json_t *s = status_obj("");
    char *t = render(s, 60); /* a bar of 60 - 40 = 20 columns, 8 of them done */
    assert_string_equal(line(t, "run "), "run       r1");
    assert_string_equal(line(t, "status "), "status    running (live)");
    assert_string_equal(line(t, "progress "), "progress  [########............] 40.0% 4/10");
    assert_string_equal(line(t, "failed "), "failed    1   skipped lines 2");
    assert_string_equal(line(t, "rate "), "rate      2 cases/s over 2.0 s, ETA 3 s");
    assert_string_equal(line(t, "dataset "), "dataset   d.jsonl");
    assert_null(strstr(t, "rejected"));
    assert_null(strstr(t, "calls"));
    free(t);
    t = render(s, 0); /* 80 columns */
    assert_string_equal(line(t, "progress "),
                        "progress  [################........................] 40.0% 4/10");
    free(t);
    t = render(s, 45); /* never narrower than 10 */
    assert_string_equal(line(t, "progress "), "progress  [####......] 40.0% 4/10");
    free(t);
    json_decref(s);
    s = rec("{\"run_id\": \"r2\", \"status\": \"finished\", \"live\": false, \"total\": 4,"
            " \"done\": 4, \"percent\": 100.0, \"elapsed_seconds\": 8.0,"
            " \"cases_per_second\": 0.5, \"eta_seconds\": null}");
    t = render(s, 50);
    assert_string_equal(line(t, "status "), "status    finished");
    assert_string_equal(line(t, "progress "), "progress  [##########] 100.0% 4/4");
    assert_string_equal(line(t, "rate "), "rate      0 cases/s over 8.0 s");
    free(t);
    json_decref(s);
}

static void test_render_tables(void **state)
{
    json_t *s = status_obj(
        ", \"usage\": {\"m\": {\"calls\": 3, \"input_tokens\": 30, \"output_tokens\": 12,"
        " \"cost_usd\": 0.5, \"errors\": {\"timeout\": 2},"
        " \"last_minute_latency_ms\": {\"p50\": 10.5, \"p95\": 20.25},"
        " \"cache_hits\": 5, \"cache_misses\": 1,"
        " \"last_minute_latency_ms_by_stage\": {\"generate\": {\"p50\": 1.0, \"p95\": 2.0}}},"
        " \"n\": {\"calls\": 0}},"
        " \"workers\": [{\"id\": \"w1\", \"host\": \"h1\", \"pid\": 42, \"in_flight\": 3,"
        " \"results\": 7, \"rejected\": 1}],"
        " \"peers\": {\"rejected\": 2, \"cut_off\": 1, \"reasons\": {\"bad\\u001b[31mred\": 2}}");
    char *t = render(s, 80);
    char want[256];
    snprintf(want, sizeof(want), "%-20s %9s %12s %12s %10s %9s %9s", "model", "calls", "tokens in",
             "tokens out", "cost USD", "p50 ms", "p95 ms");
    assert_string_equal(line(t, "model "), want);
    snprintf(want, sizeof(want), "%-20s %9d %12d %12d %10.4f %9.1f %9.1f  errors: timeout 2", "m",
             3, 30, 12, 0.5, 10.5, 20.25);
    assert_string_equal(line(t, "m "), want);
    snprintf(want, sizeof(want), "%-20s %9d %12d %12d %10.4f %9s %9s", "n", 0, 0, 0, 0.0, "-", "-");
    assert_string_equal(line(t, "n "), want);
    assert_non_null(strstr(t, "cache: 5 hits, 1 misses"));
    assert_string_equal(line(t, "  last minute:"), "  last minute:  generate p50 1.0 ms, p95 2.0 ms");
    snprintf(want, sizeof(want), "%-20s %-16s %8d %9d %10d %9d", "w1", "h1", 42, 3, 7, 1);
    assert_string_equal(line(t, "w1 "), want);
    const char *rej = line(t, "rejected ");
    assert_null(strchr(rej, '\x1b')); /* a peer's text cannot drive the terminal */
    assert_non_null(strstr(rej, "2 result(s) or message(s) from workers, 1 worker(s) cut off ("));
    assert_non_null(strstr(rej, "red 2)"));
    free(t);
    json_decref(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_finished),
        cmocka_unit_test(test_json_running),
        cmocka_unit_test(test_render_progress),
        cmocka_unit_test(test_render_tables),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
