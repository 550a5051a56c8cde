"""A run against a real redis-server with 2 local workers: every count in report.json equals an
independent computation from the sim model's definition (tests/integration/simref.py)."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import rslib  # noqa: E402
import simref  # noqa: E402

CONFIG = """
run: {name: counts, seed: 11}
dataset:
  path: %(dataset)s
  shard_size: 7
models:
  - {name: strong, provider: sim, model: sim-1, params: {accuracy: 0.8}}
  - {name: flaky, provider: sim, model: sim-1, params: {accuracy: 0.5, error_rate: 0.1, seed: 5}}
scoring:
  graders: [exact, {name: num, type: numeric, tolerance: 0.5}]
cluster: {workers: 2, worker_slots: 16}
"""


def main():
    dataset = os.path.join(rslib.SRC, "datasets", "demo.jsonl")
    cases = rslib.read_jsonl(dataset)
    with rslib.Sandbox() as sb:
        url = sb.redis()
        cfg = sb.write("counts.yaml", CONFIG % {"dataset": dataset})
        r = sb.run([rslib.REASONSAVER, "run", cfg, "--redis", url, "--out", sb.path("runs")], check=0)
        run_dir = rslib.run_dir_from_output(r.stdout)
        rep = rslib.load_report(run_dir)
        assert rep["dataset"]["cases"] == len(cases), rep["dataset"]
        assert rep["simulated"] is True
        # A clean run sends every case once (no first wave sent twice at start-up).
        assert rep["reliability"]["redone_cases"] == 0, rep["reliability"]
        models = {m["name"]: m for m in rep["models"]}
        for name, seed, acc, err in (("strong", 11, 0.8, 0.0), ("flaky", 5, 0.5, 0.1)):
            want = simref.expected_counts([c["id"] for c in cases], name, seed, acc, err)
            m = models[name]
            assert m["errors"] == want["error"], (name, m["errors"], want)
            for g in m["graders"]:
                got = {k: g[k] for k in ("correct", "wrong", "error")}
                # The sim's wrong answer is target + d with |d| >= 1: exact and numeric agree.
                assert got == want, (name, g["name"], got, want)
                assert g["skipped"] == 0
                graded = want["correct"] + want["wrong"]
                assert abs(g["accuracy"] - want["correct"] / graded) < 1e-9
                lo, hi = g["ci95"]
                assert lo < g["accuracy"] < hi
        results = rslib.read_jsonl(os.path.join(run_dir, "results.jsonl"))
        assert [x["idx"] for x in results] == list(range(len(cases))), "results.jsonl out of order"
        assert all(x["models"][0]["candidates"][0]["output"].startswith("[simulated]")
                   for x in results)
        # Per-tag counts add up to the totals for every tag family (ops:N partitions the cases).
        ops = [t for t in rep["tags"] if t["tag"].startswith("ops:")]
        total = sum(t["models"][0]["graders"][0]["correct"] for t in ops)
        assert total == models["strong"]["graders"][0]["correct"], "tag breakdown does not add up"
        # The manifest in Redis agrees with the report.
        st = json.loads(sb.run([rslib.REASONSAVER, "status", "--redis", url, "--json"], check=0).stdout)
        assert st["status"] == "finished" and st["done"] == len(cases), st
        assert st["failed"] == sum(
            1 for c in cases if simref.outcome("flaky", c["id"], 0, 5, 0.5, 0.1) == "error"), st
        check_demo_config(sb, url, cases)
    print("ok: counts match the sim definition")


def check_demo_config(sb, url, cases):
    """configs/demo.yaml itself, with 2 workers against the same Redis."""
    cfg = os.path.join(rslib.SRC, "configs", "demo.yaml")
    r = sb.run([rslib.REASONSAVER, "run", cfg, "--redis", url, "--out", sb.path("demo-runs")],
               check=0)
    rep = rslib.load_report(rslib.run_dir_from_output(r.stdout))
    for m in rep["models"]:
        acc = {"sim-strong": 0.85, "sim-weak": 0.55}[m["name"]]
        want = simref.expected_counts([c["id"] for c in cases], m["name"], 1, acc)
        for g in m["graders"]:
            assert (g["correct"], g["wrong"], g["error"]) == (
                want["correct"], want["wrong"], want["error"]), (m["name"], g, want)


if __name__ == "__main__":
    main()
