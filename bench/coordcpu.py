"""The coordinator's own CPU time (user + system, not its workers') over a whole `reasonsaver run`
of configs/demo.yaml, for one or more builds, repetitions alternating between them.

    python3 bench/coordcpu.py CASES.jsonl REPS BUILD_DIR [BUILD_DIR ...]

CASES.jsonl: e.g. `build/reasonsaver datasets gen arithmetic --n 100000 --seed 1 --out c.jsonl`.
The time is read from /proc/<pid>/stat every 50 ms until the coordinator exits (the last reading,
so up to 50 ms of its end is missed). Prints one line a run and the median per build; runs go to
bench/out/coordcpu/ (deleted after each run)."""
import os
import shutil
import statistics
import subprocess
import sys
import time

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
cases, reps, builds = os.path.abspath(sys.argv[1]), int(sys.argv[2]), sys.argv[3:]
out = os.path.join(root, "bench", "out", "coordcpu")
tick = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / tick  # utime, stime


def one(build):
    shutil.rmtree(out, ignore_errors=True)
    p = subprocess.Popen([os.path.join(build, "reasonsaver"), "run",
                          os.path.join(root, "configs", "demo.yaml"), "--set",
                          "dataset.path=" + cases, "--out", out, "--quiet"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    last = 0.0
    while p.poll() is None:
        try:
            last = max(last, cpu_seconds(p.pid))
        except (OSError, ValueError, IndexError):
            pass
        time.sleep(0.05)
    shutil.rmtree(out, ignore_errors=True)
    return last


seen = {b: [] for b in builds}
for rep in range(reps):
    for b in builds:
        seen[b].append(one(b))
        print("%s rep %d: coordinator CPU %.2f s" % (b, rep + 1, seen[b][-1]), flush=True)
for b in builds:
    print("%s: median %.2f s over %d (%s)" % (b, statistics.median(seen[b]), reps,
                                            ", ".join("%.2f" % x for x in seen[b])))
