"""Several models contribute to one case's candidate pool: with two models the record's "pool"
ranks every model's candidates together, and each pick equals an independent recomputation from the
record's own candidates (first = the first model's candidate 0; judge = the highest round-0 score of
judges[0], ties to the earliest in model-then-k order; majority = the most frequent extracted
answer, ties to the earliest first occurrence; oracle = any candidate correct), each pick's grades
are its candidate's, and report.json's pool counts (and McNemar b / c against first) add up from
the records. report.md and report.html show the pool's rows, and `compare` ranks the pool's strategies."""
import json
import math
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import rslib  # noqa: E402

CASES = 150
CONFIG = """
run: {name: pool, seed: 11}
dataset: {path: cases.jsonl}
models:
  - {name: strong, provider: sim, model: sim-1, n: 3, params: {accuracy: 0.7},
     prices: {input: 2.5, output: 10}}
  - {name: weak, provider: sim, model: sim-1, n: 2, params: {accuracy: 0.35},
     prices: {input: 0.5, output: 1.5}}
judges:
  - {name: referee, model: strong}
revise: {rounds: 1}
scoring: {graders: [exact, numeric]}
ranking: [first, judge, consensus, majority, oracle]
report: {formats: [json, markdown, html, jsonl]}
"""


def pooled(rec):
    """[(model, k, candidate)] in pool order."""
    return [(m["model"], c["k"], c) for m in rec["models"] for c in m["candidates"]]


def judge_pick(pool):
    best, best_i = None, 0
    for i, (_, _, c) in enumerate(pool):
        score = next((q["score"] for q in c.get("critiques", [])
                      if q["judge"] == "referee" and q["round"] == 0), None)
        if score is None or (isinstance(score, float) and math.isnan(score)):
            continue
        if best is None or score > best:
            best, best_i = score, i
    return best_i


def majority_pick(pool):
    counts, first_at = {}, {}
    for i, (_, _, c) in enumerate(pool):
        a = c["extracted"] if c["output"] is not None else None
        if a is None:
            continue
        counts[a] = counts.get(a, 0) + 1
        first_at.setdefault(a, i)
    if not counts:
        return 0
    top = max(counts.values())
    return min(first_at[a] for a, n in counts.items() if n == top)


def oracle(pool, grader):
    verdicts = [c["grades"][grader] for _, _, c in pool]
    for v in ("correct", "wrong", "skipped"):
        if v in verdicts:
            return v
    return "error"


def check_pick(rec, pool, name, i):
    pick = rec["pool"]["strategies"][name]
    model, k, cand = pool[i]
    assert (pick["model"], pick["k"]) == (model, k), (rec["id"], name, pick, (model, k))
    assert pick["grades"] == cand["grades"], (rec["id"], name, pick, cand["grades"])


def check_records(records):
    tallies = {}
    for rec in records:
        pool = pooled(rec)
        strategies = rec["pool"]["strategies"]
        assert list(strategies) == ["first", "judge", "consensus", "majority", "oracle"], strategies
        check_pick(rec, pool, "first", 0)
        check_pick(rec, pool, "judge", judge_pick(pool))
        check_pick(rec, pool, "majority", majority_pick(pool))
        assert pool[[(m, k) for m, k, _ in pool].index(
            (strategies["consensus"]["model"], strategies["consensus"]["k"]))][2]["output"]
        for g in ("exact", "numeric"):
            assert strategies["oracle"]["grades"][g] == oracle(pool, g), (rec["id"], g)
        first = strategies["first"]["grades"]["exact"]
        for name, s in strategies.items():
            t = tallies.setdefault(name, {"correct": 0, "wrong": 0, "error": 0, "skipped": 0,
                                          "b": 0, "c": 0})
            v = s["grades"]["exact"]
            t[v] += 1
            t["b"] += first == "wrong" and v == "correct"
            t["c"] += first == "correct" and v == "wrong"
    return tallies


PRICES = {"strong": (2.5, 10), "weak": (0.5, 1.5)}


def check_stages(records, rep):
    """Tokens by stage recomputed from the records: generations and revisions count for their
    model, critiques for the judging model; the model's totals and cost are their sums."""
    want = {m: {} for m in PRICES}

    def add(model, stage, o):
        w = want[model].setdefault(stage, [0, 0, 0])
        w[0] += 1
        w[1] += o["input_tokens"]
        w[2] += o["output_tokens"]
    for rec in records:
        for m in rec["models"]:
            for c in m["candidates"]:
                add(m["model"], "generate", c)
                for r in c["revisions"]:
                    add(m["model"], "revise", r)
                for q in c["critiques"]:
                    add(q["model"], "critique", q)
    for m in rep["models"]:
        got = {k: [v["outputs"], v["input_tokens"], v["output_tokens"]]
               for k, v in m["stages"].items()}
        assert got == want[m["name"]], (m["name"], got, want[m["name"]])
        pin, pout = PRICES[m["name"]]
        tin, tout = sum(v[1] for v in got.values()), sum(v[2] for v in got.values())
        assert (m["input_tokens"], m["output_tokens"]) == (tin, tout), m
        assert abs(m["cost_usd"] - (tin * pin + tout * pout) / 1e6) < 1e-9, m
        for k, v in m["stages"].items():
            assert abs(v["cost_usd"] - (v["input_tokens"] * pin + v["output_tokens"] * pout)
                       / 1e6) < 1e-9, (m["name"], k, v)
    assert "critique" not in want["weak"] and want["strong"]["critique"][0] == CASES * 5


def check_compare(sb, run_dir, rep):
    """compare ranks the pool's strategies beside the models', with the report's counts."""
    r = sb.run([rslib.REASONSAVER, "compare", os.path.basename(run_dir), "--out", sb.path("runs"),
                "--json", "-"], check=0)
    ranking = json.loads(r.stdout)["ranking"]
    pooled_rows = {e["strategy"]: e for e in ranking if e["model"] == "all models (pool)"}
    assert set(pooled_rows) == {"first", "judge", "consensus", "majority", "oracle"}, ranking
    for s in rep["pool"]["strategies"]:
        g, e = s["graders"][0], pooled_rows[s["name"]]
        assert (e["correct"], e["wrong"]) == (g["correct"], g["wrong"]), (s["name"], e, g)
    assert ranking[0]["model"] == "all models (pool)" and ranking[0]["strategy"] == "oracle", \
        ranking[0]


def main():
    with rslib.Sandbox() as sb:
        sb.run([rslib.REASONSAVER, "datasets", "gen", "arithmetic", "--n", str(CASES), "--seed",
                "4", "--out", sb.path("cases.jsonl")], check=0)
        cfg = sb.write("pool.yaml", CONFIG)
        sb.run([rslib.REASONSAVER, "run", cfg, "--quiet", "--out", sb.path("runs")], check=0)
        run_dir = rslib.only_run_dir(sb.path("runs"))
        records = rslib.read_jsonl(os.path.join(run_dir, "results.jsonl"))
        assert len(records) == CASES
        tallies = check_records(records)
        rep = rslib.load_report(run_dir)
        assert rep["pool"]["models"] == ["strong", "weak"] and rep["pool"]["cases"] == CASES
        for s in rep["pool"]["strategies"]:
            t, g = tallies[s["name"]], s["graders"][0]
            assert g["name"] == "exact"
            assert {k: g[k] for k in ("correct", "wrong", "error", "skipped")} == \
                {k: t[k] for k in ("correct", "wrong", "error", "skipped")}, (s["name"], g, t)
            mc = s["mcnemar_vs_first"]
            assert (mc is None) == (s["name"] == "first"), s
            if mc:
                assert (mc["b"], mc["c"]) == (t["b"], t["c"]), (s["name"], mc, t)
        oracle_acc = rep["pool"]["strategies"][-1]["graders"][0]["accuracy"]
        best_single = max(s["graders"][0]["accuracy"] for m in rep["models"]
                          for s in m["strategies"] if s["name"] == "oracle")
        assert oracle_acc >= best_single, (oracle_acc, best_single)
        with open(os.path.join(run_dir, "report.md")) as f:
            md = f.read()
        assert md.count("| *pool: all models* |") == 5, md
        with open(os.path.join(run_dir, "report.html")) as f:
            page = f.read()
        assert page.count('data-model="all models (pool)"') >= 5 * 2, "pool rows missing in html"
        check_compare(sb, run_dir, rep)
        check_stages(records, rep)
        assert md.count("| strong | critique |") == 1 and "### By stage" in md, md
        assert 'id="table-stages"' in page and 'data-stage="revise"' in page
    print("ok: the pool's picks and counts match a recomputation from %d records" % CASES)


if __name__ == "__main__":
    main()
