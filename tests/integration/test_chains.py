"""Self-critique chains end to end: a sim run with n=5, two models, two judges (each judges its own
model's candidates and the other's), one revision round and graders exact + judge + embed_sim,
whose every record (critiques, revisions, strategies) and report count (strategies, rounds, flips,
judges) equals an independent computation from docs/SIM.md and common/embed.h
(tests/integration/simref.py); then a run whose judge speaks HTTP to reasonsaver-mockllm, whose
critiques and revisions equal simref's too, and whose second judge cannot read the mock's verdicts:
each is counted as unparsed, none crashes."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import rslib  # noqa: E402
import simref  # noqa: E402
from test_mockllm import Mock  # noqa: E402

N_CASES = 200
DIM = 256
EMBED_THRESHOLD = 0.1  # the sim's outputs hold the target's number or another: both sides of it
CONFIG = """
run: {name: chains, seed: 7}
dataset: {path: %(dataset)s, limit: %(limit)d, shard_size: 5}
models:
  - {name: strong, provider: sim, model: sim-1, n: 5,
     params: {accuracy: 0.7, judge_accuracy: 0.85, self_bias: 0.5, fix_rate: 0.4,
              break_rate: 0.1}}
  - {name: weak, provider: sim, model: sim-1, n: 5,
     params: {accuracy: 0.4, judge_accuracy: 0.7, self_bias: 0.3, fix_rate: 0.5,
              break_rate: 0.2, error_rate: 0.05, seed: 3}}
judges:
  - {name: by-strong, model: strong}
  - {name: by-weak, model: weak, reference: true, rubric: ["The final answer is correct."]}
revise: {rounds: 1, judge: by-weak}
scoring:
  graders: [exact, {name: judged, type: judge, judge: by-strong},
            {name: similar, type: embed_sim, threshold: %(thr)s}]
embedder: {type: hash, dim: %(dim)d}
cluster: {workers: 2, worker_slots: 16}
"""

MODELS = {  # name: (seed, accuracy, judge_accuracy, self_bias, fix_rate, break_rate, error_rate)
    "strong": (7, 0.7, 0.85, 0.5, 0.4, 0.1, 0.0),
    "weak": (3, 0.4, 0.7, 0.3, 0.5, 0.2, 0.05),
}
JUDGES = [("by-strong", "strong"), ("by-weak", "weak")]
REVISE_JUDGE = 1
GRADERS = ["exact", "judged", "similar"]


# ------------------------------------------------------------------ the independent expectation


def verdicts(text, target, judged_says, target_vec):
    """{grader: verdict} of one answer; judged_says is the by-strong critique's verdict of it
    (None: no parsed critique, so the judge grader skips)."""
    if text is None:
        return {g: "error" for g in GRADERS}
    answer = simref.last_answer(text)
    sim = simref.cosine(simref.hash_embed(text, DIM), target_vec)
    return {"exact": "correct" if answer == target else "wrong",
            "judged": "skipped" if judged_says is None else
            "correct" if judged_says else "wrong",
            "similar": "correct" if sim >= EMBED_THRESHOLD else "wrong",
            "_sim": sim}


def expect_candidate(model, cid, k, target, target_vec):
    seed, acc, _, _, fix, brk, err = MODELS[model]
    text = simref.reply(model, cid, k, seed, target, acc, err)
    cand = {"k": k, "output": text, "critiques": [], "revisions": []}
    if text is None:
        cand["grades"] = verdicts(None, target, None, None)
        return cand
    truth = simref.last_answer(text) == target
    says = []
    for name, jmodel in JUDGES:
        jseed, _, jacc, jbias, _, _, jerr = MODELS[jmodel]
        s, jtext = simref.judge(name, model, cid, k, 0, jseed, truth, jmodel == model, jacc,
                                jbias, jerr)
        says.append(s)
        cand["critiques"].append({"judge": name, "model": jmodel, "round": 0,
                                  "self": jmodel == model, "text": jtext,
                                  "score": None if s is None else float(s),
                                  "parsed": s is not None, "judged_correct": s,
                                  "error": None if s is not None else "simulated provider error"})
    cand["grades"] = verdicts(text, target, says[0], target_vec)
    cand["answer"] = simref.last_answer(text)
    cand["vec"] = simref.hash_embed(text, DIM)
    if says[REVISE_JUDGE] is not None:  # a failed critique drives no revision
        rev = simref.revise(model, cid, k, 1, seed, target, text, truth, says[REVISE_JUDGE],
                            fix, brk, err)
        # the judge grader has no critique of the last revision: skipped
        cand["revisions"].append({"round": 1, "output": rev,
                                  "grades": verdicts(rev, target, None, target_vec)})
    return cand


def expect_strategies(cands):
    """first / judge / majority / oracle picks and the consensus totals, from docs/CHAINS.md."""
    scores = [c["critiques"][0]["score"] if c["critiques"] else None for c in cands]
    judge_k = 0
    for k, s in enumerate(scores):
        if s is not None and (scores[judge_k] is None or s > scores[judge_k]):
            judge_k = k
    votes, first_at = {}, {}
    for c in cands:
        a = c.get("answer")
        if a is not None:
            votes[a] = votes.get(a, 0) + 1
            first_at.setdefault(a, c["k"])
    maj = min(votes, key=lambda a: (-votes[a], first_at[a])) if votes else None
    oracle = {}
    for g in GRADERS:
        got = [c["grades"][g] for c in cands]
        oracle[g] = next(v for v in ("correct", "wrong", "skipped", "error") if v in got or
                         v == "error")
    with_output = [c for c in cands if c["output"] is not None]
    totals = simref.medoid_totals([c["vec"] for c in with_output])
    return {"judge": judge_k, "majority": first_at[maj] if maj is not None else 0,
            "majority_answer": maj, "oracle": oracle,
            "consensus_totals": {c["k"]: t for c, t in zip(with_output, totals)}}


def check_consensus(got_k, totals, where):
    """The medoid's pick, allowing for float32 rounding: exact when the totals are clear apart
    (identical outputs tie exactly and go to the lowest k), else within rounding of the best."""
    if not totals:
        assert got_k == 0, where
        return
    best = max(totals.values())
    near = [k for k, t in totals.items() if best - 1e-4 <= t < best - 1e-9]
    if not near:
        assert got_k == min(k for k, t in totals.items() if t >= best - 1e-9), (where, totals)
    else:
        assert totals[got_k] >= best - 1e-4, (where, got_k, totals)


def check_answer(got, want, where):
    assert got["output"] == want["output"], (where, got["output"], want["output"])
    for g in GRADERS:
        if g == "similar" and "_sim" in want["grades"] and \
                abs(want["grades"]["_sim"] - EMBED_THRESHOLD) < 1e-5:
            continue  # float32 vs double on the threshold: either side is right
        assert got["grades"][g] == want["grades"][g], (where, g, got["grades"], want["grades"])


def check_record(rec, case, tally):
    cid, target = case["id"], case["answer"]
    target_vec = simref.hash_embed(target, DIM)
    for m in rec["models"]:
        name = m["model"]
        cands = [expect_candidate(name, cid, k, target, target_vec) for k in range(5)]
        assert len(m["candidates"]) == 5
        for got, want in zip(m["candidates"], cands):
            where = (cid, name, want["k"])
            check_answer(got, want, where)
            crit = [{k: c[k] for k in want["critiques"][0]} for c in got["critiques"]] \
                if want["critiques"] else got["critiques"]
            assert crit == want["critiques"], (where, got["critiques"], want["critiques"])
            assert len(got["revisions"]) == len(want["revisions"]), (where, got["revisions"])
            for gr, wr in zip(got["revisions"], want["revisions"]):
                assert gr["round"] == 1
                check_answer(gr, wr, where + ("revision",))
                assert (gr["error"] is None) == (wr["output"] is not None), (where, gr)
            tally_candidate(tally, name, want)
        strat, exp = m["strategies"], expect_strategies(cands)
        assert list(strat) == ["first", "judge", "consensus", "majority", "oracle"], list(strat)
        assert strat["first"]["k"] == 0
        assert strat["judge"]["k"] == exp["judge"], (cid, name, strat["judge"], exp)
        assert strat["majority"]["k"] == exp["majority"], (cid, name, strat["majority"], exp)
        assert strat["majority"]["answer"] == exp["majority_answer"], (cid, name)
        check_consensus(strat["consensus"]["k"], exp["consensus_totals"], (cid, name))
        for s in ("first", "judge", "consensus", "majority"):
            assert strat[s]["grades"] == m["candidates"][strat[s]["k"]]["grades"], (cid, name, s)
        assert strat["oracle"]["grades"] == exp["oracle"], (cid, name, strat["oracle"], exp)
        tally_strategies(tally, name, cands, exp, strat)


# ------------------------------------------------------------------ counts, for the report


def bump(d, *path):
    for p in path[:-1]:
        d = d.setdefault(p, {})
    d[path[-1]] = d.get(path[-1], 0) + 1


def tally_candidate(t, model, want):
    """Judge confusion (against the first grader, every candidate) and candidate 0's rounds."""
    for c in want["critiques"]:
        truth = want["grades"]["exact"]
        for split in ("all", "self" if c["self"] else "cross"):
            if c["error"]:
                bump(t, "judges", c["judge"], split, "errors")
            else:
                cell = ("tp" if c["judged_correct"] else "fn") if truth == "correct" else \
                    ("fp" if c["judged_correct"] else "tn")
                bump(t, "judges", c["judge"], split, cell)
            bump(t, "judges", c["judge"], split, "n")
    if want["k"] != 0:
        return
    bump(t, "rounds", model, 0, want["grades"]["exact"])
    for r in want["revisions"]:
        after = r["grades"]["exact"]
        bump(t, "rounds", model, 1, after)
        before = want["grades"]["exact"]
        if {before, after} <= {"correct", "wrong"}:
            bump(t, "flips", model, "pairs")
            if before != after:
                bump(t, "flips", model, "wrong_to_right" if after == "correct" else
                     "right_to_wrong")


def tally_strategies(t, model, cands, exp, strat):
    picks = {"first": 0, "judge": exp["judge"], "majority": exp["majority"],
             "consensus": strat["consensus"]["k"]}
    for s, k in picks.items():
        bump(t, "strategies", model, s, cands[k]["grades"]["exact"])
    bump(t, "strategies", model, "oracle", exp["oracle"]["exact"])


def check_report(rep, t):
    for m in rep["models"]:
        name = m["name"]
        got = {s["name"]: s["graders"][0] for s in m["strategies"]}
        assert list(got) == ["first", "judge", "consensus", "majority", "oracle"], list(got)
        for s, want in t["strategies"][name].items():
            for v in ("correct", "wrong", "error"):
                assert got[s][v] == want.get(v, 0), (name, s, v, got[s], want)
        rounds = {r["round"]: r["graders"][0] for r in m["rounds"]}
        for rnd, want in t["rounds"][name].items():
            for v in ("correct", "wrong", "error"):
                assert rounds[rnd][v] == want.get(v, 0), (name, rnd, v, rounds[rnd], want)
        fl = t["flips"].get(name, {})
        for v in ("pairs", "wrong_to_right", "right_to_wrong"):
            assert m["flips"][v] == fl.get(v, 0), (name, v, m["flips"], fl)
    judges = {j["name"]: j for j in rep["judges"]}
    for name, splits in t["judges"].items():
        for split, want in splits.items():
            q = judges[name][split]
            got = dict(q["confusion"], n=q["n"], errors=q["errors"])
            assert q["unparsed"] == 0, q
            for v in ("tp", "fp", "tn", "fn", "n", "errors"):
                assert got[v] == want.get(v, 0), (name, split, v, got, want)


# ------------------------------------------------------------------ the runs


def sim_run(sb, dataset, cases):
    cfg = sb.write("chains.yaml", CONFIG % {"dataset": dataset, "limit": N_CASES, "dim": DIM,
                                            "thr": EMBED_THRESHOLD})
    r = sb.run([rslib.REASONSAVER, "run", cfg, "--out", sb.path("runs")], check=0)
    run_dir = rslib.run_dir_from_output(r.stdout, sb.dir)
    results = rslib.read_jsonl(os.path.join(run_dir, "results.jsonl"))
    assert len(results) == N_CASES, len(results)
    tally = {}
    for rec, case in zip(results, cases):
        assert rec["id"] == case["id"]
        check_record(rec, case, tally)
    # the counts the checks above agreed on are not trivial: every path was taken
    for name, splits in tally["judges"].items():
        assert all(splits["all"].get(v, 0) > 0 for v in ("tp", "fp", "tn", "fn")), splits
    assert tally["judges"]["by-weak"]["all"].get("errors", 0) > 0, "no failed critique"
    assert sum(f.get("wrong_to_right", 0) for f in tally["flips"].values()) > 0
    assert sum(f.get("right_to_wrong", 0) for f in tally["flips"].values()) > 0
    for name in MODELS:
        st = tally["strategies"][name]
        assert st["oracle"]["correct"] > st["first"]["correct"], st
    check_report(rslib.load_report(run_dir), tally)
    return tally


MOCK_CONFIG = """
run: {name: chains-mock, seed: 1}
dataset: {path: %(dataset)s, limit: %(limit)d}
models:
  - {name: gen, provider: sim, model: sim-1, n: 2}
  - {name: judge-http, provider: openai, model: sim-1, base_url: "http://127.0.0.1:%(port)d/v1",
     mock: true, api_key_env: RS_TEST_KEY, max_retries: 2, retry_base_ms: 20, retry_cap_ms: 100}
judges:
  - {name: http, model: judge-http}
  # the mock answers "Verdict: Y|N", which this judge's scale cannot read: every verdict unparsed
  - name: strict
    model: judge-http
    verdict: {regex: "Score: *([0-9]+)", max: 10}
    template: "Q: {{question}}\\nA: {{answer}}\\nRate it 0 to 10 and end with Score: <n>."
revise: {rounds: 1, judge: http}
scoring: {graders: [exact, {type: judge}]}
cluster: {workers: 2, worker_slots: 8}
"""


def mock_run(sb, dataset, cases, limit=40):
    """A judge that speaks HTTP to reasonsaver-mockllm (which answers critiques and revisions from
    the sim definition, told the step by X-RS-* headers): its verdicts and the revisions they drive
    equal simref's, for the in-process model's candidates and the HTTP model's own."""
    mock = Mock(sb, "--accuracy", "0.7", "--seed", "1", "--quiet")
    cfg = sb.write("mock.yaml", MOCK_CONFIG % {"dataset": dataset, "limit": limit,
                                               "port": mock.port})
    env = dict(os.environ, RS_TEST_KEY="chains-test-key")
    r = sb.run([rslib.REASONSAVER, "run", cfg, "--out", sb.path("mock-runs")], env=env, check=0)
    run_dir = rslib.run_dir_from_output(r.stdout, sb.dir)
    results = rslib.read_jsonl(os.path.join(run_dir, "results.jsonl"))
    assert len(results) == limit
    said = []
    for rec, case in zip(results, cases):
        for m in rec["models"]:
            for c in m["candidates"]:
                where = (case["id"], m["model"], c["k"])
                assert c["error"] is None, (where, c["error"])
                text = simref.reply(m["model"], case["id"], c["k"], 1, case["answer"])
                assert c["output"] == text, (where, c["output"], text)
                truth = simref.last_answer(text) == case["answer"]
                is_self = m["model"] == "judge-http"
                says, want_text = simref.judge("http", m["model"], case["id"], c["k"], 0, 1, truth,
                                               is_self)
                crit, strict = c["critiques"]
                assert (crit["text"], crit["judged_correct"], crit["self"]) == (
                    want_text, says, is_self), (where, crit, says)
                assert (strict["parsed"], strict["score"], strict["judged_correct"],
                        strict["error"]) == (False, None, None, None), (where, strict)
                assert c["grades"]["judge"] == ("correct" if says else "wrong"), where
                said.append(says)
                want = simref.revise(m["model"], case["id"], c["k"], 1, 1, case["answer"], text,
                                     truth, says)
                (rev,) = c["revisions"]
                assert rev["output"] == want, (where, rev["output"], want)
    assert 0 < sum(said) < len(said), "every verdict the same: %s" % said
    # per case over HTTP: judge-http's generation, 2 judges x 3 candidates' critiques and
    # judge-http's revision (gen revises in-process), none retried (a case the coordinator handed
    # out again makes its calls again)
    st, rep = mock.stats(), rslib.load_report(run_dir)
    assert limit * 8 <= st["requests"] <= rep["reliability"]["dispatched_cases"] * 8, (st, rep)
    assert st["by_status"] == {"200": st["requests"]}, st
    j, strict = rep["judges"]
    assert j["all"]["unparsed"] == 0 and j["all"]["n"] == limit * 3, j["all"]
    assert j["all"]["errors"] == 0, j["all"]
    assert strict["all"]["unparsed"] == strict["all"]["n"] == limit * 3, strict["all"]


def main():
    dataset = os.path.join(rslib.SRC, "datasets", "demo.jsonl")
    cases = rslib.read_jsonl(dataset)[:N_CASES]
    with rslib.Sandbox() as sb:
        tally = sim_run(sb, dataset, cases)
        mock_run(sb, dataset, cases)
    print("ok: chains match the sim definition; judges: %s" % {
        j: s["all"] for j, s in tally["judges"].items()})


if __name__ == "__main__":
    main()
