"""A long model reply does not stall a worker. reasonsaver-mockllm --reply-filler puts 320 KB of
text full of numbers before every answer (about 28,000 numbers); the run extracts the last number
with a regex extractor. Before, each extraction took about 20 s (a pcre2_match per number, each
re-checking the rest of the reply's UTF-8): workers missed their heartbeats, were declared dead and
their paid calls were made again. Now the run finishes quickly, its counts are the sim's own (the
filler changes nothing but the length), each case cost one request, and no worker was lost.
heartbeat_ms is 2000 (6 s of silence is death) so that a loaded machine running the sanitizer
build does not lose a worker for other reasons; the old search took 20 s per reply."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import rslib  # noqa: E402
import simref  # noqa: E402
from test_mockllm import Mock  # noqa: E402

CASES = 30
CONFIG = """
run: {name: long, seed: 1}
dataset: {path: %(dataset)s, limit: %(limit)d}
models:
  - {name: sim-openai, provider: openai, model: sim-1, base_url: "http://127.0.0.1:%(port)d/v1",
     mock: true, api_key_env: RS_TEST_LONG_KEY, max_retries: 2, params: {max_tokens: 64}}
scoring:
  extractor: {type: regex, pattern: "(-?\\\\d+(?:\\\\.\\\\d+)?)"}
  graders: [exact]
cluster: {workers: 2, worker_slots: 8, heartbeat_ms: 2000}
"""


def main():
    with rslib.Sandbox() as sb:
        mock = Mock(sb, "--reply-filler", "320000", "--accuracy", "0.7", "--seed", "1", "--quiet")
        dataset = os.path.join(rslib.SRC, "datasets", "demo.jsonl")
        cfg = sb.write("long.yaml", CONFIG % {"dataset": dataset, "limit": CASES,
                                              "port": mock.port})
        env = dict(os.environ, RS_TEST_LONG_KEY="rs-long-key")
        t0 = time.time()
        r = sb.run([rslib.REASONSAVER, "run", cfg, "--out", sb.path("runs")], env=env,
                   timeout=240, check=0)
        took = time.time() - t0
        rep = rslib.load_report(rslib.run_dir_from_output(r.stdout, sb.dir))
        g = rep["models"][0]["graders"][0]
        got = {k: g[k] for k in ("correct", "wrong", "error")}
        ids = [c["id"] for c in rslib.read_jsonl(dataset)[:CASES]]
        want = simref.expected_counts(ids, "sim-openai", 1, 0.7)
        assert got == want, (got, want)
        st = mock.stats()
        assert st["requests"] == CASES, "%d requests for %d cases: calls were repeated" % (
            st["requests"], CASES)
        assert "go back to the queue" not in r.stderr, r.stderr[-3000:]
        assert took < 60, "the run took %.1f s" % took
    print("ok: %d replies of 320 KB, extracted by regex: counts %s, %d requests, %.1f s"
          % (CASES, got, st["requests"], took))


if __name__ == "__main__":
    main()
