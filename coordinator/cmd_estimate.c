/* cmd_estimate: `reasonsaver estimate CONFIG` (and `run --estimate`) — the calls, tokens and cost
 * a run would take, per model and stage, from one pass over its dataset, and how many of its
 * generation calls the response cache holds; no model is contacted. */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cachepeek.h"
#include "cachesrv.h"
#include "cli.h"
#include "config.h"
#include "dataset.h"
#include "estimate.h"
#include "log.h"
#include "util.h"

static const char ESTIMATE_HELP[] =
    "usage: reasonsaver estimate CONFIG [--set KEY=VALUE]... [--json]\n"
    "       reasonsaver run CONFIG --estimate [--set KEY=VALUE]...\n\n"
    "Prints what the run of CONFIG would ask of each model, per stage (generate, critique per\n"
    "judge's model, revise, embed): the calls, the input tokens counted from the rendered prompts,\n"
    "the output tokens at most (max_tokens per answer) and the cost range at the models' prices.\n"
    "It reads the dataset once, renders every prompt as the coordinator does for a task, and\n"
    "contacts no model.\n\n"
    "When the run would read the response cache (cache.mode read or read_write), each\n"
    "generation call's key is looked up there (EXISTS only) and the calls it would answer are\n"
    "counted. Critiques, revisions and embeddings quote answers not known before the run, so they\n"
    "are not looked up.\n\n"
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
    coord_cachepeek_t *peek; /* NULL: the cache is not looked up (or stopped answering) */
    rs_err_t peek_err;       /* why it stopped */
    double started;
    int shown;
    uint32_t epochs; /* each case is asked this many times (epochs: K) */
} scan_t;

/* One case as each of its epochs asks it (a case read with its prompt variant). */
static int add_case(const rs_case_t *c, void *arg, rs_err_t *err)
{
    (void)err;
    scan_t *s = arg;
    rs_case_t unit = *c; /* a shallow copy: only the epoch differs, and nothing is freed */
    for (unit.epoch = 0; unit.epoch < s->epochs; unit.epoch++) {
        coord_estimate_add(s->est, &unit);
        if (s->peek && coord_cachepeek_case(s->peek, &unit, &s->peek_err))
            coord_cachepeek_destroy(&s->peek); /* the estimate goes on without the cache */
    }
    uint64_t n = coord_estimate_cases(s->est);
    if ((n & 0xffff) == 0 && rs_mono_sec() - s->started > 1.0 && isatty(STDERR_FILENO)) {
        fprintf(stderr, "\rreading the dataset: %llu cases", (unsigned long long)n);
        s->shown = 1;
    }
    return 0;
}

/* The scan read every case with the first prompt variant; the others are read again here, by
 * offset, so that their prompts' tokens are counted as sent. */
static int add_variants(scan_t *s, const rs_config_t *cfg, rs_dataset_t *ds, rs_err_t *err)
{
    for (size_t v = 1; v < rs_config_variants(cfg); v++)
        for (uint64_t i = 0; i < rs_dataset_count(ds); i++) {
            rs_case_t c;
            if (rs_dataset_read_variant(ds, i, v, &c, err) < 0) return -1;
            add_case(&c, s, err);
            rs_case_cleanup(&c);
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

/* The cache the run would read, ready to be looked up; NULL with why when it is not looked up. */
static coord_cachepeek_t *open_peek(const rs_config_t *cfg, coord_cachesrv_t **where, rs_err_t *why)
{
    rs_cache_mode_t mode = cfg->cache.mode;
    if (mode != RS_CACHE_READ && mode != RS_CACHE_READ_WRITE) {
        rs_err_set(why, "the run does not read the cache (cache.mode=%s)", rs_cache_mode_name(mode));
        return NULL;
    }
    *where = coord_cachesrv_find(cfg);
    const char *url = coord_cachesrv_url(*where);
    if (!url) {
        rs_err_set(why, "%s", coord_cachesrv_label(*where));
        return NULL;
    }
    coord_cachepeek_t *p = coord_cachepeek_new(cfg, url, why);
    if (!p) rs_warn("response cache: %s; the estimate goes on without it", why->msg);
    return p;
}

/* The cache's part: where it is and what it would answer, into o (and each generate row). */
static void cache_json(json_t *o, const rs_config_t *cfg, coord_cachesrv_t *where, scan_t *s,
                       const char *why)
{
    json_t *c = json_object();
    if (where) json_object_set_new(c, "where", json_string(coord_cachesrv_label(where)));
    if (s->peek && coord_cachepeek_flush(s->peek, &s->peek_err)) coord_cachepeek_destroy(&s->peek);
    if (!s->peek) {
        json_object_set_new(c, "looked_up", json_false());
        json_object_set_new(c, "why", json_string(s->peek_err.msg[0] ? s->peek_err.msg : why));
        json_object_set_new(o, "cache", c);
        return;
    }
    uint64_t asked = 0, hits = 0;
    size_t i;
    json_t *row;
    json_array_foreach(json_object_get(o, "rows"), i, row) {
        const char *name = json_string_value(json_object_get(row, "model"));
        if (strcmp(json_string_value(json_object_get(row, "stage")), "generate") != 0) continue;
        for (size_t m = 0; m < cfg->n_models; m++) {
            if (strcmp(cfg->models[m].name, name) != 0 || !coord_cachepeek_asked(s->peek, m))
                continue;
            json_object_set_new(row, "cached_calls",
                                json_integer((json_int_t)coord_cachepeek_hits(s->peek, m)));
            asked += coord_cachepeek_asked(s->peek, m);
            hits += coord_cachepeek_hits(s->peek, m);
        }
    }
    json_object_set_new(c, "looked_up", json_true());
    json_object_set_new(c, "generate_calls", json_integer((json_int_t)asked));
    json_object_set_new(c, "cached_calls", json_integer((json_int_t)hits));
    json_object_set_new(o, "cache", c);
}

static void print_cache(json_t *o)
{
    json_t *c = json_object_get(o, "cache");
    json_t *where = json_object_get(c, "where");
    printf("\nresponse cache%s%s\n", where ? ": " : "", where ? json_string_value(where) : "");
    if (!json_is_true(json_object_get(c, "looked_up"))) {
        printf("  not looked up: %s\n", json_string_value(json_object_get(c, "why")));
        return;
    }
    char a[32], b[32];
    size_t i;
    json_t *row;
    json_array_foreach(json_object_get(o, "rows"), i, row) {
        json_t *hits = json_object_get(row, "cached_calls");
        if (!hits) continue;
        printf("  %-20s %s of %s generation calls would be answered from it\n",
               json_string_value(json_object_get(row, "model")),
               grouped((uint64_t)json_integer_value(hits), a),
               grouped((uint64_t)json_integer_value(json_object_get(row, "calls")), b));
    }
    printf("  critiques, revisions and embeddings quote answers not known before the run, so they\n"
           "  are not looked up (when answers come from the cache and a judge is unchanged, its\n"
           "  critiques are cached too)\n");
}

static void print_result(json_t *o, int json)
{
    if (json) {
        char *text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        puts(text);
        free(text);
    } else {
        print_text(o);
        print_cache(o);
    }
}

int cli_estimate(const char *config, const char *const *sets, size_t n_sets, int json)
{
    rs_err_t err;
    rs_config_t *cfg = rs_config_load(config, sets, n_sets, &err);
    if (!cfg) return cli_fail(CLI_USAGE, "%s", err.msg);
    scan_t s = {.est = coord_estimate_new(cfg, &err), .started = rs_mono_sec()};
    coord_cachesrv_t *where = NULL;
    rs_err_t why = {0};
    if (s.est) s.peek = open_peek(cfg, &where, &why);
    s.epochs = cfg->epochs > 1 ? (uint32_t)cfg->epochs : 1;
    rs_dataset_t *ds = s.est ? rs_dataset_open_each(cfg, add_case, &s, &err) : NULL;
    if (ds && add_variants(&s, cfg, ds, &err) < 0) rs_dataset_destroy(&ds);
    if (s.shown) fprintf(stderr, "\r\033[K");
    int code = CLI_OK;
    if (!ds) {
        code = cli_fail(CLI_USAGE, "%s", err.msg);
    } else {
        json_t *o = coord_estimate_json(s.est);
        json_object_set_new(o, "config", json_string(config));
        json_object_set_new(o, "dataset", json_string(rs_dataset_path(ds)));
        cache_json(o, cfg, where, &s, why.msg);
        print_result(o, json);
        json_decref(o);
    }
    coord_cachepeek_destroy(&s.peek);
    coord_cachesrv_close(&where);
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
