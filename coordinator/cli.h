/* cli: the reasonsaver subcommands and their shared conventions.
 * Exit status: 0 success, 2 bad input or config, 1 failure at run time; one clear line on stderr. */
#ifndef COORD_CLI_H
#define COORD_CLI_H

enum { CLI_OK = 0, CLI_RUNTIME = 1, CLI_USAGE = 2 };

int cmd_run(int argc, char **argv);
int cmd_resume(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_top(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_compare(int argc, char **argv);
int cmd_datasets(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_trace(int argc, char **argv);
int cmd_keys(int argc, char **argv);

/* Prints "reasonsaver: <msg>" on stderr and returns code. */
int cli_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
