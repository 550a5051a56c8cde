#!/usr/bin/env bash
# The exec graders' cost (issue 12): the same run of the bundled arithmetic questions on the sim
# model, graded by the built-in numeric grader alone, then with an exec grader beside it: a Python
# grader that answers at once (the pool's and the worker loop's own overhead per case) and the
# shipped shell example configs/graders/numeric_tolerance.sh (one awk for every case).
#
#   bench/exec.sh [BUILD_DIR]        (default build; everything it writes goes to bench/out/exec/)
#
# CASES (500, the demo file) cases, WORKERS (2) local workers, concurrency CONC (4) per grader.
# Printed as a Markdown table for docs/BENCHMARKS.md: the wall time of the whole `reasonsaver run`
# command, best of REPS (3).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
out=bench/out/exec
CASES=${CASES:-500} WORKERS=${WORKERS:-2} CONC=${CONC:-4} REPS=${REPS:-3}
rm -rf "$out" && mkdir -p "$out"
printf '#!/usr/bin/env python3\nimport sys\nfor line in sys.stdin:\n    print("{\\"verdict\\": \\"correct\\"}", flush=True)\n' > "$out/instant.py"
chmod +x "$out/instant.py"
config() { # name, extra grader line
    cat > "$out/$1.yaml" <<YAML
run: {name: $1, seed: 1}
dataset: {path: $PWD/datasets/demo.jsonl, limit: $CASES}
models: [{name: sim, provider: sim, model: sim-1, params: {accuracy: 0.85}}]
scoring:
  graders:
    - numeric
$2
cluster: {workers: $WORKERS}
report: {formats: [json]}
YAML
}
config plain ""
config instant "    - {name: instant, type: exec, command: [$PWD/$out/instant.py], concurrency: $CONC}"
config tolerance "    - {name: tol, type: exec, command: [$PWD/configs/graders/numeric_tolerance.sh], concurrency: $CONC}"
echo "| graders | cases | wall s (best of $REPS) |"
echo "|---|---:|---:|"
for name in plain instant tolerance; do
    best=
    for _ in $(seq "$REPS"); do
        t0=$(date +%s.%N)
        "$build/reasonsaver" run "$out/$name.yaml" --out "$out/runs" --quiet >/dev/null
        t=$(echo "$(date +%s.%N) - $t0" | bc)
        if [ -z "$best" ] || [ "$(echo "$t < $best" | bc)" = 1 ]; then best=$t; fi
    done
    printf '| numeric%s | %s | %.2f |\n' "$([ $name = plain ] && echo '' || echo " + exec $name")" "$CASES" "$best"
done
