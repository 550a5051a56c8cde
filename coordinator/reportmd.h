/* reportmd: report.md, the Markdown rendering of a report object (report.h): the accuracy and
 * model tables, stages, strategies, revision rounds, judges, tags, failure clusters and
 * near-duplicate prompts, each section only when the report has something for it. */
#ifndef COORD_REPORTMD_H
#define COORD_REPORTMD_H

#include <jansson.h>
#include <stddef.h>

#include "util.h"

/* report.md's text (heap). */
char *coord_reportmd_render(json_t *report);

/* Appends text (NULL: nothing) as one Markdown table cell or list item: one line made safe by
 * rs_text_safe (line breaks and tabs become spaces, other controls their Control Pictures,
 * invalid UTF-8 and bidirectional controls U+FFFD), cut to max characters with an ellipsis, and
 * every character Markdown reads as markup (\ ` * _ [ ] < > | # &) escaped with a backslash, so
 * that a model, grader or tag name, an output or a path cannot break a table or add markup. */
void coord_md_cell(rs_buf_t *b, const char *text, size_t max);

/* The Markdown cells "correct | wrong | error | skipped | accuracy [95% CI] |" of one counts
 * object (analysis.h's coord_counts_json), appended to b. */
void coord_report_md_counts(rs_buf_t *b, json_t *counts);

#endif
