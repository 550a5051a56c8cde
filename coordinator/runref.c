/* runref: run directory lookup and the Redis connection of a past or live run. */
#define _GNU_SOURCE
#include "runref.h"

#include <ctype.h>
#include <fnmatch.h>

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "log.h"
#include "redisurl.h"

int coord_runref_write(const char *dir, const char *run_id, const coord_store_opts_t *redis,
                       rs_err_t *err)
{
    json_t *o = json_pack("{sssssI}", "run_id", run_id, "redis", redis ? redis->url : "embedded",
                          "created_at_ms", (json_int_t)rs_wall_ms());
    if (redis && redis->password_env)
        json_object_set_new(o, "redis_password_env", json_string(redis->password_env));
    if (redis && redis->ca_file) {
        json_t *tls = json_pack("{ss}", "ca_file", redis->ca_file);
        if (redis->cert_file) json_object_set_new(tls, "cert_file", json_string(redis->cert_file));
        if (redis->key_file) json_object_set_new(tls, "key_file", json_string(redis->key_file));
        json_object_set_new(o, "redis_tls", tls);
    }
    char *text = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    char *path = rs_xasprintf("%s/run.json", dir);
    int rc = rs_write_file_atomic(path, text, strlen(text), err);
    free(path);
    free(text);
    json_decref(o);
    return rc;
}

static const char *info_str(json_t *info, const char *section, const char *key)
{
    json_t *obj = section ? json_object_get(info, section) : info;
    return json_string_value(json_object_get(obj, key));
}

/* run.json names the variable whose value is sent to its Redis address: a planted or edited
 * run.json must not be able to send another secret there (an API key to a host of its choice). */
static int password_env_ok(const char *name)
{
    static const char *const refused[] = {"*_API_KEY", "*SECRET*", "*TOKEN*"};
    if (!*name || (!isalpha((unsigned char)name[0]) && name[0] != '_')) return 0;
    for (const char *p = name; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '_') return 0;
    for (size_t i = 0; i < RS_ARRAY_LEN(refused); i++)
        if (fnmatch(refused[i], name, 0) == 0) return 0;
    return 1;
}

int coord_runref_redis(const char *dir, const char *url, coord_store_opts_t *o, json_t **info,
                       rs_err_t *err)
{
    memset(o, 0, sizeof(*o));
    *info = NULL;
    o->password_env = RS_REDIS_PASSWORD_ENV;
    if (dir) {
        char *path = rs_xasprintf("%s/run.json", dir);
        json_error_t jerr;
        *info = json_load_file(path, 0, &jerr);
        free(path);
    }
    if (!*info && !url) return rs_err_set(err, "%s/run.json: missing or unreadable", dir ? dir : ".");
    if (*info) {
        const char *env = info_str(*info, NULL, "redis_password_env");
        if (env && !password_env_ok(env))
            return rs_err_set(err, "%s/run.json: redis_password_env must name a Redis password "
                                   "variable (letters, digits, _; not an API key, secret or "
                                   "token variable)", dir);
        if (env) o->password_env = env;
        o->ca_file = info_str(*info, "redis_tls", "ca_file");
        o->cert_file = info_str(*info, "redis_tls", "cert_file");
        o->key_file = info_str(*info, "redis_tls", "key_file");
    }
    o->url = url ? url : info_str(*info, NULL, "redis");
    if (!o->url || strcmp(o->url, "embedded") == 0) {
        o->url = NULL;
        return 1;
    }
    return 0;
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
    coord_store_opts_t o;
    json_t *info;
    int kind = coord_runref_redis(ref->dir, NULL, &o, &info, err), rc;
    if (kind < 0) rc = info ? -1 : rs_err_set(err, "no run '%s' in %s/", ref->run_id, out_dir);
    else if (kind == 1) rc = open_embedded(ref, err);
    else rc = (ref->store = coord_store_open(&o, err)) ? 0 : -1;
    json_decref(info);
    return rc;
}

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

/* The Redis named on the command line; the run's directory, when it is here, still gives the
 * password variable and the TLS files. */
static int open_from_url(coord_runref_t *ref, const char *out_dir, const char *run_id,
                         const char *redis_url, rs_err_t *err)
{
    char *dir = run_id ? rs_xasprintf("%s/%s", out_dir, run_id) : NULL;
    if (dir && !is_dir(dir)) {
        free(dir);
        dir = NULL;
    }
    coord_store_opts_t o;
    json_t *info;
    coord_runref_redis(dir, redis_url, &o, &info, err);
    ref->store = coord_store_open(&o, err);
    json_decref(info);
    free(dir);
    if (!ref->store) return -1;
    ref->run_id = run_id ? rs_xstrdup(run_id) : coord_store_latest_run(ref->store, err);
    if (!ref->run_id) return -1;
    dir = rs_xasprintf("%s/%s", out_dir, ref->run_id);
    if (is_dir(dir)) ref->dir = dir;
    else free(dir);
    return 0;
}

int coord_runref_open(coord_runref_t *ref, const char *out_dir, const char *run_id,
                      const char *redis_url, rs_err_t *err)
{
    memset(ref, 0, sizeof(*ref));
    int rc = redis_url ? open_from_url(ref, out_dir, run_id, redis_url, err)
                       : open_from_dir(ref, out_dir, run_id, err);
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

char *coord_runref_resume_command(const char *run_id, const char *out_dir, const char *redis)
{
    int out = out_dir && strcmp(out_dir, "runs") != 0;
    return rs_xasprintf("reasonsaver resume %s%s%s%s%s", run_id, out ? " --out " : "",
                        out ? out_dir : "", redis ? " --redis " : "", redis ? redis : "");
}
