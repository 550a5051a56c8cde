"""Records are checked, stored and read back whole.

1. A peer that holds a lease answers it with hostile records (not JSON, [], {}, another case's
   idx or id, a lone surrogate, 1e999, 10,000-deep nesting, the run's models out of order): none
   is stored, each is counted as rejected, a real worker then finishes the run and its report
   equals a clean run's.
2. Stored records damaged in Redis (a changed byte, a record that is no longer an object, bytes
   without a checksum) are found by `report`: counted and listed as corrupted, left out of
   results.jsonl, exit status 1 with the resume command; `resume` runs exactly those cases again
   and the final report equals a clean run's.
"""
import json
import os
import re
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(__file__))
import faultlib  # noqa: E402
import rslib  # noqa: E402

try:
    import msgpack
    import xxhash
    import zmq
except ImportError as e:  # optional: Debian's python3-zmq, python3-msgpack, python3-xxhash
    rslib.skip("%s (apt-get install -y python3-zmq python3-msgpack python3-xxhash)" % e)

CASES = 120
SHARD = 10
SETS = ["--set", "dataset.shard_size=%d" % SHARD, "--set", "report.formats=[json, markdown, html, jsonl]"]


def redis_cli(url, *args, stdin=None):
    r = subprocess.run(["redis-cli", "-u", url] + list(args) + (["-x"] if stdin is not None else []),
                       input=stdin, capture_output=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout


def clean_records(clean_dir):
    with open(os.path.join(clean_dir, "results.jsonl"), "rb") as f:
        return {json.loads(line)["idx"]: line.rstrip(b"\n") for line in f}


def hostile_records(idxs, clean):
    """(name, json bytes) for each leased case of idxs, one defect each; the last is good."""
    rec = {i: clean[i] for i in idxs}
    as_obj = {i: json.loads(rec[i]) for i in idxs}
    wrong_id = dict(as_obj[idxs[4]], id="not-its-id")
    models_swapped = dict(as_obj[idxs[8]], models=list(reversed(as_obj[idxs[8]]["models"])))
    deep = b'{"idx":%d,"id":"x","x":' % idxs[7] + b"[" * 10000 + b"]" * 10000 + b"}"
    return [
        ("not json", b"this is not json"),
        ("array", b"[]"),
        ("empty object", b"{}"),
        ("another case's record", rec[idxs[0]]),  # sent for case idxs[3]
        ("another id", json.dumps(wrong_id).encode()),
        ("lone surrogate", rec[idxs[5]].replace(b'"output":"', b'"output":"\\ud800', 1)),
        ("1e999", re.sub(rb'"latency_ms":[-0-9.eE+]+', b'"latency_ms":1e999', rec[idxs[6]], 1)),
        ("10000-deep", deep),
        ("models out of order", json.dumps(models_swapped).encode()),
        ("good", rec[idxs[9]]),
    ]


def pack(msg):
    return msgpack.packb(dict(msg, v=1), use_bin_type=True)


def hostile_peer(endpoint, clean, log):
    """HELLO, CREDIT, takes one TASK and answers each of its cases with a hostile record."""
    ctx = zmq.Context()
    s = ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 1000)
    s.connect(endpoint)
    s.send(pack({"t": "HELLO", "worker_id": "hostile", "host": "peer", "pid": 1,
                 "version": "0.1.0", "slots": SHARD}))
    task = None
    until = time.time() + 30
    while time.time() < until and task is None:
        if not s.poll(1000):
            continue
        m = msgpack.unpackb(s.recv(), raw=False)
        if m["t"] == "WELCOME":
            s.send(pack({"t": "CREDIT", "n": SHARD}))
        elif m["t"] == "TASK":
            task = m
    assert task is not None, "the hostile peer got no TASK"
    idxs = [c["idx"] for c in task["cases"]]
    assert len(idxs) == SHARD, idxs
    cases = [{"idx": i, "failed": False, "json": r.decode("utf-8")}
             for (name, r), i in zip(hostile_records(idxs, clean), idxs)]
    s.send(pack({"t": "RESULT", "task_id": task["task_id"], "lease": task["lease"],
                 "cases": cases, "spans": []}))
    log.append(idxs)
    # The RESULT returned the task's credit: the next TASK shows it was taken in.
    until = time.time() + 30
    while time.time() < until:
        if s.poll(1000) and msgpack.unpackb(s.recv(), raw=False)["t"] == "TASK":
            return ctx, s
    raise AssertionError("the coordinator sent no TASK after the hostile RESULT")


def check_hostile(sb, cfg, clean_dir):
    clean = clean_records(clean_dir)
    port = rslib.free_port()
    endpoint = "tcp://127.0.0.1:%d" % port
    coord = sb.spawn([rslib.REASONSAVER, "run", cfg, "--workers", "0", "--bind", endpoint,
                      "--out", sb.path("hostile")] + SETS,
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    reader = threading.Thread(target=lambda: lines.extend(coord.stderr), daemon=True)
    reader.start()
    log = []
    ctx, s = hostile_peer(endpoint, clean, log)
    s.close()
    ctx.term()
    sb.spawn([rslib.WORKER, "--connect", endpoint, "--id", "honest"], stderr=subprocess.DEVNULL)
    out = coord.stdout.read()
    coord.wait(timeout=120)
    reader.join(5)
    err = "".join(lines)
    assert coord.returncode == 0, (coord.returncode, out, err)
    rejected = [ln for ln in lines if "not stored" in ln]
    assert len(rejected) == 9, rejected
    for why in ("not valid JSON", "not a JSON object", "idx is missing", "the record is that of case",
                "id is not the case's id", "nests deeper than 32", "is not 'a'"):
        assert any(why in ln for ln in rejected), (why, rejected)
    run_dir = rslib.only_run_dir(sb.path("hostile"))
    rslib.assert_same_run(run_dir, clean_dir)
    rep = rslib.load_report(run_dir)
    assert rep["reliability"]["records_rejected"] == 9, rep["reliability"]
    assert rep["corrupted"] == {"count": 0, "cases": []}, rep["corrupted"]
    print("ok: 9 hostile records for %s were not stored; the run finished clean" % log[0])


def raw_get(url, run_id, idx):
    out = redis_cli(url, "HGET", "rs:run:%s:results" % run_id, str(idx))
    return out[:-1] if out.endswith(b"\n") else out


def raw_set(url, run_id, idx, value):
    redis_cli(url, "HSET", "rs:run:%s:results" % run_id, str(idx), stdin=value)


def check_corrupted(sb, cfg, clean_dir):
    url = sb.redis()
    out_dir = sb.path("damaged")
    sb.run([rslib.REASONSAVER, "run", cfg, "--quiet", "--redis", url, "--out", out_dir] + SETS,
           check=0)
    run_dir = rslib.only_run_dir(out_dir)
    run_id = os.path.basename(run_dir)
    # 7: one digit of a token count changed (still valid JSON, still the right shape: only the
    # checksum can tell); 9: a record with a valid checksum that is not an object any more;
    # 11: a bare record without a checksum that is not JSON.
    v7 = raw_get(url, run_id, 7)
    assert re.match(rb"^[0-9a-f]{16}\{", v7), v7[:40]
    m = re.search(rb'"input_tokens":(\d)', v7)
    digit = b"1" if m.group(1) != b"1" else b"2"
    raw_set(url, run_id, 7, v7[:m.start(1)] + digit + v7[m.end(1):])
    raw_set(url, run_id, 9, b"%016x[]" % xxhash.xxh64(b"[]").intdigest())
    raw_set(url, run_id, 11, b'{"idx":11,')
    to = sb.path("report-to")
    r = sb.run([rslib.REASONSAVER, "report", run_id, "--redis", url, "--to", to])
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    assert "3 corrupted stored record(s) (cases 7, 9, 11)" in r.stderr, r.stderr
    assert "reasonsaver resume %s --redis %s" % (run_id, url) in r.stderr, r.stderr
    rep = rslib.load_report(to)
    assert rep["corrupted"] == {"count": 3, "cases": [7, 9, 11]}, rep["corrupted"]
    assert rep["status"] == "corrupted", rep["status"]
    assert rep["dataset"]["missing_results"] == 0
    lines = rslib.read_jsonl(os.path.join(to, "results.jsonl"))  # every line parses
    assert len(lines) == CASES - 3 and {7, 9, 11}.isdisjoint(x["idx"] for x in lines)
    assert sum(g["correct"] + g["wrong"] + g["error"] + g["skipped"]
               for g in rep["models"][0]["graders"][:1]) == CASES - 3
    with open(os.path.join(to, "report.md")) as f:
        md = f.read()
    assert "**Warning: 3 corrupted record(s)**" in md and "cases 7, 9, 11" in md, md[:800]
    with open(os.path.join(to, "report.html")) as f:
        assert 'id="corrupted-banner"' in f.read()
    # the same again: a damaged run is never impossible to report
    assert sb.run([rslib.REASONSAVER, "report", run_id, "--redis", url, "--to", to]).returncode == 1
    r = sb.run([rslib.REASONSAVER, "resume", run_id, "--quiet", "--redis", url, "--out", out_dir],
               check=0)
    assert "3 damaged stored record(s) deleted" in r.stdout, r.stdout
    assert "%d of %d cases already have a result" % (CASES - 3, CASES) in r.stdout, r.stdout
    rep = rslib.load_report(run_dir)
    assert rep["reliability"]["dispatched_cases"] == CASES + 3, rep["reliability"]
    rslib.assert_same_run(run_dir, clean_dir)
    man = redis_cli(url, "HMGET", "rs:run:%s" % run_id, "done", "failed").split()
    clean_failed = sum(1 for x in rslib.read_jsonl(os.path.join(clean_dir, "results.jsonl"))
                       if any(isinstance(mm["error"], str) for mm in x["models"]))
    assert man == [str(CASES).encode(), str(clean_failed).encode()], (man, clean_failed)
    print("ok: 3 damaged records reported as corrupted (exit 1), resume ran exactly them again")


def main():
    with rslib.Sandbox() as sb:
        cfg = faultlib.setup(sb, cases=CASES, workers=2, latency=0)
        sb.run([rslib.REASONSAVER, "run", cfg, "--quiet", "--out", sb.path("clean")] + SETS,
               check=0)
        clean_dir = rslib.only_run_dir(sb.path("clean"))
        check_corrupted(sb, cfg, clean_dir)
        check_hostile(sb, cfg, clean_dir)


if __name__ == "__main__":
    main()
