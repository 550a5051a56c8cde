"""Judge quality per judging model and per rubric (docs/CHAINS.md "Report additions"): a sim run
with two models and three judges (two on one model under different rubrics, one on the other
model under the first judge's rubric), whose report.json `judge_models` and `rubrics` must equal
the sums recomputed here from the critiques in results.jsonl, in the config's order; report.md
and report.html must show the two tables."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import rslib  # noqa: E402

N_CASES = 80
R1 = ["The final answer is correct."]
R2 = ["Every step follows from the one before.", "Steps | reasons are *shown*."]
CONFIG = """
run: {name: judge-groups, seed: 11}
dataset: {path: %(dataset)s, limit: %(limit)d, shard_size: 10}
models:
  - {name: alpha, provider: sim, model: sim-1, n: 2,
     params: {accuracy: 0.6, judge_accuracy: 0.8, self_bias: 0.4}}
  - {name: beta, provider: sim, model: sim-1, n: 2,
     params: {accuracy: 0.5, judge_accuracy: 0.7, self_bias: 0.3, error_rate: 0.05, seed: 5}}
judges:
  - {name: a-correct, model: alpha, rubric: %(r1)s}
  - {name: a-steps, model: alpha, rubric: %(r2)s}
  - {name: b-correct, model: beta, rubric: %(r1)s}
scoring: {graders: [exact]}
report: {formats: [json, markdown, html, jsonl]}
cluster: {workers: 2, worker_slots: 8}
"""
JUDGE_RUBRIC = {"a-correct": 0, "a-steps": 1, "b-correct": 0}
SPLITS = ("all", "self", "cross")


def yaml_list(items):
    return "[" + ", ".join('"%s"' % s for s in items) + "]"


def judged_truth(cand, crit):
    """The first grader's verdict on the answer the critique judged (round r: revision r)."""
    r = crit.get("round") or 0
    src = cand if r <= 0 else cand["revisions"][r - 1]
    return src.get("grades", {}).get("exact")


def empty_q():
    return {"n": 0, "unparsed": 0, "errors": 0, "tp": 0, "fp": 0, "tn": 0, "fn": 0,
            "scores": []}


def count(q, crit, truth):
    q["n"] += 1
    score = crit.get("score")
    if isinstance(crit.get("error"), str):
        q["errors"] += 1
    elif crit.get("parsed") is False or not isinstance(score, (int, float)):
        q["unparsed"] += 1
    else:
        said = crit["judged_correct"] if isinstance(crit.get("judged_correct"), bool) \
            else score >= 0.5
        pos = truth == "correct"
        q[("tp" if said else "fn") if pos else ("fp" if said else "tn")] += 1
        q["scores"].append((score, pos))


def recompute(results):
    """{("model", name) | ("rubric", i): {split: q}} and the judges seen per group."""
    groups, judges = {}, {}
    for rec in results:
        for entry in rec["models"]:
            for cand in entry["candidates"]:
                for crit in cand.get("critiques", []):
                    truth = judged_truth(cand, crit)
                    if truth not in ("correct", "wrong"):
                        continue
                    model = crit.get("model") or (entry["model"] if crit.get("self") else None)
                    keys = [("model", model)] if model else []
                    if crit["judge"] in JUDGE_RUBRIC:
                        keys.append(("rubric", JUDGE_RUBRIC[crit["judge"]]))
                    for key in keys:
                        g = groups.setdefault(key, {s: empty_q() for s in SPLITS})
                        judges.setdefault(key, set()).add(crit["judge"])
                        count(g["all"], crit, truth)
                        if isinstance(crit.get("self"), bool):
                            count(g["self" if crit["self"] else "cross"], crit, truth)
    return groups, judges


def kappa(q):
    n = q["tp"] + q["fp"] + q["tn"] + q["fn"]
    if n == 0:
        return None
    po = (q["tp"] + q["tn"]) / n
    pe = ((q["tp"] + q["fn"]) * (q["tp"] + q["fp"]) + (q["tn"] + q["fp"]) *
          (q["tn"] + q["fn"])) / (n * n)
    return None if pe >= 1 else (po - pe) / (1 - pe)


def auroc(scores):
    pos = [s for s, p in scores if p]
    neg = [s for s, p in scores if not p]
    if not pos or not neg:
        return None
    u = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg)
    return u / (len(pos) * len(neg))


def ratio(a, b):
    return a / b if b else None


def close(got, want):
    if want is None or got is None:
        return got is None and want is None
    return abs(got - want) < 1e-9


def check_q(got, want, where):
    conf = got["confusion"]
    flat = dict(conf, n=got["n"], unparsed=got["unparsed"], errors=got["errors"])
    for k in ("n", "unparsed", "errors", "tp", "fp", "tn", "fn"):
        assert flat[k] == want[k], (where, k, flat, {k: v for k, v in want.items()
                                                      if k != "scores"})
    stats = {"precision": ratio(want["tp"], want["tp"] + want["fp"]),
             "recall": ratio(want["tp"], want["tp"] + want["fn"]),
             "kappa": kappa(want), "auroc": auroc(want["scores"])}
    for k, v in stats.items():
        assert close(got[k], v), (where, k, got[k], v)


def check_groups(rep, results):
    groups, judges = recompute(results)
    # the run exercised what the groups are about
    assert groups[("model", "alpha")]["self"]["n"] > 0
    assert groups[("model", "alpha")]["cross"]["n"] > 0
    assert groups[("model", "beta")]["all"]["errors"] > 0, "no failed critique"
    assert all(groups[("rubric", 0)]["all"][v] > 0 for v in ("tp", "fp", "tn", "fn"))

    assert [g["model"] for g in rep["judge_models"]] == ["alpha", "beta"], rep["judge_models"]
    assert rep["judge_models"][0]["judges"] == ["a-correct", "a-steps"]
    assert rep["judge_models"][1]["judges"] == ["b-correct"]
    for g in rep["judge_models"]:
        key = ("model", g["model"])
        assert set(g["judges"]) == judges[key], (g["judges"], judges[key])
        for s in SPLITS:
            check_q(g[s], groups[key][s], (key, s))

    assert [g["rubric"] for g in rep["rubrics"]] == [R1, R2], rep["rubrics"]
    assert rep["rubrics"][0]["judges"] == ["a-correct", "b-correct"]
    assert rep["rubrics"][1]["judges"] == ["a-steps"]
    for i, g in enumerate(rep["rubrics"]):
        for s in SPLITS:
            check_q(g[s], groups[("rubric", i)][s], (("rubric", i), s))

    # a group is the sum of its judges' counts
    by_name = {j["name"]: j for j in rep["judges"]}
    for g in rep["judge_models"] + rep["rubrics"]:
        for s in SPLITS:
            for k in ("tp", "fp", "tn", "fn"):
                assert g[s]["confusion"][k] == sum(by_name[n][s]["confusion"][k]
                                                   for n in g["judges"]), (g["judges"], s, k)


def check_pages(run_dir):
    with open(os.path.join(run_dir, "report.md")) as f:
        md = f.read()
    assert md.index("## Judges") < md.index("### Judges by model") < \
        md.index("### Judges by rubric"), md
    # the rubric's principles joined by "; ", escaped and cut to 80 characters
    assert "| Every step follows from the one before.; Steps \\| reasons are \\*shown\\*. | " \
           "a-steps | all |" in md, md
    with open(os.path.join(run_dir, "report.html")) as f:
        page = f.read()
    for want in ('id="table-judge-models"', 'id="table-rubrics"', 'data-judge="alpha"',
                 'data-judge="rubric-1"', "Steps | reasons are *shown*."):
        assert want in page, want


def main():
    dataset = os.path.join(rslib.SRC, "datasets", "demo.jsonl")
    with rslib.Sandbox() as sb:
        cfg = sb.write("groups.yaml", CONFIG % {"dataset": dataset, "limit": N_CASES,
                                                "r1": yaml_list(R1), "r2": yaml_list(R2)})
        r = sb.run([rslib.REASONSAVER, "run", cfg, "--out", sb.path("runs")], check=0)
        run_dir = rslib.run_dir_from_output(r.stdout, sb.dir)
        results = rslib.read_jsonl(os.path.join(run_dir, "results.jsonl"))
        assert len(results) == N_CASES, len(results)
        rep = rslib.load_report(run_dir)
        assert rep["schema"] == "reasonsaver.report/2", rep["schema"]
        check_groups(rep, results)
        check_pages(run_dir)
        print("ok: judge_models %s, rubrics %s" % (
            [(g["model"], g["all"]["n"]) for g in rep["judge_models"]],
            [(g["judges"], g["all"]["n"]) for g in rep["rubrics"]]))


if __name__ == "__main__":
    main()
