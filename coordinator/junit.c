/* junit: a report as JUnit XML, every string escaped on its way out. */
#include "junit.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gates.h"
#include "jsonget.h"

static const char REPLACEMENT[] = "\xEF\xBF\xBD"; /* U+FFFD */

/* XML 1.0's Char production: #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] |
 * [#x10000-#x10FFFF] (rs_utf8_decode already refuses surrogates). */
static int xml_char(uint32_t c)
{
    return c == 0x9 || c == 0xA || c == 0xD || (c >= 0x20 && c != 0xFFFE && c != 0xFFFF);
}

void coord_junit_escape(rs_buf_t *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        uint32_t c = 0;
        size_t len = rs_utf8_decode(s + i, n - i, &c);
        if (len == 0 || !xml_char(c)) {
            rs_buf_puts(b, REPLACEMENT);
            i += len ? len : 1;
            continue;
        }
        switch (c) {
        case '&': rs_buf_puts(b, "&amp;"); break;
        case '<': rs_buf_puts(b, "&lt;"); break;
        case '>': rs_buf_puts(b, "&gt;"); break;
        case '"': rs_buf_puts(b, "&quot;"); break;
        case '\'': rs_buf_puts(b, "&apos;"); break;
        /* kept as references: an attribute value's parser turns the raw ones into spaces */
        case '\t': rs_buf_puts(b, "&#9;"); break;
        case '\n': rs_buf_puts(b, "&#10;"); break;
        case '\r': rs_buf_puts(b, "&#13;"); break;
        default: rs_buf_append(b, s + i, len);
        }
        i += len;
    }
}

static void esc(rs_buf_t *b, const char *s)
{
    coord_junit_escape(b, s ? s : "", s ? strlen(s) : 0);
}

/* ` name="value"` */
static void attr(rs_buf_t *b, const char *name, const char *value)
{
    rs_buf_printf(b, " %s=\"", name);
    esc(b, value);
    rs_buf_putc(b, '"');
}

static void property(rs_buf_t *b, const char *name, const char *value)
{
    rs_buf_puts(b, "      <property");
    attr(b, "name", name);
    attr(b, "value", value);
    rs_buf_puts(b, "/>\n");
}

/* A suite's counts, and its testcases as they are written. */
typedef struct suite {
    rs_buf_t body;
    int tests, failures;
} suite_t;

/* One testcase; failure NULL or empty: it passed. */
static void testcase(suite_t *s, const char *classname, const char *name, const char *failure,
                     const char *type, const char *out)
{
    rs_buf_t *b = &s->body;
    s->tests++;
    rs_buf_puts(b, "    <testcase");
    attr(b, "name", name);
    attr(b, "classname", classname);
    rs_buf_puts(b, " time=\"0\">\n");
    if (failure && *failure) {
        s->failures++;
        rs_buf_puts(b, "      <failure");
        attr(b, "message", failure);
        attr(b, "type", type);
        rs_buf_puts(b, ">");
        esc(b, failure);
        rs_buf_puts(b, "</failure>\n");
    }
    if (out) {
        rs_buf_puts(b, "      <system-out>");
        esc(b, out);
        rs_buf_puts(b, "</system-out>\n");
    }
    rs_buf_puts(b, "    </testcase>\n");
}

/* The reasons the testcase of model m and grader fails, "; "-joined into why (empty: passes). */
static const char *model_failures(const rs_config_t *cfg, json_t *report, json_t *m,
                                  const char *grader, rs_buf_t *why, const char **type)
{
    const char *name = coord_jstr_or(m, "name", ""), *reason = "";
    long long n = 0;
    size_t i;
    json_t *g;
    *type = "gate";
    if (coord_gates_errors_checked(cfg, name) && coord_gates_mostly_errors(m, &reason, &n)) {
        rs_buf_printf(why, "%lld of %lld cases ended in error, most often %s (%lld)",
                      (long long)json_integer_value(json_object_get(m, "errors")),
                      (long long)json_integer_value(json_object_get(m, "cases")), reason, n);
        *type = "errors";
    }
    json_array_foreach(json_object_get(report, "gates"), i, g) {
        const char *gm = json_string_value(json_object_get(g, "model"));
        const char *gg = json_string_value(json_object_get(g, "grader"));
        if (json_is_true(json_object_get(g, "passed")) || !gm || strcmp(gm, name) != 0 ||
            (gg && strcmp(gg, grader) != 0))
            continue;
        rs_buf_printf(why, "%sgate %s: %s", why->len ? "; " : "", coord_jstr_or(g, "name", ""),
                      coord_jstr_or(g, "why", ""));
    }
    return why->data;
}

/* "accuracy 0.846 [0.812, 0.875]; correct 42, wrong 8, error 0, skipped 0" */
static void counts_text(rs_buf_t *b, json_t *g)
{
    json_t *acc = json_object_get(g, "accuracy"), *ci = json_object_get(g, "ci95");
    if (json_is_number(acc))
        rs_buf_printf(b, "accuracy %.4f [%.4f, %.4f]; ", json_number_value(acc),
                      json_number_value(json_array_get(ci, 0)),
                      json_number_value(json_array_get(ci, 1)));
    else
        rs_buf_puts(b, "accuracy n/a (nothing graded); ");
    rs_buf_printf(b, "correct %lld, wrong %lld, error %lld, skipped %lld",
                  (long long)json_integer_value(json_object_get(g, "correct")),
                  (long long)json_integer_value(json_object_get(g, "wrong")),
                  (long long)json_integer_value(json_object_get(g, "error")),
                  (long long)json_integer_value(json_object_get(g, "skipped")));
}

static void model_cases(suite_t *s, const rs_config_t *cfg, json_t *report)
{
    size_t i, j;
    json_t *m, *g;
    rs_buf_t cls, why, out;
    rs_buf_init(&cls);
    rs_buf_init(&why);
    rs_buf_init(&out);
    json_array_foreach(json_object_get(report, "models"), i, m)
        json_array_foreach(json_object_get(m, "graders"), j, g) {
        const char *grader = coord_jstr_or(g, "name", ""), *type;
        rs_buf_reset(&cls);
        rs_buf_reset(&why);
        rs_buf_reset(&out);
        rs_buf_printf(&cls, "reasonsaver.models.%s", coord_jstr_or(m, "name", ""));
        counts_text(&out, g);
        model_failures(cfg, report, m, grader, &why, &type);
        testcase(s, cls.data, grader, why.data, type, out.data);
    }
    rs_buf_cleanup(&cls);
    rs_buf_cleanup(&why);
    rs_buf_cleanup(&out);
}

static void gate_cases(suite_t *s, json_t *report)
{
    size_t i;
    json_t *g;
    rs_buf_t out;
    rs_buf_init(&out);
    json_array_foreach(json_object_get(report, "gates"), i, g) {
        json_t *v = json_object_get(g, "value");
        rs_buf_reset(&out);
        if (json_is_number(v)) rs_buf_printf(&out, "value %.6g, ", json_number_value(v));
        else rs_buf_puts(&out, "no value, ");
        rs_buf_puts(&out, "bounds ");
        coord_gates_bounds_text(&out, g);
        int passed = json_is_true(json_object_get(g, "passed"));
        testcase(s, "reasonsaver.gates", coord_jstr_or(g, "name", ""),
                 passed ? NULL : coord_jstr_or(g, "why", "failed"), "gate", out.data);
    }
    rs_buf_cleanup(&out);
}

static void suite_out(rs_buf_t *b, const char *name, const suite_t *s, json_t *report,
                      const char *stamp)
{
    rs_buf_puts(b, "  <testsuite");
    attr(b, "name", name);
    rs_buf_printf(b, " tests=\"%d\" failures=\"%d\" errors=\"0\" skipped=\"0\" time=\"%.3f\"",
                  s->tests, s->failures,
                  json_number_value(json_object_get(report, "wall_seconds")));
    attr(b, "timestamp", stamp);
    rs_buf_puts(b, ">\n    <properties>\n");
    property(b, "run_id", coord_jstr_or(report, "run_id", ""));
    property(b, "status", coord_jstr_or(report, "status", ""));
    property(b, "simulated", json_is_true(json_object_get(report, "simulated")) ? "true" : "false");
    rs_buf_puts(b, "    </properties>\n");
    rs_buf_append(b, s->body.data, s->body.len);
    rs_buf_puts(b, "  </testsuite>\n");
}

char *coord_junit_render(const rs_config_t *cfg, json_t *report)
{
    suite_t models = {.tests = 0}, gates = {.tests = 0};
    rs_buf_init(&models.body);
    rs_buf_init(&gates.body);
    model_cases(&models, cfg, report);
    gate_cases(&gates, report);
    time_t t = (time_t)(json_integer_value(json_object_get(report, "finished_at_ms")) / 1000);
    struct tm tm;
    char stamp[32];
    gmtime_r(&t, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
    rs_buf_t b;
    rs_buf_init(&b);
    rs_buf_puts(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites");
    rs_buf_t name;
    rs_buf_init(&name);
    rs_buf_printf(&name, "reasonsaver %s", coord_jstr_or(report, "run_id", ""));
    attr(&b, "name", name.data);
    rs_buf_cleanup(&name);
    rs_buf_printf(&b, " tests=\"%d\" failures=\"%d\" errors=\"0\" time=\"%.3f\">\n",
                  models.tests + gates.tests, models.failures + gates.failures,
                  json_number_value(json_object_get(report, "wall_seconds")));
    suite_out(&b, "reasonsaver.models", &models, report, stamp);
    if (json_array_size(json_object_get(report, "gates")))
        suite_out(&b, "reasonsaver.gates", &gates, report, stamp);
    rs_buf_puts(&b, "</testsuites>\n");
    rs_buf_cleanup(&models.body);
    rs_buf_cleanup(&gates.body);
    return rs_buf_detach(&b);
}

int coord_junit_write(const char *path, const rs_config_t *cfg, json_t *report, rs_err_t *err)
{
    char *xml = coord_junit_render(cfg, report);
    int rc = rs_write_file_atomic(path, xml, strlen(xml), err);
    free(xml);
    return rc;
}
