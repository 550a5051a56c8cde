#!/usr/bin/env bash
# End-to-end throughput of the framework with the sim model at zero latency: generated cases, the
# embedded Redis, local workers, start-up and report included (wall time of the whole command).
# Then one 1,000,000-case run for the coordinator's peak RSS and Redis memory per case.
#
#   bench/throughput.sh [BUILD_DIR]        (default build; results go to bench/out/)
#
# Prints Markdown table rows for docs/BENCHMARKS.md. Env: CASES (100000), REPS (3),
# WORKERS ("1 2 4"), BIG (1000000; 0 skips the big run).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
rs="$PWD/$build/reasonsaver"
out="$PWD/bench/out"
cases=${CASES:-100000}
reps=${REPS:-3}
big=${BIG:-1000000}
mkdir -p "$out"
[ -x "$rs" ] || { echo "build first: scripts/build.sh $build" >&2; exit 1; }

"$rs" datasets gen arithmetic --n "$cases" --seed 1 --out "$out/cases.jsonl" 2>/dev/null
cat > "$out/bench.yaml" <<YAML
run: {name: bench, seed: 1}
dataset: {path: cases.jsonl}
models: [{name: sim, provider: sim, model: sim-1, params: {accuracy: 0.7}}]
scoring: {graders: [exact]}
report: {formats: [json], spans: ${SPANS:-true}}
YAML

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

echo "| workers | cases | wall s (median of $reps) | cases/s end to end | coordinator peak RSS MiB |"
echo "|---:|---:|---:|---:|---:|"
for w in ${WORKERS:-1 2 4}; do
  walls=()
  for _ in $(seq "$reps"); do
    rm -rf "$out/runs"
    t0=$(date +%s.%N)
    "$rs" run "$out/bench.yaml" --workers "$w" --out "$out/runs" --quiet
    t1=$(date +%s.%N)
    walls+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')")
  done
  wall=$(printf '%s\n' "${walls[@]}" | median)
  rss=$(python3 -c "import json,glob; r=json.load(open(glob.glob('$out/runs/*/report.json')[0])); print(r['resources']['coordinator_peak_rss_kib'])")
  printf '| %d | %d | %.2f | %.0f | %.1f |\n' "$w" "$cases" "$wall" "$(awk -v c="$cases" -v w="$wall" 'BEGIN {print c / w}')" "$(awk -v r="$rss" 'BEGIN {print r / 1024}')"
done

if [ "$big" -gt 0 ]; then
  "$rs" datasets gen arithmetic --n "$big" --seed 2 --out "$out/big.jsonl" 2>/dev/null
  sed "s/cases.jsonl/big.jsonl/" "$out/bench.yaml" > "$out/big.yaml"
  rm -rf "$out/runs"
  t0=$(date +%s.%N)
  "$rs" run "$out/big.yaml" --workers 2 --out "$out/runs" --quiet
  t1=$(date +%s.%N)
  python3 - "$out" "$(awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}')" "$big" <<'PY'
import glob, json, sys
out, wall, n = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
r = json.load(open(glob.glob(out + "/runs/*/report.json")[0]))
res = r["resources"]
print()
print("| cases | wall s | cases/s | coordinator peak RSS MiB | Redis used memory MiB | Redis bytes per case |")
print("|---:|---:|---:|---:|---:|---:|")
print("| %d | %.1f | %.0f | %.1f | %.1f | %.0f |" % (n, wall, n / wall, res["coordinator_peak_rss_kib"] / 1024,
      res["redis_used_memory_bytes"] / 2**20, res["redis_bytes_per_case"]))
PY
fi
rm -rf "$out/runs"
