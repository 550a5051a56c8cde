/* provider: the sim / openai / anthropic rows of the provider table — request bodies and headers,
 * response parsing, outcome classification, Retry-After and backoff. No I/O: bytes in, structs
 * out (curl_getdate is only a date parser here). */
#include "provider.h"

#include "cachekey.h"

#include <curl/curl.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Request bodies print reals with 15 significant digits, so 0.7 travels as 0.7. */
#define BODY_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(15))

/* ---- owned structs ---- */

void rs_http_req_cleanup(rs_http_req_t *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->n_headers; i++) {
        explicit_bzero(r->headers[i], strlen(r->headers[i])); /* may hold the key */
        free(r->headers[i]);
    }
    free(r->headers);
    free(r->url);
    free(r->body);
    memset(r, 0, sizeof(*r));
}

void rs_chat_resp_cleanup(rs_chat_resp_t *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->n_choices; i++) {
        free(r->choices[i].text);
        free(r->choices[i].finish_reason);
        free(r->choices[i].thinking);
    }
    free(r->choices);
    free(r->model);
    free(r->system_fingerprint);
    memset(r, 0, sizeof(*r));
}

void rs_embed_resp_cleanup(rs_embed_resp_t *r)
{
    if (!r) return;
    free(r->vecs);
    memset(r, 0, sizeof(*r));
}

/* ---- small helpers ---- */

void rs_pct_encode(rs_buf_t *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) {
        int plain = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                    (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' || *p == '_' || *p == '~';
        if (plain) {
            rs_buf_putc(b, (char)*p);
        } else {
            char esc[3] = {'%', hex[*p >> 4], hex[*p & 15]};
            rs_buf_append(b, esc, 3);
        }
    }
}

void rs_provider_redact(char *s, const char *secret)
{
    if (!s || !secret) return;
    size_t n = strlen(secret);
    if (n < 4) return;
    for (char *p = strstr(s, secret); p; p = strstr(p + n, secret)) memset(p, '*', n);
}

void rs_provider_excerpt(const char *body, size_t len, char *out, size_t size)
{
    if (size == 0) return;
    size_t max = size - 1 < RS_PROVIDER_EXCERPT ? size - 1 : RS_PROVIDER_EXCERPT;
    if (!body) len = 0;
    int cut = len > max && max >= 3;
    size_t n = len <= max ? len : (cut ? max - 3 : max);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)body[i];
        out[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    if (cut) memcpy(out + n, "...", 3), n += 3;
    out[n] = '\0';
}

/* The JSON type of v in words, for parse errors. */
static const char *type_name(const json_t *v)
{
    static const char *const names[] = {"an object", "an array", "a string", "an integer",
                                        "a number",  "true",     "false",    "null"};
    if (!v) return "missing";
    size_t t = (size_t)json_typeof(v);
    return t < RS_ARRAY_LEN(names) ? names[t] : "unknown";
}

/* The first string among the paths an error body may use across APIs and servers. */
static const char *error_text(json_t *root)
{
    static const char *const paths[][2] = {
        {"error", "message"}, {"error", NULL}, {"message", NULL}, {"detail", NULL}};
    for (size_t i = 0; json_is_object(root) && i < RS_ARRAY_LEN(paths); i++) {
        json_t *v = json_object_get(root, paths[i][0]);
        if (paths[i][1]) v = json_object_get(v, paths[i][1]);
        if (json_is_string(v)) return json_string_value(v);
    }
    return NULL;
}

void rs_provider_error_message(const char *body, size_t len, char *out, size_t size)
{
    json_t *root = body ? json_loadb(body, len, 0, NULL) : NULL;
    const char *msg = error_text(root);
    if (msg) rs_provider_excerpt(msg, strlen(msg), out, size);
    else rs_provider_excerpt(body, len, out, size);
    json_decref(root);
}

/* ---- requests ---- */

/* Appends "name: prefix value" in one exact allocation (no copies of a key left behind by a
 * growing buffer). A value with a line break would smuggle in another header: -1. */
static int add_header(rs_http_req_t *r, const char *name, const char *prefix, const char *value)
{
    if (strpbrk(value, "\r\n")) return -1;
    size_t n = strlen(name) + 2 + strlen(prefix) + strlen(value) + 1;
    char *h = rs_xmalloc(n);
    snprintf(h, n, "%s: %s%s", name, prefix, value);
    r->headers = rs_xrealloc(r->headers, (r->n_headers + 1) * sizeof(char *));
    r->headers[r->n_headers++] = h;
    return 0;
}

static int add_pct_header(rs_http_req_t *r, const char *name, const char *value)
{
    rs_buf_t b;
    rs_buf_init(&b);
    rs_pct_encode(&b, value);
    int rc = add_header(r, name, "", b.data ? b.data : "");
    rs_buf_cleanup(&b);
    return rc;
}

/* X-RS-* headers: reasonsaver-mockllm answers from the sim definition with these. */
static void add_mock_headers(const rs_chat_req_t *r, rs_http_req_t *out)
{
    if (!r->model->mock) return;
    char k[16];
    snprintf(k, sizeof(k), "%d", r->k);
    add_pct_header(out, "X-RS-Model", r->model->name ? r->model->name : r->model->model);
    add_pct_header(out, "X-RS-Case", r->c->id ? r->c->id : "");
    add_pct_header(out, "X-RS-Candidate", k);
    if (r->c->n_targets > 0 && r->c->targets[0])
        add_pct_header(out, "X-RS-Target", r->c->targets[0]);
    const rs_chat_chain_t *ch = r->chain;
    if (!ch) return;
    char round[16];
    snprintf(round, sizeof(round), "%d", ch->round);
    add_pct_header(out, "X-RS-Stage", ch->stage);
    add_pct_header(out, "X-RS-Round", round);
    add_pct_header(out, "X-RS-Truth", ch->truth ? "1" : "0");
    if (ch->judge) add_pct_header(out, "X-RS-Judge", ch->judge);
    if (ch->cand_model) add_pct_header(out, "X-RS-Judged-Model", ch->cand_model);
    if (ch->judge) add_pct_header(out, "X-RS-Self", ch->is_self ? "1" : "0");
    if (ch->prev_text) {
        add_pct_header(out, "X-RS-Critique-Correct", ch->critique_said_correct ? "1" : "0");
        add_pct_header(out, "X-RS-Prev", ch->prev_text);
    }
}

/* A whole "Name: value" line (params.extra_headers, checked when the config was loaded). */
static void add_line(rs_http_req_t *r, const char *line)
{
    r->headers = rs_xrealloc(r->headers, (r->n_headers + 1) * sizeof(char *));
    r->headers[r->n_headers++] = rs_xstrdup(line);
}

static void add_extra_headers(const rs_model_cfg_t *m, rs_http_req_t *out)
{
    for (char *const *h = m->extra_headers; h && *h; h++) add_line(out, *h);
}

static json_t *strlist_json(char *const *s)
{
    json_t *a = json_array();
    for (; s && *s; s++) json_array_append_new(a, json_string(*s));
    return a;
}

/* Serialises body into out (with url) and adds the JSON headers and, when there is one, the key
 * header. Consumes body. */
static int finish_request(const rs_provider_t *p, const rs_model_cfg_t *m, const char *path,
                          json_t *body, const char *key_header, const char *key_prefix,
                          const char *key, rs_http_req_t *out, rs_err_t *err)
{
    memset(out, 0, sizeof(*out));
    char *text = body ? json_dumps(body, BODY_FLAGS) : NULL;
    json_decref(body);
    if (!text)
        return rs_err_set(err, "model %s: the request cannot be written as JSON (a prompt that "
                               "is not valid UTF-8?)", m->name);
    out->body = text;
    out->body_len = strlen(text);
    out->url = rs_provider_url(p, m, path);
    add_header(out, "Content-Type", "", "application/json");
    add_header(out, "Accept", "", "application/json");
    if (key && *key && add_header(out, key_header, key_prefix, key) != 0) {
        rs_http_req_cleanup(out);
        return rs_err_set(err, "model %s: the key in $%s holds a line break", m->name,
                          m->api_key_env ? m->api_key_env : "?");
    }
    return 0;
}

/* Sets k to v on o; a NULL v (jansson's answer to invalid UTF-8) marks the object bad. */
static void put(json_t *o, const char *k, json_t *v, int *bad)
{
    if (json_object_set_new(o, k, v) != 0) *bad = 1;
}

static json_t *message_json(const char *role, const char *content)
{
    json_t *o = json_object();
    int bad = 0;
    put(o, "role", json_string(role ? role : "user"), &bad);
    put(o, "content", json_string(content ? content : ""), &bad);
    if (!bad) return o;
    json_decref(o);
    return NULL;
}

static const rs_provider_t *row(const char *name);

/* Each parameter is sent only when it is set (NaN, 0 and NULL are unset). */
static void put_real(json_t *b, const char *k, double v, int *bad)
{
    if (!isnan(v)) put(b, k, json_real(v), bad);
}

static void put_int(json_t *b, const char *k, int64_t v, int *bad)
{
    if (v) put(b, k, json_integer((json_int_t)v), bad);
}

static void put_str(json_t *b, const char *k, const char *v, int *bad)
{
    if (v) put(b, k, json_string(v), bad);
}

static void put_json(json_t *b, const char *k, const char *text, int *bad)
{
    if (text) put(b, k, json_loads(text, 0, NULL), bad);
}

/* params.extra_body, merged last: its fields replace any the builder wrote. */
static void merge_extra(json_t *b, const char *text, int *bad)
{
    json_t *extra = text ? json_loads(text, 0, NULL) : NULL;
    if (text && (!json_is_object(extra) || json_object_update(b, extra) != 0)) *bad = 1;
    json_decref(extra);
}

int64_t rs_provider_max_tokens(const rs_model_cfg_t *m)
{
    if (m->max_tokens || !m->provider || strcmp(m->provider, "anthropic") != 0)
        return m->max_tokens;
    return RS_PROVIDER_DEFAULT_MAX_TOKENS + (m->thinking_type ? m->thinking_budget : 0);
}

void rs_provider_cache_key(const rs_model_cfg_t *m, const rs_http_req_t *hr, int k, uint32_t epoch,
                           char *out)
{
    rs_cachekey_in_t in = {m->provider, hr->url,       hr->body, hr->body_len,
                           hr->headers, hr->n_headers, k,        m->temperature == 0,
                           m->extra_headers, epoch};
    rs_cachekey(&in, out);
}

int rs_provider_seed(const rs_model_cfg_t *m, const rs_case_t *c, int64_t *seed)
{
    uint64_t unit = c ? (uint64_t)c->epoch + (uint64_t)RS_MAX_EPOCHS * c->variant : 0;
    /* wraps rather than overflows: any int64 is a valid seed */
    *seed = (int64_t)((uint64_t)m->seed + unit);
    return m->seed_set || unit > 0;
}

int64_t rs_provider_output_bound(const rs_model_cfg_t *m)
{
    if (m->max_completion_tokens) return m->max_completion_tokens;
    int64_t sent = rs_provider_max_tokens(m);
    return sent ? sent : RS_PROVIDER_DEFAULT_MAX_TOKENS;
}

int rs_provider_header_credential(const char *name)
{
    /* a part of the name, in any case: Authorization, Proxy-Authorization, X-Api-Key, Cookie and
     * Set-Cookie among them */
    static const char *const parts[] = {"auth", "key", "token", "secret", "passw", "cookie",
                                        "session", "credential"};
    for (size_t i = 0; i < RS_ARRAY_LEN(parts); i++)
        for (const char *p = name; *p; p++)
            if (strncasecmp(p, parts[i], strlen(parts[i])) == 0) return 1;
    return 0;
}

static int openai_build_chat(const rs_chat_req_t *r, rs_http_req_t *out, rs_err_t *err)
{
    const rs_model_cfg_t *m = r->model;
    json_t *b = json_object(), *msgs = json_array();
    int bad = 0;
    for (size_t i = 0; i < r->c->n_msgs; i++)
        if (json_array_append_new(msgs, message_json(r->c->msgs[i].role, r->c->msgs[i].content)))
            bad = 1;
    put(b, "model", json_string(m->model), &bad);
    put(b, "messages", msgs, &bad);
    put_real(b, "temperature", m->temperature, &bad);
    put_real(b, "top_p", m->top_p, &bad);
    put_int(b, "max_tokens", m->max_tokens, &bad);
    put_int(b, "max_completion_tokens", m->max_completion_tokens, &bad);
    int64_t seed;
    if (rs_provider_seed(m, r->c, &seed)) put(b, "seed", json_integer((json_int_t)seed), &bad);
    if (m->stop && m->stop[0]) put(b, "stop", strlist_json(m->stop), &bad);
    put_real(b, "presence_penalty", m->presence_penalty, &bad);
    put_real(b, "frequency_penalty", m->frequency_penalty, &bad);
    put_str(b, "reasoning_effort", m->reasoning_effort, &bad);
    put_json(b, "response_format", m->response_format, &bad);
    if (r->n > 1) put(b, "n", json_integer(r->n), &bad); /* some servers reject n altogether */
    merge_extra(b, m->extra_body, &bad);
    if (bad) json_decref(b), b = NULL;
    if (finish_request(row("openai"), m, "/chat/completions", b, "Authorization", "Bearer ",
                       r->api_key, out, err) != 0)
        return -1;
    add_extra_headers(m, out);
    add_mock_headers(r, out);
    return 0;
}

/* Anthropic takes the system prompt as its own field: the case's system messages, joined. */
static void anthropic_system(const rs_case_t *c, json_t *body, int *bad)
{
    rs_buf_t s;
    rs_buf_init(&s);
    for (size_t i = 0; i < c->n_msgs; i++) {
        if (!c->msgs[i].role || strcmp(c->msgs[i].role, "system") != 0) continue;
        if (s.len) rs_buf_puts(&s, "\n\n");
        rs_buf_puts(&s, c->msgs[i].content ? c->msgs[i].content : "");
    }
    if (s.len) put(body, "system", json_string(s.data), bad);
    rs_buf_cleanup(&s);
}

static int anthropic_build_chat(const rs_chat_req_t *r, rs_http_req_t *out, rs_err_t *err)
{
    const rs_model_cfg_t *m = r->model;
    json_t *b = json_object(), *msgs = json_array();
    int bad = 0;
    for (size_t i = 0; i < r->c->n_msgs; i++) {
        const rs_chat_msg_t *cm = &r->c->msgs[i];
        if (cm->role && strcmp(cm->role, "system") == 0) continue;
        if (json_array_append_new(msgs, message_json(cm->role, cm->content))) bad = 1;
    }
    put(b, "model", json_string(m->model), &bad);
    put(b, "max_tokens", json_integer((json_int_t)rs_provider_max_tokens(m)), &bad);
    put(b, "messages", msgs, &bad);
    anthropic_system(r->c, b, &bad);
    put_real(b, "temperature", m->temperature, &bad);
    put_real(b, "top_p", m->top_p, &bad);
    put_int(b, "top_k", m->top_k, &bad);
    if (m->stop && m->stop[0]) put(b, "stop_sequences", strlist_json(m->stop), &bad);
    if (m->thinking_type) {
        json_t *t = json_object();
        put(t, "type", json_string(m->thinking_type), &bad);
        put_int(t, "budget_tokens", m->thinking_budget, &bad);
        put(b, "thinking", t, &bad);
    }
    merge_extra(b, m->extra_body, &bad);
    if (bad) json_decref(b), b = NULL;
    if (finish_request(row("anthropic"), m, "/v1/messages", b, "x-api-key", "", r->api_key, out,
                       err) != 0)
        return -1;
    const char *ver = m->anthropic_version ? m->anthropic_version : "2023-06-01";
    if (add_header(out, "anthropic-version", "", ver) != 0) {
        rs_http_req_cleanup(out);
        return rs_err_set(err, "model %s: anthropic_version holds a line break", m->name);
    }
    add_extra_headers(m, out);
    add_mock_headers(r, out);
    return 0;
}

static int openai_build_embed(const rs_embed_req_t *r, rs_http_req_t *out, rs_err_t *err)
{
    json_t *b = json_object(), *in = json_array();
    int bad = 0;
    for (size_t i = 0; i < r->n_inputs; i++)
        if (json_array_append_new(in, json_string(r->inputs[i] ? r->inputs[i] : ""))) bad = 1;
    put(b, "model", json_string(r->model->model), &bad);
    put(b, "input", in, &bad);
    if (bad) json_decref(b), b = NULL;
    return finish_request(row("openai"), r->model, "/embeddings", b, "Authorization", "Bearer ",
                          r->api_key, out, err);
}

/* ---- responses ---- */

/* The body as a JSON object; an object that carries an error (some servers answer 200 with
 * one) is refused with its message. */
static json_t *load_object(const char *body, size_t len, rs_err_t *err)
{
    json_error_t je;
    json_t *root = json_loadb(body ? body : "", body ? len : 0, 0, &je);
    if (!root) {
        rs_err_set(err, "not valid JSON (%s at byte %d)", je.text, je.position);
        return NULL;
    }
    const char *msg = NULL;
    if (!json_is_object(root))
        rs_err_set(err, "the body must be a JSON object, not %s", type_name(root));
    else if ((json_is_object(json_object_get(root, "error")) ||
              json_is_string(json_object_get(root, "error"))) &&
             (msg = error_text(root)) != NULL)
        rs_err_set(err, "the server answered with an error: %.200s", msg);
    else
        return root;
    json_decref(root);
    return NULL;
}

/* A non-negative integer field of usage, 0 when absent or odd (usage is informative). */
static int64_t usage_field(json_t *usage, const char *key)
{
    json_t *v = json_object_get(usage, key);
    return json_is_integer(v) && json_integer_value(v) >= 0 ? (int64_t)json_integer_value(v) : 0;
}

/* content as text: a string, null (""), or a list of parts whose "text" strings are joined. */
static int content_text(json_t *v, const char *path, char **out, rs_err_t *err)
{
    if (json_is_string(v)) {
        *out = rs_xstrndup(json_string_value(v), json_string_length(v));
        return 0;
    }
    if (json_is_null(v)) {
        *out = rs_xstrdup("");
        return 0;
    }
    if (!json_is_array(v))
        return rs_err_set(err, "%s must be a string, not %s", path, type_name(v));
    rs_buf_t b;
    rs_buf_init(&b);
    size_t i;
    json_t *part;
    json_array_foreach(v, i, part) {
        json_t *t = json_object_get(part, "text");
        if (json_is_string(t)) rs_buf_append(&b, json_string_value(t), json_string_length(t));
    }
    *out = b.data ? rs_buf_detach(&b) : rs_xstrdup("");
    return 0;
}

static char *opt_string(json_t *v)
{
    return json_is_string(v) ? rs_xstrdup(json_string_value(v)) : NULL;
}

static int openai_choice(json_t *c, size_t i, rs_choice_t *out, rs_err_t *err)
{
    char path[64];
    if (!json_is_object(c))
        return rs_err_set(err, "choices[%zu] must be an object, not %s", i, type_name(c));
    json_t *idx = json_object_get(c, "index"), *msg = json_object_get(c, "message");
    if (idx && (!json_is_integer(idx) || json_integer_value(idx) < 0 ||
                json_integer_value(idx) > INT_MAX))
        return rs_err_set(err, "choices[%zu].index must be a non-negative integer", i);
    if (!json_is_object(msg))
        return rs_err_set(err, "choices[%zu].message must be an object, not %s", i,
                          type_name(msg));
    json_t *content = json_object_get(msg, "content");
    snprintf(path, sizeof(path), "choices[%zu].message.content", i);
    if (!content) return rs_err_set(err, "%s is missing", path);
    if (content_text(content, path, &out->text, err) != 0) return -1;
    out->index = idx ? (int)json_integer_value(idx) : (int)i;
    out->finish_reason = opt_string(json_object_get(c, "finish_reason"));
    /* vLLM, llama.cpp and DeepSeek send the reasoning as reasoning_content, others as reasoning */
    out->thinking = opt_string(json_object_get(msg, "reasoning_content"));
    if (!out->thinking) out->thinking = opt_string(json_object_get(msg, "reasoning"));
    return 0;
}

/* What every response says about itself: the model served and its fingerprint. */
static void served(json_t *root, rs_chat_resp_t *out)
{
    out->model = opt_string(json_object_get(root, "model"));
    out->system_fingerprint = opt_string(json_object_get(root, "system_fingerprint"));
}

static int openai_parse_chat(const char *body, size_t len, rs_chat_resp_t *out, rs_err_t *err)
{
    memset(out, 0, sizeof(*out));
    json_t *root = load_object(body, len, err);
    if (!root) return -1;
    json_t *choices = json_object_get(root, "choices");
    int rc = 0;
    if (!json_is_array(choices))
        rc = rs_err_set(err, "choices must be an array, not %s", type_name(choices));
    else if (json_array_size(choices) == 0)
        rc = rs_err_set(err, "choices is empty");
    else
        out->choices = rs_xcalloc(json_array_size(choices), sizeof(rs_choice_t));
    for (size_t i = 0; rc == 0 && i < json_array_size(choices); i++, out->n_choices++)
        rc = openai_choice(json_array_get(choices, i), i, &out->choices[i], err);
    json_t *usage = json_object_get(root, "usage");
    out->input_tokens = usage_field(usage, "prompt_tokens");
    out->output_tokens = usage_field(usage, "completion_tokens");
    out->reasoning_tokens =
        usage_field(json_object_get(usage, "completion_tokens_details"), "reasoning_tokens");
    served(root, out);
    json_decref(root);
    if (rc != 0) rs_chat_resp_cleanup(out);
    return rc;
}

/* The text of content's blocks: "text" blocks into the answer, "thinking" blocks into the
 * thinking (NULL when there is none); tool_use, redacted_thinking and others are skipped. */
static int anthropic_text(json_t *content, rs_choice_t *out, rs_err_t *err)
{
    if (!json_is_array(content))
        return rs_err_set(err, "content must be an array, not %s", type_name(content));
    rs_buf_t b, th;
    rs_buf_init(&b);
    rs_buf_init(&th);
    size_t i;
    json_t *blk;
    int rc = 0;
    json_array_foreach(content, i, blk) {
        if (!json_is_object(blk)) {
            rc = rs_err_set(err, "content[%zu] must be an object, not %s", i, type_name(blk));
            break;
        }
        const char *type = json_string_value(json_object_get(blk, "type"));
        int thinking = type && strcmp(type, "thinking") == 0;
        if (!type || (!thinking && strcmp(type, "text") != 0)) continue;
        const char *field = thinking ? "thinking" : "text";
        json_t *t = json_object_get(blk, field);
        if (!json_is_string(t)) {
            rc = rs_err_set(err, "content[%zu].%s must be a string, not %s", i, field,
                            type_name(t));
            break;
        }
        rs_buf_append(thinking ? &th : &b, json_string_value(t), json_string_length(t));
    }
    if (rc == 0) {
        out->text = b.data ? rs_buf_detach(&b) : rs_xstrdup("");
        out->thinking = th.data ? rs_buf_detach(&th) : NULL;
    }
    rs_buf_cleanup(&b);
    rs_buf_cleanup(&th);
    return rc;
}

static int anthropic_parse_chat(const char *body, size_t len, rs_chat_resp_t *out, rs_err_t *err)
{
    memset(out, 0, sizeof(*out));
    json_t *root = load_object(body, len, err);
    if (!root) return -1;
    out->choices = rs_xcalloc(1, sizeof(rs_choice_t));
    int rc = anthropic_text(json_object_get(root, "content"), &out->choices[0], err);
    if (rc == 0) {
        out->n_choices = 1;
        out->choices[0].finish_reason = opt_string(json_object_get(root, "stop_reason"));
        json_t *usage = json_object_get(root, "usage");
        out->input_tokens = usage_field(usage, "input_tokens");
        out->output_tokens = usage_field(usage, "output_tokens");
        served(root, out);
    }
    json_decref(root);
    if (rc != 0) rs_chat_resp_cleanup(out);
    return rc;
}

/* One row of data[]: its slot (its index, or its position when it has none) and its vector's
 * size, which must be data[0]'s (dim). Every row passes this before the n * dim values are
 * allocated, so a body never asks for more memory than the values it holds. */
static int embed_check(json_t *d, size_t i, size_t n, size_t dim, unsigned char *seen, size_t *at,
                       rs_err_t *err)
{
    json_t *idx = json_object_get(d, "index"), *vec = json_object_get(d, "embedding");
    *at = json_is_integer(idx) ? (size_t)json_integer_value(idx) : i;
    if ((idx && (!json_is_integer(idx) || json_integer_value(idx) < 0)) || *at >= n || seen[*at])
        return rs_err_set(err, "data[%zu].index is missing, out of range or repeated", i);
    if (!json_is_array(vec) || json_array_size(vec) == 0)
        return rs_err_set(err, "data[%zu].embedding must be a non-empty array of numbers", i);
    if (json_array_size(vec) != dim)
        return rs_err_set(err, "data[%zu].embedding has %zu values, not %zu like data[0]", i,
                          json_array_size(vec), dim);
    seen[*at] = 1;
    return 0;
}

/* Row i's values into slot at of out->vecs. */
static int embed_copy(json_t *d, size_t i, size_t at, rs_embed_resp_t *out, rs_err_t *err)
{
    json_t *vec = json_object_get(d, "embedding");
    for (size_t j = 0; j < out->dim; j++) {
        json_t *x = json_array_get(vec, j);
        if (!json_is_number(x))
            return rs_err_set(err, "data[%zu].embedding[%zu] must be a number, not %s", i, j,
                              type_name(x));
        out->vecs[at * out->dim + j] = json_number_value(x);
    }
    return 0;
}

static int openai_parse_embed(const char *body, size_t len, rs_embed_resp_t *out, rs_err_t *err)
{
    memset(out, 0, sizeof(*out));
    json_t *root = load_object(body, len, err);
    if (!root) return -1;
    json_t *data = json_object_get(root, "data");
    int rc = 0;
    if (!json_is_array(data) || json_array_size(data) == 0)
        rc = rs_err_set(err, "data must be a non-empty array, not %s", type_name(data));
    out->n = rc == 0 ? json_array_size(data) : 0;
    out->dim = json_array_size(json_object_get(json_array_get(data, 0), "embedding"));
    unsigned char *seen = rs_xcalloc(out->n ? out->n : 1, 1);
    size_t *at = rs_xcalloc(out->n ? out->n : 1, sizeof(size_t));
    for (size_t i = 0; rc == 0 && i < out->n; i++)
        rc = embed_check(json_array_get(data, i), i, out->n, out->dim, seen, &at[i], err);
    if (rc == 0) out->vecs = rs_xcalloc(out->n * out->dim, sizeof(double));
    for (size_t i = 0; rc == 0 && i < out->n; i++)
        rc = embed_copy(json_array_get(data, i), i, at[i], out, err);
    free(at);
    free(seen);
    out->input_tokens = usage_field(json_object_get(root, "usage"), "prompt_tokens");
    json_decref(root);
    if (rc != 0) rs_embed_resp_cleanup(out);
    return rc;
}

/* ---- the table ---- */

static void sim_simulate(const rs_model_cfg_t *m, const rs_case_t *c, int k, rs_sim_reply_t *out)
{
    int64_t seed;
    rs_provider_seed(m, c, &seed);
    rs_sim_generate(m, seed, c, k, out);
}

static const rs_provider_t PROVIDERS[] = {
    {"sim", NULL, 1, sim_simulate, NULL, NULL, NULL, NULL},
    {"openai", "https://api.openai.com/v1", 128, NULL, openai_build_chat, openai_parse_chat,
     openai_build_embed, openai_parse_embed},
    {"anthropic", "https://api.anthropic.com", 1, NULL, anthropic_build_chat,
     anthropic_parse_chat, NULL, NULL},
};

static const rs_provider_t *row(const char *name)
{
    for (size_t i = 0; name && i < RS_ARRAY_LEN(PROVIDERS); i++)
        if (strcmp(PROVIDERS[i].name, name) == 0) return &PROVIDERS[i];
    return NULL;
}

const rs_provider_t *rs_provider_find(const char *name)
{
    return row(name);
}

char *rs_provider_url(const rs_provider_t *p, const rs_model_cfg_t *m, const char *path)
{
    const char *base = m->base_url && *m->base_url ? m->base_url
                       : p && p->default_base_url  ? p->default_base_url
                                                   : "";
    size_t n = strlen(base);
    while (n && base[n - 1] == '/') n--;
    return rs_xasprintf("%.*s%s", (int)n, base, path);
}

/* ---- outcomes ---- */

static const char *model_label(const rs_model_cfg_t *m)
{
    return m->name ? m->name : m->model ? m->model : "?";
}

static void set_failure(rs_failure_t *f, int retry, const char *reason, const char *message)
{
    f->retry = retry;
    snprintf(f->reason, sizeof(f->reason), "%s", reason);
    snprintf(f->message, sizeof(f->message), "%s", message);
}

void rs_provider_fail(rs_failure_t *f, const char *reason, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(f->message, sizeof(f->message), fmt, ap);
    va_end(ap);
    f->retry = 0;
    f->retry_after_ms = -1;
    snprintf(f->reason, sizeof(f->reason), "%s", reason);
}

void rs_provider_bad_response(const rs_model_cfg_t *m, const char *why, const char *body,
                              size_t len, rs_failure_t *f)
{
    char ex[RS_PROVIDER_EXCERPT + 1];
    rs_provider_excerpt(body, len, ex, sizeof(ex));
    rs_provider_fail(f, "bad_response", "model %s: malformed response: %s; body: \"%s\"",
                     model_label(m), why, ex);
}

typedef void (*hint_fn)(rs_buf_t *b, const rs_model_cfg_t *m, const char *server_msg);

static void hint_server(rs_buf_t *b, const rs_model_cfg_t *m, const char *server_msg)
{
    if (*server_msg) rs_buf_printf(b, ": %s", server_msg);
}

static void hint_key(rs_buf_t *b, const rs_model_cfg_t *m, const char *server_msg)
{
    if (m->api_key_env) rs_buf_printf(b, ": check the key in $%s", m->api_key_env);
    else rs_buf_puts(b, ": the server wants a key; name the variable holding it with api_key_env");
}

static void hint_access(rs_buf_t *b, const rs_model_cfg_t *m, const char *server_msg)
{
    rs_buf_printf(b, ": the key in $%s may have no access to model '%s'",
                  m->api_key_env ? m->api_key_env : "(none)", m->model);
    hint_server(b, m, server_msg);
}

static void hint_model_url(rs_buf_t *b, const rs_model_cfg_t *m, const char *server_msg)
{
    char *url = rs_provider_url(row(m->provider), m, "");
    rs_buf_printf(b, ": check the model id '%s' and base_url '%s'", m->model, url);
    free(url);
    hint_server(b, m, server_msg);
}

/* What each HTTP status means for a call; the first row whose range holds it applies. */
static const struct status_rule {
    long lo, hi;
    int retry;
    const char *what;
    hint_fn hint;
} STATUS_RULES[] = {
    {400, 400, 0, "bad request", hint_server},
    {401, 401, 0, "unauthorized", hint_key},
    {403, 403, 0, "forbidden", hint_access},
    {404, 404, 0, "not found", hint_model_url},
    {408, 408, 1, "request timeout", hint_server},
    {409, 409, 1, "conflict", hint_server},
    {429, 429, 1, "rate limited", hint_server},
    {400, 499, 0, "request refused", hint_server},
    {500, 599, 1, "server error", hint_server},
    {0, LONG_MAX, 0, "unexpected status", hint_server},
};

/* What each transport failure means. */
static const struct net_rule {
    rs_net_t net;
    int retry;
    const char *reason, *what;
} NET_RULES[] = {
    {RS_NET_TIMEOUT, 1, "timeout", "timed out (see timeout_ms, connect_timeout_ms)"},
    {RS_NET_CONNECT, 1, "connect", "connection failed"},
    {RS_NET_TOO_LARGE, 0, "response_too_large", "response body too large"},
    {RS_NET_TLS, 0, "tls", "TLS failure (check base_url and the server's certificate)"},
    {RS_NET_OTHER, 0, "network", "transfer failed"},
};

static int classify_net(const rs_model_cfg_t *m, const rs_http_outcome_t *o, rs_failure_t *f)
{
    const struct net_rule *r = &NET_RULES[RS_ARRAY_LEN(NET_RULES) - 1];
    for (size_t i = 0; i < RS_ARRAY_LEN(NET_RULES); i++)
        if (NET_RULES[i].net == o->net) r = &NET_RULES[i];
    char detail[RS_PROVIDER_EXCERPT + 1] = "";
    if (o->net_detail) rs_provider_excerpt(o->net_detail, strlen(o->net_detail), detail,
                                           sizeof(detail));
    rs_provider_fail(f, r->reason, "model %s: %s%s%s", model_label(m), r->what,
                     *detail ? ": " : "", detail);
    f->retry = r->retry;
    return -1;
}

/* The parameter a refusal names (OpenAI's error.param) into param, and the one its message says
 * to use ("... Use 'max_completion_tokens' instead.") into instead; "" when it says none. */
static void refused_param(const char *body, size_t len, char *param, char *instead, size_t size)
{
    *param = *instead = '\0';
    json_t *root = body ? json_loadb(body, len, 0, NULL) : NULL;
    json_t *e = json_object_get(root, "error");
    const char *p = json_string_value(json_object_get(e, "param"));
    const char *msg = json_string_value(json_object_get(e, "message"));
    if (p && *p) rs_provider_excerpt(p, strlen(p), param, size);
    const char *use = msg ? strstr(msg, "Use '") : NULL;
    const char *end = use ? strchr(use + 5, '\'') : NULL;
    if (*param && end && end > use + 5)
        rs_provider_excerpt(use + 5, (size_t)(end - (use + 5)), instead, size);
    json_decref(root);
}

/* "model X: the API refused parameter 'P' (400): <its message>[; use params.Y in place of
 * params.P]" into b, when the 400's body names a parameter; else nothing (returns 0). */
static int param_message(rs_buf_t *b, const rs_model_cfg_t *m, const rs_http_outcome_t *o,
                         const char *server)
{
    char param[65], instead[65];
    if (o->status != 400) return 0;
    refused_param(o->body, o->body_len, param, instead, sizeof(param));
    if (!*param) return 0;
    rs_buf_printf(b, "model %s: the API refused parameter '%s' (400)", model_label(m), param);
    hint_server(b, m, server);
    if (*instead) rs_buf_printf(b, "; use params.%s in place of params.%s", instead, param);
    return 1;
}

static int classify_status(const rs_model_cfg_t *m, const rs_http_outcome_t *o, int64_t now,
                           rs_failure_t *f)
{
    const struct status_rule *r = STATUS_RULES;
    while (!(o->status >= r->lo && o->status <= r->hi)) r++;
    char server[RS_PROVIDER_EXCERPT + 1];
    rs_provider_error_message(o->body, o->body_len, server, sizeof(server));
    rs_buf_t b;
    rs_buf_init(&b);
    if (!param_message(&b, m, o, server)) {
        rs_buf_printf(&b, "model %s: %s (%ld)", model_label(m), r->what, o->status);
        r->hint(&b, m, server);
    }
    char reason[32];
    snprintf(reason, sizeof(reason), "http_%ld", o->status);
    set_failure(f, r->retry, reason, b.data);
    rs_buf_cleanup(&b);
    if (rs_provider_retry_after(o->retry_after, now, &f->retry_after_ms) != 0)
        f->retry_after_ms = -1;
    return -1;
}

/* application/json, application/problem+json, ...: anything that says json. */
static int says_json(const char *ct)
{
    if (!ct || !*ct) return 1; /* no Content-Type at all: let the parser judge the bytes */
    for (const char *p = ct; *p; p++)
        if (strncasecmp(p, "json", 4) == 0) return 1;
    return 0;
}

int rs_provider_classify(const rs_model_cfg_t *m, const rs_http_outcome_t *o, int64_t now_wall_ms,
                         rs_failure_t *f)
{
    memset(f, 0, sizeof(*f));
    f->retry_after_ms = -1;
    if (o->net != RS_NET_OK) return classify_net(m, o, f);
    if (o->status < 200 || o->status > 299) return classify_status(m, o, now_wall_ms, f);
    if (says_json(o->content_type)) return 0;
    char ex[RS_PROVIDER_EXCERPT + 1], ct[81];
    rs_provider_excerpt(o->body, o->body_len, ex, sizeof(ex));
    rs_provider_excerpt(o->content_type, strlen(o->content_type), ct, sizeof(ct));
    rs_provider_fail(f, "wrong_content_type",
                     "model %s: the server answered %ld with content type '%s', not JSON; "
                     "body: \"%s\"", model_label(m), o->status, ct, ex);
    return -1;
}

int rs_provider_retry_after(const char *value, int64_t now_wall_ms, int64_t *delay_ms)
{
    if (!value) return -1;
    char v[96];
    while (*value == ' ' || *value == '\t') value++;
    size_t n = strlen(value);
    while (n && (value[n - 1] == ' ' || value[n - 1] == '\t' || value[n - 1] == '\r')) n--;
    if (n == 0 || n >= sizeof(v)) return -1;
    memcpy(v, value, n);
    v[n] = '\0';
    int64_t ms;
    if (strspn(v, "0123456789") == n) {
        int64_t s;
        /* 20 digits overflow int64: that is "longer than the cap" too */
        ms = rs_parse_i64(v, &s) == 0 && s < INT64_MAX / 1000 ? s * 1000 : INT64_MAX;
    } else if (v[0] >= '0' && v[0] <= '9') {
        return -1; /* "1.5", "10s": neither form */
    } else {
        time_t t = curl_getdate(v, NULL);
        if (t == (time_t)-1) return -1;
        /* libcurl takes any year ("31 Dec 2147483647"): a date past what milliseconds can hold
         * is past the cap too (found by fuzz_retry_after: the product overflowed) */
        if ((int64_t)t > INT64_MAX / 1000 - 1)
            ms = INT64_MAX;
        else if (t < 0)
            ms = 0;
        else
            ms = (int64_t)t * 1000 - now_wall_ms;
    }
    if (ms < 0) ms = 0;
    *delay_ms = ms > RS_PROVIDER_RETRY_AFTER_MAX_MS ? RS_PROVIDER_RETRY_AFTER_MAX_MS : ms;
    return 0;
}

int64_t rs_provider_backoff_ms(int64_t base_ms, int64_t cap_ms, int attempt, uint64_t rnd)
{
    if (base_ms < 0) base_ms = 0;
    if (cap_ms < 0) cap_ms = 0;
    int64_t ceil = base_ms < cap_ms ? base_ms : cap_ms;
    for (int i = 0; i < attempt && ceil < cap_ms; i++)
        ceil = ceil > cap_ms / 2 ? cap_ms : ceil * 2;
    return (int64_t)(rnd % ((uint64_t)ceil + 1));
}
