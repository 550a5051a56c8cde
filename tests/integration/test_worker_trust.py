"""A worker trusts its coordinator only as far as it must: a rogue coordinator (a fake one here,
speaking the wire protocol with python3-zmq and python3-msgpack) sends WELCOME with a spec whose
model names api_key_env AWS_SECRET_ACCESS_KEY and a base_url of its own listener, then a TASK.
The worker has that variable set. By default (--allow-env '*_API_KEY') the secret never reaches
the listener and the worker exits 3 with a message naming the variable and the flag. Given
--allow-env AWS_SECRET_ACCESS_KEY the same worker does send it, so the first half can fail.
The spec also asks for 10^12 worker slots: the worker's CREDIT stays within 65536."""
import http.server
import json
import os
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
import rslib  # noqa: E402

try:
    import msgpack
    import zmq
except ImportError:
    rslib.skip("python3-zmq and python3-msgpack are needed (scripts/install-deps.sh)")

SECRET = "AKIA-rogue-test-secret-0123456789"
EXIT_SPEC = 3  # RS_PROTO_EXIT_SPEC


class Listener(http.server.BaseHTTPRequestHandler):
    """The attacker's model API: records every request's headers and body, answers like OpenAI."""
    seen = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        Listener.seen.append({"path": self.path, "headers": dict(self.headers.items()),
                              "body": body.decode("utf-8", "replace")})
        reply = json.dumps({"id": "x", "object": "chat.completion", "model": "m",
                            "choices": [{"index": 0, "finish_reason": "stop",
                                         "message": {"role": "assistant", "content": "4"}}],
                            "usage": {"prompt_tokens": 1, "completion_tokens": 1}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):
        pass


def spec(url):
    return json.dumps({
        "run": {"name": "rogue"},
        "dataset": {"path": "/nonexistent.jsonl"},
        "models": [{"name": "m", "provider": "openai", "model": "gpt-x", "base_url": url,
                    "api_key_env": "AWS_SECRET_ACCESS_KEY", "max_retries": 0}],
        "cluster": {"worker_slots": 10 ** 12},
    })


def frame(**fields):
    fields["v"] = 1
    return msgpack.packb(fields, use_bin_type=True)


def fake_coordinator(sb, url, worker_args, seconds):
    """Runs a worker against a ROUTER that greets every HELLO with the rogue spec and a TASK of
    one case. Returns (exit status or None when still running after `seconds`, stderr, the
    credits the worker gave)."""
    ctx = zmq.Context()
    sock = ctx.socket(zmq.ROUTER)
    port = sock.bind_to_random_port("tcp://127.0.0.1")
    env = dict(os.environ, AWS_SECRET_ACCESS_KEY=SECRET)
    err_path = sb.path("worker-%d.err" % port)
    with open(err_path, "w") as err:
        w = sb.spawn([rslib.WORKER, "--connect", "tcp://127.0.0.1:%d" % port, "--id", "victim"]
                     + worker_args, env=env, stderr=err, stdout=subprocess.DEVNULL)
    task_id, until, credits = 0, time.time() + seconds, []
    try:
        while time.time() < until and w.poll() is None:
            if not sock.poll(100):
                continue
            peer, data = sock.recv_multipart()
            msg = msgpack.unpackb(data, raw=False)
            if msg.get("t") == "CREDIT":
                credits.append(msg["n"])
            if msg.get("t") != "HELLO":
                continue
            task_id += 1
            sock.send_multipart([peer, frame(t="WELCOME", run_id="rogue-run", spec=spec(url),
                                             heartbeat_ms=1000)])
            sock.send_multipart([peer, frame(
                t="TASK", task_id=task_id, lease=1, deadline_ms=60000,
                cases=[{"idx": 0, "id": "1", "msgs": [["user", "2+2?"]], "targets": ["4"],
                        "tags": []}])])
        rc = w.poll()
        if rc is None:
            w.terminate()
            w.wait(10)
    finally:
        sock.close(0)
        ctx.term()
    with open(err_path) as f:
        return rc, f.read(), credits


def main():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Listener)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = "http://127.0.0.1:%d/v1" % server.server_address[1]
    try:
        with rslib.Sandbox() as sb:
            r = sb.run([rslib.WORKER, "--connect", "tcp://127.0.0.1:9", "--allow-env", "A,B=1"],
                       check=2)
            assert "'B=1'" in r.stderr, r.stderr
            # the default list: the spec is refused, nothing is sent, exit 3 with the reason
            rc, err, _ = fake_coordinator(sb, url, [], 30)
            assert rc == EXIT_SPEC, "worker exit status %r, wanted %d:\n%s" % (rc, EXIT_SPEC, err)
            assert "AWS_SECRET_ACCESS_KEY" in err and "--allow-env" in err, err
            assert SECRET not in err, "the secret reached the worker's stderr:\n" + err
            assert not Listener.seen, "the worker called the rogue URL: %r" % Listener.seen
            print("ok: refused the rogue spec, exit 3: " + err.strip().splitlines()[-1])

            # a list that does not match by glob either
            rc, err, _ = fake_coordinator(sb, url, ["--allow-env", "*_API_KEY,AWS_*_KEY_ID"], 30)
            assert rc == EXIT_SPEC and not Listener.seen, (rc, err, Listener.seen)

            # an operator who allows the variable gets it sent: the check above can fail
            allow = ["--allow-env", "AWS_SECRET_ACCESS_KEY"]
            rc, err, credits = fake_coordinator(sb, url, allow, 5)
            auths = [r["headers"].get("Authorization", "") for r in Listener.seen]
            assert "Bearer " + SECRET in auths, "allowed, yet not sent: %r\n%s" % (auths, err)
            assert rc is None, "the allowed worker exited %r:\n%s" % (rc, err)
            assert credits and max(credits) <= 65536, credits
            print("ok: with --allow-env AWS_SECRET_ACCESS_KEY the key is sent (%d calls)"
                  % len(auths))
    finally:
        server.shutdown()


if __name__ == "__main__":
    main()
