/* test_medoid: the medoid on hand-made sets (ties included, zero vectors) and against a brute
 * force over random unit vectors. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "embed.h"
#include "medoid.h"
#include "util.h"

/* n random unit vectors of dim floats (heap): components uniform in [-1, 1) from a 64-bit LCG,
 * then normalised (uniformity on the sphere does not matter here). */
static float *random_set(uint64_t *seed, size_t n, size_t dim)
{
    float *v = rs_xmalloc(n * dim * sizeof(float));
    for (size_t i = 0; i < n * dim; i++) {
        *seed = *seed * 6364136223846793005ull + 1442695040888963407ull;
        v[i] = (float)((double)(*seed >> 11) * 0x1.0p-52 - 1.0);
    }
    for (size_t i = 0; i < n; i++)
        rs_l2_normalize(v + i * dim, dim);
    return v;
}

static void test_medoid_hand_made(void **state)
{
    const float h = (float)M_SQRT1_2;
    /* The middle of three vectors spanning a right angle. */
    float fan[] = {1, 0, h, h, 0, 1};
    double t[3];
    assert_int_equal(rs_medoid(fan, 3, 2, t), 1);
    assert_true(fabs(t[0] - h) < 1e-6 && fabs(t[1] - 2 * h) < 1e-6 && fabs(t[2] - h) < 1e-6);
    /* Four candidates agreeing (at 0, 3.0, 6.3 and 14 degrees) and one outlier: the medoid is the
     * candidate nearest the group's mean direction (5.9 degrees), not the first or the outlier. */
    float agree[] = {1, 0, 0, 0.9f, 0.1f, 0, 0.95f, 0.05f, 0, 0.8f, 0.2f, 0, 0, 0, 1};
    for (int i = 0; i < 5; i++)
        rs_l2_normalize(agree + 3 * i, 3);
    assert_int_equal(rs_medoid(agree, 5, 3, NULL), 1);
    /* Degenerate sizes. */
    assert_int_equal(rs_medoid(fan, 1, 2, NULL), 0);
    assert_true(rs_medoid(fan, 0, 2, NULL) == RS_MEDOID_NONE);
}

static void test_medoid_ties(void **state)
{
    /* Orthogonal: every total is 0, the lowest index wins. */
    float ortho[] = {1, 0, 0, 0, 1, 0, 0, 0, 1};
    assert_int_equal(rs_medoid(ortho, 3, 3, NULL), 0);
    /* Two copies tie ahead of a third vector. */
    float twins[] = {0, 1, 1, 0, 1, 0};
    assert_int_equal(rs_medoid(twins, 3, 2, NULL), 1);
    /* Three directions 120 degrees apart, where rounding differs from vector to vector: exact ties
     * in real arithmetic must still go to the lowest index, whatever the order. */
    for (int rot = 0; rot < 3; rot++) {
        float tri[6];
        for (int i = 0; i < 3; i++) {
            double a = 2 * M_PI * ((i + rot) % 3) / 3 + 0.3;
            tri[2 * i] = (float)cos(a);
            tri[2 * i + 1] = (float)sin(a);
        }
        assert_int_equal(rs_medoid(tri, 3, 2, NULL), 0);
    }
    /* An empty text's zero vector is similar to nothing: it never beats a real consensus. */
    float with_zero[] = {0, 0, 1, 0, 0.8f, 0.6f};
    assert_int_equal(rs_medoid(with_zero, 3, 2, NULL), 1);
}

static void test_medoid_brute_force(void **state)
{
    uint64_t seed = 42;
    for (int round = 0; round < 20; round++) {
        size_t n = 2 + (size_t)round * 3, dim = 16;
        float *v = random_set(&seed, n, dim);
        size_t best = 0;
        double best_total = -INFINITY;
        for (size_t i = 0; i < n; i++) {
            double total = 0; /* every pair's dot product, in double */
            for (size_t j = 0; j < n; j++)
                for (size_t d = 0; j != i && d < dim; d++)
                    total += (double)v[i * dim + d] * v[j * dim + d];
            if (total > best_total + 1e-9) best_total = total, best = i;
        }
        double *t = rs_xmalloc(n * sizeof(double));
        assert_int_equal(rs_medoid(v, n, dim, t), best);
        assert_true(fabs(t[best] - best_total) < 1e-5);
        free(t);
        free(v);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_medoid_hand_made),
        cmocka_unit_test(test_medoid_ties),
        cmocka_unit_test(test_medoid_brute_force),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
