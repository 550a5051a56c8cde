"""Workers authenticated and encrypted with ZeroMQ CURVE (docs/PROTOCOL.md, "CURVE").

1. `keys gen` makes the pairs; a coordinator with cluster.curve (no local workers, loopback TCP)
   runs with two remote workers holding authorised keys; `status` and the reports name them by key.
2. A worker with an unknown key, and one without CURVE at all, get nothing: they never join, no
   case carries their id, and the coordinator logs the refusal of the unknown key once, with the
   peer's address, however often it retries. Hand-made peers (HELLO plus a forged RESULT) get no
   frame back and their RESULT is not counted; the same peer with an authorised key gets WELCOME.
3. A key copied into authorized_keys_dir during the run is accepted from then on.
4. A worker given the wrong server key never gets work, and says so in its log.
5. Binding tcp://0.0.0.0 (or tcp://*) without CURVE is refused; with --insecure the run goes and
   its summary, report.json, report.md and report.html say it was insecure.
6. Local workers under CURVE (an ephemeral pair in the run directory, removed at exit) complete.
Also: key files that are readable by others, missing, or half-configured are refused with a
message, and the coordinator's secret key appears in no output and no file of the run."""
import glob
import json
import os
import stat
import subprocess
import sys
import time

import msgpack  # python3-msgpack (scripts/install-deps.sh)
import zmq  # python3-zmq

sys.path.insert(0, os.path.dirname(__file__))
import rslib  # noqa: E402

DATASET = os.path.join(rslib.SRC, "datasets", "demo.jsonl")

CONFIG = """
run: {name: curve}
dataset: {path: %(dataset)s, limit: %(limit)d}
models: [{name: m, provider: sim, model: sim-1, params: {latency_ms: %(latency)d}}]
report: {formats: [json, markdown, html, jsonl]}
cluster:
  workers: %(workers)d
  heartbeat_ms: 300
  lease_ms: 20000
%(curve)s
"""

CURVE = """  curve:
    secret_key_file: keys/coord.secret
    authorized_keys_dir: auth
"""


def config(sb, name, limit=300, latency=0, workers=0, curve=True):
    return sb.write(name, CONFIG % {"dataset": DATASET, "limit": limit, "latency": latency,
                                    "workers": workers, "curve": CURVE if curve else ""})


def keys_gen(sb, name, where):
    r = sb.run([rslib.REASONSAVER, "keys", "gen", name, "--dir", sb.path(where)], check=0)
    sec, pub = sb.path(where, name + ".secret"), sb.path(where, name + ".pub")
    assert stat.S_IMODE(os.stat(sec).st_mode) == 0o600, oct(os.stat(sec).st_mode)
    assert stat.S_IMODE(os.stat(pub).st_mode) == 0o644, oct(os.stat(pub).st_mode)
    with open(pub) as f:
        text = f.read()
    assert len(text) == 41 and text.endswith("\n"), repr(text)
    assert sec in r.stdout, r.stdout
    return text.strip()


def read(path):
    with open(path) as f:
        return f.read()


def worker(sb, endpoint, wid, log, server_key=None, key=None):
    args = [rslib.WORKER, "--connect", endpoint, "--id", wid, "--verbose", "--slots", "4"]
    if server_key:
        args += ["--server-key", server_key, "--key", key]
    return sb.spawn(args, stdout=subprocess.DEVNULL, stderr=open(sb.path(log), "w"))


def status_ids(sb, run_id):
    s = rslib.status_json(sb, sb.path("runs"), run_id)
    return s, {w["id"]: w for w in (s or {}).get("workers") or []}


def run_id_of(sb):
    rslib.wait_for(lambda: os.path.isdir(sb.path("runs")) and os.listdir(sb.path("runs")), 20,
                   "the run directory")
    return os.listdir(sb.path("runs"))[0]


def span_worker_ids(run_dir):
    ids = set()
    for rec in rslib.read_jsonl(os.path.join(run_dir, "results.jsonl")):
        for sp in rec.get("spans") or []:
            wid = (sp.get("attributes") or {}).get("reasonsaver.worker.id")
            if wid:
                ids.add(wid)
    return ids


def raw_peer(endpoint, wid, server_pub=None, pub=None, sec=None, wait_ms=3000, forge=True):
    """A hand-made peer: says HELLO (and, with forge, sends a forged RESULT for case 0) with the
    given CURVE keys or none, and returns the first frame that comes back within wait_ms, or None."""
    ctx = zmq.Context()
    s = ctx.socket(zmq.DEALER)
    s.linger = 0
    if server_pub:
        s.curve_serverkey, s.curve_publickey, s.curve_secretkey = server_pub, pub, sec
    s.connect(endpoint)
    s.send(msgpack.packb({"t": "HELLO", "v": 1, "worker_id": wid, "host": "raw", "pid": 1,
                          "version": "0.1.0", "slots": 64}))
    if forge:
        s.send(msgpack.packb({"t": "RESULT", "v": 1, "task_id": 1, "lease": 1, "spans": [],
                              "cases": [{"idx": 0, "failed": False, "json": "{}"}]}))
    got = s.recv() if s.poll(wait_ms) else None
    s.close()
    ctx.term()
    return msgpack.unpackb(got, raw=False) if got else None


def refusals(text):
    return [ln for ln in text.splitlines() if "refused a worker connection" in ln]


def remote_workers(sb):
    """Scenarios 1-4 against one coordinator with cluster.curve and no local workers."""
    coord_pub = keys_gen(sb, "coord", "keys")
    keys_gen(sb, "w1", "auth")
    keys_gen(sb, "w2", "auth")
    keys_gen(sb, "w4", "auth")
    stranger_pub = keys_gen(sb, "stranger", "other")
    late_pub = keys_gen(sb, "late", "other")
    keys_gen(sb, "impostor", "other")
    coord_secret = read(sb.path("keys", "coord.secret")).strip()
    url = sb.redis()
    port = rslib.free_port()
    endpoint = "tcp://127.0.0.1:%d" % port
    cfg = config(sb, "curve.yaml", limit=500, latency=400)
    coord = sb.spawn([rslib.REASONSAVER, "run", cfg, "--redis", url, "--bind", endpoint, "--out",
                      sb.path("runs")], stdout=open(sb.path("coord.out"), "w"),
                     stderr=open(sb.path("coord.err"), "w"))
    rslib.wait_port(port, coord)
    run_id = run_id_of(sb)

    # 2 and 4: the unwelcome arrive first, while no authorised worker could take the cases.
    worker(sb, endpoint, "intruder-key", "stranger.log", sb.path("keys", "coord.pub"),
           sb.path("other", "stranger.secret"))
    worker(sb, endpoint, "intruder-plain", "plain.log")
    worker(sb, endpoint, "wrong-server", "wrong.log", sb.path("other", "impostor.pub"),
           sb.path("auth", "w4.secret"))
    # 3: a worker whose key is not authorised yet
    worker(sb, endpoint, "late-id", "late.log", sb.path("keys", "coord.pub"),
           sb.path("other", "late.secret"))
    # raw peers: without CURVE, with an unknown key, and (the control) with an authorised key
    coord_pub_b = coord_pub.encode()
    stranger = zmq.curve_keypair()
    assert raw_peer(endpoint, "raw-plain") is None
    assert raw_peer(endpoint, "raw-unknown", coord_pub_b, *stranger) is None
    w4 = (read(sb.path("auth", "w4.pub")).strip().encode(),
          read(sb.path("auth", "w4.secret")).strip().encode())
    welcome = raw_peer(endpoint, "raw-control", coord_pub_b, *w4, wait_ms=10000, forge=False)
    assert welcome and welcome["t"] == "WELCOME", welcome
    time.sleep(2.0)  # the control's entry goes after 3 heartbeats; status is refreshed each second
    rslib.wait_for(lambda: "no answer from the coordinator" in read(sb.path("wrong.log")), 20,
                   "the wrong-server-key worker to say it got no answer")
    time.sleep(1.0)
    s, ids = status_ids(sb, run_id)
    assert s is not None and s["done"] == 0 and not ids, s
    for log in ("stranger.log", "plain.log", "wrong.log", "late.log"):
        text = read(sb.path(log))
        assert "no answer from the coordinator" in text, (log, text)
        assert "joined run" not in text, (log, text)
    assert "CURVE handshake has not completed" in read(sb.path("wrong.log"))
    # the plain peer's refusal is logged when ZeroMQ reports its failed handshake, which on a
    # loaded machine may come after the workers gave up, or not at all for a peer that hung up
    # mid-greeting (then another kind of failure is counted): a plain peer tries again until one
    # handshake fails as a plain one
    def plain_refused():
        if "refused a peer without CURVE" in read(sb.path("coord.err")):
            return True
        assert raw_peer(endpoint, "raw-plain-again", wait_ms=1000) is None
        return False
    rslib.wait_for(plain_refused, 40, "the coordinator to log the peer without CURVE")
    err = read(sb.path("coord.err"))
    refused = refusals(err)
    assert len(refused) == 1, "want one refusal line for 127.0.0.1, got:\n" + err
    # once per address: whichever unknown key (the stranger's, the not yet authorised late one,
    # or the raw peer's) reached the handler first is the one named
    unknown = (stranger_pub, late_pub, stranger[0].decode())
    assert "127.0.0.1" in refused[0] and any(k in refused[0] for k in unknown), refused[0]
    assert err.count("refused a peer without CURVE") == 1, err
    assert err.count("refused a peer whose --server-key is not") == 1, err

    # 1: the authorised workers join and are known by their keys' names
    worker(sb, endpoint, "alpha", "w1.log", sb.path("keys", "coord.pub"), sb.path("auth", "w1.secret"))
    worker(sb, endpoint, "beta", "w2.log", sb.path("keys", "coord.pub"), sb.path("auth", "w2.secret"))
    seen = {}

    def joined(want):
        s, ids = status_ids(sb, run_id)
        seen.update(ids)
        return want <= set(ids)

    rslib.wait_for(lambda: joined({"w1", "w2"}), 30, "w1 and w2 in status")
    assert seen["w1"]["worker_id"] == "alpha" and seen["w2"]["worker_id"] == "beta", seen
    # 3: its key is copied in while the run goes on
    os.rename(sb.path("other", "late.pub"), sb.path("auth", "late.pub"))
    rslib.wait_for(lambda: joined({"late"}), 50, "the late key's worker in status")
    assert seen["late"]["worker_id"] == "late-id", seen["late"]
    assert not {"stranger", "intruder-key", "intruder-plain", "wrong-server"} & set(seen), seen
    assert not {"raw-plain", "raw-unknown", "wrong-server"} & {w["worker_id"] for w in seen.values()}

    coord.wait(timeout=120)
    out, err = read(sb.path("coord.out")), read(sb.path("coord.err"))
    assert coord.returncode == 0, (coord.returncode, out, err)
    run_dir = rslib.run_dir_from_output(out)
    rep = rslib.load_report(run_dir)
    g = rep["models"][0]["graders"][0]
    assert g["correct"] + g["wrong"] == 500 and rep["dataset"]["missing_results"] == 0, g
    assert rep["insecure"] is False, rep["insecure"]
    # the report names the workers by their keys, in report.json, report.md and report.html
    assert rep["worker_keys"] == ["late", "w1", "w2", "w4"], rep["worker_keys"]  # w4: raw-control
    assert "workers (CURVE keys): late, w1, w2, w4" in read(os.path.join(run_dir, "report.md"))
    assert 'id="worker-keys">late, w1, w2, w4<' in read(os.path.join(run_dir, "report.html"))
    ids = span_worker_ids(run_dir)
    assert ids and ids <= {"alpha", "beta", "late-id"}, ids
    assert len(refusals(err)) == 1, "the refusal was logged more than once:\n" + err
    for wid, key in (("alpha", "w1"), ("beta", "w2"), ("late-id", "late")):
        assert "worker %s joined" % key in err and "says it is %s)" % wid in err, (wid, err)
    for log in ("stranger.log", "plain.log", "wrong.log"):
        assert "joined run" not in read(sb.path(log)), log
    # the secret key is nowhere: not printed, not in run.json, the reports or the records
    assert coord_secret not in out + err
    for path in glob.glob(os.path.join(run_dir, "*")):
        if os.path.isfile(path):  # results.idx is binary
            with open(path, "rb") as f:
                assert coord_secret.encode() not in f.read(), path
    assert coord_pub not in err, "the coordinator's own key should not need printing"
    print("ok: curve workers by key name; unknown key, no CURVE, wrong server key refused; late key")


def insecure_bind(sb):
    """5: non-loopback binds without CURVE."""
    url = sb.redis()
    cfg = config(sb, "plain.yaml", limit=40, workers=1, curve=False)
    for bind in ("tcp://0.0.0.0:%d" % rslib.free_port(), "tcp://*:%d" % rslib.free_port()):
        r = sb.run([rslib.REASONSAVER, "run", cfg, "--redis", url, "--bind", bind, "--out",
                    sb.path("runs-insecure")])
        assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
        assert "cluster.curve" in r.stderr and "--insecure" in r.stderr, r.stderr
        assert not os.path.exists(sb.path("runs-insecure")) or not os.listdir(sb.path("runs-insecure"))
    bind = "tcp://0.0.0.0:%d" % rslib.free_port()
    r = sb.run([rslib.REASONSAVER, "run", cfg, "--redis", url, "--bind", bind, "--insecure",
                "--out", sb.path("runs-insecure")], check=0)
    assert "WARNING: insecure run" in r.stdout, r.stdout
    run_dir = rslib.run_dir_from_output(r.stdout)
    rep = rslib.load_report(run_dir)
    assert rep["insecure"] is True and rep["status"] == "finished", rep["insecure"]
    assert rep["worker_keys"] is None, rep["worker_keys"]
    assert "insecure run" in read(os.path.join(run_dir, "report.md"))
    assert 'id="insecure-banner"' in read(os.path.join(run_dir, "report.html"))
    # a loopback bind needs neither
    r = sb.run([rslib.REASONSAVER, "run", cfg, "--redis", url, "--out", sb.path("runs-insecure")],
               check=0)
    assert "WARNING: insecure" not in r.stdout, r.stdout
    assert rslib.load_report(rslib.run_dir_from_output(r.stdout))["insecure"] is False
    print("ok: non-loopback bind refused without CURVE; --insecure recorded")


def local_workers(sb):
    """6: local workers under CURVE, and refusals of bad key files."""
    url = sb.redis()
    cfg = config(sb, "local.yaml", limit=100, workers=2)
    r = sb.run([rslib.REASONSAVER, "run", cfg, "--redis", url, "--out", sb.path("runs-local")],
               check=0)
    run_dir = rslib.run_dir_from_output(r.stdout)
    rep = rslib.load_report(run_dir)
    g = rep["models"][0]["graders"][0]
    assert g["correct"] + g["wrong"] == 100, g
    assert "worker local joined" in r.stderr, r.stderr
    assert rep["worker_keys"] == ["local"], rep["worker_keys"]
    assert not glob.glob(os.path.join(run_dir, "*.secret")), os.listdir(run_dir)
    assert not os.path.exists(os.path.join(run_dir, "coordinator.pub"))

    # a secret key readable by others is refused, by the coordinator and by a worker
    os.chmod(sb.path("keys", "coord.secret"), 0o644)
    r = sb.run([rslib.REASONSAVER, "run", cfg, "--redis", url, "--out", sb.path("runs-local")])
    assert r.returncode == 2 and "chmod 600" in r.stderr, (r.returncode, r.stderr)
    assert "cluster.curve.secret_key_file" in r.stderr, r.stderr
    r = sb.run([rslib.WORKER, "--connect", "tcp://127.0.0.1:1", "--server-key",
                sb.path("auth", "w1.pub"), "--key", sb.path("keys", "coord.secret")])
    assert r.returncode == 1 and "chmod 600" in r.stderr, (r.returncode, r.stderr)
    os.chmod(sb.path("keys", "coord.secret"), 0o600)
    r = sb.run([rslib.WORKER, "--connect", "tcp://127.0.0.1:1", "--server-key",
                sb.path("auth", "w1.pub")])
    assert r.returncode == 2 and "--key" in r.stderr, (r.returncode, r.stderr)
    r = sb.run([rslib.WORKER, "--connect", "tcp://127.0.0.1:1", "--server-key",
                sb.path("auth", "nope.pub"), "--key", sb.path("auth", "w1.secret")])
    assert r.returncode == 1 and "nope.pub" in r.stderr, (r.returncode, r.stderr)
    r = sb.run([rslib.WORKER, "--connect", "tcp://127.0.0.1:1", "--server-key",
                cfg, "--key", sb.path("auth", "w1.secret")])
    assert r.returncode == 1 and "Z85" in r.stderr, (r.returncode, r.stderr)
    # keys gen never overwrites, and checks the name
    r = sb.run([rslib.REASONSAVER, "keys", "gen", "w1", "--dir", sb.path("auth")])
    assert r.returncode != 0 and "already exists" in r.stderr, r.stderr
    r = sb.run([rslib.REASONSAVER, "keys", "gen", "../evil", "--dir", sb.path("auth")])
    assert r.returncode == 2 and "key name" in r.stderr, r.stderr
    # half a cluster.curve section is an error naming the file, the line and the key
    half = sb.write("half.yaml", read(cfg).replace("    authorized_keys_dir: auth\n", ""))
    r = sb.run([rslib.REASONSAVER, "run", half, "--redis", url, "--out", sb.path("runs-local")])
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert "half.yaml:" in r.stderr and "cluster.curve.authorized_keys_dir" in r.stderr, r.stderr
    print("ok: local workers under CURVE; bad key files and half a section refused")


def main():
    with rslib.Sandbox() as sb:
        remote_workers(sb)
        local_workers(sb)
        insecure_bind(sb)


if __name__ == "__main__":
    main()
