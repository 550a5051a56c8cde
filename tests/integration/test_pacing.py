"""rpm and tpm limits hold for the whole cluster: the coordinator paces dispatch, so more workers
do not raise the rate above the limit."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import rslib  # noqa: E402

CONFIG = """
run: {name: pace}
dataset: {path: %(dataset)s, limit: 120}
models: [{name: m, provider: sim, model: sim-1, %(limit)s, params: {max_tokens: 100}}]
cluster: {workers: %(workers)d}
report: {formats: [json]}
"""


def timed_run(sb, name, limit, workers):
    cfg = sb.write(name + ".yaml", CONFIG % {
        "dataset": os.path.join(rslib.SRC, "datasets", "demo.jsonl"), "limit": limit,
        "workers": workers})
    t0 = time.time()
    sb.run([rslib.REASONSAVER, "run", cfg, "--quiet", "--out", sb.path(name)], check=0)
    return time.time() - t0


def main():
    with rslib.Sandbox() as sb:
        # Pacing adds time on top of what the same run takes unpaced (measured here, so a slow
        # build such as ASan's shifts both; the limits are low enough to bind even there):
        # 120 cases at 20 requests/s with a 20-case bucket need about 5 s more; at 4,000 tokens/s
        # and 120-160 tokens a case (25-33 cases/s, bucket of one second), about 3 s more.
        free = timed_run(sb, "free", "rpm: 0", 2)
        for workers in (2, 4):
            t = timed_run(sb, "rpm%d" % workers, "rpm: 1200", workers)
            assert 3.5 <= t - free < 20, "rpm 1200 with %d workers: %.2f s vs %.2f s unpaced" % (
                workers, t, free)
        t = timed_run(sb, "tpm", "tpm: 240000", 2)
        assert 1.8 <= t - free < 20, "tpm: %.2f s vs %.2f s unpaced" % (t, free)
    print("ok: pacing holds across workers")


if __name__ == "__main__":
    main()
