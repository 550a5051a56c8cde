/* test_backlog: the worker's FIFO of waiting cases — arrival order kept through growth, sliding
 * and drops; a CANCEL's drop takes only its task's cases; what is dropped or left at cleanup is
 * freed (the ASan build checks). */
#include "../../worker/backlog.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

#include <cmocka.h>

/* A heap case like a decoded TASK's: idx, an id, one message, one target. */
static rs_case_t make_case(uint64_t idx)
{
    char id[32];
    snprintf(id, sizeof(id), "c-%llu", (unsigned long long)idx);
    rs_case_t c = {.idx = idx, .id = rs_xstrdup(id), .n_msgs = 1, .n_targets = 1};
    c.msgs = rs_xcalloc(1, sizeof(*c.msgs));
    c.msgs[0].role = rs_xstrdup("user");
    c.msgs[0].content = rs_xstrdup("What is 6 * 7?");
    c.targets = rs_xcalloc(1, sizeof(*c.targets));
    c.targets[0] = rs_xstrdup("42");
    return c;
}

/* Pops one case, checks it is (task, idx), frees it. */
static void pop_expect(wk_backlog_t *b, uint64_t task, uint64_t idx)
{
    wk_waiting_t w;
    assert_int_equal(wk_backlog_pop(b, &w), 0);
    assert_int_equal(w.task_id, task);
    assert_int_equal(w.lease, task + 100);
    assert_int_equal(w.c.idx, idx);
    assert_int_equal(w.arrival.wall_us, (int64_t)idx);
    rs_case_cleanup(&w.c);
}

static void push(wk_backlog_t *b, uint64_t task, uint64_t idx)
{
    rs_case_t c = make_case(idx);
    wk_backlog_push(b, task, task + 100, (wk_arrival_t){(int64_t)idx, (double)idx}, &c);
    assert_null(c.id); /* taken over */
}

static void test_fifo_through_growth_and_slides(void **state)
{
    (void)state;
    wk_backlog_t b;
    wk_backlog_init(&b);
    wk_waiting_t w;
    assert_int_equal(wk_backlog_pop(&b, &w), -1);
    uint64_t next_in = 0, next_out = 0;
    /* pushes outpace pops, then pops outpace pushes: the array grows, then slides */
    for (int round = 0; round < 50; round++) {
        for (int i = 0; i < 7; i++, next_in++) push(&b, next_in / 16, next_in);
        for (int i = 0; i < (round < 25 ? 3 : 9) && next_out < next_in; i++, next_out++)
            pop_expect(&b, next_out / 16, next_out);
        assert_int_equal(wk_backlog_len(&b), next_in - next_out);
    }
    while (next_out < next_in) {
        pop_expect(&b, next_out / 16, next_out);
        next_out++;
    }
    assert_int_equal(wk_backlog_len(&b), 0);
    assert_int_equal(wk_backlog_pop(&b, &w), -1);
    wk_backlog_cleanup(&b);
}

static void test_drop_one_task_keeps_order(void **state)
{
    (void)state;
    wk_backlog_t b;
    wk_backlog_init(&b);
    for (uint64_t i = 0; i < 12; i++) push(&b, i % 3, i); /* tasks 0, 1, 2 interleaved */
    pop_expect(&b, 0, 0);
    assert_int_equal(wk_backlog_drop(&b, 0, 1), 4);
    assert_int_equal(wk_backlog_drop(&b, 0, 1), 0);
    assert_int_equal(wk_backlog_drop(&b, 0, 77), 0);
    assert_int_equal(wk_backlog_len(&b), 7);
    for (uint64_t i = 2; i < 12; i++)
        if (i % 3 != 1) pop_expect(&b, i % 3, i);
    assert_int_equal(wk_backlog_len(&b), 0);
    push(&b, 5, 99); /* usable again after emptying */
    pop_expect(&b, 5, 99);
    wk_backlog_cleanup(&b);
}

static void test_drop_all_and_cleanup_free(void **state)
{
    (void)state;
    wk_backlog_t b;
    wk_backlog_init(&b);
    for (uint64_t i = 0; i < 100; i++) push(&b, i / 10, i);
    pop_expect(&b, 0, 0);
    assert_int_equal(wk_backlog_drop(&b, 1, 0), 99);
    assert_int_equal(wk_backlog_len(&b), 0);
    for (uint64_t i = 0; i < 10; i++) push(&b, 1, i);
    wk_backlog_cleanup(&b); /* frees the 10 still waiting */
    assert_int_equal(wk_backlog_len(&b), 0);
    assert_null(b.v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fifo_through_growth_and_slides),
        cmocka_unit_test(test_drop_one_task_keeps_order),
        cmocka_unit_test(test_drop_all_and_cleanup_free),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
