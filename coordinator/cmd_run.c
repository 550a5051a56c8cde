/* cmd_run: `reasonsaver run CONFIG` and `reasonsaver resume RUN_ID` — the command line: its
 * options into a run's (run.h, which holds the lifecycle), the signals that stop it, --estimate,
 * and the exit status. */
#define _GNU_SOURCE
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "log.h"
#include "run.h"
#include "util.h"

static volatile sig_atomic_t stop_requests;

static void on_signal(int sig)
{
    (void)sig;
    stop_requests++;
}

static const char RUN_HELP[] =
    "usage: reasonsaver run CONFIG [OPTIONS]\n"
    "       reasonsaver run --resume RUN_ID [CONFIG] [OPTIONS]\n"
    "       reasonsaver resume RUN_ID [OPTIONS]\n\n"
    "Runs every case of the config's dataset through its models, stores each result in Redis and\n"
    "writes runs/<run_id>/report.json, report.md and results.jsonl.\n\n"
    "A resume continues a run that was interrupted or whose coordinator died: it reads the run's\n"
    "manifest from Redis, refuses if the dataset or the config changed (unless --force), and runs\n"
    "only the cases that have no result yet. Without CONFIG it uses the config stored with the run.\n\n"
    "options:\n"
    "  --set KEY=VALUE   override a config value, e.g. --set dataset.limit=100 (repeatable)\n"
    "  --workers N       local workers to start (cluster.workers; 0 = wait for remote workers)\n"
    "  --bind ENDPOINT   where workers connect (cluster.bind), e.g. tcp://0.0.0.0:5555; an\n"
    "                    address other machines can reach needs cluster.curve (workers with\n"
    "                    keys from `reasonsaver keys gen`) or --insecure\n"
    "  --insecure        allow binding such an address without CURVE: anyone who reaches it\n"
    "                    gets the run's spec and cases (gold answers included) and can send\n"
    "                    results; the summary and the report say the run was insecure\n"
    "  --redis URL       use this Redis (cluster.redis), e.g. redis://127.0.0.1:6379/0 or\n"
    "                    rediss://USER@HOST:6380/0 (password in $REDIS_PASSWORD, never the URL);\n"
    "                    without it a private redis-server runs in the run directory\n"
    "  --out DIR         directory for runs (run.out_dir, default runs)\n"
    "  --no-cache        make every model call, neither reading nor writing the response cache\n"
    "                    (cache.mode=off)\n"
    "  --resume RUN_ID   continue that run (same as `reasonsaver resume RUN_ID`)\n"
    "  --force           resume even though the dataset or config changed (recorded)\n"
    "  --budget-usd X    stop handing out cases before the run's cost would pass X dollars\n"
    "                    (budget.usd; a resume raises a stopped run's budget with it)\n"
    "  --budget-tokens N the same for input and output tokens together (budget.tokens)\n"
    "  --estimate        print what the run would cost (`reasonsaver estimate`) and exit\n"
    "  --junit FILE      also write the report as JUnit XML to FILE (one testcase per model and\n"
    "                    grader, one per gate), for CI test reporters\n"
    "  --quiet           no progress bar or summary, errors only\n"
    "  -h, --help        this help\n\n"
    "First SIGINT/SIGTERM: workers finish what they hold, results are flushed, the run is marked\n"
    "interrupted and the resume command is printed. A second one stops at once; what was already\n"
    "written stays.\n\n"
    "Exit status: 0 finished, 1 failure (also: a finished run in which more than half of some\n"
    "model's cases ended in error, unless a gate measures that model's errors), 2 bad input or\n"
    "config, 3 finished but one of the config's gates failed (each failed gate is printed with\n"
    "its value and bound; docs/GATES.md), 4 stopped at its budget (marked budget_exhausted; the\n"
    "resume command with a larger budget is printed), 130 interrupted.\n";

typedef struct run_args {
    const char *config;
    const char *resume;  /* run id, or NULL for a new run */
    const char *out_dir; /* --out, needed before the config to find a run */
    const char *redis;   /* --redis */
    const char *junit;   /* --junit FILE, or NULL */
    char **sets;
    size_t n_sets;
    int quiet, force;
    int estimate; /* --estimate: print the estimate and run nothing */
    int insecure; /* --insecure: a non-loopback bind without CURVE is allowed (and recorded) */
} run_args_t;

static void add_set(run_args_t *a, const char *key, const char *value)
{
    a->sets = rs_xrealloc(a->sets, (a->n_sets + 1) * sizeof(char *));
    a->sets[a->n_sets++] = key ? rs_xasprintf("%s=%s", key, value) : rs_xstrdup(value);
}

static void free_args(run_args_t *a)
{
    for (size_t i = 0; i < a->n_sets; i++) free(a->sets[i]);
    free(a->sets);
}

static int positional(int argc, char **argv, run_args_t *a)
{
    int left = argc - optind;
    if (a->resume && left <= 1) {
        a->config = left == 1 ? argv[optind] : NULL;
        return 0;
    }
    if (!a->resume && left == 1) {
        a->config = argv[optind];
        return 0;
    }
    fprintf(stderr, "reasonsaver: %s (see `reasonsaver run --help`)\n",
            a->resume ? "a resume takes at most one CONFIG" : "run needs exactly one CONFIG file");
    return -1;
}

/* 0 ok, 1 help printed, -1 usage error (printed). resume_id: set by `reasonsaver resume`. */
static int parse_args(int argc, char **argv, run_args_t *a, const char *resume_id)
{
    static const struct option opts[] = {
        {"set", required_argument, 0, 's'},   {"workers", required_argument, 0, 'w'},
        {"bind", required_argument, 0, 'b'},  {"redis", required_argument, 0, 'r'},
        {"out", required_argument, 0, 'o'},   {"quiet", no_argument, 0, 'q'},
        {"resume", required_argument, 0, 'R'}, {"force", no_argument, 0, 'f'},
        {"insecure", no_argument, 0, 'I'},    {"help", no_argument, 0, 'h'},
        {"no-cache", no_argument, 0, 'C'},
        {"budget-usd", required_argument, 0, 'U'}, {"budget-tokens", required_argument, 0, 'T'},
        {"estimate", no_argument, 0, 'E'},     {"junit", required_argument, 0, 'J'},
        {0, 0, 0, 0}};
    static const char *keys[128] = {['w'] = "cluster.workers", ['b'] = "cluster.bind",
                                    ['r'] = "cluster.redis", ['o'] = "run.out_dir",
                                    ['U'] = "budget.usd", ['T'] = "budget.tokens"};
    memset(a, 0, sizeof(*a));
    a->resume = resume_id;
    a->out_dir = "runs";
    optind = 0;
    int c;
    while ((c = getopt_long(argc, argv, "s:w:b:r:o:qR:fh", opts, NULL)) != -1) {
        if (c == 'h') return fputs(RUN_HELP, stdout), 1;
        if (c == 'q') a->quiet = 1;
        else if (c == 'f') a->force = 1;
        else if (c == 'I') a->insecure = 1;
        else if (c == 'C') add_set(a, "cache.mode", "off");
        else if (c == 'E') a->estimate = 1;
        else if (c == 'J') a->junit = optarg;
        else if (c == 'R') a->resume = optarg;
        else if (c == 's') add_set(a, NULL, optarg);
        else if (c < 128 && keys[c]) add_set(a, keys[c], optarg);
        else return fputs(RUN_HELP, stderr), -1;
        if (c == 'o') a->out_dir = optarg;
        if (c == 'r') a->redis = optarg;
    }
    return positional(argc, argv, a);
}

static int run_main(int argc, char **argv, const char *resume_id)
{
    run_args_t a;
    int prc = parse_args(argc, argv, &a, resume_id);
    if (prc) {
        free_args(&a);
        return prc > 0 ? CLI_OK : CLI_USAGE;
    }
    struct sigaction sa = {0};
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (a.estimate) {
        int code = a.resume ? cli_fail(CLI_USAGE, "--estimate goes with `run CONFIG`, not a resume")
                            : cli_estimate(a.config, (const char *const *)a.sets, a.n_sets, 0);
        free_args(&a);
        return code;
    }
    coord_run_opts_t o = {.config = a.config, .sets = (const char *const *)a.sets,
                          .n_sets = a.n_sets, .resume = a.resume, .out_dir = a.out_dir,
                          .redis = a.redis, .junit = a.junit, .quiet = a.quiet, .force = a.force,
                          .insecure = a.insecure};
    coord_run_t *r = coord_run_new(&o, &stop_requests);
    if (a.quiet) rs_log_set_level(RS_LOG_WARN);
    rs_err_t err;
    int code = CLI_OK;
    if (coord_run_prepare(r, &err))
        code = cli_fail(CLI_USAGE, "%s", err.msg);
    else if (coord_run_start(r, &err))
        code = cli_fail(CLI_RUNTIME, "%s", err.msg);
    else {
        int rc = coord_run_execute(r, &err);
        if (rc < 0) code = cli_fail(CLI_RUNTIME, "%s", err.msg);
        else if (rc > 0) code = rc == 2 ? CLI_BUDGET : 130;
        else code = coord_run_verdict(r);
    }
    coord_run_destroy(&r);
    free_args(&a);
    return code;
}

int cmd_run(int argc, char **argv)
{
    return run_main(argc, argv, NULL);
}

int cmd_resume(int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0))
        return fputs(RUN_HELP, stdout), CLI_OK;
    if (argc < 2 || argv[1][0] == '-')
        return cli_fail(CLI_USAGE, "resume needs a RUN_ID (see `reasonsaver resume --help`)");
    return run_main(argc - 1, argv + 1, argv[1]);
}
