/* test_tally: the report's counters give the same JSON whatever order the records are folded in
 * (the running coordinator folds them as they arrive, `report` in case order), and the latency
 * histogram's statistics: exact below 2 ms, within 0.05% above, the mean and maximum exact. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../coordinator/analysis.h"
#include "../../coordinator/record.h"
#include "../../coordinator/units.h"
#include "../../coordinator/tally.h"
#include "../../coordinator/experiment.h"
#include <math.h>

#include "stats.h"
#include "testjv.h"

static rs_config_t *config(void)
{
    rs_err_t err;
    rs_config_t *cfg = rs_config_load_string(
        "dataset: {path: x.jsonl}\n"
        "models: [{name: a, provider: sim, model: sim-1}, {name: b, provider: sim, model: sim-1}]\n"
        "judges: [{name: j1, model: a}]\n"
        "scoring: {graders: [exact, numeric]}\n",
        "<test>", NULL, NULL, 0, &err);
    if (!cfg) fail_msg("%s", err.msg);
    return cfg;
}

/* Case i's record: verdicts, latencies, errors, tags, critiques by a configured and an
 * unconfigured judge, strategies beyond the contract's, all varying with i. */
static json_t *record(int i)
{
    const char *v[] = {"correct", "wrong", "wrong", "correct", "correct"};
    char text[2048];
    const char *error = i % 7 == 0 ? (i % 2 ? "\"http_500\"" : "\"timeout\"") : "null";
    snprintf(text, sizeof(text),
             "{\"idx\":%d,\"id\":\"c%d\",\"tags\":[\"t%d\",\"all\"],\"targets\":[\"1\"],\"models\":["
             "{\"model\":\"a\",\"error\":null,\"candidates\":[{\"k\":0,\"output\":\"out %d\","
             "\"grades\":{\"exact\":\"%s\",\"numeric\":\"%s\"},\"latency_ms\":%d.%03d,"
             "\"input_tokens\":%d,\"output_tokens\":3,\"critiques\":[{\"judge\":\"j1\","
             "\"model\":\"a\",\"self\":true,\"score\":0.%d,\"parsed\":true,\"judged_correct\":%s,"
             "\"latency_ms\":1.5},{\"judge\":\"z%d\",\"model\":\"b\",\"score\":0.5,\"parsed\":true,"
             "\"judged_correct\":true}]}],\"strategies\":{\"first\":{\"k\":0,\"grades\":"
             "{\"exact\":\"%s\"}},\"s%d\":{\"k\":0,\"grades\":{\"exact\":\"correct\"}}}},"
             "{\"model\":\"b\",\"error\":%s,\"error_type\":%s,\"candidates\":[{\"k\":0,\"output\":"
             "\"b %d\",\"grades\":{\"exact\":\"%s\"},\"latency_ms\":%d}]}]}",
             i, i, i % 5, i, v[i % 5], v[(i + 1) % 5], i % 9000, i % 997, 10 + i % 13, i % 10,
             i % 2 ? "true" : "false", i % 3, v[i % 5], i % 4, error, error, i, v[(i + 2) % 5],
             i * 37 % 5000);
    json_error_t jerr;
    json_t *r = json_loads(text, 0, &jerr);
    if (!r) fail_msg("%s: %s", jerr.text, text);
    return r;
}

static char *tally_text(coord_tally_t *t)
{
    json_t *o = json_pack("{soso}", "models", coord_tally_models_json(t), "tags",
                          coord_tally_tags_json(t));
    coord_tally_fill_analysis(t, o);
    char *s = json_dumps(o, JSON_PRESERVE_ORDER | JSON_COMPACT);
    json_decref(o);
    return s;
}

enum { N = 600 };

static void test_order_independent(void **state)
{
    (void)state;
    rs_config_t *cfg = config();
    int order[N];
    for (int i = 0; i < N; i++)
        order[i] = i;
    char *texts[3];
    for (int pass = 0; pass < 3; pass++) {
        if (pass == 1) /* reversed */
            for (int i = 0; i < N / 2; i++) {
                int t = order[i];
                order[i] = order[N - 1 - i];
                order[N - 1 - i] = t;
            }
        if (pass == 2) { /* shuffled */
            uint64_t s = 42;
            for (int i = N - 1; i > 0; i--) {
                int j = (int)(rs_splitmix64(&s) % (uint64_t)(i + 1)), t = order[i];
                order[i] = order[j];
                order[j] = t;
            }
        }
        coord_tally_t *t = coord_tally_new(cfg);
        for (int i = 0; i < N; i++) {
            json_t *r = record(order[i]);
            coord_tally_add(t, testjv(r));
            json_decref(r);
        }
        assert_int_equal(coord_tally_cases(t), N);
        texts[pass] = tally_text(t);
        coord_tally_destroy(&t);
        assert_null(t);
    }
    assert_string_equal(texts[0], texts[1]);
    assert_string_equal(texts[0], texts[2]);
    /* the parts that used to follow arrival: reasons, judges, strategies, all by name */
    assert_non_null(strstr(texts[0], "\"errors_by_reason\":{\"http_500\":"));
    assert_non_null(strstr(texts[0], "{\"name\":\"j1\""));
    for (int pass = 0; pass < 3; pass++)
        free(texts[pass]);
    rs_config_destroy(&cfg);
}

/* A record that fails the checks is counted as corrupted and folds nothing. */
static void test_add_text(void **state)
{
    (void)state;
    rs_config_t *cfg = config();
    coord_tally_t *t = coord_tally_new(cfg);
    assert_int_equal(coord_tally_add_text(t, 4, "{\"idx\":5}", 9), -1);
    assert_int_equal(coord_tally_cases(t), 0);
    assert_int_equal(coord_tally_corrupted(t)->count, 1);
    assert_int_equal(coord_tally_corrupted(t)->idx[0], 4);
    coord_tally_destroy(&t);
    rs_config_destroy(&cfg);
}

static int cmp_dbl(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

static void test_lathist(void **state)
{
    (void)state;
    coord_lathist_t h = {0};
    assert_true(json_is_null(coord_lathist_json(&h)));
    assert_true(isnan(coord_lathist_percentile(&h, 50)));
    /* below 2 ms: exact, as rs_percentile_sorted on the values */
    double xs[1000];
    uint64_t s = 7;
    for (int i = 0; i < 1000; i++) {
        xs[i] = (double)(rs_splitmix64(&s) % 2000) / 1000; /* 0 .. 1.999 ms, whole us */
        coord_lathist_add(&h, xs[i]);
    }
    qsort(xs, 1000, sizeof(double), cmp_dbl);
    for (int p = 0; p <= 100; p += 5)
        assert_float_equal(coord_lathist_percentile(&h, p), rs_percentile_sorted(xs, 1000, p), 1e-9);
    coord_lathist_cleanup(&h);
    /* 50 ms to 5 s: within 0.05%; mean and max exact */
    double sum = 0;
    for (int i = 0; i < 1000; i++) {
        xs[i] = 50 + (double)(rs_splitmix64(&s) % 4950000) / 1000;
        sum += xs[i];
        coord_lathist_add(&h, xs[i]);
    }
    qsort(xs, 1000, sizeof(double), cmp_dbl);
    for (int p = 1; p < 100; p += 7) {
        double want = rs_percentile_sorted(xs, 1000, p);
        assert_float_equal(coord_lathist_percentile(&h, p), want, want * 5e-4);
    }
    assert_float_equal(coord_lathist_percentile(&h, 100), xs[999], 1e-9);
    json_t *j = coord_lathist_json(&h);
    assert_float_equal(json_number_value(json_object_get(j, "mean")), sum / 1000, 1e-6);
    assert_float_equal(json_number_value(json_object_get(j, "max")), xs[999], 1e-9);
    json_decref(j);
    /* nonsense latencies count as 0; huge ones land in the last bucket */
    coord_lathist_add(&h, -5);
    coord_lathist_add(&h, NAN);
    coord_lathist_add(&h, 1e300);
    assert_int_equal(h.n, 1003);
    coord_lathist_cleanup(&h);
}

/* Answers the response cache gave ("cached": true): in the tokens, in cache.hits and saved_usd,
 * not in cost_usd nor the latency; simulated models carry no "cache". */
static void test_cache_counts(void **state)
{
    (void)state;
    rs_err_t err;
    rs_config_t *cfg = rs_config_load_string(
        "dataset: {path: x.jsonl}\n"
        "models: [{name: h, provider: openai, model: m, prices: {input: 1000000, output: 2000000}},"
        " {name: s, provider: sim, model: sim-1}]\n"
        "judges: [{name: j, model: h}]\n",
        "<test>", NULL, NULL, 0, &err);
    if (!cfg) fail_msg("%s", err.msg);
    coord_tally_t *t = coord_tally_new(cfg);
    for (int i = 0; i < 3; i++) {
        char text[1024];
        const char *hit = i ? ",\"cached\":true" : "";
        snprintf(text, sizeof(text),
                 "{\"idx\":%d,\"id\":\"c%d\",\"tags\":[],\"targets\":[\"1\"],\"models\":["
                 "{\"model\":\"h\",\"error\":null,\"error_type\":null,\"candidates\":[{\"k\":0,\"output\":\"1\","
                 "\"grades\":{\"exact\":\"correct\"},\"latency_ms\":%s,\"input_tokens\":10,"
                 "\"output_tokens\":5%s,\"critiques\":[{\"judge\":\"j\",\"model\":\"h\",\"round\":0,"
                 "\"latency_ms\":7,\"input_tokens\":1,\"output_tokens\":1%s}]}]},"
                 "{\"model\":\"s\",\"error\":null,\"error_type\":null,\"candidates\":[{\"k\":0,\"output\":\"1\","
                 "\"grades\":{\"exact\":\"correct\"},\"latency_ms\":3}]}]}",
                 i, i, i ? "0" : "40", hit, i == 2 ? hit : "");
        assert_int_equal(coord_tally_add_text(t, (uint64_t)i, text, strlen(text)), 0);
    }
    json_t *models = coord_tally_models_json(t);
    json_t *h = json_array_get(models, 0), *c = json_object_get(h, "cache");
    /* 3 generations (2 hits) and 3 critiques (1 hit) */
    assert_int_equal(json_integer_value(json_object_get(c, "hits")), 3);
    assert_int_equal(json_integer_value(json_object_get(c, "misses")), 3);
    /* hits: 2 x (10 in, 5 out) + (1, 1) at 1 and 2 USD per token */
    assert_true(json_real_value(json_object_get(c, "saved_usd")) == 2 * (10 + 2 * 5) + 3);
    /* paid: generation 0 (10, 5) and critiques 0 and 1 (1, 1 each) */
    assert_true(json_real_value(json_object_get(h, "cost_usd")) == 20 + 2 * 3);
    assert_int_equal(json_integer_value(json_object_get(h, "input_tokens")), 33);
    json_t *lat = json_object_get(h, "latency_ms");
    /* the hits' zero latencies are left out */
    assert_true(json_real_value(json_object_get(lat, "mean")) == 40);
    assert_true(json_real_value(json_object_get(lat, "max")) == 40);
    assert_null(json_object_get(json_array_get(models, 1), "cache"));
    json_decref(models);
    coord_tally_destroy(&t);
    rs_config_destroy(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_independent),
        cmocka_unit_test(test_add_text),
        cmocka_unit_test(test_lathist),
        cmocka_unit_test(test_cache_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
