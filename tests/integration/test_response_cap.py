"""A model reply over cluster.max_response_bytes is an error of that call, never a worker's death.
reasonsaver-mockllm --reply-bytes pads every reply (valid JSON) to 300 KB: under a 64 KiB cap
every case ends as an error with reason response_too_large, recorded in its candidate and counted
in the report; the run finishes; each case cost exactly one request (no retry, no repeat after a
worker was declared dead, which the coordinator would log). Under the default cap (4 MiB) the same
replies are answered as usual, so the padding is not what fails."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import rslib  # noqa: E402
from test_mockllm import Mock  # noqa: E402

CASES = 40
CONFIG = """
run: {name: %(name)s, seed: 1}
dataset: {path: %(dataset)s, limit: %(limit)d}
models:
  - {name: big, provider: openai, model: sim-1, base_url: "http://127.0.0.1:%(port)d/v1",
     mock: true, api_key_env: RS_TEST_CAP_KEY, max_retries: 3, retry_base_ms: 10,
     retry_cap_ms: 50, params: {max_tokens: 64}}
scoring: {graders: [exact]}
cluster: {workers: 2, worker_slots: 8, heartbeat_ms: 1000%(cap)s}
"""


def run(sb, name, port, cap):
    cfg = sb.write(name + ".yaml", CONFIG % {
        "name": name, "dataset": os.path.join(rslib.SRC, "datasets", "demo.jsonl"),
        "limit": CASES, "port": port,
        "cap": ", max_response_bytes: %d" % cap if cap else ""})
    env = dict(os.environ, RS_TEST_CAP_KEY="rs-cap-key")
    r = sb.run([rslib.REASONSAVER, "run", cfg, "--out", sb.path(name)], env=env, timeout=120)
    assert r.returncode in (0, 1), "run exited %d:\n%s" % (r.returncode, r.stderr[-3000:])
    run_dir = rslib.run_dir_from_output(r.stdout, sb.dir)
    return r, run_dir, rslib.load_report(run_dir)


def main():
    with rslib.Sandbox() as sb:
        mock = Mock(sb, "--reply-bytes", "300000", "--quiet")
        r, run_dir, rep = run(sb, "capped", mock.port, 65536)
        m = rep["models"][0]
        assert m["errors"] == CASES, m
        assert m["errors_by_reason"] == {"response_too_large": CASES}, m["errors_by_reason"]
        records = rslib.read_jsonl(os.path.join(run_dir, "results.jsonl"))
        assert len(records) == CASES, len(records)
        for rec in records:
            text = json.dumps(rec)
            assert "response_too_large" in text and "max_response_bytes" in text, text[:2000]
        st = mock.stats()
        assert st["requests"] == CASES, "calls made %d times for %d cases: %s" % (
            st["requests"], CASES, st)
        assert "go back to the queue" not in r.stderr, r.stderr[-3000:]
        print("ok: %d replies over the cap: %d errors response_too_large, %d requests, no worker "
              "lost" % (CASES, m["errors"], st["requests"]))

        mock.reset()
        r, run_dir, rep = run(sb, "uncapped", mock.port, 0)
        m = rep["models"][0]
        assert m["errors"] == 0, (m, r.stderr[-2000:])
        st = mock.stats()
        assert st["requests"] == CASES, (st, r.stderr[-3000:])
        print("ok: the same replies under the default 4 MiB cap are answered")


if __name__ == "__main__":
    main()
