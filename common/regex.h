/* regex: a thin owner of compiled PCRE2 patterns (Perl syntax: \d, \s, non-greedy, ...). */
#ifndef RS_REGEX_H
#define RS_REGEX_H

#include <stddef.h>

#include "util.h"

typedef struct rs_regex rs_regex_t;

/* Compiles pattern (UTF-8). caseless: match ignoring case. NULL with err naming the offset. */
rs_regex_t *rs_regex_new(const char *pattern, int caseless, rs_err_t *err);
void rs_regex_destroy(rs_regex_t **re);

/* Searches text. Returns 1 on a match, 0 on none. When it matches and start/len are not NULL they
 * get group 1 if the pattern has a group that took part, else the whole match. With last != 0 the
 * last match in the text is reported instead of the first. */
int rs_regex_find(const rs_regex_t *re, const char *text, size_t text_len, int last, size_t *start,
                  size_t *len);

#endif
