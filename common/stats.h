/* stats: the statistics a report needs, checked in unit tests against published values. */
#ifndef RS_STATS_H
#define RS_STATS_H

#include <stddef.h>
#include <stdint.h>

/* Wilson score interval for k successes in n trials at normal quantile z (1.959964 for 95%).
 * n == 0 gives [0, 1]. */
void rs_wilson(uint64_t k, uint64_t n, double z, double *lo, double *hi);

/* The normal quantile for a two-sided 95% interval. */
#define RS_Z95 1.959963984540054

/* McNemar's test for paired binary outcomes (A and B graded on the same cases). b = cases where
 * only A is correct, c = cases where only B is correct; the concordant cases carry no information.
 *   exact_p: two-sided exact binomial p-value, min(1, 2 * P(X <= min(b, c))), X ~ Bin(b + c, 1/2),
 *            summed in log space from the largest term down, so b + c in the millions is fine;
 *   chi2:    (max(|b - c| - 1, 0))^2 / (b + c), the statistic with continuity correction;
 *   chi2_p:  its p-value on one degree of freedom, erfc(sqrt(chi2 / 2)).
 * b + c == 0 gives exact_p = chi2_p = 1 and chi2 = 0. */
typedef struct rs_mcnemar {
    double exact_p;
    double chi2;
    double chi2_p;
} rs_mcnemar_t;

void rs_mcnemar(uint64_t b, uint64_t c, rs_mcnemar_t *out);

/* Cohen's kappa for two raters on a binary label, from the 2x2 confusion matrix:
 * yy = both yes, yn = first yes / second no, ny = first no / second yes, nn = both no.
 * kappa = (po - pe) / (1 - pe), po the observed and pe the chance agreement from the marginals.
 * Undefined (NaN) when there are no items or pe == 1 (both raters gave one same label to all). */
double rs_cohen_kappa(uint64_t yy, uint64_t yn, uint64_t ny, uint64_t nn);

/* Area under the ROC curve of scores against binary labels (nonzero = positive): the probability
 * that a random positive scores above a random negative, ties counting 1/2 (the Mann-Whitney U
 * statistic over n_pos * n_neg). O(n log n): one sorted copy of the pairs. NaN when there are no
 * positives or no negatives. Scores must not be NaN. */
double rs_auroc(const double *scores, const int *labels, size_t n);

/* Percentile p (0..100, clamped) with linear interpolation between closest ranks: for the sorted
 * values x[0..n-1] and h = (n - 1) * p / 100, the result is
 *   x[floor h] + (h - floor h) * (x[floor h + 1] - x[floor h])
 * (Hyndman & Fan type 7: NumPy's and R's default, Excel's PERCENTILE.INC). NaN when n == 0.
 * rs_percentile sorts a private copy; rs_percentile_sorted needs xs ascending and no memory. */
double rs_percentile(const double *xs, size_t n, double p);
double rs_percentile_sorted(const double *xs, size_t n, double p);

/* Arithmetic mean (NaN when n == 0) and sample standard deviation with the n - 1 denominator
 * (0 when n < 2), both by Welford's one-pass update, which keeps precision when the mean is large
 * against the spread. */
double rs_mean(const double *xs, size_t n);
double rs_stddev(const double *xs, size_t n);

/* Unbiased pass@k (Chen et al. 2021, "Evaluating Large Language Models Trained on Code"): for n
 * samples of which c are correct, the probability that k samples drawn without replacement hold
 * at least one correct one, 1 - C(n - c, k) / C(n, k). Computed as
 *   1 - prod_{i = n-c+1}^{n} (1 - k / i),
 * the same quotient without factorials, so n in the millions neither overflows nor loses digits.
 * c > n is clamped to n. k == 0 or k > n gives NaN; otherwise c == 0 gives exactly 0, and
 * n - c < k (every k samples hold a correct one) exactly 1. */
double rs_pass_at_k(uint64_t n, uint64_t c, uint64_t k);

/* A difference with its interval, lo <= diff <= hi (diff NaN when there is no data). */
typedef struct rs_paired_diff {
    double diff, lo, hi;
} rs_paired_diff_t;

/* The difference p1 - p2 of two proportions measured on the same n cases, with the hybrid score
 * interval of Newcombe (1998, Statistics in Medicine 17:2635, method 10). a = cases both got
 * right, b = only the first, c = only the second, d = neither; n = a + b + c + d,
 * p1 = (a + b) / n, p2 = (a + c) / n, diff = (b - c) / n. With (l1, u1) and (l2, u2) the Wilson
 * intervals of p1 and p2 (rs_wilson at the same z), clamped to [-1, 1]:
 *   lo = diff - sqrt((p1 - l1)^2 - 2 phi (p1 - l1)(u2 - p2) + (u2 - p2)^2)
 *   hi = diff + sqrt((u1 - p1)^2 - 2 phi (u1 - p1)(p2 - l2) + (p2 - l2)^2)
 * phi estimates the correlation of the two outcomes. With D = ad - bc and
 * M = (a+b)(c+d)(a+c)(b+d): phi = max(D - n/2, 0) / sqrt(M) when D > 0, D / sqrt(M) otherwise,
 * and 0 when M == 0. That is Newcombe's definition: the n/2 term shrinks a positive correlation
 * (which would narrow the interval), and with it the method reproduces the published values
 * (Fagerland, Lydersen and Laake, "Statistical Analysis of Contingency Tables", 2017, ch. 8),
 * which the plain phi coefficient misses. n == 0 gives diff NaN, lo -1, hi 1. Swapping b and c
 * negates diff and mirrors the interval. */
void rs_newcombe_paired(uint64_t a, uint64_t b, uint64_t c, uint64_t d, double z,
                        rs_paired_diff_t *out);

/* Holm's step-down adjustment of n p-values for multiple comparisons: with p sorted ascending,
 * adj_(i) = max over j <= i of min(1, (n - j) p_(j)) (0-based), written to adj in the order of p.
 * Each adjusted value is at least its raw value, at most 1, and the adjusted values keep the order
 * of the raw ones. A NaN p-value counts as 1 (a comparison that could not be made still counts
 * among the n, and is never significant). adj must not overlap p. Allocates a private index. */
void rs_holm(const double *p, size_t n, double *adj);

/* The sums of one cluster of observations x (cases of one passage, epochs of one case): s = sum of
 * x, q = sum of x^2, m = how many. */
typedef struct rs_cluster_sum {
    double s, q;
    uint64_t m;
} rs_cluster_sum_t;

/* Clustered standard error of the mean of all observations (Miller 2024, "Adding Error Bars to
 * Evals", section on clustered standard errors). With n = sum of m, mean = sum of s / n,
 * e_i = x_i - mean and s^2 = sum e_i^2 / (n - 1):
 *   SE^2 = s^2 / n + (1 / n^2) sum over clusters of sum_{i != j in the cluster} e_i e_j
 *        = s^2 / n + (1 / n^2) sum over clusters of [(sum e_i)^2 - sum e_i^2],
 * computed from the sums alone: sum e_i = s - m mean, sum e_i^2 = q - 2 mean s + m mean^2. Clusters
 * of one observation add nothing, so all-singleton clusters give the plain SE sqrt(s^2 / n).
 * A variance that rounding makes slightly negative counts as 0. Writes the mean to *mean unless
 * mean is NULL (NaN when n == 0). n < 2 gives NaN. */
double rs_clustered_se(const rs_cluster_sum_t *clusters, size_t g, double *mean);

/* The mean of paired differences d_i (one score minus the other, per case and epoch; the clusters
 * carry sums of d_i and d_i^2) with the interval mean +- z * rs_clustered_se, clamped to [-1, 1]
 * (differences of scores in [0, 1]). n == 0 gives diff NaN, lo -1, hi 1; n == 1 (no SE) gives the
 * difference with lo -1, hi 1. */
void rs_clustered_diff(const rs_cluster_sum_t *clusters, size_t g, double z, rs_paired_diff_t *out);

#endif
