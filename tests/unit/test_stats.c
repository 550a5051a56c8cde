/* test_stats: every statistic against published or independently computed values (exact
 * binomial sums computed with Python's integers and fractions, Wikipedia's kappa example,
 * NumPy's default percentile, scikit-learn's AUROC, Fagerland et al.'s paired-difference example,
 * R's p.adjust, Python transcriptions of pass@k and the clustered SE over raw values). */
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

/* Reference values from exact rationals, 1 - Fraction(comb(n - c, k), comb(n, k)) in Python. */
static void test_pass_at_k_known(void **state)
{
    assert_close(rs_pass_at_k(10, 3, 1), 0.3, 1e-12);
    assert_close(rs_pass_at_k(10, 3, 2), 0.5333333333333333, 1e-12);
    assert_close(rs_pass_at_k(10, 3, 5), 0.9166666666666666, 1e-12);
    assert_close(rs_pass_at_k(5, 1, 4), 0.8, 1e-12);
    assert_close(rs_pass_at_k(200, 17, 10), 0.5974489015799118, 1e-12);
    assert_close(rs_pass_at_k(2000, 3, 1000), 0.8751875937968985, 1e-12);
    /* pass@1 is the plain proportion c / n, also for n where factorials would overflow */
    assert_close(rs_pass_at_k(1000000, 10, 1), 1e-5, 1e-9);
    assert_close(rs_pass_at_k(3000000, 1234567, 1), 1234567.0 / 3000000, 1e-9);
}

static void test_pass_at_k_edges(void **state)
{
    assert_true(rs_pass_at_k(10, 0, 3) == 0);
    /* n - c = 2 < k: every 3 samples hold a correct one */
    assert_true(rs_pass_at_k(10, 8, 3) == 1);
    assert_true(rs_pass_at_k(10, 10, 10) == 1);
    assert_true(rs_pass_at_k(10, 15, 1) == 1); /* c clamped to n */
    assert_true(isnan(rs_pass_at_k(10, 3, 0)));
    assert_true(isnan(rs_pass_at_k(10, 3, 11)));
    assert_true(isnan(rs_pass_at_k(0, 0, 1)));
    assert_close(rs_pass_at_k(10, 7, 3), 1 - 1.0 / 120, 1e-12); /* n - c == k: C(3,3) / C(10,3) */
    for (uint64_t k = 1; k < 9; k++) /* more draws help, up to certainty at k = 9 > n - c */
        assert_true(rs_pass_at_k(10, 2, k + 1) > rs_pass_at_k(10, 2, k));
}

typedef struct newcombe_row {
    uint64_t a, b, c, d;
    double diff, lo, hi;
} newcombe_row_t;

/* The first row is published: Cavo et al. (2012) in Fagerland, Lydersen and Laake, "Statistical
 * Analysis of Contingency Tables" (2017), ch. 8: -0.0621 (95% CI -0.1186 to -0.0046). The plain phi
 * coefficient would give -0.1174 to -0.0059 there, so the row pins Newcombe's corrected phi. The
 * other rows come from this independent Python transcription of the method at z = RS_Z95:
 *   def wilson(k, n):
 *       p = k / n; d = 1 + z*z/n; c = (p + z*z/(2*n)) / d
 *       h = z / d * sqrt(p*(1-p)/n + z*z/(4*n*n))
 *       return (0 if k == 0 else c - h, 1 if k == n else c + h)
 *   def newcombe(a, b, c, d):
 *       n = a+b+c+d; p1 = (a+b)/n; p2 = (a+c)/n; l1, u1 = wilson(a+b, n); l2, u2 = wilson(a+c, n)
 *       m = (a+b)*(c+d)*(a+c)*(b+d); num = a*d - b*c
 *       if num > 0: num = max(num - n/2, 0)
 *       phi = 0 if m == 0 else num / sqrt(m); D = (b-c)/n
 *       lo = D - sqrt((p1-l1)**2 - 2*phi*(p1-l1)*(u2-p2) + (u2-p2)**2)
 *       hi = D + sqrt((u1-p1)**2 - 2*phi*(u1-p1)*(p2-l2) + (p2-l2)**2)
 *       return D, max(-1, lo), min(1, hi)
 * (Bentur et al. 2009, the book's other example, is the second row; its corrected phi is 0.) */
static const newcombe_row_t newcombe_rows[] = {
    {59, 6, 16, 80, -0.062111801242236024, -0.1186211956387099, -0.004625113933050054},
    {1, 1, 7, 12, -0.2857142857142857, -0.506920226686141, -0.02555912416485978},
    {12, 9, 2, 1, 0.2916666666666667, 0.031116124886461927, 0.5077759769557888},
    {36, 12, 2, 0, 0.2, 0.05692958400323875, 0.3404276029749407},
    {0, 0, 0, 5, 0, -0.43448246478317476, 0.43448246478317476},
    {0, 3, 0, 0, 1, 0.2059232824597783, 1},
};

static void test_newcombe_known(void **state)
{
    rs_paired_diff_t r;
    rs_newcombe_paired(59, 6, 16, 80, RS_Z95, &r);
    assert_true(fabs(r.diff + 0.0621) < 5e-5 && fabs(r.lo + 0.1186) < 5e-5 &&
                fabs(r.hi + 0.0046) < 5e-5);
    for (size_t i = 0; i < sizeof(newcombe_rows) / sizeof(newcombe_rows[0]); i++) {
        const newcombe_row_t *w = &newcombe_rows[i];
        rs_newcombe_paired(w->a, w->b, w->c, w->d, RS_Z95, &r);
        assert_close(r.diff, w->diff, 1e-12);
        assert_close(r.lo, w->lo, 1e-9);
        assert_close(r.hi, w->hi, 1e-9);
    }
}

static void test_newcombe_edges(void **state)
{
    rs_paired_diff_t r, s;
    rs_newcombe_paired(0, 0, 0, 0, RS_Z95, &r);
    assert_true(isnan(r.diff) && r.lo == -1 && r.hi == 1);
    rs_newcombe_paired(0, 40, 0, 0, RS_Z95, &r); /* all for the first: diff 1, never past 1 */
    assert_true(r.diff == 1 && r.hi == 1 && r.lo > 0.5);
    rs_newcombe_paired(0, 0, 40, 0, RS_Z95, &r);
    assert_true(r.diff == -1 && r.lo == -1 && r.hi < -0.5);
    /* swapping b and c negates diff and mirrors the interval */
    const uint64_t t[][4] = {{59, 6, 16, 80}, {1, 1, 7, 12}, {3, 0, 9, 0}, {100, 30, 21, 400}};
    for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
        rs_newcombe_paired(t[i][0], t[i][1], t[i][2], t[i][3], RS_Z95, &r);
        rs_newcombe_paired(t[i][0], t[i][2], t[i][1], t[i][3], RS_Z95, &s);
        assert_close(s.diff, -r.diff, 1e-12);
        assert_close(s.lo, -r.hi, 1e-12);
        assert_close(s.hi, -r.lo, 1e-12);
        assert_true(r.lo < r.diff && r.diff < r.hi);
    }
    /* a wider z widens the interval */
    rs_newcombe_paired(59, 6, 16, 80, 2.5758293035489004, &s);
    rs_newcombe_paired(59, 6, 16, 80, RS_Z95, &r);
    assert_true(s.lo < r.lo && s.hi > r.hi);
}

static void test_holm(void **state)
{
    /* by hand: sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 = 0.02, 0.03, 0.06, 0.04 -> 0.06 */
    const double p[] = {0.01, 0.04, 0.03, 0.005};
    const double want[] = {0.03, 0.06, 0.06, 0.02};
    double adj[5];
    rs_holm(p, 4, adj);
    for (size_t i = 0; i < 4; i++)
        assert_close(adj[i], want[i], 1e-12);
    /* R: p.adjust(c(0.01, 0.02, 0.03, 0.04, 0.05), "holm") */
    const double q[] = {0.05, 0.04, 0.03, 0.02, 0.01};
    const double want_q[] = {0.09, 0.09, 0.09, 0.08, 0.05};
    rs_holm(q, 5, adj);
    for (size_t i = 0; i < 5; i++)
        assert_close(adj[i], want_q[i], 1e-12);
    /* capped at 1; the later, larger p keeps the earlier cap */
    const double big[] = {0.7, 0.6};
    rs_holm(big, 2, adj);
    assert_true(adj[0] == 1 && adj[1] == 1);
    /* ties get the same value whatever their order */
    const double tie[] = {0.02, 0.01, 0.02};
    rs_holm(tie, 3, adj);
    assert_close(adj[0], 0.04, 1e-12);
    assert_close(adj[1], 0.03, 1e-12);
    assert_close(adj[2], 0.04, 1e-12);
    /* NaN counts as 1 and still counts among the n */
    const double withnan[] = {0.01, NAN, 0.02};
    rs_holm(withnan, 3, adj);
    assert_close(adj[0], 0.03, 1e-12);
    assert_true(adj[1] == 1);
    assert_close(adj[2], 0.04, 1e-12);
    rs_holm(p, 1, adj);
    assert_close(adj[0], 0.01, 1e-12);
    rs_holm(p, 0, NULL);
}

/* Pseudo-random p-values: adjusted >= raw, <= 1, and in the same order as the raw ones. */
static void test_holm_monotone(void **state)
{
    enum { N = 200 };
    static double p[N], adj[N];
    uint64_t x = 0x9e3779b97f4a7c15u;
    for (size_t i = 0; i < N; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        p[i] = (double)(x % 1000) / 1e4; /* 0 .. 0.1 in 1000 steps: some ties, some capped at 1 */
    }
    rs_holm(p, N, adj);
    for (size_t i = 0; i < N; i++) {
        assert_true(adj[i] >= p[i] && adj[i] <= 1);
        for (size_t j = 0; j < N; j++)
            if (p[i] < p[j])
                assert_true(adj[i] <= adj[j]);
            else if (p[i] == p[j])
                assert_true(adj[i] == adj[j]);
    }
}

static rs_cluster_sum_t cluster_of(const double *x, uint64_t m)
{
    rs_cluster_sum_t c = {0, 0, m};
    for (uint64_t i = 0; i < m; i++) {
        c.s += x[i];
        c.q += x[i] * x[i];
    }
    return c;
}

/* Reference: the definition over raw values with exact fractions in Python,
 *   m = Fraction(sum(xs)) / n; s2 = sum((x - m)**2 for x in xs) / (n - 1)
 *   cross = sum((xi - m) * (xj - m) for c in clusters for i, xi in enumerate(c)
 *               for j, xj in enumerate(c) if i != j)
 *   se = sqrt(s2 / n + cross / n**2)  */
static void test_clustered_se_known(void **state)
{
    const double a[] = {1, 1, 1}, b[] = {0, 0}, c[] = {1, 0};
    rs_cluster_sum_t cl[] = {cluster_of(a, 3), cluster_of(b, 2), cluster_of(c, 2)};
    double mean = 0;
    assert_close(rs_clustered_se(cl, 3, &mean), 0.2581451151157861, 1e-12);
    assert_close(mean, 4.0 / 7, 1e-12);
    const double d[] = {1, 1, 1, 1}, e[] = {0, 0, 0}, f[] = {1, 0}, g[] = {1};
    rs_cluster_sum_t cl2[] = {cluster_of(d, 4), cluster_of(e, 3), cluster_of(f, 2),
                              cluster_of(g, 1)};
    assert_close(rs_clustered_se(cl2, 4, NULL), 0.2503331114069145, 1e-12);
    /* differences in [-1, 1], negatively correlated within clusters: smaller than the plain SE */
    const double h[] = {1, -1, 0}, i[] = {1, 1}, j[] = {0}, k[] = {-1, 0, 0, 1};
    rs_cluster_sum_t cl3[] = {cluster_of(h, 3), cluster_of(i, 2), cluster_of(j, 1),
                              cluster_of(k, 4)};
    assert_close(rs_clustered_se(cl3, 4, &mean), 0.20548046676563256, 1e-12);
    assert_close(mean, 0.2, 1e-12);
    rs_paired_diff_t r;
    rs_clustered_diff(cl3, 4, RS_Z95, &r);
    assert_close(r.diff, 0.2, 1e-12);
    assert_close(r.lo, 0.2 - RS_Z95 * 0.20548046676563256, 1e-12);
    assert_close(r.hi, 0.2 + RS_Z95 * 0.20548046676563256, 1e-12);
}

static void test_clustered_se_singletons(void **state)
{
    /* one observation per cluster: the plain standard error of the mean, sd / sqrt(n) */
    const double xs[] = {1, 0, 1, 1, 0, 0.25, 0.75, 1, 0, 0.5};
    rs_cluster_sum_t cl[10];
    for (size_t i = 0; i < 10; i++)
        cl[i] = cluster_of(&xs[i], 1);
    double mean = 0;
    assert_close(rs_clustered_se(cl, 10, &mean), rs_stddev(xs, 10) / sqrt(10), 1e-12);
    assert_close(mean, rs_mean(xs, 10), 1e-12);
    /* one cluster of everything adds (sum e)^2 - sum e^2 = -(n - 1) s^2, which leaves SE = s / n */
    rs_cluster_sum_t all = cluster_of(xs, 10);
    assert_close(rs_clustered_se(&all, 1, NULL), rs_stddev(xs, 10) / 10, 1e-9);
}

static void test_clustered_se_edges(void **state)
{
    double mean = 0;
    rs_cluster_sum_t none = {0, 0, 0};
    assert_true(isnan(rs_clustered_se(&none, 1, &mean)) && isnan(mean));
    assert_true(isnan(rs_clustered_se(NULL, 0, &mean)) && isnan(mean));
    rs_cluster_sum_t one = {0.75, 0.5625, 1};
    assert_true(isnan(rs_clustered_se(&one, 1, &mean)));
    assert_true(mean == 0.75);
    rs_paired_diff_t r;
    rs_clustered_diff(NULL, 0, RS_Z95, &r);
    assert_true(isnan(r.diff) && r.lo == -1 && r.hi == 1);
    rs_cluster_sum_t neg = {-0.5, 0.25, 1};
    rs_clustered_diff(&neg, 1, RS_Z95, &r);
    assert_true(r.diff == -0.5 && r.lo == -1 && r.hi == 1);
    /* identical values: rounding leaves the variance at about -2e-19, which must read as 0 */
    const double tenth[] = {0.1, 0.1, 0.1};
    rs_cluster_sum_t same = cluster_of(tenth, 3);
    assert_true(rs_clustered_se(&same, 1, NULL) == 0);
    rs_clustered_diff(&same, 1, RS_Z95, &r);
    assert_true(r.lo == r.diff && r.hi == r.diff);
    /* a wide interval stays inside [-1, 1] */
    const double pm[] = {1, -1}, ones[] = {1, 1};
    rs_cluster_sum_t wide[] = {cluster_of(pm, 2), cluster_of(ones, 2)};
    rs_clustered_diff(wide, 2, RS_Z95, &r);
    assert_true(r.hi == 1 && r.lo > -1 && r.lo < 0.5);
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
        cmocka_unit_test(test_pass_at_k_known),
        cmocka_unit_test(test_pass_at_k_edges),
        cmocka_unit_test(test_newcombe_known),
        cmocka_unit_test(test_newcombe_edges),
        cmocka_unit_test(test_holm),
        cmocka_unit_test(test_holm_monotone),
        cmocka_unit_test(test_clustered_se_known),
        cmocka_unit_test(test_clustered_se_singletons),
        cmocka_unit_test(test_clustered_se_edges),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
