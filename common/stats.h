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

#endif
