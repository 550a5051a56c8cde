/* test_record: the checks a result record passes before it is stored (hostile records from a
 * peer: not JSON, not an object, another case's idx or id, lone surrogates, 1e999, deep nesting,
 * duplicate keys, wrong types and models), the fields a response says of itself, and the checksum
 * that finds bytes changed in Redis. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../coordinator/record.h"
#include "../../coordinator/record_int.h"
#include "../../coordinator/units.h"

static rs_config_t *config(void)
{
    rs_err_t err;
    rs_config_t *cfg = rs_config_load_string(
        "dataset: {path: x.jsonl}\n"
        "models: [{name: a, provider: sim, model: sim-1}, {name: b, provider: sim, model: sim-1, n: 2}]\n"
        "scoring: {graders: [exact, numeric]}\n",
        "<test>", NULL, NULL, 0, &err);
    if (!cfg) fail_msg("%s", err.msg);
    return cfg;
}

#define ANSWER                                                                                     \
    "\"output\":\"#### 6\",\"extracted\":\"6\",\"grades\":{\"exact\":\"correct\",\"numeric\":"     \
    "\"correct\"},\"latency_ms\":1.5,\"input_tokens\":47,\"output_tokens\":20,\"finish_reason\":"  \
    "null,\"error\":null,\"error_type\":null"

/* A record as a worker writes it for case 3 ("c3") of the config above. */
static const char GOOD[] =
    "{\"idx\":3,\"id\":\"c3\",\"tags\":[\"t\"],\"targets\":[\"6\"],\"models\":["
    "{\"model\":\"a\",\"provider\":\"sim\",\"simulated\":true,\"error\":null,\"error_type\":null,"
    "\"retries\":0,\"retry_reasons\":{},\"candidates\":[{\"k\":0," ANSWER "}],"
    "\"strategies\":{\"first\":{\"k\":0,\"grades\":{\"exact\":\"correct\",\"numeric\":\"correct\"}}}},"
    "{\"model\":\"b\",\"error\":\"boom\",\"error_type\":\"http_500\",\"candidates\":[{\"k\":0," ANSWER
    "},{\"k\":1," ANSWER ",\"critiques\":[{\"judge\":\"j\",\"model\":\"a\",\"round\":0,\"self\":false,"
    "\"text\":null,\"score\":0.5,\"parsed\":true,\"judged_correct\":true,\"latency_ms\":1,"
    "\"input_tokens\":1,\"output_tokens\":1,\"error\":null,\"error_type\":null}],"
    "\"revisions\":[{\"round\":1," ANSWER "}]}]}],"
    "\"pool\":{\"strategies\":{\"oracle\":{\"grades\":{\"exact\":\"correct\",\"numeric\":\"wrong\"}}}},"
    "\"spans\":[{\"name\":\"case\"}]}";

/* GOOD with the first occurrence of from replaced by to (heap). */
static char *edit(const char *from, const char *to)
{
    const char *at = strstr(GOOD, from);
    if (!at) fail_msg("'%s' is not in the record", from);
    return rs_xasprintf("%.*s%s%s", (int)(at - GOOD), GOOD, to, at + strlen(from));
}

static int check(const rs_config_t *cfg, const char *json, uint64_t idx, const char *id,
                 rs_err_t *err)
{
    return coord_record_check(json, strlen(json), idx, id, cfg, err);
}

/* In a run of several prompts and epochs a record must say its unit's prompt and epoch (units.h:
 * unit 3 of 2 variants x 2 epochs is case 0, variant 1, epoch 1): a worker cannot file an answer
 * under another prompt or epoch, and a run of one prompt takes no "prompt" key. */
static void test_unit_fields(void **state)
{
    (void)state;
    rs_err_t err;
    rs_config_t *cfg = config();
    char *rec = edit("\"targets\"", "\"prompt\":\"p\",\"targets\"");
    assert_int_equal(check(cfg, rec, 3, "c3", &err), -1);
    assert_string_equal(err.msg, "case 3: the record's prompt is not the case's (default)");
    free(rec);
    rs_config_destroy(&cfg);
    const char *ov[] = {"prompts=[{name: p}, {name: q}]", "epochs=2"};
    cfg = rs_config_load_string("dataset: {path: x.jsonl}\n"
                                "models: [{name: a, provider: sim, model: sim-1}, "
                                "{name: b, provider: sim, model: sim-1, n: 2}]\n"
                                "scoring: {graders: [exact, numeric]}\n",
                                "<test>", NULL, ov, 2, &err);
    if (!cfg) fail_msg("%s", err.msg);
    const char *const cases[][2] = {
        {"\"prompt\":\"q\",\"epoch\":1,\"cluster\":\"c\",", NULL},
        {"\"prompt\":\"p\",\"epoch\":1,", "case 3: the record's prompt is not the case's (q)"},
        {"\"prompt\":\"q\",\"epoch\":0,", "case 3: the record's epoch is not the case's (1)"},
        {"\"epoch\":1,", "case 3: prompt is missing"},
        {"\"prompt\":\"q\",", "case 3: epoch is missing"},
        {"\"prompt\":\"q\",\"epoch\":1,\"cluster\":7,", "case 3: cluster is not a string"},
    };
    for (size_t i = 0; i < RS_ARRAY_LEN(cases); i++) {
        char *with = rs_xasprintf("%s\"targets\"", cases[i][0]);
        rec = edit("\"targets\"", with);
        int rc = check(cfg, rec, 3, "c3", &err);
        if (!cases[i][1]) {
            if (rc != 0) fail_msg("%s: %s", cases[i][0], err.msg);
        } else {
            assert_int_equal(rc, -1);
            assert_string_equal(err.msg, cases[i][1]);
        }
        free(rec);
        free(with);
    }
    rs_config_destroy(&cfg);
}

static void test_good_record(void **state)
{
    rs_config_t *cfg = config();
    rs_err_t err;
    if (check(cfg, GOOD, 3, "c3", &err)) fail_msg("%s", err.msg);
    assert_int_equal(check(cfg, GOOD, 3, NULL, &err), 0);
    /* the dispatch path: the id known by its hash */
    assert_int_equal(coord_record_check_hashed(GOOD, strlen(GOOD), 3, rs_dataset_hash_id("c3"), cfg, &err), 0);
    assert_int_equal(coord_record_check_hashed(GOOD, strlen(GOOD), 3, rs_dataset_hash_id("c4"), cfg, &err), -1);
    assert_non_null(strstr(err.msg, "id is not the case's id"));
    rs_jdoc_t *doc = rs_jdoc_new();
    const rs_jv_t *r = coord_record_read(doc, GOOD, strlen(GOOD), 3, "c3", cfg, COORD_RECORD_SKIP_SPANS, &err);
    assert_non_null(r);
    assert_null(rs_jv_get(r, "spans")); /* left out */
    assert_true(coord_record_failed(r)); /* model b's error */
    rs_jdoc_free(&doc);
    json_t *whole = coord_record_load(GOOD, strlen(GOOD), 3, "c3", cfg, 0, &err);
    assert_non_null(json_object_get(whole, "spans")); /* the viewer's copy: whole */
    json_decref(whole);
    /* what exec graders said (docs/GRADERS.md) */
    char *details = edit("\"latency_ms\":1.5", "\"grade_details\":{\"t\":{\"score\":0.5,\"reason\":"
                         "\"r\",\"error_type\":null,\"latency_ms\":2},\"u\":{\"score\":null,"
                         "\"reason\":null,\"error_type\":\"timeout\"}},\"latency_ms\":1.5");
    if (check(cfg, details, 3, "c3", &err)) fail_msg("%s", err.msg);
    free(details);
    rs_config_destroy(&cfg);
}

/* Each hostile record is refused with a message that says why. */
static void test_hostile_records(void **state)
{
    rs_config_t *cfg = config();
    static const struct {
        const char *json, *why;
    } bad[] = {
        {"", "not valid JSON"},
        {"not json", "not valid JSON"},
        {"[]", "not a JSON object"},
        {"{}", "idx is missing"},
        {"{\"idx\":3,\"id\":\"c3\",\"s\":\"\\ud800\"}", "not valid JSON"},
        {"{\"idx\":3,\"id\":\"c3\",\"x\":1e999}", "not valid JSON"},
        {"{\"idx\":3,\"id\":\"c3\",\"x\":-1e999}", "not valid JSON"},
        {"{\"idx\":3,\"id\":\"c3\",\"x\":\"\\u0000\"}", "not valid JSON"},
        {"{\"idx\":3,\"id\":\"c3\",\"x\":\"\xff\"}", "not valid JSON"},
        {"{\"idx\":3,\"idx\":3}", "not valid JSON"}, /* duplicate key */
        {"{\"idx\":3.0,\"id\":\"c3\"}", "idx is not an integer"},
    };
    rs_err_t err;
    for (size_t i = 0; i < RS_ARRAY_LEN(bad); i++) {
        if (check(cfg, bad[i].json, 3, "c3", &err) == 0) fail_msg("accepted %s", bad[i].json);
        if (!strstr(err.msg, bad[i].why)) fail_msg("%s: %s", bad[i].json, err.msg);
    }
    rs_config_destroy(&cfg);
}

static void test_deep_nesting(void **state)
{
    rs_config_t *cfg = config();
    rs_buf_t b;
    rs_buf_init(&b);
    rs_buf_puts(&b, "{\"idx\":3,\"id\":\"c3\",\"x\":");
    for (int i = 0; i < 10000; i++) rs_buf_putc(&b, '[');
    for (int i = 0; i < 10000; i++) rs_buf_putc(&b, ']');
    rs_buf_putc(&b, '}');
    rs_err_t err;
    assert_int_equal(coord_record_check(b.data, b.len, 3, "c3", cfg, &err), -1);
    assert_non_null(strstr(err.msg, "deeper than 32"));
    /* brackets inside strings do not count */
    char *ok = edit("\"targets\":[\"6\"]", "\"targets\":[\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\"]");
    if (check(cfg, ok, 3, "c3", &err)) fail_msg("%s", err.msg);
    free(ok);
    rs_buf_cleanup(&b);
    rs_config_destroy(&cfg);
}

/* The record of another case, or with the shape the report reads broken somewhere inside. */
static void test_wrong_content(void **state)
{
    rs_config_t *cfg = config();
    static const struct {
        const char *from, *to, *why;
    } bad[] = {
        {"\"idx\":3", "\"idx\":4", "that of case 4"},
        {"\"idx\":3", "\"idx\":-1", "that of case -1"},
        {"\"id\":\"c3\"", "\"id\":\"c4\"", "id is not the case's id"},
        {"\"id\":\"c3\"", "\"id\":3", "id is not a string"},
        {"\"model\":\"b\"", "\"model\":\"c\"", "models[1].model is not 'b'"},
        {"{\"model\":\"b\"", "{\"model\":\"a\"", "models[1].model is not 'b'"},
        {"\"tags\":[\"t\"]", "\"tags\":[1]", "tags[0] is not a string"},
        {"\"targets\":[\"6\"]", "\"targets\":{}", "targets is not an array"},
        {"\"grades\":{\"exact\":\"correct\",", "\"grades\":{\"exact\":\"great\",",
         "models[0].candidates[0].grades.exact is not a verdict"},
        {"\"grades\":{\"exact\":\"correct\",", "\"grades\":{",
         "models[0].candidates[0].grades.exact is missing"},
        {"\"input_tokens\":47", "\"input_tokens\":9223372036854775807",
         "models[0].candidates[0].input_tokens is 9223372036854775807, outside"},
        {"\"input_tokens\":47", "\"input_tokens\":-1", "input_tokens is -1, outside"},
        {"\"latency_ms\":1.5", "\"latency_ms\":\"1.5\"", "latency_ms is not a number"},
        {"\"error\":\"boom\"", "\"error\":7", "models[1].error is not a string or null"},
        {"\"candidates\":[{\"k\":0,", "\"candidates\":[\"x\",{\"k\":0,",
         "models[0].candidates[0] is not an object"},
        {"\"round\":1,", "\"round\":0,", "revisions[0].round is 0"},
        {"\"judge\":\"j\"", "\"judge\":null", "critiques[0].judge is not a string"},
        {"\"pool\":{\"strategies\":{\"oracle\":{\"grades\":{\"exact\":\"correct\"",
         "\"pool\":{\"strategies\":{\"oracle\":{\"grades\":{\"exact\":1",
         "pool.strategies.oracle.grades.exact is not a verdict"},
        {"\"latency_ms\":1.5", "\"grade_details\":[],\"latency_ms\":1.5",
         "models[0].candidates[0].grade_details is not an object"},
        {"\"latency_ms\":1.5", "\"grade_details\":{\"t\":1},\"latency_ms\":1.5",
         "grade_details.t is not an object"},
        {"\"latency_ms\":1.5", "\"grade_details\":{\"t\":{\"score\":1.5}},\"latency_ms\":1.5",
         "grade_details.t has a score outside [0, 1]"},
        {"\"latency_ms\":1.5", "\"grade_details\":{\"t\":{\"reason\":5}},\"latency_ms\":1.5",
         "grade_details.t.reason is not a string or null"},
        {"\"spans\":[{\"name\":\"case\"}]", "\"spans\":{}", "spans is not an array"},
        {"\"spans\":[{\"name\":\"case\"}]", "\"spans\":[],\"z\":1",
         "\"spans\" is not the record's last key"},
    };
    rs_err_t err;
    for (size_t i = 0; i < RS_ARRAY_LEN(bad); i++) {
        char *j = edit(bad[i].from, bad[i].to);
        if (check(cfg, j, 3, "c3", &err) == 0) fail_msg("accepted %s", j);
        if (!strstr(err.msg, bad[i].why)) fail_msg("want '%s', got: %s", bad[i].why, err.msg);
        free(j);
    }
    /* model b has n=2: one candidate is too few */
    char *one = edit(",{\"k\":1,", "]}],\"x\":[{\"k\":1,");
    assert_int_equal(check(cfg, one, 3, "c3", &err), -1);
    free(one);
    /* a model missing altogether */
    const char *only_a = "{\"idx\":3,\"id\":\"c3\",\"tags\":[],\"targets\":[],\"models\":[]}";
    assert_int_equal(check(cfg, only_a, 3, "c3", &err), -1);
    assert_non_null(strstr(err.msg, "models holds 0 entries, the run has 2"));
    rs_config_destroy(&cfg);
}

/* The end of the first answer's fields in GOOD. */
#define ANSWER_END "\"finish_reason\":null,\"error\":null,\"error_type\":null"

/* What a response says of itself (served model, fingerprint, reasoning tokens, thinking) passes
 * when it has its type; a wrong type does not. */
static void test_response_fields(void **state)
{
    rs_config_t *cfg = config();
    rs_err_t err;
    char *with = edit(ANSWER_END, ANSWER_END ",\"served_model\":\"gpt-x-2\","
                      "\"system_fingerprint\":\"fp\",\"reasoning_tokens\":20,"
                      "\"thinking\":\"hmm #### 9\"");
    if (check(cfg, with, 3, "c3", &err) != 0) fail_msg("%s", err.msg);
    free(with);
    with = edit(ANSWER_END, ANSWER_END ",\"thinking\":null");
    assert_int_equal(check(cfg, with, 3, "c3", &err), 0);
    free(with);
    static const struct {
        const char *to, *why;
    } bad[] = {
        {ANSWER_END ",\"served_model\":7", "served_model is not a string or null"},
        {ANSWER_END ",\"system_fingerprint\":[]", "system_fingerprint is not"},
        {ANSWER_END ",\"reasoning_tokens\":-1", "reasoning_tokens is -1, outside"},
        {ANSWER_END ",\"reasoning_tokens\":\"20\"", "reasoning_tokens is not"},
        {ANSWER_END ",\"thinking\":{}", "thinking is not a string or null"},
    };
    for (size_t i = 0; i < RS_ARRAY_LEN(bad); i++) {
        char *j = edit(ANSWER_END, bad[i].to);
        if (check(cfg, j, 3, "c3", &err) == 0) fail_msg("accepted %s", j);
        if (!strstr(err.msg, bad[i].why)) fail_msg("want '%s', got: %s", bad[i].why, err.msg);
        free(j);
    }
    rs_config_destroy(&cfg);
}

/* The trace is validated without jansson: on these values the validator and jansson agree. */
static void test_trace_validator(void **state)
{
    static const char *const values[] = {
        "[]", "[1,-0,0.5,-1.5e-3,1E+2,9223372036854775807,-9223372036854775808]",
        "[9223372036854775808]", "[-9223372036854775809]", "[1e999]", "[-1e999]", "[1e-999]",
        "[01]", "[1.]", "[.5]", "[-]", "[1e]", "[+1]", "[0x10]", "[NaN]", "[Infinity]",
        "[\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"]", "[\"\\x\"]", "[\"\\u00e9\\ud83d\\ude00\"]",
        "[\"\\ud800\"]", "[\"\\udc00\"]", "[\"\\ud800\\u0041\"]", "[\"\\u0000\"]", "[\"\\u12\"]",
        "[\"\xc3\xa9\xf0\x9f\x98\x80\"]", "[\"\xff\"]", "[\"\xc0\x80\"]", "[\"\xed\xa0\x80\"]",
        "[\"\xf4\x90\x80\x80\"]", "[\"a\x01b\"]", "[\"a\tb\"]", "[\"open]",
        "[true,false,null]", "[tru]", "[nul]", "[True]", "[{}]", "[{\"a\":1,\"b\":[{}]}]",
        "[{\"a\"}]", "[{\"a\":}]", "[{1:2}]", "[{\"a\":1,}]", "[1,]", "[,1]", "[1 2]",
        "[ 1 , { \"a\" : [ ] } ]", "[\"\\u0041\"]", "[\"\\uD834\\uDD1E\"]",
    };
    for (size_t i = 0; i < RS_ARRAY_LEN(values); i++) {
        int mine = coord_record_json_value_ok(values[i], strlen(values[i]));
        json_t *j = json_loadb(values[i], strlen(values[i]), JSON_DECODE_ANY, NULL);
        if (mine != (j != NULL)) fail_msg("%s: validator %d, jansson %d", values[i], mine, j != NULL);
        json_decref(j);
    }
}

/* Every one-byte change anywhere in a record that the check still accepts is a record jansson
 * reads whole: the fast path through the trace is never more lenient than jansson. */
static void test_mutations_never_lenient(void **state)
{
    rs_config_t *cfg = config();
    static const char BYTES[] = "\"\\[]{},:0e-.u x\x01\xff\xc3";
    char *rec = edit("\"spans\":[{\"name\":\"case\"}]",
                     "\"spans\":[{\"name\":\"case \\u00e9 \xc3\xa9\",\"t\":[1,2.5e3,true,null],"
                     "\"o\":{\"k\":\"\\ud83d\\ude00\"}}]");
    size_t n = strlen(rec), accepted = 0;
    rs_err_t err;
    if (check(cfg, rec, 3, "c3", &err)) fail_msg("%s", err.msg);
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < sizeof(BYTES) - 1; k++) {
            char *m = rs_xstrdup(rec);
            m[i] = BYTES[k];
            if (coord_record_check(m, n, 3, "c3", cfg, &err) == 0) {
                accepted++;
                json_t *j = json_loadb(m, n, JSON_REJECT_DUPLICATES, NULL);
                if (!j) fail_msg("accepted what jansson refuses: %s", m);
                json_decref(j);
            }
            free(m);
        }
    assert_true(accepted > 0);
    free(rec);
    rs_config_destroy(&cfg);
}

static void test_checksum(void **state)
{
    size_t n;
    char *stored = coord_record_wrap(GOOD, strlen(GOOD), &n);
    assert_int_equal(n, strlen(GOOD) + COORD_RECORD_SUM_LEN);
    const char *json;
    size_t len;
    rs_err_t err;
    assert_int_equal(coord_record_unwrap(stored, n, &json, &len, &err), 0);
    assert_int_equal(len, strlen(GOOD));
    assert_memory_equal(json, GOOD, len);
    /* any one byte changed anywhere (digits or record) is found */
    for (size_t i = 0; i < n; i++) {
        char *copy = rs_xstrndup(stored, n);
        copy[i] = copy[i] == '7' ? '8' : '7';
        int rc = coord_record_unwrap(copy, n, &json, &len, &err);
        if (rc == 0 && copy[0] != '{') fail_msg("byte %zu changed, checksum still matches", i);
        free(copy);
    }
    /* truncated */
    assert_int_equal(coord_record_unwrap(stored, n - 1, &json, &len, &err), -1);
    assert_int_equal(coord_record_unwrap(stored, 5, &json, &len, &err), -1);
    assert_non_null(strstr(err.msg, "too short"));
    /* a record stored before checksums: read as is */
    assert_int_equal(coord_record_unwrap(GOOD, strlen(GOOD), &json, &len, &err), 0);
    assert_ptr_equal(json, GOOD);
    free(stored);
}

static void test_corrupt_list(void **state)
{
    coord_corrupt_t c = {0};
    for (uint64_t i = 0; i < 250; i++) coord_corrupt_add(&c, i * 2);
    json_t *j = coord_corrupt_json(&c);
    assert_int_equal(json_integer_value(json_object_get(j, "count")), 250);
    assert_int_equal(json_array_size(json_object_get(j, "cases")), COORD_CORRUPT_LIST);
    assert_int_equal(json_integer_value(json_array_get(json_object_get(j, "cases"), 1)), 2);
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_record),  cmocka_unit_test(test_hostile_records),
        cmocka_unit_test(test_deep_nesting), cmocka_unit_test(test_wrong_content),
        cmocka_unit_test(test_checksum),     cmocka_unit_test(test_corrupt_list),
        cmocka_unit_test(test_trace_validator), cmocka_unit_test(test_mutations_never_lenient),
        cmocka_unit_test(test_response_fields), cmocka_unit_test(test_unit_fields),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
