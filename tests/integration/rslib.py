"""Shared helpers for reasonsaver's integration tests: real binaries, real redis-server, free
loopback ports, and cleanup that also runs when a test fails."""
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

BIN = os.environ.get("RS_BIN_DIR", os.path.join(os.path.dirname(__file__), "..", "..", "build"))
SRC = os.environ.get("RS_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))
REASONSAVER = os.path.join(BIN, "reasonsaver")
WORKER = os.path.join(BIN, "reasonsaver-worker")
SKIP = 77  # ctest SKIP_RETURN_CODE


def skip(why):
    print("SKIP: " + why)
    sys.exit(SKIP)


# Headless Chromium renders the report and viewer pages in the browser tests (Debian: chromium).
CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists("/usr/bin/chromium")
                                        else None)


def chromium(sb, name, *args):
    """Starts headless Chromium with a profile of its own in the sandbox (runs go in parallel)."""
    return subprocess.Popen(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--user-data-dir=" + sb.path("chromium-" + name)] + list(args),
        cwd=sb.dir, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env=dict(os.environ, HOME=sb.dir))


def chromium_finish(proc, what):
    """Waits for a chromium() process; its stdout (a --dump-dom page). It must exit 0."""
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, "chromium %s exited %d:\n%s" % (what, proc.returncode, err[-3000:])
    return out


def chromium_screenshot(sb, name, url, shot, size, *extra):
    """Starts a screenshot of url into the PNG shot, the window size = (width, height), with
    Chromium's extra options first (chromium_finish it)."""
    return chromium(sb, name, *extra, "--screenshot=" + shot, "--window-size=%d,%d" % size,
                    "--hide-scrollbars", url)


def check_screenshot(path, size, min_bytes, say=True):
    """A real screenshot: a PNG of the window's size = (width, height) and more than a blank
    page's bytes. With say, its path is printed (RS_KEEP_TMP=1 keeps the sandbox it is in)."""
    with open(path, "rb") as f:
        head = f.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", head[:8]
    assert struct.unpack(">II", head[16:24]) == tuple(size), struct.unpack(">II", head[16:24])
    n = os.path.getsize(path)
    assert n > min_bytes, "screenshot only %d bytes: a blank page?" % n
    if say:
        print("screenshot: %s (%d bytes)%s" % (path, n, "" if os.environ.get(
            "RS_KEEP_TMP") else "; set RS_KEEP_TMP=1 to keep it"))


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sandbox:
    """A temporary directory plus every process started in it; close() stops them all."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="rs-it-")
        self.procs = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        for p in self.procs:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL) if p._rs_group else p.kill()
                except ProcessLookupError:
                    pass
                p.wait()
        if os.environ.get("RS_KEEP_TMP"):
            print("kept " + self.dir)
        else:
            shutil.rmtree(self.dir, ignore_errors=True)

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def spawn(self, args, group=True, **kw):
        """Starts a long-running process in its own process group (so its children die with it)."""
        p = subprocess.Popen(args, cwd=kw.pop("cwd", self.dir), start_new_session=group, **kw)
        p._rs_group = group
        self.procs.append(p)
        return p

    def redis(self):
        """Starts redis-server on a free loopback port; returns its redis:// URL."""
        if not shutil.which("redis-server"):
            skip("redis-server is not installed (apt-get install -y redis-server)")
        port = free_port()
        d = self.path("redis-%d" % port)
        os.makedirs(d)
        p = self.spawn(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", d,
                        "--save", "", "--appendonly", "no", "--logfile", "redis.log"],
                       stdout=subprocess.DEVNULL)
        wait_port(port, p)
        return "redis://127.0.0.1:%d/0" % port

    def run(self, args, timeout=240, check=None, **kw):
        """Runs a command to completion; returns CompletedProcess with text stdout/stderr."""
        r = subprocess.run(args, cwd=kw.pop("cwd", self.dir), capture_output=True, text=True,
                           timeout=timeout, **kw)
        if check is not None and r.returncode != check:
            raise AssertionError("%s exited %d (wanted %d)\nstdout:\n%s\nstderr:\n%s" % (
                " ".join(args), r.returncode, check, r.stdout[-4000:], r.stderr[-4000:]))
        return r

    def write(self, name, text):
        with open(self.path(name), "w") as f:
            f.write(text)
        return self.path(name)


def wait_port(port, proc=None, timeout=10):
    until = time.time() + timeout
    while time.time() < until:
        if proc is not None and proc.poll() is not None:
            raise AssertionError("process exited before listening on %d" % port)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError("nothing listens on port %d" % port)


def run_dir_from_output(stdout, cwd=None):
    """The run directory named by the 'reports:' line; relative paths are taken from cwd."""
    for line in stdout.splitlines():
        if line.startswith("reports: "):
            return os.path.join(cwd or "", os.path.dirname(line.split()[1]))
    raise AssertionError("no 'reports:' line in output:\n" + stdout)


def load_report(run_dir):
    with open(os.path.join(run_dir, "report.json")) as f:
        return json.load(f)


def read_jsonl(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def report_counts(rep):
    """The parts of a report that must not depend on timing or crashes."""
    return {
        "cases": rep["dataset"]["cases"],
        "missing": rep["dataset"]["missing_results"],
        "models": [(m["name"], m["errors"], [(g["name"], g["correct"], g["wrong"], g["error"],
                                              g["skipped"]) for g in m["graders"]])
                   for m in rep["models"]],
        "tags": [(t["tag"], [[(g["correct"], g["wrong"]) for g in m["graders"]]
                             for m in t["models"]]) for t in rep["tags"]],
    }


def assert_same_run(run_dir, clean_dir):
    """A run that survived faults must equal the clean one: same counts, and the same result
    record for every case (results.jsonl, timing fields aside), so nothing was lost or counted
    twice."""
    got, want = load_report(run_dir), load_report(clean_dir)
    assert got["status"] == "finished", got["status"]
    assert report_counts(got) == report_counts(want), (report_counts(got), report_counts(want))
    assert got["dataset"]["missing_results"] == 0
    ra = [untimed(r) for r in read_jsonl(os.path.join(run_dir, "results.jsonl"))]
    rb = [untimed(r) for r in read_jsonl(os.path.join(clean_dir, "results.jsonl"))]
    assert len(ra) == len(rb) == got["dataset"]["cases"], (len(ra), len(rb))
    for i, (x, y) in enumerate(zip(ra, rb)):
        assert x == y, "case %d differs:\n%s\n%s" % (i, json.dumps(x)[:600], json.dumps(y)[:600])


# "cached": whether the response cache answered a call depends on what was made before (a run
# resumed after a crash finds the calls its first part made in the cache), not on the answer
TIMING_KEYS = {"latency_ms", "spans", "retries", "retry_reasons", "cached"}


def untimed(obj, drop=TIMING_KEYS):
    """A result record without what depends on timing (latencies, spans, retry counts), or
    without the keys in drop wherever they are."""
    if isinstance(obj, dict):
        return {k: untimed(v, drop) for k, v in obj.items() if k not in drop}
    if isinstance(obj, list):
        return [untimed(v, drop) for v in obj]
    return obj


def only_run_dir(out_dir):
    """The one run directory under out_dir (the response cache's private server, cache/, aside)."""
    dirs = [d for d in os.listdir(out_dir)
            if os.path.isdir(os.path.join(out_dir, d)) and d != "cache"]
    assert len(dirs) == 1, dirs
    return os.path.join(out_dir, dirs[0])


def wait_for(predicate, timeout, what, interval=0.3):
    """Polls predicate; the interval is not shorter because predicates often run a `reasonsaver
    status`, which on a stopped run starts (and stops) a redis-server of its own."""
    until = time.time() + timeout
    while time.time() < until:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError("timed out waiting for " + what)


def children(pid, name):
    """pids of the direct children of pid whose command name is name."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open("/proc/%s/comm" % entry) as f:
                comm = f.read().strip()
        except OSError:
            continue
        if int(fields[1]) == pid and comm == name[:15]:
            out.append(int(entry))
    return out


def status_json(sb, out_dir, run_id=None):
    args = [REASONSAVER, "status", "--json", "--out", out_dir] + ([run_id] if run_id else [])
    r = sb.run(args)
    return json.loads(r.stdout) if r.returncode == 0 else None


class Resp:
    """A minimal RESP client (the tests need no Redis client library) on a redis:// url:
    binary-safe arguments and values, a Redis error raises AssertionError. Replies: bytes for a
    status or bulk string (None for a nil one), int, or a list of replies."""

    def __init__(self, url):
        host, port = url[len("redis://"):].split("/")[0].split(":")
        self.s = socket.create_connection((host, int(port)))
        self.buf = bytearray()  # received, not yet parsed: a timeout never loses a partial reply

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, *args):
        args = [a if isinstance(a, bytes) else str(a).encode() for a in args]
        self.s.sendall(b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a)
                                                         for a in args))

    def __call__(self, *args):
        self.send(*args)
        return self.reply()

    def pipeline(self, commands):
        """Sends every command, then reads their replies (one round trip)."""
        for c in commands:
            self.send(*c)
        return [self.reply() for _ in commands]

    def reply(self, timeout=None):
        """The next reply; with a timeout in seconds, None when none is complete by then (a
        subscriber's messages: [b"message", channel, payload])."""
        self.s.settimeout(timeout)
        while True:
            parsed = _resp_parse(self.buf, 0)
            if parsed:
                value, end = parsed
                del self.buf[:end]
                if isinstance(value, _RespError):
                    raise AssertionError(str(value))
                return value
            try:
                chunk = self.s.recv(65536)
            except socket.timeout:
                return None
            assert chunk, "Redis closed the connection"
            self.buf += chunk

    def close(self):
        self.s.close()


class _RespError(str):
    pass


def _resp_parse(buf, i):
    """(value, end) of the reply that starts at buf[i], or None while it is incomplete."""
    eol = buf.find(b"\r\n", i)
    if eol < 0:
        return None
    kind, rest = buf[i:i + 1], bytes(buf[i + 1:eol])
    if kind == b"-":
        return _RespError(rest.decode(errors="replace")), eol + 2
    if kind == b"+":
        return rest, eol + 2
    if kind == b":":
        return int(rest), eol + 2
    n = int(rest)
    if kind == b"$":
        if n < 0:
            return None, eol + 2
        end = eol + 2 + n
        return (bytes(buf[eol + 2:end]), end + 2) if len(buf) >= end + 2 else None
    items, at = [], eol + 2
    for _ in range(max(n, 0)):
        parsed = _resp_parse(buf, at)
        if not parsed:
            return None
        items.append(parsed[0])
        at = parsed[1]
    return items, at
