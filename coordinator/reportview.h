/* reportview: small readers of a report object (report.json's structure, report.h) shared by
 * the writers that render it: the Markdown report, the summary printed at the end of a run. */
#ifndef COORD_REPORTVIEW_H
#define COORD_REPORTVIEW_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "jsonget.h" /* what its readers are built on; its users read reports with them too */
#include "util.h"

/* Whether the ranking strategies make a table: a model of report.models, or the pool, has more
 * than `first`. *pool gets report.json's pool.strategies (borrowed; NULL without a pool). */
int coord_report_has_strategies(json_t *report, json_t **pool);

/* The number of corrupted records a report counted (report.json's corrupted.count). */
uint64_t coord_report_corrupted(json_t *report);

/* The cases of report.json's "corrupted", joined by ", " (an ellipsis when more were counted
 * than listed), appended to b. */
void coord_report_corrupted_cases(rs_buf_t *b, json_t *report);

/* One model's entry of report.json's concurrency (or status's): "adaptive cap N (floor F,
 * ceiling C, lowest L; D down, U up); K 429/503, P pause(s) for Retry-After (S s)", or "fixed
 * cap; ..." when it did not adapt. Numbers only: the caller writes the model's name. */
void coord_report_concurrency_line(rs_buf_t *b, json_t *m);

#endif
