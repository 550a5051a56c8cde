"""Request parameters and what comes back, through a real reasonsaver-mockllm and its request log:
every parameter a config sets reaches the body (openai and anthropic), extra_body's fields and
extra_headers arrive as given, an unset parameter is not sent (only Anthropic's required
max_tokens), OpenAI's 400 for max_tokens on a reasoning model becomes a message naming the
parameter and what to use (not retried), the thinking is recorded beside the answer and never
graded, and the model ids the server said it served are listed per model in report.json and
report.md, the same after `reasonsaver report` rebuilds it."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import rslib  # noqa: E402
from test_mockllm import Mock  # noqa: E402
from test_report_fold import assert_rebuilt_same  # noqa: E402

KEY = "rs-test-key-params-77aa"
THINKING = "Simulated reasoning: a first guess is 424242, which needs checking.\n#### 424242"
CASES = 6

CONFIG = """
run: {name: %(name)s, seed: 1}
dataset: {path: %(dataset)s}
models:
  - name: tested
    provider: %(provider)s
    model: %(model)s
    base_url: "http://127.0.0.1:%(port)d%(path)s"
    mock: true
    api_key_env: RS_TEST_KEY
    max_retries: 3
    retry_base_ms: 10
    params: %(params)s
scoring: {graders: [exact]}
cluster: {workers: 1}
report: {formats: [json, markdown, html, jsonl]}
"""


def dataset(sb):
    lines = ["{\"id\": \"q%d\", \"question\": \"What is %d + %d?\", \"answer\": \"%d\"}"
             % (i, i, i + 1, 2 * i + 1) for i in range(CASES)]
    return sb.write("cases.jsonl", "\n".join(lines) + "\n")


def run(sb, mock, name, provider, model, params, check=0):
    cfg = sb.write(name + ".yaml", CONFIG % {
        "name": name, "dataset": dataset(sb), "provider": provider, "model": model,
        "port": mock.port, "path": "/v1" if provider == "openai" else "", "params": params})
    r = sb.run([rslib.REASONSAVER, "run", cfg, "--out", sb.path(name)],
               env=dict(os.environ, RS_TEST_KEY=KEY), check=check)
    run_dir = rslib.run_dir_from_output(r.stdout, sb.dir)
    return r, run_dir, rslib.load_report(run_dir)


def logged(log_path, since):
    """The request log's lines from line `since` on."""
    with open(log_path) as f:
        return [json.loads(line) for line in f.readlines()[since:]]


def log_len(log_path):
    if not os.path.exists(log_path):
        return 0
    with open(log_path) as f:
        return len(f.readlines())


def candidates(run_dir):
    recs = rslib.read_jsonl(os.path.join(run_dir, "results.jsonl"))
    assert len(recs) == CASES, len(recs)
    return [rec["models"][0]["candidates"][0] for rec in recs]


def check_openai(sb, mock, log):
    # every parameter the config sets, plus extra_body and extra_headers
    since = log_len(log)
    params = ("{temperature: 0.3, top_p: 0.9, max_completion_tokens: 500, seed: 11, stop: [END], "
              "presence_penalty: 0.5, frequency_penalty: -0.5, reasoning_effort: low, "
              "response_format: {type: json_object}, extra_body: {user: u-1, metadata: {team: x}, "
              "top_p: 0.25}, extra_headers: {OpenAI-Organization: org-9, X-Team-Auth: s3cr3t-x}}")
    # X-Team-Auth may carry a credential: refused by the config (exit 2), nothing is sent
    cfg = sb.write("oa-auth.yaml", CONFIG % {
        "name": "oa-auth", "dataset": dataset(sb), "provider": "openai", "model": "gpt-4o-mini",
        "port": mock.port, "path": "/v1", "params": params})
    r = sb.run([rslib.REASONSAVER, "run", cfg, "--out", sb.path("oa-auth")], check=2)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert "extra_headers.X-Team-Auth" in r.stderr and "credential" in r.stderr, r.stderr
    assert "s3cr3t-x" not in r.stdout + r.stderr and log_len(log) == since
    params = params.replace(", X-Team-Auth: s3cr3t-x", "")
    r, run_dir, rep = run(sb, mock, "oa-full", "openai", "gpt-4o-mini", params)
    lines = [x for x in logged(log, since) if x["path"] == "/v1/chat/completions"]
    assert len(lines) == CASES, len(lines)
    for x in lines:
        b = x["body"]
        want = {"temperature": 0.3, "top_p": 0.25, "max_completion_tokens": 500, "seed": 11,
                "stop": ["END"], "presence_penalty": 0.5, "frequency_penalty": -0.5,
                "reasoning_effort": "low", "response_format": {"type": "json_object"},
                "user": "u-1", "metadata": {"team": "x"}}
        for k, v in want.items():
            assert b.get(k) == v, (k, b.get(k), v)
        assert "max_tokens" not in b and "n" not in b, b
        assert x["unknown_fields"] == {"user": "u-1", "metadata": {"team": "x"}}, x
        assert x["extra_headers"] == {"OpenAI-Organization": "org-9"}, x
    # what came back: the thinking beside the answer, never graded; served id; reasoning tokens
    for c in candidates(run_dir):
        assert c["thinking"] == THINKING, c
        assert "424242" not in (c["output"] or "") and c["extracted"] != "424242", c
        assert c["served_model"] == "gpt-4o-mini", c
        assert c["system_fingerprint"] == "fp_reasonsaver_mock", c
        assert c["reasoning_tokens"] == 20, c
    m = rep["models"][0]
    assert m["reasoning_tokens"] == 20 * CASES, m
    assert m["served_models"] == {"gpt-4o-mini": CASES}, m
    return run_dir


def check_openai_bare(sb, mock, log, full_dir):
    since = log_len(log)
    r, run_dir, rep = run(sb, mock, "oa-bare", "openai", "gpt-4o-mini", "{}")
    lines = logged(log, since)
    assert len(lines) == CASES, lines
    for x in lines:
        assert sorted(x["body"]) == ["messages", "model"], x["body"]  # nothing unset is sent
        assert "unknown_fields" not in x and "extra_headers" not in x, x
    for c in candidates(run_dir):
        for k in ("thinking", "reasoning_tokens"):
            assert k not in c, c
    # the same answers and grades with and without reasoning: the thinking is not graded
    full = {c["output"]: c["grades"] for c in candidates(full_dir)}
    bare = {c["output"]: c["grades"] for c in candidates(run_dir)}
    assert full == bare, (full, bare)
    assert "reasoning_tokens" not in rep["models"][0], rep["models"][0]


def check_anthropic(sb, mock, log):
    since = log_len(log)
    params = ("{temperature: 0.5, top_p: 0.8, top_k: 20, stop: [END], thinking: {budget_tokens: "
              "1024}, extra_body: {metadata: {user_id: u-2}}, extra_headers: {anthropic-beta: b1}}")
    r, run_dir, rep = run(sb, mock, "an-full", "anthropic", "claude-test", params)
    lines = logged(log, since)
    assert len(lines) == CASES, lines
    for x in lines:
        b = x["body"]
        assert x["path"] == "/v1/messages", x
        want = {"temperature": 0.5, "top_p": 0.8, "top_k": 20, "stop_sequences": ["END"],
                "thinking": {"type": "enabled", "budget_tokens": 1024},
                "max_tokens": 4096 + 1024, "metadata": {"user_id": "u-2"}}
        for k, v in want.items():
            assert b.get(k) == v, (k, b.get(k), v)
        assert x["unknown_fields"] == {"metadata": {"user_id": "u-2"}}, x
        assert x["extra_headers"] == {"anthropic-beta": "b1"}, x
    for c in candidates(run_dir):
        assert c["thinking"] == THINKING and "424242" not in c["output"], c
        assert c["extracted"] != "424242" and c["served_model"] == "claude-test", c
        assert "reasoning_tokens" not in c, c  # Anthropic reports none apart from output_tokens
    assert rep["models"][0]["served_models"] == {"claude-test": CASES}, rep["models"][0]
    # unset: only the required max_tokens, at its default
    since = log_len(log)
    run(sb, mock, "an-bare", "anthropic", "claude-test", "{}")
    for x in logged(log, since):
        assert sorted(x["body"]) == ["max_tokens", "messages", "model"], x["body"]
        assert x["body"]["max_tokens"] == 4096, x["body"]
    # trace shows the thinking apart from the answer, with the served model
    out = sb.run([rslib.REASONSAVER, "trace", os.path.basename(run_dir), "0", "--index", "--out",
                  sb.path("an-full")], check=0)
    assert "served by claude-test" in out.stdout, out.stdout
    assert "thinking (not graded): Simulated reasoning" in out.stdout, out.stdout


def check_log_redaction(mock, log):
    """The mock's request log never shows a credential-like header's value, whoever sends it."""
    since = log_len(log)
    status, _, _ = mock.post("/v1/chat/completions",
                             {"model": "m", "messages": [{"role": "user", "content": "hi"}]},
                             headers={"X-Session-Token": "tok-55", "X-Plain": "p1",
                                      "Authorization": "Bearer " + KEY})
    assert status == 200, status
    x = logged(log, since)[0]
    assert x["extra_headers"] == {"X-Session-Token": "***", "X-Plain": "p1"}, x
    assert "tok-55" not in json.dumps(x) and KEY not in json.dumps(x), x


def check_reasoning_400(sb, mock):
    before = mock.stats()["requests"]
    # every call refused: the run exits 1 and names the model and the error (docs/GATES.md)
    r, run_dir, rep = run(sb, mock, "o3-max", "openai", "o3-mini", "{max_tokens: 64}", check=1)
    assert "model tested: %d of %d cases ended in error, most often http_400" % (CASES, CASES) \
        in r.stderr, r.stderr
    m = rep["models"][0]
    assert m["errors"] == CASES and m["errors_by_reason"] == {"http_400": CASES}, m
    msg = rslib.read_jsonl(os.path.join(run_dir, "results.jsonl"))[0]["models"][0]["error"]
    assert "the API refused parameter 'max_tokens' (400)" in msg, msg
    assert "use params.max_completion_tokens in place of params.max_tokens" in msg, msg
    assert mock.stats()["requests"] - before == CASES, "a 400 must not be retried"
    r, run_dir, rep = run(sb, mock, "o3-mct", "openai", "o3-mini", "{max_completion_tokens: 64}")
    assert rep["models"][0]["errors"] == 0, rep["models"][0]


def check_served_models(sb):
    swapped = Mock(sb, "--quiet", "--serve-model", "gpt-swapped", "--serve-model-rate", "0.5",
                   "--accuracy", "0.3")
    r, run_dir, rep = run(sb, swapped, "swap", "openai", "gpt-4o", "{reasoning_effort: low}")
    served = rep["models"][0]["served_models"]
    assert sorted(served) == ["gpt-4o", "gpt-swapped"], served  # two ids for one model
    assert sum(served.values()) == CASES, served
    with open(os.path.join(run_dir, "report.md")) as f:
        md = f.read()
    assert "### Served models" in md and "gpt-swapped" in md, md
    if rep.get("clusters"):  # the failure examples show the thinking apart from the answer
        assert "thinking, not graded" in md, md
    # folded during the run == rebuilt from Redis, every file byte for byte
    assert_rebuilt_same(sb, "swap", run_dir)


def main():
    with rslib.Sandbox() as sb:
        log = sb.path("requests.jsonl")
        # --seed 11: the full run sends seed 11, which the mock answers from; the bare run sends
        # none and gets --seed, so both draw the same answers
        mock = Mock(sb, "--quiet", "--log-requests", log, "--seed", "11")
        full_dir = check_openai(sb, mock, log)
        check_openai_bare(sb, mock, log, full_dir)
        check_anthropic(sb, mock, log)
        check_log_redaction(mock, log)
        check_reasoning_400(sb, mock)
        check_served_models(sb)
        with open(log) as f:
            assert KEY not in f.read(), "the key reached the request log"
    print("ok: request parameters, thinking and served models through reasonsaver-mockllm")


if __name__ == "__main__":
    main()
