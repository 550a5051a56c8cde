/* test_vecset: k-means on
 * separable blobs and its edge cases (k = 1, k >= n, duplicates, empty), and the blocked sgemm
 * near-duplicate search against a naive double loop, with planted pairs, caps and its speed. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "embed.h"
#include "util.h"
#include "vecset.h"

/* xorshift64*: the tests' own generator, independent of the library's draws. */
typedef struct rng {
    uint64_t s;
} rng_t;

static double rng_unit(rng_t *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return (double)((r->s * 2685821657736338717ull) >> 11) * 0x1.0p-53;
}

/* A standard normal draw (Box-Muller), so random unit vectors are uniform on the sphere. */
static double rng_normal(rng_t *r)
{
    double u = rng_unit(r), w = rng_unit(r);
    return sqrt(-2 * log(u + 1e-300)) * cos(2 * M_PI * w);
}

/* n random unit vectors of dim floats (heap). */
static float *random_set(rng_t *r, size_t n, size_t dim)
{
    float *v = rs_xmalloc(n * dim * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        for (size_t d = 0; d < dim; d++)
            v[i * dim + d] = (float)rng_normal(r);
        rs_l2_normalize(v + i * dim, dim);
    }
    return v;
}

static double dot_d(const float *a, const float *b, size_t dim)
{
    double s = 0;
    for (size_t d = 0; d < dim; d++)
        s += (double)a[d] * b[d];
    return s;
}

/* ---- k-means ---- */

/* 3 blobs of per points around the first three axes of dim, interleaved (point i is in blob
 * i % 3), with noise of the given spread, normalised. */
static float *blobs(rng_t *r, size_t per, size_t dim, double noise)
{
    size_t n = 3 * per;
    float *v = rs_xmalloc(n * dim * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        for (size_t d = 0; d < dim; d++)
            v[i * dim + d] = (float)(noise * rng_normal(r));
        v[i * dim + i % 3] += 1;
        rs_l2_normalize(v + i * dim, dim);
    }
    return v;
}

/* Same cluster exactly when same blob, for every pair: the partition is recovered. */
static void assert_blobs_recovered(const rs_kmeans_t *km, size_t n)
{
    assert_int_equal(km->k, 3);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < 3; j++)
            if ((km->assign[i] == km->assign[j]) != (i % 3 == j % 3))
                fail_msg("vector %zu in cluster %zu, vector %zu in %zu", i, km->assign[i], j,
                         km->assign[j]);
}

static void test_kmeans_blobs(void **state)
{
    rng_t r = {7};
    size_t per = 40, n = 3 * per, dim = 24;
    float *v = blobs(&r, per, dim, 0.15);
    for (uint64_t seed = 1; seed <= 25; seed++) {
        rs_kmeans_opts_t o = {.k = 3, .seed = seed};
        rs_kmeans_t km;
        rs_vecset_kmeans(v, n, dim, &o, &km);
        assert_blobs_recovered(&km, n);
        assert_true(km.converged);
        for (size_t c = 0; c < 3; c++) {
            assert_int_equal(km.sizes[c], per);
            assert_int_equal(km.assign[km.rep[c]], c);
            assert_true(fabs(sqrt(dot_d(km.centroids + c * dim, km.centroids + c * dim, dim)) - 1) <
                        1e-5);
        }
        rs_kmeans_cleanup(&km);
    }
    free(v);
}

static void test_kmeans_deterministic(void **state)
{
    rng_t r = {99};
    size_t n = 300, dim = 16;
    float *v = random_set(&r, n, dim); /* no structure: the seed decides a lot */
    rs_kmeans_opts_t o = {.k = 5, .seed = 1234};
    rs_kmeans_t a, b;
    rs_vecset_kmeans(v, n, dim, &o, &a);
    rs_vecset_kmeans(v, n, dim, &o, &b);
    assert_int_equal(a.k, b.k);
    assert_int_equal(a.iterations, b.iterations);
    assert_memory_equal(a.assign, b.assign, n * sizeof(size_t));
    assert_memory_equal(a.centroids, b.centroids, a.k * dim * sizeof(float));
    assert_memory_equal(a.rep, b.rep, a.k * sizeof(size_t));
    size_t total = 0;
    for (size_t c = 0; c < a.k; c++)
        total += a.sizes[c];
    assert_int_equal(total, n);
    /* At convergence every vector sits with its most similar centroid. */
    assert_true(a.converged);
    for (size_t i = 0; i < n; i++)
        for (size_t c = 0; c < a.k; c++)
            assert_true(dot_d(v + i * dim, a.centroids + c * dim, dim) <=
                        dot_d(v + i * dim, a.centroids + a.assign[i] * dim, dim) + 1e-5);
    rs_kmeans_cleanup(&a);
    rs_kmeans_cleanup(&b);
    free(v);
}

static void test_kmeans_k1_and_auto(void **state)
{
    rng_t r = {5};
    size_t per = 10, n = 3 * per, dim = 8;
    float *v = blobs(&r, per, dim, 0.1);
    rs_kmeans_opts_t o = {.k = 1, .seed = 3};
    rs_kmeans_t km;
    rs_vecset_kmeans(v, n, dim, &o, &km);
    assert_int_equal(km.k, 1);
    assert_int_equal(km.sizes[0], n);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(km.assign[i], 0);
    /* The centroid is the normalised mean. */
    float mean[8] = {0};
    for (size_t i = 0; i < n; i++)
        for (size_t d = 0; d < dim; d++)
            mean[d] += v[i * dim + d];
    rs_l2_normalize(mean, dim);
    for (size_t d = 0; d < dim; d++)
        assert_true(fabsf(mean[d] - km.centroids[d]) < 1e-5f);
    assert_true(km.converged && km.iterations == 2);
    rs_kmeans_cleanup(&km);

    assert_int_equal(rs_vecset_auto_k(0), 0);
    assert_int_equal(rs_vecset_auto_k(1), 1);
    assert_int_equal(rs_vecset_auto_k(2), 1);
    assert_int_equal(rs_vecset_auto_k(3), 2);
    assert_int_equal(rs_vecset_auto_k(18), 3);
    assert_int_equal(rs_vecset_auto_k(19), 4);
    assert_int_equal(rs_vecset_auto_k(128), 8);
    assert_int_equal(rs_vecset_auto_k(10000), 8);
    rs_vecset_kmeans(v, n, dim, NULL, &km); /* k = 0: automatic, ceil(sqrt(15)) = 4 */
    assert_int_equal(km.k, 4);
    rs_kmeans_cleanup(&km);
    free(v);
}

static void test_kmeans_k_at_least_n(void **state)
{
    rng_t r = {11};
    size_t n = 5, dim = 6;
    float *v = random_set(&r, n, dim);
    rs_kmeans_opts_t o = {.k = 9, .seed = 1};
    rs_kmeans_t km;
    rs_vecset_kmeans(v, n, dim, &o, &km);
    assert_int_equal(km.k, n);
    int seen[5] = {0};
    for (size_t c = 0; c < km.k; c++) {
        assert_int_equal(km.sizes[c], 1);
        assert_int_equal(km.assign[km.rep[c]], c);
        seen[km.rep[c]]++;
    }
    for (size_t i = 0; i < n; i++)
        assert_int_equal(seen[i], 1);
    rs_kmeans_cleanup(&km);
    free(v);
}

static void test_kmeans_duplicates(void **state)
{
    /* Two distinct vectors, three copies each: at most two clusters, never an empty one. */
    float v[] = {1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1};
    rs_kmeans_opts_t o = {.k = 4, .seed = 8};
    rs_kmeans_t km;
    rs_vecset_kmeans(v, 6, 2, &o, &km);
    assert_int_equal(km.k, 2);
    assert_int_equal(km.sizes[0], 3);
    assert_int_equal(km.sizes[1], 3);
    for (size_t i = 0; i < 6; i++)
        assert_int_equal(km.assign[i], km.assign[i % 2]);
    assert_int_equal(km.rep[km.assign[0]], 0); /* ties: the lowest index represents */
    assert_int_equal(km.rep[km.assign[1]], 1);
    rs_kmeans_cleanup(&km);
    /* All identical: one cluster. */
    float same[] = {0.6f, 0.8f, 0.6f, 0.8f, 0.6f, 0.8f};
    rs_vecset_kmeans(same, 3, 2, &o, &km);
    assert_int_equal(km.k, 1);
    assert_int_equal(km.sizes[0], 3);
    rs_kmeans_cleanup(&km);
    /* Zero vectors (empty texts) among real ones do not break anything. */
    float zeros[] = {0, 0, 1, 0, 0, 0, 0, 1, 1, 0};
    o.k = 3;
    rs_vecset_kmeans(zeros, 5, 2, &o, &km);
    size_t total = 0;
    for (size_t c = 0; c < km.k; c++)
        total += km.sizes[c];
    assert_int_equal(total, 5);
    for (size_t c = 0; c < km.k; c++)
        assert_true(km.sizes[c] >= 1);
    rs_kmeans_cleanup(&km);
    /* Empty set. */
    rs_vecset_kmeans(v, 0, 2, &o, &km);
    assert_int_equal(km.k, 0);
    assert_null(km.assign);
    rs_kmeans_cleanup(&km);
}

static void test_kmeans_examples_and_max_iter(void **state)
{
    rng_t r = {3};
    size_t per = 20, n = 3 * per, dim = 12;
    float *v = blobs(&r, per, dim, 0.2);
    rs_kmeans_opts_t o = {.k = 3, .seed = 2, .max_iter = 1};
    rs_kmeans_t km;
    rs_vecset_kmeans(v, n, dim, &o, &km);
    assert_int_equal(km.iterations, 1);
    assert_false(km.converged); /* the first round moves everything */
    for (size_t c = 0; c < km.k; c++) {
        size_t ex[50];
        size_t got = rs_kmeans_examples(&km, v, c, ex, 5);
        assert_int_equal(got, km.sizes[c] < 5 ? km.sizes[c] : 5);
        assert_int_equal(ex[0], km.rep[c]);
        const float *cen = km.centroids + c * dim;
        for (size_t q = 0; q < got; q++) {
            assert_int_equal(km.assign[ex[q]], c);
            if (q > 0)
                assert_true(dot_d(v + ex[q - 1] * dim, cen, dim) >=
                            dot_d(v + ex[q] * dim, cen, dim) - 1e-6);
        }
        assert_int_equal(rs_kmeans_examples(&km, v, c, ex, 50), km.sizes[c]);
    }
    size_t ex[1];
    assert_int_equal(rs_kmeans_examples(&km, v, km.k, ex, 1), 0);
    rs_kmeans_cleanup(&km);
    free(v);
}

/* ---- near duplicates ---- */

static int has_pair(const rs_dups_t *d, size_t i, size_t j)
{
    for (size_t p = 0; p < d->n_pairs; p++)
        if (d->pairs[p].i == i && d->pairs[p].j == j) return 1;
    return 0;
}

static void assert_sorted_above(const rs_dups_t *d, float threshold)
{
    for (size_t p = 0; p < d->n_pairs; p++) {
        const rs_dup_pair_t *x = &d->pairs[p];
        assert_true(x->i < x->j && x->sim >= threshold);
        if (p == 0) continue;
        const rs_dup_pair_t *w = &d->pairs[p - 1];
        assert_true(w->sim > x->sim ||
                    (w->sim == x->sim && (w->i < x->i || (w->i == x->i && w->j < x->j))));
    }
}

static void test_near_dups_planted(void **state)
{
    rng_t r = {17};
    size_t n = 300, dim = 64;
    float *v = random_set(&r, n, dim);
    memcpy(v + 200 * dim, v + 10 * dim, dim * sizeof(float)); /* exact copy */
    /* a near copy */
    for (size_t d = 0; d < dim; d++)
        v[51 * dim + d] = v[50 * dim + d] + (float)(0.05 * rng_normal(&r) / sqrt((double)dim));
    rs_l2_normalize(v + 51 * dim, dim);
    rs_dups_t d;
    rs_vecset_near_dups(v, n, dim, 0.95f, 100, &d);
    assert_int_equal(d.total, 2);
    assert_int_equal(d.n_pairs, 2);
    assert_true(d.pairs[0].i == 10 && d.pairs[0].j == 200 && d.pairs[0].sim > 0.9999f);
    assert_true(d.pairs[1].i == 50 && d.pairs[1].j == 51);
    assert_sorted_above(&d, 0.95f);
    rs_dups_cleanup(&d);
    /* A threshold above the near copy's similarity drops it. */
    rs_vecset_near_dups(v, n, dim, 0.99999f, 100, &d);
    assert_int_equal(d.total, 1);
    assert_true(has_pair(&d, 10, 200));
    rs_dups_cleanup(&d);
    free(v);
}

/* The blocked sgemm result against a naive double loop in double precision, over 700 vectors (two
 * row blocks: 0..511 and 512..699). Pairs within 1e-5 of the threshold may go either way. */
static void test_near_dups_vs_naive(void **state)
{
    rng_t r = {23};
    size_t n = 700, dim = 48;
    const float t = 0.3f, eps = 1e-5f;
    float *v = random_set(&r, n, dim);
    rs_dups_t d;
    rs_vecset_near_dups(v, n, dim, t, SIZE_MAX, &d);
    assert_sorted_above(&d, t);
    assert_int_equal(d.n_pairs, d.total);
    size_t sure = 0, maybe = 0, cross = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++) {
            double s = dot_d(v + i * dim, v + j * dim, dim);
            sure += s >= t + eps;
            maybe += s >= t - eps && s < t + eps;
        }
    assert_true(d.total >= sure && d.total <= sure + maybe);
    for (size_t p = 0; p < d.n_pairs; p++) {
        const rs_dup_pair_t *x = &d.pairs[p];
        double s = dot_d(v + x->i * dim, v + x->j * dim, dim);
        if (fabs(s - x->sim) > eps) fail_msg("pair %zu,%zu: %.7f vs %.7f", x->i, x->j, x->sim, s);
        cross += x->i < 512 && x->j >= 512;
    }
    print_message("%zu pairs >= %.2f, %zu across the block boundary\n", d.total, t, cross);
    assert_true(cross > 0 && d.total > 1000);
    rs_dups_cleanup(&d);
    free(v);
}

static void test_near_dups_cap(void **state)
{
    rng_t r = {29};
    size_t n = 600, dim = 32;
    float *v = random_set(&r, n, dim);
    rs_dups_t all, top, none;
    rs_vecset_near_dups(v, n, dim, 0.25f, SIZE_MAX, &all);
    rs_vecset_near_dups(v, n, dim, 0.25f, 100, &top);
    rs_vecset_near_dups(v, n, dim, 0.25f, 0, &none);
    assert_true(all.total > 100);
    assert_int_equal(top.total, all.total);
    assert_int_equal(top.n_pairs, 100);
    for (size_t p = 0; p < 100; p++) /* the best 100 */
        assert_true(top.pairs[p].i == all.pairs[p].i && top.pairs[p].j == all.pairs[p].j &&
                    top.pairs[p].sim == all.pairs[p].sim);
    assert_int_equal(none.total, all.total);
    assert_int_equal(none.n_pairs, 0);
    assert_null(none.pairs);
    rs_dups_cleanup(&all);
    rs_dups_cleanup(&top);
    rs_dups_cleanup(&none);
    free(v);
    /* Equal similarities: the cap keeps the lowest (i, j). */
    float same[10 * 4] = {0};
    for (int i = 0; i < 10; i++)
        same[i * 4] = 1;
    rs_vecset_near_dups(same, 10, 4, 0.5f, 5, &top);
    assert_int_equal(top.total, 45);
    for (size_t p = 0; p < 5; p++)
        assert_true(top.pairs[p].i == 0 && top.pairs[p].j == p + 1);
    rs_dups_cleanup(&top);
    /* Fewer than two vectors. */
    rs_vecset_near_dups(same, 1, 4, 0.5f, 5, &top);
    assert_true(top.total == 0 && top.n_pairs == 0);
    rs_dups_cleanup(&top);
}

/* The dataset-wide pass at its benchmark size: 10,000 x 256 with 20 planted copies. */
static void test_near_dups_10k(void **state)
{
    rng_t r = {31};
    size_t n = 10000, dim = 256;
    float *v = random_set(&r, n, dim);
    for (size_t p = 0; p < 20; p++)
        memcpy(v + (p * 499 + 7) * dim, v + (p * 487 + 3) * dim, dim * sizeof(float));
    rs_dups_t d;
    double t0 = rs_mono_sec();
    rs_vecset_near_dups(v, n, dim, 0.9f, 1000, &d);
    double dt = rs_mono_sec() - t0;
    print_message("near-duplicates over %zu x %zu: %.3f s, %zu pairs\n", n, dim, dt, d.total);
    assert_int_equal(d.total, 20);
    for (size_t p = 0; p < 20; p++)
        assert_true(has_pair(&d, p * 487 + 3, p * 499 + 7));
#ifndef __SANITIZE_ADDRESS__ /* instrumented code is slower: time only real builds */
    assert_true(dt < 5);
#endif
    rs_dups_cleanup(&d);
    free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kmeans_blobs),
        cmocka_unit_test(test_kmeans_deterministic),
        cmocka_unit_test(test_kmeans_k1_and_auto),
        cmocka_unit_test(test_kmeans_k_at_least_n),
        cmocka_unit_test(test_kmeans_duplicates),
        cmocka_unit_test(test_kmeans_examples_and_max_iter),
        cmocka_unit_test(test_near_dups_planted),
        cmocka_unit_test(test_near_dups_vs_naive),
        cmocka_unit_test(test_near_dups_cap),
        cmocka_unit_test(test_near_dups_10k),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
