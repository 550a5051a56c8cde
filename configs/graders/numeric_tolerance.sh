#!/bin/sh
# A shell exec grader for reasonsaver (docs/GRADERS.md): the extracted answer is correct when it
# is within a relative tolerance of the target (default 1%, or the first argument). One JSON
# request per line on stdin, one JSON reply per line on stdout; no jq, only sed and awk.
#
# The fields are picked out with sed, which is enough for what the worker writes (compact JSON,
# numbers as plain strings); a grader for free text should parse JSON properly (see
# humaneval_check.py).
tol=${1:-0.01}
field() { printf '%s\n' "$1" | sed -n "s/.*\"$2\":\"\([^\"]*\)\".*/\1/p"; }
while IFS= read -r line; do
    got=$(field "$line" extracted)
    want=$(field "$line" target)
    if [ -z "$want" ]; then
        echo '{"verdict":"skipped","reason":"no target"}'
        continue
    fi
    awk -v got="$got" -v want="$want" -v tol="$tol" 'BEGIN {
        if (got !~ /^[-+]?[0-9]*\.?[0-9]+([eE][-+]?[0-9]+)?$/) {
            printf "{\"verdict\":\"wrong\",\"score\":0,\"reason\":\"no number in the answer\"}\n"
            exit
        }
        d = got - want; if (d < 0) d = -d
        scale = want < 0 ? -want : want; if (scale < 1) scale = 1
        rel = d / scale
        score = rel >= 1 ? 0 : 1 - rel
        printf "{\"verdict\":\"%s\",\"score\":%.6f,\"reason\":\"|%s - %s| / %g = %.6g\"}\n",
               rel <= tol ? "correct" : "wrong", score, got, want, scale, rel
    }'
done
