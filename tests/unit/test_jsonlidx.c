/* test_jsonlidx: results.idx finds every unit's line of results.jsonl and gives its index row,
 * units without a line read as none, and a results.idx that does not describe its results.jsonl
 * (another size, a line that moved, a cut or damaged file) is refused rather than misread. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../coordinator/analysis.h"
#include "../../coordinator/caseindex.h"
#include "../../coordinator/jsonlidx.h"
#include "testjv.h"

static rs_config_t *config(void)
{
    rs_err_t err;
    rs_config_t *cfg = rs_config_load_string(
        "dataset: {path: x.jsonl}\n"
        "models: [{name: a, provider: sim, model: sim-1}]\n"
        "scoring: {graders: [exact]}\n",
        "<test>", NULL, NULL, 0, &err);
    if (!cfg) fail_msg("%s", err.msg);
    return cfg;
}

/* A record of case id whose model a's answer is verdict, tagged tag. */
static json_t *record(const char *id, const char *verdict, const char *tag)
{
    char text[512];
    snprintf(text, sizeof(text),
             "{\"id\":\"%s\",\"tags\":[\"%s\"],\"models\":[{\"model\":\"a\",\"error\":null,"
             "\"candidates\":[{\"k\":0,\"grades\":{\"exact\":\"%s\"}}]}]}",
             id, tag, verdict);
    json_t *r = json_loads(text, 0, NULL);
    if (!r) fail_msg("%s", text);
    return r;
}

static char *tmpdir(void)
{
    char *d = rs_xstrdup("/tmp/rs-jsonlidx-XXXXXX");
    if (!mkdtemp(d)) fail_msg("mkdtemp");
    return d;
}

static void put(const char *dir, const char *name, const char *text)
{
    char *path = rs_xasprintf("%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    free(path);
}

static void cleanup(char *dir)
{
    static const char *const names[] = {"results.jsonl", "results.idx"};
    for (size_t i = 0; i < 2; i++) {
        char *path = rs_xasprintf("%s/%s", dir, names[i]);
        unlink(path);
        free(path);
    }
    rmdir(dir);
    free(dir);
}

/* Five units, of which 1 and 4 have no line (results.jsonl holds valid records only). */
static const char JSONL[] = "{\"a\":0}\n{\"c\":22}\n{\"d\":3}\n";

/* Units 0, 2, 3 with rows (written out of order of their tags' first use), 1 and 4 without. */
static char *write_five(rs_config_t *cfg)
{
    char *dir = tmpdir();
    rs_err_t err;
    put(dir, "results.jsonl", JSONL);
    coord_jsonlidx_t *x = coord_jsonlidx_open(dir, 5, cfg, &err);
    assert_non_null(x);
    static const struct { uint64_t idx, at; const char *verdict, *tag; } units[] = {
        {3, 17, "wrong", "late"}, {0, 0, "correct", "early"}, {2, 8, "wrong", "early"}};
    rs_buf_t rows[3];
    for (size_t i = 0; i < 3; i++) { /* encoded as records arrive: 3 first */
        json_t *r = record("c", units[i].verdict, units[i].tag);
        rs_buf_init(&rows[i]);
        coord_jsonlidx_encode(x, testjv(r), &rows[i]);
        json_decref(r);
    }
    static const size_t order[] = {1, 2, 2, 0}; /* marked in case order; 2 twice: ignored */
    for (size_t k = 0; k < RS_ARRAY_LEN(order); k++) {
        size_t i = order[k];
        uint64_t at = k == 2 ? 99 : units[i].at;
        assert_int_equal(coord_jsonlidx_mark(x, units[i].idx, at, rows[i].data, rows[i].len, &err), 0);
    }
    for (size_t i = 0; i < 3; i++) rs_buf_cleanup(&rows[i]);
    assert_int_equal(coord_jsonlidx_commit(&x, sizeof(JSONL) - 1, &err), 0);
    assert_null(x);
    return dir;
}

static void test_lines_and_gaps(void **state)
{
    (void)state;
    rs_config_t *cfg = config();
    char *dir = write_five(cfg);
    rs_err_t err;
    coord_caseindex_t *ci = coord_caseindex_new(cfg);
    coord_jsonlidx_reader_t *r = coord_jsonlidx_reader_open(dir, ci, &err);
    assert_non_null(r);
    assert_int_equal(coord_jsonlidx_reader_total(r), 5);
    char *t[5];
    assert_int_equal(coord_jsonlidx_reader_get(r, 0, 5, t, &err), 0);
    assert_string_equal(t[0], "{\"a\":0}");
    assert_null(t[1]);
    assert_string_equal(t[2], "{\"c\":22}");
    assert_string_equal(t[3], "{\"d\":3}");
    assert_null(t[4]);
    for (int i = 0; i < 5; i++) free(t[i]);
    assert_int_equal(coord_jsonlidx_reader_get(r, 3, 1, t, &err), 0); /* one alone */
    assert_string_equal(t[0], "{\"d\":3}");
    free(t[0]);
    assert_int_equal(coord_jsonlidx_reader_get(r, 4, 2, t, &err), -1); /* past the end */
    assert_null(t[0]);
    coord_jsonlidx_reader_close(&r);
    assert_null(r);
    /* the rows: cases 0, 2, 3 indexed with their verdicts; tags named in case order */
    assert_int_equal(coord_caseindex_count(ci), 3);
    assert_int_equal(coord_caseindex_verdict(ci, 0, 0), COORD_V_CORRECT);
    assert_int_equal(coord_caseindex_verdict(ci, 2, 0), COORD_V_WRONG);
    assert_int_equal(coord_caseindex_verdict(ci, 3, 0), COORD_V_WRONG);
    assert_false(coord_caseindex_has(ci, 1));
    json_t *facets = coord_caseindex_facets(ci);
    char *tags = json_dumps(json_object_get(facets, "tags"), JSON_COMPACT);
    assert_string_equal(tags, "[\"early\",\"late\"]");
    free(tags);
    json_decref(facets);
    coord_caseindex_destroy(&ci);
    cleanup(dir);
    rs_config_destroy(&cfg);
}

static void test_refuses_other_jsonl(void **state)
{
    (void)state;
    rs_config_t *cfg = config();
    char *dir = write_five(cfg);
    rs_err_t err;
    put(dir, "results.jsonl", "{\"a\":0}\n"); /* rewritten since: another size */
    assert_null(coord_jsonlidx_reader_open(dir, NULL, &err));
    assert_non_null(strstr(err.msg, "does not describe"));
    /* the same size, lines moved: each read checks where lines begin and end */
    put(dir, "results.jsonl", "{\"a\":10}\n{\"c\":2}\n{\"d\":3}\n");
    coord_jsonlidx_reader_t *r = coord_jsonlidx_reader_open(dir, NULL, &err);
    assert_non_null(r);
    char *t[5];
    assert_int_equal(coord_jsonlidx_reader_get(r, 0, 3, t, &err), -1);
    for (int i = 0; i < 3; i++) assert_null(t[i]);
    assert_non_null(strstr(err.msg, "disagree"));
    coord_jsonlidx_reader_close(&r);
    cleanup(dir);
    rs_config_destroy(&cfg);
}

/* Every query shape over ci, its counts, sorts and neighbours: under ASan, proof that no value a
 * row brought in indexes past an array. */
static void query_all(const coord_caseindex_t *ci)
{
    static const coord_ci_sort_t sorts[] = {COORD_CI_BY_IDX, COORD_CI_BY_LATENCY, COORD_CI_BY_TOKENS};
    for (size_t s = 0; s < RS_ARRAY_LEN(sorts); s++) {
        coord_ci_query_t q;
        memset(&q, 0, sizeof(q));
        q.verdict = q.strategy = q.outcome = q.tag = q.reason = q.prompt = q.epoch = -1;
        q.sort = sorts[s];
        uint64_t page[5];
        size_t n;
        json_t *counts = NULL;
        coord_caseindex_query(ci, &q, 0, 5, page, &n, &counts);
        json_decref(counts);
        int64_t prev, next;
        for (size_t i = 0; i < n; i++) coord_caseindex_neighbours(ci, &q, page[i], &prev, &next);
        json_decref(coord_caseindex_facets(ci));
    }
}

/* Every one-byte change to the entries or the tail is refused or reads the same lines. */
static void test_refuses_damaged_idx(void **state)
{
    (void)state;
    rs_config_t *cfg = config();
    char *dir = write_five(cfg);
    rs_err_t err;
    char *path = rs_xasprintf("%s/results.idx", dir), *good;
    size_t len;
    assert_int_equal(rs_read_file(path, &good, &len, &err), 0);
    for (size_t cut = 0; cut < len; cut++) { /* any shorter file */
        FILE *f = fopen(path, "w");
        fwrite(good, 1, cut, f);
        fclose(f);
        assert_null(coord_jsonlidx_reader_open(dir, NULL, &err));
    }
    size_t refused = 0;
    for (size_t at = 0; at < len; at++) {
        char *bad = rs_xmalloc(len);
        memcpy(bad, good, len);
        bad[at] ^= 0x41;
        FILE *f = fopen(path, "w");
        fwrite(bad, 1, len, f);
        fclose(f);
        free(bad);
        coord_caseindex_t *ci = coord_caseindex_new(cfg);
        coord_jsonlidx_reader_t *r = coord_jsonlidx_reader_open(dir, ci, &err);
        char *t[5];
        if (!r) refused++;
        else if (coord_jsonlidx_reader_get(r, 0, 5, t, &err) == 0) /* a row's byte: lines hold */
            for (int i = 0; i < 5; i++) {
                assert_true(!t[i] || t[i][0] == '{');
                free(t[i]);
            }
        if (r) query_all(ci); /* what a changed row says is within the index's bounds */
        coord_jsonlidx_reader_close(&r);
        coord_caseindex_destroy(&ci);
    }
    assert_true(refused > len / 2);
    free(good);
    assert_int_equal(coord_jsonlidx_remove(dir, &err), 0);
    assert_int_equal(access(path, F_OK), -1);
    assert_int_equal(coord_jsonlidx_remove(dir, &err), 0); /* absent: fine */
    assert_null(coord_jsonlidx_reader_open(dir, NULL, &err));
    free(path);
    cleanup(dir);
    rs_config_destroy(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines_and_gaps),
        cmocka_unit_test(test_refuses_other_jsonl),
        cmocka_unit_test(test_refuses_damaged_idx),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
