/* fuzz_exec_reply: one reply line of an exec grader (wk_execgrade_parse_reply, docs/GRADERS.md).
 * Whatever the bytes, the result is a verdict or a bad_reply error, the score is in [0, 1] or NaN,
 * and the reason fits its buffer and is valid UTF-8 (it goes into the record as a JSON string). */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "execgrade.h"
#include "rank.h"
#include "score.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    wk_exec_reply_t r;
    char why[WK_EXEC_REASON_MAX];
    int rc = wk_execgrade_parse_reply((const char *)data, size, &r, why, sizeof(why));
    if (rc != 0 && (rc != -1 || strcmp(r.error_type, "bad_reply") != 0)) abort();
    if (r.verdict != RS_VERDICT_CORRECT && r.verdict != RS_VERDICT_WRONG &&
        r.verdict != RS_VERDICT_SKIPPED && r.verdict != WK_GRADE_ERROR)
        abort();
    if (!isnan(r.score) && !(r.score >= 0 && r.score <= 1)) abort();
    if (r.reason) {
        if (r.reason != why || strlen(why) >= sizeof(why)) abort();
        json_t *j = json_string(why);
        if (!j) abort();
        json_decref(j);
    }
    return 0;
}
