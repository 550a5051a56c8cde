/* stats: interval estimates, paired tests, agreement and ranking measures for the reports.
 * Pure functions of their inputs; every contract (definition, edge cases) is in stats.h. */
#include "stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

void rs_wilson(uint64_t k, uint64_t n, double z, double *lo, double *hi)
{
    if (n == 0) {
        *lo = 0;
        *hi = 1;
        return;
    }
    if (k > n) k = n;
    double nn = (double)n, p = (double)k / nn, z2 = z * z;
    double denom = 1 + z2 / nn;
    double centre = (p + z2 / (2 * nn)) / denom;
    double half = z / denom * sqrt(p * (1 - p) / nn + z2 / (4 * nn * nn));
    /* the bounds are exactly 0 and 1 at the edges; rounding must not push them past */
    *lo = k == 0 ? 0 : fmax(0, centre - half);
    *hi = k == n ? 1 : fmin(1, centre + half);
}

/* P(X <= k) for X ~ Bin(n, 1/2), 2k + 1 < n. The largest term, at i = k, comes from lgamma; the
 * rest follow by the ratio t(i-1) / t(i) = i / (n - i + 1) < 1, summed until they stop mattering,
 * so nothing under- or overflows however large n is. */
static double binom_half_cdf(uint64_t k, uint64_t n)
{
    double nn = (double)n, kk = (double)k;
    double log_top = lgamma(nn + 1) - lgamma(kk + 1) - lgamma(nn - kk + 1) - nn * log(2.0);
    double sum = 1, term = 1;
    for (uint64_t i = k; i > 0; i--) {
        term *= (double)i / (nn - (double)i + 1);
        sum += term;
        if (term < sum * 1e-17) break;
    }
    return exp(log_top + log(sum));
}

void rs_mcnemar(uint64_t b, uint64_t c, rs_mcnemar_t *out)
{
    uint64_t n = b + c, k = b < c ? b : c;
    out->exact_p = 1;
    out->chi2 = 0;
    out->chi2_p = 1;
    if (n == 0) return;
    /* by symmetry P(X <= k) >= 1/2 once 2k + 1 >= n: the p-value is exactly 1 */
    if (2 * k + 1 < n) out->exact_p = fmin(1, 2 * binom_half_cdf(k, n));
    double diff = fmax(fabs((double)b - (double)c) - 1, 0);
    out->chi2 = diff * diff / (double)n;
    out->chi2_p = erfc(sqrt(out->chi2 / 2));
}

double rs_cohen_kappa(uint64_t yy, uint64_t yn, uint64_t ny, uint64_t nn)
{
    double n = (double)yy + (double)yn + (double)ny + (double)nn;
    if (n == 0) return NAN;
    double po = ((double)yy + (double)nn) / n;
    double first_yes = ((double)yy + (double)yn) / n, second_yes = ((double)yy + (double)ny) / n;
    double pe = first_yes * second_yes + (1 - first_yes) * (1 - second_yes);
    if (pe >= 1) return NAN;
    return (po - pe) / (1 - pe);
}

typedef struct scored {
    double score;
    int positive;
} scored_t;

static int cmp_scored(const void *a, const void *b)
{
    double x = ((const scored_t *)a)->score, y = ((const scored_t *)b)->score;
    return (x > y) - (x < y);
}

double rs_auroc(const double *scores, const int *labels, size_t n)
{
    scored_t *v = rs_xmalloc(n * sizeof(*v));
    double n_pos = 0;
    for (size_t i = 0; i < n; i++) {
        v[i].score = scores[i];
        v[i].positive = labels[i] != 0;
        n_pos += v[i].positive;
    }
    double n_neg = (double)n - n_pos;
    qsort(v, n, sizeof(*v), cmp_scored);
    /* U = sum over positives of (negatives scored below) + 1/2 (negatives tied with it) */
    double u = 0, neg_below = 0;
    for (size_t i = 0; i < n;) {
        double gp = 0, gn = 0;
        size_t j = i;
        for (; j < n && v[j].score == v[i].score; j++)
            v[j].positive ? gp++ : gn++;
        u += gp * neg_below + 0.5 * gp * gn;
        neg_below += gn;
        i = j;
    }
    free(v);
    if (n_pos == 0 || n_neg == 0) return NAN;
    return u / (n_pos * n_neg);
}

double rs_percentile_sorted(const double *xs, size_t n, double p)
{
    if (n == 0) return NAN;
    p = fmin(100, fmax(0, p));
    double h = (double)(n - 1) * p / 100;
    size_t lo = (size_t)floor(h);
    if (lo + 1 >= n) return xs[n - 1];
    return xs[lo] + (h - (double)lo) * (xs[lo + 1] - xs[lo]);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double rs_percentile(const double *xs, size_t n, double p)
{
    if (n == 0) return NAN;
    double *copy = rs_xmalloc(n * sizeof(*copy));
    memcpy(copy, xs, n * sizeof(*copy));
    qsort(copy, n, sizeof(*copy), cmp_double);
    double r = rs_percentile_sorted(copy, n, p);
    free(copy);
    return r;
}

/* Welford's update: mean and the sum of squared deviations in one pass. */
static void welford(const double *xs, size_t n, double *mean, double *m2)
{
    double m = 0, s = 0;
    for (size_t i = 0; i < n; i++) {
        double d = xs[i] - m;
        m += d / (double)(i + 1);
        s += d * (xs[i] - m);
    }
    *mean = m;
    *m2 = s;
}

double rs_mean(const double *xs, size_t n)
{
    if (n == 0) return NAN;
    double m, m2;
    welford(xs, n, &m, &m2);
    return m;
}

double rs_stddev(const double *xs, size_t n)
{
    if (n < 2) return 0;
    double m, m2;
    welford(xs, n, &m, &m2);
    return sqrt(m2 / (double)(n - 1));
}
