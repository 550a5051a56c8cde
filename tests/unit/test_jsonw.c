/* jsonw: the same bytes as json_dumps(JSON_COMPACT), value for value: hand-picked strings, numbers
 * and shapes, then random trees; and the member writer's text against the jansson value that the
 * same calls make. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "jsonw.h"
#include "util.h"

/* v's text by both (v stolen); the test fails unless they agree, NULL included. */
static void same(json_t *v)
{
    char *want = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    size_t len = 0;
    char *got = rs_jsonw_dumps(v, &len);
    if (!want != !got) fail_msg("json_dumps %s, jsonw %s", want ? want : "NULL", got ? got : "NULL");
    if (want && (strcmp(want, got) != 0 || len != strlen(want)))
        fail_msg("json_dumps %s\n     jsonw %s", want, got);
    free(want);
    free(got);
    json_decref(v);
}

static void test_strings(void **state)
{
    (void)state;
    char all[0x80];
    for (int i = 0; i < 0x80; i++) all[i] = (char)(i + 1 == 0x80 ? 0x7F : i + 1);
    same(json_stringn(all, sizeof(all)));                    /* every ASCII byte: controls, DEL */
    same(json_stringn("a\0b", 3));                           /* a NUL inside */
    same(json_string("quote \" backslash \\ slash / tab \t"));
    same(json_string("\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xe2\x80\xa8")); /* UTF-8 kept as is */
    same(json_string(""));
    /* each byte that needs a look, at every place of 8-byte blocks read at once */
    static const char *const ODD[] = {"\x01", "\x1f", "\"", "\\", "\x7f", " ", "\xc3\xa9",
                                      "\xe2\x82\xac", "\n"};
    for (size_t k = 0; k < RS_ARRAY_LEN(ODD); k++)
        for (size_t at = 0; at < 19; at++) {
            char text[40];
            memset(text, 'a', sizeof(text));
            size_t len = strlen(ODD[k]);
            memcpy(text + at, ODD[k], len);
            text[at + len + (at % 5)] = '\0'; /* and strings ending at every place after it */
            same(json_string(text));
        }
    same(json_stringn_nocheck("\xff", 1));         /* invalid UTF-8: both refuse */
    same(json_stringn_nocheck("ok \xc0\x80", 5));  /* overlong */
    same(json_stringn_nocheck("\xed\xa0\x80", 3)); /* a surrogate */
    same(json_stringn_nocheck("\xe2\x82", 2));     /* cut short */
    json_t *o = json_object();
    json_object_set_new(o, "k\"\n\x01", json_true());
    json_object_setn_new_nocheck(o, "n\0ul", 4, json_null());
    same(o);
}

static void test_numbers(void **state)
{
    (void)state;
    static const json_int_t INTS[] = {0, 1, -1, 9, 10, -10, 1234567890123LL, INT64_MAX, INT64_MIN};
    for (size_t i = 0; i < RS_ARRAY_LEN(INTS); i++) same(json_integer(INTS[i]));
    static const double REALS[] = {0.0, -0.0, 1.0, -1.0, 0.1, 0.5, 2.5, 1e15, 1e16, 1e17, 1e20,
                                   1e21, 1e22, 1e100, 1e-5, 1e-7, 123.456, 1.5e300, -2.5e-300,
                                   5e-324, DBL_MAX, DBL_MIN, 123456789012345678.0, 3.14159265358979,
                                   1.0 / 3, 100.0, 0.001, -0.5, 7.0, -7.0, 9007199254740991.0,
                                   -9007199254740991.0, 9007199254740992.0, -9007199254740992.0,
                                   1e16 + 2, 4503599627370495.5};
    for (size_t i = 0; i < RS_ARRAY_LEN(REALS); i++) same(json_real(REALS[i]));
    /* integral reals take a path of their own: every one near the edges of 2^53 and of 10^k */
    for (int e = 0; e <= 53; e++)
        for (int d = -2; d <= 2; d++) {
            same(json_real(ldexp(1, e) + d));
            same(json_real(-ldexp(1, e) - d));
        }
    for (double p = 1; p < 1e17; p *= 10)
        for (int d = -1; d <= 1; d++) same(json_real(p + d));
    same(json_pack("[bbn]", 1, 0));
}

static void test_shapes(void **state)
{
    (void)state;
    same(json_object());
    same(json_array());
    same(json_pack("{s[]s{}s[{}[]]}", "a", "b", "c"));
    json_t *o = json_object(); /* insertion order, with a key deleted and one replaced */
    for (int i = 0; i < 40; i++) {
        char k[8];
        snprintf(k, sizeof(k), "k%d", (i * 17) % 40);
        json_object_set_new(o, k, json_integer(i));
    }
    json_object_del(o, "k3");
    json_object_set_new(o, "k5", json_string("replaced"));
    same(o);
    json_t *deep = json_integer(1);
    for (int i = 0; i < 200; i++) deep = i % 2 ? json_pack("[o]", deep) : json_pack("{so}", "x", deep);
    same(deep);
}

/* ---- random trees ---- */

static uint64_t seed = 42;

static json_t *random_string(void)
{
    static const char *const PIECES[] = {"a", "Z", " ", "\"", "\\", "/", "\n", "\t", "\x01", "\x1f",
                                         "\x7f", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
                                         "0", "#### 42"};
    char s[64];
    size_t n = 0, k = rs_splitmix64(&seed) % 8;
    for (size_t i = 0; i < k; i++) {
        const char *p = PIECES[rs_splitmix64(&seed) % RS_ARRAY_LEN(PIECES)];
        size_t m = strlen(p);
        memcpy(s + n, p, m);
        n += m;
    }
    return json_stringn(s, n);
}

static json_t *random_tree(int depth)
{
    uint64_t r = rs_splitmix64(&seed);
    switch (depth > 4 ? r % 6 : r % 8) {
    case 0: return json_null();
    case 1: return json_boolean(r & 64);
    case 2: return json_integer((json_int_t)(rs_splitmix64(&seed) >> (r % 64)) * ((r & 128) ? -1 : 1));
    case 3: {
        double x = ldexp((double)(rs_splitmix64(&seed) >> 11), (int)(r % 200) - 150);
        return json_real((r & 256) ? -x : x);
    }
    case 4:
    case 5: return random_string();
    case 6: {
        json_t *a = json_array();
        for (size_t i = 0, n = r % 5; i < n; i++) json_array_append_new(a, random_tree(depth + 1));
        return a;
    }
    default: {
        json_t *o = json_object();
        for (size_t i = 0, n = r % 5; i < n; i++) {
            json_t *k = random_string();
            json_object_set_new(o, json_string_value(k), random_tree(depth + 1));
            json_decref(k);
        }
        return o;
    }
    }
}

static void test_random_trees(void **state)
{
    (void)state;
    for (int i = 0; i < 5000; i++) same(random_tree(0));
}

/* The member writer against the jansson value that the same calls in the same order make: the
 * members jansson's setters refuse are left out by both. */
static void test_members(void **state)
{
    (void)state;
    json_t *want = json_object(), *arr = json_array(), *inner = json_object();
    rs_buf_t b;
    rs_buf_init(&b);
    rs_jsonw_t w, a, o;
    rs_jsonw_object(&w, &b);
    rs_jsonw_str(&w, "s", "v\n\xc3\xa9");
    json_object_set_new(want, "s", json_string("v\n\xc3\xa9"));
    rs_jsonw_str(&w, "bad", "\xff");
    json_object_set_new(want, "bad", json_string("\xff"));
    rs_jsonw_str(&w, "\xfe", "key not UTF-8");
    json_object_set_new(want, "\xfe", json_string("key not UTF-8"));
    rs_jsonw_str(&w, "none", NULL);
    json_object_set_new(want, "none", json_string(NULL));
    rs_jsonw_str_or_null(&w, "sn", NULL);
    json_object_set_new(want, "sn", json_null());
    rs_jsonw_str_or_null(&w, "sbad", "\xff");
    json_object_set_new(want, "sbad", json_null());
    rs_jsonw_str_or_null(&w, "sok", "x");
    json_object_set_new(want, "sok", json_string("x"));
    rs_jsonw_int(&w, "i", INT64_MIN);
    json_object_set_new(want, "i", json_integer(INT64_MIN));
    rs_jsonw_real(&w, "r", 2.0);
    json_object_set_new(want, "r", json_real(2.0));
    rs_jsonw_real(&w, "nan", NAN);
    json_object_set_new(want, "nan", json_real(NAN));
    rs_jsonw_real(&w, "inf", INFINITY);
    json_object_set_new(want, "inf", json_real(INFINITY));
    rs_jsonw_bool(&w, "t", 7);
    json_object_set_new(want, "t", json_boolean(7));
    rs_jsonw_bool(&w, "f", 0);
    json_object_set_new(want, "f", json_false());
    rs_jsonw_array_in(&a, &w, "a");
    rs_jsonw_str(&a, NULL, "x");
    json_array_append_new(arr, json_string("x"));
    rs_jsonw_str(&a, NULL, "\xff");
    json_array_append_new(arr, json_string("\xff"));
    rs_jsonw_object_in(&o, &a, NULL);
    rs_jsonw_null(&o, "n");
    json_object_set_new(inner, "n", json_null());
    rs_jsonw_tree(&o, "tree", json_pack("{s[i]}", "k", 1));
    json_object_set_new(inner, "tree", json_pack("{s[i]}", "k", 1));
    rs_jsonw_tree(&o, "null tree", NULL);
    assert_int_equal(rs_jsonw_end(&o), 0);
    json_array_append_new(arr, inner);
    rs_jsonw_int(&a, NULL, 3);
    json_array_append_new(arr, json_integer(3));
    assert_int_equal(rs_jsonw_end(&a), 0);
    json_object_set_new(want, "a", arr);
    rs_jsonw_array_in(&a, &w, "empty");
    rs_jsonw_end(&a);
    json_object_set_new(want, "empty", json_array());
    assert_int_equal(rs_jsonw_end(&w), 0);
    char *text = rs_jsonw_dumps(want, NULL);
    assert_string_equal(b.data, text);
    assert_int_equal(b.len, strlen(text));
    free(text);
    json_decref(want);
    rs_buf_cleanup(&b);
}

/* A tree member that rs_jsonw_append refuses voids the text, up through every parent. */
static void test_members_fail(void **state)
{
    (void)state;
    rs_buf_t b;
    rs_buf_init(&b);
    rs_jsonw_t w, a;
    rs_jsonw_object(&w, &b);
    rs_jsonw_array_in(&a, &w, "a");
    rs_jsonw_tree(&a, NULL, json_stringn_nocheck("\xff", 1));
    assert_int_equal(rs_jsonw_end(&a), -1);
    assert_int_equal(rs_jsonw_end(&w), -1);
    assert_string_equal(b.data, "{\"a\":[]}"); /* the refused member is not in the text */
    rs_buf_cleanup(&b);
}

/* Reals at every precision, as JSON_REAL_PRECISION(p) writes them; members take it on. */
static void test_precision(void **state)
{
    (void)state;
    static const double REALS[] = {0.0, -0.0, 1.0, -7.0, 0.5, 9.0, 10.0, 99.0, 100.0, 123456.0,
                                   9999999999.0, 1e10, 1e15, 1e16, 9007199254740991.0, 1e17,
                                   1.0 / 3, 1234.56789012345, 1e-7, 2.5e300, -1e22};
    for (int p = 1; p <= 17; p++) {
        json_t *want = json_array();
        rs_buf_t b;
        rs_buf_init(&b);
        rs_jsonw_t w, a;
        rs_jsonw_object(&w, &b);
        w.precision = p;
        rs_jsonw_array_in(&a, &w, "r");
        for (size_t i = 0; i < RS_ARRAY_LEN(REALS); i++) {
            rs_jsonw_real(&a, NULL, REALS[i]);
            json_array_append_new(want, json_real(REALS[i]));
        }
        rs_jsonw_end(&a);
        rs_jsonw_end(&w);
        json_t *o = json_pack("{so}", "r", want);
        char *text = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(p));
        if (strcmp(b.data, text) != 0) fail_msg("precision %d:\n%s\n%s", p, text, b.data);
        free(text);
        json_decref(o);
        rs_buf_cleanup(&b);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strings),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_shapes),
        cmocka_unit_test(test_random_trees),
        cmocka_unit_test(test_members),
        cmocka_unit_test(test_members_fail),
        cmocka_unit_test(test_precision),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
