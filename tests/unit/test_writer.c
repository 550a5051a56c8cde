/* test_writer: the result writer (coordinator/writer.c) against a real redis-server started in a
 * temporary directory (coordinator/redisproc.c; redis-server on PATH, as the integration tests
 * need it). A batch handed to a free writer is written and the hand gives back the last written
 * batch emptied; a busy writer refuses a batch; a batch written while Redis is down is held, its
 * failed try reported, and written once Redis is back, with nothing lost or counted twice; a
 * writer stopped while it holds a batch says how many results it held; a case's first record is
 * the one kept, and a batch larger than the result script's chunk is stored whole. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../coordinator/writer.h"
#include "testredis.h"
#include "util.h"

#define RUN "test-writer"

typedef testredis_t fixture_t;

static void start_redis(fixture_t *f)
{
    rs_err_t err;
    f->redis = coord_redisproc_start(f->dir, &err);
    if (!f->redis) fail_msg("redis-server: %s", err.msg);
}

static int setup(void **state)
{
    signal(SIGPIPE, SIG_IGN); /* a write to a Redis that went away fails instead (as in main) */
    return (*state = testredis_start("writer")) ? 0 : -1;
}

static int teardown(void **state)
{
    return testredis_stop(*state);
}

static coord_writer_t *start_writer(fixture_t *f)
{
    coord_writer_opts_t o = {.store = f->store, .run_id = RUN};
    rs_err_t err;
    coord_writer_t *w = coord_writer_start(&o, &err);
    if (!w) fail_msg("writer: %s", err.msg);
    return w;
}

/* Adds results first .. first+n-1 to b (every third one failed), as dispatch does: each with a
 * document slot taken. */
static void fill(coord_batch_t *b, uint64_t first, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t idx = first + i;
        rs_case_result_t c = {.idx = idx, .failed = idx % 3 == 0};
        c.json = rs_xasprintf("{\"idx\":%llu,\"id\":\"c%llu\"}", (unsigned long long)idx,
                              (unsigned long long)idx);
        c.json_len = strlen(c.json);
        assert_non_null(coord_batch_doc(b));
        coord_batch_add(b, &c, NULL);
        assert_null(c.json);
    }
}

static long long manifest_int(fixture_t *f, const char *field)
{
    rs_err_t err;
    json_t *man = coord_store_run_get(f->store, RUN, &err);
    long long v = man ? (long long)coord_manifest_int(man, field) : -1;
    json_decref(man);
    return v;
}

/* Results first .. first+n-1 are stored, each with its own record. */
static void assert_stored(fixture_t *f, uint64_t first, size_t n)
{
    char **out = rs_xcalloc(n, sizeof(char *));
    rs_err_t err;
    assert_int_equal(coord_store_results_get(f->store, RUN, first, n, out, &err), 0);
    for (size_t i = 0; i < n; i++) {
        char want[64];
        snprintf(want, sizeof(want), "\"id\":\"c%llu\"", (unsigned long long)(first + i));
        assert_non_null(out[i]);
        assert_non_null(strstr(out[i], want));
        free(out[i]);
    }
    free(out);
}

static void test_hand_and_take_back(void **state)
{
    fixture_t *f = *state;
    coord_writer_t *w = start_writer(f);
    coord_batch_t b = {0};
    fill(&b, 0, 10);
    b.dispatched = 12;
    assert_int_equal(coord_writer_hand(w, &b), 1);
    assert_int_equal(b.n, 0); /* the writer's empty slot came back */
    assert_int_equal(coord_writer_wait(w), 0);
    coord_writer_state_t s;
    coord_writer_state(w, &s);
    assert_int_equal(s.busy, 0);
    assert_int_equal(s.redis_down, 0);
    assert_int_equal(s.failed, 4); /* 0, 3, 6, 9 */
    assert_stored(f, 0, 10);
    assert_int_equal(manifest_int(f, "done"), 10);
    assert_int_equal(manifest_int(f, "dispatched"), 12);

    /* the next hand gives back the written batch, whole, for the caller to fold; emptied, it
     * keeps the documents asked for */
    fill(&b, 10, 3);
    assert_int_equal(coord_writer_hand(w, &b), 1);
    assert_int_equal(b.n, 10);
    assert_int_equal(b.cases[0].idx, 0);
    assert_int_equal(b.cases[9].idx, 9);
    coord_batch_empty(&b, 4);
    assert_int_equal(b.n, 0);
    assert_true(b.cap >= 10);
    for (size_t i = 0; i < 4; i++) assert_non_null(b.doc[i]);
    for (size_t i = 4; i < b.cap; i++) assert_null(b.doc[i]);
    assert_int_equal(coord_writer_wait(w), 0);
    assert_stored(f, 10, 3);
    assert_int_equal(manifest_int(f, "done"), 13);

    /* the end of a run takes back the last one written, leaving an empty batch in its place */
    coord_batch_t last = {0};
    assert_int_equal(coord_writer_collect(w, &last), 1);
    assert_int_equal(last.n, 3);
    assert_int_equal(last.cases[0].idx, 10);
    coord_batch_t none = {0};
    assert_int_equal(coord_writer_collect(w, &none), 1);
    assert_int_equal(none.n, 0);
    assert_int_equal(coord_writer_stop(&w), 0);
    assert_null(w);
    coord_batch_cleanup(&b);
    coord_batch_cleanup(&last);
    coord_batch_cleanup(&none);
}

static void test_redis_away(void **state)
{
    fixture_t *f = *state;
    coord_writer_t *w = start_writer(f);
    coord_redisproc_stop(&f->redis);
    coord_batch_t b = {0}, next = {0};
    fill(&b, 100, 5);
    assert_int_equal(coord_writer_hand(w, &b), 1);
    assert_int_equal(coord_writer_wait(w), -1); /* a try failed; the batch is held */
    coord_writer_state_t s;
    coord_writer_state(w, &s);
    assert_int_equal(s.busy, 1);
    assert_int_equal(s.held, 5);
    assert_int_equal(s.redis_down, 1);
    fill(&next, 105, 2);
    assert_int_equal(coord_writer_hand(w, &next), 0); /* busy: refused, unchanged */
    assert_int_equal(next.n, 2);
    coord_batch_t none = {0};
    assert_int_equal(coord_writer_collect(w, &none), 0); /* nothing written to take back */

    start_redis(f); /* same directory: the same socket, and its data back from the AOF */
    while (coord_writer_wait(w) != 0) {
    } /* tries go on after each backoff */
    coord_writer_state(w, &s);
    assert_int_equal(s.busy, 0);
    assert_int_equal(s.redis_down, 0);
    assert_int_equal(coord_writer_hand(w, &next), 1);
    assert_int_equal(coord_writer_wait(w), 0);
    coord_store_destroy(&f->store);
    rs_err_t err;
    f->store = coord_store_connect(coord_redisproc_url(f->redis), &err);
    assert_non_null(f->store);
    assert_stored(f, 100, 7);
    assert_int_equal(manifest_int(f, "done"), 7); /* each once */

    /* stopped while it holds a batch it cannot write: it says how many */
    coord_redisproc_stop(&f->redis);
    fill(&b, 200, 3);
    assert_int_equal(coord_writer_hand(w, &b), 1);
    assert_int_equal(coord_writer_wait(w), -1);
    assert_int_equal(coord_writer_stop(&w), 3);
    start_redis(f);
    coord_batch_cleanup(&b);
    coord_batch_cleanup(&next);
}

/* Adds one result for case idx whose record's id is id. */
static void add_one(coord_batch_t *b, uint64_t idx, const char *id, int failed)
{
    rs_case_result_t c = {.idx = idx, .failed = failed};
    c.json = rs_xasprintf("{\"idx\":%llu,\"id\":\"%s\"}", (unsigned long long)idx, id);
    c.json_len = strlen(c.json);
    assert_non_null(coord_batch_doc(b));
    coord_batch_add(b, &c, NULL);
}

/* Hands b to the free writer w, waits for the write and empties what came back. */
static void write_batch(coord_writer_t *w, coord_batch_t *b)
{
    assert_int_equal(coord_writer_hand(w, b), 1);
    coord_batch_empty(b, 0);
    assert_int_equal(coord_writer_wait(w), 0);
}

/* The first record of a case is the one kept and counted, whether the second comes in a later
 * batch or in the same one, and a batch larger than the script's chunk of 1,000 is stored whole. */
static void test_first_record_kept(void **state)
{
    fixture_t *f = *state;
    coord_writer_t *w = start_writer(f);
    coord_batch_t b = {0};
    fill(&b, 0, 10); /* failed: 0 3 6 9 */
    write_batch(w, &b);

    for (uint64_t idx = 5; idx < 15; idx++) add_one(&b, idx, "again", idx % 3 == 0);
    add_one(&b, 12, "third", 0); /* 12 twice in one batch: its first copy is kept */
    write_batch(w, &b);
    assert_int_equal(manifest_int(f, "done"), 15);   /* 10 .. 14 new */
    assert_int_equal(manifest_int(f, "failed"), 5); /* and 12 among them */
    char *out[15] = {0};
    rs_err_t err;
    assert_int_equal(coord_store_results_get(f->store, RUN, 0, 15, out, &err), 0);
    for (int i = 0; i < 15; i++) {
        assert_non_null(out[i]);
        assert_non_null(strstr(out[i], i < 10 ? "\"id\":\"c" : "\"id\":\"again\""));
        free(out[i]);
    }

    fill(&b, 1000, 2500);
    write_batch(w, &b);
    assert_stored(f, 1000, 2500);
    assert_int_equal(manifest_int(f, "done"), 2515);
    assert_int_equal(manifest_int(f, "failed"), 5 + 833); /* 1002, 1005, .. 3498 */
    assert_int_equal(coord_writer_stop(&w), 0);
    coord_batch_cleanup(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_hand_and_take_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_first_record_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_redis_away, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
