/* test_estimate: counting a run's calls and tokens per model and stage (coordinator/estimate.c,
 * with worker/critique.c rendering the judge and revision prompts) — requests per provider's n,
 * every judge on every candidate, the revise judge on every revision but the last, revisions in
 * every round, one remote embedder call a case, bytes / 4 rounded up per call, quoted outputs at
 * max_tokens, the cost range from prices, and the JSON totals. */
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

#include "../../coordinator/estimate.h"
#include "../../worker/critique.h"


/* A case whose prompt is one user message of 10 bytes (3 tokens), input "Q 2+2" (5 bytes),
 * target "4". */
typedef struct test_case {
    rs_chat_msg_t msg;
    char *targets[1];
    rs_case_t c;
} test_case_t;

static void make_case(test_case_t *t)
{
    t->msg = (rs_chat_msg_t){"user", "0123456789"};
    t->targets[0] = "4";
    t->c = (rs_case_t){.id = "c1", .msgs = &t->msg, .n_msgs = 1, .targets = t->targets,
                       .n_targets = 1, .input = "Q 2+2"};
}

static coord_estimate_t *estimate(const rs_config_t *cfg)
{
    rs_err_t err;
    coord_estimate_t *e = coord_estimate_new(cfg, &err);
    if (!e) fail_msg("%s", err.msg);
    return e;
}

static const coord_estimate_cell_t *cell(const coord_estimate_t *e, size_t row, coord_stage_t st)
{
    return coord_estimate_total(e, row, st);
}

static void assert_cell(const coord_estimate_cell_t *c, uint64_t calls, uint64_t in,
                        uint64_t in_max, uint64_t out_max)
{
    assert_int_equal(c->calls, calls);
    assert_int_equal(c->input_tokens, in);
    assert_int_equal(c->input_tokens_max, in_max);
    assert_int_equal(c->output_tokens_max, out_max);
}

/* sim answers one candidate a request, OpenAI-compatible servers up to 128, Anthropic one. */
static void test_generate_requests_per_provider(void **state)
{
    rs_config_t *cfg = cfg_from_yaml("models:\n"
                              "  - {name: s, provider: sim, model: m, n: 3, params: {max_tokens: 100}}\n"
                              "  - {name: o, provider: openai, model: m, n: 130}\n"
                              "  - {name: a, provider: anthropic, model: m, n: 2, params: {max_tokens: 7}}\n");
    coord_estimate_t *e = estimate(cfg);
    test_case_t t;
    make_case(&t);
    coord_estimate_add(e, &t.c);
    coord_estimate_add(e, &t.c);
    assert_int_equal(coord_estimate_cases(e), 2);
    assert_int_equal(coord_estimate_rows(e), 4);
    assert_cell(cell(e, 0, COORD_STAGE_GENERATE), 6, 18, 18, 600);
    /* 128 + 2; no max sent: the documented bound RS_PROVIDER_DEFAULT_MAX_TOKENS */
    assert_cell(cell(e, 1, COORD_STAGE_GENERATE), 4, 12, 12, 2 * 130 * 4096);
    assert_cell(cell(e, 2, COORD_STAGE_GENERATE), 4, 12, 12, 28);
    for (size_t r = 0; r < 4; r++)
        for (int st = COORD_STAGE_CRITIQUE; st < COORD_N_STAGES; st++)
            assert_cell(cell(e, r, (coord_stage_t)st), 0, 0, 0, 0);
    assert_string_equal(coord_estimate_row_name(e, 1), "o");
    assert_string_equal(coord_estimate_row_name(e, 3), "embedder");
    coord_estimate_destroy(&e);
    assert_null(e);
    rs_config_destroy(&cfg);
}

/* Two judges on every candidate of both models; the revise judge also on revision 1 of 2
 * rounds; each candidate revised twice. Judge template "J{{question}}|{{answer}}" renders to
 * 1 + 5 + 1 = 7 bytes (2 tokens) with an empty answer; the revise template
 * "R{{question}}{{answer}}{{critique}}" to 6 bytes (2 tokens). */
static void test_chain_counts(void **state)
{
    rs_config_t *cfg = cfg_from_yaml(
        "models:\n"
        "  - {name: a, provider: sim, model: m, n: 2, params: {max_tokens: 10}}\n"
        "  - {name: b, provider: sim, model: m, n: 1, params: {max_tokens: 20}}\n"
        "judges:\n"
        "  - {name: ja, model: a, template: \"J{{question}}|{{answer}}\"}\n"
        "  - {name: jb, model: b, template: \"J{{question}}|{{answer}}\"}\n"
        "revise: {rounds: 2, judge: jb, template: \"R{{question}}{{answer}}{{critique}}\"}\n");
    coord_estimate_t *e = estimate(cfg);
    test_case_t t;
    make_case(&t);
    coord_estimate_add(e, &t.c);
    /* ja (model a) critiques 3 candidates once: quoting a's (10) twice and b's (20) once */
    assert_cell(cell(e, 0, COORD_STAGE_CRITIQUE), 3, 6, 6 + 10 + 10 + 20, 30);
    /* jb (model b, the revise judge) critiques each candidate's generation and revision 1 */
    assert_cell(cell(e, 1, COORD_STAGE_CRITIQUE), 6, 12, 12 + 4 * 10 + 2 * 20, 6 * 20);
    /* revisions quote the last answer and jb's critique (20) */
    assert_cell(cell(e, 0, COORD_STAGE_REVISE), 4, 8, 8 + 4 * (10 + 20), 40);
    assert_cell(cell(e, 1, COORD_STAGE_REVISE), 2, 4, 4 + 2 * (20 + 20), 40);
    assert_cell(cell(e, 0, COORD_STAGE_GENERATE), 2, 6, 6, 20);
    assert_cell(cell(e, 2, COORD_STAGE_EMBED), 0, 0, 0, 0); /* the hash embedder is no call */
    coord_estimate_destroy(&e);
    rs_config_destroy(&cfg);
}

/* The remote embedder: one call a case over the generations (consensus over n = 3), and with an
 * embed_sim grader also the revisions and the targets. */
static void test_remote_embedder(void **state)
{
    const char *models = "models: [{name: a, provider: sim, model: m, n: 3, params: {max_tokens: 10}}]\n"
                         "embedder: {type: openai, model: emb, base_url: \"http://127.0.0.1:1/v1\"}\n";
    rs_config_t *cfg = cfg_from_yaml(models);
    coord_estimate_t *e = estimate(cfg);
    test_case_t t;
    make_case(&t);
    coord_estimate_add(e, &t.c);
    assert_cell(cell(e, 1, COORD_STAGE_EMBED), 1, 0, 30, 0);
    coord_estimate_destroy(&e);
    rs_config_destroy(&cfg);

    char *yaml = rs_xasprintf("%sjudges: [a]\nrevise: 1\nscoring: {graders: [embed_sim]}\n", models);
    cfg = cfg_from_yaml(yaml);
    free(yaml);
    e = estimate(cfg);
    coord_estimate_add(e, &t.c);
    assert_cell(cell(e, 1, COORD_STAGE_EMBED), 1, 1, 1 + 60, 0); /* target "4": 1 token */
    coord_estimate_destroy(&e);
    rs_config_destroy(&cfg);

    /* n = 1 and one model: nothing to choose, nothing embedded */
    cfg = cfg_from_yaml("models: [{name: a, provider: sim, model: m}]\n"
                 "embedder: {type: openai, model: emb, base_url: \"http://127.0.0.1:1/v1\"}\n");
    e = estimate(cfg);
    coord_estimate_add(e, &t.c);
    assert_cell(cell(e, 1, COORD_STAGE_EMBED), 0, 0, 0, 0);
    coord_estimate_destroy(&e);
    rs_config_destroy(&cfg);
}

/* Per call, bytes / 4 rounded up: 10 bytes are 3 tokens, and 12 are 3. */
static void test_rounding_per_call(void **state)
{
    rs_config_t *cfg = cfg_from_yaml("models: [{name: a, provider: sim, model: m, n: 2}]\n");
    coord_estimate_t *e = estimate(cfg);
    test_case_t t;
    make_case(&t);
    coord_estimate_cell_t cells[2 * COORD_N_STAGES];
    coord_estimate_case(e, &t.c, cells);
    assert_int_equal(cells[COORD_STAGE_GENERATE].input_tokens, 6);
    t.msg.content = "012345678901";
    coord_estimate_case(e, &t.c, cells);
    assert_int_equal(cells[COORD_STAGE_GENERATE].input_tokens, 6);
    t.msg.content = "";
    coord_estimate_case(e, &t.c, cells);
    assert_int_equal(cells[COORD_STAGE_GENERATE].input_tokens, 0);
    assert_int_equal(coord_estimate_cases(e), 0); /* a case alone is not added */
    coord_estimate_destroy(&e);
    rs_config_destroy(&cfg);
}

/* Cost: [input x input price, input max x input price + output max x output price] per million;
 * the JSON has a row per model and stage with calls, and the sums. */
static void test_cost_and_json(void **state)
{
    rs_config_t *cfg = cfg_from_yaml(
        "models:\n"
        "  - {name: a, provider: sim, model: m, n: 2, params: {max_tokens: 10},\n"
        "     prices: {input: 2, output: 8}}\n"
        "judges: [{name: j, model: a, template: \"J{{answer}}\"}]\n");
    coord_estimate_t *e = estimate(cfg);
    test_case_t t;
    make_case(&t);
    for (int i = 0; i < 1000; i++) coord_estimate_add(e, &t.c);
    double lo, hi;
    coord_estimate_cost(e, 0, cell(e, 0, COORD_STAGE_GENERATE), &lo, &hi);
    assert_near(lo, 6000 * 2 / 1e6, 1e-12);
    assert_near(hi, (6000 * 2 + 20000 * 8) / 1e6, 1e-12);
    json_t *o = coord_estimate_json(e);
    assert_int_equal(json_integer_value(json_object_get(o, "cases")), 1000);
    json_t *rows = json_object_get(o, "rows");
    assert_int_equal(json_array_size(rows), 2); /* generate and critique; nothing else is called */
    json_t *crit = json_array_get(rows, 1);
    assert_string_equal(json_string_value(json_object_get(crit, "model")), "a");
    assert_string_equal(json_string_value(json_object_get(crit, "stage")), "critique");
    assert_int_equal(json_integer_value(json_object_get(crit, "calls")), 2000);
    assert_int_equal(json_integer_value(json_object_get(crit, "input_tokens")), 2000); /* "J" */
    assert_int_equal(json_integer_value(json_object_get(crit, "input_tokens_max")), 2000 * 11);
    json_t *total = json_object_get(o, "total");
    assert_int_equal(json_integer_value(json_object_get(total, "calls")), 4000);
    assert_int_equal(json_integer_value(json_object_get(total, "output_tokens_max")), 40000);
    assert_near(json_number_value(json_object_get(total, "cost_usd_min")),
                        (6000 + 2000) * 2 / 1e6, 1e-12);
    assert_near(json_number_value(json_object_get(total, "cost_usd_max")),
                        ((6000 + 22000) * 2 + 40000 * 8) / 1e6, 1e-12);
    json_decref(o);
    coord_estimate_destroy(&e);
    rs_config_destroy(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generate_requests_per_provider),
        cmocka_unit_test(test_chain_counts),
        cmocka_unit_test(test_remote_embedder),
        cmocka_unit_test(test_rounding_per_call),
        cmocka_unit_test(test_cost_and_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
