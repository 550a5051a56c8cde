/* test_critique: judge and revision prompts (worker/critique.c, from rsworker) with and
 * without rubric and reference, custom templates, placeholders that must not expand twice, the
 * {{question}} of conversations, {{question}} as the case's raw input (and its fallback without
 * one) next to {{prompt}}, and verdicts read through choices and regex parsers (unparsed texts
 * included) against the judge's threshold. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../worker/critique.h"

static rs_config_t *config(const char *judges)
{
    char *yaml = rs_xasprintf("dataset: {path: x.jsonl}\n"
                              "models: [{name: a, provider: sim, model: sim-1}]\n%s",
                              judges);
    rs_err_t err;
    rs_config_t *cfg = rs_config_load_string(yaml, "<test>", NULL, NULL, 0, &err);
    free(yaml);
    if (!cfg) fail_msg("%s", err.msg);
    return cfg;
}

static wk_critique_t *critique(const rs_config_t *cfg)
{
    rs_err_t err;
    wk_critique_t *cq = wk_critique_new(cfg, &err);
    if (!cq) fail_msg("%s", err.msg);
    return cq;
}

/* A case with a system message, one user message and targets (borrowed strings). */
typedef struct test_case {
    rs_chat_msg_t msgs[3];
    char *targets[1];
    rs_case_t c;
} test_case_t;

static void make_case(test_case_t *t, int with_system, int n_targets)
{
    size_t n = 0;
    if (with_system) t->msgs[n++] = (rs_chat_msg_t){"system", "Answer with #### x."};
    t->msgs[n++] = (rs_chat_msg_t){"user", "What is 2 + 2?"};
    t->targets[0] = "4";
    t->c = (rs_case_t){.id = "c1",
                       .msgs = t->msgs,
                       .n_msgs = n,
                       .targets = t->targets,
                       .n_targets = (size_t)n_targets};
}

static const char *user_text(const wk_prompt_t *p)
{
    assert_true(p->n_msgs >= 1);
    assert_string_equal(p->msgs[p->n_msgs - 1].role, "user");
    return p->msgs[p->n_msgs - 1].content;
}

/* ---- judge prompts ---- */

static void test_default_template_plain(void **state)
{
    rs_config_t *cfg = config("judges: [{name: j, model: a}]\n");
    wk_critique_t *cq = critique(cfg);
    test_case_t t;
    make_case(&t, 1, 1);
    wk_prompt_t p;
    wk_critique_judge_prompt(cq, 0, &t.c, "It is 4.\n#### 4", &p);
    assert_int_equal(p.n_msgs, 1); /* the judge gets no system message of the case */
    char *want = rs_xasprintf(
        "Review the answer to the question below. Check every step of the reasoning and the "
        "final answer.\n\nQuestion:\nWhat is 2 + 2?\n\nAnswer:\nIt is 4.\n#### 4\n\nPrinciples "
        "the answer must meet (may be none):\n\n\nReference answer (may be empty):\n\n\nWrite a "
        "short critique. Then end with a last line that is exactly \"Verdict: Y\" if the answer "
        "is correct, or \"Verdict: N\" if it is not.");
    assert_string_equal(user_text(&p), want);
    assert_int_equal(p.bytes, strlen(want));
    free(want);
    wk_prompt_cleanup(&p);
    wk_critique_destroy(&cq);
    assert_null(cq);
    rs_config_destroy(&cfg);
}

static void test_rubric_and_reference(void **state)
{
    rs_config_t *cfg =
        config("judges:\n"
               "  - {name: j, model: a, reference: true,\n"
               "     rubric: [\"The final answer is correct.\", \"Steps follow.\"]}\n");
    wk_critique_t *cq = critique(cfg);
    test_case_t t;
    make_case(&t, 0, 1);
    wk_prompt_t p;
    wk_critique_judge_prompt(cq, 0, &t.c, "#### 5", &p);
    const char *s = user_text(&p);
    assert_non_null(
        strstr(s, "(may be none):\n- The final answer is correct.\n- Steps follow.\n\n"));
    assert_non_null(strstr(s, "(may be empty):\n4\n\n"));
    wk_prompt_cleanup(&p);
    /* reference: true but the case has no target: empty */
    make_case(&t, 0, 0);
    wk_critique_judge_prompt(cq, 0, &t.c, "#### 5", &p);
    assert_non_null(strstr(user_text(&p), "(may be empty):\n\n\n"));
    wk_prompt_cleanup(&p);
    wk_critique_destroy(&cq);
    rs_config_destroy(&cfg);
}

static void test_custom_template_one_pass(void **state)
{
    rs_config_t *cfg = config(
        "judges:\n"
        "  - name: j\n"
        "    model: a\n"
        "    template: \"Q={{question}} A={{answer}} R={{reference}} X={{other}} {{rubric}}|{{\"\n"
        "    verdict: {regex: \"Score: *([0-9.]+)\", max: 10}\n");
    wk_critique_t *cq = critique(cfg);
    test_case_t t;
    make_case(&t, 0, 1);
    wk_prompt_t p;
    /* the answer's placeholders stay as they are: values are not scanned again */
    wk_critique_judge_prompt(cq, 0, &t.c, "{{reference}} {{question}}", &p);
    assert_string_equal(user_text(&p),
                        "Q=What is 2 + 2? A={{reference}} {{question}} R= X={{other}} |{{");
    wk_prompt_cleanup(&p);
    wk_critique_judge_prompt(cq, 0, &t.c, NULL, &p); /* no answer: empty */
    assert_string_equal(user_text(&p), "Q=What is 2 + 2? A= R= X={{other}} |{{");
    wk_prompt_cleanup(&p);
    wk_critique_destroy(&cq);
    rs_config_destroy(&cfg);
}

static void test_question_of_conversation(void **state)
{
    rs_chat_msg_t msgs[] = {
        {"system", "Be brief."}, {"user", "Hi"}, {"assistant", "Hello"}, {"user", "2+2?"}};
    rs_case_t c = {.id = "x", .msgs = msgs, .n_msgs = 4};
    char *q = wk_critique_question(&c);
    assert_string_equal(q, "user: Hi\n\nassistant: Hello\n\nuser: 2+2?");
    free(q);
    c.n_msgs = 2; /* one non-system message: its content alone */
    q = wk_critique_question(&c);
    assert_string_equal(q, "Hi");
    free(q);
    c.n_msgs = 0;
    q = wk_critique_question(&c);
    assert_string_equal(q, "");
    free(q);
}

/* A prompt.template wrapped the input in instructions: {{question}} is the raw input and
 * {{prompt}} the prompt as the model saw it; without a raw input (an older coordinator) both are
 * the prompt. */
static void test_question_is_raw_input(void **state)
{
    rs_config_t *cfg =
        config("judges:\n"
               "  - {name: j, model: a,\n"
               "     template: \"Q: {{question}}\\nP: {{prompt}}\\nA: {{answer}}\"}\n"
               "  - {name: d, model: a}\n"
               "revise: {rounds: 1, template: \"{{question}} | {{prompt}} | {{answer}} | "
               "{{critique}}\"}\n");
    wk_critique_t *cq = critique(cfg);
    rs_chat_msg_t msgs[] = {{"system", "Be brief."},
                            {"user", "Solve step by step and end with '#### <answer>'.\n\n2+2?"}};
    rs_case_t c = {.id = "c1", .msgs = msgs, .n_msgs = 2, .input = "2+2?"};
    wk_prompt_t p;

    wk_critique_judge_prompt(cq, 0, &c, "#### 4", &p);
    assert_string_equal(user_text(&p), "Q: 2+2?\nP: Solve step by step and end with '#### "
                                       "<answer>'.\n\n2+2?\nA: #### 4");
    assert_int_equal(p.bytes, strlen(user_text(&p)));
    wk_prompt_cleanup(&p);
    wk_critique_judge_prompt(cq, 1, &c, "#### 4", &p); /* the default template quotes the input */
    assert_non_null(strstr(user_text(&p), "Question:\n2+2?\n\nAnswer:\n#### 4\n"));
    assert_null(strstr(user_text(&p), "step by step"));
    wk_prompt_cleanup(&p);
    wk_critique_revise_prompt(cq, &c, "#### 5", "Wrong.", &p);
    assert_int_equal(p.n_msgs, 2);
    assert_string_equal(user_text(&p), "2+2? | Solve step by step and end with '#### "
                                       "<answer>'.\n\n2+2? | #### 5 | Wrong.");
    wk_prompt_cleanup(&p);
    char *q = wk_critique_question(&c);
    assert_string_equal(q, "2+2?");
    free(q);

    c.input = NULL; /* no raw input: {{question}} falls back to the prompt */
    wk_critique_judge_prompt(cq, 0, &c, "#### 4", &p);
    assert_string_equal(user_text(&p), "Q: Solve step by step and end with '#### <answer>'.\n\n2+2?"
                                       "\nP: Solve step by step and end with '#### "
                                       "<answer>'.\n\n2+2?\nA: #### 4");
    wk_prompt_cleanup(&p);
    c.input = ""; /* an empty input is still the input */
    wk_critique_revise_prompt(cq, &c, "x", "y", &p);
    assert_string_equal(user_text(&p), " | Solve step by step and end with '#### "
                                       "<answer>'.\n\n2+2? | x | y");
    wk_prompt_cleanup(&p);
    wk_critique_destroy(&cq);
    rs_config_destroy(&cfg);
}

/* ---- revision prompts ---- */

static void test_revise_prompt(void **state)
{
    rs_config_t *cfg = config("judges: [{name: j, model: a}]\nrevise: {rounds: 1}\n");
    wk_critique_t *cq = critique(cfg);
    test_case_t t;
    make_case(&t, 1, 1);
    wk_prompt_t p;
    wk_critique_revise_prompt(cq, &t.c, "#### 5", "Wrong sum.\nVerdict: N", &p);
    assert_int_equal(p.n_msgs, 2); /* the case's system message, then the request */
    assert_string_equal(p.msgs[0].role, "system");
    assert_string_equal(p.msgs[0].content, "Answer with #### x.");
    const char *s = user_text(&p);
    assert_true(strncmp(s,
                        "Question:\nWhat is 2 + 2?\n\nYour previous answer:\n#### 5\n\n"
                        "A reviewer's critique of it:\nWrong sum.\nVerdict: N\n\nRevise",
                        strlen("Question:\nWhat is 2 + 2?\n\nYour previous answer:\n#### 5\n\n"
                               "A reviewer's critique of it:\nWrong sum.\nVerdict: N\n\nRevise")) ==
                0);
    assert_int_equal(p.bytes, strlen(p.msgs[0].content) + strlen(s));
    wk_prompt_cleanup(&p);
    assert_int_equal(p.n_msgs, 0);
    wk_critique_destroy(&cq);
    rs_config_destroy(&cfg);

    cfg = config("judges: [{name: j, model: a}]\n"
                 "revise: {rounds: 2, template: \"{{critique}} / {{answer}} / {{question}}\"}\n");
    cq = critique(cfg);
    make_case(&t, 0, 0);
    wk_critique_revise_prompt(cq, &t.c, "old", NULL, &p);
    assert_int_equal(p.n_msgs, 1);
    assert_string_equal(user_text(&p), " / old / What is 2 + 2?");
    wk_prompt_cleanup(&p);
    wk_critique_destroy(&cq);
    rs_config_destroy(&cfg);
}

/* ---- verdicts ---- */

static void verdict(const wk_critique_t *cq, size_t j, const char *text, int parsed, double score,
                    int correct)
{
    wk_verdict_t v;
    wk_critique_verdict(cq, j, text, &v);
    assert_int_equal(v.parsed, parsed);
    if (parsed)
        assert_true(fabs(v.score - score) < 1e-12);
    else
        assert_true(isnan(v.score));
    assert_int_equal(v.judged_correct, correct);
}

static void test_verdicts(void **state)
{
    rs_config_t *cfg = config("judges:\n"
                              "  - {name: yn, model: a}\n"
                              "  - name: scale\n"
                              "    model: a\n"
                              "    template: \"{{answer}} Score 0-10 as 'Score: n'\"\n"
                              "    verdict: {regex: \"Score: *([0-9.]+)\", max: 10}\n"
                              "    threshold: 0.7\n"
                              "  - name: graded\n"
                              "    model: a\n"
                              "    template: \"{{answer}} say A, B or C\"\n"
                              "    verdict: {choices: {A: 1, B: 0.5, C: 0}}\n"
                              "    threshold: 0.5\n");
    wk_critique_t *cq = critique(cfg);
    verdict(cq, 0, "[simulated] Critique: fine.\nVerdict: Y", 1, 1, 1);
    verdict(cq, 0, "Looks Y at first.\nVerdict: N", 1, 0, 0); /* the last choice wins */
    verdict(cq, 0, "Yes, it is right.", 0, 0, 0);             /* "Y" only as a whole word */
    verdict(cq, 0, "[simulated] Working through the problem.\n#### 4", 0, 0, 0);
    verdict(cq, 0, NULL, 0, 0, 0); /* a failed call */
    verdict(cq, 0, "", 0, 0, 0);
    verdict(cq, 1, "Score: 7", 1, 0.7, 1); /* at the threshold: correct */
    verdict(cq, 1, "Score: 6.5", 1, 0.65, 0);
    verdict(cq, 1, "Score: 12", 1, 1, 1); /* clamped */
    verdict(cq, 1, "Score: high", 0, 0, 0);
    verdict(cq, 2, "B", 1, 0.5, 1);
    verdict(cq, 2, "A then C", 1, 0, 0);
    wk_critique_destroy(&cq);
    rs_config_destroy(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_template_plain),
        cmocka_unit_test(test_rubric_and_reference),
        cmocka_unit_test(test_custom_template_one_pass),
        cmocka_unit_test(test_question_of_conversation),
        cmocka_unit_test(test_question_is_raw_input),
        cmocka_unit_test(test_revise_prompt),
        cmocka_unit_test(test_verdicts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
