#!/usr/bin/env bash
# The issue-11 response-cache benchmark: a run through reasonsaver-mockllm, then the same run again,
# answered wholly from the cache.
#
#   bench/cache.sh [BUILD_DIR]        (default build; everything it writes goes to bench/out/cache/)
#
# CASES (10,000) generated arithmetic cases, one `openai` model with `mock: true` (n = 1, the
# default temperature 0), grader exact, the mock at LATENCY_MS (50) per request, WORKERS (2) local
# workers of SLOTS (256) slots. The cache lives in a redis-server of its own on a free loopback
# port (cache.redis; no persistence), so that its memory is the cache's alone. Run 1 fills it,
# run 2 (same config, same cache) must make no request at all (the mock's /stats proves it).
# Printed, as a Markdown table for docs/BENCHMARKS.md: wall time and cases/s of each run (the
# whole `reasonsaver run` command), and the cache Redis's used_memory grown by run 1 per stored
# entry, next to the bytes the writer's cap counts per entry (rs:cache:bytes / entries).
# Env: CASES LATENCY_MS WORKERS SLOTS REPS (1: run 2 is repeated REPS times)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=${1:-build}
out=$root/bench/out/cache
cases=${CASES:-10000}
latency=${LATENCY_MS:-50}
workers=${WORKERS:-2}
slots=${SLOTS:-256}
reps=${REPS:-1}

for b in reasonsaver reasonsaver-worker reasonsaver-mockllm; do
  [ -x "$build/$b" ] || { echo "build first: scripts/build.sh $build" >&2; exit 1; }
done
command -v redis-server >/dev/null || { echo "redis-server not found: apt-get install -y redis-server" >&2; exit 1; }
command -v redis-cli >/dev/null || { echo "redis-cli not found: apt-get install -y redis-server" >&2; exit 1; }
command -v curl >/dev/null || { echo "curl not found: apt-get install -y curl" >&2; exit 1; }

rm -rf "$out"
mkdir -p "$out"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

rport=$(free_port)
redis-server --port "$rport" --bind 127.0.0.1 --dir "$out" --save '' --appendonly no \
  --logfile redis.log >/dev/null &
pids+=($!)
"$build/reasonsaver-mockllm" --port 0 --port-file "$out/mock.port" --quiet --latency-ms "$latency" \
  >"$out/mock.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -s "$out/mock.port" ] && redis-cli -p "$rport" ping >/dev/null 2>&1 && break; sleep 0.1; done
mport=$(cat "$out/mock.port")
rcli() { redis-cli -p "$rport" --raw "$@"; }
requests() { curl -s "http://127.0.0.1:$mport/stats" | python3 -c 'import json,sys; print(json.load(sys.stdin)["requests"])'; }
used() { rcli INFO memory | awk -F: '/^used_memory:/ {print $2}' | tr -d '\r'; }

"$build/reasonsaver" datasets gen arithmetic --n "$cases" --seed 11 --out "$out/cases.jsonl" >/dev/null 2>&1
cat >"$out/cache.yaml" <<EOF
run: {name: cache-bench, seed: 1}
dataset: {path: cases.jsonl}
models:
  - {name: mock, provider: openai, model: sim-1, mock: true, base_url: "http://127.0.0.1:$mport/v1",
     params: {max_tokens: 64}}
scoring: {graders: [exact]}
cache: {redis: "redis://127.0.0.1:$rport/0"}
cluster: {workers: $workers, worker_slots: $slots, max_in_flight: $((2 * workers * slots))}
report: {formats: [json]}
EOF

timed_run() { # prints wall seconds
  local t0 t1
  t0=$(date +%s.%N)
  "$build/reasonsaver" run "$out/cache.yaml" --quiet --out "$out/runs" >"$out/run.log" 2>&1
  t1=$(date +%s.%N)
  python3 -c "print('%.3f' % ($t1 - $t0))"
}

mem0=$(used)
req0=$(requests)
wall1=$(timed_run)
req1=$(requests)
mem1=$(used)
entries=$(rcli --scan --pattern 'rs:cache:*' | awk 'length($0) == 73' | wc -l)
counted=$(rcli GET rs:cache:bytes)
rows=()
for i in $(seq "$reps"); do
  wall2=$(timed_run)
  req2=$(requests)
  [ "$req2" = "$req1" ] || { echo "run 2 made $((req2 - req1)) model requests (want 0)" >&2; exit 1; }
  rows+=("$wall2")
done

cps() { python3 -c "print('%.0f' % ($cases / $1))"; }
echo
echo "| run | model requests | wall s | cases/s |"
echo "|---|---:|---:|---:|"
echo "| 1: every call made (mock at $latency ms) | $((req1 - req0)) | $wall1 | $(cps "$wall1") |"
for w in "${rows[@]}"; do
  echo "| 2: answered from the cache | 0 | $w | $(cps "$w") |"
done
echo
python3 - "$mem0" "$mem1" "$entries" "$counted" <<'PY'
import sys
m0, m1, n, counted = (int(x) for x in sys.argv[1:])
print("| cache entries | Redis used_memory grown | bytes per cached call | bytes the cap counts per call |")
print("|---:|---:|---:|---:|")
print("| %d | %d | %.0f | %.0f |" % (n, m1 - m0, (m1 - m0) / n, counted / n))
PY
