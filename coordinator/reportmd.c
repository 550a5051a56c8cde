/* reportmd: report.md, the Markdown rendering of a report object (report.h). Every piece of
 * text that comes from a config, a dataset or a model (names, tags, outputs, paths) goes through
 * coord_md_cell, so that none can break a table or add markup. */
#include "reportmd.h"

#include <string.h>

#include "analysis.h"
#include "jsonget.h"
#include "reportview.h"

enum { MD_CELL_MAX = 200 }; /* characters of a name or tag in a table cell */

/* rs_text_safe makes the text one line of printable text; then every character Markdown reads
 * as markup in a table is escaped. */
void coord_md_cell(rs_buf_t *b, const char *text, size_t max)
{
    size_t chars = 0;
    rs_buf_t safe;
    rs_buf_init(&safe);
    const char *s = rs_text_safe_str(&safe, text, RS_TEXT_SPACES);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if ((ch & 0xC0) != 0x80 && chars++ == max) {
            rs_buf_puts(b, "\xE2\x80\xA6");
            break;
        }
        if (strchr("\\`*_[]<>|#&", ch)) rs_buf_putc(b, '\\');
        rs_buf_putc(b, (char)ch);
    }
    rs_buf_cleanup(&safe);
}

void coord_report_md_counts(rs_buf_t *b, json_t *g)
{
    json_t *acc = json_object_get(g, "accuracy"), *ci = json_object_get(g, "ci95");
    rs_buf_printf(b, "%lld | %lld | %lld | %lld | ",
                  (long long)json_integer_value(json_object_get(g, "correct")),
                  (long long)json_integer_value(json_object_get(g, "wrong")),
                  (long long)json_integer_value(json_object_get(g, "error")),
                  (long long)json_integer_value(json_object_get(g, "skipped")));
    if (json_is_number(acc))
        rs_buf_printf(b, "%.1f%% [%.1f, %.1f] |", 100 * json_number_value(acc),
                      100 * json_number_value(json_array_get(ci, 0)),
                      100 * json_number_value(json_array_get(ci, 1)));
    else
        rs_buf_puts(b, "n/a |");
}

/* "| a | " : a row's first cell. */
static void md_row_start(rs_buf_t *b, const char *a)
{
    rs_buf_puts(b, "| ");
    coord_md_cell(b, a, MD_CELL_MAX);
    rs_buf_puts(b, " | ");
}

/* "| a | b | " : a row's first two cells. */
static void md_cells(rs_buf_t *b, const char *a, const char *c)
{
    md_row_start(b, a);
    coord_md_cell(b, c, MD_CELL_MAX);
    rs_buf_puts(b, " | ");
}

static void md_counts_row(rs_buf_t *b, const char *model, json_t *g)
{
    md_cells(b, model, json_string_value(json_object_get(g, "name")));
    coord_report_md_counts(b, g);
    rs_buf_putc(b, '\n');
}

static const char MD_HEADER[] = "| model | grader | correct | wrong | error | skipped | accuracy "
                                "[95% CI] |\n|---|---|---:|---:|---:|---:|---|\n";

/* input tokens | output tokens | cost USD | latency p50 | p95 |, and the line's end. */
static void md_usage_cells(rs_buf_t *b, json_t *o)
{
    json_t *lat = json_object_get(o, "latency_ms");
    rs_buf_printf(b, "%lld | %lld | %.4f | %.1f | %.1f |\n",
                  (long long)json_integer_value(json_object_get(o, "input_tokens")),
                  (long long)json_integer_value(json_object_get(o, "output_tokens")),
                  json_number_value(json_object_get(o, "cost_usd")),
                  json_number_value(json_object_get(lat, "p50")),
                  json_number_value(json_object_get(lat, "p95")));
}

/* Tokens, cost and latency by stage, when some model did more than generate. */
static void md_stages(rs_buf_t *b, json_t *report)
{
    size_t i;
    json_t *m, *st;
    const char *name;
    if (!coord_has_chain_stages(json_object_get(report, "models"))) return;
    rs_buf_puts(b, "\n### By stage\n\n| model | stage | outputs | input tokens | output tokens | "
                   "cost USD | latency p50 ms | latency p95 ms |\n"
                   "|---|---|---:|---:|---:|---:|---:|---:|\n");
    json_array_foreach(json_object_get(report, "models"), i, m)
        json_object_foreach(json_object_get(m, "stages"), name, st)
    {
        md_cells(b, coord_jstr_or(m, "name", ""), name);
        rs_buf_printf(b, "%lld | ", (long long)json_integer_value(json_object_get(st, "outputs")));
        md_usage_cells(b, st);
    }
    rs_buf_puts(b, "\nA model's critiques are those it wrote as a judge, of any model's answers; the "
                   "Models table's tokens and cost are the sum of its stages, its latency its "
                   "generations'.\n");
}

/* The response cache's hits per model (models that are not simulated carry "cache"). */
static void md_cache(rs_buf_t *b, json_t *report)
{
    size_t i;
    json_t *m, *c;
    int any = 0;
    json_array_foreach(json_object_get(report, "models"), i, m) {
        if (!json_is_object(c = json_object_get(m, "cache"))) continue;
        if (!any)
            rs_buf_puts(b, "\n### Response cache\n\n| model | hits | misses | saved USD |\n"
                           "|---|---:|---:|---:|\n");
        any = 1;
        md_row_start(b, coord_jstr_or(m, "name", ""));
        rs_buf_printf(b, "%lld | %lld | %.4f |\n",
                      (long long)json_integer_value(json_object_get(c, "hits")),
                      (long long)json_integer_value(json_object_get(c, "misses")),
                      json_number_value(json_object_get(c, "saved_usd")));
    }
    if (any)
        rs_buf_puts(b, "\nHits are answers, critiques and revisions the cache gave without a "
                       "request; their tokens are in the tables above, their cost is not.\n");
}

/* The model ids the servers said they served, per configured model (report.json's
 * served_models): a provider that swapped models shows two. Absent when no response said. */
static void md_served(rs_buf_t *b, json_t *report)
{
    size_t i;
    json_t *m, *n;
    const char *id;
    int any = 0;
    json_array_foreach(json_object_get(report, "models"), i, m) {
        json_t *served = json_object_get(m, "served_models");
        if (!json_is_object(served) || json_object_size(served) == 0) continue;
        if (!any) rs_buf_puts(b, "\n### Served models\n\n| model | asked for | served (answers) | "
                                 "reasoning tokens |\n|---|---|---|---:|\n");
        any = 1;
        md_cells(b, coord_jstr_or(m, "name", ""), coord_jstr_or(m, "model", ""));
        size_t k = 0;
        json_object_foreach(served, id, n) {
            if (k++) rs_buf_puts(b, ", ");
            coord_md_cell(b, id, MD_CELL_MAX);
            rs_buf_printf(b, " (%lld)", (long long)json_integer_value(n));
        }
        rs_buf_printf(b, " | %lld |\n",
                      (long long)json_integer_value(json_object_get(m, "reasoning_tokens")));
    }
}

/* The exec graders' mean scores and error types (docs/GRADERS.md), when the run has any. */
static void md_exec(rs_buf_t *b, json_t *report)
{
    size_t i, j;
    json_t *m, *g;
    int any = 0;
    json_array_foreach(json_object_get(report, "models"), i, m)
        json_array_foreach(json_object_get(m, "graders"), j, g)
    {
        json_t *reasons = json_object_get(g, "errors_by_reason"), *n;
        const char *type;
        if (!json_is_object(reasons)) continue;
        if (!any)
            rs_buf_puts(b, "\n### Exec graders\n\n| model | grader | mean score | errors by "
                           "reason |\n|---|---|---:|---|\n");
        any = 1;
        md_cells(b, coord_jstr_or(m, "name", ""), coord_jstr_or(g, "name", ""));
        coord_put_num(b, json_object_get(g, "score_mean"), 3);
        rs_buf_puts(b, " | ");
        int first = 1;
        json_object_foreach(reasons, type, n) {
            rs_buf_puts(b, first ? "" : ", ");
            coord_md_cell(b, type, MD_CELL_MAX);
            rs_buf_printf(b, " %lld", (long long)json_integer_value(n));
            first = 0;
        }
        rs_buf_puts(b, " |\n");
    }
    if (any)
        rs_buf_puts(b, "\nEach error's reason is in the record's grade_details "
                       "(results.jsonl).\n");
}

static void md_models(rs_buf_t *b, json_t *report)
{
    size_t i, j;
    json_t *m, *g;
    rs_buf_puts(b, "## Accuracy\n\n");
    rs_buf_puts(b, MD_HEADER);
    json_array_foreach(json_object_get(report, "models"), i, m)
        json_array_foreach(json_object_get(m, "graders"), j, g)
            md_counts_row(b, json_string_value(json_object_get(m, "name")), g);
    rs_buf_puts(b, "\nAccuracy = correct / (correct + wrong), with a Wilson 95% interval; "
                   "model errors are counted apart.\n\n## Models\n\n"
                   "| model | provider | cases | errors | input tokens | output tokens | cost USD | "
                   "latency p50 ms | latency p95 ms |\n|---|---|---:|---:|---:|---:|---:|---:|---:|\n");
    json_array_foreach(json_object_get(report, "models"), i, m) {
        md_cells(b, coord_jstr_or(m, "name", ""), coord_jstr_or(m, "provider", ""));
        rs_buf_printf(b, "%lld | %lld | ", (long long)json_integer_value(json_object_get(m, "cases")),
                      (long long)json_integer_value(json_object_get(m, "errors")));
        md_usage_cells(b, m);
    }
    md_served(b, report);
    md_exec(b, report);
    md_stages(b, report);
    md_cache(b, report);
    json_t *e = json_object_get(report, "embedder");
    if (!json_is_object(e)) return;
    rs_buf_puts(b, "\nEmbedder ");
    coord_md_cell(b, coord_jstr_or(e, "model", ""), MD_CELL_MAX);
    rs_buf_printf(b, " (%s): %lld calls, %lld texts, %lld input tokens, %lld retries, %lld failed "
                     "calls.\n",
                  coord_jstr_or(e, "type", ""), (long long)json_integer_value(json_object_get(e, "calls")),
                  (long long)json_integer_value(json_object_get(e, "inputs")),
                  (long long)json_integer_value(json_object_get(e, "input_tokens")),
                  (long long)json_integer_value(json_object_get(e, "retries")),
                  (long long)json_integer_value(json_object_get(e, "errors")));
}

static void md_tags(rs_buf_t *b, json_t *report)
{
    json_t *tags = json_object_get(report, "tags"), *t, *m, *g;
    size_t i, j, k;
    if (json_array_size(tags) == 0) return;
    rs_buf_puts(b, "\n## By tag\n\n| tag | model | grader | correct | wrong | error | skipped | "
                   "accuracy [95% CI] |\n|---|---|---|---:|---:|---:|---:|---|\n");
    json_array_foreach(tags, i, t)
        json_array_foreach(json_object_get(t, "models"), j, m)
            json_array_foreach(json_object_get(m, "graders"), k, g) {
                rs_buf_puts(b, "| ");
                coord_md_cell(b, json_string_value(json_object_get(t, "tag")), MD_CELL_MAX);
                rs_buf_putc(b, ' ');
                md_counts_row(b, json_string_value(json_object_get(m, "name")), g);
            }
}

/* model NULL: the pool's row. */
static void md_strategy_row(rs_buf_t *b, const char *model, json_t *s)
{
    json_t *t = json_object_get(s, "mcnemar_vs_first");
    if (model) {
        md_cells(b, model, coord_jstr_or(s, "name", ""));
    } else {
        rs_buf_puts(b, "| *pool: all models* | ");
        coord_md_cell(b, coord_jstr_or(s, "name", ""), MD_CELL_MAX);
        rs_buf_puts(b, " | ");
    }
    coord_report_md_counts(b, json_array_get(json_object_get(s, "graders"), 0));
    if (json_is_object(t)) {
        rs_buf_printf(b, " %lld / %lld | ", (long long)json_integer_value(json_object_get(t, "b")),
                      (long long)json_integer_value(json_object_get(t, "c")));
        coord_put_num(b, json_object_get(t, "exact_p"), -3);
        rs_buf_puts(b, " |\n");
    } else {
        rs_buf_puts(b, " \xE2\x80\x94 | \xE2\x80\x94 |\n");
    }
}

/* Each model's strategies, then the pool's (every model's candidates together), if any. */
static void md_strategies(rs_buf_t *b, json_t *report)
{
    size_t i, j;
    json_t *m, *s, *pool;
    if (!coord_report_has_strategies(report, &pool)) return;
    rs_buf_puts(b, "\n## Ranking strategies\n\n| model | strategy | correct | wrong | error | "
                   "skipped | accuracy [95% CI] | b / c vs first | McNemar p |\n"
                   "|---|---|---:|---:|---:|---:|---|---:|---:|\n");
    json_array_foreach(json_object_get(report, "models"), i, m)
        json_array_foreach(json_object_get(m, "strategies"), j, s)
            md_strategy_row(b, coord_jstr_or(m, "name", ""), s);
    json_array_foreach(pool, j, s)
        md_strategy_row(b, NULL, s);
    rs_buf_puts(b, "\nFirst grader. b = cases `first` got wrong and the strategy right, c = the "
                   "reverse; the p-value is McNemar's exact test.");
    if (pool)
        rs_buf_puts(b, " The pool ranks every model's candidates of a case together; its `first` "
                       "is the first model's first candidate.");
    rs_buf_puts(b, "\n");
}

static void md_rounds(rs_buf_t *b, json_t *report)
{
    size_t i, j;
    json_t *m, *r;
    if (!coord_any_with_array(json_object_get(report, "models"), "rounds", 2)) return;
    rs_buf_puts(b, "\n## Revision rounds\n\n| model | round | correct | wrong | error | skipped | "
                   "accuracy [95% CI] |\n|---|---:|---:|---:|---:|---:|---|\n");
    json_array_foreach(json_object_get(report, "models"), i, m)
        json_array_foreach(json_object_get(m, "rounds"), j, r)
    {
        md_row_start(b, coord_jstr_or(m, "name", ""));
        rs_buf_printf(b, "%lld | ", (long long)json_integer_value(json_object_get(r, "round")));
        coord_report_md_counts(b, json_array_get(json_object_get(r, "graders"), 0));
        rs_buf_putc(b, '\n');
    }
    rs_buf_puts(
        b, "\n| model | cases compared | wrong \xE2\x86\x92 right | right \xE2\x86\x92 wrong | "
           "McNemar p |\n|---|---:|---:|---:|---:|\n");
    json_array_foreach(json_object_get(report, "models"), i, m)
    {
        json_t *f = json_object_get(m, "flips");
        if (!json_is_object(f)) continue;
        md_row_start(b, coord_jstr_or(m, "name", ""));
        rs_buf_printf(b, "%lld | %lld | %lld | ", (long long)json_integer_value(json_object_get(f, "pairs")),
                      (long long)json_integer_value(json_object_get(f, "wrong_to_right")),
                      (long long)json_integer_value(json_object_get(f, "right_to_wrong")));
        coord_put_num(b, json_object_get(json_object_get(f, "mcnemar"), "exact_p"), -3);
        rs_buf_puts(b, " |\n");
    }
    rs_buf_puts(b, "\nFirst grader; flips compare each case's original answer with its last "
                   "revision.\n");
}

/* One row of a judge-quality table: the label cells (escaped, cut to 80 characters), then the
 * split's counts and statistics. A split other than "all" is left out when it is empty. */
static void md_quality_row(rs_buf_t *b, const char *const *labels, size_t n_labels, json_t *group,
                           const char *split)
{
    json_t *q = json_object_get(group, split), *c = json_object_get(q, "confusion");
    if (!json_is_object(q) ||
        (strcmp(split, "all") != 0 && !json_integer_value(json_object_get(q, "n"))))
        return;
    rs_buf_putc(b, '|');
    for (size_t i = 0; i < n_labels; i++) {
        rs_buf_putc(b, ' ');
        coord_md_cell(b, labels[i], 80);
        rs_buf_puts(b, " |");
    }
    rs_buf_printf(b, " %s | %lld | %lld | %lld | %lld | %lld | %lld | %lld | ", split,
                  (long long)json_integer_value(json_object_get(q, "n")),
                  (long long)json_integer_value(json_object_get(q, "unparsed")),
                  (long long)json_integer_value(json_object_get(q, "errors")),
                  (long long)json_integer_value(json_object_get(c, "tp")),
                  (long long)json_integer_value(json_object_get(c, "fp")),
                  (long long)json_integer_value(json_object_get(c, "tn")),
                  (long long)json_integer_value(json_object_get(c, "fn")));
    static const char *const stats[] = {"precision", "recall", "kappa", "auroc"};
    for (size_t i = 0; i < RS_ARRAY_LEN(stats); i++) {
        coord_put_num(b, json_object_get(q, stats[i]), 3);
        rs_buf_puts(b, " |");
        rs_buf_putc(b, i + 1 < RS_ARRAY_LEN(stats) ? ' ' : '\n');
    }
}

static void md_quality_rows(rs_buf_t *b, const char *const *labels, size_t n_labels, json_t *group)
{
    md_quality_row(b, labels, n_labels, group, "all");
    md_quality_row(b, labels, n_labels, group, "self");
    md_quality_row(b, labels, n_labels, group, "cross");
}

#define MD_QUALITY_HEAD                                                                            \
    " candidates | n | unparsed | errors | tp | fp | tn | fn | precision | recall | kappa | "      \
    "AUROC |\n"
#define MD_QUALITY_RULE "---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"

/* "Judges by model" / "Judges by rubric": report[field], each entry labelled by its key (a model,
 * or a rubric's principles joined by "; ") and its judges. */
static void md_judge_groups(rs_buf_t *b, json_t *report, const char *field, const char *key,
                            const char *title)
{
    json_t *groups = json_object_get(report, field), *g;
    size_t i;
    if (json_array_size(groups) == 0) return;
    rs_buf_printf(b, "\n### %s\n\n| %s | judges |" MD_QUALITY_HEAD "|---|---|" MD_QUALITY_RULE,
                  title, key);
    rs_buf_t label, names;
    rs_buf_init(&label);
    rs_buf_init(&names);
    json_array_foreach(groups, i, g)
    {
        json_t *k = json_object_get(g, key);
        rs_buf_reset(&label);
        rs_buf_reset(&names);
        if (json_is_array(k))
            coord_join_strings(&label, k, "; ");
        else
            rs_buf_puts(&label, coord_jstr_or(g, key, "?"));
        if (label.len == 0) rs_buf_puts(&label, "(none)");
        coord_join_strings(&names, json_object_get(g, "judges"), ", ");
        const char *labels[] = {label.data, names.data};
        md_quality_rows(b, labels, 2, g);
    }
    rs_buf_cleanup(&label);
    rs_buf_cleanup(&names);
}

static void md_judges(rs_buf_t *b, json_t *report)
{
    size_t i;
    json_t *j, *judges = json_object_get(report, "judges");
    if (json_array_size(judges) == 0) return;
    rs_buf_puts(b, "\n## Judges\n\n| judge | model |" MD_QUALITY_HEAD "|---|---|" MD_QUALITY_RULE);
    json_array_foreach(judges, i, j)
    {
        const char *labels[] = {coord_jstr_or(j, "name", ""), coord_jstr_or(j, "model", "?")};
        md_quality_rows(b, labels, 2, j);
    }
    rs_buf_puts(b, "\nThe judges' verdicts against the first grader's (positive = correct); "
                   "`self` = the judge's own model's answers, `cross` = other models'.\n");
    if (json_array_size(judges) < 2) return; /* one judge: the groups would repeat its rows */
    md_judge_groups(b, report, "judge_models", "model", "Judges by model");
    md_judge_groups(b, report, "rubrics", "rubric", "Judges by rubric");
}

static void md_clusters(rs_buf_t *b, json_t *report)
{
    json_t *clusters = json_object_get(report, "clusters"),
           *f = json_object_get(report, "failures");
    json_t *c, *e;
    size_t i, j;
    if (json_array_size(clusters) == 0) return;
    long long total = (long long)json_integer_value(json_object_get(f, "total")),
              sampled = (long long)json_integer_value(json_object_get(f, "sampled"));
    rs_buf_printf(b, "\n## Failure clusters\n\n%lld answers the first grader marked wrong", total);
    if (sampled < total) rs_buf_printf(b, " (a random sample of %lld clustered)", sampled);
    rs_buf_puts(b, ", grouped by hash embeddings and k-means++; the examples are the nearest to "
                   "each cluster's centre.\n");
    json_array_foreach(clusters, i, c)
    {
        rs_buf_printf(b, "\n%zu. %lld answers (%.1f%%)\n", i + 1,
                      (long long)json_integer_value(json_object_get(c, "size")),
                      100 * json_number_value(json_object_get(c, "share")));
        json_array_foreach(json_object_get(c, "examples"), j, e)
        {
            rs_buf_puts(b, "   - ");
            coord_md_cell(b, coord_jstr_or(e, "case_id", ""), 60);
            rs_buf_puts(b, " (");
            coord_md_cell(b, coord_jstr_or(e, "model", ""), 60);
            rs_buf_puts(b, "): ");
            coord_md_cell(b, coord_jstr_or(e, "output", ""), 160);
            if (json_is_string(json_object_get(e, "thinking"))) {
                rs_buf_puts(b, " (thinking, not graded: ");
                coord_md_cell(b, coord_jstr_or(e, "thinking", ""), 160);
                rs_buf_putc(b, ')');
            }
            rs_buf_putc(b, '\n');
        }
    }
}

static void md_near_dups(rs_buf_t *b, json_t *report)
{
    json_t *d = json_object_get(report, "near_duplicates"), *p;
    size_t i;
    if (!json_is_object(d)) return;
    rs_buf_printf(b,
                  "\n## Near-duplicate prompts\n\n%lld pair(s) of prompts with cosine "
                  "similarity >= %.2f among %lld cases%s (hash embeddings).\n",
                  (long long)json_integer_value(json_object_get(d, "total")),
                  json_number_value(json_object_get(d, "threshold")),
                  (long long)json_integer_value(json_object_get(d, "cases")),
                  json_is_true(json_object_get(d, "capped")) ? " (the first ones only)" : "");
    if (json_array_size(json_object_get(d, "pairs")) == 0) return;
    rs_buf_puts(b, "\n| case a | case b | similarity | prompt a | prompt b |\n"
                   "|---|---|---:|---|---|\n");
    json_array_foreach(json_object_get(d, "pairs"), i, p)
    {
        static const char *const cols[] = {"a", "b"};
        rs_buf_puts(b, "| ");
        for (size_t k = 0; k < 2; k++) {
            coord_md_cell(b, coord_jstr_or(p, cols[k], ""), 60);
            rs_buf_puts(b, " | ");
        }
        coord_put_num(b, json_object_get(p, "similarity"), 3);
        rs_buf_puts(b, " | ");
        coord_md_cell(b, coord_jstr_or(p, "a_text", ""), 80);
        rs_buf_puts(b, " | ");
        coord_md_cell(b, coord_jstr_or(p, "b_text", ""), 80);
        rs_buf_puts(b, " |\n");
    }
}

/* One warning line when workers sent what was not theirs to send, or were cut off. */
static void md_peers(rs_buf_t *b, json_t *peers)
{
    long long rejected = json_integer_value(json_object_get(peers, "rejected"));
    long long cut = json_integer_value(json_object_get(peers, "cut_off"));
    long long late = json_integer_value(json_object_get(peers, "late"));
    if (rejected == 0 && cut == 0 && late == 0) return;
    rs_buf_printf(b, "> **Workers**: %lld result(s) or message(s) rejected", rejected);
    const char *key;
    json_t *v;
    int first = 1;
    json_object_foreach(json_object_get(peers, "reasons"), key, v) {
        rs_buf_printf(b, "%s", first ? " (" : ", ");
        coord_md_cell(b, key, 40);
        rs_buf_printf(b, " %lld", (long long)json_integer_value(v));
        first = 0;
    }
    rs_buf_printf(b, "%s; %lld taken late; %lld worker(s) cut off. Per worker: `report.json` "
                     "`peers.by_peer`.\n\n", first ? "" : ")", late, cut);
}

/* One line per model whose cap adapted or that met a 429/503 (report.json's concurrency). */
static void md_concurrency(rs_buf_t *b, json_t *conc)
{
    const char *model;
    json_t *m;
    json_object_foreach(conc, model, m) {
        rs_buf_puts(b, "- concurrency of ");
        coord_md_cell(b, model, 80);
        rs_buf_puts(b, ": ");
        coord_report_concurrency_line(b, m);
        rs_buf_putc(b, '\n');
    }
    if (json_object_size(conc)) rs_buf_puts(b, "\n");
}

/* The config's gates (report.json's gates, gates.h): each with its value, bounds and outcome. */
static void md_gates(rs_buf_t *b, json_t *report)
{
    size_t i;
    json_t *g, *gates = json_object_get(report, "gates");
    if (json_array_size(gates) == 0) return;
    rs_buf_puts(b, "## Gates\n\n| gate | value | min | max | result |\n|---|---:|---:|---:|---|\n");
    json_array_foreach(gates, i, g) {
        md_row_start(b, coord_jstr_or(g, "name", ""));
        coord_put_num(b, json_object_get(g, "value"), -6);
        rs_buf_puts(b, " | ");
        coord_put_num(b, json_object_get(g, "min"), -6);
        rs_buf_puts(b, " | ");
        coord_put_num(b, json_object_get(g, "max"), -6);
        if (json_is_true(json_object_get(g, "passed"))) {
            rs_buf_puts(b, " | passed |\n");
            continue;
        }
        rs_buf_puts(b, " | **failed**: ");
        coord_md_cell(b, coord_jstr_or(g, "why", ""), MD_CELL_MAX);
        rs_buf_puts(b, " |\n");
    }
    rs_buf_puts(b, "\nA gate passes when min <= value <= max; the run exits 3 when one fails "
                   "(docs/GATES.md).\n\n");
}

static void md_corrupted(rs_buf_t *b, json_t *report)
{
    if (!coord_report_corrupted(report)) return;
    rs_buf_printf(b, "> **Warning: %llu corrupted record(s)**: their stored bytes fail their "
                     "checksum or checks (cases ",
                  (unsigned long long)coord_report_corrupted(report));
    coord_report_corrupted_cases(b, report);
    rs_buf_printf(b, "). They are left out of the counts and results.jsonl. Run `reasonsaver "
                     "resume %s` to run them again.\n\n",
                  json_string_value(json_object_get(report, "run_id")));
}

/* ---- the experiment (experiment.h) ---- */

/* "74.2% [65.7, 81.2]" of an object's accuracy and ci95, or n/a. */
static void md_acc_ci(rs_buf_t *b, json_t *o)
{
    json_t *acc = json_object_get(o, "accuracy"), *ci = json_object_get(o, "ci95");
    if (!json_is_number(acc)) {
        rs_buf_puts(b, "n/a");
        return;
    }
    rs_buf_printf(b, "%.1f%% [%.1f, %.1f]", 100 * json_number_value(acc),
                  100 * json_number_value(json_array_get(ci, 0)),
                  100 * json_number_value(json_array_get(ci, 1)));
}

/* Rows prompts, columns models; the best cell in bold. */
static void md_matrix(rs_buf_t *b, json_t *x)
{
    json_t *cells = json_object_get(x, "matrix"), *models = json_object_get(x, "models"), *m, *p;
    size_t i, j, n_models = json_array_size(models);
    if (!json_array_size(cells) || !n_models) return;
    rs_buf_puts(b, "\n## Prompts x models\n\n| prompt |");
    json_array_foreach(models, i, m) {
        rs_buf_putc(b, ' ');
        coord_md_cell(b, coord_jstr_or(m, "model", ""), MD_CELL_MAX);
        rs_buf_puts(b, " |");
    }
    rs_buf_puts(b, "\n|---|");
    for (i = 0; i < n_models; i++) rs_buf_puts(b, "---:|");
    json_array_foreach(json_object_get(x, "prompts"), i, p) {
        rs_buf_putc(b, '\n');
        md_row_start(b, json_string_value(p));
        for (j = 0; j < n_models; j++) {
            json_t *c = json_array_get(cells, i * n_models + j);
            int best = json_is_true(json_object_get(c, "best"));
            rs_buf_puts(b, best ? "**" : "");
            md_acc_ci(b, c);
            rs_buf_puts(b, best ? "** | " : " | ");
        }
    }
    rs_buf_printf(b, "\n\nAccuracy of `first` under the first grader (%s), best cell in bold; "
                     "the 95%% interval is Wilson's, or the clustered one when a case is asked "
                     "several times in a cell (epochs) or the dataset names clusters.\n",
                  coord_jstr_or(x, "grader", ""));
}

static void md_pass_at_k(rs_buf_t *b, json_t *pk)
{
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(pk, "values"), i, v) {
        rs_buf_puts(b, i ? ", " : "");
        coord_put_num(b, v, 3);
    }
}

/* Each model over every prompt and epoch: the mean with its clustered interval, the epochs one
 * by one, how often the epochs agree, pass@k. Only when some model has epochs or pass@k. */
static void md_epochs(rs_buf_t *b, json_t *x)
{
    size_t i, j;
    json_t *m, *v;
    int any = 0;
    json_array_foreach(json_object_get(x, "models"), i, m)
        any |= json_object_get(m, "per_epoch") || json_object_get(m, "pass_at_k");
    if (!any) return;
    rs_buf_printf(b, "\n## Epochs and pass@k\n\n%lld epoch(s).\n\n| model | units | accuracy [95%% CI] | "
                     "per epoch | epochs agree | pass@k, k = 1, 2, ... |\n"
                     "|---|---:|---|---|---:|---|\n",
                  (long long)json_integer_value(json_object_get(x, "epochs")));
    json_array_foreach(json_object_get(x, "models"), i, m) {
        md_row_start(b, coord_jstr_or(m, "model", ""));
        rs_buf_printf(b, "%lld | ", (long long)json_integer_value(json_object_get(m, "units")));
        md_acc_ci(b, m);
        rs_buf_puts(b, " | ");
        json_array_foreach(json_object_get(m, "per_epoch"), j, v) {
            rs_buf_puts(b, j ? ", " : "");
            coord_put_num(b, v, 3);
        }
        rs_buf_puts(b, " | ");
        coord_put_num(b, json_object_get(json_object_get(m, "agreement"), "rate"), 3);
        rs_buf_puts(b, " | ");
        md_pass_at_k(b, json_object_get(m, "pass_at_k"));
        rs_buf_puts(b, " |\n");
    }
    rs_buf_puts(b, "\nThe mean is over every prompt and epoch; its interval counts a case's repeats "
                   "as one cluster. \"Epochs agree\": the share of (case, prompt) whose epochs all "
                   "got the same verdict. pass@k is the unbiased estimator of Chen et al. (2021) "
                   "over the n x epochs samples of each (case, prompt).\n");
}

static void md_diff_rows(rs_buf_t *b, const char *family, json_t *list)
{
    size_t i;
    json_t *d;
    json_array_foreach(list, i, d) {
        const char *model = json_string_value(json_object_get(d, "model"));
        rs_buf_puts(b, "| ");
        coord_md_cell(b, family, MD_CELL_MAX);
        if (model) {
            rs_buf_puts(b, " (");
            coord_md_cell(b, model, MD_CELL_MAX);
            rs_buf_puts(b, ")");
        }
        rs_buf_puts(b, " | ");
        coord_md_cell(b, coord_jstr_or(d, "a", ""), MD_CELL_MAX);
        rs_buf_puts(b, " | ");
        coord_md_cell(b, coord_jstr_or(d, "b", ""), MD_CELL_MAX);
        rs_buf_printf(b, " | %lld | ", (long long)json_integer_value(json_object_get(d, "pairs")));
        json_t *diff = json_object_get(d, "difference"), *ci = json_object_get(d, "ci95");
        if (json_is_number(diff))
            rs_buf_printf(b, "%+.1f [%+.1f, %+.1f] | ", 100 * json_number_value(diff),
                          100 * json_number_value(json_array_get(ci, 0)),
                          100 * json_number_value(json_array_get(ci, 1)));
        else
            rs_buf_puts(b, "n/a | ");
        rs_buf_printf(b, "%s | ", coord_jstr_or(d, "method", ""));
        coord_put_num(b, json_object_get(d, "mcnemar_p"), -3);
        rs_buf_puts(b, " | ");
        coord_put_num(b, json_object_get(d, "holm_p"), -3);
        rs_buf_puts(b, " |\n");
    }
}

static void md_differences(rs_buf_t *b, json_t *x)
{
    json_t *d = json_object_get(x, "differences");
    json_t *models = json_object_get(d, "models"), *prompts = json_object_get(d, "prompts"),
           *strats = json_object_get(d, "strategies");
    if (!json_array_size(models) && !json_array_size(prompts) && !json_array_size(strats)) return;
    rs_buf_puts(b, "\n## Paired differences\n\n| compared | a | b | pairs | a - b, points [95% CI] "
                   "| interval | McNemar p | Holm p |\n|---|---|---|---:|---|---|---:|---:|\n");
    md_diff_rows(b, "models", models);
    md_diff_rows(b, "prompts", prompts);
    md_diff_rows(b, "strategy vs first", strats);
    rs_buf_puts(b, "\nOn the cases both sides were graded on (models: same case, prompt and epoch; "
                   "prompts: same case, epoch and model), first grader. The interval is Newcombe's "
                   "for paired proportions, or the clustered one where a case (or a dataset "
                   "cluster) holds several pairs. McNemar's exact p treats pairs as independent; "
                   "Holm's correction is applied within each family (model pairs, prompt pairs, "
                   "one model's strategies).\n");
}

static void md_experiment(rs_buf_t *b, json_t *report)
{
    json_t *x = json_object_get(report, "experiment");
    if (!json_is_object(x)) return;
    md_matrix(b, x);
    md_epochs(b, x);
    md_differences(b, x);
}

char *coord_reportmd_render(json_t *report)
{
    rs_buf_t b;
    rs_buf_init(&b);
    json_t *ds = json_object_get(report, "dataset");
    rs_buf_puts(&b, "# reasonsaver report: ");
    coord_md_cell(&b, json_string_value(json_object_get(report, "run_id")), MD_CELL_MAX);
    rs_buf_puts(&b, "\n\n");
    if (json_is_true(json_object_get(report, "simulated")))
        rs_buf_puts(&b, "> **Simulated**: outputs of `sim` models come from reasonsaver's built-in "
                        "simulated model, not a language model.\n\n");
    rs_buf_printf(&b, "- status: %s\n- dataset: ", json_string_value(json_object_get(report, "status")));
    coord_md_cell(&b, json_string_value(json_object_get(ds, "path")), 400);
    rs_buf_printf(&b, " (sha256 %.12s…), %lld cases, %lld lines skipped\n- wall time: %.2f s, "
                      "%.0f cases/s\n\n",
                  json_string_value(json_object_get(ds, "sha256")),
                  (long long)json_integer_value(json_object_get(ds, "cases")),
                  (long long)json_integer_value(json_object_get(ds, "skipped_lines")),
                  json_number_value(json_object_get(report, "wall_seconds")),
                  json_number_value(json_object_get(report, "cases_per_second")));
    md_corrupted(&b, report);
    json_t *rel = json_object_get(report, "reliability");
    if (json_integer_value(json_object_get(rel, "resumes")) ||
        json_integer_value(json_object_get(rel, "redone_cases")))
        rs_buf_printf(&b, "- resumed %lld time(s); %lld case(s) were handed to a worker again after "
                          "a crash or an expired lease\n\n",
                      (long long)json_integer_value(json_object_get(rel, "resumes")),
                      (long long)json_integer_value(json_object_get(rel, "redone_cases")));
    md_peers(&b, json_object_get(report, "peers"));
    md_concurrency(&b, json_object_get(report, "concurrency"));
    if (json_is_string(json_object_get(rel, "forced")))
    {
        rs_buf_puts(&b, "> **Resumed with --force**: ");
        coord_md_cell(&b, json_string_value(json_object_get(rel, "forced")), 1000);
        rs_buf_puts(&b, "\n\n");
    }
    json_t *keys = json_object_get(report, "worker_keys"), *k;
    size_t ki;
    if (json_array_size(keys)) {
        rs_buf_puts(&b, "- workers (CURVE keys):");
        json_array_foreach(keys, ki, k) {
            rs_buf_puts(&b, ki ? ", " : " ");
            coord_md_cell(&b, json_string_value(k), 64);
        }
        rs_buf_puts(&b, "\n\n");
    }
    if (json_is_true(json_object_get(report, "insecure")))
        rs_buf_puts(&b, "> **Warning: insecure run** (--insecure): workers connected without CURVE "
                        "on an address other machines can reach, so any peer could read the cases "
                        "and send results.\n\n");
    md_gates(&b, report);
    md_models(&b, report);
    md_experiment(&b, report);
    md_strategies(&b, report);
    md_rounds(&b, report);
    md_judges(&b, report);
    md_tags(&b, report);
    md_clusters(&b, report);
    md_near_dups(&b, report);
    return rs_buf_detach(&b);
}
