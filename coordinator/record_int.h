/* record_int: the record check's internals that its unit test reaches (tests/unit/test_record.c);
 * not for other modules. */
#ifndef COORD_RECORD_INT_H
#define COORD_RECORD_INT_H

#include <stddef.h>

/* Whether s[0..len) is exactly one JSON value by the validator the check runs over a record's
 * trace (jdoc.h's rs_json_valid, whitespace around the value allowed), which must never accept
 * what jansson refuses; nesting bounded at COORD_RECORD_MAX_DEPTH. */
int coord_record_json_value_ok(const char *s, size_t len);

#endif
