"""The cost budget: a run given a fraction of what it costs stops handing out cases near its
budget (spent <= budget, and within one task's upper bound of it), lets what is in flight finish,
is marked budget_exhausted and exits 4 with the spent amount and the resume command; that exact
command (a larger --budget-usd on `resume`, which the config identity allows) finishes it, and the
stopped-then-resumed run equals an unlimited one: same report counts, same records, same usage
totals (tokens equal, cost equal within float printing). A token budget for one model stops the
run the same way, naming that model's key. The sim bills ceil(bytes / 4) tokens, the estimate's
own count, so the upper bounds hold exactly here."""
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(__file__))
import rslib  # noqa: E402

CASES, SHARD = 240, 4
CONFIG = """
run: {name: budget, seed: 5}
dataset: {path: cases.jsonl, shard_size: %(shard)d}
models:
  - {name: a, provider: sim, model: sim-1, n: 2, params: {max_tokens: 64, latency_ms: 4},
     prices: {input: 3, output: 15}}
  - {name: b, provider: sim, model: sim-2, params: {max_tokens: 48, accuracy: 0.5, latency_ms: 2},
     prices: {input: 1, output: 4}}
judges: [{name: j, model: b}]
revise: {rounds: 1}
cluster: {workers: 2, worker_slots: 8, worker_backlog: 4}
report: {formats: [json, jsonl]}
"""


def run(sb, out, *extra, check=0):
    r = sb.run([rslib.REASONSAVER, "run", sb.path("budget.yaml"), "--quiet", "--out",
                sb.path(out)] + list(extra), check=check)
    return r, rslib.only_run_dir(sb.path(out))


def usage(sb, out):
    """The live counters stored with the run: per model calls and tokens, and the cost."""
    u = rslib.status_json(sb, sb.path(out))["usage"]
    return {m: (v["calls"], v["input_tokens"], v["output_tokens"]) for m, v in u.items()}, \
        sum(v["cost_usd"] for v in u.values())


def report_cost(rep):
    return sum(m["cost_usd"] for m in rep["models"])


def task_bound(sb):
    """The upper bound of one task: shard_size cases at the largest case's bound (the estimate of
    each case alone, through --set dataset.limit, would be slow: the per-case bound of this
    dataset varies by a few prompt bytes, so twice the mean is a safe maximum)."""
    r = sb.run([rslib.REASONSAVER, "estimate", sb.path("budget.yaml"), "--json"], check=0)
    est = json.loads(r.stdout)
    assert est["cases"] == CASES, est["cases"]
    return 2 * SHARD * est["total"]["cost_usd_max"] / CASES


def run_resume(sb, run_dir, *extra):
    r = sb.run([rslib.REASONSAVER, "resume", os.path.basename(run_dir), "--out",
                os.path.dirname(run_dir), "--quiet"] + list(extra), check=None)
    return r


def resume_line(stderr):
    m = re.search(r"^  reasonsaver (resume .*)$", stderr, re.M)
    assert m, stderr
    return m.group(1).split()


def main():
    with rslib.Sandbox() as sb:
        sb.run([rslib.REASONSAVER, "datasets", "gen", "arithmetic", "--n", str(CASES), "--seed",
                "4", "--out", sb.path("cases.jsonl")], check=0)
        sb.write("budget.yaml", CONFIG % {"shard": SHARD})
        _, full_dir = run(sb, "full")
        full_rep = rslib.load_report(full_dir)
        full_usage, full_cost = usage(sb, "full")
        assert abs(report_cost(full_rep) - full_cost) < 1e-9, (report_cost(full_rep), full_cost)
        bound = task_bound(sb)
        assert bound < full_cost / 4, (bound, full_cost)  # room to stop well inside the run

        # Stopped at 40% of the full cost.
        budget = round(0.4 * full_cost, 6)
        r, dir1 = run(sb, "limited", "--budget-usd", "%.6f" % budget, check=4)
        assert "stopped at its budget: budget.usd is" in r.stderr, r.stderr
        rep = rslib.load_report(dir1)
        assert rep["status"] == "budget_exhausted", rep["status"]
        done = CASES - rep["dataset"]["missing_results"]
        assert 0 < done < CASES, done
        st = rslib.status_json(sb, sb.path("limited"))
        assert st["status"] == "budget_exhausted" and st["done"] == done, st
        _, spent = usage(sb, "limited")
        assert abs(spent - report_cost(rep)) < 1e-9, (spent, report_cost(rep))  # none redone
        assert spent <= budget + bound, (spent, budget, bound)
        assert spent <= budget * (1 + 1e-9), (spent, budget)  # the bounds hold for the sim
        assert spent >= budget - bound, (spent, budget, bound)  # it did not stop far too early
        said = re.search(r"\$([0-9.]+) and ([0-9]+) tokens spent in all", r.stderr)
        assert said and abs(float(said.group(1)) - spent) < 1e-6, (spent, r.stderr)

        # A resume with a budget still too small stops again; a resume without --budget-* keeps
        # that raised budget (it is the run's now), not the one the run started with.
        raised = round(0.7 * full_cost, 6)
        r = run_resume(sb, dir1, "--budget-usd", "%.6f" % raised)
        assert r.returncode == 4 and "budget.usd is %.6g" % raised in r.stderr, r.stderr
        done2 = CASES - rslib.load_report(dir1)["dataset"]["missing_results"]
        assert done < done2 < CASES, (done, done2)
        r = run_resume(sb, dir1)
        assert r.returncode == 4 and "budget.usd is %.6g" % raised in r.stderr, r.stderr
        assert CASES - rslib.load_report(dir1)["dataset"]["missing_results"] == done2

        # The exact command printed resumes it with a larger budget, and finishes it.
        cmd = resume_line(r.stderr)
        assert cmd[:2] == ["resume", os.path.basename(dir1)] and "--budget-usd" in cmd, cmd
        assert float(cmd[cmd.index("--budget-usd") + 1]) > budget, cmd
        r2 = sb.run([rslib.REASONSAVER] + cmd + ["--quiet"], check=0)
        rslib.assert_same_run(dir1, full_dir)
        got_usage, got_cost = usage(sb, "limited")
        assert got_usage == full_usage, (got_usage, full_usage)
        assert abs(got_cost - full_cost) <= 1e-9 * full_cost, (got_cost, full_cost)
        rep2 = rslib.load_report(dir1)
        for a, b in zip(rep2["models"], full_rep["models"]):
            assert (a["input_tokens"], a["output_tokens"]) == (b["input_tokens"], b["output_tokens"])
            assert abs(a["cost_usd"] - b["cost_usd"]) <= 1e-9 * b["cost_usd"], (a, b)
        assert rep2["reliability"]["resumes"] == 3, rep2["reliability"]
        assert "budget" not in r2.stderr, r2.stderr

        # One model's token budget: the judge b may spend a quarter of what it did.
        b_tokens = full_usage["b"][1] + full_usage["b"][2]
        r3, dir3 = run(sb, "model", "--set", "models.b.budget.tokens=%d" % (b_tokens // 4), check=4)
        assert "models.b.budget.tokens is" in r3.stderr, r3.stderr
        cmd = resume_line(r3.stderr)
        assert "--set" in cmd and cmd[cmd.index("--set") + 1].startswith("models.b.budget.tokens="), cmd
        st3 = rslib.status_json(sb, sb.path("model"))
        assert st3["status"] == "budget_exhausted" and 0 < st3["done"] < CASES, st3
        assert st3["usage"]["b"]["input_tokens"] + st3["usage"]["b"]["output_tokens"] <= b_tokens // 4
        sb.run([rslib.REASONSAVER] + cmd + ["--quiet"], check=0)
        rslib.assert_same_run(dir3, full_dir)
    print("ok")


if __name__ == "__main__":
    main()
