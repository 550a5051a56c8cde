/* test_redisurl: every address form (redis://, rediss://, unix:), IPv6, ports and databases out of
 * range, percent-encoded users, and that no error message or redacted text shows a password. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "redisurl.h"

static rs_redisurl_t parse_ok(const char *text)
{
    rs_redisurl_t u;
    rs_err_t err = {{0}};
    if (rs_redisurl_parse(text, &u, &err) != 0) fail_msg("%s: %s", text, err.msg);
    return u;
}

/* The message of a parse that must fail; it must name the address and never hold secret. */
static void parse_bad(const char *text, const char *want, const char *secret)
{
    rs_redisurl_t u;
    rs_err_t err = {{0}};
    if (rs_redisurl_parse(text, &u, &err) == 0) fail_msg("%s: parsed, wanted '%s'", text, want);
    if (!strstr(err.msg, want)) fail_msg("%s: message '%s' lacks '%s'", text, err.msg, want);
    if (secret && strstr(err.msg, secret)) fail_msg("%s: message '%s' shows the password", text, err.msg);
    assert_null(u.host);
    assert_null(u.user);
    assert_null(u.path);
}

static void test_tcp_forms(void **state)
{
    rs_redisurl_t u = parse_ok("redis://cache.example.org");
    assert_int_equal(u.kind, RS_REDISURL_TCP);
    assert_string_equal(u.host, "cache.example.org");
    assert_int_equal(u.port, 6379);
    assert_int_equal(u.db, 0);
    assert_null(u.user);
    rs_redisurl_cleanup(&u);

    u = parse_ok("redis://10.0.0.7:6380/3");
    assert_string_equal(u.host, "10.0.0.7");
    assert_int_equal(u.port, 6380);
    assert_int_equal(u.db, 3);
    rs_redisurl_cleanup(&u);

    u = parse_ok("redis://h:1/");
    assert_int_equal(u.port, 1);
    assert_int_equal(u.db, 0);
    rs_redisurl_cleanup(&u);

    u = parse_ok("REDIS://h:65535/2147483647");
    assert_int_equal(u.port, 65535);
    assert_int_equal(u.db, 2147483647);
    rs_redisurl_cleanup(&u);
}

static void test_user(void **state)
{
    rs_redisurl_t u = parse_ok("redis://rs@redis.internal:6379/0");
    assert_string_equal(u.user, "rs");
    assert_string_equal(u.host, "redis.internal");
    rs_redisurl_cleanup(&u);

    u = parse_ok("rediss://eval%40team%2b1@h");
    assert_int_equal(u.kind, RS_REDISURL_TLS);
    assert_string_equal(u.user, "eval@team+1");
    assert_string_equal(u.host, "h");
    rs_redisurl_cleanup(&u);

    parse_bad("redis://@h", "empty user name", NULL);
    parse_bad("redis://a%4@h", "bad %-escape", NULL);
    parse_bad("redis://a%zz@h", "bad %-escape", NULL);
    parse_bad("redis://a%00b@h", "bad %-escape", NULL);
    parse_bad("redis://a%@h", "bad %-escape", NULL);
    parse_bad("redis://a%0ab@h", "bad %-escape", NULL); /* a newline would forge a log line */
    parse_bad("redis://a\x1b[31m@h", "control character", NULL);
}

static void test_ipv6(void **state)
{
    rs_redisurl_t u = parse_ok("redis://[::1]:7000/1");
    assert_string_equal(u.host, "::1");
    assert_int_equal(u.port, 7000);
    assert_int_equal(u.db, 1);
    char *addr = rs_redisurl_address(&u);
    assert_string_equal(addr, "[::1]:7000");
    free(addr);
    rs_redisurl_cleanup(&u);

    u = parse_ok("rediss://rs@[fe80::1:2]");
    assert_string_equal(u.host, "fe80::1:2");
    assert_int_equal(u.port, 6379);
    rs_redisurl_cleanup(&u);

    parse_bad("redis://::1:6379", "in brackets", NULL);
    parse_bad("redis://[::1", "closing ']'", NULL);
    parse_bad("redis://[::1]x", "after the IPv6 address", NULL);
    parse_bad("redis://[]:6379", "no host", NULL);
    parse_bad("redis://[::g]", "not hex", NULL);
}

static void test_bad_ports_and_dbs(void **state)
{
    parse_bad("redis://h:0", "port must be a number from 1 to 65535", NULL);
    parse_bad("redis://h:65536", "from 1 to 65535", NULL);
    parse_bad("redis://h:", "from 1 to 65535", NULL);
    parse_bad("redis://h:-1", "from 1 to 65535", NULL);
    parse_bad("redis://h:6379x", "from 1 to 65535", NULL);
    parse_bad("redis://h:99999999999999", "from 1 to 65535", NULL);
    parse_bad("redis://h/x", "database after '/' must be a number", NULL);
    parse_bad("redis://h/1/2", "must be a number", NULL);
    parse_bad("redis://h/2147483648", "must be a number", NULL);
    parse_bad("redis://h?db=1", "not supported", NULL);
    parse_bad("redis://", "no host", NULL);
    parse_bad("redis://:6379", "no host", NULL);
    parse_bad("redis://ho st", "only letters", NULL);
    parse_bad("", "empty", NULL);
    parse_bad("http://h:6379", "expected redis://", NULL);
    parse_bad("localhost:6379", "expected redis://", NULL);
}

static void test_unix(void **state)
{
    rs_redisurl_t u = parse_ok("unix:/run/redis/redis.sock");
    assert_int_equal(u.kind, RS_REDISURL_UNIX);
    assert_string_equal(u.path, "/run/redis/redis.sock");
    assert_null(u.host);
    char *addr = rs_redisurl_address(&u);
    assert_string_equal(addr, "/run/redis/redis.sock");
    free(addr);
    rs_redisurl_cleanup(&u);
    u = parse_ok("unix:///tmp/r.sock");
    assert_string_equal(u.path, "/tmp/r.sock");
    rs_redisurl_cleanup(&u);
    u = parse_ok("unix:relative.sock");
    assert_string_equal(u.path, "relative.sock");
    rs_redisurl_cleanup(&u);
    parse_bad("unix:", "no socket path", NULL);
}

/* The two addresses of the finding (once misparsed as port 0 and host "default", with the
 * password echoed), and passwords that hold the characters a parser splits on. */
static void test_password_refused_unseen(void **state)
{
    static const struct {
        const char *text, *secret;
    } cases[] = {
        {"redis://:hunter2pw@127.0.0.1:6379", "hunter2pw"},
        {"redis://default:hunter2pw@127.0.0.1:6379/0", "hunter2pw"},
        {"rediss://rs:s3cr:et@h", "s3cr"},
        {"redis://rs:pa/ss@h:6379/0", "pa/ss"},
        {"redis://rs:p@ss@h", "p@ss"},
        {"redis://rs:p?ss@h", "p?ss"},
        {"redis://rs:x]:9@[::1]:1", "x]:9"},
        {"redis://rs:pw0rd@h:99999", "pw0rd"}, /* a bad port too: the password still stays out */
        {"redis://rs:pw0rd@", "pw0rd"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        parse_bad(cases[i].text, "REDIS_PASSWORD", cases[i].secret);
    /* other errors in an address that holds a password do not show it either */
    parse_bad("redix://u:pw0rd@h", "expected redis://", "pw0rd");
    parse_bad("u:pw0rd@h:6379", "expected redis://", "pw0rd");
}

static void test_redact(void **state)
{
    static const struct {
        const char *in, *out;
    } cases[] = {
        {"redis://u:secret@h:1/0", "redis://u:***@h:1/0"},
        {"redis://:secret@h", "redis://:***@h"},
        {"rediss://u:se@cr:et@h", "rediss://u:***@h"},
        {"redis://u@h:6379", "redis://u@h:6379"},
        {"redis://h:6379/0", "redis://h:6379/0"},
        {"u:secret@h", "***@h"},
        {"x y://u:secret@h", "***@h"},  /* not a scheme: everything before '@' goes */
        {"u:a://b@h", "***@h"},         /* "://" inside the password is no scheme */
        {"unix:/tmp/a@b.sock", "unix:/tmp/a@b.sock"},
        {"", ""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *got = rs_redisurl_redact(cases[i].in);
        if (strcmp(got, cases[i].out) != 0) fail_msg("%s: got %s, want %s", cases[i].in, got, cases[i].out);
        free(got);
    }
    char *got = rs_redisurl_redact(NULL);
    assert_string_equal(got, "");
    free(got);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tcp_forms),
        cmocka_unit_test(test_user),
        cmocka_unit_test(test_ipv6),
        cmocka_unit_test(test_bad_ports_and_dbs),
        cmocka_unit_test(test_unix),
        cmocka_unit_test(test_password_refused_unseen),
        cmocka_unit_test(test_redact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
