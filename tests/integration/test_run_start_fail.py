"""A run that cannot start leaves nothing behind, although a new run starts its local workers
before its own Redis (so that their start-up overlaps the server's):

- no redis-server in PATH: exit 1 with the message naming the Debian package; no run directory;
  the workers that were already started are stopped (none is left running);
- the workers' address in use (cluster.bind on a port the test holds): exit 1 with "cannot bind",
  no run directory (the run's Redis, forked before a dataset long enough that it has written its
  log, is stopped and its directory removed, log and all), no worker started;
- a dataset that cannot be read (the run's Redis is launched before the dataset is read, so that
  its start-up overlaps the scan): exit 2 naming the file, no run directory (not even the
  server's log), no redis-server left running on it, no worker started.

The coordinator and a shim of the worker are copied into the sandbox, so that the workers this
test starts are told from those of other tests: the shim writes its pid, then runs the real
worker."""
import os
import shutil
import socket
import stat
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import rslib  # noqa: E402

CONFIG = """
run: {name: startfail}
dataset: {path: %s, limit: 20}
models: [{name: m, provider: sim, model: sim-1, params: {accuracy: 0.5}}]
cluster: {workers: 2}
"""


def install(sb):
    """bin/reasonsaver (a copy) beside bin/reasonsaver-worker (a shim that notes its pid)."""
    bin_dir = sb.path("bin")
    os.makedirs(bin_dir)
    shutil.copy2(rslib.REASONSAVER, os.path.join(bin_dir, "reasonsaver"))
    shim = sb.write("bin/reasonsaver-worker", "#!/bin/sh\necho $$ >> %s\nexec %s \"$@\"\n" % (
        sb.path("started"), os.path.abspath(rslib.WORKER)))
    os.chmod(shim, os.stat(shim).st_mode | stat.S_IXUSR)
    return os.path.join(bin_dir, "reasonsaver")


def started(sb):
    try:
        with open(sb.path("started")) as f:
            return [int(x) for x in f.read().split()]
    except FileNotFoundError:
        return []


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def no_run_dir(out):
    runs = [d for d in os.listdir(out) if d != "cache"] if os.path.isdir(out) else []
    assert not runs, "a run that did not start left %s" % runs


def no_redis(sb, coord, cfg):
    empty = sb.path("empty-path")
    os.makedirs(empty)
    out = sb.path("runs-noredis")
    r = sb.run([coord, "run", cfg, "--out", out, "--quiet"],
               env=dict(os.environ, PATH=empty), timeout=60)
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert "redis-server not found in PATH: install it with `apt-get install -y redis-server`" \
        in r.stderr, r.stderr
    no_run_dir(out)
    pids = started(sb)  # 0 to 2: a worker stopped before its shim ran has written nothing
    rslib.wait_for(lambda: not any(alive(p) for p in pids), 10,
                   "the workers of a run that did not start to be gone")
    return pids


def bind_in_use(sb, coord):
    before = len(started(sb))
    sb.run([rslib.REASONSAVER, "datasets", "gen", "arithmetic", "--n", "30000", "--seed", "3",
            "--out", sb.path("long.jsonl")], check=0)
    cfg = sb.write("bind.yaml", CONFIG.replace(", limit: 20", "") % sb.path("long.jsonl"))
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as held:
        held.bind(("127.0.0.1", 0))
        held.listen(1)
        port = held.getsockname()[1]
        out = sb.path("runs-bind")
        r = sb.run([coord, "run", cfg, "--out", out, "--quiet", "--set",
                    "cluster.bind=tcp://127.0.0.1:%d" % port], timeout=60)
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert "cannot bind tcp://127.0.0.1:%d" % port in r.stderr, r.stderr
    no_run_dir(out)
    time.sleep(0.2)  # a worker started by mistake would have written its pid by now
    assert len(started(sb)) == before, "workers started for a run that could not bind"


def servers_on(path):
    """pids of the processes whose command line names path (a redis-server's --unixsocket)."""
    out = []
    for entry in os.listdir("/proc"):
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as f:
                if path.encode() in f.read():
                    out.append(int(entry))
        except (OSError, ValueError):
            pass
    return out


def bad_dataset(sb, coord):
    before = len(started(sb))
    missing = sb.path("no-such-cases.jsonl")
    cfg = sb.write("baddata.yaml", CONFIG % missing)
    out = sb.path("runs-baddata")
    r = sb.run([coord, "run", cfg, "--out", out, "--quiet"], timeout=60)
    assert r.returncode == 2, (r.returncode, r.stderr)
    # the one line of the input error: nothing about a server that would not stop (one stopped
    # before its exec once swallowed the SIGTERM, and the run waited 30 s to kill it)
    assert r.stderr.strip().splitlines() == ["reasonsaver: %s: No such file or directory"
                                             % missing], r.stderr
    no_run_dir(out)
    assert not servers_on(out), "a redis-server outlived a run that did not start"
    assert len(started(sb)) == before, "workers started for a run whose dataset is missing"


def main():
    with rslib.Sandbox() as sb:
        coord = install(sb)
        cfg = sb.write("startfail.yaml", CONFIG % os.path.join(rslib.SRC, "datasets",
                                                               "demo.jsonl"))
        pids = no_redis(sb, coord, cfg)
        print("ok: no redis-server: exit 1 naming the package, no run directory, the workers "
              "started early stopped (%d had begun)" % len(pids))
        bind_in_use(sb, coord)
        print("ok: the workers' address in use: exit 1, no run directory, no worker started")
        bad_dataset(sb, coord)
        print("ok: a missing dataset: exit 2 naming it, no run directory, no server, no worker")


if __name__ == "__main__":
    main()
