/* test_cachekey: the response cache's key against fixed vectors (the key is shared by workers of
 * different builds and by anything that names an entry, so it must never drift by accident),
 * what goes into it and what does not (no auth header, X-RS-* headers yes, k only when sampling),
 * and the stored entry's header: round trip, and every malformed or cut entry refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cachekey.h"

static char *const HEADERS[] = {"Content-Type: application/json",
                                "Authorization: Bearer sk-secret-1", "X-RS-Model: m",
                                "X-RS-Case: c1", "X-RS-Candidate: 0"};
static const char BODY[] =
    "{\"model\":\"gpt\",\"messages\":[{\"role\":\"user\",\"content\":\"1+1\"}]}";

static rs_cachekey_in_t base(void)
{
    return (rs_cachekey_in_t){"openai", "http://127.0.0.1:8000/v1/chat/completions", BODY,
                              strlen(BODY), HEADERS, RS_ARRAY_LEN(HEADERS), 0, 1, NULL, 0};
}

static void key_of(const rs_cachekey_in_t *in, char out[RS_CACHEKEY_HEX])
{
    memset(out, 'x', RS_CACHEKEY_HEX);
    rs_cachekey(in, out);
    assert_int_equal(strlen(out), 64);
}

/* Fixed vectors: a change here changes every key in every shared cache. */
static void test_vectors(void **state)
{
    char k[RS_CACHEKEY_HEX];
    rs_cachekey_in_t in = base();
    key_of(&in, k);
    assert_string_equal(k, "58f72ee86ff2e2a27b61e6b5ed8b7591ea170170387d38c1fb1052d6517bef51");
    in.deterministic = 0;
    in.k = 3;
    key_of(&in, k);
    assert_string_equal(k, "0485cefe989c369da49e93eecbe08e28788202658f476ebbe62606c022a3e1ca");
    rs_cachekey_in_t empty = {0};
    key_of(&empty, k);
    assert_string_equal(k, "5d8e5ecc386338e89a5c7d397d3e520b6b4cc87640974aefce60df247edc30db");
}

/* Each part that decides the answer changes the key; auth headers and other headers do not. */
static void test_what_counts(void **state)
{
    char want[RS_CACHEKEY_HEX], got[RS_CACHEKEY_HEX];
    rs_cachekey_in_t in = base();
    key_of(&in, want);

    char *other_key[] = {"Content-Type: application/json", "Authorization: Bearer sk-other-2",
                         "X-RS-Model: m", "X-RS-Case: c1", "X-RS-Candidate: 0",
                         "x-api-key: sk-ant-3", "User-Agent: something"};
    rs_cachekey_in_t v = in;
    v.headers = other_key;
    v.n_headers = RS_ARRAY_LEN(other_key);
    key_of(&v, got);
    assert_string_equal(got, want); /* keys never matter */

    v = in;
    v.k = 5; /* deterministic: k left out */
    key_of(&v, got);
    assert_string_equal(got, want);

    v = in;
    v.provider = "anthropic";
    key_of(&v, got);
    assert_string_not_equal(got, want);
    v = in;
    v.url = "http://127.0.0.1:8001/v1/chat/completions";
    key_of(&v, got);
    assert_string_not_equal(got, want);
    v = in;
    v.body_len--;
    key_of(&v, got);
    assert_string_not_equal(got, want);
    char *step[] = {"X-RS-Model: m", "X-RS-Case: c1", "X-RS-Candidate: 0", "X-RS-Stage: critique"};
    v = in;
    v.headers = step;
    v.n_headers = RS_ARRAY_LEN(step);
    key_of(&v, got);
    assert_string_not_equal(got, want);
    char *lower[] = {"x-rs-model: m", "X-RS-Case: c1", "X-RS-Candidate: 0"};
    v.headers = lower;
    v.n_headers = RS_ARRAY_LEN(lower);
    key_of(&v, got); /* the header as sent, name and all */
    assert_string_not_equal(got, want);

    rs_cachekey_in_t a = in, b = in;
    a.deterministic = b.deterministic = 0;
    a.k = 1;
    b.k = 2;
    key_of(&a, want);
    key_of(&b, got);
    assert_string_not_equal(got, want); /* sampling: candidates differ */
}

/* Fields are length-prefixed: moving bytes from one field to the next changes the key. */
static void test_no_ambiguity(void **state)
{
    char a[RS_CACHEKEY_HEX], b[RS_CACHEKEY_HEX];
    rs_cachekey_in_t x = {"open", "aihttp://h/", "", 0, NULL, 0, 0, 1, NULL, 0};
    rs_cachekey_in_t y = {"openai", "http://h/", "", 0, NULL, 0, 0, 1, NULL, 0};
    key_of(&x, a);
    key_of(&y, b);
    assert_string_not_equal(a, b);
}

/* Another epoch is another sample when sampling: its key differs, epoch 0's is the vectors'
 * (keys from before epochs existed stay valid); at temperature 0 every epoch shares one key. */
static void test_epochs(void **state)
{
    (void)state;
    char e0[RS_CACHEKEY_HEX], e1[RS_CACHEKEY_HEX], e2[RS_CACHEKEY_HEX], plain[RS_CACHEKEY_HEX];
    rs_cachekey_in_t in = base();
    in.deterministic = 0;
    key_of(&in, plain);
    in.epoch = 0;
    key_of(&in, e0);
    in.epoch = 1;
    key_of(&in, e1);
    in.epoch = 2;
    key_of(&in, e2);
    assert_string_equal(e0, plain);
    assert_string_not_equal(e1, e0);
    assert_string_not_equal(e2, e1);
    in.deterministic = 1;
    key_of(&in, e1);
    in.epoch = 0;
    key_of(&in, e0);
    assert_string_equal(e1, e0);
}

/* A model's params.extra_headers are part of the key (they may change the answer); a model
 * without them keys as before they existed (the vectors above), an empty list too. */
static void test_extra_headers(void **state)
{
    char plain[RS_CACHEKEY_HEX], with[RS_CACHEKEY_HEX], other[RS_CACHEKEY_HEX];
    char empty_k[RS_CACHEKEY_HEX];
    static char *const beta[] = {"anthropic-beta: b1", NULL}, *const beta2[] = {"anthropic-beta: b2", NULL};
    static char *const none[] = {NULL};
    rs_cachekey_in_t in = base();
    key_of(&in, plain);
    in.extra_headers = beta;
    key_of(&in, with);
    assert_string_not_equal(plain, with);
    in.extra_headers = beta2;
    key_of(&in, other);
    assert_string_not_equal(with, other);
    in.extra_headers = none;
    key_of(&in, empty_k);
    assert_string_equal(plain, empty_k);
}

static void test_entry_round_trip(void **state)
{
    rs_buf_t b;
    rs_buf_init(&b);
    rs_cache_entry_encode(&b, 1733370000123, BODY, strlen(BODY));
    assert_memory_equal(b.data, "rsc1 1733370000123 ", 19);
    const char *body;
    size_t len;
    int64_t ms;
    assert_int_equal(rs_cache_entry_decode(b.data, b.len, &body, &len, &ms), 0);
    assert_int_equal(len, strlen(BODY));
    assert_memory_equal(body, BODY, len);
    assert_int_equal(ms, 1733370000123);
    /* every cut of the entry is refused */
    for (size_t cut = 0; cut < b.len; cut++)
        assert_int_equal(rs_cache_entry_decode(b.data, cut, &body, &len, &ms), -1);
    rs_buf_reset(&b);
    rs_cache_entry_encode(&b, 0, "", 0);
    assert_int_equal(rs_cache_entry_decode(b.data, b.len, &body, &len, &ms), 0);
    assert_int_equal(len, 0);
    rs_buf_cleanup(&b);
}

static void test_entry_malformed(void **state)
{
    static const char *const bad[] = {
        "",  "rsc1",  "rsc1 ", "rsc2 1 2\nab", "rsc1 x 2\nab", "rsc1 1 x\nab", "rsc1 1 2 ab",
        "rsc1 1 3\nab", "rsc1 1 1\nab", "rsc1 -1 2\nab", "rsc1 1 -2\nab", "rsc1  1 2\nab",
        "rsc1 99999999999999999999 2\nab", "{\"choices\":[]}"};
    const char *body;
    size_t len;
    int64_t ms;
    for (size_t i = 0; i < RS_ARRAY_LEN(bad); i++)
        if (rs_cache_entry_decode(bad[i], strlen(bad[i]), &body, &len, &ms) != -1)
            fail_msg("accepted '%s'", bad[i]);
    assert_int_equal(rs_cache_entry_decode(NULL, 0, &body, &len, &ms), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),          cmocka_unit_test(test_what_counts),
        cmocka_unit_test(test_no_ambiguity),     cmocka_unit_test(test_entry_round_trip),
        cmocka_unit_test(test_extra_headers),    cmocka_unit_test(test_epochs),
        cmocka_unit_test(test_entry_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
