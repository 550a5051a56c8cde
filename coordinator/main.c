/* main: the reasonsaver command line — one table of subcommands, each with its own --help. */
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <string.h>

#include "cli.h"
#include "log.h"
#include "util.h"
#include "vecset.h"

typedef struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} command_t;

static const command_t COMMANDS[] = {
    {"run", cmd_run, "run an evaluation from a config file"},
    {"estimate", cmd_estimate, "count a run's calls, tokens and cost before running it"},
    {"resume", cmd_resume, "continue an interrupted run where it stopped"},
    {"status", cmd_status, "show a run's progress, rate, failures and live workers"},
    {"top", cmd_top, "watch a run live, refreshed every second"},
    {"report", cmd_report, "rebuild a run's reports from its stored results"},
    {"compare", cmd_compare, "rank runs' models and strategies on their shared cases"},
    {"trace", cmd_trace, "show one case's spans, prompt and answers"},
    {"serve", cmd_serve, "the viewer: browse runs and their cases in a browser"},
    {"export", cmd_export, "send a run's spans to an OpenTelemetry collector (OTLP)"},
    {"datasets", cmd_datasets, "generate or check datasets"},
    {"keys", cmd_keys, "make CURVE key pairs for the coordinator and workers"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: reasonsaver COMMAND [OPTIONS]\n\n"
               "reasonsaver evaluates language models at scale: a coordinator shards a dataset into\n"
               "tasks for workers, Redis keeps every result, and the run ends with a report.\n\n"
               "commands:\n");
    for (size_t i = 0; i < sizeof(COMMANDS) / sizeof(COMMANDS[0]); i++)
        fprintf(f, "  %-10s %s\n", COMMANDS[i].name, COMMANDS[i].summary);
    fprintf(f, "\n`reasonsaver COMMAND --help` describes each command.\n"
               "example: reasonsaver run configs/demo.yaml\n");
}

int main(int argc, char **argv)
{
    /* Batches of records (a Redis command of 512 of them, a RESULT of a task's cases) are
     * megabytes: above glibc's default 128 KiB each would be a fresh mmap, paid again in page
     * faults every time (13% of the coordinator's time at 10,000 cases/s). Kept in the heap, they
     * reuse the same pages. */
    mallopt(M_MMAP_THRESHOLD, 16 << 20);
    mallopt(M_TRIM_THRESHOLD, 32 << 20);
    rs_log_init("reasonsaver", RS_LOG_INFO);
    /* One BLAS thread before the first fork: OpenBLAS stops its pool at a fork and would start a
     * new one, spinning beside the report (the pool it started at load spins its first ~0.1 s
     * regardless). */
    rs_vecset_one_thread();
    /* API keys and Redis passwords are in the environment, and local workers run exec graders as
     * the same user: /proc/<pid>/environ is kept to root (as in the worker, worker/main.c). */
    prctl(PR_SET_DUMPABLE, 0);
    if (argc < 2) {
        usage(stderr);
        return CLI_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return CLI_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("reasonsaver %s\n", RS_VERSION);
        return CLI_OK;
    }
    for (size_t i = 0; i < sizeof(COMMANDS) / sizeof(COMMANDS[0]); i++)
        if (strcmp(argv[1], COMMANDS[i].name) == 0) return COMMANDS[i].fn(argc - 1, argv + 1);
    return cli_fail(CLI_USAGE, "unknown command '%s' (try `reasonsaver --help`)", argv[1]);
}
