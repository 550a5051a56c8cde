/* test_http_engine: the worker's libcurl engine (worker/http.c, from rsworker) against
 * a tiny forked HTTP server on a loopback port: success, retries after 429 honouring
 * Retry-After, 500 until the retries run out, the body cap (4 MiB, or the run's), timeouts, refused
 * connections, cancelling in every state, and the cap on transfers in flight. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "../../worker/http.h"
#include "../../worker/execgrade.h"
#include "../../worker/cache.h"
#include "../../worker/envguard.h"
#include "../../worker/timerq.h"
#include <curl/curl.h>

/* ---- the server: one forked process per connection, counters in shared memory ---- */

enum { P_OK, P_429, P_500, P_BIG, P_HANG, P_SLOW, P_BUSY, P_N };
static const char *const PATHS[P_N] = {"/ok", "/429", "/500", "/big", "/hang", "/slow", "/busy"};

typedef struct shared {
    int hits[P_N];
    int slow_active, slow_max; /* /slow requests being served at once, and the most seen */
} shared_t;

static shared_t *sh;
static pid_t server_pid;
static int port;

static void reply(int fd, const char *status, const char *extra, const char *body, size_t len)
{
    char head[256];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %s\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n%s\r\n", status, len, extra);
    if (write(fd, head, (size_t)n) < 0) return;
    for (size_t off = 0; off < len;) {
        ssize_t w = write(fd, body + off, len - off);
        if (w <= 0) return;
        off += (size_t)w;
    }
}

static int path_of(const char *req)
{
    for (int i = 0; i < P_N; i++) {
        size_t n = strlen(PATHS[i]);
        if (strncmp(req + 5, PATHS[i], n) == 0 && req[5 + n] == ' ') return i;
    }
    return -1;
}

static void serve(int fd)
{
    char req[4096];
    size_t got = 0;
    while (got < sizeof(req) - 1 && !strstr(req, "\r\n\r\n")) {
        ssize_t r = read(fd, req + got, sizeof(req) - 1 - got);
        if (r <= 0) return;
        got += (size_t)r;
        req[got] = '\0';
    }
    int p = path_of(req);
    if (p < 0) return reply(fd, "404 Not Found", "", "{}", 2);
    int nth = __atomic_fetch_add(&sh->hits[p], 1, __ATOMIC_SEQ_CST);
    if (p == P_429 && nth == 0)
        return reply(fd, "429 Too Many Requests", "Retry-After: 1\r\n", "{}", 2);
    if (p == P_BUSY) return reply(fd, "429 Too Many Requests", "Retry-After: 60\r\n", "{}", 2);
    if (p == P_500) return reply(fd, "500 Internal Server Error", "", "{\"error\":\"boom\"}", 16);
    if (p == P_HANG) {
        sleep(30);
        return;
    }
    if (p == P_SLOW) {
        int now = __atomic_add_fetch(&sh->slow_active, 1, __ATOMIC_SEQ_CST);
        int max = __atomic_load_n(&sh->slow_max, __ATOMIC_SEQ_CST);
        while (now > max && !__atomic_compare_exchange_n(&sh->slow_max, &max, now, 0,
                                                         __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST)) {
        }
        usleep(300 * 1000);
        __atomic_sub_fetch(&sh->slow_active, 1, __ATOMIC_SEQ_CST);
    }
    if (p == P_BIG) {
        size_t len = RS_PROVIDER_BODY_CAP + 1;
        char *big = malloc(len);
        memset(big, ' ', len);
        reply(fd, "200 OK", "", big, len);
        return free(big);
    }
    reply(fd, "200 OK", "", "{\"ok\":1}", 8);
}

static void server_loop(int lfd)
{
    signal(SIGCHLD, SIG_IGN);
    for (;;) {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0) continue;
        if (fork() == 0) {
            serve(fd);
            close(fd);
            _exit(0);
        }
        close(fd);
    }
}

static int setup(void **state)
{
    (void)state;
    sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    assert_true(sh != MAP_FAILED);
    memset(sh, 0, sizeof(*sh));
    int lfd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);
    assert_int_equal(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(lfd, 128), 0);
    getsockname(lfd, (struct sockaddr *)&a, &alen);
    port = ntohs(a.sin_port);
    server_pid = fork();
    if (server_pid == 0) {
        setpgid(0, 0);
        server_loop(lfd);
    }
    close(lfd);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    kill(-server_pid, SIGKILL);
    kill(server_pid, SIGKILL);
    waitpid(server_pid, NULL, 0);
    munmap(sh, sizeof(*sh));
    return 0;
}

/* ---- the client side ---- */

typedef struct result {
    int calls, ok, retries;
    char reason[32], message[640];
    wk_retry_count_t reasons[WK_HTTP_MAX_REASONS];
    size_t n_reasons, body_len;
    int64_t at_ms;
} result_t;

static void on_done(void *ud, const wk_http_done_t *d)
{
    result_t *r = ud;
    r->calls++;
    r->ok = d->ok;
    r->retries = d->retries;
    r->body_len = d->body_len;
    r->n_reasons = d->n_reasons;
    memcpy(r->reasons, d->reasons, d->n_reasons * sizeof(*d->reasons));
    r->at_ms = rs_mono_ms();
    if (!d->ok) {
        snprintf(r->reason, sizeof(r->reason), "%s", d->fail->reason);
        snprintf(r->message, sizeof(r->message), "%s", d->fail->message);
    }
}

static rs_model_cfg_t model(void)
{
    return (rs_model_cfg_t){.name = "m", .provider = "openai", .model = "x", .timeout_ms = 5000,
                            .connect_timeout_ms = 2000, .max_retries = 2, .retry_base_ms = 5,
                            .retry_cap_ms = 20};
}

static wk_xfer_t *submit(wk_http_t *h, const rs_model_cfg_t *m, const char *path, int to_port,
                         result_t *r)
{
    rs_http_req_t req = {0};
    req.url = rs_xasprintf("http://127.0.0.1:%d%s", to_port, path);
    req.body = rs_xstrdup("{}");
    req.body_len = 2;
    req.headers = rs_xcalloc(1, sizeof(char *));
    req.headers[0] = rs_xstrdup("Content-Type: application/json");
    req.n_headers = 1;
    wk_xfer_t *x = wk_http_submit(h, m, &req, on_done, r);
    assert_null(req.url); /* taken over */
    return x;
}

/* Runs the loop until pred(arg) or max_ms. */
static void spin(wk_http_t *h, int (*pred)(void *), void *arg, int64_t max_ms)
{
    rs_err_t err;
    int64_t until = rs_mono_ms() + max_ms;
    while (!pred(arg) && rs_mono_ms() < until) {
        assert_int_equal(wk_http_wait(h, -1, 20, &err), 0);
        assert_int_equal(wk_http_step(h, &err), 0);
    }
}

static int called(void *arg)
{
    return ((result_t *)arg)->calls > 0;
}

static int never(void *arg)
{
    (void)arg;
    return 0;
}

static wk_http_t *engine(size_t limit)
{
    rs_err_t err;
    wk_http_t *h = wk_http_new(limit, &err);
    assert_non_null(h);
    return h;
}

static void test_ok(void **state)
{
    (void)state;
    wk_http_t *h = engine(4);
    rs_model_cfg_t m = model();
    result_t r = {0};
    submit(h, &m, "/ok", port, &r);
    assert_int_equal(r.calls, 0); /* nothing happens inside submit */
    spin(h, called, &r, 5000);
    assert_int_equal(r.calls, 1);
    assert_true(r.ok);
    assert_int_equal(r.body_len, 8);
    assert_int_equal(r.retries, 0);
    assert_int_equal(wk_http_live(h), 0);
    wk_http_destroy(&h);
    assert_null(h);
}

static void test_retry_after(void **state)
{
    (void)state;
    wk_http_t *h = engine(4);
    rs_model_cfg_t m = model();
    result_t r = {0};
    int64_t t0 = rs_mono_ms();
    submit(h, &m, "/429", port, &r);
    spin(h, called, &r, 5000);
    assert_true(r.ok);
    assert_int_equal(r.retries, 1);
    assert_int_equal(r.n_reasons, 1);
    assert_string_equal(r.reasons[0].reason, "http_429");
    assert_int_equal(r.reasons[0].n, 1);
    /* the backoff alone is at most 5 ms; Retry-After said 1 s */
    assert_true(r.at_ms - t0 >= 990);
    wk_http_destroy(&h);
}

static void test_gives_up(void **state)
{
    (void)state;
    wk_http_t *h = engine(4);
    rs_model_cfg_t m = model();
    result_t r = {0};
    int before = sh->hits[P_500];
    submit(h, &m, "/500", port, &r);
    spin(h, called, &r, 5000);
    assert_false(r.ok);
    assert_string_equal(r.reason, "http_500");
    assert_int_equal(r.retries, 2);
    assert_int_equal(sh->hits[P_500] - before, 3);
    assert_non_null(
        strstr(r.message, "model m: server error (500): boom (gave up after 2 retries)"));
    wk_http_destroy(&h);
}

static void test_body_cap(void **state)
{
    (void)state;
    wk_http_t *h = engine(4);
    rs_model_cfg_t m = model();
    result_t r = {0};
    submit(h, &m, "/big", port, &r);
    spin(h, called, &r, 10000);
    assert_false(r.ok);
    assert_string_equal(r.reason, "response_too_large");
    assert_int_equal(r.retries, 0);
    assert_true(r.body_len <= RS_PROVIDER_BODY_CAP);
    /* the run's cap (cluster.max_response_bytes) applies to the next transfers, small bodies too */
    wk_http_set_max_body(h, 4);
    result_t r2 = {0};
    submit(h, &m, "/ok", port, &r2);
    spin(h, called, &r2, 10000);
    assert_false(r2.ok);
    assert_string_equal(r2.reason, "response_too_large");
    assert_non_null(strstr(r2.message, "over 4 bytes (cluster.max_response_bytes)"));
    assert_int_equal(r2.retries, 0);
    wk_http_set_max_body(h, 8);
    result_t r3 = {0};
    submit(h, &m, "/ok", port, &r3);
    spin(h, called, &r3, 10000);
    assert_true(r3.ok); /* exactly at the cap is fine */
    wk_http_destroy(&h);
}

static void test_timeout(void **state)
{
    (void)state;
    wk_http_t *h = engine(4);
    rs_model_cfg_t m = model();
    m.timeout_ms = 300;
    m.max_retries = 0;
    result_t r = {0};
    int64_t t0 = rs_mono_ms();
    submit(h, &m, "/hang", port, &r);
    spin(h, called, &r, 5000);
    assert_false(r.ok);
    assert_string_equal(r.reason, "timeout");
    assert_null(strstr(r.message, "gave up")); /* no retries were allowed */
    assert_true(r.at_ms - t0 >= 290 && r.at_ms - t0 < 3000);
    wk_http_destroy(&h);
}

static void test_refused(void **state)
{
    (void)state;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);
    bind(fd, (struct sockaddr *)&a, sizeof(a));
    getsockname(fd, (struct sockaddr *)&a, &alen);
    close(fd); /* a port nobody listens on */
    wk_http_t *h = engine(4);
    rs_model_cfg_t m = model();
    m.max_retries = 1;
    result_t r = {0};
    submit(h, &m, "/ok", ntohs(a.sin_port), &r);
    spin(h, called, &r, 5000);
    assert_false(r.ok);
    assert_string_equal(r.reason, "connect");
    assert_int_equal(r.retries, 1);
    assert_non_null(strstr(r.message, "model m: connection failed"));
    wk_http_destroy(&h);
}

static void test_cancel_everywhere(void **state)
{
    (void)state;
    wk_http_t *h = engine(1);
    rs_model_cfg_t m = model();
    result_t on_wire = {0}, queued = {0}, waiting = {0};
    wk_xfer_t *a = submit(h, &m, "/hang", port, &on_wire);
    wk_xfer_t *b = submit(h, &m, "/ok", port, &queued); /* limit 1: stays queued */
    spin(h, never, NULL, 200);
    assert_int_equal(wk_http_live(h), 2);
    wk_http_cancel(h, b);
    wk_http_cancel(h, a);
    assert_int_equal(wk_http_live(h), 0);
    wk_xfer_t *c = submit(h, &m, "/busy", port, &waiting); /* 429, Retry-After: 60 */
    int64_t until = rs_mono_ms() + 5000;
    while (wk_timerq_next_due(wk_http_timers(h)) == INT64_MAX && rs_mono_ms() < until)
        spin(h, never, NULL, 20);
    assert_int_equal(wk_http_live(h), 1);
    assert_true(wk_timerq_next_due(wk_http_timers(h)) > rs_mono_ms() + 50000);
    wk_http_cancel(h, c);
    /* what is left in the heap is the model's pause that the 429 started, not the retry */
    assert_int_equal(wk_http_live(h), 0);
    assert_true(wk_http_paused_ms(h, "m", rs_mono_ms()) > 50000);
    int64_t due = wk_timerq_next_due(wk_http_timers(h));
    assert_true(due != INT64_MAX && due > rs_mono_ms() + 50000);
    spin(h, never, NULL, 100);
    assert_int_equal(on_wire.calls + queued.calls + waiting.calls, 0);
    assert_int_equal(sh->hits[P_BUSY], 1);
    wk_http_destroy(&h);
}

static int all_called(void *arg)
{
    result_t *r = arg;
    for (int i = 0; i < 6; i++)
        if (!r[i].calls) return 0;
    return 1;
}

static void test_limit(void **state)
{
    (void)state;
    wk_http_t *h = engine(2);
    rs_model_cfg_t m = model();
    result_t r[6] = {{0}};
    for (int i = 0; i < 6; i++) submit(h, &m, "/slow", port, &r[i]);
    spin(h, all_called, r, 10000);
    for (int i = 0; i < 6; i++) assert_true(r[i].ok);
    assert_int_equal(sh->slow_max, 2); /* two at a time, never more */
    wk_http_destroy(&h);
}

static void test_destroy_with_transfers(void **state)
{
    (void)state;
    wk_http_t *h = engine(2);
    rs_model_cfg_t m = model();
    result_t r[3] = {{0}};
    for (int i = 0; i < 3; i++) submit(h, &m, "/hang", port, &r[i]);
    spin(h, never, NULL, 100);
    wk_http_destroy(&h); /* no callbacks, nothing leaks (the ASan build checks) */
    assert_int_equal(r[0].calls + r[1].calls + r[2].calls, 0);
}

static void count_retry(void *ud, const rs_model_cfg_t *m, const rs_failure_t *f)
{
    result_t *r = ud;
    r->retries++;
    snprintf(r->reason, sizeof(r->reason), "%s", f->reason);
    r->at_ms = f->retry_after_ms;
    assert_string_equal(m->name, "busy");
}

/* A paused model's transfers wait (another model's go ahead) until the pause ends; a 429 with
 * Retry-After pauses its model, and the retry observer hears of it. */
static void test_pause(void **state)
{
    (void)state;
    wk_http_t *h = engine(4);
    rs_model_cfg_t m = model(), other = model(), busy = model();
    other.name = "other";
    busy.name = "busy";
    busy.max_retries = 1;
    result_t r = {0}, r2 = {0}, seen = {0}, held = {0};
    int64_t t0 = rs_mono_ms();
    wk_http_pause(h, "m", t0 + 400);
    wk_http_pause(h, "m", t0 + 100); /* a shorter pause changes nothing */
    assert_true(wk_http_paused_ms(h, "m", t0) > 300);
    assert_int_equal(wk_http_paused_ms(h, "other", t0), 0);
    submit(h, &m, "/ok", port, &r);
    submit(h, &other, "/ok", port, &r2);
    spin(h, called, &r2, 5000);
    assert_int_equal(r2.calls, 1);
    assert_int_equal(r.calls, 0);
    spin(h, called, &r, 5000);
    assert_true(r.ok);
    assert_true(r.at_ms - t0 >= 395);
    assert_int_equal(wk_http_paused_ms(h, "m", rs_mono_ms()), 0);

    wk_http_on_retry(h, count_retry, &seen);
    submit(h, &busy, "/busy", port, &r2);
    spin(h, never, NULL, 300);
    assert_int_equal(seen.retries, 1);
    assert_string_equal(seen.reason, "http_429");
    assert_int_equal(seen.at_ms, 60000);
    assert_true(wk_http_paused_ms(h, "busy", rs_mono_ms()) > 59000);
    submit(h, &busy, "/ok", port, &held);
    spin(h, never, NULL, 200);
    assert_int_equal(held.calls, 0); /* held by the pause */
    wk_http_destroy(&h);
}

static void test_retry_counts(void **state)
{
    (void)state;
    wk_retry_count_t v[WK_HTTP_MAX_REASONS] = {{"", 0}};
    size_t n = 0;
    wk_retry_count_add(v, &n, "http_429", 1);
    wk_retry_count_add(v, &n, "timeout", 2);
    wk_retry_count_add(v, &n, "http_429", 3);
    assert_int_equal(n, 2);
    assert_int_equal(v[0].n, 4);
    char name[16];
    for (int i = 0; i < 20; i++) {
        snprintf(name, sizeof(name), "r%d", i);
        wk_retry_count_add(v, &n, name, 1);
    }
    assert_int_equal(n, WK_HTTP_MAX_REASONS);
    int total = 0;
    for (size_t i = 0; i < n; i++) total += v[i].n;
    assert_int_equal(total, 26);
}

int main(void)
{
    static const char *const proxies[] = {"http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"};
    for (size_t i = 0; i < RS_ARRAY_LEN(proxies); i++) unsetenv(proxies[i]); /* loopback only */
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ok),
        cmocka_unit_test(test_retry_after),
        cmocka_unit_test(test_gives_up),
        cmocka_unit_test(test_body_cap),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_cancel_everywhere),
        cmocka_unit_test(test_limit),
        cmocka_unit_test(test_destroy_with_transfers),
        cmocka_unit_test(test_retry_counts),
        cmocka_unit_test(test_pause),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);
    curl_global_cleanup();
    return rc;
}
