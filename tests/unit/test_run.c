/* test_run: a run's lifecycle (coordinator/run.c) driven without the command line, as
 * `reasonsaver run` drives it: the demo config on 24 cases with one local worker (the real
 * reasonsaver-worker of this build) and the run's own redis-server, run to the end; the same run
 * resumed with nothing left to do; a stop requested before dispatch ends it interrupted, and its
 * resume finishes it; and a config that does not load leaves no run directory behind. Needs
 * redis-server on PATH, as the integration tests do. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../coordinator/run.h"
#include "util.h"

#define CASES 24

static char out_dir[64];
static char limit_set[32], out_set[96];
static const char *sets[] = {limit_set, out_set, "cluster.workers=1"};
static const char *const CONFIG = RS_SOURCE_DIR "/configs/demo.yaml";

static int setup(void **state)
{
    snprintf(out_dir, sizeof(out_dir), "/tmp/rs-run-XXXXXX");
    if (!mkdtemp(out_dir)) return -1;
    snprintf(limit_set, sizeof(limit_set), "dataset.limit=%d", CASES);
    snprintf(out_set, sizeof(out_set), "run.out_dir=%s", out_dir);
    /* local workers are started by name when they are not beside the executable (a test's is not) */
    char *path = rs_xasprintf("%s:%s", RS_BIN_DIR, getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
    setenv("PATH", path, 1);
    free(path);
    signal(SIGPIPE, SIG_IGN);
    return 0;
}

static int teardown(void **state)
{
    char *cmd = rs_xasprintf("rm -rf '%s'", out_dir);
    int rc = system(cmd);
    free(cmd);
    return rc == 0 ? 0 : -1;
}

static coord_run_opts_t new_run_opts(void)
{
    return (coord_run_opts_t){.config = CONFIG, .sets = sets, .n_sets = RS_ARRAY_LEN(sets),
                              .out_dir = out_dir, .quiet = 1};
}

/* prepare, start, execute; returns execute's result (failing the test on an earlier error) and
 * the run's id in id (caller frees). */
static int drive(const coord_run_opts_t *o, volatile sig_atomic_t *stop, char **id)
{
    rs_err_t err;
    coord_run_t *r = coord_run_new(o, stop);
    if (coord_run_prepare(r, &err)) fail_msg("prepare: %s", err.msg);
    if (coord_run_start(r, &err)) fail_msg("start: %s", err.msg);
    assert_non_null(coord_run_id(r));
    int rc = coord_run_execute(r, &err);
    if (rc < 0) fail_msg("execute: %s", err.msg);
    assert_int_equal(coord_run_verdict(r), 0); /* the demo config has no gates */
    *id = rs_xstrdup(coord_run_id(r));
    char *want = rs_xasprintf("%s/%s", out_dir, *id);
    assert_string_equal(coord_run_dir(r), want);
    free(want);
    coord_run_destroy(&r);
    assert_null(r);
    return rc;
}

static json_t *report_of(const char *id)
{
    char *path = rs_xasprintf("%s/%s/report.json", out_dir, id);
    json_error_t jerr;
    json_t *report = json_load_file(path, 0, &jerr);
    if (!report) fail_msg("%s: %s", path, jerr.text);
    free(path);
    return report;
}

/* Lines of the run's results.jsonl. */
static size_t result_lines(const char *id)
{
    char *path = rs_xasprintf("%s/%s/results.jsonl", out_dir, id);
    FILE *f = fopen(path, "r");
    if (!f) fail_msg("%s: missing", path);
    size_t n = 0;
    for (int c; (c = fgetc(f)) != EOF;)
        n += c == '\n';
    fclose(f);
    free(path);
    return n;
}

/* The run's report says status. */
static void assert_status(const char *id, const char *status)
{
    json_t *report = report_of(id);
    assert_string_equal(json_string_value(json_object_get(report, "status")), status);
    json_decref(report);
}

/* Resumes run id to its end: finished, with a result for every case. */
static void resume_finishes(const char *id, volatile sig_atomic_t *stop)
{
    coord_run_opts_t again = {.resume = id, .out_dir = out_dir, .quiet = 1};
    char *id2;
    assert_int_equal(drive(&again, stop, &id2), 0);
    assert_string_equal(id2, id);
    free(id2);
    assert_status(id, "finished");
    assert_int_equal(result_lines(id), CASES);
}

static void test_new_run_and_resume(void **state)
{
    volatile sig_atomic_t stop = 0;
    coord_run_opts_t o = new_run_opts();
    char *id;
    assert_int_equal(drive(&o, &stop, &id), 0);
    assert_status(id, "finished");
    assert_int_equal(result_lines(id), CASES);
    /* a finished run resumed: every case already has its result, nothing is run again */
    resume_finishes(id, &stop);
    free(id);
}

static void test_stop_then_resume(void **state)
{
    volatile sig_atomic_t stop = 2; /* as after a second Ctrl-C: stop at once */
    coord_run_opts_t o = new_run_opts();
    char *id;
    assert_int_equal(drive(&o, &stop, &id), 1);
    assert_status(id, "interrupted");
    stop = 0;
    resume_finishes(id, &stop);
    free(id);
}

/* Entries of out_dir (its "." and ".." left out). */
static size_t entries(void)
{
    DIR *d = opendir(out_dir);
    assert_non_null(d);
    size_t n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

static void test_bad_config_leaves_nothing(void **state)
{
    volatile sig_atomic_t stop = 0;
    size_t before = entries();
    coord_run_opts_t o = new_run_opts();
    o.config = RS_SOURCE_DIR "/configs/no-such-config.yaml";
    coord_run_t *r = coord_run_new(&o, &stop);
    rs_err_t err;
    assert_int_equal(coord_run_prepare(r, &err), -1);
    assert_non_null(strstr(err.msg, "no-such-config.yaml"));
    assert_null(coord_run_id(r));
    coord_run_destroy(&r);
    assert_int_equal(entries(), before);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_run_and_resume),
        cmocka_unit_test(test_stop_then_resume),
        cmocka_unit_test(test_bad_config_leaves_nothing),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
