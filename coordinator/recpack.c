/* recpack: zstd dictionary training on a run's first records, and the packed form of a stored
 * record (recpack.h). */
#include "recpack.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>
#include <zdict.h>
#include <zstd.h>

#include "proto.h"
#include "record.h"

struct coord_recpack_samples {
    rs_buf_t bytes; /* the records, one after the other */
    size_t *sizes;  /* each one's length */
    size_t n;
};

coord_recpack_samples_t *coord_recpack_samples_new(void)
{
    coord_recpack_samples_t *s = rs_xcalloc(1, sizeof(*s));
    rs_buf_init(&s->bytes);
    s->sizes = rs_xmalloc(COORD_RECPACK_SAMPLE_RECORDS * sizeof(size_t));
    return s;
}

void coord_recpack_samples_destroy(coord_recpack_samples_t **s)
{
    if (!s || !*s) return;
    rs_buf_cleanup(&(*s)->bytes);
    free((*s)->sizes);
    free(*s);
    *s = NULL;
}

static int samples_full(const coord_recpack_samples_t *s)
{
    return s->n == COORD_RECPACK_SAMPLE_RECORDS || s->bytes.len >= COORD_RECPACK_SAMPLE_BYTES;
}

int coord_recpack_samples_add(coord_recpack_samples_t *s, const char *json, size_t len)
{
    if (samples_full(s)) return 1;
    /* The last record may go past the byte budget by its own size, no more. */
    rs_buf_append(&s->bytes, json, len);
    s->sizes[s->n++] = len;
    return samples_full(s);
}

size_t coord_recpack_samples_count(const coord_recpack_samples_t *s)
{
    return s->n;
}

int coord_recpack_train(const coord_recpack_samples_t *s, char **dict, size_t *dict_len,
                        rs_err_t *err)
{
    /* The dictionary's content is the samples' last bytes, and its entropy tables are fitted to
     * all of them (ZDICT_finalizeDictionary). Measured on demo records, that compresses as well as
     * ZDICT_trainFromBuffer's selection of segments (about 290 bytes a record either way) in a
     * tenth of the time and memory: 5-25 ms and 1 MB instead of 150-300 ms and 12 MB, in the
     * coordinator's one thread (docs/BENCHMARKS.md). */
    size_t content = s->bytes.len < COORD_RECPACK_DICT_CAP ? s->bytes.len : COORD_RECPACK_DICT_CAP;
    char *buf = rs_xmalloc(COORD_RECPACK_DICT_CAP);
    ZDICT_params_t params = {.compressionLevel = COORD_RECPACK_LEVEL};
    size_t n = ZDICT_finalizeDictionary(buf, COORD_RECPACK_DICT_CAP,
                                        s->bytes.data + s->bytes.len - content, content,
                                        s->bytes.data, s->sizes, (unsigned)s->n, params);
    if (ZDICT_isError(n)) {
        free(buf);
        return rs_err_set(err, "making a zstd dictionary of %zu records (%zu bytes): %s", s->n,
                          s->bytes.len, ZDICT_getErrorName(n));
    }
    *dict = buf;
    *dict_len = n;
    return 0;
}

struct coord_recpack {
    char *dict;
    size_t dict_len;
    uint32_t id;
    ZSTD_CDict *cdict;
    ZSTD_DDict *ddict;
    ZSTD_CCtx *cctx;
    ZSTD_DCtx *dctx;
};

/* zstd's allocations fail only when memory is out: the rest of the program aborts then too. */
static void *need(void *p)
{
    if (!p) {
        fprintf(stderr, "reasonsaver: out of memory (zstd)\n");
        abort();
    }
    return p;
}

coord_recpack_t *coord_recpack_new(const char *dict, size_t len, rs_err_t *err)
{
    /* Only a real dictionary (magic and entropy tables, as ZDICT writes) is accepted: zstd would
     * take any other bytes as raw content, and the id would then be 0. */
    uint32_t id = (uint32_t)ZDICT_getDictID(dict, len);
    if (id == 0) {
        rs_err_set(err, "the stored zstd dictionary (%zu bytes) is not one", len);
        return NULL;
    }
    coord_recpack_t *p = rs_xcalloc(1, sizeof(*p));
    p->dict = rs_xmalloc(len);
    memcpy(p->dict, dict, len);
    p->dict_len = len;
    p->id = id;
    p->cdict = ZSTD_createCDict(p->dict, len, COORD_RECPACK_LEVEL);
    p->ddict = ZSTD_createDDict(p->dict, len);
    if (!p->cdict || !p->ddict) {
        /* Allocation aside, zstd refuses a dictionary whose entropy tables are damaged. */
        coord_recpack_destroy(&p);
        rs_err_set(err, "the stored zstd dictionary (%zu bytes, id %u) is damaged", len, id);
        return NULL;
    }
    p->cctx = need(ZSTD_createCCtx());
    p->dctx = need(ZSTD_createDCtx());
    return p;
}

void coord_recpack_destroy(coord_recpack_t **p)
{
    if (!p || !*p) return;
    ZSTD_freeCDict((*p)->cdict);
    ZSTD_freeDDict((*p)->ddict);
    ZSTD_freeCCtx((*p)->cctx);
    ZSTD_freeDCtx((*p)->dctx);
    free((*p)->dict);
    free(*p);
    *p = NULL;
}

const char *coord_recpack_dict(const coord_recpack_t *p, size_t *len)
{
    *len = p->dict_len;
    return p->dict;
}

uint32_t coord_recpack_dict_id(const coord_recpack_t *p)
{
    return p->id;
}

int coord_recpack_is_packed(const char *value, size_t len)
{
    return len > 0 && value[0] == COORD_RECPACK_TAG;
}

char *coord_recpack_pack(coord_recpack_t *p, const char *json, size_t len, size_t *out_len)
{
    size_t cap = COORD_RECPACK_HEAD + ZSTD_compressBound(len);
    unsigned char *out = rs_xmalloc(cap);
    uint64_t sum = XXH64(json, len, 0);
    out[0] = COORD_RECPACK_TAG;
    for (int i = 0; i < 8; i++)
        out[1 + i] = (unsigned char)(sum >> (56 - 8 * i));
    size_t n = ZSTD_compress_usingCDict(p->cctx, out + COORD_RECPACK_HEAD, cap - COORD_RECPACK_HEAD,
                                        json, len, p->cdict);
    /* With a bound-sized buffer and a valid CDict the one possible failure is memory. */
    if (ZSTD_isError(n)) need(NULL);
    *out_len = COORD_RECPACK_HEAD + n;
    return (char *)out;
}

/* The XXH64 of the record, stored in front of the frame of a value at least COORD_RECPACK_HEAD
 * bytes long. */
static uint64_t stored_sum(const char *value)
{
    uint64_t sum = 0;
    for (int i = 0; i < 8; i++)
        sum = sum << 8 | (unsigned char)value[1 + i];
    return sum;
}

/* The checksum form of a record that could not be unpacked: the stored checksum's digits before
 * no bytes at all, whose checksum can never match (a record is never empty: and if the stored
 * digits are those of the empty string, zeros, which are not). */
static int damaged(const char *value, size_t len, char **out, size_t *out_len)
{
    uint64_t sum = len >= COORD_RECPACK_HEAD ? stored_sum(value) : 0;
    if (sum == XXH64("", 0, 0)) sum = 0;
    *out = rs_xasprintf("%016llx", (unsigned long long)sum);
    *out_len = COORD_RECORD_SUM_LEN;
    return -1;
}

int coord_recpack_unpack(coord_recpack_t *p, const char *value, size_t len, char **out,
                         size_t *out_len, rs_err_t *err)
{
    if (len <= COORD_RECPACK_HEAD) {
        rs_err_set(err, "packed record of %zu bytes is too short to hold one", len);
        return damaged(value, len, out, out_len);
    }
    const char *frame = value + COORD_RECPACK_HEAD;
    size_t frame_len = len - COORD_RECPACK_HEAD;
    unsigned want = ZSTD_getDictID_fromFrame(frame, frame_len);
    unsigned long long size = ZSTD_getFrameContentSize(frame, frame_len);
    if (want == 0 || size == 0 || size == ZSTD_CONTENTSIZE_ERROR ||
        size == ZSTD_CONTENTSIZE_UNKNOWN) {
        rs_err_set(err, "packed record's zstd frame header is damaged");
        return damaged(value, len, out, out_len);
    }
    if (!p) {
        rs_err_set(err, "packed record needs zstd dictionary %u, which is not stored", want);
        return damaged(value, len, out, out_len);
    }
    if (want != p->id) {
        rs_err_set(err, "packed record needs zstd dictionary %u, not the run's %u", want, p->id);
        return damaged(value, len, out, out_len);
    }
    if (size > RS_PROTO_MAX_FRAME) {
        rs_err_set(err, "packed record of %llu bytes is larger than any record", size);
        return damaged(value, len, out, out_len);
    }
    char *text = rs_xmalloc(COORD_RECORD_SUM_LEN + (size_t)size + 1);
    size_t n = ZSTD_decompress_usingDDict(p->dctx, text + COORD_RECORD_SUM_LEN, (size_t)size, frame,
                                          frame_len, p->ddict);
    if (ZSTD_isError(n) || n != size) {
        rs_err_set(err, "packed record does not decompress: %s",
                   ZSTD_isError(n) ? ZSTD_getErrorName(n) : "shorter than its header says");
        free(text);
        return damaged(value, len, out, out_len);
    }
    /* The digits come from the stored checksum: the reader compares them with the bytes. */
    char digits[COORD_RECORD_SUM_LEN + 1];
    snprintf(digits, sizeof(digits), "%016llx", (unsigned long long)stored_sum(value));
    memcpy(text, digits, COORD_RECORD_SUM_LEN);
    text[COORD_RECORD_SUM_LEN + n] = '\0';
    *out = text;
    *out_len = COORD_RECORD_SUM_LEN + n;
    return 0;
}
