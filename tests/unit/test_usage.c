/* test_usage: the worker's per-RESULT usage summary (worker/usage.c, from rsworker) —
 * calls, tokens, errors by reason and one latency per call made, per model name, in the shape
 * coordinator/usage.c reads; refused calls count as errors only; a take starts over; the text is
 * byte for byte json_dumps's at 10 significant digits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../worker/usage.h"
#include <jansson.h>

static rs_config_t *config(void)
{
    rs_err_t err;
    rs_config_t *cfg = rs_config_load_string(
        "dataset: {path: x.jsonl}\n"
        "models:\n"
        "  - {name: a, provider: sim, model: sim-1}\n"
        "  - {name: b, provider: openai, model: gpt}\n"
        "  - {name: c, provider: sim, model: sim-1}\n",
        "<test>", NULL, NULL, 0, &err);
    if (!cfg) fail_msg("%s", err.msg);
    return cfg;
}

static json_t *take(wk_usage_t *u)
{
    size_t len;
    char *text = wk_usage_take(u, &len);
    if (!text) return NULL;
    assert_int_equal(len, strlen(text));
    json_t *o = json_loads(text, 0, NULL);
    assert_non_null(o);
    /* the bytes json_dumps writes for the same value, as when the summary was a jansson tree */
    char *want = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(10));
    assert_string_equal(text, want);
    free(want);
    free(text);
    return o;
}

static void test_summary(void **state)
{
    (void)state;
    rs_config_t *cfg = config();
    wk_usage_t *u = wk_usage_new(cfg);
    size_t len = 1;
    assert_null(wk_usage_take(u, &len));
    assert_int_equal(len, 0);
    wk_call_t calls[] = {
        {.model = 0, .made = 1, .input_tokens = 10, .output_tokens = 5, .latency_ms = 1.5},
        {.model = 0, .made = 1, .input_tokens = 20, .output_tokens = 7, .latency_ms = 2.25},
        {.model = 1, .made = 1, .latency_ms = 300, .error_type = "http_429"},
        {.model = 1, .made = 0, .error_type = "no_key"},
        {.model = 1, .made = 1, .latency_ms = 100, .error_type = "http_429"},
        {.model = 9, .made = 1, .input_tokens = 1000}, /* out of range: ignored */
    };
    wk_usage_add(u, calls, 2);
    wk_usage_add(u, calls + 2, RS_ARRAY_LEN(calls) - 2);
    json_t *o = take(u);
    assert_int_equal(json_object_size(o), 2); /* c made no call: left out */
    json_t *a = json_object_get(o, "a"), *b = json_object_get(o, "b");
    assert_int_equal(json_integer_value(json_object_get(a, "calls")), 2);
    assert_int_equal(json_integer_value(json_object_get(a, "input_tokens")), 30);
    assert_int_equal(json_integer_value(json_object_get(a, "output_tokens")), 12);
    assert_int_equal(json_object_size(json_object_get(a, "errors")), 0);
    json_t *lat = json_object_get(a, "latency_ms");
    assert_int_equal(json_array_size(lat), 2);
    assert_true(json_number_value(json_array_get(lat, 0)) == 1.5);
    assert_true(json_number_value(json_array_get(lat, 1)) == 2.25);
    assert_int_equal(json_integer_value(json_object_get(b, "calls")), 2); /* no_key made none */
    assert_int_equal(json_array_size(json_object_get(b, "latency_ms")), 2);
    json_t *errors = json_object_get(b, "errors");
    assert_int_equal(json_integer_value(json_object_get(errors, "http_429")), 2);
    assert_int_equal(json_integer_value(json_object_get(errors, "no_key")), 1);
    json_decref(o);
    /* a take starts over */
    assert_null(wk_usage_take(u, &len));
    wk_usage_add(u, calls + 1, 1);
    o = take(u);
    assert_int_equal(json_object_size(o), 1);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(o, "a"), "calls")), 1);
    assert_int_equal(json_array_size(json_object_get(json_object_get(o, "a"), "latency_ms")), 1);
    json_decref(o);
    wk_usage_destroy(&u);
    assert_null(u);
    rs_config_destroy(&cfg);
}

static void test_many_latencies(void **state)
{
    (void)state;
    rs_config_t *cfg = config();
    wk_usage_t *u = wk_usage_new(cfg);
    wk_call_t c = {.model = 2, .made = 1, .input_tokens = 1, .latency_ms = 0.001};
    for (int i = 0; i < 5000; i++) wk_usage_add(u, &c, 1);
    json_t *o = take(u), *m = json_object_get(o, "c");
    assert_int_equal(json_integer_value(json_object_get(m, "calls")), 5000);
    assert_int_equal(json_array_size(json_object_get(m, "latency_ms")), 5000);
    assert_true(json_number_value(json_array_get(json_object_get(m, "latency_ms"), 4999)) == 0.001);
    json_decref(o);
    wk_usage_destroy(&u);
    rs_config_destroy(&cfg);
}

/* Retries are counted as they happen; a 429 or 503 makes the summary urgent and keeps the longest
 * Retry-After; a take clears both. */
static void test_retries(void **state)
{
    (void)state;
    rs_config_t *cfg = config();
    wk_usage_t *u = wk_usage_new(cfg);
    wk_usage_retry(u, "b", "timeout", -1);
    assert_false(wk_usage_urgent(u));
    wk_usage_retry(u, "b", "http_429", 2000);
    wk_usage_retry(u, "b", "http_429", 500);
    wk_usage_retry(u, "b", "http_503", -1);
    wk_usage_retry(u, "nobody", "http_429", 9000); /* unknown model: ignored */
    assert_true(wk_usage_urgent(u));
    json_t *o = take(u);
    assert_int_equal(json_object_size(o), 1);
    json_t *b = json_object_get(o, "b"), *r = json_object_get(b, "retries");
    assert_int_equal(json_integer_value(json_object_get(r, "http_429")), 2);
    assert_int_equal(json_integer_value(json_object_get(r, "http_503")), 1);
    assert_int_equal(json_integer_value(json_object_get(r, "timeout")), 1);
    assert_int_equal(json_integer_value(json_object_get(b, "retry_after_ms")), 2000);
    assert_int_equal(json_integer_value(json_object_get(b, "calls")), 0);
    json_decref(o);
    assert_false(wk_usage_urgent(u));
    wk_call_t call = {.model = 1, .made = 1, .latency_ms = 3};
    wk_usage_add(u, &call, 1);
    o = take(u);
    b = json_object_get(o, "b");
    assert_null(json_object_get(b, "retries")); /* nothing retried since the last take */
    assert_null(json_object_get(b, "retry_after_ms"));
    json_decref(o);
    wk_usage_destroy(&u);
    rs_config_destroy(&cfg);
}

/* Latencies of every size, written to 10 significant digits as jansson's JSON_REAL_PRECISION(10)
 * writes them (take compares the bytes). */
static void test_latency_digits(void **state)
{
    (void)state;
    rs_config_t *cfg = config();
    wk_usage_t *u = wk_usage_new(cfg);
    static const double LAT[] = {0, 1, 0.5, 1234.56789012345, 1e-7, 99999.99999, 9999999999.0,
                                 10000000000.0, 12345678901.5, 1e20, 3.0000000004};
    for (size_t i = 0; i < RS_ARRAY_LEN(LAT); i++) {
        wk_call_t c = {.model = 2, .made = 1, .latency_ms = LAT[i], .stage = (int)i % 3};
        wk_usage_add(u, &c, 1);
    }
    wk_usage_retry(u, "b", "http_429", 1500);
    json_t *o = take(u);
    assert_int_equal(json_array_size(json_object_get(json_object_get(o, "c"), "latency_ms")),
                     RS_ARRAY_LEN(LAT));
    json_decref(o);
    wk_usage_destroy(&u);
    rs_config_destroy(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_summary),
        cmocka_unit_test(test_latency_digits),
        cmocka_unit_test(test_many_latencies),
        cmocka_unit_test(test_retries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
