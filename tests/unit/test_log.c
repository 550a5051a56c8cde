/* test_log: a logged message is one line of text, whatever its arguments hold (a peer's name with
 * a newline and an escape sequence must not forge a log line or reach the terminal). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "log.h"

/* What rs_log wrote to stderr while fn ran (heap). */
static char *captured(void (*fn)(void))
{
    char path[] = "/tmp/rs-test-log-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    fflush(stderr);
    int saved = dup(2);
    dup2(fd, 2);
    fn();
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    FILE *f = fdopen(fd, "r");
    rewind(f);
    char *out = calloc(1, 4096);
    size_t n = fread(out, 1, 4095, f);
    out[n] = '\0';
    fclose(f);
    unlink(path);
    return out;
}

static void log_hostile(void)
{
    rs_log_init("t", RS_LOG_INFO);
    rs_warn("worker %s joined", "evil\x1b[31m\nt: error: FORGED\r\x7f\tend");
}

static void test_one_line(void **state)
{
    char *out = captured(log_hostile);
    assert_string_equal(out, "t: warning: worker evil?[31m t: error: FORGED ? end joined\n");
    free(out);
}

static void log_utf8(void)
{
    rs_log_init("t", RS_LOG_INFO);
    rs_info("path %s", "caf\xc3\xa9/\xe2\x82\xac");
}

static void test_utf8_kept(void **state)
{
    char *out = captured(log_utf8);
    assert_string_equal(out, "t: info: path caf\xc3\xa9/\xe2\x82\xac\n");
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_one_line),
                                       cmocka_unit_test(test_utf8_kept)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
