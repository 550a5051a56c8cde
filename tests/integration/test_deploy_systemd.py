"""deploy/systemd: the units pass `systemd-analyze verify` without a warning, carry the hardening
options docs/security.d/deploy.md promises and stay under an exposure of 1.5 in `systemd-analyze
security`; broken copies (a misspelt option, a missing binary, a dropped or weakened hardening
option) are caught by the same checks. credential-env exports credentials exactly and evaluates
nothing. Then the units' ExecStart lines, expanded as systemd would (specifiers, Environment,
EnvironmentFile, LoadCredential into a credentials directory, a clean environment), run a
coordinator and two workers over CURVE against a Redis with an ACL user and a model server that
requires an API key, and no secret reaches their output or the run directory."""
import json
import os
import re
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import deploylib  # noqa: E402
import rslib  # noqa: E402

COORD = "reasonsaver-coordinator@.service"
WORKER = "reasonsaver-worker@.service"

# Option -> the value each unit must have ("" = empty, i.e. none); lists: every word present.
HARDENING = {
    "DynamicUser": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
    "PrivateDevices": "yes", "PrivateUsers": "yes", "PrivateMounts": "yes",
    "NoNewPrivileges": "yes", "CapabilityBoundingSet": "", "AmbientCapabilities": "",
    "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6", "RestrictNamespaces": "yes",
    "RestrictSUIDSGID": "yes", "RestrictRealtime": "yes", "LockPersonality": "yes",
    "MemoryDenyWriteExecute": "yes", "ProtectKernelTunables": "yes",
    "ProtectKernelModules": "yes", "ProtectKernelLogs": "yes", "ProtectControlGroups": "yes",
    "ProtectClock": "yes", "ProtectHostname": "yes", "ProtectProc": "invisible",
    "SystemCallArchitectures": "native", "UMask": "0077",
    "SystemCallFilter": ["@system-service", "~@privileged @resources"],
}
PER_UNIT = {
    COORD: {"StateDirectory": "reasonsaver", "KillMode": "mixed", "Restart": "no",
            "LoadCredential": ["coordinator.secret:/etc/reasonsaver/keys/coordinator.secret",
                               "env:/etc/reasonsaver/coordinator.env.d"]},
    WORKER: {"Restart": "on-failure", "RestartPreventExitStatus": "2 3",
             "LoadCredential": ["worker.secret:/etc/reasonsaver/keys/%i.secret",
                                "coordinator.pub:/etc/reasonsaver/keys/coordinator.pub",
                                "env:/etc/reasonsaver/worker.env.d"]},
}
MAX_EXPOSURE = 15  # systemd-analyze security's scale times ten: 1.5 of 10 ("OK")


def installed_copy(src, dest_dir, name=None):
    """The unit with its install paths pointing at this build (verify wants real binaries)."""
    with open(src) as f:
        text = f.read()
    dest = os.path.join(dest_dir, name or os.path.basename(src))
    with open(dest, "w") as f:
        f.write(deploylib.remap(text, deploylib.install_paths("/nonexistent")[:2]))
    return dest


def verify_problems(path):
    """What `systemd-analyze verify` says about this unit file (empty when it is clean)."""
    r = subprocess.run(["systemd-analyze", "verify", path], capture_output=True, text=True)
    base = os.path.basename(path)
    said = [ln for ln in (r.stdout + r.stderr).splitlines() if path in ln or base in ln]
    if r.returncode != 0 and not said:
        said = ["exit %d: %s" % (r.returncode, (r.stdout + r.stderr).strip()[-500:])]
    # verify looks at the first word only; the wrapper's command must exist as well.
    for line in deploylib.unit_values(deploylib.parse_unit(path), "ExecStart"):
        for word in line.split():
            if word.startswith(os.path.abspath(rslib.BIN)) and not os.access(word, os.X_OK):
                said.append("ExecStart: %s is not executable" % word)
    return said


def hardening_problems(path, name):
    unit = deploylib.parse_unit(path)
    want = dict(HARDENING, **PER_UNIT[name])
    problems = []
    for key, value in want.items():
        got = deploylib.unit_values(unit, key)
        if isinstance(value, list):
            missing = [v for v in value if v not in got]
            if missing:
                problems.append("%s: %s missing (have %s)" % (key, missing, got))
        elif got != [value]:
            problems.append("%s: want %r, have %s" % (key, value, got))
    # Secrets travel only as credentials: no password or API key in Environment=, and a secret
    # key file named on the command line only inside the credentials directory (%d).
    for value in deploylib.unit_values(unit, "Environment"):
        if re.search(r"(PASSWORD|API_KEY)=.", value.upper()):
            problems.append("a secret in Environment=" + value)
    for value in deploylib.unit_values(unit, "ExecStart"):
        for word in value.split():
            if ".secret" in word and not word.split("=")[-1].startswith("%d/"):
                problems.append("a secret key file outside the credentials: " + word)
    return problems


def exposure_problems(path):
    r = subprocess.run(["systemd-analyze", "security", "--offline=true",
                        "--threshold=%d" % MAX_EXPOSURE, path], capture_output=True, text=True)
    if r.returncode == 0:
        return []
    return ["exposure over %.1f: %s" % (MAX_EXPOSURE / 10, (r.stdout + r.stderr).strip()[-300:])]


def all_problems(path, name):
    return verify_problems(path) + hardening_problems(path, name) + exposure_problems(path)


def check_units(tmp):
    for name in (COORD, WORKER):
        path = installed_copy(os.path.join(deploylib.UNITS, name), tmp)
        problems = all_problems(path, name)
        assert not problems, "%s:\n  %s" % (name, "\n  ".join(problems))
        # A template is verified as such and as an instance.
        inst = installed_copy(os.path.join(deploylib.UNITS, name), tmp, name.replace("@.", "@x."))
        assert not verify_problems(inst), verify_problems(inst)
    print("ok: both units verify cleanly, carry every hardening option, exposure <= %.1f" % (
        MAX_EXPOSURE / 10))


def check_broken_units_fail(tmp):
    """The checks above can fail: each broken copy is caught, by the check meant for it."""
    src = os.path.join(deploylib.UNITS, WORKER)
    with open(src) as f:
        text = f.read()
    breaks = {
        "misspelt option": (text.replace("ProtectSystem=strict", "ProtectSytem=strict"),
                            verify_problems),
        "missing binary": (text.replace("reasonsaver/credential-env", "reasonsaver/credentials-env"),
                           verify_problems),
        "missing worker binary": (text.replace("bin/reasonsaver-worker", "bin/reasonsaver-wrker"),
                                  verify_problems),
        "bad syscall group": (text.replace("@system-service", "@system-servce"), verify_problems),
        "NoNewPrivileges dropped": (text.replace("NoNewPrivileges=yes\n", ""),
                                    lambda p: hardening_problems(p, WORKER)),
        "ProtectSystem weakened": (text.replace("ProtectSystem=strict", "ProtectSystem=full"),
                                   lambda p: hardening_problems(p, WORKER)),
        "exit 3 restarts": (text.replace("RestartPreventExitStatus=2 3", "RestartPreventExitStatus=2"),
                            lambda p: hardening_problems(p, WORKER)),
        "sandbox removed": (text.split("# Sandbox:")[0], exposure_problems),
    }
    for what, (broken, check) in breaks.items():
        assert broken != text, what
        d = os.path.join(tmp, "broken-" + what.replace(" ", "-"))
        os.makedirs(d)
        with open(os.path.join(d, WORKER + ".in"), "w") as f:
            f.write(broken)
        path = installed_copy(os.path.join(d, WORKER + ".in"), d, WORKER)
        assert check(path), "the check did not catch: " + what
    print("ok: %d broken copies of the worker unit are each caught" % len(breaks))


def check_credential_env(tmp):
    """Values arrive byte for byte (trailing newlines aside), shell syntax in them is not run,
    a bad name is skipped with a message that does not hold the value."""
    creds = os.path.join(tmp, "creds")
    os.makedirs(creds)
    tricky = "sk-'a\" b$(touch %s)`id`;\\x $HOME" % os.path.join(tmp, "pwned")
    files = {"env_OPENAI_API_KEY": tricky + "\n", "env_REDIS_PASSWORD": "pw with spaces",
             "env_bad-name": "hidden-value-1", "env_1X": "hidden-value-2",
             "worker.secret": "not-an-env-var"}
    for name, value in files.items():
        with open(os.path.join(creds, name), "w") as f:
            f.write(value)
    dump = [sys.executable, "-c", "import json, os; print(json.dumps(dict(os.environ)))"]
    wrapper = os.path.join(deploylib.UNITS, "credential-env")
    r = subprocess.run([wrapper] + dump, capture_output=True, text=True,
                       env={"PATH": "/usr/bin:/bin", "CREDENTIALS_DIRECTORY": creds})
    assert r.returncode == 0, r.stderr
    env = json.loads(r.stdout)
    assert env["OPENAI_API_KEY"] == tricky, env.get("OPENAI_API_KEY")
    assert env["REDIS_PASSWORD"] == "pw with spaces"
    assert not os.path.exists(os.path.join(tmp, "pwned")), "credential-env ran a value"
    assert "bad-name" not in "".join(env) and "1X" not in env and "secret" not in str(env)
    assert "env_bad-name" in r.stderr and "env_1X" in r.stderr, r.stderr
    assert "hidden-value" not in r.stderr + r.stdout.replace('"', "")
    r = subprocess.run([wrapper] + dump, capture_output=True, text=True, env={"PATH": "/bin"})
    assert r.returncode == 0 and "OPENAI_API_KEY" not in json.loads(r.stdout)
    print("ok: credential-env exports credentials exactly and runs nothing in them")


RUN_CONFIG = """
run: {name: units, seed: 3}
dataset: {path: %(cases)s}
models:
  - {name: remote, provider: openai, model: sim-1, base_url: "http://127.0.0.1:%(mock)d/v1",
     api_key_env: OPENAI_API_KEY, mock: true}
scoring: {graders: [exact, numeric]}
cluster:
  workers: 0
  bind: tcp://127.0.0.1:%(port)d
  redis: redis://reasonsaver@127.0.0.1:%(redis)d/0
"""


def write(path, text, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, mode)


def redis_acl_rules():
    """The coordinator's ACL rules, as make-secrets.sh (and docs/REDIS.md) give them."""
    with open(os.path.join(deploylib.K8S, "make-secrets.sh")) as f:
        (rules,) = re.findall(r"^REDIS_ACL_RULES='(.*)'$", f.read(), flags=re.M)
    return rules


def run_units(sb):
    """A coordinator unit and two worker units, started as systemd would start them."""
    root = sb.path("host")
    etc = os.path.join(root, "etc", "reasonsaver")
    paths = deploylib.install_paths(root)
    password, api_key = "rp-" + os.urandom(12).hex(), "sk-" + os.urandom(12).hex()
    secrets = {"Redis password": password, "API key": api_key}
    for name in ("coordinator", "w1", "w2", "w3"):  # w3's key is never authorised
        pub, secret = deploylib.keys_gen(name, os.path.join(etc, "keys"))
        with open(secret) as f:
            secrets[name + " secret key"] = f.read().strip()
        if name in ("w1", "w2"):
            os.makedirs(os.path.join(etc, "authorized_workers"), exist_ok=True)
            shutil.copy(pub, os.path.join(etc, "authorized_workers"))
    write(os.path.join(etc, "coordinator.env.d", "REDIS_PASSWORD"), password + "\n", 0o600)
    write(os.path.join(etc, "worker.env.d", "OPENAI_API_KEY"), api_key + "\n", 0o600)

    rport, mport, port = rslib.free_port(), rslib.free_port(), rslib.free_port()
    write(sb.path("users.acl"), "user default off\nuser reasonsaver on >%s %s\n" % (
        password, redis_acl_rules()), 0o600)
    redis = sb.spawn(["redis-server", "--port", str(rport), "--bind", "127.0.0.1", "--save", "",
                      "--appendonly", "no", "--aclfile", sb.path("users.acl"), "--dir", sb.dir],
                     stdout=subprocess.DEVNULL)
    rslib.wait_port(rport, redis)
    mock = sb.spawn([deploylib.MOCKLLM, "--port", str(mport), "--latency-ms", "20", "--quiet"],
                    env={"MOCKLLM_API_KEY": api_key, "PATH": "/usr/bin:/bin"})
    rslib.wait_port(mport, mock)
    sb.run([rslib.REASONSAVER, "datasets", "gen", "arithmetic", "--n", "400", "--seed", "4",
            "--out", sb.path("cases.jsonl")], check=0)
    write(os.path.join(etc, "demo.yaml"), RUN_CONFIG % {
        "cases": sb.path("cases.jsonl"), "mock": mport, "port": port, "redis": rport})
    write(os.path.join(etc, "worker.env"), "RS_CONNECT=tcp://127.0.0.1:%d\n"
          "RS_ALLOW_ENV=OPENAI_API_KEY\nRS_WORKER_ARGS=--slots 16\n" % port)

    argv, env, cwd = deploylib.unit_command(os.path.join(deploylib.UNITS, COORD), "demo", root, paths)
    coord = sb.spawn(argv, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                     text=True)
    logs = {}
    for name in ("w1", "w2", "w3"):
        argv, env, cwd = deploylib.unit_command(os.path.join(deploylib.UNITS, WORKER), name, root,
                                                paths)
        assert "OPENAI_API_KEY" not in env, "the API key must come from the credential"
        logs[name] = open(sb.path(name + ".log"), "w+")
        sb.spawn(argv, env=env, cwd=cwd, stdout=logs[name], stderr=subprocess.STDOUT)
    out, err = coord.communicate(timeout=200)
    assert coord.returncode == 0, (coord.returncode, out[-2000:], err[-3000:])
    run_dir = rslib.only_run_dir(os.path.join(root, "var", "lib", "reasonsaver", "runs"))
    rep = rslib.load_report(run_dir)
    assert rep["status"] == "finished" and rep["dataset"]["missing_results"] == 0, rep["status"]
    (model,) = rep["models"]
    assert not model["errors"], "model calls failed (the API key credential?): %s" % model["errors"]
    ids = {sp["attributes"].get("reasonsaver.worker.id")
           for rec in rslib.read_jsonl(os.path.join(run_dir, "results.jsonl"))
           for sp in rec["spans"] if sp["name"] == "case"}
    assert ids <= {"w1", "w2"} and ids, ids
    with open(os.path.join(etc, "keys", "w3.pub")) as f:
        assert f.read().strip() in err, "the unauthorised w3 was not logged:\n" + err[-3000:]
    print("ok: the units' command lines ran %d cases over CURVE (workers %s; w3, unauthorised, got "
          "none), Redis as an ACL user, the API key from a credential" % (
              rep["dataset"]["cases"], sorted(ids)))

    texts = {"coordinator output": out + err}
    for name, f in logs.items():
        f.seek(0)
        texts[name + " output"] = f.read()
    leaks = ["%s holds the %s" % (where, what) for where, text in texts.items()
             for what, value in secrets.items() if value in text]
    for d, _, names in os.walk(os.path.join(root, "var")):
        for n in names:
            with open(os.path.join(d, n), "rb") as f:
                data = f.read()
            leaks += ["%s holds the %s" % (n, what) for what, v in secrets.items()
                      if v.encode() in data]
    assert not leaks, leaks
    print("ok: no secret in the units' output or in the state directory")


def main():
    if not shutil.which("systemd-analyze"):
        rslib.skip("systemd-analyze is missing (apt-get install -y systemd)")
    with rslib.Sandbox() as sb:
        check_units(sb.dir)
        check_broken_units_fail(sb.dir)
        check_credential_env(sb.dir)
        if not deploylib.keys_available():
            rslib.skip("units checked; running them needs `reasonsaver keys gen` (ZeroMQ CURVE), "
                       "which this build does not have")
        run_units(sb)


if __name__ == "__main__":
    main()
