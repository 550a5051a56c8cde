/* util: the pieces every module leans on — the one error scheme, allocation that aborts on
 * out-of-memory, a growable byte buffer and clocks. Nothing here does I/O except rs_read_file. */
#ifndef RS_UTIL_H
#define RS_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* One error scheme everywhere: functions return 0 on success and -1 on failure, after filling an
 * rs_err_t with one line a user can act on ("datasets/x.jsonl:42: field 'answer' missing"). */
typedef struct rs_err {
    char msg[1024];
} rs_err_t;

/* Formats msg into err (when err is not NULL) and returns -1, so callers can `return rs_err_set(..)`. */
int rs_err_set(rs_err_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prepends "prefix: " to an error already set. Returns -1. */
int rs_err_prefix(rs_err_t *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Allocation wrappers: abort with a message on out-of-memory, so call sites stay clean. */
void *rs_xmalloc(size_t n);
void *rs_xcalloc(size_t count, size_t size);
void *rs_xrealloc(void *p, size_t n);
char *rs_xstrdup(const char *s);
char *rs_xstrndup(const char *s, size_t n);
char *rs_xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A growable byte buffer, always NUL-terminated after its len bytes. Embedded: rs_buf_init /
 * rs_buf_cleanup. rs_buf_detach hands the bytes to the caller (free them) and resets the buffer. */
typedef struct rs_buf {
    char *data;
    size_t len;
    size_t cap;
} rs_buf_t;

void rs_buf_init(rs_buf_t *b);
void rs_buf_cleanup(rs_buf_t *b);
void rs_buf_reset(rs_buf_t *b);
void rs_buf_reserve(rs_buf_t *b, size_t extra);
void rs_buf_append(rs_buf_t *b, const void *data, size_t n);
void rs_buf_puts(rs_buf_t *b, const char *s);
void rs_buf_putc(rs_buf_t *b, char c);
void rs_buf_printf(rs_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void rs_buf_vprintf(rs_buf_t *b, const char *fmt, va_list ap);
char *rs_buf_detach(rs_buf_t *b);

/* Clocks in milliseconds: monotonic for intervals and deadlines, wall for timestamps. */
int64_t rs_mono_ms(void);
double rs_mono_sec(void);
int64_t rs_wall_ms(void);

/* Reads a whole file into a NUL-terminated heap buffer (len without the NUL). 0 / -1. */
int rs_read_file(const char *path, char **data, size_t *len, rs_err_t *err);
/* Writes data to path atomically (temp file in the same directory, fsync, rename). 0 / -1. */
int rs_write_file_atomic(const char *path, const void *data, size_t len, rs_err_t *err);
/* mkdir -p. 0 / -1. */
int rs_mkdirs(const char *path, rs_err_t *err);

/* Strict number parsing of a whole string: no trailing garbage, range checked. 0 / -1. */
int rs_parse_i64(const char *s, int64_t *out);
int rs_parse_double(const char *s, double *out);

/* Lowercase hex of n bytes into out (2n+1 bytes). */
void rs_hex(const unsigned char *bytes, size_t n, char *out);

/* A copy of text that came from a peer, safe to print in a log line, a terminal or a table:
 * printable ASCII is kept, every other byte (control characters, escape sequences, newlines, any
 * byte of a UTF-8 sequence, valid or not) becomes '?', and it is cut at max bytes with "..." added.
 * NULL gives "". Caller frees. */
char *rs_sanitize(const char *s, size_t max);

/* SHA-256 of a file as 64 hex characters plus NUL. 0 / -1. */
int rs_sha256_file(const char *path, char out[65], rs_err_t *err);
/* SHA-256 of a memory block as hex. */
void rs_sha256_hex(const void *data, size_t len, char out[65]);

/* Levenshtein distance of two strings (bytes). */
size_t rs_edit_distance(const char *a, const char *b);

#define RS_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
