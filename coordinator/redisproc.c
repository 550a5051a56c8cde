/* redisproc: fork/exec of a private redis-server and its orderly shutdown. */
#define _GNU_SOURCE
#include "redisproc.h"

#include <errno.h>
#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

struct coord_redisproc {
    pid_t pid;
    char *dir;
    char *url;
    int lock_fd; /* flock on <dir>/redis.lock while this process serves the directory */
    int termed;  /* SHUTDOWN or SIGTERM sent (coord_redisproc_term) */
    int up;      /* it has answered a PING */
    redisContext *shut; /* the connection SHUTDOWN went on, closed once the server is gone */
};

static void nap_ms(long ms)
{
    nanosleep(&(struct timespec){ms / 1000, (ms % 1000) * 1000000}, NULL);
}

/* One redis-server per run directory: whoever starts one (a coordinator, or `status` on a stopped
 * run) holds an exclusive flock on <dir>/redis.lock until it has stopped it, so two servers never
 * share one AOF. Tries `tries` times, 50 ms apart; -1 on failure, with *busy set when another
 * process holds the lock. */
static int lock_dir(const char *dir, int tries, int *busy, rs_err_t *err)
{
    char *path = rs_xasprintf("%s/redis.lock", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
    free(path);
    if (fd < 0) return rs_err_set(err, "%s/redis.lock: %s", dir, strerror(errno));
    for (int i = 0; i < tries; i++) {
        if (i) nanosleep(&(struct timespec){0, 50 * 1000000}, NULL);
        if (flock(fd, LOCK_EX | LOCK_NB) == 0) return fd;
    }
    close(fd);
    *busy = 1;
    return rs_err_set(err, "another process keeps the Redis of %s running (redis.lock)", dir);
}

char *coord_redisproc_socket_path(const char *dir)
{
    char abs[PATH_MAX];
    if (!realpath(dir, abs)) return rs_xasprintf("%s/redis.sock", dir);
    return rs_xasprintf("%s/redis.sock", abs);
}

static int find_in_path(const char *name)
{
    const char *path = getenv("PATH");
    if (!path) return 0;
    char *copy = rs_xstrdup(path), *save = NULL;
    int found = 0;
    for (char *d = strtok_r(copy, ":", &save); d && !found; d = strtok_r(NULL, ":", &save)) {
        char *full = rs_xasprintf("%s/%s", d, name);
        found = access(full, X_OK) == 0;
        free(full);
    }
    free(copy);
    return found;
}

static int ping_socket(const char *sock)
{
    struct timeval tv = {0, 200000};
    redisContext *c = redisConnectUnixWithTimeout(sock, tv);
    int ok = 0;
    if (c && !c->err) {
        redisReply *r = redisCommand(c, "PING");
        ok = r && r->type == REDIS_REPLY_STATUS;
        if (r) freeReplyObject(r);
    }
    if (c) redisFree(c);
    return ok;
}

static void exec_redis(const char *dir, const char *sock, int rewrite)
{
    /* The child gets its own process group so a Ctrl-C at the terminal reaches the coordinator
     * only; the coordinator decides when Redis stops, after the last result is flushed. */
    setpgid(0, 0);
    /* If the coordinator dies (even by kill -9) its Redis gets SIGTERM, flushes the AOF and exits,
     * so a resume never finds two servers on one directory. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (chdir(dir) != 0) _exit(127);
    execlp("redis-server", "redis-server", "--port", "0", "--unixsocket", sock,
           "--unixsocketperm", "700", "--dir", ".", "--appendonly", "yes", "--appendfsync",
           "everysec", "--save", "", "--daemonize", "no", "--logfile", "redis.log",
           /* A run's data only grows (each result is written once), so rewriting the AOF to
            * compact it gains nothing and costs a fork and a full copy each time it doubles. A
            * cache's entries expire and are evicted: its AOF is rewritten. */
           "--auto-aof-rewrite-percentage", rewrite ? "100" : "0",
           "--protected-mode", "no", (char *)NULL);
    _exit(127);
}

/* Locks dir and forks redis-server on it; the server is not up yet (await). */
static coord_redisproc_t *launch(const char *dir, int lock_tries, int rewrite, int *busy,
                                 rs_err_t *err)
{
    if (!find_in_path("redis-server")) {
        rs_err_set(err, "redis-server not found in PATH: install it with `apt-get install -y "
                        "redis-server`, or use an existing server with --redis redis://HOST:PORT");
        return NULL;
    }
    char *sock = coord_redisproc_socket_path(dir);
    if (strlen(sock) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
        rs_err_set(err, "the run directory path is too long for a unix socket (%s); use a shorter "
                        "run.out_dir", sock);
        free(sock);
        return NULL;
    }
    int lock_fd = lock_dir(dir, lock_tries, busy, err);
    if (lock_fd < 0) {
        free(sock);
        return NULL;
    }
    unlink(sock); /* a stale socket of a dead server would make redis-server refuse to start */
    pid_t pid = rs_fork_for_exec();
    if (pid < 0) {
        rs_err_set(err, "fork: %s", strerror(errno));
        close(lock_fd);
        free(sock);
        return NULL;
    }
    if (pid == 0) exec_redis(dir, sock, rewrite);
    coord_redisproc_t *p = rs_xcalloc(1, sizeof(*p));
    p->pid = pid;
    p->dir = rs_xstrdup(dir);
    p->url = rs_xasprintf("unix:%s", sock);
    p->lock_fd = lock_fd;
    free(sock);
    return p;
}

/* Once its server is gone: unlocks the directory for the next one, frees, sets *pp to NULL. */
static void release(coord_redisproc_t **pp)
{
    coord_redisproc_t *p = *pp;
    if (p->shut) redisFree(p->shut);
    close(p->lock_fd);
    free(p->dir);
    free(p->url);
    free(p);
    *pp = NULL;
}

/* Waits until p's server answers PING; on failure kills it, frees p and sets *pp to NULL. */
int coord_redisproc_await(coord_redisproc_t **pp, rs_err_t *err)
{
    coord_redisproc_t *p = *pp;
    if (p->up) return 0;
    const char *sock = p->url + strlen("unix:");
    int64_t until = rs_mono_ms() + 10000;
    for (long wait_ms = 1; rs_mono_ms() < until; wait_ms = wait_ms < 10 ? 2 * wait_ms : 10) {
        if (ping_socket(sock)) {
            p->up = 1;
            return 0;
        }
        int status;
        if (waitpid(p->pid, &status, WNOHANG) == p->pid) break;
        nap_ms(wait_ms); /* a server is up in tens of ms: a 50 ms step added half of one */
    }
    kill(p->pid, SIGKILL);
    waitpid(p->pid, NULL, 0);
    rs_err_set(err, "redis-server did not start; see %s/redis.log", p->dir);
    release(pp);
    return -1;
}

static coord_redisproc_t *start(const char *dir, int lock_tries, int rewrite, int *busy,
                                rs_err_t *err)
{
    coord_redisproc_t *p = launch(dir, lock_tries, rewrite, busy, err);
    return p && coord_redisproc_await(&p, err) == 0 ? p : NULL;
}

coord_redisproc_t *coord_redisproc_start(const char *dir, rs_err_t *err)
{
    int busy = 0;
    return start(dir, 600, 0, &busy, err); /* waits up to 30 s for a `status` to stop its server */
}

coord_redisproc_t *coord_redisproc_try_start(const char *dir, int *busy, rs_err_t *err)
{
    *busy = 0;
    return start(dir, 1, 0, busy, err);
}

coord_redisproc_t *coord_redisproc_launch(const char *dir, rs_err_t *err)
{
    int busy = 0;
    return launch(dir, 600, 0, &busy, err);
}

coord_redisproc_t *coord_redisproc_launch_cache(const char *dir, int *busy, rs_err_t *err)
{
    *busy = 0;
    return launch(dir, 1, 1, busy, err);
}

/* Sends SHUTDOWN to the server at sock without waiting for it: the connection, returned (NULL
 * when the command could not be sent), is closed by the server once its AOF is flushed and
 * fsynced, and must stay open until then (a closed client's command is dropped). */
static redisContext *send_shutdown(const char *sock)
{
    struct timeval tv = {0, 200000};
    redisContext *c = redisConnectUnixWithTimeout(sock, tv);
    int done = 0;
    if (c && !c->err && redisAppendCommand(c, "SHUTDOWN") == REDIS_OK)
        while (!done && redisBufferWrite(c, &done) == REDIS_OK) {}
    if (c && done) return c;
    if (c) redisFree(c);
    return NULL;
}

/* The SHUTDOWN command is served at once; a SIGTERM only at the server's next cron tick (every
 * 100 ms at the default hz), which was half of the time a short run spent after its report. */
void coord_redisproc_term(coord_redisproc_t *p)
{
    if (!p || p->termed) return;
    if (!(p->shut = send_shutdown(p->url + strlen("unix:")))) kill(p->pid, SIGTERM);
    p->termed = 1;
}

void coord_redisproc_stop(coord_redisproc_t **pp)
{
    if (!pp || !*pp) return;
    coord_redisproc_t *p = *pp;
    coord_redisproc_term(p);
    int status;
    int64_t until = rs_mono_ms() + 30000; /* a large AOF rewrite can take a while */
    for (long wait_ms = 1; rs_mono_ms() < until; wait_ms = wait_ms < 10 ? 2 * wait_ms : 10) {
        if (waitpid(p->pid, &status, WNOHANG) == p->pid) goto done;
        nap_ms(wait_ms);
    }
    rs_warn("redis-server (pid %d) did not stop in 30 s; killing it", (int)p->pid);
    kill(p->pid, SIGKILL);
    waitpid(p->pid, NULL, 0);
done:
    release(pp);
}

const char *coord_redisproc_url(const coord_redisproc_t *p)
{
    return p->url;
}
