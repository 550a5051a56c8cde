/* regex: PCRE2 patterns with one match-data block per call (thread-safe, no shared state but a
 * statistics counter), and a search that is linear in the text. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "regex.h"

#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>

struct rs_regex {
    pcre2_code *code;
    pcre2_match_context *limits; /* the match and depth limits; only read while matching */
    int has_group;
};

static unsigned long long match_calls; /* statistics for tests; a torn count is harmless */

rs_regex_t *rs_regex_new(const char *pattern, int caseless, rs_err_t *err)
{
    int errcode;
    PCRE2_SIZE erroff;
    uint32_t opts = PCRE2_UTF | (caseless ? PCRE2_CASELESS : 0);
    pcre2_code *code =
        pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, opts, &errcode, &erroff, NULL);
    if (!code) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(errcode, msg, sizeof(msg));
        rs_err_set(err, "bad regex '%s' at offset %zu: %s", pattern, (size_t)erroff, (char *)msg);
        return NULL;
    }
    pcre2_jit_compile(code, PCRE2_JIT_COMPLETE); /* best effort: falls back to the interpreter */
    uint32_t groups = 0;
    pcre2_pattern_info(code, PCRE2_INFO_CAPTURECOUNT, &groups);
    rs_regex_t *re = rs_xcalloc(1, sizeof(*re));
    re->code = code;
    re->limits = pcre2_match_context_create(NULL);
    if (!re->limits) {
        fputs("out of memory: pcre2 match context\n", stderr);
        abort(); /* like rs_xmalloc */
    }
    pcre2_set_match_limit(re->limits, RS_REGEX_MATCH_LIMIT);
    pcre2_set_depth_limit(re->limits, RS_REGEX_DEPTH_LIMIT);
    re->has_group = groups > 0;
    return re;
}

void rs_regex_destroy(rs_regex_t **re)
{
    if (!re || !*re) return;
    pcre2_code_free((*re)->code);
    pcre2_match_context_free((*re)->limits);
    free(*re);
    *re = NULL;
}

/* The offset of the character after the one at off (off < n): an empty match moves on by one
 * character, never into the middle of one, which PCRE2_NO_UTF_CHECK would not catch. */
static size_t next_char(const char *text, size_t n, size_t off)
{
    off++;
    while (off < n && ((unsigned char)text[off] & 0xC0) == 0x80) off++;
    return off;
}

int rs_regex_find(const rs_regex_t *re, const char *text, size_t text_len, int last, size_t *start,
                  size_t *len)
{
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re->code, NULL);
    if (!md) {
        fputs("out of memory: pcre2 match data\n", stderr);
        abort(); /* like rs_xmalloc */
    }
    size_t off = 0, found_s = 0, found_l = 0;
    int outcome = RS_REGEX_NONE;
    /* The first call, at offset 0, has PCRE2 check the whole text's UTF-8; the others skip the
     * check, which would otherwise re-read the rest of the text on every call (quadratic). */
    uint32_t opts = 0;
    while (off <= text_len) {
        match_calls++;
        int rc = pcre2_match(re->code, (PCRE2_SPTR)text, text_len, off, opts, md, re->limits);
        opts = PCRE2_NO_UTF_CHECK;
        if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT ||
            rc == PCRE2_ERROR_HEAPLIMIT) {
            outcome = RS_REGEX_LIMIT;
            break;
        }
        if (rc <= PCRE2_ERROR_UTF8_ERR1 && rc >= PCRE2_ERROR_UTF8_ERR21) {
            outcome = RS_REGEX_BAD_UTF8;
            break;
        }
        if (rc < 0) break; /* no further match */
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        outcome = RS_REGEX_FOUND;
        if (re->has_group && rc > 1 && ov[2] != PCRE2_UNSET) {
            found_s = ov[2];
            found_l = ov[3] - ov[2];
        } else {
            found_s = ov[0];
            found_l = ov[1] - ov[0];
        }
        if (!last) break;
        /* \K can end a match before it starts; never go back */
        if (ov[1] > ov[0] && ov[1] > off) off = ov[1];
        else if (ov[0] < text_len) off = next_char(text, text_len, ov[0] > off ? ov[0] : off);
        else break;
    }
    pcre2_match_data_free(md);
    if (outcome == RS_REGEX_FOUND && start) *start = found_s;
    if (outcome == RS_REGEX_FOUND && len) *len = found_l;
    return outcome;
}

const char *rs_regex_outcome(int rc)
{
    switch (rc) {
    case RS_REGEX_FOUND: return "match";
    case RS_REGEX_NONE: return "no match";
    case RS_REGEX_LIMIT: return "match limit reached";
    default: return "not valid UTF-8";
    }
}

unsigned long long rs_regex_match_calls(void)
{
    return match_calls;
}
