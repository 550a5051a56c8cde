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

double rs_pass_at_k(uint64_t n, uint64_t c, uint64_t k)
{
    if (c > n) c = n;
    if (k == 0 || k > n) return NAN;
    if (c == 0) return 0;
    if (n - c < k) return 1;
    /* C(n-c, k) / C(n, k) = prod_{i=n-c+1}^{n} (i - k) / i: every factor is in (0, 1) */
    double miss = 1, kk = (double)k;
    for (uint64_t i = n - c + 1; i <= n; i++)
        miss *= 1 - kk / (double)i;
    return 1 - miss;
}

/* Newcombe's phi: the phi coefficient of the 2x2 table, with n/2 taken off a positive ad - bc. */
static double newcombe_phi(double a, double b, double c, double d)
{
    double m = (a + b) * (c + d) * (a + c) * (b + d);
    if (m == 0) return 0;
    double num = a * d - b * c;
    if (num > 0) num = fmax(num - (a + b + c + d) / 2, 0);
    return num / sqrt(m);
}

/* One side of the square-and-add: the two distances combined with correlation phi. */
static double square_and_add(double x, double y, double phi)
{
    return sqrt(fmax(x * x - 2 * phi * x * y + y * y, 0));
}

void rs_newcombe_paired(uint64_t a, uint64_t b, uint64_t c, uint64_t d, double z,
                        rs_paired_diff_t *out)
{
    uint64_t n = a + b + c + d;
    if (n == 0) {
        *out = (rs_paired_diff_t){NAN, -1, 1};
        return;
    }
    double nn = (double)n, p1 = (double)(a + b) / nn, p2 = (double)(a + c) / nn;
    double l1, u1, l2, u2;
    rs_wilson(a + b, n, z, &l1, &u1);
    rs_wilson(a + c, n, z, &l2, &u2);
    double phi = newcombe_phi((double)a, (double)b, (double)c, (double)d);
    out->diff = ((double)b - (double)c) / nn;
    /* exactly, lo >= l1 - u2 >= -1 and hi <= u1 - l2 <= 1 since |phi| <= 1: the clamps only keep
     * rounding from reaching past the bounds */
    out->lo = fmax(-1, out->diff - square_and_add(p1 - l1, u2 - p2, phi));
    out->hi = fmin(1, out->diff + square_and_add(u1 - p1, p2 - l2, phi));
}

typedef struct ranked {
    double p;
    size_t at;
} ranked_t;

/* ascending p, then input position, so ties keep one order on every platform */
static int cmp_ranked(const void *x, const void *y)
{
    const ranked_t *a = x, *b = y;
    if (a->p != b->p) return (a->p > b->p) - (a->p < b->p);
    return (a->at > b->at) - (a->at < b->at);
}

void rs_holm(const double *p, size_t n, double *adj)
{
    if (n == 0) return;
    ranked_t *r = rs_xmalloc(n * sizeof(*r));
    for (size_t i = 0; i < n; i++)
        r[i] = (ranked_t){isnan(p[i]) ? 1 : p[i], i};
    qsort(r, n, sizeof(*r), cmp_ranked);
    double running = 0;
    for (size_t j = 0; j < n; j++) {
        running = fmax(running, fmin(1, (double)(n - j) * r[j].p));
        adj[r[j].at] = running;
    }
    free(r);
}

double rs_clustered_se(const rs_cluster_sum_t *clusters, size_t g, double *mean)
{
    double n = 0, total = 0;
    for (size_t i = 0; i < g; i++) {
        n += (double)clusters[i].m;
        total += clusters[i].s;
    }
    double mu = n > 0 ? total / n : NAN;
    if (mean) *mean = mu;
    if (n < 2) return NAN;
    double sq = 0, cross = 0; /* sum e_i^2; sum over clusters of (sum e)^2 - sum e^2 */
    for (size_t i = 0; i < g; i++) {
        const rs_cluster_sum_t *c = &clusters[i];
        double e = c->s - (double)c->m * mu;
        double e2 = c->q - 2 * mu * c->s + (double)c->m * mu * mu;
        sq += e2;
        cross += e * e - e2;
    }
    double var = sq / (n - 1) / n + cross / (n * n);
    return sqrt(fmax(var, 0));
}

void rs_clustered_diff(const rs_cluster_sum_t *clusters, size_t g, double z, rs_paired_diff_t *out)
{
    double mean;
    double se = rs_clustered_se(clusters, g, &mean);
    *out = (rs_paired_diff_t){mean, -1, 1};
    if (isnan(se)) return;
    out->lo = fmax(-1, mean - z * se);
    out->hi = fmin(1, mean + z * se);
}
