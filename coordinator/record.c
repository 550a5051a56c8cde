/* record: the checks a case's result record passes before it is stored and when it is read back,
 * and the checksum around its stored bytes. */
#define _GNU_SOURCE
#include "record.h"
#include "record_int.h"
#include "units.h"

#include "dataset.h"

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

static int type_ok(json_t *v, int types)
{
    return ((types & T_STR) && json_is_string(v)) || ((types & T_NULL) && json_is_null(v)) ||
           ((types & T_INT) && json_is_integer(v)) || ((types & T_NUM) && json_is_number(v)) ||
           ((types & T_BOOL) && json_is_boolean(v)) || ((types & T_OBJ) && json_is_object(v)) ||
           ((types & T_ARR) && json_is_array(v));
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
static int field(chk_t *c, json_t *o, const char *key, int types, int optional)
{
    json_t *v = json_object_get(o, key);
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
static int int_field(chk_t *c, json_t *o, const char *key, json_int_t min, json_int_t max,
                     int optional)
{
    if (field(c, o, key, T_INT, optional)) return -1;
    json_t *v = json_object_get(o, key);
    if (!v) return 0;
    json_int_t x = json_integer_value(v);
    if (x >= min && x <= max) return 0;
    size_t n = push(c, key, 0);
    rs_err_set(c->err, "case %llu: %s is %lld, outside [%lld, %lld]", (unsigned long long)c->idx,
               path(c), (long long)x, (long long)min, (long long)max);
    pop(c, n);
    return -1;
}

static int strings_array(chk_t *c, json_t *o, const char *key)
{
    if (field(c, o, key, T_ARR, 0)) return -1;
    size_t i, n = push(c, key, 0);
    json_t *v;
    int rc = 0;
    json_array_foreach(json_object_get(o, key), i, v) {
        if (json_is_string(v)) continue;
        size_t m = push(c, NULL, i);
        rc = bad(c, "is not a string");
        pop(c, m);
        break;
    }
    pop(c, n);
    return rc;
}

static int is_verdict(json_t *v)
{
    const char *s = json_string_value(v);
    for (size_t i = 0; s && i < RS_ARRAY_LEN(VERDICTS); i++)
        if (strcmp(s, VERDICTS[i]) == 0) return 1;
    return 0;
}

/* "grades": {grader: verdict}, one per grader of the run (more are ignored by the report). */
static int grades(chk_t *c, json_t *o, const rs_config_t *cfg, int optional)
{
    if (field(c, o, "grades", T_OBJ, optional)) return -1;
    json_t *g = json_object_get(o, "grades");
    if (!g) return 0;
    size_t n = push(c, "grades", 0);
    int rc = 0;
    for (size_t i = 0; i < cfg->scoring.n_graders && rc == 0; i++) {
        const char *name = cfg->scoring.graders[i].name;
        size_t m = push(c, name, 0);
        json_t *v = json_object_get(g, name);
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
static int call_fields(chk_t *c, json_t *o)
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
static int members(chk_t *c, json_t *o, const char *key, const rs_config_t *cfg,
                   int (*item)(chk_t *, json_t *, const rs_config_t *))
{
    if (field(c, o, key, T_OBJ, 1)) return -1;
    size_t n = push(c, key, 0);
    const char *name;
    json_t *v;
    int rc = 0;
    json_object_foreach(json_object_get(o, key), name, v) {
        size_t m = push(c, name, 0);
        rc = !json_is_object(v) ? bad(c, "is not an object") : item(c, v, cfg);
        pop(c, m);
        if (rc) break;
    }
    pop(c, n);
    return rc;
}

/* One entry of "grade_details": {score, reason, error_type, latency_ms}, what an exec grader said
 * (docs/GRADERS.md); the report averages the scores and counts the error types. */
static int grade_detail(chk_t *c, json_t *d, const rs_config_t *cfg)
{
    (void)cfg;
    json_t *score = json_object_get(d, "score");
    if (field(c, d, "score", T_NUM | T_NULL, 1) || field(c, d, "reason", T_STR | T_NULL, 1) ||
        field(c, d, "error_type", T_STR | T_NULL, 1) || field(c, d, "latency_ms", T_NUM, 1))
        return -1;
    if (json_is_number(score) && !(json_number_value(score) >= 0 && json_number_value(score) <= 1))
        return bad(c, "has a score outside [0, 1]");
    return 0;
}

/* Its grades are what the counts are made of: required. */
static int answer(chk_t *c, json_t *o, const rs_config_t *cfg)
{
    return call_fields(c, o) || field(c, o, "output", T_STR | T_NULL, 1) ||
           field(c, o, "extracted", T_STR | T_NULL, 1) ||
           field(c, o, "finish_reason", T_STR | T_NULL, 1) || grades(c, o, cfg, 0) ||
           members(c, o, "grade_details", cfg, grade_detail);
}

static int critique(chk_t *c, json_t *o, const rs_config_t *cfg)
{
    (void)cfg;
    return call_fields(c, o) || field(c, o, "judge", T_STR, 0) ||
           field(c, o, "model", T_STR | T_NULL, 1) || int_field(c, o, "round", 0, 1 << 20, 0) ||
           field(c, o, "self", T_BOOL, 1) || field(c, o, "text", T_STR | T_NULL, 1) ||
           field(c, o, "score", T_NUM | T_NULL, 1) || field(c, o, "parsed", T_BOOL, 1) ||
           field(c, o, "judged_correct", T_BOOL | T_NULL, 1);
}

static int revision(chk_t *c, json_t *o, const rs_config_t *cfg)
{
    return int_field(c, o, "round", 1, 1 << 20, 0) || answer(c, o, cfg);
}

/* o[key], when present, is an array of objects that each pass item. */
static int objects(chk_t *c, json_t *o, const char *key, int optional, const rs_config_t *cfg,
                   int (*item)(chk_t *, json_t *, const rs_config_t *))
{
    if (field(c, o, key, T_ARR, optional)) return -1;
    size_t i, n = push(c, key, 0);
    json_t *v;
    int rc = 0;
    json_array_foreach(json_object_get(o, key), i, v) {
        size_t m = push(c, NULL, i);
        rc = !json_is_object(v) ? bad(c, "is not an object") : item(c, v, cfg);
        pop(c, m);
        if (rc) break;
    }
    pop(c, n);
    return rc;
}

static int candidate(chk_t *c, json_t *o, const rs_config_t *cfg)
{
    return int_field(c, o, "k", 0, INT32_MAX, 0) || answer(c, o, cfg) ||
           objects(c, o, "critiques", 1, cfg, critique) ||
           objects(c, o, "revisions", 1, cfg, revision);
}

/* One entry of "strategies": {grades, k?, model?}, a strategy's pick, graded. */
static int strategy(chk_t *c, json_t *s, const rs_config_t *cfg)
{
    return grades(c, s, cfg, 1) || int_field(c, s, "k", 0, INT32_MAX, 1) ||
           field(c, s, "model", T_STR, 1);
}

static int model_part(chk_t *c, json_t *o, const rs_model_cfg_t *mc, const rs_config_t *cfg)
{
    if (field(c, o, "model", T_STR, 0)) return -1;
    if (strcmp(json_string_value(json_object_get(o, "model")), mc->name) != 0) {
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
    size_t got = json_array_size(json_object_get(o, "candidates"));
    if (got == (size_t)mc->n) return 0;
    size_t n = push(c, "candidates", 0);
    rs_err_set(c->err, "case %llu: %s holds %zu candidates, the model has n=%lld",
               (unsigned long long)c->idx, path(c), got, (long long)mc->n);
    pop(c, n);
    return -1;
}

static int models(chk_t *c, json_t *rec, const rs_config_t *cfg)
{
    if (field(c, rec, "models", T_ARR, 0)) return -1;
    json_t *ms = json_object_get(rec, "models");
    if (json_array_size(ms) != cfg->n_models)
        return rs_err_set(c->err, "case %llu: models holds %zu entries, the run has %zu models",
                          (unsigned long long)c->idx, json_array_size(ms), cfg->n_models);
    size_t n = push(c, "models", 0);
    int rc = 0;
    for (size_t m = 0; m < cfg->n_models && rc == 0; m++) {
        size_t k = push(c, NULL, m);
        json_t *o = json_array_get(ms, m);
        rc = !json_is_object(o) ? bad(c, "is not an object") : model_part(c, o, &cfg->models[m], cfg);
        pop(c, k);
    }
    pop(c, n);
    return rc;
}

static int embedding(chk_t *c, json_t *rec)
{
    if (field(c, rec, "embedding", T_OBJ, 1)) return -1;
    json_t *e = json_object_get(rec, "embedding");
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
static int unit_fields(chk_t *c, json_t *rec, uint64_t idx, const rs_config_t *cfg)
{
    coord_units_t u;
    coord_units_init(&u, cfg, 0);
    uint32_t variant, epoch;
    coord_units_split(&u, idx, NULL, &variant, &epoch);
    if (field(c, rec, "prompt", T_STR, u.variants == 1) ||
        field(c, rec, "epoch", T_INT, u.epochs == 1) ||
        field(c, rec, "cluster", T_STR, 1))
        return -1;
    json_t *prompt = json_object_get(rec, "prompt"), *ep = json_object_get(rec, "epoch");
    const char *name;
    rs_config_variant(cfg, variant, &name);
    if ((u.variants == 1 && prompt) || (prompt && strcmp(json_string_value(prompt), name) != 0))
        return rs_err_set(c->err, "case %llu: the record's prompt is not the case's (%s)",
                          (unsigned long long)idx, name);
    if ((u.epochs == 1 && ep) || (ep && json_integer_value(ep) != (json_int_t)epoch))
        return rs_err_set(c->err, "case %llu: the record's epoch is not the case's (%u)",
                          (unsigned long long)idx, epoch);
    return 0;
}

static int top(chk_t *c, json_t *rec, const expect_t *want, const rs_config_t *cfg, int whole)
{
    uint64_t idx = want->idx;
    if (!json_is_object(rec)) return rs_err_set(c->err, "case %llu: the record is not a JSON object",
                                                (unsigned long long)idx);
    if (field(c, rec, "idx", T_INT, 0)) return -1;
    json_int_t got = json_integer_value(json_object_get(rec, "idx"));
    if (got < 0 || (uint64_t)got != idx)
        return rs_err_set(c->err, "case %llu: the record is that of case %lld",
                          (unsigned long long)idx, (long long)got);
    if (field(c, rec, "id", T_STR, 0)) return -1;
    if (!id_matches(want, json_string_value(json_object_get(rec, "id"))))
        return rs_err_set(c->err, "case %llu: the record's id is not the case's id",
                          (unsigned long long)idx);
    if (strings_array(c, rec, "tags") || strings_array(c, rec, "targets") ||
        unit_fields(c, rec, idx, cfg) || models(c, rec, cfg) || field(c, rec, "pool", T_OBJ, 1) || embedding(c, rec))
        return -1;
    json_t *pool = json_object_get(rec, "pool");
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
    void *it = json_object_iter_at(rec, "spans");
    if (it && json_object_iter_next(rec, it))
        return rs_err_set(c->err, "case %llu: \"spans\" is not the record's last key",
                          (unsigned long long)idx);
    return 0;
}

/* Nesting depth of the JSON text (strings skipped), without parsing it: jansson recurses per
 * level, so a deep record is refused before it is read. */
static int depth_ok(const char *s, size_t len)
{
    int depth = 0, in_str = 0;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (in_str) {
            if (ch == '\\') i++;
            else if (ch == '"') in_str = 0;
        } else if (ch == '"') {
            in_str = 1;
        } else if (ch == '{' || ch == '[') {
            if (++depth > COORD_RECORD_MAX_DEPTH) return 0;
        } else if (ch == '}' || ch == ']') {
            depth--;
        }
    }
    return 1;
}

/* ---- the trace's text ----
 *
 * The trace ("spans") is two thirds of a record's bytes and nothing in the coordinator reads it,
 * but results.jsonl, trace and export pass it on, so it must be valid JSON. Building it with
 * jansson only to free it again tripled the cost of the check (46 us against 15 us a record on
 * this machine), so its text is validated in one pass that allocates nothing, by jansson's rules:
 * strict RFC 8259 grammar, UTF-8 strings without raw controls, \u escapes with paired surrogates
 * and no \u0000, integers that fit 64 bits, reals that fit a double. (Duplicate keys inside a span
 * are not looked for: nothing reads them as a map.) */

typedef struct text {
    const char *p, *end;
} text_t;

static void skip_ws(text_t *t)
{
    while (t->p < t->end && (*t->p == ' ' || *t->p == '\t' || *t->p == '\n' || *t->p == '\r')) t->p++;
}

static int hex4(const char *p, unsigned *out)
{
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char ch = p[i];
        unsigned d = ch >= '0' && ch <= '9'   ? (unsigned)(ch - '0')
                     : ch >= 'a' && ch <= 'f' ? (unsigned)(ch - 'a' + 10)
                     : ch >= 'A' && ch <= 'F' ? (unsigned)(ch - 'A' + 10)
                                              : 16u;
        if (d == 16) return 0;
        v = v * 16 + d;
    }
    *out = v;
    return 1;
}

/* One UTF-8 sequence of 2 to 4 bytes at t->p (no overlong forms, surrogates or > U+10FFFF). */
static int utf8_ok(text_t *t)
{
    const unsigned char *s = (const unsigned char *)t->p;
    size_t len = (s[0] & 0xE0) == 0xC0 ? 2 : (s[0] & 0xF0) == 0xE0 ? 3 : (s[0] & 0xF8) == 0xF0 ? 4 : 0;
    if (!len || (size_t)(t->end - t->p) < len) return 0;
    uint32_t c = s[0] & (0x7F >> len);
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    static const uint32_t MIN[] = {0, 0, 0x80, 0x800, 0x10000};
    if (c < MIN[len] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
    t->p += len;
    return 1;
}

static int string_ok(text_t *t)
{
    if (t->p >= t->end || *t->p != '"') return 0;
    t->p++;
    while (t->p < t->end) {
        unsigned char ch = (unsigned char)*t->p;
        if (ch == '"') return t->p++, 1;
        if (ch < 0x20) return 0;
        if (ch >= 0x80) {
            if (!utf8_ok(t)) return 0;
            continue;
        }
        if (ch != '\\') {
            t->p++;
            continue;
        }
        if (t->end - t->p < 2) return 0;
        char e = t->p[1];
        if (e != 'u') {
            if (!strchr("\"\\/bfnrt", e) || e == '\0') return 0;
            t->p += 2;
            continue;
        }
        unsigned u, lo;
        if (t->end - t->p < 6 || !hex4(t->p + 2, &u) || u == 0) return 0;
        t->p += 6;
        if (u >= 0xDC00 && u <= 0xDFFF) return 0; /* a lone low surrogate */
        if (u >= 0xD800 && u <= 0xDBFF) {         /* a high one needs its low half next */
            if (t->end - t->p < 6 || t->p[0] != '\\' || t->p[1] != 'u' || !hex4(t->p + 2, &lo) ||
                lo < 0xDC00 || lo > 0xDFFF)
                return 0;
            t->p += 6;
        }
    }
    return 0;
}

static int digits(text_t *t)
{
    const char *start = t->p;
    while (t->p < t->end && *t->p >= '0' && *t->p <= '9') t->p++;
    return t->p > start;
}

static int number_ok(text_t *t)
{
    const char *start = t->p;
    int real = 0;
    if (t->p < t->end && *t->p == '-') t->p++;
    if (t->p < t->end && *t->p == '0') t->p++;
    else if (!digits(t)) return 0;
    if (t->p < t->end && *t->p == '.') {
        t->p++, real = 1;
        if (!digits(t)) return 0;
    }
    if (t->p < t->end && (*t->p == 'e' || *t->p == 'E')) {
        t->p++, real = 1;
        if (t->p < t->end && (*t->p == '+' || *t->p == '-')) t->p++;
        if (!digits(t)) return 0;
    }
    /* strtod/strtoll want a terminated string: a copy on the stack (the heap only for a number
     * longer than any a worker writes) */
    size_t n = (size_t)(t->p - start);
    char small[64], *num = n < sizeof(small) ? small : rs_xmalloc(n + 1);
    memcpy(num, start, n);
    num[n] = '\0';
    errno = 0;
    int ok;
    if (real) {
        double v = strtod(num, NULL);
        ok = isfinite(v); /* underflow to 0 is fine, as in jansson */
    } else {
        strtoll(num, NULL, 10);
        ok = errno != ERANGE;
    }
    if (num != small) free(num);
    return ok;
}

static int literal_ok(text_t *t, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(t->end - t->p) < n || memcmp(t->p, word, n) != 0) return 0;
    t->p += n;
    return 1;
}

/* One JSON value at t->p (after whitespace). Recursion is bounded by depth_ok's pre-scan. */
static int value_ok(text_t *t)
{
    skip_ws(t);
    if (t->p >= t->end) return 0;
    char ch = *t->p;
    if (ch == '"') return string_ok(t);
    if (ch == 't') return literal_ok(t, "true");
    if (ch == 'f') return literal_ok(t, "false");
    if (ch == 'n') return literal_ok(t, "null");
    if (ch != '[' && ch != '{') return number_ok(t);
    char close = ch == '[' ? ']' : '}';
    t->p++;
    skip_ws(t);
    if (t->p < t->end && *t->p == close) return t->p++, 1;
    for (;;) {
        if (close == '}') {
            skip_ws(t);
            if (!string_ok(t)) return 0;
            skip_ws(t);
            if (t->p >= t->end || *t->p++ != ':') return 0;
        }
        if (!value_ok(t)) return 0;
        skip_ws(t);
        if (t->p >= t->end) return 0;
        if (*t->p == close) return t->p++, 1;
        if (*t->p++ != ',') return 0;
    }
}

int coord_record_json_value_ok(const char *s, size_t len)
{
    text_t t = {s, s + len};
    return value_ok(&t) && t.p == t.end;
}

/* ---- parsing a record ---- */

static const char SPANS_KEY[] = ",\"spans\":[";

/* The record up to a top-level "spans" key that ends it, parsed, or NULL when it has none there.
 * *tail gets where the key starts. */
static json_t *parse_head(const char *json, size_t len, const char **tail, json_error_t *jerr)
{
    const char *spans = memmem(json, len, SPANS_KEY, sizeof(SPANS_KEY) - 1);
    if (!spans) return NULL;
    size_t head = (size_t)(spans - json);
    char *buf = rs_xmalloc(head + 2);
    memcpy(buf, json, head);
    buf[head] = '}';
    json_t *r = json_loadb(buf, head + 1, JSON_REJECT_DUPLICATES, jerr);
    free(buf);
    *tail = spans;
    return r;
}

/* Whether tail is `,"spans":` + a valid JSON array + `}`, the end of the record. */
static int tail_ok(const char *tail, const char *end)
{
    text_t t = {tail + sizeof(SPANS_KEY) - 2, end}; /* at the '[' */
    if (!value_ok(&t)) return 0;
    skip_ws(&t);
    if (t.p >= t.end || *t.p++ != '}') return 0;
    skip_ws(&t);
    return t.p == t.end;
}

static json_t *load(const char *json, size_t len, const expect_t *want, const rs_config_t *cfg,
                    int flags, rs_err_t *err)
{
    uint64_t idx = want->idx;
    if (!depth_ok(json, len)) {
        rs_err_set(err, "case %llu: the record nests deeper than %d levels",
                   (unsigned long long)idx, COORD_RECORD_MAX_DEPTH);
        return NULL;
    }
    json_error_t jerr;
    const char *tail = NULL;
    json_t *rec = parse_head(json, len, &tail, &jerr);
    /* Anything unusual about the trace (a second "spans", text that does not validate, a key
     * after it): the whole record goes through jansson, for its verdict and message. */
    if (rec && (json_object_get(rec, "spans") ||
                (!(flags & COORD_RECORD_SKIP_SPANS) && !tail_ok(tail, json + len)))) {
        json_decref(rec);
        rec = NULL;
    }
    int whole = rec == NULL;
    if (!rec) rec = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!rec) {
        rs_err_set(err, "case %llu: the record is not valid JSON: %s", (unsigned long long)idx,
                   jerr.text);
        return NULL;
    }
    chk_t c = {.err = err, .idx = idx};
    if (top(&c, rec, want, cfg, whole)) {
        json_decref(rec);
        return NULL;
    }
    return rec;
}

json_t *coord_record_load(const char *json, size_t len, uint64_t idx, const char *case_id,
                          const rs_config_t *cfg, int flags, rs_err_t *err)
{
    expect_t want = {.idx = idx, .id = case_id};
    return load(json, len, &want, cfg, flags, err);
}

int coord_record_check(const char *json, size_t len, uint64_t idx, const char *case_id,
                       const rs_config_t *cfg, rs_err_t *err)
{
    json_t *rec = coord_record_load(json, len, idx, case_id, cfg, 0, err);
    json_decref(rec);
    return rec ? 0 : -1;
}

json_t *coord_record_load_hashed(const char *json, size_t len, uint64_t idx, uint64_t id_hash,
                                 const rs_config_t *cfg, rs_err_t *err)
{
    expect_t want = {.idx = idx, .by_hash = 1, .id_hash = id_hash};
    return load(json, len, &want, cfg, 0, err);
}

int coord_record_check_hashed(const char *json, size_t len, uint64_t idx, uint64_t id_hash,
                              const rs_config_t *cfg, rs_err_t *err)
{
    json_t *rec = coord_record_load_hashed(json, len, idx, id_hash, cfg, err);
    json_decref(rec);
    return rec ? 0 : -1;
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

int coord_record_failed(json_t *record)
{
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(record, "models"), i, m)
        if (json_is_string(json_object_get(m, "error"))) return 1;
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
