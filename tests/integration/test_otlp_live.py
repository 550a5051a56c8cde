"""report.otlp: a run exports its traces to an OpenTelemetry endpoint while it runs; the test
receiver gets every span of every stored result, in OTLP/HTTP JSON."""
import http.server
import json
import os
import sys
import threading

sys.path.insert(0, os.path.dirname(__file__))
import rslib  # noqa: E402


def receiver():
    bodies = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            bodies.append((self.path, json.loads(body)))
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, bodies


def main():
    server, bodies = receiver()
    try:
        with rslib.Sandbox() as sb:
            cfg = os.path.join(rslib.SRC, "configs", "demo.yaml")
            r = sb.run([rslib.REASONSAVER, "run", cfg, "--out", sb.path("runs"), "--set",
                        "dataset.limit=120", "--set",
                        "report.otlp=http://127.0.0.1:%d" % server.server_address[1]], check=0)
            assert "exported" in r.stderr, r.stderr[-2000:]
            run_dir = rslib.run_dir_from_output(r.stdout, sb.dir)
            stored = sum(len(x["spans"]) for x in
                         rslib.read_jsonl(os.path.join(run_dir, "results.jsonl")))
            assert all(path == "/v1/traces" for path, _ in bodies), [p for p, _ in bodies]
            got = [s for _, b in bodies for rs in b["resourceSpans"] for ss in rs["scopeSpans"]
                   for s in ss["spans"]]
            assert stored > 0 and len(got) == stored, (len(got), stored)
            assert all(len(s["traceId"]) == 32 and len(s["spanId"]) == 16 for s in got)
    finally:
        server.shutdown()
    print("ok: %d spans exported live" % len(got))


if __name__ == "__main__":
    main()
