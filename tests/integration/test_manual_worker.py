"""A coordinator started with --workers 0 waits; a worker started by hand with --connect joins
it and the run completes."""
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import rslib  # noqa: E402

CONFIG = """
run: {name: manual}
dataset: {path: %s, limit: 200}
models: [{name: m, provider: sim, model: sim-1}]
"""


def main():
    with rslib.Sandbox() as sb:
        url = sb.redis()
        port = rslib.free_port()
        cfg = sb.write("manual.yaml", CONFIG % os.path.join(rslib.SRC, "datasets", "demo.jsonl"))
        coord = sb.spawn([rslib.REASONSAVER, "run", cfg, "--workers", "0", "--redis", url,
                          "--bind", "tcp://127.0.0.1:%d" % port, "--out", sb.path("runs")],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(1.0)
        assert coord.poll() is None, "coordinator exited before any worker joined"
        sb.spawn([rslib.WORKER, "--connect", "tcp://127.0.0.1:%d" % port, "--id", "by-hand"],
                 stderr=subprocess.DEVNULL)
        out, err = coord.communicate(timeout=60)
        assert coord.returncode == 0, (coord.returncode, out, err)
        assert "by-hand" in err, "the hand-started worker was not seen joining:\n" + err
        rep = rslib.load_report(rslib.run_dir_from_output(out))
        g = rep["models"][0]["graders"][0]
        assert g["correct"] + g["wrong"] == 200, g
    print("ok: a hand-started worker joined and finished the run")


if __name__ == "__main__":
    main()
