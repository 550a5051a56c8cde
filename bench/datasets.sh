#!/usr/bin/env bash
# The dataset scan per format: `reasonsaver datasets check` over the same CASES generated cases as
# JSONL, CSV, TSV, a JSON array, JSONL gzip'd and zstd'd, CSV zstd'd and a Hugging Face folder of 4
# JSONL shards. Wall time (median of REPS) and peak RSS of the whole command: config load, the one
# pass that validates every record (and decompresses into the temporary copy), the counts.
#
#   bench/datasets.sh [BUILD_DIR]      (default build; CASES=100000 REPS=3; output under
#                                       bench/out/datasets/)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
rs="$PWD/$build/reasonsaver"
out="$PWD/bench/out/datasets"
cases=${CASES:-100000}
reps=${REPS:-3}
mkdir -p "$out"
[ -x "$rs" ] || { echo "build first: scripts/build.sh $build" >&2; exit 1; }
"$rs" datasets gen arithmetic --n "$cases" --seed 1 --out "$out/gen.jsonl" 2>/dev/null
python3 - "$out" <<'PY'
import csv, json, os, sys
out = sys.argv[1]
rows = [json.loads(l) for l in open(os.path.join(out, "gen.jsonl"))]
for r in rows:
    r.pop("tags", None)  # a CSV cell holds one tag: every format gets the same fields
with open(os.path.join(out, "d.jsonl"), "w") as f:
    f.writelines(json.dumps(r) + "\n" for r in rows)
for name, delim in (("d.csv", ","), ("d.tsv", "\t")):
    with open(os.path.join(out, name), "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["id", "question", "answer"], delimiter=delim)
        w.writeheader()
        w.writerows(rows)
with open(os.path.join(out, "d.json"), "w") as f:
    json.dump(rows, f, indent=1)
hf = os.path.join(out, "hf")
os.makedirs(hf, exist_ok=True)
with open(os.path.join(hf, "dataset_info.json"), "w") as f:
    json.dump({"splits": {"test": {"num_examples": len(rows)}}}, f)
k = (len(rows) + 3) // 4
for i in range(4):
    with open(os.path.join(hf, "test-%05d-of-00004.jsonl" % i), "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows[i * k:(i + 1) * k])
PY
gzip -kf "$out/d.jsonl"
zstd -qkf "$out/d.jsonl"
zstd -qkf "$out/d.csv"
printf "%-10s %10s %9s %9s\n" format MB seconds peak_MB
for f in d.jsonl d.csv d.tsv d.json d.jsonl.gz d.jsonl.zst d.csv.zst hf; do
  times=()
  for _ in $(seq "$reps"); do
    /usr/bin/time -f "%e %M" -o "$out/time" "$rs" datasets check "$out/$f" >/dev/null
    times+=("$(cat "$out/time")")
  done
  mb=$(du -sbL "$out/$f" | awk '{printf "%.1f", $1 / 1e6}')
  printf "%s\n" "${times[@]}" | sort -n | awk -v f="$f" -v mb="$mb" -v n="$reps" \
    'NR == int((n + 1) / 2) { printf "%-10s %10s %9.2f %9.1f\n", f, mb, $1, $2 / 1024 }'
done
