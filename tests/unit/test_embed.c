/* test_embed: the hash embedder's properties (identity, unit norm, determinism, unrelated texts
 * near 0 over many random word strings, small edits stay close, empty text), vectors pinned against
 * an independent Python implementation of embed.h's definition, cosine edge cases, the embedder
 * object, and the work for 10,000 texts: one hash per feature, counted. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <xxhash.h>

#include "embed.h"
#include "util.h"

#define DIM RS_EMBED_DEFAULT_DIM

static float sim(const char *a, const char *b)
{
    float x[DIM], y[DIM];
    rs_embed_hash(a, DIM, x);
    rs_embed_hash(b, DIM, y);
    return rs_cosine(x, y, DIM);
}

static double norm(const float *v, size_t dim)
{
    double s = 0;
    for (size_t i = 0; i < dim; i++)
        s += (double)v[i] * v[i];
    return sqrt(s);
}

/* A string of n_words random lowercase words of 3 to 9 letters, from rand_r(seed). */
static void random_words(unsigned *seed, int n_words, char *out, size_t cap)
{
    size_t len = 0;
    for (int w = 0; w < n_words && len + 11 < cap; w++) {
        int wl = 3 + rand_r(seed) % 7;
        for (int c = 0; c < wl; c++)
            out[len++] = (char)('a' + rand_r(seed) % 26);
        out[len++] = ' ';
    }
    out[len] = '\0';
}

static const char *const texts[] = {
    "The quick brown fox jumps over the lazy dog.",
    "Natalia sold clips to 48 of her friends in April, and then half as many in May.",
    "#### 72",
    "a",
    "naïve café — Ünïcödé wörds",
    "Step 1: 12 * 4 = 48. Step 2: 48 / 2 = 24. The answer is 72.",
};

static void test_identical_is_one(void **state)
{
    for (size_t t = 0; t < RS_ARRAY_LEN(texts); t++) {
        char copy[256];
        snprintf(copy, sizeof(copy), "%s", texts[t]); /* a different buffer, the same text */
        float s = sim(texts[t], copy);
        if (fabsf(s - 1.0f) > 1e-6f) fail_msg("'%s': cos %.9f", texts[t], s);
    }
    /* Case and punctuation are not features. */
    assert_true(fabsf(sim("Hello, World!", "hello world") - 1.0f) <= 1e-6f);
}

static void test_unit_norm(void **state)
{
    static const size_t dims[] = {1, 7, 64, 256, 1024};
    float v[1024];
    for (size_t d = 0; d < RS_ARRAY_LEN(dims); d++)
        for (size_t t = 0; t < RS_ARRAY_LEN(texts); t++) {
            rs_embed_hash(texts[t], dims[d], v);
            if (fabs(norm(v, dims[d]) - 1) > 1e-5) fail_msg("dim %zu text %zu", dims[d], t);
        }
}

static void test_deterministic(void **state)
{
    float a[DIM], b[DIM];
    for (size_t t = 0; t < RS_ARRAY_LEN(texts); t++) {
        rs_embed_hash(texts[t], DIM, a);
        rs_embed_hash(texts[t], DIM, b);
        assert_memory_equal(a, b, sizeof(a));
    }
}

/* Computed by an independent Python implementation of the definition in embed.h (python3-xxhash):
 * pins the hashing, the 1 + ln(tf) weights, the kind shares, code-point n-grams and the signs. */
static void test_pinned_vectors(void **state)
{
    static const struct {
        const char *text;
        float v[16];
    } pins[] = {
        {"The the quick brown fox, the fox!",
         {0.2368967f, 0.2523080f, -0.1651579f, -0.2856631f, 0.7438181f, -0.0903760f, 0.1726398f,
          -0.0822638f, -0.1655462f, 0.0000000f, 0.0000000f, 0.0000000f, -0.0822638f, -0.1130233f,
          0.1392847f, 0.3270899f}},
        {"naïve café — Ünïcödé wörds",
         {-0.5648006f, 0.1336837f, 0.2673673f, 0.0000000f, -0.2673673f, 0.1336837f, -0.0902891f,
          -0.0300659f, 0.0000000f, 0.1336837f, -0.2673673f, -0.1336837f, 0.4745115f, 0.2673673f,
          0.2673673f, 0.1336837f}},
    };
    for (size_t p = 0; p < RS_ARRAY_LEN(pins); p++) {
        float v[16];
        rs_embed_hash(pins[p].text, 16, v);
        for (int i = 0; i < 16; i++)
            if (fabsf(v[i] - pins[p].v[i]) > 1e-6f)
                fail_msg("pin %zu [%d]: %.7f, want %.7f", p, i, v[i], pins[p].v[i]);
    }
}

static void test_unrelated_near_zero(void **state)
{
    assert_true(fabsf(sim("Photosynthesis converts light into chemical energy.",
                          "Stock markets fell sharply on Tuesday.")) < 0.2f);
    assert_true(fabsf(sim("42", "Paris")) < 0.2f);
    /* Many pairs of random word strings: signed hashing leaves no positive bias, and the spread is
     * about 1 / sqrt(dim) = 0.0625, so mean |cos| is near 0.05. */
    unsigned seed = 12345;
    double sum = 0, sum_abs = 0, worst = 0;
    const int pairs = 500;
    for (int p = 0; p < pairs; p++) {
        char a[256], b[256];
        random_words(&seed, 8 + p % 10, a, sizeof(a));
        random_words(&seed, 8 + p % 7, b, sizeof(b));
        double s = sim(a, b);
        sum += s;
        sum_abs += fabs(s);
        worst = fmax(worst, fabs(s));
    }
    print_message("random pairs: mean cos %.4f, mean |cos| %.4f, max |cos| %.4f\n", sum / pairs,
                  sum_abs / pairs, worst);
    assert_true(fabs(sum / pairs) < 0.02);
    assert_true(sum_abs / pairs < 0.08);
    assert_true(worst < 0.35);
}

static void test_small_edits_stay_close(void **state)
{
    assert_true(sim("The quick brown fox jumps over the lazy dog",
                    "The quick brown cat jumps over the lazy dog") > 0.8f);
    assert_true(sim("Natalia sold clips to 48 of her friends in April, and then she sold half as "
                    "many clips in May.",
                    "Natalia sold clips to 48 of her friends in April, and then she sold half as "
                    "many clips in June.") > 0.9f);
    /* A typo keeps most character n-grams. */
    assert_true(sim("I will receive the package tomorrow", "I will recieve the package tomorrow") >
                0.7f);
    /* Word order only moves the bigrams (0.2 of the squared norm). */
    float s = sim("dog bites man", "man bites dog");
    assert_true(s > 0.7f && s < 0.9f);
    /* One word changed is closer than an unrelated sentence. */
    assert_true(sim("The answer is 42.", "The answer is 41.") >
                sim("The answer is 42.", "Bananas grow in tropical climates."));
}

static void test_empty_text(void **state)
{
    float z[DIM], v[DIM];
    static const char *const empties[] = {"", "  \t\n", "?!... --- ;;", NULL};
    rs_embed_hash("something", DIM, v);
    for (size_t e = 0; e < RS_ARRAY_LEN(empties); e++) {
        memset(z, 0xff, sizeof(z));
        rs_embed_hash(empties[e], DIM, z);
        assert_true(norm(z, DIM) == 0);
        assert_true(rs_cosine(z, v, DIM) == 0);
        assert_true(rs_cosine(v, z, DIM) == 0);
        assert_true(rs_cosine(z, z, DIM) == 0);
    }
    assert_true(fabsf(sim("", "")) == 0);
}

static void test_cosine_and_normalize(void **state)
{
    float a[3] = {3, 0, 4}, b[3] = {6, 0, 8}, c[3] = {-3, 0, -4}, d[3] = {0, 2, 0};
    assert_true(fabsf(rs_cosine(a, b, 3) - 1) < 1e-7f); /* scale does not matter */
    assert_true(fabsf(rs_cosine(a, c, 3) + 1) < 1e-7f);
    assert_true(rs_cosine(a, d, 3) == 0);
    assert_true(fabs(rs_l2_normalize(a, 3) - 5) < 1e-12);
    assert_true(fabsf(a[0] - 0.6f) < 1e-7f && a[1] == 0 && fabsf(a[2] - 0.8f) < 1e-7f);
    float z[2] = {0, 0};
    assert_true(rs_l2_normalize(z, 2) == 0 && z[0] == 0 && z[1] == 0);
}

static void test_embedder_object(void **state)
{
    rs_embedder_t *e = rs_embedder_new_hash(0);
    assert_int_equal(rs_embedder_dim(e), RS_EMBED_DEFAULT_DIM);
    assert_string_equal(rs_embedder_name(e), "hash");
    float a[DIM], b[DIM];
    rs_err_t err;
    assert_int_equal(rs_embedder_embed(e, texts[1], a, &err), 0);
    rs_embed_hash(texts[1], DIM, b);
    assert_memory_equal(a, b, sizeof(a));
    rs_embedder_destroy(&e);
    assert_null(e);
    rs_embedder_destroy(&e); /* twice is harmless */

    e = rs_embedder_new_hash(32);
    assert_int_equal(rs_embedder_dim(e), 32);
    assert_int_equal(rs_embedder_embed(e, texts[0], a, NULL), 0);
    assert_true(fabs(norm(a, 32) - 1) < 1e-5);
    rs_embedder_destroy(&e);
}

/* The embedder's work, counted at its one hash function: the test links with
 * -Wl,--wrap=XXH64 (tests/CMakeLists.txt), so every XXH64 the library makes comes here first. */
static size_t xxh_calls, xxh_bytes;

XXH64_hash_t __real_XXH64(const void *input, size_t length, XXH64_hash_t seed);
XXH64_hash_t __wrap_XXH64(const void *input, size_t length, XXH64_hash_t seed);

XXH64_hash_t __wrap_XXH64(const void *input, size_t length, XXH64_hash_t seed)
{
    xxh_calls++;
    xxh_bytes += length;
    return __real_XXH64(input, length, seed);
}

/* The features embed.h defines for an ASCII text of space-separated lowercase words: the calls
 * (one XXH64 per feature occurrence) and the bytes they hash. */
static void expected_work(const char *text, size_t *calls, size_t *bytes)
{
    *calls = *bytes = 0;
    size_t prev = 0; /* the previous padded word's length; 0 before the first */
    for (const char *p = text; *p;) {
        size_t len = strcspn(p, " ");
        if (len == 0) {
            p++;
            continue;
        }
        size_t pad = len + 2;
        *calls += 1, *bytes += pad; /* unigram "<w>" */
        if (prev) *calls += 1, *bytes += prev + pad; /* bigram "<w1><w2>" */
        for (size_t n = 3; n <= 5; n++)
            if (pad >= n) *calls += pad - n + 1, *bytes += (pad - n + 1) * n; /* char n-grams */
        prev = pad;
        p += len;
    }
}

/* 10,000 texts of about 300 bytes (the dataset-wide near-duplicate pass embeds every case): the
 * work is exactly one hash per feature of the definition, so linear in the text; the time is
 * printed for information only: bench/chains.sh times the near-duplicate pass (BENCHMARKS.md). */
static void test_work_is_linear(void **state)
{
    enum { N = 10000 };
    char(*t)[320] = rs_xmalloc(N * sizeof(*t));
    unsigned seed = 7;
    size_t bytes = 0, want_calls = 0, want_bytes = 0;
    for (int i = 0; i < N; i++) {
        random_words(&seed, 48, t[i], sizeof(t[i]));
        bytes += strlen(t[i]);
        size_t c, b;
        expected_work(t[i], &c, &b);
        want_calls += c;
        want_bytes += b;
    }
    float *v = rs_xmalloc((size_t)N * DIM * sizeof(float));
    xxh_calls = xxh_bytes = 0;
    double t0 = rs_mono_sec();
    for (int i = 0; i < N; i++)
        rs_embed_hash(t[i], DIM, v + (size_t)i * DIM);
    double dt = rs_mono_sec() - t0;
    print_message("embedded %d texts (%zu bytes on average) in %.3f s: %.2f hashes per byte\n", N,
                  bytes / N, dt, (double)xxh_calls / (double)bytes);
    assert_int_equal(xxh_calls, want_calls);
    assert_int_equal(xxh_bytes, want_bytes);
    free(v);
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_identical_is_one),    cmocka_unit_test(test_unit_norm),
        cmocka_unit_test(test_deterministic),       cmocka_unit_test(test_pinned_vectors),
        cmocka_unit_test(test_unrelated_near_zero), cmocka_unit_test(test_small_edits_stay_close),
        cmocka_unit_test(test_empty_text),          cmocka_unit_test(test_cosine_and_normalize),
        cmocka_unit_test(test_embedder_object),     cmocka_unit_test(test_work_is_linear),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
