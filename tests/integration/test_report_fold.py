"""The report a run writes from the counters it folded as results arrived is byte for byte the
report `reasonsaver report` rebuilds from Redis: on a chained run (two models, four candidates
each, two judges, a revision round, every ranking strategy, gates, latencies that vary), on a run killed
with kill -9 twice and resumed, and for every file (report.json, report.md, report.html,
results.jsonl)."""
import os
import shutil
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import faultlib  # noqa: E402
import rslib  # noqa: E402

CONFIG = """
run: {name: fold, seed: 3}
dataset: {path: cases.jsonl, fields: {input: question, target: answer, id: id, tags: tags}}
models:
  - {name: strong, provider: sim, model: sim-1, n: 4,
     params: {temperature: 0.7, accuracy: 0.7, judge_accuracy: 0.85, self_bias: 0.4,
              fix_rate: 0.35, break_rate: 0.05, error_rate: 0.02, latency_ms: %(latency)s}}
  - {name: weak, provider: sim, model: sim-1, n: 4,
     params: {temperature: 0.7, accuracy: 0.45, judge_accuracy: 0.7, self_bias: 0.3,
              fix_rate: 0.3, break_rate: 0.1, latency_ms: %(latency)s}}
judges:
  - {name: strong-judge, model: strong, rubric: ["The final answer is correct."]}
  - {name: weak-judge, model: weak}
revise: {rounds: 1, judge: strong-judge}
ranking: [first, judge, consensus, majority, oracle]
embedder: {type: hash, dim: 64}
scoring: {graders: [exact, numeric]}
cluster: {workers: 2, worker_slots: 16, lease_ms: 5000}
report: {formats: [json, markdown, html, jsonl]}
gates:
  - {metric: accuracy, model: strong, strategy: oracle, min: 0.5}
  - {metric: mcnemar_p, model: weak, strategy: judge, max: 1}
  - {metric: mcnemar_p, model: weak, strategy: judge, versus: majority, max: 1}
  - {metric: errors, model: strong, max: 0.5}
  - {metric: cost_usd, max: 100}
"""

FILES = ["report.json", "report.md", "report.html", "results.jsonl"]


def read(path):
    with open(path, "rb") as f:
        return f.read()


def assert_rebuilt_same(sb, out, run_dir):
    """Rebuilds the report of the run in run_dir with `reasonsaver report` and compares every
    file with what the run itself wrote."""
    folded = {name: read(os.path.join(run_dir, name)) for name in FILES}
    keep = sb.path("folded-" + os.path.basename(run_dir))
    shutil.copytree(run_dir, keep, ignore=shutil.ignore_patterns("appendonlydir", "*.sock"))
    for name in FILES:
        os.unlink(os.path.join(run_dir, name))
    sb.run([rslib.REASONSAVER, "report", os.path.basename(run_dir), "--out", sb.path(out)],
           check=0)
    for name in FILES:
        rebuilt = read(os.path.join(run_dir, name))
        if rebuilt != folded[name]:
            at = next(i for i in range(min(len(rebuilt), len(folded[name])))
                      if rebuilt[i] != folded[name][i]) if rebuilt[:1] else 0
            raise AssertionError("%s differs between the run and `report` at byte %d:\n"
                                 "run:    %r\nreport: %r" % (name, at, folded[name][at - 80:at + 80],
                                                            rebuilt[at - 80:at + 80]))
    return folded


def main():
    with rslib.Sandbox() as sb:
        sb.run([rslib.REASONSAVER, "datasets", "gen", "arithmetic", "--n", "1500", "--seed", "4",
                "--out", sb.path("cases.jsonl")], check=0)
        # 1. a run straight through
        cfg = sb.write("fast.yaml", CONFIG % {"latency": 1})
        sb.run([rslib.REASONSAVER, "run", cfg, "--quiet", "--out", sb.path("fast")], check=0)
        folded = assert_rebuilt_same(sb, "fast", rslib.only_run_dir(sb.path("fast")))
        rep = rslib.load_report(rslib.only_run_dir(sb.path("fast")))
        assert rep["judges"] and rep["models"][0]["rounds"] and rep["clusters"], "not chained"
        assert rep["models"][0]["errors_by_reason"], "no errors folded"
        # every pair of strategies' McNemar test is folded too (5 strategies: 10 pairs)
        assert len(rep["models"][0]["mcnemar_pairs"]) == 10, rep["models"][0]["mcnemar_pairs"]
        assert len(folded["results.jsonl"].splitlines()) == 1500

        # 2. killed twice (kill -9: nothing written at the end) and resumed
        cfg = sb.write("slow.yaml", CONFIG % {"latency": 8})
        coord = sb.spawn([rslib.REASONSAVER, "run", cfg, "--out", sb.path("killed")],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for target in (400, 900):
            rslib.wait_for(lambda: faultlib.done(sb, "killed") >= target, 90, "%d cases" % target)
            assert coord.poll() is None, coord.communicate()[1][-2000:]
            os.kill(coord.pid, signal.SIGKILL)
            coord.wait()
            run_id = os.path.basename(rslib.only_run_dir(sb.path("killed")))
            coord = sb.spawn([rslib.REASONSAVER, "resume", run_id, "--out", sb.path("killed")],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            time.sleep(0.2)
        out, err = coord.communicate(timeout=180)
        assert coord.returncode == 0, (coord.returncode, err[-3000:])
        run_dir = rslib.only_run_dir(sb.path("killed"))
        assert rslib.load_report(run_dir)["reliability"]["resumes"] == 2
        assert_rebuilt_same(sb, "killed", run_dir)
        # and the counts equal the run that went straight through (same seed, same cases)
        assert rslib.report_counts(rslib.load_report(run_dir)) == rslib.report_counts(rep)
        print("ok: folded and rebuilt reports identical, straight and after 2 kill -9 + resume")


if __name__ == "__main__":
    main()
