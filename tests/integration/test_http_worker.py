"""The worker's HTTP providers against a tiny model server written here (no mockllm needed): the
OpenAI and Anthropic paths, retries on 429 (Retry-After honoured), 500 and timeouts, bad bodies
and wrong content types recorded as errors, n choices filled in when a server returns fewer, a
wrong key failing fast with a clear message, a missing key variable, and the key never written
anywhere the run writes (run directory with its Redis files, stdout, stderr)."""
import json
import os
import shutil
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.dirname(__file__))
import rslib  # noqa: E402

GOOD_KEY = "sk-rs-test-Wq8Zt3Lk9Pv2Hx7Nc4Rb"
WRONG_KEY = "sk-rs-wrong-Yj5Dm1Qs6Tf0Ga8Ue3Ko"
CASES = 40
RETRY_AFTER_S = 1
HANG_S = 2.5

# What the server does with a case, by its number mod 10 (models "oa" and "an" only):
PLAN = {
    1: "429 once",    # 429 with Retry-After, then the answer
    2: "500 twice",   # two 500s, then the answer
    3: "500 always",  # 500 until the worker gives up (max_retries 2)
    4: "truncated",   # 200 with half a JSON body
    5: "html",        # 200 with text/html
    6: "wrong",       # a wrong answer
    7: "hang once",   # no answer within timeout_ms, then the answer
}


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.attempts = {}   # (model, case, k) -> [(arrival time, status sent)]
        self.requests = []   # (path, model, case, k, n, status)
        self.key_in_body = 0
        self.bad_shape = []  # requests that break the API's rules

    def attempt(self, ident):
        with self.lock:
            lst = self.attempts.setdefault(ident, [])
            lst.append([time.monotonic(), None])
            return len(lst) - 1, lst[-1]


def case_number(case_id):
    return int(case_id.rsplit("-", 1)[1])


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like real APIs

    def log_message(self, *a):
        pass

    def send(self, status, body, ctype="application/json", extra=()):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        try:
            self.post()
        except (BrokenPipeError, ConnectionResetError):
            pass  # the worker gave up waiting (the hang case)

    def post(self):
        st = self.server.st
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path == "/v1/chat/completions":
            api, key = "openai", self.headers.get("Authorization", "")[len("Bearer "):]
        elif self.path == "/v1/messages":
            api, key = "anthropic", self.headers.get("x-api-key", "")
        else:
            return self.send(404, json.dumps({"error": {"message": "no route " + self.path}}))
        hdr = lambda h: urllib.parse.unquote(self.headers.get(h, ""))  # noqa: E731
        model, case_id, target = hdr("X-RS-Model"), hdr("X-RS-Case"), hdr("X-RS-Target")
        k = int(hdr("X-RS-Candidate") or "0")
        req = json.loads(body)
        n = req.get("n", 1)
        with st.lock:
            st.key_in_body += GOOD_KEY.encode() in body or WRONG_KEY.encode() in body
            problem = self.shape_problem(api, req)
            if problem:
                st.bad_shape.append(problem)
        if key != GOOD_KEY:
            status = 401
            msg = {"error": {"message": "Incorrect API key provided: " + key}}
            self.record(model, case_id, k, n, status)
            return self.send(401, json.dumps(msg))
        plan = PLAN.get(case_number(case_id) % 10) if model in ("oa", "an") else None
        nth, slot = st.attempt((model, case_id, k))
        status = self.fault(plan, nth)
        slot[1] = status
        self.record(model, case_id, k, n, status)
        if status == 429:
            return self.send(429, json.dumps({"error": {"message": "slow down"}}),
                             extra=[("Retry-After", str(RETRY_AFTER_S))])
        if status == 500:
            return self.send(500, json.dumps({"error": {"message": "boom"}}))
        if status == "hang":
            time.sleep(HANG_S)
            return self.send(200, "{}")
        answer = target + "1" if plan == "wrong" else target
        text = "Thinking.\nThe answer is %s.\n#### %s" % (answer, answer)
        out = self.reply(api, text, min(n, 2))  # a server that returns at most 2 choices
        if plan == "truncated":
            return self.send(200, out[: len(out) // 2])
        if plan == "html":
            return self.send(200, "<html>%s</html>" % text, ctype="text/html")
        self.send(200, out)

    @staticmethod
    def fault(plan, nth):
        if plan == "429 once" and nth == 0:
            return 429
        if (plan == "500 twice" and nth < 2) or plan == "500 always":
            return 500
        if plan == "hang once" and nth == 0:
            return "hang"
        return 200

    def record(self, model, case_id, k, n, status):
        with self.server.st.lock:
            self.server.st.requests.append((self.path, model, case_id, k, n, status))

    @staticmethod
    def shape_problem(api, req):
        roles = [m.get("role") for m in req.get("messages", [])]
        if api == "openai":
            # the config sets no params: none is sent on its behalf
            if roles[:1] != ["system"] or "max_tokens" in req or "temperature" in req:
                return "openai: %r" % req
        else:
            if req.get("system") != "Be brief." or "system" in roles or "max_tokens" not in req:
                return "anthropic: %r" % req
        return None

    @staticmethod
    def reply(api, text, n):
        if api == "openai":
            return json.dumps({"id": "chatcmpl-1", "object": "chat.completion", "choices": [
                {"index": i, "message": {"role": "assistant", "content": text},
                 "finish_reason": "stop"} for i in range(n)],
                "usage": {"prompt_tokens": 10, "completion_tokens": 5 * n}})
        return json.dumps({"id": "msg_1", "type": "message", "role": "assistant",
                           "content": [{"type": "text", "text": text}],
                           "stop_reason": "end_turn",
                           "usage": {"input_tokens": 10, "output_tokens": 5}})


class Server(ThreadingHTTPServer):
    request_queue_size = 512  # the default 5 drops connections when 128 requests start at once


def start_server():
    srv = Server(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    srv.st = State()
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


MODEL = ("{name: %s, provider: %s, model: %s, base_url: '%s', api_key_env: %s, mock: true, n: %d, "
         "max_retries: 2, retry_base_ms: 20, retry_cap_ms: 50, timeout_ms: 1000, "
         "connect_timeout_ms: 1000}")


def config(sb, name, port, models, key_env="TEST_KEY"):
    base = "http://127.0.0.1:%d" % port
    rows = {"oa": ("openai", "gpt-test", base + "/v1", 1),
            "an": ("anthropic", "claude-test", base, 1),
            "oa3": ("openai", "gpt-test", base + "/v1/", 3)}
    lines = ["  - " + MODEL % ((m,) + rows[m][:3] + (key_env, rows[m][3])) for m in models]
    text = ("run: {name: %s, seed: 1}\n"
            "dataset: {path: %s, limit: %d}\n"
            "models:\n%s\n"
            "prompt: {system: 'Be brief.', template: 'Q: {{input}}'}\n"
            "cluster: {workers: 2}\n") % (name, os.path.join(rslib.SRC, "datasets", "demo.jsonl"),
                                          CASES, "\n".join(lines))
    return sb.write(name + ".yaml", text)


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env.pop("TEST_KEY", None)
    env.update(extra)
    return env


def run(sb, cfg, env, code=0):
    """code: the exit status wanted; 1 for a run whose every call fails (a wrong or missing key)."""
    t0 = time.monotonic()
    # every run here is about what goes over the wire: none may be answered by the response
    # cache (test_cache.py tests that), which would also serve a wrong key's run
    r = sb.run([rslib.REASONSAVER, "run", cfg, "--out", sb.path("runs"), "--no-cache"], env=env,
               timeout=120)
    took = time.monotonic() - t0
    assert r.returncode == code, (r.returncode, r.stdout[-3000:], r.stderr[-3000:])
    assert "exited unexpectedly" not in r.stderr, r.stderr[-3000:]  # no worker crashed
    run_dir = rslib.run_dir_from_output(r.stdout, sb.dir)
    return r, run_dir, took


def by_model(results, name):
    out = []
    for rec in results:
        m = [x for x in rec["models"] if x["model"] == name]
        assert len(m) == 1, rec
        out.append((case_number(rec["id"]), m[0]))
    return out


def check_main_run(sb, srv, port):
    cfg = config(sb, "main", port, ["oa", "an", "oa3"])
    r, run_dir, _ = run(sb, cfg, clean_env(TEST_KEY=GOOD_KEY))
    st = srv.st
    assert st.key_in_body == 0, "the key travelled in a request body"
    assert not st.bad_shape, st.bad_shape[:3]
    results = rslib.read_jsonl(os.path.join(run_dir, "results.jsonl"))
    assert len(results) == CASES
    rep = rslib.load_report(run_dir)
    want = {"correct": 24, "wrong": 4, "error": 12}  # 0,1,2,7,8,9 / 6 / 3,4,5 (mod 10)
    for m in rep["models"]:
        g = m["graders"][0]
        assert g["correct"] + g["wrong"] + g["error"] + g["skipped"] == CASES, (m["name"], g)
        if m["name"] in ("oa", "an"):
            got = {k: g[k] for k in want}
            assert got == want, (m["name"], got)
        else:
            assert g["correct"] == CASES, g
    for name in ("oa", "an"):
        check_model_records(by_model(results, name), name)
    check_choices(by_model(results, "oa3"), st)
    check_retry_after(st)
    return [r]


def check_model_records(recs, name):
    expect = {  # plan -> (error_type, retries, retry reasons)
        None: (None, 0, {}), "wrong": (None, 0, {}),
        "429 once": (None, 1, {"http_429": 1}),
        "500 twice": (None, 2, {"http_500": 2}),
        "hang once": (None, 1, {"timeout": 1}),
        "500 always": ("http_500", 2, {"http_500": 2}),
        "truncated": ("bad_response", 0, {}),
        "html": ("wrong_content_type", 0, {}),
    }
    for num, m in recs:
        plan = PLAN.get(num % 10)
        etype, retries, reasons = expect[plan]
        got = (m["error_type"], m["retries"], m["retry_reasons"])
        assert got == (etype, retries, reasons), (name, num, plan, got, m["error"])
        c = m["candidates"][0]
        if etype:
            assert m["error"].startswith("model %s: " % name), m["error"]
            assert c["grades"]["exact"] == "error" and c["output"] is None, c
        else:
            assert m["error"] is None and c["output"].endswith("#### " + c["extracted"]), c
            assert c["finish_reason"] == ("stop" if name == "oa" else "end_turn"), c
            assert c["input_tokens"] == 10 and c["output_tokens"] == 5, c
    errors = {PLAN.get(n % 10): m["error"] for n, m in recs}
    assert "gave up after 2 retries" in errors["500 always"], errors["500 always"]
    assert "malformed response" in errors["truncated"], errors["truncated"]
    assert "'text/html'" in errors["html"], errors["html"]


def check_choices(recs, st):
    """oa3 asks for n=3 in one request; the server returns 2; the third comes on its own."""
    for num, m in recs:
        assert m["error"] is None, m
        assert [c["k"] for c in m["candidates"]] == [0, 1, 2]
        assert all(c["grades"]["exact"] == "correct" for c in m["candidates"]), m
        assert sum(c["output_tokens"] for c in m["candidates"]) == 15, m  # 10 + 5
    reqs = sorted((k, n) for (_, model, _, k, n, _) in st.requests if model == "oa3")
    assert reqs == [(0, 3)] * CASES + [(2, 1)] * CASES, reqs[:6]


def check_retry_after(st):
    """The retry after a 429 came no sooner than Retry-After, though the backoff alone (cap
    50 ms) would have retried at once. A Retry-After pauses its model on every worker
    (docs/RATELIMITS.md), so the other retries of the same models waited for the pause too,
    but no longer than it."""
    gaps = []
    for (model, case_id, k), tries in st.attempts.items():
        if tries[0][1] == 429:
            assert len(tries) == 2, tries
            gaps.append(tries[1][0] - tries[0][0])
    assert len(gaps) == 2 * (CASES // 10), gaps
    assert min(gaps) >= RETRY_AFTER_S - 0.05, gaps
    # ...and no longer than the pauses: a retry after a 500 comes before the end of the pause of
    # the last 429 answered before it (each 429 moves the pause's end; on a loaded machine the
    # 429s spread over more than one pause), with half a second of slack for the stats' way to
    # the coordinator and the pause's way back
    answered_429 = sorted(t[0][0] for t in st.attempts.values() if t[0][1] == 429)
    late = []
    quick = [t for t in st.attempts.values() if t[0][1] == 500]
    for t in quick:
        first, retry = t[0][0], t[1][0]
        ends = [x + RETRY_AFTER_S for x in answered_429 if x <= retry]
        if retry >= max([first] + ends) + 0.5:
            late.append((first, retry, ends[-3:]))
    assert quick and not late, late


def check_unauthorized(sb, srv, port):
    before = len(srv.st.requests)
    cfg = config(sb, "badkey", port, ["oa"])
    r, run_dir, took = run(sb, cfg, clean_env(TEST_KEY=WRONG_KEY), code=1)
    assert "model oa: %d of %d cases ended in error, most often http_401 (%d)" % (
        CASES, CASES, CASES) in r.stderr, r.stderr[-2000:]
    results = rslib.read_jsonl(os.path.join(run_dir, "results.jsonl"))
    want = "model oa: unauthorized (401): check the key in $TEST_KEY"
    for rec in results:
        m = rec["models"][0]
        assert (m["error"], m["error_type"], m["retries"]) == (want, "http_401", 0), m
    assert len(srv.st.requests) - before == CASES, "401 must not be retried"
    assert took < 30, took
    rep = rslib.load_report(run_dir)
    assert rep["models"][0]["graders"][0]["error"] == CASES
    return [r]


def check_missing_variable(sb, srv, port):
    before = len(srv.st.requests)
    cfg = config(sb, "nokey", port, ["an"], key_env="RS_TEST_UNSET_KEY_VAR")
    r, run_dir, _ = run(sb, cfg, clean_env(TEST_KEY=GOOD_KEY), code=1)
    assert "most often no_key (%d)" % CASES in r.stderr, r.stderr[-2000:]
    results = rslib.read_jsonl(os.path.join(run_dir, "results.jsonl"))
    want = "model an: $RS_TEST_UNSET_KEY_VAR is not set in the worker's environment"
    for rec in results:
        assert (rec["models"][0]["error"], rec["models"][0]["error_type"]) == (want, "no_key")
    assert len(srv.st.requests) == before, "no request without a key"
    return [r]


def check_no_key_anywhere(sb, outputs):
    secrets = [GOOD_KEY.encode(), WRONG_KEY.encode(), GOOD_KEY[-12:].encode()]
    scanned, redis_with_results = 0, 0
    for root, _, files in os.walk(sb.dir):
        for f in files:
            path = os.path.join(root, f)
            try:
                with open(path, "rb") as fh:
                    data = fh.read()
            except OSError:
                continue
            scanned += 1
            redis_with_results += "appendonly" in f and b"The answer is" in data
            for s in secrets:
                assert s not in data, "a key was written to " + path
    assert scanned > 10, scanned  # the run directories, their Redis files and the reports
    assert redis_with_results, "Redis's files were not among those scanned"
    for r in outputs:
        for s in secrets:
            assert s.decode() not in r.stdout + r.stderr, "a key was printed"


def main():
    if not shutil.which("redis-server"):
        rslib.skip("redis-server is not installed")
    srv = start_server()
    port = srv.server_address[1]
    try:
        with rslib.Sandbox() as sb:
            outs = check_main_run(sb, srv, port)
            outs += check_unauthorized(sb, srv, port)
            outs += check_missing_variable(sb, srv, port)
            check_no_key_anywhere(sb, outs)
    finally:
        srv.shutdown()
        srv.server_close()
    print("ok: openai and anthropic over HTTP, retries, Retry-After, errors, 401, no key leaks")


if __name__ == "__main__":
    main()
