/* recpack: the compact stored form of a result record, zstd with a dictionary trained on the run's
 * first records (a 4 KB demo record becomes about 300 bytes). No I/O: records in, values out;
 * coordinator/store.c keeps the dictionary in Redis (rs:run:<id>:dict) and decides when to train.
 *
 * Packed value: the byte 'z' (neither a hex digit nor '{', so it never reads as today's forms),
 * the record's XXH64 (seed 0) as 8 big-endian bytes, then one zstd frame of the record's JSON made
 * with the dictionary (content size and dictionary id in its header). Unpacking gives back the
 * checksum form of record.h, 16 hex digits of that XXH64 and the JSON, so the readers verify it as
 * they verify a record stored uncompressed, and a frame that decompresses to other bytes (or not
 * at all) reads as damaged. */
#ifndef COORD_RECPACK_H
#define COORD_RECPACK_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

#define COORD_RECPACK_TAG 'z'
#define COORD_RECPACK_HEAD 9 /* the tag and the 8 checksum bytes before the frame */
/* The zstd level: 1 packs 2% larger and 12% faster, 6 packs 9% smaller and five times slower
 * (docs/BENCHMARKS.md). */
#define COORD_RECPACK_LEVEL 1
#define COORD_RECPACK_DICT_CAP (16u << 10) /* 32 KB compresses no better, 8 KB 4% worse */
/* A dictionary is made once this many records or bytes are collected, whichever comes first:
 * 5-25 ms of the coordinator's time, once a run. On demo records 50 samples do as well as 2,000;
 * more cover more kinds of records (failed calls, long answers). */
#define COORD_RECPACK_SAMPLE_RECORDS 1000
#define COORD_RECPACK_SAMPLE_BYTES (2u << 20)

/* ---- training ---- */

typedef struct coord_recpack_samples coord_recpack_samples_t;

coord_recpack_samples_t *coord_recpack_samples_new(void);
void coord_recpack_samples_destroy(coord_recpack_samples_t **s);
/* Copies one record into the samples. Returns 1 once the samples are enough to train on (the
 * thresholds above), else 0; records added after that are ignored. */
int coord_recpack_samples_add(coord_recpack_samples_t *s, const char *json, size_t len);
size_t coord_recpack_samples_count(const coord_recpack_samples_t *s);
/* Makes a dictionary of at most COORD_RECPACK_DICT_CAP bytes from the samples (their last bytes
 * as its content, entropy tables fitted to all of them): 0 with the heap bytes in *dict /
 * *dict_len, or -1 with err when zstd refuses the samples. */
int coord_recpack_train(const coord_recpack_samples_t *s, char **dict, size_t *dict_len,
                        rs_err_t *err);

/* ---- packing ---- */

/* A dictionary prepared once for both directions (a zstd CDict and DDict, with a context each).
 * Not safe to share between threads. */
typedef struct coord_recpack coord_recpack_t;

/* Prepares dict[0 .. len) (copied), which must be a zstd dictionary (coord_recpack_train's
 * output, as stored in Redis); NULL with err when it is not one. */
coord_recpack_t *coord_recpack_new(const char *dict, size_t len, rs_err_t *err);
void coord_recpack_destroy(coord_recpack_t **p);
/* The dictionary's bytes (owned by p) and its zstd id. */
const char *coord_recpack_dict(const coord_recpack_t *p, size_t *len);
uint32_t coord_recpack_dict_id(const coord_recpack_t *p);

/* Whether a stored value is packed (its first byte is COORD_RECPACK_TAG). */
int coord_recpack_is_packed(const char *value, size_t len);

/* The packed value of the record json[0 .. len) (heap; its length in *out_len). */
char *coord_recpack_pack(coord_recpack_t *p, const char *json, size_t len, size_t *out_len);

/* Unpacks a packed value with p (NULL: its dictionary is missing). *out always gets a heap,
 * NUL-terminated string (length in *out_len): on success (0) the checksum form of record.h, 16 hex
 * digits and the JSON; when the value does not unpack (-1 with err saying why: too short, another
 * dictionary, a damaged frame, a record that would exceed RS_PROTO_MAX_FRAME) a value that
 * coord_record_unwrap refuses as damaged, so the readers count it as they count any damaged
 * record. */
int coord_recpack_unpack(coord_recpack_t *p, const char *value, size_t len, char **out,
                         size_t *out_len, rs_err_t *err);

#endif
