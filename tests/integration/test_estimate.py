"""`reasonsaver estimate` against a real run through reasonsaver-mockllm: two models (one with
n = 3 in one OpenAI request), a judge, two revision rounds and the remote embedder. The estimate's
calls per stage equal the requests the mock received (/stats: chat completions and embeddings,
less the embeddings the response cache answered: two cases can have the same texts to embed, and
whether the second finds the first's answer cached depends on timing);
per model and stage the run's input tokens lie between the estimate's input tokens and its input
max (the mock bills ceil(bytes / 4), the estimate's own count, so the factor is 1), its output
tokens are at most the output max, and the report's cost lies within the estimate's range.
`run --estimate` prints the same and runs nothing; errors are usage errors (exit 2)."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import rslib  # noqa: E402
from test_mockllm import Mock  # noqa: E402

CASES = 60
CONFIG = """
run: {name: est, seed: 2}
dataset: {path: cases.jsonl}
models:
  - {name: m, provider: openai, model: sim-1, n: 3, mock: true, base_url: "%(url)s",
     max_retries: 2, retry_base_ms: 10, params: {max_tokens: 64}, prices: {input: 2.5, output: 10}}
  - {name: c, provider: openai, model: sim-2, mock: true, base_url: "%(url)s",
     max_retries: 2, retry_base_ms: 10, params: {max_tokens: 80}, prices: {input: 1, output: 5}}
judges: [{name: j, model: c}]
revise: {rounds: 2}
embedder: {type: openai, model: emb, base_url: "%(url)s", max_retries: 2, retry_base_ms: 10}
cluster: {workers: 2}
report: {formats: [json, jsonl]}
"""


def estimate(sb, *extra, check=0):
    r = sb.run([rslib.REASONSAVER, "estimate", sb.path("est.yaml"), "--json"] + list(extra),
               check=check)
    return json.loads(r.stdout) if check == 0 else r


def main():
    with rslib.Sandbox() as sb:
        sb.run([rslib.REASONSAVER, "datasets", "gen", "arithmetic", "--n", str(CASES), "--seed",
                "6", "--out", sb.path("cases.jsonl")], check=0)
        mock = Mock(sb, "--accuracy", "0.6", "--seed", "2", "--quiet")
        sb.write("est.yaml", CONFIG % {"url": "http://127.0.0.1:%d/v1" % mock.port})

        est = estimate(sb)
        assert est["cases"] == CASES and est["tokens"] == "bytes/4", est
        rows = {(r["model"], r["stage"]): r for r in est["rows"]}
        # per case: m's 3 candidates in one request, c's 1; j (model c) critiques the 4
        # generations and the 4 first revisions; 4 x 2 revisions; one embeddings call
        want = {("m", "generate"): 1, ("c", "generate"): 1, ("c", "critique"): 8,
                ("m", "revise"): 6, ("c", "revise"): 2, ("embedder", "embed"): 1}
        assert {k: r["calls"] for k, r in rows.items()} == {k: v * CASES for k, v in want.items()}
        assert mock.stats()["requests"] == 0  # the estimate contacted nothing

        text = sb.run([rslib.REASONSAVER, "run", sb.path("est.yaml"), "--estimate"], check=0).stdout
        assert "critique" in text and "{:,}".format(8 * CASES) in text, text
        assert not os.path.exists(sb.path("runs")), "run --estimate ran something"

        sb.run([rslib.REASONSAVER, "run", sb.path("est.yaml"), "--quiet", "--out", sb.path("out")],
               check=0)
        run_dir = rslib.only_run_dir(sb.path("out"))
        rep = rslib.load_report(run_dir)
        st = mock.stats()
        chat = sum(r["calls"] for k, r in rows.items() if k[1] != "embed")
        cached = sum(1 for r in rslib.read_jsonl(os.path.join(run_dir, "results.jsonl"))
                     if r["embedding"].get("cached"))
        embeds = rows[("embedder", "embed")]["calls"] - cached
        # A case handed out again (a lease that expired on a loaded machine) makes its calls
        # again: the mock then counts more than one run's worth, never fewer.
        same = (lambda a, b: a == b) if rep["reliability"]["redone_cases"] == 0 else \
            (lambda a, b: a >= b)
        assert same(st["by_endpoint"]["/v1/chat/completions"], chat), (st, chat, rep["reliability"])
        assert same(st["by_endpoint"]["/v1/embeddings"], embeds), (st, embeds, rep["reliability"])
        assert st["by_status"] == {"200": st["requests"]}, st

        for m in rep["models"]:
            for stage, got in m["stages"].items():
                e = rows.get((m["name"], stage))
                if not e:
                    assert got["outputs"] == 0, (m["name"], stage, got)
                    continue
                assert e["input_tokens"] <= got["input_tokens"] <= e["input_tokens_max"], \
                    (m["name"], stage, got, e)
                assert got["output_tokens"] <= e["output_tokens_max"], (m["name"], stage, got, e)
        emb = rows[("embedder", "embed")]
        assert rep["embedder"]["input_tokens"] <= emb["input_tokens_max"], (rep["embedder"], emb)
        cost = sum(m["cost_usd"] for m in rep["models"])
        assert est["total"]["cost_usd_min"] <= cost <= est["total"]["cost_usd_max"], (cost, est["total"])

        r = estimate(sb, "--set", "dataset.path=missing.jsonl", check=2)
        assert "missing.jsonl" in r.stderr, r.stderr
        assert sb.run([rslib.REASONSAVER, "estimate", "--help"], check=0).stdout.startswith("usage")
    print("ok")


if __name__ == "__main__":
    main()
