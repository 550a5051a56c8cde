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

#include "csvrec.h"
#include "dsource.h"
#include "hfdir.h"
#include "jdoc.h"
#include "jsonw.h"
#include "regex.h"

#define MAX_SKIP_REASONS 100

/* Everything the line parser needs, copied out of the config so a dataset does not depend on the
 * config's lifetime, with defaults filled in and target_regex compiled once (compiling per read
 * would dominate rs_dataset_read). */
typedef struct parse_ctx {
    char *where; /* the path, for "path:line:" messages */
    rs_dataset_format_t format;
    char *input_field, *target_field, *id_field, *tags_field;
    char *cluster_field; /* NULL: no clusters */
    /* The prompt variants (rs_config_variant): system message (NULL: none) and jsonl user
     * message of each; variant is the one a case is rendered with. check_variants (the scan)
     * renders the others too, so that a template naming a missing field fails at the scan,
     * not in the middle of a run. */
    char **systems, **templates, **names;
    size_t n_variants, variant;
    int check_variants;
    char *target_pattern;
    rs_regex_t *target_re; /* NULL: targets taken as they are */
    rs_jdoc_t *doc; /* the record being read, reused: a jansson tree built and freed per case
                       was a fifth of the coordinator's dispatch */
} parse_ctx_t;

/* One valid line: 16 bytes per case, never the text. Line numbers fit 32 bits (checked). */
typedef struct line_ref {
    uint64_t off;
    uint32_t len;
    uint32_t line_no;
} line_ref_t;

/* How a file's bytes hold records. */
typedef enum kind { KIND_JSONL, KIND_JSON, KIND_CSV, KIND_TSV } kind_t;
static const char *const kind_names[] = {"jsonl", "json", "csv", "tsv"};

/* One file of the dataset: the dataset itself, or one shard of a Hugging Face folder. A record's
 * offset is "virtual": base + its offset in the file's (decompressed) bytes, so that one 64-bit
 * offset names both the file and the place in it, and line_ref_t stays 16 bytes. */
typedef struct source {
    char *path;
    char *id_prefix; /* NULL for a dataset of one file; else the file's name, for default ids */
    kind_t kind;
    rs_compression_t comp;
    int fd;          /* the file, or its decompressed copy (common/dsource.h) */
    uint64_t base, size;
    char **cols;     /* csv / tsv: the header's column names */
    size_t n_cols;
    uint64_t cases, bad;
} source_t;

struct rs_dataset {
    parse_ctx_t px;
    source_t *src;
    size_t n_src;
    char *split; /* a Hugging Face folder's split; NULL otherwise */
    line_ref_t *lines;
    size_t n_lines, cap_lines;
    uint64_t skipped;
    char **reasons;
    size_t n_reasons;
    char sha256[65];
    rs_buf_t line; /* rs_dataset_read's line buffer, reused */
    /* Bytes read ahead of rs_dataset_read: a run reads its cases mostly in file order, and a
     * pread(2) per case was a sixth of the coordinator's dispatch */
    char *ahead;
    const source_t *ahead_src;
    uint64_t ahead_off; /* in ahead_src */
    size_t ahead_len;
    rs_csv_t *csv; /* rs_dataset_read's CSV parser, made on first use */
    rs_buf_t csv_text; /* a CSV row written as a JSON object, reused */
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
static char *number_text(const rs_jv_t *v)
{
    if (v->type == RS_JINT) return rs_xasprintf("%lld", v->u.i);
    double d = v->u.d;
    char tmp[64];
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*g", prec, d);
        if (strtod(tmp, NULL) == d) break;
    }
    return rs_xstrdup(tmp);
}

/* A JSON value as prompt/target text: strings verbatim, numbers as number_text, the rest as
 * compact JSON. */
static void append_value(rs_buf_t *out, const rs_jv_t *v)
{
    if (v->type == RS_JSTR) {
        rs_buf_append(out, v->u.s, v->n);
    } else if (rs_jv_is_number(v)) {
        char *s = number_text(v);
        rs_buf_puts(out, s);
        free(s);
    } else {
        json_t *j = rs_jv_json(v);
        rs_jsonw_append(out, j); /* the document was read as JSON: its parts write as JSON */
        json_decref(j);
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
    free(c->cluster);
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

char *rs_prompt_render(const char *tmpl, const rs_jv_t *record, const char *input_field,
                       rs_err_t *err)
{
    rs_buf_t out;
    rs_buf_init(&out);
    const char *p = tmpl, *lit, *name;
    size_t lit_len, name_len;
    int rc;
    while ((rc = tmpl_next(tmpl, &p, &lit, &lit_len, &name, &name_len, err)) == 1) {
        rs_buf_append(&out, lit, lit_len);
        if (name_len == 5 && memcmp(name, "input", 5) == 0) {
            name = nonempty(input_field, "input");
            name_len = strlen(name);
        }
        const rs_jv_t *v = rs_jv_getn(record, name, name_len);
        if (!v) {
            rs_err_set(err, "prompt template: field '%.*s' missing from the record", (int)name_len,
                       name);
            rs_buf_cleanup(&out);
            return NULL;
        }
        append_value(&out, v);
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
    free(px->cluster_field);
    free_strs(px->systems, px->n_variants);
    free_strs(px->templates, px->n_variants);
    free_strs(px->names, px->n_variants);
    free(px->target_pattern);
    rs_regex_destroy(&px->target_re);
    rs_jdoc_free(&px->doc);
    memset(px, 0, sizeof(*px));
}

static int ctx_init(parse_ctx_t *px, const rs_config_t *cfg, const char *where, rs_err_t *err)
{
    const rs_dataset_cfg_t *d = &cfg->dataset;
    int evals = d->format == RS_FORMAT_EVALS;
    memset(px, 0, sizeof(*px));
    px->where = rs_xstrdup(where);
    px->doc = rs_jdoc_new();
    px->format = d->format;
    px->input_field = rs_xstrdup(nonempty(d->input_field, evals ? "input" : "question"));
    px->target_field = rs_xstrdup(nonempty(d->target_field, evals ? "ideal" : "answer"));
    px->id_field = rs_xstrdup(nonempty(d->id_field, "id"));
    px->tags_field = rs_xstrdup(nonempty(d->tags_field, "tags"));
    if (d->cluster_field && *d->cluster_field) px->cluster_field = rs_xstrdup(d->cluster_field);
    px->n_variants = rs_config_variants(cfg);
    px->systems = rs_xcalloc(px->n_variants, sizeof(char *));
    px->templates = rs_xcalloc(px->n_variants, sizeof(char *));
    px->names = rs_xcalloc(px->n_variants, sizeof(char *));
    for (size_t i = 0; i < px->n_variants; i++) {
        const char *name;
        const rs_prompt_cfg_t *p = rs_config_variant(cfg, i, &name);
        if (p->system && *p->system) px->systems[i] = rs_xstrdup(p->system);
        px->templates[i] = rs_xstrdup(nonempty(p->template, "{{input}}"));
        px->names[i] = rs_xstrdup(name);
    }
    if (d->target_regex && *d->target_regex) {
        px->target_pattern = rs_xstrdup(d->target_regex);
        px->target_re = rs_regex_new(d->target_regex, 0, err);
        if (!px->target_re) {
            ctx_cleanup(px);
            return rs_err_prefix(err, "dataset.target_regex");
        }
    }
    for (size_t i = 0; !evals && i < px->n_variants; i++)
        if (tmpl_check(px->templates[i], err) < 0) {
            if (px->n_variants > 1) rs_err_prefix(err, "prompt '%s'", px->names[i]);
            ctx_cleanup(px);
            return -1;
        }
    return 0;
}

/* ---- one record -> one case ---- */

/* A record without an id is named by its line; in a dataset of several files (a Hugging Face
 * folder's shards) by "FILE:LINE", FILE the shard's name, so that ids stay unique. */
static char *default_id(const char *id_prefix, uint64_t line_no)
{
    return id_prefix ? rs_xasprintf("%s:%" PRIu64, id_prefix, line_no)
                     : rs_xasprintf("%" PRIu64, line_no);
}

static int parse_id(const parse_ctx_t *px, const rs_jv_t *rec, uint64_t line_no,
                    const char *id_prefix, rs_case_t *out, rs_err_t *err)
{
    const rs_jv_t *v = rs_jv_getn(rec, px->id_field, strlen(px->id_field));
    if (!v || v->type == RS_JNULL)
        out->id = default_id(id_prefix, line_no);
    else if (v->type == RS_JSTR)
        out->id = rs_xstrdup(v->u.s);
    else if (v->type == RS_JINT)
        out->id = number_text(v);
    else
        return rs_err_set(err, "field '%s' must be a string or an integer", px->id_field);
    return 0;
}

static int parse_tags(const parse_ctx_t *px, const rs_jv_t *rec, rs_case_t *out, rs_err_t *err)
{
    const rs_jv_t *v = rs_jv_getn(rec, px->tags_field, strlen(px->tags_field));
    if (!v || v->type == RS_JNULL) return 0;
    if (v->type == RS_JSTR) {
        push_str(&out->tags, &out->n_tags, rs_xstrdup(v->u.s));
        return 0;
    }
    size_t i;
    const rs_jv_t *t;
    if (v->type == RS_JARR) {
        rs_jv_array_foreach(v, i, t)
        {
            if (t->type != RS_JSTR) break;
            push_str(&out->tags, &out->n_tags, rs_xstrdup(t->u.s));
        }
        if (i == v->n) return 0;
    }
    return rs_err_set(err, "field '%s' must be a string or a list of strings", px->tags_field);
}

/* One accepted answer: a string or a number, reduced by target_regex when there is one. */
static int add_target(const parse_ctx_t *px, const rs_jv_t *v, rs_case_t *out, rs_err_t *err)
{
    if (v->type != RS_JSTR && !rs_jv_is_number(v))
        return rs_err_set(err, "field '%s' must be a string, a number or a list of them",
                          px->target_field);
    char *text = v->type == RS_JSTR ? rs_xstrdup(v->u.s) : number_text(v);
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

static int parse_targets(const parse_ctx_t *px, const rs_jv_t *rec, rs_case_t *out, rs_err_t *err)
{
    const rs_jv_t *v = rs_jv_getn(rec, px->target_field, strlen(px->target_field));
    if (!v) return rs_err_set(err, "field '%s' missing", px->target_field);
    if (v->type != RS_JARR) return add_target(px, v, out, err);
    size_t i;
    const rs_jv_t *t;
    rs_jv_array_foreach(v, i, t)
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

/* Names the variant whose template failed, when there are several. */
static int variant_fail(const parse_ctx_t *px, size_t i, rs_err_t *err)
{
    if (px->n_variants > 1) rs_err_prefix(err, "prompt '%s'", px->names[i]);
    return -1;
}

static int jsonl_msgs(const parse_ctx_t *px, const rs_jv_t *rec, rs_case_t *out, rs_err_t *err)
{
    const rs_jv_t *v = rs_jv_getn(rec, px->input_field, strlen(px->input_field));
    if (!v) return rs_err_set(err, "field '%s' missing", px->input_field);
    if (v->type != RS_JSTR) return rs_err_set(err, "field '%s' must be a string", px->input_field);
    char *user = rs_prompt_render(px->templates[px->variant], rec, px->input_field, err);
    if (!user) return variant_fail(px, px->variant, err);
    for (size_t i = 0; px->check_variants && i < px->n_variants; i++) {
        char *other = i == px->variant ? NULL : rs_prompt_render(px->templates[i], rec,
                                                                 px->input_field, err);
        if (!other && i != px->variant) {
            free(user);
            return variant_fail(px, i, err);
        }
        free(other);
    }
    if (px->systems[px->variant]) add_msg(out, "system", rs_xstrdup(px->systems[px->variant]));
    add_msg(out, "user", user);
    out->input = rs_xstrdup(v->u.s);
    return 0;
}

/* Evals input: a list of {role, content} messages; a plain string is taken as one user message
 * (some evals registries use completion-style prompts). */
static int evals_msgs(const parse_ctx_t *px, const rs_jv_t *rec, rs_case_t *out, rs_err_t *err)
{
    const rs_jv_t *v = rs_jv_getn(rec, px->input_field, strlen(px->input_field));
    if (!v) return rs_err_set(err, "field '%s' missing", px->input_field);
    if (v->type != RS_JARR && v->type != RS_JSTR)
        return rs_err_set(err, "field '%s' must be a list of chat messages", px->input_field);
    if (v->type == RS_JARR && v->n == 0)
        return rs_err_set(err, "field '%s' must not be an empty list", px->input_field);
    if (px->systems[px->variant]) add_msg(out, "system", rs_xstrdup(px->systems[px->variant]));
    if (v->type == RS_JSTR) {
        add_msg(out, "user", rs_xstrdup(v->u.s));
        return 0;
    }
    size_t i;
    const rs_jv_t *m;
    rs_jv_array_foreach(v, i, m)
    {
        const char *role = rs_jv_str(rs_jv_get(m, "role"));
        const char *content = rs_jv_str(rs_jv_get(m, "content"));
        if (!role || !*role || !content)
            return rs_err_set(err,
                              "field '%s' message %zu must be an object with string 'role' "
                              "and 'content'",
                              px->input_field, i + 1);
        add_msg(out, role, rs_xstrdup(content));
    }
    return 0;
}

/* The evals input as read: no template applies, so it is the prompt without system messages. */
static int evals_case(const parse_ctx_t *px, const rs_jv_t *rec, rs_case_t *out, rs_err_t *err)
{
    if (evals_msgs(px, rec, out, err) < 0) return -1;
    out->input = rs_chat_text(out->msgs, out->n_msgs);
    return 0;
}

/* The cluster field is required when configured: a case left out of its cluster would shrink
 * the standard error it is there to widen. */
static int parse_cluster(const parse_ctx_t *px, const rs_jv_t *rec, rs_case_t *out, rs_err_t *err)
{
    if (!px->cluster_field) return 0;
    const rs_jv_t *v = rs_jv_getn(rec, px->cluster_field, strlen(px->cluster_field));
    if (rs_jv_str(v) && *v->u.s)
        out->cluster = rs_xstrdup(v->u.s);
    else if (rs_jv_is_int(v))
        out->cluster = number_text(v);
    else
        return rs_err_set(err, "field '%s' (dataset.fields.cluster) must be a non-empty string or "
                          "an integer", px->cluster_field);
    return 0;
}

static int fill_case(const parse_ctx_t *px, const rs_jv_t *rec, uint64_t line_no,
                     const char *id_prefix, rs_case_t *out, rs_err_t *err)
{
    if (rec->type != RS_JOBJ) return rs_err_set(err, "line is not a JSON object");
    int rc = px->format == RS_FORMAT_EVALS ? evals_case(px, rec, out, err)
                                           : jsonl_msgs(px, rec, out, err);
    if (rc == 0) rc = parse_targets(px, rec, out, err);
    if (rc == 0) rc = parse_id(px, rec, line_no, id_prefix, out, err);
    if (rc == 0) rc = parse_tags(px, rec, out, err);
    if (rc == 0) rc = parse_cluster(px, rec, out, err);
    return rc;
}

static int json_fail(const json_error_t *jerr, rs_err_t *err)
{
#if JANSSON_VERSION_HEX >= 0x020b00
    if (json_error_code(jerr) == json_error_invalid_utf8) return rs_err_set(err, "invalid UTF-8");
#endif
    return rs_err_set(err, "invalid JSON: %s (column %d)", jerr->text, jerr->column);
}

/* jansson's reading of a record, read again into doc from its compact text. */
static const rs_jv_t *jv_of_json(rs_jdoc_t *doc, json_t *rec, rs_err_t *err)
{
    size_t n;
    char *text = rs_jsonw_dumps(rec, &n);
    if (!text) {
        rs_err_set(err, "the record cannot be written back as JSON");
        return NULL;
    }
    const rs_jv_t *v = rs_jdoc_read(doc, text, n, RS_JDOC_MAX_DEPTH, err);
    free(text);
    return v;
}

/* A JSON text (json_loadb's flags) as a record in doc. jdoc reads it when it can; a text that it
 * refuses, or whose root is no object, goes through jansson: a bad text gets jansson's message
 * (and jerr its line) as before, duplicate keys are read as jansson reads them (the last one
 * wins), another root gives "not a JSON object" from fill_case. */
static const rs_jv_t *json_record(rs_jdoc_t *doc, const char *s, size_t len, size_t flags,
                                  json_error_t *jerr, rs_err_t *err)
{
    memset(jerr, 0, sizeof(*jerr));
    const rs_jv_t *rec = rs_jdoc_read(doc, s, len, RS_JDOC_MAX_DEPTH, NULL);
    if (rec && rec->type == RS_JOBJ) return rec;
    json_t *j = json_loadb(s, len, flags, jerr);
    if (!j) {
        json_fail(jerr, err);
        return NULL;
    }
    rec = jv_of_json(doc, j, err);
    json_decref(j);
    return rec;
}

static int parse_case(const parse_ctx_t *px, const char *line, size_t len, uint64_t line_no,
                      rs_case_t *out, rs_err_t *err)
{
    memset(out, 0, sizeof(*out));
    json_error_t jerr;
    const rs_jv_t *rec = json_record(px->doc, line, len, 0, &jerr, err);
    int rc = rec ? fill_case(px, rec, line_no, NULL, out, err) : -1;
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
    px.check_variants = 1;
    int rc = parse_case(&px, line, len, line_no, out, err);
    ctx_cleanup(&px);
    return rc;
}

/* ---- one record of any format -> one case ---- */

/* Prefixes err with "path:line:column", the position of byte at of a record that starts on
 * line_no (a CSV record may span lines). */
static int at_offset(rs_err_t *err, const source_t *src, uint64_t line_no, const char *s, size_t at)
{
    size_t col = at + 1;
    for (size_t i = 0; i < at; i++)
        if (s[i] == '\n') line_no++, col = at - i;
    return rs_err_prefix(err, "%s:%" PRIu64 ":%zu", src->path, line_no, col);
}

static char csv_delim(const source_t *src)
{
    return src->kind == KIND_TSV ? '\t' : ',';
}

/* An empty cell of the id or tags column is left out of the record: a CSV cell cannot be null,
 * and an empty id or tag means none. */
static int cell_left_out(const parse_ctx_t *px, const char *col, size_t len)
{
    return len == 0 && (strcmp(col, px->id_field) == 0 || strcmp(col, px->tags_field) == 0);
}

/* The CSV parser of rs_dataset_read, made on first use, set to src's delimiter. */
static rs_csv_t *csv_parser(rs_dataset_t *ds, const source_t *src)
{
    if (!ds->csv) ds->csv = rs_csv_new(csv_delim(src));
    rs_csv_set_delim(ds->csv, csv_delim(src));
    return ds->csv;
}

/* One cell as a JSON string (unless cell_left_out). */
static int csv_cell(const parse_ctx_t *px, const source_t *src, json_t *o, size_t i,
                    const char *f, size_t len, rs_err_t *err)
{
    const char *col = src->cols[i];
    if (cell_left_out(px, col, len)) return 0;
    if (memchr(f, '\0', len)) return rs_err_set(err, "column '%s': a NUL byte", col);
    json_t *v = json_stringn(f, len);
    if (!v) return rs_err_set(err, "column '%s': invalid UTF-8", col);
    if (json_object_set_new(o, col, v) != 0)
        return rs_err_set(err, "column '%s': cannot be a key", col);
    return 0;
}

/* A CSV / TSV record (its bytes without the last newline) as a JSON object: column -> cell. */
static int csv_record_json(rs_dataset_t *ds, const source_t *src, const char *s, size_t len,
                           uint64_t line_no, json_t **rec, rs_err_t *err)
{
    rs_csv_t *csv = csv_parser(ds, src);
    size_t bad_at, n, flen;
    if (rs_csv_parse_record(csv, s, len, &bad_at, err) < 0)
        return at_offset(err, src, line_no, s, bad_at);
    n = rs_csv_nfields(csv);
    if (n != src->n_cols) {
        size_t at = rs_csv_field_offset(csv_delim(src), s, len, n < src->n_cols ? n : src->n_cols);
        rs_err_set(err, "%zu field%s, the header has %zu", n, n == 1 ? "" : "s", src->n_cols);
        return at_offset(err, src, line_no, s, at);
    }
    json_t *o = json_object();
    for (size_t i = 0; i < n; i++) {
        const char *f = rs_csv_field(csv, i, &flen);
        if (csv_cell(&ds->px, src, o, i, f, flen, err) < 0) {
            json_decref(o);
            return at_offset(err, src, line_no, s, rs_csv_field_offset(csv_delim(src), s, len, i));
        }
    }
    *rec = o;
    return 0;
}

/* A record's JSON: the line (jsonl), the array element (json) or the CSV row as an object. 0, or
 * -1 with err "path:line[:column]: what". For rs_dataset_record, which gives the record back. */
static int record_json(rs_dataset_t *ds, const source_t *src, const char *s, size_t len,
                       uint64_t line_no, json_t **rec, rs_err_t *err)
{
    *rec = NULL;
    if (src->kind == KIND_CSV || src->kind == KIND_TSV)
        return csv_record_json(ds, src, s, len, line_no, rec, err);
    json_error_t jerr;
    /* an array element may be any value: "not a JSON object" is then the clearer message */
    *rec = json_loadb(s, len, src->kind == KIND_JSON ? JSON_DECODE_ANY : 0, &jerr);
    if (*rec) return 0;
    json_fail(&jerr, err);
    return rs_err_prefix(err, "%s:%" PRIu64, src->path,
                         line_no + (jerr.line > 1 ? (uint64_t)jerr.line - 1 : 0));
}

/* A CSV / TSV row read straight into ds->px.doc: its cells written as a JSON object's text and
 * read back, without the jansson object csv_record_json makes (and writes out again). NULL for a
 * row that needs that path for its message: a syntax error, a wrong field count, a NUL, text that
 * is not UTF-8. (Column names are UTF-8 and distinct: the header was checked when it was read.) */
static const rs_jv_t *csv_fast_jv(rs_dataset_t *ds, const source_t *src, const char *s, size_t len)
{
    rs_csv_t *csv = csv_parser(ds, src);
    size_t bad_at, flen;
    if (rs_csv_parse_record(csv, s, len, &bad_at, NULL) < 0 || rs_csv_nfields(csv) != src->n_cols)
        return NULL;
    rs_buf_reset(&ds->csv_text);
    rs_jsonw_t w;
    rs_jsonw_object(&w, &ds->csv_text);
    for (size_t i = 0; i < src->n_cols; i++) {
        const char *f = rs_csv_field(csv, i, &flen), *col = src->cols[i];
        if (cell_left_out(&ds->px, col, flen)) continue;
        size_t written = w.n;
        if (!memchr(f, '\0', flen)) rs_jsonw_str(&w, col, f); /* left out when not UTF-8 */
        if (w.n == written) return NULL; /* a NUL or invalid UTF-8: csv_cell says which */
    }
    if (rs_jsonw_end(&w)) return NULL;
    return rs_jdoc_read(ds->px.doc, ds->csv_text.data, ds->csv_text.len, RS_JDOC_MAX_DEPTH, NULL);
}

/* record_json's record, read into ds->px.doc: the same reading, faster. */
static const rs_jv_t *record_jv(rs_dataset_t *ds, const source_t *src, const char *s, size_t len,
                                uint64_t line_no, rs_err_t *err)
{
    if (src->kind == KIND_JSONL || src->kind == KIND_JSON) {
        /* an array element may be any value: "not a JSON object" is then the clearer message */
        json_error_t jerr;
        const rs_jv_t *rec = json_record(ds->px.doc, s, len,
                                         src->kind == KIND_JSON ? JSON_DECODE_ANY : 0, &jerr, err);
        if (!rec)
            rs_err_prefix(err, "%s:%" PRIu64, src->path,
                          line_no + (jerr.line > 1 ? (uint64_t)jerr.line - 1 : 0));
        return rec;
    }
    const rs_jv_t *rec = csv_fast_jv(ds, src, s, len);
    if (rec) return rec;
    json_t *j;
    if (record_json(ds, src, s, len, line_no, &j, err) < 0) return NULL;
    rec = jv_of_json(ds->px.doc, j, err);
    json_decref(j);
    if (!rec) rs_err_prefix(err, "%s:%" PRIu64, src->path, line_no);
    return rec;
}

static int parse_record(rs_dataset_t *ds, const source_t *src, const char *s, size_t len,
                        uint64_t line_no, rs_case_t *out, rs_err_t *err)
{
    memset(out, 0, sizeof(*out));
    const rs_jv_t *rec = record_jv(ds, src, s, len, line_no, err);
    if (!rec) return -1;
    int rc = fill_case(&ds->px, rec, line_no, src->id_prefix, out, err);
    if (rc < 0) {
        rs_case_cleanup(out);
        return rs_err_prefix(err, "%s:%" PRIu64, src->path, line_no);
    }
    return 0;
}

/* ---- the scan ---- */

/* The ids seen so far, for the duplicate check: the index of each case, open addressing by the
 * XXH64 of its id (hash[case]). Two ids with the same hash are compared by re-reading the earlier
 * case, so the set costs 4 bytes a slot (at most 4 slots a case) and 8 a case, never the ids'
 * text: it decides the scan's peak memory at 1M cases. The scan gives it back when it ends: a
 * peer's record is checked against the id of the case as the coordinator leased it. */
typedef struct id_set {
    uint32_t *ref; /* case index + 1; 0 = empty slot */
    size_t cap, n;
    uint64_t *hash; /* [case]: rs_dataset_hash_id of its id */
    size_t cap_hash;
} id_set_t;

/* Where a JSON array's scan is: before '[', before the first element or ']', after an element
 * (',' or ']'), after ',' (an element), after ']' (only blanks). */
enum { J_START, J_FIRST, J_NEXT, J_VALUE, J_END };

typedef struct scan {
    rs_dataset_t *ds;
    source_t *src;    /* the file being scanned */
    id_set_t ids;
    uint64_t limit;   /* 0 = all */
    int skip;         /* on_error=skip */
    uint64_t line_no; /* lines of src seen so far (json: the line being read, from 1) */
    int done;         /* limit reached: the rest of the files is only hashed */
    int discarding;   /* inside an over-long line: drop bytes up to its newline */
    uint64_t next_line, searched; /* file offsets: the next line's start; searched for '\n' */
    rs_csv_t *csv;    /* csv / tsv: the record being read, line by line */
    uint64_t rec_off, rec_line; /* ...its first byte and line */
    int jstate;       /* json: J_* */
    uint64_t col;     /* json: the column being read, from 1 */
    rs_dataset_case_fn each; /* given every valid case as it is scanned; may be NULL */
    void *each_arg;
} scan_t;

/* A bad record stops the scan (on_error=fail) or is counted and its reason kept (skip). */
static int bad_line(scan_t *sc, rs_err_t *err, rs_err_t *why)
{
    rs_dataset_t *ds = sc->ds;
    sc->src->bad++;
    if (!sc->skip) {
        if (err) *err = *why;
        return -1;
    }
    ds->skipped++;
    if (ds->n_reasons < MAX_SKIP_REASONS)
        push_str(&ds->reasons, &ds->n_reasons, rs_xstrdup(why->msg));
    return 0;
}

static int too_long(scan_t *sc, uint64_t line_no, rs_err_t *err)
{
    rs_err_t why;
    rs_err_set(&why, "%s:%" PRIu64 ": %s longer than 16 MiB", sc->src->path, line_no,
               sc->csv ? "record" : "line");
    if (sc->csv) rs_csv_reset(sc->csv);
    return bad_line(sc, err, &why);
}

static int is_blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (!is_space(s[i])) return 0;
    return 1;
}

/* The per-case arrays (lines, the scan's id set and id hashes) live in pages of their own, grown with
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

static void add_ref(rs_dataset_t *ds, uint64_t off, size_t len, uint64_t line_no)
{
    if (ds->n_lines == ds->cap_lines) {
        size_t cap = ds->cap_lines ? ds->cap_lines * 2 : 1024;
        ds->lines = pages_resize(ds->lines, ds->cap_lines * sizeof(*ds->lines), cap * sizeof(*ds->lines));
        ds->cap_lines = cap;
    }
    ds->lines[ds->n_lines++] = (line_ref_t){off, (uint32_t)len, (uint32_t)line_no};
}

static void ids_grow(id_set_t *set)
{
    size_t cap = set->cap ? 2 * set->cap : 1024;
    uint32_t *ref = pages_resize(NULL, 0, cap * sizeof(uint32_t));
    for (size_t i = 0; i < set->cap; i++) {
        if (!set->ref[i]) continue;
        size_t j = (size_t)set->hash[set->ref[i] - 1] & (cap - 1);
        while (ref[j]) j = (j + 1) & (cap - 1);
        ref[j] = set->ref[i];
    }
    pages_free(set->ref, set->cap * sizeof(uint32_t));
    set->ref = ref, set->cap = cap;
}

/* The file that holds virtual offset off: the last whose base is at or below it. */
static const source_t *source_at(const rs_dataset_t *ds, uint64_t off)
{
    size_t lo = 0, hi = ds->n_src;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (ds->src[mid].base <= off) lo = mid;
        else hi = mid;
    }
    return &ds->src[lo];
}

/* Adds the id (whose hash is h) of the case about to become index ds->n_lines. 0, or -1 with
 * *first the case index of an earlier case with the same id. */
static int ids_add(scan_t *sc, const char *id, uint64_t h, uint64_t *first, rs_err_t *err)
{
    id_set_t *set = &sc->ids;
    if (2 * (set->n + 1) > set->cap) ids_grow(set);
    size_t j = (size_t)h & (set->cap - 1);
    for (; set->ref[j]; j = (j + 1) & (set->cap - 1)) {
        if (set->hash[set->ref[j] - 1] != h) continue;
        rs_case_t prev;
        if (rs_dataset_read(sc->ds, set->ref[j] - 1, &prev, err) < 0) return -1;
        int same = strcmp(prev.id, id) == 0;
        rs_case_cleanup(&prev);
        if (same) {
            *first = set->ref[j];
            return -1;
        }
    }
    size_t at = sc->ds->n_lines;
    if (at == set->cap_hash) {
        size_t cap = set->cap_hash ? 2 * set->cap_hash : 1024;
        set->hash = pages_resize(set->hash, set->cap_hash * sizeof(uint64_t), cap * sizeof(uint64_t));
        set->cap_hash = cap;
    }
    set->hash[at] = h;
    set->ref[j] = (uint32_t)(at + 1);
    set->n++;
    return 0;
}

/* `trace` and `compare` find cases by id, and a record names its case by it: one id, one case.
 * 0 when c's id is new; -1 with why set (the duplicate, or the file changed under us: fatal). */
static int check_dup(scan_t *sc, const rs_case_t *c, uint64_t h, uint64_t line_no, int *fatal,
                     rs_err_t *why)
{
    rs_dataset_t *ds = sc->ds;
    uint64_t first = 0;
    why->msg[0] = '\0';
    if (ids_add(sc, c->id, h, &first, why) == 0) return 0;
    *fatal = !first;
    if (first) {
        const line_ref_t *ref = &ds->lines[first - 1];
        rs_buf_t id;
        rs_buf_init(&id);
        rs_err_set(why, "%s:%" PRIu64 ": duplicate id '%s' (first on %s:%" PRIu32 ")",
                   sc->src->path, line_no, rs_text_safe_str(&id, c->id, RS_TEXT_SPACES),
                   source_at(ds, ref->off)->path, ref->line_no);
        rs_buf_cleanup(&id);
    }
    return -1;
}

/* One record: s (len bytes) at offset off in the current file, starting on line line_no. */
static int scan_record(scan_t *sc, const char *s, size_t len, uint64_t off, uint64_t line_no,
                       rs_err_t *err)
{
    rs_dataset_t *ds = sc->ds;
    rs_case_t c;
    rs_err_t why;
    if (parse_record(ds, sc->src, s, len, line_no, &c, &why) < 0) return bad_line(sc, err, &why);
    uint64_t h = rs_dataset_hash_id(c.id);
    int fatal = 0;
    if (check_dup(sc, &c, h, line_no, &fatal, &why) < 0) {
        rs_case_cleanup(&c);
        if (!fatal) return bad_line(sc, err, &why);
        if (err) *err = why;
        return -1;
    }
    add_ref(ds, sc->src->base + off, len, line_no);
    sc->src->cases++;
    if (sc->limit && ds->n_lines >= sc->limit) sc->done = 1;
    c.idx = ds->n_lines - 1;
    int rc = sc->each ? sc->each(&c, sc->each_arg, err) : 0;
    rs_case_cleanup(&c);
    return rc;
}

/* A UTF-8 byte order mark is allowed at the start of a file (editors on Windows add one). */
static size_t bom_len(const char *s, size_t len, uint64_t off)
{
    return off == 0 && len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
}

/* ---- csv / tsv ---- */

/* The header: the first record of the file. Every row would fail without the input and target
 * columns, so a header without them stops the scan even with on_error=skip. */
static int csv_header(scan_t *sc, rs_err_t *err)
{
    source_t *src = sc->src;
    const parse_ctx_t *px = &sc->ds->px;
    size_t len;
    src->n_cols = rs_csv_nfields(sc->csv);
    src->cols = rs_xcalloc(src->n_cols, sizeof(char *));
    for (size_t i = 0; i < src->n_cols; i++) {
        const char *name = rs_csv_field(sc->csv, i, &len);
        json_t *key = memchr(name, '\0', len) ? NULL : json_stringn(name, len);
        if (!key) /* a record's keys are JSON strings: a column that cannot be one is refused */
            return rs_err_set(err, "%s:%" PRIu64 ": column %zu: its name is not UTF-8 text",
                              src->path, sc->rec_line, i + 1);
        json_decref(key);
        src->cols[i] = rs_xstrdup(name);
        for (size_t j = 0; j < i; j++)
            if (strcmp(src->cols[i], src->cols[j]) == 0)
                return rs_err_set(err, "%s:%" PRIu64 ": column %zu: '%s' is also column %zu",
                                  src->path, sc->rec_line, i + 1, src->cols[i], j + 1);
    }
    const char *need[] = {px->input_field, px->target_field};
    for (size_t k = 0; k < RS_ARRAY_LEN(need); k++) {
        size_t i = 0;
        while (i < src->n_cols && strcmp(src->cols[i], need[k]) != 0) i++;
        if (i == src->n_cols)
            return rs_err_set(err, "%s:%" PRIu64 ": the header has no column '%s' (map yours with "
                                   "dataset.fields.%s)",
                              src->path, sc->rec_line, need[k], k == 0 ? "input" : "target");
    }
    return 0;
}

/* A bad record; a bad header stops the scan whatever on_error says: without it there are no
 * columns. */
static int csv_bad(scan_t *sc, rs_err_t *err, rs_err_t *why)
{
    if (sc->src->cols) return bad_line(sc, err, why);
    if (err) *err = *why;
    return -1;
}

static int only_cr(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] != '\r') return 0;
    return 1;
}

/* A record ended at offset end (its last newline excluded); its bytes are still in buf. */
static int csv_record_end(scan_t *sc, const rs_buf_t *buf, uint64_t buf_off, uint64_t end,
                          rs_err_t *err)
{
    if (!sc->src->cols) return csv_header(sc, err);
    return scan_record(sc, buf->data + (sc->rec_off - buf_off), (size_t)(end - sc->rec_off),
                       sc->rec_off, sc->rec_line, err);
}

/* One physical line (nl: followed by '\n' at s[len]) at file offset off. */
static int scan_csv_line(scan_t *sc, const rs_buf_t *buf, uint64_t buf_off, const char *s,
                         size_t len, int nl, uint64_t off, rs_err_t *err)
{
    if (!rs_csv_open(sc->csv)) { /* a record starts here */
        size_t bom = bom_len(s, len, off);
        s += bom, len -= bom, off += bom;
        if (only_cr(s, len)) return 0; /* a blank line between records */
        sc->rec_off = off;
        sc->rec_line = sc->line_no;
    }
    if (off + len - sc->rec_off > RS_DATASET_MAX_LINE)
        return !sc->src->cols ? rs_err_set(err, "%s:1: header longer than 16 MiB", sc->src->path)
                              : too_long(sc, sc->rec_line, err);
    size_t bad_at;
    rs_err_t why;
    int rc = rs_csv_feed(sc->csv, s, len + (nl ? 1 : 0), &bad_at, &why);
    if (rc < 0) {
        rs_err_prefix(&why, "%s:%" PRIu64 ":%zu", sc->src->path, sc->line_no, bad_at + 1);
        return csv_bad(sc, err, &why);
    }
    return rc == 1 ? csv_record_end(sc, buf, buf_off, off + len, err) : 0;
}

/* At the end of the file: the last record may lack its newline, or a quoted field never closed. */
static int csv_finish(scan_t *sc, const rs_buf_t *buf, uint64_t buf_off, rs_err_t *err)
{
    rs_err_t why;
    int rc = rs_csv_finish(sc->csv, &why);
    if (rc < 0) {
        rs_err_prefix(&why, "%s:%" PRIu64, sc->src->path, sc->rec_line);
        return csv_bad(sc, err, &why);
    }
    return rc == 1 ? csv_record_end(sc, buf, buf_off, buf_off + buf->len, err) : 0;
}

/* ---- jsonl (and csv, line by line) ---- */

/* One complete line (without its newline; nl: it had one) at file offset off. */
static int scan_line(scan_t *sc, const rs_buf_t *buf, uint64_t buf_off, const char *s, size_t len,
                     int nl, uint64_t off, rs_err_t *err)
{
    if (++sc->line_no > UINT32_MAX)
        return rs_err_set(err, "%s: more than %" PRIu32 " lines", sc->src->path, UINT32_MAX);
    if (sc->csv) return scan_csv_line(sc, buf, buf_off, s, len, nl, off, err);
    if (len > RS_DATASET_MAX_LINE) return too_long(sc, sc->line_no, err);
    size_t bom = bom_len(s, len, off);
    s += bom, len -= bom, off += bom;
    if (is_blank(s, len)) return 0;
    return scan_record(sc, s, len, off, sc->line_no, err);
}

/* Consumes the complete lines in buf (which starts at file offset *buf_off) and drops the bytes
 * no longer needed: those before the next line, or before the CSV record still open. */
static int scan_buffer(scan_t *sc, rs_buf_t *buf, uint64_t *buf_off, rs_err_t *err)
{
    size_t pos = (size_t)(sc->next_line - *buf_off), from = (size_t)(sc->searched - *buf_off);
    char *nl;
    while (!sc->done && (nl = memchr(buf->data + from, '\n', buf->len - from))) {
        size_t end = (size_t)(nl - buf->data);
        if (sc->discarding)
            sc->discarding = 0; /* the over-long line ends here; it was counted already */
        else if (scan_line(sc, buf, *buf_off, buf->data + pos, end - pos, 1, *buf_off + pos, err) < 0)
            return -1;
        pos = from = end + 1;
    }
    from = buf->len;
    if (sc->done || sc->discarding) {
        pos = buf->len; /* nothing left that needs parsing */
    } else if (buf->len - pos > RS_DATASET_MAX_LINE) {
        if (too_long(sc, ++sc->line_no, err) < 0) return -1;
        sc->discarding = 1;
        pos = buf->len;
    }
    sc->next_line = *buf_off + pos;
    sc->searched = *buf_off + from;
    uint64_t keep = sc->next_line;
    if (sc->csv && rs_csv_open(sc->csv) && sc->rec_off < keep) keep = sc->rec_off;
    size_t drop = (size_t)(keep - *buf_off);
    if (drop > 0) memmove(buf->data, buf->data + drop, buf->len - drop); /* a long line moves once */
    buf->len -= drop;
    *buf_off += drop;
    return 0;
}

/* At the end of the file: the last line may lack its newline. */
static int lines_finish(scan_t *sc, rs_buf_t *buf, uint64_t buf_off, rs_err_t *err)
{
    if (sc->done || sc->discarding) return 0;
    size_t pos = (size_t)(sc->next_line - buf_off);
    if (pos < buf->len &&
        scan_line(sc, buf, buf_off, buf->data + pos, buf->len - pos, 0, buf_off + pos, err) < 0)
        return -1;
    return sc->csv && !sc->done ? csv_finish(sc, buf, buf_off, err) : 0;
}

/* ---- json: an array of records ---- */

static void advance(scan_t *sc, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\n') sc->line_no++, sc->col = 1;
        else sc->col++;
    }
}

static int json_syntax(scan_t *sc, const char *what, rs_err_t *err)
{
    return rs_err_set(err, "%s:%" PRIu64 ":%" PRIu64 ": %s", sc->src->path, sc->line_no, sc->col,
                      what);
}

/* The element at s (n bytes in the buffer): 1 when parsed (*used its length), 0 when it may go on
 * past the buffer (read more), -1 on a syntax error, which ends the scan even with on_error=skip:
 * there is no telling where the next element starts. jansson parses one value and says where it
 * stopped (JSON_DISABLE_EOF_CHECK); an element that ends within 4 bytes of the buffer's end
 * might be a number cut short, so it is parsed again with more bytes. */
static int json_element(scan_t *sc, const char *s, size_t n, int eof, size_t *used, rs_err_t *err)
{
    json_error_t jerr;
    json_t *v = json_loadb(s, n, JSON_DISABLE_EOF_CHECK | JSON_DECODE_ANY, &jerr);
    if (v) {
        json_decref(v);
        *used = (size_t)jerr.position;
        return eof || *used + 4 < n ? 1 : 0;
    }
#if JANSSON_VERSION_HEX >= 0x020b00
    int more = json_error_code(&jerr) == json_error_premature_end_of_input;
#else
    int more = (size_t)jerr.position >= n;
#endif
    if (more && !eof && n > RS_DATASET_MAX_LINE)
        return json_syntax(sc, "an element longer than 16 MiB", err);
    if (more && !eof) return 0;
    if (more) return json_syntax(sc, "the file ends inside an element (']' missing)", err);
    rs_err_set(err, "%s:%" PRIu64 ": invalid JSON: %s (element from column %" PRIu64 ")",
               sc->src->path, sc->line_no + (uint64_t)jerr.line - 1, jerr.text, sc->col);
    return -1;
}

/* The array's punctuation: c moves the scan on (1), starts an element (0) or is wrong (-1). */
static int json_punct(scan_t *sc, char c, rs_err_t *err)
{
    switch (sc->jstate) {
    case J_START:
        if (c != '[')
            return json_syntax(sc, "a JSON dataset is an array of records ('[' first) or JSON "
                                   "Lines ('{' first)", err);
        sc->jstate = J_FIRST;
        return 1;
    case J_FIRST:
        if (c != ']') return 0;
        sc->jstate = J_END;
        return 1;
    case J_NEXT:
        if (c != ',' && c != ']') return json_syntax(sc, "expected ',' or ']' after an element", err);
        sc->jstate = c == ',' ? J_VALUE : J_END;
        return 1;
    case J_VALUE:
        return 0;
    default:
        return json_syntax(sc, "text after the array's closing ']'", err);
    }
}

/* Consumes what it can of buf (file offset *buf_off): the array's punctuation and each whole
 * element, which is scanned as a record of its own. A file whose first character is '{' is JSON
 * Lines (Hugging Face's to_json writes those with a .json name): it is read as jsonl. */
static int scan_json(scan_t *sc, rs_buf_t *buf, uint64_t *buf_off, int eof, rs_err_t *err)
{
    size_t pos = 0;
    int rc = 0;
    while (rc == 0 && !sc->done) {
        if (*buf_off + pos == 0 && buf->len < 3 && !eof) break;
        if (*buf_off + pos == 0) pos += bom_len(buf->data, buf->len, 0);
        while (pos < buf->len && is_space(buf->data[pos]))
            advance(sc, buf->data + pos++, 1);
        if (pos == buf->len) break;
        char c = buf->data[pos];
        if (sc->jstate == J_START && c == '{') {
            sc->src->kind = KIND_JSONL;
            sc->line_no = 0;
            sc->next_line = sc->searched = *buf_off;
            return scan_buffer(sc, buf, buf_off, err);
        }
        int punct = json_punct(sc, c, err);
        if (punct < 0) return -1;
        if (punct > 0) {
            advance(sc, buf->data + pos++, 1);
            continue;
        }
        size_t used;
        rc = json_element(sc, buf->data + pos, buf->len - pos, eof, &used, err);
        if (rc <= 0) break;
        rc = scan_record(sc, buf->data + pos, used, *buf_off + pos, sc->line_no, err);
        advance(sc, buf->data + pos, used);
        pos += used;
        sc->jstate = J_NEXT;
    }
    if (rc < 0) return -1;
    if (sc->jstate == J_START) { /* nothing consumed yet: a '{' may still make it JSON Lines */
        pos = 0;
        sc->line_no = sc->col = 1;
    }
    memmove(buf->data, buf->data + pos, buf->len - pos);
    buf->len -= pos;
    *buf_off += pos;
    if (eof && !sc->done && sc->jstate != J_END && sc->jstate != J_START)
        return json_syntax(sc, "the file ends inside the array (']' missing)", err);
    return 0;
}

/* ---- files ---- */

/* Reads one file once: hashes every (decompressed) byte and scans every record. */
static int scan_source(scan_t *sc, source_t *src, EVP_MD_CTX *md, rs_err_t *err)
{
    rs_dsource_t *in = rs_dsource_open(src->path, err);
    if (!in) return -1;
    src->comp = rs_dsource_compression(in);
    src->fd = rs_dsource_fd(in); /* the duplicate check re-reads earlier cases during the scan */
    sc->src = src;
    sc->line_no = src->kind == KIND_JSON;
    sc->col = 1;
    sc->jstate = J_START;
    sc->next_line = sc->searched = 0;
    sc->discarding = 0;
    rs_csv_destroy(&sc->csv);
    if (src->kind == KIND_CSV || src->kind == KIND_TSV) sc->csv = rs_csv_new(csv_delim(src));
    rs_buf_t buf;
    rs_buf_init(&buf);
    uint64_t buf_off = 0;
    int rc = 0;
    for (;;) {
        const char *chunk;
        ssize_t r = rs_dsource_next(in, &chunk, err);
        if (r <= 0) { /* the end, or an error */
            rc = r < 0 ? -1 : 0;
            break;
        }
        EVP_DigestUpdate(md, chunk, (size_t)r);
        src->size += (uint64_t)r;
        if (sc->done) continue;
        rs_buf_append(&buf, chunk, (size_t)r);
        rc = src->kind == KIND_JSON ? scan_json(sc, &buf, &buf_off, 0, err)
                                    : scan_buffer(sc, &buf, &buf_off, err);
        if (rc < 0) break;
    }
    if (rc == 0 && !sc->done)
        rc = src->kind == KIND_JSON ? scan_json(sc, &buf, &buf_off, 1, err)
                                    : lines_finish(sc, &buf, buf_off, err);
    src->fd = rc == 0 ? rs_dsource_take_fd(in) : -1;
    rs_dsource_destroy(&in);
    rs_buf_cleanup(&buf);
    return rc;
}

static kind_t kind_of(rs_dataset_format_t format, const char *path)
{
    rs_dataset_format_t f = format;
    if (f != RS_FORMAT_CSV && f != RS_FORMAT_TSV && f != RS_FORMAT_JSON && f != RS_FORMAT_JSONL &&
        rs_config_format_of(path, &f) < 0)
        f = RS_FORMAT_JSONL;
    return f == RS_FORMAT_CSV ? KIND_CSV : f == RS_FORMAT_TSV ? KIND_TSV
           : f == RS_FORMAT_JSON ? KIND_JSON : KIND_JSONL;
}

static void add_source(rs_dataset_t *ds, const char *path, const char *id_prefix, kind_t kind)
{
    ds->src = rs_xrealloc(ds->src, (ds->n_src + 1) * sizeof(*ds->src));
    source_t *s = &ds->src[ds->n_src++];
    memset(s, 0, sizeof(*s));
    s->path = rs_xstrdup(path);
    s->id_prefix = id_prefix ? rs_xstrdup(id_prefix) : NULL;
    s->kind = kind;
    s->fd = -1;
    s->base = UINT64_MAX; /* not scanned yet: source_at never picks it (scan_all sets it) */
}

/* The files to read: the dataset file, or the shards of a Hugging Face folder's split. */
static int plan_sources(rs_dataset_t *ds, const rs_config_t *cfg, int64_t *examples, rs_err_t *err)
{
    const char *path = ds->px.where;
    rs_dataset_format_t f = cfg->dataset.format;
    struct stat st;
    *examples = -1;
    if (stat(path, &st) < 0) return rs_err_set(err, "%s: %s", path, strerror(errno));
    if (!S_ISDIR(st.st_mode)) {
        if (f == RS_FORMAT_HF)
            return rs_err_set(err, "%s: format hf reads a Hugging Face datasets folder, and this "
                                   "is a file", path);
        if (rs_hfdir_is_columnar(path))
            return rs_err_set(err, "%s: Parquet and Arrow files cannot be read (no Debian package "
                                   "reads them from C): convert it to JSONL first, e.g. pandas "
                                   "read_parquet(...).to_json(OUT, orient='records', lines=True)",
                              path);
        add_source(ds, path, NULL, kind_of(f, path));
        return 0;
    }
    if (f == RS_FORMAT_CSV || f == RS_FORMAT_TSV || f == RS_FORMAT_JSON)
        return rs_err_set(err, "%s: a folder, not a %s file (a Hugging Face datasets folder is "
                               "read with format hf, or with no format)",
                            path, kind_names[kind_of(f, path)]);
    rs_hfdir_t h;
    if (rs_hfdir_open(&h, path, cfg->dataset.split, err) < 0) return -1;
    for (size_t i = 0; i < h.n_shards; i++) {
        const char *name = strrchr(h.shards[i], '/');
        add_source(ds, h.shards[i], h.n_shards > 1 ? name + 1 : NULL,
                   kind_of(RS_FORMAT_AUTO, h.shards[i]));
    }
    ds->split = h.split;
    h.split = NULL;
    *examples = h.examples;
    rs_hfdir_cleanup(&h);
    return 0;
}

/* Reads every file once, in order, and checks a split's size against dataset_info.json. */
static int scan_all(scan_t *sc, int64_t examples, rs_err_t *err)
{
    rs_dataset_t *ds = sc->ds;
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    EVP_DigestInit_ex(md, EVP_sha256(), NULL);
    int rc = 0;
    uint64_t base = 0;
    for (size_t i = 0; i < ds->n_src && rc == 0; i++) {
        ds->src[i].base = base;
        rc = scan_source(sc, &ds->src[i], md, err);
        base += ds->src[i].size;
    }
    unsigned char digest[32];
    EVP_DigestFinal_ex(md, digest, NULL);
    EVP_MD_CTX_free(md);
    rs_hex(digest, sizeof(digest), ds->sha256);
    uint64_t seen = ds->n_lines + ds->skipped;
    if (rc == 0 && examples >= 0 && !sc->limit && seen != (uint64_t)examples)
        rc = rs_err_set(err, "%s: dataset_info.json gives split '%s' %" PRId64 " examples, its "
                             "files hold %" PRIu64 " records (a shard missing or extra?)",
                        ds->px.where, ds->split, examples, seen);
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
    rs_buf_init(&ds->line);
    rs_buf_init(&ds->csv_text);
    int rc = ctx_init(&ds->px, cfg, path, err);
    free(path);
    if (rc < 0) {
        free(ds);
        return NULL;
    }
    int64_t examples;
    if (plan_sources(ds, cfg, &examples, err) == 0) {
        scan_t sc = {.ds = ds,
                     .limit = cfg->dataset.limit > 0 ? (uint64_t)cfg->dataset.limit : 0,
                     .skip = cfg->dataset.on_error == RS_ON_ERROR_SKIP,
                     .each = each,
                     .each_arg = arg};
        ds->px.check_variants = 1;
        rc = scan_all(&sc, examples, err);
        ds->px.check_variants = 0;
        pages_free(sc.ids.ref, sc.ids.cap * sizeof(uint32_t));
        pages_free(sc.ids.hash, sc.ids.cap_hash * sizeof(uint64_t));
        rs_csv_destroy(&sc.csv);
        if (rc == 0) return ds;
    }
    rs_dataset_destroy(&ds);
    return NULL;
}

void rs_dataset_destroy(rs_dataset_t **ds)
{
    if (!ds || !*ds) return;
    rs_dataset_t *d = *ds;
    for (size_t i = 0; i < d->n_src; i++) {
        source_t *s = &d->src[i];
        if (s->fd >= 0) close(s->fd);
        free(s->path);
        free(s->id_prefix);
        free_strs(s->cols, s->n_cols);
    }
    free(d->src);
    free(d->split);
    ctx_cleanup(&d->px);
    pages_free(d->lines, d->cap_lines * sizeof(*d->lines));
    free_strs(d->reasons, d->n_reasons);
    rs_buf_cleanup(&d->line);
    rs_buf_cleanup(&d->csv_text);
    free(d->ahead);
    rs_csv_destroy(&d->csv);
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

void rs_dataset_drop_index(rs_dataset_t *ds)
{
    pages_free(ds->lines, ds->cap_lines * sizeof(*ds->lines));
    ds->lines = NULL;
    ds->n_lines = ds->cap_lines = 0;
}

const char *rs_dataset_path(const rs_dataset_t *ds)
{
    return ds->px.where;
}

const char *rs_dataset_split(const rs_dataset_t *ds)
{
    return ds->split;
}

size_t rs_dataset_files(const rs_dataset_t *ds)
{
    return ds->n_src;
}

void rs_dataset_file(const rs_dataset_t *ds, size_t i, rs_dataset_file_t *out)
{
    const source_t *s = &ds->src[i];
    *out = (rs_dataset_file_t){.path = s->path,
                               .format = kind_names[s->kind],
                               .compression = rs_compression_name(s->comp),
                               .cases = s->cases,
                               .bad = s->bad};
}

size_t rs_dataset_skip_reasons(const rs_dataset_t *ds, const char *const **reasons)
{
    *reasons = (const char *const *)ds->reasons;
    return ds->n_reasons;
}

enum { READ_AHEAD = 256 * 1024 };

/* Reads case idx's bytes into ds->line; *src its file. */
static int read_bytes(rs_dataset_t *ds, uint64_t idx, const source_t **src, rs_err_t *err)
{
    if (idx >= ds->n_lines)
        return rs_err_set(err, "%s: case %" PRIu64 " out of range (%zu cases)", ds->px.where, idx,
                          ds->n_lines);
    const line_ref_t *ref = &ds->lines[idx];
    const source_t *s = *src = source_at(ds, ref->off);
    uint64_t off = ref->off - s->base;
    rs_buf_reset(&ds->line);
    if (ds->ahead_src != s || off < ds->ahead_off || off + ref->len > ds->ahead_off + ds->ahead_len) {
        size_t want = ref->len > READ_AHEAD ? ref->len : READ_AHEAD, got = 0;
        if (!ds->ahead) ds->ahead = rs_xmalloc(READ_AHEAD);
        char *to = want > READ_AHEAD ? rs_xmalloc(want) : ds->ahead; /* a line past the window */
        ds->ahead_src = NULL;
        while (got < ref->len) {
            ssize_t r = pread(s->fd, to + got, want - got, (off_t)(off + got));
            if (r < 0 && errno == EINTR) continue;
            if (r < 0 || r == 0) {
                if (to != ds->ahead) free(to);
                return r < 0 ? rs_err_set(err, "%s: %s", s->path, strerror(errno))
                             : rs_err_set(err, "%s: file shrank since it was opened", s->path);
            }
            got += (size_t)r;
        }
        if (to != ds->ahead) {
            rs_buf_append(&ds->line, to, ref->len);
            free(to);
            return 0;
        }
        ds->ahead_src = s, ds->ahead_off = off, ds->ahead_len = got;
    }
    rs_buf_append(&ds->line, ds->ahead + (off - ds->ahead_off), ref->len);
    return 0;
}

int rs_dataset_read(rs_dataset_t *ds, uint64_t idx, rs_case_t *out, rs_err_t *err)
{
    return rs_dataset_read_variant(ds, idx, 0, out, err);
}

int rs_dataset_read_variant(rs_dataset_t *ds, uint64_t idx, size_t variant, rs_case_t *out,
                            rs_err_t *err)
{
    memset(out, 0, sizeof(*out));
    if (variant >= ds->px.n_variants)
        return rs_err_set(err, "%s: prompt variant %zu out of range (%zu)", ds->px.where, variant,
                          ds->px.n_variants);
    const source_t *src;
    if (read_bytes(ds, idx, &src, err) < 0) return -1;
    ds->px.variant = variant;
    int rc = parse_record(ds, src, ds->line.data, ds->line.len, ds->lines[idx].line_no, out, err);
    ds->px.variant = 0;
    if (rc < 0) return -1;
    out->idx = idx;
    out->variant = (uint32_t)variant;
    return 0;
}

char *rs_dataset_record(rs_dataset_t *ds, uint64_t idx, rs_err_t *err)
{
    const source_t *src;
    json_t *rec;
    if (read_bytes(ds, idx, &src, err) < 0 ||
        record_json(ds, src, ds->line.data, ds->line.len, ds->lines[idx].line_no, &rec, err) < 0)
        return NULL;
    const json_t *id = json_object_get(rec, ds->px.id_field);
    if (json_is_object(rec) && (!id || json_is_null(id))) {
        char *made = default_id(src->id_prefix, ds->lines[idx].line_no);
        json_object_set_new(rec, ds->px.id_field, json_string(made));
        free(made);
    }
    char *text = json_dumps(rec, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(rec);
    if (!text && err)
        rs_err_set(err, "%s: case %" PRIu64 ": cannot be written as JSON", src->path, idx);
    return text;
}
