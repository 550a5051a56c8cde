/* test_score: normalisation (table-driven), every extractor on realistic model outputs, every
 * grader with case sensitivity, several targets, missing answers and skipped cases (json_match
 * table-driven, judge and embed_sim through their values), and the parsing of judges' verdicts. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "score.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

typedef struct norm_row {
    const char *in, *want;
    int numeric;
} norm_row_t;

static const norm_row_t norm_rows[] = {
    {"18", "18", 1},
    {"18.0", "18", 1},
    {"18.00", "18", 1},
    {" 42 ", "42", 1},
    {"42.", "42", 1},
    {"\t\n5\n", "5", 1},
    {"007", "7", 1},
    {"1,234", "1234", 1},
    {"1,234.50", "1234.5", 1},
    {"1,234,567.891", "1234567.891", 1},
    {"$1,234.50", "1234.5", 1},
    {"\xE2\x82\xAC"
     "5",
     "5", 1},
    {"\xC2\xA3"
     "1,000,000",
     "1000000", 1},
    {"-3", "-3", 1},
    {"+3", "3", 1},
    {"-0", "0", 1},
    {"-0.0", "0", 1},
    {".5", "0.5", 1},
    {"-.5", "-0.5", 1},
    {"1e3", "1000", 1},
    {"2.5E-3", "0.0025", 1},
    {"50%", "50", 1},
    {"12.5%", "12.5", 1},
    {"$-5", "-5", 1},
    {"-$5", "-5", 1},
    {"**18**", "18", 1},
    {"`7`.", "7", 1},
    {"0.30000000000000004", "0.3", 1},
    {"1e20", "1e+20", 1},
    {"9007199254740991", "9007199254740991", 1},
    {"12,34", "12,34", 0},
    {"1,2345", "1,2345", 0},
    {"1 234", "1 234", 0},
    {"3/4", "3/4", 0},
    {"1e400", "1e400", 0},
    {"Paris", "Paris", 0},
    {"  Hello World. ", "Hello World", 0},
    {"seven", "seven", 0},
    {"$", "$", 0},
    {"-", "-", 0},
    {"...", "", 0},
    {"", "", 0},
};

static void test_normalize_table(void **state)
{
    for (size_t i = 0; i < N_OF(norm_rows); i++) {
        const norm_row_t *r = &norm_rows[i];
        char *got = rs_normalize_answer(r->in);
        if (strcmp(got, r->want) != 0)
            fail_msg("row %zu '%s': got '%s', want '%s'", i, r->in, got, r->want);
        free(got);
        double v;
        if (rs_answer_number(r->in, &v) != r->numeric) fail_msg("row %zu '%s': numeric?", i, r->in);
    }
}

static void test_answer_number(void **state)
{
    double v = 0;
    assert_int_equal(rs_answer_number("$1,234.50", &v), 1);
    assert_true(v == 1234.5);
    assert_int_equal(rs_answer_number(" -7. ", &v), 1);
    assert_true(v == -7);
    assert_int_equal(rs_answer_number("7 apples", &v), 0);
    assert_int_equal(rs_answer_number("42", NULL), 1);
}

static void test_format_number(void **state)
{
    char buf[RS_NUMBER_BUF];
    assert_int_equal(rs_format_number(-0.0, buf, sizeof(buf)), 1);
    assert_string_equal(buf, "0");
    rs_format_number(-9007199254740991.0, buf, sizeof(buf));
    assert_string_equal(buf, "-9007199254740991");
    rs_format_number(-1.2345678901234567e-300, buf, sizeof(buf));
    assert_string_equal(buf, "-1.23456789012346e-300");
    rs_format_number(0.1 + 0.2, buf, sizeof(buf));
    assert_string_equal(buf, "0.3");
    /* integers are written without printf: the same text as "%.0f", cut to n as snprintf cuts */
    static const double INTS[] = {0, 1, -1, 9, 10, -10, 99, 1e15, -1e15, 4503599627370496.0,
                                  9007199254740991.0, -9007199254740991.0};
    for (size_t i = 0; i < sizeof(INTS) / sizeof(INTS[0]); i++) {
        char want[RS_NUMBER_BUF];
        for (size_t n = 0; n <= sizeof(buf); n += (n < 4 ? 1 : 9)) {
            int want_len = snprintf(want, n ? n : 1, "%.0f", INTS[i]);
            memset(buf, 'x', sizeof(buf));
            assert_int_equal(rs_format_number(INTS[i], buf, n), want_len);
            if (n) assert_string_equal(buf, want);
            else assert_int_equal(buf[0], 'x'); /* n = 0 writes nothing */
        }
    }
}

/* ---- extractors ---- */

typedef struct extract_row {
    rs_extractor_kind_t kind;
    const char *pattern, *output, *want; /* want NULL: nothing extracted */
} extract_row_t;

static const extract_row_t extract_rows[] = {
    {RS_EXTRACT_AUTO, NULL, "The answer is $1,234.", "1234"},
    {RS_EXTRACT_AUTO, NULL, "Half of 144 is 72.\n#### 72", "72"},
    {RS_EXTRACT_AUTO, NULL, "Q: How many?\nA: 18.0", "18"},
    {RS_EXTRACT_AUTO, NULL, "so 3 + 4 = 7 apples", "7"},
    {RS_EXTRACT_AUTO, NULL, "The answer is 7. Let me double-check: 3+4=7.", "7"},
    {RS_EXTRACT_AUTO, NULL, "I think the answer is 5.\n#### 6", "6"},
    {RS_EXTRACT_AUTO, NULL, "The final Answer: **42**", "42"},
    {RS_EXTRACT_AUTO, NULL, "The answer is Paris.", "Paris"},
    {RS_EXTRACT_AUTO, NULL, "data: 5 items, total 9", "9"}, /* "a:" inside "data:" is no marker */
    {RS_EXTRACT_AUTO, NULL, "#### \n", NULL},
    {RS_EXTRACT_AUTO, NULL, "The answer isn't obvious; it is 5 or 6", "6"},
    {RS_EXTRACT_AUTO, NULL, "no numbers here", NULL},
    {RS_EXTRACT_AUTO, NULL,
     "[simulated] Working through the problem step by step.\nThe answer is not 7.\n#### not 7",
     "not 7"},
    {RS_EXTRACT_LAST_NUMBER, NULL, "so 3 + 4 = 7 apples", "7"},
    {RS_EXTRACT_LAST_NUMBER, NULL, "#### 72 then 5", "5"},
    {RS_EXTRACT_LAST_NUMBER, NULL, "5-3=2", "2"},
    {RS_EXTRACT_LAST_NUMBER, NULL, "so x = -4", "-4"},
    {RS_EXTRACT_LAST_NUMBER, NULL, "it costs $1,234.50 in total.", "1234.5"},
    {RS_EXTRACT_LAST_NUMBER, NULL, "version 1.2.3", "3"},
    {RS_EXTRACT_LAST_NUMBER, NULL, "up 50% from 1e3", "1000"},
    {RS_EXTRACT_LAST_NUMBER, NULL, "The answer is 12.", "12"},
    {RS_EXTRACT_LAST_NUMBER, NULL, "none at all", NULL},
    {RS_EXTRACT_REGEX, "Final: (\\w+)", "Final: cat\nthen Final: dog.", "dog"},
    {RS_EXTRACT_REGEX, "\\d+ apples", "so 3 + 4 = 7 apples", "7 apples"},
    {RS_EXTRACT_REGEX, "Final: (\\w+)", "nothing final", NULL},
    {RS_EXTRACT_HASHES, NULL, "work...\n#### 72\nThat is all.", "72"},
    {RS_EXTRACT_HASHES, NULL, "#### 1\n#### $2,000", "2000"},
    {RS_EXTRACT_HASHES, NULL, "The answer is 7", NULL},
    {RS_EXTRACT_ANSWER, NULL, "The answer is $1,234.", "1234"},
    {RS_EXTRACT_ANSWER, NULL, "A: 18.0", "18"},
    {RS_EXTRACT_ANSWER, NULL, "Answer:\n  Paris\n", "Paris"},
    {RS_EXTRACT_ANSWER, NULL, "THE ANSWER IS: 5 apples.", "5 apples"},
    {RS_EXTRACT_ANSWER, NULL, "#### 72", NULL},
    {RS_EXTRACT_NONE, NULL, "  The answer is 7.  ", "The answer is 7"},
    {RS_EXTRACT_NONE, NULL, "  18.0\n", "18"},
    {RS_EXTRACT_NONE, NULL, "   ", NULL},
};

static void test_extractors(void **state)
{
    for (size_t i = 0; i < N_OF(extract_rows); i++) {
        const extract_row_t *r = &extract_rows[i];
        rs_scoring_cfg_t cfg = {.extractor = r->kind, .extractor_pattern = (char *)r->pattern};
        rs_err_t err = {{0}};
        rs_scorer_t *s = rs_scorer_new(&cfg, &err);
        if (!s) fail_msg("row %zu: %s", i, err.msg);
        char *got = rs_scorer_extract(s, r->output);
        if ((got == NULL) != (r->want == NULL) || (got && strcmp(got, r->want) != 0))
            fail_msg("row %zu '%s': got '%s', want '%s'", i, r->output, got ? got : "(null)",
                     r->want ? r->want : "(null)");
        free(got);
        rs_scorer_destroy(&s);
        assert_null(s);
    }
}

static void test_extract_null_output(void **state)
{
    rs_scorer_t *s = rs_scorer_new(NULL, NULL);
    assert_non_null(s);
    assert_int_equal(rs_scorer_n_graders(s), 1);
    assert_null(rs_scorer_extract(s, NULL));
    rs_scorer_destroy(&s);
    rs_scorer_destroy(&s); /* idempotent */
}

static void test_scorer_errors(void **state)
{
    rs_err_t err = {{0}};
    rs_scoring_cfg_t cfg = {.extractor = RS_EXTRACT_REGEX};
    assert_null(rs_scorer_new(&cfg, &err));
    assert_non_null(strstr(err.msg, "scoring.extractor"));
    cfg.extractor_pattern = "(unclosed";
    assert_null(rs_scorer_new(&cfg, &err));
    assert_non_null(strstr(err.msg, "scoring.extractor"));

    rs_grader_cfg_t g[] = {{.kind = RS_GRADE_EXACT},
                           {.name = "myre", .kind = RS_GRADE_REGEX, .pattern = "[a-"}};
    rs_scoring_cfg_t cfg2 = {.extractor = RS_EXTRACT_AUTO, .graders = g, .n_graders = 2};
    assert_null(rs_scorer_new(&cfg2, &err));
    assert_non_null(strstr(err.msg, "scoring.graders[1] 'myre'"));
    assert_non_null(strstr(err.msg, "bad regex"));
    g[1] = (rs_grader_cfg_t){.name = "num", .kind = RS_GRADE_NUMERIC, .tolerance = -1};
    assert_null(rs_scorer_new(&cfg2, &err));
    assert_non_null(strstr(err.msg, "'num'"));
    g[1] = (rs_grader_cfg_t){.kind = (rs_grader_kind_t)99};
    assert_null(rs_scorer_new(&cfg2, &err));
    assert_non_null(strstr(err.msg, "unknown grader kind"));
}

/* ---- graders ---- */

static rs_scorer_t *one_grader(rs_grader_cfg_t g)
{
    rs_scoring_cfg_t cfg = {.extractor = RS_EXTRACT_AUTO, .graders = &g, .n_graders = 1};
    rs_err_t err = {{0}};
    rs_scorer_t *s = rs_scorer_new(&cfg, &err);
    if (!s) fail_msg("%s", err.msg);
    return s;
}

static rs_verdict_t grade(const rs_scorer_t *s, const char *output, const char *extracted,
                          char *const *targets, size_t n)
{
    return rs_scorer_grade(s, 0, output, extracted, targets, n);
}

static void test_grade_exact(void **state)
{
    char *targets[] = {"London", "paris", "1,234.0"};
    rs_scorer_t *s = one_grader((rs_grader_cfg_t){.kind = RS_GRADE_EXACT});
    assert_int_equal(grade(s, "", "Paris", targets, 3), RS_VERDICT_CORRECT);
    assert_int_equal(grade(s, "", "Paris.", targets, 3), RS_VERDICT_CORRECT);
    assert_int_equal(grade(s, "", "1234", targets, 3), RS_VERDICT_CORRECT);
    assert_int_equal(grade(s, "", "$1,234", targets, 3), RS_VERDICT_CORRECT);
    assert_int_equal(grade(s, "", "1234.01", targets, 3), RS_VERDICT_WRONG);
    assert_int_equal(grade(s, "", "Pariss", targets, 3), RS_VERDICT_WRONG);
    assert_int_equal(grade(s, "", NULL, targets, 3), RS_VERDICT_WRONG);
    assert_int_equal(grade(s, "", "", targets, 3), RS_VERDICT_WRONG);
    assert_int_equal(grade(s, "", "Paris", NULL, 0), RS_VERDICT_SKIPPED);
    assert_int_equal(grade(s, "", NULL, NULL, 0), RS_VERDICT_SKIPPED);
    char *empty[] = {""};
    assert_int_equal(grade(s, "", "x", empty, 1), RS_VERDICT_WRONG);
    rs_scorer_destroy(&s);
    s = one_grader((rs_grader_cfg_t){.kind = RS_GRADE_EXACT, .case_sensitive = 1});
    assert_int_equal(grade(s, "", "Paris", targets, 3), RS_VERDICT_WRONG);
    assert_int_equal(grade(s, "", "paris", targets, 3), RS_VERDICT_CORRECT);
    assert_int_equal(grade(s, "", "1234", targets, 3), RS_VERDICT_CORRECT);
    rs_scorer_destroy(&s);
}

static void test_grade_includes(void **state)
{
    char *targets[] = {"London", " paris "};
    const char *out = "The capital of France is Paris.";
    rs_scorer_t *s = one_grader((rs_grader_cfg_t){.kind = RS_GRADE_INCLUDES});
    assert_int_equal(grade(s, out, NULL, targets, 2), RS_VERDICT_CORRECT);
    assert_int_equal(grade(s, "Berlin", NULL, targets, 2), RS_VERDICT_WRONG);
    assert_int_equal(grade(s, NULL, NULL, targets, 2), RS_VERDICT_WRONG);
    assert_int_equal(grade(s, out, NULL, NULL, 0), RS_VERDICT_SKIPPED);
    assert_int_equal(grade(s, "Par", NULL, targets, 2), RS_VERDICT_WRONG);
    rs_scorer_destroy(&s);
    s = one_grader((rs_grader_cfg_t){.kind = RS_GRADE_INCLUDES, .case_sensitive = 1});
    assert_int_equal(grade(s, out, NULL, targets, 2), RS_VERDICT_WRONG);
    assert_int_equal(grade(s, "in London.", NULL, targets, 2), RS_VERDICT_CORRECT);
    rs_scorer_destroy(&s);
}

static void test_grade_regex_pattern(void **state)
{
    rs_scorer_t *s =
        one_grader((rs_grader_cfg_t){.kind = RS_GRADE_REGEX, .pattern = "\\bparis\\b"});
    char *targets[] = {"London"};
    assert_int_equal(grade(s, "It is Paris.", NULL, targets, 1), RS_VERDICT_CORRECT);
    assert_int_equal(grade(s, "It is Paris.", NULL, NULL, 0), RS_VERDICT_CORRECT); /* not skipped */
    assert_int_equal(grade(s, "It is Parisian.", NULL, NULL, 0), RS_VERDICT_WRONG);
    assert_int_equal(grade(s, NULL, NULL, NULL, 0), RS_VERDICT_WRONG);
    rs_scorer_destroy(&s);
    s = one_grader(
        (rs_grader_cfg_t){.kind = RS_GRADE_REGEX, .pattern = "paris", .case_sensitive = 1});
    assert_int_equal(grade(s, "It is Paris.", NULL, NULL, 0), RS_VERDICT_WRONG);
    assert_int_equal(grade(s, "it is paris", NULL, NULL, 0), RS_VERDICT_CORRECT);
    rs_scorer_destroy(&s);
}

static void test_grade_regex_targets(void **state)
{
    rs_scorer_t *s = one_grader((rs_grader_cfg_t){.kind = RS_GRADE_REGEX});
    char *targets[] = {"(unclosed", "^x", "pa.is"};
    assert_int_equal(grade(s, "It is PARIS.", NULL, targets, 3), RS_VERDICT_CORRECT);
    assert_int_equal(grade(s, "It is Rome.", NULL, targets, 3), RS_VERDICT_WRONG);
    assert_int_equal(grade(s, "It is Paris.", NULL, NULL, 0), RS_VERDICT_SKIPPED);
    rs_scorer_destroy(&s);
    s = one_grader((rs_grader_cfg_t){.kind = RS_GRADE_REGEX, .case_sensitive = 1});
    assert_int_equal(grade(s, "It is PARIS.", NULL, targets, 3), RS_VERDICT_WRONG);
    assert_int_equal(grade(s, "xylophone", NULL, targets, 3), RS_VERDICT_CORRECT);
    rs_scorer_destroy(&s);
}

static void test_grade_numeric(void **state)
{
    char *targets[] = {"not a number", "3.14159265"};
    rs_scorer_t *s = one_grader((rs_grader_cfg_t){.kind = RS_GRADE_NUMERIC, .tolerance = 1e-6});
    assert_int_equal(grade(s, "", "3.1415926", targets, 2), RS_VERDICT_CORRECT);
    assert_int_equal(grade(s, "", "3.14", targets, 2), RS_VERDICT_WRONG);
    assert_int_equal(grade(s, "", "pi", targets, 2), RS_VERDICT_WRONG);
    assert_int_equal(grade(s, "", NULL, targets, 2), RS_VERDICT_WRONG);
    assert_int_equal(grade(s, "", "3.14", NULL, 0), RS_VERDICT_SKIPPED);
    rs_scorer_destroy(&s);
    s = one_grader((rs_grader_cfg_t){.kind = RS_GRADE_NUMERIC, .tolerance = 0.01});
    assert_int_equal(grade(s, "", "3.1416", targets, 2), RS_VERDICT_CORRECT);
    assert_int_equal(grade(s, "", "3.16", targets, 2), RS_VERDICT_WRONG);
    rs_scorer_destroy(&s);
    char *hundred[] = {"$100", "-50"};
    s = one_grader(
        (rs_grader_cfg_t){.kind = RS_GRADE_NUMERIC, .tolerance = 1e-6, .rel_tolerance = 0.05});
    assert_int_equal(grade(s, "", "104", hundred, 2), RS_VERDICT_CORRECT);
    assert_int_equal(grade(s, "", "95", hundred, 2), RS_VERDICT_CORRECT);
    assert_int_equal(grade(s, "", "106", hundred, 2), RS_VERDICT_WRONG);
    assert_int_equal(grade(s, "", "-52.5", hundred, 2), RS_VERDICT_CORRECT);
    rs_scorer_destroy(&s);
}

static void test_grade_fuzzy(void **state)
{
    char *targets[] = {"", "Paris", "1234"};
    rs_scorer_t *s = one_grader((rs_grader_cfg_t){.kind = RS_GRADE_FUZZY, .threshold = 0.8});
    assert_int_equal(grade(s, "", "Paris", targets, 3), RS_VERDICT_CORRECT);
    assert_int_equal(grade(s, "", "Pariss", targets, 3), RS_VERDICT_CORRECT); /* 5/6 */
    assert_int_equal(grade(s, "", "Pari", targets, 3), RS_VERDICT_CORRECT);   /* 4/5 meets 0.8 */
    assert_int_equal(grade(s, "", "Par", targets, 3), RS_VERDICT_WRONG);      /* 3/5 */
    assert_int_equal(grade(s, "", "PARIS.", targets, 3), RS_VERDICT_CORRECT); /* case, '.' */
    assert_int_equal(grade(s, "", "$1,234", targets, 3), RS_VERDICT_CORRECT); /* normalised */
    assert_int_equal(grade(s, "", "London", targets, 3), RS_VERDICT_WRONG);
    assert_int_equal(grade(s, "", NULL, targets, 3), RS_VERDICT_WRONG);
    assert_int_equal(grade(s, "", "...", targets, 3), RS_VERDICT_WRONG);
    assert_int_equal(grade(s, "", "Paris", NULL, 0), RS_VERDICT_SKIPPED);
    assert_int_equal(grade(s, "", "Paris", targets, 1), RS_VERDICT_WRONG); /* only "" */
    rs_scorer_destroy(&s);
    s = one_grader((rs_grader_cfg_t){.kind = RS_GRADE_FUZZY, .threshold = 1, .case_sensitive = 1});
    assert_int_equal(grade(s, "", "Paris", targets, 3), RS_VERDICT_CORRECT);
    assert_int_equal(grade(s, "", "paris", targets, 3), RS_VERDICT_WRONG);
    rs_scorer_destroy(&s);
    s = one_grader((rs_grader_cfg_t){.kind = RS_GRADE_FUZZY, .threshold = 0});
    assert_int_equal(grade(s, "", "xyz", targets, 3), RS_VERDICT_CORRECT);
    rs_scorer_destroy(&s);
    /* exactly at the threshold: 1 - 4/5 is 0.19999999999999996 in doubles, still correct */
    s = one_grader((rs_grader_cfg_t){.kind = RS_GRADE_FUZZY, .threshold = 0.2});
    assert_int_equal(grade(s, "", "Pxxxx", targets, 2), RS_VERDICT_CORRECT);
    assert_int_equal(grade(s, "", "xxxxx", targets, 2), RS_VERDICT_WRONG);
    rs_scorer_destroy(&s);
}

typedef struct json_row {
    const char *keys[3]; /* NULL-terminated; keys[0] NULL: the target's keys */
    const char *output, *extracted, *target, *target2;
    rs_verdict_t want;
} json_row_t;

static const json_row_t json_rows[] = {
    {{NULL},
     "{\"a\": 1, \"b\": \"x\"}",
     NULL,
     "{\"a\": 1, \"b\": \"x\"}",
     NULL,
     RS_VERDICT_CORRECT},
    /* extra keys and another order are fine; text around the object too */
    {{NULL},
     "So: {\"c\": 3, \"b\": \"x\", \"a\": 1} done.",
     "3",
     "{\"a\":1,\"b\":\"x\"}",
     NULL,
     RS_VERDICT_CORRECT},
    {{NULL}, "{\"a\": 2, \"b\": \"x\"}", NULL, "{\"a\": 1, \"b\": \"x\"}", NULL, RS_VERDICT_WRONG},
    {{NULL}, "{\"a\": 1}", NULL, "{\"a\": 1, \"b\": \"x\"}", NULL, RS_VERDICT_WRONG},
    /* json_equal: an integer is not a real */
    {{NULL}, "{\"a\": 1.0}", NULL, "{\"a\": 1}", NULL, RS_VERDICT_WRONG},
    {{NULL},
     "{\"a\": {\"x\": [1, 2]}}",
     NULL,
     "{\"a\": {\"x\": [1, 2]}}",
     NULL,
     RS_VERDICT_CORRECT},
    {{NULL}, "{\"a\": {\"x\": [2, 1]}}", NULL, "{\"a\": {\"x\": [1, 2]}}", NULL, RS_VERDICT_WRONG},
    /* listed keys only, and they must be in the target too */
    {{"a", NULL},
     "{\"a\": 1, \"b\": \"y\"}",
     NULL,
     "{\"a\": 1, \"b\": \"x\"}",
     NULL,
     RS_VERDICT_CORRECT},
    {{"a", "b"},
     "{\"a\": 1, \"b\": \"y\"}",
     NULL,
     "{\"a\": 1, \"b\": \"x\"}",
     NULL,
     RS_VERDICT_WRONG},
    {{"c", NULL}, "{\"c\": 1}", NULL, "{\"a\": 1}", NULL, RS_VERDICT_WRONG},
    /* the first '{' that starts a whole object */
    {{NULL},
     "set {x} then {\"a\": 1} and {\"a\": 2}",
     NULL,
     "{\"a\": 1}",
     NULL,
     RS_VERDICT_CORRECT},
    {{NULL}, "no json here", NULL, "{\"a\": 1}", NULL, RS_VERDICT_WRONG},
    {{NULL}, "{\"a\": 1", NULL, "{\"a\": 1}", NULL, RS_VERDICT_WRONG},
    /* an extracted object wins over the output's first one */
    {{NULL}, "{\"a\": 2}\n#### {\"a\": 1}", "{\"a\": 1}", "{\"a\": 1}", NULL, RS_VERDICT_CORRECT},
    {{NULL}, NULL, "{\"a\": 1}", "{\"a\": 1}", NULL, RS_VERDICT_CORRECT},
    {{NULL}, NULL, NULL, "{\"a\": 1}", NULL, RS_VERDICT_WRONG},
    /* targets that are no JSON object are ignored; any target may match */
    {{NULL}, "{\"a\": 1}", NULL, "1", "{\"a\": 1}", RS_VERDICT_CORRECT},
    {{NULL}, "{\"a\": 1}", NULL, "not json", "[1]", RS_VERDICT_WRONG},
    {{NULL}, "{\"a\": 1}", NULL, NULL, NULL, RS_VERDICT_SKIPPED},
};

static void test_grade_json_match(void **state)
{
    for (size_t i = 0; i < N_OF(json_rows); i++) {
        const json_row_t *r = &json_rows[i];
        rs_scorer_t *s = one_grader((rs_grader_cfg_t){
            .kind = RS_GRADE_JSON_MATCH, .keys = r->keys[0] ? (char **)r->keys : NULL});
        char *targets[] = {(char *)r->target, (char *)r->target2};
        size_t n = r->target2 ? 2 : r->target ? 1 : 0;
        rs_verdict_t got = grade(s, r->output, r->extracted, targets, n);
        if (got != r->want) fail_msg("row %zu: got %d, want %d", i, got, r->want);
        rs_scorer_destroy(&s);
    }
}

static void test_grade_values(void **state)
{
    rs_grader_cfg_t g[] = {{.kind = RS_GRADE_EXACT},
                           {.kind = RS_GRADE_JUDGE, .threshold = 0.5},
                           {.kind = RS_GRADE_EMBED_SIM, .threshold = -0.5},
                           {.kind = RS_GRADE_FUZZY, .threshold = 0.8}};
    rs_scoring_cfg_t cfg = {.extractor = RS_EXTRACT_AUTO, .graders = g, .n_graders = 4};
    rs_scorer_t *s = rs_scorer_new(&cfg, NULL);
    assert_non_null(s);
    assert_int_equal(rs_scorer_needs_value(s, 0), 0);
    assert_int_equal(rs_scorer_needs_value(s, 1), 1);
    assert_int_equal(rs_scorer_needs_value(s, 2), 1);
    assert_int_equal(rs_scorer_needs_value(s, 3), 0);
    assert_int_equal(rs_scorer_grade_value(s, 1, 0.5), RS_VERDICT_CORRECT);
    assert_int_equal(rs_scorer_grade_value(s, 1, 0.49), RS_VERDICT_WRONG);
    assert_int_equal(rs_scorer_grade_value(s, 1, NAN), RS_VERDICT_SKIPPED);
    assert_int_equal(rs_scorer_grade_value(s, 2, -0.4), RS_VERDICT_CORRECT);
    assert_int_equal(rs_scorer_grade_value(s, 2, -0.6), RS_VERDICT_WRONG);
    /* a value grader has nothing to say about text */
    char *targets[] = {"7"};
    assert_int_equal(rs_scorer_grade(s, 1, "7", "7", targets, 1), RS_VERDICT_SKIPPED);
    assert_int_equal(rs_scorer_grade(s, 2, "7", "7", targets, 1), RS_VERDICT_SKIPPED);
    rs_scorer_destroy(&s);

    rs_err_t err = {{0}};
    g[1].threshold = NAN;
    cfg.n_graders = 2;
    assert_null(rs_scorer_new(&cfg, &err));
    assert_string_equal(err.msg, "scoring.graders[1] '': threshold must be in [-1, 1]");
}

/* ---- verdicts ---- */

typedef struct verdict_row {
    const char *text;
    int parsed;
    double score;
} verdict_row_t;

static void check_verdicts(const rs_verdict_cfg_t *cfg, const verdict_row_t *rows, size_t n)
{
    rs_err_t err = {{0}};
    rs_verdict_parser_t *p = rs_verdict_parser_new(cfg, &err);
    if (!p) fail_msg("%s", err.msg);
    for (size_t i = 0; i < n; i++) {
        double score = -1;
        int parsed = rs_verdict_parse(p, rows[i].text, &score);
        if (parsed != rows[i].parsed || (parsed && score != rows[i].score))
            fail_msg("row %zu '%s': parsed %d score %g", i, rows[i].text ? rows[i].text : "(null)",
                     parsed, score);
    }
    rs_verdict_parser_destroy(&p);
    assert_null(p);
    rs_verdict_parser_destroy(&p);
}

static void test_verdict_choices(void **state)
{
    rs_verdict_choice_t yn[] = {{"N", 0}, {"Y", 1}};
    const verdict_row_t rows[] = {
        {"Looks fine.\nVerdict: Y", 1, 1},
        {"Looks wrong.\nVerdict: N", 1, 0},
        {"Yes, Y at first; but then N.", 1, 0}, /* the last one wins */
        {"Verdict: Y\nMY NOTE: Nice", 1, 1},    /* not inside words */
        {"Verdict: Y.", 1, 1},
        {"Verdict: y", 0, 0}, /* case-sensitive */
        {"Verdict: maybe", 0, 0},
        {"", 0, 0},
        {NULL, 0, 0},
    };
    rs_verdict_cfg_t cfg = {.choices = yn, .n_choices = 2};
    check_verdicts(&cfg, rows, N_OF(rows));

    /* two choices ending at the same byte: the longer wins */
    rs_verdict_choice_t words[] = {{"correct", 1}, {"not correct", 0}, {"(B)", 0.25}};
    const verdict_row_t rows2[] = {
        {"The answer is correct", 1, 1},
        {"The answer is not correct", 1, 0},
        {"incorrect, or rather correctly done", 0, 0},
        {"not correct... it is correct!", 1, 1},
        {"pick x(B)y", 1, 0.25}, /* no word boundary needed at non-alphanumeric ends */
    };
    rs_verdict_cfg_t cfg2 = {.choices = words, .n_choices = 3};
    check_verdicts(&cfg2, rows2, N_OF(rows2));
}

static void test_verdict_regex(void **state)
{
    const verdict_row_t rows[] = {
        {"Score: 7", 1, 0.7},   {"Score: 3\nthen Score:  9", 1, 0.9}, /* the last match */
        {"Score: 12", 1, 1},                                          /* clamped */
        {"Score: **5**", 0, 0}, /* the pattern wants digits right there */
        {"Score: .", 0, 0},     /* not a number */
        {"no score", 0, 0},
    };
    rs_verdict_cfg_t cfg = {.regex = "Score: *([0-9.]+)", .min = 0, .max = 10};
    check_verdicts(&cfg, rows, N_OF(rows));
    const verdict_row_t rows2[] = {
        {"I give it 3/5", 1, 0.5}, {"1/5", 1, 0}, {"0/5", 1, 0}, {"**4**/5", 1, 0.75}};
    rs_verdict_cfg_t cfg2 = {.regex = "(\\S+)/5", .min = 1, .max = 5};
    check_verdicts(&cfg2, rows2, N_OF(rows2));
    const verdict_row_t rows3[] = {{"8/10", 0, 0}}; /* the whole match "8/10" is no number */
    rs_verdict_cfg_t cfg3 = {.regex = "\\d+/10", .max = 10};
    check_verdicts(&cfg3, rows3, N_OF(rows3));

    rs_err_t err = {{0}};
    rs_verdict_cfg_t bad = {.regex = "(", .max = 1};
    assert_null(rs_verdict_parser_new(&bad, &err));
    assert_non_null(strstr(err.msg, "verdict.regex: bad regex"));
    rs_verdict_cfg_t none = {0};
    assert_null(rs_verdict_parser_new(&none, &err));
    assert_string_equal(err.msg, "verdict: needs choices or a regex");
    rs_verdict_cfg_t flat = {.regex = "(\\d)", .min = 2, .max = 2};
    assert_null(rs_verdict_parser_new(&flat, &err));
}

/* json_match looks for the first object from every '{' of the output; a hostile 1 MiB reply that
 * opens an object on every line and never closes one took 92 s. The search has a linear budget
 * now: it gives up (wrong) quickly, and an object after ordinary prose is still found. */
static void test_json_match_long_reply(void **state)
{
    (void)state;
    size_t n = 1u << 20;
    char *text = malloc(n + 1);
    for (size_t i = 0; i < n; i++) text[i] = "{\"a\":["[i % 6];
    text[n] = '\0';
    rs_grader_cfg_t g[] = {{.kind = RS_GRADE_JSON_MATCH}};
    rs_scoring_cfg_t cfg = {.extractor = RS_EXTRACT_NONE, .graders = g, .n_graders = 1};
    rs_scorer_t *s = rs_scorer_new(&cfg, NULL);
    char *targets[] = {"{\"a\": 1}"};
    double t0 = rs_mono_sec();
    assert_int_equal(rs_scorer_grade(s, 0, text, NULL, targets, 1), RS_VERDICT_WRONG);
    assert_true(rs_mono_sec() - t0 < 15.0); /* ~0.1 s, 1 s in the ASan build; 92 s before */
    const char *ok = "Some {braces} in prose { then the result: {\"a\": 1, \"b\": [2]} done";
    assert_int_equal(rs_scorer_grade(s, 0, ok, NULL, targets, 1), RS_VERDICT_CORRECT);
    rs_scorer_destroy(&s);
    free(text);
}

/* Extraction then grading, the way a worker uses a scorer with several graders. */
static void test_pipeline(void **state)
{
    rs_grader_cfg_t g[] = {{.kind = RS_GRADE_EXACT},
                           {.kind = RS_GRADE_NUMERIC, .tolerance = 0.5},
                           {.kind = RS_GRADE_INCLUDES}};
    rs_scoring_cfg_t cfg = {.extractor = RS_EXTRACT_AUTO, .graders = g, .n_graders = 3};
    rs_scorer_t *s = rs_scorer_new(&cfg, NULL);
    assert_non_null(s);
    assert_int_equal(rs_scorer_n_graders(s), 3);
    const char *out = "First 1,000 + 234 = 1,234.\nThe answer is $1,234.";
    char *targets[] = {"1234"};
    char *x = rs_scorer_extract(s, out);
    assert_string_equal(x, "1234");
    assert_int_equal(rs_scorer_grade(s, 0, out, x, targets, 1), RS_VERDICT_CORRECT);
    assert_int_equal(rs_scorer_grade(s, 1, out, x, targets, 1), RS_VERDICT_CORRECT);
    assert_int_equal(rs_scorer_grade(s, 2, out, x, targets, 1), RS_VERDICT_WRONG); /* "1,234" */
    free(x);
    rs_scorer_destroy(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_normalize_table),
        cmocka_unit_test(test_answer_number),
        cmocka_unit_test(test_format_number),
        cmocka_unit_test(test_extractors),
        cmocka_unit_test(test_extract_null_output),
        cmocka_unit_test(test_scorer_errors),
        cmocka_unit_test(test_grade_exact),
        cmocka_unit_test(test_grade_includes),
        cmocka_unit_test(test_grade_regex_pattern),
        cmocka_unit_test(test_grade_regex_targets),
        cmocka_unit_test(test_grade_numeric),
        cmocka_unit_test(test_grade_fuzzy),
        cmocka_unit_test(test_grade_json_match),
        cmocka_unit_test(test_grade_values),
        cmocka_unit_test(test_verdict_choices),
        cmocka_unit_test(test_verdict_regex),
        cmocka_unit_test(test_pipeline),
        cmocka_unit_test(test_json_match_long_reply),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
