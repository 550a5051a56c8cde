/* embed: the hash embedder and the embedder object. Features are counted in a small open-addressing
 * table first, because the weight 1 + ln(tf) belongs to a feature, not to the bucket it lands in;
 * the definition the tests and any reimplementation rely on is in embed.h. */
#include "embed.h"

#include <assert.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

enum { KIND_UNIGRAM, KIND_BIGRAM, KIND_CHAR, N_KINDS };

/* The XXH64 seed of each kind: the same bytes in two kinds are two different features. */
static const uint64_t kind_seed[N_KINDS] = {1, 2, 3};
/* Each kind's part of the squared norm (see embed.h). */
static const double kind_share[N_KINDS] = {0.4, 0.2, 0.4};

#define CHAR_NGRAM_MIN 3
#define CHAR_NGRAM_MAX 5

typedef struct feat {
    uint64_t key;
    uint32_t count;
    uint32_t kind;
} feat_t;

/* Distinct features in insertion order, found through an open-addressing index of 1 + their
 * position (0 = empty slot): the later passes walk only the features, not the whole table. */
typedef struct ftab {
    feat_t *feats;
    size_t n;
    uint32_t *slots;
    size_t mask;
} ftab_t;

/* The padded words laid end to end ("<the><cat>") and where each one starts; starts[n] = len. */
typedef struct words {
    char *buf;
    size_t len;
    size_t *starts;
    size_t n;
} words_t;

static int is_word_byte(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

static void words_split(const char *text, words_t *w)
{
    size_t len = strlen(text);
    /* A text of len bytes has at most (len + 1) / 2 words, each growing by 2 bytes of padding. */
    w->buf = rs_xmalloc(2 * len + 2);
    w->starts = rs_xmalloc(((len + 1) / 2 + 1) * sizeof(size_t));
    w->len = w->n = 0;
    for (size_t i = 0; i < len;) {
        if (!is_word_byte((unsigned char)text[i])) {
            i++;
            continue;
        }
        w->starts[w->n++] = w->len;
        w->buf[w->len++] = '<';
        for (; i < len && is_word_byte((unsigned char)text[i]); i++) {
            unsigned char c = (unsigned char)text[i];
            w->buf[w->len++] = (char)(c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c);
        }
        w->buf[w->len++] = '>';
    }
    w->starts[w->n] = w->len;
}

static void words_cleanup(words_t *w)
{
    free(w->buf);
    free(w->starts);
}

static void ftab_init(ftab_t *t, size_t max_features)
{
    size_t cap = 16;
    while (cap < 2 * max_features)
        cap *= 2; /* load factor at most 1/2: short probe runs */
    t->feats = rs_xmalloc(max_features * sizeof(feat_t));
    t->n = 0;
    t->slots = rs_xcalloc(cap, sizeof(uint32_t));
    t->mask = cap - 1;
}

static void ftab_cleanup(ftab_t *t)
{
    free(t->feats);
    free(t->slots);
}

static void ftab_add(ftab_t *t, const char *bytes, size_t n, uint32_t kind)
{
    uint64_t key = XXH64(bytes, n, kind_seed[kind]);
    size_t i = (size_t)(key >> 40) & t->mask; /* high bits: the low ones pick the bucket later */
    for (; t->slots[i]; i = (i + 1) & t->mask) {
        feat_t *f = &t->feats[t->slots[i] - 1];
        if (f->key == key && f->kind == kind) {
            f->count++;
            return;
        }
    }
    t->feats[t->n] = (feat_t){key, 1, kind};
    t->slots[i] = (uint32_t)++t->n;
}

/* The byte after the code point that starts at s[i], not beyond end. */
static size_t cp_next(const char *s, size_t i, size_t end)
{
    for (i++; i < end && ((unsigned char)s[i] & 0xC0) == 0x80; i++) {
    }
    return i;
}

static void add_char_ngrams(ftab_t *t, const char *s, size_t ws, size_t we)
{
    for (size_t p = ws; p < we; p = cp_next(s, p, we)) {
        size_t q = p;
        for (int n = 1; n <= CHAR_NGRAM_MAX && q < we; n++) {
            q = cp_next(s, q, we);
            if (n >= CHAR_NGRAM_MIN) ftab_add(t, s + p, q - p, KIND_CHAR);
        }
    }
}

static void count_features(const words_t *w, ftab_t *t)
{
    for (size_t k = 0; k < w->n; k++) {
        size_t ws = w->starts[k], we = w->starts[k + 1];
        ftab_add(t, w->buf + ws, we - ws, KIND_UNIGRAM);
        if (k + 1 < w->n) ftab_add(t, w->buf + ws, w->starts[k + 2] - ws, KIND_BIGRAM);
        add_char_ngrams(t, w->buf, ws, we);
    }
}

static double tf_weight(uint32_t count)
{
    return count == 1 ? 1.0 : 1.0 + log((double)count); /* most features occur once: skip log */
}

/* Adds every feature's signed, scaled weight to its bucket. */
static void project(const ftab_t *t, size_t dim, float *out)
{
    double sq[N_KINDS] = {0}, scale[N_KINDS];
    for (size_t i = 0; i < t->n; i++) {
        double w = tf_weight(t->feats[i].count);
        sq[t->feats[i].kind] += w * w;
    }
    for (int k = 0; k < N_KINDS; k++)
        scale[k] = sq[k] > 0 ? sqrt(kind_share[k] / sq[k]) : 0;
    for (size_t i = 0; i < t->n; i++) {
        const feat_t *f = &t->feats[i];
        double w = tf_weight(f->count) * scale[f->kind];
        size_t bucket = (size_t)(((f->key & 0xffffffffu) * (uint64_t)dim) >> 32);
        out[bucket] += (float)(f->key >> 63 ? -w : w);
    }
}

void rs_embed_hash(const char *text, size_t dim, float *out)
{
    assert(dim >= 1 && dim <= RS_EMBED_MAX_DIM);
    memset(out, 0, dim * sizeof(float));
    words_t w;
    words_split(text ? text : "", &w);
    if (w.n > 0) {
        /* A padded word of m bytes has at most 3 (m - 2) n-grams and 2 word features: < 3 m. */
        ftab_t t;
        ftab_init(&t, 3 * w.len);
        count_features(&w, &t);
        project(&t, dim, out);
        ftab_cleanup(&t);
        rs_l2_normalize(out, dim);
    }
    words_cleanup(&w);
}

float rs_cosine(const float *a, const float *b, size_t dim)
{
    double dot = 0, na = 0, nb = 0;
    for (size_t i = 0; i < dim; i++) {
        dot += (double)a[i] * b[i];
        na += (double)a[i] * a[i];
        nb += (double)b[i] * b[i];
    }
    if (na == 0 || nb == 0) return 0;
    double c = dot / sqrt(na * nb);
    return (float)(c > 1 ? 1 : c < -1 ? -1 : c);
}

double rs_l2_normalize(float *v, size_t dim)
{
    double sq = 0;
    for (size_t i = 0; i < dim; i++)
        sq += (double)v[i] * v[i];
    double norm = sqrt(sq);
    if (norm == 0) return 0;
    for (size_t i = 0; i < dim; i++)
        v[i] = (float)(v[i] / norm);
    return norm;
}

/* ---- the embedder object ---- */

/* What a provider supplies. embed must leave out unit length or all zeros. */
typedef struct embedder_ops {
    const char *name;
    int (*embed)(rs_embedder_t *e, const char *text, float *out, rs_err_t *err);
} embedder_ops_t;

struct rs_embedder {
    const embedder_ops_t *ops;
    size_t dim;
};

static int hash_embed(rs_embedder_t *e, const char *text, float *out, rs_err_t *err)
{
    rs_embed_hash(text, e->dim, out);
    return 0;
}

static const embedder_ops_t hash_ops = {"hash", hash_embed};

rs_embedder_t *rs_embedder_new_hash(size_t dim)
{
    assert(dim <= RS_EMBED_MAX_DIM);
    rs_embedder_t *e = rs_xcalloc(1, sizeof(*e));
    e->ops = &hash_ops;
    e->dim = dim ? dim : RS_EMBED_DEFAULT_DIM;
    return e;
}

void rs_embedder_destroy(rs_embedder_t **e)
{
    if (!e || !*e) return;
    free(*e);
    *e = NULL;
}

size_t rs_embedder_dim(const rs_embedder_t *e)
{
    return e->dim;
}

const char *rs_embedder_name(const rs_embedder_t *e)
{
    return e->ops->name;
}

int rs_embedder_embed(rs_embedder_t *e, const char *text, float *out, rs_err_t *err)
{
    return e->ops->embed(e, text, out, err);
}
