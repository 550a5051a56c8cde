/* test_trace: the worker's span records (worker/trace.c, from rsworker) — trace ids
 * are the first 16 bytes of SHA-256("<run_id>:<idx>") (vectors from Python's hashlib), span ids
 * are 16 hex digits, never zero and distinct, and a span record has the shape coordinator/otlp.h
 * expects. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../worker/trace.h"

static void test_trace_ids(void **state)
{
    (void)state;
    char id[WK_TRACE_ID_HEX];
    wk_trace_trace_id("run-1", 0, id);
    assert_string_equal(id, "51083ea92b5ca02078b800ff788996cd");
    wk_trace_trace_id("demo-20261127-204123-c53e", 0, id);
    assert_string_equal(id, "513a93764675c936e19718f69ce24438");
    wk_trace_trace_id("run-1", UINT64_MAX, id);
    assert_string_equal(id, "9e63587bac0e22d6bd0f846d19828f4a");
    /* a run id longer than the stack buffer hashes in full */
    char long_id[600];
    memset(long_id, 'r', sizeof(long_id) - 1);
    long_id[sizeof(long_id) - 1] = '\0';
    char a[WK_TRACE_ID_HEX], b[WK_TRACE_ID_HEX];
    wk_trace_trace_id(long_id, 1, a);
    long_id[598] = 's';
    wk_trace_trace_id(long_id, 1, b);
    assert_int_equal(strlen(a), 32);
    assert_string_not_equal(a, b);
}

static int is_hex(const char *s)
{
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f'))) return 0;
    return 1;
}

static void test_span_ids(void **state)
{
    (void)state;
    uint64_t rng, other;
    wk_trace_seed(&rng);
    other = rng ^ 1;
    enum { N = 2000 };
    static char ids[N][WK_SPAN_ID_HEX];
    for (int i = 0; i < N; i++) {
        wk_trace_span_id(&rng, ids[i]);
        assert_int_equal(strlen(ids[i]), 16);
        assert_true(is_hex(ids[i]));
        assert_string_not_equal(ids[i], "0000000000000000");
        for (int j = 0; j < i; j++) assert_string_not_equal(ids[i], ids[j]);
    }
    char x[WK_SPAN_ID_HEX];
    wk_trace_span_id(&other, x);
    assert_string_not_equal(x, ids[0]); /* another seed, another sequence */
    /* the state that makes splitmix64 return 0 once is skipped, not turned into an id */
    uint64_t zero_next = 0;
    zero_next -= 0x9E3779B97F4A7C15ull; /* the next step's state is 0, whose output is 0 */
    wk_trace_span_id(&zero_next, x);
    assert_string_not_equal(x, "0000000000000000");
}

static void test_span_record(void **state)
{
    (void)state;
    json_t *s = wk_span_new("51083ea92b5ca02078b800ff788996cd", "00f067aa0ba902b7", NULL, "case",
                            "internal", 1700000000000000, 1700000000001500);
    json_t *a = wk_span_attrs(s);
    wk_attr_str(a, "k.str", "v");
    wk_attr_str(a, "k.null", NULL);
    wk_attr_str(a, "k.bad", "\xff\xfe"); /* not UTF-8: left out */
    wk_attr_int(a, "k.int", 42);
    wk_attr_real(a, "k.real", 0.5);
    wk_span_event(s, "retry", 1700000000000100, json_pack("{si}", "attempt", 1));
    wk_span_event(s, "mark", 1700000000000200, NULL);
    char *text = json_dumps(s, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(
        text, "{\"attributes\":{\"k.int\":42,\"k.real\":0.5,\"k.str\":\"v\"},\"end_us\":"
              "1700000000001500,\"events\":[{\"attributes\":{\"attempt\":1},\"name\":\"retry\","
              "\"time_us\":1700000000000100},{\"attributes\":{},\"name\":\"mark\",\"time_us\":"
              "1700000000000200}],\"kind\":\"internal\",\"name\":\"case\",\"parent_span_id\":null,"
              "\"span_id\":\"00f067aa0ba902b7\",\"start_us\":1700000000000000,\"status\":{\"code\":"
              "\"ok\"},\"trace_id\":\"51083ea92b5ca02078b800ff788996cd\"}");
    free(text);
    wk_span_error(s, "model m: rate limited (429)");
    json_t *st = json_object_get(s, "status");
    assert_string_equal(json_string_value(json_object_get(st, "code")), "error");
    assert_string_equal(json_string_value(json_object_get(st, "message")),
                        "model m: rate limited (429)");
    json_decref(s);
    json_t *child = wk_span_new("51083ea92b5ca02078b800ff788996cd", "b7ad6b7169203331",
                                "00f067aa0ba902b7", "generate", "client", 1, 2);
    assert_string_equal(json_string_value(json_object_get(child, "parent_span_id")),
                        "00f067aa0ba902b7");
    json_decref(child);
}

static void test_wall_clock(void **state)
{
    (void)state;
    int64_t a = wk_trace_wall_us(), b = wk_trace_wall_us();
    assert_true(a > 1600000000000000); /* Unix microseconds, after 2020 */
    assert_true(b >= a && b - a < 1000000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trace_ids),
        cmocka_unit_test(test_span_ids),
        cmocka_unit_test(test_span_record),
        cmocka_unit_test(test_wall_clock),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
