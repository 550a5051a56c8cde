/* tlsproxy: the stunnel client's configuration, its fork/exec, supervision and log reading. */
#define _GNU_SOURCE
#include "tlsproxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

struct coord_tlsproxy {
    pid_t pid; /* 0 when not running */
    char *host, *ca_file, *cert_file, *key_file;
    int port;
    char *dir;
    int own_dir; /* dir was made by start: stop removes it */
    char *conf, *log, *sock;
    off_t mark;
    /* Two connections use the proxy, each from its own thread (the result writer's, writer.h):
     * its restart and log mark are one at a time. */
    pthread_mutex_t lock;
};

static void sleep_ms(long ms)
{
    nanosleep(&(struct timespec){ms / 1000, (ms % 1000) * 1000000}, NULL);
}

/* A value written into stunnel.conf must stay one value: no line breaks or other control
 * characters (they would add options), no spaces at the ends (stunnel trims them). */
static int conf_value_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || s[0] == ' ' || s[n - 1] == ' ') return 0;
    for (const char *p = s; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) return 0;
    return 1;
}

static int check_file(const char *what, const char *path, rs_err_t *err)
{
    if (!conf_value_ok(path))
        return rs_err_set(err, "cluster.redis_tls.%s: the path holds control characters or "
                               "surrounding spaces", what);
    if (access(path, R_OK) != 0)
        return rs_err_set(err, "cluster.redis_tls.%s: %s: %s", what, path, strerror(errno));
    return 0;
}

static int is_ip(const char *host)
{
    unsigned char buf[sizeof(struct in6_addr)];
    return inet_pton(AF_INET, host, buf) == 1 || inet_pton(AF_INET6, host, buf) == 1;
}

/* The configuration, written afresh (O_EXCL, O_NOFOLLOW, mode 0600) on every start. */
static int write_conf(const coord_tlsproxy_t *p, rs_err_t *err)
{
    rs_buf_t b;
    rs_buf_init(&b);
    rs_buf_printf(&b,
                  "; written by reasonsaver (coordinator/tlsproxy.c): TLS to %s:%d\n"
                  "foreground = quiet\npid =\noutput = %s\ndebug = 5\n\n[redis]\nclient = yes\n"
                  "accept = %s\nconnect = %s:%d\nverifyChain = yes\nCAfile = %s\n%s = %s\n"
                  "sslVersionMin = TLSv1.2\nTIMEOUTconnect = 10\n",
                  p->host, p->port, p->log, p->sock, p->host, p->port, p->ca_file,
                  is_ip(p->host) ? "checkIP" : "checkHost", p->host);
    if (!is_ip(p->host)) rs_buf_printf(&b, "sni = %s\n", p->host);
    if (p->cert_file) rs_buf_printf(&b, "cert = %s\nkey = %s\n", p->cert_file, p->key_file);
    unlink(p->conf);
    int fd = open(p->conf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    int rc = fd < 0 ? -1 : 0;
    if (fd >= 0) {
        rc = write(fd, b.data, b.len) == (ssize_t)b.len ? 0 : -1;
        if (close(fd) != 0) rc = -1;
    }
    rs_buf_cleanup(&b);
    return rc ? rs_err_set(err, "%s: %s", p->conf, strerror(errno)) : 0;
}

static void exec_stunnel(const coord_tlsproxy_t *p, int report_fd)
{
    setpgid(0, 0); /* a Ctrl-C reaches the coordinator only; it decides when the proxy stops */
    prctl(PR_SET_PDEATHSIG, SIGTERM); /* and the proxy never outlives it */
    umask(077); /* the socket stunnel creates is ours alone: it carries the client certificate */
    int null = open("/dev/null", O_RDONLY);
    int log = open(p->log, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW, 0600);
    if (null >= 0) dup2(null, 0);
    if (log >= 0) { /* errors stunnel prints before it opens its output file */
        dup2(log, 1);
        dup2(log, 2);
    }
    execlp("stunnel", "stunnel", p->conf, (char *)NULL);
    int e = errno;
    if (write(report_fd, &e, sizeof(e)) < 0) _exit(127);
    _exit(127);
}

/* 1 when something accepts connections on the socket. */
static int listening(const char *sock)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof(a.sun_path), "%s", sock);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int ok = fd >= 0 && connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
    if (fd >= 0) close(fd);
    return ok;
}

/* The LOG3 (error) and LOG4 (warning) lines of the log after offset from, and the "[!]" errors
 * stunnel prints before it opens the log, joined with "; " and without their time stamps (caller
 * frees), or NULL when there are none. */
static char *logged_errors(const char *log, off_t from)
{
    FILE *f = fopen(log, "r");
    if (!f) return NULL;
    if (from > 0) fseeko(f, from, SEEK_SET);
    rs_buf_t b;
    rs_buf_init(&b);
    char line[1024];
    while (fgets(line, sizeof(line), f) && b.len < 700) {
        char *tag = strstr(line, " LOG3[");
        if (!tag) tag = strstr(line, " LOG4[");
        char *text = tag ? strstr(tag, "]: ") : NULL;
        if (text) text += 3;
        else if (strncmp(line, "[!] ", 4) == 0) text = line + 4; /* before the log file opens */
        else continue;
        text[strcspn(text, "\r\n")] = '\0';
        if (b.len && strstr(b.data, text)) continue; /* the same failure of another connection */
        rs_buf_printf(&b, "%s%s", b.len ? "; " : "", text);
    }
    fclose(f);
    if (b.len) return rs_buf_detach(&b);
    rs_buf_cleanup(&b);
    return NULL;
}

/* Starts stunnel and waits until it listens: 0, or -1 with err quoting what it logged. */
static int spawn(coord_tlsproxy_t *p, rs_err_t *err)
{
    unlink(p->sock); /* a dead proxy's socket would make the new one fail to bind */
    struct stat st;
    off_t start = stat(p->log, &st) == 0 ? st.st_size : 0;
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) return rs_err_set(err, "pipe: %s", strerror(errno));
    pid_t pid = fork();
    if (pid < 0) {
        close(report[0]);
        close(report[1]);
        return rs_err_set(err, "fork: %s", strerror(errno));
    }
    if (pid == 0) exec_stunnel(p, report[1]);
    close(report[1]);
    int exec_errno = 0;
    ssize_t got = read(report[0], &exec_errno, sizeof(exec_errno));
    close(report[0]);
    if (got == (ssize_t)sizeof(exec_errno)) {
        waitpid(pid, NULL, 0);
        if (exec_errno == ENOENT)
            return rs_err_set(err, "stunnel not found in PATH: a rediss:// Redis is reached "
                                   "through it; install it with `apt-get install -y stunnel4`");
        return rs_err_set(err, "cannot run stunnel: %s", strerror(exec_errno));
    }
    for (int i = 0; i < 100; i++) {
        if (listening(p->sock)) {
            p->pid = pid;
            return 0;
        }
        if (waitpid(pid, NULL, WNOHANG) == pid) break;
        sleep_ms(50);
    }
    if (waitpid(pid, NULL, WNOHANG) == 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
    }
    char *why = logged_errors(p->log, start);
    rs_err_set(err, "the TLS proxy (stunnel) to %s:%d did not start: %s", p->host, p->port,
               why ? why : "it logged no error");
    free(why);
    return -1;
}

static char *private_dir(rs_err_t *err)
{
    const char *tmp = getenv("TMPDIR");
    char *dir = rs_xasprintf("%s/rs-tls-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(dir)) return dir;
    rs_err_set(err, "cannot make a directory for the TLS proxy (%s): %s", dir, strerror(errno));
    free(dir);
    return NULL;
}

coord_tlsproxy_t *coord_tlsproxy_start(const coord_tlsproxy_opts_t *o, rs_err_t *err)
{
    if (!o->ca_file) {
        rs_err_set(err, "no CA file to check the server's certificate against: a run names it "
                        "with cluster.redis_tls.ca_file, and commands that read a run find it in "
                        "the run directory's run.json (give --out DIR and the RUN_ID)");
        return NULL;
    }
    if (check_file("ca_file", o->ca_file, err) ||
        (o->cert_file && check_file("cert_file", o->cert_file, err)) ||
        (o->key_file && check_file("key_file", o->key_file, err)))
        return NULL;
    if (!conf_value_ok(o->host) || o->port < 1 || o->port > 65535) {
        rs_err_set(err, "TLS proxy: bad server address");
        return NULL;
    }
    /* stunnel takes a unix socket only by an absolute path */
    char *dir = o->dir ? realpath(o->dir, NULL) : private_dir(err);
    if (!dir) {
        if (o->dir) rs_err_set(err, "%s: %s", o->dir, strerror(errno));
        return NULL;
    }
    coord_tlsproxy_t *p = rs_xcalloc(1, sizeof(*p));
    pthread_mutex_init(&p->lock, NULL);
    p->host = rs_xstrdup(o->host);
    p->port = o->port;
    p->ca_file = rs_xstrdup(o->ca_file);
    p->cert_file = o->cert_file ? rs_xstrdup(o->cert_file) : NULL;
    p->key_file = o->key_file ? rs_xstrdup(o->key_file) : NULL;
    p->dir = dir;
    p->own_dir = !o->dir;
    /* Named by process: a resume refused by the run lock, started beside the live coordinator,
     * must not replace the live proxy's socket or configuration. */
    int pid = (int)getpid();
    p->conf = rs_xasprintf("%s/stunnel-%d.conf", dir, pid);
    p->log = rs_xasprintf("%s/stunnel-%d.log", dir, pid);
    p->sock = rs_xasprintf("%s/stunnel-%d.sock", dir, pid);
    if (strlen(p->sock) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
        rs_err_set(err, "the path %s is too long for a unix socket; use a shorter run.out_dir",
                   p->sock);
        coord_tlsproxy_stop(&p);
        return NULL;
    }
    if (!conf_value_ok(p->sock) || !conf_value_ok(p->log)) {
        rs_err_set(err, "the TLS proxy's directory %s holds control characters", dir);
        coord_tlsproxy_stop(&p);
        return NULL;
    }
    if (write_conf(p, err) || spawn(p, err)) coord_tlsproxy_stop(&p);
    return p;
}

static int ensure(coord_tlsproxy_t *p, rs_err_t *err)
{
    int status = 0;
    if (p->pid > 0 && waitpid(p->pid, &status, WNOHANG) == 0) return 0;
    if (p->pid > 0)
        rs_warn("the TLS proxy to Redis (stunnel, pid %d) %s %d; restarting it", (int)p->pid,
                WIFSIGNALED(status) ? "was killed by signal" : "exited with status",
                WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    p->pid = 0;
    return spawn(p, err);
}

int coord_tlsproxy_ensure(coord_tlsproxy_t *p, rs_err_t *err)
{
    pthread_mutex_lock(&p->lock);
    int rc = ensure(p, err);
    pthread_mutex_unlock(&p->lock);
    return rc;
}

void coord_tlsproxy_stop(coord_tlsproxy_t **pp)
{
    if (!pp || !*pp) return;
    coord_tlsproxy_t *p = *pp;
    if (p->pid > 0) {
        kill(p->pid, SIGTERM);
        int i;
        for (i = 0; i < 40 && waitpid(p->pid, NULL, WNOHANG) == 0; i++) sleep_ms(50);
        if (i == 40) {
            kill(p->pid, SIGKILL);
            waitpid(p->pid, NULL, 0);
        }
    }
    if (p->sock) unlink(p->sock);
    if (p->conf) unlink(p->conf);
    if (p->own_dir) { /* in a run directory the log stays, for the record */
        unlink(p->log);
        rmdir(p->dir);
    }
    free(p->host);
    free(p->ca_file);
    free(p->cert_file);
    free(p->key_file);
    free(p->dir);
    free(p->conf);
    free(p->log);
    free(p->sock);
    pthread_mutex_destroy(&p->lock);
    free(p);
    *pp = NULL;
}

const char *coord_tlsproxy_socket(const coord_tlsproxy_t *p)
{
    return p->sock;
}

void coord_tlsproxy_mark(coord_tlsproxy_t *p)
{
    struct stat st;
    off_t at = stat(p->log, &st) == 0 ? st.st_size : 0;
    pthread_mutex_lock(&p->lock);
    p->mark = at;
    pthread_mutex_unlock(&p->lock);
}

char *coord_tlsproxy_error(coord_tlsproxy_t *p)
{
    pthread_mutex_lock(&p->lock);
    off_t mark = p->mark;
    pthread_mutex_unlock(&p->lock);
    char *why = NULL;
    for (int i = 0; i < 20 && !(why = logged_errors(p->log, mark)); i++) sleep_ms(50);
    return why;
}
