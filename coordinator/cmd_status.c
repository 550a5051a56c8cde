/* cmd_status: `reasonsaver status [RUN_ID]` — one screen (or --json) about a run, from Redis:
 * state, progress, rate and ETA, failures, and the live workers while it runs. */
#define _GNU_SOURCE
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "log.h"
#include "runref.h"
#include "statusview.h"

static const char STATUS_HELP[] =
    "usage: reasonsaver status [RUN_ID] [OPTIONS]\n\n"
    "Shows a run's state, progress, rate and ETA, failures and live workers. Works on a running,\n"
    "finished or interrupted run, from any machine that reaches its Redis. Without RUN_ID: the\n"
    "latest run.\n\n"
    "options:\n"
    "  --out DIR     directory of runs (default runs)\n"
    "  --redis URL   read the run from this Redis instead of its run directory\n"
    "  --json        machine-readable output\n"
    "  -h, --help    this help\n";

int cmd_status(int argc, char **argv)
{
    static const struct option opts[] = {{"out", required_argument, 0, 'o'},
                                         {"redis", required_argument, 0, 'r'},
                                         {"json", no_argument, 0, 'j'},
                                         {"help", no_argument, 0, 'h'},
                                         {0, 0, 0, 0}};
    const char *out = "runs", *redis = NULL;
    int as_json = 0, c;
    optind = 0;
    while ((c = getopt_long(argc, argv, "o:r:jh", opts, NULL)) != -1) {
        if (c == 'h') return fputs(STATUS_HELP, stdout), CLI_OK;
        if (c == 'o') out = optarg;
        else if (c == 'r') redis = optarg;
        else if (c == 'j') as_json = 1;
        else return fputs(STATUS_HELP, stderr), CLI_USAGE;
    }
    if (argc - optind > 1) return cli_fail(CLI_USAGE, "status takes at most one RUN_ID");
    rs_log_set_level(RS_LOG_WARN);
    coord_runref_t ref;
    rs_err_t err;
    if (coord_runref_open(&ref, out, optind < argc ? argv[optind] : NULL, redis, &err))
        return cli_fail(CLI_USAGE, "%s", err.msg);
    json_t *s = coord_status_json(ref.store, ref.run_id, ref.manifest);
    if (as_json) {
        char *text = json_dumps(s, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        printf("%s\n", text);
        free(text);
    } else {
        rs_buf_t b;
        rs_buf_init(&b);
        coord_status_render(&b, s, 0);
        fputs(b.data, stdout);
        rs_buf_cleanup(&b);
    }
    json_decref(s);
    coord_runref_close(&ref);
    return CLI_OK;
}
