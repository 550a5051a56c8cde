/* test_jsonlout: results.jsonl written during the run comes out in case order whatever order
 * records are offered in, once each; a case too far ahead stops the writing for good (and the
 * file is then never committed half-written); leftovers of a dead coordinator are removed. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../coordinator/analysis.h"
#include "../../coordinator/caseindex.h"
#include "../../coordinator/jsonlidx.h"
#include "../../coordinator/jsonlout.h"
#include <dirent.h>
#include "testjv.h"

static rs_config_t *cfg;

static char *tmpdir(void)
{
    char *d = rs_xstrdup("/tmp/rs-jsonlout-XXXXXX");
    if (!mkdtemp(d)) fail_msg("mkdtemp");
    return d;
}

static int files_in(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; (e = readdir(d)) != NULL;)
        n += e->d_name[0] != '.' || strncmp(e->d_name, ".results", 8) == 0;
    closedir(d);
    return n;
}

static void offer(coord_jsonlout_t *j, uint64_t idx)
{
    char line[32];
    rs_err_t err;
    int n = snprintf(line, sizeof(line), "{\"idx\":%llu}", (unsigned long long)idx);
    json_t *rec = json_pack("{sssIs[{sssns[{sis{ss}}]}]}", "id", line, "idx", (json_int_t)idx,
                            "models", "model", "a", "error", "candidates", "k", 0, "grades", "exact",
                            idx % 2 ? "wrong" : "correct");
    assert_non_null(rec);
    assert_int_equal(coord_jsonlout_offer(j, idx, line, (size_t)n, testjv(rec), &err), 0);
    json_decref(rec);
}

static void test_in_case_order(void **state)
{
    (void)state;
    char *dir = tmpdir();
    rs_err_t err;
    coord_jsonlout_t *j = coord_jsonlout_open(dir, 6, cfg, &err);
    assert_non_null(j);
    static const uint64_t order[] = {2, 1, 2, 5, 0, 0, 4, 3, 9};
    for (size_t i = 0; i < RS_ARRAY_LEN(order); i++) {
        offer(j, order[i]);
        if (order[i] == 0) assert_int_equal(coord_jsonlout_next(j), 3); /* 0, then held 1, 2 */
    }
    assert_true(coord_jsonlout_complete(j));
    assert_int_equal(coord_jsonlout_commit(&j, &err), 0);
    assert_null(j);
    char *path = rs_xasprintf("%s/results.jsonl", dir), *text;
    size_t len;
    assert_int_equal(rs_read_file(path, &text, &len, &err), 0);
    assert_string_equal(text, "{\"idx\":0}\n{\"idx\":1}\n{\"idx\":2}\n{\"idx\":3}\n{\"idx\":4}\n"
                              "{\"idx\":5}\n");
    free(text);
    /* results.idx beside it finds each case's line and row */
    coord_caseindex_t *ci = coord_caseindex_new(cfg);
    coord_jsonlidx_reader_t *r = coord_jsonlidx_reader_open(dir, ci, &err);
    assert_non_null(r);
    assert_int_equal(coord_jsonlidx_reader_total(r), 6);
    char *texts[6];
    assert_int_equal(coord_jsonlidx_reader_get(r, 0, 6, texts, &err), 0);
    for (int i = 0; i < 6; i++) {
        char want[32];
        snprintf(want, sizeof(want), "{\"idx\":%d}", i);
        assert_string_equal(texts[i], want);
        free(texts[i]);
        assert_int_equal(coord_caseindex_verdict(ci, (uint64_t)i, 0), i % 2 ? COORD_V_WRONG : COORD_V_CORRECT);
    }
    assert_int_equal(coord_caseindex_count(ci), 6);
    coord_caseindex_destroy(&ci);
    coord_jsonlidx_reader_close(&r);
    unlink(path);
    free(path);
    path = rs_xasprintf("%s/results.idx", dir);
    unlink(path);
    free(path);
    rmdir(dir);
    free(dir);
}

static void test_stops_past_window(void **state)
{
    (void)state;
    char *dir = tmpdir();
    rs_err_t err;
    coord_jsonlout_t *j = coord_jsonlout_open(dir, JSONLOUT_WINDOW + 10, cfg, &err);
    offer(j, 1);
    offer(j, JSONLOUT_WINDOW + 1); /* too far ahead of case 0 */
    offer(j, 0);                   /* ignored: writing stopped */
    assert_int_equal(coord_jsonlout_next(j), 0);
    assert_false(coord_jsonlout_complete(j));
    assert_int_equal(coord_jsonlout_commit(&j, &err), -1);
    assert_non_null(strstr(err.msg, "only cases 0 .. 0"));
    assert_int_equal(files_in(dir), 0); /* no results.jsonl or .idx, no temporary file */
    rmdir(dir);
    free(dir);
}

static void test_remove_stale(void **state)
{
    (void)state;
    char *dir = tmpdir();
    rs_err_t err;
    coord_jsonlout_t *j = coord_jsonlout_open(dir, 3, cfg, &err);
    offer(j, 0);
    /* a coordinator killed here leaves its temporary file; a planted look-alike stays */
    char *keep = rs_xasprintf("%s/.results.jsonl.keep", dir);
    FILE *f = fopen(keep, "w");
    fclose(f);
    assert_int_equal(files_in(dir), 3); /* results.jsonl's, results.idx's and the look-alike */
    coord_jsonlout_remove_stale(dir);
    assert_int_equal(files_in(dir), 1);
    coord_jsonlout_abort(&j); /* its file is gone already */
    assert_null(j);
    unlink(keep);
    free(keep);
    rmdir(dir);
    free(dir);
}

int main(void)
{
    rs_err_t err;
    cfg = rs_config_load_string("dataset: {path: x.jsonl}\n"
                                "models: [{name: a, provider: sim, model: sim-1}]\n"
                                "scoring: {graders: [exact]}\n",
                                "<test>", NULL, NULL, 0, &err);
    if (!cfg) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_in_case_order),
        cmocka_unit_test(test_stops_past_window),
        cmocka_unit_test(test_remove_stale),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    rs_config_destroy(&cfg);
    return rc;
}
