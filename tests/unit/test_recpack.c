/* test_recpack: records packed with a dictionary trained on the first ones come back byte for
 * byte in the checksum form that record.c verifies; a damaged packed value, one made with another
 * dictionary or read without its dictionary comes back as a value coord_record_unwrap refuses; a
 * value stored before the dictionary existed is left alone. */
#define _GNU_SOURCE
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../coordinator/record.h"
#include "../../coordinator/units.h"
#include "../../coordinator/recpack.h"
#include <xxhash.h>

/* A record shaped like a demo record with spans: the varying parts (ids, numbers, answers) are
 * drawn from a small generator so that records differ as real ones do. */
static uint64_t rng = 88172645463325252ull;

static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static char *record(uint64_t idx, const char *seed_run, size_t *len)
{
    rs_buf_t b;
    rs_buf_init(&b);
    long answer = (long)(next() % 1000);
    rs_buf_printf(&b,
                  "{\"idx\":%llu,\"id\":\"arith-%06llu\",\"tags\":[\"ops:2\",\"difficulty:easy\"],"
                  "\"targets\":[\"%ld\"],\"models\":[",
                  (unsigned long long)idx, (unsigned long long)idx + 1, answer);
    for (int m = 0; m < 2; m++)
        rs_buf_printf(&b,
                      "%s{\"model\":\"sim-%s\",\"provider\":\"sim\",\"error\":null,\"candidates\":"
                      "[{\"k\":0,\"output\":\"[simulated] The answer is %ld.\\n#### %ld\","
                      "\"extracted\":\"%ld\",\"grades\":{\"exact\":\"%s\"},\"latency_ms\":0.0,"
                      "\"input_tokens\":%d,\"output_tokens\":20}]}",
                      m ? "," : "", m ? "weak" : "strong", answer + m, answer + m, answer + m,
                      m ? "wrong" : "correct", 40 + (int)(next() % 20));
    rs_buf_puts(&b, "],\"spans\":[");
    char trace[33];
    snprintf(trace, sizeof(trace), "%016llx%016llx", (unsigned long long)next(),
             (unsigned long long)next());
    for (int s = 0; s < 6; s++)
        rs_buf_printf(&b,
                      "%s{\"trace_id\":\"%s\",\"span_id\":\"%016llx\",\"name\":\"%s\","
                      "\"start_us\":%llu,\"attributes\":{\"reasonsaver.run.id\":\"%s\","
                      "\"gen_ai.request.model\":\"sim-1\",\"gen_ai.usage.input_tokens\":47},"
                      "\"events\":[],\"status\":{\"code\":\"ok\"}}",
                      s ? "," : "", trace, (unsigned long long)next(),
                      s == 0  ? "case"
                      : s < 3 ? "generate"
                              : "score",
                      1796410066594198ull + idx * 1000 + (unsigned long long)s, seed_run);
    rs_buf_puts(&b, "]}");
    *len = b.len;
    return rs_buf_detach(&b);
}

/* A dictionary trained on n records of run seed_run (heap, in *len). */
static char *trained(const char *seed_run, size_t n, size_t *len)
{
    coord_recpack_samples_t *s = coord_recpack_samples_new();
    for (size_t i = 0; i < n; i++) {
        size_t rl;
        char *r = record(i, seed_run, &rl);
        assert_int_equal(coord_recpack_samples_add(s, r, rl), 0);
        free(r);
    }
    assert_int_equal(coord_recpack_samples_count(s), n);
    char *dict = NULL;
    rs_err_t err;
    assert_int_equal(coord_recpack_train(s, &dict, len, &err), 0);
    assert_true(*len > 1000 && *len <= COORD_RECPACK_DICT_CAP);
    coord_recpack_samples_destroy(&s);
    assert_null(s);
    return dict;
}

static coord_recpack_t *packer(const char *seed_run)
{
    size_t len;
    char *dict = trained(seed_run, 400, &len);
    rs_err_t err;
    coord_recpack_t *p = coord_recpack_new(dict, len, &err);
    assert_non_null(p);
    size_t back;
    assert_memory_equal(coord_recpack_dict(p, &back), dict, len);
    assert_int_equal(back, len);
    assert_int_not_equal(coord_recpack_dict_id(p), 0);
    free(dict);
    return p;
}

static void test_round_trip(void **state)
{
    (void)state;
    coord_recpack_t *p = packer("demo-20261204-184746-45f6");
    size_t in = 0, out = 0;
    for (uint64_t idx = 1000; idx < 1200; idx++) {
        size_t len, plen, ulen, wlen;
        char *json = record(idx, "demo-20261204-184746-45f6", &len);
        char *packed = coord_recpack_pack(p, json, len, &plen);
        assert_true(coord_recpack_is_packed(packed, plen));
        char *text;
        rs_err_t err;
        assert_int_equal(coord_recpack_unpack(p, packed, plen, &text, &ulen, &err), 0);
        /* exactly the form the store wrote before packing, so every reader shows the same bytes */
        char *want = coord_record_wrap(json, len, &wlen);
        assert_int_equal(ulen, wlen);
        assert_memory_equal(text, want, wlen);
        assert_int_equal(text[ulen], '\0');
        const char *body;
        size_t blen;
        assert_int_equal(coord_record_unwrap(text, strlen(text), &body, &blen, &err), 0);
        assert_int_equal(blen, len);
        assert_memory_equal(body, json, len);
        in += len;
        out += plen;
        free(want);
        free(text);
        free(packed);
        free(json);
    }
    /* the point of it: a demo-like record shrinks to well under a quarter */
    assert_true(out * 4 < in);
    coord_recpack_destroy(&p);
    assert_null(p);
}

/* Unpacks value with p: it must fail, and what comes back must be refused as damaged. */
static void assert_damaged(coord_recpack_t *p, const char *value, size_t len, const char *why)
{
    char *text = NULL;
    size_t tlen = 0;
    rs_err_t err = {{0}};
    assert_int_equal(coord_recpack_unpack(p, value, len, &text, &tlen, &err), -1);
    assert_non_null(strstr(err.msg, why));
    assert_non_null(text);
    assert_int_equal(strlen(text), tlen);
    const char *body;
    size_t blen;
    rs_err_t uerr;
    assert_int_equal(coord_record_unwrap(text, strlen(text), &body, &blen, &uerr), -1);
    free(text);
}

static void test_damaged(void **state)
{
    (void)state;
    coord_recpack_t *p = packer("demo-a");
    size_t len, plen;
    char *json = record(5000, "demo-a", &len);
    char *packed = coord_recpack_pack(p, json, len, &plen);
    char *v = rs_xmalloc(plen);
    rs_err_t err;

    /* every byte of the frame changed in turn: it either does not unpack, or unpacks to bytes
     * whose checksum does not match; never to a record the readers would take */
    size_t refused = 0;
    for (size_t i = COORD_RECPACK_HEAD; i < plen; i++) {
        memcpy(v, packed, plen);
        v[i] ^= 0x20;
        char *text;
        size_t tlen;
        int rc = coord_recpack_unpack(p, v, plen, &text, &tlen, &err);
        const char *body;
        size_t blen;
        rs_err_t uerr;
        assert_int_equal(coord_record_unwrap(text, strlen(text), &body, &blen, &uerr), -1);
        refused += rc == -1;
        free(text);
    }
    assert_true(refused > 0);

    /* a changed checksum byte: the frame unpacks, the digits do not match its bytes */
    memcpy(v, packed, plen);
    v[3] ^= 1;
    char *text;
    size_t tlen;
    assert_int_equal(coord_recpack_unpack(p, v, plen, &text, &tlen, &err), 0);
    const char *body;
    size_t blen;
    assert_int_equal(coord_record_unwrap(text, tlen, &body, &blen, &err), -1);
    assert_non_null(strstr(err.msg, "does not match"));
    free(text);

    /* cut short, the header alone, the tag alone */
    assert_damaged(p, packed, plen - 1, "does not decompress");
    assert_damaged(p, packed, COORD_RECPACK_HEAD + 1, "header is damaged");
    assert_damaged(p, packed, COORD_RECPACK_HEAD, "too short");
    assert_damaged(p, packed, 1, "too short");

    /* the dictionary is missing (not stored, or unusable) */
    assert_damaged(NULL, packed, plen, "which is not stored");

    /* made with another run's dictionary */
    coord_recpack_t *other = packer("demo-b");
    assert_int_not_equal(coord_recpack_dict_id(other), coord_recpack_dict_id(p));
    assert_damaged(other, packed, plen, "not the run's");
    coord_recpack_destroy(&other);

    free(v);
    free(packed);
    free(json);
    coord_recpack_destroy(&p);
}

/* A damaged value whose stored digits are those of the empty record still reads as damaged. */
static void test_damaged_empty_digits(void **state)
{
    (void)state;
    unsigned char v[COORD_RECPACK_HEAD + 4] = {COORD_RECPACK_TAG};
    uint64_t sum = XXH64("", 0, 0);
    for (int i = 0; i < 8; i++)
        v[1 + i] = (unsigned char)(sum >> (56 - 8 * i));
    assert_damaged(NULL, (const char *)v, sizeof(v), "header is damaged");
}

/* Records stored before the dictionary existed keep today's forms, which never read as packed. */
static void test_before_dict(void **state)
{
    (void)state;
    size_t len, wlen;
    char *json = record(3, "demo-a", &len);
    char *w = coord_record_wrap(json, len, &wlen);
    assert_false(coord_recpack_is_packed(w, wlen));   /* 16 hex digits, then the record */
    assert_false(coord_recpack_is_packed(json, len)); /* a bare record, from before checksums */
    assert_false(coord_recpack_is_packed("", 0));
    for (int c = 0; c < 256; c++) {
        char first = (char)c;
        int hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
        if (hex || c == '{') assert_false(coord_recpack_is_packed(&first, 1));
    }
    /* and the packed form is refused by a reader that does not know it (an older coordinator) */
    coord_recpack_t *p = packer("demo-a");
    size_t plen;
    char *packed = coord_recpack_pack(p, json, len, &plen);
    char *z = rs_xstrndup(packed, plen);
    const char *body;
    size_t blen;
    rs_err_t err;
    assert_int_equal(coord_record_unwrap(z, plen, &body, &blen, &err), -1);
    free(z);
    free(packed);
    coord_recpack_destroy(&p);
    free(w);
    free(json);
}

static void test_bad_dictionary(void **state)
{
    (void)state;
    rs_err_t err;
    const char raw[] = "{\"idx\":0,\"id\":\"a\"} raw content, not a trained dictionary";
    assert_null(coord_recpack_new(raw, sizeof(raw) - 1, &err));
    assert_non_null(strstr(err.msg, "is not one"));
    size_t len;
    char *dict = trained("demo-a", 400, &len);
    /* the magic and id intact, the entropy tables cut off */
    assert_null(coord_recpack_new(dict, 12, &err));
    free(dict);
}

static void test_samples_budget(void **state)
{
    (void)state;
    /* enough at COORD_RECPACK_SAMPLE_RECORDS records ... */
    coord_recpack_samples_t *s = coord_recpack_samples_new();
    for (int i = 0; i < COORD_RECPACK_SAMPLE_RECORDS; i++) {
        char r[64];
        int n = snprintf(r, sizeof(r), "{\"idx\":%d,\"id\":\"case-%d\"}", i, i);
        assert_int_equal(coord_recpack_samples_add(s, r, (size_t)n),
                         i == COORD_RECPACK_SAMPLE_RECORDS - 1);
    }
    assert_int_equal(coord_recpack_samples_add(s, "{}", 2), 1);
    assert_int_equal(coord_recpack_samples_count(s), COORD_RECPACK_SAMPLE_RECORDS);
    coord_recpack_samples_destroy(&s);
    /* ... or at COORD_RECPACK_SAMPLE_BYTES, whichever comes first; later records are ignored */
    s = coord_recpack_samples_new();
    size_t big = COORD_RECPACK_SAMPLE_BYTES / 4 + 1;
    char *r = rs_xcalloc(1, big);
    memset(r, 'x', big);
    for (int i = 0; i < 3; i++)
        assert_int_equal(coord_recpack_samples_add(s, r, big), 0);
    assert_int_equal(coord_recpack_samples_add(s, r, big), 1);
    assert_int_equal(coord_recpack_samples_add(s, r, big), 1);
    assert_int_equal(coord_recpack_samples_count(s), 4);
    free(r);
    coord_recpack_samples_destroy(&s);
    /* a single tiny sample still makes a dictionary that packs any record faithfully */
    coord_recpack_samples_t *few = coord_recpack_samples_new();
    coord_recpack_samples_add(few, "{}", 2);
    char *dict = NULL;
    size_t len;
    rs_err_t err;
    assert_int_equal(coord_recpack_train(few, &dict, &len, &err), 0);
    coord_recpack_samples_destroy(&few);
    coord_recpack_t *p = coord_recpack_new(dict, len, &err);
    assert_non_null(p);
    size_t jlen, plen, tlen;
    char *json = record(7, "demo-a", &jlen), *packed = coord_recpack_pack(p, json, jlen, &plen);
    char *text;
    assert_int_equal(coord_recpack_unpack(p, packed, plen, &text, &tlen, &err), 0);
    assert_int_equal(tlen, COORD_RECORD_SUM_LEN + jlen);
    assert_memory_equal(text + COORD_RECORD_SUM_LEN, json, jlen);
    free(text);
    free(packed);
    free(json);
    free(dict);
    coord_recpack_destroy(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),           cmocka_unit_test(test_damaged),
        cmocka_unit_test(test_damaged_empty_digits), cmocka_unit_test(test_before_dict),
        cmocka_unit_test(test_bad_dictionary),       cmocka_unit_test(test_samples_budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
