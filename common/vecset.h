/* vecset: operations over a set of n embeddings that need OpenBLAS: k-means clustering (failure
 * clusters in the report) and near-duplicate pairs (dataset checks). The medoid (the `consensus`
 * ranking strategy) is common/medoid.h, which the worker uses without OpenBLAS.
 *
 * A set is n vectors of dim floats, row-major: vector i is v[i * dim .. i * dim + dim - 1]. The
 * vectors must be unit length or all zeros, as every rs_embedder produces (rs_l2_normalize the
 * others): similarity is then the plain dot product, which equals the cosine and lets OpenBLAS
 * compute many of them at once. Nothing here fails, keeps a pointer to v, or writes to it; results
 * are owned by the caller. n * dim must fit an int for OpenBLAS (dim <= INT_MAX, n < 2^31). */
#ifndef RS_VECSET_H
#define RS_VECSET_H

#include <stddef.h>
#include <stdint.h>

#define RS_VECSET_NONE SIZE_MAX

/* ---- k-means ---- */

typedef struct rs_kmeans_opts {
    size_t k;        /* clusters wanted; 0 = rs_vecset_auto_k(n) */
    size_t max_iter; /* assignment rounds at most; 0 = 100 */
    uint64_t seed;   /* the same (v, opts) gives the same clustering */
} rs_kmeans_opts_t;

/* A clustering. Clusters are numbered in seeding order. Arrays are heap, freed by
 * rs_kmeans_cleanup. */
typedef struct rs_kmeans {
    size_t n, dim;
    size_t k;          /* clusters made: min(k wanted, n, distinct vectors); 0 when n == 0 */
    size_t *assign;    /* n: the cluster of each vector */
    float *centroids;  /* k x dim: each cluster's normalised mean (zero if the mean is zero) */
    size_t *sizes;     /* k: members of each cluster, all >= 1 */
    size_t *rep;       /* k: the member most similar to its centroid (ties: lowest index) */
    size_t iterations; /* assignment rounds run */
    int converged;     /* 1 when the last round moved nothing, 0 when max_iter ran out */
} rs_kmeans_t;

/* BLAS runs on the calling thread from now on (OpenBLAS's pool spins after each call: see
 * vecset.c). Called before any other function here, and by a program that wants the pool's
 * threads gone early. */
void rs_vecset_one_thread(void);

/* min(8, ceil(sqrt(n / 2))): the usual rule of thumb, capped so a report lists few clusters. */
size_t rs_vecset_auto_k(size_t n);

/* Spherical k-means: each vector joins the centroid it has the highest dot product with (ties:
 * lowest cluster), and a centroid is its members' mean scaled to unit length. On unit vectors this
 * is Euclidean k-means with centroids kept on the sphere, i.e. clustering by cosine.
 * Seeding is k-means++ (Arthur & Vassilvitskii 2007): the first centre is a uniform draw, each next
 * one a draw weighted by the squared Euclidean distance to the nearest centre chosen so far. Draws
 * are XXH64 of a counter under opts->seed. When every remaining vector equals a centre (fewer
 * distinct vectors than k), seeding stops there, so no cluster starts empty. A cluster that empties
 * during the rounds takes the vector least similar to its own centroid among clusters of two or
 * more (ties: lowest index). Rounds stop when no vector moves or after max_iter rounds.
 * Cost per round: one n x k x dim sgemm. out is overwritten; opts may be NULL (all defaults). */
void rs_vecset_kmeans(const float *v, size_t n, size_t dim, const rs_kmeans_opts_t *opts,
                      rs_kmeans_t *out);

/* Up to max members of cluster c, most similar to the centroid first (ties: lowest index), into
 * out; returns how many. The report's representative examples. v is the set clustered. */
size_t rs_kmeans_examples(const rs_kmeans_t *km, const float *v, size_t c, size_t *out, size_t max);

void rs_kmeans_cleanup(rs_kmeans_t *km);

/* ---- near-duplicate pairs ---- */

typedef struct rs_dup_pair {
    size_t i, j; /* i < j */
    float sim;
} rs_dup_pair_t;

typedef struct rs_dups {
    rs_dup_pair_t *pairs; /* heap: the kept pairs, sim descending, then i, then j ascending */
    size_t n_pairs;       /* kept: min(total, max_pairs) */
    size_t total;         /* all pairs found at or above the threshold */
} rs_dups_t;

/* Every pair i < j with dot(v_i, v_j) >= threshold. The n x n similarities are computed in
 * 512 x 512 blocks by cblas_sgemm and scanned as they come, so memory is one block (1 MiB) plus
 * the kept pairs, never n^2. When more than max_pairs are found the best max_pairs are kept (a
 * bounded heap under the order above, so the result does not depend on block order); total still
 * counts them all. max_pairs == 0 only counts. Similarities are float sgemm results: a pair within
 * ~1e-6 of the threshold may fall on either side of it compared with another summation order.
 * 10,000 x 256 takes ~0.2 s on two cores. out is overwritten. */
void rs_vecset_near_dups(const float *v, size_t n, size_t dim, float threshold, size_t max_pairs,
                         rs_dups_t *out);

void rs_dups_cleanup(rs_dups_t *d);

#endif
