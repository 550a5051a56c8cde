#!/usr/bin/env bash
# The issue-10 targets (records that scale): what the whole `reasonsaver run` command costs around
# the run itself as the data grows, for one or more builds measured in one sitting.
#
#   bench/scale.sh [BUILD_DIR ...]     (default build; everything it writes goes to bench/out/scale/)
#
# Give the "before" and the "after" build dirs together: the repetitions alternate between them, so
# both see the same machine. Each build dir must hold reasonsaver and reasonsaver-worker.
# 1. demo: CASES (100,000) generated arithmetic cases (`datasets gen arithmetic --seed 1`) through
#    configs/demo.yaml unchanged but for dataset.path (--set): two sim models, two graders, spans
#    on, report formats json/markdown/html/jsonl, 2 local workers. Whole-command wall time and
#    cases/s; the run's own wall_seconds (report.json: started_at to finished_at in Redis); the time
#    outside the run (whole - run) and its share of the run, split into before the run (start of the
#    command to started_at_ms) and after it (finished_at_ms to the command's exit: the report read
#    back, written, results.jsonl); resources.redis_bytes_per_case; the coordinator's peak RSS,
#    both as the report gives it (taken at the end of the run, before the report is written) and as
#    sampled over the whole command (VmHWM of the coordinator process every 50 ms, so the report
#    phase counts). Median of REPS (3). The time after the run is split by the run directory's file
#    times: read-back (to results.jsonl's last write), fsync + report.json, report.md + report.html,
#    and the rest to the exit (Redis's shutdown).
# 2. single: the same cases, demo.yaml with only its first model (sim-strong), graders [exact],
#    report.spans true, everything else as the demo: whole-command cases/s, median of REPS.
# 3. small: the first SMALL (100) of those cases with the demo config: what a run costs whatever its
#    size (start Redis and the workers, end them, write the reports): whole command, the run's own
#    wall_seconds, before and after it, median of REPS.
# 4. big: BIG (1,000,000; 0 skips) cases with the demo config, once per build: did it complete,
#    wall time, Redis used memory (bytes and per case, from the report), the coordinator's peak RSS
#    (report and sampled), redis-server's sampled VmHWM, the time after the run. A 1M run directory
#    is large (results.jsonl ~4 GB and Redis's AOF at 3e993fc): the script checks free disk and
#    memory first (BIG_DISK_GIB, BIG_MEM_GIB per million cases: 16 and 8), skips with a message if
#    short, and deletes each run directory as soon as its report.json is read.
#
# The load average (/proc/loadavg) is printed to stderr before each measurement and kept with it:
# the tables give its 1-minute value (range over the repetitions). Prints Markdown tables for
# docs/BENCHMARKS.md; raw records (one JSON object a measurement) go to bench/out/scale/results.jsonl.
# Env: CASES (100000) REPS (3) SMALL (100) BIG (1000000) BIG_DISK_GIB (16) BIG_MEM_GIB (8)
#      RUN_TIMEOUT (1800 seconds a command) SECTIONS ("demo single small big")
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
out=$root/bench/out/scale
cases=${CASES:-100000}
reps=${REPS:-3}
small=${SMALL:-100}
big=${BIG:-1000000}
big_disk_gib=${BIG_DISK_GIB:-16}
big_mem_gib=${BIG_MEM_GIB:-8}
run_timeout=${RUN_TIMEOUT:-1800}
sections=${SECTIONS:-demo single small big}
demo=$root/configs/demo.yaml

[ $# -gt 0 ] || set -- build
builds=()
for b in "$@"; do
  d=$(cd "$b" 2>/dev/null && pwd) || { echo "no such build dir: $b" >&2; exit 1; }
  for bin in reasonsaver reasonsaver-worker; do
    [ -x "$d/$bin" ] || { echo "$d/$bin missing: build it first (scripts/build.sh $b)" >&2; exit 1; }
  done
  builds+=("$d")
done
[ -x /usr/bin/python3 ] && py=/usr/bin/python3 || py=python3
command -v "$py" >/dev/null || { echo "python3 not found: apt-get install -y python3" >&2; exit 1; }
"$py" -c 'import yaml' 2>/dev/null || { echo "python3-yaml not found: apt-get install -y python3-yaml" >&2; exit 1; }
command -v redis-server >/dev/null || { echo "redis-server not found: apt-get install -y redis-server" >&2; exit 1; }
[ -f "$demo" ] || { echo "$demo missing" >&2; exit 1; }

mkdir -p "$out/bin"
: > "$out/results.jsonl"

# The measuring helper: runs one command, records its wall clock (epoch ms at start and exit, to set
# against the report's started_at_ms / finished_at_ms) and samples the VmHWM of the coordinator and of
# its redis-server child every 50 ms. Signals are forwarded; a command past the timeout is killed.
cat > "$out/bin/measure.py" <<'PY'
import json, os, signal, subprocess, sys, time
rec_path, timeout, cmd = sys.argv[1], float(sys.argv[2]), sys.argv[3:]
def hwm(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0
def children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(c) for c in f.read().split()]
    except OSError:
        return []
def comm(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return ""
t0 = time.time()
p = subprocess.Popen(cmd)
for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(s, lambda sig, _f: p.send_signal(sig))
coord = redis = 0
rc = None
while rc is None:
    coord = max(coord, hwm(p.pid))
    for c in children(p.pid):
        if comm(c).startswith("redis-server"):
            redis = max(redis, hwm(c))
    if time.time() - t0 > timeout:
        p.kill()
    try:
        rc = p.wait(timeout=0.05)
    except subprocess.TimeoutExpired:
        pass
t1 = time.time()
with open(rec_path, "w") as f:
    json.dump({"rc": rc, "t0_ms": t0 * 1000, "t1_ms": t1 * 1000, "wall": t1 - t0,
               "coord_hwm_kib": coord, "redis_hwm_kib": redis}, f)
sys.exit(0 if rc == 0 else 1)
PY

# A build's label: the commit of the tree it sits in (+dirty), else its path.
label() {
  local rev
  rev=$(git -C "$1" describe --always --dirty --abbrev=7 2>/dev/null) && echo "$1 ($rev)" || echo "$1"
}
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# The one-model, one-grader config: demo.yaml with its first model, graders [exact], spans on.
"$py" - "$demo" "$out/single.yaml" <<'PY'
import sys, yaml
c = yaml.safe_load(open(sys.argv[1]))
c["models"] = c["models"][:1]
c["scoring"]["graders"] = ["exact"]
c.setdefault("report", {})["spans"] = True
c["run"]["name"] = "scale-single"
yaml.safe_dump(c, open(sys.argv[2], "w"), sort_keys=False)
PY

# measure SECTION BUILD_INDEX REP CONFIG DATASET N: one run, its record appended to results.jsonl.
measure() {
  local section=$1 i=$2 rep=$3 cfg=$4 data=$5 n=$6
  local rs=${builds[$i]}/reasonsaver runs=$out/runs-$section-$i load
  load=$(loadavg)
  echo "[scale] $section, $(label "${builds[$i]}"), rep $rep, $n cases: load average $load" >&2
  rm -rf "$runs"
  local ok=1
  "$py" "$out/bin/measure.py" "$out/last.json" "$run_timeout" \
    "$rs" run "$cfg" --set "dataset.path=$data" --out "$runs" --quiet || ok=0
  "$py" - "$out/last.json" "$runs" "$section" "$(label "${builds[$i]}")" "$i" "$rep" "$n" "$load" "$ok" \
    >> "$out/results.jsonl" <<'PY'
import glob, json, os, sys
last, runs, section, build, i, rep, n, load, ok = sys.argv[1:]
m = json.load(open(last))
rec = {"section": section, "build": build, "build_index": int(i), "rep": int(rep), "cases": int(n),
       "load": [float(x) for x in load.split()], "completed": ok == "1", "rc": m["rc"],
       "whole_s": m["wall"], "coord_hwm_kib": m["coord_hwm_kib"], "redis_hwm_kib": m["redis_hwm_kib"]}
reports = glob.glob(runs + "/*/report.json")
if reports:
    r = json.load(open(reports[0]))
    res = r["resources"]
    rec.update(status=r["status"], run_s=r["wall_seconds"],
               before_s=(r["started_at_ms"] - m["t0_ms"]) / 1000,
               after_s=(m["t1_ms"] - r["finished_at_ms"]) / 1000,
               redis_bytes=res["redis_used_memory_bytes"], redis_bytes_per_case=res["redis_bytes_per_case"],
               coord_rss_kib=res["coordinator_peak_rss_kib"],
               results_jsonl_bytes=sum(os.path.getsize(p) for p in glob.glob(runs + "/*/results.jsonl")))
    # Where the time after the run goes, from the files' modification times: finished_at to
    # results.jsonl's last write (the read-back from Redis, each record's check and parse, the
    # JSONL lines), to report.json (results.jsonl's fsync and rename, the report's JSON), to the
    # last of report.md / report.html (their writers), to the command's exit (Redis's shutdown).
    d = os.path.dirname(reports[0])
    marks = [("readback_s", "results.jsonl"), ("report_json_s", "report.json"), ("md_html_s", "report.md"),
             ("md_html_s", "report.html")]
    prev = r["finished_at_ms"] / 1000
    for key, name in marks:
        f = os.path.join(d, name)
        if os.path.exists(f):
            t = os.stat(f).st_mtime
            rec[key] = rec.get(key, 0) + t - prev
            prev = t
    rec["exit_s"] = m["t1_ms"] / 1000 - prev
    rec["completed"] = rec["completed"] and r["status"] == "finished" and r["dataset"]["cases"] == int(n)
else:
    rec["completed"] = False
print(json.dumps(rec))
PY
  rm -rf "$runs"
  tail -n 1 "$out/results.jsonl" | "$py" -c 'import json,sys; r=json.loads(sys.stdin.read())
print("[scale]   whole %.2f s%s" % (r["whole_s"], ", run %.2f s, after %.2f s" % (r["run_s"], r["after_s"]) if "run_s" in r else ", no report"), file=sys.stderr)'
}

has() { case " $sections " in *" $1 "*) return 0;; esac; return 1; }

if has demo || has single || has small; then
  "${builds[0]}/reasonsaver" datasets gen arithmetic --n "$cases" --seed 1 --out "$out/cases.jsonl" >/dev/null 2>&1
  head -n "$small" "$out/cases.jsonl" > "$out/small.jsonl"
  for rep in $(seq "$reps"); do
    for i in "${!builds[@]}"; do
      has demo && measure demo "$i" "$rep" "$demo" "$out/cases.jsonl" "$cases"
      has single && measure single "$i" "$rep" "$out/single.yaml" "$out/cases.jsonl" "$cases"
      has small && measure small "$i" "$rep" "$demo" "$out/small.jsonl" "$small"
    done
  done
fi

if has big && [ "$big" -gt 0 ]; then
  need_disk=$(awk -v n="$big" -v g="$big_disk_gib" 'BEGIN {printf "%d", n / 1e6 * g * 1048576}')
  need_mem=$(awk -v n="$big" -v g="$big_mem_gib" 'BEGIN {printf "%d", n / 1e6 * g * 1048576}')
  have_disk=$(df -Pk "$out" | awk 'NR == 2 {print $4}')
  have_mem=$(awk '/^MemAvailable:/ {print $2}' /proc/meminfo)
  if [ "$have_disk" -lt "$need_disk" ]; then
    echo "[scale] big run skipped: $((have_disk / 1048576)) GiB free under $out, it needs about $((need_disk / 1048576)) GiB (BIG_DISK_GIB=$big_disk_gib per million cases)" >&2
  elif [ "$have_mem" -lt "$need_mem" ]; then
    echo "[scale] big run skipped: $((have_mem / 1048576)) GiB of memory available, it needs about $((need_mem / 1048576)) GiB (BIG_MEM_GIB=$big_mem_gib per million cases)" >&2
  else
    "${builds[0]}/reasonsaver" datasets gen arithmetic --n "$big" --seed 1 --out "$out/big.jsonl" >/dev/null 2>&1
    for i in "${!builds[@]}"; do measure big "$i" 1 "$demo" "$out/big.jsonl" "$big"; done
    rm -f "$out/big.jsonl"
  fi
fi

"$py" - "$out/results.jsonl" "$reps" <<'PY'
import json, statistics, sys
recs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
reps = sys.argv[2]
builds = sorted({(r["build_index"], r["build"]) for r in recs})
def med(rs, k):
    v = [r[k] for r in rs if k in r]
    return statistics.median(v) if v else float("nan")
def loads(rs):
    v = [r["load"][0] for r in rs]
    return "%.2f" % v[0] if len(v) == 1 else "%.2f-%.2f" % (min(v), max(v))
def of(section, i):
    return [r for r in recs if r["section"] == section and r["build_index"] == i]
if any(r["section"] == "demo" for r in recs):
    print("configs/demo.yaml, %d cases, median of %s:" % (of("demo", builds[0][0])[0]["cases"], reps))
    print()
    print("| build | whole s | cases/s | run s (wall_seconds) | outside the run s (share of run) | before / after the run s"
          " | Redis bytes per case | coordinator peak RSS MiB (report / whole command) | load 1 min |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for i, b in builds:
        rs = of("demo", i)
        if not rs: continue
        w, run = med(rs, "whole_s"), med(rs, "run_s")
        print("| %s | %.2f | %.0f | %.2f | %.2f (%.0f%%) | %.2f / %.2f | %.0f | %.1f / %.1f | %s |" % (
            b, w, rs[0]["cases"] / w, run, w - run, 100 * (w - run) / run, med(rs, "before_s"), med(rs, "after_s"),
            med(rs, "redis_bytes_per_case"), med(rs, "coord_rss_kib") / 1024, med(rs, "coord_hwm_kib") / 1024, loads(rs)))
    print()
    print("Where the time after the run goes (median seconds; from the run directory's file times):")
    print()
    print("| build | read back, check, parse, results.jsonl | fsync + report.json | report.md + report.html | to exit (Redis shutdown) |")
    print("|---|---:|---:|---:|---:|")
    for i, b in builds:
        rs = of("demo", i)
        if rs:
            print("| %s | %.2f | %.2f | %.2f | %.2f |" % (b, med(rs, "readback_s"), med(rs, "report_json_s"),
                  med(rs, "md_html_s"), med(rs, "exit_s")))
    print()
if any(r["section"] == "single" for r in recs):
    print("One sim model, grader exact, spans on, %d cases, median of %s:" % (of("single", builds[0][0])[0]["cases"], reps))
    print()
    print("| build | whole s | cases/s | run s | after the run s | Redis bytes per case | load 1 min |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for i, b in builds:
        rs = of("single", i)
        if not rs: continue
        w = med(rs, "whole_s")
        print("| %s | %.2f | %.0f | %.2f | %.2f | %.0f | %s |" % (b, w, rs[0]["cases"] / w, med(rs, "run_s"),
              med(rs, "after_s"), med(rs, "redis_bytes_per_case"), loads(rs)))
    print()
if any(r["section"] == "small" for r in recs):
    print("configs/demo.yaml, %d cases (what a run costs whatever its size), median of %s:" % (of("small", builds[0][0])[0]["cases"], reps))
    print()
    print("| build | whole s | run s | before the run s | after the run s | load 1 min |")
    print("|---|---:|---:|---:|---:|---:|")
    for i, b in builds:
        rs = of("small", i)
        if rs:
            print("| %s | %.3f | %.3f | %.3f | %.3f | %s |" % (b, med(rs, "whole_s"), med(rs, "run_s"),
                  med(rs, "before_s"), med(rs, "after_s"), loads(rs)))
    print()
if any(r["section"] == "big" for r in recs):
    print("configs/demo.yaml, one run each:")
    print()
    print("| build | cases | completed | whole s | run s | after the run s | Redis used MiB | Redis bytes per case"
          " | coordinator peak RSS MiB (report / whole command) | redis-server VmHWM MiB | results.jsonl MiB | load 1 min |")
    print("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for i, b in builds:
        for r in of("big", i):
            g = lambda k, d=1: "%.1f" % (r[k] / d) if k in r else "-"
            print("| %s | %d | %s | %.1f | %s | %s | %s | %s | %s / %.1f | %.1f | %s | %.2f |" % (
                b, r["cases"], "yes" if r["completed"] else "no (rc %s)" % r["rc"], r["whole_s"], g("run_s"),
                g("after_s"), g("redis_bytes", 2**20), "%.0f" % r["redis_bytes_per_case"] if "redis_bytes_per_case" in r else "-",
                g("coord_rss_kib", 1024), r["coord_hwm_kib"] / 1024, r["redis_hwm_kib"] / 1024,
                g("results_jsonl_bytes", 2**20), r["load"][0]))
    print()
    print("Where its time after the run goes:")
    print()
    print("| build | read back, check, parse, results.jsonl s | fsync + report.json s | report.md + report.html s | to exit s |")
    print("|---|---:|---:|---:|---:|")
    for i, b in builds:
        for r in of("big", i):
            if "readback_s" in r:
                print("| %s | %.1f | %.1f | %.1f | %.1f |" % (b, r["readback_s"], r["report_json_s"], r.get("md_html_s", 0), r["exit_s"]))
PY
