#!/usr/bin/env bash
# `reasonsaver estimate` over 100,000 generated cases: wall time of the whole command (config load,
# one pass over the dataset that validates and renders every case, the counting, the output),
# median of REPS runs, for two configs: one sim model (the generation prompt only), and the chain
# (n=4, two judges, two revision rounds: every case's judge and revision prompts rendered too),
# both with the cache off; and `lookup`, the plain config reading a private response cache in
# bench/out/estimate/runs/cache/ (started by the estimate): every generation call's key made and
# looked up with EXISTS. The cache is empty, so every lookup misses; a hit costs the same EXISTS.
#
#   bench/estimate.sh [BUILD_DIR]      (default build; CASES=100000 REPS=5; output under
#                                       bench/out/estimate/)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
rs="$PWD/$build/reasonsaver"
out="$PWD/bench/out/estimate"
cases=${CASES:-100000}
reps=${REPS:-5}
mkdir -p "$out"
[ -x "$rs" ] || { echo "build first: scripts/build.sh $build" >&2; exit 1; }
"$rs" datasets gen arithmetic --n "$cases" --seed 1 --out "$out/cases.jsonl" 2>/dev/null

cat > "$out/plain.yaml" <<YAML
dataset: {path: cases.jsonl}
models:
  - {name: a, provider: openai, model: gpt-x, params: {max_tokens: 512},
     prices: {input: 2.5, output: 10}}
cache: off
YAML
rm -rf "$out/runs" && mkdir -p "$out/runs/cache"
sed "s|^cache: off|run: {out_dir: $out/runs}|" "$out/plain.yaml" > "$out/lookup.yaml"
cat > "$out/chain.yaml" <<YAML
dataset: {path: cases.jsonl}
models:
  - {name: a, provider: openai, model: gpt-x, n: 4, params: {max_tokens: 512},
     prices: {input: 2.5, output: 10}}
  - {name: b, provider: anthropic, model: claude-x, params: {max_tokens: 1024},
     prices: {input: 3, output: 15}}
judges: [{name: ja, model: a}, {name: jb, model: b, reference: true, rubric: [Correct.]}]
revise: {rounds: 2, judge: jb}
cache: off
YAML

seconds() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null; t1=$(date +%s.%N); awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}'; }

echo "| config | cases | calls counted | wall s (median of $reps) | cases/s |"
echo "|---|---:|---:|---:|---:|"
for cfg in plain chain lookup; do
  times=$(for _ in $(seq "$reps"); do seconds "$rs" estimate "$out/$cfg.yaml" --json; done | sort -n)
  median=$(echo "$times" | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}')
  calls=$("$rs" estimate "$out/$cfg.yaml" --json | python3 -c 'import json, sys; print(json.load(sys.stdin)["total"]["calls"])')
  printf '| %s | %d | %d | %.3f | %.0f |\n' "$cfg" "$cases" "$calls" "$median" "$(awk -v c="$cases" -v w="$median" 'BEGIN {print c / w}')"
done
