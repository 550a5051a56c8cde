/* test_regex: the regex search and the extractors over long, hostile model replies. A 1 MiB reply
 * of digits and text is searched in one forward scan (one pcre2_match per match, not per offset,
 * and no UTF re-check per call: before, a 320 KB reply took 20 s); a pattern that backtracks
 * catastrophically ends at the match limit, reported as such and not as "no match"; invalid UTF-8
 * is an outcome, not a crash; empty matches step over whole characters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "regex.h"
#include "score.h"

#define MIB (1u << 20)
#define WALL_BOUND_SEC 2.0 /* each search below took from 20 s to minutes before; now < 50 ms */

/* A 1 MiB text of unit repeated, ending with tail. */
static char *long_text(const char *unit, const char *tail)
{
    size_t u = strlen(unit), t = strlen(tail);
    char *s = rs_xmalloc(MIB + 1);
    for (size_t i = 0; i < MIB; i++)
        s[i] = unit[i % u];
    memcpy(s + MIB - t, tail, t);
    s[MIB] = '\0';
    return s;
}

/* The runs of digits in s: the matches of \d+ (by hand: strstr would be quadratic under ASan,
 * whose interceptor measures the whole haystack on every call). */
static size_t numbers_in(const char *s)
{
    size_t n = 0;
    for (size_t i = 0; s[i]; i++)
        n += (s[i] >= '0' && s[i] <= '9') && !(i && s[i - 1] >= '0' && s[i - 1] <= '9');
    return n;
}

static void test_last_match_is_one_scan(void **state)
{
    (void)state;
    char *text = long_text("12 apples and 7 pears. ", " the answer is 4242");
    rs_regex_t *re = rs_regex_new("\\d+", 0, NULL);
    unsigned long long calls = rs_regex_match_calls();
    double t0 = rs_mono_sec();
    size_t start = 0, len = 0;
    assert_int_equal(rs_regex_find(re, text, MIB, 1, &start, &len), RS_REGEX_FOUND);
    double took = rs_mono_sec() - t0;
    assert_int_equal(start, MIB - 4);
    assert_int_equal(len, 4);
    /* one call per number in the text, and the one that finds no more */
    assert_int_equal(rs_regex_match_calls() - calls, numbers_in(text) + 1);
    assert_true(took < WALL_BOUND_SEC);
    rs_regex_destroy(&re);
    free(text);
}

/* The scorer's extractors over the same reply: regex (the user's pattern), auto, last_number. */
static void test_extractors_on_long_reply(void **state)
{
    (void)state;
    char *text = long_text("x = 3.5 * 2, ", "#### 4242");
    rs_extractor_kind_t kinds[] = {RS_EXTRACT_REGEX, RS_EXTRACT_AUTO, RS_EXTRACT_LAST_NUMBER,
                                   RS_EXTRACT_HASHES, RS_EXTRACT_ANSWER};
    const char *want[] = {"4242", "4242", "4242", "4242", NULL};
    for (size_t i = 0; i < RS_ARRAY_LEN(kinds); i++) {
        rs_scoring_cfg_t cfg = {.extractor = kinds[i], .extractor_pattern = "(\\d+(?:\\.\\d+)?)"};
        rs_err_t err;
        rs_scorer_t *s = rs_scorer_new(&cfg, &err);
        assert_non_null(s);
        double t0 = rs_mono_sec();
        const char *why = "unset";
        char *x = rs_scorer_extract_why(s, text, &why);
        assert_true(rs_mono_sec() - t0 < WALL_BOUND_SEC);
        if (want[i])
            assert_string_equal(x, want[i]);
        else
            assert_null(x);
        assert_null(why);
        free(x);
        rs_scorer_destroy(&s);
    }
    free(text);
}

/* (a+)+b backtracks exponentially on a run of a's without a b: the match limit ends it. */
static void test_match_limit_is_its_own_outcome(void **state)
{
    (void)state;
    char *text = long_text("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "!");
    rs_regex_t *re = rs_regex_new("(a+)+b", 0, NULL);
    double t0 = rs_mono_sec();
    size_t start = 7;
    assert_int_equal(rs_regex_find(re, text, MIB, 1, &start, NULL), RS_REGEX_LIMIT);
    assert_int_equal(start, 7); /* nothing reported */
    assert_int_equal(rs_regex_find(re, text, MIB, 0, NULL, NULL), RS_REGEX_LIMIT);
    assert_true(rs_mono_sec() - t0 < WALL_BOUND_SEC);
    assert_string_equal(rs_regex_outcome(RS_REGEX_LIMIT), "match limit reached");
    rs_regex_destroy(&re);

    /* through the scorer: no answer, with the reason; the regex grader decides nothing */
    rs_grader_cfg_t g[] = {{.kind = RS_GRADE_REGEX, .pattern = "(a+)+b"}, {.kind = RS_GRADE_REGEX}};
    rs_scoring_cfg_t cfg = {
        .extractor = RS_EXTRACT_REGEX, .extractor_pattern = "(a+)+b", .graders = g, .n_graders = 2};
    rs_scorer_t *s = rs_scorer_new(&cfg, NULL);
    assert_non_null(s);
    const char *why = NULL;
    assert_null(rs_scorer_extract_why(s, text, &why));
    assert_string_equal(why, "match limit reached");
    char *targets[] = {"(a+)+b", "zzz"};
    assert_int_equal(rs_scorer_grade(s, 0, text, NULL, targets, 2), RS_VERDICT_SKIPPED);
    assert_int_equal(rs_scorer_grade(s, 1, text, NULL, targets, 2), RS_VERDICT_SKIPPED);
    assert_int_equal(rs_scorer_grade(s, 1, text, NULL, targets + 1, 1), RS_VERDICT_WRONG);
    /* a plain "no match" still says nothing */
    assert_null(rs_scorer_extract_why(s, "no a here", &why));
    assert_null(why);
    rs_scorer_destroy(&s);
    free(text);
}

static void test_invalid_utf8(void **state)
{
    (void)state;
    const char bad[] = "12 \xff\xfe 34";
    rs_regex_t *re = rs_regex_new("\\d+", 0, NULL);
    assert_int_equal(rs_regex_find(re, bad, strlen(bad), 1, NULL, NULL), RS_REGEX_BAD_UTF8);
    rs_regex_destroy(&re);
    rs_scoring_cfg_t cfg = {.extractor = RS_EXTRACT_REGEX, .extractor_pattern = "\\d+"};
    rs_scorer_t *s = rs_scorer_new(&cfg, NULL);
    const char *why = NULL;
    assert_null(rs_scorer_extract_why(s, bad, &why));
    assert_string_equal(why, "not valid UTF-8");
    rs_scorer_destroy(&s);
}

/* An empty match moves on by a whole character: the last empty match of x* in "aé" is at the
 * end (offset 3), never inside é. */
static void test_empty_matches_step_characters(void **state)
{
    (void)state;
    rs_regex_t *re = rs_regex_new("x*", 0, NULL);
    size_t start = 99, len = 99;
    assert_int_equal(rs_regex_find(re, "a\xc3\xa9", 3, 1, &start, &len), RS_REGEX_FOUND);
    assert_int_equal(start, 3);
    assert_int_equal(len, 0);
    rs_regex_destroy(&re);
    re = rs_regex_new("(\\d*)", 0, NULL);
    assert_int_equal(rs_regex_find(re,
                                   "a12\xc3\xa9"
                                   "7",
                                   6, 1, &start, &len),
                     RS_REGEX_FOUND);
    assert_int_equal(start, 6); /* the empty match at the end comes after "7" */
    assert_int_equal(len, 0);
    assert_int_equal(rs_regex_find(re,
                                   "a12\xc3\xa9"
                                   "7",
                                   6, 0, &start, &len),
                     RS_REGEX_FOUND);
    assert_int_equal(start, 0);
    rs_regex_destroy(&re);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_last_match_is_one_scan),
        cmocka_unit_test(test_extractors_on_long_reply),
        cmocka_unit_test(test_match_limit_is_its_own_outcome),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_empty_matches_step_characters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
