/* test_jdoc: the flat JSON reader (common/jdoc.c) held to jansson's json_loadb with
 * JSON_DECODE_ANY | JSON_REJECT_DUPLICATES: the same texts accepted (a long table of tricky ones,
 * objects of many keys, every one-byte change of a record), the same values read from them (types,
 * integers against reals, string bytes and lengths), and rs_json_valid against jansson without
 * JSON_REJECT_DUPLICATES. Then the nesting bound, the readers on missing values and wrong types,
 * and a document read again and again. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "../../common/jdoc.h"

/* Deep enough for every text here, below jansson's own bound (2048 values deep). */
#define DEPTH 1000

/* ---- jdoc's tree against jansson's ---- */

/* The jansson value a jdoc value stands for (for json_equal): jdoc's own copy, rs_jv_json, which
 * these comparisons test too; a value of no known type gives NULL and fails them. */
static json_t *to_json(const rs_jv_t *v)
{
    json_t *j = rs_jv_json(v);
    if (!j) fail_msg("value of unknown type %d", v->type);
    return j;
}

static int jtype_of(const json_t *j)
{
    switch (json_typeof(j)) {
    case JSON_NULL: return RS_JNULL;
    case JSON_FALSE: return RS_JFALSE;
    case JSON_TRUE: return RS_JTRUE;
    case JSON_INTEGER: return RS_JINT;
    case JSON_REAL: return RS_JREAL;
    case JSON_STRING: return RS_JSTR;
    case JSON_ARRAY: return RS_JARR;
    case JSON_OBJECT: return RS_JOBJ;
    }
    return 0;
}

/* v against j, field by field: types (integer and real apart), integers, reals bit for bit,
 * strings byte for byte with their lengths and terminating NUL, members in order, each value's
 * span, and what the readers give. The first difference, or NULL. */
static const char *differ(const rs_jv_t *v, const json_t *j)
{
    if (!v || !j) return "a value missing";
    if (v->type != jtype_of(j)) return "types differ";
    switch (v->type) {
    case RS_JNULL:
    case RS_JTRUE:
    case RS_JFALSE:
        return v->span == 1 ? NULL : "a literal's span is not 1";
    case RS_JINT:
        if (v->u.i != json_integer_value(j) || rs_jv_int(v) != v->u.i) return "integers differ";
        return v->span == 1 ? NULL : "an integer's span is not 1";
    case RS_JREAL: {
        double x = json_real_value(j);
        if (memcmp(&x, &v->u.d, sizeof(x)) != 0 || rs_jv_num(v) != x) return "reals differ";
        return v->span == 1 ? NULL : "a real's span is not 1";
    }
    case RS_JSTR:
        if (v->n != json_string_length(j)) return "string lengths differ";
        if (memcmp(v->u.s, json_string_value(j), v->n) != 0) return "string bytes differ";
        if (v->u.s[v->n] != '\0' || strlen(v->u.s) != v->n) return "string not NUL-terminated at n";
        if (rs_jv_str(v) != v->u.s) return "rs_jv_str";
        return v->span == 1 ? NULL : "a string's span is not 1";
    case RS_JARR: {
        if (v->n != json_array_size(j) || rs_jv_len(v) != v->n) return "array sizes differ";
        size_t i, span = 1;
        const rs_jv_t *m;
        rs_jv_array_foreach(v, i, m)
        {
            if (i >= v->n) return "array runs past n";
            const char *why = differ(m, json_array_get(j, i));
            if (why) return why;
            if (i < 64 && rs_jv_at(v, i) != m) return "rs_jv_at";
            span += m->span;
        }
        if (i != v->n) return "array foreach count";
        if (rs_jv_at(v, v->n) != NULL) return "rs_jv_at past the end";
        return span == v->span ? NULL : "an array's span is not its members'";
    }
    case RS_JOBJ: {
        if (v->n != json_object_size(j) || rs_jv_len(v) != v->n) return "object sizes differ";
        size_t i = 0, span = 1;
        const rs_jv_t *k, *m;
        void *it = json_object_iter((json_t *)j);
        rs_jv_object_foreach(v, k, m)
        {
            if (!it) return "object runs past jansson's";
            if (k->type != RS_JSTR || k->span != 1) return "a key is not a string";
            if (k->n != strlen(json_object_iter_key(it)) ||
                memcmp(k->u.s, json_object_iter_key(it), k->n) != 0)
                return "keys differ (or their order)";
            if (k->u.s[k->n] != '\0') return "a key not NUL-terminated";
            const char *why = differ(m, json_object_iter_value(it));
            if (why) return why;
            if (i < 64 && rs_jv_get(v, k->u.s) != m) return "rs_jv_get";
            span += 1 + m->span;
            i++;
            it = json_object_iter_next((json_t *)j, it);
        }
        if (i != v->n || it) return "object foreach count";
        return span == v->span ? NULL : "an object's span is not its keys' and values'";
    }
    }
    return "unknown type";
}

/* A printable form of text (for failure messages). */
static const char *show(const char *text, size_t len)
{
    static char out[400];
    size_t o = 0;
    for (size_t i = 0; i < len && o + 8 < sizeof(out); i++) {
        unsigned char c = (unsigned char)text[i];
        if (c >= 0x20 && c < 0x7f && c != '\\') out[o++] = (char)c;
        else o += (size_t)snprintf(out + o, sizeof(out) - o, "\\x%02x", c);
    }
    if (o + 8 >= sizeof(out)) memcpy(out + o, "...", 4);
    else out[o] = '\0';
    return out;
}

/* What jdoc and jansson make of text[0 .. len): the verdicts (1 accepted), checked against each
 * other. Texts are read from a heap copy of exactly len bytes (no NUL after it), so that reading
 * past the end shows under ASan. Returns jdoc_read's verdict | rs_json_valid's verdict << 1. */
static int agree(rs_jdoc_t *d, const char *text, size_t len)
{
    char *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    memcpy(copy, text, len);
    json_error_t jerr, jerr_any;
    json_t *j = json_loadb(copy, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
    json_t *j_any = json_loadb(copy, len, JSON_DECODE_ANY, &jerr_any);
    rs_err_t err = {{0}};
    const rs_jv_t *root = rs_jdoc_read(d, copy, len, DEPTH, &err);
    int valid = rs_json_valid(copy, len, DEPTH);
    if (!!root != !!j)
        fail_msg("rs_jdoc_read %s, jansson %s: '%s' (%s)", root ? "accepts" : "refuses",
                 j ? "accepts" : "refuses", show(text, len), root ? jerr.text : err.msg);
    if (valid != !!j_any)
        fail_msg("rs_json_valid %s, jansson (no JSON_REJECT_DUPLICATES) %s: '%s' (%s)",
                 valid ? "accepts" : "refuses", j_any ? "accepts" : "refuses", show(text, len),
                 valid ? jerr_any.text : "");
    if (!root && (!err.msg[0] || !strstr(err.msg, " at byte ")))
        fail_msg("refused without a message naming the byte: '%s' (%s)", show(text, len), err.msg);
    if (root) {
        const char *why = differ(root, j);
        if (why) fail_msg("%s: '%s'", why, show(text, len));
        json_t *mine = to_json(root);
        if (!json_equal(mine, j)) fail_msg("json_equal fails: '%s'", show(text, len));
        json_decref(mine);
    }
    json_decref(j);
    json_decref(j_any);
    free(copy);
    return (root ? 1 : 0) | valid << 1;
}

/* ---- the table ---- */

enum { NO = 0, YES = 3, DUP = 2 }; /* DUP: a key twice (read refuses, rs_json_valid accepts) */

typedef struct {
    const char *text;
    size_t len;
    int verdict;
} case_t;

#define Y(s) {s, sizeof(s) - 1, YES}
#define N(s) {s, sizeof(s) - 1, NO}
#define D(s) {s, sizeof(s) - 1, DUP}

static const case_t TABLE[] = {
    /* literals */
    Y("null"), Y("true"), Y("false"), Y(" true "), N("nul"), N("tru"), N("fals"), N("True"),
    N("NULL"), N("truex"), N("nullnull"), N("true false"), N("t"), N("f"), N("n"), N("falsey"),
    N("[true1]"), N("[nulll]"), N("nan"), N("NaN"), N("Infinity"), N("-Infinity"), N("undefined"),
    Y("[true,false,null]"),
    /* whitespace: the four of RFC 8259 only */
    Y(" \t\r\n1 \t\r\n"), Y("\n[\n1\n,\n2\n]\n"), N("\v1"), N("1\v"), N("\f1"), N("1\f"),
    N("[1,\v2]"), N("{\f\"a\":1}"), N("\xc2\xa0" "1"), N("\xef\xbb\xbf" "1"), N("\x1c" "1"),
    /* empty texts, NUL bytes, text after the value */
    N(""), N(" "), N("\n\t\r"), N("\0"), N("\0" "1"), N("[1]\0"), N("\"a\"\0"),
    /* jansson skips one NUL byte right after a number or a literal (jdoc.c: skip_nul_after_token),
     * and no other */
    Y("1\0"), Y("[1\0]"), Y("true\0"), Y("false\0"), Y("null\0"), Y("[null\0,1]"),
    Y("{\"a\":1\0}"), Y("{\"a\":true\0,\"b\":0}"), Y("-0\0"), Y("1.5\0"), Y("1e5\0"),
    Y("[1\0 ,2]"), Y("[0\0,1]"), Y(" 7\0 "), N("1\0\0"), N("[1\0\0]"), N("1 \0"), N("[1,\0 2]"),
    N("{\"a\"\0:1}"), N("{\"a\":\0 1}"), N("[]\0"), N("{}\0"), N("[\0]"), N("1\0" "2"),
    N("[1\0" "2]"), N("0\0" "1"), N("tr\0ue"), N("1.\0" "5"), N("1e\0" "5"), N("-\0" "1"),
    N("\"a\0\""), N("[\"a\"\0]"), N("1\0x"), N("true\0true"), N("1\0\n\0"), N("1 2"), N("[1]]"), N("[1]x"), N("{}{}"), N("{} []"), N("\"a\" \"b\""),
    N("1,"), N("null,"), N("//c\n1"), N("1 //c"), N("/*c*/1"), N("#c\n1"),
    /* numbers */
    Y("0"), Y("-0"), Y("-0.0"), Y("0.0"), Y("1"), Y("-1"), Y("123"), Y("1.5"), Y("-1.5"),
    N("01"), N("-01"), N("00"), N("0.0.0"), N("1."), N("-1."), N("1.x"), N(".5"), N("-.5"),
    N("1e"), N("1e+"), N("1e-"), N("1E"), N("1ex"), Y("1e5"), Y("1E5"), Y("1e+5"), Y("1e-5"),
    Y("1.5e5"), Y("1e05"), Y("1e-05"), Y("0e0"), Y("0E-0"), Y("0.0e+00"), Y("-0e-0"),
    N("1.e5"), N("1e5.5"), N("1.5.5"), N("1ee5"), N("1e5e5"), N("1e+-5"), N("1e--5"), N("+1"),
    N("+0"), N("-"), N("--1"), N("- 1"), N("-a"), N("1x"), N("1a"), N("1/"), N("0x10"), N("0x"),
    N("0b1"), N("1_000"), N("\xd9\xa1"), N("$1"),
    Y("9223372036854775807"), N("9223372036854775808"), N("9223372036854775817"),
    Y("-9223372036854775808"), N("-9223372036854775809"), N("18446744073709551615"),
    N("18446744073709551616"), N("99999999999999999999999999"), N("-99999999999999999999999999"),
    Y("999999999999999999"), Y("-999999999999999999"), Y("-99999999999999999"),
    Y("1000000000000000000"), Y("-1000000000000000000"), Y("123456789012345678"),
    Y("1234567890123456789"), Y("9223372036854775806"), Y("-9223372036854775807"),
    Y("9223372036854775807.0"), Y("9223372036854775808.0"), Y("9223372036854775808e0"),
    Y("-9223372036854775809.5"), Y("99999999999999999999999999.0"),
    Y("1e308"), Y("1.7976931348623157e308"), Y("-1.7976931348623157e308"),
    N("1.7976931348623159e308"), N("1e309"), N("1e999"), N("-1e999"), N("1E400"),
    N("1e99999999999999999999"), N("[1e999]"), N("{\"a\":-1e999}"),
    Y("1e-999"), Y("-1e-999"), Y("1e-400"), Y("4.9e-324"), Y("2.5e-324"), Y("2.2250738585072014e-308"),
    Y("1e-99999999999999999999"), Y("0e99999999999999999999"), Y("0.0e999"),
    Y("0.1"), Y("0.30000000000000004"), Y("3.141592653589793238462643383279"),
    Y("10000000000000000000000000000000000000000.0"),
    Y("[1,-1,0.5,-0.5,0,-0,1e2,1E-2]"), N("[1,]"), N("[01]"), N("[-]"), N("[1.]"), Y("[1e1]"),
    N("[.1]"), N("[1e]"), N("{\"a\":01}"), N("{\"a\":1.}"), N("{\"a\":-}"),
    /* strings */
    Y("\"\""), Y("\"abc\""), Y("\" \""), N("\""), N("\"abc"), N("\"abc\\\""), N("'abc'"),
    N("\"a\" \""), N("abc"),
    Y("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\""), Y("\"x\\\"y\\\\z\\/w\\bv\\fu\\nt\\rs\\tr\""),
    N("\"\\a\""), N("\"\\x41\""), N("\"\\0\""), N("\"\\'\""), N("\"\\U0041\""), N("\"\\B\""),
    N("\"\\N\""), N("\"\\ \""), N("\"\\\""), N("\"\\"), N("\"\\\x80\""), N("\"\\\xc3\xa9\""),
    N("\"\\u\""), N("\"\\u1\""), N("\"\\u12\""), N("\"\\u123\""), N("\"\\u12g4\""), N("\"\\u-123\""),
    N("\"\\u 123\""), N("\"\\u+123\""), N("\"\\u0x12\""), N("\"\\uGGGG\""), N("\"\\u123"),
    Y("\"\\u0041\""), Y("\"\\u00e9\""), Y("\"\\u00E9\""), Y("\"\\u20AC\""), Y("\"\\u20ac\""),
    Y("\"\\uFFFF\""), Y("\"\\uffff\""), Y("\"\\uFFFE\""), Y("\"\\u0001\""), Y("\"\\u001f\""),
    Y("\"\\u007f\""), Y("\"\\u0080\""), Y("\"\\u07FF\""), Y("\"\\u0800\""), Y("\"\\uD7FF\""),
    Y("\"\\uE000\""), Y("\"\\u00411\""), Y("\"\\u0041\\u0042\\u0043\""),
    Y("\"a\\u00e9b\\u20acc\\ud83d\\ude00d\""),
    N("\"\\u0000\""), N("\"a\\u0000b\""), N("\"\\u0000\\u0041\""), N("{\"\\u0000\":1}"),
    N("{\"a\\u0000\":1}"), N("[\"\\u0000\"]"),
    Y("\"\\ud83d\\ude00\""), Y("\"\\uD83D\\uDE00\""), Y("\"\\uD800\\uDC00\""),
    Y("\"\\uDBFF\\uDFFF\""), Y("\"\\ud800\\udc00\\udbff\\udfff\""),
    N("\"\\ud83d\""), N("\"\\ud83dx\""), N("\"\\ud83d\\n\""), N("\"\\ud83d\\u0041\""),
    N("\"\\ud83d\\ud83d\""), N("\"\\ud83d\\ud83d\\ude00\""), N("\"\\ude00\""),
    N("\"\\ude00\\ud83d\""), N("\"\\udfff\""), N("\"\\udc00\""), N("\"\\ud800\""), N("\"\\udbff\""),
    N("\"\\ud83d\\ude0\""), N("\"\\ud83d\\u\""), N("\"\\ud83d\\"), N("\"\\ud83d\\ude00"),
    N("\"\\ud83d\\uXXXX\""), N("\"\\ud83d\\u0000\""), N("\"\\ud83d\\\\ude00\""),
    N("\"\\ud83d \\ude00\""), N("\"\\ud83d\\U+DE00\""), N("\"\\ud83d\\ude00\\ude00\""),
    N("\"\\ud83d\\uffff\""), N("\"\\ud83d\\ue000\""), N("\"\\ud83d\\udbff\""),
    N("\"\\ud83d\xed\xb8\x80\""),
    /* UTF-8 */
    Y("\"\xc3\xa9\""), Y("\"\xe2\x82\xac\""), Y("\"\xf0\x9f\x98\x80\""), Y("\"\xc2\x80\""),
    Y("\"\xdf\xbf\""), Y("\"\xe0\xa0\x80\""), Y("\"\xef\xbf\xbf\""), Y("\"\xef\xbf\xbe\""),
    Y("\"\xf0\x90\x80\x80\""), Y("\"\xf4\x8f\xbf\xbf\""), Y("\"\xed\x9f\xbf\""),
    Y("\"\xee\x80\x80\""), Y("\"a\xc3\xa9" "b\xe2\x82\xac" "c\xf0\x9f\x98\x80" "d\""),
    Y("{\"\xc3\xa9\":\"\xc3\xa9\"}"),
    N("\"\xf4\x90\x80\x80\""), N("\"\xf5\x80\x80\x80\""), N("\"\xf7\xbf\xbf\xbf\""),
    N("\"\xf8\x88\x80\x80\x80\""), N("\"\xfc\x84\x80\x80\x80\x80\""),
    N("\"\xc0\xaf\""), N("\"\xc0\x80\""), N("\"\xc1\xbf\""), N("\"\xe0\x80\xaf\""),
    N("\"\xe0\x9f\xbf\""), N("\"\xf0\x8f\xbf\xbf\""), N("\"\xf0\x80\x80\x80\""),
    N("\"\xed\xa0\x80\""), N("\"\xed\xbf\xbf\""), N("\"\xed\xb0\x80\""),
    N("\"\xed\xa0\xbd\xed\xb8\x80\""),
    N("\"\x80\""), N("\"\xbf\""), N("\"\x80\x80\""), N("\"\xc3\""), N("\"\xc3"), N("\"\xe2\x82\""),
    N("\"\xe2\x82"), N("\"\xe2\""), N("\"\xf0\x9f\x98\""), N("\"\xf0\x9f\x98"), N("\"\xf0\x9f\""),
    N("\"\xf0\""), N("\"\xc3\x28\""), N("\"\xc3\xc3\xa9\""), N("\"\xe2\x28\xa1\""),
    N("\"\xe2\x82\x28\""), N("\"\xf0\x28\x8c\xbc\""), N("\"\xf0\x9f\x98\x28\""), N("\"\xff\""),
    N("\"\xfe\""), N("\"\xc3\xa9\xa9\""), N("\xc3\xa9"), N("[\xc3\xa9]"), N("\xe2\x82\xac" "1"),
    N("1\xc3\xa9"), N("{\"a\"\xc2\xa0:1}"), N("{\"\xc3\":1}"), N("{\"a\":\"\xff\"}"),
    /* raw controls (every one is tried below too), DEL */
    N("\"\x01\""), N("\"\t\""), N("\"\n\""), N("\"\r\""), N("\"a\0b\""), N("\"\x1f\""),
    N("{\"a\tb\":1}"), Y("\"\x7f\""), Y("\"\\u007f\x7f\""), Y("{\"\x7f\":\"\x7f\"}"),
    /* arrays and objects */
    Y("[]"), Y("{}"), Y("[ ]"), Y("{ }"), Y("[\n]"), N("["), N("]"), N("{"), N("}"), N("[}"),
    N("{]"), N("[1"), N("[1,"), N("[,1]"), N("[,]"), N("[1,,2]"), N("[1 2]"), N("[1:2]"),
    Y("[1,2]"), Y("[[],[[]],{}]"), Y("[[[[[[[[[[1]]]]]]]]]]"), N("[[[[[[[[[[1]]]]]]]]]"),
    N("{1:2}"), N("{\"a\"}"), N("{\"a\":}"), N("{\"a\" 1}"), N("{\"a\":1,}"), N("{,\"a\":1}"),
    N("{\"a\":1 \"b\":2}"), N("{\"a\"::1}"), N("{'a':1}"), N("{a:1}"), N("{\"a\":1}}"),
    N("{\"a\":1"), N("{\"a\":1,"), N("{\"a\""), N("{\"a"), N("{\"a\":1,\"b\"}"), N("{null:1}"),
    N("{[]:1}"), N("{{}:1}"), N("{\"a\"=1}"), N("{\"a\":1;\"b\":2}"), N("[1;2]"),
    Y("{\"a\":{\"b\":[1,{\"c\":null}]}}"), Y(" { \"a\" : 1 , \"b\" : [ 1 , 2 ] } "),
    Y("{\"\":\"\"}"), Y("[\"\",\"\",{}]"), Y("[[\"a\"],{\"b\":[]},[[]],{\"c\":{}}]"),
    /* duplicate keys */
    D("{\"a\":1,\"a\":2}"), D("{\"a\":1,\"a\":1}"), D("{\"a\":1,\"b\":2,\"a\":3}"),
    D("{\"a\":1,\"\\u0061\":2}"), D("{\"\\u0061\":1,\"a\":2}"), D("{\"\\u0061\":1,\"\\u0061\":2}"),
    D("{\"\\/\":1,\"/\":2}"), D("{\"\\\"\":1,\"\\u0022\":2}"), D("{\"\\n\":1,\"\\u000a\":2}"),
    D("{\"\xc3\xa9\":1,\"\\u00e9\":2}"), D("{\"\\u00E9\":1,\"\\u00e9\":2}"),
    D("{\"\\ud83d\\ude00\":1,\"\xf0\x9f\x98\x80\":2}"), D("{\"\":1,\"\":2}"),
    D("{\"ab\":1,\"a\\u0062\":2}"), D("{\"a\":{\"b\":1,\"b\":2}}"), D("[{\"a\":1,\"a\":2}]"),
    D("{\"x\":{\"a\":1,\"a\":2},\"y\":1}"), D("{\"a\":[],\"a\":{}}"),
    D("{\"a\":{\"a\":1,\"b\":2},\"b\":{},\"a\":3}"), D("[1,{\"x\":[{\"k\":1,\"k\":null}]}]"),
    Y("{\"\":1,\"a\":2}"), Y("{\"a\":1,\"b\":2}"), Y("{\"a\":1,\"A\":2}"), Y("{\"ab\":1,\"ba\":2}"),
    Y("{\"a\":1,\"a \":2}"), Y("{\"a\":1,\"aa\":2}"), Y("{\"a\":{\"a\":1}}"),
    Y("[{\"a\":1},{\"a\":2}]"), Y("{\"a\":{\"b\":1},\"b\":{\"a\":2}}"),
    Y("{\"\\u00e9\":1,\"\\u00c9\":2}"), Y("{\"\\ud83d\\ude00\":1,\"\\ud83d\\ude01\":2}"),
    N("{\"a\":1,\"a\":2"), N("{\"a\":1,\"a\":2}x"), N("{\"a\":1,\"a\":}"),
    N("[{\"a\":1,\"a\":2},]"),
};

static void test_table(void **state)
{
    (void)state;
    rs_jdoc_t *d = rs_jdoc_new();
    for (size_t i = 0; i < sizeof(TABLE) / sizeof(TABLE[0]); i++) {
        const case_t *c = &TABLE[i];
        int got = agree(d, c->text, c->len);
        if (got != c->verdict)
            fail_msg("table row %zu '%s': read %s and valid %s; expected %s", i,
                     show(c->text, c->len), got & 1 ? "accept" : "refuse",
                     got & 2 ? "accepts" : "refuses",
                     c->verdict == YES ? "both to accept" : c->verdict == NO ? "both to refuse"
                                                                               : "a duplicate key");
    }
    rs_jdoc_free(&d);
    assert_null(d);
    rs_jdoc_free(&d); /* twice: nothing */
}

/* Every byte raw inside a string and as a whole text, and every escape letter. */
static void test_every_byte(void **state)
{
    (void)state;
    rs_jdoc_t *d = rs_jdoc_new();
    for (int c = 0; c < 256; c++) {
        char s[4] = {'"', (char)c, '"'};
        int got = agree(d, s, 3);
        int want = c >= 0x20 && c < 0x80 && c != '"' && c != '\\' ? YES : NO;
        if (got != want) fail_msg("byte 0x%02x in a string: %d", c, got);
        char k[8] = {'{', '"', (char)c, '"', ':', '1', '}'};
        assert_int_equal(agree(d, k, 7), want);
        char one[1] = {(char)c};
        assert_int_equal(agree(d, one, 1), c >= '0' && c <= '9' ? YES : NO);
        char esc[5] = {'"', '\\', (char)c, '"'};
        want = strchr("\"\\/bfnrt", c) && c ? YES : NO;
        assert_int_equal(agree(d, esc, 4), want);
        /* before and after a value */
        char pre[2] = {(char)c, '1'}, post[2] = {'1', (char)c};
        want = c == ' ' || c == '\t' || c == '\n' || c == '\r' ? YES : NO;
        assert_int_equal(agree(d, pre, 2), want || c == '-' || (c >= '1' && c <= '9') ? YES : NO);
        if (c < '0' || c > '9') assert_int_equal(agree(d, post, 2), want || c == 0 ? YES : NO);
    }
    /* every \u escape's first digit and every high/low combination of the surrogates' edges */
    static const unsigned U[] = {0x0000, 0x0001, 0x007f, 0x0080, 0x07ff, 0x0800, 0xd7ff, 0xd800,
                                 0xdbff, 0xdc00, 0xdfff, 0xe000, 0xfffe, 0xffff};
    for (size_t a = 0; a < sizeof(U) / sizeof(U[0]); a++) {
        char s[32];
        int n = snprintf(s, sizeof(s), "\"\\u%04x\"", U[a]);
        agree(d, s, (size_t)n);
        n = snprintf(s, sizeof(s), "\"\\u%04X\"", U[a]);
        agree(d, s, (size_t)n);
        for (size_t b = 0; b < sizeof(U) / sizeof(U[0]); b++) {
            n = snprintf(s, sizeof(s), "\"\\u%04x\\u%04x\"", U[a], U[b]);
            agree(d, s, (size_t)n);
            n = snprintf(s, sizeof(s), "{\"\\u%04x\\u%04x\":0}", U[a], U[b]);
            agree(d, s, (size_t)n);
        }
    }
    rs_jdoc_free(&d);
}

/* Every code point's UTF-8 form around the edges (and every lead byte with every continuation
 * edge): what jansson takes, jdoc takes. */
static void test_utf8_edges(void **state)
{
    (void)state;
    rs_jdoc_t *d = rs_jdoc_new();
    static const unsigned char CONT[] = {0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf,
                                         0xc0, 0xff};
    const size_t nc = sizeof(CONT);
    for (int lead = 0x80; lead < 0x100; lead++)
        for (size_t a = 0; a < nc; a++)
            for (size_t b = 0; b < nc; b++)
                for (size_t c = 0; c < nc; c++) {
                    char s[8] = {'"', (char)lead, (char)CONT[a], (char)CONT[b], (char)CONT[c], '"'};
                    agree(d, s, 6);
                    agree(d, s, 5); /* the same, cut */
                    s[4] = '"';
                    agree(d, s, 5);
                    s[3] = '"';
                    agree(d, s, 4);
                }
    rs_jdoc_free(&d);
}

/* Numbers of many digits: around 18 and 19 (jdoc reads 18 by hand) and around 64 bytes (a
 * check-only read copies a number into 64 bytes on its stack, longer ones to the heap). */
static void test_long_numbers(void **state)
{
    (void)state;
    rs_jdoc_t *d = rs_jdoc_new();
    char s[200];
    for (int n = 1; n < 130; n++) {
        for (int sign = 0; sign < 2; sign++) {
            int o = 0;
            if (sign) s[o++] = '-';
            for (int i = 0; i < n; i++) s[o++] = (char)('1' + i % 9);
            agree(d, s, (size_t)o); /* an integer: fits up to 19 digits */
            memset(s + sign, '9', (size_t)n);
            agree(d, s, (size_t)o);
            s[sign] = '1';
            memset(s + sign + 1, '0', (size_t)n - 1);
            agree(d, s, (size_t)o);
            memcpy(s + o, ".5", 2);
            agree(d, s, (size_t)o + 2);
            memcpy(s + o, "e-400", 5);
            agree(d, s, (size_t)o + 5);
            memcpy(s + o, "e300", 4);
            agree(d, s, (size_t)o + 4);
            /* 0.000...01 */
            o = sign;
            s[o++] = '0';
            s[o++] = '.';
            for (int i = 0; i < n; i++) s[o++] = i == n - 1 ? '1' : '0';
            agree(d, s, (size_t)o);
            /* inside an array, with text after it */
            char a[256];
            int m = snprintf(a, sizeof(a), "[%.*s,1]", o, s);
            agree(d, a, (size_t)m);
        }
    }
    /* around 2^63 in every form */
    static const char *const B[] = {"9223372036854775806", "9223372036854775807",
                                    "9223372036854775808", "9223372036854775809",
                                    "9223372036854775810", "9999999999999999999",
                                    "10000000000000000000", "92233720368547758070"};
    for (size_t i = 0; i < sizeof(B) / sizeof(B[0]); i++) {
        int n = snprintf(s, sizeof(s), "%s", B[i]);
        agree(d, s, (size_t)n);
        n = snprintf(s, sizeof(s), "-%s", B[i]);
        agree(d, s, (size_t)n);
        n = snprintf(s, sizeof(s), "[-%s]", B[i]);
        agree(d, s, (size_t)n);
    }
    rs_jdoc_free(&d);
}

/* Objects of 2, 3, 15, 16, 17, 18, 100 and 1000 keys (jdoc compares a handful of keys pair by
 * pair and sorts the hashes of more): all different (of one length, or of many), one key twice
 * at the ends, side by side, or once through an escape. */
static char *object(int n, int dup_a, int dup_b, int escape, int nested, size_t *len)
{
    size_t cap = (size_t)n * 64 + 16, o = 0;
    char *s = malloc(cap);
    assert_non_null(s);
    s[o++] = '{';
    for (int i = 0; i < n; i++) {
        int k = i == dup_b ? dup_a : i;
        if (i) s[o++] = ',';
        /* "k0042" or, escaped, "\u006b0042"; the value an object of one key when nested */
        o += (size_t)snprintf(s + o, cap - o, escape && i == dup_b ? "\"\\u006b%04d\":" : "\"k%04d\":",
                              k);
        o += (size_t)snprintf(s + o, cap - o, nested ? "{\"v\":[%d,{}]}" : "%d", i);
    }
    s[o++] = '}';
    *len = o;
    return s;
}

static void test_duplicate_keys(void **state)
{
    (void)state;
    rs_jdoc_t *d = rs_jdoc_new();
    static const int SIZES[] = {2, 3, 15, 16, 17, 18, 33, 100, 1000};
    for (size_t si = 0; si < sizeof(SIZES) / sizeof(SIZES[0]); si++) {
        int n = SIZES[si];
        for (int nested = 0; nested < 2; nested++) {
            size_t len;
            char *s = object(n, -1, -1, 0, nested, &len);
            assert_int_equal(agree(d, s, len), YES);
            free(s);
            int pairs[][2] = {{0, n - 1}, {0, 1}, {n - 2, n - 1}, {n / 2 - 1, n / 2}, {1, n - 1}};
            for (size_t p = 0; p < sizeof(pairs) / sizeof(pairs[0]); p++) {
                if (pairs[p][0] < 0 || pairs[p][0] >= pairs[p][1]) continue;
                for (int esc = 0; esc < 2; esc++) {
                    s = object(n, pairs[p][0], pairs[p][1], esc, nested, &len);
                    if (agree(d, s, len) != DUP)
                        fail_msg("%d keys, key %d again at %d%s%s: not refused", n, pairs[p][0],
                                 pairs[p][1], esc ? " (escaped)" : "", nested ? " (nested)" : "");
                    free(s);
                }
            }
        }
        /* keys of many lengths, one a prefix of the next: "", "a", "aa", ... */
        {
            rs_buf_t b;
            rs_buf_init(&b);
            rs_buf_append(&b, "{", 1);
            for (int i = 0; i < n; i++) {
                rs_buf_printf(&b, "%s\"", i ? "," : "");
                for (int k = 0; k < i % 40; k++) rs_buf_append(&b, "a", 1);
                rs_buf_printf(&b, "%d\":%d", i / 40, i);
            }
            rs_buf_append(&b, "}", 1);
            assert_int_equal(agree(d, b.data, b.len), YES);
            /* the same object inside another, then a key twice in the outer one */
            rs_buf_t o;
            rs_buf_init(&o);
            rs_buf_printf(&o, "{\"x\":%.*s,\"y\":[%.*s],\"x\":0}", (int)b.len, b.data, (int)b.len,
                          b.data);
            assert_int_equal(agree(d, o.data, o.len), DUP);
            rs_buf_cleanup(&o);
            rs_buf_cleanup(&b);
        }
    }
    /* beyond 16 keys (sorted by hash), each key in turn given twice: whichever sorts first, last
     * or next to another, its copy is found */
    static const int SORTED[] = {17, 18, 33, 100};
    for (size_t si = 0; si < sizeof(SORTED) / sizeof(SORTED[0]); si++) {
        int n = SORTED[si];
        for (int k = 0; k < n; k++) {
            size_t len;
            char *s = object(n + 1, k, n, k % 2, 0, &len);
            if (agree(d, s, len) != DUP) fail_msg("%d keys, key %d again at the end: not refused", n, k);
            free(s);
        }
    }
    /* 17 keys of one hash-bucket-ish shape: the same bytes permuted */
    static const char *const PERM[] = {"abc", "acb", "bac", "bca", "cab", "cba", "ab", "ba", "a",
                                       "b", "c", "aa", "bb", "cc", "abcabc", "cbacba", "", "abc"};
    rs_buf_t b;
    rs_buf_init(&b);
    for (size_t upto = 17; upto <= 18; upto++) {
        rs_buf_reset(&b);
        rs_buf_append(&b, "{", 1);
        for (size_t i = 0; i < upto; i++) rs_buf_printf(&b, "%s\"%s\":%zu", i ? "," : "", PERM[i], i);
        rs_buf_append(&b, "}", 1);
        assert_int_equal(agree(d, b.data, b.len), upto == 17 ? YES : DUP);
    }
    rs_buf_cleanup(&b);
    rs_jdoc_free(&d);
}

/* ---- nesting ---- */

static void nest(rs_buf_t *b, int levels, int kind)
{
    rs_buf_reset(b);
    for (int i = 0; i < levels; i++) {
        int obj = kind == 1 || (kind == 2 && i % 2);
        rs_buf_append(b, obj ? "{\"k\":" : "[", obj ? 5 : 1);
    }
    rs_buf_append(b, "1", 1);
    for (int i = levels - 1; i >= 0; i--) {
        int obj = kind == 1 || (kind == 2 && i % 2);
        rs_buf_append(b, obj ? "}" : "]", 1);
    }
}

static void test_depth(void **state)
{
    (void)state;
    rs_jdoc_t *d = rs_jdoc_new();
    rs_buf_t b;
    rs_buf_init(&b);
    static const int DEPTHS[] = {0, 1, 2, 3, 5, 64, 1000, 5000};
    for (size_t di = 0; di < sizeof(DEPTHS) / sizeof(DEPTHS[0]); di++) {
        int max = DEPTHS[di];
        for (int kind = 0; kind < 3; kind++) {
            rs_err_t err;
            nest(&b, max, kind);
            const rs_jv_t *root = rs_jdoc_read(d, b.data, b.len, max, &err);
            if (!root) fail_msg("%d levels refused at max_depth %d: %s", max, max, err.msg);
            assert_true(rs_json_valid(b.data, b.len, max));
            /* walk down to the 1 */
            const rs_jv_t *v = root;
            for (int i = 0; i < max; i++) {
                uint32_t span = 1; /* the 1, and below level i each level and each key */
                for (int j = i; j < max; j++) span += 1 + (kind == 1 || (kind == 2 && j % 2));
                assert_int_equal(v->span, span);
                v = v->type == RS_JARR ? rs_jv_at(v, 0) : rs_jv_get(v, "k");
                assert_non_null(v);
            }
            assert_int_equal(rs_jv_int(v), 1);
            nest(&b, max + 1, kind);
            assert_null(rs_jdoc_read(d, b.data, b.len, max, &err));
            char want[80];
            snprintf(want, sizeof(want), "nests deeper than %d levels", max);
            if (strncmp(err.msg, want, strlen(want)) != 0)
                fail_msg("max_depth %d, %d levels: '%s'", max, max + 1, err.msg);
            assert_false(rs_json_valid(b.data, b.len, max));
            /* one more level is fine with a bound one higher */
            assert_non_null(rs_jdoc_read(d, b.data, b.len, max + 1, &err));
            assert_true(rs_json_valid(b.data, b.len, max + 1));
        }
        /* empty containers count too */
        rs_buf_reset(&b);
        for (int i = 0; i <= max; i++) rs_buf_append(&b, "[", 1);
        for (int i = 0; i <= max; i++) rs_buf_append(&b, "]", 1);
        rs_err_t err;
        assert_null(rs_jdoc_read(d, b.data, b.len, max, &err));
        assert_non_null(strstr(err.msg, "nests deeper than"));
        assert_false(rs_json_valid(b.data, b.len, max));
        if (max >= 1) assert_non_null(rs_jdoc_read(d, b.data + 1, b.len - 2, max, &err));
        /* siblings do not add up: many arrays side by side at the bound */
        if (max >= 1 && max <= 64) {
            rs_buf_reset(&b);
            rs_buf_append(&b, "[", 1);
            for (int s = 0; s < 50; s++) {
                if (s) rs_buf_append(&b, ",", 1);
                for (int i = 1; i < max; i++) rs_buf_append(&b, "[", 1);
                rs_buf_append(&b, "1", 1);
                for (int i = 1; i < max; i++) rs_buf_append(&b, "]", 1);
            }
            rs_buf_append(&b, "]", 1);
            assert_non_null(rs_jdoc_read(d, b.data, b.len, max, &err));
            assert_true(rs_json_valid(b.data, b.len, max));
        }
    }
    /* a scalar alone needs no level */
    rs_err_t err;
    assert_non_null(rs_jdoc_read(d, "1", 1, 0, &err));
    assert_null(rs_jdoc_read(d, "[]", 2, 0, &err));
    assert_string_equal(err.msg, "nests deeper than 0 levels at byte 0");
    assert_null(rs_jdoc_read(d, "[[[1]]]", 7, 2, &err));
    assert_string_equal(err.msg, "nests deeper than 2 levels at byte 2");
    rs_buf_cleanup(&b);
    rs_jdoc_free(&d);
}

/* ---- key lookup ---- */

/* o[key] by a plain scan of its members: what rs_jv_getn must give, whatever it looked up before. */
static const rs_jv_t *scan_get(const rs_jv_t *o, const char *key)
{
    const rs_jv_t *k, *v;
    rs_jv_object_foreach(o, k, v) if (strcmp(k->u.s, key) == 0) return v;
    return NULL;
}

/* rs_jv_getn scans an object of a few keys, probes the hash table of one of many, and answers most
 * misses from the object's key signature: lookups in document order, backwards, at random, misses
 * and repeats in between, in objects of 1 to 40 keys whose values are themselves objects and arrays
 * (so a key's successor is several values on), must find what a plain scan finds. */
static void test_lookup_order(void **state)
{
    (void)state;
    rs_jdoc_t *d = rs_jdoc_new();
    rs_err_t err;
    uint64_t seed = 7;
    for (int keys = 1; keys <= 40; keys++) {
        rs_buf_t b;
        rs_buf_init(&b);
        rs_buf_puts(&b, "{");
        for (int i = 0; i < keys; i++)
            rs_buf_printf(&b, "%s\"k%d\":%s", i ? "," : "", i,
                          i % 3 == 0 ? "{\"k0\":1,\"z\":[1,2,{\"y\":2}]}" : i % 3 == 1 ? "[1,[2]]" : "3");
        rs_buf_puts(&b, "}");
        const rs_jv_t *o = rs_jdoc_read(d, b.data, b.len, 8, &err);
        assert_non_null(o);
        char key[16];
        for (int round = 0; round < 400; round++) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            int pick = round < 2 * keys ? (round < keys ? round : 2 * keys - 1 - round)
                                        : (int)((seed >> 33) % (uint64_t)(keys + 3)) - 1;
            snprintf(key, sizeof(key), pick < 0 ? "z" : "k%d", pick); /* k<keys>.. and z: misses */
            const rs_jv_t *want = scan_get(o, key), *got = rs_jv_get(o, key);
            if (got != want) fail_msg("%d keys, round %d: '%s' found at %p, want %p", keys, round,
                                      key, (const void *)got, (const void *)want);
            if (pick >= 0 && pick < keys) assert_non_null(got);
        }
        rs_buf_cleanup(&b);
    }
    rs_jdoc_free(&d);
}

/* An object whose keys all share one signature (the same length, first, middle and last bytes,
 * which a record's key hash reads) puts them all in one probe chain: built into a hash table,
 * 600,000 of them would take about n^2 / 2 probes, minutes (a hostile peer's record or a
 * dataset line could hold them). Only objects of a few keys get a table, so this reads in well
 * under a second; without that bound it runs past the unit tests' 120 s timeout. */
static void test_colliding_keys(void **state)
{
    (void)state;
    enum { KEYS = 600000 };
    rs_buf_t b;
    rs_buf_init(&b);
    rs_buf_putc(&b, '{');
    for (int i = 0; i < KEYS; i++) /* "k" ddd "0" ddd "z": 9 bytes, k, 0 and z at 0, 4 and 8 */
        rs_buf_printf(&b, "%s\"k%03d0%03dz\":%d", i ? "," : "", i / 1000, i % 1000, i);
    rs_buf_putc(&b, '}');
    rs_jdoc_t *d = rs_jdoc_new();
    rs_err_t err;
    const rs_jv_t *o = rs_jdoc_read(d, b.data, b.len, 8, &err);
    assert_non_null(o);
    assert_int_equal(rs_jv_len(o), KEYS);
    assert_int_equal(rs_jv_int(rs_jv_get(o, "k0000000z")), 0);
    assert_int_equal(rs_jv_int(rs_jv_get(o, "k5990999z")), 599999);
    assert_int_equal(rs_jv_int(rs_jv_get(o, "k1230456z")), 123456);
    assert_null(rs_jv_get(o, "k6000000z")); /* a miss of the same signature */
    rs_jdoc_free(&d);
    rs_buf_cleanup(&b);
}

/* ---- the readers ---- */

static void test_readers(void **state)
{
    (void)state;
    rs_jdoc_t *d = rs_jdoc_new();
    rs_err_t err;
    static const char T[] = "{\"i\":-7,\"r\":2.5,\"s\":\"caf\\u00e9\",\"t\":true,\"f\":false,"
                            "\"n\":null,\"a\":[1,[2,3],{\"x\":[]},\"y\"],\"e\":[],\"o\":{},"
                            "\"big\":9223372036854775807}";
    const rs_jv_t *o = rs_jdoc_read(d, T, sizeof(T) - 1, 8, &err);
    assert_non_null(o);
    assert_true(rs_jv_is(o, RS_JOBJ));
    assert_int_equal(rs_jv_len(o), 10);
    const rs_jv_t *i = rs_jv_get(o, "i"), *r = rs_jv_get(o, "r"), *s = rs_jv_get(o, "s"),
                  *t = rs_jv_get(o, "t"), *f = rs_jv_get(o, "f"), *n = rs_jv_get(o, "n"),
                  *a = rs_jv_get(o, "a"), *e = rs_jv_get(o, "e"), *eo = rs_jv_get(o, "o");
    /* misses */
    assert_null(rs_jv_get(o, "missing"));
    assert_null(rs_jv_get(o, ""));
    assert_null(rs_jv_get(o, "ii"));
    assert_null(rs_jv_get(o, "I"));
    assert_null(rs_jv_get(o, "x")); /* a key of a nested object only */
    assert_null(rs_jv_get(NULL, "i"));
    assert_null(rs_jv_get(a, "i"));
    assert_null(rs_jv_get(i, "i"));
    assert_null(rs_jv_get(s, "caf\xc3\xa9"));
    assert_null(rs_jv_get(eo, "i"));
    /* each reader on its own type */
    assert_int_equal(rs_jv_int(i), -7);
    assert_true(rs_jv_num(i) == -7.0);
    assert_true(rs_jv_num(r) == 2.5);
    assert_string_equal(rs_jv_str(s), "caf\xc3\xa9");
    assert_int_equal(s->n, 5);
    assert_true(rs_jv_is_bool(t) && rs_jv_is(t, RS_JTRUE));
    assert_true(rs_jv_is_bool(f) && rs_jv_is(f, RS_JFALSE));
    assert_true(rs_jv_is(n, RS_JNULL));
    assert_true(rs_jv_is_number(i) && rs_jv_is_number(r));
    assert_int_equal(rs_jv_int(rs_jv_get(o, "big")), INT64_MAX);
    /* each reader on the wrong type and on NULL */
    const rs_jv_t *all[] = {NULL, i, r, s, t, f, n, a, e, eo, o};
    for (size_t k = 0; k < sizeof(all) / sizeof(all[0]); k++) {
        const rs_jv_t *v = all[k];
        int type = v ? v->type : 0;
        if (type != RS_JSTR) assert_null(rs_jv_str(v));
        if (type != RS_JINT) assert_int_equal(rs_jv_int(v), 0);
        if (type != RS_JINT && type != RS_JREAL) {
            assert_true(rs_jv_num(v) == 0);
            assert_false(rs_jv_is_number(v));
        }
        if (type != RS_JTRUE && type != RS_JFALSE) assert_false(rs_jv_is_bool(v));
        if (type != RS_JARR && type != RS_JOBJ) {
            assert_int_equal(rs_jv_len(v), 0);
            assert_null(rs_jv_first(v));
        }
        if (type != RS_JARR) assert_null(rs_jv_at(v, 0));
        if (type != RS_JOBJ) assert_null(rs_jv_get(v, "i"));
        for (int tt = RS_JNULL; tt <= RS_JOBJ; tt++) assert_int_equal(rs_jv_is(v, tt), tt == type);
        size_t ix = 0;
        const rs_jv_t *m, *kk;
        int runs = 0;
        rs_jv_array_foreach(v, ix, m) runs++;
        if (type != RS_JARR) assert_int_equal(runs, 0);
        runs = 0;
        rs_jv_object_foreach(v, kk, m) runs++;
        if (type != RS_JOBJ) assert_int_equal(runs, 0);
    }
    /* empty containers */
    size_t ix = 99;
    const rs_jv_t *m = NULL, *k = NULL;
    int runs = 0;
    assert_int_equal(rs_jv_len(e), 0);
    assert_int_equal(rs_jv_len(eo), 0);
    assert_null(rs_jv_first(e));
    assert_null(rs_jv_first(eo));
    rs_jv_array_foreach(e, ix, m) runs++;
    rs_jv_object_foreach(eo, k, m) runs++;
    assert_int_equal(runs, 0);
    assert_int_equal(ix, 0);
    assert_null(rs_jv_at(e, 0));
    /* rs_jv_at, and foreach nested: [1,[2,3],{"x":[]},"y"] */
    assert_int_equal(rs_jv_len(a), 4);
    assert_int_equal(rs_jv_int(rs_jv_at(a, 0)), 1);
    assert_int_equal(rs_jv_int(rs_jv_at(rs_jv_at(a, 1), 1)), 3);
    assert_null(rs_jv_at(rs_jv_at(a, 1), 2));
    assert_true(rs_jv_is(rs_jv_get(rs_jv_at(a, 2), "x"), RS_JARR));
    assert_string_equal(rs_jv_str(rs_jv_at(a, 3)), "y");
    assert_null(rs_jv_at(a, 4));
    assert_null(rs_jv_at(a, (size_t)-1));
    char seen[128] = "";
    rs_jv_array_foreach(a, ix, m)
    {
        size_t l = strlen(seen);
        snprintf(seen + l, sizeof(seen) - l, "%zu:%d", ix, m->type);
        size_t jx;
        const rs_jv_t *mm;
        rs_jv_array_foreach(m, jx, mm)
        {
            l = strlen(seen);
            snprintf(seen + l, sizeof(seen) - l, "(%zu=%lld)", jx, rs_jv_int(mm));
        }
        rs_jv_object_foreach(m, k, mm)
        {
            l = strlen(seen);
            snprintf(seen + l, sizeof(seen) - l, "{%s:%zu}", k->u.s, rs_jv_len(mm));
        }
        strcat(seen, ";");
    }
    assert_string_equal(seen, "0:4;1:7(0=2)(1=3);2:8{x:0};3:6;");
    /* the object's keys in order, each followed by its value */
    seen[0] = '\0';
    rs_jv_object_foreach(o, k, m)
    {
        strcat(seen, k->u.s);
        assert_ptr_equal(m, k + 1);
        assert_ptr_equal(rs_jv_get(o, k->u.s), m);
    }
    assert_string_equal(seen, "irstfnaeobig");
    /* a scalar root */
    const rs_jv_t *v = rs_jdoc_read(d, " \"x\" ", 5, 8, &err);
    assert_string_equal(rs_jv_str(v), "x");
    assert_int_equal(v->span, 1);
    assert_null(rs_jv_first(v));
    rs_jdoc_free(&d);
}

/* ---- one document, many texts ---- */

static void test_reuse(void **state)
{
    (void)state;
    rs_jdoc_t *d = rs_jdoc_new();
    rs_err_t err;
    const rs_jv_t *v = rs_jdoc_read(d, "{\"a\":\"first\",\"b\":[1,2,3]}", 25, 8, &err);
    assert_non_null(v);
    assert_string_equal(rs_jv_str(rs_jv_get(v, "a")), "first");
    /* read again: the values are the new text's */
    v = rs_jdoc_read(d, "{\"a\":\"second\"}", 14, 8, &err);
    assert_non_null(v);
    assert_int_equal(rs_jv_len(v), 1);
    assert_int_equal(v->span, 3);
    assert_string_equal(rs_jv_str(rs_jv_get(v, "a")), "second");
    assert_null(rs_jv_get(v, "b"));
    /* a failed read, then a good one */
    assert_null(rs_jdoc_read(d, "{\"a\":", 5, 8, &err));
    assert_non_null(strstr(err.msg, "at byte 5"));
    v = rs_jdoc_read(d, "[true]", 6, 8, &err);
    assert_true(rs_jv_is(rs_jv_at(v, 0), RS_JTRUE));
    /* a much larger text (the copy and the values grow), then a small one again */
    rs_buf_t b;
    rs_buf_init(&b);
    rs_buf_append(&b, "[", 1);
    for (int i = 0; i < 20000; i++)
        rs_buf_printf(&b, "%s{\"k\":%d,\"s\":\"v\\u00e9%d\"}", i ? "," : "", i, i);
    rs_buf_append(&b, "]", 1);
    for (int round = 0; round < 3; round++) {
        v = rs_jdoc_read(d, b.data, b.len, 8, &err);
        assert_non_null(v);
        assert_int_equal(rs_jv_len(v), 20000);
        assert_int_equal(v->span, 1 + 20000 * 5);
        size_t ix;
        const rs_jv_t *m;
        rs_jv_array_foreach(v, ix, m)
        {
            assert_int_equal(rs_jv_int(rs_jv_get(m, "k")), (long long)ix);
            char want[32];
            snprintf(want, sizeof(want), "v\xc3\xa9%zu", ix);
            assert_string_equal(rs_jv_str(rs_jv_get(m, "s")), want);
        }
        v = rs_jdoc_read(d, "7", 1, 8, &err);
        assert_int_equal(rs_jv_int(v), 7);
        assert_int_equal(v->span, 1);
        /* growing one byte at a time */
        for (size_t l = 1; l < 300; l++) {
            rs_buf_t g;
            rs_buf_init(&g);
            rs_buf_append(&g, "\"", 1);
            for (size_t c = 0; c < l; c++) rs_buf_append(&g, "x", 1);
            rs_buf_append(&g, "\"", 1);
            v = rs_jdoc_read(d, g.data, g.len, 8, &err);
            assert_int_equal(v->n, l);
            assert_int_equal(strlen(rs_jv_str(v)), l);
            rs_buf_cleanup(&g);
        }
    }
    rs_buf_cleanup(&b);
    /* the document does not point into the caller's text */
    char text[] = "{\"a\":\"b\"}";
    v = rs_jdoc_read(d, text, sizeof(text) - 1, 8, &err);
    memset(text, 'x', sizeof(text) - 1);
    assert_string_equal(rs_jv_str(rs_jv_get(v, "a")), "b");
    rs_jdoc_free(&d);
}

/* ---- every one-byte change of a record ---- */

static const char RECORD[] =
    "{\"idx\":3,\"id\":\"c\\u00e9-3\",\"tags\":[\"t\",\"\\ud83d\\ude00\",\"\xc3\xa9\xe2\x82\xac\"],"
    "\"k1\":1,\"k2\":2,\"a\":0,\"\\u0062\":-12.5e-3,\"big\":9223372036854775807,"
    "\"neg\":-9223372036854775808,\"z\":-0,\"r\":1E+2,\"e\":[],\"o\":{},"
    "\"nest\":{\"a\":[1,[2,{\"b\":null}],true,false],\"s\":\"tab\\there \\\"q\\\" \\\\ \\/ \\b\\f\\n\\r\"},"
    "\"many\":{\"k00\":0,\"k01\":1,\"k02\":2,\"k03\":3,\"k04\":4,\"k05\":5,\"k06\":6,\"k07\":7,"
    "\"k08\":8,\"k09\":9,\"k10\":10,\"k11\":11,\"k12\":12,\"k13\":13,\"k14\":14,\"k15\":15,"
    "\"k16\":16,\"k\\u0031\\u0037\":17},"
    "\"u\":\"\xf0\x9f\x98\x80 \xed\x9f\xbf \\u0041\\u00ff\\uffff\"}";

static void test_mutations(void **state)
{
    (void)state;
    static const char ALPHA[] = "\"\\{}[]:, \t\v\r019-+.eEuadDcbfnrt/\x01\x1f\x7f\x80\xbf\xc3\xed\xf4\xff";
    const size_t na = sizeof(ALPHA); /* the terminating NUL too: a NUL byte is a mutation */
    const size_t n = sizeof(RECORD) - 1;
    rs_jdoc_t *d = rs_jdoc_new();
    assert_int_equal(agree(d, RECORD, n), YES);
    char *s = malloc(n + 1);
    assert_non_null(s);
    long counts[4] = {0};
    for (size_t at = 0; at < n; at++) {
        for (size_t c = 0; c < na; c++) {
            /* substituted */
            memcpy(s, RECORD, n);
            if (s[at] == ALPHA[c]) continue;
            s[at] = ALPHA[c];
            counts[agree(d, s, n)]++;
            /* inserted before at */
            memcpy(s, RECORD, at);
            s[at] = ALPHA[c];
            memcpy(s + at + 1, RECORD + at, n - at);
            counts[agree(d, s, n + 1)]++;
        }
        /* deleted, and the text cut before at */
        memcpy(s, RECORD, at);
        memcpy(s + at, RECORD + at + 1, n - at - 1);
        counts[agree(d, s, n - 1)]++;
        counts[agree(d, RECORD, at)]++;
    }
    /* the changes reach every verdict, duplicate keys included (k2 -> k1, \u0062 -> \u0061) */
    print_message("mutations: %ld refused, %ld accepted, %ld duplicate keys\n", counts[NO],
                  counts[YES], counts[DUP]);
    assert_true(counts[NO] > 1000 && counts[YES] > 100 && counts[DUP] > 2);
    assert_int_equal(counts[1], 0); /* read accepting what rs_json_valid refuses */
    free(s);
    rs_jdoc_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),          cmocka_unit_test(test_every_byte),
        cmocka_unit_test(test_utf8_edges),     cmocka_unit_test(test_long_numbers),
        cmocka_unit_test(test_duplicate_keys), cmocka_unit_test(test_depth),
        cmocka_unit_test(test_readers),        cmocka_unit_test(test_reuse),
        cmocka_unit_test(test_mutations),     cmocka_unit_test(test_lookup_order),
        cmocka_unit_test(test_colliding_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
