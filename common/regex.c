/* regex: PCRE2 patterns with one match-data block per call (thread-safe, no shared state). */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "regex.h"

#include <pcre2.h>
#include <stdlib.h>

struct rs_regex {
    pcre2_code *code;
    int has_group;
};

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
    re->has_group = groups > 0;
    return re;
}

void rs_regex_destroy(rs_regex_t **re)
{
    if (!re || !*re) return;
    pcre2_code_free((*re)->code);
    free(*re);
    *re = NULL;
}

int rs_regex_find(const rs_regex_t *re, const char *text, size_t text_len, int last, size_t *start,
                  size_t *len)
{
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re->code, NULL);
    size_t off = 0, found_s = 0, found_l = 0;
    int found = 0;
    while (off <= text_len) {
        int rc = pcre2_match(re->code, (PCRE2_SPTR)text, text_len, off, 0, md, NULL);
        if (rc < 0) break;
        PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
        found = 1;
        if (re->has_group && rc > 1 && ov[2] != PCRE2_UNSET) {
            found_s = ov[2];
            found_l = ov[3] - ov[2];
        } else {
            found_s = ov[0];
            found_l = ov[1] - ov[0];
        }
        if (!last) break;
        off = ov[1] > ov[0] ? ov[1] : ov[0] + 1;
    }
    pcre2_match_data_free(md);
    if (found && start) *start = found_s;
    if (found && len) *len = found_l;
    return found;
}
