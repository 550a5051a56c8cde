/* test_sim: the simulated model is deterministic, honours accuracy and error_rate, never
 * answers a wrong number equal to the target, and matches the definition in docs/SIM.md,
 * recomputed here with XXH64 directly rather than through sim.c's code. */
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
