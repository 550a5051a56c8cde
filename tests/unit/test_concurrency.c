/* test_concurrency: the coordinator's per-model caps and pauses fed by workers' stats — a 429 or
 * 503 (failed or retried) lowers an adaptive model's cap and so the cluster's limit, a sim model's
 * cap never moves, Retry-After pauses dispatch and is announced once, the series and counters
 * survive the JSON round trip of a resume. */
#include "../../coordinator/aimd.h"
#include "../../coordinator/concurrency.h"
#include "../../coordinator/usage.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

static rs_config_t *config(void)
{
    rs_err_t err;
    rs_config_t *cfg = rs_config_load_string(
        "dataset: {path: x.jsonl}\n"
        "models:\n"
        "  - {name: a, provider: openai, model: gpt, concurrency: {cooldown_ms: 100}}\n"
        "  - {name: s, provider: sim, model: sim-1}\n"
        "cluster: {max_in_flight: 64}\n",
        "<test>", NULL, NULL, 0, &err);
    if (!cfg) fail_msg("%s", err.msg);
    return cfg;
}

static void feed(coord_conc_t *c, const char *stats, int64_t in_flight, int64_t now)
{
    json_t *o = json_loads(stats, 0, NULL);
    assert_non_null(o);
    coord_conc_feed(c, o, in_flight, now, 1000 + now);
    json_decref(o);
}

static void test_caps(void **state)
{
    (void)state;
    rs_config_t *cfg = config();
    coord_conc_t *c = coord_conc_new(cfg, 1000);
    assert_true(coord_conc_active(c)); /* a is adaptive */
    assert_int_equal(coord_conc_limit(c, 0), 64);
    /* a retried 429 of a, with 40 out: 0.7 * 40 = 28 */
    feed(c, "{\"a\":{\"calls\":0,\"retries\":{\"http_429\":1}}}", 40, 10);
    assert_int_equal(coord_conc_limit(c, 10), 28);
    /* a sim model's 503s change no cap */
    feed(c, "{\"s\":{\"calls\":3,\"errors\":{\"http_503\":3}}}", 28, 500);
    assert_int_equal(coord_conc_limit(c, 500), 28);
    /* a failed 503 of a, after the cool-down: 0.7 * 28 = 19 */
    feed(c, "{\"a\":{\"calls\":1,\"errors\":{\"http_503\":1}}}", 28, 500);
    assert_int_equal(coord_conc_limit(c, 500), 19);
    /* a window of successes while the cap binds: one step up */
    feed(c, "{\"a\":{\"calls\":19}}", 19, 600);
    assert_int_equal(coord_conc_limit(c, 600), 20);
    json_t *j = coord_conc_json(c, 600), *a = json_object_get(json_object_get(j, "models"), "a");
    assert_int_equal(json_integer_value(json_object_get(a, "decreases")), 2);
    assert_int_equal(json_integer_value(json_object_get(a, "increases")), 1);
    assert_int_equal(json_integer_value(json_object_get(a, "min_cap")), 19);
    assert_int_equal(json_integer_value(json_object_get(a, "congested")), 2);
    json_t *series = json_object_get(a, "series");
    assert_int_equal(json_array_size(series), 4); /* 64 at 0, 28, 19, 20 */
    assert_int_equal(json_integer_value(json_array_get(json_array_get(series, 1), 0)), 10);
    assert_int_equal(json_integer_value(json_array_get(json_array_get(series, 3), 1)), 20);
    assert_false(json_is_true(json_object_get(json_object_get(json_object_get(j, "models"), "s"),
                                              "adaptive")));
    /* a resume continues from the stored state */
    char *text = json_dumps(j, JSON_COMPACT);
    coord_conc_t *c2 = coord_conc_new(cfg, 99999);
    assert_int_equal(coord_conc_restore(c2, text), 0);
    assert_int_equal(coord_conc_limit(c2, 0), 20);
    json_t *j2 = coord_conc_json(c2, 600);
    assert_true(json_equal(j, j2));
    assert_int_equal(coord_conc_restore(c2, "[]"), -1);
    free(text);
    json_decref(j);
    json_decref(j2);
    coord_conc_destroy(&c2);
    coord_conc_destroy(&c);
    rs_config_destroy(&cfg);
}

static void test_pauses(void **state)
{
    (void)state;
    rs_config_t *cfg = config();
    coord_conc_t *c = coord_conc_new(cfg, 0);
    rs_pause_t p[4];
    assert_int_equal(coord_conc_pauses(c, 1, 0, p, 4), 0);
    feed(c, "{\"s\":{\"retries\":{\"http_429\":1},\"retry_after_ms\":2000}}", 5, 100);
    assert_int_equal(coord_conc_limit(c, 100), 0); /* nothing goes out during the pause */
    assert_int_equal(coord_conc_pauses(c, 1, 150, p, 4), 1);
    assert_string_equal(p[0].model, "s");
    assert_int_equal(p[0].ms, 1950);
    assert_int_equal(coord_conc_pauses(c, 1, 150, p, 4), 0); /* announced once */
    assert_int_equal(coord_conc_pauses(c, 0, 150, p, 4), 1); /* but known to a newcomer */
    /* a shorter pause changes nothing; a longer one extends it and is announced again */
    feed(c, "{\"s\":{\"retries\":{\"http_429\":1},\"retry_after_ms\":500}}", 5, 200);
    assert_int_equal(coord_conc_pauses(c, 1, 200, p, 4), 0);
    feed(c, "{\"s\":{\"retries\":{\"http_429\":1},\"retry_after_ms\":99999999}}", 5, 300);
    assert_int_equal(coord_conc_pauses(c, 1, 300, p, 4), 1);
    assert_int_equal(p[0].ms, COORD_CONC_MAX_PAUSE_MS); /* a worker's word is capped */
    assert_int_equal(coord_conc_limit(c, 300 + COORD_CONC_MAX_PAUSE_MS), 64);
    json_t *j = coord_conc_json(c, 300), *s = json_object_get(json_object_get(j, "models"), "s");
    assert_int_equal(json_integer_value(json_object_get(s, "pauses")), 2);
    assert_int_equal(json_integer_value(json_object_get(s, "paused_ms")),
                     300 + COORD_CONC_MAX_PAUSE_MS - 100);
    json_decref(j);
    coord_conc_destroy(&c);
    rs_config_destroy(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_caps),
        cmocka_unit_test(test_pauses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
