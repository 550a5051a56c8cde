/* test_envguard: the worker's --allow-env list (worker/envguard.c, from rsworker): names
 * and globs, the default, refused items, getenv that never reads a variable outside the list, and
 * a spec refused for any api_key_env it does not allow (a model, so a judge too, or the
 * embedder). */
#include "../../worker/envguard.h"
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

static wk_envguard_t *guard_of(const char *list)
{
    wk_envguard_t *g = wk_envguard_new();
    rs_err_t err;
    if (wk_envguard_add(g, list, &err) != 0) fail_msg("%s", err.msg);
    return g;
}

static void test_default_and_globs(void **state)
{
    (void)state;
    wk_envguard_t *g = guard_of(WK_ENVGUARD_DEFAULT);
    assert_true(wk_envguard_allows(g, "OPENAI_API_KEY"));
    assert_true(wk_envguard_allows(g, "ANTHROPIC_API_KEY"));
    assert_false(wk_envguard_allows(g, "AWS_SECRET_ACCESS_KEY"));
    assert_false(wk_envguard_allows(g, "OPENAI_API_KEY_OLD"));
    assert_false(wk_envguard_allows(g, "HOME"));
    assert_string_equal(wk_envguard_list(g), "*_API_KEY");
    wk_envguard_destroy(&g);
    assert_null(g);

    g = guard_of("MY_TOKEN,,TEAM_?_KEY");
    rs_err_t err;
    assert_int_equal(wk_envguard_add(g, "VENDOR[AB]_*", &err), 0);
    assert_true(wk_envguard_allows(g, "MY_TOKEN"));
    assert_false(wk_envguard_allows(g, "MY_TOKEN2"));
    assert_true(wk_envguard_allows(g, "TEAM_A_KEY"));
    assert_false(wk_envguard_allows(g, "TEAM_AB_KEY"));
    assert_true(wk_envguard_allows(g, "VENDORB_X"));
    assert_false(wk_envguard_allows(g, "VENDORC_X"));
    assert_false(wk_envguard_allows(g, "OPENAI_API_KEY")); /* a list replaces the default */
    assert_string_equal(wk_envguard_list(g), "MY_TOKEN,TEAM_?_KEY,VENDOR[AB]_*");
    wk_envguard_destroy(&g);

    g = guard_of(""); /* allows nothing */
    assert_false(wk_envguard_allows(g, "OPENAI_API_KEY"));
    assert_string_equal(wk_envguard_list(g), "");
    wk_envguard_destroy(&g);
}

static void test_bad_items(void **state)
{
    (void)state;
    wk_envguard_t *g = wk_envguard_new();
    rs_err_t err;
    assert_int_equal(wk_envguard_add(g, "OK_API_KEY,BAD=1", &err), -1);
    assert_non_null(strstr(err.msg, "'BAD=1'"));
    assert_false(wk_envguard_allows(g, "OK_API_KEY")); /* nothing of a bad list is added */
    assert_int_equal(wk_envguard_add(g, "A B", &err), -1);
    assert_int_equal(wk_envguard_add(g, "/etc/*", &err), -1);
    wk_envguard_destroy(&g);
}

static void test_getenv_only_allowed(void **state)
{
    (void)state;
    setenv("RS_TEST_ENVGUARD_API_KEY", "sk-allowed", 1);
    setenv("RS_TEST_ENVGUARD_SECRET", "not-for-you", 1);
    wk_envguard_t *g = guard_of(WK_ENVGUARD_DEFAULT);
    assert_string_equal(wk_envguard_getenv(g, "RS_TEST_ENVGUARD_API_KEY"), "sk-allowed");
    assert_null(wk_envguard_getenv(g, "RS_TEST_ENVGUARD_SECRET"));
    assert_null(wk_envguard_getenv(g, NULL));
    assert_null(wk_envguard_getenv(g, "RS_TEST_ENVGUARD_UNSET_API_KEY"));
    wk_envguard_destroy(&g);
    unsetenv("RS_TEST_ENVGUARD_API_KEY");
    unsetenv("RS_TEST_ENVGUARD_SECRET");
}

static void test_check_spec(void **state)
{
    (void)state;
    rs_model_cfg_t models[2] = {{.name = "gen", .api_key_env = "OPENAI_API_KEY"},
                                {.name = "judge-model", .api_key_env = NULL}};
    rs_config_t cfg = {.models = models, .n_models = 2};
    wk_envguard_t *g = guard_of(WK_ENVGUARD_DEFAULT);
    rs_err_t err;
    assert_int_equal(wk_envguard_check(g, &cfg, &err), 0);

    models[1].api_key_env = "AWS_SECRET_ACCESS_KEY";
    assert_int_equal(wk_envguard_check(g, &cfg, &err), -1);
    assert_non_null(strstr(err.msg, "model 'judge-model'"));
    assert_non_null(strstr(err.msg, "AWS_SECRET_ACCESS_KEY"));
    assert_non_null(strstr(err.msg, "--allow-env *_API_KEY"));
    assert_non_null(strstr(err.msg, "--allow-env AWS_SECRET_ACCESS_KEY"));

    models[1].api_key_env = NULL;
    cfg.embedder.api_key_env = "GITHUB_TOKEN";
    assert_int_equal(wk_envguard_check(g, &cfg, &err), -1);
    assert_non_null(strstr(err.msg, "the embedder"));
    assert_non_null(strstr(err.msg, "GITHUB_TOKEN"));
    wk_envguard_destroy(&g);

    g = guard_of("GITHUB_TOKEN,OPENAI_API_KEY");
    assert_int_equal(wk_envguard_check(g, &cfg, &err), 0);
    wk_envguard_destroy(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_and_globs),
        cmocka_unit_test(test_bad_items),
        cmocka_unit_test(test_getenv_only_allowed),
        cmocka_unit_test(test_check_spec),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
