/* test_analysis: the report's analysis on synthetic result records — strategies and McNemar vs
 * first, rounds and flips, judges (self / cross, unparsed, AUROC with ties against rs_auroc) and
 * their groups by judging model and by rubric, the failure reservoir's bound and clusters, today's
 * records giving today's numbers, and the HTML sections drawn from the new fields (compare's
 * pairing: test_compare.c). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../coordinator/analysis.h"
#include "../../coordinator/analysis_int.h"
#include "../../coordinator/html.h"
#include "stats.h"
#include "testjson.h"
#include "testjv.h"

static const char *const MODELS[] = {"m1", "m2"};
static const char *const GRADERS[] = {"exact", "numeric"};

static coord_analysis_t *new_analysis(size_t max_failures)
{
    coord_analysis_opts_t o = {.models = MODELS,
                               .n_models = 2,
                               .graders = GRADERS,
                               .n_graders = 2,
                               .max_failures = max_failures,
                               .seed = 7};
    return coord_analysis_new(&o);
}

static void add(coord_analysis_t *a, json_t *r)
{
    coord_analysis_add(a, testjv(r));
    json_decref(r);
}

/* report = {"models": [{"name": "m1"}, {"name": "m2"}]} filled by the analysis. */
static json_t *fill(coord_analysis_t *a)
{
    json_t *report = json_pack("{s[{ss}{ss}]}", "models", "name", "m1", "name", "m2");
    coord_analysis_fill(a, report);
    return report;
}

static json_t *model_field(json_t *report, size_t m, const char *field)
{
    return json_object_get(json_array_get(json_object_get(report, "models"), m), field);
}

/* The counts object of grader g in a strategies[] / rounds[] element. */
static json_t *grader(json_t *elem, size_t g)
{
    return json_array_get(json_object_get(elem, "graders"), g);
}

/* ---- today's records ---- */

static void test_verdicts_and_counts(void **state)
{
    json_t *g = json_pack("{ssssssss}", "a", "correct", "b", "wrong", "c", "error", "d", "odd");
    assert_int_equal(coord_verdict_of(testjv(g), "a"), COORD_V_CORRECT);
    assert_int_equal(coord_verdict_of(testjv(g), "b"), COORD_V_WRONG);
    assert_int_equal(coord_verdict_of(testjv(g), "c"), COORD_V_ERROR);
    assert_int_equal(coord_verdict_of(testjv(g), "d"), COORD_V_SKIPPED);
    assert_int_equal(coord_verdict_of(testjv(g), "zz"), COORD_V_SKIPPED);
    assert_int_equal(coord_verdict_of(NULL, "a"), COORD_V_SKIPPED);
    json_decref(g);
    uint64_t c[COORD_V_N] = {3, 1, 5, 0};
    json_t *o = coord_counts_json("exact", "exact", c);
    assert_float_equal(getn(o, "accuracy"), 0.75, 1e-12);
    double lo, hi;
    rs_wilson(3, 4, RS_Z95, &lo, &hi);
    assert_float_equal(json_real_value(json_array_get(json_object_get(o, "ci95"), 0)), lo, 1e-12);
    assert_int_equal(geti(o, "error"), 5);
    json_decref(o);
    uint64_t none[COORD_V_N] = {0, 0, 2, 1};
    o = coord_counts_json("exact", NULL, none);
    assert_true(json_is_null(json_object_get(o, "accuracy")));
    assert_null(json_object_get(o, "type"));
    json_decref(o);
    rs_buf_t b;
    rs_buf_init(&b);
    json_t *p = json_real(3.2e-12), *k = json_real(0.36789);
    coord_put_num(&b, p, -3);
    coord_put_num(&b, k, 3);
    coord_put_num(&b, json_null(), 3);
    assert_string_equal(b.data, "3.2e-120.368n/a");
    json_decref(p);
    json_decref(k);
    rs_buf_cleanup(&b);
}

/* Records as the worker writes them today: first = candidate 0, an errored model counts errors. */
static void test_todays_records(void **state)
{
    coord_analysis_t *a = new_analysis(0);
    for (int i = 0; i < 10; i++)
        add(a,
            rec("{\"idx\": %d, \"id\": \"c%d\", \"models\": ["
                "{\"model\": \"m1\", \"error\": null, \"candidates\": [{\"k\": 0, "
                "\"output\": \"#### %d\", \"grades\": {\"exact\": \"%s\", \"numeric\": \"%s\"}}]},"
                "{\"model\": \"m2\", \"error\": %s, \"candidates\": [{\"k\": 0, \"output\": "
                "null, \"grades\": {\"exact\": \"error\", \"numeric\": \"error\"}}]},"
                "{\"model\": \"unknown\", \"candidates\": []}]}",
                i, i, i, i < 7 ? "correct" : "wrong", i < 8 ? "correct" : "wrong",
                i < 3 ? "\"timeout\"" : "null"));
    json_t *report = fill(a);
    json_t *strats = model_field(report, 0, "strategies");
    assert_int_equal(json_array_size(strats), 1);
    json_t *first = json_array_get(strats, 0);
    assert_string_equal(json_string_value(json_object_get(first, "name")), "first");
    assert_true(json_is_null(json_object_get(first, "mcnemar_vs_first")));
    assert_int_equal(geti(grader(first, 0), "correct"), 7);
    assert_int_equal(geti(grader(first, 0), "wrong"), 3);
    assert_int_equal(geti(grader(first, 1), "correct"), 8);
    /* m2: 3 failed calls are errors; the other 7 carry "error" grades too */
    json_t *f2 = json_array_get(model_field(report, 1, "strategies"), 0);
    assert_int_equal(geti(grader(f2, 0), "error"), 10);
    assert_null(model_field(report, 0, "rounds"));
    assert_null(model_field(report, 0, "flips"));
    assert_null(json_object_get(report, "judges"));
    /* the 3 wrong answers of m1 are the failures; m2's had no output */
    assert_int_equal(coord_analysis_failures_seen(a), 3);
    json_t *f = json_object_get(report, "failures");
    assert_int_equal(geti(f, "total"), 3);
    assert_int_equal(geti(f, "sampled"), 3);
    json_decref(report);
    coord_analysis_destroy(&a);
    assert_null(a);
}

static void test_no_failures_no_clusters(void **state)
{
    coord_analysis_t *a = new_analysis(0);
    add(a, rec("{\"idx\": 0, \"models\": [{\"model\": \"m1\", \"candidates\": [{\"output\": \"x\","
               " \"grades\": {\"exact\": \"correct\"}}]}]}"));
    json_t *report = fill(a);
    assert_null(json_object_get(report, "clusters"));
    assert_null(json_object_get(report, "failures"));
    json_decref(report);
    coord_analysis_destroy(&a);
}

/* ---- strategies ---- */

/* One m1 record: first and the others' exact verdicts (c / w), numeric always correct. */
static json_t *strat_rec(int i, char first, char judge, char oracle)
{
#define V(x) ((x) == 'c' ? "correct" : "wrong")
    return rec(
        "{\"idx\": %d, \"models\": [{\"model\": \"m1\", \"candidates\": [{\"output\": \"o\","
        " \"grades\": {\"exact\": \"%s\", \"numeric\": \"correct\"}}], \"strategies\": {"
        "\"oracle\": {\"grades\": {\"exact\": \"%s\", \"numeric\": \"correct\"}},"
        "\"first\": {\"k\": 0, \"grades\": {\"exact\": \"%s\", \"numeric\": \"correct\"}},"
        "\"shiny\": {\"grades\": {\"exact\": \"correct\"}},"
        "\"judge\": {\"k\": 2, \"grades\": {\"exact\": \"%s\", \"numeric\": \"correct\"}}}}]}",
        i, V(first), V(oracle), V(first), V(judge));
#undef V
}

/* t is {b, c, exact_p, chi2, chi2_p} of rs_mcnemar(b, c). */
static void check_mcnemar(json_t *t, uint64_t b, uint64_t c)
{
    rs_mcnemar_t m;
    rs_mcnemar(b, c, &m);
    assert_int_equal(geti(t, "b"), b);
    assert_int_equal(geti(t, "c"), c);
    assert_float_equal(getn(t, "exact_p"), m.exact_p, 1e-12);
    assert_float_equal(getn(t, "chi2"), m.chi2, 1e-12);
    assert_float_equal(getn(t, "chi2_p"), m.chi2_p, 1e-12);
}

/* The model's strategies folded from rows (first, judge, oracle verdicts), in order or reversed. */
static json_t *pairs_of(const char *const *rows, size_t n, int reversed)
{
    coord_analysis_t *a = new_analysis(0);
    for (size_t i = 0; i < n; i++) {
        size_t r = reversed ? n - 1 - i : i;
        add(a, strat_rec((int)r, rows[r][0], rows[r][1], rows[r][2]));
    }
    json_t *report = fill(a);
    json_t *p = json_incref(model_field(report, 0, "mcnemar_pairs"));
    json_decref(report);
    coord_analysis_destroy(&a);
    return p;
}

/* Every pair of strategies, the later one in the listing versus the earlier: b = cases the
 * strategy got right and versus wrong; the pairs with first repeat mcnemar_vs_first; the same
 * whatever order the records come in. */
static void test_mcnemar_pairs(void **state)
{
    (void)state;
    /* judge vs oracle: judge alone right in 2 cases, oracle alone right in 3 */
    const char *rows[] = {"cwc", "cwc", "ccw", "wwc", "wcw", "wcc", "ccc"};
    json_t *p = pairs_of(rows, RS_ARRAY_LEN(rows), 0);
    const char *want[][2] = {{"judge", "first"},  {"oracle", "first"}, {"shiny", "first"},
                             {"oracle", "judge"}, {"shiny", "judge"},  {"shiny", "oracle"}};
    assert_int_equal(json_array_size(p), RS_ARRAY_LEN(want));
    for (size_t i = 0; i < RS_ARRAY_LEN(want); i++) {
        json_t *t = json_array_get(p, i);
        assert_string_equal(json_string_value(json_object_get(t, "strategy")), want[i][0]);
        assert_string_equal(json_string_value(json_object_get(t, "versus")), want[i][1]);
    }
    check_mcnemar(json_array_get(p, 3), 3, 2);
    /* judge vs first: first alone right in 2 (cwc twice), judge alone right in 2 (wcw, wcc) */
    assert_int_equal(geti(json_array_get(p, 0), "b"), 2);
    assert_int_equal(geti(json_array_get(p, 0), "c"), 2);
    /* shiny is always right: b = the other's wrong answers */
    assert_int_equal(geti(json_array_get(p, 5), "b"), 2);
    assert_int_equal(geti(json_array_get(p, 5), "c"), 0);
    json_t *back = pairs_of(rows, RS_ARRAY_LEN(rows), 1);
    assert_true(json_equal(p, back));
    json_decref(back);
    json_decref(p);
}

static void test_strategies_and_mcnemar(void **state)
{
    coord_analysis_t *a = new_analysis(0);
    /* first vs judge: 2 cases first wrong / judge right (b), 1 the reverse (c), 4 agree */
    const char *rows[] = {"wcc", "wcc", "cwc", "ccc", "ccc", "wwc", "wwc"};
    for (size_t i = 0; i < RS_ARRAY_LEN(rows); i++)
        add(a, strat_rec((int)i, rows[i][0], rows[i][1], rows[i][2]));
    json_t *report = fill(a);
    json_t *s = model_field(report, 0, "strategies");
    assert_int_equal(json_array_size(s), 4);
    /* the contract's order first, then the unknown strategy */
    const char *want[] = {"first", "judge", "oracle", "shiny"};
    for (size_t i = 0; i < 4; i++)
        assert_string_equal(json_string_value(json_object_get(json_array_get(s, i), "name")),
                            want[i]);
    json_t *judge = json_array_get(s, 1), *t = json_object_get(judge, "mcnemar_vs_first");
    assert_int_equal(geti(grader(judge, 0), "correct"), 4);
    assert_int_equal(geti(grader(judge, 0), "wrong"), 3);
    check_mcnemar(t, 2, 1);
    json_t *oracle = json_array_get(s, 2);
    assert_int_equal(geti(grader(oracle, 0), "correct"), 7);
    assert_int_equal(geti(json_object_get(oracle, "mcnemar_vs_first"), "b"), 4);
    assert_int_equal(geti(json_object_get(oracle, "mcnemar_vs_first"), "c"), 0);
    /* a strategy without a grader's verdict counts it as skipped */
    assert_int_equal(geti(grader(json_array_get(s, 3), 1), "skipped"), 7);
    /* the first strategy's record entry wins over candidate 0 (here they agree) */
    assert_int_equal(geti(grader(json_array_get(s, 0), 0), "correct"), 3);
    json_decref(report);
    coord_analysis_destroy(&a);
}

static void test_strategies_of(void **state)
{
    json_t *e = rec("{\"model\": \"m1\", \"error\": \"boom\", \"candidates\": [{\"grades\": "
                    "{\"exact\": \"correct\"}}], \"strategies\": {\"oracle\": {\"grades\": "
                    "{\"exact\": \"correct\"}}}}");
    coord_strategy_ref_t s[4];
    assert_int_equal(coord_strategies_of(testjv(e), s, 4), 2);
    assert_string_equal(s[0].name, "first");
    assert_int_equal(coord_strategy_verdict(&s[0], "exact"), COORD_V_ERROR);
    assert_int_equal(coord_strategy_verdict(&s[1], "exact"), COORD_V_CORRECT);
    assert_int_equal(coord_strategies_of(testjv(e), s, 1), 1); /* max is respected */
    json_decref(e);
}

/* ---- rounds and flips ---- */

static json_t *round_rec(int i, const char *verdicts)
{
    /* verdicts[0] = round 0, then one letter per revision */
    rs_buf_t b;
    rs_buf_init(&b);
    for (size_t r = 1; verdicts[r]; r++)
        rs_buf_printf(&b, "%s{\"round\": %zu, \"output\": \"o\", \"grades\": {\"exact\": \"%s\"}}",
                      r > 1 ? "," : "", r, verdicts[r] == 'c' ? "correct" : "wrong");
    json_t *r = rec("{\"idx\": %d, \"models\": [{\"model\": \"m2\", \"candidates\": [{\"output\": "
                    "\"o\", \"grades\": {\"exact\": \"%s\"}, \"revisions\": [%s]}]}]}",
                    i, verdicts[0] == 'c' ? "correct" : "wrong", b.data ? b.data : "");
    rs_buf_cleanup(&b);
    return r;
}

static void test_rounds_and_flips(void **state)
{
    coord_analysis_t *a = new_analysis(0);
    const char *cases[] = {"wcc", "wwc", "cwc", "cww", "ccc", "www", "wc", "c"};
    for (size_t i = 0; i < RS_ARRAY_LEN(cases); i++)
        add(a, round_rec((int)i, cases[i]));
    json_t *report = fill(a);
    assert_null(model_field(report, 0, "rounds")); /* m1 had no revision */
    json_t *rounds = model_field(report, 1, "rounds");
    assert_int_equal(json_array_size(rounds), 3);
    int want[3][2] = {{4, 4}, {3, 4}, {4, 2}}; /* correct, wrong per round */
    for (size_t r = 0; r < 3; r++) {
        json_t *g = grader(json_array_get(rounds, r), 0);
        assert_int_equal(geti(json_array_get(rounds, r), "round"), r);
        assert_int_equal(geti(g, "correct"), want[r][0]);
        assert_int_equal(geti(g, "wrong"), want[r][1]);
    }
    /* round 0 vs each case's last round: wcc, wwc, wc = w->r; cww = r->w; "c" has none */
    json_t *f = model_field(report, 1, "flips");
    assert_int_equal(geti(f, "pairs"), 7);
    assert_int_equal(geti(f, "wrong_to_right"), 3);
    assert_int_equal(geti(f, "right_to_wrong"), 1);
    assert_int_equal(geti(json_object_get(f, "mcnemar"), "b"), 3);
    json_decref(report);
    coord_analysis_destroy(&a);
}

/* ---- judges ---- */

typedef struct crit_case {
    int correct;       /* the first grader's verdict on the candidate */
    const char *judge; /* judge name */
    int self;          /* 1 self, 0 cross, -1 not said */
    const char *score; /* JSON: a number, or null (unparsed) */
    int error;         /* the judge call failed */
} crit_case_t;

static json_t *crit_rec(int i, const crit_case_t *c)
{
    const char *self = c->self < 0 ? "" : c->self ? "\"self\": true," : "\"self\": false,";
    int parsed = strcmp(c->score, "null") != 0;
    return rec("{\"idx\": %d, \"models\": [{\"model\": \"m1\", \"candidates\": [{\"output\": \"o\","
               " \"grades\": {\"exact\": \"%s\"}, \"critiques\": [{\"judge\": \"%s\", \"round\": 0,"
               " %s \"score\": %s, \"parsed\": %s, \"judged_correct\": %s, \"error\": %s}]}]}]}",
               i, c->correct ? "correct" : "wrong", c->judge, self, c->score,
               parsed ? "true" : "false",
               parsed ? (strtod(c->score, NULL) >= 0.5 ? "true" : "false") : "null",
               c->error ? "\"http_500\"" : "null");
}

static void test_judges(void **state)
{
    static const crit_case_t cases[] = {
        {1, "self", 1, "1.0", 0},  {1, "self", 1, "0.7", 0},  {1, "self", 1, "0.2", 0},
        {0, "self", 1, "0.7", 0},  {0, "self", 1, "0.9", 0},  {0, "self", 0, "0.0", 0},
        {0, "self", 0, "0.2", 0},  {1, "self", 0, "0.9", 0},  {1, "self", 0, "null", 0},
        {0, "self", 0, "null", 1}, {1, "self", -1, "0.5", 0}, {1, "other", 0, "1", 0},
    };
    coord_analysis_t *a = new_analysis(0);
    for (size_t i = 0; i < RS_ARRAY_LEN(cases); i++)
        add(a, crit_rec((int)i, &cases[i]));
    /* a critique of an answer without a verdict is not counted */
    add(a,
        rec("{\"idx\": 99, \"models\": [{\"model\": \"m1\", \"candidates\": [{\"grades\": "
            "{\"exact\": \"error\"}, \"critiques\": [{\"judge\": \"self\", \"score\": 1}]}]}]}"));
    json_t *report = fill(a), *judges = json_object_get(report, "judges");
    assert_int_equal(json_array_size(judges), 2);
    /* judges the config does not name are listed by name, whatever order they came in */
    json_t *j = json_array_get(judges, 1);
    assert_string_equal(json_string_value(json_object_get(j, "name")), "self");
    assert_string_equal(json_string_value(json_object_get(j, "model")), "m1"); /* from self */
    assert_string_equal(json_string_value(json_object_get(json_array_get(judges, 0), "name")), "other");
    assert_true(json_is_null(json_object_get(json_array_get(judges, 0), "model")));

    json_t *all = json_object_get(j, "all"), *conf = json_object_get(all, "confusion");
    assert_int_equal(geti(all, "n"), 11);
    assert_int_equal(geti(all, "unparsed"), 1);
    assert_int_equal(geti(all, "errors"), 1);
    /* parsed: correct 1.0 .7 .2 .9 .5 (judged Y Y N Y Y), wrong .7 .9 0 .2 (Y Y N N) */
    assert_int_equal(geti(conf, "tp"), 4);
    assert_int_equal(geti(conf, "fn"), 1);
    assert_int_equal(geti(conf, "fp"), 2);
    assert_int_equal(geti(conf, "tn"), 2);
    assert_float_equal(getn(all, "precision"), 4.0 / 6, 1e-12);
    assert_float_equal(getn(all, "recall"), 4.0 / 5, 1e-12);
    assert_float_equal(getn(all, "kappa"), rs_cohen_kappa(4, 1, 2, 2), 1e-12);
    double scores[] = {1.0, 0.7, 0.2, 0.9, 0.5, 0.7, 0.9, 0.0, 0.2};
    int labels[] = {1, 1, 1, 1, 1, 0, 0, 0, 0};
    assert_float_equal(getn(all, "auroc"), rs_auroc(scores, labels, 9), 1e-12);

    json_t *self = json_object_get(j, "self"), *cross = json_object_get(j, "cross");
    assert_int_equal(geti(self, "n"), 5);
    assert_int_equal(geti(cross, "n"), 5); /* the unlabelled one is only in all */
    assert_int_equal(geti(cross, "unparsed"), 1);
    assert_int_equal(geti(cross, "errors"), 1);
    double s_scores[] = {1.0, 0.7, 0.2, 0.7, 0.9};
    int s_labels[] = {1, 1, 1, 0, 0};
    assert_float_equal(getn(self, "auroc"), rs_auroc(s_scores, s_labels, 5), 1e-12);

    json_t *h = json_object_get(all, "histogram");
    json_t *hc = json_object_get(h, "correct"), *hw = json_object_get(h, "wrong");
    assert_int_equal(json_array_size(hc), 10);
    assert_int_equal(json_integer_value(json_array_get(hc, 9)), 2); /* 1.0 and 0.9 */
    assert_int_equal(json_integer_value(json_array_get(hc, 5)), 1); /* 0.5 */
    assert_int_equal(json_integer_value(json_array_get(hw, 0)), 1); /* 0.0 */
    assert_int_equal(json_integer_value(json_array_get(hw, 2)), 1); /* 0.2 */

    /* one class only: AUROC and recall are undefined, written as null */
    json_t *other = json_object_get(json_array_get(judges, 0), "cross");
    assert_true(json_is_null(json_object_get(other, "auroc")));
    assert_true(json_is_null(
        json_object_get(json_object_get(json_array_get(judges, 0), "self"), "precision")));
    json_decref(report);
    coord_analysis_destroy(&a);
}

/* A critique of round r is held against revision r's verdict, not the original's. */
static void test_judge_rounds(void **state)
{
    coord_analysis_t *a = new_analysis(0);
    add(a, rec("{\"idx\": 0, \"models\": [{\"model\": \"m2\", \"candidates\": [{\"output\": \"o\", "
               "\"grades\": {\"exact\": \"wrong\"}, \"revisions\": [{\"round\": 1, \"grades\": "
               "{\"exact\": \"correct\"}}], \"critiques\": ["
               "{\"judge\": \"j\", \"model\": \"m1\", \"round\": 0, \"self\": false, \"score\": 0,"
               " \"parsed\": true, \"judged_correct\": false},"
               "{\"judge\": \"j\", \"round\": 1, \"self\": false, \"score\": 1, \"parsed\": true,"
               " \"judged_correct\": true}]}]}]}"));
    json_t *report = fill(a), *j = json_array_get(json_object_get(report, "judges"), 0);
    json_t *conf = json_object_get(json_object_get(j, "all"), "confusion");
    assert_string_equal(json_string_value(json_object_get(j, "model")), "m1");
    assert_int_equal(geti(conf, "tn"), 1);
    assert_int_equal(geti(conf, "tp"), 1);
    assert_float_equal(getn(json_object_get(j, "all"), "auroc"), 1.0, 1e-12);
    json_decref(report);
    coord_analysis_destroy(&a);
}

/* Scores on a fine grid and many ties: the table's AUROC equals rs_auroc on the raw scores. */
static void test_auroc_table_matches(void **state)
{
    enum { N = 3000 };
    double *scores = rs_xmalloc(N * sizeof(double));
    int *labels = rs_xmalloc(N * sizeof(int));
    coord_analysis_t *a = new_analysis(0);
    uint64_t s = 42;
    for (int i = 0; i < N; i++) {
        labels[i] = rs_splitmix64(&s) % 3 != 0;
        /* steps of 1/40, shifted up for positives: overlapping classes with ties */
        scores[i] = (double)(rs_splitmix64(&s) % 31 + (labels[i] ? 9 : 0)) / 40.0;
        char sc[32];
        snprintf(sc, sizeof(sc), "%.6f", scores[i]);
        crit_case_t c = {labels[i], "j", 1, sc, 0};
        add(a, crit_rec(i, &c));
    }
    json_t *report = fill(a);
    json_t *all = json_object_get(json_array_get(json_object_get(report, "judges"), 0), "all");
    assert_float_equal(getn(all, "auroc"), rs_auroc(scores, labels, N), 1e-12);
    json_decref(report);
    coord_analysis_destroy(&a);
    free(scores);
    free(labels);
}

/* ---- judge quality per judging model and per rubric ---- */

/* The config's judges: ja and jb judge with m1 under different rubrics, jc with m2 under ja's
 * rubric, jd with m3 without one. The second principle of jb's is hostile to HTML. */
static const char *const R1[] = {"The final answer is correct.", NULL};
static const char *const R2[] = {"Every step <b>follows</b>.", "Be | brief.", NULL};
static const char *const G_JUDGES[] = {"ja", "jb", "jc", "jd"};
static const char *const G_MODELS[] = {"m1", "m1", "m2", "m3"};
static const char *const *const G_RUBRICS[] = {R1, R2, R1, NULL};

static coord_analysis_t *new_group_analysis(void)
{
    coord_analysis_opts_t o = {.models = MODELS,
                               .n_models = 2,
                               .graders = GRADERS,
                               .n_graders = 2,
                               .seed = 7,
                               .judge_names = G_JUDGES,
                               .judge_models = G_MODELS,
                               .judge_rubrics = G_RUBRICS,
                               .n_judges = 4};
    return coord_analysis_new(&o);
}

/* Appends a critique by judge (with model jmodel) of an answer of cand_model; says: Y / N a
 * verdict, E a failed call, U an unparsed verdict. */
static void put_crit(rs_buf_t *b, const char *judge, const char *jmodel, const char *cand_model,
                     char says)
{
    const char *self = strcmp(jmodel, cand_model) == 0 ? "true" : "false";
    if (b->len) rs_buf_putc(b, ',');
    if (says == 'E' || says == 'U')
        rs_buf_printf(b,
                      "{\"judge\": \"%s\", \"model\": \"%s\", \"round\": 0, \"self\": %s, "
                      "\"score\": null, \"parsed\": false, \"judged_correct\": null, "
                      "\"error\": %s}",
                      judge, jmodel, self, says == 'E' ? "\"http_500\"" : "null");
    else
        rs_buf_printf(b,
                      "{\"judge\": \"%s\", \"model\": \"%s\", \"round\": 0, \"self\": %s, "
                      "\"score\": %d, \"parsed\": true, \"judged_correct\": %s, \"error\": null}",
                      judge, jmodel, self, says == 'Y', says == 'Y' ? "true" : "false");
}

static json_t *group_rec(int i, const char *cand_model, int correct, const char *crits)
{
    return rec("{\"idx\": %d, \"models\": [{\"model\": \"%s\", \"candidates\": [{\"output\": "
               "\"o\", \"grades\": {\"exact\": \"%s\"}, \"critiques\": [%s]}]}]}",
               i, cand_model, correct ? "correct" : "wrong", crits);
}

static void assert_q(json_t *group, const char *split, long long n, long long tp, long long fp,
                     long long tn, long long fn, long long errors, long long unparsed)
{
    json_t *q = json_object_get(group, split), *c = json_object_get(q, "confusion");
    long long got[] = {geti(q, "n"),  geti(c, "tp"),     geti(c, "fp"),      geti(c, "tn"),
                       geti(c, "fn"), geti(q, "errors"), geti(q, "unparsed")};
    long long want[] = {n, tp, fp, tn, fn, errors, unparsed};
    for (size_t i = 0; i < RS_ARRAY_LEN(want); i++)
        if (got[i] != want[i])
            fail_msg("%s: field %zu (n tp fp tn fn errors unparsed) is %lld, want %lld", split, i,
                     got[i], want[i]);
}

static void assert_names(json_t *arr, const char *const *want, size_t n)
{
    assert_int_equal(json_array_size(arr), n);
    for (size_t i = 0; i < n; i++)
        assert_string_equal(json_string_value(json_array_get(arr, i)), want[i]);
}

static json_t *group_report(coord_analysis_t *a)
{
    /* each record: jc's, ja's and jb's verdicts (jc first: first appearance is not the order) */
    static const struct {
        const char *model;
        int correct;
        const char *says;
    } recs[] = {
        {"m1", 1, "YYY"}, {"m1", 1, "YNY"}, {"m1", 0, "NYN"}, {"m1", 0, "YNN"},
        {"m2", 1, "YYN"}, {"m2", 0, "NNY"}, {"m2", 0, "YEU"},
    };
    static const char *const order[] = {"jc", "ja", "jb"};
    static const char *const jmodel[] = {"m2", "m1", "m1"};
    rs_buf_t b;
    rs_buf_init(&b);
    for (size_t r = 0; r < RS_ARRAY_LEN(recs); r++) {
        rs_buf_reset(&b);
        for (size_t k = 0; k < 3; k++)
            put_crit(&b, order[k], jmodel[k], recs[r].model, recs[r].says[k]);
        add(a, group_rec((int)r, recs[r].model, recs[r].correct, b.data));
    }
    /* jx is not in the config: its model's entry, no rubric's; jd has no rubric */
    rs_buf_reset(&b);
    put_crit(&b, "jx", "m2", "m2", 'Y');
    add(a, group_rec(7, "m2", 1, b.data));
    rs_buf_reset(&b);
    put_crit(&b, "jd", "m3", "m1", 'Y');
    add(a, group_rec(8, "m1", 1, b.data));
    rs_buf_cleanup(&b);
    return fill(a);
}

static void test_judge_groups(void **state)
{
    coord_analysis_t *a = new_group_analysis();
    json_t *report = group_report(a);
    assert_int_equal(json_array_size(json_object_get(report, "judges")), 5);

    /* by model: m1 = ja + jb, m2 = jc + jx, m3 = jd, in the config's order */
    json_t *models = json_object_get(report, "judge_models");
    assert_int_equal(json_array_size(models), 3);
    json_t *m1 = json_array_get(models, 0), *m2 = json_array_get(models, 1),
           *m3 = json_array_get(models, 2);
    assert_string_equal(json_string_value(json_object_get(m1, "model")), "m1");
    assert_string_equal(json_string_value(json_object_get(m2, "model")), "m2");
    assert_string_equal(json_string_value(json_object_get(m3, "model")), "m3");
    assert_names(json_object_get(m1, "judges"), (const char *[]){"ja", "jb"}, 2);
    assert_names(json_object_get(m2, "judges"), (const char *[]){"jc", "jx"}, 2);
    assert_names(json_object_get(m3, "judges"), (const char *[]){"jd"}, 1);
    /* ja: TP FN FP TN | TP TN E, jb: TP TP TN TN | FN FP U (self | cross) */
    assert_q(m1, "all", 14, 4, 2, 4, 2, 1, 1);
    assert_q(m1, "self", 8, 3, 1, 3, 1, 0, 0);
    assert_q(m1, "cross", 6, 1, 1, 1, 1, 1, 1);
    assert_float_equal(getn(json_object_get(m1, "all"), "kappa"), 1.0 / 3, 1e-12);
    assert_float_equal(getn(json_object_get(m1, "self"), "kappa"), 0.5, 1e-12);
    assert_float_equal(getn(json_object_get(m1, "cross"), "kappa"), 0.0, 1e-12);
    /* jc: TP TP TN FP (cross) | TP TN FP (self), jx: TP (self) */
    assert_q(m2, "all", 8, 4, 2, 2, 0, 0, 0);
    assert_q(m2, "self", 4, 2, 1, 1, 0, 0, 0);
    assert_q(m2, "cross", 4, 2, 1, 1, 0, 0, 0);
    assert_float_equal(getn(json_object_get(m2, "all"), "kappa"), 0.5, 1e-12);
    assert_float_equal(getn(json_object_get(m2, "all"), "precision"), 4.0 / 6, 1e-12);
    assert_q(m3, "all", 1, 1, 0, 0, 0, 0, 0);

    /* by rubric: R1 = ja + jc, R2 = jb, none = jd; jx is in none */
    json_t *rubrics = json_object_get(report, "rubrics");
    assert_int_equal(json_array_size(rubrics), 3);
    json_t *r1 = json_array_get(rubrics, 0), *r2 = json_array_get(rubrics, 1),
           *r0 = json_array_get(rubrics, 2);
    assert_names(json_object_get(r1, "rubric"), R1, 1);
    assert_names(json_object_get(r2, "rubric"), R2, 2);
    assert_names(json_object_get(r0, "rubric"), NULL, 0);
    assert_names(json_object_get(r1, "judges"), (const char *[]){"ja", "jc"}, 2);
    assert_names(json_object_get(r2, "judges"), (const char *[]){"jb"}, 1);
    assert_names(json_object_get(r0, "judges"), (const char *[]){"jd"}, 1);
    /* ja self TP FN FP TN, cross TP TN E; jc cross TP TP TN FP, self TP TN FP */
    assert_q(r1, "all", 14, 5, 3, 4, 1, 1, 0);
    assert_q(r1, "self", 7, 2, 2, 2, 1, 0, 0);
    assert_q(r1, "cross", 7, 3, 1, 2, 0, 1, 0);
    /* po = 9/13, pe = (6 * 8 + 7 * 5) / 13^2: kappa = 34/86 */
    assert_float_equal(getn(json_object_get(r1, "all"), "kappa"), 17.0 / 43, 1e-12);
    assert_float_equal(getn(json_object_get(r1, "all"), "recall"), 5.0 / 6, 1e-12);
    assert_q(r2, "all", 7, 2, 1, 2, 1, 0, 1);
    assert_q(r2, "self", 4, 2, 0, 2, 0, 0, 0);
    assert_q(r2, "cross", 3, 0, 1, 0, 1, 0, 1);
    assert_float_equal(getn(json_object_get(r2, "all"), "kappa"), 1.0 / 3, 1e-12);
    assert_float_equal(getn(json_object_get(r2, "self"), "kappa"), 1.0, 1e-12);
    assert_q(r0, "cross", 1, 1, 0, 0, 0, 0, 0);

    /* a group is its judges' sum, AUROC included: R2 is jb alone */
    /* judges are listed in the config's order (ja, jb, jc, jd), then the others (jx) */
    json_t *jb = json_array_get(json_object_get(report, "judges"), 1);
    assert_string_equal(json_string_value(json_object_get(jb, "name")), "jb");
    assert_true(json_equal(json_object_get(jb, "all"), json_object_get(r2, "all")));
    json_decref(report);
    coord_analysis_destroy(&a);
}

/* Without critiques none of the three arrays; with judges unknown to the config, empty rubrics;
 * past COORD_MAX_JUDGE_GROUPS models, the others count in judges only. */
static void test_judge_groups_bounds(void **state)
{
    coord_analysis_t *a = new_group_analysis();
    add(a, group_rec(0, "m1", 1, ""));
    json_t *report = fill(a);
    assert_null(json_object_get(report, "judges"));
    assert_null(json_object_get(report, "judge_models"));
    assert_null(json_object_get(report, "rubrics"));
    json_decref(report);
    coord_analysis_destroy(&a);

    a = new_analysis(0);
    rs_buf_t b;
    rs_buf_init(&b);
    for (int i = 0; i < COORD_MAX_JUDGE_GROUPS + 4; i++) {
        char judge[16], model[16];
        snprintf(judge, sizeof(judge), "k%d", i);
        snprintf(model, sizeof(model), "x%d", i);
        rs_buf_reset(&b);
        put_crit(&b, judge, model, "m1", 'Y');
        add(a, group_rec(i, "m1", 1, b.data));
    }
    rs_buf_cleanup(&b);
    report = fill(a);
    assert_int_equal(json_array_size(json_object_get(report, "judges")),
                     COORD_MAX_JUDGE_GROUPS + 4);
    json_t *models = json_object_get(report, "judge_models");
    assert_int_equal(json_array_size(models), COORD_MAX_JUDGE_GROUPS);
    /* the models no configured judge has, by name: x0, x1, x10 .. x15, x2 .. x9 */
    json_t *last = json_array_get(models, COORD_MAX_JUDGE_GROUPS - 1);
    assert_string_equal(json_string_value(json_object_get(last, "model")), "x9");
    assert_names(json_object_get(last, "judges"), (const char *[]){"k9"}, 1);
    assert_true(json_is_array(json_object_get(report, "rubrics")));
    assert_int_equal(json_array_size(json_object_get(report, "rubrics")), 0);
    json_decref(report);
    coord_analysis_destroy(&a);
}

static void test_html_judge_groups(void **state)
{
    coord_analysis_t *a = new_group_analysis();
    json_t *report = group_report(a);
    json_object_set_new(report, "run_id", json_string("r1"));
    char *html = coord_html_render(report);
    const char *want[] = {"id=\"table-judge-models\"",
                          "id=\"table-rubrics\"",
                          "<td class=\"n\" data-judge=\"m1\" data-split=\"self\" "
                          "data-metric=\"tp\">3</td>",
                          "<td class=\"n\" data-judge=\"rubric-0\" data-split=\"all\" "
                          "data-metric=\"tp\">5</td>",
                          "<td>The final answer is correct.</td><td>ja, jc</td>",
                          "Every step &lt;b&gt;follows&lt;/b&gt;.; Be | brief.",
                          "<td>(none)</td><td>jd</td>"};
    for (size_t i = 0; i < RS_ARRAY_LEN(want); i++)
        if (!strstr(html, want[i])) fail_msg("no %s in the page", want[i]);
    assert_null(strstr(html, "<b>follows"));
    /* both inside #judges, after table-judges */
    const char *sec = strstr(html, "id=\"judges\""), *end = strstr(sec, "</section>");
    const char *t = strstr(html, "id=\"table-judges\"");
    const char *tm = strstr(html, "id=\"table-judge-models\"");
    const char *tr = strstr(html, "id=\"table-rubrics\"");
    assert_true(sec < t && t < tm && tm < tr && tr < end);
    free(html);
    /* one judge: the groups would only repeat it */
    json_t *one = json_array_get(json_object_get(report, "judges"), 0);
    json_object_set_new(report, "judges", json_pack("[O]", one));
    html = coord_html_render(report);
    assert_non_null(strstr(html, "id=\"table-judges\""));
    assert_null(strstr(html, "id=\"table-judge-models\""));
    assert_null(strstr(html, "id=\"table-rubrics\""));
    free(html);
    json_decref(report);
    coord_analysis_destroy(&a);
}

/* ---- failures ---- */

static json_t *fail_rec(int i, const char *output)
{
    return rec("{\"idx\": %d, \"id\": \"case-%d\", \"models\": [{\"model\": \"m%d\", "
               "\"candidates\": [{\"output\": \"%s\", \"grades\": {\"exact\": \"wrong\"}}]}]}",
               i, i, 1 + i % 2, output);
}

static void test_reservoir_bound(void **state)
{
    enum { KEEP = 50, N = 5000 };
    coord_analysis_t *a = new_analysis(KEEP), *b = new_analysis(KEEP);
    for (int i = 0; i < N; i++) {
        const char *out = i % 2 ? "the answer is forty two apples" : "division by zero error";
        add(a, fail_rec(i, out));
        add(b, fail_rec(i, out));
    }
    assert_int_equal(coord_analysis_failures_seen(a), N);
    assert_int_equal(coord_analysis_failures_kept(a), KEEP);
    /* a uniform sample: most kept cases come from past the first KEEP, none twice */
    size_t late = 0;
    for (size_t i = 0; i < KEEP; i++) {
        late += strtol(coord_analysis_failure_case_id(a, i) + strlen("case-"), NULL, 10) >= KEEP;
        assert_string_equal(coord_analysis_failure_case_id(a, i), coord_analysis_failure_case_id(b, i)); /* fixed seed */
        for (size_t j = 0; j < i; j++)
            assert_string_not_equal(coord_analysis_failure_case_id(a, i), coord_analysis_failure_case_id(a, j));
    }
    assert_true(late > KEEP / 2);
    json_t *report = fill(a), *clusters = json_object_get(report, "clusters");
    assert_int_equal(geti(json_object_get(report, "failures"), "sampled"), KEEP);
    assert_int_equal(geti(json_object_get(report, "failures"), "total"), N);
    size_t total = 0, i;
    json_t *c;
    json_array_foreach(clusters, i, c)
    {
        total += (size_t)geti(c, "size");
        size_t n_ex = json_array_size(json_object_get(c, "examples"));
        assert_true(n_ex >= 1 && n_ex <= 3);
        if (i > 0) assert_true(geti(c, "size") <= geti(json_array_get(clusters, i - 1), "size"));
    }
    assert_int_equal(total, KEEP);
    assert_true(json_array_size(clusters) >= 2);
    /* two kinds of answers, two clusters: each cluster's examples say one thing */
    json_t *ex = json_object_get(json_array_get(clusters, 0), "examples");
    const char *o0 = json_string_value(json_object_get(json_array_get(ex, 0), "output"));
    for (size_t k = 1; k < json_array_size(ex); k++)
        assert_string_equal(json_string_value(json_object_get(json_array_get(ex, k), "output")),
                            o0);
    json_decref(report);
    coord_analysis_destroy(&a);
    coord_analysis_destroy(&b);
}

/* A long output is kept cut to valid UTF-8 of at most COORD_ANALYSIS_MAX_OUTPUT bytes. */
static void test_failure_output_cut(void **state)
{
    rs_buf_t b;
    rs_buf_init(&b);
    for (int i = 0; i < 700; i++)
        rs_buf_puts(&b, "\xC3\xA9"); /* é, 2 bytes */
    coord_analysis_t *a = new_analysis(0);
    add(a, fail_rec(1, b.data));
    assert_true(strlen(coord_analysis_failure_output(a, 0)) <= COORD_ANALYSIS_MAX_OUTPUT);
    assert_int_equal(strlen(coord_analysis_failure_output(a, 0)) % 2, 0);
    json_t *report = fill(a);
    json_t *ex = json_array_get(
        json_object_get(json_array_get(json_object_get(report, "clusters"), 0), "examples"), 0);
    assert_non_null(json_string_value(json_object_get(ex, "output")));
    assert_string_equal(json_string_value(json_object_get(ex, "case_id")), "case-1");
    assert_string_equal(json_string_value(json_object_get(ex, "model")), "m2");
    json_decref(report);
    rs_buf_cleanup(&b);
    coord_analysis_destroy(&a);
}

/* ---- HTML of the new fields ---- */

static void test_html_sections(void **state)
{
    coord_analysis_t *a = new_analysis(0);
    for (int i = 0; i < 6; i++) {
        add(a, strat_rec(i, i % 2 ? 'c' : 'w', 'c', 'c'));
        add(a, round_rec(i, i % 3 ? "wc" : "cw"));
        crit_case_t c = {i % 2, "<b>judge</b>", i % 2, i % 3 ? "0.8" : "0.1", 0};
        add(a, crit_rec(i, &c));
        add(a, fail_rec(i, "<script>alert(1)</script>"));
    }
    json_t *report = fill(a);
    json_object_set_new(report, "run_id", json_string("r1"));
    json_object_set_new(report, "near_duplicates",
                        json_pack("{sfsIsIsbs[{sssssfssss}]}", "threshold", 0.95, "total",
                                  (json_int_t)1, "cases", (json_int_t)6, "capped", 0, "pairs", "a",
                                  "q1", "b", "q2", "similarity", 0.97, "a_text", "<i>x</i>",
                                  "b_text", "y"));
    char *html = coord_html_render(report);
    const char *want[] = {"id=\"strategies\"",       "id=\"chart-strategies\"",
                          "id=\"table-strategies\"", "id=\"rounds\"",
                          "id=\"chart-rounds\"",     "id=\"table-flips\"",
                          "id=\"judges\"",           "id=\"table-judges\"",
                          "id=\"hist-judge-0\"",     "id=\"clusters\"",
                          "id=\"cluster-1\"",        "id=\"near-duplicates\"",
                          "id=\"table-near-dups\"",  "data-strategy=\"oracle\"",
                          "data-round=\"1\"",        "data-split=\"self\"",
                          "class=\"hbar\""};
    for (size_t i = 0; i < RS_ARRAY_LEN(want); i++)
        if (!strstr(html, want[i])) fail_msg("no %s in the page", want[i]);
    assert_null(strstr(html, "<script>"));
    assert_null(strstr(html, "<b>judge"));
    assert_null(strstr(html, "<i>x"));
    assert_non_null(strstr(html, "&lt;script&gt;"));
    free(html);
    /* today's report: none of the new sections */
    json_t *old = json_pack("{sss[{ss}]}", "run_id", "r0", "models", "name", "m1");
    html = coord_html_render(old);
    assert_null(strstr(html, "id=\"strategies\""));
    assert_null(strstr(html, "id=\"judges\""));
    assert_null(strstr(html, "id=\"clusters\""));
    free(html);
    json_decref(old);
    json_decref(report);
    coord_analysis_destroy(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verdicts_and_counts),
        cmocka_unit_test(test_todays_records),
        cmocka_unit_test(test_no_failures_no_clusters),
        cmocka_unit_test(test_strategies_and_mcnemar),
        cmocka_unit_test(test_mcnemar_pairs),
        cmocka_unit_test(test_strategies_of),
        cmocka_unit_test(test_rounds_and_flips),
        cmocka_unit_test(test_judges),
        cmocka_unit_test(test_judge_rounds),
        cmocka_unit_test(test_auroc_table_matches),
        cmocka_unit_test(test_judge_groups),
        cmocka_unit_test(test_judge_groups_bounds),
        cmocka_unit_test(test_html_judge_groups),
        cmocka_unit_test(test_reservoir_bound),
        cmocka_unit_test(test_failure_output_cut),
        cmocka_unit_test(test_html_sections),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
