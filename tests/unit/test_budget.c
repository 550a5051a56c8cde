/* test_budget: the spending limits at dispatch (coordinator/budget.c, with estimate.c, usage.c and
 * worker/critique.c compiled in) — a case goes out only while spent + in flight + its own upper
 * bound stays within every limit; a refused case blocks until a task's bounds are released;
 * exhausted means refused with nothing in flight; the run's limit sums the models, a model's
 * limit counts its calls only; the limit that stopped it is named. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testcfg.h"

#include "../../coordinator/budget.h"
#include "../../coordinator/estimate.h"
#include "../../coordinator/usage.h"
#include "../../worker/critique.h"


/* A prompt of 8 bytes: 2 input tokens a call. */
static rs_chat_msg_t MSG = {"user", "01234567"};
static rs_case_t CASE = {.id = "c", .msgs = &MSG, .n_msgs = 1, .input = "q"};

typedef struct fixture {
    rs_config_t *cfg;
    coord_usage_t *usage;
    coord_budget_t *b;
} fixture_t;

static void open_fixture(fixture_t *f, const char *yaml)
{
    f->cfg = cfg_from_yaml(yaml);
    assert_true(coord_budget_enabled(f->cfg));
    f->usage = coord_usage_new(f->cfg);
    rs_err_t err;
    f->b = coord_budget_new(f->cfg, f->usage, &err);
    if (!f->b) fail_msg("%s", err.msg);
}

static void close_fixture(fixture_t *f)
{
    coord_budget_destroy(&f->b);
    assert_null(f->b);
    coord_usage_destroy(&f->usage);
    rs_config_destroy(&f->cfg);
}

/* A RESULT's stats: model spent in input and out output tokens. */
static void spend(fixture_t *f, const char *model, int in, int out)
{
    char *stats = rs_xasprintf("{\"%s\": {\"calls\": 1, \"input_tokens\": %d, \"output_tokens\": "
                               "%d, \"errors\": {}, \"latency_ms\": [1], \"stage\": [0]}}",
                               model, in, out);
    json_t *o = json_loads(stats, 0, NULL);
    assert_non_null(o);
    assert_int_equal(coord_usage_add(f->usage, o), 0);
    json_decref(o);
    free(stats);
}

/* One case costs at most 2 + 10 = 12 tokens (max_tokens 10): 100 tokens let 8 go out. A refused
 * case blocks; releasing a task's hold opens it again; spending what was held keeps it shut. */
static void test_tokens_in_flight_and_spent(void **state)
{
    fixture_t f;
    open_fixture(&f, "models: [{name: a, provider: sim, model: m, params: {max_tokens: 10}}]\n"
                     "budget: {tokens: 100}\n");
    double *hold1 = NULL, *hold2 = NULL;
    for (int i = 0; i < 4; i++) assert_int_equal(coord_budget_admit(f.b, &CASE, &hold1), 1);
    for (int i = 0; i < 4; i++) assert_int_equal(coord_budget_admit(f.b, &CASE, &hold2), 1);
    assert_int_equal(coord_budget_admit(f.b, &CASE, &hold2), 0); /* 96 + 12 > 100 */
    assert_int_equal(coord_budget_open(f.b), 0);
    assert_int_equal(coord_budget_exhausted(f.b, 8), 0); /* cases are still in flight */
    coord_budget_stop_t st;
    assert_int_equal(coord_budget_stopped_by(f.b, &st), 0);
    assert_string_equal(st.key, "budget.tokens");
    assert_int_equal(st.model, -1);
    assert_int_equal(st.usd, 0);
    assert_near(st.limit, 100, 0);
    assert_near(st.next_case, 12, 0);
    /* the first task's four cases come back having spent 4 x (2 + 5) = 28 tokens */
    spend(&f, "a", 8, 20);
    coord_budget_release(f.b, &hold1);
    assert_null(hold1);
    assert_int_equal(coord_budget_open(f.b), 1); /* 28 + 48 + 12 <= 100 */
    assert_int_equal(coord_budget_admit(f.b, &CASE, &hold1), 1);
    assert_int_equal(coord_budget_admit(f.b, &CASE, &hold1), 1); /* 28 + 60 + 12 = 100 */
    assert_int_equal(coord_budget_admit(f.b, &CASE, &hold1), 0); /* 28 + 72 + 12 > 100 */
    spend(&f, "a", 8, 40);   /* the second task: 48 */
    coord_budget_release(f.b, &hold2);
    spend(&f, "a", 4, 10);   /* the third: 14, in all 90 */
    coord_budget_release(f.b, &hold1);
    assert_int_equal(coord_budget_exhausted(f.b, 0), 1); /* 90 + 12 > 100 */
    assert_int_equal(coord_budget_stopped_by(f.b, &st), 0);
    assert_near(st.spent, 90, 0);
    int64_t tokens;
    double usd;
    coord_budget_spent(f.b, &tokens, &usd);
    assert_int_equal(tokens, 90);
    assert_near(usd, 0, 0);
    close_fixture(&f);
}

/* A worker's stats are a peer's numbers: negative tokens take nothing back from what was spent,
 * and a huge count is held, not overflowed. */
static void test_hostile_stats(void **state)
{
    (void)state;
    fixture_t f;
    open_fixture(&f, "models: [{name: a, provider: sim, model: m, params: {max_tokens: 10}}]\n"
                     "budget: {tokens: 100}\n");
    spend(&f, "a", 30, 20);
    spend(&f, "a", -1000, -1000);
    int64_t tokens;
    double usd;
    coord_budget_spent(f.b, &tokens, &usd);
    assert_int_equal(tokens, 50);
    json_t *huge = json_pack("{sI}", "n", (json_int_t)INT64_MAX);
    assert_int_equal(coord_usage_count(huge, "n"), INT64_C(1) << 40);
    json_decref(huge);
    close_fixture(&f);
}

/* A model's usd limit counts its own calls (as a judge too), at its prices; the run's limit sums
 * every model. */
static void test_model_usd_limit(void **state)
{
    fixture_t f;
    /* per case a spends at most 2 + 10 tokens; b 2 + 20 for its answer and, as the judge of
     * both (template "J{{answer}}": 1 byte), 1 + 10 + 20 and 1 + 20 + 20: 94 in all */
    open_fixture(&f, "models:\n"
                     "  - {name: a, provider: sim, model: m, params: {max_tokens: 10},\n"
                     "     prices: {input: 1000, output: 1000}}\n"
                     "  - {name: b, provider: sim, model: m, params: {max_tokens: 20},\n"
                     "     prices: {input: 1000, output: 1000}, budget: {usd: 0.1}}\n"
                     "judges: [{name: j, model: b, template: \"J{{answer}}\"}]\n"
                     "budget: {usd: 1}\n");
    /* b: 94 tokens x $0.001 = $0.094 a case: one fits in $0.1, the second does not */
    double *hold = NULL;
    assert_int_equal(coord_budget_admit(f.b, &CASE, &hold), 1);
    assert_int_equal(coord_budget_admit(f.b, &CASE, &hold), 0);
    coord_budget_stop_t st;
    assert_int_equal(coord_budget_stopped_by(f.b, &st), 0);
    assert_string_equal(st.key, "models.b.budget.usd");
    assert_int_equal(st.model, 1);
    assert_int_equal(st.usd, 1);
    assert_near(st.next_case, 0.094, 1e-12);
    /* a spending does not touch b's limit */
    spend(&f, "a", 100, 100);
    coord_budget_release(f.b, &hold);
    assert_int_equal(coord_budget_open(f.b), 1);
    /* but the run's limit counts a too */
    assert_int_equal(coord_budget_admit(f.b, &CASE, &hold), 1);
    spend(&f, "a", 400, 400); /* $0.8 more: $1 spent */
    coord_budget_release(f.b, &hold);
    assert_int_equal(coord_budget_exhausted(f.b, 0), 0); /* nothing was refused yet */
    assert_int_equal(coord_budget_admit(f.b, &CASE, &hold), 0);
    assert_null(hold);
    assert_int_equal(coord_budget_exhausted(f.b, 0), 1);
    assert_int_equal(coord_budget_stopped_by(f.b, &st), 0);
    assert_string_equal(st.key, "budget.usd");
    assert_near(st.spent, 1.0, 1e-9);
    close_fixture(&f);
}

/* No limit: not enabled; a usd limit without prices is refused when the config loads. */
static void test_config(void **state)
{
    rs_config_t *cfg = cfg_from_yaml("models: [{name: a, provider: sim, model: m}]\n");
    assert_false(coord_budget_enabled(cfg));
    rs_config_destroy(&cfg);
    rs_err_t err;
    cfg = rs_config_load_string("dataset: {path: x.jsonl}\n"
                                "models: [{name: a, provider: sim, model: m}]\n"
                                "budget: {usd: 5}\n",
                                "<test>", NULL, NULL, 0, &err);
    assert_null(cfg);
    assert_non_null(strstr(err.msg, "budget.usd is set but no model has prices"));
    cfg = rs_config_load_string("dataset: {path: x.jsonl}\n"
                                "models: [{name: a, provider: sim, model: m, budget: {usd: 5}}]\n",
                                "<test>", NULL, NULL, 0, &err);
    assert_null(cfg);
    assert_non_null(strstr(err.msg, "models[0]"));
    assert_non_null(strstr(err.msg, "the model has no prices"));
    cfg = rs_config_load_string("dataset: {path: x.jsonl}\n"
                                "models: [{name: a, provider: sim, model: m}]\n"
                                "budget: {tokens: -1}\n",
                                "<test>", NULL, NULL, 0, &err);
    assert_null(cfg);
    assert_non_null(strstr(err.msg, "budget.tokens"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tokens_in_flight_and_spent),
        cmocka_unit_test(test_hostile_stats),
        cmocka_unit_test(test_model_usd_limit),
        cmocka_unit_test(test_config),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
