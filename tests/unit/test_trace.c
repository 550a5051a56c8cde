/* test_trace: the worker's span records (worker/trace.c, from rsworker) — trace ids
 * are the first 16 bytes of SHA-256("<run_id>:<idx>") (vectors from Python's hashlib), span ids
 * are 16 hex digits, never zero and distinct, and a span record has the shape coordinator/otlp.h
 * expects, in the bytes its jansson object had. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <math.h>

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

/* What the jansson tree the span writer replaced wrote through rs_jsonw_append (the same bytes
 * as json_dumps(JSON_COMPACT)): the writer must give them byte for byte. */
static void assert_same_text(const rs_buf_t *b, json_t *want)
{
    char *text = json_dumps(want, JSON_COMPACT);
    assert_non_null(text);
    assert_string_equal(b->data, text);
    assert_int_equal(b->len, strlen(text));
    free(text);
    json_decref(want);
}

static void test_span_record(void **state)
{
    (void)state;
    rs_buf_t b;
    rs_buf_init(&b);
    wk_span_t s;
    wk_span_begin(&s, &b, "51083ea92b5ca02078b800ff788996cd", "00f067aa0ba902b7", NULL, "case",
                  "internal", 1700000000000000, 1700000000001500);
    wk_attr_str(&s, "k.str", "v\n\"q\" \xc3\xa9");
    wk_attr_str(&s, "k.null", NULL);
    wk_attr_str(&s, "k.bad", "\xff\xfe"); /* not UTF-8: left out */
    wk_attr_str(&s, "k.\xff", "v");      /* nor a key that is not */
    wk_attr_int(&s, "k.int", -42);
    wk_attr_real(&s, "k.real", 0.5);
    wk_attr_real(&s, "k.whole", 3);
    wk_attr_real(&s, "k.nan", NAN); /* json_real refuses it: left out */
    wk_attr_true(&s, "k.true");
    wk_span_event_begin(&s, "retry", 1700000000000100);
    wk_attr_int(&s, "attempt", 1);
    wk_attr_str(&s, "reason", NULL);
    wk_span_event_end(&s);
    wk_span_event_begin(&s, "mark", 1700000000000200);
    wk_span_event_end(&s);
    wk_span_end(&s);
    assert_same_text(
        &b, json_pack("{sssssnsssssIsIs{sssisfsfsb}s[{sssIs{si}}{sssIs{}}]s{ss}}", "trace_id",
                      "51083ea92b5ca02078b800ff788996cd", "span_id", "00f067aa0ba902b7",
                      "parent_span_id", "name", "case", "kind", "internal", "start_us",
                      (json_int_t)1700000000000000, "end_us", (json_int_t)1700000000001500,
                      "attributes", "k.str", "v\n\"q\" \xc3\xa9", "k.int", -42, "k.real", 0.5,
                      "k.whole", 3.0, "k.true", 1, "events", "name", "retry", "time_us",
                      (json_int_t)1700000000000100, "attributes", "attempt", 1, "name", "mark",
                      "time_us", (json_int_t)1700000000000200, "attributes", "status", "code",
                      "ok"));
    /* a child in error, without events; a message that is not UTF-8 is left out of the status */
    rs_buf_reset(&b);
    wk_span_begin(&s, &b, "51083ea92b5ca02078b800ff788996cd", "b7ad6b7169203331",
                  "00f067aa0ba902b7", "generate", "client", 1, 2);
    wk_span_error(&s, "model m: rate limited (429)");
    wk_span_end(&s);
    assert_same_text(&b, json_pack("{sssssssssssIsIs{}s[]s{ssss}}", "trace_id",
                                   "51083ea92b5ca02078b800ff788996cd", "span_id",
                                   "b7ad6b7169203331", "parent_span_id", "00f067aa0ba902b7",
                                   "name", "generate", "kind", "client", "start_us",
                                   (json_int_t)1, "end_us", (json_int_t)2, "attributes",
                                   "events", "status", "code", "error", "message",
                                   "model m: rate limited (429)"));
    rs_buf_reset(&b);
    wk_span_begin(&s, &b, "51083ea92b5ca02078b800ff788996cd", "b7ad6b7169203331", NULL, "case",
                  "internal", 1, 2);
    wk_span_error(&s, "bad \xff");
    wk_span_end(&s);
    assert_same_text(&b, json_pack("{sssssnsssssIsIs{}s[]s{ss}}", "trace_id",
                                   "51083ea92b5ca02078b800ff788996cd", "span_id",
                                   "b7ad6b7169203331", "parent_span_id", "name", "case",
                                   "kind", "internal", "start_us", (json_int_t)1, "end_us",
                                   (json_int_t)2, "attributes", "events", "status", "code",
                                   "error"));
    rs_buf_cleanup(&b);
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
