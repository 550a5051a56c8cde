/* test_http_timerq: the worker's deadline heap (worker/timerq.c, from rsworker):
 * order, FIFO among equal deadlines, removal from any
 * slot, re-adding, timers added while firing, and a random workload against a sorted reference. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../worker/timerq.h"

typedef struct item {
    wk_timer_t t;
    int id;
} item_t;

static int fired[4096];
static size_t n_fired;

static void record(wk_timer_t *t)
{
    fired[n_fired++] = WK_CONTAINER_OF(t, item_t, t)->id;
}

static void test_order_and_fifo(void **state)
{
    (void)state;
    wk_timerq_t q;
    wk_timerq_init(&q);
    item_t it[6] = {{.id = 0}, {.id = 1}, {.id = 2}, {.id = 3}, {.id = 4}, {.id = 5}};
    const int64_t due[6] = {50, 10, 30, 10, 20, 10};
    for (int i = 0; i < 6; i++) wk_timerq_add(&q, &it[i].t, due[i], record);
    assert_int_equal(wk_timerq_next_due(&q), 10);
    n_fired = 0;
    assert_int_equal(wk_timerq_run(&q, 9), 0);
    assert_int_equal(wk_timerq_run(&q, 20), 4);
    const int want[] = {1, 3, 5, 4}; /* equal deadlines fire in the order they were added */
    assert_memory_equal(fired, want, sizeof(want));
    assert_false(wk_timer_queued(&it[1].t));
    assert_true(wk_timer_queued(&it[0].t));
    assert_int_equal(wk_timerq_run(&q, 1000), 2);
    assert_int_equal(wk_timerq_next_due(&q), INT64_MAX);
    wk_timerq_cleanup(&q);
}

static void test_remove_and_readd(void **state)
{
    (void)state;
    wk_timerq_t q;
    wk_timerq_init(&q);
    item_t it[8];
    for (int i = 0; i < 8; i++) {
        it[i] = (item_t){.id = i};
        wk_timerq_add(&q, &it[i].t, 100 + i, record);
    }
    wk_timerq_remove(&q, &it[3].t);
    wk_timerq_remove(&q, &it[3].t); /* twice: no-op */
    wk_timerq_remove(&q, &it[0].t); /* the root */
    wk_timerq_remove(&q, &it[7].t); /* the last slot */
    wk_timerq_add(&q, &it[6].t, 1, record); /* re-add moves it */
    assert_int_equal(q.n, 5);
    n_fired = 0;
    wk_timerq_run(&q, 1000);
    const int want[] = {6, 1, 2, 4, 5};
    assert_int_equal(n_fired, 5);
    assert_memory_equal(fired, want, sizeof(want));
    wk_timerq_cleanup(&q);
}

static wk_timerq_t *chain_q;
static item_t chained;

static void add_more(wk_timer_t *t)
{
    record(t);
    if (chained.id < 3) {
        chained.id++;
        wk_timerq_add(chain_q, &chained.t, t->due_ms + 1, add_more);
    }
}

static void test_add_while_firing(void **state)
{
    (void)state;
    wk_timerq_t q;
    wk_timerq_init(&q);
    chain_q = &q;
    chained = (item_t){.id = 0};
    wk_timerq_add(&q, &chained.t, 5, add_more);
    n_fired = 0;
    assert_int_equal(wk_timerq_run(&q, 6), 2); /* due 5, then the one added for 6 */
    assert_int_equal(wk_timerq_run(&q, 100), 2);
    assert_int_equal(wk_timerq_next_due(&q), INT64_MAX);
    wk_timerq_cleanup(&q);
}

static int cmp_key(const void *a, const void *b)
{
    const int64_t *x = a, *y = b;
    if (x[0] != y[0]) return x[0] < y[0] ? -1 : 1;
    return (x[1] > y[1]) - (x[1] < y[1]);
}

static void test_random_against_sort(void **state)
{
    (void)state;
    enum { N = 2000 };
    static item_t it[N];
    static int64_t ref[N][2]; /* (due, seq) of the queued ones */
    wk_timerq_t q;
    wk_timerq_init(&q);
    srand(7);
    for (int i = 0; i < N; i++) {
        it[i] = (item_t){.id = i};
        wk_timerq_add(&q, &it[i].t, rand() % 500, record);
    }
    for (int i = 0; i < N; i += 3) wk_timerq_remove(&q, &it[i].t);
    for (int i = 1; i < N; i += 7) wk_timerq_add(&q, &it[i].t, rand() % 500, record);
    size_t n = 0;
    for (int i = 0; i < N; i++)
        if (wk_timer_queued(&it[i].t))
            ref[n][0] = it[i].t.due_ms, ref[n++][1] = (int64_t)it[i].t.seq;
    qsort(ref, n, sizeof(ref[0]), cmp_key);
    n_fired = 0;
    assert_int_equal(wk_timerq_run(&q, 1000), n);
    for (size_t i = 0; i < n; i++) {
        const wk_timer_t *t = &it[fired[i]].t;
        assert_int_equal(t->due_ms, ref[i][0]);
        assert_int_equal((int64_t)t->seq, ref[i][1]);
    }
    wk_timerq_cleanup(&q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_and_fifo),
        cmocka_unit_test(test_remove_and_readd),
        cmocka_unit_test(test_add_while_firing),
        cmocka_unit_test(test_random_against_sort),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
