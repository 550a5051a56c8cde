/* record_int: the record check's internals that its unit test reaches (tests/unit/test_record.c);
 * not for other modules. */
#ifndef COORD_RECORD_INT_H
#define COORD_RECORD_INT_H

#include <stddef.h>

/* Whether s[0..len) is exactly one JSON value by the check's own validator (leading whitespace
 * allowed, nothing after the value), which must never accept what jansson refuses. Nesting is not
 * bounded here (the record check bounds it with a pre-scan first): for short texts only. */
int coord_record_json_value_ok(const char *s, size_t len);

#endif
