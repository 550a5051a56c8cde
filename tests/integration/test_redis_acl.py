"""Redis with an ACL user: the user of docs/REDIS.md's rule (the default user on another password)
carries a whole run, `status`, `report` and an interrupted run's `resume`, with the password only in
the environment (REDIS_PASSWORD, or the variable cluster.redis_password_env names). Redis's ACL LOG
shows no denied command. A password written into the address (once misparsed as port 0 or host
"default", echoed on stderr, an empty run directory left behind) is refused without being shown;
a wrong or missing password fails with a clear message. The password is in no file under the run
directories, no Redis key and no output."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import redisauth  # noqa: E402
import rslib  # noqa: E402


def run_dirs(out):
    return sorted(os.listdir(out)) if os.path.isdir(out) else []


def refused_addresses(sb, outputs, cfg, server, password):
    """The finding: credentials in the address. Refused before anything starts, never shown."""
    out = sb.path("refused")
    for url in ("redis://rs:%s@127.0.0.1:%d/0" % (password, server.port),
                "redis://:%s@127.0.0.1:%d/0" % (password, server.port)):
        r = outputs.run(sb, [rslib.REASONSAVER, "run", cfg, "--redis", url, "--out", out],
                        redisauth.environ(), check=2)
        assert "a password in the address is refused" in r.stderr, r.stderr
        assert ":***@127.0.0.1:%d/0" % server.port in r.stderr, r.stderr
        assert "REDIS_PASSWORD" in r.stderr, r.stderr
        for cmd in (["status"], ["report"]):
            r = outputs.run(sb, [rslib.REASONSAVER] + cmd + ["--redis", url, "--out", out],
                            redisauth.environ(), check=2)
            assert "a password in the address is refused" in r.stderr, r.stderr
    assert run_dirs(out) == [], run_dirs(out)


def failed_auth(sb, outputs, cfg, server, wrong):
    """A wrong or missing password: a clear message, exit 1, and no run directory left behind."""
    out = sb.path("failed")
    url = "redis://rs@127.0.0.1:%d/0" % server.port
    r = outputs.run(sb, [rslib.REASONSAVER, "run", cfg, "--redis", url, "--out", out],
                    redisauth.environ(REDIS_PASSWORD=wrong), check=1)
    assert "AUTH as user 'rs' failed: WRONGPASS" in r.stderr, r.stderr
    assert "$REDIS_PASSWORD" in r.stderr, r.stderr
    r = outputs.run(sb, [rslib.REASONSAVER, "run", cfg, "--redis", url, "--out", out],
                    redisauth.environ(), check=1)
    assert "WRONGPASS" in r.stderr and "$REDIS_PASSWORD, which is not set" in r.stderr, r.stderr
    # the right password as the default user (no user in the address): the default user's is another
    r = outputs.run(sb, [rslib.REASONSAVER, "run", cfg, "--redis", url.replace("rs@", ""),
                         "--out", out], redisauth.environ(REDIS_PASSWORD=wrong), check=1)
    assert "AUTH as the default user failed: WRONGPASS" in r.stderr, r.stderr
    assert run_dirs(out) == [] and not os.path.exists(out), run_dirs(out)


def whole_run(sb, outputs, cfg, server, password):
    out = sb.path("runs")
    env = redisauth.environ(REDIS_PASSWORD=password)
    url = "redis://rs@127.0.0.1:%d/0" % server.port
    r = outputs.run(sb, [rslib.REASONSAVER, "run", cfg, "--redis", url, "--out", out], env, check=0)
    run_dir = rslib.run_dir_from_output(r.stdout, sb.dir)
    run_id = os.path.basename(run_dir)
    st = redisauth.status(sb, out, run_id, env)
    assert st and st["status"] == "finished" and st["done"] == st["total"] == 600, st
    outputs.run(sb, [rslib.REASONSAVER, "status", "--out", out, run_id], env, check=0)
    outputs.run(sb, [rslib.REASONSAVER, "report", run_id, "--out", out], env, check=0)
    # the same through --redis, without the run directory's run.json
    r = outputs.run(sb, [rslib.REASONSAVER, "status", "--json", "--redis", url, "--out",
                         sb.path("elsewhere"), run_id], env, check=0)
    assert '"finished"' in r.stdout, r.stdout
    # without the password, reading the run fails clearly
    r = outputs.run(sb, [rslib.REASONSAVER, "status", "--out", out, run_id], redisauth.environ(),
                    check=2)
    assert "$REDIS_PASSWORD, which is not set" in r.stderr, r.stderr
    return run_dir


def main():
    with rslib.Sandbox() as sb:
        password = redisauth.new_password("rs")
        wrong = redisauth.new_password("wrong")
        server = redisauth.Server(sb, password)
        outputs = redisauth.Outputs()
        cfg = redisauth.setup(sb, "acl")
        refused_addresses(sb, outputs, cfg, server, password)
        failed_auth(sb, outputs, cfg, server, wrong)
        clean = whole_run(sb, outputs, cfg, server, password)

        # an interrupted run resumed, with the password in a variable of another name: run.json
        # records the name, so status and resume find it
        slow = redisauth.setup(sb, "acl", latency=200)
        env = redisauth.environ(RS_IT_REDIS_PW=password)
        url = "redis://rs@127.0.0.1:%d/0" % server.port
        resumed = redisauth.interrupt_and_resume(
            sb, outputs, slow, sb.path("resumed"), env,
            ["--redis", url, "--set", "cluster.redis_password_env=RS_IT_REDIS_PW"])
        rslib.assert_same_run(resumed, clean)

        denied, log = server.denied()
        assert denied == [], "the ACL refused commands:\n" + log
        keys = server.everything()
        assert "rs:run:" in keys, keys[:500]
        for secret in (password, wrong):
            assert secret not in keys, "a password is stored in Redis"
            held = redisauth.files_holding(sb.dir, secret)
            assert held == [], "a password is in %s" % held
        outputs.assert_clean(password, wrong)
        print("ok: ACL user runs, status, report, resume; passwords refused in addresses, never "
              "stored or printed")


if __name__ == "__main__":
    main()
