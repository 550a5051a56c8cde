/* config: owns the run configuration: YAML (or JSON) text in, a validated rs_config_t out, and the
 * resolved config back out as JSON. Every key is one row in one table per section (below);
 * defaults, parsing, bounds, JSON output and freeing are all driven by those rows, so a new key is
 * one row. */
#define _XOPEN_SOURCE 700 /* realpath */
#include "config.h"

#include <jansson.h>
#include <libfyaml.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "proto.h"
#include "provider.h"
#include "redisurl.h"
#include "regex.h"

/* Room for a key path in messages ("models[3].params.accuracy"); a longer one is cut short. */
#define PATH_CAP 256

/* ---- the loader and its one error function ---- */

/* snprintf for text that only feeds messages, where cutting a long path short is fine (a plain
 * snprintf there draws -Wformat-truncation at -O2). */
static void fmt_into(char *out, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void fmt_into(char *out, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out, cap, fmt, ap);
    va_end(ap);
}

typedef struct loader {
    const char *source; /* file name (or the caller's name for a string), for messages */
    rs_config_t *cfg;   /* being filled: later sections read earlier ones (model seed = run.seed) */
    struct fy_diag *diag; /* libfyaml's collected syntax errors */
    rs_err_t *err;
} loader_t;

/* The scalar whose position stands for n: n itself, or a collection's first key or item (libfyaml
 * 0.7 keeps source positions only on scalar tokens). NULL for an empty collection. */
static struct fy_node *mark_node(struct fy_node *n)
{
    void *it = NULL;
    if (!n || fy_node_is_scalar(n)) return n;
    if (fy_node_is_mapping(n)) {
        struct fy_node_pair *p = fy_node_mapping_iterate(n, &it);
        return p ? mark_node(fy_node_pair_key(p)) : NULL;
    }
    return mark_node(fy_node_sequence_iterate(n, &it));
}

/* Nodes an override created carry its text as their meta pointer (see tag_tree). */
static const char *override_of(struct fy_node *n)
{
    return n ? fy_node_get_meta(n) : NULL;
}

/* "file:line:column" of node at (1-based), "--set a.b=c" for a node an override made, or just the
 * file when nothing in the document points there (an absent section). */
static void locate(const loader_t *ld, struct fy_node *at, char *out, size_t cap)
{
    struct fy_node *m = mark_node(at);
    const char *ov = override_of(at) ? override_of(at) : override_of(m);
    struct fy_token *t = m ? fy_node_get_scalar_token(m) : NULL;
    const struct fy_mark *mk = t ? fy_token_start_mark(t) : NULL;
    if (ov) {
        /* "--set cluster.redis=redis://u:***@h": no password reaches a message */
        const char *eq = strchr(ov, '=');
        char *shown = rs_redisurl_redact(eq ? eq + 1 : ov);
        fmt_into(out, cap, "--set %.*s%s", eq ? (int)(eq + 1 - ov) : 0, ov, shown);
        free(shown);
    } else if (mk) {
        /* libfyaml marks a quoted scalar at its first character; point at the opening quote */
        enum fy_node_style st = fy_node_get_style(m);
        int quoted = (st == FYNS_SINGLE_QUOTED || st == FYNS_DOUBLE_QUOTED) && mk->column > 0;
        fmt_into(out, cap, "%s:%d:%d", ld->source, mk->line + 1, mk->column + 1 - quoted);
    } else {
        fmt_into(out, cap, "%s", ld->source);
    }
}

/* The one way this file reports a problem: "where: key.path: what is wrong". Returns -1. */
static int fail(loader_t *ld, struct fy_node *at, const char *path, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail(loader_t *ld, struct fy_node *at, const char *path, const char *fmt, ...)
{
    char msg[640], where[320];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    locate(ld, at, where, sizeof(where));
    if (path && *path) return rs_err_set(ld->err, "%s: %s: %s", where, path, msg);
    return rs_err_set(ld->err, "%s: %s", where, msg);
}

/* ---- small helpers: paths, names, scalars ---- */

static void path_key(char *out, size_t cap, const char *parent, const char *key)
{
    fmt_into(out, cap, "%s%s%s", parent, *parent ? "." : "", key);
}

static void path_index(char *out, size_t cap, const char *parent, size_t i)
{
    fmt_into(out, cap, "%s[%zu]", parent, i);
}

/* names is NULL-terminated. */
static int name_index(const char *const *names, const char *s)
{
    for (int i = 0; names[i]; i++)
        if (strcmp(names[i], s) == 0) return i;
    return -1;
}

/* How far a typo may be from a known name to be suggested: short names need a closer match. */
static size_t typo_limit(const char *word)
{
    size_t len = strlen(word);
    if (len == 0) return 0;
    size_t lim = len < 4 ? 1 : len < 7 ? 2 : 3;
    return lim < len ? lim : len - 1; /* never suggest a name that shares nothing with the word */
}

/* Keeps shown in out when cand is closer to word than the best so far (*best, an edit distance);
 * a match that differs only in case counts as distance 0. */
static void consider(const char *word, const char *cand, const char *shown, size_t *best, char *out,
                     size_t cap)
{
    size_t d = strcasecmp(word, cand) == 0 ? 0 : rs_edit_distance(word, cand);
    if (d > typo_limit(word) || d >= *best) return;
    *best = d;
    fmt_into(out, cap, "%s", shown);
}

static int fail_choice(loader_t *ld, struct fy_node *at, const char *path, const char *s,
                       const char *const *names)
{
    rs_buf_t list;
    rs_buf_init(&list);
    char near[64] = "";
    size_t best = (size_t)-1;
    for (int i = 0; names[i]; i++) {
        rs_buf_printf(&list, "%s%s", i ? ", " : "", names[i]);
        consider(s, names[i], names[i], &best, near, sizeof(near));
    }
    int rc =
        *near ? fail(ld, at, path, "'%s' is not one of %s; did you mean '%s'?", s, list.data, near)
              : fail(ld, at, path, "'%s' is not one of %s", s, list.data);
    rs_buf_cleanup(&list);
    return rc;
}

static const char *kind_of(struct fy_node *n)
{
    if (fy_node_is_mapping(n)) return "a mapping";
    if (fy_node_is_sequence(n)) return "a list";
    return "a scalar";
}

/* 1 when n is absent or a plain null ("", "~", "null"): the key then keeps its default. */
static int is_null(struct fy_node *n)
{
    static const char *const nulls[] = {"~", "null", "Null", "NULL"};
    if (!n) return 1;
    if (!fy_node_is_scalar(n) || fy_node_get_style(n) != FYNS_PLAIN) return 0;
    size_t len = 0;
    const char *s = fy_node_get_scalar(n, &len);
    if (!s || len == 0) return 1;
    for (size_t i = 0; i < RS_ARRAY_LEN(nulls); i++)
        if (strlen(nulls[i]) == len && memcmp(nulls[i], s, len) == 0) return 1;
    return 0;
}

/* The scalar's text as a new string, or NULL (err set) when n is not a scalar, holds a NUL byte or
 * is not UTF-8: every string may end up in JSON (prompts, reports, the stored config). */
static char *scalar_text(loader_t *ld, struct fy_node *n, struct fy_node *at, const char *path,
                         const char *what)
{
    if (!fy_node_is_scalar(n)) {
        fail(ld, at, path, "expected %s (got %s)", what, kind_of(n));
        return NULL;
    }
    size_t len = 0;
    const char *s = fy_node_get_scalar(n, &len);
    if (!s) {
        s = "";
        len = 0;
    }
    json_t *utf8 = memchr(s, '\0', len) ? NULL : json_stringn(s, len);
    if (!utf8) {
        fail(ld, at, path, "must be UTF-8 text without NUL bytes");
        return NULL;
    }
    json_decref(utf8);
    return rs_xstrndup(s, len);
}

/* As scalar_text, for numbers and booleans: a quoted "5" is a string in YAML, not a number. */
static char *plain_text(loader_t *ld, struct fy_node *n, struct fy_node *at, const char *path,
                        const char *what)
{
    char *s = scalar_text(ld, n, at, path, what);
    enum fy_node_style st = s ? fy_node_get_style(n) : FYNS_PLAIN;
    if (st == FYNS_PLAIN || st == FYNS_ANY) return s;
    fail(ld, at, path, "expected %s (got the quoted string \"%s\")", what, s);
    free(s);
    return NULL;
}

/* The value of key name in mapping map (and the key node in *key), or NULL. */
static struct fy_node *map_find(struct fy_node *map, const char *name, struct fy_node **key)
{
    void *it = NULL;
    struct fy_node_pair *p;
    size_t len = strlen(name);
    while ((p = fy_node_mapping_iterate(map, &it))) {
        size_t klen = 0;
        const char *k = fy_node_get_scalar(fy_node_pair_key(p), &klen);
        if (!k || klen != len || memcmp(k, name, len) != 0) continue;
        if (key) *key = fy_node_pair_key(p);
        return fy_node_pair_value(p);
    }
    return NULL;
}

/* Where a message about a key's value points: the value when it is a scalar (its own position),
 * else the key, else the enclosing node (the key is absent). */
static struct fy_node *where(struct fy_node *key, struct fy_node *val, struct fy_node *outer)
{
    if (val && fy_node_is_scalar(val) && !is_null(val)) return val;
    return key ? key : outer;
}

/* n when it can be pointed at, else fallback (an empty "{}" has no position of its own). */
static struct fy_node *pick_at(struct fy_node *n, struct fy_node *fallback)
{
    return override_of(n) || mark_node(n) ? n : fallback;
}

/* ---- key tables: types ---- */

typedef struct key_spec key_spec_t;
typedef struct section section_t;

typedef enum key_type {
    KT_STR,     /* char *: any scalar; .names restricts it to a set, .check validates it */
    KT_INT,     /* int64_t, within [min, max] when .ranged */
    KT_NUM,     /* double, within [min, max] when .ranged */
    KT_BOOL,    /* int 0 / 1 */
    KT_ENUM,    /* an enum (int-sized) holding an index into .names */
    KT_STRLIST, /* char **, NULL-terminated: one string or a list of strings; NULL when none */
    KT_SECTION, /* a nested mapping filling the struct at .off with .sub's keys */
    KT_LIST,    /* an array at .off with its count at .off_count: a list of .sub mappings */
    KT_CUSTOM,  /* its own .parse and .to_json */
} key_type_t;

typedef int (*check_fn)(loader_t *ld, const char *s, struct fy_node *at, const char *path);
typedef int (*parse_fn)(loader_t *ld, const key_spec_t *k, void *obj, struct fy_node *val,
                        struct fy_node *at, const char *path);
typedef json_t *(*json_fn)(const key_spec_t *k, const void *obj);
typedef void (*release_fn)(const key_spec_t *k, void *obj);

/* A set of on/off fields named by a list ("formats: [json, html]"): flag i is the int at
 * offs[i] from the key's field. Listing names turns those on and every other one off. */
typedef struct flag_set {
    const char *const *names; /* NULL-terminated, one per flag */
    const size_t *offs;
    const char *what; /* one item, for "must name at least one <what>" */
    /* Why flag i cannot be on in this config (a message), or NULL when it can. May be NULL. */
    const char *(*refuse)(const loader_t *ld, int i);
} flag_set_t;

struct key_spec {
    const char *name;
    key_type_t type;
    size_t off;   /* the field in the section's struct */
    int required; /* absent or null is an error; a required string must not be empty */
    int ranged;   /* KT_INT / KT_NUM: check [min, max] (INFINITY for an open end) */
    int optional; /* KT_INT / KT_NUM: unset (0 / NaN, the default) is written as null; a
                   * KT_INT's range must then leave 0 out */
    double min, max;
    double def_num;           /* KT_INT / KT_NUM / KT_BOOL default; KT_ENUM: the default's index */
    const char *def_str;      /* KT_STR default (copied), NULL for none */
    const char *const *names; /* KT_ENUM: value names by index; KT_STR: the allowed values */
    check_fn check;           /* KT_STR: further validation */
    const section_t *sub;     /* KT_SECTION / KT_LIST: the nested keys */
    const char *shorthand;    /* KT_SECTION / KT_LIST items: the key a lone scalar stands for */
    size_t off_count;         /* KT_LIST: the size_t count */
    size_t elem_size;         /* KT_LIST: sizeof one item */
    const char *unique;       /* KT_LIST: a string key whose value must differ between items */
    parse_fn parse;           /* KT_CUSTOM */
    json_fn to_json;          /* KT_CUSTOM */
    release_fn release;       /* KT_CUSTOM: frees what parse stored, NULL when nothing */
    const flag_set_t *flags;  /* KT_CUSTOM with parse_flags / json_flags */
};

struct section {
    const key_spec_t *keys;
    size_t n_keys;
    /* Defaults that depend on other sections, after the table's own (model seed = run.seed). */
    void (*init)(const loader_t *ld, void *obj);
    /* After the keys: defaults that depend on sibling keys and checks across keys. map is the
     * section's mapping (NULL when absent), at where to point when a key is missing. */
    int (*finish)(loader_t *ld, void *obj, struct fy_node *map, struct fy_node *at,
                  const char *path);
};

#define KEY(n, kt, T, f) .name = (n), .type = (kt), .off = offsetof(T, f)
#define RANGE(lo, hi) .ranged = 1, .min = (lo), .max = (hi)
#define SECTION(keys, init, finish)                                                                \
    {                                                                                              \
        (keys), RS_ARRAY_LEN(keys), (init), (finish)                                               \
    }

/* Enum fields are read and written as int (copied, so no aliasing question arises). */
_Static_assert(sizeof(rs_dataset_format_t) == sizeof(int) && sizeof(rs_on_error_t) == sizeof(int) &&
                   sizeof(rs_extractor_kind_t) == sizeof(int) &&
                   sizeof(rs_grader_kind_t) == sizeof(int) &&
                   sizeof(rs_embedder_kind_t) == sizeof(int) &&
                   sizeof(rs_cache_mode_t) == sizeof(int) &&
                   sizeof(rs_adaptive_t) == sizeof(int) &&
                   sizeof(rs_gate_metric_t) == sizeof(int),
               "enum config fields must be int-sized");

static void *field(void *obj, const key_spec_t *k)
{
    return (char *)obj + k->off;
}

static const void *cfield(const void *obj, const key_spec_t *k)
{
    return (const char *)obj + k->off;
}

static int get_int(const void *obj, const key_spec_t *k)
{
    int v;
    memcpy(&v, cfield(obj, k), sizeof(v));
    return v;
}

static void set_int(void *obj, const key_spec_t *k, int v)
{
    memcpy(field(obj, k), &v, sizeof(v));
}

/* ---- the tables ---- */

static const char *const provider_names[] = {"sim", "openai", "anthropic", NULL};
static const char *const format_names[] = {"jsonl", "evals", "csv", "tsv", "json", "hf", "auto", NULL};
_Static_assert(RS_ARRAY_LEN(format_names) == RS_FORMAT_AUTO + 2, "dataset formats");
static const char *const on_error_names[] = {"fail", "skip", NULL};
static const char *const extractor_names[] = {"auto",   "last_number", "regex", "hashes",
                                              "answer", "none",        NULL};
static const char *const grader_names[] = {
    "exact", "includes", "regex", "numeric", "fuzzy", "json_match", "judge", "embed_sim", "exec",
    NULL};
_Static_assert(RS_ARRAY_LEN(grader_names) == RS_GRADE_EXEC + 2, "grader names");
static const char *const embedder_names[] = {"hash", "openai", NULL};
static const char *const cache_mode_names[] = {"off", "read", "write", "read_write", NULL};
static const char *const adaptive_names[] = {"auto", "on", "off", NULL};
static const char *const gate_metric_names[] = {"accuracy", "errors", "cost_usd", "mcnemar_p",
                                                NULL};
_Static_assert(RS_ARRAY_LEN(adaptive_names) == RS_ADAPTIVE_OFF + 2, "adaptive names");
_Static_assert(RS_ARRAY_LEN(embedder_names) == RS_EMBEDDER_OPENAI + 2, "embedder names");

static const char *const report_names[] = {"json", "markdown", "html", "jsonl", NULL};
static const size_t report_offs[] = {
    offsetof(rs_report_cfg_t, json), offsetof(rs_report_cfg_t, markdown),
    offsetof(rs_report_cfg_t, html), offsetof(rs_report_cfg_t, jsonl)};
_Static_assert(RS_ARRAY_LEN(report_offs) + 1 == RS_ARRAY_LEN(report_names), "report formats");
static const flag_set_t report_flags = {report_names, report_offs, "format", NULL};

static const char *const strategy_names[] = {"first",    "judge",  "consensus",
                                             "majority", "oracle", NULL};
static const size_t strategy_offs[] = {offsetof(rs_ranking_cfg_t, use[RS_STRATEGY_FIRST]),
                                       offsetof(rs_ranking_cfg_t, use[RS_STRATEGY_JUDGE]),
                                       offsetof(rs_ranking_cfg_t, use[RS_STRATEGY_CONSENSUS]),
                                       offsetof(rs_ranking_cfg_t, use[RS_STRATEGY_MAJORITY]),
                                       offsetof(rs_ranking_cfg_t, use[RS_STRATEGY_ORACLE])};
_Static_assert(RS_ARRAY_LEN(strategy_offs) == RS_N_STRATEGIES &&
                   RS_ARRAY_LEN(strategy_names) == RS_N_STRATEGIES + 1,
               "ranking strategies");
static const char *refuse_strategy(const loader_t *ld, int i);
static const flag_set_t ranking_flags = {strategy_names, strategy_offs, "strategy",
                                         refuse_strategy};

/* A grader's threshold when the config gives none, by kind (0: the kind uses none). */
static const double grader_thresholds[RS_ARRAY_LEN(grader_names) - 1] = {
    [RS_GRADE_FUZZY] = 0.8, [RS_GRADE_JUDGE] = 0.5, [RS_GRADE_EMBED_SIM] = 0.8};

static int check_regex(loader_t *ld, const char *s, struct fy_node *at, const char *path);
static int check_env_name(loader_t *ld, const char *s, struct fy_node *at, const char *path);
static int check_http_url(loader_t *ld, const char *s, struct fy_node *at, const char *path);
static int check_redis_url(loader_t *ld, const char *s, struct fy_node *at, const char *path);
static int check_endpoint(loader_t *ld, const char *s, struct fy_node *at, const char *path);
static int check_judge_template(loader_t *ld, const char *s, struct fy_node *at, const char *path);
static int check_revise_template(loader_t *ld, const char *s, struct fy_node *at, const char *path);
static int parse_num(loader_t *ld, const key_spec_t *k, void *obj, struct fy_node *val,
                     struct fy_node *at, const char *path);
static int parse_flags(loader_t *ld, const key_spec_t *k, void *obj, struct fy_node *val,
                       struct fy_node *at, const char *path);
static json_t *json_flags(const key_spec_t *k, const void *obj);
static int parse_choices(loader_t *ld, const key_spec_t *k, void *obj, struct fy_node *val,
                         struct fy_node *at, const char *path);
static json_t *json_choices(const key_spec_t *k, const void *obj);
static void free_choices(const key_spec_t *k, void *obj);
static json_t *json_scale(const key_spec_t *k, const void *obj);
static void model_init(const loader_t *ld, void *obj);
static void report_init(const loader_t *ld, void *obj);
static void gate_init(const loader_t *ld, void *obj);
static json_t *json_bound(const key_spec_t *k, const void *obj);
static int parse_condition(loader_t *ld, const key_spec_t *k, void *obj, struct fy_node *val,
                           struct fy_node *at, const char *path);
static json_t *json_condition(const key_spec_t *k, const void *obj);
static int gate_finish(loader_t *ld, void *obj, struct fy_node *map, struct fy_node *at,
                       const char *path);
static int model_finish(loader_t *ld, void *obj, struct fy_node *map, struct fy_node *at,
                        const char *path);
static int dataset_finish(loader_t *ld, void *obj, struct fy_node *map, struct fy_node *at,
                          const char *path);
static int extractor_finish(loader_t *ld, void *obj, struct fy_node *map, struct fy_node *at,
                            const char *path);
static int grader_finish(loader_t *ld, void *obj, struct fy_node *map, struct fy_node *at,
                         const char *path);
static int scoring_finish(loader_t *ld, void *obj, struct fy_node *map, struct fy_node *at,
                          const char *path);
static int cluster_finish(loader_t *ld, void *obj, struct fy_node *map, struct fy_node *at,
                          const char *path);
static int redis_tls_finish(loader_t *ld, void *obj, struct fy_node *map, struct fy_node *at,
                            const char *path);
static int curve_finish(loader_t *ld, void *obj, struct fy_node *map, struct fy_node *at,
                        const char *path);
static int verdict_finish(loader_t *ld, void *obj, struct fy_node *map, struct fy_node *at,
                          const char *path);
static int check_word(loader_t *ld, const char *s, struct fy_node *at, const char *path);
static int params_finish(loader_t *ld, void *obj, struct fy_node *map, struct fy_node *at,
                         const char *path);
static int parse_seed(loader_t *ld, const key_spec_t *k, void *obj, struct fy_node *val,
                      struct fy_node *at, const char *path);
static json_t *json_seed(const key_spec_t *k, const void *obj);
static int parse_json_object(loader_t *ld, const key_spec_t *k, void *obj, struct fy_node *val,
                             struct fy_node *at, const char *path);
static json_t *json_json_object(const key_spec_t *k, const void *obj);
static void free_json_object(const key_spec_t *k, void *obj);
static int parse_headers(loader_t *ld, const key_spec_t *k, void *obj, struct fy_node *val,
                         struct fy_node *at, const char *path);
static json_t *json_headers(const key_spec_t *k, const void *obj);
static void free_headers(const key_spec_t *k, void *obj);
static int judge_finish(loader_t *ld, void *obj, struct fy_node *map, struct fy_node *at,
                        const char *path);
static int revise_finish(loader_t *ld, void *obj, struct fy_node *map, struct fy_node *at,
                         const char *path);
static int embedder_finish(loader_t *ld, void *obj, struct fy_node *map, struct fy_node *at,
                           const char *path);
static int config_finish(loader_t *ld, void *obj, struct fy_node *map, struct fy_node *at,
                         const char *path);
static int cache_finish(loader_t *ld, void *obj, struct fy_node *map, struct fy_node *at,
                        const char *path);

static const key_spec_t run_keys[] = {
    {KEY("name", KT_STR, rs_run_cfg_t, name), .def_str = "run"},
    {KEY("seed", KT_INT, rs_run_cfg_t, seed), .def_num = 1},
    {KEY("out_dir", KT_STR, rs_run_cfg_t, out_dir), .def_str = "runs"},
};
static const section_t run_sec = SECTION(run_keys, NULL, NULL);

/* input / target default by format (dataset_finish). */
static const key_spec_t field_keys[] = {
    {KEY("input", KT_STR, rs_dataset_cfg_t, input_field)},
    {KEY("target", KT_STR, rs_dataset_cfg_t, target_field)},
    {KEY("id", KT_STR, rs_dataset_cfg_t, id_field), .def_str = "id"},
    {KEY("tags", KT_STR, rs_dataset_cfg_t, tags_field), .def_str = "tags"},
    {KEY("cluster", KT_STR, rs_dataset_cfg_t, cluster_field)},
};
static const section_t fields_sec = SECTION(field_keys, NULL, NULL);

static const key_spec_t dataset_keys[] = {
    {KEY("path", KT_STR, rs_dataset_cfg_t, path), .required = 1},
    {KEY("format", KT_ENUM, rs_dataset_cfg_t, format), .names = format_names,
     .def_num = RS_FORMAT_AUTO},
    {KEY("split", KT_STR, rs_dataset_cfg_t, split)},
    /* fields is its own mapping in YAML but flat fields of rs_dataset_cfg_t: offset 0 */
    {.name = "fields", .type = KT_SECTION, .off = 0, .sub = &fields_sec},
    {KEY("target_regex", KT_STR, rs_dataset_cfg_t, target_regex), .check = check_regex},
    {KEY("limit", KT_INT, rs_dataset_cfg_t, limit), RANGE(0, INFINITY), .def_num = 0},
    {KEY("shard_size", KT_INT, rs_dataset_cfg_t, shard_size), RANGE(1, INFINITY), .def_num = 16},
    {KEY("on_error", KT_ENUM, rs_dataset_cfg_t, on_error), .names = on_error_names,
     .def_num = RS_ON_ERROR_FAIL},
};
static const section_t dataset_sec = SECTION(dataset_keys, NULL, dataset_finish);

/* Anthropic's extended thinking; type defaults to "enabled" when a budget is given
 * (params_finish). Any type is forwarded: the API decides ("enabled", "disabled", ...). */
static const key_spec_t thinking_keys[] = {
    {KEY("type", KT_STR, rs_model_cfg_t, thinking_type), .check = check_word},
    {KEY("budget_tokens", KT_INT, rs_model_cfg_t, thinking_budget), RANGE(1, INFINITY),
     .optional = 1},
};
static const section_t thinking_sec = SECTION(thinking_keys, NULL, NULL);

/* The request parameters: none has a default that is sent (docs/PROVIDERS.md); seed defaults to
 * run.seed for the sim (model_init) and is sent only when given. Which provider takes which is
 * params_finish's check. */
static const key_spec_t param_keys[] = {
    {KEY("temperature", KT_NUM, rs_model_cfg_t, temperature), RANGE(0, 2), .def_num = NAN,
     .optional = 1},
    {KEY("top_p", KT_NUM, rs_model_cfg_t, top_p), RANGE(0, 1), .def_num = NAN, .optional = 1},
    {KEY("max_tokens", KT_INT, rs_model_cfg_t, max_tokens), RANGE(1, INFINITY), .optional = 1},
    {KEY("max_completion_tokens", KT_INT, rs_model_cfg_t, max_completion_tokens),
     RANGE(1, INFINITY), .optional = 1},
    {KEY("seed", KT_CUSTOM, rs_model_cfg_t, seed), .parse = parse_seed, .to_json = json_seed},
    {KEY("stop", KT_STRLIST, rs_model_cfg_t, stop)},
    {KEY("presence_penalty", KT_NUM, rs_model_cfg_t, presence_penalty), RANGE(-2, 2),
     .def_num = NAN, .optional = 1},
    {KEY("frequency_penalty", KT_NUM, rs_model_cfg_t, frequency_penalty), RANGE(-2, 2),
     .def_num = NAN, .optional = 1},
    {KEY("top_k", KT_INT, rs_model_cfg_t, top_k), RANGE(1, INFINITY), .optional = 1},
    {KEY("reasoning_effort", KT_STR, rs_model_cfg_t, reasoning_effort), .check = check_word},
    {KEY("response_format", KT_CUSTOM, rs_model_cfg_t, response_format),
     .parse = parse_json_object, .to_json = json_json_object, .release = free_json_object},
    {.name = "thinking", .type = KT_SECTION, .off = 0, .sub = &thinking_sec},
    {KEY("extra_body", KT_CUSTOM, rs_model_cfg_t, extra_body), .parse = parse_json_object,
     .to_json = json_json_object, .release = free_json_object},
    {KEY("extra_headers", KT_CUSTOM, rs_model_cfg_t, extra_headers), .parse = parse_headers,
     .to_json = json_headers, .release = free_headers},
    {KEY("accuracy", KT_NUM, rs_model_cfg_t, accuracy), RANGE(0, 1), .def_num = 0.7},
    {KEY("latency_ms", KT_NUM, rs_model_cfg_t, latency_ms), RANGE(0, INFINITY), .def_num = 0},
    {KEY("error_rate", KT_NUM, rs_model_cfg_t, error_rate), RANGE(0, 1), .def_num = 0},
    {KEY("judge_accuracy", KT_NUM, rs_model_cfg_t, judge_accuracy), RANGE(0, 1), .def_num = 0.8},
    {KEY("self_bias", KT_NUM, rs_model_cfg_t, self_bias), RANGE(0, 1), .def_num = 0.2},
    {KEY("fix_rate", KT_NUM, rs_model_cfg_t, fix_rate), RANGE(0, 1), .def_num = 0.3},
    {KEY("break_rate", KT_NUM, rs_model_cfg_t, break_rate), RANGE(0, 1), .def_num = 0.05},
};
static const section_t params_sec = SECTION(param_keys, NULL, params_finish);

static const key_spec_t price_keys[] = {
    {KEY("input", KT_NUM, rs_model_cfg_t, price_input), RANGE(0, INFINITY), .def_num = 0},
    {KEY("output", KT_NUM, rs_model_cfg_t, price_output), RANGE(0, INFINITY), .def_num = 0},
};
static const section_t prices_sec = SECTION(price_keys, NULL, NULL);

/* A budget's limits; 0 is no limit. Whether a usd limit can bind is config_finish's check. */
static const key_spec_t budget_keys[] = {
    {KEY("usd", KT_NUM, rs_budget_cfg_t, usd), RANGE(0, INFINITY), .def_num = 0},
    {KEY("tokens", KT_INT, rs_budget_cfg_t, tokens), RANGE(0, INFINITY), .def_num = 0},
};
static const section_t budget_sec = SECTION(budget_keys, NULL, NULL);
/* auto resolves by provider and floor <= ceiling is checked in model_finish. */
static const key_spec_t concurrency_keys[] = {
    {KEY("adaptive", KT_ENUM, rs_model_cfg_t, adaptive), .names = adaptive_names,
     .def_num = RS_ADAPTIVE_AUTO},
    {KEY("floor", KT_INT, rs_model_cfg_t, conc_floor), RANGE(1, INFINITY), .def_num = 1},
    {KEY("ceiling", KT_INT, rs_model_cfg_t, conc_ceiling), RANGE(0, INFINITY), .def_num = 0},
    {KEY("factor", KT_NUM, rs_model_cfg_t, conc_factor), RANGE(0.05, 0.95), .def_num = 0.7},
    {KEY("step", KT_INT, rs_model_cfg_t, conc_step), RANGE(1, INFINITY), .def_num = 1},
    {KEY("cooldown_ms", KT_INT, rs_model_cfg_t, conc_cooldown_ms), RANGE(0, 3600000),
     .def_num = 2000},
};
static const section_t concurrency_sec = SECTION(concurrency_keys, NULL, NULL);

/* provider has no default on purpose: a forgotten provider must not silently become the simulator
 * and report made-up scores. name defaults to model (model_finish). */
static const key_spec_t model_keys[] = {
    {KEY("name", KT_STR, rs_model_cfg_t, name)},
    {KEY("provider", KT_STR, rs_model_cfg_t, provider), .required = 1, .names = provider_names},
    {KEY("model", KT_STR, rs_model_cfg_t, model), .required = 1},
    {KEY("base_url", KT_STR, rs_model_cfg_t, base_url), .check = check_http_url},
    {KEY("api_key_env", KT_STR, rs_model_cfg_t, api_key_env), .check = check_env_name},
    {KEY("n", KT_INT, rs_model_cfg_t, n), RANGE(1, 1000), .def_num = 1},
    /* params is its own mapping in YAML but flat fields of rs_model_cfg_t: offset 0 */
    {.name = "params", .type = KT_SECTION, .off = 0, .sub = &params_sec},
    {KEY("timeout_ms", KT_INT, rs_model_cfg_t, timeout_ms), RANGE(1, INFINITY), .def_num = 120000},
    {KEY("connect_timeout_ms", KT_INT, rs_model_cfg_t, connect_timeout_ms), RANGE(1, INFINITY),
     .def_num = 10000},
    {KEY("max_retries", KT_INT, rs_model_cfg_t, max_retries), RANGE(0, 100), .def_num = 5},
    {KEY("retry_base_ms", KT_INT, rs_model_cfg_t, retry_base_ms), RANGE(1, INFINITY),
     .def_num = 500},
    {KEY("retry_cap_ms", KT_INT, rs_model_cfg_t, retry_cap_ms), RANGE(1, INFINITY),
     .def_num = 30000},
    {KEY("rpm", KT_INT, rs_model_cfg_t, rpm), RANGE(0, INFINITY), .def_num = 0},
    {KEY("tpm", KT_INT, rs_model_cfg_t, tpm), RANGE(0, INFINITY), .def_num = 0},
    {KEY("anthropic_version", KT_STR, rs_model_cfg_t, anthropic_version), .def_str = "2023-06-01"},
    {KEY("mock", KT_BOOL, rs_model_cfg_t, mock), .def_num = 0},
    /* prices is its own mapping in YAML but flat fields of rs_model_cfg_t: offset 0 */
    {.name = "prices", .type = KT_SECTION, .off = 0, .sub = &prices_sec},
    {KEY("budget", KT_SECTION, rs_model_cfg_t, budget), .sub = &budget_sec},
    /* concurrency too: offset 0 */
    {.name = "concurrency", .type = KT_SECTION, .off = 0, .sub = &concurrency_sec,
     .shorthand = "adaptive"},
};
static const section_t model_sec = SECTION(model_keys, model_init, model_finish);

static const key_spec_t prompt_keys[] = {
    {KEY("system", KT_STR, rs_prompt_cfg_t, system)},
    {KEY("template", KT_STR, rs_prompt_cfg_t, template), .def_str = "{{input}}"},
};
static const section_t prompt_sec = SECTION(prompt_keys, NULL, NULL);

/* prompts[]: a named variant of prompt (config_finish checks the list as a whole). */
static const key_spec_t variant_keys[] = {
    {KEY("name", KT_STR, rs_prompt_cfg_t, name), .required = 1, .check = check_word},
    {KEY("system", KT_STR, rs_prompt_cfg_t, system)},
    {KEY("template", KT_STR, rs_prompt_cfg_t, template), .def_str = "{{input}}"},
};
static const section_t variant_sec = SECTION(variant_keys, NULL, NULL);

static const key_spec_t extractor_keys[] = {
    {KEY("type", KT_ENUM, rs_scoring_cfg_t, extractor), .names = extractor_names,
     .def_num = RS_EXTRACT_AUTO},
    {KEY("pattern", KT_STR, rs_scoring_cfg_t, extractor_pattern), .check = check_regex},
};
static const section_t extractor_sec = SECTION(extractor_keys, NULL, extractor_finish);

/* name defaults to the type's name, threshold by type, judge to judges[0] (grader_finish).
 * threshold reaches down to -1 because embed_sim compares cosines. */
static const key_spec_t grader_keys[] = {
    {KEY("name", KT_STR, rs_grader_cfg_t, name)},
    {KEY("type", KT_ENUM, rs_grader_cfg_t, kind), .names = grader_names, .def_num = RS_GRADE_EXACT},
    {KEY("pattern", KT_STR, rs_grader_cfg_t, pattern), .check = check_regex},
    {KEY("tolerance", KT_NUM, rs_grader_cfg_t, tolerance), RANGE(0, INFINITY), .def_num = 1e-6},
    {KEY("rel_tolerance", KT_NUM, rs_grader_cfg_t, rel_tolerance), RANGE(0, INFINITY)},
    {KEY("case_sensitive", KT_BOOL, rs_grader_cfg_t, case_sensitive), .def_num = 0},
    {KEY("threshold", KT_NUM, rs_grader_cfg_t, threshold), RANGE(-1, 1)},
    {KEY("keys", KT_STRLIST, rs_grader_cfg_t, keys)},
    {KEY("judge", KT_STR, rs_grader_cfg_t, judge)},
    {KEY("command", KT_STRLIST, rs_grader_cfg_t, command)},
    {KEY("concurrency", KT_INT, rs_grader_cfg_t, concurrency), RANGE(1, 256), .def_num = 4},
    {KEY("timeout_ms", KT_INT, rs_grader_cfg_t, timeout_ms), RANGE(1, 3600000), .def_num = 10000},
    {KEY("memory_mb", KT_INT, rs_grader_cfg_t, memory_mb), RANGE(0, 1 << 24), .def_num = 2048},
    {KEY("cpu_seconds", KT_INT, rs_grader_cfg_t, cpu_seconds), RANGE(0, 1 << 30),
     .def_num = 3600},
    {KEY("env", KT_STRLIST, rs_grader_cfg_t, env)},
};
static const section_t grader_sec = SECTION(grader_keys, NULL, grader_finish);

/* extractor: "auto" or {type: regex, pattern: ...}; graders: [exact] or [{type: numeric, ...}];
 * no graders means one exact grader (scoring_finish). */
static const key_spec_t scoring_keys[] = {
    {.name = "extractor", .type = KT_SECTION, .off = 0, .sub = &extractor_sec, .shorthand = "type"},
    {KEY("graders", KT_LIST, rs_scoring_cfg_t, graders), .sub = &grader_sec, .shorthand = "type",
     .off_count = offsetof(rs_scoring_cfg_t, n_graders), .elem_size = sizeof(rs_grader_cfg_t),
     .unique = "name"},
};
static const section_t scoring_sec = SECTION(scoring_keys, NULL, scoring_finish);

/* Paths become absolute (redis_tls_finish); whether they are needed is cluster_finish's call. */
static const key_spec_t redis_tls_keys[] = {
    {KEY("ca_file", KT_STR, rs_redis_tls_cfg_t, ca_file)},
    {KEY("cert_file", KT_STR, rs_redis_tls_cfg_t, cert_file)},
    {KEY("key_file", KT_STR, rs_redis_tls_cfg_t, key_file)},
};
static const section_t redis_tls_sec = SECTION(redis_tls_keys, NULL, redis_tls_finish);
/* Both keys are required once the section is there (curve_finish): a half-configured CURVE must
 * not quietly mean "off". */
static const key_spec_t curve_keys[] = {
    {KEY("secret_key_file", KT_STR, rs_curve_cfg_t, secret_key_file)},
    {KEY("authorized_keys_dir", KT_STR, rs_curve_cfg_t, authorized_keys_dir)},
};
static const section_t curve_sec = SECTION(curve_keys, NULL, curve_finish);

static const key_spec_t cluster_keys[] = {
    {KEY("workers", KT_INT, rs_cluster_cfg_t, workers), RANGE(0, 4096), .def_num = 2},
    {KEY("bind", KT_STR, rs_cluster_cfg_t, bind), .def_str = "tcp://127.0.0.1:*",
     .check = check_endpoint},
    {KEY("redis", KT_STR, rs_cluster_cfg_t, redis), .check = check_redis_url},
    {KEY("redis_password_env", KT_STR, rs_cluster_cfg_t, redis_password_env),
     .def_str = RS_REDIS_PASSWORD_ENV, .check = check_env_name},
    {KEY("redis_tls", KT_SECTION, rs_cluster_cfg_t, redis_tls), .sub = &redis_tls_sec},
    {KEY("max_in_flight", KT_INT, rs_cluster_cfg_t, max_in_flight), RANGE(1, INFINITY),
     .def_num = 4096},
    {KEY("worker_slots", KT_INT, rs_cluster_cfg_t, worker_slots), RANGE(1, INFINITY),
     .def_num = 64},
    {KEY("worker_backlog", KT_INT, rs_cluster_cfg_t, worker_backlog), RANGE(0, INFINITY),
     .def_num = 32},
    {KEY("heartbeat_ms", KT_INT, rs_cluster_cfg_t, heartbeat_ms), RANGE(1, INFINITY),
     .def_num = 1000},
    {KEY("lease_ms", KT_INT, rs_cluster_cfg_t, lease_ms), RANGE(1, INFINITY), .def_num = 600000},
    {KEY("metrics_bind", KT_STR, rs_cluster_cfg_t, metrics_bind)},
    {KEY("max_response_bytes", KT_INT, rs_cluster_cfg_t, max_response_bytes),
     RANGE(1024, 64 << 20), .def_num = 4 << 20},
    {KEY("max_rejects_per_minute", KT_INT, rs_cluster_cfg_t, max_rejects_per_minute),
     RANGE(1, INFINITY), .def_num = 100},
    {KEY("curve", KT_SECTION, rs_cluster_cfg_t, curve), .sub = &curve_sec},
};
static const section_t cluster_sec = SECTION(cluster_keys, NULL, cluster_finish);

/* ttl_days goes down to a few seconds and max_mb to a few KB so that tests can see expiry and
 * eviction; redis may not be rediss:// (cache_finish). */
static const key_spec_t cache_keys[] = {
    {KEY("mode", KT_ENUM, rs_cache_cfg_t, mode), .names = cache_mode_names,
     .def_num = RS_CACHE_READ_WRITE},
    {KEY("ttl_days", KT_NUM, rs_cache_cfg_t, ttl_days), RANGE(1e-5, 3650), .def_num = 14},
    {KEY("max_mb", KT_NUM, rs_cache_cfg_t, max_mb), RANGE(0.001, 1 << 20), .def_num = 1024},
    {KEY("redis", KT_STR, rs_cache_cfg_t, redis), .check = check_redis_url},
    {KEY("password_env", KT_STR, rs_cache_cfg_t, password_env), .def_str = RS_CACHE_PASSWORD_ENV,
     .check = check_env_name},
};
static const section_t cache_sec = SECTION(cache_keys, NULL, cache_finish);

/* choices {"N": 0, "Y": 1} unless regex is given (verdict_finish). min and max are written out
 * only for a regex verdict, so that a stored choices verdict reads back without them. */
static const key_spec_t verdict_keys[] = {
    {KEY("choices", KT_CUSTOM, rs_verdict_cfg_t, choices), .parse = parse_choices,
     .to_json = json_choices, .release = free_choices},
    {KEY("regex", KT_STR, rs_verdict_cfg_t, regex), .check = check_regex},
    {KEY("min", KT_CUSTOM, rs_verdict_cfg_t, min), .parse = parse_num, .to_json = json_scale},
    {KEY("max", KT_CUSTOM, rs_verdict_cfg_t, max), .parse = parse_num, .to_json = json_scale},
};
static const section_t verdict_sec = SECTION(verdict_keys, NULL, verdict_finish);

/* name defaults to model, which must name a models[] entry (judge_finish). */
static const key_spec_t judge_keys[] = {
    {KEY("name", KT_STR, rs_judge_cfg_t, name)},
    {KEY("model", KT_STR, rs_judge_cfg_t, model), .required = 1},
    {KEY("rubric", KT_STRLIST, rs_judge_cfg_t, rubric)},
    {KEY("template", KT_STR, rs_judge_cfg_t, template), .def_str = RS_JUDGE_TEMPLATE,
     .check = check_judge_template},
    {KEY("reference", KT_BOOL, rs_judge_cfg_t, reference), .def_num = 0},
    {KEY("verdict", KT_SECTION, rs_judge_cfg_t, verdict), .sub = &verdict_sec},
    {KEY("threshold", KT_NUM, rs_judge_cfg_t, threshold), RANGE(0, 1), .def_num = 0.5},
};
static const section_t judge_sec = SECTION(judge_keys, NULL, judge_finish);

/* judge defaults to judges[0] (revise_finish). */
static const key_spec_t revise_keys[] = {
    {KEY("rounds", KT_INT, rs_revise_cfg_t, rounds), RANGE(0, 10), .def_num = 0},
    {KEY("judge", KT_STR, rs_revise_cfg_t, judge)},
    {KEY("template", KT_STR, rs_revise_cfg_t, template), .def_str = RS_REVISE_TEMPLATE,
     .check = check_revise_template},
};
static const section_t revise_sec = SECTION(revise_keys, NULL, revise_finish);

/* model, base_url and api_key_env belong to openai; dim to hash (embedder_finish). timeout_ms
 * and the retry keys have defaults, so the resolved config always holds them. */
static const key_spec_t embedder_keys[] = {
    {KEY("type", KT_ENUM, rs_embedder_cfg_t, type), .names = embedder_names,
     .def_num = RS_EMBEDDER_HASH},
    {KEY("dim", KT_INT, rs_embedder_cfg_t, dim), RANGE(8, 4096), .def_num = 256},
    {KEY("model", KT_STR, rs_embedder_cfg_t, model)},
    {KEY("base_url", KT_STR, rs_embedder_cfg_t, base_url), .check = check_http_url},
    {KEY("api_key_env", KT_STR, rs_embedder_cfg_t, api_key_env), .check = check_env_name},
    {KEY("timeout_ms", KT_INT, rs_embedder_cfg_t, timeout_ms), RANGE(1, INFINITY),
     .def_num = 60000},
    {KEY("max_retries", KT_INT, rs_embedder_cfg_t, max_retries), RANGE(0, 100), .def_num = 5},
    {KEY("retry_base_ms", KT_INT, rs_embedder_cfg_t, retry_base_ms), RANGE(1, INFINITY),
     .def_num = 500},
    {KEY("retry_cap_ms", KT_INT, rs_embedder_cfg_t, retry_cap_ms), RANGE(1, INFINITY),
     .def_num = 30000},
};
static const section_t embedder_sec = SECTION(embedder_keys, NULL, embedder_finish);

/* formats defaults to json, markdown, jsonl (report_init). */
static const key_spec_t report_keys[] = {
    {.name = "formats",
     .type = KT_CUSTOM,
     .parse = parse_flags,
     .to_json = json_flags,
     .flags = &report_flags},
    {KEY("spans", KT_BOOL, rs_report_cfg_t, spans), .def_num = 1},
    {KEY("near_duplicates", KT_BOOL, rs_report_cfg_t, near_duplicates), .def_num = 0},
    {KEY("otlp", KT_STR, rs_report_cfg_t, otlp), .check = check_http_url},
};
static const section_t report_sec = SECTION(report_keys, report_init, NULL);

/* model, grader and strategy must name what the run reports; min and max are NAN until given
 * (gate_init), written as null when unset (gate_finish: at least one of them). A gate is either
 * those keys or one condition (the list's shorthand, a lone string: parse_condition fills the
 * same fields, so the resolved config holds the keys and condition is null). metric has no
 * default (-1 until given: gate_finish). */
static const key_spec_t gate_keys[] = {
    {.name = "condition", .type = KT_CUSTOM, .parse = parse_condition,
     .to_json = json_condition},
    {KEY("name", KT_STR, rs_gate_cfg_t, name)},
    {KEY("metric", KT_ENUM, rs_gate_cfg_t, metric), .names = gate_metric_names, .def_num = -1},
    {KEY("model", KT_STR, rs_gate_cfg_t, model)},
    {KEY("grader", KT_STR, rs_gate_cfg_t, grader)},
    {KEY("strategy", KT_STR, rs_gate_cfg_t, strategy)},
    {KEY("versus", KT_STR, rs_gate_cfg_t, versus)},
    {KEY("min", KT_CUSTOM, rs_gate_cfg_t, min), .parse = parse_num, .to_json = json_bound},
    {KEY("max", KT_CUSTOM, rs_gate_cfg_t, max), .parse = parse_num, .to_json = json_bound},
};
static const section_t gate_sec = SECTION(gate_keys, gate_init, gate_finish);

/* Keys are applied in this order, and later ones refer to earlier ones: run comes before models
 * (a model's seed defaults to run.seed), models before judges (a judge names its model), judges
 * before revise, ranking and scoring (they name judges). ranking's default is set at the end
 * (config_finish): it depends on whether there are judges. */
static const key_spec_t root_keys[] = {
    {KEY("run", KT_SECTION, rs_config_t, run), .sub = &run_sec},
    {KEY("dataset", KT_SECTION, rs_config_t, dataset), .sub = &dataset_sec},
    {KEY("models", KT_LIST, rs_config_t, models), .required = 1, .sub = &model_sec,
     .off_count = offsetof(rs_config_t, n_models), .elem_size = sizeof(rs_model_cfg_t),
     .unique = "name"},
    {KEY("judges", KT_LIST, rs_config_t, judges), .sub = &judge_sec, .shorthand = "model",
     .off_count = offsetof(rs_config_t, n_judges), .elem_size = sizeof(rs_judge_cfg_t),
     .unique = "name"},
    {KEY("revise", KT_SECTION, rs_config_t, revise), .sub = &revise_sec, .shorthand = "rounds"},
    {KEY("ranking", KT_CUSTOM, rs_config_t, ranking), .parse = parse_flags, .to_json = json_flags,
     .flags = &ranking_flags},
    {KEY("embedder", KT_SECTION, rs_config_t, embedder), .sub = &embedder_sec, .shorthand = "type"},
    {KEY("prompt", KT_SECTION, rs_config_t, prompt), .sub = &prompt_sec},
    {KEY("prompts", KT_LIST, rs_config_t, prompts), .sub = &variant_sec,
     .off_count = offsetof(rs_config_t, n_prompts), .elem_size = sizeof(rs_prompt_cfg_t),
     .unique = "name"},
    {KEY("epochs", KT_INT, rs_config_t, epochs), RANGE(1, RS_MAX_EPOCHS), .def_num = 1},
    {KEY("scoring", KT_SECTION, rs_config_t, scoring), .sub = &scoring_sec},
    {KEY("cluster", KT_SECTION, rs_config_t, cluster), .sub = &cluster_sec},
    {KEY("cache", KT_SECTION, rs_config_t, cache), .sub = &cache_sec, .shorthand = "mode"},
    {KEY("report", KT_SECTION, rs_config_t, report), .sub = &report_sec},
    {KEY("budget", KT_SECTION, rs_config_t, budget), .sub = &budget_sec},
    {KEY("gates", KT_LIST, rs_config_t, gates), .sub = &gate_sec, .shorthand = "condition",
     .off_count = offsetof(rs_config_t, n_gates), .elem_size = sizeof(rs_gate_cfg_t),
     .unique = "name"},
};
static const section_t root_sec = SECTION(root_keys, NULL, config_finish);

/* ---- value checks for KT_STR keys ---- */

static int check_regex(loader_t *ld, const char *s, struct fy_node *at, const char *path)
{
    rs_err_t e;
    rs_regex_t *re = rs_regex_new(s, 0, &e);
    if (!re) return fail(ld, at, path, "%s", e.msg);
    rs_regex_destroy(&re);
    return 0;
}

/* The config holds the NAME of a variable; anything else is likely a pasted key, which must not be
 * echoed into an error message or stored with the run. */
static int is_env_name(const char *s)
{
    int ok = (*s == '_' || (*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z'));
    for (const char *p = s; ok && *p; p++)
        ok = *p == '_' || (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
             (*p >= '0' && *p <= '9');
    return ok;
}

static int check_env_name(loader_t *ld, const char *s, struct fy_node *at, const char *path)
{
    if (is_env_name(s)) return 0;
    return fail(ld, at, path,
                "must be the name of an environment variable holding the key (like "
                "OPENAI_API_KEY), never the key itself");
}

static int has_prefix(const char *s, const char *const *prefixes)
{
    for (; *prefixes; prefixes++)
        if (strncmp(s, *prefixes, strlen(*prefixes)) == 0) return 1;
    return 0;
}

static int check_http_url(loader_t *ld, const char *s, struct fy_node *at, const char *path)
{
    static const char *const ok[] = {"http://", "https://", NULL};
    if (has_prefix(s, ok)) return 0;
    return fail(ld, at, path, "must start with http:// or https:// (got '%s')", s);
}

/* The forms coord_store_connect accepts (common/redisurl.h); the message shows the address with
 * any password in it replaced by ***, and refuses that password. */
static int check_redis_url(loader_t *ld, const char *s, struct fy_node *at, const char *path)
{
    rs_redisurl_t u;
    rs_err_t e;
    if (rs_redisurl_parse(s, &u, &e) == 0) {
        rs_redisurl_cleanup(&u);
        return 0;
    }
    return fail(ld, at, path, "%s; leave it out to run a private redis-server", e.msg);
}

static int check_endpoint(loader_t *ld, const char *s, struct fy_node *at, const char *path)
{
    static const char *const ok[] = {"tcp://", "ipc://", NULL};
    if (has_prefix(s, ok)) return 0;
    return fail(ld, at, path, "must be a ZeroMQ endpoint like tcp://0.0.0.0:5555 (got '%s')", s);
}

/* A prompt that never shows the model what it is to work on is a mistake, not a choice. */
static int check_placeholder(loader_t *ld, const char *s, struct fy_node *at, const char *path,
                             const char *placeholder, const char *why)
{
    if (strstr(s, placeholder)) return 0;
    return fail(ld, at, path, "must contain %s: %s", placeholder, why);
}

static int check_judge_template(loader_t *ld, const char *s, struct fy_node *at, const char *path)
{
    return check_placeholder(ld, s, at, path, "{{answer}}", "the judge has to see the answer");
}

static int check_revise_template(loader_t *ld, const char *s, struct fy_node *at, const char *path)
{
    return check_placeholder(ld, s, at, path, "{{critique}}",
                             "a revision is driven by the critique");
}

/* ---- per-type defaults, parsing, JSON and freeing ---- */

static int apply_section(loader_t *ld, const section_t *sec, const char *shorthand, void *obj,
                         struct fy_node *node, struct fy_node *at, const char *path);
static void section_defaults(const loader_t *ld, const section_t *sec, void *obj);
static json_t *section_json(const section_t *sec, const void *obj);
static void section_free(const section_t *sec, void *obj);

static void default_str(const loader_t *ld, const key_spec_t *k, void *obj)
{
    char **f = field(obj, k);
    *f = k->def_str ? rs_xstrdup(k->def_str) : NULL;
}

static void default_int(const loader_t *ld, const key_spec_t *k, void *obj)
{
    *(int64_t *)field(obj, k) = (int64_t)k->def_num;
}

static void default_num(const loader_t *ld, const key_spec_t *k, void *obj)
{
    *(double *)field(obj, k) = k->def_num;
}

static void default_enum(const loader_t *ld, const key_spec_t *k, void *obj)
{
    set_int(obj, k, (int)k->def_num);
}

static void default_section(const loader_t *ld, const key_spec_t *k, void *obj)
{
    section_defaults(ld, k->sub, field(obj, k));
}

static int parse_str(loader_t *ld, const key_spec_t *k, void *obj, struct fy_node *val,
                     struct fy_node *at, const char *path)
{
    char *s = scalar_text(ld, val, at, path, "a string");
    if (!s) return -1;
    int rc = 0;
    if (k->required && !*s)
        rc = fail(ld, at, path, "must not be empty");
    else if (k->names && name_index(k->names, s) < 0)
        rc = fail_choice(ld, at, path, s, k->names);
    else if (k->check)
        rc = k->check(ld, s, at, path);
    char **f = field(obj, k);
    if (rc != 0) {
        free(s);
        return -1;
    }
    free(*f);
    *f = s;
    return 0;
}

static int check_range(loader_t *ld, const key_spec_t *k, double v, const char *text,
                       struct fy_node *at, const char *path)
{
    if (!k->ranged || (v >= k->min && v <= k->max)) return 0;
    if (isinf(k->max)) return fail(ld, at, path, "must be at least %.15g (got %s)", k->min, text);
    return fail(ld, at, path, "must be between %.15g and %.15g (got %s)", k->min, k->max, text);
}

static int parse_int(loader_t *ld, const key_spec_t *k, void *obj, struct fy_node *val,
                     struct fy_node *at, const char *path)
{
    char *s = plain_text(ld, val, at, path, "an integer");
    if (!s) return -1;
    int64_t v = 0;
    int rc = rs_parse_i64(s, &v) == 0 ? check_range(ld, k, (double)v, s, at, path)
                                      : fail(ld, at, path, "expected an integer (got '%s')", s);
    if (rc == 0) *(int64_t *)field(obj, k) = v;
    free(s);
    return rc;
}

static int parse_num(loader_t *ld, const key_spec_t *k, void *obj, struct fy_node *val,
                     struct fy_node *at, const char *path)
{
    char *s = plain_text(ld, val, at, path, "a number");
    if (!s) return -1;
    double v = 0;
    int rc = rs_parse_double(s, &v) == 0 ? check_range(ld, k, v, s, at, path)
                                         : fail(ld, at, path, "expected a number (got '%s')", s);
    if (rc == 0) *(double *)field(obj, k) = v;
    free(s);
    return rc;
}

static int parse_bool(loader_t *ld, const key_spec_t *k, void *obj, struct fy_node *val,
                      struct fy_node *at, const char *path)
{
    static const char *const yes[] = {"true", "yes", "on", NULL};
    static const char *const no[] = {"false", "no", "off", NULL};
    char *s = plain_text(ld, val, at, path, "true or false");
    if (!s) return -1;
    int v = -1;
    for (int i = 0; yes[i]; i++) {
        if (strcasecmp(s, yes[i]) == 0) v = 1;
        if (strcasecmp(s, no[i]) == 0) v = 0;
    }
    int rc = v < 0 ? fail(ld, at, path, "expected true or false (got '%s')", s) : 0;
    if (rc == 0) set_int(obj, k, v);
    free(s);
    return rc;
}

static int parse_enum(loader_t *ld, const key_spec_t *k, void *obj, struct fy_node *val,
                      struct fy_node *at, const char *path)
{
    char *s = scalar_text(ld, val, at, path, "a name");
    if (!s) return -1;
    int i = name_index(k->names, s);
    int rc = i < 0 ? fail_choice(ld, at, path, s, k->names) : 0;
    if (rc == 0) set_int(obj, k, i);
    free(s);
    return rc;
}

static void free_strv(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

/* One string or a list of them; an empty list is stored as NULL (none). */
static int parse_strlist(loader_t *ld, const key_spec_t *k, void *obj, struct fy_node *val,
                         struct fy_node *at, const char *path)
{
    int seq = fy_node_is_sequence(val);
    size_t n = seq ? (size_t)fy_node_sequence_item_count(val) : 1;
    char **list = rs_xcalloc(n + 1, sizeof(*list));
    void *it = NULL;
    for (size_t i = 0; i < n; i++) {
        struct fy_node *item = seq ? fy_node_sequence_iterate(val, &it) : val;
        char sub[PATH_CAP];
        if (seq)
            path_index(sub, sizeof(sub), path, i);
        else
            fmt_into(sub, sizeof(sub), "%s", path);
        struct fy_node *iat = seq ? pick_at(item, at) : at;
        list[i] = scalar_text(ld, item, iat, sub, seq ? "a string" : "a string or a list of them");
        if (list[i] && !*list[i]) fail(ld, iat, sub, "must not be empty");
        if (!list[i] || !*list[i]) {
            free_strv(list);
            return -1;
        }
    }
    char ***f = field(obj, k);
    free_strv(*f);
    *f = n ? list : NULL;
    if (!n) free(list);
    return 0;
}

static int parse_section(loader_t *ld, const key_spec_t *k, void *obj, struct fy_node *val,
                         struct fy_node *at, const char *path)
{
    return apply_section(ld, k->sub, k->shorthand, field(obj, k), val, at, path);
}

static void *list_items(const void *obj, const key_spec_t *k, size_t *n)
{
    void *items;
    memcpy(&items, cfield(obj, k), sizeof(items));
    memcpy(n, (const char *)obj + k->off_count, sizeof(*n));
    return items;
}

static void set_list_items(void *obj, const key_spec_t *k, void *items, size_t n)
{
    memcpy(field(obj, k), &items, sizeof(items));
    memcpy((char *)obj + k->off_count, &n, sizeof(n));
}

static const key_spec_t *find_key(const section_t *sec, const char *name)
{
    for (size_t i = 0; i < sec->n_keys; i++)
        if (strcmp(sec->keys[i].name, name) == 0) return &sec->keys[i];
    return NULL;
}

/* Items are labelled by k->unique (a name) in reports, so two items must not share one. */
static int check_unique(loader_t *ld, const key_spec_t *k, const char *items, size_t n,
                        struct fy_node *seq, const char *path)
{
    const key_spec_t *u = find_key(k->sub, k->unique);
    for (size_t i = 1; i < n; i++) {
        const char *name = *(char *const *)(items + i * k->elem_size + u->off);
        for (size_t j = 0; name && j < i; j++) {
            const char *other = *(char *const *)(items + j * k->elem_size + u->off);
            if (!other || strcmp(name, other) != 0) continue;
            struct fy_node *item = fy_node_sequence_get_by_index(seq, (int)i), *key = NULL;
            struct fy_node *val = fy_node_is_mapping(item) ? map_find(item, u->name, &key) : NULL;
            char sub[PATH_CAP], at_path[PATH_CAP];
            path_index(at_path, sizeof(at_path), path, i);
            path_key(sub, sizeof(sub), at_path, u->name);
            return fail(ld, where(key, val, item), sub,
                        "duplicate %s '%s' (%s[%zu] has it too); each needs its own %s, it labels "
                        "results in reports",
                        u->name, name, path, j, u->name);
        }
    }
    return 0;
}

static int parse_list(loader_t *ld, const key_spec_t *k, void *obj, struct fy_node *val,
                      struct fy_node *at, const char *path)
{
    if (!fy_node_is_sequence(val))
        return fail(ld, at, path, "expected a list (got %s)", kind_of(val));
    size_t n = (size_t)fy_node_sequence_item_count(val);
    if (n == 0 && k->required) return fail(ld, at, path, "must not be empty");
    char *items = rs_xcalloc(n ? n : 1, k->elem_size);
    set_list_items(obj, k, items, n); /* owned by obj from here on, so a failure frees it */
    void *it = NULL;
    for (size_t i = 0; i < n; i++) {
        struct fy_node *item = fy_node_sequence_iterate(val, &it);
        char sub[PATH_CAP];
        path_index(sub, sizeof(sub), path, i);
        section_defaults(ld, k->sub, items + i * k->elem_size);
        if (apply_section(ld, k->sub, k->shorthand, items + i * k->elem_size, item,
                          pick_at(item, at), sub) != 0)
            return -1;
    }
    return k->unique ? check_unique(ld, k, items, n, val, path) : 0;
}

static int parse_custom(loader_t *ld, const key_spec_t *k, void *obj, struct fy_node *val,
                        struct fy_node *at, const char *path)
{
    return k->parse(ld, k, obj, val, at, path);
}

static json_t *json_str(const key_spec_t *k, const void *obj)
{
    const char *s = *(char *const *)cfield(obj, k);
    return s ? json_string(s) : json_null();
}

static json_t *json_int(const key_spec_t *k, const void *obj)
{
    int64_t v = *(const int64_t *)cfield(obj, k);
    return k->optional && v == 0 ? json_null() : json_integer(v);
}

static json_t *json_num(const key_spec_t *k, const void *obj)
{
    double v = *(const double *)cfield(obj, k);
    return isnan(v) ? json_null() : json_real(v); /* NaN: an optional key left unset */
}

static json_t *json_bool(const key_spec_t *k, const void *obj)
{
    return json_boolean(get_int(obj, k));
}

static json_t *json_enum(const key_spec_t *k, const void *obj)
{
    int v = get_int(obj, k);
    int n = 0;
    while (k->names[n])
        n++;
    return v >= 0 && v < n ? json_string(k->names[v]) : json_null();
}

static json_t *json_strlist(const key_spec_t *k, const void *obj)
{
    char *const *v = *(char **const *)cfield(obj, k);
    if (!v) return json_null();
    json_t *a = json_array();
    for (; *v; v++)
        json_array_append_new(a, json_string(*v));
    return a;
}

static json_t *json_section(const key_spec_t *k, const void *obj)
{
    return section_json(k->sub, cfield(obj, k));
}

static json_t *json_list(const key_spec_t *k, const void *obj)
{
    size_t n;
    const char *items = list_items(obj, k, &n);
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, section_json(k->sub, items + i * k->elem_size));
    return a;
}

static json_t *json_custom(const key_spec_t *k, const void *obj)
{
    return k->to_json(k, obj);
}

static void free_str(const key_spec_t *k, void *obj)
{
    char **f = field(obj, k);
    free(*f);
    *f = NULL;
}

static void free_strlist(const key_spec_t *k, void *obj)
{
    char ***f = field(obj, k);
    free_strv(*f);
    *f = NULL;
}

static void free_section(const key_spec_t *k, void *obj)
{
    section_free(k->sub, field(obj, k));
}

static void free_list(const key_spec_t *k, void *obj)
{
    size_t n;
    char *items = list_items(obj, k, &n);
    for (size_t i = 0; items && i < n; i++)
        section_free(k->sub, items + i * k->elem_size);
    free(items);
    set_list_items(obj, k, NULL, 0);
}

static void free_custom(const key_spec_t *k, void *obj)
{
    if (k->release) k->release(k, obj);
}

typedef struct type_ops {
    void (*set_default)(const loader_t *ld, const key_spec_t *k, void *obj); /* NULL: zeroed */
    parse_fn parse; /* called with a non-null value only (KT_SECTION: also with NULL) */
    json_fn to_json;
    void (*release)(const key_spec_t *k, void *obj); /* NULL: nothing owned */
} type_ops_t;

static const type_ops_t type_ops[] = {
    [KT_STR] = {default_str, parse_str, json_str, free_str},
    [KT_INT] = {default_int, parse_int, json_int, NULL},
    [KT_NUM] = {default_num, parse_num, json_num, NULL},
    [KT_BOOL] = {default_enum, parse_bool, json_bool, NULL},
    [KT_ENUM] = {default_enum, parse_enum, json_enum, NULL},
    [KT_STRLIST] = {NULL, parse_strlist, json_strlist, free_strlist},
    [KT_SECTION] = {default_section, parse_section, json_section, free_section},
    [KT_LIST] = {NULL, parse_list, json_list, free_list},
    [KT_CUSTOM] = {NULL, parse_custom, json_custom, free_custom},
};

/* ---- walking a section ---- */

static void section_defaults(const loader_t *ld, const section_t *sec, void *obj)
{
    for (size_t i = 0; i < sec->n_keys; i++) {
        const type_ops_t *ops = &type_ops[sec->keys[i].type];
        if (ops->set_default) ops->set_default(ld, &sec->keys[i], obj);
    }
    if (sec->init) sec->init(ld, obj);
}

static json_t *section_json(const section_t *sec, const void *obj)
{
    json_t *o = json_object();
    for (size_t i = 0; i < sec->n_keys; i++)
        json_object_set_new(o, sec->keys[i].name,
                            type_ops[sec->keys[i].type].to_json(&sec->keys[i], obj));
    return o;
}

static void section_free(const section_t *sec, void *obj)
{
    for (size_t i = 0; i < sec->n_keys; i++) {
        const type_ops_t *ops = &type_ops[sec->keys[i].type];
        if (ops->release) ops->release(&sec->keys[i], obj);
    }
}

/* The known key nearest to an unknown one, looking one level into nested sections as well, so a
 * model's misplaced "temperature" suggests "params.temperature". */
static void suggest_key(const section_t *sec, const char *word, char *out, size_t cap)
{
    size_t best = (size_t)-1;
    *out = '\0';
    for (size_t i = 0; i < sec->n_keys; i++) {
        const key_spec_t *k = &sec->keys[i];
        consider(word, k->name, k->name, &best, out, cap);
        for (size_t j = 0; k->type == KT_SECTION && j < k->sub->n_keys; j++) {
            char shown[128];
            fmt_into(shown, sizeof(shown), "%s.%s", k->name, k->sub->keys[j].name);
            consider(word, k->sub->keys[j].name, shown, &best, out, cap);
        }
    }
}

static int fail_unknown_key(loader_t *ld, const section_t *sec, struct fy_node *key,
                            const char *name, const char *path)
{
    char sub[PATH_CAP], near[128];
    path_key(sub, sizeof(sub), path, name);
    suggest_key(sec, name, near, sizeof(near));
    if (*near) return fail(ld, key, sub, "unknown key; did you mean '%s'?", near);
    rs_buf_t known;
    rs_buf_init(&known);
    for (size_t i = 0; i < sec->n_keys; i++)
        rs_buf_printf(&known, "%s%s", i ? ", " : "", sec->keys[i].name);
    int rc = fail(ld, key, sub, "unknown key (known here: %s)", known.data);
    rs_buf_cleanup(&known);
    return rc;
}

/* Every key of map must be in sec: a typo must not silently fall back to a default. */
static int check_keys(loader_t *ld, const section_t *sec, struct fy_node *map, const char *path)
{
    void *it = NULL;
    struct fy_node_pair *p;
    while ((p = fy_node_mapping_iterate(map, &it))) {
        struct fy_node *key = fy_node_pair_key(p);
        size_t len = 0;
        const char *s = key && fy_node_is_scalar(key) ? fy_node_get_scalar(key, &len) : NULL;
        if (!s) return fail(ld, pick_at(key, map), path, "keys must be plain names");
        char *name = rs_xstrndup(s, len);
        int rc = find_key(sec, name) ? 0 : fail_unknown_key(ld, sec, key, name, path);
        free(name);
        if (rc) return -1;
    }
    return 0;
}

/* Fills obj (defaults already set) from node: a mapping of sec's keys, a lone scalar standing for
 * the shorthand key, or NULL (absent: required keys are then missing). Keys are applied in table
 * order, so a key may depend on an earlier one whatever order the file lists them in. */
static int apply_section(loader_t *ld, const section_t *sec, const char *shorthand, void *obj,
                         struct fy_node *node, struct fy_node *at, const char *path)
{
    int map = node && fy_node_is_mapping(node);
    if (node && !map && !(shorthand && fy_node_is_scalar(node)))
        return fail(ld, at, path, "expected a mapping%s (got %s)", shorthand ? " or a name" : "",
                    kind_of(node));
    if (map && check_keys(ld, sec, node, path) != 0) return -1;
    for (size_t i = 0; i < sec->n_keys; i++) {
        const key_spec_t *k = &sec->keys[i];
        struct fy_node *key = NULL, *val = NULL;
        if (map)
            val = map_find(node, k->name, &key);
        else if (node && strcmp(k->name, shorthand) == 0)
            val = node;
        char sub[PATH_CAP];
        path_key(sub, sizeof(sub), path, k->name);
        struct fy_node *kat = where(key, val, at);
        if (is_null(val) && k->required) return fail(ld, kat, sub, "missing (required)");
        if (is_null(val) && k->type != KT_SECTION) continue;
        if (type_ops[k->type].parse(ld, k, obj, is_null(val) ? NULL : val, kat, sub) != 0)
            return -1;
    }
    return sec->finish ? sec->finish(ld, obj, map ? node : NULL, at, path) : 0;
}

/* ---- section hooks ---- */

static void model_init(const loader_t *ld, void *obj)
{
    rs_model_cfg_t *m = obj;
    m->seed = ld && ld->cfg ? ld->cfg->run.seed : 1;
}

static void report_init(const loader_t *ld, void *obj)
{
    rs_report_cfg_t *r = obj;
    r->json = r->markdown = r->jsonl = 1;
    r->html = 0;
}

static struct fy_node *key_at(struct fy_node *map, const char *name, struct fy_node *fallback);

static int model_finish(loader_t *ld, void *obj, struct fy_node *map, struct fy_node *at,
                        const char *path)
{
    rs_model_cfg_t *m = obj;
    if (!m->name) m->name = rs_xstrdup(m->model);
    if (m->budget.usd > 0 && m->price_input == 0 && m->price_output == 0)
        return fail(ld, key_at(map, "budget", at), path,
                    "budget.usd is set but the model has no prices, so its calls cost nothing and "
                    "the limit could never be reached: set prices: {input, output} (USD per "
                    "million tokens) or limit budget.tokens");
    /* the simulator has no server to overload; a real provider's limits are rarely known */
    if (m->adaptive == RS_ADAPTIVE_AUTO)
        m->adaptive = strcmp(m->provider, "sim") == 0 ? RS_ADAPTIVE_OFF : RS_ADAPTIVE_ON;
    if (m->conc_ceiling == 0 || m->conc_floor <= m->conc_ceiling) return 0;
    char sub[PATH_CAP];
    path_key(sub, sizeof(sub), path, "concurrency.floor");
    struct fy_node *key = NULL, *conc = map ? map_find(map, "concurrency", &key) : NULL;
    struct fy_node *here = conc && fy_node_is_mapping(conc) ? key_at(conc, "floor", key)
                                                             : where(key, conc, at);
    return fail(ld, here, sub,
                "must not be above concurrency.ceiling (%lld > %lld)", (long long)m->conc_floor,
                (long long)m->conc_ceiling);
}

/* The value node of key name in map, for pointing at it; fallback when it is absent. */
static struct fy_node *key_at(struct fy_node *map, const char *name, struct fy_node *fallback)
{
    struct fy_node *key = NULL, *val = map ? map_find(map, name, &key) : NULL;
    return where(key, val, fallback);
}

/* 1 when map gives key a non-null value. */
static int has_key(struct fy_node *map, const char *key)
{
    return map && !is_null(map_find(map, key, NULL));
}

/* ---- cross-references: judges name models, revise and graders name judges ---- */

/* Index of the item of root list key list ("models", "judges") labelled name (by the list's
 * unique key), or -1. */
static int label_index(const rs_config_t *cfg, const char *list, const char *name)
{
    const key_spec_t *k = find_key(&root_sec, list), *u = find_key(k->sub, k->unique);
    size_t n;
    const char *items = list_items(cfg, k, &n);
    for (size_t i = 0; name && i < n; i++) {
        const char *label = *(char *const *)(items + i * k->elem_size + u->off);
        if (label && strcmp(label, name) == 0) return (int)i;
    }
    return -1;
}

/* Sets *idx to the item of list labelled name, or fails pointing at at, listing the labels there
 * are (and the nearest one). */
static int resolve_ref(loader_t *ld, const char *list, const char *name, size_t *idx,
                       struct fy_node *at, const char *path)
{
    int i = label_index(ld->cfg, list, name);
    if (i >= 0) {
        *idx = (size_t)i;
        return 0;
    }
    const key_spec_t *k = find_key(&root_sec, list), *u = find_key(k->sub, k->unique);
    size_t n;
    const char *items = list_items(ld->cfg, k, &n);
    if (n == 0) return fail(ld, at, path, "'%s' is not defined: the config has no %s", name, list);
    const char **labels = rs_xcalloc(n + 1, sizeof(*labels));
    for (size_t j = 0; j < n; j++)
        labels[j] = *(char *const *)(items + j * k->elem_size + u->off);
    int rc = fail_choice(ld, at, path, name, labels);
    free(labels);
    return rc;
}

/* A key that names a judge (revise.judge, a judge grader's judge): resolved when given, else
 * judges[0]; missing is an error only when needed (why, the reason, is not NULL). */
static int judge_ref(loader_t *ld, char **name, size_t *idx, struct fy_node *map,
                     struct fy_node *at, const char *path, const char *why)
{
    char sub[PATH_CAP];
    path_key(sub, sizeof(sub), path, "judge");
    if (*name) return resolve_ref(ld, "judges", *name, idx, key_at(map, "judge", at), sub);
    if (ld->cfg->n_judges > 0) {
        *name = rs_xstrdup(ld->cfg->judges[0].name);
        *idx = 0;
        return 0;
    }
    return why ? fail(ld, at, sub, "missing (%s; add a judges: section)", why) : 0;
}

int rs_config_model_index(const rs_config_t *cfg, const char *name)
{
    return label_index(cfg, "models", name);
}

int rs_config_judge_index(const rs_config_t *cfg, const char *name)
{
    return label_index(cfg, "judges", name);
}

rs_embeds_t rs_config_embeds(const rs_config_t *cfg)
{
    for (size_t g = 0; g < cfg->scoring.n_graders; g++)
        if (cfg->scoring.graders[g].kind == RS_GRADE_EMBED_SIM) return RS_EMBEDS_ALL;
    int choice = cfg->n_models > 1; /* consensus needs several candidates to choose from */
    for (size_t m = 0; m < cfg->n_models; m++) choice |= cfg->models[m].n > 1;
    return choice && cfg->ranking.use[RS_STRATEGY_CONSENSUS] ? RS_EMBEDS_GENERATIONS
                                                             : RS_EMBEDS_NONE;
}

/* A dataset path given on the command line (--set) is relative to where the command runs, as any
 * command-line path is; one in the file is relative to the file (see rs_config_dataset_path). */
static void absolutize_override_path(char **path)
{
    char cwd[4096];
    if ((*path)[0] == '/' || !getcwd(cwd, sizeof(cwd))) return;
    char *abs = rs_xasprintf("%s/%s", cwd, *path);
    free(*path);
    *path = abs;
}

static int dataset_finish(loader_t *ld, void *obj, struct fy_node *map, struct fy_node *at,
                          const char *path)
{
    rs_dataset_cfg_t *d = obj;
    /* Resolved here, so the stored config names the format that was read (a folder, whose name
     * says nothing, is read as a Hugging Face folder when it opens: common/dataset.c). */
    if (d->format == RS_FORMAT_AUTO && (!d->path || rs_config_format_of(d->path, &d->format) < 0))
        d->format = RS_FORMAT_JSONL;
    int evals = d->format == RS_FORMAT_EVALS;
    if (!d->input_field) d->input_field = rs_xstrdup(evals ? "input" : "question");
    if (!d->target_field) d->target_field = rs_xstrdup(evals ? "ideal" : "answer");
    if (override_of(key_at(map, "path", NULL))) absolutize_override_path(&d->path);
    return 0;
}

static int extractor_finish(loader_t *ld, void *obj, struct fy_node *map, struct fy_node *at,
                            const char *path)
{
    rs_scoring_cfg_t *s = obj;
    char sub[PATH_CAP];
    path_key(sub, sizeof(sub), path, "pattern");
    if (s->extractor == RS_EXTRACT_REGEX && !s->extractor_pattern)
        return fail(ld, at, sub, "missing (the regex extractor needs a pattern)");
    if (s->extractor != RS_EXTRACT_REGEX && s->extractor_pattern)
        return fail(ld, key_at(map, "pattern", at), sub,
                    "only the regex extractor uses a pattern; add type: regex");
    return 0;
}

/* Fails when key is set on a grader whose kind does not use it (a forgotten type: line). */
static int grader_only(loader_t *ld, const rs_grader_cfg_t *g, int set, rs_grader_kind_t kind,
                       const char *key, struct fy_node *map, struct fy_node *at, const char *path)
{
    if (!set || g->kind == kind) return 0;
    char sub[PATH_CAP];
    path_key(sub, sizeof(sub), path, key);
    return fail(ld, key_at(map, key, at), sub, "only %s graders use %s; add type: %s",
                rs_grader_kind_name(kind), key, rs_grader_kind_name(kind));
}

static void absolutize_key(loader_t *ld, struct fy_node *map, const char *name, char **path);

/* An exec grader's command: there, its program found the way a config's paths are (relative to
 * the file when it names a directory; a bare name is looked up in PATH when it runs), and its
 * env a list of variable names. */
static int exec_finish(loader_t *ld, rs_grader_cfg_t *g, struct fy_node *map, struct fy_node *at,
                       const char *path)
{
    char sub[PATH_CAP];
    path_key(sub, sizeof(sub), path, "command");
    if (!g->command)
        return fail(ld, key_at(map, "command", at), sub,
                    "missing (an exec grader runs a command: a list like [python3, check.py])");
    char **prog = &g->command[0];
    if ((*prog)[0] != '/' && strchr(*prog, '/')) {
        if (strncmp(*prog, "./", 2) == 0) memmove(*prog, *prog + 2, strlen(*prog + 2) + 1);
        absolutize_key(ld, map, "command", prog);
    }
    for (size_t i = 0; g->env && g->env[i]; i++) {
        path_key(sub, sizeof(sub), path, "env");
        if (!is_env_name(g->env[i]))
            return fail(ld, key_at(map, "env", at), sub,
                        "'%s' is not the name of an environment variable (letters, digits and _; "
                        "the grader gets the worker's value of each name listed)",
                        g->env[i]);
    }
    return 0;
}

/* The keys only exec graders read: given another value than the default on another kind (a
 * stored config writes the defaults for every grader), they would silently do nothing. */
static int exec_only(loader_t *ld, rs_grader_cfg_t *g, struct fy_node *map, struct fy_node *at,
                     const char *path)
{
    static const char *const ints[] = {"concurrency", "timeout_ms", "memory_mb", "cpu_seconds"};
    if (grader_only(ld, g, g->command != NULL, RS_GRADE_EXEC, "command", map, at, path) ||
        grader_only(ld, g, g->env != NULL, RS_GRADE_EXEC, "env", map, at, path))
        return -1;
    for (size_t i = 0; i < RS_ARRAY_LEN(ints); i++) {
        const key_spec_t *k = find_key(&grader_sec, ints[i]);
        int set = *(const int64_t *)cfield(g, k) != (int64_t)k->def_num;
        if (grader_only(ld, g, set, RS_GRADE_EXEC, ints[i], map, at, path)) return -1;
    }
    return g->kind == RS_GRADE_EXEC ? exec_finish(ld, g, map, at, path) : 0;
}

static int grader_finish(loader_t *ld, void *obj, struct fy_node *map, struct fy_node *at,
                         const char *path)
{
    rs_grader_cfg_t *g = obj;
    if (!g->name) g->name = rs_xstrdup(rs_grader_kind_name(g->kind));
    if (!has_key(map, "threshold")) g->threshold = grader_thresholds[g->kind];
    if (grader_only(ld, g, g->keys != NULL, RS_GRADE_JSON_MATCH, "keys", map, at, path) != 0 ||
        grader_only(ld, g, g->judge != NULL, RS_GRADE_JUDGE, "judge", map, at, path) != 0 ||
        exec_only(ld, g, map, at, path) != 0)
        return -1;
    if (g->kind != RS_GRADE_JUDGE) return 0;
    return judge_ref(ld, &g->judge, &g->judge_idx, map, at, path,
                     "a judge grader takes a judge's score");
}

static int scoring_finish(loader_t *ld, void *obj, struct fy_node *map, struct fy_node *at,
                          const char *path)
{
    rs_scoring_cfg_t *s = obj;
    if (s->n_graders > 0) return 0;
    free(s->graders);
    s->graders = rs_xcalloc(1, sizeof(*s->graders));
    s->n_graders = 1;
    section_defaults(ld, &grader_sec, s->graders);
    return grader_finish(ld, s->graders, NULL, at, path);
}

/* rediss:// needs a CA file; TLS files without rediss:// would silently go unused; a client
 * certificate needs its key. */
static int redis_finish(loader_t *ld, rs_cluster_cfg_t *c, struct fy_node *map, struct fy_node *at,
                        const char *path)
{
    const rs_redis_tls_cfg_t *t = &c->redis_tls;
    rs_redisurl_t u = {0};
    rs_err_t ignored;
    int tls = c->redis && rs_redisurl_parse(c->redis, &u, &ignored) == 0 && u.kind == RS_REDISURL_TLS;
    rs_redisurl_cleanup(&u);
    struct fy_node *tls_map = map ? map_find(map, "redis_tls", NULL) : NULL;
    char sub[PATH_CAP];
    path_key(sub, sizeof(sub), path, "redis_tls.ca_file");
    if (tls && !t->ca_file)
        return fail(ld, key_at(map, "redis", at), sub,
                    "missing: a rediss:// Redis needs the CA certificate that its server's "
                    "certificate is checked against");
    path_key(sub, sizeof(sub), path, "redis_tls");
    if (!tls && (t->ca_file || t->cert_file || t->key_file))
        return fail(ld, key_at(map, "redis_tls", at), sub,
                    "set, but cluster.redis is not a rediss:// address, so TLS would not be used");
    if (!t->cert_file != !t->key_file) {
        const char *given = t->cert_file ? "cert_file" : "key_file";
        path_key(sub, sizeof(sub), path, t->cert_file ? "redis_tls.key_file" : "redis_tls.cert_file");
        return fail(ld, key_at(tls_map, given, key_at(map, "redis_tls", at)), sub,
                    "missing: a client certificate needs both cert_file and key_file");
    }
    return 0;
}

static int cluster_finish(loader_t *ld, void *obj, struct fy_node *map, struct fy_node *at,
                          const char *path)
{
    rs_cluster_cfg_t *c = obj;
    if (redis_finish(ld, c, map, at, path)) return -1;
    if (c->lease_ms > c->heartbeat_ms) return 0;
    char sub[PATH_CAP];
    path_key(sub, sizeof(sub), path, "lease_ms");
    return fail(ld, key_at(map, "lease_ms", key_at(map, "heartbeat_ms", at)), sub,
                "must be greater than heartbeat_ms (%lld <= %lld): a lease shorter than a "
                "heartbeat expires while its worker is healthy",
                (long long)c->lease_ms, (long long)c->heartbeat_ms);
}

/* Workers reach the cache themselves, and they speak no TLS to Redis (the coordinator's rediss://
 * goes through a local stunnel client that workers do not have). */
static int cache_finish(loader_t *ld, void *obj, struct fy_node *map, struct fy_node *at,
                        const char *path)
{
    rs_cache_cfg_t *c = obj;
    if (!c->redis || strncmp(c->redis, "rediss://", 9) != 0) return 0;
    char sub[PATH_CAP];
    path_key(sub, sizeof(sub), path, "redis");
    return fail(ld, key_at(map, "redis", at), sub,
                "rediss:// is not supported for the cache: workers connect to it directly and "
                "have no TLS to Redis; use redis:// on a private network, or unix:");
}

const char *rs_cache_mode_name(rs_cache_mode_t mode)
{
    return (unsigned)mode < RS_ARRAY_LEN(cache_mode_names) - 1 ? cache_mode_names[mode] : "unknown";
}

/* A path in the file is relative to the file (as dataset.path); one from --set (or without a
 * file) to the current directory. Stored absolute, so run.json and a resume read the same files. */
static void absolutize_key(loader_t *ld, struct fy_node *map, const char *name, char **path)
{
    if (!*path || (*path)[0] == '/') return;
    if (override_of(key_at(map, name, NULL)) || !ld->cfg || !ld->cfg->base_dir) {
        absolutize_override_path(path);
        return;
    }
    char *abs = rs_xasprintf("%s/%s", ld->cfg->base_dir, *path);
    free(*path);
    *path = abs;
}

/* TLS files: made absolute here (absolutize_key), so the stored config works from anywhere. */
static int redis_tls_finish(loader_t *ld, void *obj, struct fy_node *map, struct fy_node *at,
                            const char *path)
{
    rs_redis_tls_cfg_t *t = obj;
    static const char *const names[] = {"ca_file", "cert_file", "key_file"};
    char **fields[] = {&t->ca_file, &t->cert_file, &t->key_file};
    for (size_t i = 0; i < RS_ARRAY_LEN(fields); i++) {
        char **p = fields[i], sub[PATH_CAP];
        if (!*p || (*p)[0] == '/') continue;
        path_key(sub, sizeof(sub), path, names[i]);
        if (!(*p)[0]) return fail(ld, key_at(map, names[i], at), sub, "must be a file path, not empty");
        absolutize_key(ld, map, names[i], p);
    }
    return 0;
}

static int curve_finish(loader_t *ld, void *obj, struct fy_node *map, struct fy_node *at,
                        const char *path)
{
    rs_curve_cfg_t *c = obj;
    static const char *const names[] = {"secret_key_file", "authorized_keys_dir"};
    char **fields[] = {&c->secret_key_file, &c->authorized_keys_dir};
    /* absent, or keys all null (as a stored config writes an unset section): off */
    if (!c->secret_key_file && !c->authorized_keys_dir && !(map && fy_node_mapping_item_count(map) == 0))
        return 0;
    for (size_t i = 0; i < RS_ARRAY_LEN(names); i++) {
        char sub[PATH_CAP];
        path_key(sub, sizeof(sub), path, names[i]);
        if (!*fields[i] || !**fields[i])
            return fail(ld, key_at(map, names[i], at), sub,
                        "missing (cluster.curve needs both secret_key_file and "
                        "authorized_keys_dir; see `reasonsaver keys gen`)");
        absolutize_key(ld, map, names[i], fields[i]);
    }
    return 0;
}

/* ---- the critique sections ---- */

static int choice_cmp(const void *a, const void *b)
{
    return strcmp(((const rs_verdict_choice_t *)a)->text, ((const rs_verdict_choice_t *)b)->text);
}

/* One "text: score" pair of a choices mapping into c (c->text set first, so a failure after it
 * leaves nothing unowned). */
static int parse_choice(loader_t *ld, struct fy_node_pair *p, rs_verdict_choice_t *c,
                        struct fy_node *at, const char *path)
{
    static const key_spec_t as_score = {
        .name = "score", .type = KT_NUM, .off = offsetof(rs_verdict_choice_t, score), RANGE(0, 1)};
    struct fy_node *key = fy_node_pair_key(p), *val = fy_node_pair_value(p);
    struct fy_node *kat = pick_at(key, at);
    char sub[PATH_CAP];
    c->text = scalar_text(ld, key, kat, path, "a verdict string");
    if (!c->text) return -1;
    if (!*c->text) return fail(ld, kat, path, "verdict strings must not be empty");
    path_key(sub, sizeof(sub), path, c->text);
    if (is_null(val)) return fail(ld, kat, sub, "missing score (a number from 0 to 1)");
    return parse_num(ld, &as_score, c, val, where(key, val, kat), sub);
}

/* choices: {"Y": 1, "N": 0}: verdict strings to scores in [0, 1], kept sorted by text. */
static int parse_choices(loader_t *ld, const key_spec_t *k, void *obj, struct fy_node *val,
                         struct fy_node *at, const char *path)
{
    rs_verdict_cfg_t *v = obj;
    if (!fy_node_is_mapping(val))
        return fail(ld, at, path,
                    "expected a mapping of verdict strings to scores, like {\"Y\": 1, \"N\": 0} "
                    "(got %s)",
                    kind_of(val));
    size_t n = (size_t)fy_node_mapping_item_count(val);
    if (n == 0) return fail(ld, at, path, "must name at least one verdict string");
    free_choices(k, obj);
    v->choices = rs_xcalloc(n, sizeof(*v->choices)); /* owned by v from here on */
    void *it = NULL;
    struct fy_node_pair *p;
    while ((p = fy_node_mapping_iterate(val, &it)))
        if (parse_choice(ld, p, &v->choices[v->n_choices++], at, path) != 0) return -1;
    qsort(v->choices, v->n_choices, sizeof(*v->choices), choice_cmp);
    return 0;
}

static json_t *json_choices(const key_spec_t *k, const void *obj)
{
    const rs_verdict_cfg_t *v = obj;
    if (!v->n_choices) return json_null();
    json_t *o = json_object();
    for (size_t i = 0; i < v->n_choices; i++)
        json_object_set_new(o, v->choices[i].text, json_real(v->choices[i].score));
    return o;
}

static void free_choices(const key_spec_t *k, void *obj)
{
    rs_verdict_cfg_t *v = obj;
    for (size_t i = 0; i < v->n_choices; i++)
        free(v->choices[i].text);
    free(v->choices);
    v->choices = NULL;
    v->n_choices = 0;
}

/* min / max: numbers of a regex verdict, null for choices. */
static json_t *json_scale(const key_spec_t *k, const void *obj)
{
    const rs_verdict_cfg_t *v = obj;
    return v->regex ? json_real(*(const double *)cfield(obj, k)) : json_null();
}

/* Without a regex: choices (the default Y/N ones when none are given), and no min or max. */
static int verdict_choices_finish(loader_t *ld, rs_verdict_cfg_t *v, struct fy_node *map,
                                  const char *path)
{
    static const char *const scale_keys[] = {"min", "max"};
    for (size_t i = 0; i < RS_ARRAY_LEN(scale_keys); i++) {
        if (!has_key(map, scale_keys[i])) continue;
        char sub[PATH_CAP];
        path_key(sub, sizeof(sub), path, scale_keys[i]);
        return fail(ld, key_at(map, scale_keys[i], NULL), sub,
                    "only a regex verdict has a scale; add regex (or leave min and max out)");
    }
    if (v->n_choices) return 0;
    v->choices = rs_xcalloc(2, sizeof(*v->choices));
    v->choices[0] = (rs_verdict_choice_t){rs_xstrdup("N"), 0};
    v->choices[1] = (rs_verdict_choice_t){rs_xstrdup("Y"), 1};
    v->n_choices = 2;
    return 0;
}

/* Exactly one of choices and regex; a regex needs max (a scale has no natural top) and
 * min < max. */
static int verdict_finish(loader_t *ld, void *obj, struct fy_node *map, struct fy_node *at,
                          const char *path)
{
    rs_verdict_cfg_t *v = obj;
    char sub[PATH_CAP];
    if (!v->regex) return verdict_choices_finish(ld, v, map, path);
    path_key(sub, sizeof(sub), path, "regex");
    if (v->n_choices)
        return fail(ld, key_at(map, "regex", at), sub,
                    "give either choices or regex, not both: the score comes from one of them");
    path_key(sub, sizeof(sub), path, "max");
    if (!has_key(map, "max"))
        return fail(ld, key_at(map, "regex", at), sub,
                    "missing (a regex verdict needs max, the top of its scale, like 10)");
    if (v->min < v->max) return 0;
    return fail(ld, key_at(map, "max", at), sub, "must be greater than min (%.15g <= %.15g)",
                v->max, v->min);
}

/* 1 when the verdict reads the built-in template's answer: both "Y" and "N" are choices. */
static int reads_yes_no(const rs_verdict_cfg_t *v)
{
    int y = 0, n = 0;
    for (size_t i = 0; i < v->n_choices; i++) {
        y |= strcmp(v->choices[i].text, "Y") == 0;
        n |= strcmp(v->choices[i].text, "N") == 0;
    }
    return y && n;
}

static int judge_finish(loader_t *ld, void *obj, struct fy_node *map, struct fy_node *at,
                        const char *path)
{
    rs_judge_cfg_t *j = obj;
    char sub[PATH_CAP];
    path_key(sub, sizeof(sub), path, "model");
    if (resolve_ref(ld, "models", j->model, &j->model_idx, key_at(map, "model", at), sub) != 0)
        return -1;
    if (!j->name) j->name = rs_xstrdup(j->model);
    if (strcmp(j->template, RS_JUDGE_TEMPLATE) != 0 || reads_yes_no(&j->verdict)) return 0;
    /* otherwise every real judge's reply would come back unparsed */
    path_key(sub, sizeof(sub), path, "template");
    return fail(ld, key_at(map, "verdict", at), sub,
                "missing (the built-in template asks for \"Verdict: Y\" or \"Verdict: N\", "
                "which this verdict does not read; write one that asks for what it reads)");
}

static int revise_finish(loader_t *ld, void *obj, struct fy_node *map, struct fy_node *at,
                         const char *path)
{
    rs_revise_cfg_t *r = obj;
    const char *why = r->rounds > 0 ? "each revision round is driven by a judge's critique" : NULL;
    return judge_ref(ld, &r->judge, &r->judge_idx, map, key_at(map, "rounds", at), path, why);
}

/* ---- gates: conditions on the report, checked against what the run will report ---- */

static void gate_init(const loader_t *ld, void *obj)
{
    (void)ld;
    rs_gate_cfg_t *g = obj;
    g->min = g->max = NAN;
}

static json_t *json_bound(const key_spec_t *k, const void *obj)
{
    double v = *(const double *)cfield(obj, k);
    return isnan(v) ? json_null() : json_real(v);
}

/* 1 when the report will have strategy s: ranking turns it on, or, with ranking absent (its
 * default is set after the gates, in config_finish), this config allows it. */
static int strategy_on(const loader_t *ld, int s)
{
    int any = 0;
    for (size_t i = 0; i < RS_N_STRATEGIES; i++)
        any |= ld->cfg->ranking.use[i];
    return any ? ld->cfg->ranking.use[s] : !refuse_strategy(ld, s);
}

static json_t *json_condition(const key_spec_t *k, const void *obj)
{
    (void)k, (void)obj;
    return json_null(); /* written out as the keys it set */
}

/* s without the spaces around it (in place). */
static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    return s;
}

/* The arguments of a condition's metric (n of them, each trimmed; an empty one is left unset)
 * into g's model, grader and strategy. */
static int condition_args(loader_t *ld, rs_gate_cfg_t *g, char **args, size_t n,
                          struct fy_node *at, const char *path)
{
    static const char *const forms[] = {"(MODEL[, GRADER[, STRATEGY]])", "(MODEL)", "([MODEL])",
                                        "(MODEL, STRATEGY [vs STRATEGY])"};
    static const size_t least[] = {1, 1, 0, 2}, most[] = {3, 1, 1, 2};
    int m = (int)g->metric;
    if (n < least[m] || n > most[m])
        return fail(ld, at, path, "%s takes %s (got %zu argument%s)", gate_metric_names[m],
                    forms[m], n, n == 1 ? "" : "s");
    char **fields[] = {&g->model, m == RS_GATE_ACCURACY ? &g->grader : &g->strategy, &g->strategy};
    for (size_t i = 0; i < n; i++) {
        char *a = args[i], *vs = strstr(a, " vs ");
        if (vs && m == RS_GATE_MCNEMAR_P && i == 1) {
            char *other = trim(vs + 4); /* never empty: a is trimmed */
            if (strcmp(other, "first") != 0) g->versus = rs_xstrdup(other);
            *vs = '\0';
            a = trim(a);
        }
        if (*a) *fields[i] = rs_xstrdup(a);
    }
    return 0;
}

/* "accuracy(gpt, exact) >= 0.8", "errors(gpt) <= 1%": a gate as one condition, into g's fields
 * (the same the keys set); a percentage is a share (1% = 0.01). */
static int condition_fill(loader_t *ld, rs_gate_cfg_t *g, char *s, struct fy_node *at,
                          const char *path)
{
    static const char FORM[] = "expected METRIC(ARGS) >= NUMBER or METRIC(ARGS) <= NUMBER, like "
                               "accuracy(MODEL, GRADER) >= 0.8";
    char *open = strchr(s, '('), *close = open ? strchr(open, ')') : NULL;
    if (!close) return fail(ld, at, path, "%s (got '%s')", FORM, s);
    *open = *close = '\0';
    char *metric = trim(s), *rest = trim(close + 1), *args[4];
    int m = name_index(gate_metric_names, metric);
    if (m < 0) return fail_choice(ld, at, path, metric, gate_metric_names);
    g->metric = (rs_gate_metric_t)m;
    size_t n = 0;
    for (char *a = trim(open + 1); *a && n < RS_ARRAY_LEN(args); n++) {
        char *comma = strchr(a, ',');
        if (comma) *comma = '\0';
        args[n] = trim(a);
        if (!comma) {
            n++;
            break;
        }
        a = comma + 1;
    }
    int ge = strncmp(rest, ">=", 2) == 0, le = strncmp(rest, "<=", 2) == 0;
    if (!ge && !le)
        return fail(ld, at, path, "expected >= or <= after the ')', both bounds inclusive (got "
                                  "'%s')", rest);
    char *num = trim(rest + 2);
    size_t len = strlen(num);
    int pct = len > 0 && num[len - 1] == '%';
    if (pct) num[len - 1] = '\0';
    double v;
    if (rs_parse_double(trim(num), &v) != 0)
        return fail(ld, at, path, "expected a number after %s (got '%s')", ge ? ">=" : "<=", num);
    *(ge ? &g->min : &g->max) = pct ? v / 100 : v;
    return condition_args(ld, g, args, n, at, path);
}

static int parse_condition(loader_t *ld, const key_spec_t *k, void *obj, struct fy_node *val,
                           struct fy_node *at, const char *path)
{
    (void)k;
    char *s = scalar_text(ld, val, at, path, "a condition");
    if (!s) return -1;
    int rc = condition_fill(ld, obj, s, at, path);
    free(s);
    return rc;
}

/* "accuracy(m, exact, majority) >= 0.8": what a gate measures and its bounds, its default name. */
static char *gate_label(const rs_gate_cfg_t *g)
{
    rs_buf_t b;
    rs_buf_init(&b);
    rs_buf_printf(&b, "%s(%s", rs_gate_metric_name(g->metric), g->model ? g->model : "");
    if (g->metric == RS_GATE_ACCURACY) rs_buf_printf(&b, ", %s", g->grader);
    if (g->metric == RS_GATE_ACCURACY && g->strategy) rs_buf_printf(&b, ", %s", g->strategy);
    if (g->metric == RS_GATE_MCNEMAR_P)
        rs_buf_printf(&b, ", %s vs %s", g->strategy, g->versus ? g->versus : "first");
    if (!isnan(g->min) && !isnan(g->max))
        rs_buf_printf(&b, ") in [%g, %g]", g->min, g->max);
    else if (!isnan(g->min))
        rs_buf_printf(&b, ") >= %g", g->min);
    else
        rs_buf_printf(&b, ") <= %g", g->max);
    return rs_buf_detach(&b);
}

/* key must be absent from a gate of this metric. */
static int gate_without(loader_t *ld, const rs_gate_cfg_t *g, const char *key, const char *takers,
                        struct fy_node *map, struct fy_node *at, const char *path)
{
    if (!has_key(map, key)) return 0;
    char sub[PATH_CAP];
    path_key(sub, sizeof(sub), path, key);
    return fail(ld, key_at(map, key, at), sub, "a gate on %s takes no %s (only %s gates do)",
                rs_gate_metric_name(g->metric), key, takers);
}

/* min and max: one at least, in order, and in [0, 1] for the metrics that are shares. */
static int gate_bounds(loader_t *ld, const rs_gate_cfg_t *g, struct fy_node *map,
                       struct fy_node *at, const char *path)
{
    const char *metric = rs_gate_metric_name(g->metric);
    char sub[PATH_CAP];
    const struct {
        const char *key;
        double v;
    } b[] = {{"min", g->min}, {"max", g->max}};
    if (isnan(g->min) && isnan(g->max)) {
        path_key(sub, sizeof(sub), path, "max");
        return fail(ld, key_at(map, "metric", at), sub,
                    "missing: a gate needs min, max or both (it passes when min <= %s <= max)",
                    metric);
    }
    for (size_t i = 0; i < RS_ARRAY_LEN(b); i++) {
        path_key(sub, sizeof(sub), path, b[i].key);
        if (g->metric == RS_GATE_COST_USD && b[i].v < 0)
            return fail(ld, key_at(map, b[i].key, at), sub, "must not be negative (got %g)",
                        b[i].v);
        if (g->metric != RS_GATE_COST_USD && (b[i].v < 0 || b[i].v > 1))
            return fail(ld, key_at(map, b[i].key, at), sub,
                        "must be between 0 and 1 for %s, a share (0.01 is 1%%; got %g)", metric,
                        b[i].v);
    }
    if (g->min > g->max)
        return fail(ld, key_at(map, "max", at), sub, "must not be below min (%g < %g)", g->max,
                    g->min);
    return 0;
}

/* grader: one of scoring.graders (default the first); McNemar is reported on the first only. */
static int gate_grader(loader_t *ld, rs_gate_cfg_t *g, struct fy_node *map, struct fy_node *at,
                       const char *path)
{
    const rs_scoring_cfg_t *sc = &ld->cfg->scoring;
    if (!g->grader) g->grader = rs_xstrdup(sc->graders[0].name);
    char sub[PATH_CAP];
    path_key(sub, sizeof(sub), path, "grader");
    struct fy_node *here = key_at(map, "grader", at);
    const char **names = rs_xcalloc(sc->n_graders + 1, sizeof(*names));
    for (size_t i = 0; i < sc->n_graders; i++)
        names[i] = sc->graders[i].name;
    int i = name_index(names, g->grader), rc = 0;
    if (i < 0)
        rc = fail_choice(ld, here, sub, g->grader, names);
    else if (g->metric == RS_GATE_MCNEMAR_P && i != 0)
        rc = fail(ld, here, sub,
                  "the report's McNemar test compares strategies under the first grader ('%s') "
                  "only", names[0]);
    free(names);
    return rc;
}

/* name (the gate's key, "strategy" or "versus"): a strategy ranking turns on, which model m has
 * in its report (one candidate: first only); its index, or -1 after the error. */
static int gate_strategy_name(loader_t *ld, const char *name, const char *key, size_t m,
                              struct fy_node *map, struct fy_node *at, const char *path)
{
    char sub[PATH_CAP];
    path_key(sub, sizeof(sub), path, key);
    struct fy_node *here = key_at(map, key, at);
    int s = name_index(strategy_names, name);
    const rs_model_cfg_t *mc = &ld->cfg->models[m];
    if (s < 0) return fail_choice(ld, here, sub, name, strategy_names), -1;
    if (!strategy_on(ld, s))
        return fail(ld, here, sub, "'%s' is not among ranking's strategies, so the report has none",
                    name), -1;
    if (s != RS_STRATEGY_FIRST && mc->n < 2)
        return fail(ld, here, sub,
                    "model '%s' has n: %lld, and with one candidate its report has only the "
                    "strategy first; set n: 2 or more", mc->name, (long long)mc->n), -1;
    return s;
}

/* strategy, and for mcnemar_p versus (unset: first): what the model's report has, two different
 * strategies for mcnemar_p. versus: first is the same as no versus. */
static int gate_strategy(loader_t *ld, rs_gate_cfg_t *g, size_t m, struct fy_node *map,
                         struct fy_node *at, const char *path)
{
    char sub[PATH_CAP];
    path_key(sub, sizeof(sub), path, "strategy");
    if (!g->strategy)
        return g->metric != RS_GATE_MCNEMAR_P
                   ? 0
                   : fail(ld, key_at(map, "metric", at), sub,
                          "missing: a gate on mcnemar_p names the strategy compared with first");
    if (g->versus && strcmp(g->versus, "first") == 0) {
        free(g->versus);
        g->versus = NULL;
    }
    int s = gate_strategy_name(ld, g->strategy, "strategy", m, map, at, path);
    if (s < 0) return -1;
    if (g->metric == RS_GATE_MCNEMAR_P && !g->versus && s == RS_STRATEGY_FIRST)
        return fail(ld, key_at(map, "strategy", at), sub,
                    "first is what mcnemar_p compares with; name another strategy");
    if (!g->versus) return 0;
    if (gate_strategy_name(ld, g->versus, "versus", m, map, at, path) < 0) return -1;
    if (strcmp(g->versus, g->strategy) != 0) return 0;
    path_key(sub, sizeof(sub), path, "versus");
    return fail(ld, key_at(map, "versus", at), sub,
                "'%s' is also the strategy; mcnemar_p compares two different strategies",
                g->versus);
}

static int gate_finish(loader_t *ld, void *obj, struct fy_node *map, struct fy_node *at,
                       const char *path)
{
    static const char *const keys[] = {"metric", "model", "grader", "strategy", "versus", "min",
                                       "max"};
    rs_gate_cfg_t *g = obj;
    int ranked = g->metric == RS_GATE_ACCURACY || g->metric == RS_GATE_MCNEMAR_P;
    size_t m = 0;
    char sub[PATH_CAP];
    for (size_t i = 0; has_key(map, "condition") && i < RS_ARRAY_LEN(keys); i++) {
        if (!has_key(map, keys[i])) continue;
        path_key(sub, sizeof(sub), path, keys[i]);
        return fail(ld, key_at(map, keys[i], at), sub,
                    "a gate is a condition or its keys, not both");
    }
    path_key(sub, sizeof(sub), path, "metric");
    if ((int)g->metric < 0)
        return fail(ld, key_at(map, "metric", at), sub,
                    "missing: a gate needs a metric (or is one condition, like "
                    "\"accuracy(MODEL) >= 0.8\")");
    path_key(sub, sizeof(sub), path, "model");
    if (gate_bounds(ld, g, map, at, path) != 0) return -1;
    if (g->model && resolve_ref(ld, "models", g->model, &m, key_at(map, "model", at), sub) != 0)
        return -1;
    if (!g->model && g->metric != RS_GATE_COST_USD)
        return fail(ld, key_at(map, "metric", at), sub,
                    "missing: a gate on %s names the model it measures",
                    rs_gate_metric_name(g->metric));
    if (!ranked && (gate_without(ld, g, "grader", "accuracy and mcnemar_p", map, at, path) != 0 ||
                    gate_without(ld, g, "strategy", "accuracy and mcnemar_p", map, at, path) != 0))
        return -1;
    if (g->metric != RS_GATE_MCNEMAR_P &&
        gate_without(ld, g, "versus", "mcnemar_p", map, at, path) != 0)
        return -1;
    if (ranked && (gate_grader(ld, g, map, at, path) != 0 ||
                   gate_strategy(ld, g, m, map, at, path) != 0))
        return -1;
    if (g->name && !*g->name) {
        free(g->name); /* an empty label would name nothing in a message: the condition does */
        g->name = NULL;
    }
    if (!g->name) g->name = gate_label(g);
    return 0;
}

/* Keys that only one embedder type uses must not sit on the other, silently unused. */
static int embedder_finish(loader_t *ld, void *obj, struct fy_node *map, struct fy_node *at,
                           const char *path)
{
    static const char *const openai_only[] = {"model", "base_url", "api_key_env"};
    rs_embedder_cfg_t *e = obj;
    char sub[PATH_CAP];
    if (e->type == RS_EMBEDDER_OPENAI && !e->model) {
        path_key(sub, sizeof(sub), path, "model");
        return fail(ld, key_at(map, "type", at), sub,
                    "missing (the openai embedder needs a model, like text-embedding-3-small)");
    }
    for (size_t i = 0; e->type != RS_EMBEDDER_OPENAI && i < RS_ARRAY_LEN(openai_only); i++) {
        if (!has_key(map, openai_only[i])) continue;
        path_key(sub, sizeof(sub), path, openai_only[i]);
        return fail(ld, key_at(map, openai_only[i], at), sub,
                    "only the openai embedder uses %s; add type: openai", openai_only[i]);
    }
    return 0;
}

static const char *refuse_strategy(const loader_t *ld, int i)
{
    if (i == RS_STRATEGY_JUDGE && ld->cfg->n_judges == 0)
        return "the judge strategy ranks by a judge's score; add a judges: section";
    return NULL;
}

/* Turns on every flag of fs that this config allows. */
static void flags_default(const loader_t *ld, const flag_set_t *fs, void *base)
{
    for (size_t i = 0; fs->names[i]; i++)
        *(int *)((char *)base + fs->offs[i]) = !fs->refuse || !fs->refuse(ld, (int)i);
}

/* Defaults that depend on several sections, once all are read. */
/* prompt counts as a variant next to prompts[] once it says anything of its own. */
static int prompt_is_set(const rs_config_t *cfg)
{
    return (cfg->prompt.system && *cfg->prompt.system) ||
           (cfg->prompt.template && strcmp(cfg->prompt.template, "{{input}}") != 0);
}

size_t rs_config_variants(const rs_config_t *cfg)
{
    if (cfg->n_prompts == 0) return 1;
    return cfg->n_prompts + (prompt_is_set(cfg) ? 1 : 0);
}

const rs_prompt_cfg_t *rs_config_variant(const rs_config_t *cfg, size_t i, const char **name)
{
    size_t own = cfg->n_prompts == 0 || prompt_is_set(cfg) ? 1 : 0;
    const rs_prompt_cfg_t *p = i < own ? &cfg->prompt : &cfg->prompts[i - own];
    if (name) *name = i < own ? RS_PROMPT_DEFAULT_NAME : p->name;
    return p;
}

static int variants_finish(loader_t *ld, const rs_config_t *cfg, struct fy_node *map,
                           struct fy_node *at, const char *path)
{
    if (cfg->n_prompts > RS_MAX_PROMPTS)
        return fail(ld, key_at(map, "prompts", at), path, "prompts: at most %d variants (got %zu)",
                    RS_MAX_PROMPTS, cfg->n_prompts);
    for (size_t i = 0; prompt_is_set(cfg) && i < cfg->n_prompts; i++)
        if (strcmp(cfg->prompts[i].name, RS_PROMPT_DEFAULT_NAME) == 0)
            return fail(ld, key_at(map, "prompts", at), path,
                        "prompts[%zu].name: '%s' is the name prompt goes by when it is set next to "
                        "prompts: pick another name, or move prompt into the list",
                        i, RS_PROMPT_DEFAULT_NAME);
    return 0;
}

static int config_finish(loader_t *ld, void *obj, struct fy_node *map, struct fy_node *at,
                         const char *path)
{
    rs_config_t *cfg = obj;
    if (variants_finish(ld, cfg, map, at, path) < 0) return -1;
    int any = 0;
    for (size_t i = 0; i < RS_N_STRATEGIES; i++)
        any |= cfg->ranking.use[i];
    if (!any) flags_default(ld, &ranking_flags, &cfg->ranking); /* absent: an empty list fails */
    int priced = 0;
    for (size_t m = 0; m < cfg->n_models; m++)
        priced |= cfg->models[m].price_input > 0 || cfg->models[m].price_output > 0;
    if (cfg->budget.usd > 0 && !priced)
        return fail(ld, key_at(map, "budget", at), path,
                    "budget.usd is set but no model has prices, so the run costs nothing and the "
                    "limit could never be reached: set the models' prices: {input, output} (USD "
                    "per million tokens) or limit budget.tokens");
    /* a remote embedder's calls are counted (status, top, /metrics) under their own name */
    for (size_t m = 0; cfg->embedder.type != RS_EMBEDDER_HASH && m < cfg->n_models; m++)
        if (strcmp(cfg->models[m].name, RS_PROTO_USAGE_EMBEDDER) == 0)
            return fail(ld, key_at(map, "models", at), path,
                        "models[%zu].name: '%s' names the openai embedder's calls in the live "
                        "counters; give the model another name", m, RS_PROTO_USAGE_EMBEDDER);
    return 0;
}

/* ---- flag sets: report.formats, ranking ---- */

/* Item i of a list (or the lone scalar standing for one) for messages: its path and node. */
static struct fy_node *item_at(struct fy_node *val, size_t i, struct fy_node *at, const char *path,
                               char *sub, size_t cap)
{
    if (!fy_node_is_sequence(val)) {
        fmt_into(sub, cap, "%s", path);
        return at;
    }
    path_index(sub, cap, path, i);
    return pick_at(fy_node_sequence_get_by_index(val, (int)i), at);
}

/* "formats: [json, html]" (or one name) turns those flags on and the others off. */
static int parse_flags(loader_t *ld, const key_spec_t *k, void *obj, struct fy_node *val,
                       struct fy_node *at, const char *path)
{
    const flag_set_t *fs = k->flags;
    const key_spec_t as_list = {.name = k->name, .type = KT_STRLIST, .off = 0};
    char **names = NULL;
    if (parse_strlist(ld, &as_list, &names, val, at, path) != 0) return -1;
    if (!names) return fail(ld, at, path, "must name at least one %s", fs->what);
    for (size_t i = 0; fs->names[i]; i++)
        *(int *)((char *)field(obj, k) + fs->offs[i]) = 0;
    int rc = 0;
    for (size_t i = 0; rc == 0 && names[i]; i++) {
        char sub[PATH_CAP];
        struct fy_node *item = item_at(val, i, at, path, sub, sizeof(sub));
        int f = name_index(fs->names, names[i]);
        const char *why = f >= 0 && fs->refuse ? fs->refuse(ld, f) : NULL;
        if (f < 0)
            rc = fail_choice(ld, item, sub, names[i], fs->names);
        else if (why)
            rc = fail(ld, item, sub, "%s", why);
        else
            *(int *)((char *)field(obj, k) + fs->offs[f]) = 1;
    }
    free_strv(names);
    return rc;
}

static json_t *json_flags(const key_spec_t *k, const void *obj)
{
    const flag_set_t *fs = k->flags;
    json_t *a = json_array();
    for (size_t i = 0; fs->names[i]; i++)
        if (*(const int *)((const char *)cfield(obj, k) + fs->offs[i]))
            json_array_append_new(a, json_string(fs->names[i]));
    return a;
}

/* ---- overrides ---- */

/* Marks n and everything under it as made by override text, for locate(). */
static void tag_tree(struct fy_node *n, const char *text)
{
    void *it = NULL;
    if (!n) return;
    fy_node_set_meta(n, (void *)text);
    if (fy_node_is_mapping(n)) {
        struct fy_node_pair *p;
        while ((p = fy_node_mapping_iterate(n, &it))) {
            tag_tree(fy_node_pair_key(p), text);
            tag_tree(fy_node_pair_value(p), text);
        }
    } else if (fy_node_is_sequence(n)) {
        struct fy_node *c;
        while ((c = fy_node_sequence_iterate(n, &it)))
            tag_tree(c, text);
    }
}

static const char *diag_message(struct fy_diag *diag, int *line, int *col)
{
    void *it = NULL;
    struct fy_diag_error *e, *first = NULL;
    while ((e = fy_diag_errors_iterate(diag, &it)))
        if (!first && e->type >= FYET_ERROR) first = e;
    if (line) *line = first ? first->line : 0;
    if (col) *col = first ? first->column : 0;
    return first ? (first->msg ? first->msg : "invalid YAML") : NULL;
}

/* The override's value: a flow list ("[a, b]") or flow mapping ("{type: regex}") is parsed as
 * YAML; anything else is one plain scalar taken verbatim, so "#### (.*)" or "{{input}}" need no
 * quoting, while numbers, booleans and null ("" or ~) still read as such. */
static struct fy_node *override_value(loader_t *ld, struct fy_document *fyd, const char *text,
                                      const char *v)
{
    size_t len = strlen(v);
    int flow = v[0] == '[' || (v[0] == '{' && v[1] != '{');
    struct fy_node *n =
        flow ? fy_node_build_from_string(fyd, v, len) : fy_node_create_scalar_copy(fyd, v, len);
    const char *why = n ? NULL : diag_message(ld->diag, NULL, NULL);
    if (!n) rs_err_set(ld->err, "--set %s: bad value: %s", text, why ? why : "not valid YAML");
    tag_tree(n, text);
    return n;
}

/* Index of comp in sequence seq: a number, or the label of a mapping item (its name, else its
 * model), so "models.sim-weak.n=3" works. Names win over model ids, which items may share. */
static int seq_index(struct fy_node *seq, const char *comp)
{
    static const char *const label_keys[] = {"name", "model"};
    int64_t i;
    if (rs_parse_i64(comp, &i) == 0) return i >= 0 && i <= INT32_MAX ? (int)i : -1;
    for (size_t j = 0; j < RS_ARRAY_LEN(label_keys); j++) {
        void *it = NULL;
        struct fy_node *item;
        for (int k = 0; (item = fy_node_sequence_iterate(seq, &it)); k++) {
            struct fy_node *v =
                fy_node_is_mapping(item) ? map_find(item, label_keys[j], NULL) : NULL;
            size_t len = 0;
            const char *s = v && fy_node_is_scalar(v) ? fy_node_get_scalar(v, &len) : NULL;
            if (s && len == strlen(comp) && memcmp(s, comp, len) == 0) return k;
        }
    }
    return -1;
}

/* A missing intermediate of a path: a list when the next part is an index ("models.0.model=x" on
 * a config without models), else a mapping. */
static struct fy_node *new_container(struct fy_document *fyd, int want_seq)
{
    return want_seq ? fy_node_create_sequence(fyd) : fy_node_create_mapping(fyd);
}

/* Puts value (or, when value is NULL, a new container unless a value is there) under key comp of
 * mapping node, and returns the node now under comp. */
static struct fy_node *override_map_step(struct fy_document *fyd, struct fy_node *node,
                                         const char *comp, struct fy_node *value, int want_seq,
                                         const char *text)
{
    void *it = NULL;
    struct fy_node_pair *p;
    while ((p = fy_node_mapping_iterate(node, &it))) {
        size_t len = 0;
        const char *k = fy_node_get_scalar(fy_node_pair_key(p), &len);
        if (k && len == strlen(comp) && memcmp(k, comp, len) == 0) break;
    }
    struct fy_node *old = p ? fy_node_pair_value(p) : NULL;
    if (!value && old && !is_null(old)) return old;
    struct fy_node *fresh = value ? value : new_container(fyd, want_seq);
    tag_tree(fresh, text);
    if (p) {
        fy_node_pair_set_value(p, fresh);
        return fresh;
    }
    struct fy_node *key = fy_node_create_scalar_copy(fyd, comp, strlen(comp));
    tag_tree(key, text);
    fy_node_mapping_append(node, key, fresh);
    return fresh;
}

/* As override_map_step for item i (from seq_index) of sequence node; i == count appends. */
static struct fy_node *override_seq_step(loader_t *ld, struct fy_document *fyd,
                                         struct fy_node *node, int i, struct fy_node *value,
                                         int want_seq, const char *text, const char *shown)
{
    int count = fy_node_sequence_item_count(node);
    if (i < 0 || i > count) {
        rs_err_set(ld->err,
                   "--set %s: %s: no such item (the list has %d; index %d appends one, and an "
                   "item can also be named by its name)",
                   text, shown, count, count);
        return NULL;
    }
    struct fy_node *old = i < count ? fy_node_sequence_get_by_index(node, i) : NULL;
    if (!value && old) return old;
    struct fy_node *fresh = value ? value : new_container(fyd, want_seq);
    tag_tree(fresh, text);
    if (!old) {
        fy_node_sequence_append(node, fresh);
    } else {
        fy_node_sequence_insert_after(node, old, fresh);
        fy_node_free(fy_node_sequence_remove(node, old));
    }
    return fresh;
}

/* One path step: comp under node, created when missing (value set at the last step). */
static struct fy_node *override_step(loader_t *ld, struct fy_document *fyd, struct fy_node *node,
                                     const char *comp, struct fy_node *value, int want_seq,
                                     const char *text, char *shown, size_t cap)
{
    char parent[PATH_CAP];
    fmt_into(parent, sizeof(parent), "%s", shown);
    if (fy_node_is_mapping(node)) {
        path_key(shown, cap, parent, comp);
        return override_map_step(fyd, node, comp, value, want_seq, text);
    }
    if (fy_node_is_sequence(node)) {
        int i = seq_index(node, comp);
        if (i >= 0)
            path_index(shown, cap, parent, (size_t)i);
        else
            path_key(shown, cap, parent, comp);
        return override_seq_step(ld, fyd, node, i, value, want_seq, text, shown);
    }
    rs_err_set(ld->err, "--set %s: %s: is a single value, it has no '%s' inside", text,
               *parent ? parent : "the config", comp);
    return NULL;
}

/* Applies one "a.b.c=value" to the document before validation, so overridden values are checked
 * like the file's. Every node it creates is tagged with its text: later errors name the --set. */
static int apply_override(loader_t *ld, struct fy_document *fyd, const char *text)
{
    const char *eq = strchr(text, '=');
    if (!eq || eq == text) return rs_err_set(ld->err, "--set %s: expected key.path=value", text);
    if (!fy_document_root(fyd)) fy_document_set_root(fyd, fy_node_create_mapping(fyd));
    struct fy_node *node = fy_document_root(fyd);
    char shown[PATH_CAP] = "", comp[PATH_CAP];
    for (const char *p = text;; p++) {
        const char *dot = memchr(p, '.', (size_t)(eq - p));
        const char *end = dot ? dot : eq;
        if (end == p || (size_t)(end - p) >= sizeof(comp))
            return rs_err_set(ld->err, "--set %s: bad key path (empty or overlong part)", text);
        snprintf(comp, sizeof(comp), "%.*s", (int)(end - p), p);
        struct fy_node *value = dot ? NULL : override_value(ld, fyd, text, eq + 1);
        if (!dot && !value) return -1;
        size_t digits = dot ? strspn(dot + 1, "0123456789") : 0;
        int want_seq = digits > 0 && (dot[1 + digits] == '.' || dot + 1 + digits == eq);
        node = override_step(ld, fyd, node, comp, value, want_seq, text, shown, sizeof(shown));
        if (!node && value) fy_node_free(value); /* not attached anywhere: ours to free */
        if (!node) return -1;
        if (!dot) return 0;
        p = end;
    }
}

/* ---- loading ---- */

/* Parses text into a document; syntax errors (with libfyaml's own line:column) go to err. The
 * diagnostics are collected instead of printed, so a library user sees exactly one message. */
/* The byte offset of the first byte that does not start a well-formed UTF-8 sequence (overlong
 * forms, surrogates and code points above U+10FFFF included), or len when there is none. */
static size_t utf8_bad_at(const unsigned char *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned char c = s[i];
        size_t n = c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3
                 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
        if (n == 0 || i + n > len) return i;
        /* the second byte's range excludes overlongs, surrogates and > U+10FFFF */
        unsigned char lo = c == 0xe0 ? 0xa0 : c == 0xf0 ? 0x90 : 0x80;
        unsigned char hi = c == 0xed ? 0x9f : c == 0xf4 ? 0x8f : 0xbf;
        if (n > 1 && (s[i + 1] < lo || s[i + 1] > hi)) return i;
        for (size_t k = 2; k < n; k++)
            if ((s[i + k] & 0xc0) != 0x80) return i;
        i += n;
    }
    return len;
}

/* What a config may grow to once its aliases are expanded, and how deep it may nest. A config is
 * tens of nodes, a few levels deep; the bounds stop an alias bomb (nine lines of anchors that
 * expand to 10^9 nodes) and deep nesting before libfyaml resolves anything. */
#define YAML_MAX_NODES 100000
#define YAML_MAX_DEPTH 64

/* Adds the nodes under n, aliases followed, to *count. Returns n's offending node (the one past a
 * bound) or NULL; it stops as soon as a bound is passed, so an alias cycle or bomb costs at most
 * YAML_MAX_NODES steps. */
static struct fy_node *yaml_bounds(struct fy_node *n, int depth, size_t *count)
{
    if (!n) return NULL;
    if (++*count > YAML_MAX_NODES || depth > YAML_MAX_DEPTH) return n;
    struct fy_node *bad = NULL;
    void *it = NULL;
    if (fy_node_is_alias(n)) {
        bad = yaml_bounds(fy_node_resolve_alias(n), depth + 1, count);
    } else if (fy_node_is_sequence(n)) {
        for (struct fy_node *c; !bad && (c = fy_node_sequence_iterate(n, &it));)
            bad = yaml_bounds(c, depth + 1, count);
    } else if (fy_node_is_mapping(n)) {
        for (struct fy_node_pair *p; !bad && (p = fy_node_mapping_iterate(n, &it));) {
            bad = yaml_bounds(fy_node_pair_key(p), depth + 1, count);
            if (!bad) bad = yaml_bounds(fy_node_pair_value(p), depth + 1, count);
        }
    }
    return bad;
}

static struct fy_document *parse_document(loader_t *ld, const char *text, size_t len)
{
    /* YAML is UTF-8 here, and libfyaml 0.7.12 (Debian 12) loops forever on some invalid bytes
     * (a directive "%\xb5"), so they are refused before it sees them. */
    size_t bad = utf8_bad_at((const unsigned char *)text, len);
    if (bad < len) {
        int line = 1, col = 1;
        for (size_t i = 0; i < bad; i++, col++)
            if (text[i] == '\n') line++, col = 0;
        rs_err_set(ld->err, "%s:%d:%d: not valid UTF-8 (byte 0x%02x): a config is UTF-8 text",
                   ld->source, line, col, (unsigned char)text[bad]);
        return NULL;
    }
    struct fy_diag_cfg dcfg;
    fy_diag_cfg_default(&dcfg);
    dcfg.fp = NULL;
    ld->diag = fy_diag_create(&dcfg);
    if (!ld->diag) {
        rs_err_set(ld->err, "%s: cannot create a YAML parser", ld->source);
        return NULL;
    }
    fy_diag_set_collect_errors(ld->diag, true);
    /* resolved (aliases expanded, merge keys applied) only once yaml_bounds has passed it */
    struct fy_parse_cfg pcfg = {.flags = FYPCF_QUIET | FYPCF_COLLECT_DIAG, .diag = ld->diag};
    struct fy_document *fyd = fy_document_build_from_string(&pcfg, text, len);
    int line, col;
    const char *msg = diag_message(ld->diag, &line, &col);
    if (fyd && !msg) {
        size_t count = 0;
        struct fy_node *over = yaml_bounds(fy_document_root(fyd), 0, &count);
        if (over) {
            fail(ld, over, "", "the YAML nests deeper than %d levels or, its aliases expanded, "
                 "holds more than %d values", YAML_MAX_DEPTH, YAML_MAX_NODES);
            fy_document_destroy(fyd);
            return NULL;
        }
        fy_document_resolve(fyd);
        msg = diag_message(ld->diag, &line, &col);
    }
    if (fyd && !msg) return fyd;
    /* text with no document in it (empty, only comments) is an empty config, not a syntax error */
    if (!fyd && !msg) return fy_document_create(&pcfg);
    rs_err_set(ld->err, "%s:%d:%d: YAML syntax error: %s", ld->source, line, col, msg);
    fy_document_destroy(fyd);
    return NULL;
}

static char *abs_dir(const char *dir)
{
    char cwd[4096];
    if (dir && dir[0] == '/') return rs_xstrdup(dir);
    if (!getcwd(cwd, sizeof(cwd))) return rs_xstrdup(dir && *dir ? dir : ".");
    if (!dir || !*dir || strcmp(dir, ".") == 0) return rs_xstrdup(cwd);
    return rs_xasprintf("%s/%s", cwd, dir);
}

static int load_document(loader_t *ld, struct fy_document *fyd, const char *const *overrides,
                         size_t n_overrides)
{
    for (size_t i = 0; i < n_overrides; i++)
        if (apply_override(ld, fyd, overrides[i]) != 0) return -1;
    struct fy_node *root = fy_document_root(fyd);
    if (root && !is_null(root) && !fy_node_is_mapping(root))
        return fail(ld, root, "", "expected a mapping of sections (dataset, models, ...), got %s",
                    kind_of(root));
    /* at = NULL: an absent section has no place in the file to point at, only the file itself */
    return apply_section(ld, &root_sec, NULL, ld->cfg, is_null(root) ? NULL : root, NULL, "");
}

static rs_config_t *load_text(const char *text, size_t len, const char *source, char *base_dir,
                              const char *const *overrides, size_t n_overrides, rs_err_t *err)
{
    loader_t ld = {.source = source, .err = err};
    struct fy_document *fyd = parse_document(&ld, text, len);
    rs_config_t *cfg = NULL;
    if (fyd) {
        cfg = rs_xcalloc(1, sizeof(*cfg));
        cfg->source_path = rs_xstrdup(source);
        cfg->base_dir = base_dir;
        base_dir = NULL;
        ld.cfg = cfg;
        section_defaults(&ld, &root_sec, cfg);
        if (load_document(&ld, fyd, overrides, n_overrides) != 0) rs_config_destroy(&cfg);
        fy_document_destroy(fyd);
    }
    if (ld.diag) fy_diag_destroy(ld.diag);
    free(base_dir);
    return cfg;
}

rs_config_t *rs_config_load(const char *path, const char *const *overrides, size_t n_overrides,
                            rs_err_t *err)
{
    char *text = NULL;
    size_t len = 0;
    if (rs_read_file(path, &text, &len, err) != 0) return NULL;
    const char *slash = strrchr(path, '/');
    char *dir = slash ? rs_xstrndup(path, slash == path ? 1 : (size_t)(slash - path)) : NULL;
    rs_config_t *cfg = load_text(text, len, path, abs_dir(dir), overrides, n_overrides, err);
    free(dir);
    free(text);
    return cfg;
}

rs_config_t *rs_config_load_string(const char *yaml, const char *name, const char *base_dir,
                                   const char *const *overrides, size_t n_overrides, rs_err_t *err)
{
    return load_text(yaml, strlen(yaml), name ? name : "<string>", abs_dir(base_dir), overrides,
                     n_overrides, err);
}

rs_config_t *rs_config_from_json(const char *json, rs_err_t *err)
{
    return rs_config_load_string(json, "<stored config>", NULL, NULL, 0, err);
}

void rs_config_destroy(rs_config_t **cfg)
{
    if (!cfg || !*cfg) return;
    section_free(&root_sec, *cfg);
    free((*cfg)->source_path);
    free((*cfg)->base_dir);
    free(*cfg);
    *cfg = NULL;
}

/* ---- output ---- */

int rs_config_format_of(const char *path, rs_dataset_format_t *format)
{
    static const struct {
        const char *ext;
        rs_dataset_format_t format;
    } exts[] = {{".jsonl", RS_FORMAT_JSONL}, {".ndjson", RS_FORMAT_JSONL}, {".json", RS_FORMAT_JSON},
                {".csv", RS_FORMAT_CSV},     {".tsv", RS_FORMAT_TSV},      {".tab", RS_FORMAT_TSV}};
    static const char *const comps[] = {".gz", ".zst", ".zstd"};
    size_t n = strlen(path);
    for (size_t i = 0; i < RS_ARRAY_LEN(comps); i++) {
        size_t m = strlen(comps[i]);
        if (n > m && strcmp(path + n - m, comps[i]) == 0) n -= m;
    }
    for (size_t i = 0; i < RS_ARRAY_LEN(exts); i++) {
        size_t m = strlen(exts[i].ext);
        if (n > m && strncasecmp(path + n - m, exts[i].ext, m) == 0) {
            *format = exts[i].format;
            return 0;
        }
    }
    return -1;
}

char *rs_config_dataset_path(const rs_config_t *cfg)
{
    const char *p = cfg->dataset.path;
    if (!p) return NULL;
    char *joined =
        p[0] == '/' || !cfg->base_dir ? rs_xstrdup(p) : rs_xasprintf("%s/%s", cfg->base_dir, p);
    /* realpath tidies "configs/../datasets" (correctly, through symlinks) when the file exists */
    char *real = realpath(joined, NULL);
    if (!real) return joined;
    free(joined);
    return real;
}

/* 1 when every real in j prints exactly at prec significant digits: then the stored JSON says
 * 0.7 rather than 0.69999999999999996 and still reads back to the same double. */
static int reals_fit(json_t *j, int prec)
{
    if (json_is_real(j)) {
        char buf[64];
        snprintf(buf, sizeof(buf), "%.*g", prec, json_real_value(j));
        return strtod(buf, NULL) == json_real_value(j);
    }
    const char *key;
    json_t *v;
    size_t i;
    int fit = 1;
    if (json_is_object(j)) {
        json_object_foreach(j, key, v) fit = fit && reals_fit(v, prec);
    }
    if (json_is_array(j)) {
        json_array_foreach(j, i, v) fit = fit && reals_fit(v, prec);
    }
    return fit;
}

char *rs_config_to_json(const rs_config_t *cfg)
{
    json_t *root = section_json(&root_sec, cfg);
    char *path = rs_config_dataset_path(cfg);
    json_object_set_new(json_object_get(root, "dataset"), "path",
                        path ? json_string(path) : json_null());
    free(path);
    int prec = reals_fit(root, 15) ? 15 : 17;
    char *s = json_dumps(root, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(prec));
    json_decref(root);
    return s;
}

const char *rs_grader_kind_name(rs_grader_kind_t kind)
{
    return (unsigned)kind < RS_ARRAY_LEN(grader_names) - 1 ? grader_names[kind] : "unknown";
}

const char *rs_extractor_kind_name(rs_extractor_kind_t kind)
{
    return (unsigned)kind < RS_ARRAY_LEN(extractor_names) - 1 ? extractor_names[kind] : "unknown";
}

const char *rs_strategy_name(rs_strategy_t st)
{
    return (unsigned)st < RS_N_STRATEGIES ? strategy_names[st] : "unknown";
}

const char *rs_gate_metric_name(rs_gate_metric_t metric)
{
    return (unsigned)metric < RS_ARRAY_LEN(gate_metric_names) - 1 ? gate_metric_names[metric]
                                                                    : "unknown";
}

const char *rs_embedder_kind_name(rs_embedder_kind_t kind)
{
    return (unsigned)kind < RS_ARRAY_LEN(embedder_names) - 1 ? embedder_names[kind] : "unknown";
}

/* ---- request parameters: JSON-valued keys, extra headers, which provider takes what ---- */

#define PARAM_JSON_DEPTH 32 /* nesting of extra_body and response_format, at most */

/* A value sent as it is written (reasoning_effort, thinking.type): a non-empty word. */
static int check_word(loader_t *ld, const char *s, struct fy_node *at, const char *path)
{
    int ok = *s != '\0';
    for (const char *p = s; ok && *p; p++) ok = (unsigned char)*p > ' ' && *p != 0x7f;
    return ok ? 0 : fail(ld, at, path, "must be a non-empty word (got \"%s\")", s);
}

/* params.seed: given, it is sent (seed_set); absent, the sim still draws from run.seed. */
static int parse_seed(loader_t *ld, const key_spec_t *k, void *obj, struct fy_node *val,
                      struct fy_node *at, const char *path)
{
    static const key_spec_t as_int = {.name = "seed", .type = KT_INT,
                                      .off = offsetof(rs_model_cfg_t, seed)};
    if (parse_int(ld, &as_int, obj, val, at, path) != 0) return -1;
    ((rs_model_cfg_t *)obj)->seed_set = 1;
    return 0;
}

/* Written only when given, so that a stored config reads back with seed_set as it was. */
static json_t *json_seed(const key_spec_t *k, const void *obj)
{
    const rs_model_cfg_t *m = obj;
    return m->seed_set ? json_integer((json_int_t)m->seed) : json_null();
}

static json_t *yaml_json(loader_t *ld, struct fy_node *n, struct fy_node *at, const char *path,
                         int depth);

/* A plain scalar as JSON would read it (null, true, false, an integer, a finite number); any
 * other scalar, and every quoted one, is a string. */
static json_t *scalar_json(loader_t *ld, struct fy_node *n, struct fy_node *at, const char *path)
{
    char *s = scalar_text(ld, n, at, path, "a value");
    if (!s) return NULL;
    json_t *v = NULL;
    int64_t i;
    double d;
    if (fy_node_get_style(n) == FYNS_PLAIN) {
        if (is_null(n)) v = json_null();
        else if (strcmp(s, "true") == 0) v = json_true();
        else if (strcmp(s, "false") == 0) v = json_false();
        else if (rs_parse_i64(s, &i) == 0) v = json_integer((json_int_t)i);
        else if (rs_parse_double(s, &d) == 0 && isfinite(d)) v = json_real(d);
    }
    if (!v) v = json_string(s); /* scalar_text checked it is UTF-8 */
    free(s);
    return v;
}

static json_t *mapping_json(loader_t *ld, struct fy_node *n, struct fy_node *at, const char *path,
                            int depth)
{
    json_t *o = json_object();
    void *it = NULL;
    struct fy_node_pair *p;
    while ((p = fy_node_mapping_iterate(n, &it))) {
        struct fy_node *key = fy_node_pair_key(p), *val = fy_node_pair_value(p);
        struct fy_node *kat = pick_at(key, at);
        char *name = key ? scalar_text(ld, key, kat, path, "a key (a string)") : NULL;
        if (!name) {
            if (!key) fail(ld, at, path, "keys must be strings");
            json_decref(o);
            return NULL;
        }
        char sub[PATH_CAP];
        path_key(sub, sizeof(sub), path, name);
        json_t *v = val ? yaml_json(ld, val, where(key, val, kat), sub, depth + 1) : json_null();
        if (v) json_object_set_new(o, name, v);
        free(name);
        if (!v) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

static json_t *sequence_json(loader_t *ld, struct fy_node *n, struct fy_node *at,
                             const char *path, int depth)
{
    json_t *a = json_array();
    void *it = NULL;
    struct fy_node *item;
    for (size_t i = 0; (item = fy_node_sequence_iterate(n, &it)); i++) {
        char sub[PATH_CAP];
        path_index(sub, sizeof(sub), path, i);
        json_t *v = yaml_json(ld, item, pick_at(item, at), sub, depth + 1);
        if (!v) {
            json_decref(a);
            return NULL;
        }
        json_array_append_new(a, v);
    }
    return a;
}

/* Any YAML value as JSON, nested at most PARAM_JSON_DEPTH levels. */
static json_t *yaml_json(loader_t *ld, struct fy_node *n, struct fy_node *at, const char *path,
                         int depth)
{
    if (depth > PARAM_JSON_DEPTH) {
        fail(ld, at, path, "nests deeper than %d levels", PARAM_JSON_DEPTH);
        return NULL;
    }
    if (fy_node_is_mapping(n)) return mapping_json(ld, n, at, path, depth);
    if (fy_node_is_sequence(n)) return sequence_json(ld, n, at, path, depth);
    return scalar_json(ld, n, at, path);
}

/* Fields of the request that reasonsaver writes itself: extra_body may not replace them (the
 * case's prompt, the candidates asked for, a reply it can parse). */
static const char *const OWN_FIELDS[] = {"model", "messages", "system", "n", "stream", NULL};

/* extra_body, response_format: a mapping, kept as compact JSON text with sorted keys. */
static int parse_json_object(loader_t *ld, const key_spec_t *k, void *obj, struct fy_node *val,
                             struct fy_node *at, const char *path)
{
    if (!fy_node_is_mapping(val))
        return fail(ld, at, path, "expected a mapping (a JSON object) (got %s)", kind_of(val));
    json_t *o = yaml_json(ld, val, at, path, 1);
    if (!o) return -1;
    int extra = strcmp(k->name, "extra_body") == 0;
    for (size_t i = 0; extra && OWN_FIELDS[i]; i++) {
        if (!json_object_get(o, OWN_FIELDS[i])) continue;
        char sub[PATH_CAP];
        path_key(sub, sizeof(sub), path, OWN_FIELDS[i]);
        json_decref(o);
        return fail(ld, key_at(val, OWN_FIELDS[i], at), sub,
                    "reasonsaver writes this field of the request itself");
    }
    char **f = field(obj, k);
    free(*f);
    *f = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(17));
    json_decref(o);
    return 0;
}

static json_t *json_json_object(const key_spec_t *k, const void *obj)
{
    const char *text = *(char *const *)cfield(obj, k);
    json_t *o = text ? json_loads(text, 0, NULL) : NULL;
    return o ? o : json_null();
}

static void free_json_object(const key_spec_t *k, void *obj)
{
    free_str(k, obj);
}

/* An HTTP header name: a token (RFC 9110) of 1 to 64 bytes. */
static int header_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64) return 0;
    for (const char *p = s; *p; p++)
        if (!(*p >= '0' && *p <= '9') && !(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z') &&
            !strchr("!#$%&'*+-.^_`|~", *p))
            return 0;
    return 1;
}

/* Why header name cannot be an extra header, or NULL when it can. */
static const char *header_refusal(const char *name)
{
    static const char *const own[] = {"content-type", "content-length", "accept", "host",
                                      "transfer-encoding", "connection", NULL};
    if (rs_provider_header_credential(name))
        return "a header that may carry a credential cannot be set in the config (it is stored "
               "with the run and sent to workers): the key comes from the variable api_key_env "
               "names";
    if (strncasecmp(name, "x-rs-", 5) == 0)
        return "X-RS-* headers are reasonsaver's own (mock: true sends them)";
    if (strcasecmp(name, "anthropic-version") == 0) return "set it with anthropic_version";
    for (size_t i = 0; own[i]; i++)
        if (strcasecmp(name, own[i]) == 0) return "reasonsaver sets this header itself";
    return NULL;
}

static int header_cmp(const void *x, const void *y)
{
    return strcasecmp(*(const char *const *)x, *(const char *const *)y);
}

/* One extra header "name: value" into list[i], or -1 (and err) when it cannot be one. */
static int parse_header(loader_t *ld, struct fy_node_pair *p, struct fy_node *at, const char *path,
                        char **list, size_t i)
{
    struct fy_node *key = fy_node_pair_key(p), *val = fy_node_pair_value(p);
    struct fy_node *kat = pick_at(key, at);
    char *name = key ? scalar_text(ld, key, kat, path, "a header name") : NULL;
    if (!name) return key ? -1 : fail(ld, at, path, "header names must be strings");
    char sub[PATH_CAP];
    path_key(sub, sizeof(sub), path, name);
    const char *why = header_name_ok(name) ? header_refusal(name) : "not a valid header name";
    char *value = why || is_null(val) ? NULL : scalar_text(ld, val, where(key, val, kat), sub,
                                                            "a header value (a string)");
    int rc = 0;
    if (why)
        rc = fail(ld, kat, sub, "%s", why);
    else if (is_null(val))
        rc = fail(ld, kat, sub, "missing value");
    else if (!value)
        rc = -1;
    else if (strpbrk(value, "\r\n") || strlen(value) > 1024)
        rc = fail(ld, where(key, val, kat), sub, "a value must be one line of at most 1024 bytes");
    for (size_t j = 0; rc == 0 && j < i; j++)
        if (strncasecmp(list[j], name, strlen(name)) == 0 && list[j][strlen(name)] == ':')
            rc = fail(ld, kat, sub, "given twice (header names ignore case)");
    if (rc == 0) list[i] = rs_xasprintf("%s: %s", name, value);
    free(name);
    free(value);
    return rc;
}

/* extra_headers: {Name: value}: kept as "Name: value" lines sorted by name. */
static int parse_headers(loader_t *ld, const key_spec_t *k, void *obj, struct fy_node *val,
                         struct fy_node *at, const char *path)
{
    if (!fy_node_is_mapping(val))
        return fail(ld, at, path, "expected a mapping of header names to values (got %s)",
                    kind_of(val));
    size_t n = (size_t)fy_node_mapping_item_count(val);
    char ***f = field(obj, k);
    free_strv(*f);
    *f = NULL;
    if (n == 0) return 0;
    char **list = rs_xcalloc(n + 1, sizeof(*list));
    *f = list; /* owned by obj from here on, so a failure frees it */
    void *it = NULL;
    struct fy_node_pair *p;
    for (size_t i = 0; (p = fy_node_mapping_iterate(val, &it)); i++)
        if (parse_header(ld, p, at, path, list, i) != 0) return -1;
    qsort(list, n, sizeof(*list), header_cmp);
    return 0;
}

static json_t *json_headers(const key_spec_t *k, const void *obj)
{
    char *const *v = *(char **const *)cfield(obj, k);
    if (!v) return json_null();
    json_t *o = json_object();
    for (; *v; v++) {
        const char *colon = strchr(*v, ':');
        char *name = rs_xstrndup(*v, (size_t)(colon - *v));
        json_object_set_new(o, name, json_string(colon + 2));
        free(name);
    }
    return o;
}

static void free_headers(const key_spec_t *k, void *obj)
{
    free_strlist(k, obj);
}

/* A parameter one provider's API does not have, and what to do instead. */
static const struct param_rule {
    const char *provider, *key, *instead;
} PARAM_RULES[] = {
    {"openai", "top_k", NULL},
    {"openai", "thinking", "reasoning_effort"},
    {"anthropic", "max_completion_tokens", "max_tokens"},
    {"anthropic", "reasoning_effort", "thinking"},
    {"anthropic", "response_format", NULL},
    {"anthropic", "presence_penalty", NULL},
    {"anthropic", "frequency_penalty", NULL},
    {"anthropic", "seed", NULL},
};

/* Whether parameter key of PARAM_RULES is set (a stored config writes unset ones as null, or as
 * a section of nulls for thinking). */
static int param_given(const rs_model_cfg_t *m, const char *key)
{
    if (strcmp(key, "top_k") == 0) return m->top_k != 0;
    if (strcmp(key, "thinking") == 0) return m->thinking_type != NULL;
    if (strcmp(key, "max_completion_tokens") == 0) return m->max_completion_tokens != 0;
    if (strcmp(key, "reasoning_effort") == 0) return m->reasoning_effort != NULL;
    if (strcmp(key, "response_format") == 0) return m->response_format != NULL;
    if (strcmp(key, "presence_penalty") == 0) return !isnan(m->presence_penalty);
    if (strcmp(key, "frequency_penalty") == 0) return !isnan(m->frequency_penalty);
    return strcmp(key, "seed") == 0 && m->seed_set;
}

/* Which provider takes which parameter (the sim takes them all and uses none); a thinking budget
 * without a type means "enabled". */
/* Anthropic's extended thinking, enabled, needs a budget, and max_tokens (when set) must leave
 * room for the answer after it: the API refuses both, so the config does, with the place. */
static int thinking_finish(loader_t *ld, const rs_model_cfg_t *m, struct fy_node *map,
                           struct fy_node *at, const char *path)
{
    char sub[PATH_CAP];
    if (!m->provider || strcmp(m->provider, "anthropic") != 0 || !m->thinking_type ||
        strcmp(m->thinking_type, "enabled") != 0)
        return 0;
    if (!m->thinking_budget) {
        path_key(sub, sizeof(sub), path, "thinking.budget_tokens");
        return fail(ld, key_at(map, "thinking", at), sub,
                    "required when thinking is enabled (the Anthropic API refuses thinking "
                    "without a budget; at least 1024)");
    }
    if (m->max_tokens && m->max_tokens <= m->thinking_budget) {
        path_key(sub, sizeof(sub), path, "max_tokens");
        return fail(ld, key_at(map, "max_tokens", at), sub,
                    "must be greater than thinking.budget_tokens (%lld): the answer comes after "
                    "the thinking, within max_tokens",
                    (long long)m->thinking_budget);
    }
    return 0;
}

static int params_finish(loader_t *ld, void *obj, struct fy_node *map, struct fy_node *at,
                         const char *path)
{
    rs_model_cfg_t *m = obj;
    if (m->thinking_budget && !m->thinking_type) m->thinking_type = rs_xstrdup("enabled");
    if (thinking_finish(ld, m, map, at, path) < 0) return -1;
    for (size_t i = 0; m->provider && i < RS_ARRAY_LEN(PARAM_RULES); i++) {
        const struct param_rule *r = &PARAM_RULES[i];
        if (strcmp(m->provider, r->provider) != 0 || !param_given(m, r->key)) continue;
        char sub[PATH_CAP];
        path_key(sub, sizeof(sub), path, r->key);
        if (r->instead)
            return fail(ld, key_at(map, r->key, at), sub,
                        "the %s API has no such parameter; use params.%s", r->provider,
                        r->instead);
        return fail(ld, key_at(map, r->key, at), sub,
                    "the %s API has no such parameter; params.extra_body sends any field to a "
                    "server that takes it", r->provider);
    }
    return 0;
}
