/* test_mockllm_api: reasonsaver-mockllm's request parsers and reply builders (tests/mockllm/api.c,
 * compiled in here because the unit tests link only rscommon): the shapes of the three APIs,
 * X-RS-* header decoding, replies equal to the sim's, and deterministic unit-norm embeddings. */
#include "../mockllm/api.c"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

static const mock_sim_cfg_t CFG = {.accuracy = 0.7, .seed = 5, .embed_dim = 64};

/* The reply text as JSON (fails the test when it is not). len is read after the builder ran. */
static json_t *parse_reply(char *text, const size_t *len)
{
    assert_non_null(text);
    assert_int_equal(*len, strlen(text));
    json_error_t je;
    json_t *root = json_loads(text, 0, &je);
    free(text);
    assert_non_null(root);
    return root;
}

static const char *jstr(const json_t *o, const char *path_key)
{
    const char *s = json_string_value(json_object_get(o, path_key));
    assert_non_null(s);
    return s;
}

static void assert_err_mentions(const rs_err_t *err, const char *word)
{
    if (!strstr(err->msg, word)) fail_msg("error '%s' does not mention '%s'", err->msg, word);
}

/* ---------------------------------------------------------------- parsing */

static void test_chat_parse(void **state)
{
    (void)state;
    static const char body[] =
        "{\"model\":\"gpt-x\",\"n\":3,\"temperature\":0.5,\"top_p\":1,\"max_tokens\":64,"
        "\"seed\":9,\"stop\":[\"\\n\"],\"messages\":[{\"role\":\"system\",\"content\":\"Be "
        "brief.\"},{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"What is \"},"
        "{\"type\":\"image_url\",\"image_url\":{}},{\"type\":\"text\",\"text\":\"6*7?\"}]},"
        "{\"role\":\"assistant\",\"content\":null}]}";
    mock_chat_req_t r;
    rs_err_t err;
    assert_int_equal(mock_chat_parse(body, strlen(body), &r, &err), 0);
    assert_string_equal(r.model, "gpt-x");
    assert_int_equal(r.n, 3);
    assert_int_equal(r.max_tokens, 64);
    assert_int_equal(r.n_msgs, 3);
    assert_string_equal(r.msgs[0].role, "system");
    assert_string_equal(r.msgs[0].content, "Be brief.");
    assert_string_equal(r.msgs[1].content, "What is 6*7?");
    assert_string_equal(r.msgs[2].content, "");
    mock_chat_req_cleanup(&r);

    static const char minimal[] =
        "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}";
    assert_int_equal(mock_chat_parse(minimal, strlen(minimal), &r, &err), 0);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.max_tokens, 0);
    mock_chat_req_cleanup(&r);
}

static void test_chat_parse_errors(void **state)
{
    (void)state;
    static const struct {
        const char *body;
        const char *mentions;
    } bad[] = {
        {"", "malformed JSON"},
        {"{\"model\":", "malformed JSON"},
        {"[1,2]", "JSON object"},
        {"{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", "'model'"},
        {"{\"model\":7,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", "'model'"},
        {"{\"model\":\"m\"}", "'messages'"},
        {"{\"model\":\"m\",\"messages\":[]}", "'messages'"},
        {"{\"model\":\"m\",\"messages\":[\"hi\"]}", "messages[0]"},
        {"{\"model\":\"m\",\"messages\":[{\"content\":\"x\"}]}", "messages[0]"},
        {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":5}]}",
         "messages[0].content"},
        {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"text\":1}]}]}",
         "messages[0].content[0]"},
        {"{\"model\":\"m\",\"n\":0,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", "'n'"},
        {"{\"model\":\"m\",\"n\":1000,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
         "'n'"},
        {"{\"model\":\"m\",\"n\":1.5,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", "'n'"},
        {"{\"model\":\"m\",\"temperature\":3,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
         "'temperature'"},
        {"{\"model\":\"m\",\"top_p\":\"a\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
         "'top_p'"},
        {"{\"model\":\"m\",\"stop\":[1],\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
         "'stop[0]'"},
        {"{\"model\":\"m\",\"max_tokens\":0,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}",
         "'max_tokens'"},
        {"{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"\\u0000\"}]}",
         "malformed JSON"},
    };
    for (size_t i = 0; i < RS_ARRAY_LEN(bad); i++) {
        mock_chat_req_t r;
        rs_err_t err = {{0}};
        if (mock_chat_parse(bad[i].body, strlen(bad[i].body), &r, &err) == 0)
            fail_msg("accepted: %s", bad[i].body);
        assert_err_mentions(&err, bad[i].mentions);
    }
}

static void test_messages_parse(void **state)
{
    (void)state;
    static const char body[] =
        "{\"model\":\"claude-x\",\"max_tokens\":100,\"system\":[{\"type\":\"text\",\"text\":"
        "\"Be brief.\"}],\"messages\":[{\"role\":\"user\",\"content\":\"6*7?\"}]}";
    mock_chat_req_t r;
    rs_err_t err;
    assert_int_equal(mock_messages_parse(body, strlen(body), &r, &err), 0);
    assert_int_equal(r.n_msgs, 2);
    assert_string_equal(r.msgs[0].role, "system");
    assert_string_equal(r.msgs[0].content, "Be brief.");
    assert_string_equal(r.msgs[1].content, "6*7?");
    assert_int_equal(r.n, 1);
    mock_chat_req_cleanup(&r);

    static const char no_max[] =
        "{\"model\":\"c\",\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}";
    assert_int_equal(mock_messages_parse(no_max, strlen(no_max), &r, &err), -1);
    assert_err_mentions(&err, "max_tokens");
    static const char bad_temp[] = "{\"model\":\"c\",\"max_tokens\":5,\"temperature\":1.5,"
                                   "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}";
    assert_int_equal(mock_messages_parse(bad_temp, strlen(bad_temp), &r, &err), -1);
    assert_err_mentions(&err, "temperature");
}

static void test_embed_parse(void **state)
{
    (void)state;
    mock_embed_req_t r;
    rs_err_t err;
    static const char one[] = "{\"model\":\"e\",\"input\":\"hello\"}";
    assert_int_equal(mock_embed_parse(one, strlen(one), &r, &err), 0);
    assert_int_equal(r.n_inputs, 1);
    assert_string_equal(r.inputs[0], "hello");
    assert_int_equal(r.dim, 0);
    assert_int_equal(r.base64, 0);
    mock_embed_req_cleanup(&r);
    static const char many[] =
        "{\"model\":\"e\",\"input\":[\"a\",\"b\"],\"dimensions\":8,\"encoding_format\":\"base64\"}";
    assert_int_equal(mock_embed_parse(many, strlen(many), &r, &err), 0);
    assert_int_equal(r.n_inputs, 2);
    assert_int_equal(r.dim, 8);
    assert_int_equal(r.base64, 1);
    mock_embed_req_cleanup(&r);
    static const char *bad[] = {
        "{\"input\":\"x\"}",
        "{\"model\":\"e\"}",
        "{\"model\":\"e\",\"input\":[]}",
        "{\"model\":\"e\",\"input\":[[1,2,3]]}",
        "{\"model\":\"e\",\"input\":\"x\",\"encoding_format\":\"hex\"}",
        "{\"model\":\"e\",\"input\":\"x\",\"dimensions\":0}",
    };
    for (size_t i = 0; i < RS_ARRAY_LEN(bad); i++)
        if (mock_embed_parse(bad[i], strlen(bad[i]), &r, &err) == 0)
            fail_msg("accepted %s", bad[i]);
}

/* ---------------------------------------------------------------- headers */

static void test_pct_decode(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out; /* out NULL: rejected */
    } cases[] = {
        {"plain", "plain"}, {"case%201", "case 1"},
        {"a+b", "a+b"},     {"%E2%82%ac", "\xe2\x82\xac"},
        {"100%25", "100%"}, {"", ""},
        {"%zz", NULL},      {"%0", NULL},
        {"abc%", NULL},     {"%00", NULL},
        {"%4", NULL},
    };
    for (size_t i = 0; i < RS_ARRAY_LEN(cases); i++) {
        char *got = mock_pct_decode(cases[i].in);
        if (!cases[i].out) {
            if (got) fail_msg("'%s' decoded to '%s'", cases[i].in, got);
            continue;
        }
        assert_non_null(got);
        assert_string_equal(got, cases[i].out);
        free(got);
    }
}

static void test_ids_parse(void **state)
{
    (void)state;
    mock_ids_t ids;
    rs_err_t err;
    assert_int_equal(mock_ids_parse("strong%2Fv2", "gsm8k%3A17", "3", "%2472", &ids, &err), 0);
    assert_string_equal(ids.model, "strong/v2");
    assert_string_equal(ids.case_id, "gsm8k:17");
    assert_string_equal(ids.target, "$72");
    assert_int_equal(ids.candidate, 3);
    mock_ids_cleanup(&ids);
    assert_int_equal(mock_ids_parse(NULL, NULL, NULL, NULL, &ids, &err), 0);
    assert_null(ids.model);
    assert_null(ids.case_id);
    assert_null(ids.target);
    assert_int_equal(ids.candidate, 0);
    assert_int_equal(mock_ids_parse(NULL, NULL, "-1", NULL, &ids, &err), -1);
    assert_err_mentions(&err, "X-RS-Candidate");
    assert_int_equal(mock_ids_parse(NULL, NULL, "two", NULL, &ids, &err), -1);
    assert_int_equal(mock_ids_parse(NULL, "%FF", NULL, NULL, &ids, &err), -1); /* not UTF-8 */
    assert_err_mentions(&err, "X-RS-Case");
    assert_int_equal(mock_ids_parse(NULL, NULL, NULL, "%G1", &ids, &err), -1);
    assert_err_mentions(&err, "X-RS-Target");
}

static void test_chain_parse(void **state)
{
    (void)state;
    mock_ids_t ids = {0};
    rs_err_t err;
    mock_chain_headers_t none = {0};
    assert_int_equal(mock_chain_parse(&none, &ids, &err), 0); /* a generation */
    assert_null(ids.stage);
    mock_chain_headers_t crit = {"critique", "0", "by%20strong", "weak", "1", "1", NULL, NULL};
    assert_int_equal(mock_chain_parse(&crit, &ids, &err), 0);
    assert_string_equal(ids.stage, "critique");
    assert_string_equal(ids.judge, "by strong");
    assert_string_equal(ids.judged_model, "weak");
    assert_int_equal(ids.round, 0);
    assert_int_equal(ids.truth, 1);
    assert_int_equal(ids.is_self, 1);
    mock_ids_cleanup(&ids);
    mock_chain_headers_t rev = {"revise", "2", NULL, NULL, "0", NULL, "1", "%5Bsim%5D%20%23%23%23%23%2018"};
    assert_int_equal(mock_chain_parse(&rev, &ids, &err), 0);
    assert_int_equal(ids.round, 2);
    assert_int_equal(ids.critique_said_correct, 1);
    assert_string_equal(ids.prev, "[sim] #### 18");
    mock_ids_cleanup(&ids);
    static const struct {
        mock_chain_headers_t h;
        const char *names;
    } bad[] = {
        {{"critique", "0", NULL, "weak", "1", "0", NULL, NULL}, "X-RS-Judge"},
        {{"revise", "1", NULL, NULL, "1", NULL, "0", NULL}, "X-RS-Prev"},
        {{"judge", "1", "j", "m", "1", "0", NULL, NULL}, "X-RS-Stage"},
        {{"critique", "-1", "j", "m", "1", "0", NULL, NULL}, "X-RS-Round"},
        {{"critique", NULL, "j", "m", "1", "0", NULL, NULL}, "X-RS-Round"},
        {{"critique", "0", "j", "m", "yes", "0", NULL, NULL}, "X-RS-Truth"},
        {{"revise", "1", NULL, NULL, "1", NULL, "2", "x"}, "X-RS-Critique-Correct"},
        {{"critique", "0", "%FF", "m", "1", "0", NULL, NULL}, "X-RS-Judge"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(&ids, 0, sizeof(ids));
        assert_int_equal(mock_chain_parse(&bad[i].h, &ids, &err), -1);
        assert_err_mentions(&err, bad[i].names);
        mock_ids_cleanup(&ids);
    }
}

static void test_case_id(void **state)
{
    (void)state;
    rs_chat_msg_t msgs[2] = {{"system", "Be brief."}, {"user", "What is 6*7?"}};
    char got[17], want[17];
    mock_case_id(msgs, 2, got);
    static const char joined[] = "Be brief.What is 6*7?";
    snprintf(want, sizeof(want), "%016" PRIx64, (uint64_t)XXH64(joined, strlen(joined), 0));
    assert_string_equal(got, want);
    assert_int_equal(strlen(got), 16);
}

/* ---------------------------------------------------------------- replies */

static mock_chat_req_t one_question(const char *model, int64_t n)
{
    mock_chat_req_t r = {.model = rs_xstrdup(model), .n = n};
    r.msgs = rs_xcalloc(1, sizeof(*r.msgs));
    r.msgs[0] = (rs_chat_msg_t){rs_xstrdup("user"), rs_xstrdup("What is 20 + 5?")}; /* 15 B */
    r.n_msgs = 1;
    return r;
}

/* What the in-process sim says for candidate k of (label, case, target). */
static char *sim_text(const char *label, const char *case_id, const char *target, int k,
                      const mock_chat_req_t *req)
{
    char *targets[1] = {(char *)target};
    rs_case_t c = {.id = (char *)case_id,
                   .msgs = req->msgs,
                   .n_msgs = req->n_msgs,
                   .targets = targets,
                   .n_targets = target ? 1 : 0};
    rs_model_cfg_t m = {.name = (char *)label, .model = (char *)label, .accuracy = CFG.accuracy};
    rs_sim_reply_t r;
    rs_sim_generate(&m, CFG.seed, &c, k, &r);
    char *text = r.text;
    r.text = NULL;
    rs_sim_reply_cleanup(&r);
    return text;
}

static void test_chat_reply_with_ids(void **state)
{
    (void)state;
    mock_chat_req_t req = one_question("gpt-x", 3);
    mock_ids_t ids = {.model = "strong", .case_id = "case 9", .target = "25", .candidate = 2};
    size_t len = 0;
    json_t *root = parse_reply(mock_chat_reply(&CFG, &req, &ids, 0xabc, 1700000000, &len), &len);
    assert_string_equal(jstr(root, "id"), "chatcmpl-0000000000000abc");
    assert_string_equal(jstr(root, "object"), "chat.completion");
    assert_string_equal(jstr(root, "model"), "gpt-x");
    assert_int_equal(json_integer_value(json_object_get(root, "created")), 1700000000);
    json_t *choices = json_object_get(root, "choices");
    assert_int_equal(json_array_size(choices), 3);
    json_int_t out_tokens = 0;
    for (size_t i = 0; i < 3; i++) {
        json_t *ch = json_array_get(choices, i);
        assert_int_equal(json_integer_value(json_object_get(ch, "index")), (json_int_t)i);
        assert_string_equal(jstr(ch, "finish_reason"), "stop");
        json_t *msg = json_object_get(ch, "message");
        assert_string_equal(jstr(msg, "role"), "assistant");
        const char *text = jstr(msg, "content");
        char *want = sim_text("strong", "case 9", "25", 2 + (int)i, &req);
        assert_string_equal(text, want);
        assert_true(strncmp(text, "[simulated]", 11) == 0);
        /* correct exactly when the definition's draw says so */
        int correct = rs_sim_draw("strong", "case 9", 2 + (int)i, "correct", CFG.seed) < 0.7;
        const char *tail = text + strlen(text) - strlen("#### 25");
        assert_int_equal(strcmp(tail, "#### 25") == 0, correct);
        out_tokens += (json_int_t)((strlen(want) + 3) / 4);
        free(want);
    }
    json_t *usage = json_object_get(root, "usage");
    assert_int_equal(json_integer_value(json_object_get(usage, "prompt_tokens")), 4);
    assert_int_equal(json_integer_value(json_object_get(usage, "completion_tokens")), out_tokens);
    assert_int_equal(json_integer_value(json_object_get(usage, "total_tokens")), 4 + out_tokens);
    json_decref(root);
    mock_chat_req_cleanup(&req);
}

static void test_chat_reply_without_ids(void **state)
{
    (void)state;
    mock_chat_req_t req = one_question("gpt-x", 1);
    mock_ids_t none = {0};
    size_t len = 0;
    json_t *root = parse_reply(mock_chat_reply(&CFG, &req, &none, 1, 0, &len), &len);
    const char *text = jstr(
        json_object_get(json_array_get(json_object_get(root, "choices"), 0), "message"), "content");
    assert_string_equal(text, "[simulated] Working through the problem step by step.\n"
                              "The answer is 42.\n#### 42");
    json_decref(root);
    mock_chat_req_cleanup(&req);
}

static void test_messages_reply(void **state)
{
    (void)state;
    mock_chat_req_t req = one_question("claude-x", 1);
    mock_ids_t ids = {.model = "strong", .case_id = "c1", .target = "7", .candidate = 1};
    size_t len = 0;
    json_t *root = parse_reply(mock_messages_reply(&CFG, &req, &ids, 0x10, &len), &len);
    assert_string_equal(jstr(root, "id"), "msg_0000000000000010");
    assert_string_equal(jstr(root, "type"), "message");
    assert_string_equal(jstr(root, "role"), "assistant");
    assert_string_equal(jstr(root, "model"), "claude-x");
    assert_string_equal(jstr(root, "stop_reason"), "end_turn");
    json_t *content = json_object_get(root, "content");
    assert_int_equal(json_array_size(content), 1);
    assert_string_equal(jstr(json_array_get(content, 0), "type"), "text");
    char *want = sim_text("strong", "c1", "7", 1, &req);
    assert_string_equal(jstr(json_array_get(content, 0), "text"), want);
    json_t *usage = json_object_get(root, "usage");
    assert_int_equal(json_integer_value(json_object_get(usage, "input_tokens")), 4);
    assert_int_equal(json_integer_value(json_object_get(usage, "output_tokens")),
                     (json_int_t)((strlen(want) + 3) / 4));
    free(want);
    json_decref(root);
    mock_chat_req_cleanup(&req);
}

/* ---------------------------------------------------------------- reasoning, served models */

static const int64_t THINK_TOKENS = (int64_t)(sizeof(MOCK_THINKING) - 1 + 3) / 4;

static void test_chat_reasoning(void **state)
{
    (void)state;
    const char *body = "{\"model\":\"gpt-x\",\"messages\":[{\"role\":\"user\",\"content\":"
                       "\"What is 20 + 5?\"}],\"n\":2,\"reasoning_effort\":\"low\"}";
    mock_chat_req_t req;
    rs_err_t err;
    assert_int_equal(mock_chat_parse(body, strlen(body), &req, &err), 0);
    assert_true(req.reasoning);
    mock_ids_t ids = {.model = "strong", .case_id = "c1", .target = "25"};
    size_t len = 0;
    json_t *root = parse_reply(mock_chat_reply(&CFG, &req, &ids, 1, 0, &len), &len);
    assert_string_equal(jstr(root, "system_fingerprint"), MOCK_SYSTEM_FINGERPRINT);
    json_int_t text_tokens = 0;
    for (size_t i = 0; i < 2; i++) {
        json_t *msg = json_object_get(json_array_get(json_object_get(root, "choices"), i), "message");
        assert_string_equal(jstr(msg, "reasoning_content"), MOCK_THINKING);
        assert_null(strstr(jstr(msg, "content"), "424242")); /* the answer is apart */
        text_tokens += (json_int_t)((strlen(jstr(msg, "content")) + 3) / 4);
    }
    json_t *usage = json_object_get(root, "usage");
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(usage, "completion_tokens_details"), "reasoning_tokens")),
                     2 * THINK_TOKENS);
    assert_int_equal(json_integer_value(json_object_get(usage, "completion_tokens")),
                     text_tokens + 2 * THINK_TOKENS);
    json_decref(root);
    mock_chat_req_cleanup(&req);
}

static void test_messages_thinking(void **state)
{
    (void)state;
    const char *body = "{\"model\":\"claude-x\",\"max_tokens\":4000,\"messages\":[{\"role\":"
                       "\"user\",\"content\":\"hi\"}],\"thinking\":{\"type\":\"enabled\","
                       "\"budget_tokens\":1024},\"top_k\":5}";
    mock_chat_req_t req;
    rs_err_t err;
    assert_int_equal(mock_messages_parse(body, strlen(body), &req, &err), 0);
    assert_true(req.reasoning);
    mock_ids_t ids = {0};
    size_t len = 0;
    json_t *root = parse_reply(mock_messages_reply(&CFG, &req, &ids, 1, &len), &len);
    json_t *content = json_object_get(root, "content");
    assert_int_equal(json_array_size(content), 2);
    assert_string_equal(jstr(json_array_get(content, 0), "type"), "thinking");
    assert_string_equal(jstr(json_array_get(content, 0), "thinking"), MOCK_THINKING);
    assert_string_equal(jstr(json_array_get(content, 1), "type"), "text");
    json_decref(root);
    mock_chat_req_cleanup(&req);
    /* a budget at or above max_tokens is the API's 400 */
    const char *over = "{\"model\":\"c\",\"max_tokens\":1000,\"messages\":[{\"role\":\"user\","
                       "\"content\":\"hi\"}],\"thinking\":{\"type\":\"enabled\","
                       "\"budget_tokens\":1024}}";
    assert_int_equal(mock_messages_parse(over, strlen(over), &req, &err), -1);
    assert_non_null(strstr(err.msg, "budget_tokens"));
}

static void test_reasoning_refusal(void **state)
{
    (void)state;
    const char *models[] = {"o3-mini", "o1", "gpt-5", "gpt-5-nano", "gpt-4o", "claude",
                            "openchat-3.5", "o"};
    const int refused[] = {1, 1, 1, 1, 0, 0, 0, 0}; /* "o" alone or "o" + a letter: not OpenAI's */
    for (size_t i = 0; i < RS_ARRAY_LEN(models); i++) {
        char body[256];
        snprintf(body, sizeof(body), "{\"model\":\"%s\",\"max_tokens\":9,\"messages\":"
                 "[{\"role\":\"user\",\"content\":\"x\"}]}", models[i]);
        mock_chat_req_t req;
        rs_err_t err;
        assert_int_equal(mock_chat_parse(body, strlen(body), &req, &err), 0);
        size_t len = 0;
        char *r = mock_reasoning_refusal(&req, &len);
        assert_int_equal(r != NULL, refused[i]);
        if (r) {
            json_t *root = parse_reply(r, &len), *e = json_object_get(root, "error");
            assert_string_equal(jstr(e, "param"), "max_tokens");
            assert_string_equal(jstr(e, "code"), "unsupported_parameter");
            assert_non_null(strstr(jstr(e, "message"), "Use 'max_completion_tokens' instead."));
            json_decref(root);
        }
        mock_chat_req_cleanup(&req);
        /* max_completion_tokens is what such a model takes */
        snprintf(body, sizeof(body), "{\"model\":\"%s\",\"max_completion_tokens\":9,"
                 "\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}", models[i]);
        assert_int_equal(mock_chat_parse(body, strlen(body), &req, &err), 0);
        assert_null(mock_reasoning_refusal(&req, &len));
        mock_chat_req_cleanup(&req);
    }
}

static void test_served_model(void **state)
{
    (void)state;
    mock_sim_cfg_t cfg = CFG;
    cfg.serve_model = "other-1";
    cfg.serve_model_rate = 0.5;
    mock_chat_req_t req = one_question("gpt-x", 1);
    int swapped = 0;
    for (int i = 0; i < 200; i++) {
        char id[16];
        snprintf(id, sizeof(id), "c%d", i);
        mock_ids_t ids = {.case_id = id};
        size_t len = 0;
        json_t *root = parse_reply(mock_chat_reply(&cfg, &req, &ids, 1, 0, &len), &len);
        swapped += strcmp(jstr(root, "model"), "other-1") == 0;
        json_decref(root);
    }
    assert_true(swapped > 60 && swapped < 140); /* about half, by case id */
    mock_chat_req_cleanup(&req);
}

static void test_unknown_fields(void **state)
{
    (void)state;
    const char *body = "{\"model\":\"m\",\"messages\":[],\"user\":\"u\",\"top_k\":3,"
                       "\"reasoning_effort\":\"low\"}";
    json_t *u = mock_unknown_fields(MOCK_API_OPENAI, 0, body, strlen(body));
    assert_int_equal(json_object_size(u), 2); /* top_k is Anthropic's, not chat's */
    assert_string_equal(jstr(u, "user"), "u");
    json_decref(u);
    u = mock_unknown_fields(MOCK_API_ANTHROPIC, 0, body, strlen(body));
    assert_int_equal(json_object_size(u), 2); /* user, reasoning_effort */
    json_decref(u);
    const char *known = "{\"model\":\"m\",\"input\":\"x\"}";
    assert_null(mock_unknown_fields(MOCK_API_OPENAI, 1, known, strlen(known)));
    assert_null(mock_unknown_fields(MOCK_API_OPENAI, 0, "nope", 4));
    assert_true(mock_known_header("X-RS-Case") && mock_known_header("authorization"));
    assert_false(mock_known_header("anthropic-beta"));
}

/* ---------------------------------------------------------------- embeddings */

static double norm(const double *v, int dim)
{
    double s = 0;
    for (int i = 0; i < dim; i++)
        s += v[i] * v[i];
    return sqrt(s);
}

static void test_embed_text(void **state)
{
    (void)state;
    double a[64], b[64], c[64];
    mock_embed_text("The quick brown fox jumps over the lazy dog", 64, a);
    mock_embed_text("the QUICK brown fox, jumps over... the lazy dog!", 64, b);
    mock_embed_text("A completely different sentence about embeddings", 64, c);
    assert_true(fabs(norm(a, 64) - 1) < 1e-12);
    assert_true(fabs(norm(c, 64) - 1) < 1e-12);
    assert_memory_equal(a, b, sizeof(a)); /* case and punctuation do not matter */
    assert_true(memcmp(a, c, sizeof(a)) != 0);
    /* one word: exactly one bucket, +-1, at XXH64(word) % dim */
    double one[16];
    mock_embed_text("Hello", 16, one);
    uint64_t h = XXH64("hello", 5, 0);
    for (int i = 0; i < 16; i++)
        assert_true(one[i] == ((uint64_t)i == h % 16 ? ((h >> 63) ? -1.0 : 1.0) : 0.0));
    double zero[8];
    mock_embed_text("  ...  ", 8, zero);
    assert_true(norm(zero, 8) == 0);
}

static void test_embed_reply(void **state)
{
    (void)state;
    char *inputs[2] = {"hello world", "hello world"};
    mock_embed_req_t req = {.model = "emb", .inputs = inputs, .n_inputs = 2};
    size_t len = 0;
    json_t *root = parse_reply(mock_embed_reply(&CFG, &req, &len), &len);
    assert_string_equal(jstr(root, "object"), "list");
    assert_string_equal(jstr(root, "model"), "emb");
    json_t *data = json_object_get(root, "data");
    assert_int_equal(json_array_size(data), 2);
    for (size_t i = 0; i < 2; i++) {
        json_t *e = json_array_get(data, i);
        assert_string_equal(jstr(e, "object"), "embedding");
        assert_int_equal(json_integer_value(json_object_get(e, "index")), (json_int_t)i);
        json_t *vec = json_object_get(e, "embedding");
        assert_int_equal(json_array_size(vec), 64);
        double s = 0;
        for (size_t j = 0; j < 64; j++)
            s += pow(json_number_value(json_array_get(vec, j)), 2);
        assert_true(fabs(s - 1) < 1e-6);
        assert_true(json_equal(vec, json_object_get(json_array_get(data, 0), "embedding")));
    }
    json_t *usage = json_object_get(root, "usage");
    assert_int_equal(json_integer_value(json_object_get(usage, "prompt_tokens")), 6);
    json_decref(root);

    req.dim = 8;
    req.base64 = 1;
    root = parse_reply(mock_embed_reply(&CFG, &req, &len), &len);
    const char *b64 = jstr(json_array_get(json_object_get(root, "data"), 0), "embedding");
    unsigned char raw[64];
    assert_int_equal(EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)strlen(b64)), 33);
    double want[8];
    mock_embed_text("hello world", 8, want);
    for (int i = 0; i < 8; i++) {
        uint32_t u = (uint32_t)raw[4 * i] | (uint32_t)raw[4 * i + 1] << 8 |
                     (uint32_t)raw[4 * i + 2] << 16 | (uint32_t)raw[4 * i + 3] << 24;
        float f;
        memcpy(&f, &u, 4);
        assert_true(f == (float)want[i]);
    }
    json_decref(root);
}

/* ---------------------------------------------------------------- errors and models */

static void test_error_shapes(void **state)
{
    (void)state;
    size_t len = 0;
    json_t *root = parse_reply(mock_error_reply(MOCK_API_OPENAI, 429, "slow down", &len), &len);
    json_t *e = json_object_get(root, "error");
    assert_string_equal(jstr(e, "message"), "slow down");
    assert_string_equal(jstr(e, "type"), "requests");
    assert_string_equal(jstr(e, "code"), "rate_limit_exceeded");
    assert_true(json_is_null(json_object_get(e, "param")));
    json_decref(root);
    root = parse_reply(mock_error_reply(MOCK_API_OPENAI, 400, "bad", &len), &len);
    assert_true(json_is_null(json_object_get(json_object_get(root, "error"), "code")));
    json_decref(root);
    root = parse_reply(mock_error_reply(MOCK_API_ANTHROPIC, 401, "no key", &len), &len);
    assert_string_equal(jstr(root, "type"), "error");
    assert_string_equal(jstr(json_object_get(root, "error"), "type"), "authentication_error");
    assert_string_equal(jstr(json_object_get(root, "error"), "message"), "no key");
    json_decref(root);
    root = parse_reply(mock_error_reply(MOCK_API_ANTHROPIC, 418, "teapot", &len), &len);
    assert_string_equal(jstr(json_object_get(root, "error"), "type"), "invalid_request_error");
    json_decref(root);
}

static void test_models_reply(void **state)
{
    (void)state;
    size_t len = 0;
    json_t *root = parse_reply(mock_models_reply(&len), &len);
    assert_string_equal(jstr(root, "object"), "list");
    json_t *m = json_array_get(json_object_get(root, "data"), 0);
    assert_string_equal(jstr(m, "id"), "sim-1");
    assert_string_equal(jstr(m, "object"), "model");
    json_decref(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chat_parse),
        cmocka_unit_test(test_chat_parse_errors),
        cmocka_unit_test(test_messages_parse),
        cmocka_unit_test(test_embed_parse),
        cmocka_unit_test(test_pct_decode),
        cmocka_unit_test(test_ids_parse),
        cmocka_unit_test(test_chain_parse),
        cmocka_unit_test(test_case_id),
        cmocka_unit_test(test_chat_reply_with_ids),
        cmocka_unit_test(test_chat_reply_without_ids),
        cmocka_unit_test(test_messages_reply),
        cmocka_unit_test(test_chat_reasoning),
        cmocka_unit_test(test_messages_thinking),
        cmocka_unit_test(test_reasoning_refusal),
        cmocka_unit_test(test_served_model),
        cmocka_unit_test(test_unknown_fields),
        cmocka_unit_test(test_embed_text),
        cmocka_unit_test(test_embed_reply),
        cmocka_unit_test(test_error_shapes),
        cmocka_unit_test(test_models_reply),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
