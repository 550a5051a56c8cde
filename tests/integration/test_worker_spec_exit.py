"""A local worker that cannot use the run's spec (a worker of another version) exits with status 3
(RS_PROTO_EXIT_SPEC) after three tries; the coordinator does not restart it, and when every local
worker has failed so the run stops at once with a message, instead of restarting them forever.
A stand-in worker (a script beside a copy of the coordinator) plays the mismatched one."""
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import rslib  # noqa: E402

FAKE_WORKER = """#!/bin/sh
sleep 4
echo "reasonsaver-worker: run X: cannot use the coordinator's run spec (3 tries): stand-in" >&2
exit 3
"""
CONFIG = """
run: {name: specexit}
dataset: {path: %s, limit: 20}
models: [{name: m, provider: sim, model: sim-1}]
cluster: {workers: 2}
"""


def main():
    with rslib.Sandbox() as sb:
        bin_dir = sb.path("bin")
        os.makedirs(bin_dir)
        shutil.copy(rslib.REASONSAVER, os.path.join(bin_dir, "reasonsaver"))
        worker = os.path.join(bin_dir, "reasonsaver-worker")
        with open(worker, "w") as f:
            f.write(FAKE_WORKER)
        os.chmod(worker, 0o755)
        cfg = sb.write("c.yaml", CONFIG % os.path.join(rslib.SRC, "datasets", "demo.jsonl"))
        t0 = time.time()
        r = sb.run([os.path.join(bin_dir, "reasonsaver"), "run", cfg, "--out", sb.path("runs")],
                   timeout=60)
        took = time.time() - t0
        assert r.returncode != 0, "the run succeeded without workers:\n" + r.stdout
        assert "every local worker failed" in r.stderr, r.stderr[-3000:]
        assert r.stderr.count("cannot use the run's spec") == 2, r.stderr[-3000:]
        assert "restarting it" not in r.stderr.replace("not restarting it", ""), r.stderr[-3000:]
        assert took < 30, "the coordinator took %.1f s to give up" % took
    print("ok: workers that cannot use the spec are not restarted; the run stops (%.1f s)" % took)


if __name__ == "__main__":
    main()
