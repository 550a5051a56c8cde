/* medoid: the member of a set of embeddings most similar to all the others (the `consensus`
 * ranking strategy, worker/rank.h). Its own module, apart from common/vecset.h, because it needs no
 * BLAS: the worker links it without OpenBLAS (whose thread pool and buffers every worker process
 * would otherwise carry for nothing).
 *
 * A set is n vectors of dim floats, row-major, each of unit length or all zeros (as every
 * rs_embedder produces): similarity is the dot product. Nothing here fails or keeps a pointer. */
#ifndef RS_MEDOID_H
#define RS_MEDOID_H

#include <stddef.h>
#include <stdint.h>

#define RS_MEDOID_NONE SIZE_MAX

/* The index of the vector with the highest total similarity to the others (sum over j != i of
 * dot(v_i, v_j)), computed as dot(v_i, S) - dot(v_i, v_i) with S the sum of all vectors: O(n dim).
 * Ties go to the lowest index, where totals within 1e-6 (1 + |best|) of the best count as tied
 * (float inputs make smaller differences meaningless, and symmetric sets must not be decided by
 * rounding). n == 1 gives 0; n == 0 gives RS_MEDOID_NONE. When totals is not NULL it receives the
 * n totals (a candidate's consensus score is total / (n - 1), its mean similarity). */
size_t rs_medoid(const float *v, size_t n, size_t dim, double *totals);

#endif
