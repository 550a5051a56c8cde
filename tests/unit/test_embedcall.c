/* test_embedcall: the remote embedder's request (model, inputs, key header; a missing key) and
 * its response turned into unit vectors (scaling, zero rows, a count that does not match the
 * inputs, a body the parser rejects, a failed transfer whose message echoes the key). */
#include "../../worker/embedcall.h"
#include "../../worker/cache.h"
#include "../../worker/envguard.h"
#include "../../worker/http.h"
#include "../../worker/execgrade.h"
#include "../../worker/timerq.h"
#include <string.h>

#include <jansson.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#define KEY_VAR "RS_TEST_EMBEDCALL_KEY"
#define KEY "sk-embedcall-secret-77"

static wk_envguard_t *guard; /* allows KEY_VAR alone */

static wk_embedcall_t *embedder(void)
{
    rs_embedder_cfg_t cfg = {.type = RS_EMBEDDER_OPENAI, .model = "emb-1",
                             .base_url = "http://127.0.0.1:9/v1", .api_key_env = KEY_VAR,
                             .timeout_ms = 1000, .max_retries = 2, .retry_base_ms = 10,
                             .retry_cap_ms = 100};
    rs_err_t err;
    wk_embedcall_t *e = wk_embedcall_new(&cfg, guard, &err);
    if (!e) fail_msg("%s", err.msg);
    return e;
}

static void test_model_and_build(void **state)
{
    (void)state;
    wk_embedcall_t *e = embedder();
    const rs_model_cfg_t *m = wk_embedcall_model(e);
    assert_string_equal(m->model, "emb-1");
    assert_int_equal(m->max_retries, 2);
    assert_int_equal(m->retry_base_ms, 10);
    assert_string_equal(wk_embedcall_host(e), "127.0.0.1");
    assert_int_equal(wk_embedcall_port(e), 9);
    const char *texts[] = {"first answer", "18"};
    rs_http_req_t req;
    rs_failure_t f;
    unsetenv(KEY_VAR);
    assert_int_equal(wk_embedcall_build(e, texts, 2, &req, &f), -1);
    assert_string_equal(f.reason, "no_key");
    assert_non_null(strstr(f.message, KEY_VAR));
    setenv(KEY_VAR, KEY, 1);
    assert_int_equal(wk_embedcall_build(e, texts, 2, &req, &f), 0);
    assert_string_equal(req.url, "http://127.0.0.1:9/v1/embeddings");
    json_t *body = json_loadb(req.body, req.body_len, 0, NULL);
    assert_string_equal(json_string_value(json_object_get(body, "model")), "emb-1");
    json_t *in = json_object_get(body, "input");
    assert_int_equal(json_array_size(in), 2);
    assert_string_equal(json_string_value(json_array_get(in, 1)), "18");
    assert_null(strstr(req.body, KEY)); /* the key goes in a header only */
    json_decref(body);
    rs_http_req_cleanup(&req);
    wk_embedcall_destroy(&e);
}

static wk_http_done_t ok_body(const char *body)
{
    return (wk_http_done_t){.ok = 1, .body = body, .body_len = strlen(body)};
}

static void test_parse_unit_rows(void **state)
{
    (void)state;
    wk_embedcall_t *e = embedder();
    wk_http_done_t d = ok_body(
        "{\"data\": [{\"index\": 0, \"embedding\": [3, 4]}, {\"index\": 1, \"embedding\": [0, 0]}],"
        " \"usage\": {\"prompt_tokens\": 7}}");
    float *v;
    size_t dim;
    int64_t tokens;
    rs_failure_t f;
    assert_int_equal(wk_embedcall_parse(e, &d, 2, &v, &dim, &tokens, &f), 0);
    assert_int_equal(dim, 2);
    assert_int_equal(tokens, 7);
    assert_true(fabsf(v[0] - 0.6f) < 1e-6 && fabsf(v[1] - 0.8f) < 1e-6);
    assert_true(v[2] == 0 && v[3] == 0); /* a zero row stays zero */
    free(v);
    /* a vector per input, or the call failed */
    assert_int_equal(wk_embedcall_parse(e, &d, 3, &v, &dim, &tokens, &f), -1);
    assert_null(v);
    assert_string_equal(f.reason, "bad_response");
    assert_non_null(strstr(f.message, "2 vectors came back for 3 inputs"));
    wk_http_done_t bad = ok_body("{\"data\": [{\"index\": 0, \"embedding\": \"x\"}]}");
    assert_int_equal(wk_embedcall_parse(e, &bad, 1, &v, &dim, &tokens, &f), -1);
    assert_string_equal(f.reason, "bad_response");
    wk_embedcall_destroy(&e);
}

static void test_parse_failed_transfer(void **state)
{
    (void)state;
    wk_embedcall_t *e = embedder();
    setenv(KEY_VAR, KEY, 1);
    rs_failure_t sent = {.reason = "http_401"};
    snprintf(sent.message, sizeof(sent.message), "model embedder: unauthorized (%s)", KEY);
    wk_http_done_t d = {.ok = 0, .fail = &sent};
    float *v;
    size_t dim;
    int64_t tokens;
    rs_failure_t f;
    assert_int_equal(wk_embedcall_parse(e, &d, 1, &v, &dim, &tokens, &f), -1);
    assert_string_equal(f.reason, "http_401");
    assert_null(strstr(f.message, KEY)); /* a server that echoes the key: blanked out */
    assert_non_null(strstr(f.message, "unauthorized"));
    wk_embedcall_destroy(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_and_build),
        cmocka_unit_test(test_parse_unit_rows),
        cmocka_unit_test(test_parse_failed_transfer),
    };
    guard = wk_envguard_new();
    wk_envguard_add(guard, KEY_VAR, NULL);
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    wk_envguard_destroy(&guard);
    return rc;
}
