"""`reasonsaver compare` and the report's chain sections, end to end.

1. Two sim runs of the demo dataset (embedded Redis) with a strong and a weak model: compare ranks
   the strong run first on all 500 shared cases, its counts equal each run's report.json, the
   McNemar p-value of the gap is tiny, and --json / --json - parse. A run on another dataset is
   refused with exit 2.
2. A run whose stored records are rewritten with the CHAINS.md fields (strategies, revisions,
   critiques): `reasonsaver report` gives the strategy, round, flip and judge numbers an
   independent computation here gives, plus clusters and near-duplicates, in JSON, Markdown and
   HTML; compare ranks that run's strategies."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import rslib  # noqa: E402

CONFIG = """
run: {name: %(name)s, seed: 5}
dataset: {path: %(dataset)s%(format)s}
models:
  - {name: m, provider: sim, model: sim-1, params: {accuracy: %(acc)s}}
scoring: {graders: [exact, numeric]}
cluster: {workers: 2}
report: {formats: [json, markdown, html, jsonl], near_duplicates: true}
"""


def run(sb, name, acc, dataset="demo.jsonl", fmt="", extra=()):
    cfg = sb.write(name + ".yaml", CONFIG % {
        "name": name, "acc": acc, "format": fmt,
        "dataset": os.path.join(rslib.SRC, "datasets", dataset)})
    r = sb.run([rslib.REASONSAVER, "run", cfg, "--out", sb.path("runs")] + list(extra), check=0)
    run_dir = rslib.run_dir_from_output(r.stdout, sb.dir)
    return os.path.basename(run_dir), run_dir


def compare(sb, *args, check=0):
    return sb.run([rslib.REASONSAVER, "compare"] + list(args), check=check)


def check_two_runs(sb):
    strong, strong_dir = run(sb, "strong", 0.9)
    weak, weak_dir = run(sb, "weak", 0.5)
    out = sb.path("cmp.json")
    r = compare(sb, weak, strong, "--out", sb.path("runs"), "--json", out, "--all-pairs")
    cmp = json.load(open(out))
    assert cmp["schema"] == "reasonsaver.compare/1", cmp["schema"]
    assert cmp["shared_cases"] == 500, cmp["shared_cases"]
    assert [x["run"] for x in cmp["runs"]] == [weak, strong]
    best, second = cmp["ranking"][0], cmp["ranking"][1]
    assert (best["run"], best["model"], best["strategy"]) == (strong, "m", "first"), best
    assert second["run"] == weak, second
    for entry, run_dir in ((best, strong_dir), (second, weak_dir)):
        g = rslib.load_report(run_dir)["models"][0]["graders"][0]
        assert entry["grader"] == g["name"] == "exact"
        assert (entry["correct"], entry["wrong"]) == (g["correct"], g["wrong"]), (entry, g)
        assert abs(entry["accuracy"] - g["accuracy"]) < 1e-12
    test = cmp["vs_best"][0]
    assert test["run"] == weak and test["b"] > test["c"], test
    assert test["exact_p"] < 1e-10 and test["chi2_p"] < 1e-10, test
    assert len(cmp["pairs"]) == 1 and cmp["pairs"][0]["ranks"] == [1, 2]
    # The Markdown: the strong run's row first.
    rows = [line for line in r.stdout.splitlines() if line.startswith("| 1 |")]
    assert rows and strong in rows[0], r.stdout
    assert "500 case(s) shared" in r.stdout, r.stdout
    # --json - prints the JSON alone.
    r = compare(sb, strong, weak, "--out", sb.path("runs"), "--json", "-")
    assert json.loads(r.stdout)["ranking"][0]["run"] == strong
    # Another dataset shares no case: refused with exit 2 and a reason.
    other, _ = run(sb, "evals", 0.7, "evals-sample.jsonl", ", format: evals")
    r = compare(sb, strong, other, "--out", sb.path("runs"), check=2)
    assert "share no case" in r.stderr and "evals-sample.jsonl" in r.stderr, r.stderr
    r = compare(sb, strong, "no-such-run", "--out", sb.path("runs"), check=2)
    r = compare(sb, check=2)


# ---- records with the chain fields ----

def verdict(ok):
    return "correct" if ok else "wrong"


def enrich(rec):
    """Adds strategies, one revision and critiques to the one model's entry, by fixed rules of the
    case index, as a worker with chains would write them."""
    i, m = rec["idx"], rec["models"][0]
    c0 = m["candidates"][0]
    ok = c0["grades"]["exact"] == "correct"
    grades = lambda x: {"exact": verdict(x), "numeric": verdict(x)}  # noqa: E731
    m["strategies"] = {
        "first": {"k": 0, "grades": dict(c0["grades"])},
        "judge": {"k": 0, "grades": grades(ok or i % 2 == 1)},
        "oracle": {"grades": grades(ok or i % 3 != 0)},
    }
    fixed = (not ok and i % 4 == 0) or (ok and i % 10 != 0)
    c0["revisions"] = [{"round": 1, "output": c0["output"], "extracted": c0["extracted"],
                        "grades": grades(fixed)}]
    crit = {"judge": "j", "round": 0, "self": i % 2 == 0, "text": "...", "error": None}
    if i % 50 == 7:
        crit.update(score=None, parsed=False, judged_correct=None)
    else:
        score = 0.9 if ok != (i % 5 == 0) else (0.1 if i % 3 else 0.5)
        crit.update(score=score, parsed=True, judged_correct=score >= 0.5)
    c0["critiques"] = [crit]
    return rec


def auroc(pairs):
    pos = [s for s, y in pairs if y]
    neg = [s for s, y in pairs if not y]
    u = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return u / (len(pos) * len(neg))


def expected(recs):
    """Strategy, round, flip and judge numbers computed here from the enriched records."""
    e = {"first": 0, "judge": 0, "oracle": 0, "b_judge": 0, "c_judge": 0, "r1": 0, "w2r": 0,
         "r2w": 0, "tp": 0, "fp": 0, "tn": 0, "fn": 0, "unparsed": 0, "pairs": [], "self_n": 0}
    for r in recs:
        m = r["models"][0]
        c0 = m["candidates"][0]
        v = {k: s["grades"]["exact"] == "correct" for k, s in m["strategies"].items()}
        for k in ("first", "judge", "oracle"):
            e[k] += v[k]
        e["b_judge"] += not v["first"] and v["judge"]
        e["c_judge"] += v["first"] and not v["judge"]
        r1 = c0["revisions"][0]["grades"]["exact"] == "correct"
        e["r1"] += r1
        e["w2r"] += not v["first"] and r1
        e["r2w"] += v["first"] and not r1
        q = c0["critiques"][0]
        e["self_n"] += q["self"]
        if not q["parsed"]:
            e["unparsed"] += 1
            continue
        key = ("t" if q["judged_correct"] == v["first"] else "f") + (
            "p" if q["judged_correct"] else "n")
        e[key] += 1
        e["pairs"].append((q["score"], v["first"]))
    return e


def check_chain_report(sb):
    url = sb.redis()
    run_id, run_dir = run(sb, "chains", 0.6, extra=["--redis", url])
    recs = [enrich(r) for r in rslib.read_jsonl(os.path.join(run_dir, "results.jsonl"))]
    key = "rs:run:%s:results" % run_id
    with rslib.Resp(url) as redis:
        redis.pipeline([["HSET", key, r["idx"], json.dumps(r)] for r in recs])
    to = sb.path("rebuilt")
    r = sb.run([rslib.REASONSAVER, "report", run_id, "--redis", url, "--to", to], check=0)
    assert "McNemar p vs first" in r.stdout, r.stdout
    rep = rslib.load_report(to)
    want = expected(recs)
    assert rep["schema"] == "reasonsaver.report/2"
    m = rep["models"][0]
    strat = {s["name"]: s for s in m["strategies"]}
    assert [s["name"] for s in m["strategies"]] == ["first", "judge", "oracle"]
    for k in ("first", "judge", "oracle"):
        assert strat[k]["graders"][0]["correct"] == want[k], (k, strat[k], want[k])
    assert strat["first"]["graders"][0]["correct"] == m["graders"][0]["correct"]
    t = strat["judge"]["mcnemar_vs_first"]
    assert (t["b"], t["c"]) == (want["b_judge"], want["c_judge"]), (t, want)
    assert [x["round"] for x in m["rounds"]] == [0, 1]
    assert m["rounds"][1]["graders"][0]["correct"] == want["r1"]
    f = m["flips"]
    assert (f["pairs"], f["wrong_to_right"], f["right_to_wrong"]) == (
        500, want["w2r"], want["r2w"]), (f, want)
    (j,) = rep["judges"]
    q = j["all"]
    assert j["name"] == "j" and j["model"] == "m", j
    assert q["n"] == 500 and q["unparsed"] == want["unparsed"], q
    assert q["confusion"] == {k: want[k] for k in ("tp", "fp", "tn", "fn")}, (q, want)
    assert abs(q["precision"] - want["tp"] / (want["tp"] + want["fp"])) < 1e-12
    assert abs(q["auroc"] - auroc(want["pairs"])) < 1e-12, (q["auroc"], auroc(want["pairs"]))
    assert j["self"]["n"] == want["self_n"] and j["cross"]["n"] == 500 - want["self_n"]
    assert sum(q["histogram"]["correct"]) + sum(q["histogram"]["wrong"]) == len(want["pairs"])
    wrong = 500 - want["first"]
    assert rep["failures"]["total"] == wrong and sum(c["size"] for c in rep["clusters"]) == wrong
    nd = rep["near_duplicates"]
    assert nd["cases"] == 500 and abs(nd["threshold"] - 0.95) < 1e-9, nd
    md = open(os.path.join(to, "report.md")).read()
    for h in ("## Ranking strategies", "## Revision rounds", "## Judges", "## Failure clusters",
              "## Near-duplicate prompts"):
        assert h in md, h
    html = open(os.path.join(to, "report.html")).read()
    for ident in ("chart-strategies", "table-flips", "table-judges", "hist-judge-0", "cluster-1"):
        assert 'id="%s"' % ident in html, ident
    # compare on one run ranks its strategies: oracle is right wherever first is.
    cmp = json.loads(compare(sb, run_id, "--redis", url, "--json", "-").stdout)
    assert [x["strategy"] for x in cmp["ranking"]] == ["oracle", "judge", "first"], cmp["ranking"]
    assert cmp["ranking"][0]["correct"] == want["oracle"]


def main():
    with rslib.Sandbox() as sb:
        check_two_runs(sb)
        check_chain_report(sb)
    print("ok: compare and the chain report")


if __name__ == "__main__":
    main()
