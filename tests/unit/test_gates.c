/* test_gates: gates measured on a report object (bounds inclusive, a missing number fails), the
 * verdict's exit status and messages (mostly errors: 1 unless a gate measures the model's errors;
 * a failed gate: 3), and the JUnit XML: its testcases and the escaping of hostile strings. */
#define _GNU_SOURCE
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../coordinator/gates.h"
#include "../../coordinator/junit.h"
#include "../../coordinator/reportview.h"

#define MODELS                                                                                     \
    "dataset: {path: d.jsonl}\n"                                                                   \
    "models:\n"                                                                                    \
    "  - {name: a, provider: sim, model: m1, n: 3}\n"                                              \
    "  - {name: \"b<&\\\"'\", provider: sim, model: m1}\n"                                         \
    "scoring: {graders: [exact, numeric]}\n"

/* Model a: 8 of 10 right under exact (0 graded under numeric), its majority strategy 9 of 10
 * with McNemar p 0.03, consensus versus majority p 0.125; model b: 6 of 10 cases in error, most of them http_401. */
static const char REPORT[] =
    "{\"run_id\": \"r1\", \"status\": \"finished\", \"simulated\": true, \"wall_seconds\": 1.5,"
    " \"finished_at_ms\": 1764921600000, \"models\": ["
    " {\"name\": \"a\", \"cases\": 10, \"errors\": 0, \"errors_by_reason\": {}, \"cost_usd\": 1.25,"
    "  \"graders\": [{\"name\": \"exact\", \"correct\": 8, \"wrong\": 2, \"error\": 0,"
    "  \"skipped\": 0, \"accuracy\": 0.8, \"ci95\": [0.49, 0.94]},"
    "  {\"name\": \"numeric\", \"correct\": 0, \"wrong\": 0, \"error\": 0, \"skipped\": 10,"
    "  \"accuracy\": null, \"ci95\": null}],"
    "  \"strategies\": [{\"name\": \"first\", \"graders\": [], \"mcnemar_vs_first\": null},"
    "  {\"name\": \"majority\", \"graders\": [{\"name\": \"exact\", \"accuracy\": 0.9}],"
    "  \"mcnemar_vs_first\": {\"b\": 5, \"c\": 0, \"exact_p\": 0.03}}],"
    "  \"mcnemar_pairs\": [{\"strategy\": \"majority\", \"versus\": \"first\", \"b\": 5,"
    "  \"c\": 0, \"exact_p\": 0.03}, {\"strategy\": \"consensus\", \"versus\": \"majority\","
    "  \"b\": 1, \"c\": 6, \"exact_p\": 0.125}]},"
    " {\"name\": \"b<&\\\"'\", \"cases\": 10, \"errors\": 6,"
    "  \"errors_by_reason\": {\"connect\": 2, \"http_401\": 4}, \"cost_usd\": 0.5,"
    "  \"graders\": [{\"name\": \"exact\", \"correct\": 3, \"wrong\": 1, \"error\": 6,"
    "  \"skipped\": 0, \"accuracy\": 0.75, \"ci95\": [0.3, 0.95]},"
    "  {\"name\": \"numeric\", \"correct\": 3, \"wrong\": 1, \"error\": 6, \"skipped\": 0,"
    "  \"accuracy\": 0.75, \"ci95\": [0.3, 0.95]}]}]}";

static rs_config_t *config(const char *gates)
{
    char *yaml = rs_xasprintf("%sgates:\n%s", MODELS, gates);
    rs_err_t err;
    rs_config_t *cfg = rs_config_load_string(yaml, "<test>", NULL, NULL, 0, &err);
    free(yaml);
    if (!cfg) fail_msg("%s", err.msg);
    return cfg;
}

static json_t *report(void)
{
    json_error_t jerr;
    json_t *r = json_loads(REPORT, 0, &jerr);
    if (!r) fail_msg("report: %s", jerr.text);
    return r;
}

/* Evaluates the one gate of gates on REPORT into *out (new reference). */
static json_t *one_gate(const char *gates)
{
    rs_config_t *cfg = config(gates);
    json_t *r = report();
    json_t *arr = coord_gates_eval(cfg, r);
    assert_int_equal(json_array_size(arr), 1);
    json_t *g = json_incref(json_array_get(arr, 0));
    json_decref(arr);
    json_decref(r);
    rs_config_destroy(&cfg);
    return g;
}

static double value_of(json_t *g)
{
    return json_number_value(json_object_get(g, "value"));
}

static int passed(json_t *g)
{
    return json_is_true(json_object_get(g, "passed"));
}

static void test_accuracy(void **state)
{
    (void)state;
    json_t *g = one_gate("  - {metric: accuracy, model: a, min: 0.8}\n"); /* bounds inclusive */
    assert_true(passed(g) && value_of(g) == 0.8 && json_is_null(json_object_get(g, "why")));
    assert_string_equal(json_string_value(json_object_get(g, "grader")), "exact");
    json_decref(g);
    g = one_gate("  - {metric: accuracy, model: a, min: 0.81}\n");
    assert_false(passed(g));
    assert_string_equal(json_string_value(json_object_get(g, "why")),
                        "0.8 is below the minimum 0.81");
    json_decref(g);
    g = one_gate("  - {metric: accuracy, model: a, strategy: majority, min: 0.85}\n");
    assert_true(passed(g) && value_of(g) == 0.9);
    json_decref(g);
    /* nothing graded: no value, and the gate fails (a gate never passes on a missing number) */
    g = one_gate("  - {metric: accuracy, model: a, grader: numeric, max: 1}\n");
    assert_false(passed(g));
    assert_true(json_is_null(json_object_get(g, "value")));
    assert_string_equal(json_string_value(json_object_get(g, "why")),
                        "no case was graded correct or wrong by 'numeric'");
    json_decref(g);
}

static void test_errors_cost_mcnemar(void **state)
{
    (void)state;
    json_t *g = one_gate("  - {metric: errors, model: \"b<&\\\"'\", max: 0.5}\n");
    assert_false(passed(g));
    assert_true(value_of(g) == 0.6);
    assert_string_equal(json_string_value(json_object_get(g, "why")),
                        "0.6 is above the maximum 0.5");
    json_decref(g);
    g = one_gate("  - {metric: errors, model: a, max: 0}\n");
    assert_true(passed(g) && value_of(g) == 0);
    json_decref(g);
    g = one_gate("  - {metric: cost_usd, max: 1.75}\n"); /* the run: 1.25 + 0.5 */
    assert_true(passed(g) && value_of(g) == 1.75);
    json_decref(g);
    g = one_gate("  - {metric: cost_usd, model: a, max: 1}\n");
    assert_false(passed(g));
    assert_true(value_of(g) == 1.25);
    json_decref(g);
    g = one_gate("  - {metric: mcnemar_p, model: a, strategy: majority, max: 0.05}\n");
    assert_true(passed(g) && value_of(g) == 0.03);
    json_decref(g);
    g = one_gate("  - {metric: mcnemar_p, model: a, strategy: majority, max: 0.01}\n");
    assert_false(passed(g));
    json_decref(g);
    /* a strategy the report lacks (a run from before strategies) fails, with the reason */
    g = one_gate("  - {metric: mcnemar_p, model: a, strategy: oracle, max: 0.05}\n");
    assert_false(passed(g));
    assert_string_equal(json_string_value(json_object_get(g, "why")),
                        "the report has no strategy 'oracle'");
    json_decref(g);
}

/* mcnemar_p with versus reads the model's mcnemar_pairs, either way round. */
static void test_mcnemar_versus(void **state)
{
    (void)state;
    json_t *g = one_gate("  - {metric: mcnemar_p, model: a, strategy: consensus, versus: majority, "
                         "max: 0.2}\n");
    assert_true(passed(g) && value_of(g) == 0.125);
    assert_string_equal(json_string_value(json_object_get(g, "versus")), "majority");
    json_decref(g);
    g = one_gate("  - mcnemar_p(a, majority vs consensus) <= 0.1\n");
    assert_false(passed(g));
    assert_true(value_of(g) == 0.125);
    assert_string_equal(json_string_value(json_object_get(g, "why")),
                        "0.125 is above the maximum 0.1");
    json_decref(g);
    g = one_gate("  - mcnemar_p(a, first vs majority) <= 0.05\n");
    assert_true(passed(g) && value_of(g) == 0.03);
    json_decref(g);
    /* without versus the gate reads mcnemar_vs_first, and its versus is null */
    g = one_gate("  - mcnemar_p(a, majority) <= 0.05\n");
    assert_true(passed(g) && json_is_null(json_object_get(g, "versus")));
    json_decref(g);
    g = one_gate("  - mcnemar_p(a, oracle vs majority) <= 0.05\n");
    assert_false(passed(g));
    assert_true(json_is_null(json_object_get(g, "value")));
    assert_string_equal(json_string_value(json_object_get(g, "why")),
                        "the report has no McNemar test of 'oracle' versus 'majority'");
    json_decref(g);
}

/* The verdict of REPORT under gates, with what it wrote to err in *msg (caller frees). */
static int verdict(const char *gates, char **msg)
{
    rs_config_t *cfg = config(gates);
    json_t *r = report();
    json_object_set_new(r, "gates", coord_gates_eval(cfg, r));
    size_t len = 0;
    FILE *err = open_memstream(msg, &len);
    int code = coord_gates_verdict(cfg, r, NULL, err);
    fclose(err);
    json_decref(r);
    rs_config_destroy(&cfg);
    return code;
}

static void test_verdict(void **state)
{
    (void)state;
    char *msg = NULL;
    /* b ended in error for 6 of 10 cases: exit 1, its most common reason named */
    assert_int_equal(verdict("  - {metric: accuracy, model: a, min: 0.5}\n", &msg), 1);
    assert_string_equal(msg, "reasonsaver: model b<&\"': 6 of 10 cases ended in error, most often "
                             "http_401 (4): check the key in the model's api_key_env\n");
    free(msg);
    /* a gate on b's errors takes the check's place: it passes, so does the run */
    assert_int_equal(verdict("  - {metric: errors, model: \"b<&\\\"'\", max: 0.7}\n", &msg), 0);
    assert_string_equal(msg, "");
    free(msg);
    /* a failed gate: exit 3, the gate named with why */
    assert_int_equal(verdict("  - {metric: errors, model: \"b<&\\\"'\", max: 0.7}\n"
                             "  - {metric: accuracy, model: a, min: 0.9}\n", &msg), 3);
    assert_string_equal(msg, "reasonsaver: gate failed: accuracy(a, exact) >= 0.9: 0.8 is below "
                             "the minimum 0.9\n");
    free(msg);
    /* mostly errors wins over a failed gate: the run did not really happen */
    assert_int_equal(verdict("  - {metric: accuracy, model: a, min: 0.9}\n", &msg), 1);
    free(msg);
    /* exactly half is not more than half */
    json_t *m = json_pack("{sIsIs{sI}}", "cases", (json_int_t)10, "errors", (json_int_t)5,
                          "errors_by_reason", "timeout", (json_int_t)5);
    assert_int_equal(coord_gates_mostly_errors(m, NULL, NULL), 0);
    json_object_set_new(m, "errors", json_integer(6));
    const char *reason = NULL;
    long long n = 0;
    assert_int_equal(coord_gates_mostly_errors(m, &reason, &n), 1);
    assert_string_equal(reason, "timeout");
    assert_int_equal(n, 5);
    json_decref(m);
}

static void escape_is(const char *in, size_t n, const char *want)
{
    rs_buf_t b;
    rs_buf_init(&b);
    coord_junit_escape(&b, in, n);
    assert_string_equal(b.data, want);
    rs_buf_cleanup(&b);
}

static void test_escape(void **state)
{
    (void)state;
    escape_is("a<b>&\"c'", 8, "a&lt;b&gt;&amp;&quot;c&apos;");
    escape_is("t\tn\nr\r", 6, "t&#9;n&#10;r&#13;");
    /* controls, a NUL, invalid UTF-8, a surrogate, U+FFFE: each one U+FFFD */
    escape_is("\x01x\0y\xff\xc3", 6, "\xEF\xBF\xBDx\xEF\xBF\xBDy\xEF\xBF\xBD\xEF\xBF\xBD");
    escape_is("\xed\xa0\x80|\xef\xbf\xbe", 7, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD|\xEF\xBF\xBD");
    escape_is("caf\xc3\xa9 \xf0\x9f\x99\x82", 10, "caf\xc3\xa9 \xf0\x9f\x99\x82"); /* kept */
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

static void test_junit(void **state)
{
    (void)state;
    rs_config_t *cfg = config("  - {metric: accuracy, model: a, min: 0.9}\n"
                              "  - {metric: cost_usd, max: 5}\n");
    json_t *r = report();
    json_object_set_new(r, "gates", coord_gates_eval(cfg, r));
    char *xml = coord_junit_render(cfg, r);
    /* 2 models x 2 graders + 2 gates; failed: a/exact (its gate), b's two (mostly errors), the
     * accuracy gate */
    assert_non_null(strstr(xml, "<testsuites name=\"reasonsaver r1\" tests=\"6\" failures=\"4\""));
    assert_non_null(strstr(xml, "<testsuite name=\"reasonsaver.models\" tests=\"4\" "
                                "failures=\"3\" errors=\"0\" skipped=\"0\" time=\"1.500\" "
                                "timestamp=\"2025-12-05T08:00:00\">"));
    assert_non_null(
        strstr(xml, "<testsuite name=\"reasonsaver.gates\" tests=\"2\" failures=\"1\""));
    assert_non_null(strstr(xml, "<testcase name=\"exact\" classname=\"reasonsaver.models.a\" "
                                "time=\"0\">\n      <failure message=\"gate accuracy(a, exact) "
                                "&gt;= 0.9: 0.8 is below the minimum 0.9\" type=\"gate\">"));
    assert_non_null(strstr(xml, "<testcase name=\"numeric\" classname=\"reasonsaver.models.a\" "
                                "time=\"0\">\n      <system-out>accuracy n/a"));
    assert_non_null(strstr(xml, "classname=\"reasonsaver.models.b&lt;&amp;&quot;&apos;\""));
    assert_non_null(strstr(xml, "<failure message=\"6 of 10 cases ended in error, most often "
                                "http_401 (4)\" type=\"errors\">"));
    assert_non_null(strstr(xml, "<system-out>accuracy 0.8000 [0.4900, 0.9400]; correct 8, wrong 2, "
                                "error 0, skipped 0</system-out>"));
    assert_non_null(strstr(xml, "<testcase name=\"cost_usd() &lt;= 5\" classname=\"reasonsaver."
                                "gates\" time=\"0\">\n      <system-out>value 1.75, bounds &lt;= "
                                "5</system-out>"));
    assert_int_equal(count(xml, "<testcase "), 6);
    assert_int_equal(count(xml, "<failure "), 4);
    assert_null(strchr(xml, '\''));
    free(xml);
    json_decref(r);
    rs_config_destroy(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accuracy),
        cmocka_unit_test(test_errors_cost_mcnemar),
        cmocka_unit_test(test_mcnemar_versus),
        cmocka_unit_test(test_verdict),
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_junit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
