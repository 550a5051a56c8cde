/* cmd_estimate: `reasonsaver estimate CONFIG` (and `run --estimate`) — the calls, tokens and cost
 * a run would take, per model and stage, from one pass over its dataset; no model, no Redis. */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "config.h"
#include "dataset.h"
#include "estimate.h"
#include "util.h"

static const char ESTIMATE_HELP[] =
    "usage: reasonsaver estimate CONFIG [--set KEY=VALUE]... [--json]\n"
    "       reasonsaver run CONFIG --estimate [--set KEY=VALUE]...\n\n"
    "Prints what the run of CONFIG would ask of each model, per stage (generate, critique per\n"
    "judge's model, revise, embed): the calls, the input tokens counted from the rendered prompts,\n"
    "the output tokens at most (max_tokens per answer) and the cost range at the models' prices.\n"
    "It reads the dataset once, renders every prompt as the coordinator does for a task, and\n"
    "contacts no model and no Redis.\n\n"
    "Tokens are ceil(bytes / 4) of each call's messages (no tokenizer): what the sim and\n"
    "reasonsaver-mockllm bill, near a real tokenizer's count for English prose and below it for\n"
    "digits, code and other scripts. \"input max\" adds the answers and critiques that critique and\n"
    "revision prompts quote, at their max_tokens. The cost runs from the input tokens alone to\n"
    "input max plus the output bound. Every candidate is counted as critiqued by every judge and\n"
    "revised in every round: exact without errors (a failed call ends its candidate's chain).\n"
    "Retries are not counted.\n\n"
    "options:\n"
    "  --set KEY=VALUE   override a config value, as for run (repeatable)\n"
    "  --json            the estimate as JSON\n"
    "  -h, --help        this help\n";

/* A slow scan (a large dataset on a slow disk) shows how far it got, on a terminal only. */
typedef struct scan {
    coord_estimate_t *est;
    double started;
    int shown;
} scan_t;

static int add_case(const rs_case_t *c, void *arg, rs_err_t *err)
{
    (void)err;
    scan_t *s = arg;
    coord_estimate_add(s->est, c);
    uint64_t n = coord_estimate_cases(s->est);
    if ((n & 0xffff) == 0 && rs_mono_sec() - s->started > 1.0 && isatty(STDERR_FILENO)) {
        fprintf(stderr, "\rreading the dataset: %llu cases", (unsigned long long)n);
        s->shown = 1;
    }
    return 0;
}

/* n with thousands separators. */
static const char *grouped(uint64_t n, char out[32])
{
    char digits[24];
    int len = snprintf(digits, sizeof(digits), "%llu", (unsigned long long)n), o = 0;
    for (int i = 0; i < len; i++) {
        if (i > 0 && (len - i) % 3 == 0) out[o++] = ',';
        out[o++] = digits[i];
    }
    out[o] = '\0';
    return out;
}

static void print_row(const char *model, const char *stage, json_t *c)
{
    char a[32], b[32], d[32], e[32];
    printf("%-20s %-9s %13s %15s %15s %15s  $%.4f - $%.4f\n", model, stage,
           grouped((uint64_t)json_integer_value(json_object_get(c, "calls")), a),
           grouped((uint64_t)json_integer_value(json_object_get(c, "input_tokens")), b),
           grouped((uint64_t)json_integer_value(json_object_get(c, "input_tokens_max")), d),
           grouped((uint64_t)json_integer_value(json_object_get(c, "output_tokens_max")), e),
           json_number_value(json_object_get(c, "cost_usd_min")),
           json_number_value(json_object_get(c, "cost_usd_max")));
}

static void print_text(json_t *o)
{
    printf("estimate for %s: %lld cases of %s\n\n",
           json_string_value(json_object_get(o, "config")),
           (long long)json_integer_value(json_object_get(o, "cases")),
           json_string_value(json_object_get(o, "dataset")));
    printf("%-20s %-9s %13s %15s %15s %15s  %s\n", "model", "stage", "calls", "input tokens",
           "input max", "output max", "cost (USD)");
    size_t i;
    json_t *row;
    json_array_foreach(json_object_get(o, "rows"), i, row)
        print_row(json_string_value(json_object_get(row, "model")),
                  json_string_value(json_object_get(row, "stage")), row);
    print_row("total", "", json_object_get(o, "total"));
    printf("\ntokens: ceil(bytes / 4) per call, no tokenizer; input max adds the quoted answers and\n"
           "critiques at their max_tokens; output max is max_tokens per answer. Every candidate is\n"
           "critiqued by every judge and revised in every round; retries are not counted.\n");
}

int cli_estimate(const char *config, const char *const *sets, size_t n_sets, int json)
{
    rs_err_t err;
    rs_config_t *cfg = rs_config_load(config, sets, n_sets, &err);
    if (!cfg) return cli_fail(CLI_USAGE, "%s", err.msg);
    scan_t s = {.est = coord_estimate_new(cfg, &err), .started = rs_mono_sec()};
    rs_dataset_t *ds = s.est ? rs_dataset_open_each(cfg, add_case, &s, &err) : NULL;
    if (s.shown) fprintf(stderr, "\r\033[K");
    int code = CLI_OK;
    if (!ds) {
        code = cli_fail(CLI_USAGE, "%s", err.msg);
    } else {
        json_t *o = coord_estimate_json(s.est);
        json_object_set_new(o, "config", json_string(config));
        json_object_set_new(o, "dataset", json_string(rs_dataset_path(ds)));
        if (json) {
            char *text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
            puts(text);
            free(text);
        } else {
            print_text(o);
        }
        json_decref(o);
    }
    rs_dataset_destroy(&ds);
    coord_estimate_destroy(&s.est);
    rs_config_destroy(&cfg);
    return code;
}

int cmd_estimate(int argc, char **argv)
{
    static const struct option opts[] = {{"set", required_argument, 0, 's'},
                                         {"json", no_argument, 0, 'j'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char **sets = NULL;
    size_t n_sets = 0;
    int json = 0, c;
    optind = 0;
    while ((c = getopt_long(argc, argv, "s:jh", opts, NULL)) != -1) {
        if (c == 'h') {
            free(sets);
            return fputs(ESTIMATE_HELP, stdout), CLI_OK;
        }
        if (c == 's') {
            sets = rs_xrealloc(sets, (n_sets + 1) * sizeof(*sets));
            sets[n_sets++] = optarg;
        } else if (c == 'j') {
            json = 1;
        } else {
            free(sets);
            return fputs(ESTIMATE_HELP, stderr), CLI_USAGE;
        }
    }
    int code = argc - optind == 1 ? cli_estimate(argv[optind], sets, n_sets, json)
                                  : cli_fail(CLI_USAGE, "estimate needs exactly one CONFIG file "
                                                        "(see `reasonsaver estimate --help`)");
    free(sets);
    return code;
}
