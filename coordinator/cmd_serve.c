/* cmd_serve: `reasonsaver serve` — the viewer (docs/VIEWER.md) until Ctrl-C. */
#define _GNU_SOURCE
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "log.h"
#include "serve.h"

static const char SERVE_HELP[] =
    "usage: reasonsaver serve [OPTIONS]\n\n"
    "Serves the viewer: a page and a read-only JSON API over the runs under --out (and in\n"
    "--redis): every run's status and accuracy, a run's cases filtered, sorted and paged in the\n"
    "server (a million cases open at once), one case's prompt, answers, critiques and spans, and\n"
    "two runs' disagreements (docs/VIEWER.md). Ctrl-C stops it.\n\n"
    "options:\n"
    "  --bind HOST:PORT  where to listen (default 127.0.0.1:8765; port 0 = any free one, printed)\n"
    "  --out DIR         directory of runs (default runs)\n"
    "  --redis URL       also the runs of this Redis\n"
    "  --token-env NAME  the variable holding a token every request must carry (Authorization:\n"
    "                    Bearer TOKEN, or ?token=TOKEN); required to bind a non-loopback address\n"
    "  -h, --help        this help\n";

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

int cmd_serve(int argc, char **argv)
{
    static const struct option opts[] = {{"bind", required_argument, 0, 'b'},
                                         {"out", required_argument, 0, 'o'},
                                         {"redis", required_argument, 0, 'r'},
                                         {"token-env", required_argument, 0, 't'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    coord_serve_opts_t o = {.bind = "127.0.0.1:8765", .out = "runs"};
    const char *token_env = NULL;
    int c;
    optind = 0;
    while ((c = getopt_long(argc, argv, "b:o:r:t:h", opts, NULL)) != -1) {
        if (c == 'h') return fputs(SERVE_HELP, stdout), CLI_OK;
        if (c == 'b') o.bind = optarg;
        else if (c == 'o') o.out = optarg;
        else if (c == 'r') o.redis = optarg;
        else if (c == 't') token_env = optarg;
        else return fputs(SERVE_HELP, stderr), CLI_USAGE;
    }
    if (optind != argc) return cli_fail(CLI_USAGE, "serve takes no arguments (see --help)");
    if (token_env && !(o.token = getenv(token_env)))
        return cli_fail(CLI_USAGE, "--token-env %s: the variable is not set", token_env);
    if (token_env && strlen(o.token) < 16)
        return cli_fail(CLI_USAGE, "--token-env %s: the token must have at least 16 characters",
                        token_env);
    rs_err_t err;
    coord_serve_t *s = coord_serve_start(&o, &err);
    if (!s) return cli_fail(CLI_USAGE, "%s", err.msg);
    char host[64];
    snprintf(host, sizeof(host), "%.*s", (int)(strrchr(o.bind, ':') - o.bind), o.bind);
    printf("serving the runs of %s on http://%s:%d/%s\n", o.out, *host ? host : "127.0.0.1",
           coord_serve_port(s), o.token ? " (token required)" : "");
    fflush(stdout);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    while (!stop) pause();
    coord_serve_stop(&s);
    return CLI_OK;
}
