"""A 5,000-case generated dataset through the embedded Redis: every case has exactly one result,
and status/report work on the finished run."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import rslib  # noqa: E402
import simref  # noqa: E402

CONFIG = """
run: {name: large, seed: 3}
dataset: {path: arith.jsonl}
models:
  - {name: m, provider: sim, model: sim-1, params: {accuracy: 0.7}}
scoring: {graders: [exact]}
cluster: {workers: 2}
"""


def main():
    with rslib.Sandbox() as sb:
        sb.run([rslib.REASONSAVER, "datasets", "gen", "arithmetic", "--n", "5000", "--seed", "9",
                "--out", sb.path("arith.jsonl")], check=0)
        cfg = sb.write("large.yaml", CONFIG)
        r = sb.run([rslib.REASONSAVER, "run", cfg], check=0)
        assert "progress: " in r.stdout, "no plain progress lines when stdout is not a terminal"
        run_dir = rslib.run_dir_from_output(r.stdout, sb.dir)
        rep = rslib.load_report(run_dir)
        cases = rslib.read_jsonl(sb.path("arith.jsonl"))
        want = simref.expected_counts([c["id"] for c in cases], "m", 3, 0.7)
        g = rep["models"][0]["graders"][0]
        assert (g["correct"], g["wrong"], g["error"]) == (want["correct"], want["wrong"], 0), (g, want)
        assert rep["dataset"]["missing_results"] == 0
        results = rslib.read_jsonl(os.path.join(run_dir, "results.jsonl"))
        assert len(results) == 5000 and len({x["idx"] for x in results}) == 5000
        # After the run its embedded Redis is stopped; status starts it again from the AOF.
        st = json.loads(sb.run([rslib.REASONSAVER, "status", "--json"], check=0).stdout)
        assert st["done"] == 5000 and st["status"] == "finished", st
        os.remove(os.path.join(run_dir, "report.json"))
        sb.run([rslib.REASONSAVER, "report", os.path.basename(run_dir)], check=0)
        assert rslib.load_report(run_dir)["models"][0]["graders"][0]["correct"] == want["correct"]
    print("ok: 5,000 cases, one result each")


if __name__ == "__main__":
    main()
