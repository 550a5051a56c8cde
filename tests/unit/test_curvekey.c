/* test_curvekey: CURVE key files (parsing, modes, never overwriting, never echoing a secret), key
 * names, which endpoints count as local, and the cluster.curve config section built on them. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zmq.h>

#include "config.h"
#include "curvekey.h"

/* A throwaway directory per test. */
static int setup_dir(void **state)
{
    char tmpl[] = "/tmp/rs-curvekey-XXXXXX";
    char *dir = mkdtemp(tmpl);
    assert_non_null(dir);
    *state = strdup(dir);
    return 0;
}

static int teardown_dir(void **state)
{
    char *cmd = rs_xasprintf("rm -rf '%s'", (char *)*state);
    assert_int_equal(system(cmd), 0);
    free(cmd);
    free(*state);
    return 0;
}

static char *path_in(void **state, const char *name)
{
    return rs_xasprintf("%s/%s", (char *)*state, name);
}

static void put(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    assert_int_equal(chmod(path, mode), 0);
}

static void test_names(void **state)
{
    (void)state;
    const char *good[] = {"w1", "coordinator", "gpu-node.03_b", "a", "A.b-c_d"};
    const char *bad[] = {"", ".", "..", "a/b", "../x", "w 1", "w\n1", "ключ", "a:b", "x\033[31m"};
    for (size_t i = 0; i < RS_ARRAY_LEN(good); i++)
        assert_true(rs_curvekey_name_ok(good[i]));
    for (size_t i = 0; i < RS_ARRAY_LEN(bad); i++)
        assert_false(rs_curvekey_name_ok(bad[i]));
    char longest[RS_CURVEKEY_NAME_MAX + 2];
    memset(longest, 'k', sizeof(longest));
    longest[RS_CURVEKEY_NAME_MAX] = '\0';
    assert_true(rs_curvekey_name_ok(longest));
    longest[RS_CURVEKEY_NAME_MAX] = 'k';
    longest[RS_CURVEKEY_NAME_MAX + 1] = '\0';
    assert_false(rs_curvekey_name_ok(longest));
}

static void test_parse(void **state)
{
    (void)state;
    char pub[41], sec[41], out[41];
    assert_int_equal(zmq_curve_keypair(pub, sec), 0);
    rs_err_t err;
    assert_int_equal(rs_curvekey_parse(sec, 40, out, &err), 0);
    assert_string_equal(out, sec);
    char *line = rs_xasprintf("%s\n", sec), *crlf = rs_xasprintf("%s\r\n", sec);
    assert_int_equal(rs_curvekey_parse(line, strlen(line), out, &err), 0);
    assert_int_equal(rs_curvekey_parse(crlf, strlen(crlf), out, &err), 0);
    assert_string_equal(out, sec);
    /* anything else is refused, and the message never quotes the text (it may be a secret) */
    char *bad[] = {rs_xasprintf("%s\n%s\n", sec, pub),
                   rs_xasprintf(" %s", sec),
                   rs_xasprintf("%s \n", sec),
                   rs_xasprintf("%.39s\n", sec),
                   rs_xasprintf("%s1\n", sec),
                   rs_xasprintf("%.39s\"\n", sec),
                   rs_xstrdup(""),
                   rs_xasprintf("%s\n\n", sec)};
    for (size_t i = 0; i < RS_ARRAY_LEN(bad); i++) {
        memset(&err, 0, sizeof(err));
        assert_int_equal(rs_curvekey_parse(bad[i], strlen(bad[i]), out, &err), -1);
        assert_non_null(strstr(err.msg, "Z85"));
        char probe[21];
        memcpy(probe, sec + 5, 20);
        probe[20] = '\0';
        assert_null(strstr(err.msg, probe));
        free(bad[i]);
    }
    /* a NUL inside the key is not the end of it */
    char nul[41];
    memcpy(nul, sec, 40);
    nul[20] = '\0';
    assert_int_equal(rs_curvekey_parse(nul, 40, out, &err), -1);
    free(line);
    free(crlf);
}

static void test_read_secret_modes(void **state)
{
    char pub[41], sec[41], out[41];
    assert_int_equal(zmq_curve_keypair(pub, sec), 0);
    char *p = path_in(state, "k.secret"), *text = rs_xasprintf("%s\n", sec);
    rs_err_t err;
    put(p, text, 0644);
    assert_int_equal(rs_curvekey_read_secret(p, out, &err), -1);
    assert_non_null(strstr(err.msg, "chmod 600"));
    assert_non_null(strstr(err.msg, p));
    assert_null(strstr(err.msg, sec));
    assert_int_equal(chmod(p, 0640), 0);
    assert_int_equal(rs_curvekey_read_secret(p, out, &err), -1);
    assert_int_equal(chmod(p, 0602), 0);
    assert_int_equal(rs_curvekey_read_secret(p, out, &err), -1);
    assert_int_equal(chmod(p, 0400), 0);
    assert_int_equal(rs_curvekey_read_secret(p, out, &err), 0);
    assert_string_equal(out, sec);
    assert_int_equal(chmod(p, 0600), 0);
    assert_int_equal(rs_curvekey_read_secret(p, out, &err), 0);
    /* the public key file has no such rule; a missing file and a directory are errors */
    assert_int_equal(chmod(p, 0644), 0);
    assert_int_equal(rs_curvekey_read_public(p, out, &err), 0);
    char *missing = path_in(state, "nope.pub");
    assert_int_equal(rs_curvekey_read_public(missing, out, &err), -1);
    assert_non_null(strstr(err.msg, "nope.pub"));
    assert_int_equal(rs_curvekey_read_public((char *)*state, out, &err), -1);
    assert_non_null(strstr(err.msg, "not a regular file"));
    char derived[41];
    assert_int_equal(rs_curvekey_public_of(sec, derived, &err), 0);
    assert_string_equal(derived, pub);
    free(missing);
    free(p);
    free(text);
}

static void test_write_pair(void **state)
{
    const char *dir = *state;
    rs_err_t err;
    char *sp = NULL, *pp = NULL;
    assert_int_equal(rs_curvekey_write_pair(dir, "w1", &sp, &pp, &err), 0);
    struct stat st;
    assert_int_equal(stat(sp, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0600);
    assert_int_equal(stat(pp, &st), 0);
    assert_int_equal(st.st_mode & 07777, 0644);
    char sec[41], pub[41], derived[41];
    assert_int_equal(rs_curvekey_read_secret(sp, sec, &err), 0);
    assert_int_equal(rs_curvekey_read_public(pp, pub, &err), 0);
    assert_int_equal(rs_curvekey_public_of(sec, derived, &err), 0);
    assert_string_equal(derived, pub);
    /* never overwritten: the second call fails and the first pair is intact */
    assert_int_equal(rs_curvekey_write_pair(dir, "w1", NULL, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "already exists"));
    char again[41];
    assert_int_equal(rs_curvekey_read_secret(sp, again, &err), 0);
    assert_string_equal(again, sec);
    /* a planted link where the secret goes is not followed, and its target is untouched */
    char *target = path_in(state, "target"), *link = path_in(state, "w2.secret");
    put(target, "precious\n", 0644);
    assert_int_equal(symlink(target, link), 0);
    assert_int_equal(rs_curvekey_write_pair(dir, "w2", NULL, NULL, &err), -1);
    char *text = NULL;
    size_t len;
    assert_int_equal(rs_read_file(target, &text, &len, &err), 0);
    assert_string_equal(text, "precious\n");
    char *w2pub = path_in(state, "w2.pub");
    assert_int_equal(access(w2pub, F_OK), -1); /* nothing half-made */
    /* a bad name is refused before anything is written */
    assert_int_equal(rs_curvekey_write_pair(dir, "../escape", NULL, NULL, &err), -1);
    assert_non_null(strstr(err.msg, "key name"));
    free(text);
    free(w2pub);
    free(target);
    free(link);
    free(sp);
    free(pp);
}

static void test_endpoint_local(void **state)
{
    (void)state;
    const char *local[] = {"tcp://127.0.0.1:5555", "tcp://127.0.0.1:*", "tcp://127.1.2.3:80",
                           "tcp://localhost:5555", "tcp://[::1]:5555",  "tcp://::1:5555",
                           "ipc:///tmp/rs.sock",   "inproc://x"};
    const char *remote[] = {"tcp://*:5555",
                            "tcp://0.0.0.0:5555",
                            "tcp://10.0.0.5:5555",
                            "tcp://eth0:5555",
                            "tcp://[::]:5555",
                            "tcp://example.com:5555",
                            "tcp://127.0.0.1.evil.com:5555",
                            "tcp://128.0.0.1:5555",
                            "ws://127.0.0.1:5555",
                            "tcp://127.0.0.1",
                            "pgm://eth0;239.0.0.1:5555",
                            "",
                            "tcp://:5555"};
    for (size_t i = 0; i < RS_ARRAY_LEN(local); i++)
        if (!rs_curvekey_endpoint_local(local[i])) fail_msg("%s should be local", local[i]);
    for (size_t i = 0; i < RS_ARRAY_LEN(remote); i++)
        if (rs_curvekey_endpoint_local(remote[i])) fail_msg("%s should not be local", remote[i]);
}

#define MINIMAL "dataset: {path: d.jsonl}\nmodels: [{provider: sim, model: m1}]\n"

static void test_config_section(void **state)
{
    (void)state;
    rs_err_t err;
    /* absent: off */
    rs_config_t *cfg = rs_config_load_string(MINIMAL, "t.yaml", "/base", NULL, 0, &err);
    assert_non_null(cfg);
    assert_null(cfg->cluster.curve.secret_key_file);
    assert_null(cfg->cluster.curve.authorized_keys_dir);
    /* and it stays off through the stored JSON */
    char *json = rs_config_to_json(cfg);
    rs_config_destroy(&cfg);
    cfg = rs_config_from_json(json, &err);
    assert_non_null(cfg);
    assert_null(cfg->cluster.curve.secret_key_file);
    rs_config_destroy(&cfg);
    free(json);
    /* relative paths resolve against the file's directory; absolute ones stay */
    cfg = rs_config_load_string(MINIMAL "cluster:\n  curve:\n    secret_key_file: keys/c.secret\n"
                                        "    authorized_keys_dir: /etc/rs/workers\n",
                                "t.yaml", "/base", NULL, 0, &err);
    assert_non_null(cfg);
    assert_string_equal(cfg->cluster.curve.secret_key_file, "/base/keys/c.secret");
    assert_string_equal(cfg->cluster.curve.authorized_keys_dir, "/etc/rs/workers");
    json = rs_config_to_json(cfg);
    assert_non_null(strstr(json, "/base/keys/c.secret"));
    rs_config_destroy(&cfg);
    cfg = rs_config_from_json(json, &err);
    assert_non_null(cfg);
    assert_string_equal(cfg->cluster.curve.secret_key_file, "/base/keys/c.secret");
    rs_config_destroy(&cfg);
    free(json);
    /* --set paths are relative to the current directory */
    char cwd[4096];
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    const char *ov[] = {"cluster.curve.secret_key_file=c.secret",
                        "cluster.curve.authorized_keys_dir=auth"};
    cfg = rs_config_load_string(MINIMAL, "t.yaml", "/base", ov, 2, &err);
    assert_non_null(cfg);
    char *want = rs_xasprintf("%s/c.secret", cwd);
    assert_string_equal(cfg->cluster.curve.secret_key_file, want);
    free(want);
    rs_config_destroy(&cfg);
    /* half a section, an empty one, or an unknown key: errors naming line, column and key */
    cfg = rs_config_load_string(MINIMAL "cluster:\n  curve:\n    secret_key_file: c.secret\n",
                                "t.yaml", "/base", NULL, 0, &err);
    assert_null(cfg);
    assert_non_null(strstr(err.msg, "t.yaml:4:"));
    assert_non_null(strstr(err.msg, "cluster.curve.authorized_keys_dir"));
    cfg =
        rs_config_load_string(MINIMAL "cluster:\n  curve: {}\n", "t.yaml", "/base", NULL, 0, &err);
    assert_null(cfg);
    assert_non_null(strstr(err.msg, "cluster.curve.secret_key_file"));
    cfg = rs_config_load_string(MINIMAL "cluster:\n  curve:\n    secret_key: c.secret\n", "t.yaml",
                                "/base", NULL, 0, &err);
    assert_null(cfg);
    assert_non_null(strstr(err.msg, "t.yaml:5:5: cluster.curve.secret_key"));
    assert_non_null(strstr(err.msg, "secret_key_file"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_parse),
        cmocka_unit_test_setup_teardown(test_read_secret_modes, setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_write_pair, setup_dir, teardown_dir),
        cmocka_unit_test(test_endpoint_local),
        cmocka_unit_test(test_config_section),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
