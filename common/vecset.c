/* vecset: medoid, spherical k-means and blocked near-duplicate search over row-major unit vectors.
 * Bulk dot products go through cblas_sgemm in blocks of BLOCK rows, so memory stays
 * O(BLOCK^2 + n k) whatever n is; the exact contracts are in vecset.h. */
#include "vecset.h"

#include <assert.h>
#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "embed.h"
#include "util.h"

#define BLOCK 512 /* 512 x 512 floats = 1 MiB: fits L2/L3 and keeps sgemm efficient */
#define KMEANS_MAX_ITER 100
#define AUTO_K_MAX 8

static size_t min_sz(size_t a, size_t b)
{
    return a < b ? a : b;
}

static void check_dims(size_t n, size_t dim)
{
    assert(n == 0 || (dim >= 1 && dim <= INT_MAX && n <= INT_MAX));
    (void)n, (void)dim;
}

/* OpenBLAS's pool threads spin (sched_yield) for a while after each call before they sleep: on
 * the coordinator, which shares its cores with workers and Redis, a report's few small blocks paid
 * more for that spinning (a tenth of a second of a core on 100,000 cases) than a second thread
 * gained, so BLAS runs on the calling thread. */
static void one_thread(void)
{
    openblas_set_num_threads(1);
}

void rs_vecset_one_thread(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, one_thread);
}

/* c (mi x mj, row-major) = the mi rows at a times the transpose of the mj rows at b. */
static void block_dots(const float *a, size_t mi, const float *b, size_t mj, size_t dim, float *c)
{
    rs_vecset_one_thread();
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (blasint)mi, (blasint)mj, (blasint)dim,
                1.0f, a, (blasint)dim, b, (blasint)dim, 0.0f, c, (blasint)mj);
}

static double dot(const float *a, const float *b, size_t dim)
{
    double s = 0;
    for (size_t d = 0; d < dim; d++)
        s += (double)a[d] * b[d];
    return s;
}

/* ---- k-means ---- */

size_t rs_vecset_auto_k(size_t n)
{
    if (n == 0) return 0;
    size_t k = (size_t)ceil(sqrt((double)n / 2));
    return min_sz(k < 1 ? 1 : k, AUTO_K_MAX);
}

/* A uniform double in [0, 1): XXH64 of the little-endian counter under the seed, top 53 bits. */
static double draw(uint64_t seed, uint64_t *ctr)
{
    unsigned char b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(*ctr >> (8 * i));
    (*ctr)++;
    return (double)(XXH64(b, sizeof(b), seed) >> 11) * 0x1.0p-53;
}

static double sqdist(const float *a, const float *b, size_t dim)
{
    double s = 0;
    for (size_t d = 0; d < dim; d++) {
        double x = (double)a[d] - b[d];
        s += x * x;
    }
    return s;
}

/* The index where the running sum of w first exceeds r; rounding that leaves r beyond the total
 * falls back to the last positive weight. Zero weights are never chosen. */
static size_t pick_weighted(const double *w, size_t n, double r)
{
    double cum = 0;
    size_t last = 0;
    for (size_t i = 0; i < n; i++) {
        if (w[i] <= 0) continue;
        last = i;
        cum += w[i];
        if (r < cum) return i;
    }
    return last;
}

/* k-means++: copies up to k seed vectors into c and returns how many (fewer when the set has
 * fewer than k distinct vectors). d2[i] is the squared distance to the nearest seed so far. */
static size_t seed_centres(const float *v, size_t n, size_t dim, size_t k, uint64_t seed, float *c)
{
    double *d2 = rs_xmalloc(n * sizeof(double));
    uint64_t ctr = 0;
    size_t pick = min_sz((size_t)(draw(seed, &ctr) * (double)n), n - 1), got = 0;
    for (;;) {
        float *cg = c + got * dim;
        memcpy(cg, v + pick * dim, dim * sizeof(float));
        double total = 0;
        for (size_t i = 0; i < n; i++) {
            double d = sqdist(v + i * dim, cg, dim);
            d2[i] = got == 0 || d < d2[i] ? d : d2[i];
            total += d2[i];
        }
        got++;
        if (got == k || total <= 0) break;
        pick = pick_weighted(d2, n, draw(seed, &ctr) * total);
    }
    free(d2);
    return got;
}

/* Working state of one clustering; sim[i] is vector i's dot with its own centroid. */
typedef struct km_run {
    const float *v;
    rs_kmeans_t *km;
    float *block; /* BLOCK x k dot products */
    float *sim;
} km_run_t;

/* Assigns every vector to its most similar centroid (ties: lowest cluster); returns how many
 * moved. */
static size_t km_assign(km_run_t *r)
{
    rs_kmeans_t *km = r->km;
    size_t moved = 0, k = km->k;
    for (size_t i0 = 0; i0 < km->n; i0 += BLOCK) {
        size_t mi = min_sz(BLOCK, km->n - i0);
        block_dots(r->v + i0 * km->dim, mi, km->centroids, k, km->dim, r->block);
        for (size_t q = 0; q < mi; q++) {
            const float *row = r->block + q * k;
            size_t best = 0;
            for (size_t c = 1; c < k; c++)
                if (row[c] > row[best]) best = c;
            moved += km->assign[i0 + q] != best;
            km->assign[i0 + q] = best;
            r->sim[i0 + q] = row[best];
        }
    }
    memset(km->sizes, 0, k * sizeof(size_t));
    for (size_t i = 0; i < km->n; i++)
        km->sizes[km->assign[i]]++;
    return moved;
}

/* Gives each empty cluster the vector least similar to its centroid among clusters of two or more
 * (one always exists: k <= n). Returns how many moved. */
static size_t km_fill_empty(km_run_t *r)
{
    rs_kmeans_t *km = r->km;
    size_t moved = 0;
    for (size_t c = 0; c < km->k; c++) {
        if (km->sizes[c] > 0) continue;
        size_t far = RS_VECSET_NONE;
        for (size_t i = 0; i < km->n; i++)
            if (km->sizes[km->assign[i]] >= 2 && (far == RS_VECSET_NONE || r->sim[i] < r->sim[far]))
                far = i;
        km->sizes[km->assign[far]]--;
        km->assign[far] = c;
        km->sizes[c] = 1;
        moved++;
    }
    return moved;
}

static void km_update_centroids(km_run_t *r)
{
    rs_kmeans_t *km = r->km;
    size_t dim = km->dim;
    memset(km->centroids, 0, km->k * dim * sizeof(float));
    for (size_t i = 0; i < km->n; i++) {
        float *c = km->centroids + km->assign[i] * dim;
        for (size_t d = 0; d < dim; d++)
            c[d] += r->v[i * dim + d];
    }
    for (size_t c = 0; c < km->k; c++)
        rs_l2_normalize(km->centroids + c * dim, dim);
}

/* Each cluster's representative against the final centroids. */
static void km_pick_reps(km_run_t *r)
{
    rs_kmeans_t *km = r->km;
    for (size_t c = 0; c < km->k; c++)
        km->rep[c] = RS_VECSET_NONE;
    for (size_t i = 0; i < km->n; i++) {
        size_t c = km->assign[i];
        r->sim[i] = (float)dot(r->v + i * km->dim, km->centroids + c * km->dim, km->dim);
        if (km->rep[c] == RS_VECSET_NONE || r->sim[i] > r->sim[km->rep[c]]) km->rep[c] = i;
    }
}

static void km_alloc(rs_kmeans_t *km, size_t k_wanted)
{
    km->centroids = rs_xmalloc(k_wanted * km->dim * sizeof(float));
    km->assign = rs_xmalloc(km->n * sizeof(size_t));
    for (size_t i = 0; i < km->n; i++)
        km->assign[i] = RS_VECSET_NONE;
    km->sizes = rs_xcalloc(k_wanted, sizeof(size_t));
    km->rep = rs_xcalloc(k_wanted, sizeof(size_t));
}

void rs_vecset_kmeans(const float *v, size_t n, size_t dim, const rs_kmeans_opts_t *opts,
                      rs_kmeans_t *out)
{
    check_dims(n, dim);
    memset(out, 0, sizeof(*out));
    out->n = n;
    out->dim = dim;
    if (n == 0) return;
    size_t k = opts && opts->k ? min_sz(opts->k, n) : rs_vecset_auto_k(n);
    size_t max_iter = opts && opts->max_iter ? opts->max_iter : KMEANS_MAX_ITER;
    km_alloc(out, k);
    out->k = seed_centres(v, n, dim, k, opts ? opts->seed : 0, out->centroids);
    km_run_t r = {v, out, rs_xmalloc(BLOCK * out->k * sizeof(float)),
                  rs_xmalloc(n * sizeof(float))};
    while (out->iterations < max_iter) {
        out->iterations++;
        size_t moved = km_assign(&r);
        moved += km_fill_empty(&r);
        km_update_centroids(&r);
        if (moved == 0) {
            out->converged = 1;
            break;
        }
    }
    km_pick_reps(&r);
    free(r.block);
    free(r.sim);
}

typedef struct ranked {
    float sim;
    size_t i;
} ranked_t;

static int ranked_cmp(const void *pa, const void *pb)
{
    const ranked_t *a = pa, *b = pb;
    if (a->sim != b->sim) return a->sim > b->sim ? -1 : 1;
    return a->i < b->i ? -1 : a->i > b->i;
}

size_t rs_kmeans_examples(const rs_kmeans_t *km, const float *v, size_t c, size_t *out, size_t max)
{
    if (c >= km->k || max == 0) return 0;
    ranked_t *m = rs_xmalloc(km->sizes[c] * sizeof(ranked_t));
    size_t len = 0;
    for (size_t i = 0; i < km->n; i++)
        if (km->assign[i] == c)
            m[len++] =
                (ranked_t){(float)dot(v + i * km->dim, km->centroids + c * km->dim, km->dim), i};
    if (len > 1) qsort(m, len, sizeof(*m), ranked_cmp);
    len = min_sz(len, max);
    for (size_t q = 0; q < len; q++)
        out[q] = m[q].i;
    free(m);
    return len;
}

void rs_kmeans_cleanup(rs_kmeans_t *km)
{
    free(km->assign);
    free(km->centroids);
    free(km->sizes);
    free(km->rep);
    memset(km, 0, sizeof(*km));
}

/* ---- near-duplicate pairs ---- */

/* The kept pairs: a heap whose root is the worst kept pair, so a better newcomer replaces it. */
typedef struct dup_heap {
    rs_dup_pair_t *a;
    size_t len, cap, max, total;
} dup_heap_t;

/* The result order: similarity descending, then i, then j ascending. */
static int pair_better(const rs_dup_pair_t *x, const rs_dup_pair_t *y)
{
    if (x->sim != y->sim) return x->sim > y->sim;
    if (x->i != y->i) return x->i < y->i;
    return x->j < y->j;
}

static int pair_cmp(const void *pa, const void *pb)
{
    return pair_better(pa, pb) ? -1 : pair_better(pb, pa) ? 1 : 0;
}

static void heap_swap(rs_dup_pair_t *a, size_t x, size_t y)
{
    rs_dup_pair_t t = a[x];
    a[x] = a[y];
    a[y] = t;
}

static void heap_sift_up(dup_heap_t *h, size_t i)
{
    while (i > 0 && pair_better(&h->a[(i - 1) / 2], &h->a[i])) {
        heap_swap(h->a, i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static void heap_sift_down(dup_heap_t *h, size_t i)
{
    for (;;) {
        size_t worst = i, l = 2 * i + 1, r = l + 1;
        if (l < h->len && pair_better(&h->a[worst], &h->a[l])) worst = l;
        if (r < h->len && pair_better(&h->a[worst], &h->a[r])) worst = r;
        if (worst == i) return;
        heap_swap(h->a, i, worst);
        i = worst;
    }
}

static void heap_push(dup_heap_t *h, rs_dup_pair_t p)
{
    h->total++;
    if (h->len < h->max) {
        if (h->len == h->cap) {
            h->cap = min_sz(h->cap ? 2 * h->cap : 64, h->max);
            h->a = rs_xrealloc(h->a, h->cap * sizeof(*h->a));
        }
        h->a[h->len++] = p;
        heap_sift_up(h, h->len - 1);
    } else if (h->len > 0 && pair_better(&p, &h->a[0])) {
        h->a[0] = p;
        heap_sift_down(h, 0);
    }
}

/* Pushes the pairs at or above threshold from a block of similarities; on the diagonal block only
 * the part above the diagonal counts (i < j). */
static void scan_block(const float *c, size_t i0, size_t mi, size_t j0, size_t mj, float threshold,
                       dup_heap_t *h)
{
    for (size_t q = 0; q < mi; q++) {
        const float *row = c + q * mj;
        for (size_t s = i0 == j0 ? q + 1 : 0; s < mj; s++)
            if (row[s] >= threshold) heap_push(h, (rs_dup_pair_t){i0 + q, j0 + s, row[s]});
    }
}

void rs_vecset_near_dups(const float *v, size_t n, size_t dim, float threshold, size_t max_pairs,
                         rs_dups_t *out)
{
    check_dims(n, dim);
    dup_heap_t h = {.max = max_pairs};
    float *c = n >= 2 ? rs_xmalloc((size_t)BLOCK * BLOCK * sizeof(float)) : NULL;
    for (size_t i0 = 0; n >= 2 && i0 < n; i0 += BLOCK) {
        size_t mi = min_sz(BLOCK, n - i0);
        for (size_t j0 = i0; j0 < n; j0 += BLOCK) {
            size_t mj = min_sz(BLOCK, n - j0);
            block_dots(v + i0 * dim, mi, v + j0 * dim, mj, dim, c);
            scan_block(c, i0, mi, j0, mj, threshold, &h);
        }
    }
    free(c);
    if (h.len > 1) qsort(h.a, h.len, sizeof(*h.a), pair_cmp);
    *out = (rs_dups_t){h.a, h.len, h.total};
}

void rs_dups_cleanup(rs_dups_t *d)
{
    free(d->pairs);
    memset(d, 0, sizeof(*d));
}
