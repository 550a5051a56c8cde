"""The cluster behaves as one polite client of a rate-limited server (docs/RATELIMITS.md).

AIMD: reasonsaver-mockllm refuses (429) model requests beyond 16 open at once. A run allowed
max_in_flight 64 with the adaptive cap converges under the limit, measured from the mock's own
counters (its peak concurrency once the cap has come down, and its 429 count); no case fails; and
it is no more than 25% slower than the same run configured with the right fixed limit (16, not
adaptive). The cap is on /metrics while the run goes and in `status` (text and --json) after it;
the report's cap series is written, shown in report.md and report.html, and rebuilt byte for byte
by `reasonsaver report`.

Retry-After: the mock answers one request 429 with Retry-After 2; from shortly after that answer
(the time a PAUSE takes to reach the other worker) until the pause ends, no request reaches the
mock from either of the two workers (the mock's request log times), though each holds 30 cases
waiting for a slot."""
import json
import os
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
import rslib  # noqa: E402
from test_mockllm import Mock  # noqa: E402
from test_report_fold import assert_rebuilt_same  # noqa: E402

LIMIT = 16
LATENCY_MS = 50
CASES = 1500
CONFIG = """
run: {name: %(name)s, seed: 1}
dataset: {path: %(dataset)s, limit: %(cases)d, shard_size: 4}
models:
  - {name: m, provider: openai, model: sim-1, base_url: "http://127.0.0.1:%(port)d/v1",
     mock: true, api_key_env: RS_TEST_KEY, max_retries: 10, retry_base_ms: 50,
     retry_cap_ms: 500, params: {max_tokens: 64}, concurrency: %(concurrency)s}
cluster: {workers: 2, max_in_flight: %(max_in_flight)d%(cluster)s}
report: {formats: [json, markdown, html, jsonl]}
"""


def write_config(sb, name, port, max_in_flight, concurrency, cases=CASES, cluster=""):
    dataset = sb.path("cases.jsonl")
    return sb.write(name + ".yaml", CONFIG % {
        "name": name, "dataset": dataset, "cases": cases, "port": port,
        "max_in_flight": max_in_flight, "concurrency": concurrency, "cluster": cluster})


def start_run(sb, name, cfg):
    env = dict(os.environ, RS_TEST_KEY="any")
    out = open(sb.path(name + ".log"), "w")
    return sb.spawn([rslib.REASONSAVER, "run", cfg, "--quiet", "--out", sb.path(name)], env=env,
                    stdout=out, stderr=subprocess.STDOUT)


def finish_run(sb, name, proc):
    rc = proc.wait(timeout=240)
    with open(sb.path(name + ".log")) as f:
        log = f.read()
    assert rc == 0, "run %s exited %d:\n%s" % (name, rc, log[-4000:])
    run_dir = rslib.only_run_dir(sb.path(name))
    return run_dir, rslib.load_report(run_dir)


def post(mock, path):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (mock.port, path), data=b"",
                                 method="POST")
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.loads(r.read())


def no_errors(rep):
    m = rep["models"][0]
    g = m["graders"][0]
    assert g["error"] == 0 and m["errors"] == 0, (m["errors_by_reason"], g)
    assert g["correct"] + g["wrong"] == rep["dataset"]["cases"], g


def check_aimd(sb):
    mock = Mock(sb, "--latency-ms", str(LATENCY_MS), "--max-concurrency", str(LIMIT), "--quiet")
    fixed_cfg = write_config(sb, "fixed", mock.port, LIMIT, "{adaptive: off}")
    _, fixed = finish_run(sb, "fixed", start_run(sb, "fixed", fixed_cfg))
    no_errors(fixed)
    st = mock.stats()
    assert st["limited"] == 0 and st["peak_concurrency"] <= LIMIT, st  # the right limit
    assert "concurrency" not in fixed, fixed.get("concurrency")  # nothing adapted, no 429

    post(mock, "/stats/reset")
    metrics_port = rslib.free_port()
    cfg = write_config(sb, "adaptive", mock.port, 4 * LIMIT, "{cooldown_ms: 250}",
                       cluster=", metrics_bind: 127.0.0.1:%d" % metrics_port)
    proc = start_run(sb, "adaptive", cfg)
    rslib.wait_for(lambda: mock.stats()["limited"] > 0 or proc.poll() is not None, 60,
                   "the first 429")
    start_429 = mock.stats()["limited"]
    time.sleep(1.5)  # the cap comes down: 64 -> 44 -> 30 -> 21 -> 14 at most, 250 ms apart
    before = post(mock, "/stats/reset")
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % metrics_port, timeout=10) as r:
        metrics = r.read().decode()
    cap_line = [ln for ln in metrics.splitlines()
                if ln.startswith('reasonsaver_model_concurrency_cap{model="m"} ')]
    assert cap_line and int(cap_line[0].split()[-1]) < 4 * LIMIT, metrics[-2000:]
    assert 'reasonsaver_model_retries_total{model="m",reason="http_429"}' in metrics
    run_dir, rep = finish_run(sb, "adaptive", proc)
    after = mock.stats()
    no_errors(rep)
    # Converged: once the cap came down, what the cluster attempted at once stayed near the
    # limit (the cap probes one step above it now and then), and few requests were refused.
    assert after["peak_concurrency"] <= LIMIT + 4, after
    assert after["limited"] <= 0.05 * after["requests"], after
    assert before["limited"] + after["limited"] <= 0.15 * CASES, (start_429, before, after)
    # No slower than the right fixed limit by more than 25% (both runs on this machine, now).
    ratio = rep["wall_seconds"] / fixed["wall_seconds"]
    assert ratio <= 1.25, "adaptive %.2f s vs fixed %.2f s" % (rep["wall_seconds"],
                                                                fixed["wall_seconds"])
    conc = rep["concurrency"]["m"]
    assert conc["adaptive"] and conc["ceiling"] == 4 * LIMIT and conc["decreases"] >= 1, conc
    assert conc["min_cap"] <= LIMIT and conc["congested"] >= 1, conc
    caps = [c for _, c in conc["series"]]
    assert caps[0] == 4 * LIMIT and min(caps) == conc["min_cap"] and caps[-1] == conc["cap"], caps
    with open(os.path.join(run_dir, "report.md")) as f:
        assert "- concurrency of m: adaptive cap %d (floor 1, ceiling 64" % conc["cap"] in f.read()
    with open(os.path.join(run_dir, "report.html")) as f:
        html = f.read()
    assert 'id="chart-concurrency-0"' in html and "<polyline" in html and "<script" not in html
    st = rslib.status_json(sb, sb.path("adaptive"))
    assert st["concurrency"]["models"]["m"]["cap"] == conc["cap"], st["concurrency"]
    text = sb.run([rslib.REASONSAVER, "status", "--out", sb.path("adaptive")], check=0).stdout
    assert "cap       m: adaptive cap %d (floor 1, ceiling 64" % conc["cap"] in text, text
    assert_rebuilt_same(sb, "adaptive", run_dir)
    return ratio, after


def check_pause(sb):
    log = sb.path("requests.jsonl")
    mock = Mock(sb, "--latency-ms", str(LATENCY_MS), "--pause-request", "120", "--retry-after",
                "2", "--log-requests", log, "--quiet")
    # Each worker runs 2 cases at once and holds 30 more: without PAUSE, the worker that did not
    # get the 429 would go on sending its held cases' requests (about 0.8 s of them).
    cfg = write_config(sb, "pause", mock.port, 64, "{adaptive: off}", cases=400,
                       cluster=", worker_slots: 2, worker_backlog: 30")
    run_dir, rep = finish_run(sb, "pause", start_run(sb, "pause", cfg))
    no_errors(rep)
    paused_at = mock.stats()["paused_at_ms"]
    assert paused_at > 0, mock.stats()
    times = [json.loads(line)["t_ms"] for line in open(log)]
    # Requests already on their way when the 429 left may still arrive; after that grace, none
    # until the pause (2 s) is over, from either worker.
    grace_ms = 300
    during = [t - paused_at for t in times if paused_at + grace_ms <= t < paused_at + 1950]
    assert not during, "requests %s ms after the 429 asked for a 2 s pause" % during[:10]
    assert any(t >= paused_at + 2000 for t in times), "the run did not go on after the pause"
    conc = rep["concurrency"]["m"]
    assert conc["pauses"] >= 1 and conc["paused_ms"] >= 1900 and not conc["adaptive"], conc
    return len(times)


def main():
    with rslib.Sandbox() as sb:
        sb.run([rslib.REASONSAVER, "datasets", "gen", "arithmetic", "--n", str(CASES), "--seed",
                "3", "--out", sb.path("cases.jsonl")], check=0)
        ratio, after = check_aimd(sb)
        requests = check_pause(sb)
    print("ok: adaptive cap converged under %d (peak %d after it came down, %d 429s), %.2fx the "
          "fixed limit's wall time; a Retry-After paused both workers (%d requests)" % (
              LIMIT, after["peak_concurrency"], after["limited"], ratio, requests))


if __name__ == "__main__":
    main()
