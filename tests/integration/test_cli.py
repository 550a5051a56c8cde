"""The command line: --help everywhere, exit codes (0 ok, 2 bad input, 1 runtime), and errors that
name the file, line and key."""
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import rslib  # noqa: E402

R = rslib.REASONSAVER


def main():
    with rslib.Sandbox() as sb:
        for args in ([R, "--help"], [R, "run", "--help"], [R, "status", "--help"],
                     [R, "report", "--help"], [R, "datasets", "--help"],
                     [rslib.WORKER, "--help"]):
            r = sb.run(args, check=0)
            assert "usage:" in r.stdout, args
        assert sb.run([R], check=2).stderr
        r = sb.run([R, "frobnicate"], check=2)
        assert "unknown command 'frobnicate'" in r.stderr
        # A command's error quotes what it was given: never a raw escape sequence or line break.
        r = sb.run([R, "frob\x1b[31m\nFORGED"], check=2)
        assert "\x1b" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, repr(r.stderr)
        r = sb.run([R, "run", "missing.yaml"], check=2)
        assert "missing.yaml" in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
        # An unknown key: file:line:column, the key, and a suggestion.
        bad = sb.write("bad.yaml", "run: {name: x}\ndataset:\n  path: d.jsonl\n  limt: 5\n"
                                   "models: [{name: m, provider: sim, model: s}]\n")
        r = sb.run([R, "run", bad], check=2)
        assert "bad.yaml:4:" in r.stderr and "limt" in r.stderr and "limit" in r.stderr, r.stderr
        # A bad dataset line names the file and line.
        sb.write("d.jsonl", '{"id":"a","question":"1+1?","answer":"2"}\n{"id":"b","question":\n')
        good = sb.write("good.yaml", "dataset: {path: d.jsonl}\n"
                                     "models: [{name: m, provider: sim, model: s}]\n")
        r = sb.run([R, "run", good, "--out", sb.path("runs")], check=2)
        assert "d.jsonl:2" in r.stderr, r.stderr
        r = sb.run([R, "datasets", "check", good, "--set", "dataset.on_error=skip"], check=0)
        assert "1 cases, 1 lines skipped" in r.stdout, r.stdout
        # --set with a bad value is a usage error naming the override.
        r = sb.run([R, "run", good, "--set", "models.0.params.accuracy=2"], check=2)
        assert "accuracy" in r.stderr, r.stderr
        # status of a run that does not exist.
        r = sb.run([R, "status", "nope", "--out", sb.path("runs")], check=2)
        assert "nope" in r.stderr
        # The generator is deterministic.
        a = sb.run([R, "datasets", "gen", "arithmetic", "--n", "50", "--seed", "4"], check=0).stdout
        b = sb.run([R, "datasets", "gen", "arithmetic", "--n", "50", "--seed", "4"], check=0).stdout
        assert a == b and len(a.splitlines()) == 50
        # A Redis that is not there is a runtime failure (exit 1) with one clear line.
        r = sb.run([R, "run", good, "--set", "dataset.on_error=skip", "--redis",
                    "redis://127.0.0.1:%d" % rslib.free_port(), "--out", sb.path("runs")], check=1)
        assert "redis" in r.stderr.lower(), r.stderr
        # Without redis-server in PATH the embedded default names the package to install.
        env = dict(os.environ, PATH="/nonexistent")
        r = sb.run([R, "run", good, "--set", "dataset.on_error=skip", "--out", sb.path("runs")],
                   check=1, env=env)
        assert "apt-get install -y redis-server" in r.stderr, r.stderr
        # Local workers that die right after starting are given up, and the run stops with a
        # clear error instead of waiting forever (a copy of the coordinator finds a broken
        # reasonsaver-worker beside it).
        import shutil
        import stat
        bindir = sb.path("brokenbin")
        os.makedirs(bindir)
        shutil.copy(R, os.path.join(bindir, "reasonsaver"))
        fake = os.path.join(bindir, "reasonsaver-worker")
        with open(fake, "w") as f:
            f.write("#!/bin/sh\necho 'fake worker: cannot run' >&2\nexit 3\n")
        os.chmod(fake, stat.S_IRWXU)
        r = sb.run([os.path.join(bindir, "reasonsaver"), "run", good, "--set",
                    "dataset.on_error=skip", "--out", sb.path("runs")], check=1, timeout=60)
        assert "every local worker failed" in r.stderr and "fake worker" in r.stderr, r.stderr
        # Every shipped config loads and its dataset opens (GSM8K's only where ../shared exists).
        # (configs/graders/ holds the exec graders' examples: their YAML files count too)
        cfg_dir = os.path.join(rslib.SRC, "configs")
        names = [os.path.relpath(os.path.join(d, f), cfg_dir)
                 for d, _, files in os.walk(cfg_dir) for f in files if f.endswith(".yaml")]
        assert "graders/humaneval.yaml" in names, names
        for name in sorted(names):
            r = sb.run([R, "datasets", "check", os.path.join(cfg_dir, name)])
            if name == "gsm8k.yaml" and r.returncode == 2 and "No such file" in r.stderr:
                print("SKIP part: %s needs ../shared/data/gsm8k (absent)" % name)
                continue
            assert r.returncode == 0, (name, r.stderr)
    print("ok: cli")


if __name__ == "__main__":
    main()
