/* test_provider: the provider codecs without I/O — request bodies and headers of both APIs
 * (system handling, stop, n, mock headers, the key only in a header), response parsing (good,
 * error JSON, truncated, missing fields), Retry-After forms, the classification table, backoff,
 * excerpts and redaction. */
#include <jansson.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "provider.h"

#define KEY "sk-test-SECRET-0123456789"

/* ---- fixtures ---- */

static char *stops[] = {"\n\n", "END", NULL};

/* A model whose every request parameter is unset (NaN, 0, NULL), as a config without params
 * loads: nothing of them may be sent. */
static rs_model_cfg_t bare(const char *provider)
{
    return (rs_model_cfg_t){.name = "gpt-test",
                            .provider = (char *)provider,
                            .model = "gpt-4o-mini",
                            .n = 1,
                            .temperature = NAN,
                            .top_p = NAN,
                            .presence_penalty = NAN,
                            .frequency_penalty = NAN,
                            .seed = 1,
                            .anthropic_version = "2023-06-01"};
}

static rs_model_cfg_t model(const char *provider)
{
    return (rs_model_cfg_t){.name = "gpt-test",
                            .provider = (char *)provider,
                            .model = "gpt-4o-mini",
                            .api_key_env = "TEST_KEY",
                            .n = 1,
                            .temperature = 0.7,
                            .top_p = 1,
                            .max_tokens = 256,
                            .seed = 42,
                            .seed_set = 1,
                            .presence_penalty = NAN,
                            .frequency_penalty = NAN,
                            .timeout_ms = 1000,
                            .connect_timeout_ms = 500,
                            .max_retries = 3,
                            .retry_base_ms = 100,
                            .retry_cap_ms = 1000,
                            .anthropic_version = "2023-06-01"};
}

typedef struct test_case {
    rs_case_t c;
    rs_chat_msg_t msgs[4];
    char *targets[1];
} test_case_t;

static void make_case(test_case_t *t)
{
    memset(t, 0, sizeof(*t));
    t->msgs[0] = (rs_chat_msg_t){"system", "Be brief."};
    t->msgs[1] = (rs_chat_msg_t){"user", "What is 6 * 7?"};
    t->msgs[2] = (rs_chat_msg_t){"system", "End with #### <answer>."};
    t->msgs[3] = (rs_chat_msg_t){"assistant", "Let me see."};
    t->targets[0] = "42 / x";
    t->c = (rs_case_t){.idx = 3, .id = "case 7/ü", .msgs = t->msgs, .n_msgs = 4,
                       .targets = t->targets, .n_targets = 1};
}

static const char *header(const rs_http_req_t *r, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < r->n_headers; i++)
        if (strncasecmp(r->headers[i], name, n) == 0 && r->headers[i][n] == ':')
            return r->headers[i] + n + 2;
    return NULL;
}

static json_t *body_json(const rs_http_req_t *r)
{
    json_error_t je;
    json_t *b = json_loadb(r->body, r->body_len, 0, &je);
    assert_non_null(b);
    assert_int_equal(strlen(r->body), r->body_len);
    return b;
}

static void build(const char *provider, rs_model_cfg_t *m, int k, int n, const char *key,
                  rs_http_req_t *out)
{
    test_case_t t;
    make_case(&t);
    rs_chat_req_t req = {m, &t.c, k, n, key, NULL};
    rs_err_t err;
    const rs_provider_t *p = rs_provider_find(provider);
    assert_non_null(p);
    assert_int_equal(p->build_chat(&req, out, &err), 0);
}

/* ---- the table ---- */

static void test_find(void **state)
{
    (void)state;
    const rs_provider_t *sim = rs_provider_find("sim"), *oa = rs_provider_find("openai"),
                        *an = rs_provider_find("anthropic");
    assert_non_null(sim);
    assert_non_null(sim->simulate);
    assert_null(sim->build_chat);
    assert_string_equal(oa->default_base_url, "https://api.openai.com/v1");
    assert_string_equal(an->default_base_url, "https://api.anthropic.com");
    assert_true(oa->max_choices > 1);
    assert_int_equal(an->max_choices, 1);
    assert_non_null(oa->build_embed);
    assert_null(an->build_embed);
    assert_null(rs_provider_find("llama"));
    assert_null(rs_provider_find(NULL));
}

static void test_url(void **state)
{
    (void)state;
    rs_model_cfg_t m = model("openai");
    char *u = rs_provider_url(rs_provider_find("openai"), &m, "/chat/completions");
    assert_string_equal(u, "https://api.openai.com/v1/chat/completions");
    free(u);
    m.base_url = "http://127.0.0.1:8080/v1//";
    u = rs_provider_url(rs_provider_find("openai"), &m, "/chat/completions");
    assert_string_equal(u, "http://127.0.0.1:8080/v1/chat/completions");
    free(u);
}

/* ---- OpenAI requests ---- */

static void test_openai_body(void **state)
{
    (void)state;
    rs_model_cfg_t m = model("openai");
    m.stop = stops;
    rs_http_req_t r;
    build("openai", &m, 0, 1, KEY, &r);
    assert_string_equal(r.url, "https://api.openai.com/v1/chat/completions");
    json_t *b = body_json(&r);
    assert_string_equal(json_string_value(json_object_get(b, "model")), "gpt-4o-mini");
    json_t *msgs = json_object_get(b, "messages");
    assert_int_equal(json_array_size(msgs), 4); /* system messages stay where they are */
    assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, 0), "role")),
                        "system");
    assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, 1), "content")),
                        "What is 6 * 7?");
    assert_float_equal(json_number_value(json_object_get(b, "temperature")), 0.7, 1e-12);
    assert_float_equal(json_number_value(json_object_get(b, "top_p")), 1, 1e-12);
    assert_int_equal(json_integer_value(json_object_get(b, "max_tokens")), 256);
    assert_int_equal(json_integer_value(json_object_get(b, "seed")), 42);
    json_t *stop = json_object_get(b, "stop");
    assert_int_equal(json_array_size(stop), 2);
    assert_string_equal(json_string_value(json_array_get(stop, 1)), "END");
    assert_null(json_object_get(b, "n")); /* n=1 is not sent: some servers reject n */
    assert_non_null(strstr(r.body, "\"temperature\":0.7")); /* not 0.69999999999999996 */
    json_decref(b);
    rs_http_req_cleanup(&r);
}

static void test_openai_n_and_no_stop(void **state)
{
    (void)state;
    rs_model_cfg_t m = model("openai");
    m.n = 5;
    rs_http_req_t r;
    build("openai", &m, 0, 5, KEY, &r);
    json_t *b = body_json(&r);
    assert_int_equal(json_integer_value(json_object_get(b, "n")), 5);
    assert_null(json_object_get(b, "stop"));
    json_decref(b);
    rs_http_req_cleanup(&r);
}

static void test_openai_key_only_in_header(void **state)
{
    (void)state;
    rs_model_cfg_t m = model("openai");
    m.mock = 1;
    rs_http_req_t r;
    build("openai", &m, 2, 1, KEY, &r);
    assert_null(strstr(r.body, KEY));
    assert_null(strstr(r.body, "SECRET"));
    assert_null(strstr(r.url, "SECRET"));
    assert_string_equal(header(&r, "Authorization"), "Bearer " KEY);
    assert_string_equal(header(&r, "Content-Type"), "application/json");
    int holding = 0;
    for (size_t i = 0; i < r.n_headers; i++) holding += strstr(r.headers[i], KEY) != NULL;
    assert_int_equal(holding, 1);
    rs_http_req_cleanup(&r);
    assert_null(r.headers);
    assert_int_equal(r.n_headers, 0);
}

static void test_no_key_no_header(void **state)
{
    (void)state;
    rs_model_cfg_t m = model("openai");
    m.api_key_env = NULL;
    rs_http_req_t r;
    build("openai", &m, 0, 1, NULL, &r);
    assert_null(header(&r, "Authorization"));
    assert_null(header(&r, "X-RS-Model")); /* mock is off */
    rs_http_req_cleanup(&r);
    build("openai", &m, 0, 1, "", &r);
    assert_null(header(&r, "Authorization"));
    rs_http_req_cleanup(&r);
}

static void test_key_with_line_break(void **state)
{
    (void)state;
    rs_model_cfg_t m = model("openai");
    test_case_t t;
    make_case(&t);
    rs_chat_req_t req = {&m, &t.c, 0, 1, "sk-abc\r\nX-Evil: 1", NULL};
    rs_http_req_t r;
    rs_err_t err;
    assert_int_equal(rs_provider_find("openai")->build_chat(&req, &r, &err), -1);
    assert_non_null(strstr(err.msg, "$TEST_KEY holds a line break"));
    assert_null(strstr(err.msg, "sk-abc"));
    assert_null(r.body);
}

static void test_mock_headers(void **state)
{
    (void)state;
    rs_model_cfg_t m = model("openai");
    m.mock = 1;
    m.name = "sim strong";
    rs_http_req_t r;
    build("openai", &m, 3, 2, KEY, &r);
    assert_string_equal(header(&r, "X-RS-Model"), "sim%20strong");
    assert_string_equal(header(&r, "X-RS-Case"), "case%207%2F%C3%BC");
    assert_string_equal(header(&r, "X-RS-Candidate"), "3");
    assert_string_equal(header(&r, "X-RS-Target"), "42%20%2F%20x");
    rs_http_req_cleanup(&r);
}

static void test_invalid_utf8_prompt(void **state)
{
    (void)state;
    rs_model_cfg_t m = model("openai");
    test_case_t t;
    make_case(&t);
    t.msgs[1].content = "bad \xff byte";
    rs_chat_req_t req = {&m, &t.c, 0, 1, KEY, NULL};
    rs_http_req_t r;
    rs_err_t err;
    assert_int_equal(rs_provider_find("openai")->build_chat(&req, &r, &err), -1);
    assert_non_null(strstr(err.msg, "model gpt-test"));
    assert_int_equal(rs_provider_find("anthropic")->build_chat(&req, &r, &err), -1);
}

/* ---- Anthropic requests ---- */

static void test_anthropic_body(void **state)
{
    (void)state;
    rs_model_cfg_t m = model("anthropic");
    m.stop = stops;
    m.base_url = "http://127.0.0.1:9/";
    rs_http_req_t r;
    build("anthropic", &m, 0, 1, KEY, &r);
    assert_string_equal(r.url, "http://127.0.0.1:9/v1/messages");
    json_t *b = body_json(&r);
    assert_string_equal(json_string_value(json_object_get(b, "system")),
                        "Be brief.\n\nEnd with #### <answer>.");
    json_t *msgs = json_object_get(b, "messages");
    assert_int_equal(json_array_size(msgs), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, 0), "role")),
                        "user");
    assert_string_equal(json_string_value(json_object_get(json_array_get(msgs, 1), "role")),
                        "assistant");
    assert_int_equal(json_integer_value(json_object_get(b, "max_tokens")), 256);
    assert_int_equal(json_array_size(json_object_get(b, "stop_sequences")), 2);
    assert_null(json_object_get(b, "stop"));
    assert_float_equal(json_number_value(json_object_get(b, "top_p")), 1, 1e-12); /* it is set */
    assert_null(json_object_get(b, "seed"));
    assert_null(json_object_get(b, "n"));
    assert_float_equal(json_number_value(json_object_get(b, "temperature")), 0.7, 1e-12);
    json_decref(b);
    assert_string_equal(header(&r, "x-api-key"), KEY);
    assert_string_equal(header(&r, "anthropic-version"), "2023-06-01");
    assert_string_equal(header(&r, "content-type"), "application/json");
    assert_null(header(&r, "Authorization"));
    assert_null(strstr(r.body, KEY));
    rs_http_req_cleanup(&r);
}

static void test_anthropic_no_system_top_p(void **state)
{
    (void)state;
    rs_model_cfg_t m = model("anthropic");
    m.top_p = 0.9;
    m.anthropic_version = "2024-01-01";
    test_case_t t;
    make_case(&t);
    t.c.msgs = &t.msgs[1];
    t.c.n_msgs = 1;
    rs_chat_req_t req = {&m, &t.c, 0, 1, KEY, NULL};
    rs_http_req_t r;
    rs_err_t err;
    assert_int_equal(rs_provider_find("anthropic")->build_chat(&req, &r, &err), 0);
    json_t *b = body_json(&r);
    assert_null(json_object_get(b, "system"));
    assert_float_equal(json_number_value(json_object_get(b, "top_p")), 0.9, 1e-12);
    json_decref(b);
    assert_string_equal(header(&r, "anthropic-version"), "2024-01-01");
    rs_http_req_cleanup(&r);
}

/* ---- OpenAI responses ---- */

static int parse_openai(const char *body, rs_chat_resp_t *out, rs_err_t *err)
{
    return rs_provider_find("openai")->parse_chat(body, strlen(body), out, err);
}

static void test_openai_parse_good(void **state)
{
    (void)state;
    const char *body =
        "{\"id\":\"x\",\"choices\":[{\"index\":1,\"message\":{\"role\":\"assistant\","
        "\"content\":\"#### 7\"},\"finish_reason\":\"length\"},{\"index\":0,\"message\":"
        "{\"content\":null},\"finish_reason\":\"content_filter\"},{\"index\":2,\"message\":"
        "{\"content\":[{\"type\":\"text\",\"text\":\"a\"},{\"type\":\"text\",\"text\":\"b\"}]}}],"
        "\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":30,\"total_tokens\":42}}";
    rs_chat_resp_t r;
    rs_err_t err;
    assert_int_equal(parse_openai(body, &r, &err), 0);
    assert_int_equal(r.n_choices, 3);
    assert_int_equal(r.choices[0].index, 1);
    assert_string_equal(r.choices[0].text, "#### 7");
    assert_string_equal(r.choices[0].finish_reason, "length");
    assert_int_equal(r.choices[1].index, 0);
    assert_string_equal(r.choices[1].text, "");
    assert_string_equal(r.choices[2].text, "ab");
    assert_null(r.choices[2].finish_reason);
    assert_int_equal(r.input_tokens, 12);
    assert_int_equal(r.output_tokens, 30);
    rs_chat_resp_cleanup(&r);
    assert_null(r.choices);
}

static void test_openai_parse_no_usage_no_index(void **state)
{
    (void)state;
    rs_chat_resp_t r;
    rs_err_t err;
    assert_int_equal(parse_openai("{\"choices\":[{\"message\":{\"content\":\"hi\"}},"
                                  "{\"message\":{\"content\":\"ho\"}}]}", &r, &err), 0);
    assert_int_equal(r.choices[1].index, 1);
    assert_int_equal(r.input_tokens, 0);
    assert_int_equal(r.output_tokens, 0);
    rs_chat_resp_cleanup(&r);
}

static void expect_parse_error(const char *provider, const char *body, const char *want)
{
    rs_chat_resp_t r;
    rs_err_t err;
    memset(&r, 0x5a, sizeof(r));
    assert_int_equal(rs_provider_find(provider)->parse_chat(body, strlen(body), &r, &err), -1);
    if (!strstr(err.msg, want)) fail_msg("error '%s' lacks '%s'", err.msg, want);
    assert_null(r.choices); /* nothing to free after a failure */
    assert_int_equal(r.n_choices, 0);
}

static void test_openai_parse_errors(void **state)
{
    (void)state;
    expect_parse_error("openai", "{\"choices\":[{\"message\":{\"content\":\"#### 7\"",
                       "not valid JSON");
    expect_parse_error("openai", "", "not valid JSON");
    expect_parse_error("openai", "[1,2]", "must be a JSON object, not an array");
    expect_parse_error("openai", "{\"id\":\"x\"}", "choices must be an array, not missing");
    expect_parse_error("openai", "{\"choices\":[]}", "choices is empty");
    expect_parse_error("openai", "{\"choices\":[7]}",
                       "choices[0] must be an object, not an integer");
    expect_parse_error("openai", "{\"choices\":[{\"index\":0}]}",
                       "choices[0].message must be an object, not missing");
    expect_parse_error("openai",
                       "{\"choices\":[{\"message\":{\"content\":\"a\"}},{\"message\":{}}]}",
                       "choices[1].message.content is missing");
    expect_parse_error("openai", "{\"choices\":[{\"message\":{\"content\":5}}]}",
                       "choices[0].message.content must be a string, not an integer");
    expect_parse_error("openai",
                       "{\"choices\":[{\"index\":\"0\",\"message\":{\"content\":\"a\"}}]}",
                       "choices[0].index must be a non-negative integer");
    expect_parse_error("openai",
                       "{\"error\":{\"message\":\"The model is overloaded\",\"type\":\"server\"}}",
                       "the server answered with an error: The model is overloaded");
}

/* ---- Anthropic responses ---- */

static void test_anthropic_parse_good(void **state)
{
    (void)state;
    const char *body =
        "{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":["
        "{\"type\":\"thinking\",\"thinking\":\"hm\"},{\"type\":\"text\",\"text\":\"The answer \"},"
        "{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"calc\",\"input\":{}},"
        "{\"type\":\"text\",\"text\":\"is 42\"}],\"stop_reason\":\"end_turn\","
        "\"usage\":{\"input_tokens\":17,\"output_tokens\":5}}";
    rs_chat_resp_t r;
    rs_err_t err;
    assert_int_equal(rs_provider_find("anthropic")->parse_chat(body, strlen(body), &r, &err), 0);
    assert_int_equal(r.n_choices, 1);
    assert_int_equal(r.choices[0].index, 0);
    assert_string_equal(r.choices[0].text, "The answer is 42");
    assert_string_equal(r.choices[0].finish_reason, "end_turn");
    assert_int_equal(r.input_tokens, 17);
    assert_int_equal(r.output_tokens, 5);
    rs_chat_resp_cleanup(&r);
}

static void test_anthropic_parse_errors(void **state)
{
    (void)state;
    expect_parse_error("anthropic", "{\"content\":[{\"type\":\"text\",\"te", "not valid JSON");
    expect_parse_error("anthropic", "{\"type\":\"message\"}",
                       "content must be an array, not missing");
    expect_parse_error("anthropic", "{\"content\":[{\"type\":\"text\",\"text\":1}]}",
                       "content[0].text must be a string, not an integer");
    expect_parse_error("anthropic", "{\"content\":[\"x\"]}", "content[0] must be an object");
    expect_parse_error("anthropic",
                       "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
                       "\"message\":\"Overloaded\"}}",
                       "the server answered with an error: Overloaded");
}

/* ---- embeddings ---- */

static void test_embeddings(void **state)
{
    (void)state;
    rs_model_cfg_t m = model("openai");
    m.model = "text-embedding-3-small";
    const char *in[] = {"a", "b"};
    rs_embed_req_t req = {&m, in, 2, KEY};
    rs_http_req_t r;
    rs_err_t err;
    const rs_provider_t *p = rs_provider_find("openai");
    assert_int_equal(p->build_embed(&req, &r, &err), 0);
    assert_string_equal(r.url, "https://api.openai.com/v1/embeddings");
    json_t *b = body_json(&r);
    assert_string_equal(json_string_value(json_object_get(b, "model")), "text-embedding-3-small");
    assert_int_equal(json_array_size(json_object_get(b, "input")), 2);
    json_decref(b);
    assert_null(strstr(r.body, KEY));
    rs_http_req_cleanup(&r);

    const char *good = "{\"data\":[{\"index\":1,\"embedding\":[3,4]},{\"index\":0,"
                       "\"embedding\":[1.5,-2]}],\"usage\":{\"prompt_tokens\":2}}";
    rs_embed_resp_t e;
    assert_int_equal(p->parse_embed(good, strlen(good), &e, &err), 0);
    assert_int_equal(e.n, 2);
    assert_int_equal(e.dim, 2);
    assert_float_equal(e.vecs[0], 1.5, 0);
    assert_float_equal(e.vecs[1], -2, 0);
    assert_float_equal(e.vecs[2], 3, 0);
    assert_int_equal(e.input_tokens, 2);
    rs_embed_resp_cleanup(&e);

    const char *bad[] = {
        "{\"data\":[{\"index\":0,\"embedding\":[1,2]},{\"index\":1,\"embedding\":[1]}]}",
        "{\"data\":[{\"index\":0,\"embedding\":[1]},{\"index\":0,\"embedding\":[2]}]}",
        "{\"data\":[{\"index\":0,\"embedding\":[\"x\"]}]}", "{\"data\":[]}", "{\"data\":[{"};
    for (size_t i = 0; i < RS_ARRAY_LEN(bad); i++) {
        assert_int_equal(p->parse_embed(bad[i], strlen(bad[i]), &e, &err), -1);
        assert_null(e.vecs);
    }
}

/* A body cannot make the parser allocate more than the values it holds: data[0] with 400,000
 * values followed by 400,000 rows that are not rows once asked for n * dim = 1.6e11 doubles up
 * front (1.3 TB: an abort in rs_xcalloc, found while writing fuzz_embeddings). Every row is
 * checked before the allocation now. And a row without an index cannot take the slot of one
 * that named it (its vector was overwritten, another slot left zero). */
static void test_embeddings_checked_before_allocation(void **state)
{
    (void)state;
    const rs_provider_t *p = rs_provider_find("openai");
    const size_t k = 400000;
    rs_buf_t b;
    rs_buf_init(&b);
    rs_buf_puts(&b, "{\"data\":[{\"embedding\":[0");
    for (size_t i = 1; i < k; i++) rs_buf_puts(&b, ",0");
    rs_buf_puts(&b, "]}");
    for (size_t i = 1; i < k; i++) rs_buf_puts(&b, ",0");
    rs_buf_puts(&b, "]}");
    rs_embed_resp_t e;
    rs_err_t err = {{0}};
    assert_int_equal(p->parse_embed(b.data, b.len, &e, &err), -1);
    assert_string_equal(err.msg, "data[1].embedding must be a non-empty array of numbers");
    assert_null(e.vecs);
    rs_buf_cleanup(&b);

    const char *taken = "{\"data\":[{\"index\":1,\"embedding\":[1]},{\"embedding\":[2]}]}";
    assert_int_equal(p->parse_embed(taken, strlen(taken), &e, &err), -1);
    assert_string_equal(err.msg, "data[1].index is missing, out of range or repeated");
    const char *mixed = "{\"data\":[{\"index\":1,\"embedding\":[1]},{\"embedding\":[2]},"
                        "{\"index\":0,\"embedding\":[3]}]}";
    assert_int_equal(p->parse_embed(mixed, strlen(mixed), &e, &err), -1);
    const char *positional = "{\"data\":[{\"embedding\":[1]},{\"embedding\":[2]}]}";
    assert_int_equal(p->parse_embed(positional, strlen(positional), &e, &err), 0);
    assert_float_equal(e.vecs[0], 1, 0);
    assert_float_equal(e.vecs[1], 2, 0);
    rs_embed_resp_cleanup(&e);
}

/* ---- Retry-After ---- */

static void test_retry_after(void **state)
{
    (void)state;
    int64_t d = -5;
    /* Sun, 06 Nov 1994 08:49:37 GMT = 784111777 */
    const int64_t now = 784111777LL * 1000 - 5500;
    assert_int_equal(rs_provider_retry_after("120", now, &d), 0);
    assert_int_equal(d, 120000);
    assert_int_equal(rs_provider_retry_after(" 3 ", now, &d), 0);
    assert_int_equal(d, 3000);
    assert_int_equal(rs_provider_retry_after("0", now, &d), 0);
    assert_int_equal(d, 0);
    assert_int_equal(rs_provider_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now, &d), 0);
    assert_int_equal(d, 5500);
    assert_int_equal(rs_provider_retry_after("Sunday, 06-Nov-94 08:49:37 GMT", now, &d), 0);
    assert_int_equal(d, 5500);
    assert_int_equal(rs_provider_retry_after("Sun Nov  6 08:49:37 1994", now, &d), 0);
    assert_int_equal(d, 5500);
    /* a date in the past: retry now */
    assert_int_equal(rs_provider_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now + 60000, &d), 0);
    assert_int_equal(d, 0);
    /* absurd values are cut to the maximum */
    assert_int_equal(rs_provider_retry_after("999999999999999999999", now, &d), 0);
    assert_int_equal(d, RS_PROVIDER_RETRY_AFTER_MAX_MS);
    assert_int_equal(rs_provider_retry_after("86400", now, &d), 0);
    assert_int_equal(d, RS_PROVIDER_RETRY_AFTER_MAX_MS);
    /* a year whose seconds overflow as milliseconds (found by fuzz_retry_after,
     * tests/fuzz/regressions/retry_after/): signed overflow before, the cap now */
    assert_int_equal(rs_provider_retry_after("Fri, 31 Dec 2147483647 23:59:59 GMT", now, &d), 0);
    assert_int_equal(d, RS_PROVIDER_RETRY_AFTER_MAX_MS);
    assert_int_equal(rs_provider_retry_after("Fri, 31 Dec 99999999 23:59:59 GMT", now, &d), 0);
    assert_int_equal(d, RS_PROVIDER_RETRY_AFTER_MAX_MS);
    const char *bad[] = {"", "  ", "1.5", "-3", "10s", "soon", "+5"};
    for (size_t i = 0; i < RS_ARRAY_LEN(bad); i++)
        if (rs_provider_retry_after(bad[i], now, &d) != -1) fail_msg("'%s' was accepted", bad[i]);
    assert_int_equal(rs_provider_retry_after(NULL, now, &d), -1);
}

/* ---- classification ---- */

static const rs_http_outcome_t OK_JSON = {RS_NET_OK, NULL, 200, "application/json", "{}", 2, NULL};

static void test_classify_success(void **state)
{
    (void)state;
    rs_model_cfg_t m = model("openai");
    rs_failure_t f;
    assert_int_equal(rs_provider_classify(&m, &OK_JSON, 0, &f), 0);
    rs_http_outcome_t o = OK_JSON;
    o.content_type = "application/json; charset=utf-8";
    assert_int_equal(rs_provider_classify(&m, &o, 0, &f), 0);
    o.content_type = NULL; /* no Content-Type: the parser decides */
    assert_int_equal(rs_provider_classify(&m, &o, 0, &f), 0);
    o.status = 201;
    assert_int_equal(rs_provider_classify(&m, &o, 0, &f), 0);
}

static void test_classify_wrong_type(void **state)
{
    (void)state;
    rs_model_cfg_t m = model("openai");
    rs_failure_t f;
    rs_http_outcome_t o = {RS_NET_OK, NULL, 200, "text/html", "<html>\x01oops</html>", 18, NULL};
    assert_int_equal(rs_provider_classify(&m, &o, 0, &f), -1);
    assert_string_equal(f.reason, "wrong_content_type");
    assert_int_equal(f.retry, 0);
    assert_non_null(strstr(f.message, "model gpt-test"));
    assert_non_null(strstr(f.message, "'text/html'"));
    assert_non_null(strstr(f.message, "<html>?oops</html>"));
}

/* The table: status -> retried?, reason, words in the message. */
static void test_classify_table(void **state)
{
    (void)state;
    static const struct {
        long status;
        int retry;
        const char *reason, *words;
    } rows[] = {
        {400, 0, "http_400", "model gpt-test: bad request (400): max_tokens is too large"},
        {401, 0, "http_401", "model gpt-test: unauthorized (401): check the key in $TEST_KEY"},
        {403, 0, "http_403", "may have no access to model 'gpt-4o-mini'"},
        {404, 0, "http_404",
         "check the model id 'gpt-4o-mini' and base_url 'https://api.openai.com/v1'"},
        {408, 1, "http_408", "request timeout (408)"},
        {409, 1, "http_409", "conflict (409)"},
        {418, 0, "http_418", "request refused (418)"},
        {422, 0, "http_422", "max_tokens is too large"},
        {429, 1, "http_429", "rate limited (429)"},
        {500, 1, "http_500", "server error (500)"},
        {502, 1, "http_502", "server error (502)"},
        {503, 1, "http_503", "server error (503)"},
        {529, 1, "http_529", "server error (529)"},
        {302, 0, "http_302", "unexpected status (302)"},
    };
    rs_model_cfg_t m = model("openai");
    const char *err_body = "{\"error\":{\"message\":\"max_tokens is too large\",\"type\":\"x\"}}";
    for (size_t i = 0; i < RS_ARRAY_LEN(rows); i++) {
        rs_http_outcome_t o = {RS_NET_OK, NULL, rows[i].status, "application/json", err_body,
                               strlen(err_body), NULL};
        rs_failure_t f;
        assert_int_equal(rs_provider_classify(&m, &o, 0, &f), -1);
        if (f.retry != rows[i].retry || strcmp(f.reason, rows[i].reason) != 0 ||
            !strstr(f.message, rows[i].words))
            fail_msg("status %ld: retry %d reason %s message '%s'", rows[i].status, f.retry,
                     f.reason, f.message);
        assert_int_equal(f.retry_after_ms, -1);
    }
}

static void test_classify_401_exact(void **state)
{
    (void)state;
    rs_model_cfg_t m = model("openai");
    m.name = "prod";
    const char *body = "{\"error\":{\"message\":\"Incorrect API key provided: sk-te***789\"}}";
    rs_http_outcome_t o = {RS_NET_OK, NULL, 401, "application/json", body, strlen(body), NULL};
    rs_failure_t f;
    rs_provider_classify(&m, &o, 0, &f);
    assert_string_equal(f.message, "model prod: unauthorized (401): check the key in $TEST_KEY");
    m.api_key_env = NULL;
    rs_provider_classify(&m, &o, 0, &f);
    assert_non_null(strstr(f.message, "api_key_env"));
}

static void test_classify_retry_after(void **state)
{
    (void)state;
    rs_model_cfg_t m = model("anthropic");
    rs_http_outcome_t o = {RS_NET_OK, NULL, 429, "text/plain", "slow down", 9, "7"};
    rs_failure_t f;
    assert_int_equal(rs_provider_classify(&m, &o, 0, &f), -1);
    assert_int_equal(f.retry, 1);
    assert_int_equal(f.retry_after_ms, 7000);
    assert_non_null(strstr(f.message, "rate limited (429): slow down"));
    o.retry_after = "garbage";
    rs_provider_classify(&m, &o, 0, &f);
    assert_int_equal(f.retry_after_ms, -1);
}

static void test_classify_net(void **state)
{
    (void)state;
    static const struct {
        rs_net_t net;
        int retry;
        const char *reason;
    } rows[] = {{RS_NET_TIMEOUT, 1, "timeout"}, {RS_NET_CONNECT, 1, "connect"},
                {RS_NET_TOO_LARGE, 0, "response_too_large"}, {RS_NET_TLS, 0, "tls"},
                {RS_NET_OTHER, 0, "network"}};
    rs_model_cfg_t m = model("openai");
    for (size_t i = 0; i < RS_ARRAY_LEN(rows); i++) {
        rs_http_outcome_t o = {rows[i].net, "Failed to connect to 127.0.0.1 port 9", 0, NULL,
                               NULL, 0, NULL};
        rs_failure_t f;
        assert_int_equal(rs_provider_classify(&m, &o, 0, &f), -1);
        assert_int_equal(f.retry, rows[i].retry);
        assert_string_equal(f.reason, rows[i].reason);
        assert_non_null(strstr(f.message, "model gpt-test: "));
        assert_non_null(strstr(f.message, "port 9"));
    }
}

static void test_bad_response(void **state)
{
    (void)state;
    rs_model_cfg_t m = model("openai");
    char body[600];
    memset(body, 'x', sizeof(body));
    memcpy(body, "{\"choices\":\n[", 13);
    rs_failure_t f;
    rs_provider_bad_response(&m, "not valid JSON", body, sizeof(body), &f);
    assert_string_equal(f.reason, "bad_response");
    assert_int_equal(f.retry, 0);
    assert_non_null(strstr(f.message, "model gpt-test: malformed response: not valid JSON; body: "
                                      "\"{\"choices\":?[xxx"));
    assert_non_null(strstr(f.message, "...\""));
    assert_true(strlen(f.message) < 300);
}

/* ---- helpers ---- */

static void test_excerpt(void **state)
{
    (void)state;
    char out[RS_PROVIDER_EXCERPT + 1];
    rs_provider_excerpt("ab\ncd\xc3\xa9", 7, out, sizeof(out));
    assert_string_equal(out, "ab?cd??");
    char big[1000];
    memset(big, 'y', sizeof(big));
    rs_provider_excerpt(big, sizeof(big), out, sizeof(out));
    assert_int_equal(strlen(out), RS_PROVIDER_EXCERPT);
    assert_string_equal(out + RS_PROVIDER_EXCERPT - 3, "...");
    char huge[1000];
    rs_provider_excerpt(big, sizeof(big), huge, sizeof(huge)); /* never above 200 */
    assert_int_equal(strlen(huge), RS_PROVIDER_EXCERPT);
    char tiny[6];
    rs_provider_excerpt("abcdefgh", 8, tiny, sizeof(tiny));
    assert_string_equal(tiny, "ab...");
    rs_provider_excerpt(NULL, 5, out, sizeof(out));
    assert_string_equal(out, "");
}

static void test_error_message(void **state)
{
    (void)state;
    static const struct {
        const char *body, *want;
    } rows[] = {
        {"{\"error\":{\"message\":\"bad key\",\"type\":\"invalid_request_error\"}}", "bad key"},
        {"{\"type\":\"error\",\"error\":{\"type\":\"not_found_error\",\"message\":\"model: x\"}}",
         "model: x"},
        {"{\"error\":\"plain error\"}", "plain error"},
        {"{\"object\":\"error\",\"message\":\"vllm says no\"}", "vllm says no"},
        {"{\"detail\":\"Not Found\"}", "Not Found"},
        {"<html><body>502 Bad Gateway</body></html>", "<html><body>502 Bad Gateway</body></html>"},
        {"", ""},
    };
    char out[RS_PROVIDER_EXCERPT + 1];
    for (size_t i = 0; i < RS_ARRAY_LEN(rows); i++) {
        rs_provider_error_message(rows[i].body, strlen(rows[i].body), out, sizeof(out));
        assert_string_equal(out, rows[i].want);
    }
}

static void test_backoff(void **state)
{
    (void)state;
    /* full jitter: the extremes of the random draw reach 0 and the ceiling */
    assert_int_equal(rs_provider_backoff_ms(500, 30000, 0, 0), 0);
    assert_int_equal(rs_provider_backoff_ms(500, 30000, 0, 500), 500);
    assert_int_equal(rs_provider_backoff_ms(500, 30000, 0, 501), 0);
    assert_int_equal(rs_provider_backoff_ms(500, 30000, 3, 4000), 4000);
    assert_int_equal(rs_provider_backoff_ms(500, 30000, 10, 30000), 30000);
    assert_int_equal(rs_provider_backoff_ms(500, 30000, 1000, UINT64_MAX), UINT64_MAX % 30001);
    assert_int_equal(rs_provider_backoff_ms(50000, 30000, 0, 30000), 30000); /* cap < base */
    for (int a = 0; a < 70; a++)
        for (uint64_t r = 0; r < 1000000000000ull; r = r * 7 + 13) {
            int64_t d = rs_provider_backoff_ms(100, 5000, a, r);
            int64_t ceil = a < 6 ? 100LL << a : 5000;
            if (ceil > 5000) ceil = 5000;
            if (d < 0 || d > ceil) fail_msg("attempt %d: %lld outside [0, %lld]", a, (long long)d,
                                            (long long)ceil);
        }
}

static void test_redact(void **state)
{
    (void)state;
    char s[] = "Incorrect API key provided: " KEY ", again " KEY ".";
    rs_provider_redact(s, KEY);
    assert_null(strstr(s, "SECRET"));
    char stars[64];
    memset(stars, '*', strlen(KEY));
    stars[strlen(KEY)] = '\0';
    char want[256];
    snprintf(want, sizeof(want), "Incorrect API key provided: %s, again %s.", stars, stars);
    assert_string_equal(s, want);
    char t[] = "abc abc";
    rs_provider_redact(t, "abc"); /* too short to be a key: untouched */
    assert_string_equal(t, "abc abc");
    rs_provider_redact(t, NULL);
    rs_provider_redact(NULL, KEY);
}

static void test_pct_encode(void **state)
{
    (void)state;
    rs_buf_t b;
    rs_buf_init(&b);
    rs_pct_encode(&b, "a-Z_0.9~ /%+\n\xc3\xa9");
    assert_string_equal(b.data, "a-Z_0.9~%20%2F%25%2B%0A%C3%A9");
    rs_buf_cleanup(&b);
}

static void test_fail_helper(void **state)
{
    (void)state;
    rs_failure_t f;
    rs_provider_fail(&f, "no_key", "model %s: $%s is not set", "m", "K");
    assert_string_equal(f.reason, "no_key");
    assert_string_equal(f.message, "model m: $K is not set");
    assert_int_equal(f.retry, 0);
    assert_int_equal(f.retry_after_ms, -1);
}

/* ---- request parameters: only what is set is sent ---- */

static void test_params_unset_not_sent(void **state)
{
    (void)state;
    rs_model_cfg_t m = bare("openai");
    rs_http_req_t r;
    build("openai", &m, 0, 1, NULL, &r);
    json_t *b = body_json(&r);
    assert_int_equal(json_object_size(b), 2); /* model and messages, nothing else */
    assert_non_null(json_object_get(b, "model"));
    assert_non_null(json_object_get(b, "messages"));
    json_decref(b);
    rs_http_req_cleanup(&r);
    m = bare("anthropic");
    build("anthropic", &m, 0, 1, NULL, &r);
    b = body_json(&r);
    assert_int_equal(json_object_size(b), 4); /* model, max_tokens, messages, system */
    assert_int_equal(json_integer_value(json_object_get(b, "max_tokens")),
                     RS_PROVIDER_DEFAULT_MAX_TOKENS); /* the API requires one */
    assert_non_null(json_object_get(b, "system"));
    json_decref(b);
    rs_http_req_cleanup(&r);
}

static char *extra_headers[] = {"OpenAI-Organization: org-7", "X-Trace: t1", NULL};

static void test_params_openai_all(void **state)
{
    (void)state;
    rs_model_cfg_t m = bare("openai");
    m.model = "o3-mini";
    m.temperature = 1;
    m.top_p = 0.5;
    m.max_completion_tokens = 2000;
    m.seed = 9;
    m.seed_set = 1;
    m.stop = stops;
    m.presence_penalty = -0.5;
    m.frequency_penalty = 1.5;
    m.reasoning_effort = "high";
    m.response_format = "{\"type\":\"json_object\"}";
    m.extra_body = "{\"logit_bias\":{\"50256\":-100},\"top_p\":0.25,\"user\":\"u1\"}";
    m.extra_headers = extra_headers;
    rs_http_req_t r;
    build("openai", &m, 0, 1, KEY, &r);
    json_t *b = body_json(&r);
    assert_float_equal(json_number_value(json_object_get(b, "temperature")), 1, 0);
    assert_float_equal(json_number_value(json_object_get(b, "top_p")), 0.25, 0); /* extra wins */
    assert_null(json_object_get(b, "max_tokens"));
    assert_int_equal(json_integer_value(json_object_get(b, "max_completion_tokens")), 2000);
    assert_int_equal(json_integer_value(json_object_get(b, "seed")), 9);
    assert_int_equal(json_array_size(json_object_get(b, "stop")), 2);
    assert_float_equal(json_number_value(json_object_get(b, "presence_penalty")), -0.5, 0);
    assert_float_equal(json_number_value(json_object_get(b, "frequency_penalty")), 1.5, 0);
    assert_string_equal(json_string_value(json_object_get(b, "reasoning_effort")), "high");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(b, "response_format"), "type")),
        "json_object");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(b, "logit_bias"), "50256")),
                     -100);
    assert_string_equal(json_string_value(json_object_get(b, "user")), "u1");
    assert_null(json_object_get(b, "thinking"));
    assert_string_equal(header(&r, "OpenAI-Organization"), "org-7");
    assert_string_equal(header(&r, "X-Trace"), "t1");
    assert_string_equal(header(&r, "Authorization"), "Bearer " KEY);
    json_decref(b);
    rs_http_req_cleanup(&r);
}

static void test_params_anthropic_thinking(void **state)
{
    (void)state;
    rs_model_cfg_t m = bare("anthropic");
    m.thinking_type = "enabled";
    m.thinking_budget = 2048;
    m.top_k = 40;
    m.extra_body = "{\"metadata\":{\"user_id\":\"u\"}}";
    m.extra_headers = extra_headers;
    rs_http_req_t r;
    build("anthropic", &m, 0, 1, KEY, &r);
    json_t *b = body_json(&r);
    /* max_tokens must exceed the budget: the default is added to it */
    assert_int_equal(json_integer_value(json_object_get(b, "max_tokens")),
                     RS_PROVIDER_DEFAULT_MAX_TOKENS + 2048);
    json_t *t = json_object_get(b, "thinking");
    assert_string_equal(json_string_value(json_object_get(t, "type")), "enabled");
    assert_int_equal(json_integer_value(json_object_get(t, "budget_tokens")), 2048);
    assert_int_equal(json_integer_value(json_object_get(b, "top_k")), 40);
    assert_non_null(json_object_get(b, "metadata"));
    assert_null(json_object_get(b, "temperature"));
    assert_string_equal(header(&r, "X-Trace"), "t1");
    json_decref(b);
    rs_http_req_cleanup(&r);
    m.max_tokens = 5000; /* given: sent as it is */
    build("anthropic", &m, 0, 1, KEY, &r);
    b = body_json(&r);
    assert_int_equal(json_integer_value(json_object_get(b, "max_tokens")), 5000);
    json_decref(b);
    rs_http_req_cleanup(&r);
}

static void test_output_bound(void **state)
{
    (void)state;
    rs_model_cfg_t m = bare("openai");
    assert_int_equal(rs_provider_max_tokens(&m), 0);
    assert_int_equal(rs_provider_output_bound(&m), RS_PROVIDER_DEFAULT_MAX_TOKENS);
    m.max_tokens = 64;
    assert_int_equal(rs_provider_output_bound(&m), 64);
    m.max_completion_tokens = 3000;
    assert_int_equal(rs_provider_output_bound(&m), 3000);
    m = bare("anthropic");
    m.thinking_type = "enabled";
    m.thinking_budget = 1024;
    assert_int_equal(rs_provider_output_bound(&m), RS_PROVIDER_DEFAULT_MAX_TOKENS + 1024);
}

static void test_header_credential(void **state)
{
    (void)state;
    const char *secret[] = {"Authorization", "x-api-key", "Api-Key", "Cookie", "X-Goog-Api-Key",
                            "X-Auth-Token", "Proxy-Authorization", "X-Session-Id", "Client-Secret"};
    const char *plain[] = {"OpenAI-Organization", "anthropic-beta", "X-Request-Id", "X-Trace"};
    for (size_t i = 0; i < sizeof(secret) / sizeof(*secret); i++)
        assert_true(rs_provider_header_credential(secret[i]));
    for (size_t i = 0; i < sizeof(plain) / sizeof(*plain); i++)
        assert_false(rs_provider_header_credential(plain[i]));
}

/* OpenAI's 400 for max_tokens on a reasoning model becomes a message naming the parameter and
 * the one to use; not retried. */
static void test_classify_refused_param(void **state)
{
    (void)state;
    rs_model_cfg_t m = model("openai");
    const char *body = "{\"error\":{\"message\":\"Unsupported parameter: 'max_tokens' is not "
                       "supported with this model. Use 'max_completion_tokens' instead.\","
                       "\"type\":\"invalid_request_error\",\"param\":\"max_tokens\","
                       "\"code\":\"unsupported_parameter\"}}";
    rs_http_outcome_t o = {.status = 400, .content_type = "application/json", .body = body,
                           .body_len = strlen(body)};
    rs_failure_t f;
    assert_int_equal(rs_provider_classify(&m, &o, 0, &f), -1);
    assert_int_equal(f.retry, 0);
    assert_string_equal(f.reason, "http_400");
    assert_non_null(strstr(f.message, "model gpt-test: the API refused parameter 'max_tokens' (400)"));
    assert_non_null(strstr(f.message, "Use 'max_completion_tokens' instead."));
    assert_non_null(strstr(f.message,
                           "; use params.max_completion_tokens in place of params.max_tokens"));
    /* a param without advice: named, no advice; no param: the plain 400 */
    const char *other = "{\"error\":{\"message\":\"bad temperature\",\"param\":\"temperature\"}}";
    o.body = other;
    o.body_len = strlen(other);
    rs_provider_classify(&m, &o, 0, &f);
    assert_non_null(strstr(f.message, "refused parameter 'temperature' (400): bad temperature"));
    assert_null(strstr(f.message, "in place of"));
    const char *plain = "{\"error\":{\"message\":\"nope\",\"param\":null}}";
    o.body = plain;
    o.body_len = strlen(plain);
    rs_provider_classify(&m, &o, 0, &f);
    assert_non_null(strstr(f.message, "model gpt-test: bad request (400): nope"));
}

/* ---- what comes back besides the answer ---- */

static void test_openai_parse_reasoning(void **state)
{
    (void)state;
    const char *body =
        "{\"model\":\"o3-2025-04-16\",\"system_fingerprint\":\"fp_1\",\"choices\":["
        "{\"index\":0,\"message\":{\"content\":\"#### 42\",\"reasoning_content\":\"6*7=42\"}},"
        "{\"index\":1,\"message\":{\"content\":\"#### 41\",\"reasoning\":\"guess\"}},"
        "{\"index\":2,\"message\":{\"content\":\"#### 40\"}}],"
        "\"usage\":{\"prompt_tokens\":10,\"completion_tokens\":300,"
        "\"completion_tokens_details\":{\"reasoning_tokens\":256}}}";
    rs_chat_resp_t resp;
    rs_err_t err;
    assert_int_equal(rs_provider_find("openai")->parse_chat(body, strlen(body), &resp, &err), 0);
    assert_string_equal(resp.model, "o3-2025-04-16");
    assert_string_equal(resp.system_fingerprint, "fp_1");
    assert_int_equal(resp.reasoning_tokens, 256);
    assert_int_equal(resp.output_tokens, 300);
    assert_string_equal(resp.choices[0].text, "#### 42"); /* the thinking is not the answer */
    assert_string_equal(resp.choices[0].thinking, "6*7=42");
    assert_string_equal(resp.choices[1].thinking, "guess");
    assert_null(resp.choices[2].thinking);
    rs_chat_resp_cleanup(&resp);
}

static void test_anthropic_parse_thinking(void **state)
{
    (void)state;
    const char *body =
        "{\"model\":\"claude-x-1\",\"content\":["
        "{\"type\":\"thinking\",\"thinking\":\"first \",\"signature\":\"s\"},"
        "{\"type\":\"redacted_thinking\",\"data\":\"zz\"},"
        "{\"type\":\"thinking\",\"thinking\":\"second\"},"
        "{\"type\":\"text\",\"text\":\"#### 42\"}],\"stop_reason\":\"end_turn\","
        "\"usage\":{\"input_tokens\":5,\"output_tokens\":90}}";
    rs_chat_resp_t resp;
    rs_err_t err;
    assert_int_equal(rs_provider_find("anthropic")->parse_chat(body, strlen(body), &resp, &err), 0);
    assert_string_equal(resp.model, "claude-x-1");
    assert_null(resp.system_fingerprint);
    assert_string_equal(resp.choices[0].text, "#### 42");
    assert_string_equal(resp.choices[0].thinking, "first second");
    assert_int_equal(resp.output_tokens, 90); /* thinking included, as the API bills it */
    rs_chat_resp_cleanup(&resp);
    const char *bad = "{\"content\":[{\"type\":\"thinking\",\"thinking\":7}]}";
    assert_int_equal(rs_provider_find("anthropic")->parse_chat(bad, strlen(bad), &resp, &err), -1);
    assert_non_null(strstr(err.msg, "content[0].thinking must be a string"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_find),
        cmocka_unit_test(test_url),
        cmocka_unit_test(test_openai_body),
        cmocka_unit_test(test_openai_n_and_no_stop),
        cmocka_unit_test(test_openai_key_only_in_header),
        cmocka_unit_test(test_no_key_no_header),
        cmocka_unit_test(test_key_with_line_break),
        cmocka_unit_test(test_mock_headers),
        cmocka_unit_test(test_invalid_utf8_prompt),
        cmocka_unit_test(test_anthropic_body),
        cmocka_unit_test(test_anthropic_no_system_top_p),
        cmocka_unit_test(test_params_unset_not_sent),
        cmocka_unit_test(test_params_openai_all),
        cmocka_unit_test(test_params_anthropic_thinking),
        cmocka_unit_test(test_output_bound),
        cmocka_unit_test(test_header_credential),
        cmocka_unit_test(test_classify_refused_param),
        cmocka_unit_test(test_openai_parse_reasoning),
        cmocka_unit_test(test_anthropic_parse_thinking),
        cmocka_unit_test(test_openai_parse_good),
        cmocka_unit_test(test_openai_parse_no_usage_no_index),
        cmocka_unit_test(test_openai_parse_errors),
        cmocka_unit_test(test_anthropic_parse_good),
        cmocka_unit_test(test_anthropic_parse_errors),
        cmocka_unit_test(test_embeddings),
        cmocka_unit_test(test_embeddings_checked_before_allocation),
        cmocka_unit_test(test_retry_after),
        cmocka_unit_test(test_classify_success),
        cmocka_unit_test(test_classify_wrong_type),
        cmocka_unit_test(test_classify_table),
        cmocka_unit_test(test_classify_401_exact),
        cmocka_unit_test(test_classify_retry_after),
        cmocka_unit_test(test_classify_net),
        cmocka_unit_test(test_bad_response),
        cmocka_unit_test(test_excerpt),
        cmocka_unit_test(test_error_message),
        cmocka_unit_test(test_backoff),
        cmocka_unit_test(test_redact),
        cmocka_unit_test(test_pct_encode),
        cmocka_unit_test(test_fail_helper),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
