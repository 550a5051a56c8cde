/* util: the pieces every module leans on — the one error scheme, allocation that aborts on
 * out-of-memory, a growable byte buffer and clocks. Nothing here does I/O except rs_read_file. */
#ifndef RS_UTIL_H
#define RS_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

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

/* Appends the n bytes of s to b as text that is safe to show on a terminal or in a report, however
 * hostile (model answers, dataset prompts, names from peers): invalid UTF-8, C1 controls and the
 * bidirectional controls that reorder what is shown (U+061C, U+200E, U+200F, U+202A-U+202E,
 * U+2066-U+2069) become U+FFFD; other controls (ESC, CR, DEL...) become their visible Control
 * Pictures (U+241B for ESC). Newline and tab: kept with RS_TEXT_KEEP_LINES, a space each (CR too)
 * with RS_TEXT_SPACES, else pictures. */
enum { RS_TEXT_KEEP_LINES = 1, RS_TEXT_SPACES = 2 };
void rs_text_safe(rs_buf_t *b, const char *s, size_t n, int flags);
/* The length (1 to 4) of the UTF-8 sequence at s (at most n bytes) and its code point in *cp, or
 * 0 when the bytes there are not one (overlong forms, surrogates, past U+10FFFF, n == 0). */
size_t rs_utf8_decode(const char *s, size_t n, uint32_t *cp);
/* Whether the NUL-terminated s is valid UTF-8 (as rs_utf8_decode reads it, which is what
 * json_string accepts); NULL is not. */
int rs_utf8_valid(const char *s);

/* Whether none of the 8 bytes at p is a control byte, '"', '\\' or non-ASCII: JSON string text
 * that a reader or a writer copies as it is. Testing a word at a time ("haszero" and "hasless"
 * of Bit Twiddling Hacks, which can be wrong about which byte but never about whether there is
 * one) rather than a byte at a time halves the time to read or write a record. */
static inline int rs_json_plain8(const char *p)
{
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    uint64_t w;
    __builtin_memcpy(&w, p, 8);
    uint64_t quote = w ^ (ones * '"'), slash = w ^ (ones * '\\');
    uint64_t control = (w - ones * 0x20) & ~w;
    uint64_t is_quote = (quote - ones) & ~quote, is_slash = (slash - ones) & ~slash;
    return ((control | is_quote | is_slash | w) & high) == 0;
}
/* rs_text_safe of a NUL-terminated s (NULL: "") into b after emptying it; returns b->data. */
const char *rs_text_safe_str(rs_buf_t *b, const char *s, int flags);

/* Clocks in milliseconds: monotonic for intervals and deadlines, wall for timestamps. */
int64_t rs_mono_ms(void);
double rs_mono_sec(void);
int64_t rs_wall_ms(void);

/* fork() for a child that execs a program the caller may stop with a signal before the exec is
 * done: the caller's handlers of SIGTERM, SIGINT and SIGHUP, copied into the child, would catch
 * such a signal and the program would never see it (a server then waits out its stop timeout).
 * The child starts with their default actions (ignored ones stay ignored); one sent meanwhile
 * waits, blocked, and acts at once. */
pid_t rs_fork_for_exec(void);

/* splitmix64: advances *state and returns its next 64 well-mixed bits. Cheap, deterministic for a
 * seed, not cryptographic: for sampling keys, span ids and test shuffles. */
uint64_t rs_splitmix64(uint64_t *state);

/* Reads a whole file into a NUL-terminated heap buffer (len without the NUL). 0 / -1. */
int rs_read_file(const char *path, char **data, size_t *len, rs_err_t *err);
/* An output file written atomically: rs_afile_open creates a temporary file with a unique,
 * unguessable name (".<name>.<16 hex>.tmp") in path's directory with O_CREAT|O_EXCL|O_NOFOLLOW,
 * so a file or link planted there is never opened or followed; the caller writes to its stream;
 * rs_afile_commit flushes, fsyncs, renames it over path (replacing a link at path, not what it
 * points to), checks the rename and fsyncs the directory. Readers see the old file or the new one,
 * never half of one. mode: 0644, or 0600 for files only the owner may read (before umask).
 * open: NULL with err. commit and abort free the object and set *f to NULL; abort removes the
 * temporary file. */
typedef struct rs_afile rs_afile_t;
rs_afile_t *rs_afile_open(const char *path, int mode, rs_err_t *err);
FILE *rs_afile_stream(rs_afile_t *f);
int rs_afile_commit(rs_afile_t **f, rs_err_t *err);
void rs_afile_abort(rs_afile_t **f);
/* Writes data to path with an rs_afile_t (mode 0644). 0 / -1. */
int rs_write_file_atomic(const char *path, const void *data, size_t len, rs_err_t *err);
/* mkdir -p. 0 / -1. */
int rs_mkdirs(const char *path, rs_err_t *err);

/* v in decimal into out (NUL-terminated), as printf's "%lld" / "%llu" write it, without their
 * cost; returns the length. */
#define RS_I64_TEXT 21 /* "-9223372036854775808" or "18446744073709551615", and the NUL */
size_t rs_i64_text(int64_t v, char out[RS_I64_TEXT]);
size_t rs_u64_text(uint64_t v, char out[RS_I64_TEXT]);

/* Strict number parsing of a whole string: no trailing garbage, range checked. 0 / -1. */
int rs_parse_i64(const char *s, int64_t *out);
int rs_parse_double(const char *s, double *out);

/* Lowercase hex of n bytes into out (2n+1 bytes). */
void rs_hex(const unsigned char *bytes, size_t n, char *out);

/* The low n (at most 8) bytes of v, little-endian, into out; and back. The on-disk indexes
 * (results.jsonl's, the viewer's case index) store their integers so. */
void rs_le_put(unsigned char *out, uint64_t v, size_t n);
uint64_t rs_le_get(const unsigned char *p, size_t n);

/* A copy of text that came from a peer, safe to print in a log line, a terminal or a table:
 * printable ASCII is kept, every other byte (control characters, escape sequences, newlines, any
 * byte of a UTF-8 sequence, valid or not) becomes '?', and it is cut at max bytes with "..." added.
 * NULL gives "". Caller frees. */
char *rs_sanitize(const char *s, size_t max);

/* SHA-256 of a memory block as hex. */
void rs_sha256_hex(const void *data, size_t len, char out[65]);

/* Levenshtein distance of two strings (bytes). */
size_t rs_edit_distance(const char *a, const char *b);

#define RS_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
