"""reasonsaver-mockllm over real HTTP: the shapes of every endpoint, answers equal to the sim's
definition (recomputed with tests/integration/simref.py), authentication, fault rates and the
/stats counters that must match what the client saw, latency served by suspend/resume rather than
a thread per request, truncated and wrong-content-type replies, hangs, the --log-requests log, and
a clean SIGTERM."""
import base64
import http.client
import json
import math
import os
import re
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(__file__))
import rslib  # noqa: E402
import simref  # noqa: E402
import xxhash  # noqa: E402  (python3-xxhash, as simref)

MOCK = os.path.join(rslib.BIN, "reasonsaver-mockllm")
QUESTION = [{"role": "user", "content": "What is 20 + 5?"}]
API_KEY = "s3cret-mock-key-77"


class Mock:
    """One reasonsaver-mockllm on a free port (announced through --port-file)."""

    count = 0

    def __init__(self, sb, *args, env=None):
        Mock.count += 1
        name = "mock%d" % Mock.count
        self.out_path, self.err_path = sb.path(name + ".out"), sb.path(name + ".err")
        port_file = sb.path(name + ".port")
        with open(self.out_path, "w") as out, open(self.err_path, "w") as err:
            self.proc = sb.spawn([MOCK, "--port", "0", "--port-file", port_file] + list(args),
                                 stdout=out, stderr=err, env=env)
        self.port = self._wait_port(port_file)
        rslib.wait_port(self.port, self.proc)

    def _wait_port(self, port_file, timeout=10):
        until = time.time() + timeout
        while time.time() < until:
            if self.proc.poll() is not None:
                raise AssertionError("mockllm exited %d: %s" % (self.proc.returncode, self.log()))
            try:
                with open(port_file) as f:
                    text = f.read()
                if text.endswith("\n"):
                    return int(text)
            except FileNotFoundError:
                pass
            time.sleep(0.02)
        raise AssertionError("mockllm wrote no port file: " + self.log())

    def log(self):
        with open(self.out_path) as o, open(self.err_path) as e:
            return o.read() + e.read()

    def conn(self, timeout=10):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, conn=None, timeout=10):
        """(status, {lowercase header: value}, body bytes); reuses conn (keep-alive) if given."""
        c = conn or self.conn(timeout)
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        data = r.read()
        if conn is None:
            c.close()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, data

    def post(self, path, obj, headers=None, conn=None):
        return self.request("POST", path, obj, dict({"Content-Type": "application/json"},
                                                    **(headers or {})), conn)

    def stats(self):
        status, _, body = self.request("GET", "/stats")
        assert status == 200, status
        return json.loads(body)

    def reset(self):
        assert self.request("POST", "/stats/reset")[0] == 200

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=10)
        assert rc == 0, "mockllm exited %d on SIGTERM: %s" % (rc, self.log())


def chat(model="m", messages=QUESTION, **kw):
    return dict({"model": model, "messages": messages}, **kw)


def rs_headers(model, case_id, k, target):
    q = lambda s: urllib.parse.quote(str(s), safe="")  # noqa: E731
    h = {"X-RS-Model": q(model), "X-RS-Case": q(case_id), "X-RS-Candidate": str(k)}
    if target is not None:
        h["X-RS-Target"] = q(target)
    return h


def error_of(body):
    e = json.loads(body)["error"]
    assert isinstance(e["message"], str) and e["message"], e
    return e


# ------------------------------------------------------------------------------ reference


def embed_ref(text, dim):
    """The embedding definition (docs/MOCKLLM.md), independently of the C code."""
    v = [0.0] * dim
    for w in re.findall(rb"[0-9A-Za-z\x80-\xff]+", text.encode()):
        h = xxhash.xxh64_intdigest(w.lower(), seed=0)
        v[h % dim] += -1.0 if h >> 63 else 1.0
    n = math.sqrt(sum(x * x for x in v))
    return [x / n for x in v] if n else v


def wrong_int(model, case_id, k, seed, target):
    """The sim's wrong answer for an integer target (docs/SIM.md)."""
    key = ("%s\x1f%s\x1f%d\x1fwrong" % (model, case_id, k)).encode()
    h = xxhash.xxh64_intdigest(key, seed=seed & 0xFFFFFFFFFFFFFFFF)
    d = (1 + h % 9) * (-1 if (h >> 32) & 1 else 1)
    return str(int(target) + d)


# ------------------------------------------------------------------------------ tests


def check_shapes(m):
    status, hdr, body = m.request("GET", "/health")
    assert (status, body) == (200, b"ok"), (status, body)
    status, _, body = m.request("GET", "/v1/models")
    assert status == 200 and "sim-1" in [x["id"] for x in json.loads(body)["data"]], body

    status, hdr, body = m.post("/v1/chat/completions", chat("gpt-test", n=3, temperature=0.7,
                                                            top_p=1, max_tokens=50, seed=3,
                                                            stop=["\n\n"]))
    assert status == 200 and hdr["content-type"].startswith("application/json"), (status, body)
    r = json.loads(body)
    assert r["object"] == "chat.completion" and r["model"] == "gpt-test", r
    assert r["id"].startswith("chatcmpl-") and isinstance(r["created"], int), r
    assert [c["index"] for c in r["choices"]] == [0, 1, 2], r
    for c in r["choices"]:
        assert c["finish_reason"] == "stop" and c["message"]["role"] == "assistant", c
        assert c["message"]["content"].startswith("[simulated]"), c
        assert c["message"]["content"].endswith("#### 42"), c  # no target: the sim says 42
    u = r["usage"]
    assert u["prompt_tokens"] == 4, u  # ceil(15 bytes / 4)
    assert u["total_tokens"] == u["prompt_tokens"] + u["completion_tokens"], u

    texts = ["The quick brown fox", "the QUICK brown fox!", "something else entirely"]
    status, _, body = m.post("/v1/embeddings", {"model": "emb", "input": texts})
    assert status == 200, body
    r = json.loads(body)
    assert r["object"] == "list" and r["model"] == "emb", r
    assert r["usage"]["prompt_tokens"] == r["usage"]["total_tokens"] > 0, r
    vecs = [d["embedding"] for d in r["data"]]
    assert [d["index"] for d in r["data"]] == [0, 1, 2]
    assert all(d["object"] == "embedding" and len(d["embedding"]) == 64 for d in r["data"])
    for text, v in zip(texts, vecs):
        assert abs(math.sqrt(sum(x * x for x in v)) - 1) < 1e-6, v
        assert max(abs(a - b) for a, b in zip(v, embed_ref(text, 64))) < 1e-6, text
    assert vecs[0] == vecs[1] and vecs[0] != vecs[2]
    again = json.loads(m.post("/v1/embeddings", {"model": "emb", "input": texts[0]})[2])
    assert again["data"][0]["embedding"] == vecs[0], "embeddings are not deterministic"
    status, _, body = m.post("/v1/embeddings", {"model": "emb", "input": texts[2],
                                                "encoding_format": "base64", "dimensions": 16})
    raw = base64.b64decode(json.loads(body)["data"][0]["embedding"])
    got = struct.unpack("<16f", raw)
    assert max(abs(a - b) for a, b in zip(got, embed_ref(texts[2], 16))) < 1e-6, got

    anth = {"x-api-key": "anything", "anthropic-version": "2023-06-01"}
    req = {"model": "claude-test", "max_tokens": 64, "system": "Be brief.", "messages": QUESTION}
    status, _, body = m.post("/v1/messages", req, anth)
    assert status == 200, body
    r = json.loads(body)
    assert (r["type"], r["role"], r["model"], r["stop_reason"]) == (
        "message", "assistant", "claude-test", "end_turn"), r
    assert r["id"].startswith("msg_") and r["content"][0]["type"] == "text", r
    assert r["content"][0]["text"].startswith("[simulated]"), r
    assert r["usage"]["input_tokens"] == 6 and r["usage"]["output_tokens"] > 0, r  # 24 bytes
    status, _, body = m.post("/v1/messages", req, {"x-api-key": "k"})
    assert status == 400 and json.loads(body)["error"]["type"] == "invalid_request_error", body
    status, _, body = m.post("/v1/messages", req, {"anthropic-version": "2023-06-01"})
    assert status == 401 and json.loads(body)["type"] == "error", body
    assert json.loads(body)["error"]["type"] == "authentication_error", body


def check_errors(m):
    status, _, body = m.request("GET", "/v1/nothing-here")
    assert status == 404 and error_of(body), (status, body)
    status, _, body = m.request("GET", "/v1/chat/completions")
    assert status == 405, status
    for bad in ["{not json", "[1, 2]", "", json.dumps({"model": "m"}),
                json.dumps(chat(n=0)), json.dumps({"model": "m", "messages": [{"content": 1}]})]:
        status, hdr, body = m.request("POST", "/v1/chat/completions", bad)
        assert status == 400 and hdr["content-type"].startswith("application/json"), (bad, body)
        assert error_of(body)["type"] == "invalid_request_error", body
    status, _, body = m.post("/v1/embeddings", {"model": "e", "input": [[1, 2, 3]]})
    assert status == 400, body
    status, _, body = m.post("/v1/chat/completions", chat(), {"X-RS-Case": "bad%zz"})
    assert status == 400 and "X-RS-Case" in error_of(body)["message"], body
    status, _, body = m.post("/v1/chat/completions", chat(), {"X-RS-Candidate": "-3"})
    assert status == 400, body
    # Garbage on the wire gets an HTTP error, never a crash (checked by /health afterwards).
    for junk in [b"\x00\xff garbage\r\n\r\n", b"POST /v1/chat/completions HTTP/1.1\r\n"
                 b"Content-Length: -5\r\n\r\n", b"GET " + b"/x" * 40000 + b" HTTP/1.1\r\n\r\n"]:
        with socket.create_connection(("127.0.0.1", m.port), timeout=5) as s:
            try:
                s.sendall(junk)
                s.shutdown(socket.SHUT_WR)
                s.recv(4096)
            except OSError:
                pass  # closing (or resetting) on garbage is fine; crashing is not
    assert m.request("GET", "/health")[0] == 200


def raw_request(port, head, chunks=()):
    """Sends head (and body chunks) on a raw socket; returns the status line's code."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        s.sendall(head)
        for c in chunks:
            s.sendall(c)
        data = b""
        while b"\r\n\r\n" not in data:
            got = s.recv(65536)
            if not got:
                break
            data += got
    codes = re.findall(rb"HTTP/1\.1 (\d{3})", data)
    return int([c for c in codes if c != b"100"][0])


def check_too_large(m):
    big = 17 << 20
    head = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % big)
    assert raw_request(m.port, head) == 413  # answered before the body is sent
    head = (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
            b"Connection: close\r\n\r\n")
    chunk = b"%x\r\n%s\r\n" % (1 << 20, b"a" * (1 << 20))
    assert raw_request(m.port, head, [chunk] * 17 + [b"0\r\n\r\n"]) == 413


def check_sim(m, seed, accuracy):
    """200 fake cases through the X-RS-* headers: the answer is the sim definition's."""
    label = "mock strong/v1"  # needs percent-encoding
    c = m.conn()
    correct = expected = 0
    for i in range(200):
        case_id, k = "case %d/é" % i, i % 3
        target = str(3 * i + 1) if i % 10 else "yes-%d" % i
        hdr = rs_headers(label, case_id, k, target)
        n = 2 if i % 7 == 0 else 1
        if i % 2:
            status, _, body = m.post("/v1/chat/completions", chat("gpt-x", n=n), hdr, conn=c)
            assert status == 200, body
            texts = [ch["message"]["content"] for ch in json.loads(body)["choices"]]
        else:
            anth = dict(hdr, **{"x-api-key": "k", "anthropic-version": "2023-06-01"})
            req = {"model": "claude-x", "max_tokens": 9, "messages": QUESTION}
            status, _, body = m.post("/v1/messages", req, anth, conn=c)
            assert status == 200, body
            texts, n = [json.loads(body)["content"][0]["text"]], 1
        for j, text in enumerate(texts):
            assert text.startswith("[simulated]"), text
            want = simref.outcome(label, case_id, k + j, seed, accuracy)
            if want == "correct":
                expected += 1
                assert text.endswith("#### " + target), (i, j, text)
            else:
                wrong = wrong_int(label, case_id, k + j, seed, target) if i % 10 else \
                    "not " + target
                assert text.endswith("#### " + wrong), (i, j, text, wrong)
            correct += text.endswith("#### " + target)
    assert correct == expected, (correct, expected)
    assert 0.5 < correct / 229 < 0.8, correct  # 200 cases + 29 second choices


def check_auth(sb):
    m = Mock(sb, "--api-key", API_KEY, "--quiet")
    status, _, body = m.post("/v1/chat/completions", chat())
    assert status == 401 and error_of(body)["code"] == "invalid_api_key", body
    status, _, body = m.post("/v1/chat/completions", chat(), {"Authorization": "Bearer nope"})
    assert status == 401 and error_of(body)["type"] == "invalid_request_error", body
    assert API_KEY not in body.decode()
    status, _, _ = m.post("/v1/chat/completions", chat(), {"Authorization": "Bearer " + API_KEY})
    assert status == 200
    assert m.request("GET", "/v1/models")[0] == 401
    assert m.request("GET", "/health")[0] == 200  # probes need no key
    anth = {"anthropic-version": "2023-06-01"}
    req = {"model": "c", "max_tokens": 5, "messages": QUESTION}
    status, _, body = m.post("/v1/messages", req, dict(anth, **{"x-api-key": "wrong"}))
    assert status == 401 and json.loads(body)["error"]["type"] == "authentication_error", body
    status, _, _ = m.post("/v1/messages", req, dict(anth, **{"x-api-key": API_KEY}))
    assert status == 200
    m.stop()
    env = dict(os.environ, MOCKLLM_API_KEY=API_KEY)
    m2 = Mock(sb, env=env)
    assert m2.post("/v1/chat/completions", chat(), {"Authorization": "Bearer x"})[0] == 401
    assert m2.post("/v1/chat/completions", chat(),
                   {"Authorization": "Bearer " + API_KEY})[0] == 200
    m2.stop()
    for mock in (m, m2):
        assert API_KEY not in mock.log(), "the API key was printed"


def check_rate_429(sb):
    m = Mock(sb, "--rate-429", "0.3", "--retry-after", "2", "--fault-seed", "3")
    m.reset()
    c = m.conn()
    seen = {}
    for _ in range(300):
        status, hdr, body = m.post("/v1/chat/completions", chat(), conn=c)
        seen[status] = seen.get(status, 0) + 1
        if status == 429:
            assert hdr.get("retry-after") == "2", hdr
            e = error_of(body)
            assert (e["type"], e["code"]) == ("requests", "rate_limit_exceeded"), e
        else:
            assert status == 200, (status, body)
    assert 0.2 * 300 <= seen.get(429, 0) <= 0.4 * 300, seen
    st = m.stats()
    assert st["requests"] == 300 and st["by_endpoint"]["/v1/chat/completions"] == 300, st
    assert st["by_status"] == {str(k): v for k, v in seen.items()}, (st, seen)
    assert st["in_flight"] == 0 and st["waiting"] == 0, st
    m.stop()


def classify(status, hdr, body):
    if status == 500:
        assert error_of(body)["type"] == "server_error", body
        return "500"
    assert status == 200, (status, body)
    if hdr["content-type"].startswith("text/html"):
        assert body.lstrip().startswith(b"<"), body
        return "wrong_type"
    assert hdr["content-type"].startswith("application/json"), hdr
    try:
        json.loads(body)
        return "ok"
    except ValueError:
        assert body.startswith(b'{"id":"chatcmpl-'), body
        return "truncated"


def check_fault_mix(sb):
    m = Mock(sb, "--rate-500", "0.15", "--rate-truncate", "0.15", "--rate-wrong-type", "0.15",
             "--fault-seed", "9")
    c = m.conn()
    seen = {"ok": 0, "500": 0, "truncated": 0, "wrong_type": 0}
    full = len(m.post("/v1/chat/completions", chat(), {"X-RS-Case": "fixed"}, conn=c)[2])
    m.reset()
    for _ in range(400):
        status, hdr, body = m.post("/v1/chat/completions", chat(), {"X-RS-Case": "fixed"}, conn=c)
        kind = classify(status, hdr, body)
        seen[kind] += 1
        if kind == "truncated":
            assert abs(len(body) - full // 2) <= 2, (len(body), full)  # ids differ by no length
    for kind in ("500", "truncated", "wrong_type"):
        assert 0.07 * 400 <= seen[kind] <= 0.23 * 400, seen
    st = m.stats()
    assert st["by_status"].get("500", 0) == seen["500"], (st, seen)
    assert st["by_status"]["200"] == seen["ok"] + seen["truncated"] + seen["wrong_type"], st
    assert st["truncated"] == seen["truncated"], (st, seen)
    assert st["wrong_content_type"] == seen["wrong_type"], (st, seen)
    m.stop()


def check_hang(sb):
    m = Mock(sb, "--rate-hang", "1", "--hang-ms", "600")
    t0 = time.time()
    try:
        m.post("/v1/chat/completions", chat(), conn=m.conn(timeout=0.25))
        raise AssertionError("a hung request was answered")
    except socket.timeout:
        pass
    assert time.time() - t0 < 2  # the client gave up at 0.25 s: the mock did not answer
    st = m.stats()
    assert st["hangs"] == 1 and st["in_flight"] == 1 and st["waiting"] == 1, st
    t0 = time.time()
    try:
        m.post("/v1/chat/completions", chat(), conn=m.conn(timeout=5))
        raise AssertionError("a hung request was answered")
    except (http.client.RemoteDisconnected, ConnectionResetError):
        pass
    assert 0.5 <= time.time() - t0 < 5, time.time() - t0  # closed after --hang-ms (600 ms)
    st = m.stats()
    assert st["hangs"] == 2 and st["by_status"] == {}, st
    m.stop()
    # SIGTERM while requests hang: they are closed and the server exits at once.
    m = Mock(sb, "--rate-hang", "1", "--hang-ms", "60000")
    errors = []

    def hung():
        try:
            m.post("/v1/chat/completions", chat(), conn=m.conn(timeout=30))
        except (http.client.RemoteDisconnected, ConnectionResetError) as e:
            errors.append(e)

    threads = [threading.Thread(target=hung) for _ in range(5)]
    for t in threads:
        t.start()
    until = time.time() + 5
    while m.stats()["waiting"] < 5 and time.time() < until:
        time.sleep(0.02)
    t0 = time.time()
    m.stop()
    for t in threads:
        t.join(10)
    assert time.time() - t0 < 5 and len(errors) == 5, (time.time() - t0, errors)


def check_concurrency(sb):
    """200 requests waiting 200 ms each on one server thread finish together: they are parked
    on the timer (suspend/resume), not served one thread or one sleep at a time."""
    m = Mock(sb, "--latency-ms", "200", "--threads", "1")
    conns = [m.conn(timeout=10) for _ in range(200)]
    for c in conns:
        c.connect()
    go = threading.Barrier(201)
    took, failed = [], []

    def one(c, i):
        go.wait()
        t0 = time.time()
        try:
            status, _, _ = m.post("/v1/chat/completions", chat(messages=[
                {"role": "user", "content": "q%d" % i}]), conn=c)
            (took if status == 200 else failed).append(time.time() - t0)
        except Exception as e:  # noqa: BLE001  (reported below)
            failed.append(e)

    threads = [threading.Thread(target=one, args=(c, i)) for i, c in enumerate(conns)]
    for t in threads:
        t.start()
    go.wait()
    t0 = time.time()
    peak = 0
    while any(t.is_alive() for t in threads) and time.time() - t0 < 10:
        peak = max(peak, m.stats()["waiting"])
        time.sleep(0.01)
    for t in threads:
        t.join()
    elapsed = time.time() - t0
    assert not failed and len(took) == 200, failed[:3]
    assert min(took) >= 0.19, min(took)
    # one at a time would take 40 s; margin for a loaded machine (the ASan build beside others)
    assert elapsed < 3, "200 x 200 ms took %.2f s: latency is not concurrent" % elapsed
    assert peak >= 50, "at most %d requests were parked at once" % peak
    m.stop()


def check_lognormal(sb):
    m = Mock(sb, "--latency-ms", "40", "--latency-dist", "lognormal", "--latency-sigma", "0.5")
    c = m.conn()
    took = []
    for _ in range(60):
        t0 = time.time()
        assert m.post("/v1/chat/completions", chat(), conn=c)[0] == 200
        took.append(time.time() - t0)
    took.sort()
    assert 0.025 < took[30] < 0.1, took[30]  # median 40 ms, plus a loaded machine's delays
    assert took[-1] / took[0] > 1.5, (took[0], took[-1])
    m.stop()


def check_options(sb):
    for args, rc, says in ((["--rate-429", "1.5"], 1, "rate-429"),
                           (["--rate-429", "0.6", "--rate-500", "0.6"], 1, "add up"),
                           (["--latency-dist", "gamma"], 2, "latency-dist"),
                           (["--bogus"], 2, "unknown option"),
                           (["--port", "x"], 2, "--port")):
        r = sb.run([MOCK] + args, timeout=10)
        assert r.returncode == rc and says in r.stderr, (args, r.returncode, r.stderr)
    r = sb.run([MOCK, "--help"], timeout=10, check=0)
    for opt in ("--latency-ms", "--rate-hang", "--port-file", "--api-key", "--embed-dim"):
        assert opt in r.stdout, opt


def check_request_log(sb):
    """--log-requests: one JSON line per model request (bad ones too), none for other routes."""
    path = sb.path("requests.jsonl")
    m = Mock(sb, "--log-requests", path, "--threads", "4", "--quiet")
    req = chat(messages=[{"role": "user", "content": "a\nb ü"}])
    assert m.post("/v1/chat/completions", req)[0] == 200
    assert m.post("/v1/chat/completions", "not json {")[0] == 400
    assert m.request("GET", "/health")[0] == 200
    embed = lambda i: m.post("/v1/embeddings", {"model": "e", "input": "x%d" % i})  # noqa: E731
    threads = [threading.Thread(target=embed, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    m.stop()
    with open(path) as f:
        lines = [json.loads(line) for line in f]  # whole lines only, even from 4 threads
    assert len(lines) == 22, lines
    for rec in lines:  # each line has its arrival time (wall clock ms)
        assert abs(rec.pop("t_ms") - time.time() * 1000) < 60000, rec
    assert lines[0] == {"path": "/v1/chat/completions", "body": req}, lines[0]
    assert lines[1] == {"path": "/v1/chat/completions", "body": "not json {"}, lines[1]
    inputs = sorted(rec["body"]["input"] for rec in lines[2:])
    assert inputs == sorted("x%d" % i for i in range(20)), inputs
    r = sb.run([MOCK, "--log-requests", sb.path("no-such-dir/log.jsonl")], timeout=10)
    assert r.returncode == 1 and "--log-requests" in r.stderr, (r.returncode, r.stderr)


def main():
    if not os.path.exists(MOCK):
        rslib.skip("reasonsaver-mockllm is not built")
    with rslib.Sandbox() as sb:
        m = Mock(sb, "--seed", "7", "--accuracy", "0.6")
        assert "listening on http://127.0.0.1:%d" % m.port in open(m.out_path).read()
        check_shapes(m)
        check_errors(m)
        check_too_large(m)
        check_sim(m, 7, 0.6)
        m.stop()
        check_auth(sb)
        check_rate_429(sb)
        check_fault_mix(sb)
        check_hang(sb)
        check_concurrency(sb)
        check_lognormal(sb)
        check_options(sb)
        check_request_log(sb)
    print("ok: mockllm endpoints, sim answers, auth, faults, stats, latency and the request log")


if __name__ == "__main__":
    main()
