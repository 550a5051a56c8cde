/* medoid: the consensus member of a set of embeddings, in O(n dim). */
#include "medoid.h"

#include <math.h>
#include <stdlib.h>

#include "util.h"

static double dot(const float *a, const float *b, size_t dim)
{
    double s = 0;
    for (size_t d = 0; d < dim; d++)
        s += (double)a[d] * b[d];
    return s;
}

size_t rs_medoid(const float *v, size_t n, size_t dim, double *totals)
{
    if (n == 0) return RS_MEDOID_NONE;
    double *sum = rs_xcalloc(dim, sizeof(double));
    for (size_t i = 0; i < n; i++)
        for (size_t d = 0; d < dim; d++)
            sum[d] += v[i * dim + d];
    double *t = totals ? totals : rs_xmalloc(n * sizeof(double));
    double best = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        const float *vi = v + i * dim;
        double s = -dot(vi, vi, dim);
        for (size_t d = 0; d < dim; d++)
            s += vi[d] * sum[d];
        t[i] = s;
        if (s > best) best = s;
    }
    size_t win = 0;
    while (t[win] < best - 1e-6 * (1 + fabs(best)))
        win++;
    if (!totals) free(t);
    free(sum);
    return win;
}
