/* runref: run directory lookup and the Redis connection of a past or live run. */
#define _GNU_SOURCE
#include "runref.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "log.h"

int coord_runref_write(const char *dir, const char *run_id, const char *redis, rs_err_t *err)
{
    json_t *o = json_pack("{sssssI}", "run_id", run_id, "redis", redis, "created_at_ms",
                          (json_int_t)rs_wall_ms());
    char *text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    char *path = rs_xasprintf("%s/run.json", dir);
    int rc = rs_write_file_atomic(path, text, strlen(text), err);
    free(path);
    free(text);
    json_decref(o);
    return rc;
}

/* The run directory under out_dir whose run.json is newest, or NULL. */
static char *latest_run(const char *out_dir)
{
    DIR *d = opendir(out_dir);
    if (!d) return NULL;
    char *best = NULL;
    struct timespec best_t = {0, 0};
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char *p = rs_xasprintf("%s/%s/run.json", out_dir, e->d_name);
        struct stat st;
        if (stat(p, &st) == 0 && (st.st_mtim.tv_sec > best_t.tv_sec ||
                                  (st.st_mtim.tv_sec == best_t.tv_sec &&
                                   st.st_mtim.tv_nsec > best_t.tv_nsec))) {
            best_t = st.st_mtim;
            free(best);
            best = rs_xstrdup(e->d_name);
        }
        free(p);
    }
    closedir(d);
    return best;
}

/* Connects to the run's own server when it is up; otherwise starts one on the directory. A
 * coordinator that is starting (or stopping) its server holds the directory's lock, so this waits
 * for either to settle (up to 30 s) instead of waiting out the whole run behind the lock. */
static int open_embedded(coord_runref_t *ref, rs_err_t *err)
{
    char *sock = coord_redisproc_socket_path(ref->dir);
    char *url = rs_xasprintf("unix:%s", sock);
    free(sock);
    int busy = 1;
    for (int i = 0; i < 300 && busy && !ref->store; i++) {
        if (i) nanosleep(&(struct timespec){0, 100 * 1000000}, NULL);
        rs_err_t ignored;
        ref->store = coord_store_connect(url, &ignored); /* the run is live: its server answers */
        if (!ref->store) ref->redis = coord_redisproc_try_start(ref->dir, &busy, err);
    }
    free(url);
    if (ref->store) return 0;
    if (!ref->redis) return -1;
    ref->store = coord_store_connect(coord_redisproc_url(ref->redis), err);
    return ref->store ? 0 : -1;
}

static int open_from_dir(coord_runref_t *ref, const char *out_dir, const char *run_id, rs_err_t *err)
{
    ref->run_id = run_id ? rs_xstrdup(run_id) : latest_run(out_dir);
    if (!ref->run_id) return rs_err_set(err, "no runs in %s/ (start one with `reasonsaver run`)", out_dir);
    ref->dir = rs_xasprintf("%s/%s", out_dir, ref->run_id);
    char *path = rs_xasprintf("%s/run.json", ref->dir);
    json_error_t jerr;
    json_t *info = json_load_file(path, 0, &jerr);
    free(path);
    if (!info) return rs_err_set(err, "no run '%s' in %s/", ref->run_id, out_dir);
    const char *redis = json_string_value(json_object_get(info, "redis"));
    int rc;
    if (!redis || strcmp(redis, "embedded") == 0) rc = open_embedded(ref, err);
    else rc = (ref->store = coord_store_connect(redis, err)) ? 0 : -1;
    json_decref(info);
    return rc;
}

int coord_runref_open(coord_runref_t *ref, const char *out_dir, const char *run_id,
                      const char *redis_url, rs_err_t *err)
{
    memset(ref, 0, sizeof(*ref));
    int rc;
    if (redis_url) {
        rc = (ref->store = coord_store_connect(redis_url, err)) ? 0 : -1;
        if (rc == 0) {
            ref->run_id = run_id ? rs_xstrdup(run_id) : coord_store_latest_run(ref->store, err);
            if (!ref->run_id) rc = -1;
        }
        if (rc == 0) {
            char *dir = rs_xasprintf("%s/%s", out_dir, ref->run_id);
            struct stat st;
            if (stat(dir, &st) == 0) ref->dir = dir;
            else free(dir);
        }
    } else {
        rc = open_from_dir(ref, out_dir, run_id, err);
    }
    if (rc == 0) ref->manifest = coord_store_run_get(ref->store, ref->run_id, err);
    if (rc == 0 && !ref->manifest) rc = -1;
    if (rc) coord_runref_close(ref);
    return rc;
}

void coord_runref_close(coord_runref_t *ref)
{
    coord_store_destroy(&ref->store);
    coord_redisproc_stop(&ref->redis);
    json_decref(ref->manifest);
    free(ref->run_id);
    free(ref->dir);
    memset(ref, 0, sizeof(*ref));
}
