"""Hostile peers on the coordinator's socket (issue: across machines, trusted). Each attack runs
against a coordinator waiting for remote workers; then an honest worker finishes the run, which
must equal a clean run record for record, with the attack counted in report.json's "peers":
- RESULTs without a HELLO, for cases never handed out, carrying forged "correct" records;
- CREDIT of 2^63-1 three times (a signed overflow), then a RESULT repeating one case 16 times
  and one for a case outside its task;
- 1,500 HELLOs from a peer that never reads (the coordinator must never block on it);
- a worker id with escape codes and a newline, a host name of invalid UTF-8, garbage frames."""
import json
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import peerlib  # noqa: E402
import rslib  # noqa: E402

CASES = 200
SLOTS, BACKLOG = 8, 4
CONFIG = """
run: {name: hostile}
dataset: {path: %s, limit: %d, shard_size: 16}
models: [{name: m, provider: sim, model: sim-1, params: {accuracy: 0.5}}]
cluster: {worker_slots: %d, worker_backlog: %d, heartbeat_ms: 200}
"""


class Coordinator:
    """A coordinator with --workers 0 on a fixed loopback port, its stderr kept in a file."""

    def __init__(self, sb, cfg, name):
        self.sb, self.port, self.out = sb, rslib.free_port(), sb.path("runs-" + name)
        self.endpoint = "tcp://127.0.0.1:%d" % self.port
        self.errpath = sb.path(name + ".err")
        self.proc = sb.spawn([rslib.REASONSAVER, "run", cfg, "--workers", "0", "--redis",
                              sb.redis(), "--bind", self.endpoint, "--out", self.out],
                             stdout=subprocess.PIPE, stderr=open(self.errpath, "w"), text=True)
        rslib.wait_port(self.port, self.proc)

    def honest_worker(self):
        self.sb.spawn([rslib.WORKER, "--connect", self.endpoint, "--id", "honest"],
                      stderr=subprocess.DEVNULL)

    def finish(self, timeout=60):
        try:
            out, _ = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise AssertionError("the run did not finish within %d s:\n%s" % (timeout, self.err()))
        assert self.proc.returncode == 0, (self.proc.returncode, out, self.err())
        return rslib.run_dir_from_output(out)

    def err(self):
        with open(self.errpath, errors="replace") as f:
            return f.read()


def clean_records(sb, cfg):
    r = sb.run([rslib.REASONSAVER, "run", cfg, "--workers", "2", "--redis", sb.redis(), "--out",
                sb.path("runs-clean")])
    assert r.returncode == 0, r.stderr
    clean = rslib.run_dir_from_output(r.stdout)
    return clean, rslib.read_jsonl(os.path.join(clean, "results.jsonl"))


def forged_results(coord, records):
    """Forged 'correct' records for every case, without a HELLO, under made-up task ids."""
    peer = peerlib.Peer(coord.endpoint)
    for i in range(0, CASES, 20):
        peer.result(1000 + i, 1000 + i,
                    [(r["idx"], json.dumps(peerlib.forged(r))) for r in records[i:i + 20]])
    time.sleep(0.5)
    peer.close()
    coord.honest_worker()
    return CASES


def credit_and_duplicates(coord, records):
    """Huge credit must not hoard the queue; a duplicated case must not orphan the others."""
    peer = peerlib.Peer(coord.endpoint)
    peer.hello("hoarder")
    assert peer.recv_until("WELCOME"), "no WELCOME"
    for _ in range(3):
        peer.credit(peerlib.MAX_I63)
    tasks, until = [], time.time() + 1.5
    while time.time() < until:
        m = peer.recv(0.2)
        if m and m["t"] == "TASK":
            tasks.append(m)
    held = sum(len(t["cases"]) for t in tasks)
    assert 0 < held <= SLOTS + BACKLOG, "a peer with huge credit was sent %d cases (slots %d + " \
        "backlog %d)" % (held, SLOTS, BACKLOG)
    t = tasks[0]
    first = t["cases"][0]["idx"]
    outside = next(i for i in range(CASES) if i not in {c["idx"] for tk in tasks for c in tk["cases"]})
    peer.result(t["task_id"], t["lease"], [(first, json.dumps(records[first]))] * 16)
    peer.result(t["task_id"], t["lease"], [(outside, json.dumps(peerlib.forged(records[outside])))])
    time.sleep(0.3)
    peer.close()  # silent from now on: its other cases go back after 3 heartbeats
    coord.honest_worker()
    return 16


def flood_never_reading(coord, records):
    """1,500 HELLOs from a peer that reads nothing; the coordinator must keep serving and
    answer SIGINT-free progress: the honest worker finishes the run."""
    peer = peerlib.Peer(coord.endpoint, rcvhwm=1)
    for i in range(1500):
        peer.hello("flood-%d" % i)
    time.sleep(0.5)
    coord.honest_worker()
    return 100


def log_injection(coord, records):
    """Escape codes and a newline in the id, invalid UTF-8 in the host, then garbage frames."""
    peer = peerlib.Peer(coord.endpoint)
    peer.send({"t": "HELLO", "v": 1, "worker_id": b"evil\x1b[31m\nFORGED LOG LINE", "host":
               b"h\xff\xfeost", "pid": 7, "version": "0.1.0", "slots": 4})
    assert peer.recv_until("WELCOME"), "no WELCOME"
    peer.credit(0)

    def listed():
        s = rslib.status_json(coord.sb, coord.out)
        ws = s and s.get("workers") or []
        return any(w["id"].startswith("evil") for w in ws) and ws
    until = time.time() + 10
    while time.time() < until:
        peer.heartbeat()
        ws = listed()
        if ws:
            break
        time.sleep(0.3)
    else:
        raise AssertionError("a worker whose host is not UTF-8 is missing from status")
    w = next(w for w in ws if w["id"].startswith("evil"))
    assert "\x1b" not in w["id"] and "\n" not in w["id"] and "\ufffd" not in w["host"], w
    for _ in range(150):
        peer.send_raw(b"\xc1garbage")
    time.sleep(0.5)
    peer.close()
    coord.honest_worker()
    return 100


def check(name, coord, clean, min_rejected, want_cut_off=False):
    run_dir = coord.finish()
    rslib.assert_same_run(run_dir, clean)
    peers = rslib.load_report(run_dir)["peers"]
    assert peers["rejected"] >= min_rejected, (name, peers)
    if want_cut_off:
        assert peers["cut_off"] >= 1, (name, peers)
    err = coord.err()
    assert "\x1b" not in err, name + ": an escape code reached the coordinator's log"
    assert not any(line.startswith("FORGED") for line in err.splitlines()), err
    print("ok: %s (rejected %d, cut off %d)" % (name, peers["rejected"], peers["cut_off"]))


def main():
    peerlib.require()
    with rslib.Sandbox() as sb:
        cfg = sb.write("hostile.yaml", CONFIG % (os.path.join(rslib.SRC, "datasets", "demo.jsonl"),
                                                 CASES, SLOTS, BACKLOG))
        clean, records = clean_records(sb, cfg)
        assert len(records) == CASES
        for name, attack, cut in [("forged results", forged_results, False),
                                  ("credit overflow and duplicates", credit_and_duplicates, False),
                                  ("flood of HELLOs, never reading", flood_never_reading, True),
                                  ("log injection and garbage", log_injection, True)]:
            coord = Coordinator(sb, cfg, name.split()[0])
            min_rejected = attack(coord, records)
            check(name, coord, clean, min_rejected, cut)
        # A second SIGINT still stops a coordinator at once, whatever a peer does.
        coord = Coordinator(sb, cfg, "signal")
        flood = peerlib.Peer(coord.endpoint, rcvhwm=1)
        for i in range(1500):
            flood.hello("f%d" % i)
        time.sleep(0.5)
        t0 = time.time()
        coord.proc.send_signal(signal.SIGINT)
        coord.proc.wait(timeout=10)
        assert time.time() - t0 < 3, "SIGINT took %.1f s" % (time.time() - t0)
        print("ok: SIGINT handled in %.2f s during a flood" % (time.time() - t0))


if __name__ == "__main__":
    main()
