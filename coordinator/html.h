/* html: renders a report object (schema reasonsaver.report/2, or /1) as report.html, one self-contained
 * HTML5 page: inline CSS and inline SVG charts drawn here, no scripts, no fonts, nothing fetched,
 * readable on screen and on paper. */
#ifndef COORD_HTML_H
#define COORD_HTML_H

#include <jansson.h>

/* Returns the whole page as a heap string (the caller frees it); never NULL. The report is only
 * read. Every string taken from it is HTML-escaped, since names, tags and paths come from datasets
 * and configs. A section whose field the report lacks is left out, and fields this version does
 * not know are ignored, so older and newer reports both render. */
char *coord_html_render(json_t *report);

#endif
