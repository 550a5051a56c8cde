"""The openai embedder, end to end through reasonsaver-mockllm's /v1/embeddings: the worker embeds
each case's candidates and targets in one call, and the embed_sim verdicts and the consensus picks
equal an independent computation with the mock's embedding (recomputed here from its definition in
tests/mockllm/api.c). Under 500s the calls are retried and the results do not change; without the
key the run completes with embed_sim errors that name the variable; the key appears nowhere."""
import json
import math
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
import rslib  # noqa: E402
import xxhash  # noqa: E402  (python3-xxhash)
from test_mockllm import Mock  # noqa: E402

KEY = "rs-embed-key-9d1e77"
CASES, N, DIM, THRESHOLD = 60, 4, 64, 0.4
CONFIG = """
run: {name: %(name)s, seed: 3}
dataset: {path: %(dataset)s, limit: %(cases)d}
models:
  - {name: gen, provider: sim, model: sim-1, n: %(n)d, params: {accuracy: 0.6}}
scoring: {graders: [exact, {type: embed_sim, threshold: %(threshold)s}]}
ranking: [first, consensus]
embedder: {type: openai, model: emb-test, base_url: "http://127.0.0.1:%(port)d/v1",
           api_key_env: RS_TEST_EMBED_KEY, timeout_ms: 5000, max_retries: 12,
           retry_base_ms: 10, retry_cap_ms: 100}
cluster: {workers: 2}
report: {formats: [json, markdown, jsonl]}
"""


def mock_vector(text):
    """mock_embed_text: words of [0-9A-Za-z] and bytes >= 0x80, lowercased, XXH64-hashed into
    DIM signed buckets, L2-normalised."""
    v = [0.0] * DIM
    data = bytes(b + 32 if 65 <= b <= 90 else b for b in text.encode())
    word = bytearray()
    for b in data + b" ":
        if (48 <= b <= 57) or (97 <= b <= 122) or (65 <= b <= 90) or b >= 0x80:
            word.append(b)
        elif word:
            h = xxhash.xxh64_intdigest(bytes(word), 0)
            v[h % DIM] += -1.0 if h >> 63 else 1.0
            word = bytearray()
    norm = math.sqrt(sum(x * x for x in v))
    return [x / norm for x in v] if norm else v


def dot(a, b):
    return sum(x * y for x, y in zip(a, b))


def medoid(vecs):
    totals = [sum(dot(v, w) for j, w in enumerate(vecs) if j != i) for i, v in enumerate(vecs)]
    best = max(totals)
    ties = [i for i, t in enumerate(totals) if best - t <= 1e-6 * (1 + abs(best))]
    return ties[0], len(ties) > 1 or any(0 < best - t <= 1e-3 for t in totals)


def run(sb, name, port, env_key=KEY, *mock_args):
    cfg = sb.write(name + ".yaml", CONFIG % {
        "name": name, "dataset": os.path.join(rslib.SRC, "datasets", "demo.jsonl"),
        "cases": CASES, "n": N, "threshold": THRESHOLD, "port": port})
    env = dict(os.environ)
    env.pop("RS_TEST_EMBED_KEY", None)
    if env_key:
        env["RS_TEST_EMBED_KEY"] = env_key
    sb.run([rslib.REASONSAVER, "run", cfg, "--quiet", "--out", sb.path(name)], env=env,
               check=0, timeout=120)
    run_dir = rslib.only_run_dir(sb.path(name))
    return run_dir, rslib.read_jsonl(os.path.join(run_dir, "results.jsonl"))


def check_against_mock(records):
    """Every embed_sim verdict and consensus pick equals the recomputation (float32 rounding
    aside: values within 1e-3 of the threshold or of a tie are not judged)."""
    judged = 0
    for rec in records:
        m = rec["models"][0]
        emb = rec["embedding"]
        assert emb["error"] is None and emb["dim"] == DIM, emb
        outputs = [c["output"] for c in m["candidates"]]
        assert emb["inputs"] == sum(o is not None for o in outputs) + len(rec["targets"]), emb
        targets = [mock_vector(t) for t in rec["targets"]]
        vecs = []
        for c in m["candidates"]:
            if c["output"] is None:
                continue
            v = mock_vector(c["output"])
            vecs.append((c["k"], v))
            sim = max(dot(v, t) for t in targets)
            if abs(sim - THRESHOLD) > 1e-3:
                want = "correct" if sim >= THRESHOLD else "wrong"
                assert c["grades"]["embed_sim"] == want, (rec["id"], c["k"], sim, c["grades"])
                judged += 1
        i, close = medoid([v for _, v in vecs])
        if not close:
            assert m["strategies"]["consensus"]["k"] == vecs[i][0], (rec["id"], m["strategies"])
    assert judged > CASES * N // 2, "too few verdicts away from the threshold: %d" % judged


def verdicts(records):
    return [(r["id"], [c["grades"] for c in r["models"][0]["candidates"]],
             r["models"][0]["strategies"]) for r in records]


def key_nowhere(root):
    for d, _, files in os.walk(root):
        for f in files:
            with open(os.path.join(d, f), "rb") as fh:
                assert KEY.encode() not in fh.read(), "the key is in " + os.path.join(d, f)


def main():
    with rslib.Sandbox() as sb:
        mock = Mock(sb, "--embed-dim", str(DIM), "--api-key", KEY, "--quiet")
        clean_dir, clean = run(sb, "clean", mock.port)
        check_against_mock(clean)
        calls = mock.stats()["by_endpoint"]["/v1/embeddings"]
        assert calls == CASES, "%d embeddings calls for %d cases (one per case)" % (calls, CASES)
        spans = [s for r in clean for s in r.get("spans", []) if s["name"] == "embed"]
        assert len(spans) == CASES, len(spans)
        emb = rslib.load_report(clean_dir)["embedder"]
        assert (emb["calls"], emb["errors"], emb["model"]) == (CASES, 0, "emb-test"), emb
        assert emb["inputs"] == sum(r["embedding"]["inputs"] for r in clean), emb
        assert emb["input_tokens"] == sum(r["embedding"]["input_tokens"] for r in clean) > 0, emb
        with open(os.path.join(clean_dir, "report.md")) as f:
            assert "Embedder emb-test (openai): %d calls" % CASES in f.read()
        live = rslib.status_json(sb, sb.path("clean"))["usage"]["embedder"]
        assert (live["calls"], live["input_tokens"]) == (CASES, emb["input_tokens"]), live
        assert live["cost_usd"] == 0 and live["errors"] == {}, live

        flaky = Mock(sb, "--embed-dim", str(DIM), "--api-key", KEY, "--rate-500", "0.3", "--quiet")
        flaky_dir, retried = run(sb, "flaky", flaky.port)
        diff = [(a, b, r["embedding"]) for a, b, r in zip(verdicts(retried), verdicts(clean), retried)
                if a != b]
        assert not diff, "retried embeddings changed the verdicts: %r" % diff[:2]
        st = flaky.stats()
        assert st["by_endpoint"]["/v1/embeddings"] > CASES, st
        assert sum(r["embedding"]["retries"] for r in retried) > 0

        nokey_dir, nokey = run(sb, "nokey", mock.port, None)
        for rec in nokey:
            assert rec["embedding"]["error_type"] == "no_key", rec["embedding"]
            assert "RS_TEST_EMBED_KEY" in rec["embedding"]["error"]
            for c in rec["models"][0]["candidates"]:
                assert c["grades"]["embed_sim"] == "error", c["grades"]
                assert c["grades"]["exact"] in ("correct", "wrong"), c["grades"]
            assert rec["models"][0]["strategies"]["consensus"]["k"] == 0
        rep = rslib.load_report(nokey_dir)
        g = {x["name"]: x for x in rep["models"][0]["graders"]}
        assert g["embed_sim"]["error"] == CASES and g["exact"]["error"] == 0, g
        assert rep["embedder"]["errors_by_reason"] == {"no_key": CASES}, rep["embedder"]
        live = rslib.status_json(sb, sb.path("nokey"))["usage"]["embedder"]
        assert live["calls"] == 0 and live["errors"] == {"no_key": CASES}, live

        for d in (clean_dir, flaky_dir, nokey_dir):
            key_nowhere(d)
    print("ok: openai embeddings through the mock: verdicts and consensus match, retries and a "
          "missing key handled")


if __name__ == "__main__":
    main()
