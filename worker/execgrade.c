/* execgrade: the exec graders' process pools, their pipes in the worker's loop, their deadlines
 * on its heap, and the reply codec. */
#define _GNU_SOURCE
#include "execgrade.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rank.h"
#include "score.h"

#define EX_DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"

typedef struct ex_pool ex_pool_t;

/* One grader process (pid 0: none running). */
typedef struct ex_proc {
    ex_pool_t *pool;
    pid_t pid;
    int in, out;          /* our ends of its stdin (we write) and stdout (we read) */
    wk_exec_job_t *job;   /* the case it is grading; NULL when idle */
    size_t sent;          /* bytes of the job's line written so far */
    rs_buf_t reply;       /* what it has written so far (at most WK_EXEC_REPLY_MAX bytes) */
    wk_timer_t deadline;  /* the job's timeout */
    double start_sec;     /* when the job was handed to it */
    unsigned served;      /* jobs this process answered: a reused one may have exited since */
} ex_proc_t;

struct wk_exec_job {
    wk_exec_cb cb; /* NULL once cancelled */
    void *ud;
    char *line;    /* the request, newline included */
    size_t len;
    wk_exec_job_t *next; /* in its pool's queue */
    ex_pool_t *pool;
    int requeued;  /* handed back once after a reused process ended before reading it */
};

/* One exec grader: its settings, its environment and program found once, its processes. */
struct ex_pool {
    wk_execgrade_t *e;
    const rs_grader_cfg_t *cfg;
    char *prog;     /* the program to execve; NULL when it was not found (prog_why says why) */
    char prog_why[256];
    char **envp;
    ex_proc_t *procs;  /* cfg->concurrency of them */
    size_t n_procs;
    wk_exec_job_t *head, *tail;
    size_t queued;
};

struct wk_execgrade {
    ex_pool_t *pools;
    size_t n_pools;
    size_t *pool_of; /* grader index -> pool index, SIZE_MAX for other kinds */
    size_t n_graders;
    wk_timerq_t *timers;
    size_t started;
};

/* ---- the reply codec ---- */

/* Copies s into out (cap bytes) cut at a character boundary. */
static void ex_copy_cut(char *out, size_t cap, const char *s, size_t n)
{
    if (n >= cap) {
        n = cap - 1;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--;
    }
    memcpy(out, s, n);
    out[n] = '\0';
}

static int ex_bad_reply(wk_exec_reply_t *r, char *why, size_t cap, const char *what, const char *line,
                     size_t len)
{
    rs_buf_t shown;
    rs_buf_init(&shown);
    rs_text_safe(&shown, line, len < 120 ? len : 120, RS_TEXT_SPACES);
    snprintf(why, cap, "bad reply (%s): %s%s", what, shown.data ? shown.data : "",
             len > 120 ? "..." : "");
    rs_buf_cleanup(&shown);
    r->verdict = WK_GRADE_ERROR;
    r->score = NAN;
    r->error_type = "bad_reply";
    r->reason = why;
    return -1;
}

static const struct {
    const char *name;
    int verdict;
    double score; /* when the reply gives none */
} EX_VERDICTS[] = {{"correct", RS_VERDICT_CORRECT, 1},
                {"wrong", RS_VERDICT_WRONG, 0},
                {"skipped", RS_VERDICT_SKIPPED, NAN},
                {"error", WK_GRADE_ERROR, NAN}};

int wk_execgrade_parse_reply(const char *line, size_t len, wk_exec_reply_t *r, char *why,
                             size_t cap)
{
    memset(r, 0, sizeof(*r));
    r->score = NAN;
    why[0] = '\0';
    json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);
    const char *v = json_string_value(json_object_get(o, "verdict"));
    json_t *score = json_object_get(o, "score"), *reason = json_object_get(o, "reason");
    size_t i = 0;
    while (v && i < RS_ARRAY_LEN(EX_VERDICTS) && strcmp(v, EX_VERDICTS[i].name) != 0) i++;
    int rc = 0;
    if (!json_is_object(o))
        rc = ex_bad_reply(r, why, cap, "not a JSON object", line, len);
    else if (!v || i == RS_ARRAY_LEN(EX_VERDICTS))
        rc = ex_bad_reply(r, why, cap, "verdict must be correct, wrong, skipped or error", line, len);
    else if (score && !json_is_null(score) &&
             (!json_is_number(score) || !(json_number_value(score) >= 0) ||
              json_number_value(score) > 1))
        rc = ex_bad_reply(r, why, cap, "score must be a number from 0 to 1", line, len);
    else if (reason && !json_is_null(reason) && !json_is_string(reason))
        rc = ex_bad_reply(r, why, cap, "reason must be a string", line, len);
    if (rc == 0) {
        r->verdict = EX_VERDICTS[i].verdict;
        r->score = json_is_number(score) ? json_number_value(score) : EX_VERDICTS[i].score;
        if (r->verdict == WK_GRADE_ERROR) r->error_type = "grader_error";
        if (json_is_string(reason)) {
            ex_copy_cut(why, cap, json_string_value(reason), json_string_length(reason));
            r->reason = why;
        }
    }
    json_decref(o);
    return rc;
}

/* ---- starting and stopping processes ---- */

/* A pipe whose ends are both above stderr and close on exec. */
static int ex_pipe_high(int fds[2])
{
    if (pipe(fds) != 0) return -1; /* the worker forks from this thread only: no race to close */
    for (int i = 0; i < 2; i++) {
        int hi = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
        close(fds[i]);
        fds[i] = hi;
    }
    if (fds[0] >= 0 && fds[1] >= 0) return 0;
    if (fds[0] >= 0) close(fds[0]);
    if (fds[1] >= 0) close(fds[1]);
    return -1;
}

static void ex_close_fd(int *fd)
{
    if (*fd >= 0) close(*fd);
    *fd = -1;
}

/* close_range(2) (Linux 5.9), as a raw system call: libc declares it only under _GNU_SOURCE. */
static int ex_close_range(unsigned lo, unsigned hi)
{
    return lo > hi ? 0 : (int)syscall(SYS_close_range, lo, hi, 0);
}

/* Every descriptor from lo up, but keep (>= lo). */
static void ex_close_from(int lo, int keep)
{
    if (ex_close_range((unsigned)lo, (unsigned)keep - 1) == 0 &&
        ex_close_range((unsigned)keep + 1, ~0U) == 0)
        return;
    for (int fd = lo; fd < 65536; fd++) /* an older kernel */
        if (fd != keep) close(fd);
}

/* In the child, between fork and exec: only async-signal-safe calls. Sends errno down report
 * when the exec fails. */
static void ex_child(const ex_pool_t *pl, int in, int out, int report)
{
    const rs_grader_cfg_t *g = pl->cfg;
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    struct sigaction dfl = {.sa_handler = SIG_DFL};
    for (int s = 1; s < NSIG; s++) sigaction(s, &dfl, NULL); /* SIGPIPE above all: ignored here */
    setsid(); /* its own process group: a timeout kills what it started too */
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* and it never outlives its worker */
    if (dup2(in, 0) < 0 || dup2(out, 1) < 0) goto fail;
    ex_close_from(3, report);
    if (g->memory_mb > 0) {
        struct rlimit rl = {(rlim_t)g->memory_mb << 20, (rlim_t)g->memory_mb << 20};
        setrlimit(RLIMIT_AS, &rl);
    }
    if (g->cpu_seconds > 0) {
        struct rlimit rl = {(rlim_t)g->cpu_seconds, (rlim_t)g->cpu_seconds + 1};
        setrlimit(RLIMIT_CPU, &rl);
    }
    execve(pl->prog, g->command, pl->envp);
fail:;
    int code = errno;
    ssize_t w = write(report, &code, sizeof(code));
    (void)w;
    _exit(127);
}

/* Kills p's process group and reaps it. Returns its wait status (-1 when unknown). */
static int ex_proc_stop(ex_proc_t *p)
{
    int st = -1;
    if (p->pid > 0) {
        kill(-p->pid, SIGKILL);
        kill(p->pid, SIGKILL);
        while (waitpid(p->pid, &st, 0) < 0 && errno == EINTR) {}
    }
    p->pid = 0;
    p->served = 0;
    ex_close_fd(&p->in);
    ex_close_fd(&p->out);
    rs_buf_reset(&p->reply);
    return st;
}

/* Starts p's process. 0, or -1 with why. Waits only for the exec itself (the report pipe closes
 * on it), never for the grader. */
static int ex_proc_start(ex_proc_t *p, char *why, size_t cap)
{
    ex_pool_t *pl = p->pool;
    if (!pl->prog) return snprintf(why, cap, "%s", pl->prog_why), -1;
    int in[2], out[2], report[2];
    if (ex_pipe_high(in) != 0) return snprintf(why, cap, "pipe: %s", strerror(errno)), -1;
    if (ex_pipe_high(out) != 0) {
        close(in[0]), close(in[1]);
        return snprintf(why, cap, "pipe: %s", strerror(errno)), -1;
    }
    if (ex_pipe_high(report) != 0) {
        close(in[0]), close(in[1]), close(out[0]), close(out[1]);
        return snprintf(why, cap, "pipe: %s", strerror(errno)), -1;
    }
    pid_t pid = fork();
    if (pid == 0) ex_child(pl, in[0], out[1], report[1]);
    int fork_errno = errno;
    close(in[0]), close(out[1]), close(report[1]);
    int code = 0;
    ssize_t r = -1;
    if (pid > 0)
        while ((r = read(report[0], &code, sizeof(code))) < 0 && errno == EINTR) {}
    close(report[0]);
    if (pid < 0 || r == (ssize_t)sizeof(code)) {
        if (pid > 0) waitpid(pid, NULL, 0);
        close(in[1]), close(out[0]);
        snprintf(why, cap, "cannot run %s: %s", pl->prog, strerror(pid < 0 ? fork_errno : code));
        return -1;
    }
    fcntl(in[1], F_SETFL, fcntl(in[1], F_GETFL) | O_NONBLOCK);
    fcntl(out[0], F_SETFL, fcntl(out[0], F_GETFL) | O_NONBLOCK);
    p->pid = pid;
    p->in = in[1];
    p->out = out[0];
    pl->e->started++;
    return 0;
}

/* 1 when p's idle process can take the next request: still there, its stdin open, and nothing
 * on its stdout (a line after its last reply would be read as the next case's: a process out of
 * step with the protocol, or closing it on its way out, is stopped for a fresh one). */
static int ex_proc_alive(ex_proc_t *p)
{
    if (p->pid <= 0) return 0;
    char c;
    ssize_t n = p->in >= 0 && p->out >= 0 ? read(p->out, &c, 1) : 0;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) &&
        waitpid(p->pid, NULL, WNOHANG) == 0)
        return 1;
    ex_proc_stop(p);
    return 0;
}

/* What a wait status says, for a reason. */
static void ex_describe_exit(int st, char *out, size_t cap)
{
    if (st >= 0 && WIFEXITED(st))
        snprintf(out, cap, "exited with status %d", WEXITSTATUS(st));
    else if (st >= 0 && WIFSIGNALED(st))
        snprintf(out, cap, "killed by signal %d (%s)%s", WTERMSIG(st), strsignal(WTERMSIG(st)),
                 WTERMSIG(st) == SIGXCPU ? ": it used up cpu_seconds" : "");
    else
        snprintf(out, cap, "exited");
}

/* ---- jobs ---- */

/* Ends p's job with reply r (stopping the process first when stop), then runs its callback. */
static void ex_job_end(ex_proc_t *p, wk_exec_reply_t *r, int stop)
{
    wk_exec_job_t *j = p->job;
    p->job = NULL;
    p->sent = 0;
    wk_timerq_remove(p->pool->e->timers, &p->deadline);
    if (stop) ex_proc_stop(p);
    else if (p->pid > 0) p->served++; /* (a crash stopped it already) */
    rs_buf_reset(&p->reply);
    r->latency_ms = (rs_mono_sec() - p->start_sec) * 1000.0;
    if (j->cb) j->cb(j->ud, r);
    free(j->line);
    free(j);
}

static void ex_job_fail(ex_proc_t *p, const char *type, const char *reason, int stop)
{
    wk_exec_reply_t r = {.verdict = WK_GRADE_ERROR, .score = NAN, .reason = reason,
                         .error_type = type};
    ex_job_end(p, &r, stop);
}

/* The process ended its stdout (or broke a pipe) before a whole reply. */
static void ex_job_crashed(ex_proc_t *p)
{
    char how[160], reason[320];
    size_t got = p->reply.len;
    ex_describe_exit(ex_proc_stop(p), how, sizeof(how));
    snprintf(reason, sizeof(reason), "the grader %s before its reply was whole (%zu bytes of it)",
             how, got);
    ex_job_fail(p, "crashed", reason, 0);
}

static void ex_on_deadline(wk_timer_t *t)
{
    ex_proc_t *p = WK_CONTAINER_OF(t, ex_proc_t, deadline);
    char reason[256];
    int n = snprintf(reason, sizeof(reason), "no reply within %lld ms (timeout_ms)",
                     (long long)p->pool->cfg->timeout_ms);
    if (p->sent < p->job->len && n > 0)
        snprintf(reason + n, sizeof(reason) - (size_t)n,
                 "; its stdin took only %zu of the request's %zu bytes: does it read it?", p->sent,
                 p->job->len);
    ex_job_fail(p, "timeout", reason, 1);
}

/* A whole line is in p's reply buffer up to nl: the job's answer. Anything after it on the same
 * read means the grader is out of step with the protocol: it is restarted. */
static void ex_take_reply(ex_proc_t *p, const char *nl)
{
    const char *data = p->reply.data;
    size_t len = (size_t)(nl - data), extra = p->reply.len - len - 1;
    int junk = 0;
    for (size_t i = 0; i < extra; i++)
        junk |= !strchr(" \t\r\n", nl[1 + i]);
    wk_exec_reply_t r;
    char why[WK_EXEC_REASON_MAX];
    int bad = wk_execgrade_parse_reply(data, len > 0 && data[len - 1] == '\r' ? len - 1 : len, &r,
                                       why, sizeof(why));
    ex_job_end(p, &r, bad || junk);
}

/* A reused process ended without a byte of reply, most likely on its way out after its last one
 * (a grader that exits after each reply): the job goes back to the head of the queue, once, for
 * a fresh process. 1 when it did. */
static int ex_job_requeue(ex_proc_t *p)
{
    wk_exec_job_t *j = p->job;
    if (p->served == 0 || p->reply.len > 0 || j->requeued) return 0;
    p->job = NULL;
    p->sent = 0;
    wk_timerq_remove(p->pool->e->timers, &p->deadline);
    ex_proc_stop(p);
    ex_pool_t *pl = p->pool;
    j->requeued = 1;
    j->next = pl->head;
    pl->head = j;
    if (!pl->tail) pl->tail = j;
    pl->queued++;
    return 1;
}

/* Writes what p's stdin takes. 0, or -1 when the job has ended. */
static int ex_proc_write(ex_proc_t *p)
{
    wk_exec_job_t *j = p->job;
    while (p->sent < j->len) {
        ssize_t n = write(p->in, j->line + p->sent, j->len - p->sent);
        if (n > 0) {
            p->sent += (size_t)n;
        } else if (errno == EINTR) {
            continue;
        } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
            return 0; /* the deadline covers a grader that never reads */
        } else if (errno == EPIPE) {
            ex_close_fd(&p->in); /* it closed its stdin: it may still answer */
            p->sent = j->len;
        } else if (!ex_job_requeue(p)) {
            ex_job_crashed(p);
            return -1;
        } else {
            return -1;
        }
    }
    return 0;
}

/* Reads what p's stdout has; ends the job on a whole reply, an oversize one, or EOF. */
static void ex_proc_read(ex_proc_t *p)
{
    for (;;) {
        size_t room = WK_EXEC_REPLY_MAX - p->reply.len;
        if (room == 0) {
            char reason[128];
            snprintf(reason, sizeof(reason), "reply over %d bytes without a newline",
                     WK_EXEC_REPLY_MAX);
            ex_job_fail(p, "reply_too_large", reason, 1);
            return;
        }
        rs_buf_reserve(&p->reply, room < 16384 ? room : 16384);
        size_t want = room < 16384 ? room : 16384;
        ssize_t n = read(p->out, p->reply.data + p->reply.len, want);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        if (n <= 0) {
            if (n == 0 && ex_job_requeue(p)) return; /* the caller pumps the queue */
            ex_job_crashed(p);
            return;
        }
        size_t from = p->reply.len;
        p->reply.len += (size_t)n;
        p->reply.data[p->reply.len] = '\0';
        const char *nl = memchr(p->reply.data + from, '\n', (size_t)n);
        if (nl) {
            ex_take_reply(p, nl);
            return;
        }
    }
}

static void ex_proc_io(ex_proc_t *p)
{
    if (!p->job) return;
    if (p->in >= 0 && ex_proc_write(p) != 0) return;
    ex_proc_read(p);
}

/* A free process of pl (an idle live one first, else a slot to start one in), or NULL. */
static ex_proc_t *ex_free_proc(ex_pool_t *pl)
{
    ex_proc_t *slot = NULL;
    for (size_t i = 0; i < pl->n_procs; i++) {
        ex_proc_t *p = &pl->procs[i];
        if (p->job) continue;
        if (ex_proc_alive(p)) return p;
        if (!slot) slot = p;
    }
    return slot;
}

/* Hands queued jobs to free processes, starting them as needed. */
static void ex_pump(ex_pool_t *pl)
{
    ex_proc_t *p;
    while (pl->head && (p = ex_free_proc(pl))) {
        wk_exec_job_t *j = pl->head;
        pl->head = j->next;
        if (!pl->head) pl->tail = NULL;
        pl->queued--;
        p->job = j;
        p->sent = 0;
        p->start_sec = rs_mono_sec();
        char why[320];
        if (!p->pid && ex_proc_start(p, why, sizeof(why)) != 0) {
            ex_job_fail(p, "cannot_start", why, 0);
            continue;
        }
        wk_timerq_add(pl->e->timers, &p->deadline, rs_mono_ms() + pl->cfg->timeout_ms,
                      ex_on_deadline);
        ex_proc_io(p);
    }
}

/* ---- the pools ---- */

/* The grader's environment: its env names that are set here (read through the worker's
 * --allow-env guard, which checked them with the spec), and PATH. */
static char **ex_make_envp(const rs_grader_cfg_t *g, const wk_envguard_t *env)
{
    size_t n = 0;
    while (g->env && g->env[n]) n++;
    char **envp = rs_xcalloc(n + 2, sizeof(char *));
    size_t k = 0;
    int path = 0;
    for (size_t i = 0; i < n; i++) {
        const char *v = wk_envguard_getenv(env, g->env[i]);
        if (!v) continue;
        envp[k++] = rs_xasprintf("%s=%s", g->env[i], v);
        path |= strcmp(g->env[i], "PATH") == 0;
    }
    if (!path) envp[k++] = rs_xstrdup("PATH=" EX_DEFAULT_PATH);
    return envp;
}

static const char *ex_env_path(char **envp)
{
    for (; *envp; envp++)
        if (strncmp(*envp, "PATH=", 5) == 0) return *envp + 5;
    return EX_DEFAULT_PATH;
}

/* The program's file: command[0] itself when it names a directory, else the first executable of
 * that name in the grader's PATH (found once, in the worker, not in the child). */
static void ex_find_prog(ex_pool_t *pl)
{
    const char *name = pl->cfg->command[0];
    if (strchr(name, '/')) {
        pl->prog = rs_xstrdup(name);
        return;
    }
    const char *dirs = ex_env_path(pl->envp);
    while (*dirs) {
        size_t len = strcspn(dirs, ":");
        if (len == 0) { /* an empty element (the current directory) is not searched */
            dirs++;
            continue;
        }
        char *cand = rs_xasprintf("%.*s/%s", (int)len, dirs, name);
        struct stat st;
        if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) && access(cand, X_OK) == 0) {
            pl->prog = cand;
            return;
        }
        free(cand);
        dirs += len + (dirs[len] == ':');
    }
    snprintf(pl->prog_why, sizeof(pl->prog_why), "cannot run %s: not found in PATH (%s)", name,
             ex_env_path(pl->envp));
}

wk_execgrade_t *wk_execgrade_new(const rs_scoring_cfg_t *cfg, const wk_envguard_t *env,
                                 wk_timerq_t *timers)
{
    size_t n = 0;
    for (size_t g = 0; g < cfg->n_graders; g++) n += cfg->graders[g].kind == RS_GRADE_EXEC;
    if (!n) return NULL;
    wk_execgrade_t *e = rs_xcalloc(1, sizeof(*e));
    e->timers = timers;
    e->pools = rs_xcalloc(n, sizeof(ex_pool_t));
    e->pool_of = rs_xcalloc(cfg->n_graders, sizeof(size_t));
    e->n_graders = cfg->n_graders;
    for (size_t g = 0; g < cfg->n_graders; g++) {
        e->pool_of[g] = SIZE_MAX;
        if (cfg->graders[g].kind != RS_GRADE_EXEC) continue;
        ex_pool_t *pl = &e->pools[e->n_pools];
        e->pool_of[g] = e->n_pools++;
        pl->e = e;
        pl->cfg = &cfg->graders[g];
        pl->envp = ex_make_envp(pl->cfg, env);
        ex_find_prog(pl);
        pl->n_procs = (size_t)pl->cfg->concurrency;
        pl->procs = rs_xcalloc(pl->n_procs, sizeof(ex_proc_t));
        for (size_t i = 0; i < pl->n_procs; i++) {
            ex_proc_t *p = &pl->procs[i];
            p->pool = pl;
            p->in = p->out = -1;
            rs_buf_init(&p->reply);
        }
    }
    return e;
}

void wk_execgrade_destroy(wk_execgrade_t **ep)
{
    wk_execgrade_t *e = ep ? *ep : NULL;
    if (!e) return;
    for (size_t i = 0; i < e->n_pools; i++) {
        ex_pool_t *pl = &e->pools[i];
        for (size_t k = 0; k < pl->n_procs; k++) {
            ex_proc_t *p = &pl->procs[k];
            wk_timerq_remove(e->timers, &p->deadline);
            ex_proc_stop(p);
            rs_buf_cleanup(&p->reply);
            if (p->job) free(p->job->line), free(p->job);
        }
        while (pl->head) {
            wk_exec_job_t *j = pl->head;
            pl->head = j->next;
            free(j->line);
            free(j);
        }
        for (char **v = pl->envp; *v; v++) free(*v);
        free(pl->envp);
        free(pl->prog);
        free(pl->procs);
    }
    free(e->pools);
    free(e->pool_of);
    free(e);
    *ep = NULL;
}

wk_exec_job_t *wk_execgrade_submit(wk_execgrade_t *e, size_t g, const char *line, size_t len,
                                   wk_exec_cb cb, void *ud)
{
    assert(g < e->n_graders && e->pool_of[g] != SIZE_MAX);
    ex_pool_t *pl = &e->pools[e->pool_of[g]];
    wk_exec_job_t *j = rs_xcalloc(1, sizeof(*j));
    j->cb = cb;
    j->ud = ud;
    j->pool = pl;
    j->line = rs_xmalloc(len + 1);
    memcpy(j->line, line, len);
    j->line[len] = '\n';
    j->len = len + 1;
    if (pl->tail) pl->tail->next = j;
    else pl->head = j;
    pl->tail = j;
    pl->queued++;
    return j;
}

void wk_execgrade_cancel(wk_execgrade_t *e, wk_exec_job_t *j)
{
    (void)e;
    ex_pool_t *pl = j->pool;
    for (wk_exec_job_t **at = &pl->head, *prev = NULL; *at; prev = *at, at = &(*at)->next) {
        if (*at != j) continue;
        *at = j->next;
        if (pl->tail == j) pl->tail = prev;
        pl->queued--;
        free(j->line);
        free(j);
        return;
    }
    j->cb = NULL; /* a process has it: its reply will be thrown away */
}

size_t wk_execgrade_max_fds(const wk_execgrade_t *e)
{
    size_t n = 0;
    for (size_t i = 0; e && i < e->n_pools; i++) n += 2 * e->pools[i].n_procs;
    return n;
}

size_t wk_execgrade_fds(const wk_execgrade_t *e, struct pollfd *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; e && i < e->n_pools; i++) {
        const ex_pool_t *pl = &e->pools[i];
        for (size_t k = 0; k < pl->n_procs; k++) {
            const ex_proc_t *p = &pl->procs[k];
            if (!p->job) continue;
            if (p->out >= 0 && n < cap) out[n++] = (struct pollfd){p->out, POLLIN, 0};
            if (p->in >= 0 && p->sent < p->job->len && n < cap)
                out[n++] = (struct pollfd){p->in, POLLOUT, 0};
        }
    }
    return n;
}

void wk_execgrade_io(wk_execgrade_t *e)
{
    for (size_t i = 0; e && i < e->n_pools; i++) {
        ex_pool_t *pl = &e->pools[i];
        for (size_t k = 0; k < pl->n_procs; k++) ex_proc_io(&pl->procs[k]);
        ex_pump(pl);
    }
}

int wk_execgrade_startable(const wk_execgrade_t *e)
{
    for (size_t i = 0; e && i < e->n_pools; i++) {
        const ex_pool_t *pl = &e->pools[i];
        for (size_t k = 0; pl->head && k < pl->n_procs; k++)
            if (!pl->procs[k].job) return 1;
    }
    return 0;
}

size_t wk_execgrade_started(const wk_execgrade_t *e)
{
    return e ? e->started : 0;
}

size_t wk_execgrade_queued(const wk_execgrade_t *e)
{
    size_t n = 0;
    for (size_t i = 0; e && i < e->n_pools; i++) n += e->pools[i].queued;
    return n;
}
