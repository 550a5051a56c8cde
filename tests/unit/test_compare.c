/* test_compare: compare's paired verdicts (coordinator/compare.c) on synthetic records: pairing
 * by case id and targets, a run's later duplicate ids ignored, the ranking, McNemar against the
 * best and between every pair, and two runs that share no case. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "../../coordinator/compare.h"
#include "testjson.h"
#include "testjv.h"

static const char *const MODELS[] = {"m1", "m2"};

static json_t *cmp_rec(const char *id, const char *target, const char *m1, const char *m2)
{
    return rec("{\"id\": \"%s\", \"targets\": [\"%s\"], \"models\": ["
               "{\"model\": \"m1\", \"candidates\": [{\"grades\": {\"exact\": \"%s\"}}]},"
               "{\"model\": \"m2\", \"candidates\": [{\"grades\": {\"exact\": \"%s\"}}], "
               "\"strategies\": {\"oracle\": {\"grades\": {\"exact\": \"correct\"}}}}]}",
               id, target, m1, m2);
}

static void vadd(coord_verdicts_t *v, json_t *r)
{
    coord_verdicts_add(v, testjv(r));
    json_decref(r);
}

static void test_compare(void **state)
{
    coord_verdicts_t *runs[2] = {coord_verdicts_new("A", MODELS, 2, "exact"),
                                 coord_verdicts_new("B", MODELS, 1, "exact")};
    char id[32];
    for (int i = 0; i < 40; i++) {
        snprintf(id, sizeof(id), "q%d", i);
        /* A.m1 right on 30, A.m2 on 10; B.m1 right on 20 (A.m1 right on all of them) */
        vadd(runs[0], cmp_rec(id, "1", i < 30 ? "correct" : "wrong", i < 10 ? "correct" : "wrong"));
        if (i >= 2)
            vadd(runs[1],
                 cmp_rec(id, i == 39 ? "other" : "1", i < 22 ? "correct" : "wrong", "correct"));
    }
    vadd(runs[1], cmp_rec("q5", "1", "wrong", "wrong")); /* a later duplicate: ignored */
    vadd(runs[1], cmp_rec("only-b", "1", "correct", "correct"));
    assert_int_equal(coord_verdicts_cases(runs[1]), 40);
    json_t *c = coord_compare_json(runs, 2, 1);
    /* shared: q2..q38 (q0, q1 only in A; q39's targets differ) */
    assert_int_equal(geti(c, "shared_cases"), 37);
    assert_int_equal(geti(c, "conflicting_ids"), 1);
    assert_int_equal(geti(json_array_get(json_object_get(c, "runs"), 1), "duplicate_ids"), 1);
    json_t *rank = json_object_get(c, "ranking");
    assert_int_equal(json_array_size(rank), 4); /* A.m1 first, A.m2 first, A.m2 oracle, B.m1 */
    json_t *best = json_array_get(rank, 0);
    assert_string_equal(json_string_value(json_object_get(best, "strategy")), "oracle");
    assert_float_equal(getn(best, "accuracy"), 1.0, 1e-12);
    json_t *second = json_array_get(rank, 1);
    assert_string_equal(json_string_value(json_object_get(second, "run")), "A");
    assert_string_equal(json_string_value(json_object_get(second, "model")), "m1");
    assert_int_equal(geti(second, "correct"), 28); /* q2..q29 */
    json_t *third = json_array_get(rank, 2);
    assert_string_equal(json_string_value(json_object_get(third, "run")), "B");
    assert_int_equal(geti(third, "correct"), 20);
    assert_int_equal(geti(json_array_get(rank, 3), "correct"), 8);
    /* best (always right) vs A.m1: b = A.m1's 9 wrong, c = 0 */
    json_t *vs = json_array_get(json_object_get(c, "vs_best"), 0);
    assert_int_equal(geti(vs, "b"), 9);
    assert_int_equal(geti(vs, "c"), 0);
    /* pair ranks 2 vs 3: A.m1 right & B.m1 wrong on q22..q29 */
    json_t *pairs = json_object_get(c, "pairs");
    assert_int_equal(json_array_size(pairs), 6);
    json_t *p23 = json_array_get(pairs, 3);
    assert_int_equal(json_integer_value(json_array_get(json_object_get(p23, "ranks"), 0)), 2);
    assert_int_equal(json_integer_value(json_array_get(json_object_get(p23, "ranks"), 1)), 3);
    assert_int_equal(geti(p23, "b"), 8);
    assert_int_equal(geti(p23, "c"), 0);
    json_decref(c);
    coord_verdicts_destroy(&runs[0]);
    coord_verdicts_destroy(&runs[1]);
}

static void test_compare_disjoint(void **state)
{
    coord_verdicts_t *runs[2] = {coord_verdicts_new("A", MODELS, 1, "exact"),
                                 coord_verdicts_new("B", MODELS, 1, "exact")};
    vadd(runs[0], cmp_rec("x", "1", "correct", "wrong"));
    vadd(runs[1], cmp_rec("y", "1", "correct", "wrong"));
    json_t *c = coord_compare_json(runs, 2, 0);
    assert_int_equal(geti(c, "shared_cases"), 0);
    assert_int_equal(json_array_size(json_object_get(c, "ranking")), 0);
    assert_int_equal(json_array_size(json_object_get(c, "vs_best")), 0);
    assert_null(json_object_get(c, "pairs"));
    json_decref(c);
    coord_verdicts_destroy(&runs[0]);
    coord_verdicts_destroy(&runs[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compare),
        cmocka_unit_test(test_compare_disjoint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
