/* main: reasonsaver-mockllm's command line (one table of options, with bounds checked by the
 * modules that own them) and its lifecycle: listen, announce the URL and the port file, wait for
 * SIGINT/SIGTERM, stop cleanly. Exit codes: 0 stopped by a signal, 1 could not start, 2 usage. */
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "log.h"
#include "server.h"

#define PROGRAM "reasonsaver-mockllm"

typedef struct cli {
    const char *bind, *port_file, *api_key, *latency_dist, *log_requests, *serve_model;
    int64_t port, threads, seed, embed_dim, retry_after, fault_seed, reply_bytes, reply_filler;
    int64_t max_concurrency, limit_retry_after, pause_request;
    double accuracy, latency_ms, latency_sigma, hang_ms;
    double judge_accuracy, self_bias, fix_rate, break_rate, serve_model_rate;
    double rate_429, rate_500, rate_hang, rate_truncate, rate_wrong_type;
    int quiet, verbose, help;
} cli_t;

typedef enum opt_kind { OPT_INT, OPT_DOUBLE, OPT_STRING, OPT_FLAG } opt_kind_t;

typedef struct opt_def {
    const char *name;
    opt_kind_t kind;
    size_t offset; /* of the field in cli_t */
    const char *arg;
    const char *help;
} opt_def_t;

#define F(field) offsetof(cli_t, field)

static const opt_def_t options[] = {
    {"port", OPT_INT, F(port), "N", "port to listen on; 0 picks a free one (default 0)"},
    {"bind", OPT_STRING, F(bind), "ADDR", "address to listen on (default 127.0.0.1)"},
    {"port-file", OPT_STRING, F(port_file), "PATH", "write the port there once listening"},
    {"threads", OPT_INT, F(threads), "N", "polling threads (default 1)"},
    {"api-key", OPT_STRING, F(api_key), "KEY",
     "require this key (default: env MOCKLLM_API_KEY; unset = any key)"},
    {"accuracy", OPT_DOUBLE, F(accuracy), "P", "sim: probability of a correct answer (0.7)"},
    {"seed", OPT_INT, F(seed), "N", "sim: seed of every answer (default 1)"},
    {"judge-accuracy", OPT_DOUBLE, F(judge_accuracy), "P",
     "sim judge: probability its verdict agrees with the truth (0.8)"},
    {"self-bias", OPT_DOUBLE, F(self_bias), "P",
     "sim judge: P(says correct) of its own wrong answer (0.2)"},
    {"fix-rate", OPT_DOUBLE, F(fix_rate), "P", "sim reviser: P(wrong -> right) (0.3)"},
    {"break-rate", OPT_DOUBLE, F(break_rate), "P", "sim reviser: P(right -> wrong) (0.05)"},
    {"embed-dim", OPT_INT, F(embed_dim), "N", "embedding length (default 64)"},
    {"latency-ms", OPT_DOUBLE, F(latency_ms), "MS", "median latency of a reply (default 0)"},
    {"latency-dist", OPT_STRING, F(latency_dist), "D", "fixed | lognormal (default fixed)"},
    {"latency-sigma", OPT_DOUBLE, F(latency_sigma), "S", "lognormal sigma (default 0.5)"},
    {"rate-429", OPT_DOUBLE, F(rate_429), "P", "probability of a 429 with Retry-After"},
    {"retry-after", OPT_INT, F(retry_after), "S", "Retry-After of a 429, seconds (default 1)"},
    {"max-concurrency", OPT_INT, F(max_concurrency), "N",
     "answer 429 to a model request beyond N open at once (default 0: no limit)"},
    {"limit-retry-after", OPT_INT, F(limit_retry_after), "S",
     "Retry-After of a --max-concurrency 429, seconds (default 0: none)"},
    {"pause-request", OPT_INT, F(pause_request), "N",
     "answer the Nth model request 429 with Retry-After --retry-after (default 0: none)"},
    {"rate-500", OPT_DOUBLE, F(rate_500), "P", "probability of a 500"},
    {"rate-hang", OPT_DOUBLE, F(rate_hang), "P", "probability of no answer, then a close"},
    {"hang-ms", OPT_DOUBLE, F(hang_ms), "MS", "how long a hang lasts (default 30000)"},
    {"rate-truncate", OPT_DOUBLE, F(rate_truncate), "P", "probability of a JSON body cut in half"},
    {"rate-wrong-type", OPT_DOUBLE, F(rate_wrong_type), "P",
     "probability of a 200 with Content-Type text/html"},
    {"reply-bytes", OPT_INT, F(reply_bytes), "N",
     "pad chat and messages replies with spaces to N bytes (default 0: off)"},
    {"reply-filler", OPT_INT, F(reply_filler), "N",
     "prepend N bytes of text full of numbers to every answer (default 0)"},
    {"serve-model", OPT_STRING, F(serve_model), "ID",
     "replies name this model id, not the one asked for (a provider that swapped models)"},
    {"serve-model-rate", OPT_DOUBLE, F(serve_model_rate), "P",
     "the share of cases (by case id) --serve-model names (default 1)"},
    {"fault-seed", OPT_INT, F(fault_seed), "N", "seed of the fault and latency draws (1)"},
    {"log-requests", OPT_STRING, F(log_requests), "FILE",
     "append each model request there as a JSON line"},
    {"quiet", OPT_FLAG, F(quiet), NULL, "log errors only"},
    {"verbose", OPT_FLAG, F(verbose), NULL, "log debug messages, libmicrohttpd's too"},
    {"help", OPT_FLAG, F(help), NULL, "show this help"},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: " PROGRAM " [options]\n"
                 "An OpenAI- and Anthropic-compatible simulated model server "
                 "(see docs/MOCKLLM.md).\n\noptions:\n");
    for (size_t i = 0; i < RS_ARRAY_LEN(options); i++) {
        char left[40];
        snprintf(left, sizeof(left), "--%s%s%s", options[i].name, options[i].arg ? " " : "",
                 options[i].arg ? options[i].arg : "");
        fprintf(out, "  %-24s %s\n", left, options[i].help);
    }
}

static const opt_def_t *find_option(const char *name, size_t len)
{
    for (size_t i = 0; i < RS_ARRAY_LEN(options); i++)
        if (strlen(options[i].name) == len && strncmp(options[i].name, name, len) == 0)
            return &options[i];
    return NULL;
}

/* Stores value into the option's field. 0 / -1 with err. */
static int set_option(cli_t *c, const opt_def_t *o, const char *value, rs_err_t *err)
{
    char *field = (char *)c + o->offset;
    switch (o->kind) {
    case OPT_INT:
        if (rs_parse_i64(value, (int64_t *)(void *)field) < 0)
            return rs_err_set(err, "--%s: '%s' is not an integer", o->name, value);
        return 0;
    case OPT_DOUBLE:
        if (rs_parse_double(value, (double *)(void *)field) < 0)
            return rs_err_set(err, "--%s: '%s' is not a number", o->name, value);
        return 0;
    case OPT_STRING:
        *(const char **)(void *)field = value;
        return 0;
    case OPT_FLAG:
        *(int *)(void *)field = 1;
        return 0;
    }
    return -1;
}

/* "--name value" and "--name=value". */
static int parse_args(int argc, char **argv, cli_t *c, rs_err_t *err)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strncmp(a, "--", 2) != 0)
            return rs_err_set(err, "unexpected argument '%s' (see --help)", a);
        const char *eq = strchr(a + 2, '=');
        size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
        const opt_def_t *o = find_option(a + 2, len);
        if (!o) return rs_err_set(err, "unknown option '%.*s' (see --help)", (int)len + 2, a);
        const char *value = eq ? eq + 1 : NULL;
        if (o->kind == OPT_FLAG && value) return rs_err_set(err, "--%s takes no value", o->name);
        if (o->kind != OPT_FLAG && !value) {
            if (i + 1 >= argc) return rs_err_set(err, "--%s needs a value", o->name);
            value = argv[++i];
        }
        if (set_option(c, o, value, err) < 0) return -1;
    }
    return 0;
}

static int to_server_opts(const cli_t *c, mock_server_opts_t *o, rs_err_t *err)
{
    memset(o, 0, sizeof(*o));
    if (c->port < 0 || c->port > 65535) return rs_err_set(err, "--port: must be 0 to 65535");
    if (c->threads < 1 || c->threads > 256) return rs_err_set(err, "--threads: must be 1 to 256");
    if (c->embed_dim < 1 || c->embed_dim > MOCK_MAX_EMBED_DIM)
        return rs_err_set(err, "--embed-dim: must be 1 to %d", MOCK_MAX_EMBED_DIM);
    const struct {
        const char *name;
        double v;
    } probs[] = {{"accuracy", c->accuracy},   {"judge-accuracy", c->judge_accuracy},
                 {"self-bias", c->self_bias}, {"fix-rate", c->fix_rate},
                 {"break-rate", c->break_rate}, {"serve-model-rate", c->serve_model_rate}};
    for (size_t i = 0; i < sizeof(probs) / sizeof(probs[0]); i++)
        if (!(probs[i].v >= 0 && probs[i].v <= 1))
            return rs_err_set(err, "--%s: must be 0 to 1", probs[i].name);
    int lognormal = strcmp(c->latency_dist, "lognormal") == 0;
    if (!lognormal && strcmp(c->latency_dist, "fixed") != 0)
        return rs_err_set(err, "--latency-dist: must be fixed or lognormal");
    *o = (mock_server_opts_t){
        .bind = c->bind,
        .port = (int)c->port,
        .threads = (int)c->threads,
        .api_key = c->api_key,
        .sim = {.accuracy = c->accuracy,
                .seed = c->seed,
                .embed_dim = (int)c->embed_dim,
                .judge_accuracy = c->judge_accuracy,
                .self_bias = c->self_bias,
                .fix_rate = c->fix_rate,
                .break_rate = c->break_rate,
                .filler = c->reply_filler,
                .serve_model = c->serve_model,
                .serve_model_rate = c->serve_model_rate},
        .faults = {.latency_ms = c->latency_ms,
                   .dist = lognormal ? MOCK_LATENCY_LOGNORMAL : MOCK_LATENCY_FIXED,
                   .sigma = c->latency_sigma,
                   .seed = (uint64_t)c->fault_seed},
        .hang_ms = c->hang_ms,
        .retry_after_s = c->retry_after,
        .max_concurrency = c->max_concurrency,
        .limit_retry_after_s = c->limit_retry_after,
        .pause_request = c->pause_request,
        .log_requests = c->log_requests,
        .reply_bytes = c->reply_bytes,
    };
    o->faults.rate[MOCK_FAULT_429] = c->rate_429;
    o->faults.rate[MOCK_FAULT_500] = c->rate_500;
    o->faults.rate[MOCK_FAULT_HANG] = c->rate_hang;
    o->faults.rate[MOCK_FAULT_TRUNCATE] = c->rate_truncate;
    o->faults.rate[MOCK_FAULT_WRONG_TYPE] = c->rate_wrong_type;
    return 0;
}

/* Every keep-alive connection is a descriptor: take all the hard limit allows. */
static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

/* Blocks the stop signals in every thread (MHD's and the timer's inherit the mask), so that
 * main alone takes them with sigwait. */
static void block_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGINT);
    sigaddset(set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, set, NULL);
    signal(SIGPIPE, SIG_IGN); /* a client that vanished mid-reply is not our death */
}

static int write_port_file(const char *path, int port, rs_err_t *err)
{
    char text[16];
    int n = snprintf(text, sizeof(text), "%d\n", port);
    if (rs_write_file_atomic(path, text, (size_t)n, err) < 0)
        return rs_err_prefix(err, "--port-file %s", path);
    return 0;
}

static void announce(const cli_t *c, const mock_server_opts_t *o, int port)
{
    int v6 = strchr(c->bind, ':') != NULL;
    printf(PROGRAM " listening on http://%s%s%s:%d\n", v6 ? "[" : "", c->bind, v6 ? "]" : "", port);
    fflush(stdout);
    double faults = 0;
    for (int i = 1; i < MOCK_FAULT_COUNT; i++)
        faults += o->faults.rate[i];
    rs_info("accuracy %g, seed %lld, latency %g ms (%s), fault rate %g, %d thread(s), "
            "api key %s",
            o->sim.accuracy, (long long)o->sim.seed, o->faults.latency_ms, c->latency_dist, faults,
            o->threads, o->api_key && *o->api_key ? "required" : "not required");
}

static int serve(const cli_t *c)
{
    mock_server_opts_t o;
    rs_err_t err;
    sigset_t set;
    int sig = 0;
    if (to_server_opts(c, &o, &err) < 0) {
        fprintf(stderr, PROGRAM ": %s\n", err.msg);
        return 2;
    }
    raise_fd_limit();
    block_signals(&set);
    mock_server_t *s = mock_server_new(&o, &err);
    if (!s) {
        rs_error("%s", err.msg);
        return 1;
    }
    /* the line first: whoever waits for the port file may read the line as soon as it exists */
    announce(c, &o, mock_server_port(s));
    if (c->port_file && write_port_file(c->port_file, mock_server_port(s), &err) < 0) {
        rs_error("%s", err.msg);
        mock_server_destroy(&s);
        return 1;
    }
    sigwait(&set, &sig);
    rs_info("%s: stopping", sig == SIGINT ? "SIGINT" : "SIGTERM");
    mock_server_destroy(&s);
    return 0;
}

int main(int argc, char **argv)
{
    cli_t c = {.bind = "127.0.0.1",
               .latency_dist = "fixed",
               .threads = 1,
               .seed = 1,
               .embed_dim = 64,
               .retry_after = 1,
               .fault_seed = 1,
               .accuracy = 0.7,
               .serve_model_rate = 1,
               .judge_accuracy = 0.8,
               .self_bias = 0.2,
               .fix_rate = 0.3,
               .break_rate = 0.05,
               .latency_sigma = 0.5,
               .hang_ms = 30000};
    rs_err_t err;
    rs_log_init(PROGRAM, RS_LOG_INFO);
    c.api_key = getenv("MOCKLLM_API_KEY");
    if (parse_args(argc, argv, &c, &err) < 0) {
        fprintf(stderr, PROGRAM ": %s\n", err.msg);
        return 2;
    }
    if (c.help) {
        usage(stdout);
        return 0;
    }
    rs_log_set_level(c.quiet ? RS_LOG_ERROR : c.verbose ? RS_LOG_DEBUG : RS_LOG_INFO);
    return serve(&c);
}
