/* testworker: a worker session (worker/session.c, from rsworker) in a forked child, and the
 * coordinator's side played by the test: a ROUTER socket on a free loopback port that receives and
 * decodes the worker's frames and answers with encoded ones, the HELLO / WELCOME / CREDIT join,
 * and a drain that waits for the child's exit. For tests/unit/test_session.c and any test of the
 * worker's side of the protocol. Header only: each test program is one .c file; include it after
 * <cmocka.h>. Fork the worker before this process makes a ZeroMQ context (contexts do not fork). */
#ifndef RS_TEST_TESTWORKER_H
#define RS_TEST_TESTWORKER_H

#include <curl/curl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "../../worker/envguard.h"
#include "../../worker/session.h"
#include "proto.h"
#include "util.h"

/* ---- the coordinator's side ---- */

typedef struct router {
    void *ctx, *sock;
    char endpoint[64];
    zmq_msg_t peer; /* identity of the last sender */
} router_t;

static inline int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd);
    return ntohs(a.sin_port);
}

static inline void router_open(router_t *r, int port)
{
    r->ctx = zmq_ctx_new();
    r->sock = zmq_socket(r->ctx, ZMQ_ROUTER);
    int linger = 0;
    zmq_setsockopt(r->sock, ZMQ_LINGER, &linger, sizeof(linger));
    snprintf(r->endpoint, sizeof(r->endpoint), "tcp://127.0.0.1:%d", port);
    assert_int_equal(zmq_bind(r->sock, r->endpoint), 0);
    zmq_msg_init(&r->peer);
}

static inline void router_close(router_t *r)
{
    zmq_msg_close(&r->peer);
    zmq_close(r->sock);
    zmq_ctx_term(r->ctx);
}

/* The next frame within timeout_ms, decoded into m; 0, or -1 on timeout. */
static inline int router_recv(router_t *r, int timeout_ms, rs_msg_t *m)
{
    zmq_pollitem_t it = {r->sock, 0, ZMQ_POLLIN, 0};
    if (zmq_poll(&it, 1, timeout_ms) <= 0) return -1;
    zmq_msg_t body;
    zmq_msg_close(&r->peer);
    zmq_msg_init(&r->peer);
    zmq_msg_init(&body);
    assert_true(zmq_msg_recv(&r->peer, r->sock, 0) >= 0);
    assert_true(zmq_msg_recv(&body, r->sock, 0) >= 0);
    rs_err_t err;
    int rc = rs_proto_decode(zmq_msg_data(&body), zmq_msg_size(&body), m, &err);
    zmq_msg_close(&body);
    if (rc != 0) fail_msg("the worker sent a bad frame: %s", err.msg);
    return 0;
}

/* Waits for a message of type t, skipping heartbeats; 0, or -1 on timeout. */
static inline int router_expect(router_t *r, rs_msg_type_t t, int timeout_ms, rs_msg_t *m)
{
    int64_t until = rs_mono_ms() + timeout_ms;
    while (rs_mono_ms() < until) {
        if (router_recv(r, (int)(until - rs_mono_ms()), m) != 0) return -1;
        if (m->type == t) return 0;
        assert_int_equal(m->type, RS_MSG_HEARTBEAT);
        rs_msg_cleanup(m);
    }
    return -1;
}

static inline void router_send(router_t *r, rs_buf_t *b)
{
    zmq_send(r->sock, zmq_msg_data(&r->peer), zmq_msg_size(&r->peer), ZMQ_SNDMORE);
    zmq_send(r->sock, b->data, b->len, 0);
    rs_buf_reset(b);
}

static inline void send_welcome(router_t *r, const char *run_id, const char *spec)
{
    rs_buf_t b;
    rs_buf_init(&b);
    rs_welcome_t w = {(char *)run_id, (char *)spec, 200};
    rs_proto_encode_welcome(&b, &w);
    router_send(r, &b);
    rs_buf_cleanup(&b);
}

/* ---- the worker, in a child ---- */

typedef struct child {
    pid_t pid;
    int err_fd; /* what the session's error said, written when it returns */
} child_t;

static inline child_t start_worker(int port, int slots)
{
    int p[2];
    assert_int_equal(pipe(p), 0);
    fflush(NULL); /* the child leaves through exit(), which flushes what it inherited */
    child_t c = {fork(), p[0]};
    assert_true(c.pid >= 0);
    if (c.pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* a failed assertion up there must not leave it running */
        close(p[0]);
        char endpoint[64];
        snprintf(endpoint, sizeof(endpoint), "tcp://127.0.0.1:%d", port);
        wk_envguard_t *env = wk_envguard_new();
        wk_envguard_add(env, WK_ENVGUARD_DEFAULT, NULL);
        wk_opts_t o = {.connect = endpoint, .id = "t-1", .slots = slots, .exit_on_drain = 1,
                       .env = env};
        static volatile sig_atomic_t stop;
        rs_err_t err = {""};
        curl_global_init(CURL_GLOBAL_DEFAULT);
        int rc = wk_session_run(&o, &stop, &err);
        if (rc != 0 && write(p[1], err.msg, strlen(err.msg)) < 0) rc = -2;
        curl_global_cleanup();
        wk_envguard_destroy(&env);
        /* exit(), not _exit(): under ASan the leak check runs and fails the exit status */
        exit(rc == 0 ? 0 : 3);
    }
    close(p[1]);
    return c;
}

/* 1 while the child runs; it is not reaped here (WNOWAIT), so wait_worker still sees how it ended. */
static inline int alive(const child_t *c)
{
    siginfo_t si;
    memset(&si, 0, sizeof(si));
    return waitid(P_PID, (id_t)c->pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid == 0;
}

/* The child's exit status within timeout_ms (-1 if it is still running: then it is killed). */
static inline int wait_worker(child_t *c, int timeout_ms, char *msg, size_t size)
{
    int status = 0;
    int64_t until = rs_mono_ms() + timeout_ms;
    while (waitpid(c->pid, &status, WNOHANG) == 0) {
        if (rs_mono_ms() > until) {
            kill(c->pid, SIGKILL);
            waitpid(c->pid, &status, 0);
            close(c->err_fd);
            return -1;
        }
        struct timespec ts = {0, 10 * 1000000};
        nanosleep(&ts, NULL);
    }
    ssize_t n = read(c->err_fd, msg, size - 1);
    msg[n > 0 ? n : 0] = '\0';
    close(c->err_fd);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Plays the coordinator's side of a join on port: HELLO, WELCOME with spec, then the worker's
 * CREDIT, whose n it returns. */
static inline int64_t join(router_t *r, int port, const char *run_id, const char *spec)
{
    rs_msg_t m;
    router_open(r, port);
    assert_int_equal(router_expect(r, RS_MSG_HELLO, 3000, &m), 0);
    rs_msg_cleanup(&m);
    send_welcome(r, run_id, spec);
    assert_int_equal(router_expect(r, RS_MSG_CREDIT, 2000, &m), 0);
    int64_t n = m.u.credit;
    rs_msg_cleanup(&m);
    return n;
}

/* A worker joined to a router (run "run-1", the given spec, whose ownership it takes), as most
 * session tests begin; tw_end drains it, waits for a clean exit and frees what it holds. */
typedef struct tw_joined {
    child_t c;
    router_t r;
    char *spec;
} tw_joined_t;

static inline void tw_start(tw_joined_t *j, int slots, char *spec, int64_t want_credit)
{
    int port = free_port();
    j->c = start_worker(port, slots);
    j->spec = spec;
    assert_int_equal(join(&j->r, port, "run-1", spec), want_credit);
}

static inline void tw_end(tw_joined_t *j)
{
    rs_buf_t b;
    rs_buf_init(&b);
    rs_proto_encode_drain(&b);
    router_send(&j->r, &b);
    rs_buf_cleanup(&b);
    char msg[1024];
    assert_int_equal(wait_worker(&j->c, 5000, msg, sizeof(msg)), 0);
    router_close(&j->r);
    free(j->spec);
}

#endif
