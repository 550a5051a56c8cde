#!/usr/bin/env bash
# Self-critique chains at zero model latency: 10,000 generated cases, n=4 candidates, one sim judge
# critiquing every candidate, one revision round, hash embeddings (consensus, embed_sim), all
# ranking strategies; wall time of the whole `reasonsaver run` (start-up and report included),
# with per-case traces on and off, and with the embeddings from an openai embedder (one batched
# /embeddings call per case to a local reasonsaver-mockllm) instead of the hash embedder. Then the
# near-duplicate pass over the same 10,000 prompts (report.near_duplicates: the time
# `reasonsaver report` takes with it minus without it).
#
#   bench/chains.sh [BUILD_DIR]        (default build; output under bench/out/chains/)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
rs="$PWD/$build/reasonsaver"
out="$PWD/bench/out/chains"
cases=${CASES:-10000}
mkdir -p "$out"
[ -x "$rs" ] || { echo "build first: scripts/build.sh $build" >&2; exit 1; }
"$rs" datasets gen arithmetic --n "$cases" --seed 1 --out "$out/cases.jsonl" 2>/dev/null

config() { # $1 = spans true|false, $2 = near_duplicates true|false, $3 = embedder (flow map)
  local emb=${3:-"{type: hash, dim: 256}"}
  cat <<YAML
run: {name: chains, seed: 1}
dataset: {path: cases.jsonl}
models:
  - {name: sim, provider: sim, model: sim-1, n: 4, params: {accuracy: 0.6}}
judges:
  - {name: self, model: sim}
revise: {rounds: 1}
embedder: $emb
scoring:
  graders: [exact, {type: judge, judge: self}, {type: embed_sim, threshold: 0.8}]
cluster: {workers: 2}
report: {formats: [json], spans: $1, near_duplicates: $2}
YAML
}

seconds() { local t0 t1; t0=$(date +%s.%N); "$@" >/dev/null; t1=$(date +%s.%N); awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}'; }

row() { # $1 = traces, $2 = embedder label, $3 = embedder flow map
  config "$1" false "$3" > "$out/chains.yaml"
  rm -rf "$out/runs"
  wall=$(seconds "$rs" run "$out/chains.yaml" --quiet --out "$out/runs")
  printf '| %s | %s | %d | %.2f | %.0f |\n' "$1" "$2" "$cases" "$wall" "$(awk -v c="$cases" -v w="$wall" 'BEGIN {print c / w}')"
}

echo "| traces | embedder | cases | wall s | cases/s end to end |"
echo "|---|---|---:|---:|---:|"
row true hash ""
row false hash ""
"$PWD/$build/reasonsaver-mockllm" --port 0 --port-file "$out/mock.port" --embed-dim 256 --quiet >/dev/null &
mock=$!
trap 'kill $mock 2>/dev/null' EXIT
for _ in $(seq 50); do [ -s "$out/mock.port" ] && break; sleep 0.1; done
port=$(cat "$out/mock.port")
row false "openai (mockllm, 1 call/case)" "{type: openai, model: emb, base_url: \"http://127.0.0.1:$port/v1\"}"
kill $mock; wait $mock 2>/dev/null || true; rm -f "$out/mock.port"

run_id=$(ls "$out/runs")
without=$(seconds "$rs" report "$run_id" --out "$out/runs")
# The stored config decides: rerun the report of a run made with near_duplicates on.
config false true > "$out/chains.yaml"
rm -rf "$out/runs"
"$rs" run "$out/chains.yaml" --quiet --out "$out/runs"
run_id=$(ls "$out/runs")
with=$(seconds "$rs" report "$run_id" --out "$out/runs")
echo
echo "| near-duplicate pass over $cases prompts | s |"
echo "|---|---:|"
printf '| report with the pass minus without | %.2f |\n' "$(awk -v a="$with" -v b="$without" 'BEGIN {print a - b}')"
rm -rf "$out/runs"
