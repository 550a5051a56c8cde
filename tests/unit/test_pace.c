/* test_pace: the cluster-wide rpm / tpm token buckets (coordinator/pace.c) — no limit costs
 * nothing; a bucket holds one second of the minute's budget (at least one case) and is full at
 * the start; a case costs n requests (n / 128 for OpenAI's n-in-one) and, for tpm, its prompt's
 * tokens per request plus the output bound per candidate; charged cases empty the bucket, which
 * refills at the limit's rate and never above its cap; with several limited models, the tightest
 * one decides. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <cmocka.h>

#include "../../coordinator/pace.h"
#include "testcfg.h"

/* A config of one model "m" with the given provider, n, limits and max_tokens (0: none). */
static rs_config_t *one_model(const char *provider, int n, int rpm, int tpm, int max_tokens)
{
    char yaml[512], params[64] = "";
    if (max_tokens) snprintf(params, sizeof(params), ", params: {max_tokens: %d}", max_tokens);
    snprintf(yaml, sizeof(yaml), "models: [{name: m, provider: %s, model: x, n: %d, rpm: %d, tpm: %d%s}]\n",
             provider, n, rpm, tpm, params);
    return cfg_from_yaml(yaml);
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static void test_no_limit_no_pace(void **state)
{
    rs_config_t *cfg = one_model("sim", 1, 0, 0, 0);
    coord_pace_t *p = coord_pace_new(cfg);
    assert_null(p);
    assert_int_equal(coord_pace_room(p, 7, 1000), 7);
    coord_pace_charge(p, 7, 1000); /* a NULL pace takes nothing */
    coord_pace_destroy(&p);
    rs_config_destroy(&cfg);
}

/* rpm 600: a bucket of 10 requests (one second's worth), full at the start. */
static void test_rpm_bucket_cap(void **state)
{
    rs_config_t *cfg = one_model("sim", 1, 600, 0, 0);
    coord_pace_t *p = coord_pace_new(cfg);
    assert_non_null(p);
    assert_int_equal(coord_pace_room(p, 100, 0), 10);
    assert_int_equal(coord_pace_room(p, 4, 0), 4); /* fewer than room: all of them */
    coord_pace_destroy(&p);
    assert_null(p);
    rs_config_destroy(&cfg);
}

/* Requests per case: n for a provider of one candidate a request, n / 128 (rounded up) for
 * OpenAI; a bucket holds at least one case however low the limit. */
static void test_requests_per_case(void **state)
{
    struct {
        const char *provider;
        int n, rpm;
        size_t room;
    } rows[] = {
        {"sim", 3, 600, 3},      /* 10 requests, 3 a case */
        {"anthropic", 3, 600, 3}, /* likewise */
        {"openai", 3, 600, 10},  /* one request a case */
        {"openai", 200, 600, 5}, /* two requests a case */
        {"sim", 3, 60, 1},       /* 1 request a second, but a case needs 3: the cap is 3 */
    };
    for (size_t i = 0; i < RS_ARRAY_LEN(rows); i++) {
        rs_config_t *cfg = one_model(rows[i].provider, rows[i].n, rows[i].rpm, 0, 0);
        coord_pace_t *p = coord_pace_new(cfg);
        size_t room = coord_pace_room(p, 100, 0);
        if (room != rows[i].room)
            fail_msg("%s n=%d rpm=%d: room %zu, want %zu", rows[i].provider, rows[i].n,
                     rows[i].rpm, room, rows[i].room);
        coord_pace_destroy(&p);
        rs_config_destroy(&cfg);
    }
}

/* tpm 60000: a bucket of 1000 tokens; a case of a 400-byte prompt costs 100 (bytes / 4) + 100
 * (max_tokens), so 5 fit; two charged (800 bytes in all) leave room for 3. */
static void test_tpm_prompt_and_output(void **state)
{
    rs_config_t *cfg = one_model("sim", 1, 0, 60000, 100);
    coord_pace_t *p = coord_pace_new(cfg);
    assert_int_equal(coord_pace_room(p, 100, 400), 5);
    assert_int_equal(coord_pace_room(p, 100, 0), 10); /* no prompt: the output bound alone */
    coord_pace_charge(p, 2, 800);
    assert_int_equal(coord_pace_room(p, 100, 400), 3);
    coord_pace_destroy(&p);
    rs_config_destroy(&cfg);
}

/* Emptied, the bucket refills at rpm / 60000 per ms: what the elapsed time allows, within the
 * bounds the clock readings around the calls give, and never above the cap. */
static void test_refill_rate_and_cap(void **state)
{
    rs_config_t *cfg = one_model("sim", 1, 600, 0, 0); /* 0.01 requests per ms, cap 10 */
    coord_pace_t *p = coord_pace_new(cfg);
    int64_t before_empty = rs_mono_ms();
    assert_int_equal(coord_pace_room(p, 100, 0), 10);
    int64_t after_empty = rs_mono_ms();
    coord_pace_charge(p, 10, 0);
    sleep_ms(350);
    int64_t before = rs_mono_ms();
    size_t room = coord_pace_room(p, 100, 0);
    int64_t after = rs_mono_ms();
    size_t lo = (size_t)((before - after_empty) / 100), hi = (size_t)((after - before_empty) / 100);
    if (hi > 10) hi = 10;
    if (room < lo || room > hi) fail_msg("room %zu after refilling, want %zu..%zu", room, lo, hi);
    assert_true(room >= 3);
    sleep_ms(1200); /* more than a second: full again, and no fuller */
    assert_int_equal(coord_pace_room(p, 100, 0), 10);
    coord_pace_destroy(&p);
    rs_config_destroy(&cfg);
}

/* Two limited models and one without: the tightest bucket decides. */
static void test_tightest_model_decides(void **state)
{
    rs_config_t *cfg = cfg_from_yaml(
        "models:\n"
        "  - {name: a, provider: sim, model: x, rpm: 600}\n"            /* 10 cases */
        "  - {name: b, provider: sim, model: x, rpm: 240}\n"            /* 4 cases */
        "  - {name: c, provider: sim, model: x}\n");                    /* unlimited */
    coord_pace_t *p = coord_pace_new(cfg);
    assert_int_equal(coord_pace_room(p, 100, 0), 4);
    coord_pace_charge(p, 3, 0);
    assert_int_equal(coord_pace_room(p, 100, 0), 1); /* b has 1 left, a 7 */
    coord_pace_destroy(&p);
    rs_config_destroy(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_limit_no_pace),
        cmocka_unit_test(test_rpm_bucket_cap),
        cmocka_unit_test(test_requests_per_case),
        cmocka_unit_test(test_tpm_prompt_and_output),
        cmocka_unit_test(test_refill_rate_and_cap),
        cmocka_unit_test(test_tightest_model_decides),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
