/* test_aimd: the cluster-wide cap's controller — multiplicative decrease from what was in flight,
 * at most once per cool-down, additive increase after a window of successes without congestion
 * while the cap binds, and the floor and ceiling. */
#include "../../coordinator/aimd.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

static coord_aimd_t make(int64_t floor_, int64_t ceiling, double factor, int64_t step,
                         int64_t cooldown)
{
    coord_aimd_params_t p = {floor_, ceiling, factor, step, cooldown};
    coord_aimd_t a;
    coord_aimd_init(&a, &p);
    return a;
}

static void starts_at_ceiling(void **state)
{
    (void)state;
    coord_aimd_t a = make(1, 64, 0.5, 1, 1000);
    assert_int_equal(a.cap, 64);
}

static void decrease_from_in_flight(void **state)
{
    (void)state;
    coord_aimd_t a = make(1, 4096, 0.5, 1, 1000);
    /* a cap far above what was out falls to half of what was out, not half of itself */
    assert_int_equal(coord_aimd_congested(&a, 100, 0), 1);
    assert_int_equal(a.cap, 50);
    assert_int_equal(a.decreases, 1);
}

static void once_per_cooldown(void **state)
{
    (void)state;
    coord_aimd_t a = make(1, 64, 0.5, 1, 1000);
    assert_int_equal(coord_aimd_congested(&a, 64, 0), 1);
    assert_int_equal(a.cap, 32);
    /* more 429s inside the cool-down are the same congestion, seen late */
    assert_int_equal(coord_aimd_congested(&a, 64, 10), 0);
    assert_int_equal(coord_aimd_congested(&a, 32, 999), 0);
    assert_int_equal(a.cap, 32);
    assert_int_equal(coord_aimd_congested(&a, 32, 1000), 1);
    assert_int_equal(a.cap, 16);
    assert_int_equal(a.decreases, 2);
}

static void floor_holds(void **state)
{
    (void)state;
    coord_aimd_t a = make(4, 16, 0.5, 1, 0);
    for (int i = 0; i < 10; i++) coord_aimd_congested(&a, 16, i);
    assert_int_equal(a.cap, 4);
    assert_int_equal(coord_aimd_congested(&a, 4, 100), 0); /* at the floor: no change */
    assert_int_equal(a.cap, 4);
}

static void increase_after_sustained_success(void **state)
{
    (void)state;
    coord_aimd_t a = make(1, 64, 0.5, 2, 1000);
    coord_aimd_congested(&a, 40, 0);
    assert_int_equal(a.cap, 20);
    /* less than a window (cap successes): the cap stays */
    assert_int_equal(coord_aimd_success(&a, 19, 20, 500), 0);
    assert_int_equal(a.cap, 20);
    /* a whole window while the cap binds adds one step */
    assert_int_equal(coord_aimd_success(&a, 1, 20, 510), 1);
    assert_int_equal(a.cap, 22);
    assert_int_equal(a.increases, 1);
    /* the next step needs a whole new window */
    assert_int_equal(coord_aimd_success(&a, 21, 22, 1100), 0);
    assert_int_equal(coord_aimd_success(&a, 1, 22, 1101), 1);
    assert_int_equal(a.cap, 24);
}

static void no_increase_when_not_binding(void **state)
{
    (void)state;
    coord_aimd_t a = make(1, 64, 0.5, 1, 0);
    coord_aimd_congested(&a, 64, 0);
    assert_int_equal(a.cap, 32);
    /* plenty of successes, but never more than 10 of 32 out: the cap proves nothing */
    assert_int_equal(coord_aimd_success(&a, 100, 10, 10), 0);
    assert_int_equal(a.cap, 32);
    assert_int_equal(coord_aimd_success(&a, 1, 30, 20), 1);
    assert_int_equal(a.cap, 33);
}

static void congestion_resets_the_window(void **state)
{
    (void)state;
    coord_aimd_t a = make(1, 64, 0.5, 1, 100);
    coord_aimd_congested(&a, 20, 0);
    assert_int_equal(a.cap, 10);
    coord_aimd_success(&a, 9, 10, 50);
    coord_aimd_congested(&a, 10, 60); /* inside the cool-down: no change, but the window restarts */
    assert_int_equal(a.cap, 10);
    assert_int_equal(coord_aimd_success(&a, 1, 10, 200), 0);
    assert_int_equal(coord_aimd_success(&a, 9, 10, 201), 1);
    assert_int_equal(a.cap, 11);
}

static void ceiling_holds(void **state)
{
    (void)state;
    coord_aimd_t a = make(1, 12, 0.5, 5, 0);
    coord_aimd_congested(&a, 12, 0);
    assert_int_equal(a.cap, 6);
    assert_int_equal(coord_aimd_success(&a, 6, 6, 1), 1);
    assert_int_equal(a.cap, 11);
    assert_int_equal(coord_aimd_success(&a, 11, 11, 2), 1);
    assert_int_equal(a.cap, 12);
    assert_int_equal(coord_aimd_success(&a, 100, 12, 3), 0);
    assert_int_equal(a.cap, 12);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(starts_at_ceiling),
        cmocka_unit_test(decrease_from_in_flight),
        cmocka_unit_test(once_per_cooldown),
        cmocka_unit_test(floor_holds),
        cmocka_unit_test(increase_after_sustained_success),
        cmocka_unit_test(no_increase_when_not_binding),
        cmocka_unit_test(congestion_resets_the_window),
        cmocka_unit_test(ceiling_holds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
