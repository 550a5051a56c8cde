/* jsonlidx: results.idx, the line offsets of results.jsonl (jsonlidx.h). */
#define _GNU_SOURCE
#include "jsonlidx.h"

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char MAGIC[8] = {'R', 'S', 'J', 'I', 'D', 'X', '2', '\n'};
#define HEADER 16 /* magic + unit count */
#define TAIL 16   /* the names' length + magic */
#define MAX_ROW (9 + 2 * 255 + COORD_CI_MAX_MODELS * 16) /* caseindex.c's row at its largest */
#define MAX_NAMES (64u << 20)
#define MAX_LINE (1ull << 30) /* a line no record of ours comes near: a bound on what is read */

struct coord_jsonlidx {
    rs_afile_t *file;
    FILE *out;
    uint64_t total, next; /* units whose entry is written */
    coord_caseindex_t *enc; /* its dictionaries name the rows' ids; it indexes nothing */
};

static int idx_put(FILE *f, uint64_t v, size_t n)
{
    uint8_t b[8];
    rs_le_put(b, v, n);
    return fwrite(b, n, 1, f) == 1 ? 0 : -1;
}

static int write_failed(rs_err_t *err)
{
    return rs_err_set(err, "writing results.idx: %s", strerror(errno));
}

coord_jsonlidx_t *coord_jsonlidx_open(const char *dir, uint64_t total, const rs_config_t *cfg,
                                      rs_err_t *err)
{
    char *path = rs_xasprintf("%s/results.idx", dir);
    rs_afile_t *f = rs_afile_open(path, 0644, err);
    free(path);
    if (!f) return NULL;
    coord_jsonlidx_t *x = rs_xcalloc(1, sizeof(*x));
    x->file = f;
    x->out = rs_afile_stream(f);
    x->total = total;
    x->enc = coord_caseindex_new(cfg);
    if (fwrite(MAGIC, sizeof(MAGIC), 1, x->out) != 1 || idx_put(x->out, total, 8)) {
        write_failed(err);
        coord_jsonlidx_abort(&x);
    }
    return x;
}

void coord_jsonlidx_encode(coord_jsonlidx_t *x, const rs_jv_t *record, rs_buf_t *out)
{
    coord_caseindex_encode(x->enc, record, out);
}

/* Units before `until` have no line: their entries start at offset, with no row. */
static int fill(coord_jsonlidx_t *x, uint64_t until, uint64_t offset, rs_err_t *err)
{
    for (; x->next < until; x->next++)
        if (idx_put(x->out, offset, 8) || idx_put(x->out, 0, 4)) return write_failed(err);
    return 0;
}

int coord_jsonlidx_mark(coord_jsonlidx_t *x, uint64_t idx, uint64_t offset, const void *row,
                        size_t len, rs_err_t *err)
{
    if (idx < x->next || idx >= x->total) return 0;
    if (len == 0 || len > MAX_ROW) return rs_err_set(err, "results.idx: a row of %zu bytes", len);
    if (fill(x, idx, offset, err)) return -1;
    if (idx_put(x->out, offset, 8) || idx_put(x->out, len, 4) || fwrite(row, len, 1, x->out) != 1)
        return write_failed(err);
    x->next = idx + 1;
    return 0;
}

int coord_jsonlidx_commit(coord_jsonlidx_t **xp, uint64_t end, rs_err_t *err)
{
    coord_jsonlidx_t *x = *xp;
    json_t *names = coord_caseindex_names(x->enc);
    char *text = json_dumps(names, JSON_COMPACT);
    json_decref(names);
    size_t len = strlen(text);
    int rc = fill(x, x->total, end, err);
    if (rc == 0 && (idx_put(x->out, end, 8) || fwrite(text, 1, len, x->out) != len ||
                    idx_put(x->out, len, 8) || fwrite(MAGIC, sizeof(MAGIC), 1, x->out) != 1))
        rc = write_failed(err);
    free(text);
    if (rc == 0) rc = rs_afile_commit(&x->file, err);
    coord_jsonlidx_abort(xp);
    return rc;
}

void coord_jsonlidx_abort(coord_jsonlidx_t **xp)
{
    if (!xp || !*xp) return;
    rs_afile_abort(&(*xp)->file);
    coord_caseindex_destroy(&(*xp)->enc);
    free(*xp);
    *xp = NULL;
}

int coord_jsonlidx_remove(const char *dir, rs_err_t *err)
{
    char *path = rs_xasprintf("%s/results.idx", dir);
    int rc = unlink(path) == 0 || errno == ENOENT ? 0 : rs_err_set(err, "%s: %s", path, strerror(errno));
    free(path);
    return rc;
}

/* ---- reading ---- */

struct coord_jsonlidx_reader {
    int jsonl_fd;
    uint64_t total, size; /* units; bytes of results.jsonl */
    uint64_t *off;        /* [total + 1]: where each unit's line starts; off[total] = size */
};

void coord_jsonlidx_reader_close(coord_jsonlidx_reader_t **rp)
{
    coord_jsonlidx_reader_t *r = rp ? *rp : NULL;
    if (!r) return;
    if (r->jsonl_fd >= 0) close(r->jsonl_fd);
    free(r->off);
    free(r);
    *rp = NULL;
}

/* The names and where the entries end (the size of results.jsonl's field), from the file's
 * tail; NULL when the tail is not one. */
static json_t *read_tail(FILE *f, uint64_t fsize, uint64_t *end_at)
{
    uint8_t tail[TAIL];
    if (fsize < HEADER + 8 + TAIL || fseeko(f, (off_t)(fsize - TAIL), SEEK_SET) ||
        fread(tail, TAIL, 1, f) != 1 || memcmp(tail + 8, MAGIC, sizeof(MAGIC)) != 0)
        return NULL;
    uint64_t len = rs_le_get(tail, 8);
    if (len > MAX_NAMES || len > fsize - HEADER - 8 - TAIL) return NULL;
    char *text = rs_xmalloc(len + 1);
    json_t *names = NULL;
    if (fseeko(f, (off_t)(fsize - TAIL - len), SEEK_SET) == 0 && fread(text, 1, len, f) == len)
        names = json_loadb(text, len, 0, NULL);
    free(text);
    *end_at = fsize - TAIL - len - 8;
    return names;
}

/* Reads the entries (from the header on) into r->off and ci; 0 / -1. */
static int read_entries(coord_jsonlidx_reader_t *r, FILE *f, uint64_t end_at,
                        coord_caseindex_t *ci, coord_ci_remap_t *m)
{
    uint8_t head[HEADER], row[MAX_ROW], e[12];
    if (fseeko(f, 0, SEEK_SET) || fread(head, HEADER, 1, f) != 1 ||
        memcmp(head, MAGIC, sizeof(MAGIC)) != 0)
        return -1;
    r->total = rs_le_get(head + 8, 8);
    if (r->total > (end_at - HEADER) / 12 || HEADER + 12 * r->total > end_at) return -1;
    r->off = rs_xmalloc((size_t)(r->total + 1) * sizeof(uint64_t));
    int had_line = 0;
    for (uint64_t i = 0; i <= r->total; i++) {
        if (i == r->total) { /* the size of results.jsonl */
            if ((uint64_t)ftello(f) != end_at || fread(e, 8, 1, f) != 1) return -1;
        } else if (fread(e, 12, 1, f) != 1) {
            return -1;
        }
        r->off[i] = rs_le_get(e, 8);
        /* a unit with a line ends where the next begins; one without begins where it does */
        if (i && (had_line ? r->off[i] <= r->off[i - 1] : r->off[i] != r->off[i - 1])) return -1;
        if (i == r->total) break;
        size_t len = (size_t)rs_le_get(e + 8, 4);
        if (len > MAX_ROW || (len && fread(row, len, 1, f) != 1)) return -1;
        if (len && ci && coord_caseindex_add_row(ci, i, row, len, m) != 0) return -1;
        had_line = len != 0;
    }
    return r->off[r->total] == r->size ? 0 : -1;
}

coord_jsonlidx_reader_t *coord_jsonlidx_reader_open(const char *dir, coord_caseindex_t *ci,
                                                    rs_err_t *err)
{
    coord_jsonlidx_reader_t *r = rs_xcalloc(1, sizeof(*r));
    char *ipath = rs_xasprintf("%s/results.idx", dir), *jpath = rs_xasprintf("%s/results.jsonl", dir);
    FILE *f = fopen(ipath, "rbe");
    struct stat is, js;
    r->jsonl_fd = open(jpath, O_RDONLY | O_CLOEXEC);
    int rc = -1;
    if (!f || r->jsonl_fd < 0 || fstat(fileno(f), &is) || fstat(r->jsonl_fd, &js)) {
        rs_err_set(err, "%s: %s", !f ? ipath : jpath, strerror(errno));
        goto out;
    }
    r->size = (uint64_t)js.st_size;
    uint64_t end_at = 0;
    json_t *names = read_tail(f, (uint64_t)is.st_size, &end_at);
    coord_ci_remap_t *m = names && ci ? coord_caseindex_remap_new(ci, names, err) : NULL;
    if (names && (m || !ci)) rc = read_entries(r, f, end_at, ci, m);
    coord_caseindex_remap_free(&m);
    json_decref(names);
    if (rc) rs_err_set(err, "%s does not describe its results.jsonl", ipath);
out:
    if (f) fclose(f);
    free(ipath);
    free(jpath);
    if (rc) coord_jsonlidx_reader_close(&r);
    return r;
}

uint64_t coord_jsonlidx_reader_total(const coord_jsonlidx_reader_t *r)
{
    return r->total;
}

/* Splits the bytes [off[0], off[n]) read into buf into texts[]; -1 when a line is not one. */
static int split(const uint64_t *off, size_t n, const char *buf, char **texts)
{
    for (size_t i = 0; i < n; i++) {
        uint64_t a = off[i] - off[0], b = off[i + 1] - off[0];
        if (a == b) continue;
        if (buf[b - 1] != '\n' || buf[a] != '{') return -1;
        texts[i] = rs_xstrndup(buf + a, (size_t)(b - a - 1));
    }
    return 0;
}

static void clear(char **texts, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(texts[i]);
        texts[i] = NULL;
    }
}

int coord_jsonlidx_reader_get(const coord_jsonlidx_reader_t *r, uint64_t first, size_t n,
                              char **texts, rs_err_t *err)
{
    for (size_t i = 0; i < n; i++) texts[i] = NULL;
    if (first > r->total || n > r->total - first)
        return rs_err_set(err, "results.idx: units %llu + %zu past its %llu",
                          (unsigned long long)first, n, (unsigned long long)r->total);
    const uint64_t *off = r->off + first;
    uint64_t span = off[n] - off[0];
    int rc = -1;
    char *buf = NULL;
    if (span <= MAX_LINE * (n ? n : 1)) {
        buf = rs_xmalloc(span ? (size_t)span : 1);
        if (pread(r->jsonl_fd, buf, (size_t)span, (off_t)off[0]) == (ssize_t)span)
            rc = split(off, n, buf, texts);
    }
    if (rc) {
        clear(texts, n);
        rs_err_set(err, "results.idx and results.jsonl disagree at units %llu + %zu",
                   (unsigned long long)first, n);
    }
    free(buf);
    return rc;
}
