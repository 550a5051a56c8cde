"""bench/viewer.sh's measuring half: starts `reasonsaver serve` over one finished run and times
its API; prints one Markdown table row. Mode "files": the run as its end left it (read from
results.jsonl through results.idx); "redis": the same run with results.idx set aside, so that it is
read from its own redis-server, as a run without results.jsonl is."""
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request

reasonsaver, runs, cases, mode = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
s = socket.socket()
s.bind(("127.0.0.1", 0))
port = s.getsockname()[1]
s.close()
run_id = os.listdir(runs)[0]
idx = os.path.join(runs, run_id, "results.idx")
if mode == "redis":
    os.rename(idx, idx + ".aside")
t0 = time.monotonic()
proc = subprocess.Popen([reasonsaver, "serve", "--bind", "127.0.0.1:%d" % port, "--out", runs],
                        stdout=subprocess.DEVNULL)


def get(path):
    with opener.open("http://127.0.0.1:%d%s" % (port, path), timeout=600) as r:
        return json.loads(r.read())


def timed(path, reps=5):
    best = None
    for _ in range(reps):
        t = time.monotonic()
        body = get(path)
        dt = time.monotonic() - t
        best = dt if best is None or dt < best else best
    return best, body


def rss_mb():
    with open("/proc/%d/status" % proc.pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


try:
    while True:
        try:
            get("/api/runs/%s/cases?limit=50" % run_id)
            break
        except OSError:
            time.sleep(0.02)
    first = time.monotonic() - t0
    while get("/api/runs/%s" % run_id)["indexed"] < cases:
        time.sleep(0.05)
    indexed = time.monotonic() - t0
    base = "/api/runs/%s/cases" % run_id
    page, _ = timed(base + "?limit=50")
    filt, body = timed(base + "?model=weak&verdict=wrong&limit=50")
    deep, _ = timed(base + "?model=weak&verdict=wrong&limit=50&offset=%d" % min(4950, body["total"] - 50))
    tokens, _ = timed(base + "?model=weak&verdict=wrong&sort=tokens&order=desc&limit=50")
    one, _ = timed(base + "/%d?model=weak&verdict=wrong" % body["cases"][10]["idx"])
    cmp, _ = timed("/api/compare?a=%s&b=%s&model_a=strong&model_b=weak" % (run_id, run_id))
    search, _ = timed(base + "?q=arith-%06d&limit=50" % (cases // 2), reps=1)
    before = rss_mb()
    for i in range(200):
        get(base + "?model=weak&verdict=wrong&limit=50&offset=%d" % (i * 50 % max(1, body["total"] - 50)))
    after = rss_mb()
    ms = lambda x: "%.1f ms" % (1000 * x) if x < 1 else "%.2f s" % x  # noqa: E731
    print("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %.0f / %.0f MB |" % (
        "{:,}".format(cases), mode, ms(first), ms(indexed), ms(page), ms(filt), ms(deep), ms(tokens),
        ms(one), ms(cmp), ms(search), before, after))
finally:
    proc.terminate()
    proc.wait()
    if mode == "redis":
        os.rename(idx + ".aside", idx)
