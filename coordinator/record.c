/* record: the checks a case's result record passes before it is stored and when it is read back,
 * and the checksum around its stored bytes. */
#define _GNU_SOURCE
#include "record.h"
#include "record_int.h"
#include "units.h"

#include "dataset.h"
#include "jdoc.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

static const char *const VERDICTS[] = {"correct", "wrong", "error", "skipped"};

/* A checker walks the record keeping the path of the value it looks at as a stack of keys and
 * indexes; the path's text ("models[1].candidates[0].grades.exact") is only made for a message. */
enum { PATH_MAX_DEPTH = 16 };

typedef struct chk {
    rs_err_t *err;
    uint64_t idx;
    const char *key[PATH_MAX_DEPTH]; /* NULL: an index */
    size_t index[PATH_MAX_DEPTH];
    size_t depth;
    char text[256];
} chk_t;

static const char *path(chk_t *c)
{
    size_t n = 0;
    c->text[0] = '\0';
    for (size_t i = 0; i < c->depth && n < sizeof(c->text); i++) {
        int w = c->key[i] ? snprintf(c->text + n, sizeof(c->text) - n, "%s%s", i ? "." : "", c->key[i])
                          : snprintf(c->text + n, sizeof(c->text) - n, "[%zu]", c->index[i]);
        n += w > 0 ? (size_t)w : 0;
    }
    return c->text;
}

static int bad(chk_t *c, const char *what)
{
    const char *p = path(c);
    return rs_err_set(c->err, "case %llu: %s%s%s", (unsigned long long)c->idx, p, p[0] ? " " : "",
                      what);
}

/* Enters o[key] (key not NULL) or a[i]; returns the depth to go back to with pop. */
static size_t push(chk_t *c, const char *key, size_t i)
{
    size_t d = c->depth;
    if (d < PATH_MAX_DEPTH) {
        c->key[d] = key;
        c->index[d] = i;
        c->depth++;
    }
    return d;
}

static void pop(chk_t *c, size_t d)
{
    c->depth = d;
}

enum { T_STR = 1, T_NULL = 2, T_INT = 4, T_NUM = 8, T_BOOL = 16, T_OBJ = 32, T_ARR = 64 };

static int type_ok(const rs_jv_t *v, int types)
{
    return ((types & T_STR) && rs_jv_is_str(v)) || ((types & T_NULL) && rs_jv_is_null(v)) ||
           ((types & T_INT) && rs_jv_is_int(v)) || ((types & T_NUM) && rs_jv_is_number(v)) ||
           ((types & T_BOOL) && rs_jv_is_bool(v)) || ((types & T_OBJ) && rs_jv_is_obj(v)) ||
           ((types & T_ARR) && rs_jv_is_arr(v));
}

static const char *type_words(int types)
{
    switch (types) {
    case T_STR: return "a string";
    case T_STR | T_NULL: return "a string or null";
    case T_INT: return "an integer";
    case T_NUM: return "a number";
    case T_NUM | T_NULL: return "a number or null";
    case T_BOOL: return "a boolean";
    case T_BOOL | T_NULL: return "a boolean or null";
    case T_OBJ: return "an object";
    default: return "an array";
    }
}

/* o[key] must have one of types; absent is allowed when optional. */
static int field(chk_t *c, const rs_jv_t *o, const char *key, int types, int optional)
{
    const rs_jv_t *v = rs_jv_get(o, key);
    if (!v && optional) return 0;
    size_t n = push(c, key, 0);
    int rc = 0;
    if (!v) rc = bad(c, "is missing");
    else if (!type_ok(v, types))
        rc = rs_err_set(c->err, "case %llu: %s is not %s", (unsigned long long)c->idx, path(c),
                        type_words(types));
    pop(c, n);
    return rc;
}

/* An integer field within [min, max] (absent allowed when optional). */
static int int_field(chk_t *c, const rs_jv_t *o, const char *key, long long min, long long max,
                     int optional)
{
    if (field(c, o, key, T_INT, optional)) return -1;
    const rs_jv_t *v = rs_jv_get(o, key);
    if (!v) return 0;
    long long x = rs_jv_int(v);
    if (x >= min && x <= max) return 0;
    size_t n = push(c, key, 0);
    rs_err_set(c->err, "case %llu: %s is %lld, outside [%lld, %lld]", (unsigned long long)c->idx,
               path(c), (long long)x, (long long)min, (long long)max);
    pop(c, n);
    return -1;
}

static int strings_array(chk_t *c, const rs_jv_t *o, const char *key)
{
    if (field(c, o, key, T_ARR, 0)) return -1;
    size_t i, n = push(c, key, 0);
    const rs_jv_t *v;
    int rc = 0;
    rs_jv_array_foreach(rs_jv_get(o, key), i, v) {
        if (rs_jv_is_str(v)) continue;
        size_t m = push(c, NULL, i);
        rc = bad(c, "is not a string");
        pop(c, m);
        break;
    }
    pop(c, n);
    return rc;
}

static int is_verdict(const rs_jv_t *v)
{
    const char *s = rs_jv_str(v);
    for (size_t i = 0; s && i < RS_ARRAY_LEN(VERDICTS); i++)
        if (strcmp(s, VERDICTS[i]) == 0) return 1;
    return 0;
}

/* "grades": {grader: verdict}, one per grader of the run (more are ignored by the report). */
static int grades(chk_t *c, const rs_jv_t *o, const rs_config_t *cfg, int optional)
{
    if (field(c, o, "grades", T_OBJ, optional)) return -1;
    const rs_jv_t *g = rs_jv_get(o, "grades");
    if (!g) return 0;
    size_t n = push(c, "grades", 0);
    int rc = 0;
    for (size_t i = 0; i < cfg->scoring.n_graders && rc == 0; i++) {
        const char *name = cfg->scoring.graders[i].name;
        size_t m = push(c, name, 0);
        const rs_jv_t *v = rs_jv_get(g, name);
        if (!v) rc = bad(c, "is missing");
        else if (!is_verdict(v)) rc = bad(c, "is not a verdict (correct, wrong, error, skipped)");
        pop(c, m);
    }
    pop(c, n);
    return rc;
}

/* The call fields of an answer, a revision or a critique: tokens, latency, its error, whether
 * the response cache gave it, and what the response said of itself (served model, fingerprint,
 * reasoning tokens, thinking). The
 * report reads an absent one as 0 or null (so they are optional), but one that is there must have
 * its type, and token counts a bound that keeps the report's sums from overflowing. */
static int call_fields(chk_t *c, const rs_jv_t *o)
{
    return int_field(c, o, "input_tokens", 0, COORD_RECORD_MAX_TOKENS, 1) ||
           int_field(c, o, "output_tokens", 0, COORD_RECORD_MAX_TOKENS, 1) ||
           field(c, o, "latency_ms", T_NUM, 1) || field(c, o, "error", T_STR | T_NULL, 1) ||
           field(c, o, "error_type", T_STR | T_NULL, 1) || field(c, o, "cached", T_BOOL, 1) ||
           int_field(c, o, "reasoning_tokens", 0, COORD_RECORD_MAX_TOKENS, 1) ||
           field(c, o, "served_model", T_STR | T_NULL, 1) ||
           field(c, o, "system_fingerprint", T_STR | T_NULL, 1) ||
           field(c, o, "thinking", T_STR | T_NULL, 1);
}

/* o[key], when present, is an object whose every member is an object that passes item. */
static int members(chk_t *c, const rs_jv_t *o, const char *key, const rs_config_t *cfg,
                   int (*item)(chk_t *, const rs_jv_t *, const rs_config_t *))
{
    if (field(c, o, key, T_OBJ, 1)) return -1;
    size_t n = push(c, key, 0);
    const rs_jv_t *k, *v;
    int rc = 0;
    rs_jv_object_foreach(rs_jv_get(o, key), k, v) {
        size_t m = push(c, k->u.s, 0);
        rc = !rs_jv_is_obj(v) ? bad(c, "is not an object") : item(c, v, cfg);
        pop(c, m);
        if (rc) break;
    }
    pop(c, n);
    return rc;
}

/* One entry of "grade_details": {score, reason, error_type, latency_ms}, what an exec grader said
 * (docs/GRADERS.md); the report averages the scores and counts the error types. */
static int grade_detail(chk_t *c, const rs_jv_t *d, const rs_config_t *cfg)
{
    (void)cfg;
    const rs_jv_t *score = rs_jv_get(d, "score");
    if (field(c, d, "score", T_NUM | T_NULL, 1) || field(c, d, "reason", T_STR | T_NULL, 1) ||
        field(c, d, "error_type", T_STR | T_NULL, 1) || field(c, d, "latency_ms", T_NUM, 1))
        return -1;
    if (rs_jv_is_number(score) && !(rs_jv_num(score) >= 0 && rs_jv_num(score) <= 1))
        return bad(c, "has a score outside [0, 1]");
    return 0;
}

/* Its grades are what the counts are made of: required. */
static int answer(chk_t *c, const rs_jv_t *o, const rs_config_t *cfg)
{
    return call_fields(c, o) || field(c, o, "output", T_STR | T_NULL, 1) ||
           field(c, o, "extracted", T_STR | T_NULL, 1) ||
           field(c, o, "finish_reason", T_STR | T_NULL, 1) || grades(c, o, cfg, 0) ||
           members(c, o, "grade_details", cfg, grade_detail);
}

static int critique(chk_t *c, const rs_jv_t *o, const rs_config_t *cfg)
{
    (void)cfg;
    return call_fields(c, o) || field(c, o, "judge", T_STR, 0) ||
           field(c, o, "model", T_STR | T_NULL, 1) || int_field(c, o, "round", 0, 1 << 20, 0) ||
           field(c, o, "self", T_BOOL, 1) || field(c, o, "text", T_STR | T_NULL, 1) ||
           field(c, o, "score", T_NUM | T_NULL, 1) || field(c, o, "parsed", T_BOOL, 1) ||
           field(c, o, "judged_correct", T_BOOL | T_NULL, 1);
}

static int revision(chk_t *c, const rs_jv_t *o, const rs_config_t *cfg)
{
    return int_field(c, o, "round", 1, 1 << 20, 0) || answer(c, o, cfg);
}

/* o[key], when present, is an array of objects that each pass item. */
static int objects(chk_t *c, const rs_jv_t *o, const char *key, int optional, const rs_config_t *cfg,
                   int (*item)(chk_t *, const rs_jv_t *, const rs_config_t *))
{
    if (field(c, o, key, T_ARR, optional)) return -1;
    size_t i, n = push(c, key, 0);
    const rs_jv_t *v;
    int rc = 0;
    rs_jv_array_foreach(rs_jv_get(o, key), i, v) {
        size_t m = push(c, NULL, i);
        rc = !rs_jv_is_obj(v) ? bad(c, "is not an object") : item(c, v, cfg);
        pop(c, m);
        if (rc) break;
    }
    pop(c, n);
    return rc;
}

static int candidate(chk_t *c, const rs_jv_t *o, const rs_config_t *cfg)
{
    return int_field(c, o, "k", 0, INT32_MAX, 0) || answer(c, o, cfg) ||
           objects(c, o, "critiques", 1, cfg, critique) ||
           objects(c, o, "revisions", 1, cfg, revision);
}

/* One entry of "strategies": {grades, k?, model?}, a strategy's pick, graded. */
static int strategy(chk_t *c, const rs_jv_t *s, const rs_config_t *cfg)
{
    return grades(c, s, cfg, 1) || int_field(c, s, "k", 0, INT32_MAX, 1) ||
           field(c, s, "model", T_STR, 1);
}

static int model_part(chk_t *c, const rs_jv_t *o, const rs_model_cfg_t *mc, const rs_config_t *cfg)
{
    if (field(c, o, "model", T_STR, 0)) return -1;
    if (strcmp(rs_jv_str(rs_jv_get(o, "model")), mc->name) != 0) {
        size_t n = push(c, "model", 0);
        rs_err_set(c->err, "case %llu: %s is not '%s', the run's model in that place",
                   (unsigned long long)c->idx, path(c), mc->name);
        pop(c, n);
        return -1;
    }
    if (field(c, o, "error", T_STR | T_NULL, 0) || field(c, o, "error_type", T_STR | T_NULL, 0) ||
        field(c, o, "provider", T_STR, 1) || field(c, o, "simulated", T_BOOL, 1) ||
        int_field(c, o, "retries", 0, INT32_MAX, 1) || field(c, o, "retry_reasons", T_OBJ, 1) ||
        objects(c, o, "candidates", 0, cfg, candidate) ||
        members(c, o, "strategies", cfg, strategy))
        return -1;
    size_t got = rs_jv_len(rs_jv_get(o, "candidates"));
    if (got == (size_t)mc->n) return 0;
    size_t n = push(c, "candidates", 0);
    rs_err_set(c->err, "case %llu: %s holds %zu candidates, the model has n=%lld",
               (unsigned long long)c->idx, path(c), got, (long long)mc->n);
    pop(c, n);
    return -1;
}

static int models(chk_t *c, const rs_jv_t *rec, const rs_config_t *cfg)
{
    if (field(c, rec, "models", T_ARR, 0)) return -1;
    const rs_jv_t *ms = rs_jv_get(rec, "models");
    if (rs_jv_len(ms) != cfg->n_models)
        return rs_err_set(c->err, "case %llu: models holds %zu entries, the run has %zu models",
                          (unsigned long long)c->idx, rs_jv_len(ms), cfg->n_models);
    size_t n = push(c, "models", 0);
    int rc = 0;
    for (size_t m = 0; m < cfg->n_models && rc == 0; m++) {
        size_t k = push(c, NULL, m);
        const rs_jv_t *o = rs_jv_at(ms, m);
        rc = !rs_jv_is_obj(o) ? bad(c, "is not an object") : model_part(c, o, &cfg->models[m], cfg);
        pop(c, k);
    }
    pop(c, n);
    return rc;
}

static int embedding(chk_t *c, const rs_jv_t *rec)
{
    if (field(c, rec, "embedding", T_OBJ, 1)) return -1;
    const rs_jv_t *e = rs_jv_get(rec, "embedding");
    if (!e) return 0;
    size_t n = push(c, "embedding", 0);
    int rc = int_field(c, e, "inputs", 0, INT32_MAX, 0) ||
             int_field(c, e, "input_tokens", 0, COORD_RECORD_MAX_TOKENS, 0) ||
             int_field(c, e, "retries", 0, INT32_MAX, 0) ||
             field(c, e, "error_type", T_STR | T_NULL, 1) || field(c, e, "cached", T_BOOL, 1);
    pop(c, n);
    return rc;
}

/* The case a record must be of: its index, and its id as text or as rs_dataset_hash_id. */
typedef struct expect {
    uint64_t idx;
    const char *id; /* NULL: not compared, unless by_hash */
    int by_hash;
    uint64_t id_hash;
} expect_t;

static int id_matches(const expect_t *want, const char *id)
{
    if (want->by_hash) return rs_dataset_hash_id(id) == want->id_hash;
    return !want->id || strcmp(id, want->id) == 0;
}

/* The unit's prompt variant and epoch (units.h) as the record must say them: "prompt" (its name)
 * in a run of several variants, "epoch" in a run of several epochs, neither otherwise; "cluster"
 * a string when present. */
static int unit_fields(chk_t *c, const rs_jv_t *rec, uint64_t idx, const rs_config_t *cfg)
{
    coord_units_t u;
    coord_units_init(&u, cfg, 0);
    uint32_t variant, epoch;
    coord_units_split(&u, idx, NULL, &variant, &epoch);
    if (field(c, rec, "prompt", T_STR, u.variants == 1) ||
        field(c, rec, "epoch", T_INT, u.epochs == 1) ||
        field(c, rec, "cluster", T_STR, 1))
        return -1;
    const rs_jv_t *prompt = rs_jv_get(rec, "prompt"), *ep = rs_jv_get(rec, "epoch");
    const char *name;
    rs_config_variant(cfg, variant, &name);
    if ((u.variants == 1 && prompt) || (prompt && strcmp(rs_jv_str(prompt), name) != 0))
        return rs_err_set(c->err, "case %llu: the record's prompt is not the case's (%s)",
                          (unsigned long long)idx, name);
    if ((u.epochs == 1 && ep) || (ep && rs_jv_int(ep) != (long long)epoch))
        return rs_err_set(c->err, "case %llu: the record's epoch is not the case's (%u)",
                          (unsigned long long)idx, epoch);
    return 0;
}

static int top(chk_t *c, const rs_jv_t *rec, const expect_t *want, const rs_config_t *cfg, int whole)
{
    uint64_t idx = want->idx;
    if (!rs_jv_is_obj(rec)) return rs_err_set(c->err, "case %llu: the record is not a JSON object",
                                                (unsigned long long)idx);
    if (field(c, rec, "idx", T_INT, 0)) return -1;
    long long got = rs_jv_int(rs_jv_get(rec, "idx"));
    if (got < 0 || (uint64_t)got != idx)
        return rs_err_set(c->err, "case %llu: the record is that of case %lld",
                          (unsigned long long)idx, (long long)got);
    if (field(c, rec, "id", T_STR, 0)) return -1;
    if (!id_matches(want, rs_jv_str(rs_jv_get(rec, "id"))))
        return rs_err_set(c->err, "case %llu: the record's id is not the case's id",
                          (unsigned long long)idx);
    if (strings_array(c, rec, "tags") || strings_array(c, rec, "targets") ||
        unit_fields(c, rec, idx, cfg) || models(c, rec, cfg) || field(c, rec, "pool", T_OBJ, 1) || embedding(c, rec))
        return -1;
    const rs_jv_t *pool = rs_jv_get(rec, "pool");
    if (pool) {
        size_t n = push(c, "pool", 0);
        int rc = members(c, pool, "strategies", cfg, strategy);
        pop(c, n);
        if (rc) return -1;
    }
    if (!whole) return 0;
    if (field(c, rec, "spans", T_ARR, 1)) return -1;
    /* The report reads records without their trace by cutting at the top-level "spans" key: it
     * must be the last one (workers write it last). */
    const rs_jv_t *k, *v;
    rs_jv_object_foreach(rec, k, v)
        if (strcmp(k->u.s, "spans") == 0 && rs_jv_next(rec, k)) return rs_err_set(c->err, "case %llu: \"spans\" is not the record's last key",
                          (unsigned long long)idx);
    return 0;
}

/* ---- reading a record ----
 *
 * The trace ("spans") is two thirds of a record's bytes and nothing in the coordinator reads it,
 * but results.jsonl, trace and export pass it on, so it must be valid JSON: it is validated
 * (jdoc's rules, jansson's) without being kept, and only the record before it is read into the
 * document. */

static const char SPANS_KEY[] = ",\"spans\":[";

/* Reads the record up to a top-level "spans" key that ends it (closed with a '}') into doc, or
 * NULL when it has none there or that part does not read. *tail gets where the key starts. */
static const rs_jv_t *read_head(rs_jdoc_t *doc, const char *json, size_t len, const char **tail)
{
    const char *spans = memmem(json, len, SPANS_KEY, sizeof(SPANS_KEY) - 1);
    if (!spans) return NULL;
    *tail = spans;
    return rs_jdoc_read2(doc, json, (size_t)(spans - json), "}", 1, COORD_RECORD_MAX_DEPTH, NULL);
}

/* Whether tail is `,"spans":` + a valid JSON array + `}`, the end of the record (the array one
 * level inside the record). */
static int tail_ok(const char *tail, const char *end)
{
    const char *arr = tail + sizeof(SPANS_KEY) - 2; /* at the '[' */
    const char *close = end;
    while (close > arr && (close[-1] == ' ' || close[-1] == '\n' || close[-1] == '\t' || close[-1] == '\r'))
        close--;
    if (close == arr || close[-1] != '}') return 0;
    return rs_json_valid(arr, (size_t)(close - 1 - arr), COORD_RECORD_MAX_DEPTH - 1);
}

static const rs_jv_t *read_record(rs_jdoc_t *doc, const char *json, size_t len,
                                  const expect_t *want, const rs_config_t *cfg, int flags,
                                  rs_err_t *err)
{
    uint64_t idx = want->idx;
    const char *tail = NULL;
    const rs_jv_t *rec = read_head(doc, json, len, &tail);
    /* Anything unusual about the trace (a second "spans", text that does not validate, a key
     * after it): the whole record is read, for its verdict and message. */
    if (rec && (rs_jv_get(rec, "spans") ||
                (!(flags & COORD_RECORD_SKIP_SPANS) && !tail_ok(tail, json + len))))
        rec = NULL;
    int whole = rec == NULL;
    rs_err_t why;
    if (!rec && !(rec = rs_jdoc_read(doc, json, len, COORD_RECORD_MAX_DEPTH, &why))) {
        rs_err_set(err, "case %llu: the record is not valid JSON: %s", (unsigned long long)idx,
                   why.msg);
        return NULL;
    }
    chk_t c = {.err = err, .idx = idx};
    return top(&c, rec, want, cfg, whole) ? NULL : rec;
}

int coord_record_json_value_ok(const char *s, size_t len)
{
    return rs_json_valid(s, len, COORD_RECORD_MAX_DEPTH);
}

const rs_jv_t *coord_record_read(rs_jdoc_t *doc, const char *json, size_t len, uint64_t idx,
                                 const char *case_id, const rs_config_t *cfg, int flags,
                                 rs_err_t *err)
{
    expect_t want = {.idx = idx, .id = case_id};
    return read_record(doc, json, len, &want, cfg, flags, err);
}

const rs_jv_t *coord_record_read_hashed(rs_jdoc_t *doc, const char *json, size_t len,
                                        uint64_t idx, uint64_t id_hash, const rs_config_t *cfg,
                                        rs_err_t *err)
{
    expect_t want = {.idx = idx, .by_hash = 1, .id_hash = id_hash};
    return read_record(doc, json, len, &want, cfg, 0, err);
}

json_t *coord_record_load(const char *json, size_t len, uint64_t idx, const char *case_id,
                          const rs_config_t *cfg, int flags, rs_err_t *err)
{
    rs_jdoc_t *doc = rs_jdoc_new();
    json_t *rec = NULL;
    if (coord_record_read(doc, json, len, idx, case_id, cfg, flags, err)) {
        json_error_t jerr;
        rec = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
        if (!rec) /* the check's reader and jansson disagree: never expected (tests/unit/test_jdoc.c) */
            rs_err_set(err, "case %llu: the record is not valid JSON: %s", (unsigned long long)idx,
                       jerr.text);
    }
    rs_jdoc_free(&doc);
    return rec;
}

int coord_record_check(const char *json, size_t len, uint64_t idx, const char *case_id,
                       const rs_config_t *cfg, rs_err_t *err)
{
    rs_jdoc_t *doc = rs_jdoc_new();
    int rc = coord_record_read(doc, json, len, idx, case_id, cfg, 0, err) ? 0 : -1;
    rs_jdoc_free(&doc);
    return rc;
}

int coord_record_check_hashed(const char *json, size_t len, uint64_t idx, uint64_t id_hash,
                              const rs_config_t *cfg, rs_err_t *err)
{
    rs_jdoc_t *doc = rs_jdoc_new();
    int rc = coord_record_read_hashed(doc, json, len, idx, id_hash, cfg, err) ? 0 : -1;
    rs_jdoc_free(&doc);
    return rc;
}

char *coord_record_wrap(const char *json, size_t len, size_t *out_len)
{
    char *out = rs_xmalloc(COORD_RECORD_SUM_LEN + len + 1);
    snprintf(out, COORD_RECORD_SUM_LEN + 1, "%016llx", (unsigned long long)XXH64(json, len, 0));
    memcpy(out + COORD_RECORD_SUM_LEN, json, len);
    out[COORD_RECORD_SUM_LEN + len] = '\0';
    *out_len = COORD_RECORD_SUM_LEN + len;
    return out;
}

int coord_record_unwrap(const char *stored, size_t stored_len, const char **json, size_t *len,
                        rs_err_t *err)
{
    if (stored_len > 0 && stored[0] == '{') {
        *json = stored;
        *len = stored_len;
        return 0;
    }
    if (stored_len < COORD_RECORD_SUM_LEN)
        return rs_err_set(err, "stored record of %zu bytes is too short to hold its checksum",
                          stored_len);
    char want[COORD_RECORD_SUM_LEN + 1];
    size_t body = stored_len - COORD_RECORD_SUM_LEN;
    snprintf(want, sizeof(want), "%016llx",
             (unsigned long long)XXH64(stored + COORD_RECORD_SUM_LEN, body, 0));
    if (memcmp(want, stored, COORD_RECORD_SUM_LEN) != 0)
        return rs_err_set(err, "stored record's checksum %.16s does not match its bytes (%s)",
                          stored, want);
    *json = stored + COORD_RECORD_SUM_LEN;
    *len = body;
    return 0;
}

int coord_record_failed(const rs_jv_t *record)
{
    size_t i;
    const rs_jv_t *m;
    rs_jv_array_foreach(rs_jv_get(record, "models"), i, m)
        if (rs_jv_is_str(rs_jv_get(m, "error"))) return 1;
    return 0;
}

void coord_corrupt_add(coord_corrupt_t *c, uint64_t idx)
{
    c->count++;
    if (c->n_idx < COORD_CORRUPT_LIST) c->idx[c->n_idx++] = idx;
}

json_t *coord_corrupt_json(const coord_corrupt_t *c)
{
    json_t *cases = json_array();
    for (size_t i = 0; i < c->n_idx; i++) json_array_append_new(cases, json_integer((json_int_t)c->idx[i]));
    return json_pack("{sIso}", "count", (json_int_t)c->count, "cases", cases);
}
