/* api: request parsing and reply building for OpenAI chat completions and embeddings and
 * Anthropic messages (jansson in, jansson out, no I/O). Replies come from rs_sim_generate with
 * error_rate 0: the mock injects its faults itself (faults.c), never through the sim. */
#define XXH_STATIC_LINKING_ONLY /* XXH64_state_t on the stack for the case-id hash */
#include "api.h"

#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <xxhash.h>

#include "sim.h"

#define MOCK_MODEL_NAME "sim-1"

/* ---------------------------------------------------------------- request parsing helpers */

/* The body as a JSON object, or NULL with err. */
static json_t *load_object(const char *body, size_t len, rs_err_t *err)
{
    json_error_t je;
    json_t *root = json_loadb(body ? body : "", len, 0, &je);
    if (!root) {
        rs_err_set(err, "malformed JSON at line %d, column %d: %s", je.line, je.column, je.text);
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        rs_err_set(err, "the request body must be a JSON object");
        return NULL;
    }
    return root;
}

/* A required string field, copied. */
static int req_string(const json_t *root, const char *key, char **out, rs_err_t *err)
{
    const json_t *v = json_object_get(root, key);
    if (!json_is_string(v)) return rs_err_set(err, "'%s' is required and must be a string", key);
    *out = rs_xstrndup(json_string_value(v), json_string_length(v));
    return 0;
}

/* An optional integer in [lo, hi]; *out keeps its value when the key is absent or null. */
static int opt_int(const json_t *root, const char *key, int64_t lo, int64_t hi, int64_t *out,
                   rs_err_t *err)
{
    const json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
        return rs_err_set(err, "'%s' must be an integer between %" PRId64 " and %" PRId64, key, lo,
                          hi);
    *out = json_integer_value(v);
    return 0;
}

/* An optional number in [lo, hi] (accepted and checked, never used: the sim is deterministic). */
static int opt_number(const json_t *root, const char *key, double lo, double hi, rs_err_t *err)
{
    const json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_number(v) || json_number_value(v) < lo || json_number_value(v) > hi)
        return rs_err_set(err, "'%s' must be a number between %g and %g", key, lo, hi);
    return 0;
}

/* OpenAI's stop: null, a string or a list of strings. */
static int check_stop(const json_t *root, rs_err_t *err)
{
    const json_t *v = json_object_get(root, "stop");
    size_t i;
    const json_t *s;
    if (!v || json_is_null(v) || json_is_string(v)) return 0;
    if (!json_is_array(v)) return rs_err_set(err, "'stop' must be a string or a list of strings");
    json_array_foreach(v, i, s)
    {
        if (!json_is_string(s)) return rs_err_set(err, "'stop[%zu]' must be a string", i);
    }
    return 0;
}

/* A content value as text: a string, null (""), or a list of parts whose "text" fields are
 * joined (image and other parts carry no text and are skipped). */
static int content_text(const json_t *v, const char *where, char **out, rs_err_t *err)
{
    size_t i;
    const json_t *part;
    if (!v || json_is_null(v)) {
        *out = rs_xstrdup("");
        return 0;
    }
    if (json_is_string(v)) {
        *out = rs_xstrndup(json_string_value(v), json_string_length(v));
        return 0;
    }
    if (!json_is_array(v))
        return rs_err_set(err, "%s: must be a string or a list of content parts", where);
    rs_buf_t b;
    rs_buf_init(&b);
    json_array_foreach(v, i, part)
    {
        const json_t *text = json_object_get(part, "text");
        if (!json_is_object(part) || (text && !json_is_string(text))) {
            rs_buf_cleanup(&b);
            return rs_err_set(err, "%s[%zu]: must be a content part with a string 'text'", where,
                              i);
        }
        if (text) rs_buf_append(&b, json_string_value(text), json_string_length(text));
    }
    *out = rs_buf_detach(&b);
    return 0;
}

static void push_msg(mock_chat_req_t *r, const char *role, char *content)
{
    r->msgs = rs_xrealloc(r->msgs, (r->n_msgs + 1) * sizeof(*r->msgs));
    r->msgs[r->n_msgs].role = rs_xstrdup(role);
    r->msgs[r->n_msgs].content = content;
    r->n_msgs++;
}

/* The "messages" list: a non-empty list of {role, content}. */
static int parse_msgs(const json_t *root, mock_chat_req_t *r, rs_err_t *err)
{
    const json_t *list = json_object_get(root, "messages");
    size_t i;
    const json_t *m;
    if (!json_is_array(list) || json_array_size(list) == 0)
        return rs_err_set(err, "'messages' is required and must be a non-empty list");
    json_array_foreach(list, i, m)
    {
        const json_t *role = json_object_get(m, "role");
        char where[48], *text;
        if (!json_is_object(m) || !json_is_string(role))
            return rs_err_set(err, "messages[%zu]: must be an object with a string 'role'", i);
        snprintf(where, sizeof(where), "messages[%zu].content", i);
        if (content_text(json_object_get(m, "content"), where, &text, err) < 0) return -1;
        push_msg(r, json_string_value(role), text);
    }
    return 0;
}

void mock_chat_req_cleanup(mock_chat_req_t *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->n_msgs; i++) {
        free(r->msgs[i].role);
        free(r->msgs[i].content);
    }
    free(r->msgs);
    free(r->model);
    memset(r, 0, sizeof(*r));
}

/* ---------------------------------------------------------------- request parsers */

/* An optional field of one JSON type (accepted and checked, not used). */
static int opt_typed(const json_t *root, const char *key, json_type type, const char *what,
                     rs_err_t *err)
{
    const json_t *v = json_object_get(root, key);
    if (!v || json_is_null(v) || json_typeof(v) == type) return 0;
    return rs_err_set(err, "'%s' must be %s", key, what);
}

static int chat_fields(const json_t *root, mock_chat_req_t *out, rs_err_t *err)
{
    if (req_string(root, "model", &out->model, err) < 0) return -1;
    if (parse_msgs(root, out, err) < 0) return -1;
    if (opt_int(root, "n", 1, MOCK_MAX_CHOICES, &out->n, err) < 0) return -1;
    if (opt_int(root, "max_tokens", 1, INT32_MAX, &out->max_tokens, err) < 0) return -1;
    out->max_tokens_field = json_is_integer(json_object_get(root, "max_tokens"));
    if (opt_int(root, "max_completion_tokens", 1, INT32_MAX, &out->max_tokens, err) < 0) return -1;
    if (opt_int(root, "seed", INT64_MIN, INT64_MAX, &out->seed, err) < 0) return -1;
    out->seed_set = json_is_integer(json_object_get(root, "seed"));
    if (opt_number(root, "temperature", 0, 2, err) < 0) return -1;
    if (opt_number(root, "top_p", 0, 1, err) < 0) return -1;
    if (opt_number(root, "presence_penalty", -2, 2, err) < 0) return -1;
    if (opt_number(root, "frequency_penalty", -2, 2, err) < 0) return -1;
    if (opt_typed(root, "reasoning_effort", JSON_STRING, "a string", err) < 0) return -1;
    if (opt_typed(root, "response_format", JSON_OBJECT, "an object", err) < 0) return -1;
    out->reasoning = json_is_string(json_object_get(root, "reasoning_effort"));
    return check_stop(root, err);
}

int mock_chat_parse(const char *body, size_t len, mock_chat_req_t *out, rs_err_t *err)
{
    memset(out, 0, sizeof(*out));
    out->n = 1;
    json_t *root = load_object(body, len, err);
    if (!root) return -1;
    int rc = chat_fields(root, out, err);
    json_decref(root);
    if (rc < 0) mock_chat_req_cleanup(out);
    return rc;
}

/* Anthropic's system: absent, a string, or a list of text blocks; becomes msgs[0]. */
static int anthropic_system(const json_t *root, mock_chat_req_t *out, rs_err_t *err)
{
    const json_t *sys = json_object_get(root, "system");
    char *text;
    if (!sys || json_is_null(sys)) return 0;
    if (content_text(sys, "system", &text, err) < 0) return -1;
    push_msg(out, "system", text);
    return 0;
}

/* thinking: {"type": "enabled", "budget_tokens": N} (a budget below max_tokens, as the API
 * requires), or another type ("disabled" asks for none). */
static int anthropic_thinking(const json_t *root, mock_chat_req_t *out, rs_err_t *err)
{
    const json_t *t = json_object_get(root, "thinking");
    if (!t || json_is_null(t)) return 0;
    const char *type = json_string_value(json_object_get(t, "type"));
    if (!json_is_object(t) || !type)
        return rs_err_set(err, "'thinking' must be an object with a string 'type'");
    int64_t budget = 0;
    if (opt_int(t, "budget_tokens", 1, INT32_MAX, &budget, err) < 0) return -1;
    if (strcmp(type, "enabled") == 0 && (budget == 0 || budget >= out->max_tokens))
        return rs_err_set(err, "thinking.budget_tokens: required with type enabled, and must be "
                               "less than max_tokens");
    out->reasoning = strcmp(type, "disabled") != 0;
    return 0;
}

static int messages_fields(const json_t *root, mock_chat_req_t *out, rs_err_t *err)
{
    if (req_string(root, "model", &out->model, err) < 0) return -1;
    const json_t *mt = json_object_get(root, "max_tokens");
    if (!json_is_integer(mt)) return rs_err_set(err, "'max_tokens' is required (an integer)");
    if (opt_int(root, "max_tokens", 1, INT32_MAX, &out->max_tokens, err) < 0) return -1;
    if (anthropic_system(root, out, err) < 0) return -1;
    if (parse_msgs(root, out, err) < 0) return -1;
    if (opt_number(root, "temperature", 0, 1, err) < 0) return -1;
    int64_t top_k = 0;
    if (opt_int(root, "top_k", 1, INT32_MAX, &top_k, err) < 0) return -1;
    if (opt_typed(root, "stop_sequences", JSON_ARRAY, "a list of strings", err) < 0) return -1;
    if (anthropic_thinking(root, out, err) < 0) return -1;
    return opt_number(root, "top_p", 0, 1, err);
}

int mock_messages_parse(const char *body, size_t len, mock_chat_req_t *out, rs_err_t *err)
{
    memset(out, 0, sizeof(*out));
    out->n = 1;
    json_t *root = load_object(body, len, err);
    if (!root) return -1;
    int rc = messages_fields(root, out, err);
    json_decref(root);
    if (rc < 0) mock_chat_req_cleanup(out);
    return rc;
}

static void push_input(mock_embed_req_t *r, const json_t *s)
{
    r->inputs = rs_xrealloc(r->inputs, (r->n_inputs + 1) * sizeof(*r->inputs));
    r->inputs[r->n_inputs++] = rs_xstrndup(json_string_value(s), json_string_length(s));
}

/* input: a string or a non-empty list of strings (token-id lists are not supported). */
static int embed_inputs(const json_t *root, mock_embed_req_t *out, rs_err_t *err)
{
    const json_t *in = json_object_get(root, "input");
    size_t i;
    const json_t *s;
    if (json_is_string(in)) {
        push_input(out, in);
        return 0;
    }
    if (!json_is_array(in) || json_array_size(in) == 0 || json_array_size(in) > MOCK_MAX_INPUTS)
        return rs_err_set(err, "'input' must be a string or a list of 1 to %d strings",
                          MOCK_MAX_INPUTS);
    json_array_foreach(in, i, s)
    {
        if (!json_is_string(s))
            return rs_err_set(err, "input[%zu]: must be a string (token lists are not supported)",
                              i);
        push_input(out, s);
    }
    return 0;
}

static int embed_fields(const json_t *root, mock_embed_req_t *out, rs_err_t *err)
{
    if (req_string(root, "model", &out->model, err) < 0) return -1;
    if (embed_inputs(root, out, err) < 0) return -1;
    int64_t dim = 0;
    if (opt_int(root, "dimensions", 1, MOCK_MAX_EMBED_DIM, &dim, err) < 0) return -1;
    out->dim = (int)dim;
    const json_t *fmt = json_object_get(root, "encoding_format");
    if (!fmt || json_is_null(fmt)) return 0;
    const char *f = json_string_value(fmt);
    if (!f || (strcmp(f, "float") != 0 && strcmp(f, "base64") != 0))
        return rs_err_set(err, "'encoding_format' must be \"float\" or \"base64\"");
    out->base64 = strcmp(f, "base64") == 0;
    return 0;
}

int mock_embed_parse(const char *body, size_t len, mock_embed_req_t *out, rs_err_t *err)
{
    memset(out, 0, sizeof(*out));
    json_t *root = load_object(body, len, err);
    if (!root) return -1;
    int rc = embed_fields(root, out, err);
    json_decref(root);
    if (rc < 0) mock_embed_req_cleanup(out);
    return rc;
}

void mock_embed_req_cleanup(mock_embed_req_t *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->n_inputs; i++)
        free(r->inputs[i]);
    free(r->inputs);
    free(r->model);
    memset(r, 0, sizeof(*r));
}

/* ---------------------------------------------------------------- X-RS-* headers */

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

char *mock_pct_decode(const char *in)
{
    size_t n = strlen(in), j = 0;
    char *out = rs_xmalloc(n + 1);
    for (size_t i = 0; i < n; i++) {
        if (in[i] != '%') {
            out[j++] = in[i];
            continue;
        }
        int hi = hexval(in[i + 1]); /* in[i + 1] is at worst the NUL */
        int lo = hi < 0 ? -1 : hexval(in[i + 2]);
        if (lo < 0 || (hi | lo) == 0) { /* malformed, or a NUL that would cut the string */
            free(out);
            return NULL;
        }
        out[j++] = (char)(hi * 16 + lo);
        i += 2;
    }
    out[j] = '\0';
    return out;
}

/* jansson refuses invalid UTF-8 in json_string: the decoded value must be fit for a reply. */
static int valid_utf8(const char *s)
{
    json_t *probe = json_string(s);
    json_decref(probe);
    return probe != NULL;
}

/* One header: NULL stays NULL, anything else must decode to valid UTF-8. */
static int header_value(const char *name, const char *raw, char **out, rs_err_t *err)
{
    *out = NULL;
    if (!raw) return 0;
    *out = mock_pct_decode(raw);
    if (*out && valid_utf8(*out)) return 0;
    free(*out);
    *out = NULL;
    return rs_err_set(err, "%s: malformed percent-encoding or not UTF-8", name);
}

int mock_ids_parse(const char *model, const char *case_id, const char *candidate,
                   const char *target, mock_ids_t *out, rs_err_t *err)
{
    char *cand = NULL;
    memset(out, 0, sizeof(*out));
    if (header_value("X-RS-Model", model, &out->model, err) < 0 ||
        header_value("X-RS-Case", case_id, &out->case_id, err) < 0 ||
        header_value("X-RS-Target", target, &out->target, err) < 0 ||
        header_value("X-RS-Candidate", candidate, &cand, err) < 0)
        goto fail;
    if (cand && (rs_parse_i64(cand, &out->candidate) < 0 || out->candidate < 0 ||
                 out->candidate > INT32_MAX - MOCK_MAX_CHOICES)) {
        rs_err_set(err, "X-RS-Candidate: must be a non-negative integer");
        goto fail;
    }
    free(cand);
    return 0;
fail:
    free(cand);
    mock_ids_cleanup(out);
    return -1;
}

static int flag_value(const char *name, const char *raw, int *out, rs_err_t *err)
{
    *out = 0;
    if (!raw) return 0;
    if (strcmp(raw, "0") != 0 && strcmp(raw, "1") != 0)
        return rs_err_set(err, "%s: must be 0 or 1", name);
    *out = raw[0] == '1';
    return 0;
}

int mock_chain_parse(const mock_chain_headers_t *h, mock_ids_t *ids, rs_err_t *err)
{
    if (!h->stage) return 0;
    char *round = NULL;
    int rc = header_value("X-RS-Stage", h->stage, &ids->stage, err);
    if (rc == 0) rc = header_value("X-RS-Round", h->round, &round, err);
    if (rc == 0) rc = header_value("X-RS-Judge", h->judge, &ids->judge, err);
    if (rc == 0) rc = header_value("X-RS-Judged-Model", h->judged_model, &ids->judged_model, err);
    if (rc == 0) rc = header_value("X-RS-Prev", h->prev, &ids->prev, err);
    if (rc == 0) rc = flag_value("X-RS-Truth", h->truth, &ids->truth, err);
    if (rc == 0) rc = flag_value("X-RS-Self", h->is_self, &ids->is_self, err);
    if (rc == 0)
        rc = flag_value("X-RS-Critique-Correct", h->critique_said_correct,
                        &ids->critique_said_correct, err);
    if (rc == 0 && (!round || rs_parse_i64(round, &ids->round) < 0 || ids->round < 0 ||
                    ids->round > INT32_MAX))
        rc = rs_err_set(err, "X-RS-Round: must be a non-negative integer");
    int critique = rc == 0 && strcmp(ids->stage, "critique") == 0;
    if (rc == 0 && critique && (!ids->judge || !ids->judged_model))
        rc = rs_err_set(err, "X-RS-Stage critique needs X-RS-Judge and X-RS-Judged-Model");
    if (rc == 0 && !critique && strcmp(ids->stage, "revise") != 0)
        rc = rs_err_set(err, "X-RS-Stage: must be critique or revise");
    if (rc == 0 && !critique && !ids->prev)
        rc = rs_err_set(err, "X-RS-Stage revise needs X-RS-Prev");
    free(round);
    return rc;
}

void mock_ids_cleanup(mock_ids_t *ids)
{
    if (!ids) return;
    free(ids->model);
    free(ids->case_id);
    free(ids->target);
    free(ids->stage);
    free(ids->judge);
    free(ids->judged_model);
    free(ids->prev);
    memset(ids, 0, sizeof(*ids));
}

void mock_case_id(const rs_chat_msg_t *msgs, size_t n_msgs, char out[17])
{
    XXH64_state_t st;
    XXH64_reset(&st, 0);
    for (size_t i = 0; i < n_msgs; i++)
        if (msgs[i].content) XXH64_update(&st, msgs[i].content, strlen(msgs[i].content));
    snprintf(out, 17, "%016" PRIx64, (uint64_t)XXH64_digest(&st));
}

/* ---------------------------------------------------------------- sim replies */

/* The sim's inputs for a request: the case (borrowing req's messages and ids' strings) and the
 * model label. idbuf and target_slot are storage that must outlive the case. */
static void sim_inputs(const mock_sim_cfg_t *cfg, const mock_chat_req_t *req, const mock_ids_t *ids,
                       rs_case_t *c, rs_model_cfg_t *m, char idbuf[17], char **target_slot)
{
    const char *label = ids->model ? ids->model : req->model;
    memset(c, 0, sizeof(*c));
    c->msgs = req->msgs;
    c->n_msgs = req->n_msgs;
    if (ids->case_id) {
        c->id = ids->case_id;
    } else {
        mock_case_id(req->msgs, req->n_msgs, idbuf);
        c->id = idbuf;
    }
    if (ids->target) {
        *target_slot = ids->target;
        c->targets = target_slot;
        c->n_targets = 1;
    }
    *m = (rs_model_cfg_t){.name = (char *)label,
                          .provider = "sim",
                          .model = (char *)label,
                          .n = 1,
                          .accuracy = cfg->accuracy,
                          .judge_accuracy = cfg->judge_accuracy,
                          .self_bias = cfg->self_bias,
                          .fix_rate = cfg->fix_rate,
                          .break_rate = cfg->break_rate,
                          .error_rate = 0, /* faults are the mock's, not the sim's */
                          .latency_ms = 0};
}

/* Bytes of every message's content: what the in-process sim counts a critique's or revision's
 * prompt by (its input tokens). */
static size_t content_bytes(const mock_chat_req_t *req)
{
    size_t n = 0;
    for (size_t i = 0; i < req->n_msgs; i++)
        n += req->msgs[i].content ? strlen(req->msgs[i].content) : 0;
    return n;
}

/* The seed of a request's draws: the body's "seed" when it has one (a run's epochs and prompt
 * variants send their own), else --seed. */
static int64_t draw_seed(const mock_sim_cfg_t *cfg, const mock_chat_req_t *req)
{
    return req->seed_set ? req->seed : cfg->seed;
}

/* A critique (rs_sim_judge, answered in the default "Verdict: Y|N" form) or a revision
 * (rs_sim_revise) of candidate k, as the worker's in-process sim would make it. */
static void chain_reply(const mock_sim_cfg_t *cfg, const mock_chat_req_t *req,
                        const mock_ids_t *ids, const rs_case_t *c, const rs_model_cfg_t *m, int k,
                        rs_sim_reply_t *out)
{
    if (strcmp(ids->stage, "critique") == 0) {
        rs_judge_cfg_t j = {.name = ids->judge};
        rs_sim_judge_req_t q = {.cand_model = ids->judged_model, .k = k, .round = (int)ids->round,
                                .cand_correct = ids->truth, .is_self = ids->is_self,
                                .prompt_bytes = content_bytes(req)};
        rs_sim_judge(m, draw_seed(cfg, req), c, &j, &q, out);
        return;
    }
    rs_sim_revise_req_t q = {.k = k, .round = (int)ids->round, .prev_text = ids->prev,
                             .prev_correct = ids->truth,
                             .critique_said_correct = ids->critique_said_correct,
                             .prompt_bytes = content_bytes(req)};
    rs_sim_revise(m, draw_seed(cfg, req), c, &q, out);
}

/* Replies for candidates ids->candidate .. ids->candidate + n - 1 into out[n]. */
/* --reply-filler: a long reply full of numbers before the sim's own text, whose answer stays the
 * last number and the last "####" line (a client's extraction must be linear in the reply). */
static void prepend_filler(rs_sim_reply_t *r, int64_t n)
{
    static const char unit[] = "12 apples and 7 pears. ";
    if (n <= 0 || !r->text) return;
    size_t len = strlen(r->text);
    char *t = rs_xmalloc((size_t)n + len + 1);
    for (int64_t i = 0; i < n; i++) t[i] = unit[(size_t)i % (sizeof(unit) - 1)];
    memcpy(t + n, r->text, len + 1);
    free(r->text);
    r->text = t;
}

static void sim_replies(const mock_sim_cfg_t *cfg, const mock_chat_req_t *req,
                        const mock_ids_t *ids, int64_t n, rs_sim_reply_t *out)
{
    rs_case_t c;
    rs_model_cfg_t m;
    char idbuf[17], *target = NULL;
    sim_inputs(cfg, req, ids, &c, &m, idbuf, &target);
    for (int64_t i = 0; i < n; i++) {
        int k = (int)(ids->candidate + i);
        if (ids->stage)
            chain_reply(cfg, req, ids, &c, &m, k, &out[i]);
        else
            rs_sim_generate(&m, draw_seed(cfg, req), &c, k, &out[i]);
        prepend_filler(&out[i], cfg->filler);
    }
}

/* The JSON text of root (stolen), or NULL when root is NULL (a string that is not UTF-8). */
static char *dump(json_t *root, size_t flags, size_t *len)
{
    if (!root) return NULL;
    char *text = json_dumps(root, JSON_COMPACT | flags);
    json_decref(root);
    if (text) *len = strlen(text);
    return text;
}

/* The model id a reply names: --serve-model for the share --serve-model-rate of cases (by a hash
 * of the case id, so a case is always served by the same one), else the one asked for. */
static const char *served_model(const mock_sim_cfg_t *cfg, const mock_chat_req_t *req,
                                const mock_ids_t *ids)
{
    char idbuf[17];
    if (!cfg->serve_model) return req->model;
    const char *id = ids->case_id;
    if (!id) {
        mock_case_id(req->msgs, req->n_msgs, idbuf);
        id = idbuf;
    }
    double u = (double)(XXH64(id, strlen(id), 0x5e7e) >> 11) * 0x1p-53;
    return u < cfg->serve_model_rate ? cfg->serve_model : req->model;
}

static int64_t thinking_tokens(void)
{
    return (int64_t)(sizeof(MOCK_THINKING) - 1 + 3) / 4;
}

static json_t *chat_choice(int64_t i, const char *text, int reasoning)
{
    json_t *msg = json_pack("{s:s, s:s}", "role", "assistant", "content", text);
    if (msg && reasoning) json_object_set_new(msg, "reasoning_content", json_string(MOCK_THINKING));
    return json_pack("{s:I, s:o, s:n, s:s}", "index", (json_int_t)i, "message", msg, "logprobs",
                     "finish_reason", "stop");
}

char *mock_chat_reply(const mock_sim_cfg_t *cfg, const mock_chat_req_t *req, const mock_ids_t *ids,
                      uint64_t serial, int64_t created, size_t *len)
{
    rs_sim_reply_t *r = rs_xcalloc((size_t)req->n, sizeof(*r));
    sim_replies(cfg, req, ids, req->n, r);
    json_t *choices = json_array();
    int64_t out_tokens = 0, reasoning = req->reasoning ? req->n * thinking_tokens() : 0;
    for (int64_t i = 0; i < req->n; i++) {
        json_array_append_new(choices, chat_choice(i, r[i].text, req->reasoning));
        out_tokens += r[i].output_tokens;
    }
    out_tokens += reasoning;
    char id[32];
    snprintf(id, sizeof(id), "chatcmpl-%016" PRIx64, serial);
    json_t *root = json_pack(
        "{s:s, s:s, s:I, s:s, s:s, s:o, s:{s:I, s:I, s:I}}", "id", id, "object", "chat.completion",
        "created", (json_int_t)created, "model", served_model(cfg, req, ids), "system_fingerprint",
        MOCK_SYSTEM_FINGERPRINT, "choices", choices, "usage", "prompt_tokens",
        (json_int_t)r[0].input_tokens, "completion_tokens", (json_int_t)out_tokens,
        "total_tokens", (json_int_t)(r[0].input_tokens + out_tokens));
    if (root && req->reasoning)
        json_object_set_new(json_object_get(root, "usage"), "completion_tokens_details",
                            json_pack("{s:I}", "reasoning_tokens", (json_int_t)reasoning));
    for (int64_t i = 0; i < req->n; i++)
        rs_sim_reply_cleanup(&r[i]);
    free(r);
    return dump(root, 0, len);
}

char *mock_messages_reply(const mock_sim_cfg_t *cfg, const mock_chat_req_t *req,
                          const mock_ids_t *ids, uint64_t serial, size_t *len)
{
    rs_sim_reply_t r;
    sim_replies(cfg, req, ids, 1, &r);
    char id[32];
    snprintf(id, sizeof(id), "msg_%016" PRIx64, serial);
    json_t *content = json_array();
    if (req->reasoning) /* thinking comes first, signed, as the API sends it */
        json_array_append_new(content, json_pack("{s:s, s:s, s:s}", "type", "thinking", "thinking",
                                                 MOCK_THINKING, "signature", "mock-signature"));
    json_array_append_new(content, json_pack("{s:s, s:s}", "type", "text", "text", r.text));
    int64_t out_tokens = r.output_tokens + (req->reasoning ? thinking_tokens() : 0);
    json_t *root = json_pack("{s:s, s:s, s:s, s:s, s:o, s:s, s:n, s:{s:I, s:I}}", "id", id, "type",
                             "message", "role", "assistant", "model", served_model(cfg, req, ids),
                             "content", content, "stop_reason", "end_turn", "stop_sequence",
                             "usage", "input_tokens", (json_int_t)r.input_tokens, "output_tokens",
                             (json_int_t)out_tokens);
    rs_sim_reply_cleanup(&r);
    return dump(root, 0, len);
}

/* ---------------------------------------------------------------- embeddings */

static int word_byte(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
}

void mock_embed_text(const char *text, int dim, double *out)
{
    char *low = rs_xstrdup(text);
    for (char *p = low; *p; p++)
        if (*p >= 'A' && *p <= 'Z') *p = (char)(*p - 'A' + 'a');
    memset(out, 0, (size_t)dim * sizeof(*out));
    for (const char *p = low; *p;) {
        if (!word_byte((unsigned char)*p)) {
            p++;
            continue;
        }
        const char *start = p;
        while (*p && word_byte((unsigned char)*p))
            p++;
        uint64_t h = XXH64(start, (size_t)(p - start), 0);
        out[h % (uint64_t)dim] += (h >> 63) ? -1.0 : 1.0;
    }
    free(low);
    double norm = 0;
    for (int i = 0; i < dim; i++)
        norm += out[i] * out[i];
    norm = sqrt(norm);
    for (int i = 0; norm > 0 && i < dim; i++)
        out[i] /= norm;
}

/* The vector as the openai SDK's base64: little-endian float32, standard alphabet. */
static json_t *embed_base64(const double *v, int dim)
{
    size_t nbytes = (size_t)dim * 4;
    unsigned char *raw = rs_xmalloc(nbytes);
    for (int i = 0; i < dim; i++) {
        float f = (float)v[i];
        uint32_t u;
        memcpy(&u, &f, 4);
        for (int b = 0; b < 4; b++)
            raw[4 * i + b] = (unsigned char)(u >> (8 * b));
    }
    char *b64 = rs_xmalloc(4 * ((nbytes + 2) / 3) + 1);
    EVP_EncodeBlock((unsigned char *)b64, raw, (int)nbytes);
    json_t *s = json_string(b64);
    free(raw);
    free(b64);
    return s;
}

static json_t *embed_list(const double *v, int dim)
{
    json_t *list = json_array();
    for (int i = 0; i < dim; i++)
        json_array_append_new(list, json_real(v[i]));
    return list;
}

char *mock_embed_reply(const mock_sim_cfg_t *cfg, const mock_embed_req_t *req, size_t *len)
{
    int dim = req->dim > 0 ? req->dim : cfg->embed_dim;
    double *v = rs_xmalloc((size_t)dim * sizeof(*v));
    json_t *data = json_array();
    size_t bytes = 0;
    for (size_t i = 0; i < req->n_inputs; i++) {
        mock_embed_text(req->inputs[i], dim, v);
        json_t *e = req->base64 ? embed_base64(v, dim) : embed_list(v, dim);
        json_array_append_new(data, json_pack("{s:s, s:I, s:o}", "object", "embedding", "index",
                                              (json_int_t)i, "embedding", e));
        bytes += (strlen(req->inputs[i]) + 3) / 4;
    }
    free(v);
    json_t *root = json_pack("{s:s, s:o, s:s, s:{s:I, s:I}}", "object", "list", "data", data,
                             "model", req->model, "usage", "prompt_tokens", (json_int_t)bytes,
                             "total_tokens", (json_int_t)bytes);
    /* float32 precision is all an embedding has; 17 digits would double the reply */
    return dump(root, JSON_REAL_PRECISION(9), len);
}

/* ---------------------------------------------------------------- models and errors */

char *mock_models_reply(size_t *len)
{
    json_t *root = json_pack("{s:s, s:[{s:s, s:s, s:I, s:s}]}", "object", "list", "data", "id",
                             MOCK_MODEL_NAME, "object", "model", "created", (json_int_t)0,
                             "owned_by", "reasonsaver");
    return dump(root, 0, len);
}

/* The error type each API uses for a status (OpenAI type and code, Anthropic type). */
static const struct error_kind {
    int status;
    const char *openai_type;
    const char *openai_code; /* NULL: JSON null */
    const char *anthropic_type;
} error_kinds[] = {
    {400, "invalid_request_error", NULL, "invalid_request_error"},
    {401, "invalid_request_error", "invalid_api_key", "authentication_error"},
    {404, "invalid_request_error", "unknown_url", "not_found_error"},
    {405, "invalid_request_error", "method_not_allowed", "invalid_request_error"},
    {413, "invalid_request_error", "request_too_large", "request_too_large"},
    {429, "requests", "rate_limit_exceeded", "rate_limit_error"},
    {500, "server_error", NULL, "api_error"},
    {503, "server_error", NULL, "overloaded_error"},
};

static const struct error_kind *error_kind(int status)
{
    for (size_t i = 0; i < RS_ARRAY_LEN(error_kinds); i++)
        if (error_kinds[i].status == status) return &error_kinds[i];
    return status < 500 ? &error_kinds[0] : &error_kinds[6];
}

char *mock_reasoning_refusal(const mock_chat_req_t *req, size_t *len)
{
    const char *m = req->model;
    int reasoning_model = m && ((m[0] == 'o' && m[1] >= '0' && m[1] <= '9') || /* o1, o3-mini */
                                strncmp(m, "gpt-5", 5) == 0);
    if (!req->max_tokens_field || !reasoning_model) return NULL;
    json_t *root = json_pack(
        "{s:{s:s, s:s, s:s, s:s}}", "error", "message",
        "Unsupported parameter: 'max_tokens' is not supported with this model. Use "
        "'max_completion_tokens' instead.",
        "type", "invalid_request_error", "param", "max_tokens", "code", "unsupported_parameter");
    return dump(root, 0, len);
}

/* The body fields each endpoint reads (or checks). */
static const char *const CHAT_FIELDS[] = {
    "model", "messages", "n", "max_tokens", "max_completion_tokens", "seed", "temperature", "top_p",
    "stop", "presence_penalty", "frequency_penalty", "reasoning_effort", "response_format", NULL};
static const char *const MESSAGES_FIELDS[] = {"model",  "messages",       "system",   "max_tokens",
                                              "temperature", "top_p",     "top_k",
                                              "stop_sequences", "thinking", NULL};
static const char *const EMBED_FIELDS[] = {"model", "input", "dimensions", "encoding_format",
                                           NULL};

static int listed(const char *const *list, const char *s)
{
    for (; *list; list++)
        if (strcmp(*list, s) == 0) return 1;
    return 0;
}

json_t *mock_unknown_fields(mock_api_t api, int embeddings, const char *body, size_t len)
{
    const char *const *known = embeddings                   ? EMBED_FIELDS
                               : api == MOCK_API_ANTHROPIC ? MESSAGES_FIELDS
                                                           : CHAT_FIELDS;
    json_t *root = json_loadb(body ? body : "", len, 0, NULL), *out = json_object();
    const char *k;
    json_t *v;
    if (json_is_object(root)) {
        json_object_foreach(root, k, v) {
            if (!listed(known, k)) json_object_set(out, k, v);
        }
    }
    json_decref(root);
    if (json_object_size(out)) return out;
    json_decref(out);
    return NULL;
}

int mock_known_header(const char *name)
{
    static const char *const known[] = {
        "host", "user-agent", "accept", "accept-encoding", "content-type", "content-length",
        "connection", "expect", "transfer-encoding", "authorization", "x-api-key",
        "anthropic-version", NULL};
    if (strncasecmp(name, "x-rs-", 5) == 0) return 1;
    for (size_t i = 0; known[i]; i++)
        if (strcasecmp(name, known[i]) == 0) return 1;
    return 0;
}

char *mock_error_reply(mock_api_t api, int status, const char *message, size_t *len)
{
    const struct error_kind *k = error_kind(status);
    json_t *root;
    if (api == MOCK_API_ANTHROPIC)
        root = json_pack("{s:s, s:{s:s, s:s}}", "type", "error", "error", "type", k->anthropic_type,
                         "message", message);
    else
        root = json_pack("{s:{s:s, s:s, s:n, s:o}}", "error", "message", message, "type",
                         k->openai_type, "param", "code",
                         k->openai_code ? json_string(k->openai_code) : json_null());
    return dump(root, 0, len);
}
