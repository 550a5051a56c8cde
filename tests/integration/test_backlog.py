"""A worker's backlog (cluster.worker_backlog): cases it holds beyond its slots, so that it starts
the next one the moment one ends.

- Credit: a peer claiming endless credit is sent its slots, and its backlog only once it has
  answered a case (before that every slot is busy with its first call); then its slots plus its
  backlog and no more; a second peer gets what cluster.max_in_flight leaves, and when cases come
  back the free slots of the second are filled before the first's backlog (the cluster total
  never passes max_in_flight).
- A run with fewer cases than the slots plus backlog of its first peer: a second peer that joins
  a moment later gets the cases that would have waited in the first's backlog, and starts them.
- Leases: a task that went into a backlog starts its lease clock only when the cases ahead of
  it have left the worker: a peer that answers its first task and then nothing loses its running
  tasks after one lease and its backlog's task about one lease later. The run then finishes,
  equal to a clean run.
- kill -9 of a local worker that holds its slots and its backlog: every case is redone, the
  run equals a clean one."""
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import peerlib  # noqa: E402
import rslib  # noqa: E402

CASES = 120
SLOTS, BACKLOG, SHARD = 8, 4, 4
CONFIG = """
run: {name: backlog}
dataset: {path: %(dataset)s, limit: %(cases)d, shard_size: %(shard)d}
models: [{name: m, provider: sim, model: sim-1, params: {accuracy: 0.5, latency_ms: %(latency)d}}]
cluster: {workers: %(workers)d, worker_slots: %(slots)d, worker_backlog: %(backlog)d,
          max_in_flight: %(max_in_flight)d, heartbeat_ms: 200, lease_ms: %(lease)d}
"""


def config(sb, name, **kw):
    v = {"dataset": os.path.join(rslib.SRC, "datasets", "demo.jsonl"), "cases": CASES,
         "shard": SHARD, "latency": 0, "workers": 2, "slots": SLOTS, "backlog": BACKLOG,
         "max_in_flight": 4096, "lease": 600000}
    v.update(kw)
    return sb.write(name + ".yaml", CONFIG % v)


def clean_run(sb, cfg, name):
    r = sb.run([rslib.REASONSAVER, "run", cfg, "--quiet", "--redis", sb.redis(), "--out",
                sb.path("clean-" + name)], check=0)
    assert r.returncode == 0, r.stderr
    return rslib.only_run_dir(sb.path("clean-" + name))


class Coordinator:
    """reasonsaver run with --workers 0 on a fixed port: the test's peers are its workers."""

    def __init__(self, sb, cfg, name):
        self.sb, port = sb, rslib.free_port()
        self.endpoint = "tcp://127.0.0.1:%d" % port
        self.out = sb.path("runs-" + name)
        self.proc = sb.spawn([rslib.REASONSAVER, "run", cfg, "--workers", "0", "--redis",
                              sb.redis(), "--bind", self.endpoint, "--out", self.out],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        rslib.wait_port(port, self.proc)

    def finish(self, timeout=60):
        self.sb.spawn([rslib.WORKER, "--connect", self.endpoint, "--id", "honest"],
                      stderr=subprocess.DEVNULL)
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError("the run did not finish within %d s" % timeout)
        assert self.proc.returncode == 0, (self.proc.returncode, err[-3000:])
        return rslib.run_dir_from_output(out), err


def join(coord, name, slots=0):
    """A peer that said HELLO (slots 0: the run's worker_slots), got WELCOME and claims endless
    credit."""
    p = peerlib.Peer(coord.endpoint)
    p.hello(name, slots=slots)
    assert p.recv_until("WELCOME"), "no WELCOME for " + name
    p.credit(peerlib.MAX_I63)
    return p


def collect(peers, seconds):
    """Messages to each of peers for seconds, heartbeating so they stay alive: per peer
    {TASK: [...], CANCEL: [...]}, each message with its arrival time (monotonic) in "at"."""
    got = [{"TASK": [], "CANCEL": []} for _ in peers]
    until, beat = time.monotonic() + seconds, 0.0
    while time.monotonic() < until:
        if time.monotonic() - beat > 0.1:
            for p in peers:
                p.heartbeat()
            beat = time.monotonic()
        for p, g in zip(peers, got):
            m = p.recv(0.02)
            if m and m["t"] in g:
                m["at"] = time.monotonic()
                g[m["t"]].append(m)
    return got


def cases_of(tasks):
    return sum(len(t["cases"]) for t in tasks)


def answer(peer, task, records):
    peer.result(task["task_id"], task["lease"], [(c["idx"], json.dumps(records[c["idx"]]))
                                                 for c in task["cases"]])


def late_joiner_small_run(sb):
    cases = SLOTS + BACKLOG
    clean = clean_run(sb, config(sb, "small-clean", cases=cases), "small")
    cfg = config(sb, "small", cases=cases, workers=0)
    coord = Coordinator(sb, cfg, "small")
    a = join(coord, "a")
    ta = collect([a], 0.5)[0]["TASK"]
    b = join(coord, "b")
    more_a, tb = (g["TASK"] for g in collect([a, b], 0.5))
    assert (cases_of(ta), cases_of(more_a), cases_of(tb)) == (SLOTS, 0, cases - SLOTS), \
        "%d cases, slots %d + backlog %d: the first peer got %d then %d, the second %d (it " \
        "should start those the first could only hold)" % (
            cases, SLOTS, BACKLOG, cases_of(ta), cases_of(more_a), cases_of(tb))
    a.close()
    b.close()
    run_dir, _ = coord.finish()
    rslib.assert_same_run(run_dir, clean)


def credit_and_max_in_flight(sb, records):
    cfg = config(sb, "credit", workers=0, max_in_flight=SLOTS + BACKLOG + 2)
    coord = Coordinator(sb, cfg, "credit")
    a = join(coord, "a")
    ta = collect([a], 1.0)[0]["TASK"]
    assert cases_of(ta) == SLOTS, \
        "a peer that answered nothing yet was sent %d cases (its slots: %d)" % (cases_of(ta), SLOTS)
    answer(a, ta.pop(0), records)
    ta += collect([a], 1.0)[0]["TASK"]
    assert cases_of(ta) == SLOTS + BACKLOG, \
        "a peer claiming endless credit, one task answered, holds %d cases (slots %d + backlog " \
        "%d)" % (cases_of(ta), SLOTS, BACKLOG)
    b = join(coord, "b")
    more_a, tb = (g["TASK"] for g in collect([a, b], 1.0))
    assert not more_a, more_a
    assert cases_of(tb) == 2, "max_in_flight %d, %d out at a, yet b got %d" % (
        SLOTS + BACKLOG + 2, SLOTS + BACKLOG, cases_of(tb))
    # a answers one task: b's free slots come before a's backlog, the total stays at the cap
    t = ta[0]
    answer(a, t, records)
    more_a, more_b = (g["TASK"] for g in collect([a, b], 1.0))
    assert cases_of(more_b) == len(t["cases"]) and not more_a, \
        "after %d answers: %d more to b (free slots), %d more to a (backlog)" % (
            len(t["cases"]), cases_of(more_b), cases_of(more_a))
    a.close()
    b.close()
    run_dir, _ = coord.finish()
    return run_dir


def backlog_lease_clock(sb, records):
    lease = 2000
    cfg = config(sb, "lease", workers=0, lease=lease)
    coord = Coordinator(sb, cfg, "lease")
    a = join(coord, "a")
    first = collect([a], 0.5)[0]["TASK"]
    answered = first.pop(0)  # its backlog is filled once a case has left it
    answer(a, answered, records)
    got = collect([a], 3 * lease / 1000.0 + 1.5)[0]
    tasks, cancels = first + got["TASK"], got["CANCEL"]
    assert cases_of(tasks) == SLOTS + BACKLOG, cases_of(tasks)
    sent = {t["task_id"]: t["at"] for t in tasks}
    running, waiting, held = [], [], 0
    for t in tasks:  # the worker runs the first SLOTS cases; the rest wait in its backlog
        (running if held < SLOTS else waiting).append(t["task_id"])
        held += len(t["cases"])
    after = {c["task_id"]: c["at"] - sent[c["task_id"]] for c in cancels}
    assert set(after) == set(sent), "CANCELs for %s, tasks %s" % (sorted(after), sorted(sent))
    for tid in running:
        assert after[tid] < 1.5 * lease / 1000.0, (tid, after[tid])
    for tid in waiting:
        assert after[tid] > 1.5 * lease / 1000.0, \
            "task %d waited in the backlog yet was taken back %.2f s after it was sent (lease " \
            "%.1f s): its lease clock started before a slot was free" % (tid, after[tid],
                                                                         lease / 1000.0)
    a.close()
    run_dir, _ = coord.finish()
    return run_dir, len(running), len(waiting)


def kill_worker_holding_backlog(sb):
    cfg = config(sb, "kill", cases=600, latency=200, workers=2)
    clean = clean_run(sb, cfg, "kill")
    out = sb.path("runs-kill")
    coord = sb.spawn([rslib.REASONSAVER, "run", cfg, "--redis", sb.redis(), "--out", out],
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    victim = {}

    def holding():
        try:
            st = rslib.status_json(sb, out, os.path.basename(rslib.only_run_dir(out)))
        except (AssertionError, FileNotFoundError):
            return False
        for w in (st or {}).get("workers", []):
            if w["in_flight"] > SLOTS:
                victim.update(w)
                return True
        return False
    rslib.wait_for(holding, 30, "a worker holding more than its %d slots" % SLOTS)
    os.kill(victim["pid"], signal.SIGKILL)
    stdout, err = coord.communicate(timeout=120)
    assert coord.returncode == 0, (coord.returncode, err[-3000:])
    run_dir = rslib.run_dir_from_output(stdout, sb.dir)
    rslib.assert_same_run(run_dir, clean)
    redone = rslib.load_report(run_dir)["reliability"]["redone_cases"]
    assert redone > 0, redone
    return victim["in_flight"], redone


def main():
    peerlib.require()
    with rslib.Sandbox() as sb:
        cfg = config(sb, "clean")
        clean = clean_run(sb, cfg, "peers")
        records = rslib.read_jsonl(os.path.join(clean, "results.jsonl"))
        assert len(records) == CASES

        rslib.assert_same_run(credit_and_max_in_flight(sb, records), clean)
        print("ok: credit is slots + backlog (the backlog once a case came back); max_in_flight "
              "holds; free slots before backlogs")

        late_joiner_small_run(sb)
        print("ok: a run smaller than one peer's slots + backlog: the second peer got the cases "
              "beyond the first's slots")

        run_dir, n_run, n_wait = backlog_lease_clock(sb, records)
        rslib.assert_same_run(run_dir, clean)
        print("ok: %d running task(s) expired after one lease, %d in the backlog about one lease "
              "later" % (n_run, n_wait))

        held, redone = kill_worker_holding_backlog(sb)
        print("ok: killed a worker holding %d cases (%d slots), %d redone, run equal to a clean "
              "one" % (held, SLOTS, redone))


if __name__ == "__main__":
    main()
