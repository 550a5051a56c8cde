/* reqlog: --log-requests, one JSON line per model request, appended under a mutex so that the
 * lines of a thread pool's requests stay whole. */
#include "reqlog.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

struct mock_reqlog {
    int fd;
    char *path;
    pthread_mutex_t mu;
    int failed; /* a write failed: said once */
};

mock_reqlog_t *mock_reqlog_new(const char *path, rs_err_t *err)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        rs_err_set(err, "--log-requests %s: %s", path, strerror(errno));
        return NULL;
    }
    mock_reqlog_t *log = rs_xcalloc(1, sizeof(*log));
    log->fd = fd;
    log->path = rs_xstrdup(path);
    pthread_mutex_init(&log->mu, NULL);
    return log;
}

char *mock_reqlog_line(const char *path, const char *body, size_t len, int64_t t_ms, json_t *extra)
{
    json_error_t jerr;
    json_t *b = json_loadb(body ? body : "", len, JSON_DECODE_ANY, &jerr);
    if (!b) b = json_stringn(body ? body : "", len); /* not JSON: the text */
    if (!b) b = json_null();                         /* not UTF-8 either */
    json_t *rec = json_pack("{s:s, s:I, s:o}", "path", path, "t_ms", (json_int_t)t_ms, "body", b);
    if (rec && extra) json_object_update(rec, extra);
    json_decref(extra);
    char *text = rec ? json_dumps(rec, JSON_COMPACT) : NULL;
    json_decref(rec);
    char *line = rs_xasprintf("%s\n", text ? text : "{}");
    free(text);
    return line;
}

void mock_reqlog_write(mock_reqlog_t *log, const char *path, const char *body, size_t len,
                       json_t *extra)
{
    char *line = mock_reqlog_line(path, body, len, rs_wall_ms(), extra);
    size_t n = strlen(line), done = 0;
    pthread_mutex_lock(&log->mu);
    while (done < n) {
        ssize_t w = write(log->fd, line + done, n - done);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            if (!log->failed) rs_warn("--log-requests %s: %s", log->path, strerror(errno));
            log->failed = 1;
            break;
        }
        done += (size_t)w;
    }
    pthread_mutex_unlock(&log->mu);
    free(line);
}

void mock_reqlog_destroy(mock_reqlog_t **logp)
{
    mock_reqlog_t *log = logp ? *logp : NULL;
    if (!log) return;
    close(log->fd);
    pthread_mutex_destroy(&log->mu);
    free(log->path);
    free(log);
    *logp = NULL;
}
