/* html: report.html. One function per report section, keyed by the report field it needs (see
 * SECTIONS at the end), horizontal SVG bar charts with Wilson-interval whiskers, and every report
 * string escaped. The data attributes on key numbers (data-model, data-grader, data-tag,
 * data-strategy, data-round, data-judge, data-split, data-metric) and the element ids are the
 * page's stable interface for tests and scrapers. */
#include "html.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "analysis.h"
#include "jsonget.h"
#include "report.h"
#include "util.h"

/* Okabe-Ito colours: told apart with the common colour-vision deficiencies. Yellow comes last as
 * it is the weakest on white; bars also carry an outline and a text label, so colour is never the
 * only cue. */
static const char *const PALETTE[] = {"#0072B2", "#E69F00", "#009E73", "#CC79A7",
                                      "#D55E00", "#56B4E9", "#F0E442"};

static const char *colour(size_t i)
{
    return PALETTE[i % RS_ARRAY_LEN(PALETTE)];
}

/* ---- text ---- */

/* Escapes at most n bytes of text (up to a NUL) for text and double-quoted attributes alike,
 * after rs_text_safe has made controls, bidirectional overrides and invalid UTF-8 visible. */
static void esc_n(rs_buf_t *b, const char *text, size_t n)
{
    rs_buf_t safe;
    rs_buf_init(&safe);
    rs_text_safe(&safe, text, strnlen(text, n), RS_TEXT_KEEP_LINES);
    rs_buf_reserve(&safe, 0);
    const char *s = safe.data;
    n = safe.len;
    for (size_t i = 0; i < n; i++) {
        switch (s[i]) {
        case '&':
            rs_buf_puts(b, "&amp;");
            break;
        case '<':
            rs_buf_puts(b, "&lt;");
            break;
        case '>':
            rs_buf_puts(b, "&gt;");
            break;
        case '"':
            rs_buf_puts(b, "&quot;");
            break;
        case '\'':
            rs_buf_puts(b, "&#39;");
            break;
        default:
            rs_buf_putc(b, s[i]);
        }
    }
    rs_buf_cleanup(&safe);
}

static void esc(rs_buf_t *b, const char *s)
{
    if (s) esc_n(b, s, strlen(s));
}

static size_t utf8_len(const char *s)
{
    size_t n = 0;
    for (; s && *s; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* Escapes s cut to at most max characters (an ellipsis marks a cut), never inside a UTF-8
 * sequence: chart labels have a fixed width; the full text is in the bar's tooltip and tables. */
static void esc_fit(rs_buf_t *b, const char *s, size_t max)
{
    if (utf8_len(s) <= max) {
        esc(b, s);
        return;
    }
    const char *p = s;
    for (size_t n = 0; *p && n < max - 1; n++) {
        do
            p++;
        while (((unsigned char)*p & 0xC0) == 0x80);
    }
    esc_n(b, s, (size_t)(p - s));
    rs_buf_puts(b, "\xE2\x80\xA6");
}

/* name="value", escaped; nothing when value is NULL. */
static void attr(rs_buf_t *b, const char *name, const char *value)
{
    if (!value) return;
    rs_buf_printf(b, " %s=\"", name);
    esc(b, value);
    rs_buf_putc(b, '"');
}

/* 30071 -> "30,071". */
static void put_int(rs_buf_t *b, long long v)
{
    char d[32];
    unsigned long long mag = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    int n = snprintf(d, sizeof(d), "%llu", mag);
    if (v < 0) rs_buf_putc(b, '-');
    for (int i = 0; i < n; i++) {
        if (i > 0 && (n - i) % 3 == 0) rs_buf_putc(b, ',');
        rs_buf_putc(b, d[i]);
    }
}

/* Accuracy as the Markdown report and the summary print it: one decimal of a percent. */
static void put_pct(rs_buf_t *b, double frac)
{
    rs_buf_printf(b, "%.1f%%", 100 * frac);
}

static void put_bytes(rs_buf_t *b, double bytes)
{
    if (bytes >= 1024.0 * 1024.0)
        rs_buf_printf(b, "%.1f MiB", bytes / (1024.0 * 1024.0));
    else if (bytes >= 1024.0)
        rs_buf_printf(b, "%.1f KiB", bytes / 1024.0);
    else
        rs_buf_printf(b, "%.0f B", bytes);
}

static void put_time_ms(rs_buf_t *b, long long ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    char s[64];
    if (gmtime_r(&t, &tm) && strftime(s, sizeof(s), "%Y-%m-%d %H:%M:%S UTC", &tm))
        rs_buf_puts(b, s);
}

/* ---- tables ---- */

/* Which number a cell holds: its data attributes. NULL parts are left out. */
typedef struct cell_key {
    const char *tag, *model, *grader;
    const char *strategy, *round, *judge, *split, *stage;
} cell_key_t;

static void key_attrs(rs_buf_t *b, const cell_key_t *k)
{
    attr(b, "data-tag", k->tag);
    attr(b, "data-model", k->model);
    attr(b, "data-grader", k->grader);
    attr(b, "data-strategy", k->strategy);
    attr(b, "data-round", k->round);
    attr(b, "data-judge", k->judge);
    attr(b, "data-split", k->split);
    attr(b, "data-stage", k->stage);
}

static void td_num(rs_buf_t *b, const cell_key_t *k, const char *metric)
{
    rs_buf_puts(b, "<td class=\"n\"");
    key_attrs(b, k);
    attr(b, "data-metric", metric);
    rs_buf_putc(b, '>');
}

/* A statistic with prec decimals (prec < 0: -prec significant digits, for p-values that may be
 * tiny), or n/a when the report has null (undefined). */
static void td_real(rs_buf_t *b, const cell_key_t *k, const char *metric, json_t *v, int prec)
{
    td_num(b, k, metric);
    coord_put_num(b, v, prec);
    rs_buf_puts(b, "</td>");
}

static void td_int(rs_buf_t *b, const cell_key_t *k, const char *metric, long long v)
{
    td_num(b, k, metric);
    put_int(b, v);
    rs_buf_puts(b, "</td>");
}

static void td_text(rs_buf_t *b, const char *s)
{
    rs_buf_puts(b, "<td>");
    esc(b, s);
    rs_buf_puts(b, "</td>");
}

/* Opens a scrollable table with its header row. cols ends with NULL; a name starting with '#' is
 * a numeric column (right-aligned, the '#' not shown). */
static void table_open(rs_buf_t *b, const char *id, const char *const *cols)
{
    rs_buf_printf(b, "<div class=\"scroll\"><table id=\"%s\"><thead><tr>", id);
    for (; *cols; cols++) {
        if (**cols == '#')
            rs_buf_printf(b, "<th class=\"n\">%s</th>", *cols + 1);
        else
            rs_buf_printf(b, "<th>%s</th>", *cols);
    }
    rs_buf_puts(b, "</tr></thead>\n");
}

static void table_close(rs_buf_t *b)
{
    rs_buf_puts(b, "</table></div>\n");
}

#define COUNT_COLS "#correct", "#wrong", "#error", "#skipped", "#accuracy", "#95% CI"

/* The cells of one counts object (report.h's per-grader counts): the COUNT_COLS columns. */
static void counts_cells(rs_buf_t *b, const cell_key_t *k, json_t *g)
{
    static const char *const kinds[] = {"correct", "wrong", "error", "skipped"};
    for (size_t i = 0; i < RS_ARRAY_LEN(kinds); i++)
        td_int(b, k, kinds[i], coord_jint(g, kinds[i]));
    json_t *acc = json_object_get(g, "accuracy"), *ci = json_object_get(g, "ci95");
    td_num(b, k, "accuracy");
    if (json_is_number(acc))
        put_pct(b, json_number_value(acc));
    else
        rs_buf_puts(b, "n/a");
    rs_buf_puts(b, "</td>");
    td_num(b, k, "ci95");
    if (json_array_size(ci) == 2)
        rs_buf_printf(b, "%.1f\xE2\x80\x93%.1f", 100 * json_number_value(json_array_get(ci, 0)),
                      100 * json_number_value(json_array_get(ci, 1)));
    else
        rs_buf_puts(b, "\xE2\x80\x94");
    rs_buf_puts(b, "</td>");
}

/* ---- facts (the header's and the small sections' label/value grids) ---- */

static void fact_open(rs_buf_t *b, const char *id, const char *label)
{
    rs_buf_printf(b, "<div><dt>%s</dt><dd id=\"%s\">", label, id);
}

/* A fact given two grid columns: run ids and paths are long and would wrap mid-word. */
static void fact_open_wide(rs_buf_t *b, const char *id, const char *label)
{
    rs_buf_printf(b, "<div class=\"wide\"><dt>%s</dt><dd id=\"%s\">", label, id);
}

static void fact_close(rs_buf_t *b)
{
    rs_buf_puts(b, "</dd></div>\n");
}

static void fact_int(rs_buf_t *b, const char *id, const char *label, long long v)
{
    fact_open(b, id, label);
    put_int(b, v);
    fact_close(b);
}

/* ---- charts ---- */

/* One bar of a horizontal bar chart. Consecutive bars with the same group are drawn together,
 * the group's name beside its first bar. */
typedef struct bar {
    const char *group, *label;
    json_t *counts; /* accuracy, ci95, correct, wrong */
    size_t colour;
    cell_key_t key;
} bar_t;

typedef struct bars {
    bar_t *v;
    size_t n, cap;
} bars_t;

static void bars_add(bars_t *bs, bar_t bar)
{
    if (bs->n == bs->cap) {
        bs->cap = bs->cap ? 2 * bs->cap : 16;
        bs->v = rs_xrealloc(bs->v, bs->cap * sizeof(bar_t));
    }
    bs->v[bs->n++] = bar;
}

/* Geometry in SVG user units (px at 100%). Label columns are sized from their text, at roughly
 * 7 px a character of the 12 px font (8 in bold), capped so that one long name cannot squeeze the
 * plot; each column also clips its text, since the estimate can be short for wide glyphs. */
enum {
    BAR_H = 14,
    ROW_H = 22,
    GROUP_GAP = 10,
    TOP = 8,
    AXIS_H = 26,
    PLOT_W = 600,
    VALUE_W = 56,
    CHAR_W = 7,
    BOLD_W = 8,
    GROUP_CHARS = 26,
    LABEL_CHARS = 20,
    COL_GAP = 10
};

typedef struct layout {
    const char *id;
    int label_x, plot_x, width, height;
} layout_t;

static size_t max_chars(const bars_t *bs, int group, size_t cap)
{
    size_t m = 1;
    for (size_t i = 0; i < bs->n; i++) {
        size_t n = utf8_len(group ? bs->v[i].group : bs->v[i].label);
        if (n > m) m = n;
    }
    return m < cap ? m : cap;
}

static int new_group(const bars_t *bs, size_t i)
{
    return i == 0 || strcmp(bs->v[i].group, bs->v[i - 1].group) != 0;
}

static layout_t chart_layout(const char *id, const bars_t *bs)
{
    layout_t l;
    l.id = id;
    l.label_x = BOLD_W * (int)max_chars(bs, 1, GROUP_CHARS) + COL_GAP;
    l.plot_x = l.label_x + CHAR_W * (int)max_chars(bs, 0, LABEL_CHARS) + COL_GAP;
    l.width = l.plot_x + PLOT_W + VALUE_W;
    l.height = TOP + AXIS_H;
    for (size_t i = 0; i < bs->n; i++)
        l.height += ROW_H + (i > 0 && new_group(bs, i) ? GROUP_GAP : 0);
    return l;
}

/* The label columns' clip rectangles, ids <chart id>-g and <chart id>-l. */
static void chart_clips(rs_buf_t *b, const layout_t *l)
{
    rs_buf_printf(b,
                  "<defs><clipPath id=\"%s-g\"><rect width=\"%d\" height=\"%d\"/></clipPath>"
                  "<clipPath id=\"%s-l\"><rect x=\"%d\" width=\"%d\" height=\"%d\"/></clipPath>"
                  "</defs>\n",
                  l->id, l->label_x - COL_GAP + 2, l->height, l->id, l->label_x,
                  l->plot_x - l->label_x - COL_GAP + 2, l->height);
}

/* Gridlines every 20% and their labels under the plot. */
static void chart_axis(rs_buf_t *b, const layout_t *l)
{
    int bottom = l->height - AXIS_H;
    for (int p = 0; p <= 100; p += 20) {
        int x = l->plot_x + PLOT_W * p / 100;
        rs_buf_printf(b,
                      "<line class=\"%s\" x1=\"%d\" x2=\"%d\" y1=\"%d\" y2=\"%d\"/>"
                      "<text class=\"tick\" x=\"%d\" y=\"%d\" text-anchor=\"middle\">%d%%</text>\n",
                      p ? "grid" : "axis", x, x, TOP - 4, bottom + 2, x, bottom + 16, p);
    }
}

static void bar_tooltip(rs_buf_t *b, const bar_t *bar, double acc)
{
    json_t *ci = json_object_get(bar->counts, "ci95");
    rs_buf_puts(b, "<title>");
    esc(b, bar->group);
    rs_buf_puts(b, " \xC2\xB7 ");
    esc(b, bar->label);
    rs_buf_printf(
        b, ": %.1f%% (95%% CI %.1f\xE2\x80\x93%.1f%%), %lld correct of %lld graded</title>",
        100 * acc, 100 * json_number_value(json_array_get(ci, 0)),
        100 * json_number_value(json_array_get(ci, 1)), coord_jint(bar->counts, "correct"),
        coord_jint(bar->counts, "correct") + coord_jint(bar->counts, "wrong"));
}

/* The bar, its interval whisker (with end caps) and its value. A bar without graded cases shows
 * "n/a" and no rect, so rect.bar counts the bars that carry a number. */
static void chart_bar(rs_buf_t *b, const layout_t *l, const bar_t *bar, int y)
{
    json_t *acc = json_object_get(bar->counts, "accuracy"),
           *ci = json_object_get(bar->counts, "ci95");
    if (!json_is_number(acc)) {
        rs_buf_printf(b, "<text class=\"val\" x=\"%d\" y=\"%d\">n/a</text>\n", l->plot_x + 4,
                      y + 11);
        return;
    }
    double a = json_number_value(acc), end = l->plot_x + PLOT_W * a, label_x = end;
    rs_buf_printf(b,
                  "<rect class=\"bar\" x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\" fill=\"%s\"",
                  l->plot_x, y, PLOT_W * a, BAR_H, colour(bar->colour));
    key_attrs(b, &bar->key);
    rs_buf_printf(b, " data-accuracy=\"%.6f\">", a);
    bar_tooltip(b, bar, a);
    rs_buf_puts(b, "</rect>");
    if (json_array_size(ci) == 2) {
        double lo = l->plot_x + PLOT_W * json_number_value(json_array_get(ci, 0));
        double hi = l->plot_x + PLOT_W * json_number_value(json_array_get(ci, 1));
        rs_buf_printf(b, "<path class=\"ci\" d=\"M%.1f %dH%.1fM%.1f %dV%dM%.1f %dV%d\"/>", lo,
                      y + BAR_H / 2, hi, lo, y + 2, y + BAR_H - 2, hi, y + 2, y + BAR_H - 2);
        if (hi > label_x) label_x = hi;
    }
    rs_buf_printf(b, "<text class=\"val\" x=\"%.1f\" y=\"%d\">", label_x + 6, y + 11);
    put_pct(b, a);
    rs_buf_puts(b, "</text>\n");
}

static void chart_labels(rs_buf_t *b, const layout_t *l, const bars_t *bs, size_t i, int y)
{
    if (new_group(bs, i)) {
        rs_buf_printf(b, "<text class=\"grp\" clip-path=\"url(#%s-g)\" x=\"0\" y=\"%d\">", l->id,
                      y + 11);
        esc_fit(b, bs->v[i].group, GROUP_CHARS);
        rs_buf_puts(b, "</text>");
    }
    rs_buf_printf(b, "<text clip-path=\"url(#%s-l)\" x=\"%d\" y=\"%d\">", l->id, l->label_x,
                  y + 11);
    esc_fit(b, bs->v[i].label, LABEL_CHARS);
    rs_buf_puts(b, "</text>");
}

/* A horizontal bar chart of accuracies (0-100%) with Wilson 95% whiskers. */
static void svg_chart(rs_buf_t *b, const char *id, const char *title, const bars_t *bs)
{
    layout_t l = chart_layout(id, bs);
    rs_buf_printf(b,
                  "<svg id=\"%s\" class=\"chart\" xmlns=\"http://www.w3.org/2000/svg\" "
                  "role=\"img\" aria-label=\"%s\" viewBox=\"0 0 %d %d\" width=\"%d\" "
                  "height=\"%d\">\n<title>%s</title>\n",
                  id, title, l.width, l.height, l.width, l.height, title);
    chart_clips(b, &l);
    chart_axis(b, &l);
    int y = TOP;
    for (size_t i = 0; i < bs->n; i++) {
        if (i > 0 && new_group(bs, i)) y += GROUP_GAP;
        chart_labels(b, &l, bs, i, y);
        chart_bar(b, &l, &bs->v[i], y);
        y += ROW_H;
    }
    rs_buf_puts(b, "</svg>\n");
}

/* ---- sections ---- */

static void header_dataset(rs_buf_t *b, json_t *ds)
{
    fact_open_wide(b, "dataset-path", "dataset");
    rs_buf_puts(b, "<code>");
    esc(b, coord_jstr(ds, "path"));
    rs_buf_puts(b, "</code>");
    fact_close(b);
    const char *sha = coord_jstr(ds, "sha256");
    fact_open(b, "dataset-sha256", "dataset sha256");
    rs_buf_puts(b, "<code");
    attr(b, "title", sha);
    rs_buf_putc(b, '>');
    esc_fit(b, sha, 13);
    rs_buf_puts(b, "</code>");
    fact_close(b);
    fact_int(b, "cases", "cases", coord_jint(ds, "cases"));
    fact_int(b, "skipped-lines", "skipped lines", coord_jint(ds, "skipped_lines"));
    if (coord_jint(ds, "missing_results"))
        fact_int(b, "missing-results", "missing results", coord_jint(ds, "missing_results"));
}

static void header_timing(rs_buf_t *b, json_t *report)
{
    if (json_is_number(json_object_get(report, "wall_seconds"))) {
        fact_open(b, "wall-seconds", "wall time");
        rs_buf_printf(b, "%.2f s", coord_jnum(report, "wall_seconds"));
        fact_close(b);
    }
    if (json_is_number(json_object_get(report, "cases_per_second"))) {
        fact_open(b, "cases-per-second", "throughput");
        rs_buf_printf(b, "%.0f cases/s", coord_jnum(report, "cases_per_second"));
        fact_close(b);
    }
    if (coord_jint(report, "started_at_ms") > 0) {
        fact_open(b, "started-at", "started");
        put_time_ms(b, coord_jint(report, "started_at_ms"));
        fact_close(b);
    }
}

static void sec_header(rs_buf_t *b, json_t *report, json_t *run_id)
{
    rs_buf_puts(b, "<header>\n<h1>reasonsaver report: ");
    esc(b, json_string_value(run_id));
    rs_buf_puts(b, "</h1>\n");
    if (json_is_true(json_object_get(report, "simulated")))
        rs_buf_puts(b, "<div class=\"banner\" id=\"simulated-banner\" role=\"note\"><strong>"
                       "Simulated</strong>: outputs of <code>sim</code> models come from "
                       "reasonsaver's built-in simulated model, not a language model.</div>\n");
    json_t *bad = json_object_get(report, "corrupted");
    if (json_integer_value(json_object_get(bad, "count")) > 0) {
        rs_buf_printf(b, "<div class=\"banner\" id=\"corrupted-banner\" role=\"alert\"><strong>"
                         "Warning: %lld corrupted record(s)</strong>: their stored bytes fail their "
                         "checksum or checks (cases",
                      (long long)json_integer_value(json_object_get(bad, "count")));
        size_t i;
        json_t *c;
        json_array_foreach(json_object_get(bad, "cases"), i, c)
            rs_buf_printf(b, "%s %lld", i ? "," : "", (long long)json_integer_value(c));
        rs_buf_puts(b, "). They are left out of the counts; <code>reasonsaver resume ");
        esc(b, json_string_value(run_id));
        rs_buf_puts(b, "</code> runs them again.</div>\n");
    }
    rs_buf_puts(b, "<dl class=\"facts\">\n");
    fact_open_wide(b, "run-id", "run");
    esc(b, json_string_value(run_id));
    fact_close(b);
    fact_open(b, "status", "status");
    esc(b, coord_jstr(report, "status"));
    fact_close(b);
    json_t *ds = json_object_get(report, "dataset");
    if (json_is_object(ds)) header_dataset(b, ds);
    header_timing(b, report);
    rs_buf_puts(b, "</dl>\n</header>\n");
}

/* report.json's gates (gates.h): value, bounds and outcome of each. */
static void sec_gates(rs_buf_t *b, json_t *report, json_t *gates)
{
    static const char *const cols[] = {"gate", "#value", "#min", "#max", "result", NULL};
    size_t i;
    json_t *g;
    (void)report;
    if (json_array_size(gates) == 0) return;
    rs_buf_puts(b, "<section id=\"gates\">\n<h2>Gates</h2>\n<p class=\"note\">A gate passes "
                   "when min &lt;= value &lt;= max; the run exits 3 when one fails.</p>\n");
    table_open(b, "table-gates", cols);
    json_array_foreach(gates, i, g) {
        cell_key_t k = {.model = json_string_value(json_object_get(g, "model")),
                        .grader = json_string_value(json_object_get(g, "grader")),
                        .strategy = json_string_value(json_object_get(g, "strategy"))};
        int passed = json_is_true(json_object_get(g, "passed"));
        rs_buf_printf(b, "<tr data-passed=\"%s\">", passed ? "true" : "false");
        td_text(b, coord_jstr(g, "name"));
        td_real(b, &k, "value", json_object_get(g, "value"), -6);
        td_real(b, &k, "min", json_object_get(g, "min"), -6);
        td_real(b, &k, "max", json_object_get(g, "max"), -6);
        if (passed) {
            td_text(b, "passed");
        } else {
            rs_buf_puts(b, "<td><strong>failed</strong>: ");
            esc(b, coord_jstr(g, "why"));
            rs_buf_puts(b, "</td>");
        }
        rs_buf_puts(b, "</tr>\n");
    }
    table_close(b);
    rs_buf_puts(b, "</section>\n");
}

static void sec_accuracy(rs_buf_t *b, json_t *report, json_t *models)
{
    static const char *const cols[] = {"model", "grader", COUNT_COLS, NULL};
    bars_t bs = {0};
    size_t i, j;
    json_t *m, *g;
    json_array_foreach(models, i, m)
    {
        const char *name = coord_jstr(m, "name");
        json_array_foreach(json_object_get(m, "graders"), j, g)
            bars_add(&bs, (bar_t){name, coord_jstr(g, "name"), g, i,
                                  {.model = name, .grader = coord_jstr(g, "name")}});
    }
    if (bs.n == 0) return;
    rs_buf_puts(b, "<section id=\"accuracy\">\n<h2>Accuracy</h2>\n<p class=\"note\">Accuracy = "
                   "correct / (correct + wrong); the whiskers are Wilson 95% intervals. Failed "
                   "model calls count as errors, apart, never as wrong answers.</p>\n");
    svg_chart(b, "chart-accuracy", "Accuracy per model and grader, with 95% intervals", &bs);
    table_open(b, "table-accuracy", cols);
    for (size_t k = 0; k < bs.n; k++) {
        rs_buf_puts(b, "<tr>");
        td_text(b, bs.v[k].key.model);
        td_text(b, bs.v[k].key.grader);
        counts_cells(b, &bs.v[k].key, bs.v[k].counts);
        rs_buf_puts(b, "</tr>\n");
    }
    table_close(b);
    rs_buf_puts(b, "</section>\n");
    free(bs.v);
}

/* "http_429: 3, timeout: 1", or a dash. */
static void put_reasons(rs_buf_t *b, json_t *reasons)
{
    const char *k;
    json_t *v;
    int first = 1;
    json_object_foreach(reasons, k, v)
    {
        if (!first) rs_buf_puts(b, ", ");
        esc(b, k);
        rs_buf_puts(b, ": ");
        put_int(b, (long long)json_integer_value(v));
        first = 0;
    }
    if (first) rs_buf_puts(b, "\xE2\x80\x94");
}

static void models_latency(rs_buf_t *b, const cell_key_t *k, json_t *lat)
{
    static const char *const stats[] = {"mean", "p50", "p95", "max"};
    for (size_t i = 0; i < RS_ARRAY_LEN(stats); i++) {
        char metric[32];
        snprintf(metric, sizeof(metric), "latency_%s", stats[i]);
        td_num(b, k, metric);
        if (json_is_number(json_object_get(lat, stats[i])))
            rs_buf_printf(b, "%.1f", coord_jnum(lat, stats[i]));
        else
            rs_buf_puts(b, "\xE2\x80\x94");
        rs_buf_puts(b, "</td>");
    }
}

/* Input and output tokens, cost, and latency mean / p50 / p95 / max of a model or a stage. */
static void usage_cells(rs_buf_t *b, const cell_key_t *k, json_t *o)
{
    td_int(b, k, "input_tokens", coord_jint(o, "input_tokens"));
    td_int(b, k, "output_tokens", coord_jint(o, "output_tokens"));
    td_num(b, k, "cost_usd");
    rs_buf_printf(b, "$%.4f</td>", coord_jnum(o, "cost_usd"));
    models_latency(b, k, json_object_get(o, "latency_ms"));
}

static void models_row(rs_buf_t *b, json_t *m)
{
    cell_key_t k = {.model = coord_jstr(m, "name")};
    rs_buf_puts(b, "<tr>");
    td_text(b, k.model);
    td_text(b, coord_jstr(m, "provider"));
    td_text(b, coord_jstr(m, "model"));
    td_int(b, &k, "cases", coord_jint(m, "cases"));
    td_int(b, &k, "errors", coord_jint(m, "errors"));
    rs_buf_puts(b, "<td data-metric=\"errors_by_reason\">");
    put_reasons(b, json_object_get(m, "errors_by_reason"));
    rs_buf_puts(b, "</td>");
    usage_cells(b, &k, m);
    rs_buf_puts(b, "</tr>\n");
}

/* One model's stages (generate, critique, revise): outputs, tokens, cost and latency. */
static void stages_rows(rs_buf_t *b, json_t *m)
{
    const char *name;
    json_t *st;
    json_object_foreach(json_object_get(m, "stages"), name, st)
    {
        cell_key_t k = {.model = coord_jstr(m, "name"), .stage = name};
        rs_buf_puts(b, "<tr>");
        td_text(b, k.model);
        td_text(b, name);
        td_int(b, &k, "outputs", coord_jint(st, "outputs"));
        usage_cells(b, &k, st);
        rs_buf_puts(b, "</tr>\n");
    }
}

/* Tokens, cost and latency by stage, when some model did more than generate. */
static void stages_table(rs_buf_t *b, json_t *models)
{
    static const char *const cols[] = {"model",          "stage", "#outputs", "#input tokens",
                                       "#output tokens", "#cost USD", "#latency mean ms",
                                       "#p50",           "#p95",  "#max",     NULL};
    size_t i;
    json_t *m;
    if (!coord_has_chain_stages(models)) return;
    rs_buf_puts(b, "<p class=\"note\">By stage: a model's critiques are those it wrote as a judge, "
                   "of any model's answers. The tokens and cost above are the sum of its stages; its "
                   "latency is its generations'.</p>\n");
    table_open(b, "table-stages", cols);
    json_array_foreach(models, i, m) stages_rows(b, m);
    table_close(b);
}

/* The response cache's hits, misses and savings per model (those that are not simulated). */
static void cache_table(rs_buf_t *b, json_t *models)
{
    static const char *const cols[] = {"model", "#cache hits", "#misses", "#saved USD", NULL};
    size_t i;
    json_t *m, *c;
    int any = 0;
    json_array_foreach(models, i, m) any |= json_is_object(json_object_get(m, "cache"));
    if (!any) return;
    rs_buf_puts(b, "<p class=\"note\">Response cache: answers, critiques and revisions given "
                   "without a request; their tokens are counted above, their cost is not.</p>\n");
    table_open(b, "table-cache", cols);
    json_array_foreach(models, i, m)
    {
        if (!json_is_object(c = json_object_get(m, "cache"))) continue;
        cell_key_t k = {.model = coord_jstr(m, "name")};
        rs_buf_puts(b, "<tr>");
        td_text(b, k.model);
        td_int(b, &k, "cache_hits", coord_jint(c, "hits"));
        td_int(b, &k, "cache_misses", coord_jint(c, "misses"));
        td_num(b, &k, "cache_saved_usd");
        rs_buf_printf(b, "$%.4f</td></tr>\n", coord_jnum(c, "saved_usd"));
    }
    table_close(b);
}

/* The model ids the servers said they served, per model, with how many answers each gave, and
 * the reasoning tokens; only models whose responses said (a provider that swapped models shows
 * two ids). */
static void served_table(rs_buf_t *b, json_t *models)
{
    static const char *const cols[] = {"model", "asked for", "served (answers)",
                                       "#reasoning tokens", NULL};
    size_t i;
    json_t *m, *n;
    const char *id;
    int any = 0;
    json_array_foreach(models, i, m) any |= json_object_size(json_object_get(m, "served_models")) > 0;
    if (!any) return;
    table_open(b, "table-served", cols);
    json_array_foreach(models, i, m)
    {
        json_t *served = json_object_get(m, "served_models");
        if (!json_object_size(served)) continue;
        cell_key_t k = {.model = coord_jstr(m, "name")};
        rs_buf_puts(b, "<tr>");
        td_text(b, k.model);
        td_text(b, coord_jstr(m, "model"));
        rs_buf_puts(b, "<td>");
        size_t j = 0;
        json_object_foreach(served, id, n) {
            if (j++) rs_buf_puts(b, ", ");
            esc(b, id);
            rs_buf_printf(b, " (%lld)", (long long)json_integer_value(n));
        }
        rs_buf_puts(b, "</td>");
        td_int(b, &k, "reasoning_tokens", coord_jint(m, "reasoning_tokens"));
        rs_buf_puts(b, "</tr>\n");
    }
    table_close(b);
}

/* The exec graders' mean scores and error types (docs/GRADERS.md), when the run has any. */
static void exec_table(rs_buf_t *b, json_t *models)
{
    static const char *const cols[] = {"model", "exec grader", "#mean score", "errors by reason",
                                       NULL};
    size_t i, j;
    json_t *m, *g;
    int any = 0;
    json_array_foreach(models, i, m) json_array_foreach(json_object_get(m, "graders"), j, g)
        any |= json_is_object(json_object_get(g, "errors_by_reason"));
    if (!any) return;
    rs_buf_puts(b, "<p class=\"note\">Exec graders: each error's reason is in the record's "
                   "grade_details (results.jsonl).</p>\n");
    table_open(b, "table-exec", cols);
    json_array_foreach(models, i, m) json_array_foreach(json_object_get(m, "graders"), j, g)
    {
        if (!json_is_object(json_object_get(g, "errors_by_reason"))) continue;
        cell_key_t k = {.model = coord_jstr(m, "name"), .grader = coord_jstr(g, "name")};
        rs_buf_puts(b, "<tr>");
        td_text(b, k.model);
        td_text(b, k.grader);
        td_num(b, &k, "score_mean");
        json_t *mean = json_object_get(g, "score_mean");
        if (json_is_number(mean)) rs_buf_printf(b, "%.3f", json_number_value(mean));
        else rs_buf_puts(b, "\xE2\x80\x94");
        rs_buf_puts(b, "</td><td data-metric=\"errors_by_reason\">");
        put_reasons(b, json_object_get(g, "errors_by_reason"));
        rs_buf_puts(b, "</td></tr>\n");
    }
    table_close(b);
}

static void sec_models(rs_buf_t *b, json_t *report, json_t *models)
{
    static const char *const cols[] = {"model",         "provider",
                                       "model id",      "#cases",
                                       "#errors",       "errors by reason",
                                       "#input tokens", "#output tokens",
                                       "#cost USD",     "#latency mean ms",
                                       "#p50",          "#p95",
                                       "#max",          NULL};
    size_t i;
    json_t *m;
    if (json_array_size(models) == 0) return;
    rs_buf_puts(b, "<section id=\"models\">\n<h2>Models</h2>\n");
    table_open(b, "table-models", cols);
    json_array_foreach(models, i, m) models_row(b, m);
    table_close(b);
    served_table(b, models);
    stages_table(b, models);
    cache_table(b, models);
    exec_table(b, models);
    rs_buf_puts(b, "</section>\n");
}

/* Past this many tags the chart would be too tall to read; the table still lists every tag. */
enum { TAG_CHART_MAX = 40 };

static void tags_chart(rs_buf_t *b, json_t *tags)
{
    bars_t bs = {0};
    size_t i, j;
    json_t *t, *m;
    const char *grader = NULL;
    json_array_foreach(tags, i, t)
    {
        if (i == TAG_CHART_MAX) break;
        json_array_foreach(json_object_get(t, "models"), j, m)
        {
            json_t *g = json_array_get(json_object_get(m, "graders"), 0);
            if (!g) continue;
            if (!grader) grader = coord_jstr(g, "name");
            bars_add(&bs, (bar_t){coord_jstr(t, "tag"),
                                  coord_jstr(m, "name"),
                                  g,
                                  j,
                                  {.tag = coord_jstr(t, "tag"),
                                   .model = coord_jstr(m, "name"),
                                   .grader = coord_jstr(g, "name")}});
        }
    }
    if (bs.n == 0) return;
    rs_buf_puts(b, "<p class=\"note\">Accuracy by tag, grader <code>");
    esc(b, grader);
    rs_buf_puts(b, "</code>");
    if (json_array_size(tags) > TAG_CHART_MAX)
        rs_buf_printf(b, "; the first %d of %zu tags (all are in the table)", TAG_CHART_MAX,
                      json_array_size(tags));
    rs_buf_puts(b, ".</p>\n<ul class=\"legend\">");
    json_array_foreach(json_object_get(json_array_get(tags, 0), "models"), j, m)
    {
        rs_buf_printf(b, "<li><span class=\"sw\" style=\"background:%s\"></span>", colour(j));
        esc(b, coord_jstr(m, "name"));
        rs_buf_puts(b, "</li>");
    }
    rs_buf_puts(b, "</ul>\n");
    svg_chart(b, "chart-tags", "Accuracy by tag and model, with 95% intervals", &bs);
    free(bs.v);
}

static size_t tag_rows(json_t *t)
{
    size_t n = 0, j;
    json_t *m;
    json_array_foreach(json_object_get(t, "models"), j, m) n +=
        json_array_size(json_object_get(m, "graders"));
    return n;
}

/* One tbody per tag, the tag's name spanning its rows. */
static void tags_table_tag(rs_buf_t *b, json_t *t)
{
    size_t j, k, rows = tag_rows(t);
    json_t *m, *g;
    int first = 1;
    if (rows == 0) return;
    rs_buf_puts(b, "<tbody>");
    json_array_foreach(json_object_get(t, "models"), j, m)
        json_array_foreach(json_object_get(m, "graders"), k, g)
    {
        cell_key_t key = {.tag = coord_jstr(t, "tag"),
                          .model = coord_jstr(m, "name"),
                          .grader = coord_jstr(g, "name")};
        rs_buf_puts(b, "<tr>");
        if (first) {
            rs_buf_printf(b, "<th scope=\"rowgroup\" rowspan=\"%zu\">", rows);
            esc(b, key.tag);
            rs_buf_puts(b, "</th>");
            first = 0;
        }
        td_text(b, key.model);
        td_text(b, key.grader);
        counts_cells(b, &key, g);
        rs_buf_puts(b, "</tr>\n");
    }
    rs_buf_puts(b, "</tbody>\n");
}

static void sec_tags(rs_buf_t *b, json_t *report, json_t *tags)
{
    static const char *const cols[] = {"tag", "model", "grader", COUNT_COLS, NULL};
    size_t i;
    json_t *t;
    if (json_array_size(tags) == 0) return;
    rs_buf_puts(b, "<section id=\"tags\">\n<h2>By tag</h2>\n");
    tags_chart(b, tags);
    table_open(b, "table-tags", cols);
    json_array_foreach(tags, i, t) tags_table_tag(b, t);
    table_close(b);
    rs_buf_puts(b, "</section>\n");
}

static void sec_reliability(rs_buf_t *b, json_t *report, json_t *rel)
{
    rs_buf_puts(b, "<section id=\"reliability\">\n<h2>Reliability</h2>\n");
    if (json_is_true(json_object_get(report, "insecure")))
        rs_buf_puts(b, "<div class=\"banner\" id=\"insecure-banner\" role=\"alert\"><strong>Insecure "
                       "run</strong> (--insecure): workers connected without CURVE on an address "
                       "other machines can reach, so any peer could read the cases and send "
                       "results.</div>\n");
    if (json_is_string(json_object_get(rel, "forced"))) {
        rs_buf_puts(b, "<div class=\"banner\" id=\"forced-banner\" role=\"note\"><strong>Resumed "
                       "with --force</strong>: ");
        esc(b, coord_jstr(rel, "forced"));
        rs_buf_puts(b, "</div>\n");
    }
    rs_buf_puts(b, "<dl class=\"facts\">\n");
    fact_int(b, "resumes", "resumes", coord_jint(rel, "resumes"));
    fact_int(b, "dispatched-cases", "cases dispatched", coord_jint(rel, "dispatched_cases"));
    fact_int(b, "redone-cases", "cases sent again", coord_jint(rel, "redone_cases"));
    json_t *keys = json_object_get(report, "worker_keys"), *k;
    size_t ki;
    if (json_array_size(keys)) {
        fact_open_wide(b, "worker-keys", "workers (CURVE keys)");
        json_array_foreach(keys, ki, k) {
            if (ki) rs_buf_puts(b, ", ");
            esc(b, json_string_value(k));
        }
        fact_close(b);
    }
    rs_buf_puts(b, "</dl>\n<p class=\"note\">Cases sent again were in flight when a worker or the "
                   "coordinator died, or their lease expired; each was paid for again.</p>\n"
                   "</section>\n");
}

static void sec_resources(rs_buf_t *b, json_t *report, json_t *res)
{
    if (coord_jint(res, "coordinator_peak_rss_kib") <= 0 &&
        coord_jint(res, "redis_used_memory_bytes") <= 0)
        return;
    rs_buf_puts(b, "<section id=\"resources\">\n<h2>Resources</h2>\n<dl class=\"facts\">\n");
    if (coord_jint(res, "coordinator_peak_rss_kib") > 0) {
        fact_open(b, "coordinator-peak-rss", "coordinator peak RSS");
        put_bytes(b, 1024.0 * (double)coord_jint(res, "coordinator_peak_rss_kib"));
        fact_close(b);
    }
    if (coord_jint(res, "redis_used_memory_bytes") > 0) {
        fact_open(b, "redis-used-memory", "Redis memory");
        put_bytes(b, (double)coord_jint(res, "redis_used_memory_bytes"));
        fact_close(b);
        fact_open(b, "redis-bytes-per-case", "Redis memory per case");
        put_bytes(b, coord_jnum(res, "redis_bytes_per_case"));
        fact_close(b);
    }
    rs_buf_puts(b, "</dl>\n</section>\n");
}

/* ---- ranking strategies, revision rounds ---- */

/* The McNemar cells of a strategy's first-grader row: b, c and the exact p; dashes elsewhere. */
static void mcnemar_cells(rs_buf_t *b, const cell_key_t *k, json_t *t)
{
    if (!json_is_object(t)) {
        rs_buf_puts(b, "<td class=\"n\">\xE2\x80\x94</td><td class=\"n\">\xE2\x80\x94</td>"
                       "<td class=\"n\">\xE2\x80\x94</td>");
        return;
    }
    td_int(b, k, "mcnemar_b", coord_jint(t, "b"));
    td_int(b, k, "mcnemar_c", coord_jint(t, "c"));
    td_real(b, k, "mcnemar_p", json_object_get(t, "exact_p"), -3);
}

static void strategies_rows(rs_buf_t *b, json_t *m)
{
    size_t j, g;
    json_t *s, *gr;
    json_array_foreach(json_object_get(m, "strategies"), j, s)
        json_array_foreach(json_object_get(s, "graders"), g, gr)
    {
        cell_key_t k = {.model = coord_jstr(m, "name"),
                        .grader = coord_jstr(gr, "name"),
                        .strategy = coord_jstr(s, "name")};
        rs_buf_puts(b, "<tr>");
        td_text(b, k.model);
        td_text(b, k.strategy);
        td_text(b, k.grader);
        counts_cells(b, &k, gr);
        mcnemar_cells(b, &k, g == 0 ? json_object_get(s, "mcnemar_vs_first") : NULL);
        rs_buf_puts(b, "</tr>\n");
    }
}

static void sec_strategies(rs_buf_t *b, json_t *report, json_t *report_models)
{
    static const char *const cols[] = {"model", "strategy", "grader",     COUNT_COLS,
                                       "#b",    "#c",       "#McNemar p", NULL};
    bars_t bs = {0};
    size_t i, j;
    json_t *m, *s, *models = json_copy(report_models);
    json_t *pool = json_object_get(json_object_get(report, "pool"), "strategies");
    if (json_is_array(pool))
        json_array_append_new(models, json_pack("{sssO}", "name", COORD_POOL_NAME, "strategies", pool));
    if (!coord_any_with_array(models, "strategies", 2)) {
        json_decref(models);
        return;
    }
    json_array_foreach(models, i, m) json_array_foreach(json_object_get(m, "strategies"), j, s)
    {
        json_t *g = json_array_get(json_object_get(s, "graders"), 0);
        if (g)
            bars_add(&bs, (bar_t){coord_jstr(m, "name"),
                                  coord_jstr(s, "name"),
                                  g,
                                  j,
                                  {.model = coord_jstr(m, "name"),
                                   .grader = coord_jstr(g, "name"),
                                   .strategy = coord_jstr(s, "name")}});
    }
    rs_buf_puts(b, "<section id=\"strategies\">\n<h2>Ranking strategies</h2>\n<p class=\"note\">"
                   "Which candidate each strategy picks, graded by the first grader, with Wilson "
                   "95% intervals. b = cases <code>first</code> got wrong and the strategy right, "
                   "c = the reverse; p is McNemar's exact test of the two.");
    if (json_is_array(pool))
        rs_buf_puts(b, " <em>" COORD_POOL_NAME "</em> ranks every model's candidates of a case "
                       "together; its <code>first</code> is the first model's first candidate.");
    rs_buf_puts(b, "</p>\n");
    svg_chart(b, "chart-strategies", "Accuracy per model and ranking strategy, with 95% intervals",
              &bs);
    table_open(b, "table-strategies", cols);
    json_array_foreach(models, i, m) strategies_rows(b, m);
    table_close(b);
    rs_buf_puts(b, "</section>\n");
    free(bs.v);
    json_decref(models);
}

static void flips_row(rs_buf_t *b, json_t *m)
{
    json_t *f = json_object_get(m, "flips"), *t = json_object_get(f, "mcnemar");
    cell_key_t k = {.model = coord_jstr(m, "name")};
    if (!json_is_object(f)) return;
    rs_buf_puts(b, "<tr>");
    td_text(b, k.model);
    td_int(b, &k, "pairs", coord_jint(f, "pairs"));
    td_int(b, &k, "wrong_to_right", coord_jint(f, "wrong_to_right"));
    td_int(b, &k, "right_to_wrong", coord_jint(f, "right_to_wrong"));
    td_real(b, &k, "mcnemar_p", json_object_get(t, "exact_p"), -3);
    rs_buf_puts(b, "</tr>\n");
}

/* Bars of round r carry the label "round r"; labels holds the texts while the chart is drawn. */
static void sec_rounds(rs_buf_t *b, json_t *report, json_t *models)
{
    static const char *const cols[] = {"model",
                                       "#cases compared",
                                       "#wrong \xE2\x86\x92 right",
                                       "#right \xE2\x86\x92 wrong",
                                       "#McNemar p",
                                       NULL};
    size_t i, j, n = 0;
    json_t *m, *r;
    if (!coord_any_with_array(models, "rounds", 2)) return;
    json_array_foreach(models, i, m) n += json_array_size(json_object_get(m, "rounds"));
    char(*labels)[2][24] = rs_xcalloc(n + 1, sizeof(*labels));
    bars_t bs = {0};
    json_array_foreach(models, i, m) json_array_foreach(json_object_get(m, "rounds"), j, r)
    {
        json_t *g = json_array_get(json_object_get(r, "graders"), 0);
        if (!g) continue;
        snprintf(labels[bs.n][0], sizeof(labels[bs.n][0]), "round %lld", coord_jint(r, "round"));
        snprintf(labels[bs.n][1], sizeof(labels[bs.n][1]), "%lld", coord_jint(r, "round"));
        bars_add(&bs, (bar_t){coord_jstr(m, "name"),
                              labels[bs.n][0],
                              g,
                              i,
                              {.model = coord_jstr(m, "name"),
                               .grader = coord_jstr(g, "name"),
                               .round = labels[bs.n][1]}});
    }
    rs_buf_puts(b,
                "<section id=\"rounds\">\n<h2>Critique and revision rounds</h2>\n<p class=\"note\">"
                "Round 0 is each model's original answer (candidate 0), round r its r-th "
                "revision after a critique, graded by the first grader. Flips compare a case's "
                "original answer with its last revision.</p>\n");
    svg_chart(b, "chart-rounds", "Accuracy per revision round, with 95% intervals", &bs);
    table_open(b, "table-flips", cols);
    json_array_foreach(models, i, m) flips_row(b, m);
    table_close(b);
    rs_buf_puts(b, "</section>\n");
    free(bs.v);
    free(labels);
}

/* ---- judges ---- */

#define QUALITY_COLS                                                                               \
    "answers", "#n", "#unparsed", "#errors", "#tp", "#fp", "#tn", "#fn", "#precision", "#recall",  \
        "#kappa", "#AUROC"

/* One row of a judge-quality table (a judge, a judging model or a rubric): two text cells, the
 * split and its QUALITY_COLS numbers, each keyed by data-judge = label and data-split. A split
 * other than "all" is left out when it is empty. */
static void quality_row(rs_buf_t *b, const char *label, const char *text0, const char *text1,
                        json_t *group, const char *split)
{
    static const char *const confusion[] = {"tp", "fp", "tn", "fn"};
    static const char *const stats[] = {"precision", "recall", "kappa", "auroc"};
    json_t *q = json_object_get(group, split), *c = json_object_get(q, "confusion");
    if (!json_is_object(q) || (strcmp(split, "all") != 0 && coord_jint(q, "n") == 0)) return;
    cell_key_t k = {.judge = label, .split = split};
    rs_buf_puts(b, "<tr>");
    td_text(b, text0);
    td_text(b, text1);
    td_text(b, split);
    td_int(b, &k, "n", coord_jint(q, "n"));
    td_int(b, &k, "unparsed", coord_jint(q, "unparsed"));
    td_int(b, &k, "errors", coord_jint(q, "errors"));
    for (size_t i = 0; i < RS_ARRAY_LEN(confusion); i++)
        td_int(b, &k, confusion[i], coord_jint(c, confusion[i]));
    for (size_t i = 0; i < RS_ARRAY_LEN(stats); i++)
        td_real(b, &k, stats[i], json_object_get(q, stats[i]), 3);
    rs_buf_puts(b, "</tr>\n");
}

static void quality_rows(rs_buf_t *b, const char *label, const char *text0, const char *text1,
                         json_t *group)
{
    quality_row(b, label, text0, text1, group, "all");
    quality_row(b, label, text0, text1, group, "self");
    quality_row(b, label, text0, text1, group, "cross");
}

/* Histogram geometry: a bin is two bars side by side (correct, wrong), heights the share of
 * that class's candidates, so that classes of very different sizes compare by shape. */
enum { H_LEFT = 46, H_BIN = 52, H_BAR = 20, H_PLOT = 150, H_TOP = 10, H_AXIS = 40 };

static double series_total(json_t *a)
{
    double t = 0;
    for (size_t i = 0; i < json_array_size(a); i++)
        t += (double)json_integer_value(json_array_get(a, i));
    return t;
}

static double share(json_t *a, size_t i, double total)
{
    return total > 0 ? (double)json_integer_value(json_array_get(a, i)) / total : 0;
}

static void hist_bar(rs_buf_t *b, json_t *series, size_t i, double total, double top, int x,
                     const char *cls, size_t col, size_t bins)
{
    double f = share(series, i, total), h = H_PLOT * f / top;
    rs_buf_printf(b,
                  "<rect class=\"hbar\" x=\"%d\" y=\"%.1f\" width=\"%d\" height=\"%.1f\" "
                  "fill=\"%s\" data-class=\"%s\" data-bin=\"%zu\" data-count=\"%lld\">"
                  "<title>%s, score %.1f\xE2\x80\x93%.1f: %lld (%.1f%%)</title></rect>\n",
                  x, H_TOP + H_PLOT - h, H_BAR, h, colour(col), cls, i,
                  (long long)json_integer_value(json_array_get(series, i)), cls,
                  (double)i / (double)bins, (double)(i + 1) / (double)bins,
                  (long long)json_integer_value(json_array_get(series, i)), 100 * f);
}

static void svg_histogram(rs_buf_t *b, const char *id, json_t *hist)
{
    json_t *cor = json_object_get(hist, "correct"), *wr = json_object_get(hist, "wrong");
    size_t bins = json_array_size(cor);
    if (bins == 0 || json_array_size(wr) != bins) return;
    double tc = series_total(cor), tw = series_total(wr), top = 0;
    for (size_t i = 0; i < bins; i++) {
        if (share(cor, i, tc) > top) top = share(cor, i, tc);
        if (share(wr, i, tw) > top) top = share(wr, i, tw);
    }
    top = top > 0 ? ceil(top * 10 - 1e-9) / 10 : 1;
    int width = H_LEFT + (int)bins * H_BIN + 16, height = H_TOP + H_PLOT + H_AXIS;
    rs_buf_printf(b,
                  "<svg id=\"%s\" class=\"chart hist\" xmlns=\"http://www.w3.org/2000/svg\" "
                  "role=\"img\" aria-label=\"Judge scores of correct and wrong answers\" "
                  "viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\">\n"
                  "<title>Judge scores of correct and wrong answers</title>\n",
                  id, width, height, width, height);
    for (int t = 0; t <= 2; t++) {
        double y = H_TOP + H_PLOT - H_PLOT * t / 2.0;
        rs_buf_printf(
            b,
            "<line class=\"%s\" x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\"/>"
            "<text class=\"tick\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.0f%%</text>\n",
            t ? "grid" : "axis", H_LEFT, width - 8, y, y, H_LEFT - 6, y + 4, 100 * top * t / 2);
    }
    for (size_t i = 0; i < bins; i++) {
        int x = H_LEFT + (int)i * H_BIN + 5;
        hist_bar(b, cor, i, tc, top, x, "correct", 0, bins);
        hist_bar(b, wr, i, tw, top, x + H_BAR + 2, "wrong", 1, bins);
    }
    for (size_t i = 0; i <= bins; i += 2)
        rs_buf_printf(b,
                      "<text class=\"tick\" x=\"%d\" y=\"%d\" text-anchor=\"middle\">%.1f</text>",
                      H_LEFT + (int)i * H_BIN, H_TOP + H_PLOT + 16, (double)i / (double)bins);
    rs_buf_printf(b,
                  "\n<text class=\"tick\" x=\"%d\" y=\"%d\" text-anchor=\"middle\">judge score"
                  "</text>\n</svg>\n",
                  H_LEFT + (int)bins * H_BIN / 2, H_TOP + H_PLOT + 34);
}

static void judge_histogram(rs_buf_t *b, json_t *j, size_t i)
{
    json_t *q = json_object_get(j, "all"), *hist = json_object_get(q, "histogram");
    if (!json_is_object(hist)) return;
    rs_buf_puts(b, "<figure class=\"judge-hist\"><figcaption>Judge <code>");
    esc(b, coord_jstr(j, "name"));
    rs_buf_printf(b,
                  "</code>: scores of the answers the first grader marked correct "
                  "(<span class=\"sw\" style=\"background:%s\"></span>",
                  colour(0));
    put_int(b, (long long)series_total(json_object_get(hist, "correct")));
    rs_buf_printf(b, ") and wrong (<span class=\"sw\" style=\"background:%s\"></span>", colour(1));
    put_int(b, (long long)series_total(json_object_get(hist, "wrong")));
    rs_buf_puts(b, "), as shares of each</figcaption>\n");
    char id[32];
    snprintf(id, sizeof(id), "hist-judge-%zu", i);
    svg_histogram(b, id, hist);
    rs_buf_puts(b, "</figure>\n");
}

/* table-judge-models: one group per judging model, data-judge = the model. */
static void judge_models_table(rs_buf_t *b, json_t *groups)
{
    static const char *const cols[] = {"model", "judges", QUALITY_COLS, NULL};
    rs_buf_t names;
    size_t i;
    json_t *g;
    rs_buf_init(&names);
    rs_buf_puts(b, "<h3>By judging model</h3>\n");
    table_open(b, "table-judge-models", cols);
    json_array_foreach(groups, i, g)
    {
        rs_buf_reset(&names);
        coord_join_strings(&names, json_object_get(g, "judges"), ", ");
        quality_rows(b, coord_jstr(g, "model"), coord_jstr(g, "model"),
                     names.data ? names.data : "", g);
    }
    table_close(b);
    rs_buf_cleanup(&names);
}

/* table-rubrics: one group per distinct rubric, data-judge = "rubric-<i>" (the entry's index in
 * report.json's rubrics); the rubric's principles are shown joined by "; ". */
static void rubrics_table(rs_buf_t *b, json_t *groups)
{
    static const char *const cols[] = {"rubric", "judges", QUALITY_COLS, NULL};
    rs_buf_t rubric, names;
    size_t i;
    json_t *g;
    rs_buf_init(&rubric);
    rs_buf_init(&names);
    rs_buf_puts(b, "<h3>By rubric</h3>\n");
    table_open(b, "table-rubrics", cols);
    json_array_foreach(groups, i, g)
    {
        char label[32];
        snprintf(label, sizeof(label), "rubric-%zu", i);
        rs_buf_reset(&rubric);
        rs_buf_reset(&names);
        coord_join_strings(&rubric, json_object_get(g, "rubric"), "; ");
        if (rubric.len == 0) rs_buf_puts(&rubric, "(none)");
        coord_join_strings(&names, json_object_get(g, "judges"), ", ");
        quality_rows(b, label, rubric.data, names.data ? names.data : "", g);
    }
    table_close(b);
    rs_buf_cleanup(&rubric);
    rs_buf_cleanup(&names);
}

static void sec_judges(rs_buf_t *b, json_t *report, json_t *judges)
{
    static const char *const cols[] = {"judge", "model", QUALITY_COLS, NULL};
    json_t *models = json_object_get(report, "judge_models"),
           *rubrics = json_object_get(report, "rubrics");
    size_t i;
    json_t *j;
    if (json_array_size(judges) == 0) return;
    rs_buf_puts(b, "<section id=\"judges\">\n<h2>Judges</h2>\n<p class=\"note\">Each judge's "
                   "verdicts held against the first grader's (positive = correct): "
                   "<code>self</code> counts a model judging its own answers, <code>cross</code> "
                   "another model's. Unparsed verdicts and failed judge calls are counted apart."
                   "</p>\n");
    table_open(b, "table-judges", cols);
    json_array_foreach(judges, i, j)
    {
        const char *model =
            json_is_string(json_object_get(j, "model")) ? coord_jstr(j, "model") : "?";
        quality_rows(b, coord_jstr(j, "name"), coord_jstr(j, "name"), model, j);
    }
    table_close(b);
    /* with one judge, its model's and its rubric's rows would repeat its own */
    if (json_array_size(judges) > 1 && json_array_size(models) > 0) judge_models_table(b, models);
    if (json_array_size(judges) > 1 && json_array_size(rubrics) > 0) rubrics_table(b, rubrics);
    json_array_foreach(judges, i, j) judge_histogram(b, j, i);
    rs_buf_puts(b, "</section>\n");
}

/* ---- failure clusters, near-duplicate prompts ---- */

enum { EXAMPLE_CHARS = 600, PROMPT_CHARS = 120 };

static void cluster_example(rs_buf_t *b, json_t *e)
{
    rs_buf_puts(b, "<li><code class=\"case\">");
    esc(b, coord_jstr(e, "case_id"));
    rs_buf_puts(b, "</code> \xC2\xB7 ");
    esc(b, coord_jstr(e, "model"));
    rs_buf_puts(b, "<pre>");
    esc_fit(b, coord_jstr(e, "output"), EXAMPLE_CHARS);
    rs_buf_puts(b, "</pre>");
    if (json_is_string(json_object_get(e, "thinking"))) { /* shown apart: it is never graded */
        rs_buf_puts(b, "<details class=\"thinking\"><summary>thinking (not graded)</summary><pre>");
        esc_fit(b, coord_jstr(e, "thinking"), EXAMPLE_CHARS);
        rs_buf_puts(b, "</pre></details>");
    }
    rs_buf_puts(b, "</li>\n");
}

static void sec_clusters(rs_buf_t *b, json_t *report, json_t *clusters)
{
    json_t *f = json_object_get(report, "failures"), *c, *e;
    size_t i, j;
    if (json_array_size(clusters) == 0) return;
    rs_buf_puts(b, "<section id=\"clusters\">\n<h2>Failure clusters</h2>\n<p class=\"note\">");
    put_int(b, coord_jint(f, "total"));
    rs_buf_puts(b, " answers the first grader marked wrong");
    if (coord_jint(f, "sampled") < coord_jint(f, "total")) {
        rs_buf_puts(b, " (a random sample of ");
        put_int(b, coord_jint(f, "sampled"));
        rs_buf_puts(b, " clustered)");
    }
    rs_buf_puts(b, ", grouped by their hash embeddings with k-means++; the examples are the "
                   "answers nearest each cluster's centre.</p>\n");
    json_array_foreach(clusters, i, c)
    {
        rs_buf_printf(b,
                      "<div class=\"cluster\" id=\"cluster-%zu\" data-size=\"%lld\"><h3>"
                      "Cluster %zu: ",
                      i + 1, coord_jint(c, "size"), i + 1);
        put_int(b, coord_jint(c, "size"));
        rs_buf_printf(b, " answers (%.1f%%)</h3>\n<ul>\n", 100 * coord_jnum(c, "share"));
        json_array_foreach(json_object_get(c, "examples"), j, e) cluster_example(b, e);
        rs_buf_puts(b, "</ul></div>\n");
    }
    rs_buf_puts(b, "</section>\n");
}

static void near_dup_row(rs_buf_t *b, json_t *p)
{
    rs_buf_puts(b, "<tr>");
    td_text(b, coord_jstr(p, "a"));
    td_text(b, coord_jstr(p, "b"));
    td_real(b, &(cell_key_t){0}, "similarity", json_object_get(p, "similarity"), 3);
    rs_buf_puts(b, "<td>");
    esc_fit(b, coord_jstr(p, "a_text"), PROMPT_CHARS);
    rs_buf_puts(b, "</td><td>");
    esc_fit(b, coord_jstr(p, "b_text"), PROMPT_CHARS);
    rs_buf_puts(b, "</td></tr>\n");
}

static void sec_near_dups(rs_buf_t *b, json_t *report, json_t *d)
{
    static const char *const cols[] = {"case a",   "case b",   "#similarity",
                                       "prompt a", "prompt b", NULL};
    size_t i;
    json_t *p;
    rs_buf_puts(b, "<section id=\"near-duplicates\">\n<h2>Near-duplicate prompts</h2>\n"
                   "<p class=\"note\">");
    rs_buf_puts(b, "<span id=\"near-dup-total\">");
    put_int(b, coord_jint(d, "total"));
    rs_buf_printf(b, "</span> pair(s) of prompts with cosine similarity \xE2\x89\xA5 %.2f among ",
                  coord_jnum(d, "threshold"));
    put_int(b, coord_jint(d, "cases"));
    rs_buf_printf(b, " cases%s (hash embeddings).</p>\n",
                  json_is_true(json_object_get(d, "capped")) ? " (the first ones only)" : "");
    if (json_array_size(json_object_get(d, "pairs")) > 0) {
        table_open(b, "table-near-dups", cols);
        json_array_foreach(json_object_get(d, "pairs"), i, p) near_dup_row(b, p);
        table_close(b);
    }
    rs_buf_puts(b, "</section>\n");
}

/* ---- concurrency ---- */

#define C_LEFT 48
#define C_PLOT_W 560
#define C_TOP 12
#define C_PLOT_H 120
#define C_AXIS 34

/* The cap as a step line over the run: x the offset (to the run's end), y the cap from 0. */
static void cap_chart(rs_buf_t *b, const char *model, size_t idx, json_t *series, double end_ms)
{
    size_t n = json_array_size(series), i;
    json_t *p;
    double top = 1;
    json_array_foreach(series, i, p) {
        double t = (double)json_integer_value(json_array_get(p, 0));
        double cap = (double)json_integer_value(json_array_get(p, 1));
        if (t > end_ms) end_ms = t;
        if (cap > top) top = cap;
    }
    if (end_ms <= 0) end_ms = 1;
    int width = C_LEFT + C_PLOT_W + 16, height = C_TOP + C_PLOT_H + C_AXIS;
    rs_buf_printf(b, "<svg id=\"chart-concurrency-%zu\" class=\"chart\" "
                     "xmlns=\"http://www.w3.org/2000/svg\" role=\"img\"", idx);
    attr(b, "aria-label", model);
    rs_buf_printf(b, " viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\">\n<title>Cases in "
                     "flight allowed for ", width, height, width, height);
    esc(b, model);
    rs_buf_puts(b, " over the run</title>\n");
    for (int t = 0; t <= 2; t++) {
        double y = C_TOP + C_PLOT_H - C_PLOT_H * t / 2.0;
        rs_buf_printf(b,
                      "<line class=\"%s\" x1=\"%d\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\"/>"
                      "<text class=\"tick\" x=\"%d\" y=\"%.1f\" text-anchor=\"end\">%.0f</text>\n",
                      t ? "grid" : "axis", C_LEFT, C_LEFT + C_PLOT_W, y, y, C_LEFT - 6, y + 4,
                      top * t / 2);
    }
    rs_buf_puts(b, "<polyline class=\"cap\" fill=\"none\" stroke=\"#0072B2\" stroke-width=\"2\" "
                   "points=\"");
    double prev_y = 0;
    json_array_foreach(series, i, p) {
        double x = C_LEFT + C_PLOT_W * (double)json_integer_value(json_array_get(p, 0)) / end_ms;
        double y = C_TOP + C_PLOT_H -
                   C_PLOT_H * (double)json_integer_value(json_array_get(p, 1)) / top;
        if (i) rs_buf_printf(b, " %.1f,%.1f", x, prev_y); /* a step: the cap held until now */
        rs_buf_printf(b, "%s%.1f,%.1f", i ? " " : "", x, y);
        prev_y = y;
    }
    if (n) rs_buf_printf(b, " %d,%.1f", C_LEFT + C_PLOT_W, prev_y);
    rs_buf_printf(b, "\"/>\n<text class=\"tick\" x=\"%d\" y=\"%d\">0 s</text>"
                     "<text class=\"tick\" x=\"%d\" y=\"%d\" text-anchor=\"end\">%.1f s</text>"
                     "<text class=\"tick\" x=\"%d\" y=\"%d\" text-anchor=\"middle\">time into "
                     "the run</text>\n</svg>\n",
                  C_LEFT, C_TOP + C_PLOT_H + 16, C_LEFT + C_PLOT_W, C_TOP + C_PLOT_H + 16,
                  end_ms / 1000.0, C_LEFT + C_PLOT_W / 2, C_TOP + C_PLOT_H + 30);
}

/* Each model's cluster-wide cap on cases in flight (adaptive: AIMD on the server's 429s and
 * 503s) and the pauses its Retry-After asked for. */
static void sec_concurrency(rs_buf_t *b, json_t *report, json_t *conc)
{
    rs_buf_puts(b, "<section id=\"concurrency\">\n<h2>Concurrency</h2>\n");
    const char *model;
    json_t *m;
    size_t idx = 0;
    json_object_foreach(conc, model, m) {
        rs_buf_puts(b, "<h3>");
        esc(b, model);
        rs_buf_puts(b, "</h3>\n<p class=\"note\">");
        if (json_is_true(json_object_get(m, "adaptive")))
            rs_buf_printf(b,
                          "Adaptive cap %lld to %lld cases in flight: ended at %lld, lowest %lld; "
                          "%lld decrease(s) after 429/503, %lld increase(s).",
                          coord_jint(m, "floor"), coord_jint(m, "ceiling"), coord_jint(m, "cap"),
                          coord_jint(m, "min_cap"), coord_jint(m, "decreases"),
                          coord_jint(m, "increases"));
        else
            rs_buf_puts(b, "Fixed cap (concurrency.adaptive off).");
        rs_buf_printf(b,
                      " %lld 429/503 answer(s); %lld cluster-wide pause(s) for Retry-After, "
                      "%.1f s in all.</p>\n",
                      coord_jint(m, "congested"), coord_jint(m, "pauses"),
                      (double)coord_jint(m, "paused_ms") / 1000.0);
        if (json_is_true(json_object_get(m, "adaptive")))
            cap_chart(b, model, idx, json_object_get(m, "series"),
                      1000.0 * coord_jnum(report, "wall_seconds"));
        idx++;
    }
    rs_buf_puts(b, "</section>\n");
}

/* ---- the page ---- */

/* ---- the experiment (experiment.h) ---- */

static void ci_text(rs_buf_t *b, json_t *ci, double scale, const char *fmt)
{
    if (json_array_size(ci) != 2) {
        rs_buf_puts(b, "\xE2\x80\x94");
        return;
    }
    rs_buf_printf(b, fmt, scale * json_number_value(json_array_get(ci, 0)),
                  scale * json_number_value(json_array_get(ci, 1)));
}

/* One matrix cell: shaded by accuracy (light = low, dark = high), the best one marked. */
static void matrix_cell(rs_buf_t *b, json_t *c)
{
    json_t *acc = json_object_get(c, "accuracy");
    int best = json_is_true(json_object_get(c, "best"));
    cell_key_t k = {.model = coord_jstr(c, "model"), .strategy = "first"};
    rs_buf_puts(b, best ? "<td class=\"n heat best\"" : "<td class=\"n heat\"");
    key_attrs(b, &k);
    attr(b, "data-prompt", coord_jstr(c, "prompt"));
    attr(b, "data-metric", "accuracy");
    if (json_is_number(acc))
        rs_buf_printf(b, " style=\"background:hsl(210,70%%,%.0f%%)\"",
                      95 - 40 * json_number_value(acc));
    rs_buf_putc(b, '>');
    if (json_is_number(acc))
        put_pct(b, json_number_value(acc));
    else
        rs_buf_puts(b, "n/a");
    rs_buf_puts(b, "<br><small>");
    ci_text(b, json_object_get(c, "ci95"), 100, "%.1f\xE2\x80\x93%.1f");
    rs_buf_puts(b, best ? " \xE2\x98\x85 best</small></td>" : "</small></td>");
}

static void exp_matrix(rs_buf_t *b, json_t *x)
{
    json_t *cells = json_object_get(x, "matrix"), *models = json_object_get(x, "models"), *m, *p;
    size_t i, j, n_models = json_array_size(models);
    if (!json_array_size(cells) || !n_models) return;
    rs_buf_puts(b, "<h3>Prompts \xC3\x97 models</h3>\n<div class=\"scroll\"><table "
                   "id=\"table-matrix\"><thead><tr><th>prompt</th>");
    json_array_foreach(models, i, m)
    {
        rs_buf_puts(b, "<th class=\"n\">");
        esc(b, coord_jstr(m, "model"));
        rs_buf_puts(b, "</th>");
    }
    rs_buf_puts(b, "</tr></thead>\n<tbody>");
    json_array_foreach(json_object_get(x, "prompts"), i, p)
    {
        rs_buf_puts(b, "<tr><th>");
        esc(b, json_string_value(p));
        rs_buf_puts(b, "</th>");
        for (j = 0; j < n_models; j++) matrix_cell(b, json_array_get(cells, i * n_models + j));
        rs_buf_puts(b, "</tr>\n");
    }
    rs_buf_puts(b, "</tbody></table></div>\n");
}

static void epochs_row(rs_buf_t *b, json_t *m)
{
    cell_key_t k = {.model = coord_jstr(m, "model")};
    json_t *pk = json_object_get(json_object_get(m, "pass_at_k"), "values"), *v;
    size_t j, n_pk = json_array_size(pk);
    rs_buf_puts(b, "<tr>");
    td_text(b, k.model);
    td_int(b, &k, "units", coord_jint(m, "units"));
    td_real(b, &k, "accuracy", json_object_get(m, "accuracy"), 3);
    td_num(b, &k, "ci95");
    ci_text(b, json_object_get(m, "ci95"), 1, "%.3f\xE2\x80\x93%.3f");
    rs_buf_puts(b, "</td>");
    td_text(b, coord_jstr(m, "interval"));
    td_num(b, &k, "per_epoch");
    json_array_foreach(json_object_get(m, "per_epoch"), j, v)
    {
        rs_buf_puts(b, j ? ", " : "");
        coord_put_num(b, v, 3);
    }
    rs_buf_puts(b, "</td>");
    td_real(b, &k, "agreement", json_object_get(json_object_get(m, "agreement"), "rate"), 3);
    td_real(b, &k, "pass_at_1", json_array_get(pk, 0), 3);
    td_real(b, &k, "pass_at_max", json_array_get(pk, n_pk ? n_pk - 1 : 0), 3);
    rs_buf_puts(b, "</tr>\n");
}

static void exp_epochs(rs_buf_t *b, json_t *x)
{
    static const char *const cols[] = {"model",      "#units",         "#accuracy", "#95% CI",
                                       "interval",   "#per epoch",     "#epochs agree",
                                       "#pass@1",    "#pass@n\xC2\xB7K", NULL};
    size_t i;
    json_t *m;
    rs_buf_printf(b, "<h3>Each model over every prompt and epoch (%lld epoch%s)</h3>\n",
                  coord_jint(x, "epochs"), coord_jint(x, "epochs") == 1 ? "" : "s");
    table_open(b, "table-epochs", cols);
    json_array_foreach(json_object_get(x, "models"), i, m) epochs_row(b, m);
    table_close(b);
}

static void diff_rows(rs_buf_t *b, const char *family, json_t *list)
{
    size_t i;
    json_t *d;
    json_array_foreach(list, i, d)
    {
        cell_key_t k = {.model = json_string_value(json_object_get(d, "model"))};
        rs_buf_puts(b, "<tr>");
        td_text(b, family);
        td_text(b, k.model ? k.model : "");
        td_text(b, coord_jstr(d, "a"));
        td_text(b, coord_jstr(d, "b"));
        td_int(b, &k, "pairs", coord_jint(d, "pairs"));
        td_real(b, &k, "difference", json_object_get(d, "difference"), 4);
        td_num(b, &k, "ci95");
        ci_text(b, json_object_get(d, "ci95"), 1, "%+.4f\xE2\x80\x93%+.4f");
        rs_buf_puts(b, "</td>");
        td_text(b, coord_jstr(d, "method"));
        td_real(b, &k, "mcnemar_p", json_object_get(d, "mcnemar_p"), -3);
        td_real(b, &k, "holm_p", json_object_get(d, "holm_p"), -3);
        rs_buf_puts(b, "</tr>\n");
    }
}

static void exp_differences(rs_buf_t *b, json_t *x)
{
    static const char *const cols[] = {"compared", "model",   "a",          "b",       "#pairs",
                                       "#a \xE2\x88\x92 b",   "#95% CI",    "interval",
                                       "#McNemar p", "#Holm p", NULL};
    json_t *d = json_object_get(x, "differences");
    if (!json_array_size(json_object_get(d, "models")) &&
        !json_array_size(json_object_get(d, "prompts")) &&
        !json_array_size(json_object_get(d, "strategies")))
        return;
    rs_buf_puts(b, "<h3>Paired differences</h3>\n<p class=\"note\">First grader, on the pairs "
                   "both sides were graded on. The interval is Newcombe's for paired proportions, "
                   "or the clustered one where a case (or a dataset cluster) holds several pairs; "
                   "McNemar's exact p treats pairs as independent; Holm's correction is applied "
                   "within each family.</p>\n");
    table_open(b, "table-differences", cols);
    diff_rows(b, "models", json_object_get(d, "models"));
    diff_rows(b, "prompts", json_object_get(d, "prompts"));
    diff_rows(b, "strategy vs first", json_object_get(d, "strategies"));
    table_close(b);
}

static void sec_experiment(rs_buf_t *b, json_t *report, json_t *x)
{
    (void)report;
    rs_buf_puts(b, "<section id=\"experiment\">\n<h2>Experiment</h2>\n<p class=\"note\">Accuracy "
                   "of <code>first</code> under the first grader (");
    esc(b, coord_jstr(x, "grader"));
    rs_buf_puts(b, "). Intervals are Wilson's, or clustered (a case's repeats, or the dataset's "
                   "clusters, count as one cluster) where a case is asked more than once.</p>\n");
    exp_matrix(b, x);
    exp_epochs(b, x);
    exp_differences(b, x);
    rs_buf_puts(b, "</section>\n");
}

typedef void (*section_fn)(rs_buf_t *b, json_t *report, json_t *field);

/* The page, top to bottom. A section is rendered when its field is in the report with the
 * expected JSON type; a new part of the schema gets a function and a row here. */
static const struct {
    const char *field;
    json_type type;
    section_fn render;
} SECTIONS[] = {
    {"run_id", JSON_STRING, sec_header},
    {"gates", JSON_ARRAY, sec_gates},
    {"models", JSON_ARRAY, sec_accuracy},
    {"experiment", JSON_OBJECT, sec_experiment},
    {"models", JSON_ARRAY, sec_strategies},
    {"models", JSON_ARRAY, sec_rounds},
    {"judges", JSON_ARRAY, sec_judges},
    {"models", JSON_ARRAY, sec_models},
    {"tags", JSON_ARRAY, sec_tags},
    {"clusters", JSON_ARRAY, sec_clusters},
    {"near_duplicates", JSON_OBJECT, sec_near_dups},
    {"concurrency", JSON_OBJECT, sec_concurrency},
    {"reliability", JSON_OBJECT, sec_reliability},
    {"resources", JSON_OBJECT, sec_resources},
};

static const char CSS[] =
    ":root{color-scheme:light}"
    "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif;"
    "color:#1a1a1a;background:#fff;margin:0 auto;max-width:1200px;padding:24px}"
    "h1{font-size:22px;margin:0 0 12px;word-break:break-all}"
    "h2{font-size:18px;margin:28px 0 8px;padding-bottom:4px;border-bottom:1px solid #ccc}"
    "code{font-family:ui-monospace,'DejaVu Sans Mono',monospace;font-size:92%}"
    ".banner{border:2px solid #D55E00;border-left-width:8px;background:#fff3e6;padding:8px 12px;"
    "margin:12px 0;border-radius:4px}"
    ".facts{display:grid;grid-template-columns:repeat(auto-fill,minmax(200px,1fr));gap:10px 24px;"
    "margin:12px 0}"
    ".facts dt{font-size:12px;color:#555;text-transform:uppercase;letter-spacing:.03em}"
    ".facts dd{margin:0;font-weight:600;overflow-wrap:anywhere}.facts .wide{grid-column:span 2}"
    ".note{color:#444;font-size:13px;margin:4px 0}"
    ".scroll{overflow-x:auto}"
    "table{border-collapse:collapse;margin:8px 0 16px;font-size:13px}"
    "th,td{padding:4px 10px;border-bottom:1px solid #e2e2e2;text-align:left;vertical-align:top}"
    "thead th{background:#f0f0f0;border-bottom:2px solid #bbb}"
    "tbody th{font-weight:600;background:#fafafa}"
    ".n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}"
    "#table-accuracy tbody tr:nth-child(even),#table-models tbody tr:nth-child(even),"
    "#table-strategies tbody tr:nth-child(even),#table-judges tbody tr:nth-child(even),"
    "#table-judge-models tbody tr:nth-child(even),#table-rubrics tbody tr:nth-child(even)"
    "{background:#f7f7f7}"
    "#table-tags tbody{border-top:2px solid #ccc}"
    ".chart{display:block;max-width:100%;height:auto;margin:8px 0 12px}"
    ".chart text{font-size:12px;fill:#1a1a1a}"
    ".chart .grp{font-weight:600}.chart .tick{fill:#555;font-size:11px}"
    ".chart .grid{stroke:#ddd}.chart .axis{stroke:#777}"
    ".chart .bar{stroke:#1a1a1a;stroke-width:.6}"
    ".chart .ci{stroke:#1a1a1a;stroke-width:1.5;fill:none}"
    ".chart .hbar{stroke:#1a1a1a;stroke-width:.6}"
    "figure{margin:12px 0}figcaption{font-size:13px;color:#444}"
    "h3{font-size:15px;margin:16px 0 4px}"
    "#table-matrix td.heat{min-width:110px}#table-matrix td.best{outline:3px solid #1a1a1a;"
    "outline-offset:-3px;font-weight:700}"
    ".cluster ul{padding-left:18px;margin:4px 0}.cluster li{margin:4px 0}"
    ".cluster pre{white-space:pre-wrap;overflow-wrap:anywhere;background:#f6f6f6;"
    "border:1px solid #e2e2e2;padding:6px 8px;margin:4px 0;font-size:12px}"
    ".legend{list-style:none;padding:0;margin:4px 0;display:flex;flex-wrap:wrap;gap:4px 18px;"
    "font-size:13px}"
    ".sw{display:inline-block;width:12px;height:12px;border:1px solid #1a1a1a;margin-right:6px;"
    "vertical-align:-1px}"
    "footer{margin-top:32px;color:#666;font-size:12px;border-top:1px solid #ddd;padding-top:8px}"
    "@media print{body{max-width:none;padding:0;font-size:11px}"
    "*{-webkit-print-color-adjust:exact;print-color-adjust:exact}"
    "h2{break-after:avoid}.chart,.facts,tr{break-inside:avoid}.scroll{overflow:visible}}";

static void page_open(rs_buf_t *b, json_t *report)
{
    /* The policy makes the no-network, no-script promise hold even if some text slipped past
     * escaping: the browser would refuse to run or fetch anything. */
    rs_buf_puts(b, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                   "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
                   "style-src 'unsafe-inline'; img-src data:\">\n"
                   "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
                   "<title>reasonsaver report: ");
    esc(b, coord_jstr(report, "run_id"));
    rs_buf_printf(b, "</title>\n<style>%s</style>\n</head>\n<body>\n", CSS);
}

static void page_close(rs_buf_t *b, json_t *report)
{
    rs_buf_puts(b, "<footer>Written by reasonsaver from report.json (schema <code>");
    esc(b, json_is_string(json_object_get(report, "schema")) ? coord_jstr(report, "schema")
                                                             : COORD_REPORT_SCHEMA);
    rs_buf_puts(b, "</code>)");
    if (json_is_string(json_object_get(report, "config_sha256"))) {
        rs_buf_puts(b, "; config sha256 <code>");
        esc(b, coord_jstr(report, "config_sha256"));
        rs_buf_puts(b, "</code>");
    }
    rs_buf_puts(b, ".</footer>\n</body>\n</html>\n");
}

char *coord_html_render(json_t *report)
{
    rs_buf_t b;
    rs_buf_init(&b);
    page_open(&b, report);
    for (size_t i = 0; i < RS_ARRAY_LEN(SECTIONS); i++) {
        json_t *field = json_object_get(report, SECTIONS[i].field);
        if (field && json_typeof(field) == SECTIONS[i].type) SECTIONS[i].render(&b, report, field);
    }
    page_close(&b, report);
    return rs_buf_detach(&b);
}
