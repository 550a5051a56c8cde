/* test_session: the worker's session (worker/session.c and the rest of rsworker, linked into
 * this test) in a forked child against a ROUTER played here (tests/unit/testworker.h): a spec it
 * cannot read (version skew) ends it after 3 WELCOMEs with one clear error and a non-zero exit,
 * and so does a socket option ZeroMQ refuses; HELLOs it tries while the coordinator is gone are
 * not queued and replayed on reconnect (ZMQ_IMMEDIATE); a TASK comes back as a RESULT whose stats
 * summarise the calls and whose records hold their traces; and cases beyond the slots wait in the
 * backlog, each started only when a running case ends, and a CANCEL drops waiting cases too,
 * giving their credit back. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "../../worker/session_int.h"
#include "../../worker/trace.h"
#include "config.h"
#include "log.h"
#include "testworker.h"

#define SLOTS 4   /* the worker's --slots */
#define BACKLOG 2 /* the spec's cluster.worker_backlog */

/* CPU seconds the child has used (utime + stime from /proc). */
static double cpu_seconds(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    unsigned long ut = 0, st = 0;
    const char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    assert_non_null(p);
    assert_int_equal(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st), 2);
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* A sim model answering in latency_ms (uniform on [0.5, 1.5) of it; 0: at once). */
static char *sim_spec_latency(int latency_ms)
{
    rs_err_t err;
    char yaml[512];
    snprintf(yaml, sizeof(yaml),
             "dataset: {path: x.jsonl}\n"
             "models: [{name: s, provider: sim, model: sim-1,\n"
             "          params: {accuracy: 1, latency_ms: %d}}]\n"
             "cluster: {worker_backlog: %d}\n",
             latency_ms, BACKLOG);
    rs_config_t *cfg = rs_config_load_string(yaml, "<test>", NULL, NULL, 0, &err);
    if (!cfg) fail_msg("%s", err.msg);
    char *spec = rs_config_to_json(cfg);
    rs_config_destroy(&cfg);
    return spec;
}

static char *sim_spec(void)
{
    return sim_spec_latency(0);
}

/* ---- tests ---- */

static void test_spec_skew(void **state)
{
    (void)state;
    int port = free_port();
    child_t c = start_worker(port, SLOTS); /* before any ZeroMQ context here */
    router_t r;
    router_open(&r, port);
    int hellos = 0;
    rs_msg_t m;
    int64_t until = rs_mono_ms() + 8000;
    while (rs_mono_ms() < until && alive(&c)) {
        if (router_recv(&r, 100, &m) != 0) continue;
        if (m.type == RS_MSG_HELLO) {
            hellos++;
            /* a spec from a newer coordinator: a section this worker has never heard of */
            send_welcome(&r, "r1", "{\"from_the_future\": {\"x\": 1}}");
        }
        rs_msg_cleanup(&m);
    }
    char msg[1024];
    int code = wait_worker(&c, 2000, msg, sizeof(msg));
    router_close(&r);
    assert_int_equal(code, 3);
    assert_int_equal(hellos, SPEC_TRIES);
    assert_non_null(strstr(msg, "run r1: cannot use the coordinator's run spec (3 tries)"));
    assert_non_null(strstr(msg, "from_the_future"));
    assert_non_null(strstr(msg, "same version as the coordinator"));
}

/* Set before a fork: the child's session finds ZeroMQ refusing a socket option (the test links
 * with -Wl,--wrap=zmq_setsockopt, tests/CMakeLists.txt). */
static int refuse_sockopt;

int __real_zmq_setsockopt(void *s, int option, const void *value, size_t len);
int __wrap_zmq_setsockopt(void *s, int option, const void *value, size_t len);

int __wrap_zmq_setsockopt(void *s, int option, const void *value, size_t len)
{
    if (refuse_sockopt && option == ZMQ_IMMEDIATE) {
        errno = EINVAL;
        return -1;
    }
    return __real_zmq_setsockopt(s, option, value, len);
}

/* A socket the worker cannot set up as it needs ends the session with the reason, instead of a
 * worker that runs without it (here: without IMMEDIATE, HELLOs would queue while disconnected). */
static void test_socket_option_refused(void **state)
{
    (void)state;
    refuse_sockopt = 1;
    child_t c = start_worker(free_port(), SLOTS); /* nothing listens: only the error ends it */
    refuse_sockopt = 0;
    char msg[1024];
    int code = wait_worker(&c, 5000, msg, sizeof(msg));
    assert_int_equal(code, 3);
    assert_non_null(strstr(msg, "cannot set the coordinator's socket options: Invalid argument"));
}

/* HELLOs tried while the coordinator is gone must not pile up and arrive together later: each
 * would grant the worker its slots again. */
static void test_no_hello_backlog(void **state)
{
    (void)state;
    int port = free_port();
    child_t c = start_worker(port, SLOTS);
    char *spec = sim_spec();
    router_t r;
    rs_msg_t m;
    assert_int_equal(join(&r, port, "r1", spec), SLOTS + BACKLOG);
    router_close(&r);
    /* silent for 3 heartbeats (600 ms), then HELLOs with backoff 1 s, 2 s while we are away;
     * sends that fail must not make its loop spin either */
    double cpu = cpu_seconds(c.pid);
    struct timespec away = {4, 0};
    nanosleep(&away, NULL);
    assert_true(cpu_seconds(c.pid) - cpu < 0.5);
    router_open(&r, port);
    assert_int_equal(router_expect(&r, RS_MSG_HELLO, 2000, &m), 0);
    rs_msg_cleanup(&m);
    int more = 0;
    for (int64_t until = rs_mono_ms() + 600; rs_mono_ms() < until;) {
        if (router_recv(&r, 50, &m) != 0) continue;
        more += m.type == RS_MSG_HELLO;
        rs_msg_cleanup(&m);
    }
    assert_int_equal(more, 0);
    router_close(&r);
    char msg[1024];
    kill(c.pid, SIGKILL);
    wait_worker(&c, 2000, msg, sizeof(msg));
    free(spec);
}

static void test_result_stats_and_spans(void **state)
{
    (void)state;
    tw_joined_t j;
    tw_start(&j, SLOTS, sim_spec(), SLOTS + BACKLOG);
    rs_msg_t m;
    rs_chat_msg_t msgs[1] = {{"user", "What is 6 * 7?"}};
    char *targets[1] = {"42"};
    rs_case_t cases[2] = {{.idx = 0, .id = "c-0", .msgs = msgs, .n_msgs = 1, .targets = targets, .n_targets = 1},
                          {.idx = 7, .id = "c-7", .msgs = msgs, .n_msgs = 1, .targets = targets, .n_targets = 1}};
    rs_task_t t = {5, 1, 30000, cases, 2};
    rs_buf_t b;
    rs_buf_init(&b);
    rs_proto_encode_task(&b, &t);
    router_send(&j.r, &b);
    assert_int_equal(router_expect(&j.r, RS_MSG_RESULT, 3000, &m), 0);
    rs_result_t *res = &m.u.result;
    assert_int_equal(res->task_id, 5);
    assert_int_equal(res->n_cases, 2);
    json_t *stats = json_loadb(res->stats, res->stats_len, 0, NULL), *s = json_object_get(stats, "s");
    assert_int_equal(json_integer_value(json_object_get(s, "calls")), 2);
    assert_true(json_integer_value(json_object_get(s, "input_tokens")) > 0);
    assert_int_equal(json_array_size(json_object_get(s, "latency_ms")), 2);
    json_decref(stats);
    for (size_t i = 0; i < res->n_cases; i++) {
        json_t *rec = json_loadb(res->cases[i].json, res->cases[i].json_len, 0, NULL);
        json_t *spans = json_object_get(rec, "spans");
        char want[WK_TRACE_ID_HEX];
        wk_trace_trace_id("run-1", res->cases[i].idx, want);
        assert_int_equal(json_array_size(spans), 3); /* case, generate, score */
        json_t *root = json_array_get(spans, 0);
        assert_string_equal(json_string_value(json_object_get(root, "trace_id")), want);
        assert_string_equal(json_string_value(json_object_get(root, "name")), "case");
        json_t *attrs = json_object_get(root, "attributes");
        assert_string_equal(json_string_value(json_object_get(attrs, "reasonsaver.worker.id")), "t-1");
        assert_int_equal(json_integer_value(json_object_get(attrs, "reasonsaver.task.id")), 5);
        json_decref(rec);
    }
    rs_msg_cleanup(&m);
    rs_buf_cleanup(&b);
    tw_end(&j);
}

/* Sends TASK task_id (lease 1) of n cases, idx first .. first + n - 1. */
static void send_cases(router_t *r, uint64_t task_id, uint64_t first, size_t n)
{
    rs_chat_msg_t msgs[1] = {{"user", "What is 6 * 7?"}};
    char *targets[1] = {"42"};
    rs_case_t cases[8];
    char ids[8][16];
    assert_true(n <= 8);
    for (size_t i = 0; i < n; i++) {
        snprintf(ids[i], sizeof(ids[i]), "c-%llu", (unsigned long long)(first + i));
        cases[i] = (rs_case_t){.idx = first + i, .id = ids[i], .msgs = msgs, .n_msgs = 1, .targets = targets, .n_targets = 1};
    }
    rs_task_t t = {task_id, 1, 30000, cases, n};
    rs_buf_t b;
    rs_buf_init(&b);
    rs_proto_encode_task(&b, &t);
    router_send(r, &b);
    rs_buf_cleanup(&b);
}

/* When a case's model call started (its "generate" span) and when the case ended (its root
 * span's end), wall µs. The root span itself starts at receipt, backlog or not. */
static void case_times(const rs_case_result_t *c, int64_t *start, int64_t *end)
{
    json_t *rec = json_loadb(c->json, c->json_len, 0, NULL);
    json_t *spans = json_object_get(rec, "spans"), *root = json_array_get(spans, 0), *gen = NULL;
    assert_string_equal(json_string_value(json_object_get(root, "name")), "case");
    for (size_t i = 0; i < json_array_size(spans); i++)
        if (strcmp(json_string_value(json_object_get(json_array_get(spans, i), "name")),
                   "generate") == 0)
            gen = json_array_get(spans, i);
    assert_non_null(gen);
    *start = json_integer_value(json_object_get(gen, "start_us"));
    *end = json_integer_value(json_object_get(root, "end_us"));
    json_decref(rec);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* SLOTS + BACKLOG cases at once: SLOTS start, and each of the others starts only when a running
 * one has ended (the k-th waiting case no earlier than the k-th end). A sim's spans place its
 * latency from a timer of millisecond resolution, hence the slack; started at once, the waiting
 * cases would begin at least 50 ms (half the latency) before any end. */
static void test_backlog_waits_for_a_slot(void **state)
{
    (void)state;
    tw_joined_t j;
    tw_start(&j, SLOTS, sim_spec_latency(100), SLOTS + BACKLOG);
    router_t *r = &j.r;
    rs_msg_t m;
    send_cases(r, 9, 0, SLOTS + BACKLOG);
    int64_t start[SLOTS + BACKLOG], end[SLOTS + BACKLOG];
    size_t got = 0;
    while (got < SLOTS + BACKLOG) {
        assert_int_equal(router_expect(r, RS_MSG_RESULT, 5000, &m), 0);
        for (size_t i = 0; i < m.u.result.n_cases; i++) {
            uint64_t idx = m.u.result.cases[i].idx;
            assert_true(idx < SLOTS + BACKLOG);
            case_times(&m.u.result.cases[i], &start[idx], &end[idx]);
            got++;
        }
        rs_msg_cleanup(&m);
    }
    int64_t first_ends[SLOTS];
    for (size_t i = 0; i < SLOTS; i++) first_ends[i] = end[i];
    qsort(first_ends, SLOTS, sizeof(*first_ends), cmp_i64);
    for (size_t k = 0; k < BACKLOG; k++) {
        /* cases 0 .. SLOTS-1 started at once, before any waiting one */
        for (size_t i = 0; i < SLOTS; i++) assert_true(start[i] <= start[SLOTS + k]);
        if (start[SLOTS + k] < first_ends[k] - 5000)
            fail_msg("waiting case %zu started at %lld, before %zu running case(s) ended (%lld)",
                     SLOTS + k, (long long)start[SLOTS + k], k + 1, (long long)first_ends[k]);
    }
    tw_end(&j);
}

/* A CANCEL of a task whose cases wait in the backlog drops them and gives their credit back; the
 * running task's results still come, and none of the cancelled one's. */
static void test_cancel_drops_waiting_cases(void **state)
{
    (void)state;
    tw_joined_t j;
    tw_start(&j, SLOTS, sim_spec_latency(300), SLOTS + BACKLOG);
    router_t *r = &j.r;
    rs_msg_t m;
    send_cases(r, 1, 0, SLOTS);
    send_cases(r, 2, SLOTS, BACKLOG);
    rs_buf_t b;
    rs_buf_init(&b);
    rs_proto_encode_cancel(&b, 2);
    router_send(r, &b);
    rs_buf_cleanup(&b);
    assert_int_equal(router_expect(r, RS_MSG_CREDIT, 2000, &m), 0);
    assert_int_equal(m.u.credit, BACKLOG);
    rs_msg_cleanup(&m);
    size_t got = 0;
    int64_t until = rs_mono_ms() + 1500; /* long enough for the cancelled cases to have run */
    while (rs_mono_ms() < until) {
        if (router_recv(r, 100, &m) != 0) continue;
        if (m.type == RS_MSG_RESULT) {
            assert_int_equal(m.u.result.task_id, 1);
            got += m.u.result.n_cases;
        }
        rs_msg_cleanup(&m);
    }
    assert_int_equal(got, SLOTS);
    tw_end(&j);
}

int main(void)
{
    rs_log_init("test_session", RS_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_skew),
        cmocka_unit_test(test_socket_option_refused),
        cmocka_unit_test(test_no_hello_backlog),
        cmocka_unit_test(test_result_stats_and_spans),
        cmocka_unit_test(test_backlog_waits_for_a_slot),
        cmocka_unit_test(test_cancel_drops_waiting_cases),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
