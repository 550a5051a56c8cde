"""Whole runs through a real reasonsaver-mockllm: a clean run equals the sim's expected counts;
under 10% 429, 3% 500, 1% hangs and 1% truncated bodies every case ends correct, wrong or as an
error with its reason, the totals add up and the mock's /stats shows the retries; the Anthropic
path; a wrong key stops the model's cases fast with a clear message; the key appears nowhere."""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
import rslib  # noqa: E402
import simref  # noqa: E402
from test_mockllm import Mock  # noqa: E402

KEY = "rs-test-key-4f9c2a"
CONFIG = """
run: {name: %(name)s, seed: 1}
dataset: {path: %(dataset)s, limit: %(limit)d}
models:
  - {name: %(model)s, provider: %(provider)s, model: sim-1, base_url: "http://127.0.0.1:%(port)d%(path)s",
     mock: true, api_key_env: RS_TEST_KEY, timeout_ms: %(timeout)d, max_retries: 6,
     retry_base_ms: 20, retry_cap_ms: 200, params: {max_tokens: 64}}
scoring: {graders: [exact]}
cluster: {workers: 2, worker_slots: 32}
"""


def run(sb, name, port, provider="openai", limit=500, timeout=20000, key=KEY, check=0):
    dataset = os.path.join(rslib.SRC, "datasets", "demo.jsonl")
    path = "/v1" if provider == "openai" else ""
    cfg = sb.write(name + ".yaml", CONFIG % {"name": name, "dataset": dataset, "limit": limit,
                                             "model": "sim-" + provider, "provider": provider,
                                             "port": port, "path": path, "timeout": timeout})
    env = dict(os.environ, RS_TEST_KEY=key)
    r = sb.run([rslib.REASONSAVER, "run", cfg, "--out", sb.path(name)], env=env, check=check,
               timeout=240)
    return r, rslib.load_report(rslib.run_dir_from_output(r.stdout, sb.dir))


def expected(model, limit, accuracy=0.7):
    cases = rslib.read_jsonl(os.path.join(rslib.SRC, "datasets", "demo.jsonl"))[:limit]
    return simref.expected_counts([c["id"] for c in cases], model, 1, accuracy)


def grader(rep):
    g = rep["models"][0]["graders"][0]
    return {k: g[k] for k in ("correct", "wrong", "error")}


def key_nowhere(sb, *texts):
    for t in texts:
        assert KEY not in t, "the key leaked into output"
    hits = subprocess.run(["grep", "-rl", KEY, sb.dir], capture_output=True, text=True).stdout
    hits = [h for h in hits.splitlines() if not h.endswith(".yaml")]
    assert not hits, "the key was written to: %s" % hits


def main():
    with rslib.Sandbox() as sb:
        clean = Mock(sb, "--accuracy", "0.7", "--seed", "1", "--quiet")
        r, rep = run(sb, "clean", clean.port)
        assert grader(rep) == expected("sim-openai", 500), (grader(rep), expected("sim-openai", 500))
        r2, rep2 = run(sb, "anthropic", clean.port, provider="anthropic", limit=200)
        assert grader(rep2) == expected("sim-anthropic", 200), grader(rep2)

        faulty = Mock(sb, "--accuracy", "0.7", "--seed", "1", "--quiet", "--rate-429", "0.10",
                      "--retry-after", "0", "--rate-500", "0.03", "--rate-hang", "0.01",
                      "--hang-ms", "3000", "--rate-truncate", "0.01", "--fault-seed", "3")
        r3, rep3 = run(sb, "faulty", faulty.port, timeout=1000)
        g = grader(rep3)
        assert g["correct"] + g["wrong"] + g["error"] == 500, g
        m = rep3["models"][0]
        assert m["errors"] == g["error"], (m["errors"], g)
        assert sum(m["errors_by_reason"].values()) == m["errors"], m["errors_by_reason"]
        # Retried faults recover: only cases whose every attempt failed are errors.
        assert g["error"] < 25, g
        st = faulty.stats()
        assert st["requests"] > 500, st  # retries reached the server
        # Correct/wrong cases agree with the sim wherever the case did not end in error.
        want = expected("sim-openai", 500)
        assert g["correct"] <= want["correct"] and g["wrong"] <= want["wrong"], (g, want)

        secured = Mock(sb, "--accuracy", "0.7", "--quiet", "--api-key", KEY + "-other")
        r4, rep4 = run(sb, "badkey", secured.port, limit=50, check=1)  # every call failed
        m4 = rep4["models"][0]
        assert m4["errors"] == 50 and list(m4["errors_by_reason"]) == ["http_401"], m4
        results = rslib.read_jsonl(os.path.join(rslib.run_dir_from_output(r4.stdout, sb.dir),
                                                "results.jsonl"))
        msg = results[0]["models"][0]["error"]
        assert "unauthorized" in msg and "$RS_TEST_KEY" in msg, msg
        assert secured.stats()["requests"] == 50, "a 401 must not be retried"
        key_nowhere(sb, r.stdout + r.stderr, r2.stdout + r2.stderr, r3.stdout + r3.stderr,
                    r4.stdout + r4.stderr)
    print("ok: runs through reasonsaver-mockllm")


if __name__ == "__main__":
    main()
