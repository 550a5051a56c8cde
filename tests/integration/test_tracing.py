"""Tracing end to end: every case's record holds its trace (one root "case" span, "generate" per
model call, one "embed" for the hash embedder's work, "score" per model) with OpenTelemetry GenAI attributes that agree with the record;
`trace` prints the waterfall, prompt and answers; `export --otlp` sends OTLP/HTTP JSON to a test
receiver (retrying its 503) and `--jsonl` writes the same spans; retries through
reasonsaver-mockllm show up as span events; and while a run goes on, /metrics parses as
Prometheus text and `status --json` shows the token counters that RESULT stats feed."""
import hashlib
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(__file__))
import rslib  # noqa: E402

MOCK = os.path.join(rslib.BIN, "reasonsaver-mockllm")
KEY = "sk-rs-trace-Vb7Qm2Lx9Tz4"
SYSTEM = "You are a careful calculator. " + "Think it through before you answer. " * 12
HEX16, HEX32 = re.compile(r"^[0-9a-f]{16}$"), re.compile(r"^[0-9a-f]{32}$")

SIM_CONFIG = """
run: {name: trace, seed: 3}
dataset: {path: cases.jsonl}
models:
  - {name: sim-strong, provider: sim, model: sim-1,
     params: {temperature: 0.2, max_tokens: 256, accuracy: 0.85, latency_ms: 3}}
  - {name: sim-weak, provider: sim, model: sim-2, n: 2,
     params: {top_p: 0.9, accuracy: 0.5, error_rate: 0.1}}
prompt: {system: "%(system)s", template: "Question: {{input}}\\nAnswer:"}
scoring: {graders: [exact, numeric]}
cluster: {workers: 2}
report: {formats: [json, jsonl]}
"""

MOCK_CONFIG = """
run: {name: retry, seed: 1}
dataset: {path: cases.jsonl}
models:
  - {name: gpt, provider: openai, model: sim-1, base_url: "http://127.0.0.1:%(port)d/v1",
     mock: true, api_key_env: RS_TRACE_KEY, retry_base_ms: 5, retry_cap_ms: 20, max_retries: 20}
  - {name: gpt-n3, provider: openai, model: sim-1, n: 3, base_url: "http://127.0.0.1:%(port)d/v1",
     mock: true, api_key_env: RS_TRACE_KEY, retry_base_ms: 5, retry_cap_ms: 20, max_retries: 20}
scoring: {graders: [exact]}
cluster: {workers: 2}
report: {formats: [json, jsonl]}
"""

METRICS_CONFIG = """
run: {name: metrics, seed: 1}
dataset: {path: cases.jsonl}
models: [{name: slow, provider: sim, model: sim-1, params: {accuracy: 0.7, latency_ms: 150}}]
scoring: {graders: [exact]}
cluster: {workers: 2, worker_slots: 32, metrics_bind: "127.0.0.1:%(port)d"}
report: {formats: [json, jsonl]}
"""


def gen_cases(sb, n, name="cases.jsonl"):
    sb.run([rslib.REASONSAVER, "datasets", "gen", "arithmetic", "--n", str(n), "--seed", "9",
            "--out", sb.path(name)], check=0)


def run_to_end(sb, cfg, out, env=None):
    sb.run([rslib.REASONSAVER, "run", cfg, "--quiet", "--out", sb.path(out)], check=0, env=env)
    run_dir = rslib.only_run_dir(sb.path(out))
    return os.path.basename(run_dir), rslib.read_jsonl(os.path.join(run_dir, "results.jsonl"))


# ---- (a) the span records of a sim run ----

def by_name(spans, name):
    return [s for s in spans if s["name"] == name]


def check_shape(rec, run_id):
    spans = rec["spans"]
    roots = [s for s in spans if s["parent_span_id"] is None]
    assert len(roots) == 1 and roots[0]["name"] == "case", spans
    root = roots[0]
    want_trace = hashlib.sha256(("%s:%d" % (run_id, rec["idx"])).encode()).hexdigest()[:32]
    ids = [s["span_id"] for s in spans]
    assert len(set(ids)) == len(ids), ids
    for s in spans:
        assert s["trace_id"] == want_trace, (s["trace_id"], want_trace)
        assert HEX16.match(s["span_id"]) and s["span_id"] != "0" * 16, s
        assert set(s) == {"trace_id", "span_id", "parent_span_id", "name", "kind", "start_us",
                          "end_us", "attributes", "events", "status"}, sorted(s)
        assert isinstance(s["start_us"], int) and s["start_us"] <= s["end_us"], s
        assert s["start_us"] > 1.6e15, s  # Unix microseconds, not a monotonic clock
        if s is not root:
            assert s["parent_span_id"] == root["span_id"], s
            assert root["start_us"] <= s["start_us"] and s["end_us"] <= root["end_us"], (root, s)
        assert all(isinstance(v, (str, int, float, bool)) for v in s["attributes"].values()), s
    # n = 2 turns consensus on, so the hash embedder embeds every answer: one "embed" span
    assert {s["name"] for s in spans} == {"case", "generate", "embed", "score"}, spans
    (embed,) = [s for s in spans if s["name"] == "embed"]
    answers = sum(c["output"] is not None for m in rec["models"] for c in m["candidates"])
    assert embed["kind"] == "internal" and embed["attributes"] == {
        "reasonsaver.embedder": "hash", "reasonsaver.inputs": answers,
        "reasonsaver.embedding.dim": 256}, embed
    a = root["attributes"]
    assert a["reasonsaver.run.id"] == run_id and a["reasonsaver.case.id"] == rec["id"], a
    assert a["reasonsaver.case.index"] == rec["idx"] and isinstance(a["reasonsaver.task.id"], int)
    assert a["reasonsaver.worker.id"] in ("local-1", "local-2"), a
    failed = any(m["error_type"] for m in rec["models"])
    assert root["status"]["code"] == ("error" if failed else "ok"), (root, rec["models"])
    assert root["kind"] == "internal"
    return root


def check_generate(rec, models_cfg):
    gens = by_name(rec["spans"], "generate")
    assert len(gens) == sum(len(m["candidates"]) for m in rec["models"]), gens  # sim: 1 per candidate
    for m in rec["models"]:
        cfg = models_cfg[m["model"]]
        mine = sorted((s for s in gens if s["attributes"]["reasonsaver.model"] == m["model"]),
                      key=lambda s: s["attributes"]["reasonsaver.candidate"])
        assert len(mine) == len(m["candidates"]), (m["model"], mine)
        for s, c in zip(mine, m["candidates"]):
            a = s["attributes"]
            assert s["kind"] == "client", s
            assert a["gen_ai.system"] == "sim" and a["gen_ai.operation.name"] == "chat", a
            assert a["gen_ai.request.model"] == cfg["model"], a
            # only the parameters the config set: an unset one is not sent, nor traced
            for p in ("temperature", "top_p", "max_tokens"):
                assert a.get("gen_ai.request." + p) == cfg.get(p), (p, a)
            assert a["reasonsaver.candidate"] == c["k"] and a["reasonsaver.candidates"] == 1, a
            assert a["gen_ai.usage.input_tokens"] == c["input_tokens"], (a, c)
            assert a["gen_ai.usage.output_tokens"] == c["output_tokens"], (a, c)
            assert abs((s["end_us"] - s["start_us"]) - c["latency_ms"] * 1000) <= 1, (s, c)
            assert "server.address" not in a and "gen_ai.response.finish_reasons" not in a, a
            if c["error"]:
                assert a["error.type"] == c["error_type"] == "sim_error", (a, c)
                assert s["status"] == {"code": "error", "message": c["error"]}, s
            else:
                assert "error.type" not in a and s["status"] == {"code": "ok"}, s
    return gens


def check_score(rec, gens, graders):
    scores = by_name(rec["spans"], "score")
    assert [s["attributes"]["reasonsaver.model"] for s in scores] == \
        [m["model"] for m in rec["models"]], scores
    latest_call = max(g["end_us"] for g in gens)
    for s, m in zip(scores, rec["models"]):
        a, first = s["attributes"], m["candidates"][0]
        assert s["kind"] == "internal" and s["start_us"] >= latest_call, (s, latest_call)
        for g in graders:
            assert a["reasonsaver.grade." + g] == first["grades"][g], (a, first)
        assert a.get("reasonsaver.extracted") == first["extracted"], (a, first)


def check_sim_spans(sb):
    gen_cases(sb, 150)
    cfg = sb.write("sim.yaml", SIM_CONFIG % {"system": SYSTEM})
    run_id, results = run_to_end(sb, cfg, "sim")
    models_cfg = {"sim-strong": {"model": "sim-1", "temperature": 0.2, "max_tokens": 256},
                  "sim-weak": {"model": "sim-2", "top_p": 0.9}}
    assert len(results) == 150
    errors = 0
    for rec in results:
        check_shape(rec, run_id)
        gens = check_generate(rec, models_cfg)
        check_score(rec, gens, ["exact", "numeric"])
        errors += sum(1 for g in gens if g["status"]["code"] == "error")
        text = json.dumps(rec["spans"])
        for m in rec["models"]:  # spans stay small: no outputs or prompts in them
            for c in m["candidates"]:
                assert not c["output"] or c["output"] not in text
        assert "careful calculator" not in text
    assert errors > 0, "error_rate 0.1 over 300 candidates gave no failed span"
    return run_id, results


# ---- (b) trace ----

def check_trace_command(sb, run_id, results):
    rec = next(r for r in results if r["models"][1]["candidates"][0]["output"])
    base = [rslib.REASONSAVER, "trace", run_id, rec["id"], "--out", sb.path("sim")]
    out = sb.run(base, check=0).stdout
    root = rec["spans"][0]
    assert "case %s (index %d) of run %s" % (rec["id"], rec["idx"], run_id) in out, out
    assert "trace " + root["trace_id"] in out, out
    lines = out.splitlines()
    water = lines[lines.index("trace " + root["trace_id"]) + 1:]
    assert water[0].startswith("case ") and re.search(r"\d+\.\d ms \|=+", water[0]), water[0]
    gen_lines = [l for l in water if l.startswith("  generate ")]
    score_lines = [l for l in water if l.startswith("  score ")]
    assert len(gen_lines) == 3 and len(score_lines) == 2, out
    assert any("sim-strong" in l for l in gen_lines) and any("sim-weak" in l for l in gen_lines)
    assert all(re.search(r" \d+\.\d ms \|", l) for l in gen_lines + score_lines), out
    answer = rec["models"][1]["candidates"][0]["output"]
    assert "prompt" in out and "Question: " in out and answer.splitlines()[0] in out, out
    assert SYSTEM not in out and SYSTEM[:300] in out and " [...]" in out, "prompt not truncated"
    assert "target: " + rec["targets"][0] in out, out
    full = sb.run(base + ["--full"], check=0).stdout
    assert SYSTEM in full and answer in full, full
    by_index = sb.run([rslib.REASONSAVER, "trace", run_id, str(rec["idx"]), "--index", "--out",
                       sb.path("sim")], check=0).stdout
    assert "trace " + root["trace_id"] in by_index
    bad = sb.run([rslib.REASONSAVER, "trace", run_id, "no-such-case", "--out", sb.path("sim")])
    assert bad.returncode != 0 and "no-such-case" in bad.stderr, bad.stderr


# ---- (c) export ----

class Receiver:
    """An OTLP/HTTP endpoint: records every POST /v1/traces, answers 503 to the first one."""

    def __init__(self):
        self.requests, self.lock = [], threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with outer.lock:
                    code = 503 if not outer.requests else 200
                    outer.requests.append((self.path, self.headers.get("Content-Type"), code, body))
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def check_any_value(v):
    assert len(v) == 1, v
    kind, x = next(iter(v.items()))
    assert kind in ("stringValue", "intValue", "doubleValue", "boolValue"), v
    if kind == "intValue":  # int64 is a string in OTLP JSON
        assert isinstance(x, str) and re.match(r"^-?\d+$", x), v
    elif kind == "doubleValue":
        assert isinstance(x, (int, float)), v
    elif kind == "boolValue":
        assert isinstance(x, bool), v
    else:
        assert isinstance(x, str), v


def check_otlp_request(req, run_id):
    """The spans of one ExportTraceServiceRequest, after checking its shape."""
    rs = req["resourceSpans"]
    assert len(rs) == 1, rs
    res = {a["key"]: a["value"] for a in rs[0]["resource"]["attributes"]}
    assert res["service.name"] == {"stringValue": "reasonsaver"}, res
    assert res["reasonsaver.run.id"] == {"stringValue": run_id}, res
    spans = rs[0]["scopeSpans"][0]["spans"]
    assert rs[0]["scopeSpans"][0]["scope"]["name"] == "reasonsaver"
    for s in spans:
        assert HEX32.match(s["traceId"]) and HEX16.match(s["spanId"]), s
        assert s["parentSpanId"] == "" or HEX16.match(s["parentSpanId"]), s
        for t in ("startTimeUnixNano", "endTimeUnixNano"):
            assert isinstance(s[t], str) and re.match(r"^\d{19}$", s[t]), s
        assert int(s["startTimeUnixNano"]) <= int(s["endTimeUnixNano"]), s
        assert s["kind"] in (1, 3) and s["name"] in ("case", "generate", "embed", "score"), s
        assert s["status"]["code"] in (1, 2), s
        for a in s["attributes"]:
            assert set(a) == {"key", "value"} and isinstance(a["key"], str), a
            check_any_value(a["value"])
        for e in s["events"]:
            assert re.match(r"^\d{19}$", e["timeUnixNano"]), e
    return spans


def check_export(sb, run_id, results):
    want = sum(len(r["spans"]) for r in results)
    recv = Receiver()
    try:
        r = sb.run([rslib.REASONSAVER, "export", run_id, "--otlp", "http://127.0.0.1:%d" % recv.port,
                    "--out", sb.path("sim")], check=0)
    finally:
        recv.close()
    assert "exported %d spans" % want in r.stderr, r.stderr
    assert "503" in r.stderr, "the 503 was not reported as retried: " + r.stderr
    codes = [c for _, _, c, _ in recv.requests]
    assert codes[0] == 503 and all(c == 200 for c in codes[1:]) and len(codes) >= 2, codes
    assert recv.requests[0][3] == recv.requests[1][3], "the retry sent another body"
    got = []
    for path, ctype, code, body in recv.requests[1:]:
        assert path == "/v1/traces" and ctype == "application/json", (path, ctype)
        got += check_otlp_request(json.loads(body), run_id)
    assert len(got) == want, (len(got), want)
    assert len({s["spanId"] for s in got}) == want
    roots = [s for s in got if s["parentSpanId"] == ""]
    assert len(roots) == len(results) and all(s["name"] == "case" for s in roots)
    jsonl = sb.path("spans.jsonl")
    sb.run([rslib.REASONSAVER, "export", run_id, "--jsonl", jsonl, "--batch", "100", "--out",
            sb.path("sim")], check=0)
    lines = rslib.read_jsonl(jsonl)
    assert len(lines) == -(-want // 100), (len(lines), want)
    assert sum(len(check_otlp_request(req, run_id)) for req in lines) == want


# ---- (d) retries as events, through reasonsaver-mockllm ----

def start_mock(sb, *args):
    port_file = sb.path("mock.port")
    proc = sb.spawn([MOCK, "--port", "0", "--port-file", port_file, "--quiet", "--api-key", KEY] +
                    list(args), stdout=subprocess.DEVNULL)
    rslib.wait_for(lambda: os.path.exists(port_file) and open(port_file).read().endswith("\n"),
                   10, "mockllm's port file")
    port = int(open(port_file).read())
    rslib.wait_port(port, proc)
    return port


def check_retry_events(sb):
    if not os.path.exists(MOCK):
        print("SKIP part: reasonsaver-mockllm is not built")
        return
    gen_cases(sb, 60)
    port = start_mock(sb, "--rate-429", "0.2", "--retry-after", "0")
    cfg = sb.write("mock.yaml", MOCK_CONFIG % {"port": port})
    run_id, results = run_to_end(sb, cfg, "mock", env=dict(os.environ, RS_TRACE_KEY=KEY))
    retried = 0
    for rec in results:
        check_shape(rec, run_id)
        assert KEY not in json.dumps(rec["spans"]), "the API key is in a span"
        gens = by_name(rec["spans"], "generate")
        for m in rec["models"]:
            mine = [s for s in gens if s["attributes"]["reasonsaver.model"] == m["model"]]
            n = len(m["candidates"])
            assert len(mine) == 1 and mine[0]["attributes"]["reasonsaver.candidates"] == n, mine
            s, a = mine[0], mine[0]["attributes"]
            assert a["gen_ai.system"] == "openai" and a["server.address"] == "127.0.0.1", a
            assert a["server.port"] == port and a["http.response.status_code"] == 200, a
            assert a["gen_ai.usage.input_tokens"] == sum(c["input_tokens"] for c in m["candidates"])
            assert a["gen_ai.usage.output_tokens"] == sum(c["output_tokens"] for c in m["candidates"])
            reasons = {c["finish_reason"] for c in m["candidates"]}
            assert set(a["gen_ai.response.finish_reasons"].split(",")) == reasons, (a, reasons)
            assert len(s["events"]) == m["retries"], (s["events"], m["retries"])
            for i, e in enumerate(s["events"]):
                ea = e["attributes"]
                assert e["name"] == "retry" and ea["attempt"] == i + 1, e
                assert ea["reason"] == "http_429" and ea["http.response.status_code"] == 429, e
                assert isinstance(ea["delay_ms"], int) and 0 <= ea["delay_ms"] <= 20, e
                assert s["start_us"] <= e["time_us"] <= s["end_us"], (s, e)
            retried += bool(s["events"])
    assert retried > 0, "a 20% rate of 429s gave no retry event"
    out = sb.run([rslib.REASONSAVER, "trace", run_id, "0", "--index", "--out", sb.path("mock")],
                 check=0).stdout
    assert "gpt-n3" in out, out


# ---- (e) /metrics and status while a run goes on ----

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)')


def parse_labels(text):
    out, pos = {}, 0
    while pos < len(text):
        m = LABEL.match(text, pos)
        assert m, "bad labels: " + text
        out[m.group(1)] = m.group(2)
        pos = m.end()
    return out


def family(name, types):
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix) and types.get(name[:-len(suffix)]) == "histogram":
            return name[:-len(suffix)]
    return name


def parse_prometheus(text):
    """[(name, labels, value)] after checking the text format's rules."""
    types, helps, samples = {}, set(), []
    for line in text.splitlines():
        if not line.strip():
            continue
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            parts = line.split(" ", 3)
            assert len(parts) == 4, line
            if parts[1] == "TYPE":
                assert parts[2] not in types, "TYPE twice: " + line
                assert parts[3] in ("counter", "gauge", "histogram", "summary", "untyped"), line
                assert not any(family(n, types) == parts[2] for n, _, _ in samples), \
                    "TYPE after samples: " + line
                types[parts[2]] = parts[3]
            else:
                assert parts[2] not in helps, "HELP twice: " + line
                helps.add(parts[2])
            continue
        assert not line.startswith("#"), line
        m = SAMPLE.match(line)
        assert m, "not a sample line: %r" % line
        float(m.group(4))  # numbers, +Inf, NaN
        samples.append((m.group(1), parse_labels(m.group(3) or ""), float(m.group(4))))
    for name, _, _ in samples:
        assert family(name, types) in types, "no TYPE for " + name
    for h in (n for n, t in types.items() if t == "histogram"):
        check_histogram(h, samples)
    assert helps <= set(types), helps - set(types)
    return samples


def check_histogram(h, samples):
    series = {}
    for name, labels, value in samples:
        if name == h + "_bucket":
            key = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
            series.setdefault(key, []).append((labels["le"], value))
    for key, buckets in series.items():
        assert buckets[-1][0] == "+Inf", buckets
        bounds = [float(le) for le, _ in buckets]
        assert bounds == sorted(bounds), buckets
        counts = [v for _, v in buckets]
        assert counts == sorted(counts), "buckets not cumulative: %s" % buckets
        count = [v for n, l, v in samples
                 if n == h + "_count" and tuple(sorted(l.items())) == key]
        assert count == [counts[-1]], (count, counts)


def get_metrics(port):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=2) as r:
            return r.read().decode()
    except OSError:
        return ""


def tokens_in(text):
    for name, labels, value in parse_prometheus(text) if text else []:
        if name == "reasonsaver_input_tokens_total" and labels.get("model") == "slow":
            return value
    return 0


def check_metrics(sb):
    gen_cases(sb, 1000)
    port = rslib.free_port()
    cfg = sb.write("metrics.yaml", METRICS_CONFIG % {"port": port})
    coord = sb.spawn([rslib.REASONSAVER, "run", cfg, "--out", sb.path("metrics"), "--quiet"],
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    rslib.wait_for(lambda: tokens_in(get_metrics(port)) > 0 or coord.poll() is not None, 20,
                   "input tokens on /metrics")
    text = get_metrics(port)
    assert coord.poll() is None, "the run ended before /metrics showed tokens"
    samples = parse_prometheus(text)
    names = {n for n, _, _ in samples}
    for want in ("reasonsaver_model_calls_total", "reasonsaver_output_tokens_total",
                 "reasonsaver_model_latency_ms_bucket", "reasonsaver_cases"):
        assert want in names, (want, sorted(names))
    run_id = os.path.basename(rslib.only_run_dir(sb.path("metrics")))
    live = rslib.status_json(sb, sb.path("metrics"), run_id)
    assert live and live["status"] == "running", live
    if "usage" in live:
        assert live["usage"]["slow"]["input_tokens"] > 0 and live["usage"]["slow"]["calls"] > 0, live
    out, err = coord.communicate(timeout=60)
    assert coord.returncode == 0, err[-2000:]
    # every call of the run is in the counters exactly once (a clean run redoes nothing)
    results = rslib.read_jsonl(os.path.join(rslib.only_run_dir(sb.path("metrics")), "results.jsonl"))
    done = rslib.status_json(sb, sb.path("metrics"), run_id)
    if "usage" in done:
        u = done["usage"]["slow"]
        assert u["calls"] == len(results) == 1000, u
        assert u["input_tokens"] == sum(r["models"][0]["candidates"][0]["input_tokens"]
                                        for r in results), u
        assert u["output_tokens"] == sum(r["models"][0]["candidates"][0]["output_tokens"]
                                         for r in results), u
    print("metrics: %d samples, %d input tokens seen live" % (len(samples), tokens_in(text)))


def main():
    t0 = time.time()
    with rslib.Sandbox() as sb:
        run_id, results = check_sim_spans(sb)
        check_trace_command(sb, run_id, results)
        check_export(sb, run_id, results)
    with rslib.Sandbox() as sb:
        check_retry_events(sb)
    with rslib.Sandbox() as sb:
        check_metrics(sb)
    print("ok: spans, trace, OTLP export, retry events, /metrics (%.1f s)" % (time.time() - t0))


if __name__ == "__main__":
    main()
