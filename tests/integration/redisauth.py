"""Helpers for the Redis ACL and TLS tests: a redis-server with the ACL user of docs/REDIS.md, an
admin view of every key, and the checks that a password reached no file, key or output."""
import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time

import rslib

CONFIG = """
run: {name: %(name)s, seed: 7}
dataset: {path: cases.jsonl}
models:
  - {name: a, provider: sim, model: sim-1, params: {accuracy: 0.7, latency_ms: %(latency)s}}
  - {name: b, provider: sim, model: sim-1, params: {accuracy: 0.4, error_rate: 0.05, latency_ms: %(latency)s}}
scoring: {graders: [exact, numeric]}
cluster: {workers: 2, worker_slots: 16, heartbeat_ms: 200, lease_ms: 5000%(cluster)s}
"""


def acl_rule():
    """The ACL SETUSER line of docs/REDIS.md, as arguments (PASSWORD still a placeholder)."""
    with open(os.path.join(rslib.SRC, "docs", "REDIS.md")) as f:
        lines = [ln.strip() for ln in f if ln.startswith("ACL SETUSER rs ")]
    assert len(lines) == 1, "docs/REDIS.md must hold exactly one 'ACL SETUSER rs' line: %r" % lines
    return lines[0].split()


def new_password(tag):
    return "%s-%s" % (tag, secrets.token_hex(12))


class Server:
    """redis-server with the user rs (docs/REDIS.md's rule, password `password`) and the default
    user on another password. extra: more redis-server arguments (TLS); port None = a free one."""

    def __init__(self, sb, password, extra=(), port=None, cli_tls=()):
        if not shutil.which("redis-server") or not shutil.which("redis-cli"):
            rslib.skip("redis-server or redis-cli is not installed (apt-get install -y redis-server)")
        self.sb = sb
        self.admin_password = new_password("admin")
        self.port = port or rslib.free_port()
        self.cli_tls = list(cli_tls)
        d = sb.path("redis-%d" % self.port)
        os.makedirs(d)
        args = ["redis-server", "--bind", "127.0.0.1", "--dir", d, "--save", "", "--appendonly",
                "no", "--logfile", "redis.log"]
        args += list(extra) if extra else ["--port", str(self.port)]
        self.proc = sb.spawn(args, stdout=subprocess.DEVNULL)
        rslib.wait_port(self.port, self.proc)
        rule = [a.replace(">PASSWORD", ">" + password) for a in acl_rule()]
        assert rule != acl_rule(), "the rule has no >PASSWORD to replace"
        self.cli(*rule, admin=False)
        self.cli("ACL", "SETUSER", "default", "on", "resetpass", ">" + self.admin_password,
                 admin=False)

    def cli_bytes(self, *args, admin=True):
        """One redis-cli command as the admin (the default user); its stdout's bytes."""
        env = dict(os.environ)
        env.pop("REDISCLI_AUTH", None)
        if admin:
            env["REDISCLI_AUTH"] = self.admin_password
        r = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(self.port)] + self.cli_tls +
                           ["--raw"] + list(args), capture_output=True, env=env, timeout=30)
        assert r.returncode == 0 and not r.stdout.startswith(b"ERR"), (args[:2], r.stdout, r.stderr)
        return r.stdout

    def cli(self, *args, admin=True):
        """cli_bytes as text (packed records are binary: their bytes show as U+FFFD)."""
        return self.cli_bytes(*args, admin=admin).decode(errors="replace")

    def unpacked(self, db, key):
        """The records of a run's results hash that are stored packed (coordinator/recpack.h),
        decompressed with the run's dictionary by the zstd tool: a secret in one would not show
        in its stored bytes."""
        frames = []
        for field in filter(None, self.cli("-n", str(db), "HKEYS", key).split("\n")):
            value = self.cli_bytes("-n", str(db), "HGET", key, field)[:-1]  # --raw adds a newline
            if value[:1] == b"z":
                frames.append(value[9:])
        if not frames:
            return ""
        if not shutil.which("zstd"):
            rslib.skip("the zstd command is not installed (apt-get install -y zstd)")
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "dict"), "wb") as f:
                f.write(self.cli_bytes("-n", str(db), "GET", key[:-len(":results")] + ":dict")[:-1])
            r = subprocess.run(["zstd", "-d", "-q", "-c", "-D", os.path.join(d, "dict")],
                               input=b"".join(frames), capture_output=True, timeout=60)
        assert r.returncode == 0, "packed records of %s do not decompress: %s" % (key, r.stderr)
        return r.stdout.decode(errors="replace")

    def everything(self):
        """The text of every key of every database (names, values, scores; packed records also
        decompressed)."""
        out = []
        for db in range(16):
            keys = self.cli("-n", str(db), "--scan").split("\n")
            for key in filter(None, keys):
                kind = self.cli("-n", str(db), "TYPE", key).strip()
                if kind == "none":  # expired since the scan (the live view lasts 5 s)
                    continue
                read = {"string": ["GET"], "hash": ["HGETALL"], "zset": ["ZRANGE", "0", "-1",
                        "WITHSCORES"], "set": ["SMEMBERS"], "list": ["LRANGE", "0", "-1"]}[kind]
                out.append(key)
                out.append(self.cli("-n", str(db), read[0], key, *read[1:]))
                if key.endswith(":results"):
                    out.append(self.unpacked(db, key))
        return "\n".join(out)

    def denied(self):
        """Redis's ACL LOG without failed logins: every command, key or channel the server refused
        to a user (the text of those entries)."""
        lines = self.cli("ACL", "LOG").split("\n")
        reasons = [lines[i + 1] for i, ln in enumerate(lines[:-1]) if ln == "reason"]
        assert reasons or not any(lines), "cannot read ACL LOG:\n" + "\n".join(lines)
        return [r for r in reasons if r != "auth"], "\n".join(lines)


def files_holding(root, secret):
    """Paths of the files under root whose bytes contain secret."""
    found = []
    for d, _, files in os.walk(root):
        for name in files:
            path = os.path.join(d, name)
            try:
                with open(path, "rb") as f:
                    if secret.encode() in f.read():
                        found.append(path)
            except OSError:
                pass
    return found


def setup(sb, name, cases=600, latency=2, cluster="", file=None):
    """Writes the config (file, default NAME.yaml) and, once, its dataset; returns its path."""
    if not os.path.exists(sb.path("cases.jsonl")):
        sb.run([rslib.REASONSAVER, "datasets", "gen", "arithmetic", "--n", str(cases), "--seed",
                "5", "--out", sb.path("cases.jsonl")], check=0)
    return sb.write(file or name + ".yaml",
                    CONFIG % {"name": name, "latency": latency, "cluster": cluster})


class Outputs:
    """Every stdout and stderr a test saw, to check at the end that no password is in them."""

    def __init__(self):
        self.texts = []

    def run(self, sb, args, env, check=None, timeout=240):
        r = sb.run(args, env=env, check=check, timeout=timeout)
        self.texts += [r.stdout, r.stderr]
        return r

    def assert_clean(self, *secrets_):
        for s in secrets_:
            for t in self.texts:
                assert s not in t, "a password was printed:\n" + t[-2000:]


def environ(**extra):
    env = dict(os.environ)
    for k in ("REDIS_PASSWORD", "REDISCLI_AUTH"):
        env.pop(k, None)
    env.update(extra)
    return env


def status(sb, out, run_id, env):
    r = sb.run([rslib.REASONSAVER, "status", "--json", "--out", out, run_id], env=env)
    return json.loads(r.stdout) if r.returncode == 0 else None


def wait_done(sb, out, env, after, what="cases"):
    """Waits (90 s at most) until `status` says the only run under out has `after` cases done."""
    def progressed():
        try:
            run_id = os.path.basename(rslib.only_run_dir(out))
        except (AssertionError, FileNotFoundError):
            return False
        st = status(sb, out, run_id, env)
        return st is not None and st["done"] >= after

    rslib.wait_for(progressed, 90, "%d %s" % (after, what))


def interrupt_and_resume(sb, outputs, cfg, out, env, extra=(), after=100):
    """Starts a run, SIGINTs it once `after` cases are done, checks `status` says interrupted,
    resumes it to the end; returns the run directory."""
    coord = sb.spawn([rslib.REASONSAVER, "run", cfg, "--out", out] + list(extra), env=env,
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_done(sb, out, env, after)
    coord.send_signal(signal.SIGINT)
    stdout, stderr = coord.communicate(timeout=90)
    outputs.texts += [stdout, stderr]
    assert coord.returncode == 130, (coord.returncode, stderr[-2000:])
    run_dir = rslib.only_run_dir(out)
    run_id = os.path.basename(run_dir)
    st = status(sb, out, run_id, env)
    assert st["status"] == "interrupted" and 0 < st["done"] < st["total"], st
    time.sleep(0.2)
    outputs.run(sb, [rslib.REASONSAVER, "resume", run_id, "--out", out, "--quiet"], env, check=0)
    return run_dir
