/* cliargs: the command line's shared conventions (cli.h): failing with one line, and the preamble
 * of the commands that read a past or live run (status, top, report, trace, export): getopt over
 * the command's own options plus --out DIR, --redis URL and --help, the count of RUN_ID-like
 * arguments, and opening the run (runref). Each command keeps its own help text and options. */
#ifndef COORD_CLIARGS_H
#define COORD_CLIARGS_H

#include <getopt.h>

#include "runref.h"

/* One command's own options, handled in order as getopt returns them (never 'o', 'r' or 'h', the
 * shared ones, nor an unknown option). Returns 0 to go on, or the exit status to end with (having
 * printed why, e.g. through cli_fail). */
typedef int (*cli_opt_fn)(void *arg, int c, const char *value);

typedef struct cli_cmd {
    const char *name;            /* "status": says "<name> takes at most one RUN_ID" */
    const char *help;            /* printed on stdout for --help, on stderr after a bad option */
    const struct option *opts;   /* its own long options, {0} ended; NULL for none */
    const char *letters;         /* its own short options in getopt's syntax ("ji:") */
    cli_opt_fn on_opt;           /* NULL when it has none */
    void *arg;                   /* passed to on_opt and check */
    int (*check)(void *arg);     /* after the options, before the arguments are counted; or NULL */
    int min_args, max_args;      /* arguments left after the options (RUN_ID, CASE_ID) */
    const char *args_msg;        /* said when their count is wrong; NULL: "<name> takes at most
                                    one RUN_ID" */
} cli_cmd_t;

typedef struct cli_runargs {
    const char *out;             /* --out, default "runs" */
    const char *redis;           /* --redis, or NULL */
    char **args;                 /* the arguments left after the options, in argv */
    int n_args;
} cli_runargs_t;

/* Parses argv (argv[0] is the command's name) into a. Returns 0 to go on, or -1 with *code the
 * exit status to end with: CLI_OK after --help, CLI_USAGE after a bad option (the help on stderr)
 * or a wrong count of arguments, or what cmd->on_opt or cmd->check returned. */
int cli_runargs_parse(const cli_cmd_t *cmd, int argc, char **argv, cli_runargs_t *a, int *code);

/* Opens run_id (NULL: the latest) as a says (--out, --redis) with warnings-only logging. 0, or
 * CLI_USAGE after printing why ("no run 'x' in runs/"). */
int cli_runargs_open(const cli_runargs_t *a, const char *run_id, coord_runref_t *ref);

#endif
