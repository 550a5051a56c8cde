/* test_sim: the simulated model is deterministic, honours accuracy and error_rate, never
 * answers a wrong number equal to the target, judges with judge_accuracy and self_bias, revises
 * with fix_rate and break_rate, and matches the definition in docs/SIM.md, recomputed here with
 * XXH64 directly rather than through sim.c's code. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <xxhash.h>

#include "score.h"
#include "sim.h"

#define REPLY_HEAD "[simulated] Working through the problem step by step.\nThe answer is "

/* A hand-built case (rs_case_cleanup belongs to dataset.c, so these tests free their own). */
typedef struct test_case {
    rs_case_t c;
    rs_chat_msg_t msgs[2];
    char *targets[1];
    char id[32];
} test_case_t;

static void make_case(test_case_t *t, uint64_t idx, const char *target)
{
    memset(t, 0, sizeof(*t));
    snprintf(t->id, sizeof(t->id), "case-%llu", (unsigned long long)idx);
    t->msgs[0] = (rs_chat_msg_t){"system", "You are careful."};    /* 16 bytes */
    t->msgs[1] = (rs_chat_msg_t){"user", "What is 6 * 7? Think."}; /* 21 bytes */
    t->targets[0] = (char *)target;
    t->c = (rs_case_t){.idx = idx,
                       .id = t->id,
                       .msgs = t->msgs,
                       .n_msgs = 2,
                       .targets = t->targets,
                       .n_targets = target ? 1 : 0};
}

static rs_model_cfg_t model(double accuracy, double error_rate, double latency_ms)
{
    return (rs_model_cfg_t){.name = "sim-small",
                            .provider = "sim",
                            .model = "sim-1",
                            .accuracy = accuracy,
                            .error_rate = error_rate,
                            .latency_ms = latency_ms};
}

/* The reference draw, straight from the definition. */
static uint64_t ref_hash(const char *model_name, const char *id, int k, const char *salt,
                         int64_t seed)
{
    char key[256];
    int n = snprintf(key, sizeof(key), "%s\x1f%s\x1f%d\x1f%s", model_name, id, k, salt);
    return XXH64(key, (size_t)n, (uint64_t)seed);
}

static double ref_draw(const char *model_name, const char *id, int k, const char *salt,
                       int64_t seed)
{
    return ldexp((double)(ref_hash(model_name, id, k, salt, seed) >> 11), -53);
}

/* The answer after "#### " in a reply. */
static const char *answer_of(const rs_sim_reply_t *r)
{
    const char *p = strstr(r->text, "#### ");
    assert_non_null(p);
    return p + 5;
}

static void test_draw_matches_xxh64(void **state)
{
    /* computed independently with python3-xxhash: xxh64(b"sim-small\x1fcase-7\x1f3\x1fcorrect",
     * seed=42).intdigest() */
    const uint64_t frozen = UINT64_C(0xd6fbaa7949428617);
    uint64_t h = ref_hash("sim-small", "case-7", 3, "correct", 42);
    assert_true(h == frozen);
    assert_true(rs_sim_hash("sim-small", "case-7", 3, "correct", 42) == h);
    double d = rs_sim_draw("sim-small", "case-7", 3, "correct", 42);
    assert_true(d == ref_draw("sim-small", "case-7", 3, "correct", 42));
    assert_true(d == (double)(h >> 11) / 9007199254740992.0);
    assert_true(d >= 0 && d < 1);
    /* negative seeds hash as their two's-complement uint64 */
    assert_true(rs_sim_hash("m", "c", 0, "error", -1) == ref_hash("m", "c", 0, "error", -1));
    assert_true(rs_sim_hash(NULL, NULL, -2, "x", 0) == XXH64("\x1f\x1f-2\x1fx", 6, 0));
}

static void test_deterministic(void **state)
{
    rs_model_cfg_t m = model(0.5, 0.1, 100);
    int differs = 0;
    for (uint64_t i = 0; i < 64; i++) {
        test_case_t t;
        make_case(&t, i, "42");
        rs_sim_reply_t a, b, c;
        rs_sim_generate(&m, 7, &t.c, 0, &a);
        rs_sim_generate(&m, 7, &t.c, 0, &b);
        rs_sim_generate(&m, 8, &t.c, 0, &c);
        assert_int_equal(a.failed, b.failed);
        assert_true(a.latency_ms == b.latency_ms);
        if (!a.failed) assert_string_equal(a.text, b.text);
        differs += a.failed != c.failed || a.latency_ms != c.latency_ms ||
                   (!a.failed && strcmp(a.text, c.text) != 0);
        rs_sim_reply_cleanup(&a);
        rs_sim_reply_cleanup(&b);
        rs_sim_reply_cleanup(&c);
    }
    assert_true(differs > 10);
    assert_true(rs_sim_draw("m", "c", 0, "correct", 1) != rs_sim_draw("m", "c", 0, "correct", 2));
}

/* Checks one numeric wrong answer against the definition: target + d, d from the "wrong" hash. */
static void check_wrong(const char *answer, const char *id, int k, int64_t seed, double target)
{
    uint64_t h = ref_hash("sim-small", id, k, "wrong", seed);
    double d = (double)(1 + h % 9) * (((h >> 32) & 1) ? -1 : 1);
    char want[RS_NUMBER_BUF];
    rs_format_number(target + d, want, sizeof(want));
    assert_string_equal(answer, want);
}

static void test_accuracy_and_wrong_answers(void **state)
{
    enum { N = 20000 };
    const double accuracy = 0.7;
    rs_model_cfg_t m = model(accuracy, 0, 0);
    size_t correct = 0, expected = 0;
    for (uint64_t i = 0; i < N; i++) {
        char target[32];
        snprintf(target, sizeof(target), "%llu", (unsigned long long)(i % 500) * 3);
        test_case_t t;
        make_case(&t, i, target);
        rs_sim_reply_t r;
        int k = (int)(i % 3);
        rs_sim_generate(&m, 99, &t.c, k, &r);
        assert_false(r.failed);
        assert_true(strncmp(r.text, REPLY_HEAD, strlen(REPLY_HEAD)) == 0);
        const char *ans = answer_of(&r);
        int ok = strcmp(ans, target) == 0;
        correct += ok;
        expected += ref_draw("sim-small", t.id, k, "correct", 99) < accuracy;
        if (!ok) check_wrong(ans, t.id, k, 99, (double)(i % 500) * 3);
        rs_sim_reply_cleanup(&r);
    }
    assert_int_equal(correct, expected);
    assert_true(fabs((double)correct / N - accuracy) < 0.01);
}

static void test_error_rate(void **state)
{
    enum { N = 20000 };
    rs_model_cfg_t m = model(0.7, 0.2, 0);
    size_t failed = 0;
    for (uint64_t i = 0; i < N; i++) {
        test_case_t t;
        make_case(&t, i, "5");
        rs_sim_reply_t r;
        rs_sim_generate(&m, 3, &t.c, 0, &r);
        assert_int_equal(r.failed, ref_draw("sim-small", t.id, 0, "error", 3) < 0.2);
        if (r.failed) {
            assert_null(r.text);
            assert_string_equal(r.error, "simulated provider error");
            assert_int_equal(r.output_tokens, 0);
        } else {
            assert_null(r.error);
        }
        failed += r.failed;
        rs_sim_reply_cleanup(&r);
    }
    assert_true(fabs((double)failed / N - 0.2) < 0.01);
}

static void test_text_shapes(void **state)
{
    test_case_t t;
    rs_sim_reply_t r;
    rs_model_cfg_t always = model(1, 0, 0), never = model(0, 0, 0);
    make_case(&t, 1, "1,234");
    rs_sim_generate(&always, 1, &t.c, 0, &r);
    assert_string_equal(r.text, REPLY_HEAD "1,234.\n#### 1,234");
    assert_int_equal(r.input_tokens, 10); /* ceil(37 / 4) */
    assert_int_equal(r.output_tokens, (int64_t)(strlen(r.text) + 3) / 4);
    assert_true(r.latency_ms == 0);
    rs_sim_reply_cleanup(&r);
    make_case(&t, 1, "Paris");
    rs_sim_generate(&never, 1, &t.c, 0, &r);
    assert_string_equal(r.text, REPLY_HEAD "not Paris.\n#### not Paris");
    rs_sim_reply_cleanup(&r);
    make_case(&t, 1, NULL);
    rs_sim_generate(&never, 1, &t.c, 0, &r);
    assert_string_equal(r.text, REPLY_HEAD "42.\n#### 42");
    rs_sim_reply_cleanup(&r);
    make_case(&t, 1, "1e17"); /* t + d == t in doubles: the wrong answer falls back to text */
    rs_sim_generate(&never, 1, &t.c, 0, &r);
    assert_string_equal(answer_of(&r), "not 1e17");
    rs_sim_reply_cleanup(&r);
    make_case(&t, 1, "2.5");
    rs_sim_generate(&never, 1, &t.c, 2, &r);
    check_wrong(answer_of(&r), t.id, 2, 1, 2.5);
    rs_sim_reply_cleanup(&r);
}

/* The reply round-trips through the default scorer: graded correct exactly when drawn correct. */
static void test_scorer_roundtrip(void **state)
{
    rs_scorer_t *s = rs_scorer_new(NULL, NULL);
    rs_model_cfg_t m = model(0.5, 0, 0);
    const char *targets[] = {"17", "-4", "$1,200", "0.75", "Paris"};
    for (uint64_t i = 0; i < 500; i++) {
        test_case_t t;
        make_case(&t, i, targets[i % 5]);
        rs_sim_reply_t r;
        rs_sim_generate(&m, 5, &t.c, 0, &r);
        char *x = rs_scorer_extract(s, r.text);
        int drawn = ref_draw("sim-small", t.id, 0, "correct", 5) < 0.5;
        assert_int_equal(rs_scorer_grade(s, 0, r.text, x, t.targets, 1), drawn);
        free(x);
        rs_sim_reply_cleanup(&r);
    }
    rs_scorer_destroy(&s);
}

static void test_latency(void **state)
{
    enum { N = 20000 };
    rs_model_cfg_t m = model(0.7, 0.1, 200);
    double sum = 0;
    for (uint64_t i = 0; i < N; i++) {
        test_case_t t;
        make_case(&t, i, "1");
        rs_sim_reply_t r;
        rs_sim_generate(&m, 11, &t.c, 0, &r);
        assert_true(r.latency_ms >= 100 && r.latency_ms < 300);
        assert_true(r.latency_ms == 200 * (0.5 + ref_draw("sim-small", t.id, 0, "latency", 11)));
        sum += r.latency_ms;
        rs_sim_reply_cleanup(&r);
    }
    assert_true(fabs(sum / N - 200) < 2);
}

static void test_name_falls_back_to_model(void **state)
{
    rs_model_cfg_t m = model(0.5, 0, 0);
    m.name = NULL;
    int agree = 1;
    for (uint64_t i = 0; i < 200; i++) {
        test_case_t t;
        make_case(&t, i, "10");
        rs_sim_reply_t r;
        rs_sim_generate(&m, 1, &t.c, 0, &r);
        agree &=
            (strcmp(answer_of(&r), "10") == 0) == (ref_draw("sim-1", t.id, 0, "correct", 1) < 0.5);
        rs_sim_reply_cleanup(&r);
    }
    assert_true(agree);
    rs_sim_reply_cleanup(NULL);
}

/* ---- judging ---- */

#define CRITIQUE_RIGHT                                                                             \
    "[simulated] Critique: Each step follows from the one before, and the final answer answers "   \
    "the question."
#define CRITIQUE_WRONG                                                                             \
    "[simulated] Critique: A step does not follow from the one before, so the final answer "       \
    "cannot be trusted."

static rs_verdict_choice_t yes_no[] = {{"N", 0}, {"Y", 1}};

static rs_judge_cfg_t judge_cfg(const char *name)
{
    return (rs_judge_cfg_t){.name = (char *)name,
                            .model = "sim-judge",
                            .verdict = {.choices = yes_no, .n_choices = 2},
                            .threshold = 0.5};
}

static rs_model_cfg_t judge_model(double judge_accuracy, double self_bias)
{
    rs_model_cfg_t m = model(0.7, 0, 0);
    m.name = "sim-judge";
    m.judge_accuracy = judge_accuracy;
    m.self_bias = self_bias;
    return m;
}

/* The judge's verdict through the verdict parser: 1 = says correct. */
static int says_correct(const rs_judge_cfg_t *j, const rs_sim_reply_t *r)
{
    rs_verdict_parser_t *p = rs_verdict_parser_new(&j->verdict, NULL);
    double score = -1;
    assert_int_equal(rs_verdict_parse(p, r->text, &score), 1);
    rs_verdict_parser_destroy(&p);
    return score >= j->threshold;
}

static void test_judge_frozen_draw(void **state)
{
    /* xxh64(b"sim-small\x1fcase-7\x1f3\x1fjudge:self:0", seed=42) and
     * xxh64(b"sim-small\x1fcase-7\x1f3\x1ffix:1", seed=42), from python3-xxhash */
    assert_true(ref_hash("sim-small", "case-7", 3, "judge:self:0", 42) ==
                UINT64_C(0x7702e7aad7005f37));
    assert_true(rs_sim_hash("sim-small", "case-7", 3, "fix:1", 42) == UINT64_C(0x26cde8f2fbf2cdf9));
    /* draw 0.4649 < 0.8: the judge of case-7's candidate 3 agrees with the truth */
    rs_model_cfg_t jm = judge_model(0.8, 0);
    rs_judge_cfg_t j = judge_cfg("self");
    test_case_t t;
    make_case(&t, 7, "42");
    for (int truth = 0; truth <= 1; truth++) {
        rs_sim_judge_req_t req = {.cand_model = "sim-small", .k = 3, .cand_correct = truth};
        rs_sim_reply_t r;
        rs_sim_judge(&jm, 42, &t.c, &j, &req, &r);
        assert_string_equal(r.text,
                            truth ? CRITIQUE_RIGHT "\nVerdict: Y" : CRITIQUE_WRONG "\nVerdict: N");
        rs_sim_reply_cleanup(&r);
    }
    jm.judge_accuracy = 0.46; /* now the same draw disagrees */
    rs_sim_judge_req_t req = {.cand_model = "sim-small", .k = 3, .cand_correct = 1};
    rs_sim_reply_t r;
    rs_sim_judge(&jm, 42, &t.c, &j, &req, &r);
    assert_string_equal(r.text, CRITIQUE_WRONG "\nVerdict: N");
    rs_sim_reply_cleanup(&r);
}

/* Over 20,000 candidates the verdict agrees with the truth as often as judge_accuracy says, and
 * exactly when the definition's draw says so. */
static void test_judge_accuracy(void **state)
{
    enum { N = 20000 };
    rs_model_cfg_t jm = judge_model(0.85, 0.5);
    rs_judge_cfg_t j = judge_cfg("cross");
    size_t agree = 0;
    for (uint64_t i = 0; i < N; i++) {
        test_case_t t;
        make_case(&t, i, "3");
        int k = (int)(i % 4), round = (int)(i % 3), truth = (int)(i % 2);
        rs_sim_judge_req_t req = {
            .cand_model = "sim-small", .k = k, .round = round, .cand_correct = truth};
        rs_sim_reply_t r;
        rs_sim_judge(&jm, 5, &t.c, &j, &req, &r);
        int ok = says_correct(&j, &r) == truth;
        char salt[64];
        snprintf(salt, sizeof(salt), "judge:cross:%d", round);
        assert_int_equal(ok, ref_draw("sim-small", t.id, k, salt, 5) < 0.85);
        agree += ok;
        rs_sim_reply_cleanup(&r);
    }
    assert_true(fabs((double)agree / N - 0.85) < 0.01);
}

/* Judging its own wrong answers, a judge says "correct" more often: (1 - a) + a * self_bias
 * instead of 1 - a; its own right answers are judged as anyone's. */
static void test_judge_self_bias(void **state)
{
    enum { N = 20000 };
    const double a = 0.8, bias = 0.3;
    rs_model_cfg_t jm = judge_model(a, bias);
    rs_judge_cfg_t j = judge_cfg("self");
    size_t pass_self = 0, pass_cross = 0, right_self = 0, right_cross = 0;
    for (uint64_t i = 0; i < N; i++) {
        test_case_t t;
        make_case(&t, i, "3");
        for (int self = 0; self <= 1; self++) {
            for (int truth = 0; truth <= 1; truth++) {
                rs_sim_judge_req_t req = {
                    .cand_model = "sim-small", .cand_correct = truth, .is_self = self};
                rs_sim_reply_t r;
                rs_sim_judge(&jm, 9, &t.c, &j, &req, &r);
                int says = says_correct(&j, &r);
                if (!truth) *(self ? &pass_self : &pass_cross) += says;
                if (truth) *(self ? &right_self : &right_cross) += says;
                int agree = ref_draw("sim-small", t.id, 0, "judge:self:0", 9) < a;
                int bias_says = ref_draw("sim-small", t.id, 0, "selfbias:self:0", 9) < bias;
                int want = agree ? truth || (self && bias_says) : !truth;
                assert_int_equal(says, want);
                rs_sim_reply_cleanup(&r);
            }
        }
    }
    assert_true(fabs((double)pass_cross / N - (1 - a)) < 0.01);
    assert_true(fabs((double)pass_self / N - ((1 - a) + a * bias)) < 0.01);
    assert_int_equal(right_self, right_cross);
}

static void test_judge_regex_and_choices(void **state)
{
    rs_model_cfg_t jm = judge_model(1, 0);
    test_case_t t;
    make_case(&t, 1, "3");
    rs_judge_cfg_t j = judge_cfg("r");
    j.verdict = (rs_verdict_cfg_t){.regex = "Score: *([0-9.]+)", .min = 1, .max = 10};
    for (int truth = 0; truth <= 1; truth++) {
        rs_sim_judge_req_t req = {.cand_model = "m", .cand_correct = truth};
        rs_sim_reply_t r;
        rs_sim_judge(&jm, 1, &t.c, &j, &req, &r);
        assert_string_equal(r.text,
                            truth ? CRITIQUE_RIGHT "\nScore: 10" : CRITIQUE_WRONG "\nScore: 1");
        assert_int_equal(says_correct(&j, &r), truth);
        rs_sim_reply_cleanup(&r);
    }
    /* choices: the highest score for "correct", the lowest for "wrong", the first text of equals */
    rs_verdict_choice_t abc[] = {{"A", 1}, {"B", 0.4}, {"C", 0}, {"D", 1}, {"E", 0}};
    j.verdict = (rs_verdict_cfg_t){.choices = abc, .n_choices = 5};
    for (int truth = 0; truth <= 1; truth++) {
        rs_sim_judge_req_t req = {.cand_model = "m", .cand_correct = truth};
        rs_sim_reply_t r;
        rs_sim_judge(&jm, 1, &t.c, &j, &req, &r);
        assert_string_equal(r.text,
                            truth ? CRITIQUE_RIGHT "\nVerdict: A" : CRITIQUE_WRONG "\nVerdict: C");
        assert_int_equal(says_correct(&j, &r), truth);
        rs_sim_reply_cleanup(&r);
    }
}

/* Failures, latency and tokens follow generate's rules under the judge's own salts. */
static void test_judge_errors_latency_tokens(void **state)
{
    enum { N = 5000 };
    rs_model_cfg_t jm = judge_model(0.8, 0);
    jm.error_rate = 0.25;
    jm.latency_ms = 40;
    rs_judge_cfg_t j = judge_cfg("self");
    size_t failed = 0;
    for (uint64_t i = 0; i < N; i++) {
        test_case_t t;
        make_case(&t, i, "3");
        rs_sim_judge_req_t req = {
            .cand_model = "sim-small", .k = 1, .round = 2, .cand_correct = 1, .prompt_bytes = 401};
        rs_sim_reply_t r;
        rs_sim_judge(&jm, 3, &t.c, &j, &req, &r);
        assert_int_equal(r.failed, ref_draw("sim-small", t.id, 1, "error:judge:self:2", 3) < 0.25);
        assert_true(r.latency_ms ==
                    40 * (0.5 + ref_draw("sim-small", t.id, 1, "latency:judge:self:2", 3)));
        if (r.failed) {
            assert_null(r.text);
            assert_string_equal(r.error, "simulated provider error");
            assert_true(r.input_tokens == 0 && r.output_tokens == 0);
        } else {
            assert_int_equal(r.input_tokens, 101); /* ceil(401 / 4) */
            assert_int_equal(r.output_tokens, (int64_t)(strlen(r.text) + 3) / 4);
        }
        failed += r.failed;
        rs_sim_reply_cleanup(&r);
    }
    assert_true(fabs((double)failed / N - 0.25) < 0.02);
}

/* ---- revising ---- */

#define REVISE_KEEP "[simulated] The critique found no mistake; keeping the answer.\nThe answer is "
#define REVISE_REWORK "[simulated] Reworking the problem after the critique.\nThe answer is "

static rs_model_cfg_t reviser(double fix_rate, double break_rate)
{
    rs_model_cfg_t m = model(0.5, 0, 0);
    m.fix_rate = fix_rate;
    m.break_rate = break_rate;
    return m;
}

/* Checks a wrong revised answer against generate's formula on the "wrong:<round>" hash. */
static void check_revised_wrong(const char *answer, const char *id, int k, int round, int64_t seed,
                                double target)
{
    char salt[32];
    snprintf(salt, sizeof(salt), "wrong:%d", round);
    uint64_t h = ref_hash("sim-small", id, k, salt, seed);
    double d = (double)(1 + h % 9) * (((h >> 32) & 1) ? -1 : 1);
    char want[RS_NUMBER_BUF];
    rs_format_number(target + d, want, sizeof(want));
    assert_string_equal(answer, want);
}

/* After a "wrong" critique, wrong answers are fixed at fix_rate and right ones broken at
 * break_rate, exactly when the definition's draws say so; after "correct" nothing changes. */
static void test_revise_rates(void **state)
{
    enum { N = 20000 };
    rs_model_cfg_t m = reviser(0.3, 0.05);
    size_t fixed = 0, broken = 0;
    for (uint64_t i = 0; i < N; i++) {
        test_case_t t;
        make_case(&t, i, "120");
        int k = (int)(i % 3), round = 1 + (int)(i % 2);
        char fix_salt[32], break_salt[32];
        snprintf(fix_salt, sizeof(fix_salt), "fix:%d", round);
        snprintf(break_salt, sizeof(break_salt), "break:%d", round);
        for (int prev_ok = 0; prev_ok <= 1; prev_ok++) {
            const char *prev = prev_ok ? REPLY_HEAD "120.\n#### 120" : REPLY_HEAD "117.\n#### 117";
            for (int said_ok = 0; said_ok <= 1; said_ok++) {
                rs_sim_revise_req_t req = {.k = k,
                                           .round = round,
                                           .prev_text = prev,
                                           .prev_correct = prev_ok,
                                           .critique_said_correct = said_ok};
                rs_sim_reply_t r;
                rs_sim_revise(&m, 17, &t.c, &req, &r);
                const char *head = said_ok ? REVISE_KEEP : REVISE_REWORK;
                assert_true(strncmp(r.text, head, strlen(head)) == 0);
                const char *ans = answer_of(&r);
                if (said_ok) {
                    assert_string_equal(ans, prev_ok ? "120" : "117");
                } else if (!prev_ok) {
                    int fix = ref_draw("sim-small", t.id, k, fix_salt, 17) < 0.3;
                    assert_string_equal(ans, fix ? "120" : "117");
                    fixed += fix;
                } else if (ref_draw("sim-small", t.id, k, break_salt, 17) < 0.05) {
                    check_revised_wrong(ans, t.id, k, round, 17, 120);
                    broken++;
                } else {
                    assert_string_equal(ans, "120");
                }
                rs_sim_reply_cleanup(&r);
            }
        }
    }
    assert_true(fabs((double)fixed / N - 0.3) < 0.01);
    assert_true(fabs((double)broken / N - 0.05) < 0.01);
}

/* Texts, the revised reply through the default scorer, and previous replies without "####". */
static void test_revise_texts(void **state)
{
    rs_model_cfg_t always = reviser(1, 1);
    rs_scorer_t *s = rs_scorer_new(NULL, NULL);
    test_case_t t;
    make_case(&t, 4, "Paris");
    rs_sim_revise_req_t req = {
        .round = 1, .prev_text = REPLY_HEAD "not Paris.\n#### not Paris", .prompt_bytes = 10};
    rs_sim_reply_t r;
    rs_sim_revise(&always, 1, &t.c, &req, &r);
    assert_string_equal(r.text, REVISE_REWORK "Paris.\n#### Paris");
    assert_int_equal(r.input_tokens, 3);
    char *x = rs_scorer_extract(s, r.text);
    assert_int_equal(rs_scorer_grade(s, 0, r.text, x, t.targets, 1), RS_VERDICT_CORRECT);
    free(x);
    rs_sim_reply_cleanup(&r);

    req.prev_correct = 1; /* broken: a text target becomes "not <target>" */
    req.prev_text = REPLY_HEAD "Paris.\n#### Paris";
    rs_sim_revise(&always, 1, &t.c, &req, &r);
    assert_string_equal(r.text, REVISE_REWORK "not Paris.\n#### not Paris");
    rs_sim_reply_cleanup(&r);

    /* kept: the previous answer byte for byte, up to its line's end */
    req.critique_said_correct = 1;
    req.prev_text = "Some work.\n#### 1,234\n";
    rs_sim_revise(&always, 1, &t.c, &req, &r);
    assert_string_equal(r.text, REVISE_KEEP "1,234.\n#### 1,234");
    rs_sim_reply_cleanup(&r);

    /* no "#### " to keep: the answer the previous grade says it had */
    req.prev_text = "I am not sure.";
    rs_sim_revise(&always, 1, &t.c, &req, &r);
    assert_string_equal(answer_of(&r), "Paris");
    rs_sim_reply_cleanup(&r);
    make_case(&t, 4, "10");
    req.prev_text = NULL;
    req.prev_correct = 0;
    rs_sim_revise(&always, 1, &t.c, &req, &r);
    check_revised_wrong(answer_of(&r), t.id, 0, 1, 1, 10);
    rs_sim_reply_cleanup(&r);
    /* no target: no draws, the answer stays (or is 42) */
    make_case(&t, 4, NULL);
    req.critique_said_correct = 0;
    rs_sim_revise(&always, 1, &t.c, &req, &r);
    assert_string_equal(r.text, REVISE_REWORK "42.\n#### 42");
    rs_sim_reply_cleanup(&r);
    rs_scorer_destroy(&s);
}

static void test_revise_errors_and_determinism(void **state)
{
    rs_model_cfg_t m = reviser(0.5, 0.5);
    m.error_rate = 0.3;
    m.latency_ms = 10;
    size_t failed = 0;
    for (uint64_t i = 0; i < 2000; i++) {
        test_case_t t;
        make_case(&t, i, "8");
        rs_sim_revise_req_t req = {.k = 2, .round = 3, .prev_text = "#### 9"};
        rs_sim_reply_t a, b;
        rs_sim_revise(&m, 4, &t.c, &req, &a);
        rs_sim_revise(&m, 4, &t.c, &req, &b);
        assert_int_equal(a.failed, ref_draw("sim-small", t.id, 2, "error:revise:3", 4) < 0.3);
        assert_true(a.latency_ms ==
                    10 * (0.5 + ref_draw("sim-small", t.id, 2, "latency:revise:3", 4)));
        assert_int_equal(a.failed, b.failed);
        if (!a.failed) assert_string_equal(a.text, b.text);
        failed += a.failed;
        rs_sim_reply_cleanup(&a);
        rs_sim_reply_cleanup(&b);
    }
    assert_true(fabs(failed / 2000.0 - 0.3) < 0.04);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_draw_matches_xxh64),
        cmocka_unit_test(test_deterministic),
        cmocka_unit_test(test_accuracy_and_wrong_answers),
        cmocka_unit_test(test_error_rate),
        cmocka_unit_test(test_text_shapes),
        cmocka_unit_test(test_scorer_roundtrip),
        cmocka_unit_test(test_latency),
        cmocka_unit_test(test_name_falls_back_to_model),
        cmocka_unit_test(test_judge_frozen_draw),
        cmocka_unit_test(test_judge_accuracy),
        cmocka_unit_test(test_judge_self_bias),
        cmocka_unit_test(test_judge_regex_and_choices),
        cmocka_unit_test(test_judge_errors_latency_tokens),
        cmocka_unit_test(test_revise_rates),
        cmocka_unit_test(test_revise_texts),
        cmocka_unit_test(test_revise_errors_and_determinism),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
