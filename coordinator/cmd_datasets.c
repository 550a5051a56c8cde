/* cmd_datasets: `reasonsaver datasets gen|check` — the synthetic generator and a validator that
 * reads a dataset exactly as a run would, reporting the first bad line or the skip count. */
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
    "       reasonsaver datasets check CONFIG [--set KEY=VALUE]...\n\n"
    "gen arithmetic  writes N multi-step arithmetic word problems as JSONL (id, question, answer,\n"
    "                tags), the same bytes for the same N and seed. Default N 1000, seed 1,\n"
    "                output to stdout.\n"
    "check           opens the dataset of a run config exactly as `run` would and reports its\n"
    "                case count, skipped lines and SHA-256, or the first bad line.\n";

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

static int check(int argc, char **argv)
{
    static const struct option opts[] = {{"set", required_argument, 0, 's'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char **sets = rs_xcalloc((size_t)argc + 1, sizeof(char *));
    size_t n_sets = 0;
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, "s:h", opts, NULL)) != -1) {
        if (c == 'h') return free(sets), fputs(DATASETS_HELP, stdout), CLI_OK;
        if (c == 's') sets[n_sets++] = optarg;
        else return free(sets), fputs(DATASETS_HELP, stderr), CLI_USAGE;
    }
    if (optind != argc - 1) return free(sets), cli_fail(CLI_USAGE, "datasets check needs a CONFIG");
    rs_err_t err;
    rs_config_t *cfg = rs_config_load(argv[optind], sets, n_sets, &err);
    free(sets);
    if (!cfg) return cli_fail(CLI_USAGE, "%s", err.msg);
    rs_dataset_t *ds = rs_dataset_open(cfg, &err);
    int code = CLI_OK;
    if (!ds) {
        code = cli_fail(CLI_USAGE, "%s", err.msg);
    } else {
        printf("%s: %llu cases, %llu lines skipped, sha256 %s\n", rs_dataset_path(ds),
               (unsigned long long)rs_dataset_count(ds), (unsigned long long)rs_dataset_skipped(ds),
               rs_dataset_sha256(ds));
        const char *const *reasons;
        size_t n = rs_dataset_skip_reasons(ds, &reasons);
        for (size_t i = 0; i < n && i < 10; i++) printf("  skipped: %s\n", reasons[i]);
    }
    rs_dataset_destroy(&ds);
    rs_config_destroy(&cfg);
    return code;
}

int cmd_datasets(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        fputs(DATASETS_HELP, argc < 2 ? stderr : stdout);
        return argc < 2 ? CLI_USAGE : CLI_OK;
    }
    if (strcmp(argv[1], "gen") == 0) return gen(argc - 1, argv + 1);
    if (strcmp(argv[1], "check") == 0) return check(argc - 1, argv + 1);
    return cli_fail(CLI_USAGE, "unknown datasets command '%s' (gen, check)", argv[1]);
}
