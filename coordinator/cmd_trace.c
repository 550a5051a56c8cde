/* cmd_trace: `reasonsaver trace RUN_ID CASE_ID` — one case's spans as an indented waterfall with
 * durations, then its prompt and every model's answers (truncated unless --full). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cliargs.h"
#include "config.h"
#include "dataset.h"
#include "log.h"
#include "record.h"
#include "runref.h"
#include "units.h"

static const char TRACE_HELP[] =
    "usage: reasonsaver trace RUN_ID CASE_ID [OPTIONS]\n\n"
    "Prints the spans of one case (its trace) as an indented waterfall with durations, then the\n"
    "prompt and the answers. CASE_ID is the case's id in the dataset; with --index it is the\n"
    "case's 0-based position (its \"idx\" in results.jsonl). In a run of several prompts or epochs\n"
    "(docs/EXPERIMENTS.md) --prompt and --epoch pick which asking of the case to show.\n\n"
    "options:\n"
    "  --index       CASE_ID is a 0-based case index\n"
    "  --prompt NAME the prompt variant (default: the first)\n"
    "  --epoch E     the epoch, from 0 (default 0)\n"
    "  --full        do not truncate prompts and answers\n"
    "  --out DIR     directory of runs (default runs)\n"
    "  --redis URL   read the run from this Redis instead of its run directory\n"
    "  -h, --help    this help\n";

#define BAR 40

/* Which unit of the run to show (units.h): by the case's id in the dataset and the prompt and
 * epoch asked for, or by its index. */
typedef struct pick {
    const char *id;     /* NULL: by index */
    int64_t index;
    const char *prompt; /* NULL: the first variant */
    int64_t epoch;
} pick_t;

static int variant_named(const rs_config_t *cfg, const char *name, uint32_t *out, rs_err_t *err)
{
    for (size_t v = 0; v < rs_config_variants(cfg); v++) {
        const char *n;
        rs_config_variant(cfg, v, &n);
        if (strcmp(n, name) == 0) return *out = (uint32_t)v, 0;
    }
    return rs_err_set(err, "--prompt: the run has no prompt named '%s'", name);
}

/* The unit of case id (as pick says), by reading the run's dataset; -1 when absent. */
static int64_t find_unit(const rs_config_t *cfg, rs_dataset_t *ds, const coord_units_t *u,
                         const pick_t *pk, rs_err_t *err)
{
    uint32_t variant = 0;
    if (pk->prompt && variant_named(cfg, pk->prompt, &variant, err)) return -1;
    if (pk->epoch < 0 || pk->epoch >= (int64_t)u->epochs) {
        rs_err_set(err, "--epoch: the run has epochs 0 to %u", u->epochs - 1);
        return -1;
    }
    for (uint64_t i = 0; i < rs_dataset_count(ds); i++) {
        rs_case_t c = {0};
        if (rs_dataset_read(ds, i, &c, err) != 0) return -1;
        int same = strcmp(c.id, pk->id) == 0;
        rs_case_cleanup(&c);
        if (same) return (int64_t)coord_units_of(u, i, variant, (uint32_t)pk->epoch);
    }
    rs_err_set(err, "no case with id '%s' in %s", pk->id, rs_dataset_path(ds));
    return -1;
}

/* The unit pick names, read with its prompt into out; its index, or -1 with err. */
static int64_t read_unit(const coord_runref_t *ref, const pick_t *pk, rs_case_t *out, rs_err_t *err)
{
    const char *spec = json_string_value(json_object_get(ref->manifest, "config"));
    rs_config_t *cfg = rs_config_from_json(spec ? spec : "", err);
    if (!cfg) return -1;
    rs_dataset_t *ds = rs_dataset_open(cfg, err);
    coord_units_t u;
    coord_units_init(&u, cfg, ds ? rs_dataset_count(ds) : 0);
    int64_t idx = !ds ? -1 : pk->id ? find_unit(cfg, ds, &u, pk, err) : pk->index;
    if (idx >= 0 && (uint64_t)idx >= coord_units_total(&u))
        idx = -1, rs_err_set(err, "--index: the run has cases 0 to %llu",
                             (unsigned long long)coord_units_total(&u) - 1);
    if (idx >= 0 && coord_units_read(&u, ds, (uint64_t)idx, out, err) != 0) idx = -1;
    rs_dataset_destroy(&ds);
    rs_config_destroy(&cfg);
    return idx;
}

/* Prompts, targets and answers come from datasets and models: shown with rs_text_safe, so an
 * escape sequence or a bidirectional override in them is seen, never acted on by the terminal. */
static void print_text(const char *label, const char *text, int full)
{
    size_t n = strlen(text), max = full ? n : 300;
    while (max < n && ((unsigned char)text[max] & 0xC0) == 0x80) max--; /* a whole character */
    rs_buf_t b, l;
    rs_buf_init(&b);
    rs_buf_init(&l);
    rs_text_safe(&b, text, n < max ? n : max, RS_TEXT_KEEP_LINES);
    printf("  %s: %.*s%s\n", rs_text_safe_str(&l, label, RS_TEXT_SPACES), (int)b.len,
           b.data ? b.data : "", n > max ? " [...]" : "");
    rs_buf_cleanup(&b);
    rs_buf_cleanup(&l);
}

/* A short string from a record (a name, a verdict) for one line of the terminal. Heap. */
static char *line_text(const char *s)
{
    rs_buf_t b;
    rs_buf_init(&b);
    rs_text_safe_str(&b, s, RS_TEXT_SPACES);
    return rs_buf_detach(&b);
}

static int depth_of(json_t *spans, json_t *span)
{
    int d = 0;
    const char *parent = json_string_value(json_object_get(span, "parent_span_id"));
    while (parent && d < 32) {
        json_t *p = NULL, *s;
        size_t i;
        json_array_foreach(spans, i, s)
            if (json_equal(json_object_get(s, "span_id"), json_object_get(span, "parent_span_id")))
                p = s;
        if (!p) break;
        d++;
        span = p;
        parent = json_string_value(json_object_get(p, "parent_span_id"));
    }
    return d;
}

/* By start time; on a tie the root first, so it heads the waterfall. */
static int cmp_start(const void *a, const void *b)
{
    json_t *sa = *(json_t *const *)a, *sb = *(json_t *const *)b;
    json_int_t x = json_integer_value(json_object_get(sa, "start_us"));
    json_int_t y = json_integer_value(json_object_get(sb, "start_us"));
    if (x != y) return (x > y) - (x < y);
    int ra = !json_is_string(json_object_get(sa, "parent_span_id"));
    int rb = !json_is_string(json_object_get(sb, "parent_span_id"));
    return rb - ra;
}

static void span_line(json_t *spans, json_t *s, json_int_t t0, json_int_t span_all)
{
    json_int_t st = json_integer_value(json_object_get(s, "start_us"));
    json_int_t en = json_integer_value(json_object_get(s, "end_us"));
    int from = span_all ? (int)((st - t0) * BAR / span_all) : 0;
    int to = span_all ? (int)((en - t0) * BAR / span_all) : BAR;
    char bar[BAR + 1];
    for (int i = 0; i < BAR; i++) bar[i] = i >= from && i <= (to > from ? to - 1 : from) ? '=' : ' ';
    bar[BAR] = '\0';
    int depth = depth_of(spans, s);
    json_t *attrs = json_object_get(s, "attributes");
    /* the model's label tells two models of the same id apart; the id is the fallback */
    const char *model = json_string_value(json_object_get(attrs, "reasonsaver.model"));
    if (!model) model = json_string_value(json_object_get(attrs, "gen_ai.request.model"));
    const char *err = json_string_value(json_object_get(attrs, "error.type"));
    size_t retries = 0, i;
    json_t *e;
    json_array_foreach(json_object_get(s, "events"), i, e) {
        const char *ev = json_string_value(json_object_get(e, "name"));
        retries += ev && strcmp(ev, "retry") == 0;
    }
    char *name = line_text(json_string_value(json_object_get(s, "name")));
    char *model_s = line_text(model), *err_s = line_text(err);
    printf("%*s%-*s %9.1f ms |%s|%s%s%s%s", 2 * depth, "", 24 - 2 * depth, name,
           (double)(en - st) / 1000.0, bar, model ? " " : "", model_s, err ? " error=" : "", err_s);
    free(name);
    free(model_s);
    free(err_s);
    if (retries) printf(" retries=%zu", retries);
    putchar('\n');
}

static void print_waterfall(json_t *spans)
{
    size_t n = json_array_size(spans);
    if (n == 0) {
        printf("(this result has no spans)\n");
        return;
    }
    json_t **v = rs_xmalloc(n * sizeof(json_t *));
    json_int_t t0 = INT64_MAX, t1 = 0;
    for (size_t i = 0; i < n; i++) {
        v[i] = json_array_get(spans, i);
        json_int_t st = json_integer_value(json_object_get(v[i], "start_us"));
        json_int_t en = json_integer_value(json_object_get(v[i], "end_us"));
        if (st < t0) t0 = st;
        if (en > t1) t1 = en;
    }
    qsort(v, n, sizeof(json_t *), cmp_start);
    char *trace_id = line_text(json_string_value(json_object_get(v[0], "trace_id")));
    printf("trace %s\n", trace_id);
    free(trace_id);
    for (size_t i = 0; i < n; i++) span_line(spans, v[i], t0, t1 - t0);
    free(v);
}

/* What the response said of itself, when the record has it (records of runs before it existed,
 * and of the sim, have none): the served model, reasoning tokens and the thinking, which is
 * never the graded answer. */
static void print_served(json_t *c, int full)
{
    const char *served = json_string_value(json_object_get(c, "served_model"));
    json_int_t reasoning = json_integer_value(json_object_get(c, "reasoning_tokens"));
    const char *thinking = json_string_value(json_object_get(c, "thinking"));
    if (served) {
        char *s = line_text(served);
        printf("  served by %s", s);
        free(s);
        if (reasoning) printf(", %lld reasoning tokens", (long long)reasoning);
        printf("\n");
    }
    if (thinking) print_text("thinking (not graded)", thinking, full);
}

static void print_answers(json_t *rec, int full)
{
    size_t i, j;
    json_t *m, *c;
    json_array_foreach(json_object_get(rec, "models"), i, m) {
        char *name = line_text(json_string_value(json_object_get(m, "model")));
        printf("\nmodel %s%s\n", name, json_is_true(json_object_get(m, "simulated")) ? " [simulated]" : "");
        free(name);
        json_array_foreach(json_object_get(m, "candidates"), j, c) {
            const char *out = json_string_value(json_object_get(c, "output"));
            const char *err = json_string_value(json_object_get(c, "error"));
            char label[64];
            snprintf(label, sizeof(label), "candidate %zu", j);
            print_text(label, out ? out : err ? err : "(none)", full);
            print_served(c, full);
            char *grades = json_dumps(json_object_get(c, "grades"), JSON_COMPACT);
            const char *ex = json_string_value(json_object_get(c, "extracted"));
            char *ex_s = line_text(ex ? ex : "(none)"), *grades_s = line_text(grades ? grades : "{}");
            printf("  extracted %s, grades %s\n", ex_s, grades_s);
            free(ex_s);
            free(grades_s);
            free(grades);
        }
    }
}

static int show(coord_runref_t *ref, uint64_t idx, rs_case_t *c, int full, rs_err_t *err)
{
    char *text[1];
    if (coord_store_results_get(ref->store, ref->run_id, idx, 1, text, err)) return -1;
    if (!text[0]) return rs_err_set(err, "case %s (index %llu) has no result yet", c->id,
                                    (unsigned long long)idx);
    const char *json;
    size_t len;
    if (coord_record_unwrap(text[0], strlen(text[0]), &json, &len, err)) {
        free(text[0]);
        return rs_err_prefix(err, "case %s (index %llu): its stored record is damaged; `reasonsaver "
                             "resume` runs it again", c->id, (unsigned long long)idx);
    }
    json_t *rec = json_loadb(json, len, 0, NULL);
    free(text[0]);
    char *id = line_text(c->id);
    printf("case %s (index %llu", id, (unsigned long long)idx);
    const char *prompt = json_string_value(json_object_get(rec, "prompt"));
    char *prompt_s = prompt ? line_text(prompt) : NULL;
    if (prompt_s) printf(", prompt %s", prompt_s);
    if (json_is_integer(json_object_get(rec, "epoch")))
        printf(", epoch %lld", (long long)json_integer_value(json_object_get(rec, "epoch")));
    printf(") of run %s\n\n", ref->run_id);
    free(prompt_s);
    free(id);
    print_waterfall(json_object_get(rec, "spans"));
    printf("\nprompt\n");
    for (size_t i = 0; i < c->n_msgs; i++) print_text(c->msgs[i].role, c->msgs[i].content, full);
    for (size_t i = 0; i < c->n_targets; i++) print_text("target", c->targets[i], full);
    print_answers(rec, full);
    json_decref(rec);
    return 0;
}

typedef struct trace_opts {
    pick_t pk; /* --prompt, --epoch */
    int by_index, full;
} trace_opts_t;

static int trace_opt(void *arg, int c, const char *value)
{
    trace_opts_t *o = arg;
    if (c == 'i') o->by_index = 1;
    else if (c == 'p') o->pk.prompt = value;
    else if (c == 'e' && (rs_parse_i64(value, &o->pk.epoch) || o->pk.epoch < 0))
        return cli_fail(CLI_USAGE, "--epoch: '%s' is not an epoch number", value);
    else if (c == 'f') o->full = 1;
    return CLI_OK;
}

int cmd_trace(int argc, char **argv)
{
    static const struct option opts[] = {{"index", no_argument, 0, 'i'},
                                         {"prompt", required_argument, 0, 'p'},
                                         {"epoch", required_argument, 0, 'e'},
                                         {"full", no_argument, 0, 'f'},
                                         {0, 0, 0, 0}};
    trace_opts_t o = {0};
    const cli_cmd_t cli = {.name = "trace", .help = TRACE_HELP, .opts = opts, .letters = "ip:e:f",
                           .on_opt = trace_opt, .arg = &o, .min_args = 2, .max_args = 2,
                           .args_msg = "trace needs RUN_ID and CASE_ID (see --help)"};
    cli_runargs_t a;
    coord_runref_t ref;
    rs_err_t err;
    int code;
    if (cli_runargs_parse(&cli, argc, argv, &a, &code)) return code;
    if ((code = cli_runargs_open(&a, a.args[0], &ref))) return code;
    pick_t pk = o.pk;
    rs_case_t kase = {0};
    int64_t idx = -1;
    if (o.by_index && (rs_parse_i64(a.args[1], &pk.index) || pk.index < 0))
        rs_err_set(&err, "--index: '%s' is not a case index", a.args[1]);
    else if (o.by_index && (pk.prompt || pk.epoch))
        rs_err_set(&err, "--index names the case with its prompt and epoch: no --prompt or --epoch");
    else
        pk.id = o.by_index ? NULL : a.args[1], idx = read_unit(&ref, &pk, &kase, &err);
    code = idx < 0 ? cli_fail(CLI_USAGE, "%s", err.msg)
                       : show(&ref, (uint64_t)idx, &kase, o.full, &err) ? cli_fail(CLI_USAGE, "%s", err.msg)
                                                                       : CLI_OK;
    rs_case_cleanup(&kase);
    coord_runref_close(&ref);
    return code;
}
