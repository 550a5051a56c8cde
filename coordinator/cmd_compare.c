/* cmd_compare: `reasonsaver compare RUN_A RUN_B ...` — ranks every run's models and ranking
 * strategies on the cases all the runs share, with paired McNemar tests, as Markdown on stdout and
 * JSON. Runs are read one after the other, so at most one private redis-server runs at a time. */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "compare.h"
#include "cli.h"
#include "config.h"
#include "jsonget.h"
#include "log.h"
#include "report.h"
#include "reportmd.h"
#include "runref.h"

#define COMPARE_SCHEMA "reasonsaver.compare/1"

static const char COMPARE_HELP[] =
    "usage: reasonsaver compare RUN_A [RUN_B ...] [OPTIONS]\n\n"
    "Ranks every (run, model, ranking strategy) by accuracy under each run's first grader, on the\n"
    "cases all the runs share (same case id and targets), with Wilson 95% intervals, and tests "
    "the\n"
    "best against each of the others with McNemar's paired test. Runs on different datasets share\n"
    "no case: that is an error (exit 2). In a run of several prompts each (model, prompt) is\n"
    "ranked and tested as one, \"MODEL @ PROMPT\"; a run of several epochs pairs a case epoch by\n"
    "epoch. RUN_A alone compares its own models (and prompts).\n\n"
    "options:\n"
    "  --out DIR      directory of runs (default runs)\n"
    "  --redis URL    read the runs from this Redis instead of their run directories\n"
    "  --json FILE    also write the comparison as JSON; - prints it instead of the Markdown\n"
    "  --all-pairs    test every pair, not only the best against the others\n"
    "  -h, --help     this help\n";

typedef struct compare_opts {
    const char *out, *redis, *json;
    int all_pairs;
} compare_opts_t;

typedef struct fold {
    coord_verdicts_t *v;
    rs_jdoc_t *doc; /* each record is read into it */
} fold_t;

static int fold_result(uint64_t idx, const char *text, void *arg, rs_err_t *err)
{
    (void)err;
    fold_t *f = arg;
    if (!text) return 0;
    rs_err_t why;
    const rs_jv_t *r = rs_jdoc_read(f->doc, text, strlen(text), RS_JDOC_MAX_DEPTH, &why);
    if (!r) { /* a damaged record counts as missing; `report` names it */
        rs_warn("the stored result of case %llu is not valid JSON (%s): left out",
                (unsigned long long)idx, why.msg);
        return 0;
    }
    coord_verdicts_add(f->v, r);
    return 0;
}

/* The verdicts of one run, with the stored config's model names and first grader. */
static coord_verdicts_t *run_verdicts(const coord_runref_t *ref, rs_err_t *err)
{
    rs_config_t *cfg = rs_config_from_json(coord_jstr(ref->manifest, "config"), err);
    if (!cfg) {
        rs_err_prefix(err, "run %s: stored config", ref->run_id);
        return NULL;
    }
    const char **models = rs_xcalloc(cfg->n_models + 1, sizeof(char *));
    for (size_t m = 0; m < cfg->n_models; m++)
        models[m] = cfg->models[m].name;
    coord_verdicts_t *v =
        coord_verdicts_new(ref->run_id, models, cfg->n_models, cfg->scoring.graders[0].name);
    free(models);
    rs_config_destroy(&cfg);
    int64_t total = 0;
    rs_parse_i64(coord_jstr(ref->manifest, "total"), &total);
    fold_t f = {v, rs_jdoc_new()};
    int rc = coord_report_foreach(ref->store, ref->run_id, (uint64_t)total, fold_result, &f, NULL, err);
    rs_jdoc_free(&f.doc);
    if (rc) coord_verdicts_destroy(&v);
    return v;
}

/* Opens run id, folds its results into *v and appends what identifies it to info. A CLI code. */
static int load_run(const compare_opts_t *o, const char *id, coord_verdicts_t **v, json_t *info)
{
    coord_runref_t ref;
    rs_err_t err;
    if (coord_runref_open(&ref, o->out, id, o->redis, &err))
        return cli_fail(CLI_USAGE, "%s", err.msg);
    *v = run_verdicts(&ref, &err);
    json_array_append_new(
        info, json_pack("{ssssssssss}", "run", ref.run_id, "name", coord_jstr(ref.manifest, "name"),
                        "status", coord_jstr(ref.manifest, "status"), "dataset_path",
                        coord_jstr(ref.manifest, "dataset_path"), "dataset_sha256",
                        coord_jstr(ref.manifest, "dataset_sha256")));
    coord_runref_close(&ref);
    return *v ? CLI_OK : cli_fail(CLI_RUNTIME, "%s", err.msg);
}

/* Adds each run's name, status and dataset to the comparison's runs[]. */
static void merge_info(json_t *cmp, json_t *info)
{
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(cmp, "runs"), i, r)
        json_object_update_missing(r, json_array_get(info, i));
}

/* ---- Markdown ---- */

static void md_runs(rs_buf_t *b, json_t *cmp)
{
    size_t i;
    json_t *r;
    rs_buf_puts(b, "# reasonsaver compare\n\n| run | name | status | dataset | sha256 | cases | "
                   "first grader |\n|---|---|---|---|---|---:|---|\n");
    json_array_foreach(json_object_get(cmp, "runs"), i, r)
    {
        rs_buf_printf(b, "| %s | %s | %s | `%s` | %.12s | %lld | %s |\n", coord_jstr(r, "run"),
                      coord_jstr(r, "name"), coord_jstr(r, "status"), coord_jstr(r, "dataset_path"),
                      coord_jstr(r, "dataset_sha256"), coord_jint(r, "cases"),
                      coord_jstr(r, "grader"));
        if (coord_jint(r, "duplicate_ids"))
            rs_buf_printf(b,
                          "\n> run %s: %lld later case(s) repeat an earlier case id and are "
                          "left out.\n\n",
                          coord_jstr(r, "run"), coord_jint(r, "duplicate_ids"));
    }
    rs_buf_printf(b, "\n%lld case(s) shared by all runs (same case id and targets).\n",
                  coord_jint(cmp, "shared_cases"));
}

static void md_ranking(rs_buf_t *b, json_t *cmp)
{
    size_t i;
    json_t *e;
    rs_buf_puts(b, "\n## Ranking\n\n| rank | run | model | strategy | correct | wrong | error | "
                   "skipped | accuracy [95% CI] |\n|---:|---|---|---|---:|---:|---:|---:|---|\n");
    json_array_foreach(json_object_get(cmp, "ranking"), i, e)
    {
        rs_buf_printf(b, "| %lld | %s | %s | %s | ", coord_jint(e, "rank"), coord_jstr(e, "run"),
                      coord_jstr(e, "model"), coord_jstr(e, "strategy"));
        coord_report_md_counts(b, e);
        rs_buf_putc(b, '\n');
    }
}

static void md_test_cells(rs_buf_t *b, json_t *t)
{
    rs_buf_printf(b, "%lld | %lld | %.4g | %.4g |\n", coord_jint(t, "b"), coord_jint(t, "c"),
                  json_number_value(json_object_get(t, "exact_p")),
                  json_number_value(json_object_get(t, "chi2_p")));
}

static void md_tests(rs_buf_t *b, json_t *cmp)
{
    json_t *best = json_array_get(json_object_get(cmp, "ranking"), 0), *t;
    size_t i;
    if (json_array_size(json_object_get(cmp, "vs_best")) == 0) return;
    rs_buf_printf(
        b,
        "\n## Best against the others (McNemar)\n\nBest: %s / %s / %s. b = cases only "
        "the best got right, c = cases only the other did.\n\n| run | model | "
        "strategy | b | c | exact p | chi\xC2\xB2 p |\n|---|---|---|---:|---:|---:|---:|\n",
        coord_jstr(best, "run"), coord_jstr(best, "model"), coord_jstr(best, "strategy"));
    json_array_foreach(json_object_get(cmp, "vs_best"), i, t)
    {
        rs_buf_printf(b, "| %s | %s | %s | ", coord_jstr(t, "run"), coord_jstr(t, "model"),
                      coord_jstr(t, "strategy"));
        md_test_cells(b, t);
    }
    if (!json_is_array(json_object_get(cmp, "pairs"))) return;
    rs_buf_puts(b, "\n## Every pair (McNemar)\n\nBy rank; b = cases only the first of the two got "
                   "right.\n\n| rank | rank | b | c | exact p | chi\xC2\xB2 p |\n"
                   "|---:|---:|---:|---:|---:|---:|\n");
    json_array_foreach(json_object_get(cmp, "pairs"), i, t)
    {
        json_t *r = json_object_get(t, "ranks");
        rs_buf_printf(b, "| %lld | %lld | ", (long long)json_integer_value(json_array_get(r, 0)),
                      (long long)json_integer_value(json_array_get(r, 1)));
        md_test_cells(b, t);
    }
}

static char *markdown(json_t *cmp)
{
    rs_buf_t b;
    rs_buf_init(&b);
    md_runs(&b, cmp);
    md_ranking(&b, cmp);
    md_tests(&b, cmp);
    return rs_buf_detach(&b);
}

/* ---- the command ---- */

/* "run x: dataset y (sha256 z…)" for each run, for the error that they share nothing. */
static void no_shared_cases(json_t *cmp)
{
    size_t i;
    json_t *r;
    fprintf(stderr, "reasonsaver: the runs share no case, so there is nothing to compare "
                    "(cases pair by id and targets; the runs must be on the same dataset):\n");
    json_array_foreach(json_object_get(cmp, "runs"), i, r)
        fprintf(stderr, "  %s: %s (sha256 %.12s, %lld cases)\n", coord_jstr(r, "run"),
                coord_jstr(r, "dataset_path"), coord_jstr(r, "dataset_sha256"),
                coord_jint(r, "cases"));
}

static void note_datasets(json_t *cmp)
{
    json_t *runs = json_object_get(cmp, "runs");
    const char *sha = coord_jstr(json_array_get(runs, 0), "dataset_sha256");
    for (size_t i = 1; i < json_array_size(runs); i++)
        if (strcmp(sha, coord_jstr(json_array_get(runs, i), "dataset_sha256")) != 0) {
            fprintf(stderr,
                    "reasonsaver: note: the runs' dataset files differ; compared on the "
                    "%lld case(s) they share\n",
                    coord_jint(cmp, "shared_cases"));
            return;
        }
}

static int write_outputs(const compare_opts_t *o, json_t *cmp)
{
    int to_stdout = o->json && strcmp(o->json, "-") == 0;
    if (!to_stdout) {
        char *md = markdown(cmp);
        fputs(md, stdout);
        free(md);
    }
    if (!o->json) return CLI_OK;
    char *text = json_dumps(cmp, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    rs_err_t err;
    int rc = CLI_OK;
    if (to_stdout)
        printf("%s\n", text);
    else if (rs_write_file_atomic(o->json, text, strlen(text), &err))
        rc = cli_fail(CLI_RUNTIME, "%s", err.msg);
    free(text);
    return rc;
}

static int compare_runs(const compare_opts_t *o, char **ids, size_t n)
{
    coord_verdicts_t **runs = rs_xcalloc(n, sizeof(*runs));
    json_t *info = json_array();
    int code = CLI_OK;
    for (size_t i = 0; i < n && code == CLI_OK; i++)
        code = load_run(o, ids[i], &runs[i], info);
    if (code == CLI_OK) {
        json_t *cmp = json_pack("{ss}", "schema", COMPARE_SCHEMA),
               *body = coord_compare_json(runs, n, o->all_pairs);
        json_object_update(cmp, body);
        json_decref(body);
        merge_info(cmp, info);
        if (json_integer_value(json_object_get(cmp, "shared_cases")) == 0) {
            no_shared_cases(cmp);
            code = CLI_USAGE;
        } else {
            note_datasets(cmp);
            code = write_outputs(o, cmp);
        }
        json_decref(cmp);
    }
    for (size_t i = 0; i < n; i++)
        coord_verdicts_destroy(&runs[i]);
    free(runs);
    json_decref(info);
    return code;
}

int cmd_compare(int argc, char **argv)
{
    static const struct option opts[] = {
        {"out", required_argument, 0, 'o'},  {"redis", required_argument, 0, 'r'},
        {"json", required_argument, 0, 'j'}, {"all-pairs", no_argument, 0, 'a'},
        {"help", no_argument, 0, 'h'},       {0, 0, 0, 0}};
    compare_opts_t o = {"runs", NULL, NULL, 0};
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, "o:r:j:ah", opts, NULL)) != -1) {
        if (c == 'h') return fputs(COMPARE_HELP, stdout), CLI_OK;
        if (c == 'o')
            o.out = optarg;
        else if (c == 'r')
            o.redis = optarg;
        else if (c == 'j')
            o.json = optarg;
        else if (c == 'a')
            o.all_pairs = 1;
        else
            return fputs(COMPARE_HELP, stderr), CLI_USAGE;
    }
    if (optind >= argc) return cli_fail(CLI_USAGE, "compare needs at least one RUN_ID");
    rs_log_set_level(RS_LOG_WARN);
    return compare_runs(&o, argv + optind, (size_t)(argc - optind));
}
