/* gates: what a finished run's report says to CI (docs/GATES.md). The config's gates (config.h,
 * rs_gate_cfg_t) are measured on the report object after it is built, from the very numbers it
 * holds, so a gate never disagrees with report.json; their outcome becomes the report's "gates".
 * Without a gate on a model's errors, a model more than half of whose cases ended in error fails
 * the run (exit 1) whatever the gates say: a dead endpoint or a wrong key must never pass CI.
 * No I/O beyond the messages printed to the FILE given. */
#ifndef COORD_GATES_H
#define COORD_GATES_H

#include <jansson.h>
#include <stdio.h>

#include "config.h"

/* report.json's "gates" (new reference): per gate of cfg, in config order,
 * {name, metric, model, grader, strategy, min, max, value, passed, why}; value is null when the
 * report has no such number (no graded case, a model without cases), which fails the gate; why
 * says what failed (null when it passed). */
json_t *coord_gates_eval(const rs_config_t *cfg, json_t *report);

/* 1 when the model entry m of a report (models[i]) ended in error for more than half of its
 * cases; then *reason and *count (when not NULL) are its most common error reason (ties: the
 * first by name) and how many cases it took. 0 otherwise. */
int coord_gates_mostly_errors(json_t *m, const char **reason, long long *count);

/* 1 when the report's models[i] is held by the errors check: no gate of cfg measures its errors
 * (such a gate replaces the check for its model). */
int coord_gates_errors_checked(const rs_config_t *cfg, const char *model);

/* The outcome of a finished run's report for CI: 0 when it passes; 1 (CLI_RUNTIME) when some
 * model checked by the errors check ended mostly in error, each such model named on err with its
 * most common error and how many cases it took; else 3 (CLI_GATES) when a gate of the
 * report's "gates" failed, each named on err with its value and bounds. Passed gates are listed
 * on out (NULL: not shown). */
int coord_gates_verdict(const rs_config_t *cfg, json_t *report, FILE *out, FILE *err);

/* The gate's bounds as text: ">= 0.8", "<= 0.01", "in [0.5, 0.9]" (rs_buf_t b is appended). */
void coord_gates_bounds_text(rs_buf_t *b, json_t *gate);

#endif
