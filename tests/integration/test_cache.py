"""The response cache through real runs against reasonsaver-mockllm (its /stats request counts):

- a second identical run makes no model request at all, its records mark every answer and
  critique "cached" (and its spans reasonsaver.cached), its report equals the first's apart from
  timing and the cache counters, and the live counters (status) count the hits;
- changing only the judge's prompt re-uses every generation: the generator's mock gets no request,
  the judge's mock exactly one per critique, and the generation verdicts are equal;
- --no-cache makes every request again and marks nothing;
- errors are never cached: with 500s and truncated bodies (no retries), a second run asks again
  for exactly the calls that failed the first time, and only for those;
- a private cache server that does not start (a redis-server that refuses the cache directory)
  leaves the run uncached with one warning, and the run itself completes: the cache never fails
  a run, now that its server starts beside the run's own and is waited for later;
- `reasonsaver estimate` counts the generation calls the cache would answer, making no model
  request: none before the first run (and no cache directory made), all after it, all but the
  failed ones after the faulty run (so its keys are exactly the worker's), and none looked up when
  the run would not read the cache.

The cache here is the default one: a private redis-server in <out>/cache/, kept across runs."""
import json
import os
import shutil
import stat
import sys

sys.path.insert(0, os.path.dirname(__file__))
import rslib  # noqa: E402
from test_mockllm import Mock  # noqa: E402

CASES = 60
CONFIG = """
run: {name: %(name)s, seed: 5}
dataset: {path: cases.jsonl, limit: %(cases)d}
models:
  - {name: solver, provider: openai, model: sim-1, n: 2, mock: true, max_retries: %(retries)d,
     retry_base_ms: 10, base_url: "http://127.0.0.1:%(gen)d/v1", params: {temperature: 0.7},
     prices: {input: 1.5, output: 6}}
%(judge_model)s
%(judges)s
scoring: {graders: [exact%(judge_grader)s]}
cluster: {workers: 2}
report: {formats: [json, markdown, jsonl]}
"""
JUDGE_MODEL = """  - {name: checker, provider: openai, model: sim-1, mock: true,
     base_url: "http://127.0.0.1:%d/v1"}"""
JUDGES = """judges:
  - name: j
    model: checker
    template: "%s"
"""
PROMPT_A = "Review the answer.\\n\\nQuestion:\\n{{question}}\\n\\nAnswer:\\n{{answer}}\\n\\nEnd with Verdict: Y or N."
PROMPT_B = "Be strict. Question: {{question}} Answer: {{answer}} Last line: Verdict: Y or N."
# What a cache hit changes by nature: timing, and the counters of the cache itself.
DROP = rslib.TIMING_KEYS | {"cache", "cost_usd", "cached"}


def config(sb, name, gen, judge=None, prompt=PROMPT_A, retries=3):
    return sb.write(name + ".yaml", CONFIG % {
        "name": name, "cases": CASES, "gen": gen.port, "retries": retries,
        "judge_model": JUDGE_MODEL % judge.port if judge else "",
        "judges": JUDGES % prompt if judge else "",
        "judge_grader": ", {type: judge, judge: j}" if judge else ""})


def run(sb, cfg, out, *extra):
    r = sb.run([rslib.REASONSAVER, "run", cfg, "--out", sb.path(out)] + list(extra), check=0)
    run_dir = rslib.run_dir_from_output(r.stdout, sb.dir)
    recs = rslib.read_jsonl(os.path.join(run_dir, "results.jsonl"))
    return run_dir, recs, rslib.load_report(run_dir), r


def requests(mock):
    return mock.stats()["by_endpoint"].get("/v1/chat/completions", 0)


def answers(recs):
    """Every answer and critique of the records, with the model that gave it."""
    for r in recs:
        for m in r["models"]:
            for c in m["candidates"]:
                yield m["model"], "generate", c
                for x in c.get("critiques", []):
                    yield x["model"], "critique", x


def cache_of(rep):
    return {m["name"]: m["cache"] for m in rep["models"]}


def spans_cached(recs):
    """(call spans marked cached, call spans) over the records."""
    marked = total = 0
    for r in recs:
        for s in r["spans"]:
            if s["name"] in ("generate", "critique", "revise"):
                total += 1
                marked += s["attributes"].get("reasonsaver.cached") is True
    return marked, total


def estimate(sb, cfg, out, *extra):
    """The estimate's JSON for cfg with its cache in <out>/cache."""
    r = sb.run([rslib.REASONSAVER, "estimate", cfg, "--json", "--set",
                "run.out_dir=" + sb.path(out)] + list(extra), check=0)
    return json.loads(r.stdout)


def cached_calls(est):
    """{model: (generation calls, those the cache would answer)} of an estimate."""
    return {r["model"]: (r["calls"], r.get("cached_calls")) for r in est["rows"]
            if r["stage"] == "generate"}


def identical_run(sb, gen, judge):
    cfg = config(sb, "same", gen, judge)
    est = estimate(sb, cfg, "runs")
    assert est["cache"]["looked_up"] is False and "empty" in est["cache"]["why"], est["cache"]
    assert not os.path.exists(sb.path("runs/cache")), "the estimate made the cache's directory"
    d1, recs1, rep1, r1 = run(sb, cfg, "runs")
    assert "cache    private (" in r1.stdout, r1.stdout
    critiques = sum(1 for _, stage, _ in answers(recs1) if stage == "critique")
    assert critiques == 3 * CASES, critiques  # solver's 2 candidates and checker's 1, one judge
    g1, j1 = requests(gen), requests(judge)
    assert g1 == CASES, g1  # one request with n=2 choices per case
    assert j1 == CASES + critiques, j1
    assert not any("cached" in a for _, _, a in answers(recs1)), "a first run marked a hit"
    assert cache_of(rep1) == {"solver": {"hits": 0, "misses": 2 * CASES, "saved_usd": 0.0},
                              "checker": {"hits": 0, "misses": CASES + critiques,
                                          "saved_usd": 0.0}}, cache_of(rep1)

    est = estimate(sb, cfg, "runs")
    assert (requests(gen), requests(judge)) == (g1, j1), "the estimate made model requests"
    assert cached_calls(est) == {"solver": (CASES, CASES), "checker": (CASES, CASES)}, est
    assert est["cache"]["generate_calls"] == est["cache"]["cached_calls"] == 2 * CASES, est
    text = sb.run([rslib.REASONSAVER, "estimate", cfg, "--set", "run.out_dir=" + sb.path("runs")],
                  check=0).stdout
    assert "%d of %d generation calls would be answered" % (CASES, CASES) in text, text
    est = estimate(sb, cfg, "runs", "--set", "cache.mode=write")
    assert est["cache"]["looked_up"] is False and "cache.mode=write" in est["cache"]["why"], est

    d2, recs2, rep2, r2 = run(sb, cfg, "runs")
    assert (requests(gen), requests(judge)) == (g1, j1), "the second run made model requests"
    assert all(a.get("cached") is True for _, _, a in answers(recs2)), "an answer not from cache"
    marked, total = spans_cached(recs2)
    assert marked == total > 0, (marked, total)
    assert [rslib.untimed(r, DROP) for r in recs1] == [rslib.untimed(r, DROP) for r in recs2]
    for key in ("models", "tags", "judges", "strategies", "pool"):
        if key in rep1:
            assert rslib.untimed(rep1[key], DROP) == rslib.untimed(rep2[key], DROP), key
    c2 = cache_of(rep2)
    assert c2["solver"]["hits"] == 2 * CASES and c2["solver"]["misses"] == 0, c2
    assert c2["checker"]["hits"] == CASES + critiques and c2["checker"]["misses"] == 0, c2
    # what the hits would have cost is what the first run paid; the second paid nothing
    s1, s2 = rep1["models"][0], rep2["models"][0]
    assert s1["cost_usd"] > 0 and s2["cost_usd"] == 0, (s1["cost_usd"], s2["cost_usd"])
    assert abs(c2["solver"]["saved_usd"] - s1["cost_usd"]) < 1e-9, (c2, s1["cost_usd"])
    assert s1["input_tokens"] == s2["input_tokens"], "tokens of the answers are the same"
    with open(os.path.join(d2, "report.md")) as f:
        assert "### Response cache" in f.read()
    # the live counters: hits are not calls
    st = rslib.status_json(sb, sb.path("runs"), os.path.basename(d2))
    u = st["usage"]["solver"]
    assert u["calls"] == 0 and u["cache_hits"] == CASES and u["cache_misses"] == 0, u
    # the rebuilt report (from Redis) equals the folded one byte for byte
    with open(os.path.join(d2, "report.json"), "rb") as f:
        folded = f.read()
    sb.run([rslib.REASONSAVER, "report", os.path.basename(d2), "--out", sb.path("runs")], check=0)
    with open(os.path.join(d2, "report.json"), "rb") as f:
        assert f.read() == folded, "report rebuilt from Redis differs from the folded one"
    return recs1, rep1


def judge_prompt_changed(sb, gen, judge, recs1, rep1):
    """Only the judge's prompt differs: every generation comes from the cache."""
    g0, j0 = requests(gen), requests(judge)
    cfg = config(sb, "newjudge", gen, judge, prompt=PROMPT_B)
    _, recs, rep, _ = run(sb, cfg, "runs")
    critiques = sum(1 for _, stage, _ in answers(recs) if stage == "critique")
    assert requests(gen) - g0 == 0, "generations were requested again"
    assert requests(judge) - j0 == critiques == 3 * CASES, (requests(judge) - j0, critiques)
    for model, stage, a in answers(recs):
        assert (a.get("cached") is True) == (stage == "generate"), (model, stage, a.get("cached"))
    gen_of = lambda rs: [[(c["output"], c["grades"]["exact"]) for m in r["models"]  # noqa: E731
                          for c in m["candidates"]] for r in rs]
    assert gen_of(recs) == gen_of(recs1), "generation verdicts differ"
    exact = lambda rp: [[g for g in m["graders"] if g["name"] == "exact"] for m in rp["models"]]  # noqa: E731
    assert exact(rep) == exact(rep1), (exact(rep), exact(rep1))
    c = cache_of(rep)
    assert c["checker"] == {"hits": CASES, "misses": critiques,
                            "saved_usd": c["checker"]["saved_usd"]}, c


def no_cache(sb, gen, judge):
    g0, j0 = requests(gen), requests(judge)
    cfg = config(sb, "same", gen, judge)
    _, recs, rep, r = run(sb, cfg, "runs", "--no-cache")
    assert "cache    off" in r.stdout, r.stdout
    assert requests(gen) - g0 == CASES and requests(judge) - j0 == 4 * CASES, "--no-cache"
    assert not any("cached" in a for _, _, a in answers(recs)), "--no-cache marked a hit"
    assert cache_of(rep)["solver"]["hits"] == 0, cache_of(rep)


def errors_not_cached(sb):
    """500s and cut bodies, never retried: the second run asks for exactly what failed."""
    faulty = Mock(sb, "--accuracy", "0.7", "--seed", "1", "--quiet", "--rate-500", "0.15",
                  "--rate-truncate", "0.15", "--fault-seed", "9")
    cfg = config(sb, "faulty", faulty, retries=0)
    _, recs1, _, _ = run(sb, cfg, "faulty")
    failed = [r["id"] for r in recs1 if r["models"][0]["error"]]
    types = {r["models"][0]["error_type"] for r in recs1 if r["models"][0]["error"]}
    assert len(failed) >= 5 and {"http_500", "bad_response"} <= types, (len(failed), types)
    before = requests(faulty)
    est = estimate(sb, cfg, "faulty")
    assert requests(faulty) == before, "the estimate made model requests"
    assert cached_calls(est) == {"solver": (CASES, CASES - len(failed))}, (est, len(failed))
    _, recs2, _, _ = run(sb, cfg, "faulty")
    assert requests(faulty) - before == len(failed), (requests(faulty) - before, len(failed))
    for a, b in zip(recs1, recs2):
        hit = all(c.get("cached") is True for c in b["models"][0]["candidates"])
        assert hit == (a["models"][0]["error"] is None), (a["id"], a["models"][0]["error"])
    return len(failed)


def cache_server_fails(sb, gen):
    """A redis-server that starts the run's own server but refuses the cache's."""
    shim = sb.path("shim")
    os.makedirs(shim, exist_ok=True)
    real = shutil.which("redis-server")
    script = sb.write("shim/redis-server", "#!/bin/sh\n"
                      'case "$*" in *"/cache/redis.sock"*) echo "no cache today" >&2; exit 1;; esac\n'
                      'exec %s "$@"\n' % real)
    os.chmod(script, os.stat(script).st_mode | stat.S_IXUSR)
    g0 = requests(gen)
    cfg = config(sb, "nocachesrv", gen)
    r = sb.run([rslib.REASONSAVER, "run", cfg, "--out", sb.path("refused")], check=0,
               env=dict(os.environ, PATH=shim + os.pathsep + os.environ["PATH"]))
    want = "response cache: redis-server did not start; see %s" % sb.path("refused", "cache")
    assert want in r.stderr and "running without the cache" in r.stderr, r.stderr
    assert "cache    off" in r.stdout, r.stdout
    run_dir = rslib.run_dir_from_output(r.stdout, sb.dir)
    recs = rslib.read_jsonl(os.path.join(run_dir, "results.jsonl"))
    assert len(recs) == CASES and requests(gen) - g0 == CASES, (len(recs), requests(gen) - g0)
    assert not any("cached" in a for _, _, a in answers(recs)), "a hit without a cache"


def main():
    with rslib.Sandbox() as sb:
        sb.run([rslib.REASONSAVER, "datasets", "gen", "arithmetic", "--n", str(CASES), "--seed",
                "3", "--out", sb.path("cases.jsonl")], check=0)
        gen = Mock(sb, "--accuracy", "0.7", "--seed", "1", "--quiet")
        judge = Mock(sb, "--accuracy", "0.6", "--seed", "2", "--quiet")
        recs1, rep1 = identical_run(sb, gen, judge)
        judge_prompt_changed(sb, gen, judge, recs1, rep1)
        no_cache(sb, gen, judge)
        cache_server_fails(sb, gen)
        failed = errors_not_cached(sb)
    print("ok: a second run made no request, a new judge prompt re-used every generation, "
          "--no-cache asked again, a cache server that did not start left the run uncached, %d failed "
          "calls were not cached" % failed)


if __name__ == "__main__":
    main()
