#!/usr/bin/env bash
# The issue-14 viewer benchmark: `reasonsaver serve` over finished runs of SIZES cases.
#
#   bench/viewer.sh [BUILD_DIR]        (default build; everything it writes goes to bench/out/viewer/)
#
# For each size: a run of the demo-like config (two sim models, grader exact, spans off so that
# the run itself stays short; results.jsonl written, as by default) over generated arithmetic
# cases, then `reasonsaver serve` started on it twice, reading the run from its files and from its
# own redis-server (results.idx set aside), each measured through its API (bench/viewer.py): the time until the first page of the
# table answers after the server starts (the index is built in the background: the first page
# comes from what is indexed so far), the time until every case is indexed, then per request with
# the index complete: the first page, a filtered page (one model's wrong answers), page 100 of
# that filter, a sort by tokens, a case with its neighbours, a two-model compare, and a text
# search; and the server's peak RSS before and after 200 pages (a page must not cost memory
# proportional to the run). Printed as a Markdown table for docs/BENCHMARKS.md.
# Env: SIZES (default "10000 100000")
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=${1:-build}
out=$root/bench/out/viewer
sizes=${SIZES:-10000 100000}
[ -x "$build/reasonsaver" ] || { echo "build first: scripts/build.sh $build" >&2; exit 1; }
rm -rf "$out"
mkdir -p "$out"
echo "| cases | read from | first page after start | fully indexed | page | filtered page | page 100 of filter | sort by tokens | one case | compare | text search | server RSS before / after 200 pages |"
echo "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for n in $sizes; do
  d=$out/$n
  mkdir -p "$d"
  "$build/reasonsaver" datasets gen arithmetic --n "$n" --seed 1 --out "$d/cases.jsonl" >/dev/null
  cat > "$d/run.yaml" <<YAML
run: {name: view$n, seed: 1, out_dir: runs}
dataset: {path: cases.jsonl, shard_size: 64}
models:
  - {name: strong, provider: sim, model: sim-1, params: {accuracy: 0.8}}
  - {name: weak, provider: sim, model: sim-1, params: {accuracy: 0.5}}
scoring: {graders: [exact]}
cluster: {workers: 2}
report: {formats: [json, jsonl], spans: false}
YAML
  "$build/reasonsaver" run "$d/run.yaml" --quiet --out "$d/runs"
  for mode in files redis; do
    python3 "$root/bench/viewer.py" "$build/reasonsaver" "$d/runs" "$n" "$mode"
  done
done
