/* record: the checks a case's result record passes before it is stored and when it is read back,
 * and the checksum around its stored bytes. */
#define _GNU_SOURCE
#include "record.h"

#include <string.h>
#include <xxhash.h>

static const char *const VERDICTS[] = {"correct", "wrong", "error", "skipped"};

/* A checker walks the record with the path of the value it looks at, for the message. */
typedef struct chk {
    rs_err_t *err;
    uint64_t idx;
    char path[256];
} chk_t;

static int bad(chk_t *c, const char *what)
{
    return rs_err_set(c->err, "case %llu: %s%s%s", (unsigned long long)c->idx, c->path,
                      c->path[0] ? " " : "", what);
}

/* Appends ".key" or "[i]" to the path; returns the old length, for pop. */
static size_t push(chk_t *c, const char *key, size_t i)
{
    size_t n = strlen(c->path);
    if (key)
        snprintf(c->path + n, sizeof(c->path) - n, "%s%s", n ? "." : "", key);
    else
        snprintf(c->path + n, sizeof(c->path) - n, "[%zu]", i);
    return n;
}

static void pop(chk_t *c, size_t n)
{
    c->path[n] = '\0';
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
        rc = rs_err_set(c->err, "case %llu: %s is not %s", (unsigned long long)c->idx, c->path,
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
               c->path, (long long)x, (long long)min, (long long)max);
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

/* The call fields of an answer, a revision or a critique: tokens, latency and its error. The
 * report reads an absent one as 0 or null (so they are optional), but one that is there must have
 * its type, and token counts a bound that keeps the report's sums from overflowing. */
static int call_fields(chk_t *c, json_t *o)
{
    return int_field(c, o, "input_tokens", 0, COORD_RECORD_MAX_TOKENS, 1) ||
           int_field(c, o, "output_tokens", 0, COORD_RECORD_MAX_TOKENS, 1) ||
           field(c, o, "latency_ms", T_NUM, 1) || field(c, o, "error", T_STR | T_NULL, 1) ||
           field(c, o, "error_type", T_STR | T_NULL, 1);
}

/* Its grades are what the counts are made of: required. */
static int answer(chk_t *c, json_t *o, const rs_config_t *cfg)
{
    return call_fields(c, o) || field(c, o, "output", T_STR | T_NULL, 1) ||
           field(c, o, "extracted", T_STR | T_NULL, 1) ||
           field(c, o, "finish_reason", T_STR | T_NULL, 1) || grades(c, o, cfg, 0);
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

/* "strategies": {name: {grades, k?, ...}}: each strategy's pick, graded. */
static int strategies(chk_t *c, json_t *o, const rs_config_t *cfg)
{
    if (field(c, o, "strategies", T_OBJ, 1)) return -1;
    size_t n = push(c, "strategies", 0);
    const char *name;
    json_t *s;
    int rc = 0;
    json_object_foreach(json_object_get(o, "strategies"), name, s) {
        size_t m = push(c, name, 0);
        rc = !json_is_object(s) ? bad(c, "is not an object")
                                : grades(c, s, cfg, 1) || int_field(c, s, "k", 0, INT32_MAX, 1) ||
                                      field(c, s, "model", T_STR, 1);
        pop(c, m);
        if (rc) break;
    }
    pop(c, n);
    return rc;
}

static int model_part(chk_t *c, json_t *o, const rs_model_cfg_t *mc, const rs_config_t *cfg)
{
    if (field(c, o, "model", T_STR, 0)) return -1;
    if (strcmp(json_string_value(json_object_get(o, "model")), mc->name) != 0) {
        size_t n = push(c, "model", 0);
        rs_err_set(c->err, "case %llu: %s is not '%s', the run's model in that place",
                   (unsigned long long)c->idx, c->path, mc->name);
        pop(c, n);
        return -1;
    }
    if (field(c, o, "error", T_STR | T_NULL, 0) || field(c, o, "error_type", T_STR | T_NULL, 0) ||
        field(c, o, "provider", T_STR, 1) || field(c, o, "simulated", T_BOOL, 1) ||
        int_field(c, o, "retries", 0, INT32_MAX, 1) || field(c, o, "retry_reasons", T_OBJ, 1) ||
        objects(c, o, "candidates", 0, cfg, candidate) || strategies(c, o, cfg))
        return -1;
    size_t got = json_array_size(json_object_get(o, "candidates"));
    if (got == (size_t)mc->n) return 0;
    size_t n = push(c, "candidates", 0);
    rs_err_set(c->err, "case %llu: %s holds %zu candidates, the model has n=%lld",
               (unsigned long long)c->idx, c->path, got, (long long)mc->n);
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
             field(c, e, "error_type", T_STR | T_NULL, 1);
    pop(c, n);
    return rc;
}

static int top(chk_t *c, json_t *rec, uint64_t idx, const char *case_id, const rs_config_t *cfg,
               int whole)
{
    if (!json_is_object(rec)) return rs_err_set(c->err, "case %llu: the record is not a JSON object",
                                                (unsigned long long)idx);
    if (field(c, rec, "idx", T_INT, 0)) return -1;
    json_int_t got = json_integer_value(json_object_get(rec, "idx"));
    if (got < 0 || (uint64_t)got != idx)
        return rs_err_set(c->err, "case %llu: the record is that of case %lld",
                          (unsigned long long)idx, (long long)got);
    if (field(c, rec, "id", T_STR, 0)) return -1;
    if (case_id && strcmp(json_string_value(json_object_get(rec, "id")), case_id) != 0)
        return rs_err_set(c->err, "case %llu: the record's id is not the case's id",
                          (unsigned long long)idx);
    if (strings_array(c, rec, "tags") || strings_array(c, rec, "targets") ||
        models(c, rec, cfg) || field(c, rec, "pool", T_OBJ, 1) || embedding(c, rec))
        return -1;
    json_t *pool = json_object_get(rec, "pool");
    if (pool) {
        size_t n = push(c, "pool", 0);
        int rc = strategies(c, pool, cfg);
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

/* The record without a trailing top-level "spans" key, or NULL when it has none there. */
static json_t *parse_head(const char *json, size_t len, json_error_t *jerr)
{
    static const char KEY[] = ",\"spans\":[";
    const char *spans = memmem(json, len, KEY, sizeof(KEY) - 1);
    if (!spans) return NULL;
    size_t head = (size_t)(spans - json);
    char *buf = rs_xmalloc(head + 2);
    memcpy(buf, json, head);
    buf[head] = '}';
    json_t *r = json_loadb(buf, head + 1, JSON_REJECT_DUPLICATES, jerr);
    free(buf);
    return r;
}

json_t *coord_record_load(const char *json, size_t len, uint64_t idx, const char *case_id,
                          const rs_config_t *cfg, int flags, rs_err_t *err)
{
    if (!depth_ok(json, len)) {
        rs_err_set(err, "case %llu: the record nests deeper than %d levels",
                   (unsigned long long)idx, COORD_RECORD_MAX_DEPTH);
        return NULL;
    }
    json_error_t jerr;
    json_t *rec = (flags & COORD_RECORD_SKIP_SPANS) ? parse_head(json, len, &jerr) : NULL;
    int whole = rec == NULL;
    if (!rec) rec = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!rec) {
        rs_err_set(err, "case %llu: the record is not valid JSON: %s", (unsigned long long)idx,
                   jerr.text);
        return NULL;
    }
    chk_t c = {.err = err, .idx = idx};
    if (top(&c, rec, idx, case_id, cfg, whole)) {
        json_decref(rec);
        return NULL;
    }
    return rec;
}

int coord_record_check(const char *json, size_t len, uint64_t idx, const char *case_id,
                       const rs_config_t *cfg, rs_err_t *err)
{
    json_t *rec = coord_record_load(json, len, idx, case_id, cfg, 0, err);
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
