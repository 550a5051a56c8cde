"""Experiments end to end (docs/EXPERIMENTS.md), every number recomputed here from results.jsonl.

1. Three prompt variants x two sim models (one with n = 3 candidates), 3 epochs, a dataset whose
   cases come in passages (dataset.fields.cluster): the units, their order and their prompt and
   epoch; the matrix cells with their clustered intervals and the best cell; each model's mean,
   per-epoch accuracy, agreement across epochs and pass@k (by exact binomial coefficients); the
   paired differences of models, of prompts and of strategies against first, with clustered
   intervals, McNemar's exact p and Holm's adjusted p; report.md and report.html show the
   matrix; `reasonsaver report` rebuilds report.json byte for byte; trace picks a case's prompt
   and epoch; compare ranks each (model, prompt). The same run killed with kill -9 midway and
   resumed gives the same experiment section.
2. One prompt, one epoch, no clusters: the model difference uses Newcombe's interval, computed
   here independently.
3. Epochs through reasonsaver-mockllm: epoch e sends seed = run.seed + e (0: none), seen in the
   mock's request log, and the cache keeps the epochs apart."""
import json
import math
import os
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
import faultlib  # noqa: E402
import rslib  # noqa: E402
from test_mockllm import Mock  # noqa: E402

R = rslib.REASONSAVER
Z = 1.959963984540054

CONFIG = """
run: {name: exp, seed: 11}
dataset:
  path: %(dataset)s
  fields: {input: question, target: answer, cluster: passage}
  shard_size: 8
models:
  - {name: strong, provider: sim, model: sim-1, n: 3, params: {temperature: 0.8, accuracy: 0.7}}
  - {name: weak, provider: sim, model: sim-1, params: {temperature: 0.8, accuracy: 0.5}}
prompts:
  - {name: plain, template: "{{input}}"}
  - {name: terse, system: "Answer with the number only.", template: "Q: {{input}}"}
  - {name: steps, template: "Think step by step.\\n{{input}}"}
epochs: 3
scoring: {graders: [exact]}
cluster: {workers: 2}
report: {formats: [json, markdown, html, jsonl]}
"""

PLAIN = """
run: {name: plain, seed: 5}
dataset: {path: %(dataset)s, fields: {input: question, target: answer}}
models:
  - {name: a, provider: sim, model: sim-1, params: {accuracy: 0.75}}
  - {name: b, provider: sim, model: sim-1, params: {accuracy: 0.6}}
scoring: {graders: [exact]}
cluster: {workers: 2}
report: {formats: [json, jsonl]}
"""

MOCK = """
run: {name: mockep, seed: 5}
dataset: {path: %(dataset)s, fields: {input: question, target: answer}}
models:
  - {name: solver, provider: openai, model: sim-1, mock: true,
     base_url: "http://127.0.0.1:%(port)d/v1", params: {temperature: 0.7}}
epochs: 2
scoring: {graders: [exact]}
cluster: {workers: 2}
report: {formats: [json, jsonl]}
"""

PROMPTS = ["plain", "terse", "steps"]
EPOCHS = 3


def write_dataset(sb, n_cases):
    """Arithmetic cases in passages of 1 to 4 questions (the cluster field)."""
    src = rslib.read_jsonl(os.path.join(rslib.SRC, "datasets", "demo.jsonl"))[:n_cases]
    path = sb.path("passages.jsonl")
    with open(path, "w") as f:
        for i, c in enumerate(src):
            f.write(json.dumps({"id": c["id"], "question": c["question"], "answer": c["answer"],
                                "passage": "p%d" % (i * 7 // 17)}) + "\n")
    return path, src


# ---- the reference statistics, written from their definitions ----

def wilson(k, n):
    if n == 0:
        return 0.0, 1.0
    p = k / n
    den = 1 + Z * Z / n
    mid = (p + Z * Z / (2 * n)) / den
    half = Z * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n)) / den
    return max(0.0, mid - half), min(1.0, mid + half)


def clustered_se(obs):
    """Miller (2024): obs is [(cluster, x)]; SE^2 = s^2/n + 1/n^2 sum_c sum_{i != j} e_i e_j."""
    n = len(obs)
    mean = sum(x for _, x in obs) / n
    s2 = sum((x - mean) ** 2 for _, x in obs) / (n - 1)
    by = {}
    for c, x in obs:
        by.setdefault(c, []).append(x - mean)
    cross = sum(sum(e) ** 2 - sum(v * v for v in e) for e in by.values())
    return mean, math.sqrt(max(0.0, s2 / n + cross / (n * n)))


def mcnemar_exact(b, c):
    n = b + c
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(b, c) + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def holm(ps):
    order = sorted(range(len(ps)), key=lambda i: ps[i])
    adj, run = [0.0] * len(ps), 0.0
    for rank, i in enumerate(order):
        run = max(run, min(1.0, (len(ps) - rank) * ps[i]))
        adj[i] = run
    return adj


def pass_at_k(n, c, k):
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def newcombe(a, b, c, d):
    """Newcombe (1998) method 10 for p1 - p2 of paired proportions."""
    n = a + b + c + d
    p1, p2 = (a + b) / n, (a + c) / n
    l1, u1 = wilson(a + b, n)
    l2, u2 = wilson(a + c, n)
    den = (a + b) * (c + d) * (a + c) * (b + d)
    phi = 0.0
    if den > 0:
        num = a * d - b * c
        phi = (max(num - n / 2, 0) if num > 0 else num) / math.sqrt(den)
    diff = p1 - p2
    dl = math.sqrt(max(0.0, (p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2))
    du = math.sqrt(max(0.0, (u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2))
    return diff, max(-1.0, diff - dl), min(1.0, diff + du)


def close(a, b, what, tol=1e-9):
    assert a is not None and b is not None and abs(a - b) <= tol, "%s: %r != %r" % (what, a, b)


# ---- reading the records ----

def verdict(entry, strategy="first"):
    """The first grader's verdict of a strategy in one model entry, as the report reads it."""
    if strategy == "first":
        if entry.get("error") is not None:
            return "error"
        s = (entry.get("strategies") or {}).get("first")
        grades = s["grades"] if s else entry["candidates"][0]["grades"]
    else:
        s = (entry.get("strategies") or {}).get(strategy)
        if s is None:
            return None
        grades = s.get("grades") or {}
    return grades.get("exact")


def units(results, src, cluster_of):
    """{(case, prompt index, epoch): {model: entry}} plus checks of the numbering."""
    out = {}
    for r in results:
        case, rest = divmod(r["idx"], len(PROMPTS) * EPOCHS)
        v, e = divmod(rest, EPOCHS)
        assert r["id"] == src[case]["id"], r["idx"]
        assert r["prompt"] == PROMPTS[v] and r["epoch"] == e, (r["idx"], r["prompt"], r["epoch"])
        assert r["cluster"] == cluster_of[r["id"]], r
        out[(case, v, e)] = {m["model"]: m for m in r["models"]}
    return out


def check_interval(got, obs, what):
    """got: an object with accuracy, ci95, interval; obs: [(cluster, 0/1)]."""
    mean, se = clustered_se(obs)
    assert got["interval"] == "clustered", (what, got["interval"])
    close(got["accuracy"], mean, what + " accuracy")
    close(got["ci95"][0], max(0.0, mean - Z * se), what + " ci low")
    close(got["ci95"][1], min(1.0, mean + Z * se), what + " ci high")


def check_matrix(rep, u, cl):
    cells = rep["experiment"]["matrix"]
    assert [(c["prompt"], c["model"]) for c in cells] == [
        (p, m) for p in PROMPTS for m in ("strong", "weak")]
    best = max(range(len(cells)), key=lambda i: (cells[i]["accuracy"], -i))
    assert [c["best"] for c in cells] == [i == best for i in range(len(cells))]
    for cell in cells:
        v = PROMPTS.index(cell["prompt"])
        vs = [(cl[case], verdict(ms[cell["model"]])) for (case, pv, _), ms in u.items() if pv == v]
        assert cell["correct"] == sum(x == "correct" for _, x in vs), cell
        assert cell["wrong"] == sum(x == "wrong" for _, x in vs), cell
        check_interval(cell, [(c, x == "correct") for c, x in vs if x in ("correct", "wrong")],
                       "cell %s/%s" % (cell["prompt"], cell["model"]))


def check_models(rep, u, cl, n_cand):
    for m in rep["experiment"]["models"]:
        name = m["model"]
        obs = [(cl[case], verdict(ms[name]) == "correct") for (case, _, _), ms in sorted(u.items())
               if verdict(ms[name]) in ("correct", "wrong")]
        check_interval(m, obs, name)
        for e in range(EPOCHS):
            vs = [verdict(ms[name]) for (_, _, pe), ms in u.items() if pe == e]
            k, n = sum(x == "correct" for x in vs), sum(x in ("correct", "wrong") for x in vs)
            close(m["per_epoch"][e], k / n, "%s epoch %d" % (name, e))
        groups = {}
        for (case, v, e), ms in u.items():
            groups.setdefault((case, v), []).append(ms[name])
        agree = [len({verdict(x) for x in g}) == 1 for g in groups.values()]
        assert m["agreement"]["groups"] == len(agree) and m["agreement"]["unanimous"] == sum(agree)
        samples = n_cand[name] * EPOCHS
        if samples == 1:
            assert "pass_at_k" not in m
            continue
        cs = [sum(c["grades"].get("exact") == "correct" for x in g for c in x["candidates"])
              for g in groups.values()]
        pk = m["pass_at_k"]
        assert pk["samples"] == samples and pk["groups"] == len(cs), pk
        for k in range(1, samples + 1):
            close(pk["values"][k - 1], sum(pass_at_k(samples, c, k) for c in cs) / len(cs),
                  "%s pass@%d" % (name, k), 1e-12)
        assert pk["values"][0] < pk["values"][-1], pk


def check_diff(d, pairs, what):
    """pairs: [(cluster, a correct, b correct)] on the pairs both were graded on."""
    a = sum(x and y for _, x, y in pairs)
    b = sum(x and not y for _, x, y in pairs)
    c = sum(y and not x for _, x, y in pairs)
    assert (d["pairs"], d["both_correct"], d["only_a"], d["only_b"]) == (len(pairs), a, b, c), \
        (what, d)
    close(d["mcnemar_p"], mcnemar_exact(b, c), what + " McNemar p", 1e-12)
    mean, se = clustered_se([(cl, int(x) - int(y)) for cl, x, y in pairs])
    assert d["method"] == "clustered", (what, d["method"])
    close(d["difference"], mean, what + " difference")
    close(d["ci95"][0], mean - Z * se, what + " ci low")
    close(d["ci95"][1], mean + Z * se, what + " ci high")


def graded_pair(x, y):
    return x in ("correct", "wrong") and y in ("correct", "wrong")


def check_differences(rep, u, cl):
    diffs = rep["experiment"]["differences"]
    [mp] = diffs["models"]
    assert (mp["a"], mp["b"]) == ("strong", "weak")
    pairs = [(cl[case], verdict(ms["strong"]) == "correct", verdict(ms["weak"]) == "correct")
             for (case, _, _), ms in u.items() if graded_pair(verdict(ms["strong"]), verdict(ms["weak"]))]
    check_diff(mp, pairs, "strong - weak")
    close(mp["holm_p"], mp["mcnemar_p"], "one model pair: Holm changes nothing")
    want = [(PROMPTS[i], PROMPTS[j]) for i in range(3) for j in range(i + 1, 3)]
    assert [(d["a"], d["b"]) for d in diffs["prompts"]] == want
    for d in diffs["prompts"]:
        i, j = PROMPTS.index(d["a"]), PROMPTS.index(d["b"])
        pairs = []
        for (case, v, e), ms in sorted(u.items()):
            if v != i:
                continue
            other = u[(case, j, e)]
            for m in ("strong", "weak"):
                x, y = verdict(ms[m]), verdict(other[m])
                if graded_pair(x, y):
                    pairs.append((cl[case], x == "correct", y == "correct"))
        check_diff(d, pairs, "prompts %s - %s" % (d["a"], d["b"]))
    for d, h in zip(diffs["prompts"], holm([d["mcnemar_p"] for d in diffs["prompts"]])):
        close(d["holm_p"], h, "Holm of %s - %s" % (d["a"], d["b"]), 1e-12)
    strong = [d for d in diffs["strategies"] if d["model"] == "strong"]
    assert {d["a"] for d in strong} >= {"majority", "oracle"} and all(d["b"] == "first" for d in strong)
    for d in strong:
        pairs = [(cl[case], verdict(ms["strong"], d["a"]) == "correct",
                  verdict(ms["strong"]) == "correct")
                 for (case, _, _), ms in u.items()
                 if graded_pair(verdict(ms["strong"], d["a"]), verdict(ms["strong"]))]
        check_diff(d, pairs, "strong %s - first" % d["a"])
    for d, h in zip(strong, holm([d["mcnemar_p"] for d in strong])):
        close(d["holm_p"], h, "Holm of strategy %s" % d["a"], 1e-12)


def check_rendered(run_dir, rep):
    md = open(os.path.join(run_dir, "report.md")).read()
    assert "## Prompts x models" in md and "## Paired differences" in md, md[:2000]
    best = next(c for c in rep["experiment"]["matrix"] if c["best"])
    assert "**%.1f%%" % (100 * best["accuracy"]) in md, best
    html = open(os.path.join(run_dir, "report.html")).read()
    assert 'id="table-matrix"' in html and 'id="table-differences"' in html
    assert html.count("heat best") == 1, "exactly one best cell"


def experiment_run(sb):
    path, src = write_dataset(sb, 40)
    cluster_of = {json.loads(l)["id"]: json.loads(l)["passage"] for l in open(path)}
    cfg = sb.write("exp.yaml", CONFIG % {"dataset": path})
    r = sb.run([R, "run", cfg, "--out", sb.path("runs")], check=0)
    assert "3 prompts x 3 epochs: 360 cases in all" in r.stdout, r.stdout[-2000:]
    run_dir = rslib.run_dir_from_output(r.stdout, sb.dir)
    results = rslib.read_jsonl(os.path.join(run_dir, "results.jsonl"))
    assert len(results) == 40 * 3 * 3
    assert [x["idx"] for x in results] == list(range(360))
    rep = rslib.load_report(run_dir)
    ex = rep["experiment"]
    assert ex["prompts"] == PROMPTS and ex["epochs"] == EPOCHS, ex
    assert (rep["dataset"]["cases"], rep["dataset"]["units"]) == (40, 360), rep["dataset"]
    assert ex["clusters"] == {"by": "field", "field": "passage", "count": len(set(cluster_of.values()))}
    u = units(results, src, cluster_of)
    cl = {case: cluster_of[src[case]["id"]] for case in range(len(src))}
    check_matrix(rep, u, cl)
    check_models(rep, u, cl, {"strong": 3, "weak": 1})
    check_differences(rep, u, cl)
    check_rendered(run_dir, rep)
    # epochs are different samples: some case's verdict changes between epochs
    assert any(m["agreement"]["unanimous"] < m["agreement"]["groups"] for m in ex["models"])
    run_id = os.path.basename(run_dir)
    t = sb.run([R, "trace", run_id, src[4]["id"], "--prompt", "terse", "--epoch", "1", "--out",
                sb.path("runs")], check=0)
    unit = (4 * 3 + 1) * 3 + 1
    assert t.stdout.startswith("case %s (index %d, prompt terse, epoch 1)" % (src[4]["id"], unit)), \
        t.stdout[:300]
    assert "Q: " + src[4]["question"][:20] in t.stdout, t.stdout  # the terse prompt's text
    bad = sb.run([R, "trace", run_id, src[4]["id"], "--epoch", "3", "--out", sb.path("runs")])
    assert bad.returncode == 2 and "epochs 0 to 2" in bad.stderr, bad.stderr
    cmp = sb.run([R, "compare", run_id, "--out", sb.path("runs"), "--json", "-"], check=0)
    ranked = {(x["model"], x["strategy"]) for x in json.loads(cmp.stdout)["ranking"]}
    assert {("strong @ %s" % p, "first") for p in PROMPTS} <= ranked, ranked
    assert json.loads(cmp.stdout)["shared_cases"] == 40 * EPOCHS
    before = open(os.path.join(run_dir, "report.json"), "rb").read()
    os.unlink(os.path.join(run_dir, "report.json"))
    sb.run([R, "report", os.path.basename(run_dir), "--out", sb.path("runs")], check=0)
    assert open(os.path.join(run_dir, "report.json"), "rb").read() == before, \
        "report rebuilt from Redis differs from the folded one"
    print("ok: 360 units; matrix, epochs, pass@k, clustered differences and Holm as recomputed")
    return cfg, ex


def killed_and_resumed(sb, cfg, straight):
    """kill -9 in the middle of the experiment, then resume: the same experiment section as the
    run that went straight through, and `report` rebuilds it byte for byte."""
    slow = ["--set", "models.0.params.latency_ms=100", "--set", "models.1.params.latency_ms=100",
            "--set", "cluster.worker_slots=8", "--set", "cluster.worker_backlog=0"]
    coord = sb.spawn([R, "run", cfg, "--out", sb.path("killed")] + slow,
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    rslib.wait_for(lambda: faultlib.done(sb, "killed") >= 100, 60, "100 units")
    os.kill(coord.pid, signal.SIGKILL)
    coord.wait()
    run_dir = rslib.only_run_dir(sb.path("killed"))
    run_id = os.path.basename(run_dir)
    assert faultlib.done(sb, "killed") < 360, "the run finished before the kill"
    sb.run([R, "resume", run_id, "--out", sb.path("killed"), "--quiet"], check=0)
    rep = rslib.load_report(run_dir)
    assert rep["reliability"]["resumes"] == 1
    assert rep["experiment"] == straight, "the resumed experiment differs from the straight one"
    before = open(os.path.join(run_dir, "report.json"), "rb").read()
    os.unlink(os.path.join(run_dir, "report.json"))
    sb.run([R, "report", run_id, "--out", sb.path("killed")], check=0)
    assert open(os.path.join(run_dir, "report.json"), "rb").read() == before
    print("ok: killed with kill -9 and resumed: the same experiment, rebuilt byte for byte")


def plain_run(sb):
    path, _ = write_dataset(sb, 200)
    cfg = sb.write("plain.yaml", PLAIN % {"dataset": path})
    r = sb.run([R, "run", cfg, "--out", sb.path("plain")], check=0)
    run_dir = rslib.run_dir_from_output(r.stdout, sb.dir)
    results = rslib.read_jsonl(os.path.join(run_dir, "results.jsonl"))
    assert all("prompt" not in x and "epoch" not in x and "cluster" not in x for x in results)
    rep = rslib.load_report(run_dir)
    ex = rep["experiment"]
    assert rep["dataset"]["cases"] == 200 and "units" not in rep["dataset"], rep["dataset"]
    assert "matrix" not in ex and ex["clusters"]["by"] == "case", ex["clusters"]
    [d] = ex["differences"]["models"]
    vs = [({m["model"]: verdict(m) for m in x["models"]}) for x in results]
    vs = [v for v in vs if graded_pair(v["a"], v["b"])]
    a = sum(v["a"] == v["b"] == "correct" for v in vs)
    b = sum(v["a"] == "correct" != v["b"] for v in vs)
    c = sum(v["b"] == "correct" != v["a"] for v in vs)
    dd = len(vs) - a - b - c
    assert d["method"] == "newcombe", d
    diff, lo, hi = newcombe(a, b, c, dd)
    close(d["difference"], diff, "difference")
    close(d["ci95"][0], lo, "Newcombe low")
    close(d["ci95"][1], hi, "Newcombe high")
    m = ex["models"][0]
    assert m["interval"] == "wilson"
    lo, hi = wilson(m["correct"], m["units"])
    close(m["ci95"][0], lo, "Wilson low")
    close(m["ci95"][1], hi, "Wilson high")
    print("ok: one prompt, one epoch: Newcombe's interval and Wilson's, as recomputed")


def mock_epochs(sb):
    """Epoch 1 sends seed = run.seed + 1, the mock answers from it, and the cache answers a second
    run's epochs each with its own reply."""
    path, _ = write_dataset(sb, 30)
    log = sb.path("requests.jsonl")
    mock = Mock(sb, "--log-requests", log, "--quiet")
    cfg = sb.write("mock.yaml", MOCK % {"dataset": path, "port": mock.port})
    outs = []
    for out in ("mockruns", "mockruns"):  # one out dir: one private cache
        r = sb.run([R, "run", cfg, "--out", sb.path(out)], check=0)
        run_dir = rslib.run_dir_from_output(r.stdout, sb.dir)
        outs.append(rslib.read_jsonl(os.path.join(run_dir, "results.jsonl")))
    bodies = [json.loads(line)["body"] for line in open(log)]
    seeds = sorted(b.get("seed") is None and -1 or b["seed"] for b in bodies)
    assert seeds == [-1] * 30 + [6] * 30, seeds  # the second run asked nothing: all cached
    first, second = outs
    text = lambda rec: rec["models"][0]["candidates"][0]["output"]  # noqa: E731
    assert [text(a) for a in first] == [text(b) for b in second]
    assert all(b["models"][0]["candidates"][0].get("cached") for b in second)
    by_epoch = {}
    for rec in first:
        by_epoch.setdefault(rec["id"], {})[rec["epoch"]] = text(rec)
    assert any(e[0] != e[1] for e in by_epoch.values()), "epochs answered alike"
    print("ok: through the mock, epoch 1 sends seed 6 and is answered from it; cached apart")


def main():
    with rslib.Sandbox() as sb:
        cfg, straight = experiment_run(sb)
        killed_and_resumed(sb, cfg, straight)
        plain_run(sb)
        mock_epochs(sb)


if __name__ == "__main__":
    main()
