/* cmd_datasets: `reasonsaver datasets gen|check|convert` — the synthetic generator, a validator
 * that reads a dataset exactly as a run would and counts its bad records per file, and the
 * converter of any supported format to JSONL. */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "config.h"
#include "datagen.h"
#include "dataset.h"
#include "log.h"

static const char DATASETS_HELP[] =
    "usage: reasonsaver datasets gen arithmetic [--n N] [--seed S] [--out FILE]\n"
    "       reasonsaver datasets check CONFIG|DATASET [--set KEY=VALUE]...\n"
    "       reasonsaver datasets convert CONFIG|DATASET --out FILE.jsonl [--set KEY=VALUE]...\n\n"
    "gen arithmetic  writes N multi-step arithmetic word problems as JSONL (id, question, answer,\n"
    "                tags), the same bytes for the same N and seed. Default N 1000, seed 1,\n"
    "                output to stdout.\n"
    "check           opens a dataset exactly as `run` would and reports, per file, its format,\n"
    "                compression, cases and bad records, the first bad record with its line (and\n"
    "                column for CSV), and the SHA-256. Every record is checked whatever on_error\n"
    "                says; with on_error: fail, any bad record makes the exit status 2.\n"
    "convert         writes every valid case's record as JSONL to FILE (atomically): a CSV row\n"
    "                becomes an object of its cells, and a record without an id gets the id it had.\n\n"
    "A DATASET (a file or a Hugging Face datasets folder, anything not ending in .yaml or .yml)\n"
    "is read with the default config: dataset.format from its extension, fields question and\n"
    "answer; --set dataset.fields.input=prompt and the like change that.\n";

static int gen(int argc, char **argv)
{
    static const struct option opts[] = {{"n", required_argument, 0, 'n'},
                                         {"seed", required_argument, 0, 's'},
                                         {"out", required_argument, 0, 'o'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    int64_t n = 1000, seed = 1;
    const char *out = NULL;
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, "n:s:o:h", opts, NULL)) != -1) {
        if (c == 'h') return fputs(DATASETS_HELP, stdout), CLI_OK;
        if (c == 'n' && (rs_parse_i64(optarg, &n) || n < 0))
            return cli_fail(CLI_USAGE, "--n: expected a count, got '%s'", optarg);
        if (c == 's' && (rs_parse_i64(optarg, &seed) || seed < 0))
            return cli_fail(CLI_USAGE, "--seed: expected a non-negative integer, got '%s'", optarg);
        if (c == 'o') out = optarg;
        if (c == '?') return fputs(DATASETS_HELP, stderr), CLI_USAGE;
    }
    if (optind != argc - 1 || strcmp(argv[optind], "arithmetic") != 0)
        return cli_fail(CLI_USAGE, "datasets gen: the only generator is 'arithmetic'");
    rs_err_t err;
    rs_afile_t *af = out ? rs_afile_open(out, 0644, &err) : NULL;
    if (out && !af) return cli_fail(CLI_RUNTIME, "%s", err.msg);
    int rc = rs_datagen_arithmetic(af ? rs_afile_stream(af) : stdout, (uint64_t)n, (uint64_t)seed, &err);
    if (af && rc == 0) rc = rs_afile_commit(&af, &err);
    rs_afile_abort(&af);
    if (rc) return cli_fail(CLI_RUNTIME, "%s", err.msg);
    if (out) fprintf(stderr, "wrote %lld cases to %s\n", (long long)n, out);
    return CLI_OK;
}

static int is_config(const char *arg)
{
    size_t n = strlen(arg);
    return (n > 5 && strcmp(arg + n - 5, ".yaml") == 0) || (n > 4 && strcmp(arg + n - 4, ".yml") == 0);
}

/* The config of a check or convert: the YAML file, or for a dataset the defaults with its path
 * (and a simulated model, which a config must have and these commands never call). */
static rs_config_t *load_target(const char *arg, const char **sets, size_t n_sets, rs_err_t *err)
{
    if (is_config(arg)) return rs_config_load(arg, sets, n_sets, err);
    const char **all = rs_xcalloc(n_sets + 1, sizeof(char *));
    char *path = rs_xasprintf("dataset.path=%s", arg);
    all[0] = path;
    memcpy(all + 1, sets, n_sets * sizeof(char *));
    rs_config_t *cfg = rs_config_load_string("models: [{name: check, provider: sim, model: sim}]\n",
                                             "<dataset defaults>", NULL, all, n_sets + 1, err);
    free(path);
    free(all);
    return cfg;
}

/* The options both commands take: --set (repeated), and --out for convert. */
static int parse_opts(int argc, char **argv, const char ***sets, size_t *n_sets, const char **out)
{
    static const struct option opts[] = {{"set", required_argument, 0, 's'},
                                         {"out", required_argument, 0, 'o'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    *sets = rs_xcalloc((size_t)argc + 1, sizeof(char *));
    *n_sets = 0;
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, "s:o:h", opts, NULL)) != -1) {
        if (c == 'h') return fputs(DATASETS_HELP, stdout), CLI_OK;
        if (c == 's') (*sets)[(*n_sets)++] = optarg;
        else if (c == 'o' && out) *out = optarg;
        else return fputs(DATASETS_HELP, stderr), CLI_USAGE;
    }
    if (optind != argc - 1)
        return cli_fail(CLI_USAGE, "datasets %s needs one CONFIG or DATASET", argv[0]);
    return -1; /* go on */
}

static void print_files(const rs_dataset_t *ds, rs_buf_t *safe)
{
    for (size_t i = 0; i < rs_dataset_files(ds); i++) {
        rs_dataset_file_t f;
        rs_dataset_file(ds, i, &f);
        printf("  %s: %s%s%s, %llu cases, %llu bad\n",
               rs_text_safe_str(safe, f.path, RS_TEXT_SPACES), f.format,
               strcmp(f.compression, "none") ? " + " : "",
               strcmp(f.compression, "none") ? f.compression : "", (unsigned long long)f.cases,
               (unsigned long long)f.bad);
    }
}

static int check(int argc, char **argv)
{
    const char **sets;
    size_t n_sets;
    int rc = parse_opts(argc, argv, &sets, &n_sets, NULL);
    if (rc >= 0) return free(sets), rc;
    rs_err_t err;
    rs_config_t *cfg = load_target(argv[optind], sets, n_sets, &err);
    free(sets);
    if (!cfg) return cli_fail(CLI_USAGE, "%s", err.msg);
    /* every record is looked at: the counts are the whole file's, not up to the first bad one */
    rs_on_error_t asked = cfg->dataset.on_error;
    cfg->dataset.on_error = RS_ON_ERROR_SKIP;
    rs_dataset_t *ds = rs_dataset_open(cfg, &err);
    int code = CLI_OK;
    if (!ds) {
        code = cli_fail(CLI_USAGE, "%s", err.msg);
    } else {
        uint64_t bad = rs_dataset_skipped(ds);
        /* names and reasons quote the dataset's own bytes: shown, never obeyed by the terminal */
        rs_buf_t safe;
        rs_buf_init(&safe);
        printf("%s: %llu cases, %llu lines skipped, sha256 %s\n",
               rs_text_safe_str(&safe, rs_dataset_path(ds), RS_TEXT_SPACES),
               (unsigned long long)rs_dataset_count(ds), (unsigned long long)bad,
               rs_dataset_sha256(ds));
        if (rs_dataset_split(ds)) printf("  split: %s\n", rs_dataset_split(ds));
        print_files(ds, &safe);
        const char *const *reasons;
        size_t n = rs_dataset_skip_reasons(ds, &reasons);
        if (n > 0)
            printf("  first bad record: %s\n", rs_text_safe_str(&safe, reasons[0], RS_TEXT_SPACES));
        for (size_t i = 1; i < n && i < 10; i++)
            printf("  skipped: %s\n", rs_text_safe_str(&safe, reasons[i], RS_TEXT_SPACES));
        rs_buf_cleanup(&safe);
        if (bad && asked == RS_ON_ERROR_FAIL)
            code = cli_fail(CLI_USAGE, "%llu bad record%s: a run stops at the first (on_error: "
                                       "fail; skip runs the rest)",
                            (unsigned long long)bad, bad == 1 ? "" : "s");
    }
    rs_dataset_destroy(&ds);
    rs_config_destroy(&cfg);
    return code;
}

/* Every valid case's record, one JSON object a line, into af. */
static int write_records(rs_dataset_t *ds, FILE *f, rs_err_t *err)
{
    for (uint64_t i = 0; i < rs_dataset_count(ds); i++) {
        char *rec = rs_dataset_record(ds, i, err);
        if (!rec) return -1;
        fputs(rec, f);
        fputc('\n', f);
        free(rec);
    }
    return 0;
}

static int convert(int argc, char **argv)
{
    const char **sets;
    size_t n_sets;
    const char *out = NULL;
    int rc = parse_opts(argc, argv, &sets, &n_sets, &out);
    if (rc >= 0) return free(sets), rc;
    if (!out) return free(sets), cli_fail(CLI_USAGE, "datasets convert needs --out FILE.jsonl");
    rs_err_t err;
    rs_config_t *cfg = load_target(argv[optind], sets, n_sets, &err);
    free(sets);
    if (!cfg) return cli_fail(CLI_USAGE, "%s", err.msg);
    rs_dataset_t *ds = rs_dataset_open(cfg, &err);
    rs_config_destroy(&cfg);
    if (!ds) return cli_fail(CLI_USAGE, "%s", err.msg);
    rs_afile_t *af = rs_afile_open(out, 0644, &err);
    rc = af ? write_records(ds, rs_afile_stream(af), &err) : -1;
    if (rc == 0) rc = rs_afile_commit(&af, &err);
    rs_afile_abort(&af);
    if (rc == 0)
        fprintf(stderr, "wrote %llu cases to %s (%llu bad records skipped)\n",
                (unsigned long long)rs_dataset_count(ds), out,
                (unsigned long long)rs_dataset_skipped(ds));
    rs_dataset_destroy(&ds);
    return rc ? cli_fail(CLI_RUNTIME, "%s", err.msg) : CLI_OK;
}

int cmd_datasets(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(DATASETS_HELP, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    if (strcmp(argv[1], "gen") == 0) return gen(argc - 1, argv + 1);
    if (strcmp(argv[1], "check") == 0) return check(argc - 1, argv + 1);
    if (strcmp(argv[1], "convert") == 0) return convert(argc - 1, argv + 1);
    return cli_fail(CLI_USAGE, "unknown datasets command '%s' (gen, check, convert)", argv[1]);
}
