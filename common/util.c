/* util: error scheme, aborting allocators, growable buffer, clocks, small file helpers. */
#define _GNU_SOURCE
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int rs_err_set(rs_err_t *err, const char *fmt, ...)
{
    if (!err) return -1;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
    va_end(ap);
    return -1;
}

int rs_err_prefix(rs_err_t *err, const char *fmt, ...)
{
    if (!err) return -1;
    char prefix[512], old[sizeof(err->msg)];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof(old));
    /* Keep the prefix whole and cut the old message if the two do not fit. */
    size_t plen = strlen(prefix);
    if (plen > sizeof(err->msg) - 3) plen = sizeof(err->msg) - 3;
    memcpy(err->msg, prefix, plen);
    memcpy(err->msg + plen, ": ", 2);
    size_t room = sizeof(err->msg) - plen - 3, olen = strlen(old);
    if (olen > room) olen = room;
    memcpy(err->msg + plen + 2, old, olen);
    err->msg[plen + 2 + olen] = '\0';
    return -1;
}

static void oom(size_t n)
{
    fprintf(stderr, "reasonsaver: out of memory allocating %zu bytes\n", n);
    abort();
}

void *rs_xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) oom(n);
    return p;
}

void *rs_xcalloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) oom(count * size);
    return p;
}

void *rs_xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) oom(n);
    return q;
}

char *rs_xstrdup(const char *s)
{
    return rs_xstrndup(s, strlen(s));
}

char *rs_xstrndup(const char *s, size_t n)
{
    char *p = rs_xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *rs_xasprintf(const char *fmt, ...)
{
    rs_buf_t b;
    rs_buf_init(&b);
    va_list ap;
    va_start(ap, fmt);
    rs_buf_vprintf(&b, fmt, ap);
    va_end(ap);
    return rs_buf_detach(&b);
}

void rs_buf_init(rs_buf_t *b)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void rs_buf_cleanup(rs_buf_t *b)
{
    free(b->data);
    rs_buf_init(b);
}

void rs_buf_reset(rs_buf_t *b)
{
    b->len = 0;
    if (b->data) b->data[0] = '\0';
}

void rs_buf_reserve(rs_buf_t *b, size_t extra)
{
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) cap *= 2;
    b->data = rs_xrealloc(b->data, cap);
    b->cap = cap;
}

void rs_buf_append(rs_buf_t *b, const void *data, size_t n)
{
    rs_buf_reserve(b, n);
    if (n) memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void rs_buf_puts(rs_buf_t *b, const char *s)
{
    rs_buf_append(b, s, strlen(s));
}

void rs_buf_putc(rs_buf_t *b, char c)
{
    rs_buf_append(b, &c, 1);
}

void rs_buf_vprintf(rs_buf_t *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    rs_buf_reserve(b, 64);
    int n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
    if (n >= 0 && (size_t)n >= b->cap - b->len) {
        rs_buf_reserve(b, (size_t)n);
        vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap2);
    }
    va_end(ap2);
    if (n > 0) b->len += (size_t)n;
}

void rs_buf_printf(rs_buf_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    rs_buf_vprintf(b, fmt, ap);
    va_end(ap);
}

char *rs_buf_detach(rs_buf_t *b)
{
    if (!b->data) rs_buf_reserve(b, 0), b->data[0] = '\0';
    char *p = b->data;
    rs_buf_init(b);
    return p;
}

int64_t rs_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

double rs_mono_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int64_t rs_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int rs_read_file(const char *path, char **data, size_t *len, rs_err_t *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return rs_err_set(err, "%s: %s", path, strerror(errno));
    rs_buf_t b;
    rs_buf_init(&b);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) rs_buf_append(&b, chunk, n);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        rs_buf_cleanup(&b);
        return rs_err_set(err, "%s: read error", path);
    }
    *len = b.len;
    *data = rs_buf_detach(&b);
    return 0;
}

/* The stream's buffer: results.jsonl is written a line at a time during a run, and stdio's own
 * 4 KiB buffer made that a write(2) every few records. */
enum { AFILE_BUF = 256 * 1024 };

struct rs_afile {
    char *path, *tmp;
    FILE *f;
    char *buf; /* the stream's, freed after it is closed */
};

/* The directory part of path ("." when it has none). Heap. */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash) return rs_xstrdup(".");
    if (slash == path) return rs_xstrdup("/");
    return rs_xstrndup(path, (size_t)(slash - path));
}

rs_afile_t *rs_afile_open(const char *path, int mode, rs_err_t *err)
{
    char *dir = dir_of(path);
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    int attempt;
    for (attempt = 0; attempt < 100; attempt++) {
        unsigned char rnd[8];
        if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
            uint64_t x = (uint64_t)rs_wall_ms() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)attempt;
            memcpy(rnd, &x, sizeof(rnd));
        }
        char hex[17];
        rs_hex(rnd, sizeof(rnd), hex);
        char *tmp = rs_xasprintf("%s/.%s.%s.tmp", dir, base, hex);
        /* O_EXCL|O_NOFOLLOW: a name that exists, a planted link included, is never opened. */
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, (mode_t)mode);
        if (fd < 0 && errno == EEXIST) {
            free(tmp);
            continue;
        }
        if (fd < 0) {
            rs_err_set(err, "%s: %s", tmp, strerror(errno));
            free(tmp);
            break;
        }
        rs_afile_t *f = rs_xcalloc(1, sizeof(*f));
        f->path = rs_xstrdup(path);
        f->tmp = tmp;
        f->f = fdopen(fd, "w");
        if (!f->f) abort(); /* only on out-of-memory */
        f->buf = rs_xmalloc(AFILE_BUF);
        setvbuf(f->f, f->buf, _IOFBF, AFILE_BUF);
        free(dir);
        return f;
    }
    if (attempt == 100) rs_err_set(err, "%s: no unused temporary name", path);
    free(dir);
    return NULL;
}

FILE *rs_afile_stream(rs_afile_t *f)
{
    return f->f;
}

static void afile_free(rs_afile_t *f)
{
    free(f->path);
    free(f->tmp);
    free(f->buf);
    free(f);
}

void rs_afile_abort(rs_afile_t **fp)
{
    if (!fp || !*fp) return;
    rs_afile_t *f = *fp;
    fclose(f->f);
    unlink(f->tmp);
    afile_free(f);
    *fp = NULL;
}

int rs_afile_commit(rs_afile_t **fp, rs_err_t *err)
{
    rs_afile_t *f = *fp;
    *fp = NULL;
    int rc = 0;
    if (fflush(f->f) != 0 || ferror(f->f)) rc = rs_err_set(err, "%s: %s", f->tmp, strerror(errno));
    else if (fsync(fileno(f->f)) != 0) rc = rs_err_set(err, "%s: fsync: %s", f->tmp, strerror(errno));
    if (fclose(f->f) != 0 && rc == 0) rc = rs_err_set(err, "%s: %s", f->tmp, strerror(errno));
    /* rename replaces whatever is at path (a link itself, never what it points to). */
    if (rc == 0 && rename(f->tmp, f->path) != 0)
        rc = rs_err_set(err, "%s: %s", f->path, strerror(errno));
    if (rc != 0) {
        unlink(f->tmp);
        afile_free(f);
        return -1;
    }
    char *dir = dir_of(f->path);
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || fsync(dfd) != 0) rc = rs_err_set(err, "%s: fsync: %s", dir, strerror(errno));
    if (dfd >= 0) close(dfd);
    free(dir);
    afile_free(f);
    return rc;
}

int rs_write_file_atomic(const char *path, const void *data, size_t len, rs_err_t *err)
{
    rs_afile_t *f = rs_afile_open(path, 0644, err);
    if (!f) return -1;
    if (len && fwrite(data, 1, len, rs_afile_stream(f)) != len) {
        rs_err_set(err, "%s: write error", path);
        rs_afile_abort(&f);
        return -1;
    }
    return rs_afile_commit(&f, err);
}

/* The length of the UTF-8 sequence at s (at most n bytes) and its code point, or 0 when the bytes
 * there are not one (overlong forms, surrogates and values past U+10FFFF included). */
static size_t utf8_seq(const unsigned char *s, size_t n, uint32_t *cp)
{
    size_t len;
    uint32_t c, min;
    if (s[0] < 0x80) return *cp = s[0], 1;
    if ((s[0] & 0xE0) == 0xC0) len = 2, c = s[0] & 0x1F, min = 0x80;
    else if ((s[0] & 0xF0) == 0xE0) len = 3, c = s[0] & 0x0F, min = 0x800;
    else if ((s[0] & 0xF8) == 0xF0) len = 4, c = s[0] & 0x07, min = 0x10000;
    else return 0;
    if (len > n) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
    *cp = c;
    return len;
}

size_t rs_utf8_decode(const char *s, size_t n, uint32_t *cp)
{
    return n ? utf8_seq((const unsigned char *)s, n, cp) : 0;
}

int rs_utf8_valid(const char *s)
{
    if (!s) return 0;
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        if ((unsigned char)s[i] < 0x80) {
            i++;
            continue;
        }
        uint32_t cp;
        size_t len = rs_utf8_decode(s + i, n - i, &cp);
        if (!len) return 0;
        i += len;
    }
    return 1;
}

/* Invisible characters that reorder or hide the text around them (bidirectional marks, embeddings,
 * overrides and isolates). */
static int is_bidi_control(uint32_t c)
{
    return c == 0x061C || c == 0x200E || c == 0x200F || (c >= 0x202A && c <= 0x202E) ||
           (c >= 0x2066 && c <= 0x2069);
}

void rs_text_safe(rs_buf_t *b, const char *s, size_t n, int flags)
{
    static const char REPLACEMENT[] = "\xEF\xBF\xBD"; /* U+FFFD */
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        uint32_t c;
        size_t len = utf8_seq(p + i, n - i, &c);
        if (len == 0) {
            rs_buf_puts(b, REPLACEMENT);
            i++;
            continue;
        }
        if ((c == '\n' || c == '\t') && (flags & RS_TEXT_KEEP_LINES)) {
            rs_buf_putc(b, (char)c);
        } else if ((c == '\n' || c == '\t' || c == '\r') && (flags & RS_TEXT_SPACES)) {
            rs_buf_putc(b, ' ');
        } else if (c < 0x20 || c == 0x7F) {
            /* its Control Picture (ESC is U+241B), so that it is seen and never acted on */
            uint32_t pic = c == 0x7F ? 0x2421 : 0x2400 + c;
            rs_buf_putc(b, (char)(0xE0 | (pic >> 12)));
            rs_buf_putc(b, (char)(0x80 | ((pic >> 6) & 0x3F)));
            rs_buf_putc(b, (char)(0x80 | (pic & 0x3F)));
        } else if ((c >= 0x80 && c <= 0x9F) || is_bidi_control(c)) {
            rs_buf_puts(b, REPLACEMENT);
        } else {
            rs_buf_append(b, p + i, len);
        }
        i += len;
    }
}

const char *rs_text_safe_str(rs_buf_t *b, const char *s, int flags)
{
    rs_buf_reset(b);
    if (s) rs_text_safe(b, s, strlen(s), flags);
    rs_buf_reserve(b, 0);
    b->data[b->len] = '\0';
    return b->data;
}

int rs_mkdirs(const char *path, rs_err_t *err)
{
    char *p = rs_xstrdup(path);
    for (char *s = p + 1; *s; s++) {
        if (*s != '/') continue;
        *s = '\0';
        if (mkdir(p, 0755) != 0 && errno != EEXIST) {
            rs_err_set(err, "cannot create %s: %s", p, strerror(errno));
            free(p);
            return -1;
        }
        *s = '/';
    }
    int rc = 0;
    if (mkdir(p, 0755) != 0 && errno != EEXIST)
        rc = rs_err_set(err, "cannot create %s: %s", p, strerror(errno));
    free(p);
    return rc;
}

/* The digits of u, and a '-' before them when minus. */
static size_t dec_text(uint64_t u, int minus, char out[RS_I64_TEXT])
{
    char tmp[RS_I64_TEXT], *p = tmp + sizeof(tmp);
    do {
        *--p = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (minus) *--p = '-';
    size_t n = (size_t)(tmp + sizeof(tmp) - p);
    memcpy(out, p, n);
    out[n] = '\0';
    return n;
}

size_t rs_i64_text(int64_t v, char out[RS_I64_TEXT])
{
    return dec_text(v < 0 ? 0 - (uint64_t)v : (uint64_t)v, v < 0, out);
}

size_t rs_u64_text(uint64_t v, char out[RS_I64_TEXT])
{
    return dec_text(v, 0, out);
}

int rs_parse_i64(const char *s, int64_t *out)
{
    if (!s || !*s) return -1;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || *end) return -1;
    *out = v;
    return 0;
}

int rs_parse_double(const char *s, double *out)
{
    if (!s || !*s) return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

void rs_le_put(unsigned char *out, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++) out[i] = (unsigned char)(v >> (8 * i));
}

uint64_t rs_le_get(const unsigned char *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

void rs_hex(const unsigned char *bytes, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[bytes[i] >> 4];
        out[2 * i + 1] = digits[bytes[i] & 15];
    }
    out[2 * n] = '\0';
}

char *rs_sanitize(const char *s, size_t max)
{
    if (!s) return rs_xstrdup("");
    size_t n = strlen(s), keep = n > max ? max : n;
    char *out = rs_xmalloc(keep + 4);
    for (size_t i = 0; i < keep; i++) {
        unsigned char c = (unsigned char)s[i];
        out[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    memcpy(out + keep, n > max ? "..." : "", n > max ? 4 : 1);
    return out;
}

static EVP_MD *sha256_fetched;

static void fetch_sha256(void)
{
    sha256_fetched = EVP_MD_fetch(NULL, "SHA256", NULL);
}

/* OpenSSL 3 looks EVP_sha256() up in its provider on every digest (a worker hashes a trace id per
 * case): it is fetched once, the first time, and kept for the process's life. */
static const EVP_MD *sha256_md(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, fetch_sha256);
    return sha256_fetched ? sha256_fetched : EVP_sha256();
}

void rs_sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    EVP_Digest(data, len, md, &mdlen, sha256_md(), NULL);
    rs_hex(md, 32, out);
}

size_t rs_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t *row = rs_xmalloc((lb + 1) * sizeof(*row));
    for (size_t j = 0; j <= lb; j++) row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    size_t d = row[lb];
    free(row);
    return d;
}

uint64_t rs_splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

pid_t rs_fork_for_exec(void)
{
    static const int sigs[] = {SIGTERM, SIGINT, SIGHUP};
    sigset_t block, old;
    sigemptyset(&block);
    for (size_t i = 0; i < RS_ARRAY_LEN(sigs); i++) sigaddset(&block, sigs[i]);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    pid_t pid = fork();
    int saved = errno;
    if (pid == 0) { /* only async-signal-safe calls here: the parent may have threads */
        struct sigaction dfl = {.sa_handler = SIG_DFL}, cur;
        for (size_t i = 0; i < RS_ARRAY_LEN(sigs); i++)
            if (sigaction(sigs[i], NULL, &cur) == 0 && cur.sa_handler != SIG_IGN)
                sigaction(sigs[i], &dfl, NULL);
        sigprocmask(SIG_SETMASK, &old, NULL);
    } else {
        pthread_sigmask(SIG_SETMASK, &old, NULL);
    }
    errno = saved;
    return pid;
}
