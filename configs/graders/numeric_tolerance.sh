#!/bin/sh
# A shell exec grader for reasonsaver (docs/GRADERS.md): the extracted answer is correct when it
# is within a relative tolerance of the target (default 1%, or the first argument). One JSON
# request per line on stdin, one JSON reply per line on stdout, for as long as stdin is open.
#
# One awk process serves every case (no process per case). The fields are picked out with a
# pattern, which is enough for what the worker writes (compact JSON; numbers as plain strings); a
# grader for free text should parse JSON properly (see humaneval_check.py).
#
# mawk (Debian's awk) waits to fill its input buffer unless told the input is interactive.
tol=${1:-0.01}
if awk -W version 2>/dev/null | grep -q mawk; then set -- -W interactive; else set --; fi
exec awk "$@" -v tol="$tol" '
function field(name,    s) {
    if (!match($0, "\"" name "\":\"[^\"]*\"")) return ""
    s = substr($0, RSTART + length(name) + 4, RLENGTH - length(name) - 5)
    return s
}
{
    got = field("extracted"); want = field("target")
    if (want == "") {
        print "{\"verdict\":\"skipped\",\"reason\":\"no target\"}"
    } else if (got !~ /^[-+]?[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?$/) {
        print "{\"verdict\":\"wrong\",\"score\":0,\"reason\":\"no number in the answer\"}"
    } else {
        d = got - want; if (d < 0) d = -d
        scale = want < 0 ? -want : want; if (scale < 1) scale = 1
        rel = d / scale
        verdict = rel <= tol ? "correct" : "wrong"
        score = rel >= 1 ? 0 : 1 - rel
        printf "{\"verdict\":\"%s\",\"score\":%.6f,\"reason\":\"|%s - %s| / %g = %.6g\"}\n",
               verdict, score, got, want, scale, rel
    }
    fflush()
}'
