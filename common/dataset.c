/* dataset: the JSONL scan that validates a dataset and indexes its valid lines, the line parser
 * that maps one JSON record to a case (jsonl and OpenAI evals formats) and the prompt template.
 * Only offsets are kept in memory; a case is re-read with one pread and parsed again on demand. */
#define _GNU_SOURCE /* mremap */
#include "dataset.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "regex.h"

#define SCAN_CHUNK (256u << 10) /* bytes per read() while scanning */
#define MAX_SKIP_REASONS 100

/* Everything the line parser needs, copied out of the config so a dataset does not depend on the
 * config's lifetime, with defaults filled in and target_regex compiled once (compiling per read
 * would dominate rs_dataset_read). */
typedef struct parse_ctx {
    char *where; /* the path, for "path:line:" messages */
    rs_dataset_format_t format;
    char *input_field, *target_field, *id_field, *tags_field;
    char *system;   /* NULL: no system message */
    char *template; /* jsonl user message */
    char *target_pattern;
    rs_regex_t *target_re; /* NULL: targets taken as they are */
} parse_ctx_t;

/* One valid line: 16 bytes per case, never the text. Line numbers fit 32 bits (checked). */
typedef struct line_ref {
    uint64_t off;
    uint32_t len;
    uint32_t line_no;
} line_ref_t;

struct rs_dataset {
    parse_ctx_t px;
    int fd;
    line_ref_t *lines;
    uint64_t *id_hash; /* rs_dataset_hash_id of each case's id, beside lines */
    size_t n_lines, cap_lines;
    uint64_t skipped;
    char **reasons;
    size_t n_reasons;
    char sha256[65];
    rs_buf_t line; /* rs_dataset_read's line buffer, reused */
};

/* ---- small helpers ---- */

static const char *nonempty(const char *s, const char *fallback)
{
    return s && *s ? s : fallback;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static char *dup_trimmed(const char *s, size_t len)
{
    while (len > 0 && is_space(*s))
        s++, len--;
    while (len > 0 && is_space(s[len - 1]))
        len--;
    return rs_xstrndup(s, len);
}

/* A JSON number as text: integers exactly, reals in the shortest form that reads back the same
 * (3.0 -> "3", 0.1 -> "0.1"), because jansson keeps no source text and %.17g prints noise. */
static char *number_text(const json_t *v)
{
    if (json_is_integer(v)) return rs_xasprintf("%" JSON_INTEGER_FORMAT, json_integer_value(v));
    double d = json_real_value(v);
    char tmp[64];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*g", prec, d);
        if (strtod(tmp, NULL) == d) break;
    }
    return rs_xstrdup(tmp);
}

/* A JSON value as prompt/target text: strings verbatim, numbers as number_text, the rest as
 * compact JSON. */
static void append_value(rs_buf_t *out, const json_t *v)
{
    if (json_is_string(v)) {
        rs_buf_append(out, json_string_value(v), json_string_length(v));
    } else if (json_is_number(v)) {
        char *s = number_text(v);
        rs_buf_puts(out, s);
        free(s);
    } else {
        char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (s) rs_buf_puts(out, s);
        free(s);
    }
}

static void push_str(char ***arr, size_t *n, char *s)
{
    *arr = rs_xrealloc(*arr, (*n + 1) * sizeof(**arr));
    (*arr)[(*n)++] = s;
}

static void free_strs(char **arr, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(arr[i]);
    free(arr);
}

void rs_case_cleanup(rs_case_t *c)
{
    if (!c) return;
    free(c->id);
    for (size_t i = 0; i < c->n_msgs; i++) {
        free(c->msgs[i].role);
        free(c->msgs[i].content);
    }
    free(c->msgs);
    free_strs(c->targets, c->n_targets);
    free_strs(c->tags, c->n_tags);
    free(c->input);
    memset(c, 0, sizeof(*c));
}

static int is_system(const rs_chat_msg_t *m)
{
    return m->role && strcmp(m->role, "system") == 0;
}

char *rs_chat_text(const rs_chat_msg_t *msgs, size_t n)
{
    size_t shown = 0;
    for (size_t i = 0; i < n; i++)
        shown += !is_system(&msgs[i]);
    rs_buf_t b;
    rs_buf_init(&b);
    for (size_t i = 0; i < n; i++) {
        const rs_chat_msg_t *m = &msgs[i];
        if (is_system(m)) continue;
        if (b.len) rs_buf_puts(&b, "\n\n");
        if (shown > 1) rs_buf_printf(&b, "%s: ", m->role ? m->role : "user");
        rs_buf_puts(&b, m->content ? m->content : "");
    }
    return rs_buf_detach(&b);
}

/* ---- prompt template ---- */

/* Steps through a template from *p: lit and lit_len get the literal text before the next {{name}},
 * name and name_len the placeholder's name without the spaces around it. Returns 1 for a
 * placeholder, 0 at the end (the rest is literal) and -1 for an unclosed or empty placeholder. */
static int tmpl_next(const char *tmpl, const char **p, const char **lit, size_t *lit_len,
                     const char **name, size_t *name_len, rs_err_t *err)
{
    const char *open = strstr(*p, "{{");
    *lit = *p;
    if (!open) {
        *lit_len = strlen(*p);
        *p += *lit_len;
        return 0;
    }
    *lit_len = (size_t)(open - *p);
    const char *close = strstr(open + 2, "}}");
    if (!close)
        return rs_err_set(err, "prompt template: '{{' at offset %zu is never closed by '}}'",
                          (size_t)(open - tmpl));
    const char *s = open + 2, *e = close;
    while (s < e && is_space(*s))
        s++;
    while (e > s && is_space(e[-1]))
        e--;
    if (s == e)
        return rs_err_set(err, "prompt template: empty placeholder at offset %zu",
                          (size_t)(open - tmpl));
    *name = s;
    *name_len = (size_t)(e - s);
    *p = close + 2;
    return 1;
}

static int tmpl_check(const char *tmpl, rs_err_t *err)
{
    const char *p = tmpl, *lit, *name;
    size_t lit_len, name_len;
    int rc = 1;
    while (rc == 1)
        rc = tmpl_next(tmpl, &p, &lit, &lit_len, &name, &name_len, err);
    return rc;
}

char *rs_prompt_render(const char *tmpl, const void *record, const char *input_field, rs_err_t *err)
{
    rs_buf_t out;
    rs_buf_init(&out);
    const char *p = tmpl, *lit, *name;
    size_t lit_len, name_len;
    int rc;
    while ((rc = tmpl_next(tmpl, &p, &lit, &lit_len, &name, &name_len, err)) == 1) {
        rs_buf_append(&out, lit, lit_len);
        char *key = rs_xstrndup(name, name_len);
        const char *field = strcmp(key, "input") == 0 ? nonempty(input_field, "input") : key;
        const json_t *v = record ? json_object_get(record, field) : NULL;
        if (!v) {
            rs_err_set(err, "prompt template: field '%s' missing from the record", field);
            free(key);
            rs_buf_cleanup(&out);
            return NULL;
        }
        append_value(&out, v);
        free(key);
    }
    if (rc < 0) {
        rs_buf_cleanup(&out);
        return NULL;
    }
    rs_buf_append(&out, lit, lit_len);
    return rs_buf_detach(&out);
}

/* ---- parse context ---- */

static void ctx_cleanup(parse_ctx_t *px)
{
    free(px->where);
    free(px->input_field);
    free(px->target_field);
    free(px->id_field);
    free(px->tags_field);
    free(px->system);
    free(px->template);
    free(px->target_pattern);
    rs_regex_destroy(&px->target_re);
    memset(px, 0, sizeof(*px));
}

static int ctx_init(parse_ctx_t *px, const rs_config_t *cfg, const char *where, rs_err_t *err)
{
    const rs_dataset_cfg_t *d = &cfg->dataset;
    int evals = d->format == RS_FORMAT_EVALS;
    memset(px, 0, sizeof(*px));
    px->where = rs_xstrdup(where);
    px->format = d->format;
    px->input_field = rs_xstrdup(nonempty(d->input_field, evals ? "input" : "question"));
    px->target_field = rs_xstrdup(nonempty(d->target_field, evals ? "ideal" : "answer"));
    px->id_field = rs_xstrdup(nonempty(d->id_field, "id"));
    px->tags_field = rs_xstrdup(nonempty(d->tags_field, "tags"));
    if (cfg->prompt.system && *cfg->prompt.system) px->system = rs_xstrdup(cfg->prompt.system);
    px->template = rs_xstrdup(nonempty(cfg->prompt.template, "{{input}}"));
    if (d->target_regex && *d->target_regex) {
        px->target_pattern = rs_xstrdup(d->target_regex);
        px->target_re = rs_regex_new(d->target_regex, 0, err);
        if (!px->target_re) {
            ctx_cleanup(px);
            return rs_err_prefix(err, "dataset.target_regex");
        }
    }
    if (!evals && tmpl_check(px->template, err) < 0) {
        ctx_cleanup(px);
        return -1;
    }
    return 0;
}

/* ---- one record -> one case ---- */

static int parse_id(const parse_ctx_t *px, const json_t *rec, uint64_t line_no, rs_case_t *out,
                    rs_err_t *err)
{
    const json_t *v = json_object_get(rec, px->id_field);
    if (!v || json_is_null(v))
        out->id = rs_xasprintf("%" PRIu64, line_no);
    else if (json_is_string(v))
        out->id = rs_xstrdup(json_string_value(v));
    else if (json_is_integer(v))
        out->id = number_text(v);
    else
        return rs_err_set(err, "field '%s' must be a string or an integer", px->id_field);
    return 0;
}

static int parse_tags(const parse_ctx_t *px, const json_t *rec, rs_case_t *out, rs_err_t *err)
{
    const json_t *v = json_object_get(rec, px->tags_field);
    if (!v || json_is_null(v)) return 0;
    if (json_is_string(v)) {
        push_str(&out->tags, &out->n_tags, rs_xstrdup(json_string_value(v)));
        return 0;
    }
    size_t i;
    const json_t *t;
    if (json_is_array(v)) {
        json_array_foreach(v, i, t)
        {
            if (!json_is_string(t)) break;
            push_str(&out->tags, &out->n_tags, rs_xstrdup(json_string_value(t)));
        }
        if (i == json_array_size(v)) return 0;
    }
    return rs_err_set(err, "field '%s' must be a string or a list of strings", px->tags_field);
}

/* One accepted answer: a string or a number, reduced by target_regex when there is one. */
static int add_target(const parse_ctx_t *px, const json_t *v, rs_case_t *out, rs_err_t *err)
{
    if (!json_is_string(v) && !json_is_number(v))
        return rs_err_set(err, "field '%s' must be a string, a number or a list of them",
                          px->target_field);
    char *text = json_is_string(v) ? rs_xstrdup(json_string_value(v)) : number_text(v);
    if (px->target_re) {
        size_t start, len;
        int rc = rs_regex_find(px->target_re, text, strlen(text), 0, &start, &len);
        char *match = rc == RS_REGEX_FOUND ? dup_trimmed(text + start, len) : NULL;
        free(text);
        if (rc != RS_REGEX_FOUND)
            return rs_err_set(err, "target_regex '%s' did not match field '%s'%s%s%s",
                              px->target_pattern, px->target_field, rc < 0 ? " (" : "",
                              rc < 0 ? rs_regex_outcome(rc) : "", rc < 0 ? ")" : "");
        text = match;
    }
    push_str(&out->targets, &out->n_targets, text);
    return 0;
}

static int parse_targets(const parse_ctx_t *px, const json_t *rec, rs_case_t *out, rs_err_t *err)
{
    const json_t *v = json_object_get(rec, px->target_field);
    if (!v) return rs_err_set(err, "field '%s' missing", px->target_field);
    if (!json_is_array(v)) return add_target(px, v, out, err);
    size_t i;
    const json_t *t;
    json_array_foreach(v, i, t)
    {
        if (add_target(px, t, out, err) < 0) return -1;
    }
    return 0;
}

static void add_msg(rs_case_t *out, const char *role, char *content)
{
    out->msgs = rs_xrealloc(out->msgs, (out->n_msgs + 1) * sizeof(*out->msgs));
    out->msgs[out->n_msgs].role = rs_xstrdup(role);
    out->msgs[out->n_msgs].content = content;
    out->n_msgs++;
}

static int jsonl_msgs(const parse_ctx_t *px, const json_t *rec, rs_case_t *out, rs_err_t *err)
{
    const json_t *v = json_object_get(rec, px->input_field);
    if (!v) return rs_err_set(err, "field '%s' missing", px->input_field);
    if (!json_is_string(v)) return rs_err_set(err, "field '%s' must be a string", px->input_field);
    char *user = rs_prompt_render(px->template, rec, px->input_field, err);
    if (!user) return -1;
    if (px->system) add_msg(out, "system", rs_xstrdup(px->system));
    add_msg(out, "user", user);
    out->input = rs_xstrdup(json_string_value(v));
    return 0;
}

/* Evals input: a list of {role, content} messages; a plain string is taken as one user message
 * (some evals registries use completion-style prompts). */
static int evals_msgs(const parse_ctx_t *px, const json_t *rec, rs_case_t *out, rs_err_t *err)
{
    const json_t *v = json_object_get(rec, px->input_field);
    if (!v) return rs_err_set(err, "field '%s' missing", px->input_field);
    if (!json_is_array(v) && !json_is_string(v))
        return rs_err_set(err, "field '%s' must be a list of chat messages", px->input_field);
    if (json_is_array(v) && json_array_size(v) == 0)
        return rs_err_set(err, "field '%s' must not be an empty list", px->input_field);
    if (px->system) add_msg(out, "system", rs_xstrdup(px->system));
    if (json_is_string(v)) {
        add_msg(out, "user", rs_xstrdup(json_string_value(v)));
        return 0;
    }
    size_t i;
    const json_t *m;
    json_array_foreach(v, i, m)
    {
        const json_t *role = json_object_get(m, "role"), *content = json_object_get(m, "content");
        if (!json_is_string(role) || !*json_string_value(role) || !json_is_string(content))
            return rs_err_set(err,
                              "field '%s' message %zu must be an object with string 'role' "
                              "and 'content'",
                              px->input_field, i + 1);
        add_msg(out, json_string_value(role), rs_xstrdup(json_string_value(content)));
    }
    return 0;
}

/* The evals input as read: no template applies, so it is the prompt without system messages. */
static int evals_case(const parse_ctx_t *px, const json_t *rec, rs_case_t *out, rs_err_t *err)
{
    if (evals_msgs(px, rec, out, err) < 0) return -1;
    out->input = rs_chat_text(out->msgs, out->n_msgs);
    return 0;
}

static int fill_case(const parse_ctx_t *px, const json_t *rec, uint64_t line_no, rs_case_t *out,
                     rs_err_t *err)
{
    if (!json_is_object(rec)) return rs_err_set(err, "line is not a JSON object");
    int rc = px->format == RS_FORMAT_EVALS ? evals_case(px, rec, out, err)
                                           : jsonl_msgs(px, rec, out, err);
    if (rc == 0) rc = parse_targets(px, rec, out, err);
    if (rc == 0) rc = parse_id(px, rec, line_no, out, err);
    if (rc == 0) rc = parse_tags(px, rec, out, err);
    return rc;
}

static int json_fail(const json_error_t *jerr, rs_err_t *err)
{
#if JANSSON_VERSION_HEX >= 0x020b00
    if (json_error_code(jerr) == json_error_invalid_utf8) return rs_err_set(err, "invalid UTF-8");
#endif
    return rs_err_set(err, "invalid JSON: %s (column %d)", jerr->text, jerr->column);
}

static int parse_case(const parse_ctx_t *px, const char *line, size_t len, uint64_t line_no,
                      rs_case_t *out, rs_err_t *err)
{
    memset(out, 0, sizeof(*out));
    json_error_t jerr;
    json_t *rec = json_loadb(line, len, 0, &jerr);
    int rc = rec ? fill_case(px, rec, line_no, out, err) : json_fail(&jerr, err);
    json_decref(rec);
    if (rc < 0) {
        rs_case_cleanup(out);
        return rs_err_prefix(err, "%s:%" PRIu64, px->where, line_no);
    }
    return 0;
}

int rs_dataset_parse_line(const rs_config_t *cfg, const char *line, size_t len, uint64_t line_no,
                          rs_case_t *out, rs_err_t *err)
{
    parse_ctx_t px;
    memset(out, 0, sizeof(*out));
    if (ctx_init(&px, cfg, nonempty(cfg->dataset.path, "<dataset>"), err) < 0) return -1;
    int rc = parse_case(&px, line, len, line_no, out, err);
    ctx_cleanup(&px);
    return rc;
}

/* ---- the scan ---- */

/* The ids seen so far, for the duplicate check: the index of each case, open addressing by the
 * XXH64 of its id, which the dataset keeps anyway (ds->id_hash) and is not copied here. Two ids
 * with the same hash are compared by re-reading the earlier case, so the set costs 4 bytes a slot
 * (at most 4 slots a case), never the ids' text: it decides the scan's peak memory at 1M cases. */
typedef struct id_set {
    uint32_t *ref; /* case index + 1; 0 = empty slot */
    size_t cap, n;
} id_set_t;

typedef struct scan {
    rs_dataset_t *ds;
    id_set_t ids;
    uint64_t limit;   /* 0 = all */
    int skip;         /* on_error=skip */
    uint64_t line_no; /* lines seen so far */
    int done;         /* limit reached: the rest of the file is only hashed */
    int discarding;   /* inside an over-long line: drop bytes up to its newline */
    rs_dataset_case_fn each; /* given every valid case as it is scanned; may be NULL */
    void *each_arg;
} scan_t;

/* A bad line stops the scan (on_error=fail) or is counted and its reason kept (skip). */
static int bad_line(scan_t *sc, rs_err_t *err, rs_err_t *why)
{
    rs_dataset_t *ds = sc->ds;
    if (!sc->skip) {
        if (err) *err = *why;
        return -1;
    }
    ds->skipped++;
    if (ds->n_reasons < MAX_SKIP_REASONS)
        push_str(&ds->reasons, &ds->n_reasons, rs_xstrdup(why->msg));
    return 0;
}

static int too_long(scan_t *sc, rs_err_t *err)
{
    rs_err_t why;
    rs_err_set(&why, "%s:%" PRIu64 ": line longer than 16 MiB", sc->ds->px.where, sc->line_no);
    return bad_line(sc, err, &why);
}

static int is_blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!is_space(s[i])) return 0;
    return 1;
}

/* The per-case arrays (lines, id_hash, the scan's id set) live in pages of their own, grown with
 * mremap and given back with munmap: at a million cases they are 40 MB, and grown by doubling in
 * the heap (where the coordinator keeps blocks below 16 MiB, coordinator/main.c) each old copy
 * would leave a hole that the process's peak RSS keeps. New pages read as zeros. */
static void *pages_resize(void *p, size_t old_bytes, size_t new_bytes)
{
    void *q = p ? mremap(p, old_bytes, new_bytes, MREMAP_MAYMOVE)
                : mmap(NULL, new_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (q == MAP_FAILED) {
        fprintf(stderr, "reasonsaver: out of memory allocating %zu bytes\n", new_bytes);
        abort();
    }
    return q;
}

static void pages_free(void *p, size_t bytes)
{
    if (p) munmap(p, bytes);
}

static void add_ref(rs_dataset_t *ds, uint64_t off, size_t len, uint64_t line_no, uint64_t id_hash)
{
    if (ds->n_lines == ds->cap_lines) {
        size_t cap = ds->cap_lines ? ds->cap_lines * 2 : 1024;
        ds->lines = pages_resize(ds->lines, ds->cap_lines * sizeof(*ds->lines), cap * sizeof(*ds->lines));
        ds->id_hash = pages_resize(ds->id_hash, ds->cap_lines * sizeof(*ds->id_hash),
                                   cap * sizeof(*ds->id_hash));
        ds->cap_lines = cap;
    }
    ds->id_hash[ds->n_lines] = id_hash;
    ds->lines[ds->n_lines++] = (line_ref_t){off, (uint32_t)len, (uint32_t)line_no};
}

static void ids_grow(id_set_t *set, const uint64_t *id_hash)
{
    size_t cap = set->cap ? 2 * set->cap : 1024;
    uint32_t *ref = pages_resize(NULL, 0, cap * sizeof(uint32_t));
    for (size_t i = 0; i < set->cap; i++) {
        if (!set->ref[i]) continue;
        size_t j = (size_t)id_hash[set->ref[i] - 1] & (cap - 1);
        while (ref[j]) j = (j + 1) & (cap - 1);
        ref[j] = set->ref[i];
    }
    pages_free(set->ref, set->cap * sizeof(uint32_t));
    set->ref = ref, set->cap = cap;
}

/* Adds the id (whose hash is h) of the case about to become index ds->n_lines. 0, or -1 with
 * *line_no the line of an earlier case with the same id. */
static int ids_add(scan_t *sc, const char *id, uint64_t h, uint64_t *line_no, rs_err_t *err)
{
    id_set_t *set = &sc->ids;
    if (2 * (set->n + 1) > set->cap) ids_grow(set, sc->ds->id_hash);
    size_t j = (size_t)h & (set->cap - 1);
    for (; set->ref[j]; j = (j + 1) & (set->cap - 1)) {
        if (sc->ds->id_hash[set->ref[j] - 1] != h) continue;
        rs_case_t prev;
        if (rs_dataset_read(sc->ds, set->ref[j] - 1, &prev, err) < 0) return -1;
        int same = strcmp(prev.id, id) == 0;
        rs_case_cleanup(&prev);
        if (same) {
            *line_no = sc->ds->lines[set->ref[j] - 1].line_no;
            return -1;
        }
    }
    set->ref[j] = (uint32_t)(sc->ds->n_lines + 1);
    set->n++;
    return 0;
}

/* One complete line (without its newline) at file offset off. */
static int scan_line(scan_t *sc, const char *s, size_t len, uint64_t off, rs_err_t *err)
{
    rs_dataset_t *ds = sc->ds;
    if (++sc->line_no > UINT32_MAX)
        return rs_err_set(err, "%s: more than %" PRIu32 " lines", ds->px.where, UINT32_MAX);
    if (len > RS_DATASET_MAX_LINE) return too_long(sc, err);
    /* A UTF-8 byte order mark is allowed at the start of the file (editors on Windows add one). */
    if (off == 0 && len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) s += 3, len -= 3, off += 3;
    if (is_blank(s, len)) return 0;
    rs_case_t c;
    rs_err_t why;
    if (parse_case(&ds->px, s, len, sc->line_no, &c, &why) < 0) return bad_line(sc, err, &why);
    /* `trace` and `compare` find cases by id, and a record names its case by it: one id, one case. */
    uint64_t first = 0, h = rs_dataset_hash_id(c.id);
    why.msg[0] = '\0';
    int dup = ids_add(sc, c.id, h, &first, &why);
    if (dup && first) {
        rs_buf_t id;
        rs_buf_init(&id);
        rs_err_set(&why, "%s:%" PRIu64 ": duplicate id '%s' (first on %s:%" PRIu64 ")",
                   ds->px.where, sc->line_no, rs_text_safe_str(&id, c.id, RS_TEXT_SPACES),
                   ds->px.where, first);
        rs_buf_cleanup(&id);
    }
    if (dup && !first) { /* the earlier case could not be re-read: the file changed under us */
        rs_case_cleanup(&c);
        if (err) *err = why;
        return -1;
    }
    if (dup) {
        rs_case_cleanup(&c);
        return bad_line(sc, err, &why);
    }
    add_ref(ds, off, len, sc->line_no, h);
    if (sc->limit && ds->n_lines >= sc->limit) sc->done = 1;
    c.idx = ds->n_lines - 1;
    int rc = sc->each ? sc->each(&c, sc->each_arg, err) : 0;
    rs_case_cleanup(&c);
    return rc;
}

/* Consumes the complete lines in buf (which starts at file offset *buf_off) and keeps the
 * unfinished tail at its front. *scanned: bytes of the tail already known to hold no newline. */
static int scan_buffer(scan_t *sc, rs_buf_t *buf, uint64_t *buf_off, size_t *scanned, rs_err_t *err)
{
    size_t pos = 0;
    char *nl;
    while (!sc->done && (nl = memchr(buf->data + *scanned, '\n', buf->len - *scanned))) {
        size_t end = (size_t)(nl - buf->data);
        if (sc->discarding)
            sc->discarding = 0; /* the over-long line ends here; it was counted already */
        else if (scan_line(sc, buf->data + pos, end - pos, *buf_off + pos, err) < 0)
            return -1;
        pos = end + 1;
        *scanned = pos;
    }
    size_t tail = buf->len - pos;
    if (sc->done || sc->discarding) {
        pos = buf->len, tail = 0; /* nothing left that needs parsing */
    } else if (tail > RS_DATASET_MAX_LINE) {
        sc->line_no++;
        if (too_long(sc, err) < 0) return -1;
        sc->discarding = 1;
        pos = buf->len, tail = 0;
    }
    if (pos > 0) memmove(buf->data, buf->data + pos, tail); /* a long line moves only once */
    buf->len = tail;
    *buf_off += pos;
    *scanned = tail;
    return 0;
}

static ssize_t read_some(int fd, void *p, size_t n)
{
    ssize_t r;
    do
        r = read(fd, p, n);
    while (r < 0 && errno == EINTR);
    return r;
}

/* Reads the file once: hashes every byte and scans every line. */
static int scan_file(scan_t *sc, rs_err_t *err)
{
    rs_dataset_t *ds = sc->ds;
    rs_buf_t buf;
    rs_buf_init(&buf);
    uint64_t buf_off = 0;
    size_t scanned = 0;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    int rc = 0;
    for (;;) {
        rs_buf_reserve(&buf, SCAN_CHUNK);
        ssize_t r = read_some(ds->fd, buf.data + buf.len, SCAN_CHUNK);
        if (r < 0) {
            rc = rs_err_set(err, "%s: %s", ds->px.where, strerror(errno));
            break;
        }
        if (r == 0) break;
        EVP_DigestUpdate(md, buf.data + buf.len, (size_t)r);
        buf.len += (size_t)r;
        if ((rc = scan_buffer(sc, &buf, &buf_off, &scanned, err)) < 0) break;
    }
    /* The last line may lack its newline. */
    if (rc == 0 && buf.len > 0 && !sc->done && !sc->discarding)
        rc = scan_line(sc, buf.data, buf.len, buf_off, err);
    unsigned char digest[32];
    EVP_DigestFinal_ex(md, digest, NULL);
    EVP_MD_CTX_free(md);
    rs_hex(digest, sizeof(digest), ds->sha256);
    rs_buf_cleanup(&buf);
    return rc;
}

rs_dataset_t *rs_dataset_open(const rs_config_t *cfg, rs_err_t *err)
{
    return rs_dataset_open_each(cfg, NULL, NULL, err);
}

rs_dataset_t *rs_dataset_open_each(const rs_config_t *cfg, rs_dataset_case_fn each, void *arg,
                                   rs_err_t *err)
{
    if (!cfg->dataset.path || !*cfg->dataset.path) {
        rs_err_set(err, "dataset.path is not set");
        return NULL;
    }
    char *path = rs_config_dataset_path(cfg);
    if (!path) {
        rs_err_set(err, "dataset.path '%s' cannot be resolved", cfg->dataset.path);
        return NULL;
    }
    rs_dataset_t *ds = rs_xcalloc(1, sizeof(*ds));
    ds->fd = -1;
    rs_buf_init(&ds->line);
    int rc = ctx_init(&ds->px, cfg, path, err);
    free(path);
    if (rc < 0) {
        free(ds);
        return NULL;
    }
    ds->fd = open(ds->px.where, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (ds->fd < 0 || fstat(ds->fd, &st) < 0) {
        rs_err_set(err, "%s: %s", ds->px.where, strerror(errno));
    } else if (S_ISDIR(st.st_mode)) {
        rs_err_set(err, "%s: is a directory, not a JSONL file", ds->px.where);
    } else {
        scan_t sc = {.ds = ds,
                     .limit = cfg->dataset.limit > 0 ? (uint64_t)cfg->dataset.limit : 0,
                     .skip = cfg->dataset.on_error == RS_ON_ERROR_SKIP,
                     .each = each,
                     .each_arg = arg};
        rc = scan_file(&sc, err);
        pages_free(sc.ids.ref, sc.ids.cap * sizeof(uint32_t));
        if (rc == 0) return ds;
    }
    rs_dataset_destroy(&ds);
    return NULL;
}

void rs_dataset_destroy(rs_dataset_t **ds)
{
    if (!ds || !*ds) return;
    rs_dataset_t *d = *ds;
    if (d->fd >= 0) close(d->fd);
    ctx_cleanup(&d->px);
    pages_free(d->lines, d->cap_lines * sizeof(*d->lines));
    pages_free(d->id_hash, d->cap_lines * sizeof(*d->id_hash));
    free_strs(d->reasons, d->n_reasons);
    rs_buf_cleanup(&d->line);
    free(d);
    *ds = NULL;
}

uint64_t rs_dataset_count(const rs_dataset_t *ds)
{
    return ds->n_lines;
}

uint64_t rs_dataset_skipped(const rs_dataset_t *ds)
{
    return ds->skipped;
}

const char *rs_dataset_sha256(const rs_dataset_t *ds)
{
    return ds->sha256;
}

uint64_t rs_dataset_hash_id(const char *id)
{
    return XXH64(id, strlen(id), 0);
}

uint64_t rs_dataset_id_hash(const rs_dataset_t *ds, uint64_t idx)
{
    return idx < ds->n_lines ? ds->id_hash[idx] : 0;
}

const char *rs_dataset_path(const rs_dataset_t *ds)
{
    return ds->px.where;
}

size_t rs_dataset_skip_reasons(const rs_dataset_t *ds, const char *const **reasons)
{
    *reasons = (const char *const *)ds->reasons;
    return ds->n_reasons;
}

int rs_dataset_read(rs_dataset_t *ds, uint64_t idx, rs_case_t *out, rs_err_t *err)
{
    memset(out, 0, sizeof(*out));
    if (idx >= ds->n_lines)
        return rs_err_set(err, "%s: case %" PRIu64 " out of range (%zu cases)", ds->px.where, idx,
                          ds->n_lines);
    const line_ref_t *ref = &ds->lines[idx];
    rs_buf_reset(&ds->line);
    rs_buf_reserve(&ds->line, ref->len);
    size_t got = 0;
    while (got < ref->len) {
        ssize_t r = pread(ds->fd, ds->line.data + got, ref->len - got, (off_t)(ref->off + got));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) return rs_err_set(err, "%s: %s", ds->px.where, strerror(errno));
        if (r == 0) return rs_err_set(err, "%s: file shrank since it was opened", ds->px.where);
        got += (size_t)r;
    }
    if (parse_case(&ds->px, ds->line.data, ref->len, ref->line_no, out, err) < 0) return -1;
    out->idx = idx;
    return 0;
}
