"""Records are stored compressed (coordinator/recpack.c) and read back byte for byte.

1. A run of 1,500 cases: the records stored before the dictionary is made (from the first 2 MiB
   of records: the batches before the one that fills it, which may be none) are stored as JSON
   behind their checksum, the rest ('z', XXH64, a zstd frame made with the run's dictionary rs:run:<id>:dict). The zstd
   command line tool, with the stored dictionary, decompresses every packed record to exactly the
   line of results.jsonl, and its stored checksum is that line's XXH64. `report` (report.json,
   report.md, results.jsonl), `trace` and `export --jsonl` then print the same bytes before and
   after every packed record is rewritten in Redis as uncompressed JSON.
2. The dictionary deleted in the middle of a run (a Redis that lost its data): the next batch is
   refused (NODICT), the coordinator stores the dictionary again, and no record is lost.
3. Packed records damaged in Redis (a byte of the frame, a byte of the checksum, a value cut
   short) are counted as corrupted by `report`; `resume` deletes exactly them, runs them again,
   stores them packed again with the run's dictionary, and the run equals a clean one.
"""
import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import faultlib  # noqa: E402
import rslib  # noqa: E402

try:
    import xxhash
except ImportError as e:  # optional: Debian's python3-xxhash
    rslib.skip("%s (apt-get install -y python3-xxhash)" % e)
if not shutil.which("zstd"):
    rslib.skip("the zstd command is not installed (apt-get install -y zstd)")

CASES = 1500
SETS = ["--set", "report.formats=[json, markdown, jsonl]"]
PLAIN = re.compile(rb"^[0-9a-f]{16}\{")


def stored(redis, run_id):
    flat = redis("HGETALL", "rs:run:%s:results" % run_id)
    return {int(flat[i]): flat[i + 1] for i in range(0, len(flat), 2)}


def jsonl_lines(path):
    with open(path, "rb") as f:
        return [line.rstrip(b"\n") for line in f]


def check_packed(sb, redis, run_id, lines):
    """Every record is in one of the two forms; the packed ones decompress, with the stored
    dictionary and the zstd tool, to exactly their results.jsonl line."""
    values = stored(redis, run_id)
    assert sorted(values) == list(range(CASES)), len(values)
    packed = sorted(i for i, v in values.items() if v[:1] == b"z")
    plain = sorted(i for i, v in values.items() if PLAIN.match(v))
    assert len(packed) + len(plain) == CASES, (len(packed), len(plain))
    # the dictionary is made once 2 MiB of records have come (about 500 of these); the batch
    # that fills it is packed already
    assert len(plain) < 600 and len(packed) > 900, (len(plain), len(packed))
    for i in plain:
        assert values[i] == b"%016x" % xxhash.xxh64(lines[i]).intdigest() + lines[i], i
    for i in packed:
        assert values[i][1:9] == xxhash.xxh64(lines[i]).digest(), i
    dictionary = redis("GET", "rs:run:%s:dict" % run_id)
    assert dictionary and dictionary[:4] == b"\x37\xa4\x30\xec", dictionary[:8]  # zstd's magic
    with open(sb.path("dict"), "wb") as f:
        f.write(dictionary)
    with open(sb.path("frames.zst"), "wb") as f:
        for i in packed:
            f.write(values[i][9:])
    r = subprocess.run(["zstd", "-d", "-q", "-c", "-D", sb.path("dict"), sb.path("frames.zst")],
                       capture_output=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout == b"".join(lines[i] for i in packed), "a packed record decompresses to other bytes"
    mean_packed = sum(len(values[i]) for i in packed) / len(packed)
    mean_plain = sum(len(lines[i]) + 16 for i in packed) / len(packed)  # each as JSON
    assert mean_packed * 5 < mean_plain, (mean_packed, mean_plain)
    print("ok: %d records packed (%.0f bytes each, %.0f as JSON), %d stored before the dictionary;"
          " zstd -D decompresses them to results.jsonl" % (len(packed), mean_packed, mean_plain,
                                                            len(plain)))
    return packed, plain


def outputs(sb, url, run_id, tag, cases):
    """What report, trace and export print for the run (file name -> bytes)."""
    to = sb.path("read")  # the same for both: report prints its paths
    base = ["--redis", url]
    r = sb.run([rslib.REASONSAVER, "report", run_id, "--to", to] + base, check=0)
    got = {}
    for name in ("report.json", "report.md", "results.jsonl"):
        with open(os.path.join(to, name), "rb") as f:
            got[name] = f.read()
    got["report stdout"] = r.stdout.encode()
    for i in cases:
        r = sb.run([rslib.REASONSAVER, "trace", run_id, str(i), "--index", "--full"] + base, check=0)
        got["trace %d" % i] = r.stdout.encode()
    sb.run([rslib.REASONSAVER, "export", run_id, "--jsonl", sb.path("export-" + tag)] + base,
           check=0)
    with open(sb.path("export-" + tag), "rb") as f:
        got["export"] = f.read()
    return got


def check_round_trip(sb, cfg):
    url = sb.redis()
    out = sb.path("run1")
    sb.run([rslib.REASONSAVER, "run", cfg, "--quiet", "--redis", url, "--out", out] + SETS, check=0)
    run_dir = rslib.only_run_dir(out)
    run_id = os.path.basename(run_dir)
    lines = jsonl_lines(os.path.join(run_dir, "results.jsonl"))
    assert len(lines) == CASES
    redis = rslib.Resp(url)
    packed, plain = check_packed(sb, redis, run_id, lines)
    cases = plain[:1] + [packed[0], packed[-1]]
    before = outputs(sb, url, run_id, "packed", cases)
    assert before["results.jsonl"] == b"".join(line + b"\n" for line in lines)
    # every packed record rewritten as today's uncompressed form, the dictionary gone
    for i in packed:
        redis("HSET", "rs:run:%s:results" % run_id, i,
              b"%016x" % xxhash.xxh64(lines[i]).intdigest() + lines[i])
    redis("DEL", "rs:run:%s:dict" % run_id)
    after = outputs(sb, url, run_id, "json", cases)
    for name in before:
        assert before[name] == after[name], "%s differs between packed and JSON records" % name
    assert b"trace " in before["trace %d" % packed[0]] and before["export"].count(b"\n") > 10
    redis.close()
    print("ok: report, results.jsonl, trace and export are byte-identical from packed and JSON "
          "records")
    return run_dir


def check_lost_dictionary(sb, cfg, clean_dir):
    """The dictionary deleted while the run goes on is stored again before any packed record."""
    url = sb.redis()
    out = "run2"
    slow = ["--set", "models.0.params.latency_ms=100", "--set", "models.1.params.latency_ms=100"]
    coord = faultlib.start(sb, cfg, out, "--redis", url, "--quiet", *(SETS + slow))
    redis = rslib.Resp(url)
    rslib.wait_for(lambda: os.path.isdir(sb.path(out)) and os.listdir(sb.path(out)), 30, "run dir")
    run_id = os.listdir(sb.path(out))[0]
    key = "rs:run:%s:dict" % run_id
    until = time.time() + 60
    while redis("GET", key) is None:
        assert time.time() < until and coord.poll() is None, "no dictionary was stored"
        time.sleep(0.01)
    assert redis("DEL", key) == 1
    done = int(redis("HGET", "rs:run:%s" % run_id, "done"))
    assert done < CASES - 200, "the run went too fast to test this (%d done)" % done
    out_text, err = coord.communicate(timeout=180)
    assert coord.returncode == 0, err[-3000:]
    assert redis("GET", key) is not None, "the dictionary was not stored again"
    run_dir = rslib.only_run_dir(sb.path(out))
    rslib.assert_same_run(run_dir, clean_dir)
    assert rslib.load_report(run_dir)["corrupted"] == {"count": 0, "cases": []}
    values = stored(redis, run_id)
    n_packed = sum(1 for v in values.values() if v[:1] == b"z")
    assert n_packed > 500, n_packed
    print("ok: the dictionary deleted with %d of %d cases done was stored again; %d records "
          "packed, none lost" % (done, CASES, n_packed))
    return url, redis, run_id, run_dir


def check_damaged(sb, url, redis, run_id, run_dir, clean_dir):
    values = stored(redis, run_id)
    # long enough that cutting one in half leaves a frame too short to be whole
    packed = sorted(i for i, v in values.items() if v[:1] == b"z" and len(v) > 32)
    a, b, c = packed[10], packed[20], packed[30]
    results = "rs:run:%s:results" % run_id
    va = bytearray(values[a])
    va[len(va) // 2] ^= 0x55  # a byte in the middle of the frame
    vb = bytearray(values[b])
    vb[4] ^= 0x01  # a byte of the checksum: the frame still decompresses
    redis("HSET", results, a, bytes(va))
    redis("HSET", results, b, bytes(vb))
    redis("HSET", results, c, values[c][:len(values[c]) // 2])  # cut short
    to = sb.path("damaged-report")
    r = sb.run([rslib.REASONSAVER, "report", run_id, "--redis", url, "--to", to])
    assert r.returncode == 1, (r.returncode, r.stdout, r.stderr)
    want = "3 corrupted stored record(s) (cases %d, %d, %d)" % (a, b, c)
    assert want in r.stderr, r.stderr
    rep = rslib.load_report(to)
    assert rep["corrupted"] == {"count": 3, "cases": [a, b, c]}, rep["corrupted"]
    lines = rslib.read_jsonl(os.path.join(to, "results.jsonl"))
    assert len(lines) == CASES - 3 and {a, b, c}.isdisjoint(x["idx"] for x in lines)
    r = sb.run([rslib.REASONSAVER, "resume", run_id, "--quiet", "--redis", url, "--out",
                sb.path("run2")], check=0)
    assert "3 damaged stored record(s) deleted" in r.stdout, r.stdout
    assert "%d of %d cases already have a result" % (CASES - 3, CASES) in r.stdout, r.stdout
    rep = rslib.load_report(run_dir)
    assert rep["corrupted"] == {"count": 0, "cases": []}, rep["corrupted"]
    assert rep["reliability"]["dispatched_cases"] == CASES + 3, rep["reliability"]
    rslib.assert_same_run(run_dir, clean_dir)
    # the resumed coordinator packed them with the run's dictionary
    again = stored(redis, run_id)
    assert all(again[i][:1] == b"z" for i in (a, b, c)), [again[i][:20] for i in (a, b, c)]
    print("ok: 3 damaged packed records reported as corrupted (exit 1); resume ran exactly them "
          "again and stored them packed")


def main():
    with rslib.Sandbox() as sb:
        cfg = faultlib.setup(sb, cases=CASES, workers=2, latency=0)
        clean_dir = check_round_trip(sb, cfg)
        url, redis, run_id, run_dir = check_lost_dictionary(sb, cfg, clean_dir)
        check_damaged(sb, url, redis, run_id, run_dir, clean_dir)
        redis.close()


if __name__ == "__main__":
    main()
