#!/usr/bin/env bash
# Compact records (issue 10): what a stored result record costs Redis, and what it costs to store
# and read back, for configs/demo.yaml (two sim models, spans on, every report format) over
# generated cases, for one or more builds side by side (a build of the code before and one after,
# in one sitting).
#
#   bench/records.sh BUILD_DIR...           (default: build; results go to bench/out/records/)
#
# Env: CASES (100000), REPS (3). Runs are interleaved across builds, so that what else the
# machine does weighs on each alike; each column is the median of REPS runs with the embedded
# Redis (the demo config unchanged but for dataset.path), and `report` is the whole command
# again on the finished run (it starts the embedded Redis from the run directory and rereads
# every record). Then one more run per build against a private redis-server gives the stored
# bytes per record (HSTRLEN over every record) and `report --redis`: the read-back alone.
set -euo pipefail
cd "$(dirname "$0")/.."
builds=("${@:-build}")
out="$PWD/bench/out/records"
cases=${CASES:-100000}
reps=${REPS:-3}
mkdir -p "$out"
for b in "${builds[@]}"; do
  [ -x "$b/reasonsaver" ] || { echo "build first: scripts/build.sh $b" >&2; exit 1; }
done
rs0="${builds[0]}/reasonsaver"
"$rs0" datasets gen arithmetic --n "$cases" --seed 1 --out "$out/cases.jsonl" 2>/dev/null
sed "s#^  path: .*#  path: $out/cases.jsonl#" configs/demo.yaml > "$out/demo.yaml"

now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN {printf "%.2f", b - a}'; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
field() { # field RUN_DIR python-expression-on-r
  python3 -c "import json,sys; r=json.load(open(sys.argv[1]+'/report.json')); print($2)" "$1"
}

declare -A whole after_run report bpc rss
for _ in $(seq "$reps"); do
  for i in "${!builds[@]}"; do
    rs="${builds[$i]}/reasonsaver"
    runs="$out/runs-$i"
    rm -rf "$runs"
    t0=$(now)
    "$rs" run "$out/demo.yaml" --out "$runs" --quiet > /dev/null
    w=$(since "$t0")
    dir=$(ls -d "$runs"/*/)
    run_s=$(field "$dir" "r['wall_seconds']")
    t0=$(now)
    "$rs" report "$(basename "$dir")" --out "$runs" > /dev/null
    whole[$i]+="$w "
    after_run[$i]+="$(awk -v w="$w" -v r="$run_s" 'BEGIN {print w - r}') "
    report[$i]+="$(since "$t0") "
    bpc[$i]+="$(field "$dir" "round(r['resources']['redis_bytes_per_case'])") "
    rss[$i]+="$(field "$dir" "r['resources']['coordinator_peak_rss_kib'] // 1024") "
    rm -rf "$runs"
  done
done

med() { printf '%s\n' $1 | median; }
echo "| build | cases | whole command s | after the run s | \`report\` s | Redis bytes per case | coordinator peak RSS MiB |"
echo "|---|---:|---:|---:|---:|---:|---:|"
for i in "${!builds[@]}"; do
  printf '| %s | %d | %s | %s | %s | %s | %s |\n' "${builds[$i]}" "$cases" "$(med "${whole[$i]}")" \
    "$(med "${after_run[$i]}")" "$(med "${report[$i]}")" "$(med "${bpc[$i]}")" "$(med "${rss[$i]}")"
done

# One run per build against a private Redis: stored bytes per record, and the read-back alone.
echo
echo "| build | stored bytes per record (mean) | packed records | \`report --redis\` s |"
echo "|---|---:|---:|---:|"
port=$((20000 + RANDOM % 20000))
for i in "${!builds[@]}"; do
  rs="${builds[$i]}/reasonsaver"
  runs="$out/runs-$i"
  rm -rf "$runs" "$out/redis"
  mkdir -p "$out/redis"
  redis-server --port "$port" --bind 127.0.0.1 --dir "$out/redis" --save "" --appendonly no \
    --daemonize yes --pidfile "$out/redis/pid" --logfile "$out/redis/log"
  sleep 0.5
  url="redis://127.0.0.1:$port/0"
  "$rs" run "$out/demo.yaml" --out "$runs" --redis "$url" --quiet > /dev/null
  id=$(basename "$(ls -d "$runs"/*/)")
  sizes=$(redis-cli -p "$port" EVAL "local v = redis.call('HVALS', KEYS[1]) local n, z = 0, 0
    for i = 1, #v do n = n + #v[i] if string.sub(v[i], 1, 1) == 'z' then z = z + 1 end end
    return {#v, n, z}" 1 "rs:run:$id:results" | tr '\n' ' ')
  t0=$(now)
  "$rs" report "$id" --redis "$url" --to "$out/report-$i" > /dev/null
  rt=$(since "$t0")
  read -r n bytes z <<< "$sizes"
  printf '| %s | %.0f | %d of %d | %s |\n' "${builds[$i]}" "$(awk -v b="$bytes" -v n="$n" 'BEGIN {print b / n}')" "$z" "$n" "$rt"
  kill "$(cat "$out/redis/pid")"
  sleep 0.5
  rm -rf "$runs" "$out/report-$i"
done
rm -rf "$out/redis"
