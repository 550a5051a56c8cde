/* test_util: the atomic output file — a unique temporary name created with O_EXCL|O_NOFOLLOW, a
 * link planted at the target replaced rather than followed, nothing left behind on abort, the
 * mode asked for; and rs_write_file_atomic on top of it. rs_text_safe on hostile text;
 * the decimal writers against printf; rs_utf8_valid. */
#define _GNU_SOURCE
#include <dirent.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "util.h"

static void test_decimal_text(void **state)
{
    (void)state;
    static const int64_t I[] = {0, 1, -1, 9, 10, -10, 123456789, INT64_MAX, INT64_MIN,
                                INT64_MIN + 1};
    char got[RS_I64_TEXT], want[32];
    for (size_t i = 0; i < sizeof(I) / sizeof(I[0]); i++) {
        snprintf(want, sizeof(want), "%lld", (long long)I[i]);
        assert_int_equal(rs_i64_text(I[i], got), strlen(want));
        assert_string_equal(got, want);
    }
    static const uint64_t U[] = {0, 1, 10, (uint64_t)INT64_MAX + 1, UINT64_MAX};
    for (size_t i = 0; i < sizeof(U) / sizeof(U[0]); i++) {
        snprintf(want, sizeof(want), "%llu", (unsigned long long)U[i]);
        assert_int_equal(rs_u64_text(U[i], got), strlen(want));
        assert_string_equal(got, want);
    }
}

static void test_utf8_valid(void **state)
{
    (void)state;
    assert_true(rs_utf8_valid(""));
    assert_true(rs_utf8_valid("plain \xc3\xa9 \xf0\x9f\x98\x80"));
    assert_false(rs_utf8_valid(NULL));
    assert_false(rs_utf8_valid("cut \xe2\x82"));
    assert_false(rs_utf8_valid("\xed\xa0\x80")); /* a surrogate */
    assert_false(rs_utf8_valid("\xc0\x80"));     /* overlong */
}

static char *tmpdir(void)
{
    char tmpl[] = "/tmp/rs-util-XXXXXX";
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    return rs_xstrdup(d);
}

static size_t entries(const char *dir)
{
    DIR *d = opendir(dir);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

static char *slurp(const char *path)
{
    char *data;
    size_t len;
    rs_err_t err;
    if (rs_read_file(path, &data, &len, &err)) fail_msg("%s", err.msg);
    return data;
}

static void cleanup_dir(const char *dir)
{
    char *cmd = rs_xasprintf("rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    free(cmd);
}

/* A link at the target and links at the names an older version used for its temporary files
 * (results.jsonl.tmp, <name>.tmp.<pid>): none is followed; the files outside keep their bytes. */
static void test_planted_links(void **state)
{
    char *dir = tmpdir(), *victim = rs_xasprintf("%s/victim", dir);
    char *out = rs_xasprintf("%s/out", dir);
    assert_int_equal(mkdir(out, 0755), 0);
    rs_err_t err;
    assert_int_equal(rs_write_file_atomic(victim, "precious", 8, &err), 0);
    const char *names[] = {"results.jsonl", "results.jsonl.tmp", "report.json.tmp"};
    for (size_t i = 0; i < RS_ARRAY_LEN(names); i++) {
        char *link = rs_xasprintf("%s/%s", out, names[i]);
        assert_int_equal(symlink(victim, link), 0);
        free(link);
    }
    char *pidlink = rs_xasprintf("%s/report.json.tmp.%d", out, (int)getpid());
    assert_int_equal(symlink(victim, pidlink), 0);
    char *target = rs_xasprintf("%s/results.jsonl", out), *report = rs_xasprintf("%s/report.json", out);
    rs_afile_t *f = rs_afile_open(target, 0644, &err);
    assert_non_null(f);
    fputs("line\n", rs_afile_stream(f));
    assert_int_equal(rs_afile_commit(&f, &err), 0);
    assert_null(f);
    assert_int_equal(rs_write_file_atomic(report, "{}", 2, &err), 0);
    char *v = slurp(victim);
    assert_string_equal(v, "precious");
    free(v);
    struct stat st;
    assert_int_equal(lstat(target, &st), 0);
    assert_true(S_ISREG(st.st_mode)); /* the link was replaced by the file */
    char *t = slurp(target);
    assert_string_equal(t, "line\n");
    free(t);
    assert_int_equal(entries(out), 5); /* the 2 outputs and the 3 old links: no temporary left */
    cleanup_dir(dir);
    free(pidlink);
    free(target);
    free(report);
    free(victim);
    free(out);
    free(dir);
}

static void test_abort_and_mode(void **state)
{
    char *dir = tmpdir(), *path = rs_xasprintf("%s/secret", dir);
    rs_err_t err;
    rs_afile_t *a = rs_afile_open(path, 0600, &err), *b = rs_afile_open(path, 0600, &err);
    assert_non_null(a);
    assert_non_null(b); /* two writers of one target get different temporary names */
    assert_int_equal(entries(dir), 2);
    rs_afile_abort(&b);
    assert_null(b);
    assert_int_equal(entries(dir), 1);
    fputs("k", rs_afile_stream(a));
    assert_int_equal(rs_afile_commit(&a, &err), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(entries(dir), 1);
    /* a directory that does not exist: an error naming the path, nothing created */
    char *missing = rs_xasprintf("%s/no/such/file", dir);
    assert_null(rs_afile_open(missing, 0644, &err));
    assert_non_null(strstr(err.msg, "/no/such/"));
    free(missing);
    cleanup_dir(dir);
    free(path);
    free(dir);
}

static void test_text_safe(void **state)
{
    static const struct {
        const char *in, *want;
        int flags;
    } cases[] = {
        {"plain \xC3\xA9 text", "plain \xC3\xA9 text", 0},
        {"\x1b[31mred", "\xE2\x90\x9B[31mred", 0},                 /* ESC as U+241B */
        {"a\rb\x7f", "a\xE2\x90\x8D" "b\xE2\x90\xA1", 0},         /* CR, DEL as pictures */
        {"a\nb\tc\rd", "a b c d", RS_TEXT_SPACES},
        {"a\nb\tc\rd", "a\nb\tc\xE2\x90\x8D" "d", RS_TEXT_KEEP_LINES},
        {"a\nb", "a\xE2\x90\x8A" "b", 0},
        {"lone \xff byte", "lone \xEF\xBF\xBD byte", 0},
        {"cut \xE2\x82", "cut \xEF\xBF\xBD\xEF\xBF\xBD", 0},
        {"overlong \xC0\x80", "overlong \xEF\xBF\xBD\xEF\xBF\xBD", 0},
        {"surrogate \xED\xA0\x80", "surrogate \xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD", 0},
        {"rtl \xE2\x80\x8F mark", "rtl \xEF\xBF\xBD mark", 0},          /* U+200F */
        {"\xE2\x80\xAE" "evil", "\xEF\xBF\xBD" "evil", 0},                 /* U+202E override */
        {"c1 \xC2\x9B", "c1 \xEF\xBF\xBD", 0},                           /* U+009B CSI */
        {"emoji \xF0\x9F\x98\x80", "emoji \xF0\x9F\x98\x80", 0},
    };
    rs_buf_t b;
    rs_buf_init(&b);
    for (size_t i = 0; i < RS_ARRAY_LEN(cases); i++)
        assert_string_equal(rs_text_safe_str(&b, cases[i].in, cases[i].flags), cases[i].want);
    assert_string_equal(rs_text_safe_str(&b, NULL, 0), "");
    rs_buf_cleanup(&b);
}

/* The on-disk indexes' integers: little-endian, the low n bytes only. */
static void test_le(void **state)
{
    (void)state;
    unsigned char b[8];
    rs_le_put(b, 0x0807060504030201ull, 8);
    for (int i = 0; i < 8; i++) assert_int_equal(b[i], i + 1);
    assert_true(rs_le_get(b, 8) == 0x0807060504030201ull);
    assert_int_equal(rs_le_get(b, 3), 0x030201);
    memset(b, 0xee, sizeof(b));
    rs_le_put(b, 0xabcdef12345ull, 4); /* only the low 4 bytes, the rest untouched */
    assert_int_equal(rs_le_get(b, 4), 0xf12345 | (0xdeull << 24));
    assert_int_equal(b[4], 0xee);
    rs_le_put(b, UINT64_MAX, 5);
    assert_true(rs_le_get(b, 5) == 0xffffffffffull);
}

static void on_term(int sig)
{
    (void)sig;
}

/* A child of rs_fork_for_exec acts on SIGTERM by default although its parent catches it (a
 * signal sent before its exec is not swallowed by the parent's handler), and a signal its parent
 * ignores stays ignored. */
static void test_fork_for_exec(void **state)
{
    (void)state;
    struct sigaction catch = {.sa_handler = on_term}, ign = {.sa_handler = SIG_IGN}, was_term,
                     was_hup;
    sigaction(SIGTERM, &catch, &was_term);
    sigaction(SIGHUP, &ign, &was_hup);
    pid_t pid = rs_fork_for_exec();
    assert_true(pid >= 0);
    if (pid == 0) {
        raise(SIGHUP);  /* ignored: goes on */
        raise(SIGTERM); /* the default action: ends it */
        _exit(0);
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGTERM);
    struct sigaction now;
    sigaction(SIGTERM, NULL, &now);
    assert_ptr_equal(now.sa_handler, on_term); /* the parent keeps its own */
    sigaction(SIGTERM, &was_term, NULL);
    sigaction(SIGHUP, &was_hup, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_planted_links),
        cmocka_unit_test(test_abort_and_mode),
        cmocka_unit_test(test_text_safe),
        cmocka_unit_test(test_decimal_text),
        cmocka_unit_test(test_utf8_valid),
        cmocka_unit_test(test_le),
        cmocka_unit_test(test_fork_for_exec),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
