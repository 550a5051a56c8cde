"""The response cache's store, in a Redis of its own (cache.redis) that the test inspects:

- TTL: entries carry the configured ttl_days (here a fraction of a day: 26 s); a run within it is
  answered from the cache, a run after it asks the model again; expired entries leave the writer's
  bookkeeping even when no write replaces them (the index, the sizes and the byte count agree with
  the entries that exist);
- size cap: with max_mb at 10 KB the stored bytes never pass it, the entries nearest expiry went,
  and a read-only second run is answered for exactly the entries that were kept."""
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import rslib  # noqa: E402
from test_mockllm import Mock  # noqa: E402

CASES = 40
TTL_DAYS = 0.0003  # 25.92 s
CONFIG = """
run: {name: %(name)s, seed: 5}
dataset: {path: cases.jsonl, limit: %(cases)d}
models:
  - {name: solver, provider: openai, model: sim-1, mock: true, retry_base_ms: 10,
     base_url: "http://127.0.0.1:%(port)d/v1", params: {max_tokens: %(max_tokens)d}}
cache: {redis: "%(redis)s", %(cache)s}
cluster: {workers: 2}
report: {formats: [json, jsonl]}
"""


def cli(url, *args):
    port = url.rsplit(":", 1)[1].split("/")[0]
    r = subprocess.run(["redis-cli", "-p", port, "--raw"] + list(args), capture_output=True,
                       text=True, timeout=30, check=True)
    return r.stdout.strip()


def entries(url):
    keys = [k for k in cli(url, "--scan", "--pattern", "rs:cache:*").split()
            if len(k) == len("rs:cache:") + 64]
    return sorted(k[len("rs:cache:"):] for k in keys)


def bookkeeping(url):
    """(index members, {member: size}, byte counter) of the writer's accounting."""
    index = sorted(cli(url, "ZRANGE", "rs:cache:index", "0", "-1").split())
    flat = cli(url, "HGETALL", "rs:cache:sizes").split()
    sizes = {flat[i]: int(flat[i + 1]) for i in range(0, len(flat), 2)}
    return index, sizes, int(cli(url, "GET", "rs:cache:bytes") or 0)


def assert_consistent(url):
    """Every indexed entry exists with the size recorded, and the counter is their sum."""
    live = entries(url)
    index, sizes, total = bookkeeping(url)
    assert index == live == sorted(sizes), (len(index), len(live), len(sizes))
    for k in live:
        size = int(cli(url, "STRLEN", "rs:cache:" + k)) + len("rs:cache:" + k)
        assert sizes[k] == size, (k, sizes[k], size)
    assert total == sum(sizes.values()), (total, sum(sizes.values()))
    return live, total


def run(sb, mock, name, redis, cache, *extra, max_tokens=512):
    cfg = sb.write(name + ".yaml", CONFIG % {"name": name, "cases": CASES, "port": mock.port,
                                             "redis": redis, "cache": cache,
                                             "max_tokens": max_tokens})
    before = mock.stats()["requests"]
    r = sb.run([rslib.REASONSAVER, "run", cfg, "--out", sb.path("runs")] + list(extra), check=0)
    recs = rslib.read_jsonl(os.path.join(rslib.run_dir_from_output(r.stdout, sb.dir),
                                         "results.jsonl"))
    hits = sum(1 for rec in recs for c in rec["models"][0]["candidates"] if c.get("cached"))
    return mock.stats()["requests"] - before, hits


def ttl(sb, mock):
    url = sb.redis()
    cache = "ttl_days: %s" % TTL_DAYS
    started = time.time()
    made, hits = run(sb, mock, "ttl", url, cache)
    assert (made, hits) == (CASES, 0), (made, hits)
    live, _ = assert_consistent(url)
    assert len(live) == CASES, len(live)
    pttl = int(cli(url, "PTTL", "rs:cache:" + live[0]))
    assert 0 < pttl <= TTL_DAYS * 86400000, pttl
    made, hits = run(sb, mock, "ttl", url, cache)
    assert time.time() - started < TTL_DAYS * 86400, "too slow to test within the TTL"
    assert (made, hits) == (0, CASES), (made, hits)
    time.sleep(max(0.0, started + TTL_DAYS * 86400 + 1 - time.time()))
    assert entries(url) == [], "entries outlived their TTL"
    stale = bookkeeping(url)
    assert len(stale[0]) == CASES and stale[2] > 0, "the bookkeeping of expired entries is gone"
    # other requests (another max_tokens), so other keys: the expired entries are not written
    # again, and only the writer's purge can drop their bookkeeping
    made, hits = run(sb, mock, "ttl", url, cache, max_tokens=256)
    assert (made, hits) == (CASES, 0), (made, hits)
    live, total = assert_consistent(url)
    assert len(live) == CASES, len(live)
    return total


def cap(sb, mock):
    url = sb.redis()
    cache = "max_mb: 0.01"
    cap_bytes = int(0.01 * 1048576)
    made, hits = run(sb, mock, "cap", url, cache)
    assert (made, hits) == (CASES, 0), (made, hits)
    live, total = assert_consistent(url)
    assert 0 < len(live) < CASES and total <= cap_bytes, (len(live), total, cap_bytes)
    # the entries kept are those written last (nearest expiry last): a read-only run hits them
    made, hits = run(sb, mock, "cap", url, cache + ", mode: read")
    assert hits == len(live) and made == CASES - len(live), (made, hits, len(live))
    assert entries(url) == live, "a read-only run wrote"
    return len(live), total


def main():
    with rslib.Sandbox() as sb:
        if not shutil.which("redis-cli"):
            rslib.skip("redis-cli is not installed (apt-get install -y redis-server)")
        sb.run([rslib.REASONSAVER, "datasets", "gen", "arithmetic", "--n", str(CASES), "--seed",
                "4", "--out", sb.path("cases.jsonl")], check=0)
        mock = Mock(sb, "--accuracy", "0.7", "--seed", "1", "--quiet")
        total = ttl(sb, mock)
        kept, capped = cap(sb, mock)
    print("ok: TTL honoured (%d bytes for %d entries, expired ones purged); cap of 10 KB kept %d "
          "entries in %d bytes" % (total, CASES, kept, capped))


if __name__ == "__main__":
    main()
