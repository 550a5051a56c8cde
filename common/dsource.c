/* dsource: a dataset file read as a stream of chunks, through zlib or libzstd when it is
 * compressed; the decompressed bytes are also written to an unlinked temporary file so that
 * cases can be re-read by offset later (see dsource.h for what that costs). */
#define _GNU_SOURCE /* mkostemp */
#include "dsource.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#define IN_CHUNK (128u << 10)
#define OUT_CHUNK (256u << 10)

struct rs_dsource {
    char *path;
    int fd;      /* the file */
    int copy_fd; /* the decompressed copy; -1 for a plain file */
    rs_compression_t comp;
    unsigned char *in;
    size_t in_len, in_pos;
    int in_eof;
    unsigned char *out;
    int full; /* the decoder's last step filled out: it may hold more output without more input */
    int done; /* the compressed stream ended where it may end (a whole gzip member / zstd frame) */
    z_stream z;
    int z_ready;
    ZSTD_DStream *zs;
};

static ssize_t read_some(int fd, void *p, size_t n)
{
    ssize_t r;
    do
        r = read(fd, p, n);
    while (r < 0 && errno == EINTR);
    return r;
}

/* Moves the unread input to the front and reads more after it. 0 / -1. */
static int fill(rs_dsource_t *s, rs_err_t *err)
{
    memmove(s->in, s->in + s->in_pos, s->in_len - s->in_pos);
    s->in_len -= s->in_pos;
    s->in_pos = 0;
    ssize_t r = read_some(s->fd, s->in + s->in_len, IN_CHUNK - s->in_len);
    if (r < 0) return rs_err_set(err, "%s: %s", s->path, strerror(errno));
    if (r == 0) s->in_eof = 1;
    s->in_len += (size_t)r;
    return 0;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int sniff(rs_dsource_t *s, rs_err_t *err)
{
    while (s->in_len < 4 && !s->in_eof)
        if (fill(s, err) < 0) return -1;
    if (s->in_len >= 2 && s->in[0] == 0x1f && s->in[1] == 0x8b) s->comp = RS_COMP_GZIP;
    if (s->in_len >= 4 && memcmp(s->in, "\x28\xb5\x2f\xfd", 4) == 0) s->comp = RS_COMP_ZSTD;
    if (ends_with(s->path, ".gz") && s->comp != RS_COMP_GZIP)
        return rs_err_set(err, "%s: named .gz but %s", s->path,
                          s->in_len ? "its bytes are not gzip" : "empty");
    if ((ends_with(s->path, ".zst") || ends_with(s->path, ".zstd")) && s->comp != RS_COMP_ZSTD)
        return rs_err_set(err, "%s: named .zst but %s", s->path,
                          s->in_len ? "its bytes are not zstd" : "empty");
    return 0;
}

/* The unlinked temporary file that will hold the decompressed bytes. */
static int make_copy(rs_dsource_t *s, rs_err_t *err)
{
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir) dir = "/tmp";
    char *tmpl = rs_xasprintf("%s/reasonsaver-dataset-XXXXXX", dir);
    s->copy_fd = mkostemp(tmpl, O_CLOEXEC); /* not inherited by the workers a run starts */
    int saved = errno;
    if (s->copy_fd >= 0) unlink(tmpl);
    free(tmpl);
    if (s->copy_fd < 0)
        return rs_err_set(err, "%s: cannot create the decompressed copy in %s: %s", s->path, dir,
                          strerror(saved));
    return 0;
}

static int start_decoder(rs_dsource_t *s, rs_err_t *err)
{
    if (s->comp == RS_COMP_GZIP) {
        /* 15 + 16: a gzip wrapper, the largest window */
        if (inflateInit2(&s->z, 15 + 16) != Z_OK)
            return rs_err_set(err, "%s: cannot start gzip decompression", s->path);
        s->z_ready = 1;
    } else if (s->comp == RS_COMP_ZSTD) {
        s->zs = ZSTD_createDStream();
        if (!s->zs || ZSTD_isError(ZSTD_initDStream(s->zs)))
            return rs_err_set(err, "%s: cannot start zstd decompression", s->path);
    }
    return s->comp == RS_COMP_NONE ? 0 : make_copy(s, err);
}

rs_dsource_t *rs_dsource_open(const char *path, rs_err_t *err)
{
    rs_dsource_t *s = rs_xcalloc(1, sizeof(*s));
    s->path = rs_xstrdup(path);
    s->copy_fd = -1;
    s->in = rs_xmalloc(IN_CHUNK);
    s->out = rs_xmalloc(OUT_CHUNK);
    s->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (s->fd < 0) {
        rs_err_set(err, "%s: %s", path, strerror(errno));
    } else if (sniff(s, err) == 0 && start_decoder(s, err) == 0) {
        return s;
    }
    rs_dsource_destroy(&s);
    return NULL;
}

/* One gzip step into out; a new member starts where the last one ended (`cat a.gz b.gz` is a
 * valid gzip file). Returns the bytes produced or -1. */
static ssize_t gzip_step(rs_dsource_t *s, rs_err_t *err)
{
    if (s->done) {
        inflateReset(&s->z);
        s->done = 0;
    }
    s->z.next_in = s->in + s->in_pos;
    s->z.avail_in = (uInt)(s->in_len - s->in_pos);
    s->z.next_out = s->out;
    s->z.avail_out = OUT_CHUNK;
    int rc = inflate(&s->z, Z_NO_FLUSH);
    s->in_pos = s->in_len - s->z.avail_in;
    if (rc == Z_STREAM_END) s->done = 1;
    else if (rc != Z_OK && rc != Z_BUF_ERROR)
        return rs_err_set(err, "%s: corrupt gzip data (%s)", s->path,
                          s->z.msg ? s->z.msg : "inflate failed");
    /* a step that ended the stream is not "full" even when it filled the output: nothing of
     * this member is left to flush */
    s->full = rc != Z_STREAM_END && s->z.avail_out == 0;
    return (ssize_t)(OUT_CHUNK - s->z.avail_out);
}

static ssize_t zstd_step(rs_dsource_t *s, rs_err_t *err)
{
    ZSTD_inBuffer in = {s->in, s->in_len, s->in_pos};
    ZSTD_outBuffer out = {s->out, OUT_CHUNK, 0};
    size_t rc = ZSTD_decompressStream(s->zs, &out, &in);
    s->in_pos = in.pos;
    if (ZSTD_isError(rc))
        return rs_err_set(err, "%s: corrupt zstd data (%s)", s->path, ZSTD_getErrorName(rc));
    s->done = rc == 0; /* 0: a frame is complete and flushed */
    s->full = rc != 0 && out.pos == OUT_CHUNK; /* as for gzip: a finished frame has no more */
    return (ssize_t)out.pos;
}

static int write_all(rs_dsource_t *s, const unsigned char *p, size_t n, rs_err_t *err)
{
    while (n > 0) {
        ssize_t w = write(s->copy_fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0)
            return rs_err_set(err, "%s: writing its decompressed copy: %s", s->path,
                              strerror(errno));
        p += w, n -= (size_t)w;
    }
    return 0;
}

static ssize_t next_plain(rs_dsource_t *s, const char **chunk, rs_err_t *err)
{
    if (s->in_pos == s->in_len && !s->in_eof && fill(s, err) < 0) return -1;
    size_t n = s->in_len - s->in_pos;
    *chunk = (const char *)s->in + s->in_pos;
    s->in_pos = s->in_len;
    return (ssize_t)n;
}

ssize_t rs_dsource_next(rs_dsource_t *s, const char **chunk, rs_err_t *err)
{
    if (s->comp == RS_COMP_NONE) return next_plain(s, chunk, err);
    ssize_t got = 0;
    while (got == 0) {
        int in_empty = s->in_pos == s->in_len;
        if (in_empty && !s->in_eof && !s->full) {
            if (fill(s, err) < 0) return -1;
            continue;
        }
        if (in_empty && s->in_eof && !s->full) {
            if (!s->done)
                return rs_err_set(err, "%s: truncated %s stream (the file ends inside compressed "
                                       "data)", s->path, rs_compression_name(s->comp));
            return 0;
        }
        got = s->comp == RS_COMP_GZIP ? gzip_step(s, err) : zstd_step(s, err);
        if (got < 0) return -1;
    }
    if (write_all(s, s->out, (size_t)got, err) < 0) return -1;
    *chunk = (const char *)s->out;
    return got;
}

rs_compression_t rs_dsource_compression(const rs_dsource_t *s)
{
    return s->comp;
}

const char *rs_compression_name(rs_compression_t c)
{
    return c == RS_COMP_GZIP ? "gzip" : c == RS_COMP_ZSTD ? "zstd" : "none";
}

int rs_dsource_fd(const rs_dsource_t *s)
{
    return s->copy_fd >= 0 ? s->copy_fd : s->fd;
}

int rs_dsource_take_fd(rs_dsource_t *s)
{
    int *owned = s->copy_fd >= 0 ? &s->copy_fd : &s->fd;
    int fd = *owned;
    *owned = -1;
    return fd;
}

void rs_dsource_destroy(rs_dsource_t **sp)
{
    if (!sp || !*sp) return;
    rs_dsource_t *s = *sp;
    if (s->fd >= 0) close(s->fd);
    if (s->copy_fd >= 0) close(s->copy_fd);
    if (s->z_ready) inflateEnd(&s->z);
    ZSTD_freeDStream(s->zs);
    free(s->in);
    free(s->out);
    free(s->path);
    free(s);
    *sp = NULL;
}
