/* Unit tests for common/datagen.c: byte-identical output per (n, seed), answers re-derived from the
 * question text by an independent reader of the documented phrasings (datasets/README.md), golden
 * cases checked by hand, and the output read back through the dataset module. */
/* cmocka.h needs these first; the blank line keeps clang-format from reordering them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "datagen.h"
#include "dataset.h"

/* Generates into memory; caller frees. */
static char *gen(uint64_t n, uint64_t seed, size_t *len)
{
    char *data = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&data, &size);
    assert_non_null(f);
    rs_err_t err = {{0}};
    assert_int_equal(rs_datagen_arithmetic(f, n, seed, &err), 0);
    assert_int_equal(fclose(f), 0);
    *len = size;
    return data;
}

static void test_deterministic(void **state)
{
    size_t la, lb, lc, ld;
    char *a = gen(2000, 1, &la), *b = gen(2000, 1, &lb), *c = gen(2000, 2, &lc);
    assert_int_equal(la, lb);
    assert_memory_equal(a, b, la);
    assert_true(la != lc || memcmp(a, c, la) != 0);
    /* A shorter run is a prefix of a longer one with the same seed. */
    char *d = gen(100, 1, &ld);
    assert_true(ld < la);
    assert_memory_equal(a, d, ld);
    size_t lines = 0;
    for (size_t i = 0; i < la; i++)
        lines += a[i] == '\n';
    assert_int_equal(lines, 2000);
    free(a);
    free(b);
    free(c);
    free(d);

    char *none = gen(0, 1, &la);
    assert_int_equal(la, 0);
    free(none);
}

/* Seed 1's first cases, worked by hand:
 *   1: 4 - 1 = 3, 3 * 2 = 6
 *   2: 17 * 4 = 68, + 17 = 85, - 37 = 48, / 3 = 16, / 4 = 4
 *  12: 6 / 3 = 2, - 1 = 1, * 3 = 3, * 3 = 9, - 7 = 2 */
static const char *const golden[] = {
    "{\"id\":\"arith-000001\",\"question\":\"Liam has 4 stamps. He gives away 1, then doubles his "
    "stamps. How many stamps does Liam have at the end?\",\"answer\":\"6\",\"tags\":[\"ops:2\","
    "\"difficulty:easy\",\"op:-\",\"op:*\"]}",
    "{\"id\":\"arith-000002\",\"question\":\"Hana has 17 seashells. She quadruples her seashells, "
    "then collects 17 more, then gives 37 to a friend, then splits her seashells into 3 equal "
    "piles "
    "and keeps one pile, then splits her seashells into 4 equal piles and keeps one pile. How many "
    "seashells does Hana end up with?\",\"answer\":\"4\",\"tags\":[\"ops:5\",\"difficulty:hard\","
    "\"op:*\",\"op:+\",\"op:-\",\"op:/\"]}",
};
static const char *const golden12 =
    "{\"id\":\"arith-000012\",\"question\":\"Ava has 6 coins. She splits her coins into 3 equal "
    "piles "
    "and keeps one pile, then loses 1, then triples her coins, then triples her coins, then gives "
    "away 7. How many coins does Ava have now?\",\"answer\":\"2\",\"tags\":[\"ops:5\","
    "\"difficulty:hard\",\"op:/\",\"op:-\",\"op:*\"]}";

static void test_golden_cases(void **state)
{
    size_t len;
    char *out = gen(12, 1, &len);
    char *line = out;
    for (int i = 1; i <= 12; i++) {
        char *nl = strchr(line, '\n');
        assert_non_null(nl);
        *nl = '\0';
        if (i <= 2) assert_string_equal(line, golden[i - 1]);
        if (i == 12) assert_string_equal(line, golden12);
        line = nl + 1;
    }
    free(out);
}

/* ---- an independent reader of the questions ---- */

typedef struct reading {
    long value;
    int n_ops;
    char ops[16]; /* distinct ops in order of first use */
} reading_t;

static int word_is(char *const *w, int i, int n, const char *s)
{
    return i < n && strcmp(w[i], s) == 0;
}

static int word_num(char *const *w, int i, int n, long *out)
{
    int64_t v;
    if (i >= n || rs_parse_i64(w[i], &v) < 0) return 0;
    *out = (long)v;
    return 1;
}

static void apply(reading_t *r, char op, long k)
{
    if (op == '+') r->value += k;
    if (op == '-') r->value -= k;
    if (op == '*') r->value *= k;
    if (op == '/') {
        assert_true(k > 0 && r->value % k == 0); /* division must be exact */
        r->value /= k;
    }
    r->n_ops++;
    if (!strchr(r->ops, op)) r->ops[strlen(r->ops)] = op;
}

/* Recognises one operation at word i (see datasets/README.md for the phrasings). */
static void read_word(reading_t *r, char *const *w, int i, int n)
{
    static const char *const adds[] = {"gets", "finds", "buys", "given", "collects"};
    static const char *const muls[] = {"doubles", "triples", "quadruples"};
    long k;
    for (size_t j = 0; j < RS_ARRAY_LEN(adds); j++)
        if (word_is(w, i, n, adds[j]) && word_num(w, i + 1, n, &k) && word_is(w, i + 2, n, "more"))
            apply(r, '+', k);
    for (size_t j = 0; j < RS_ARRAY_LEN(muls); j++)
        if (word_is(w, i, n, muls[j])) apply(r, '*', (long)j + 2);
    if ((word_is(w, i, n, "loses") || word_is(w, i, n, "sells")) && word_num(w, i + 1, n, &k))
        apply(r, '-', k);
    if (word_is(w, i, n, "gives") && word_is(w, i + 1, n, "away")) {
        if (word_is(w, i + 2, n, "half")) apply(r, '/', 2);
        if (word_num(w, i + 2, n, &k)) apply(r, '-', k);
    }
    if (word_is(w, i, n, "gives") && word_num(w, i + 1, n, &k) && word_is(w, i + 2, n, "to"))
        apply(r, '-', k);
    if (word_is(w, i, n, "into") && word_num(w, i + 1, n, &k) && word_is(w, i + 2, n, "equal"))
        apply(r, '/', k);
}

static reading_t read_question(const char *question)
{
    char *text = rs_xstrdup(question), *w[256];
    int n = 0;
    for (char *s = text; *s && n < 256;) {
        while (*s == ' ')
            s++;
        if (!*s) break;
        w[n++] = s;
        while (*s && *s != ' ')
            s++;
        if (*s) *s++ = '\0';
        size_t l = strlen(w[n - 1]); /* drop trailing punctuation */
        while (l > 0 && strchr(",.?", w[n - 1][l - 1]))
            w[n - 1][--l] = '\0';
    }
    reading_t r = {0};
    int start = word_is(w, 1, n, "has") ? 2 : 3; /* "<Name> has N" or "<Name> starts with N" */
    assert_true(word_num(w, start, n, &r.value));
    for (int i = start + 1; i < n; i++)
        read_word(&r, w, i, n);
    free(text);
    return r;
}

/* Checks one record against its re-derived reading; returns its number of operations. */
static int check_case(const json_t *rec)
{
    const char *q = json_string_value(json_object_get(rec, "question"));
    const char *a = json_string_value(json_object_get(rec, "answer"));
    const json_t *tags = json_object_get(rec, "tags");
    assert_non_null(q);
    assert_non_null(a);
    reading_t r = read_question(q);
    char want[32];
    snprintf(want, sizeof(want), "%ld", r.value);
    if (strcmp(a, want) != 0) fail_msg("'%s': answer %s, re-derived %s", q, a, want);
    assert_true(r.value >= 0);
    assert_true(r.n_ops >= 1 && r.n_ops <= 5);

    /* tags: ops:N, difficulty from N, then each op once in order of first use */
    char buf[32];
    snprintf(buf, sizeof(buf), "ops:%d", r.n_ops);
    assert_string_equal(json_string_value(json_array_get(tags, 0)), buf);
    snprintf(buf, sizeof(buf), "difficulty:%s",
             r.n_ops <= 2   ? "easy"
             : r.n_ops == 3 ? "medium"
                            : "hard");
    assert_string_equal(json_string_value(json_array_get(tags, 1)), buf);
    size_t n_distinct = strlen(r.ops);
    assert_int_equal(json_array_size(tags), 2 + n_distinct);
    for (size_t i = 0; i < n_distinct; i++) {
        snprintf(buf, sizeof(buf), "op:%c", r.ops[i]);
        assert_string_equal(json_string_value(json_array_get(tags, 2 + i)), buf);
    }
    return r.n_ops;
}

static void test_answers_rederived(void **state)
{
    size_t len;
    char *out = gen(10000, 42, &len);
    int seen_ops[6] = {0};
    uint64_t no = 0;
    for (char *line = out, *nl; (nl = strchr(line, '\n')); line = nl + 1) {
        json_error_t jerr;
        json_t *rec = json_loadb(line, (size_t)(nl - line), 0, &jerr);
        if (!rec) fail_msg("line %d: %s", (int)no + 1, jerr.text);
        char id[32];
        snprintf(id, sizeof(id), "arith-%06d", (int)++no);
        assert_string_equal(json_string_value(json_object_get(rec, "id")), id);
        seen_ops[check_case(rec)]++;
        json_decref(rec);
    }
    assert_int_equal(no, 10000);
    for (int k = 1; k <= 5; k++)
        assert_true(seen_ops[k] > 1000); /* every length is common */
    free(out);
}

static void test_reads_back_as_dataset(void **state)
{
    char path[] = "/tmp/rs_test_datagen_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    rs_err_t err = {{0}};
    assert_int_equal(rs_datagen_arithmetic(f, 10000, 7, &err), 0);
    assert_int_equal(fclose(f), 0);

    rs_config_t cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.dataset.path = path;
    cfg.dataset.format = RS_FORMAT_JSONL;
    cfg.prompt.template = "{{input}}";
    rs_dataset_t *ds = rs_dataset_open(&cfg, &err);
    if (!ds) fail_msg("%s", err.msg);
    assert_int_equal(rs_dataset_count(ds), 10000);
    assert_int_equal(rs_dataset_skipped(ds), 0);
    rs_case_t c;
    assert_int_equal(rs_dataset_read(ds, 9999, &c, &err), 0);
    assert_string_equal(c.id, "arith-010000");
    assert_int_equal(c.n_targets, 1);
    assert_true(c.n_tags >= 3);
    rs_case_cleanup(&c);
    rs_dataset_destroy(&ds);
    unlink(path);
}

/* datasets/demo.jsonl is this generator's output for n=500, seed=1, byte for byte. */
static void test_bundled_demo_matches(void **state)
{
    char *data;
    size_t len, want_len;
    rs_err_t err = {{0}};
    if (rs_read_file(RS_SOURCE_DIR "/datasets/demo.jsonl", &data, &len, &err) < 0)
        fail_msg("%s", err.msg);
    char *want = gen(500, 1, &want_len);
    assert_int_equal(len, want_len);
    assert_memory_equal(data, want, len);
    free(data);
    free(want);
}

static void test_write_error(void **state)
{
    FILE *f = fopen("/dev/full", "w");
    if (!f) skip();
    rs_err_t err = {{0}};
    assert_int_equal(rs_datagen_arithmetic(f, 1000, 1, &err), -1);
    assert_non_null(strstr(err.msg, "datagen: write error"));
    fclose(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_deterministic),        cmocka_unit_test(test_golden_cases),
        cmocka_unit_test(test_answers_rederived),    cmocka_unit_test(test_reads_back_as_dataset),
        cmocka_unit_test(test_bundled_demo_matches), cmocka_unit_test(test_write_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
