/* regex: a thin owner of compiled PCRE2 patterns (Perl syntax: \d, \s, non-greedy, ...) and the
 * one search over a text, linear in the text's length: its UTF-8 is checked once up front, every
 * match after that runs with PCRE2_NO_UTF_CHECK, the last match is found in one forward scan, and
 * each match is bounded by a match limit whose hit is an outcome of its own. */
#ifndef RS_REGEX_H
#define RS_REGEX_H

#include <stddef.h>

#include "util.h"

typedef struct rs_regex rs_regex_t;

/* rs_regex_find's outcomes: found, none, or a search that could not decide. */
enum {
    RS_REGEX_BAD_UTF8 = -2, /* the text is not valid UTF-8: no match was tried */
    RS_REGEX_LIMIT = -1,    /* a match ran into RS_REGEX_MATCH_LIMIT: the pattern backtracks
                             * catastrophically on this text; nothing is reported */
    RS_REGEX_NONE = 0,
    RS_REGEX_FOUND = 1,
};

/* PCRE2's match limit (backtracking steps of one pcre2_match; its default is 10,000,000) and
 * depth limit: a pattern that needs more on a text is reported as RS_REGEX_LIMIT. */
#define RS_REGEX_MATCH_LIMIT 1000000
#define RS_REGEX_DEPTH_LIMIT 10000

/* Compiles pattern (UTF-8). caseless: match ignoring case. NULL with err naming the offset. */
rs_regex_t *rs_regex_new(const char *pattern, int caseless, rs_err_t *err);
void rs_regex_destroy(rs_regex_t **re);

/* Searches text. Returns RS_REGEX_FOUND, RS_REGEX_NONE, RS_REGEX_LIMIT or RS_REGEX_BAD_UTF8 (test
 * with > 0 for a match). When it matches and start/len are not NULL they get group 1 if the
 * pattern has a group that took part, else the whole match. With last != 0 the last match in the
 * text is reported instead of the first: matches are taken one after the other, each search
 * starting where the previous match ended (one character further after an empty match), so the
 * text is scanned once. A limit reached on any of them makes the whole search RS_REGEX_LIMIT. */
int rs_regex_find(const rs_regex_t *re, const char *text, size_t text_len, int last, size_t *start,
                  size_t *len);

/* A short phrase for an outcome of rs_regex_find ("match limit reached", "not valid UTF-8",
 * "no match", "match"), for records and messages. Static. */
const char *rs_regex_outcome(int rc);

/* pcre2_match calls made by rs_regex_find in this process so far: tests bound the work of a
 * search with it (it is a plain counter, not synchronised across threads). */
unsigned long long rs_regex_match_calls(void);

#endif
