/* test_stats: every statistic against published or independently computed values (exact
 * binomial sums computed with Python's integers and fractions, Wikipedia's kappa example,
 * NumPy's default percentile, scikit-learn's AUROC). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "stats.h"

static void assert_close(double got, double want, double rel)
{
    double tol = rel * fmax(fabs(want), 1e-300);
    if (!(fabs(got - want) <= tol)) fail_msg("got %.17g, want %.17g (rel %g)", got, want, rel);
}

static void test_wilson_known(void **state)
{
    double lo, hi;
    rs_wilson(81, 263, RS_Z95, &lo, &hi);
    assert_close(lo, 0.2552885198782742, 1e-12);
    assert_close(hi, 0.36620957698280004, 1e-12);
    assert_true(fabs(lo - 0.2553) < 5e-5 && fabs(hi - 0.3662) < 5e-5);
}

static void test_wilson_edges(void **state)
{
    double lo, hi;
    rs_wilson(0, 10, RS_Z95, &lo, &hi);
    assert_true(lo == 0);
    assert_close(hi, 0.2775327998628892, 1e-12);
    rs_wilson(10, 10, RS_Z95, &lo, &hi);
    assert_close(lo, 0.7224672001371107, 1e-12);
    assert_true(hi == 1);
    rs_wilson(0, 0, RS_Z95, &lo, &hi);
    assert_true(lo == 0 && hi == 1);
    rs_wilson(5, 10, RS_Z95, &lo, &hi); /* symmetric around 1/2 */
    assert_close(lo + hi, 1, 1e-12);
}

typedef struct mcnemar_row {
    uint64_t b, c;
    double exact_p, chi2, chi2_p;
} mcnemar_row_t;

/* exact_p: min(1, 2 * sum_{i<=min} C(n,i) / 2^n) with exact integers; chi2_p = erfc(sqrt(chi2/2)).
 */
static const mcnemar_row_t mcnemar_rows[] = {
    {10, 2, 0.03857421875, 49.0 / 12, 0.04330814281079198},
    {2, 10, 0.03857421875, 49.0 / 12, 0.04330814281079198},
    {400, 500, 0.0009564441369189461, 10.89, 0.000966848284767553},
    {3, 30, 1.4011748135089874e-06, 20.484848484848484, 6.010516284923227e-06},
    {0, 7, 0.015625, 36.0 / 7, 0.02334220201289082},
    {1000, 1100, 0.030720707864242296, 4.667142857142857, 0.03074503475899322},
    {25000, 25500, 0.02638245497559461, 4.930712871287128, 0.026383431559133128},
};

static void test_mcnemar_known(void **state)
{
    for (size_t i = 0; i < sizeof(mcnemar_rows) / sizeof(mcnemar_rows[0]); i++) {
        const mcnemar_row_t *r = &mcnemar_rows[i];
        rs_mcnemar_t m;
        rs_mcnemar(r->b, r->c, &m);
        assert_close(m.exact_p, r->exact_p, 1e-8);
        assert_close(m.chi2, r->chi2, 1e-12);
        assert_close(m.chi2_p, r->chi2_p, 1e-10);
    }
}

static void test_mcnemar_edges(void **state)
{
    rs_mcnemar_t m;
    rs_mcnemar(0, 0, &m);
    assert_true(m.exact_p == 1 && m.chi2 == 0 && m.chi2_p == 1);
    rs_mcnemar(7, 7, &m);
    assert_true(m.exact_p == 1 && m.chi2 == 0 && m.chi2_p == 1);
    rs_mcnemar(7, 8, &m); /* |b - c| - 1 = 0 */
    assert_true(m.exact_p == 1 && m.chi2 == 0);
    rs_mcnemar(0, 1, &m);
    assert_true(m.exact_p == 1);
    /* millions of discordant pairs: no overflow, agrees with the corrected normal test */
    rs_mcnemar(5000000, 5004000, &m);
    assert_true(m.exact_p > 0 && m.exact_p < 1);
    assert_close(m.exact_p, m.chi2_p, 1e-3);
    rs_mcnemar(0, 2000, &m); /* 2^-1999 underflows to 0, never NaN */
    assert_true(m.exact_p >= 0 && m.exact_p < 1e-300);
}

static void test_kappa(void **state)
{
    /* Wikipedia's examples: po = 0.7, pe = 0.5; po = 0.6, pe = 0.54 */
    assert_close(rs_cohen_kappa(20, 5, 10, 15), 0.4, 1e-12);
    assert_close(rs_cohen_kappa(45, 15, 25, 15), (0.6 - 0.54) / (1 - 0.54), 1e-12);
    assert_close(rs_cohen_kappa(10, 0, 0, 10), 1, 1e-12);
    assert_close(rs_cohen_kappa(0, 10, 10, 0), -1, 1e-12);
    assert_true(isnan(rs_cohen_kappa(0, 0, 0, 0)));
    assert_true(isnan(rs_cohen_kappa(9, 0, 0, 0)));
}

static void test_auroc_known(void **state)
{
    const double s1[] = {0.1, 0.4, 0.35, 0.8}; /* scikit-learn's roc_auc_score example */
    const int l1[] = {0, 0, 1, 1};
    assert_close(rs_auroc(s1, l1, 4), 0.75, 1e-12);
    const double tied[] = {3, 3, 3, 3, 3};
    const int l2[] = {1, 0, 1, 0, 0};
    assert_close(rs_auroc(tied, l2, 5), 0.5, 1e-12);
    const double perfect[] = {0.9, 0.1, 0.8, 0.2};
    const int l3[] = {1, 0, 1, 0};
    assert_close(rs_auroc(perfect, l3, 4), 1, 1e-12);
    const int l3r[] = {0, 1, 0, 1};
    assert_close(rs_auroc(perfect, l3r, 4), 0, 1e-12);
    const double partial[] = {0.5, 0.5, 0.9}; /* tie with the negative counts 1/2 */
    const int l4[] = {0, 1, 7};
    assert_close(rs_auroc(partial, l4, 3), 0.75, 1e-12);
    assert_true(isnan(rs_auroc(partial, (const int[]){0, 0, 0}, 3)));
    assert_true(isnan(rs_auroc(partial, (const int[]){1, 1, 1}, 3)));
    assert_true(isnan(rs_auroc(NULL, NULL, 0)));
}

/* O(n^2) pair counting as the reference for random data with many ties. */
static void test_auroc_bruteforce(void **state)
{
    enum { N = 600 };
    static double s[N];
    static int l[N];
    uint64_t x = 88172645463325252u;
    for (size_t i = 0; i < N; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        s[i] = (double)(x % 20);
        l[i] = (x >> 20) % 3 == 0;
    }
    double u = 0, pos = 0, neg = 0;
    for (size_t i = 0; i < N; i++) {
        pos += l[i], neg += !l[i];
        for (size_t j = 0; j < N; j++)
            if (l[i] && !l[j]) u += s[i] > s[j] ? 1 : s[i] == s[j] ? 0.5 : 0;
    }
    assert_close(rs_auroc(s, l, N), u / (pos * neg), 1e-12);
}

static void test_percentile(void **state)
{
    const double xs[] = {4, 1, 3, 2};
    assert_close(rs_percentile(xs, 4, 50), 2.5, 1e-12);
    assert_close(rs_percentile(xs, 4, 25), 1.75, 1e-12);
    assert_close(rs_percentile(xs, 4, 0), 1, 1e-12);
    assert_close(rs_percentile(xs, 4, 100), 4, 1e-12);
    assert_close(rs_percentile(xs, 4, 150), 4, 1e-12); /* clamped */
    assert_close(rs_percentile(xs, 4, -5), 1, 1e-12);
    const double ys[] = {15, 20, 35, 40, 50}; /* numpy.percentile(ys, 40) == 29 */
    assert_close(rs_percentile_sorted(ys, 5, 40), 29, 1e-12);
    assert_close(rs_percentile_sorted(ys, 5, 90), 46, 1e-12);
    assert_close(rs_percentile(ys, 1, 99), 15, 1e-12);
    assert_true(isnan(rs_percentile(xs, 0, 50)));
    assert_true(isnan(rs_percentile_sorted(xs, 0, 50)));
}

static void test_mean_stddev(void **state)
{
    const double xs[] = {2, 4, 4, 4, 5, 5, 7, 9};
    assert_close(rs_mean(xs, 8), 5, 1e-12);
    assert_close(rs_stddev(xs, 8), sqrt(32.0 / 7), 1e-12);
    const double big[] = {1e9 + 4, 1e9 + 7, 1e9 + 13, 1e9 + 16}; /* large mean, small spread */
    assert_close(rs_mean(big, 4), 1e9 + 10, 1e-15);
    assert_close(rs_stddev(big, 4), sqrt(30), 1e-9);
    assert_true(isnan(rs_mean(xs, 0)));
    assert_true(rs_stddev(xs, 1) == 0);
    assert_true(rs_stddev(xs, 0) == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wilson_known),
        cmocka_unit_test(test_wilson_edges),
        cmocka_unit_test(test_mcnemar_known),
        cmocka_unit_test(test_mcnemar_edges),
        cmocka_unit_test(test_kappa),
        cmocka_unit_test(test_auroc_known),
        cmocka_unit_test(test_auroc_bruteforce),
        cmocka_unit_test(test_percentile),
        cmocka_unit_test(test_mean_stddev),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
