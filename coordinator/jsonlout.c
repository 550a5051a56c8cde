/* jsonlout: results.jsonl written during the run, in case order (jsonlout.h). */
#define _GNU_SOURCE
#include "jsonlout.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "jsonlidx.h"
#include "log.h"

/* Written bytes handed to the disk (sync_file_range, without waiting) every this many, so the
 * fsync at the end has little left to write. */
#define WRITEBACK_BYTES (8u << 20)

typedef struct held {
    char *json; /* NULL: not here; else the record, then its results.idx row after it */
    size_t len, row_len;
} held_t;

struct coord_jsonlout {
    rs_afile_t *file;
    FILE *out;
    uint64_t total, next;
    held_t *ring; /* case idx held at ring[idx % JSONLOUT_WINDOW] */
    size_t held_bytes;
    int stopped;  /* held records outgrew their bounds: nothing more is written or held */
    uint64_t written, synced; /* bytes */
    coord_jsonlidx_t *idx; /* results.idx beside it; NULL when it could not be started */
    rs_buf_t row;          /* the row of the record being offered */
};

coord_jsonlout_t *coord_jsonlout_open(const char *dir, uint64_t total, const rs_config_t *cfg,
                                      rs_err_t *err)
{
    char *path = rs_xasprintf("%s/results.jsonl", dir);
    rs_afile_t *f = rs_afile_open(path, 0644, err);
    free(path);
    if (!f) return NULL;
    coord_jsonlout_t *j = rs_xcalloc(1, sizeof(*j));
    j->file = f;
    j->out = rs_afile_stream(f);
    j->total = total;
    j->ring = rs_xcalloc(JSONLOUT_WINDOW, sizeof(held_t));
    rs_buf_init(&j->row);
    rs_err_t why;
    if (!(j->idx = coord_jsonlidx_open(dir, total, cfg, &why)))
        rs_warn("%s; the viewer reads this run from Redis", why.msg);
    return j;
}

static void drop_held(coord_jsonlout_t *j)
{
    for (size_t i = 0; i < JSONLOUT_WINDOW; i++) {
        free(j->ring[i].json);
        j->ring[i].json = NULL;
    }
    j->held_bytes = 0;
}

static void destroy(coord_jsonlout_t *j)
{
    drop_held(j);
    coord_jsonlidx_abort(&j->idx);
    rs_buf_cleanup(&j->row);
    free(j->ring);
    free(j);
}

void coord_jsonlout_abort(coord_jsonlout_t **jp)
{
    if (!jp || !*jp) return;
    rs_afile_abort(&(*jp)->file);
    destroy(*jp);
    *jp = NULL;
}

/* Starts the disk writing what was written since the last time, without waiting for it. */
static void writeback(coord_jsonlout_t *j)
{
    if (j->written - j->synced < WRITEBACK_BYTES) return;
    if (fflush(j->out) == 0)
        (void)sync_file_range(fileno(j->out), (off_t)j->synced, (off_t)(j->written - j->synced),
                              SYNC_FILE_RANGE_WRITE);
    j->synced = j->written;
}

static int put_line(coord_jsonlout_t *j, const char *json, size_t len, const void *row,
                    size_t row_len, rs_err_t *err)
{
    if (fwrite(json, 1, len, j->out) != len || putc('\n', j->out) == EOF)
        return rs_err_set(err, "writing results.jsonl: %s", strerror(errno));
    rs_err_t why;
    if (j->idx && coord_jsonlidx_mark(j->idx, j->next, j->written, row, row_len, &why)) {
        rs_warn("%s; the viewer reads this run from Redis", why.msg);
        coord_jsonlidx_abort(&j->idx);
    }
    j->written += len + 1;
    j->next++;
    writeback(j);
    return 0;
}

/* Past the window or the byte bound: stop at the first missing case for good. */
static void stop(coord_jsonlout_t *j)
{
    rs_info("results.jsonl: case %llu is late; the file is read back from Redis at the end",
            (unsigned long long)j->next);
    j->stopped = 1;
    drop_held(j);
}

int coord_jsonlout_offer(coord_jsonlout_t *j, uint64_t idx, const char *json, size_t len,
                         const rs_jv_t *record, rs_err_t *err)
{
    if (j->stopped || idx < j->next || idx >= j->total) return 0;
    rs_buf_reset(&j->row);
    if (j->idx) coord_jsonlidx_encode(j->idx, record, &j->row);
    if (idx == j->next && put_line(j, json, len, j->row.data, j->row.len, err)) {
        j->stopped = 1;
        return -1;
    }
    if (idx > j->next) {
        if (idx - j->next >= JSONLOUT_WINDOW || j->held_bytes + len + j->row.len > JSONLOUT_MAX_HELD) {
            stop(j);
            return 0;
        }
        held_t *h = &j->ring[idx % JSONLOUT_WINDOW]; /* within the window: idx's own slot */
        if (h->json) return 0;                        /* offered twice */
        h->json = rs_xmalloc(len + j->row.len);
        memcpy(h->json, json, len);
        memcpy(h->json + len, j->row.data, j->row.len);
        h->len = len;
        h->row_len = j->row.len;
        j->held_bytes += len + j->row.len;
        return 0;
    }
    for (held_t *h = &j->ring[j->next % JSONLOUT_WINDOW]; j->next < j->total && h->json;
         h = &j->ring[j->next % JSONLOUT_WINDOW]) {
        int rc = put_line(j, h->json, h->len, h->json + h->len, h->row_len, err);
        j->held_bytes -= h->len + h->row_len;
        free(h->json);
        h->json = NULL;
        if (rc) {
            j->stopped = 1;
            return -1;
        }
    }
    return 0;
}

uint64_t coord_jsonlout_next(const coord_jsonlout_t *j)
{
    return j->next;
}

int coord_jsonlout_complete(const coord_jsonlout_t *j)
{
    return !j->stopped && j->next == j->total;
}

int coord_jsonlout_commit(coord_jsonlout_t **jp, rs_err_t *err)
{
    coord_jsonlout_t *j = *jp;
    int rc = coord_jsonlout_complete(j)
                 ? rs_afile_commit(&j->file, err)
                 : rs_err_set(err, "results.jsonl: only cases 0 .. %llu of %llu were written",
                              (unsigned long long)j->next, (unsigned long long)j->total);
    rs_err_t why;
    if (rc == 0 && j->idx && coord_jsonlidx_commit(&j->idx, j->written, &why))
        rs_warn("%s; the viewer reads this run from Redis", why.msg);
    rs_afile_abort(&j->file);
    destroy(j);
    *jp = NULL;
    return rc;
}

void coord_jsonlout_remove_stale(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    static const char *const PREFIX[] = {".results.jsonl.", ".results.idx."};
    static const char SUFFIX[] = ".tmp";
    for (struct dirent *e; (e = readdir(d)) != NULL;) {
        size_t n = strlen(e->d_name), p = 0;
        while (p < 2 && strncmp(e->d_name, PREFIX[p], strlen(PREFIX[p])) != 0) p++;
        if (p == 2 || n < strlen(PREFIX[p]) + sizeof(SUFFIX) - 1 ||
            strcmp(e->d_name + n - (sizeof(SUFFIX) - 1), SUFFIX))
            continue;
        char *path = rs_xasprintf("%s/%s", dir, e->d_name);
        if (unlink(path) == 0) rs_info("removed %s, left by a coordinator that died", path);
        free(path);
    }
    closedir(d);
}
