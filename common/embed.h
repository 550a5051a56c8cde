/* embed: text to vectors. The built-in `hash` embedder (feature-hashed word and character
 * n-grams, signed, L2-normalised: deterministic, no weights, no network), the embedder object that
 * the worker holds (later providers such as openai plug in behind it) and cosine similarity. */
#ifndef RS_EMBED_H
#define RS_EMBED_H

#include <stddef.h>

#include "util.h"

#define RS_EMBED_DEFAULT_DIM 256
#define RS_EMBED_MAX_DIM 65536 /* buckets come from 32 hash bits; far beyond any useful size */

/* The hash embedder: writes dim floats to out, an L2-unit vector, or all zeros when text has no
 * word (NULL, empty, only punctuation). A pure function of (text, dim). 1 <= dim <= MAX_DIM.
 *
 * Definition (what a reimplementation must do to get the same vectors):
 * - Words are maximal runs of ASCII letters and digits and of bytes >= 0x80 (so UTF-8 letters stay
 *   inside words); everything else separates. ASCII letters are lowercased, nothing else is.
 *   Each word is padded as "<word>" and the padded words are laid end to end: "<the><cat>".
 * - Features, each the XXH64 of a byte span of that string under a seed naming its kind:
 *     word unigrams   "<w>"                     seed 1
 *     word bigrams    "<w1><w2>" (adjacent)     seed 2
 *     char n-grams    n = 3, 4, 5 consecutive code points inside one padded word   seed 3
 *   (code points: a byte starts one unless it is 10xxxxxx; a padded word shorter than n has none).
 * - A feature seen tf times weighs 1 + ln(tf). Within each kind the weights are scaled so that the
 *   kind's part of the squared norm is: unigrams 0.4, bigrams 0.2, char n-grams 0.4. So the
 *   cosine of two texts is close to 0.4 cos_unigram + 0.2 cos_bigram + 0.4 cos_char, and the long
 *   tail of character n-grams cannot drown the words.
 * - Feature hash h adds sign * weight to bucket ((h & 0xffffffff) * dim) >> 32, where sign is
 *   -1 when bit 63 of h is set, else +1 (signed hashing: collisions cancel out on average instead
 *   of piling up, so unrelated texts have cosine near 0, not near some positive bias).
 * - Finally the vector is L2-normalised (collisions make the norm drift from 1).
 * Cost: one XXH64 per feature, about 3 per byte of text; 10,000 texts of 300 bytes take ~0.15 s. */
void rs_embed_hash(const char *text, size_t dim, float *out);

/* Cosine similarity: dot(a, b) / (|a| |b|) accumulated in double, clamped to [-1, 1]; 0 when
 * either vector is all zeros (an empty text is similar to nothing, never NaN). For unit vectors
 * this is the dot product, which is what vecset computes in bulk. */
float rs_cosine(const float *a, const float *b, size_t dim);

/* Scales v to unit length in place and returns its former norm; a zero vector stays zero. */
double rs_l2_normalize(float *v, size_t dim);

/* An embedder: one kind (name) and one dimension; every vector it produces is unit length or all
 * zeros, whatever the provider returns, so vecset can take dot products for cosines.
 * Not thread-safe: one embedder per thread. */
typedef struct rs_embedder rs_embedder_t;

/* The hash embedder with dim buckets (0 selects RS_EMBED_DEFAULT_DIM; at most RS_EMBED_MAX_DIM). */
rs_embedder_t *rs_embedder_new_hash(size_t dim);
void rs_embedder_destroy(rs_embedder_t **e);

size_t rs_embedder_dim(const rs_embedder_t *e);
/* "hash", or the provider's name. Static storage. */
const char *rs_embedder_name(const rs_embedder_t *e);

/* Embeds text into out (rs_embedder_dim floats). 0, or -1 with err set when the provider fails
 * (the hash embedder never does). */
int rs_embedder_embed(rs_embedder_t *e, const char *text, float *out, rs_err_t *err);

#endif
