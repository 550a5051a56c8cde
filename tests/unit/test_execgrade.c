/* test_execgrade: the exec graders' process pools (worker/execgrade.c, from rsworker)
 * with small shell graders the test writes: correct and wrong replies, a reply with a score and a
 * reason, the grader's own error, a timeout, a grader that never reads its stdin, crashes (exit,
 * kill -9), garbage, a reply over the cap, a command that cannot run, processes kept and
 * restarted, the environment limited to the allowlist, a slow grader that holds up no other; and
 * the reply codec without I/O. */
#include "../../worker/execgrade.h"
#include "../../worker/rank.h"
#include "../../worker/envguard.h"
#include "../../worker/timerq.h"
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include "score.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>

static char dir[64];

/* Writes an executable shell script NAME into dir; returns its path (static buffer per call). */
static char *script(const char *name, const char *body)
{
    static char paths[16][256];
    static int next;
    char *path = paths[next++ % 16];
    snprintf(path, 256, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "#!/bin/sh\n%s\n", body);
    fclose(f);
    chmod(path, 0755);
    return path;
}

/* One grader's config: argv is {path, NULL}. */
typedef struct grader {
    char *argv[2];
    rs_grader_cfg_t cfg;
} grader_t;

static void grader_init(grader_t *g, const char *name, char *path, int64_t concurrency,
                        int64_t timeout_ms)
{
    memset(g, 0, sizeof(*g));
    g->argv[0] = path;
    g->cfg = (rs_grader_cfg_t){.name = (char *)name, .kind = RS_GRADE_EXEC, .command = g->argv,
                               .concurrency = concurrency, .timeout_ms = timeout_ms};
}

/* What came back for one job. */
typedef struct got {
    int n;
    int verdict;
    double score;
    char reason[WK_EXEC_REASON_MAX];
    char type[32];
} got_t;

static void on_reply(void *ud, const wk_exec_reply_t *r)
{
    got_t *g = ud;
    g->n++;
    g->verdict = r->verdict;
    g->score = r->score;
    snprintf(g->reason, sizeof(g->reason), "%s", r->reason ? r->reason : "");
    snprintf(g->type, sizeof(g->type), "%s", r->error_type ? r->error_type : "");
}

/* The worker's loop in small: poll the pipes, fire the deadlines, move the pools on, until every
 * job of got[0 .. n) answered (the 20 s bound only keeps a broken build from hanging). */
static void run(wk_execgrade_t *e, wk_timerq_t *q, got_t *got, size_t n)
{
    int64_t give_up = rs_mono_ms() + 20000;
    for (;;) {
        size_t answered = 0;
        for (size_t i = 0; i < n; i++) answered += got[i].n > 0;
        if (answered == n) return;
        assert_true(rs_mono_ms() < give_up);
        struct pollfd fds[256];
        size_t nf = wk_execgrade_fds(e, fds, 256);
        int64_t wait = wk_execgrade_startable(e) ? 0 : 50, due = wk_timerq_next_due(q);
        if (due != INT64_MAX && due - rs_mono_ms() < wait) wait = due - rs_mono_ms();
        poll(fds, nf, wait < 0 ? 0 : (int)wait);
        wk_timerq_run(q, rs_mono_ms());
        wk_execgrade_io(e);
    }
}

typedef struct fixture {
    wk_timerq_t q;
    wk_envguard_t *env;
    rs_scoring_cfg_t sc;
    wk_execgrade_t *e;
} fixture_t;

static void open_pools(fixture_t *f, grader_t *gs, size_t n)
{
    memset(f, 0, sizeof(*f));
    wk_timerq_init(&f->q);
    f->env = wk_envguard_new();
    rs_err_t err;
    assert_int_equal(wk_envguard_add(f->env, "RS_EXEC_SECRET", &err), 0);
    f->sc.graders = rs_xcalloc(n, sizeof(rs_grader_cfg_t));
    f->sc.n_graders = n;
    for (size_t i = 0; i < n; i++) f->sc.graders[i] = gs[i].cfg;
    f->e = wk_execgrade_new(&f->sc, f->env, &f->q);
    assert_non_null(f->e);
}

static void close_pools(fixture_t *f)
{
    wk_execgrade_destroy(&f->e);
    assert_null(f->e);
    free(f->sc.graders);
    wk_envguard_destroy(&f->env);
    wk_timerq_cleanup(&f->q);
}

static void submit(fixture_t *f, size_t g, const char *line, got_t *got)
{
    memset(got, 0, sizeof(*got));
    assert_non_null(wk_execgrade_submit(f->e, g, line, strlen(line), on_reply, got));
}

/* Pools for g[0] and g[1], and two cases graded by each: got[0 .. 2) by g[0], got[2 .. 4) by
 * g[1]. */
static void grade_two_each(fixture_t *f, grader_t *g, got_t *got)
{
    open_pools(f, g, 2);
    for (size_t i = 0; i < 4; i++) submit(f, i / 2, "{}", &got[i]);
    run(f->e, &f->q, got, 4);
}

#define JUDGE                                                                                      \
    "while read -r line; do case \"$line\" in\n"                                                   \
    "  *'\"output\":\"right\"'*) echo '{\"verdict\":\"correct\",\"reason\":\"ok\"}';;\n"           \
    "  *'\"output\":\"half\"'*) echo '{\"verdict\":\"wrong\",\"score\":0.5,\"reason\":\"half\"}';;\n" \
    "  *'\"output\":\"none\"'*) echo '{\"verdict\":\"error\",\"reason\":\"no tests\"}';;\n"        \
    "  *) echo '{\"verdict\":\"wrong\"}';;\n"                                                      \
    "esac; done"

static void test_verdicts_and_pool(void **state)
{
    (void)state;
    grader_t g;
    grader_init(&g, "judge", script("judge.sh", JUDGE), 2, 10000);
    fixture_t f;
    open_pools(&f, &g, 1);
    got_t got[12];
    for (int i = 0; i < 12; i++)
        submit(&f, 0, i % 4 == 0 ? "{\"output\":\"right\"}" : i % 4 == 1 ? "{\"output\":\"half\"}"
                      : i % 4 == 2 ? "{\"output\":\"none\"}" : "{\"output\":\"x\"}", &got[i]);
    assert_int_equal(got[0].n, 0); /* never inside submit */
    run(f.e, &f.q, got, 12);
    for (int i = 0; i < 12; i++) {
        assert_int_equal(got[i].n, 1);
        switch (i % 4) {
        case 0:
            assert_int_equal(got[i].verdict, RS_VERDICT_CORRECT);
            assert_true(got[i].score == 1);
            assert_string_equal(got[i].reason, "ok");
            assert_string_equal(got[i].type, "");
            break;
        case 1:
            assert_int_equal(got[i].verdict, RS_VERDICT_WRONG);
            assert_true(got[i].score == 0.5);
            break;
        case 2:
            assert_int_equal(got[i].verdict, WK_GRADE_ERROR);
            assert_string_equal(got[i].type, "grader_error");
            assert_string_equal(got[i].reason, "no tests");
            break;
        default:
            assert_int_equal(got[i].verdict, RS_VERDICT_WRONG);
            assert_true(got[i].score == 0);
        }
    }
    /* long-lived: at most the pool's two processes served the twelve cases (one alone when the
     * first answered before the second case was handed out: a shell can reply within the write) */
    assert_in_range(wk_execgrade_started(f.e), 1, 2);
    assert_int_equal(wk_execgrade_queued(f.e), 0);
    close_pools(&f);
}

/* A line a grader writes after its reply is not the next case's reply: the process, out of step
 * with the protocol, is replaced before it gets another case. */
static void test_late_line_not_the_next_reply(void **state)
{
    (void)state;
    grader_t g;
    grader_init(&g, "chatty",
                script("chatty.sh", "while read -r l; do echo '{\"verdict\":\"correct\"}'; "
                                    "sleep 0.1; echo '{\"verdict\":\"wrong\"}'; done"),
                1, 10000);
    fixture_t f;
    open_pools(&f, &g, 1);
    got_t got[2];
    submit(&f, 0, "{}", &got[0]);
    run(f.e, &f.q, got, 1);
    usleep(400 * 1000); /* the extra line is in the pipe now */
    submit(&f, 0, "{}", &got[1]);
    run(f.e, &f.q, got + 1, 1);
    assert_int_equal(got[0].verdict, RS_VERDICT_CORRECT);
    assert_int_equal(got[1].verdict, RS_VERDICT_CORRECT);
    assert_int_equal(wk_execgrade_started(f.e), 2);
    close_pools(&f);
}

/* A grader that answers one case and exits (docs/GRADERS.md: "works too"): every case is graded,
 * each by a process of its own. */
static void test_one_shot_grader(void **state)
{
    (void)state;
    grader_t g;
    grader_init(&g, "once", script("once.sh", "read -r l; echo '{\"verdict\":\"correct\"}'"),
                1, 10000);
    fixture_t f;
    open_pools(&f, &g, 1);
    got_t got[4];
    for (int i = 0; i < 4; i++) submit(&f, 0, "{}", &got[i]);
    run(f.e, &f.q, got, 4);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(got[i].verdict, RS_VERDICT_CORRECT);
        assert_string_equal(got[i].type, "");
    }
    assert_int_equal(wk_execgrade_started(f.e), 4);
    close_pools(&f);
}

static void test_timeout_then_restart(void **state)
{
    (void)state;
    /* answers the first case, sleeps through the second */
    grader_t g;
    grader_init(&g, "slow",
                script("slow.sh", "read -r l; echo '{\"verdict\":\"correct\"}'; read -r l; sleep 30"),
                1, 300);
    fixture_t f;
    open_pools(&f, &g, 1);
    got_t got[3];
    submit(&f, 0, "{}", &got[0]);
    submit(&f, 0, "{}", &got[1]);
    submit(&f, 0, "{}", &got[2]);
    run(f.e, &f.q, got, 3);
    assert_int_equal(got[0].verdict, RS_VERDICT_CORRECT);
    assert_int_equal(got[1].verdict, WK_GRADE_ERROR);
    assert_string_equal(got[1].type, "timeout");
    assert_non_null(strstr(got[1].reason, "no reply within 300 ms"));
    assert_true(isnan(got[1].score));
    /* killed and started again: the third case had a fresh process */
    assert_int_equal(got[2].verdict, RS_VERDICT_CORRECT);
    assert_int_equal(wk_execgrade_started(f.e), 2);
    close_pools(&f);
}

static void test_never_reads_stdin(void **state)
{
    (void)state;
    grader_t g;
    grader_init(&g, "deaf", script("deaf.sh", "exec sleep 30"), 1, 300);
    fixture_t f;
    open_pools(&f, &g, 1);
    /* more than a pipe holds: the write would block, the loop must not */
    size_t len = 1 << 20;
    char *line = rs_xmalloc(len + 1);
    memset(line, 'a', len);
    line[0] = '"';
    line[len - 1] = '"';
    line[len] = '\0';
    got_t got;
    submit(&f, 0, line, &got);
    run(f.e, &f.q, &got, 1);
    assert_string_equal(got.type, "timeout");
    assert_non_null(strstr(got.reason, "does it read it?"));
    free(line);
    close_pools(&f);
}

static void test_crashes(void **state)
{
    (void)state;
    grader_t g[2];
    grader_init(&g[0], "exits", script("exits.sh", "read -r l; printf '{\"verd'; exit 3"), 1, 10000);
    grader_init(&g[1], "killed", script("killed.sh", "read -r l; kill -9 $$"), 1, 10000);
    fixture_t f;
    got_t got[4];
    grade_two_each(&f, g, got);
    for (int i = 0; i < 2; i++) {
        assert_string_equal(got[i].type, "crashed");
        assert_non_null(strstr(got[i].reason, "exited with status 3"));
        assert_non_null(strstr(got[i].reason, "(6 bytes of it)"));
        assert_string_equal(got[2 + i].type, "crashed");
        assert_non_null(strstr(got[2 + i].reason, "killed by signal 9"));
    }
    assert_int_equal(wk_execgrade_started(f.e), 4); /* each crash: a new process */
    close_pools(&f);
}

static void test_garbage_and_huge(void **state)
{
    (void)state;
    grader_t g[2];
    grader_init(&g[0], "garbage",
                script("garbage.sh", "while read -r l; do echo 'all good!'; done"), 1, 10000);
    grader_init(&g[1], "huge",
                script("huge.sh",
                       "while read -r l; do head -c 300000 /dev/zero | tr '\\0' a; echo; done"),
                1, 10000);
    fixture_t f;
    got_t got[4];
    grade_two_each(&f, g, got);
    for (int i = 0; i < 2; i++) {
        assert_string_equal(got[i].type, "bad_reply");
        assert_non_null(strstr(got[i].reason, "not a JSON object"));
        assert_non_null(strstr(got[i].reason, "all good!"));
        assert_string_equal(got[2 + i].type, "reply_too_large");
        assert_non_null(strstr(got[2 + i].reason, "65536"));
    }
    /* out of step with the protocol: restarted each time */
    assert_int_equal(wk_execgrade_started(f.e), 4);
    close_pools(&f);
}

static void test_cannot_start(void **state)
{
    (void)state;
    grader_t g[2];
    grader_init(&g[0], "missing", "/nonexistent/grader", 1, 10000);
    static char *bare[] = {"no-such-grader-anywhere", NULL};
    grader_init(&g[1], "bare", NULL, 1, 10000);
    g[1].cfg.command = bare;
    fixture_t f;
    open_pools(&f, g, 2);
    got_t got[2];
    submit(&f, 0, "{}", &got[0]);
    submit(&f, 1, "{}", &got[1]);
    run(f.e, &f.q, got, 2);
    assert_string_equal(got[0].type, "cannot_start");
    assert_non_null(strstr(got[0].reason, "cannot run /nonexistent/grader: No such file"));
    assert_string_equal(got[1].type, "cannot_start");
    assert_non_null(strstr(got[1].reason, "not found in PATH"));
    close_pools(&f);
}

static void test_environment(void **state)
{
    (void)state;
    setenv("RS_EXEC_SECRET", "s3", 1);
    setenv("RS_EXEC_OTHER", "leak", 1);
    static char *vars[] = {"RS_EXEC_SECRET", "RS_EXEC_OTHER", NULL};
    grader_t g;
    grader_init(&g, "env",
                script("env.sh", "read -r l; printf '{\"verdict\":\"correct\",\"reason\":\"%s|%s|%s\"}\\n'"
                                 " \"$RS_EXEC_SECRET\" \"${RS_EXEC_OTHER:-unset}\" \"$PATH\""),
                1, 10000);
    g.cfg.env = vars; /* RS_EXEC_OTHER is listed, but --allow-env does not allow it */
    fixture_t f;
    open_pools(&f, &g, 1);
    got_t got;
    submit(&f, 0, "{}", &got);
    run(f.e, &f.q, &got, 1);
    assert_string_equal(got.reason, "s3|unset|/usr/local/bin:/usr/bin:/bin");
    close_pools(&f);
}

/* One grader asleep on its case holds up no other: the worker never waits on a pipe. */
static void test_slow_holds_up_none(void **state)
{
    (void)state;
    grader_t g[2];
    grader_init(&g[0], "asleep", script("asleep.sh", "read -r l; sleep 30"), 1, 60000);
    grader_init(&g[1], "judge", script("judge2.sh", JUDGE), 1, 60000);
    fixture_t f;
    open_pools(&f, g, 2);
    got_t got[2];
    submit(&f, 0, "{}", &got[0]);
    submit(&f, 1, "{\"output\":\"right\"}", &got[1]);
    run(f.e, &f.q, &got[1], 1);
    assert_int_equal(got[1].verdict, RS_VERDICT_CORRECT);
    assert_int_equal(got[0].n, 0);
    close_pools(&f); /* kills the sleeper; its callback never runs */
    assert_int_equal(got[0].n, 0);
}

static void test_cancel(void **state)
{
    (void)state;
    grader_t g;
    grader_init(&g, "judge", script("judge3.sh", JUDGE), 1, 10000);
    fixture_t f;
    open_pools(&f, &g, 1);
    got_t got[3];
    submit(&f, 0, "{\"output\":\"right\"}", &got[0]);
    memset(&got[1], 0, sizeof(got[1]));
    wk_exec_job_t *j = wk_execgrade_submit(f.e, 0, "{}", 2, on_reply, &got[1]);
    submit(&f, 0, "{\"output\":\"right\"}", &got[2]);
    wk_execgrade_cancel(f.e, j); /* still queued: gone */
    assert_int_equal(wk_execgrade_queued(f.e), 2);
    run(f.e, &f.q, got, 1);
    run(f.e, &f.q, &got[2], 1);
    assert_int_equal(got[1].n, 0);
    assert_int_equal(got[2].verdict, RS_VERDICT_CORRECT);
    close_pools(&f);
}

static int parse(const char *line, wk_exec_reply_t *r, char *why)
{
    return wk_execgrade_parse_reply(line, strlen(line), r, why, WK_EXEC_REASON_MAX);
}

static void test_parse_reply(void **state)
{
    (void)state;
    wk_exec_reply_t r;
    char why[WK_EXEC_REASON_MAX];
    assert_int_equal(parse("{\"verdict\":\"correct\",\"score\":0.25,\"reason\":\"r\"}", &r, why), 0);
    assert_int_equal(r.verdict, RS_VERDICT_CORRECT);
    assert_true(r.score == 0.25);
    assert_string_equal(r.reason, "r");
    assert_null(r.error_type);
    assert_int_equal(parse("{\"verdict\":\"skipped\",\"score\":null}", &r, why), 0);
    assert_int_equal(r.verdict, RS_VERDICT_SKIPPED);
    assert_true(isnan(r.score));
    assert_null(r.reason);
    assert_int_equal(parse("{\"verdict\":\"error\"}", &r, why), 0);
    assert_string_equal(r.error_type, "grader_error");
    static const char *const bad[] = {
        "", "[]", "{\"verdict\":\"yes\"}", "{\"score\":1}", "{\"verdict\":\"correct\",\"score\":2}",
        "{\"verdict\":\"correct\",\"score\":-0.1}", "{\"verdict\":\"correct\",\"score\":\"1\"}",
        "{\"verdict\":\"correct\",\"reason\":7}", "{\"verdict\":\"correct\",\"verdict\":\"wrong\"}",
        "{\"verdict\":\"correct\"} trailing", "\xff\xfe{"};
    for (size_t i = 0; i < RS_ARRAY_LEN(bad); i++) {
        assert_int_equal(parse(bad[i], &r, why), -1);
        assert_int_equal(r.verdict, WK_GRADE_ERROR);
        assert_string_equal(r.error_type, "bad_reply");
        assert_non_null(strstr(r.reason, "bad reply ("));
        json_t *j = json_string(r.reason); /* always valid UTF-8: it goes into the record */
        assert_non_null(j);
        json_decref(j);
    }
    /* a long reason is cut at a character boundary */
    rs_buf_t b;
    rs_buf_init(&b);
    rs_buf_puts(&b, "{\"verdict\":\"wrong\",\"reason\":\"");
    for (int i = 0; i < 3000; i++) rs_buf_puts(&b, "\xc3\xa9");
    rs_buf_puts(&b, "\"}");
    assert_int_equal(wk_execgrade_parse_reply(b.data, b.len, &r, why, sizeof(why)), 0);
    assert_true(strlen(r.reason) < WK_EXEC_REASON_MAX);
    json_t *j = json_string(r.reason);
    assert_non_null(j);
    json_decref(j);
    rs_buf_cleanup(&b);
}

static int setup(void **state)
{
    (void)state;
    signal(SIGPIPE, SIG_IGN); /* as the worker does */
    snprintf(dir, sizeof(dir), "/tmp/rs-execgrade-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verdicts_and_pool), cmocka_unit_test(test_timeout_then_restart),
        cmocka_unit_test(test_late_line_not_the_next_reply),
        cmocka_unit_test(test_one_shot_grader),
        cmocka_unit_test(test_never_reads_stdin), cmocka_unit_test(test_crashes),
        cmocka_unit_test(test_garbage_and_huge),  cmocka_unit_test(test_cannot_start),
        cmocka_unit_test(test_environment),       cmocka_unit_test(test_slow_holds_up_none),
        cmocka_unit_test(test_cancel),            cmocka_unit_test(test_parse_reply),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
