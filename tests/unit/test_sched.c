/* test_sched: the coordinator's scheduler — order, requeue, completion counted once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../coordinator/sched.h"

static void test_fresh_order(void **state)
{
    coord_sched_t *s = coord_sched_new(10);
    uint64_t out[4];
    assert_int_equal(coord_sched_take(s, out, 4), 4);
    assert_int_equal(out[0], 0);
    assert_int_equal(out[3], 3);
    assert_int_equal(coord_sched_take(s, out, 4), 4);
    assert_int_equal(out[0], 4);
    assert_int_equal(coord_sched_take(s, out, 4), 2);
    assert_int_equal(coord_sched_take(s, out, 4), 0);
    coord_sched_destroy(&s);
    assert_null(s);
}

static void test_complete_once(void **state)
{
    coord_sched_t *s = coord_sched_new(3);
    assert_int_equal(coord_sched_complete(s, 1), 1);
    assert_int_equal(coord_sched_complete(s, 1), 0); /* a duplicate counts once */
    assert_int_equal(coord_sched_complete(s, 3), 0); /* out of range */
    assert_int_equal(coord_sched_done(s), 1);
    uint64_t out[3];
    assert_int_equal(coord_sched_take(s, out, 3), 2); /* done cases are skipped */
    assert_int_equal(out[0], 0);
    assert_int_equal(out[1], 2);
    coord_sched_destroy(&s);
}

static void test_requeue_first_and_in_order(void **state)
{
    coord_sched_t *s = coord_sched_new(100);
    uint64_t out[8];
    assert_int_equal(coord_sched_take(s, out, 8), 8);
    uint64_t lost[] = {2, 3, 5};
    coord_sched_complete(s, 3); /* a late result arrived for 3 before the lease expired */
    coord_sched_requeue(s, lost, 3);
    assert_int_equal(coord_sched_requeued(s), 2);
    assert_int_equal(coord_sched_take(s, out, 3), 3);
    assert_int_equal(out[0], 2);
    assert_int_equal(out[1], 5);
    assert_int_equal(out[2], 8); /* then fresh cases again */
    coord_sched_destroy(&s);
}

static void test_requeued_then_completed_is_skipped(void **state)
{
    coord_sched_t *s = coord_sched_new(4);
    uint64_t out[4];
    coord_sched_take(s, out, 4);
    coord_sched_requeue(s, out, 4);
    coord_sched_complete(s, 0);
    coord_sched_complete(s, 2);
    assert_int_equal(coord_sched_take(s, out, 4), 2);
    assert_int_equal(out[0], 1);
    assert_int_equal(out[1], 3);
    coord_sched_destroy(&s);
}

static void test_large(void **state)
{
    uint64_t n = 1000000, got = 0, buf[1000];
    coord_sched_t *s = coord_sched_new(n);
    size_t k;
    while ((k = coord_sched_take(s, buf, 1000)) > 0)
        for (size_t i = 0; i < k; i++) got += coord_sched_complete(s, buf[i]);
    assert_int_equal(got, n);
    assert_int_equal(coord_sched_done(s), n);
    coord_sched_destroy(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fresh_order),
        cmocka_unit_test(test_complete_once),
        cmocka_unit_test(test_requeue_first_and_in_order),
        cmocka_unit_test(test_requeued_then_completed_is_skipped),
        cmocka_unit_test(test_large),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
