"""The response cache's server dies in the middle of a run (kill -9): lookups under way become
misses, the writes queued or sent are lost, each worker says so once and calls the models
uncached from then on. The run finishes with every case once: each call made exactly once (the
mock's request count equals the cases: nothing redone by a worker that died), and its results
equal those of a run without the cache. A second run, whose cache address now refuses
connections, completes the same way."""
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import rslib  # noqa: E402
from test_cache_store import cli  # noqa: E402
from test_mockllm import Mock  # noqa: E402

CASES = 300
LATENCY_MS = 40
CONFIG = """
run: {name: %(name)s, seed: 5}
dataset: {path: cases.jsonl}
models:
  - {name: solver, provider: openai, model: sim-1, mock: true, retry_base_ms: 10,
     base_url: "http://127.0.0.1:%(port)d/v1"}
cache: {redis: "%(redis)s"}
cluster: {workers: 2, worker_slots: 8}
report: {formats: [json, jsonl]}
"""
WARNING = "calling models without the cache"


def requests(mock):
    return mock.stats()["by_endpoint"].get("/v1/chat/completions", 0)


def killed_midway(sb, cfg, mock, url, server):
    """Starts the run, kills the cache's server once it holds some entries and the run is still
    going; returns the run's (exit code, stderr, mock requests it made)."""
    before = requests(mock)
    coord = sb.spawn([rslib.REASONSAVER, "run", cfg, "--out", sb.path("faulted"), "--quiet"],
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    until = time.time() + 120
    while int(cli(url, "DBSIZE")) < 40:
        assert coord.poll() is None, "the run ended before the cache held 40 entries"
        assert time.time() < until, "the cache never held 40 entries"
        time.sleep(0.01)
    made = requests(mock) - before
    os.kill(server.pid, signal.SIGKILL)
    server.wait()
    assert coord.poll() is None and made < CASES, "the run was over before the kill (%d)" % made
    _, err = coord.communicate(timeout=180)
    return coord.returncode, err, requests(mock) - before


def check(sb, rc, err, made, out, clean):
    assert rc == 0, (rc, err[-3000:])
    warned = err.count(WARNING)
    assert 1 <= warned <= 2, "want one warning per worker at most:\n" + err[-3000:]
    assert made == CASES, "%d calls for %d cases: a call was lost or made twice" % (made, CASES)
    rslib.assert_same_run(rslib.only_run_dir(sb.path(out)), clean)


def main():
    with rslib.Sandbox() as sb:
        for tool in ("redis-cli", "redis-server"):
            if not shutil.which(tool):
                rslib.skip("%s is not installed (apt-get install -y redis-server)" % tool)
        sb.run([rslib.REASONSAVER, "datasets", "gen", "arithmetic", "--n", str(CASES), "--seed",
                "4", "--out", sb.path("cases.jsonl")], check=0)
        mock = Mock(sb, "--accuracy", "0.7", "--seed", "1", "--latency-ms", str(LATENCY_MS),
                    "--quiet")
        url = sb.redis()
        server = sb.procs[-1]
        cfg = sb.write("cached.yaml", CONFIG % {"name": "cached", "port": mock.port,
                                                "redis": url})
        sb.run([rslib.REASONSAVER, "run", cfg, "--no-cache", "--quiet", "--out",
                sb.path("clean")], check=0)
        clean = rslib.only_run_dir(sb.path("clean"))

        rc, err, made = killed_midway(sb, cfg, mock, url, server)
        check(sb, rc, err, made, "faulted", clean)

        before = requests(mock)  # the address now refuses connections
        r = sb.run([rslib.REASONSAVER, "run", cfg, "--quiet", "--out", sb.path("refused")])
        check(sb, r.returncode, r.stderr, requests(mock) - before, "refused", clean)
    print("ok: the cache's server killed mid-run, and then gone: %d cases, each call made once, "
          "results equal to an uncached run" % CASES)


if __name__ == "__main__":
    main()
