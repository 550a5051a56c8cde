"""The self-critique chain over HTTP equals the in-process one: the same run (two models, n=3, two
judges, one revision round, judge and exact graders, every ranking strategy) once with the built-in
sim models and once with each model served by its own reasonsaver-mockllm (provider openai, mock:
true), which answers generations, critiques and revisions from the same sim definition (the worker
tells it the step through X-RS-* headers). Every record's outputs, verdicts, critiques, revisions
and strategies, and the report's strategies, rounds, flips and judge statistics, are equal; the
mocks' /stats show the critique and revision calls went over HTTP."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import rslib  # noqa: E402
from test_mockllm import Mock  # noqa: E402

CASES, N, SEED = 120, 3, 7
STRONG = {"accuracy": 0.7, "judge_accuracy": 0.85, "self_bias": 0.5, "fix_rate": 0.4,
          "break_rate": 0.1, "seed": SEED}
WEAK = {"accuracy": 0.4, "judge_accuracy": 0.7, "self_bias": 0.3, "fix_rate": 0.5,
        "break_rate": 0.2, "seed": 3}
COMMON = """
run: {name: %(name)s, seed: %(seed)d}
dataset: {path: cases.jsonl, limit: %(cases)d, shard_size: 8}
judges:
  - {name: by-strong, model: strong}
  - {name: by-weak, model: weak, reference: true, rubric: ["The final answer is correct."]}
revise: {rounds: 1}
scoring: {graders: [exact, {type: judge, judge: by-strong}]}
ranking: [first, judge, consensus, majority, oracle]
cluster: {workers: 2}
report: {formats: [json, jsonl]}
"""
SIM_MODEL = "  - {name: %s, provider: sim, model: sim-1, n: %d, params: {%s}}\n"
HTTP_MODEL = ("  - {name: %s, provider: openai, model: sim-1, n: %d, mock: true,\n"
              "     base_url: \"http://127.0.0.1:%d/v1\", max_retries: 2, retry_base_ms: 10}\n")
# What differs between a sim call and an HTTP one by nature, not by result.
TRANSPORT = {"latency_ms", "input_tokens", "output_tokens", "finish_reason", "provider",
             "simulated", "spans", "retries", "retry_reasons", "served_model",
             "system_fingerprint"}


def params(p):
    return ", ".join("%s: %s" % kv for kv in p.items())


def run(sb, name, models):
    cfg = sb.write(name + ".yaml", COMMON % {"name": name, "seed": SEED, "cases": CASES} +
                   "models:\n" + models)
    sb.run([rslib.REASONSAVER, "run", cfg, "--quiet", "--out", sb.path(name)], check=0)
    run_dir = rslib.only_run_dir(sb.path(name))
    return rslib.read_jsonl(os.path.join(run_dir, "results.jsonl")), rslib.load_report(run_dir)


def mock_args(p):
    return ["--accuracy", str(p["accuracy"]), "--judge-accuracy", str(p["judge_accuracy"]),
            "--self-bias", str(p["self_bias"]), "--fix-rate", str(p["fix_rate"]),
            "--break-rate", str(p["break_rate"]), "--seed", str(p["seed"]), "--quiet"]


def main():
    with rslib.Sandbox() as sb:
        sb.run([rslib.REASONSAVER, "datasets", "gen", "arithmetic", "--n", str(CASES), "--seed",
                "2", "--out", sb.path("cases.jsonl")], check=0)
        sim_recs, sim_rep = run(sb, "sim", SIM_MODEL % ("strong", N, params(STRONG)) +
                                SIM_MODEL % ("weak", N, params(WEAK)))
        strong, weak = Mock(sb, *mock_args(STRONG)), Mock(sb, *mock_args(WEAK))
        http_recs, http_rep = run(sb, "http", HTTP_MODEL % ("strong", N, strong.port) +
                                  HTTP_MODEL % ("weak", N, weak.port))
        assert len(sim_recs) == len(http_recs) == CASES
        for a, b in zip(sim_recs, http_recs):
            ra, rb = rslib.untimed(a, TRANSPORT), rslib.untimed(b, TRANSPORT)
            assert ra == rb, "case %s differs:\nsim:  %s\nhttp: %s" % (a["id"], ra, rb)
        revised = sum(1 for r in http_recs for m in r["models"] for c in m["candidates"]
                      if c["revisions"])
        assert revised > CASES, "too few revisions to compare: %d" % revised
        for key in ("judges", "judge_models", "rubrics", "pool"):
            assert sim_rep[key] == http_rep[key], key
        for ma, mb in zip(sim_rep["models"], http_rep["models"]):
            for key in ("graders", "strategies", "rounds", "flips"):
                assert ma[key] == mb[key], (ma["name"], key)
        # Each mock answered its model's generations, its critiques as a judge and its revisions
        # (with one round, the revision itself is not critiqued again).
        calls = sum(m.stats()["by_endpoint"]["/v1/chat/completions"] for m in (strong, weak))
        critiques = sum(len(c["critiques"]) for r in http_recs for m in r["models"]
                        for c in m["candidates"])
        generations = CASES * 2  # one request with n choices per model and case
        assert calls == generations + critiques + revised, (calls, generations, critiques, revised)
    print("ok: %d cases, the chain over HTTP equals the in-process sim (%d calls)" % (CASES, calls))


if __name__ == "__main__":
    main()
