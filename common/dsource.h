/* dsource: the bytes of one dataset file as a stream of chunks, decompressed on the way when the
 * file is gzip or zstd, and afterwards a file descriptor that random reads (pread) can use.
 *
 * Compression is found by the file's first bytes (gzip 1f 8b, zstd 28 b5 2f fd); a name ending
 * in .gz / .zst / .zstd whose bytes say otherwise is an error, so a mislabelled file is caught.
 * A compressed file is decompressed once, streaming, into an unlinked temporary file in $TMPDIR
 * (default /tmp): tasks then re-read cases from it by offset as from a plain file. It costs disk
 * equal to the decompressed size for as long as the dataset is open, and nothing once the process
 * ends (the file has no name). A stream that ends before its compressed data does (a truncated
 * download) is an error naming the file. */
#ifndef RS_DSOURCE_H
#define RS_DSOURCE_H

#include <stddef.h>
#include <sys/types.h>

#include "util.h"

typedef enum rs_compression {
    RS_COMP_NONE = 0,
    RS_COMP_GZIP,
    RS_COMP_ZSTD,
} rs_compression_t;

typedef struct rs_dsource rs_dsource_t;

/* Opens path and finds its compression. NULL with err ("path: ...") on failure. */
rs_dsource_t *rs_dsource_open(const char *path, rs_err_t *err);
/* The next chunk of (decompressed) bytes: *chunk points inside s and stays valid until the next
 * call. Returns its length, 0 at the end of the stream, or -1 with err (read error, corrupt or
 * truncated compressed data, no space for the decompressed copy). */
ssize_t rs_dsource_next(rs_dsource_t *s, const char **chunk, rs_err_t *err);
rs_compression_t rs_dsource_compression(const rs_dsource_t *s);
/* "none", "gzip" or "zstd". */
const char *rs_compression_name(rs_compression_t c);
/* The descriptor that holds the stream's bytes read so far at their stream offsets (the file
 * itself, or the decompressed copy), for reads during the scan; s still owns it. */
int rs_dsource_fd(const rs_dsource_t *s);
/* Hands over the descriptor that holds the stream's bytes at their stream offsets (the file itself,
 * or the decompressed copy); the caller closes it. Call it after the stream's end: s then owns no
 * descriptor. */
int rs_dsource_take_fd(rs_dsource_t *s);
void rs_dsource_destroy(rs_dsource_t **s);

#endif
