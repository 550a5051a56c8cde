"""One redis-server per run directory (coordinator/redisproc.c): whoever serves a run directory holds
an flock on <dir>/redis.lock.

1. While another process holds the lock and no server answers (a coordinator starting or stopping
   its Redis), `status` waits and starts no second server on the AOF; once the lock is released it
   starts its own and answers.
2. When the holder's server comes up (a resumed coordinator), a waiting `status` connects to it and
   answers at once, instead of waiting behind the lock for the whole run.
3. `resume` on a directory whose lock is held waits for it, then runs."""
import fcntl
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import rslib  # noqa: E402

CONFIG = """
run: {name: lock}
dataset: {path: %s, limit: 40}
models: [{name: m, provider: sim, model: sim-1}]
cluster: {workers: 1}
"""


def redis_servers_on(run_dir):
    """PIDs of redis-server processes whose working directory is run_dir."""
    pids = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            if os.readlink("/proc/%s/cwd" % pid) == os.path.realpath(run_dir) and \
                    open("/proc/%s/comm" % pid).read().strip() == "redis-server":
                pids.append(int(pid))
        except OSError:
            pass
    return pids


def status(sb, run_id):
    return sb.spawn([rslib.REASONSAVER, "status", "--json", "--out", sb.path("runs"), run_id],
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(proc, what):
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, "%s exited %d: %s" % (what, proc.returncode, err[-2000:])
    return out


def waits_for_lock(sb, run_dir, run_id, lock):
    st = status(sb, run_id)
    time.sleep(1.5)
    assert st.poll() is None, "status did not wait for the directory's lock"
    assert not redis_servers_on(run_dir), "status started a second server beside the lock holder"
    fcntl.flock(lock, fcntl.LOCK_UN)
    assert json.loads(finish(st, "status after the lock was released"))["done"] == 40


def connects_to_live_server(sb, run_dir, run_id, lock):
    """The holder's server comes up while status is already waiting (a resume starting)."""
    fcntl.flock(lock, fcntl.LOCK_EX)
    st = status(sb, run_id)
    time.sleep(1.0)
    sock = os.path.join(os.path.realpath(run_dir), "redis.sock")
    srv = sb.spawn(["redis-server", "--port", "0", "--unixsocket", sock, "--dir", ".",
                    "--appendonly", "yes", "--save", "", "--logfile", "redis-test.log"],
                   cwd=run_dir, stdout=subprocess.DEVNULL)
    t0 = time.time()
    rslib.wait_for(lambda: st.poll() is not None, 10, "status to answer beside a live server")
    out = finish(st, "status beside a live server")
    assert time.time() - t0 < 10
    assert redis_servers_on(run_dir) == [srv.pid], "status started its own server beside a live one"
    srv.terminate()
    srv.wait()
    return out


def resume_waits(sb, run_id, lock):
    res = sb.spawn([rslib.REASONSAVER, "resume", run_id, "--out", sb.path("runs"), "--quiet"],
                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1.5)
    assert res.poll() is None, "resume did not wait for the directory's lock"
    fcntl.flock(lock, fcntl.LOCK_UN)
    finish(res, "resume after the lock was released")


def main():
    with rslib.Sandbox() as sb:
        cfg = sb.write("lock.yaml", CONFIG % os.path.join(rslib.SRC, "datasets", "demo.jsonl"))
        sb.run([rslib.REASONSAVER, "run", cfg, "--quiet", "--out", sb.path("runs")], check=0)
        run_dir = rslib.only_run_dir(sb.path("runs"))
        run_id = os.path.basename(run_dir)
        with open(os.path.join(run_dir, "redis.lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            waits_for_lock(sb, run_dir, run_id, lock)
            assert json.loads(connects_to_live_server(sb, run_dir, run_id, lock))["done"] == 40
            resume_waits(sb, run_id, lock)
        assert not redis_servers_on(run_dir), "a server outlived the commands that started it"
    print("ok: one redis-server per run directory; status answers beside a live one")


if __name__ == "__main__":
    main()
