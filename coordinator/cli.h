/* cli: the reasonsaver subcommands and their shared conventions.
 * Exit status: 0 success, 2 bad input or config, 1 failure at run time (a finished run mostly in
 * error included, gates.h), 3 a finished run failed a gate, 4 a run stopped at its budget (130:
 * interrupted); one clear line on stderr. */
#ifndef COORD_CLI_H
#define COORD_CLI_H

#include <stddef.h>

enum { CLI_OK = 0, CLI_RUNTIME = 1, CLI_USAGE = 2, CLI_GATES = 3, CLI_BUDGET = 4 };

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
int cmd_estimate(int argc, char **argv);
int cmd_serve(int argc, char **argv);

/* Loads config (with overrides), reads its dataset once and prints the estimate (estimate.h) as
 * text, or JSON when json; contacts no model, and asks the response cache with EXISTS only.
 * Returns the exit status. */
int cli_estimate(const char *config, const char *const *sets, size_t n_sets, int json);

/* Prints "reasonsaver: <msg>" on stderr and returns code. */
int cli_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
