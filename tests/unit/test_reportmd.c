/* test_reportmd: report.md keeps its tables whole whatever the names: a model, grader, provider,
 * strategy or tag holding '|', a line break, markup or a very long text stays in its own cell,
 * escaped, and every row of a table has as many cells as its header. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../coordinator/analysis.h"
#include "../../coordinator/reportmd.h"
#include "../../coordinator/reportview.h"

static const char HOSTILE_MODEL[] = "evil|model\n| x | y |\r\n# heading";
static const char HOSTILE_TAG[] = "tag|with|pipes\nand a line";

static json_t *counts(const char *name)
{
    uint64_t c[COORD_V_N] = {3, 1, 0, 0};
    return coord_counts_json(name, NULL, c);
}

/* A report object shaped as report.json, with hostile names everywhere a name goes. */
static json_t *hostile_report(void)
{
    json_t *graders = json_pack("[o]", counts("gr|ader\nx"));
    json_t *strategies = json_pack("[{sss[o]so}, {sss[o]s{sIsIsf}}]", "name", "first", "graders",
                                   counts("g"), "mcnemar_vs_first", json_null(), "name",
                                   "str|at`egy\n", "graders", counts("g"), "mcnemar_vs_first", "b",
                                   (json_int_t)1, "c", (json_int_t)0, "exact_p", 1.0);
    json_t *stage = json_pack("{sIsIsIsfs{sfsf}}", "outputs", (json_int_t)4, "input_tokens",
                              (json_int_t)10, "output_tokens", (json_int_t)5, "cost_usd", 0.0,
                              "latency_ms", "p50", 1.0, "p95", 2.0);
    json_t *model = json_pack("{sssssIsIsIsIsfs{sfsf}s{sOso}soso}", "name", HOSTILE_MODEL,
                              "provider", "prov|ider", "cases", (json_int_t)4, "errors",
                              (json_int_t)0, "input_tokens", (json_int_t)10, "output_tokens",
                              (json_int_t)5, "cost_usd", 0.0, "latency_ms", "p50", 1.0, "p95", 2.0,
                              "stages", "generate", stage, "critique", stage, "graders", graders,
                              "strategies", strategies);
    json_decref(stage);
    json_t *tag = json_pack("{sss[{sss[o]}]}", "tag", HOSTILE_TAG, "models", "name",
                            HOSTILE_MODEL, "graders", counts("g|g"));
    return json_pack("{sssss{sssssIsI}sfsfs[o]s[o]s{sIs[]}}", "run_id", "run-1", "status",
                     "finished", "dataset", "path", "/data/a|b`c.jsonl", "sha256", "abcdef0123456789",
                     "cases", (json_int_t)4, "skipped_lines", (json_int_t)0, "wall_seconds", 1.0,
                     "cases_per_second", 4.0, "models", model, "tags", tag, "corrupted", "count",
                     (json_int_t)0, "cases");
}

/* The '|' of a line that are not escaped by a backslash. */
static int cells(const char *line, size_t len)
{
    int n = 0;
    for (size_t i = 0; i < len; i++) {
        if (line[i] == '\\') {
            i++;
            continue;
        }
        n += line[i] == '|';
    }
    return n;
}

/* Every table row has the separators of its header. */
static void assert_tables_whole(const char *md)
{
    int want = -1, rows = 0;
    for (const char *p = md; *p;) {
        const char *end = strchr(p, '\n');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len && p[0] == '|') {
            int n = cells(p, len);
            if (want < 0) want = n;
            if (n != want) fail_msg("a row has %d separators, its table %d: %.*s", n, want,
                                    (int)len, p);
            rows++;
        } else {
            want = -1;
        }
        p += len + (end != NULL);
    }
    assert_true(rows > 8);
}

static void test_hostile_names(void **state)
{
    (void)state;
    json_t *report = hostile_report();
    char *md = coord_reportmd_render(report);
    assert_tables_whole(md);
    /* no line of the hostile names starts a line of its own: the line breaks became spaces */
    assert_null(strstr(md, "\n# heading"));
    assert_null(strstr(md, "\n| x | y |"));
    assert_null(strstr(md, "\nand a line"));
    /* the names are there, escaped */
    assert_non_null(strstr(md, "evil\\|model \\| x \\| y \\|  \\# heading"));
    assert_non_null(strstr(md, "tag\\|with\\|pipes and a line"));
    assert_non_null(strstr(md, "prov\\|ider"));
    assert_non_null(strstr(md, "str\\|at\\`egy"));
    assert_non_null(strstr(md, "/data/a\\|b\\`c.jsonl"));
    free(md);
    json_decref(report);
}

static void test_cell(void **state)
{
    (void)state;
    rs_buf_t b;
    rs_buf_init(&b);
    coord_md_cell(&b, "a|b\tc\x01*_[]<>#&\\", 100);
    assert_string_equal(b.data, "a\\|b c\xE2\x90\x81\\*\\_\\[\\]\\<\\>\\#\\&\\\\");
    rs_buf_reset(&b);
    coord_md_cell(&b, NULL, 10);
    assert_string_equal(b.data, "");
    rs_buf_reset(&b);
    /* cut to 5 characters (not bytes) with an ellipsis */
    coord_md_cell(&b, "\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9", 5);
    assert_string_equal(b.data, "\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9\xE2\x80\xA6");
    rs_buf_cleanup(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hostile_names),
        cmocka_unit_test(test_cell),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
