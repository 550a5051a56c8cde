/* spawn: fork/exec of local reasonsaver-worker processes, restart on crash, orderly stop. */
#define _GNU_SOURCE
#include "spawn.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "proto.h"

#define QUICK_EXIT_MS 3000 /* a worker that dies sooner than this after its start... */
#define QUICK_EXITS_MAX 5  /* ...this many times in a row is not restarted again */

struct coord_spawn {
    char *binary;
    char *endpoint;
    char *server_key, *key; /* CURVE key files for --server-key / --key; NULL without CURVE */
    char *allow_env; /* --allow-env for each worker */
    int allow_exec;  /* --allow-exec too: the run's config has exec graders */
    pid_t *pids;
    int64_t *started_ms;
    int *quick_exits;
    size_t n;
    size_t given_up;
};

char *coord_sibling_binary(const char *name)
{
    char self[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (len > 0) {
        self[len] = '\0';
        char *slash = strrchr(self, '/');
        if (slash) {
            *slash = '\0';
            char *path = rs_xasprintf("%s/%s", self, name);
            if (access(path, X_OK) == 0) return path;
            free(path);
        }
    }
    return rs_xstrdup(name);
}

static pid_t start_one(coord_spawn_t *s, size_t i)
{
    char id[64];
    snprintf(id, sizeof(id), "local-%zu", i + 1);
    pid_t pid = rs_fork_for_exec();
    if (pid != 0) return pid;
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGTERM); /* a local worker never outlives its coordinator */
    char *argv[16] = {s->binary, "--connect", s->endpoint, "--id", id, "--exit-on-drain",
                      "--allow-env", s->allow_env};
    size_t n = 8;
    if (s->allow_exec) argv[n++] = "--allow-exec";
    if (s->key) {
        argv[n++] = "--server-key";
        argv[n++] = s->server_key;
        argv[n++] = "--key";
        argv[n++] = s->key;
    }
    execvp(s->binary, argv);
    fprintf(stderr, "reasonsaver: cannot start %s: %s\n", s->binary, strerror(errno));
    _exit(127);
}

/* Adds "v," to the ",A,B," list b unless it is there. */
static void add_name(rs_buf_t *b, const char *v)
{
    char *item = rs_xasprintf(",%s,", v);
    if (!strstr(b->data, item)) rs_buf_printf(b, "%s,", v);
    free(item);
}

int coord_spawn_allow_exec(const rs_config_t *cfg)
{
    for (size_t g = 0; g < cfg->scoring.n_graders; g++)
        if (cfg->scoring.graders[g].kind == RS_GRADE_EXEC) return 1;
    return 0;
}

char *coord_spawn_allow_env(const rs_config_t *cfg)
{
    rs_buf_t b;
    rs_buf_init(&b);
    rs_buf_puts(&b, ",");
    /* the models', the embedder's, and the response cache's password (when there is a cache) */
    for (size_t m = 0; m <= cfg->n_models + 1; m++) {
        const char *v = m < cfg->n_models    ? cfg->models[m].api_key_env
                        : m == cfg->n_models ? cfg->embedder.api_key_env
                        : cfg->cache.mode != RS_CACHE_OFF ? cfg->cache.password_env
                                                          : NULL;
        if (!v) continue;
        add_name(&b, v);
    }
    /* and the variables its exec graders pass on to their processes */
    for (size_t g = 0; g < cfg->scoring.n_graders; g++)
        for (char **e = cfg->scoring.graders[g].env; e && *e; e++) add_name(&b, *e);
    /* ",A,B," while deduplicating; the worker reads "A,B" */
    char *list = rs_xstrndup(b.data + 1, b.len > 1 ? b.len - 2 : 0);
    rs_buf_cleanup(&b);
    return list;
}

coord_spawn_t *coord_spawn_start(size_t n, const char *endpoint,
                                 const char *allow_env, int allow_exec, const char *server_key,
                                 const char *key, rs_err_t *err)
{
    coord_spawn_t *s = rs_xcalloc(1, sizeof(*s));
    s->binary = coord_sibling_binary("reasonsaver-worker");
    s->endpoint = rs_xstrdup(endpoint);
    s->server_key = server_key && key ? rs_xstrdup(server_key) : NULL;
    s->key = server_key && key ? rs_xstrdup(key) : NULL;
    s->allow_env = rs_xstrdup(allow_env);
    s->allow_exec = allow_exec;
    s->pids = rs_xcalloc(n, sizeof(pid_t));
    s->started_ms = rs_xcalloc(n, sizeof(int64_t));
    s->quick_exits = rs_xcalloc(n, sizeof(int));
    s->n = n;
    for (size_t i = 0; i < n; i++) {
        s->started_ms[i] = rs_mono_ms();
        s->pids[i] = start_one(s, i);
        if (s->pids[i] < 0) {
            rs_err_set(err, "cannot start worker %zu: %s", i + 1, strerror(errno));
            coord_spawn_stop(&s, 0);
            return NULL;
        }
    }
    return s;
}

/* A worker that cannot start, or keeps dying right after it starts (a spec it cannot read, a
 * broken environment), is not restarted forever: after QUICK_EXITS_MAX quick exits in a row it is
 * given up, with its own messages on stderr saying why. */
static int give_up(coord_spawn_t *s, size_t i, int status)
{
    if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
        rs_error("worker %zu could not be started (%s); not restarting it", i + 1, s->binary);
        return 1;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == RS_PROTO_EXIT_SPEC) {
        rs_error("worker %zu cannot use the run's spec (its message is above); not restarting it",
                 i + 1);
        return 1;
    }
    int quick = rs_mono_ms() - s->started_ms[i] < QUICK_EXIT_MS;
    s->quick_exits[i] = quick ? s->quick_exits[i] + 1 : 0;
    if (s->quick_exits[i] < QUICK_EXITS_MAX) return 0;
    rs_error("worker %zu exited %d times in a row right after starting; not restarting it", i + 1,
             s->quick_exits[i]);
    return 1;
}

size_t coord_spawn_reap(coord_spawn_t *s)
{
    size_t restarted = 0;
    for (size_t i = 0; i < s->n; i++) {
        int status;
        if (s->pids[i] <= 0 || waitpid(s->pids[i], &status, WNOHANG) != s->pids[i]) continue;
        if (give_up(s, i, status)) {
            s->pids[i] = 0;
            s->given_up++;
            continue;
        }
        rs_warn("worker %zu (pid %d) exited unexpectedly (%s %d); restarting it", i + 1,
                (int)s->pids[i], WIFSIGNALED(status) ? "signal" : "status",
                WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
        s->started_ms[i] = rs_mono_ms();
        s->pids[i] = start_one(s, i);
        restarted++;
    }
    return restarted;
}

int coord_spawn_all_given_up(const coord_spawn_t *s)
{
    return s->n > 0 && s->given_up == s->n;
}

static int all_exited(coord_spawn_t *s)
{
    int all = 1;
    for (size_t i = 0; i < s->n; i++) {
        if (s->pids[i] <= 0) continue;
        if (waitpid(s->pids[i], NULL, WNOHANG) == s->pids[i]) s->pids[i] = 0;
        else all = 0;
    }
    return all;
}

int coord_spawn_exited(coord_spawn_t *s)
{
    return !s || all_exited(s);
}

static void wait_exit(coord_spawn_t *s, int64_t timeout_ms)
{
    int64_t until = rs_mono_ms() + timeout_ms;
    while (!all_exited(s) && rs_mono_ms() < until) {
        struct timespec ts = {0, 20 * 1000000};
        nanosleep(&ts, NULL);
    }
}

static void signal_all(coord_spawn_t *s, int sig)
{
    for (size_t i = 0; i < s->n; i++)
        if (s->pids[i] > 0) kill(s->pids[i], sig);
}

void coord_spawn_stop(coord_spawn_t **sp, int64_t timeout_ms)
{
    if (!sp || !*sp) return;
    coord_spawn_t *s = *sp;
    wait_exit(s, timeout_ms);
    signal_all(s, SIGTERM);
    wait_exit(s, 2000);
    signal_all(s, SIGKILL);
    wait_exit(s, 2000);
    free(s->binary);
    free(s->endpoint);
    free(s->server_key);
    free(s->key);
    free(s->allow_env);
    free(s->pids);
    free(s->started_ms);
    free(s->quick_exits);
    free(s);
    *sp = NULL;
}
