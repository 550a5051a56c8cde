/* caseindex: the viewer's filters, counts, paging, sorting and snapshots, against answers computed
 * here from the records that went in. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../coordinator/analysis.h"
#include "../../coordinator/units.h"
#include "../../coordinator/caseindex.h"
#include "testjv.h"

enum { N = 300 };

static rs_config_t *config(void)
{
    rs_err_t err;
    rs_config_t *cfg = rs_config_load_string(
        "dataset: {path: x.jsonl}\n"
        "models: [{name: a, provider: sim, model: sim-1}, {name: b, provider: sim, model: sim-1}]\n"
        "scoring: {graders: [exact]}\n",
        "<test>", NULL, NULL, 0, &err);
    if (!cfg) fail_msg("%s", err.msg);
    return cfg;
}

/* Case i: a's verdict cycles correct/wrong/wrong, b fails every 7th with a reason, tags t<i%4>,
 * a's tokens i*37 % 101, a revision of a flips wrong to right every 5th. */
static const char *a_verdict(int i)
{
    return i % 3 == 0 ? "correct" : "wrong";
}

static int a_tokens(int i)
{
    return i * 37 % 101;
}

static json_t *record(int i)
{
    char text[1024];
    int flip = i % 5 == 0 && strcmp(a_verdict(i), "wrong") == 0;
    snprintf(text, sizeof(text),
             "{\"idx\":%d,\"id\":\"c%d\",\"tags\":[\"t%d\",\"all\"],\"targets\":[\"1\"],\"models\":["
             "{\"model\":\"a\",\"error\":null,\"candidates\":[{\"k\":0,\"grades\":{\"exact\":\"%s\"},"
             "\"latency_ms\":%d,\"output_tokens\":%d%s}],\"strategies\":{\"first\":{\"grades\":"
             "{\"exact\":\"%s\"}},\"majority\":{\"grades\":{\"exact\":\"%s\"}}}},"
             "{\"model\":\"b\",\"error\":%s,\"error_type\":%s,\"candidates\":[{\"k\":0,\"grades\":"
             "{\"exact\":\"%s\"}}]}]}",
             i, i, i % 4, a_verdict(i), i % 13, a_tokens(i),
             flip ? ",\"revisions\":[{\"grades\":{\"exact\":\"correct\"}}]" : "", a_verdict(i),
             i % 2 ? "correct" : "wrong", i % 7 ? "null" : "\"x\"", i % 7 ? "null" : "\"http_500\"",
             i % 7 ? "correct" : "error");
    json_error_t jerr;
    json_t *r = json_loads(text, 0, &jerr);
    if (!r) fail_msg("%s: %s", jerr.text, text);
    return r;
}

static coord_caseindex_t *filled(const rs_config_t *cfg, int shuffled)
{
    coord_caseindex_t *ci = coord_caseindex_new(cfg);
    for (int k = 0; k < N; k++) {
        int i = shuffled ? (k * 7919) % N : k; /* 7919 is prime to N: a permutation */
        json_t *r = record(i);
        coord_caseindex_add(ci, (uint64_t)i, testjv(r));
        coord_caseindex_add(ci, (uint64_t)i, testjv(r)); /* twice: kept once */
        json_decref(r);
    }
    assert_int_equal(coord_caseindex_count(ci), N);
    return ci;
}

static coord_ci_query_t any(void)
{
    coord_ci_query_t q;
    memset(&q, 0, sizeof(q));
    q.verdict = q.strategy = q.outcome = q.tag = q.reason = q.prompt = q.epoch = -1;
    return q;
}

static const char *params_get(void *arg, const char *name)
{
    const char *const *kv = arg;
    for (; *kv; kv += 2)
        if (strcmp(kv[0], name) == 0) return kv[1];
    return NULL;
}

/* The id the index gave tag NAME, read back through the query parser as the viewer's URL does. */
static int tag_id(const coord_caseindex_t *ci, const char *name)
{
    const char *kv[] = {"tag", name, NULL};
    coord_ci_query_t q;
    rs_err_t err;
    assert_int_equal(coord_caseindex_parse(ci, params_get, (void *)kv, &q, &err), 0);
    return q.tag;
}

/* Every case of q, paged through 17 at a time. */
static size_t all_pages(const coord_caseindex_t *ci, const coord_ci_query_t *q, uint64_t *out)
{
    size_t got = 0, n;
    for (uint64_t off = 0;; off += 17) {
        uint64_t total = coord_caseindex_query(ci, q, off, 17, out + got, &n, NULL);
        got += n;
        if (off + 17 >= total) break;
    }
    return got;
}

static void test_filters_and_counts(void **state)
{
    (void)state;
    rs_config_t *cfg = config();
    coord_caseindex_t *ci = filled(cfg, 1);
    coord_ci_query_t q = any();
    q.verdict = COORD_V_WRONG;
    q.tag = tag_id(ci, "t1");
    uint64_t got[N];
    size_t n = all_pages(ci, &q, got), k = 0;
    for (int i = 0; i < N; i++)
        if (strcmp(a_verdict(i), "wrong") == 0 && i % 4 == 1) {
            assert_true(k < n);
            assert_int_equal(got[k++], i);
        }
    assert_int_equal(k, n);
    /* b's reason, and counts by verdict */
    q = any();
    q.model = 1;
    q.reason = 0;
    json_t *counts;
    uint64_t page[10];
    uint64_t total = coord_caseindex_query(ci, &q, 0, 10, page, &n, &counts);
    assert_int_equal(total, (N + 6) / 7);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(counts, "verdict"), "error")),
                     total);
    json_decref(counts);
    /* a's revisions: wrong to right */
    q = any();
    q.flipped = 1;
    total = coord_caseindex_query(ci, &q, 0, 10, page, &n, NULL);
    uint64_t want = 0;
    for (int i = 0; i < N; i++) want += i % 5 == 0 && strcmp(a_verdict(i), "wrong") == 0;
    assert_int_equal(total, want);
    /* a strategy's outcome */
    q = any();
    q.strategy = 1; /* majority, the second strategy seen */
    q.outcome = COORD_V_CORRECT;
    total = coord_caseindex_query(ci, &q, 0, 10, page, &n, NULL);
    assert_int_equal(total, N / 2);
    coord_caseindex_destroy(&ci);
    rs_config_destroy(&cfg);
}

/* Sorting by tokens descending pages through the same order a full sort gives, with a heap of
 * offset + limit rows; and the neighbours of a case are its neighbours in that order. */
static void test_sort_and_neighbours(void **state)
{
    (void)state;
    rs_config_t *cfg = config();
    coord_caseindex_t *ci = filled(cfg, 1);
    coord_ci_query_t q = any();
    q.sort = COORD_CI_BY_TOKENS;
    q.desc = 1;
    uint64_t got[N], want[N];
    size_t n = all_pages(ci, &q, got);
    assert_int_equal(n, N);
    for (int i = 0; i < N; i++) want[i] = (uint64_t)i;
    for (int i = 1; i < N; i++) /* insertion sort by (tokens desc, idx asc) */
        for (int j = i; j > 0 && (a_tokens((int)want[j - 1]) < a_tokens((int)want[j]) ||
                                  (a_tokens((int)want[j - 1]) == a_tokens((int)want[j]) &&
                                   want[j - 1] > want[j]));
             j--) {
            uint64_t t = want[j];
            want[j] = want[j - 1];
            want[j - 1] = t;
        }
    assert_memory_equal(got, want, sizeof(got));
    int64_t prev, next;
    /* an offset far past the end (from a URL) sorts nothing and allocates nothing big */
    size_t none;
    assert_int_equal(coord_caseindex_query(ci, &q, UINT32_MAX * 64ull, 10, got, &none, NULL), N);
    assert_int_equal(none, 0);
    coord_caseindex_neighbours(ci, &q, want[100], &prev, &next);
    assert_int_equal(prev, want[99]);
    assert_int_equal(next, want[101]);
    coord_caseindex_neighbours(ci, &q, want[0], &prev, &next);
    assert_int_equal(prev, -1);
    coord_caseindex_destroy(&ci);
    rs_config_destroy(&cfg);
}

/* Arrival order changes nothing; a snapshot hides the cases added after it. */
static void test_order_and_snapshots(void **state)
{
    (void)state;
    rs_config_t *cfg = config();
    coord_caseindex_t *a = filled(cfg, 0), *b = filled(cfg, 1);
    coord_ci_query_t q = any();
    q.verdict = COORD_V_WRONG;
    uint64_t pa[N], pb[N];
    size_t na = all_pages(a, &q, pa), nb = all_pages(b, &q, pb);
    assert_int_equal(na, nb);
    assert_memory_equal(pa, pb, na * sizeof(uint64_t));
    coord_caseindex_destroy(&a);
    coord_caseindex_destroy(&b);

    coord_caseindex_t *ci = coord_caseindex_new(cfg);
    for (int i = 0; i < 100; i++) {
        json_t *r = record(i);
        coord_caseindex_add(ci, (uint64_t)i, testjv(r));
        json_decref(r);
    }
    uint32_t s1 = coord_caseindex_as_of(ci);
    coord_caseindex_snapshot(ci);
    for (int i = 100; i < 200; i++) {
        json_t *r = record(i);
        coord_caseindex_add(ci, (uint64_t)(i * 2), testjv(r)); /* later cases land anywhere */
        json_decref(r);
    }
    q = any();
    q.as_of = s1;
    uint64_t page[5];
    size_t n;
    assert_int_equal(coord_caseindex_query(ci, &q, 0, 5, page, &n, NULL), 100);
    q.as_of = 0;
    assert_int_equal(coord_caseindex_query(ci, &q, 0, 5, page, &n, NULL), 200);
    coord_caseindex_destroy(&ci);
    rs_config_destroy(&cfg);
}

/* Rows encoded by another index as records arrive (out of order), added here in case order
 * through its names, make the same index as the records added here: the same facets in the
 * same order, verdicts, hashes, filters and counts (how serve reads results.idx). */
static void same_query(const coord_caseindex_t *a, const coord_caseindex_t *b, coord_ci_query_t *q)
{
    uint64_t x[N], y[N];
    size_t n = all_pages(a, q, x);
    assert_int_equal(all_pages(b, q, y), n);
    assert_memory_equal(x, y, n * sizeof(uint64_t));
    json_t *ca, *cb;
    size_t k;
    coord_caseindex_query(a, q, 0, 1, x, &k, &ca);
    coord_caseindex_query(b, q, 0, 1, y, &k, &cb);
    assert_true(json_equal(ca, cb));
    json_decref(ca);
    json_decref(cb);
}

static void test_rows_of_another_index(void **state)
{
    (void)state;
    rs_config_t *cfg = config();
    coord_caseindex_t *direct = filled(cfg, 0), *enc = coord_caseindex_new(cfg);
    coord_caseindex_t *ci = coord_caseindex_new(cfg);
    static rs_buf_t rows[N];
    for (int k = 0; k < N; k++) {
        int i = (k * 7919) % N;
        json_t *r = record(i);
        rs_buf_init(&rows[i]);
        coord_caseindex_encode(enc, testjv(r), &rows[i]);
        json_decref(r);
    }
    assert_int_equal(coord_caseindex_count(enc), 0); /* an encoder indexes nothing */
    json_t *names = coord_caseindex_names(enc);
    rs_err_t err;
    coord_ci_remap_t *m = coord_caseindex_remap_new(ci, names, &err);
    assert_non_null(m);
    assert_int_equal(coord_caseindex_add_row(ci, 0, rows[0].data, rows[0].len - 1, m), -1);
    for (int i = 0; i < N; i++) {
        assert_int_equal(coord_caseindex_add_row(ci, (uint64_t)i, rows[i].data, rows[i].len, m), 0);
        rs_buf_cleanup(&rows[i]);
    }
    json_t *fa = coord_caseindex_facets(direct), *fb = coord_caseindex_facets(ci);
    assert_true(json_equal(fa, fb));
    for (uint64_t i = 0; i < N; i++) {
        assert_int_equal(coord_caseindex_id_hash(ci, i), coord_caseindex_id_hash(direct, i));
        for (size_t mo = 0; mo < 2; mo++)
            assert_int_equal(coord_caseindex_verdict(ci, i, mo), coord_caseindex_verdict(direct, i, mo));
    }
    coord_ci_query_t q = any();
    same_query(direct, ci, &q);
    q.tag = tag_id(direct, "t2");
    same_query(direct, ci, &q);
    q = any();
    q.model = 1;
    q.reason = 0;
    same_query(direct, ci, &q);
    q = any();
    q.strategy = 1; /* majority */
    q.outcome = COORD_V_CORRECT;
    q.flipped = 1;
    same_query(direct, ci, &q);
    json_t *bad = json_pack("{s[]}", "tags"); /* no strategies or reasons */
    assert_null(coord_caseindex_remap_new(ci, bad, &err));
    json_decref(bad);
    json_decref(fa);
    json_decref(fb);
    json_decref(names);
    coord_caseindex_remap_free(&m);
    coord_caseindex_destroy(&ci);
    coord_caseindex_destroy(&enc);
    coord_caseindex_destroy(&direct);
    rs_config_destroy(&cfg);
}

static void test_parse(void **state)
{
    (void)state;
    rs_config_t *cfg = config();
    coord_caseindex_t *ci = filled(cfg, 0);
    coord_ci_query_t q;
    rs_err_t err;
    const char *ok[] = {"model", "b", "verdict", "error", "tag", "t2", "sort", "latency",
                        "order", "desc", NULL};
    assert_int_equal(coord_caseindex_parse(ci, params_get, ok, &q, &err), 0);
    assert_int_equal(q.model, 1);
    assert_int_equal(q.verdict, COORD_V_ERROR);
    assert_int_equal(q.sort, COORD_CI_BY_LATENCY);
    const char *unknown_tag[] = {"tag", "nope", NULL};
    assert_int_equal(coord_caseindex_parse(ci, params_get, unknown_tag, &q, &err), 0);
    uint64_t page[1];
    size_t n;
    assert_int_equal(coord_caseindex_query(ci, &q, 0, 1, page, &n, NULL), 0); /* matches none */
    const char *bad[][3] = {{"verdict", "maybe", NULL}, {"model", "zz", NULL},
                            {"strategy", "first", NULL}, {"epoch", "1", NULL},
                            {"flipped", "yes", NULL}, {"as_of", "-1", NULL}};
    for (size_t i = 0; i < RS_ARRAY_LEN(bad); i++)
        assert_int_equal(coord_caseindex_parse(ci, params_get, (void *)bad[i], &q, &err), -1);
    coord_caseindex_destroy(&ci);
    rs_config_destroy(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_filters_and_counts),
        cmocka_unit_test(test_sort_and_neighbours),
        cmocka_unit_test(test_order_and_snapshots),
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_rows_of_another_index),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
