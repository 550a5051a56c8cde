/* junit: a finished run's report as JUnit XML (`--junit FILE`, docs/GATES.md), the format the test
 * reporters of GitLab, Jenkins and GitHub Actions read.
 *
 * One testsuite "reasonsaver.models" with a testcase per model and grader (classname
 * "reasonsaver.models.<model>", name the grader): it fails when a gate on that model and grader
 * failed, or when the model ended mostly in error and no gate measures its errors (gates.h); its
 * system-out carries the accuracy and counts either way. When the config has gates, a testsuite
 * "reasonsaver.gates" with a testcase per gate, failed with its reason. Every string (model
 * names, error reasons, gate names) is escaped; characters XML 1.0 cannot carry (controls,
 * invalid UTF-8, U+FFFE/U+FFFF) become U+FFFD. The schema the output follows is
 * tests/integration/junit.xsd. No I/O except coord_junit_write. */
#ifndef COORD_JUNIT_H
#define COORD_JUNIT_H

#include <jansson.h>
#include <stddef.h>

#include "config.h"
#include "util.h"

/* Appends the n bytes of s to b escaped for XML text and attribute values (& < > " ' and tab,
 * newline and carriage return as character references), every byte sequence XML 1.0 forbids
 * replaced by U+FFFD. */
void coord_junit_escape(rs_buf_t *b, const char *s, size_t n);

/* The JUnit XML of report (report.json's object, with its "gates" when cfg has gates) as a new
 * string (the caller frees it). */
char *coord_junit_render(const rs_config_t *cfg, json_t *report);

/* coord_junit_render written to path atomically (a temporary file, fsync, rename). 0 / -1. */
int coord_junit_write(const char *path, const rs_config_t *cfg, json_t *report, rs_err_t *err);

#endif
