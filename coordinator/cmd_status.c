/* cmd_status: `reasonsaver status [RUN_ID]` — one screen (or --json) about a run, from Redis:
 * state, progress, rate and ETA, failures, and the live workers while it runs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "cliargs.h"
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

static int status_opt(void *arg, int c, const char *value)
{
    *(int *)arg = 1; /* --json, its only option */
    return CLI_OK;
}

int cmd_status(int argc, char **argv)
{
    static const struct option opts[] = {{"json", no_argument, 0, 'j'}, {0, 0, 0, 0}};
    int as_json = 0, code;
    const cli_cmd_t cli = {.name = "status", .help = STATUS_HELP, .opts = opts, .letters = "j",
                           .on_opt = status_opt, .arg = &as_json, .max_args = 1};
    cli_runargs_t a;
    coord_runref_t ref;
    if (cli_runargs_parse(&cli, argc, argv, &a, &code)) return code;
    if ((code = cli_runargs_open(&a, a.n_args ? a.args[0] : NULL, &ref))) return code;
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
