"""A response cache shared in the run's own Redis, with the users of docs/REDIS.md: the run's state
goes through the user rs (REDIS_PASSWORD), the workers' cache through the user of the `ACL SETUSER
rscache` rule (cache.redis: redis://rscache@..., its password in RS_CACHE_PASSWORD, read by each
worker from its own environment). A second run is answered from the cache with no denied command
in Redis's ACL LOG; that user can read and write the cache's keys but cannot read or write any of
the run's state (rs:run:*), nor anything outside rs:cache:*. Without its password the workers say so
once and call the models uncached, and the run still succeeds. No password is in any file or output."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
import redisauth  # noqa: E402
import rslib  # noqa: E402
from test_mockllm import Mock  # noqa: E402

CASES = 30
CONFIG = """
run: {name: %(name)s, seed: 5}
dataset: {path: cases.jsonl, limit: %(cases)d}
models:
  - {name: solver, provider: openai, model: sim-1, mock: true, retry_base_ms: 10,
     base_url: "http://127.0.0.1:%(port)d/v1"}
cache: {redis: "redis://rscache@127.0.0.1:%(redis)d/0"}
cluster: {workers: 2}
report: {formats: [json, jsonl]}
"""


def cache_rule(password):
    with open(os.path.join(rslib.SRC, "docs", "REDIS.md")) as f:
        lines = [ln.strip() for ln in f if ln.startswith("ACL SETUSER rscache ")]
    assert len(lines) == 1, "docs/REDIS.md must hold exactly one 'ACL SETUSER rscache' line"
    rule = [a.replace(">PASSWORD", ">" + password) for a in lines[0].split()]
    assert ">" + password in rule, "the rule has no >PASSWORD to replace"
    return rule


def as_cache_user(server, password, *args):
    """One command as the cache's user: (ok, reply text)."""
    env = redisauth.environ(REDISCLI_AUTH=password)
    r = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(server.port), "--user",
                        "rscache", "--raw"] + list(args), capture_output=True, text=True,
                       env=env, timeout=30)
    text = r.stdout + r.stderr
    return "NOPERM" not in text and "ERR" not in text and r.returncode == 0, text


def run(sb, outputs, mock, server, env, name="shared"):
    cfg = sb.write(name + ".yaml", CONFIG % {"name": name, "cases": CASES, "port": mock.port,
                                             "redis": server.port})
    before = mock.stats()["requests"]
    url = "redis://rs@127.0.0.1:%d/0" % server.port
    r = outputs.run(sb, [rslib.REASONSAVER, "run", cfg, "--redis", url, "--out", sb.path("runs")],
                    env, check=0)
    run_dir = rslib.run_dir_from_output(r.stdout, sb.dir)
    recs = rslib.read_jsonl(os.path.join(run_dir, "results.jsonl"))
    hits = sum(1 for rec in recs for c in rec["models"][0]["candidates"] if c.get("cached"))
    return mock.stats()["requests"] - before, hits, os.path.basename(run_dir), r


def main():
    with rslib.Sandbox() as sb:
        rs_pw, cache_pw = redisauth.new_password("run"), redisauth.new_password("cache")
        server = redisauth.Server(sb, rs_pw)
        server.cli(*cache_rule(cache_pw), admin=True)
        sb.run([rslib.REASONSAVER, "datasets", "gen", "arithmetic", "--n", str(CASES), "--seed",
                "6", "--out", sb.path("cases.jsonl")], check=0)
        mock = Mock(sb, "--accuracy", "0.7", "--seed", "1", "--quiet")
        outputs = redisauth.Outputs()
        env = redisauth.environ(REDIS_PASSWORD=rs_pw, RS_CACHE_PASSWORD=cache_pw)

        made, hits, run1, r = run(sb, outputs, mock, server, env)
        assert (made, hits) == (CASES, 0), (made, hits)
        assert "cache    redis://rscache@127.0.0.1" in r.stdout, r.stdout
        made, hits, run2, r = run(sb, outputs, mock, server, env)
        assert (made, hits) == (0, CASES), (made, hits, r.stderr[-2000:])
        denied, log = server.denied()
        assert not denied, "the ACL refused a command of the run or its workers:\n" + log

        entries = [k for k in server.cli("--scan", "--pattern", "rs:cache:*").split()
                   if len(k) == len("rs:cache:") + 64]
        assert len(entries) == CASES, len(entries)
        ok, text = as_cache_user(server, cache_pw, "GET", entries[0])
        assert ok and text.startswith("rsc1 "), text
        ok, text = as_cache_user(server, cache_pw, "SET", "rs:cache:probe", "x")
        assert ok, text
        run_keys = [k for k in server.cli("--scan", "--pattern", "rs:run:*").split()]
        assert any(k == "rs:run:" + run1 for k in run_keys), run_keys[:10]
        for cmd in (["HGETALL", "rs:run:" + run1], ["HGETALL", "rs:run:%s:results" % run2],
                    ["GET", "rs:run:%s:lock" % run2], ["SET", "rs:run:%s:lock" % run2, "x"],
                    ["DEL", "rs:run:" + run1], ["HSET", "rs:run:" + run1, "status", "x"],
                    ["GET", "rs:runs"], ["SET", "other", "x"], ["KEYS", "*"], ["FLUSHALL"],
                    ["EVAL", "return redis.call('GET', KEYS[1])", "1", "rs:run:" + run1]):
            ok, text = as_cache_user(server, cache_pw, *cmd)
            assert not ok and "NOPERM" in text, (cmd, text)
        assert server.cli("HGET", "rs:run:" + run1, "status").strip() == "finished"

        # without its password: one warning per worker, every call made, the run fine
        made, hits, _, r = run(sb, outputs, mock, server,
                               redisauth.environ(REDIS_PASSWORD=rs_pw), name="nopass")
        assert (made, hits) == (CASES, 0), (made, hits)
        assert "needs its password in $RS_CACHE_PASSWORD" in r.stderr, r.stderr[-2000:]

        outputs.assert_clean(rs_pw, cache_pw)
        assert redisauth.files_holding(sb.dir, cache_pw) == [], "the cache password in a file"
    print("ok: the cache user served a shared cache (%d hits) and cannot touch run state" % CASES)


if __name__ == "__main__":
    main()
