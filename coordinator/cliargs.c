/* cliargs: the shared preamble of the commands that read a run, and cli_fail. */
#define _GNU_SOURCE
#include "cliargs.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "log.h"
#include "util.h"

enum { MAX_OPTS = 24 };

/* Messages may quote a server's reply, a file or a peer: printed as one line with no control
 * characters, bidirectional marks or invalid UTF-8 (rs_text_safe). */
int cli_fail(int code, const char *fmt, ...)
{
    va_list ap;
    rs_buf_t msg, safe;
    rs_buf_init(&msg);
    rs_buf_init(&safe);
    va_start(ap, fmt);
    rs_buf_vprintf(&msg, fmt, ap);
    va_end(ap);
    fprintf(stderr, "reasonsaver: %s\n", rs_text_safe_str(&safe, msg.data, RS_TEXT_SPACES));
    rs_buf_cleanup(&msg);
    rs_buf_cleanup(&safe);
    return code;
}

/* The command's long options followed by the shared ones, into all (MAX_OPTS entries). */
static void merge_opts(const struct option *own, struct option *all)
{
    static const struct option shared[] = {{"out", required_argument, 0, 'o'},
                                           {"redis", required_argument, 0, 'r'},
                                           {"help", no_argument, 0, 'h'},
                                           {0, 0, 0, 0}};
    size_t n = 0;
    for (; own && own[n].name; n++) {
        assert(n + RS_ARRAY_LEN(shared) < MAX_OPTS);
        all[n] = own[n];
    }
    memcpy(all + n, shared, sizeof(shared));
}

int cli_runargs_parse(const cli_cmd_t *cmd, int argc, char **argv, cli_runargs_t *a, int *code)
{
    struct option opts[MAX_OPTS];
    merge_opts(cmd->opts, opts);
    char *letters = rs_xasprintf("%so:r:h", cmd->letters ? cmd->letters : "");
    memset(a, 0, sizeof(*a));
    a->out = "runs";
    *code = CLI_OK;
    int c = 0;
    optind = 0;
    while (*code == CLI_OK && (c = getopt_long(argc, argv, letters, opts, NULL)) != -1) {
        if (c == 'h') {
            fputs(cmd->help, stdout);
            break;
        }
        if (c == 'o') a->out = optarg;
        else if (c == 'r') a->redis = optarg;
        else if (c == '?' || !cmd->on_opt) *code = (fputs(cmd->help, stderr), CLI_USAGE);
        else *code = cmd->on_opt(cmd->arg, c, optarg);
    }
    free(letters);
    if (c == 'h' || *code != CLI_OK) return -1;
    if (cmd->check && (*code = cmd->check(cmd->arg)) != CLI_OK) return -1;
    a->args = argv + optind;
    a->n_args = argc - optind;
    if (a->n_args < cmd->min_args || a->n_args > cmd->max_args) {
        *code = cmd->args_msg ? cli_fail(CLI_USAGE, "%s", cmd->args_msg)
                              : cli_fail(CLI_USAGE, "%s takes at most one RUN_ID", cmd->name);
        return -1;
    }
    return 0;
}

int cli_runargs_open(const cli_runargs_t *a, const char *run_id, coord_runref_t *ref)
{
    rs_log_set_level(RS_LOG_WARN);
    rs_err_t err;
    if (coord_runref_open(ref, a->out, run_id, a->redis, &err))
        return cli_fail(CLI_USAGE, "%s", err.msg);
    return CLI_OK;
}
