"""rpm and tpm limits hold for the whole cluster: the coordinator paces dispatch, so more workers
do not raise the rate above the limit."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import rslib  # noqa: E402

CONFIG = """
run: {name: pace}
dataset: {path: %(dataset)s, limit: 300}
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
        free = timed_run(sb, "free", "rpm: 0", 2)
        # 6,000 requests/min = 100/s with a one-second bucket: 300 cases need about 2 s.
        for workers in (2, 4):
            t = timed_run(sb, "rpm%d" % workers, "rpm: 6000", workers)
            assert 1.7 <= t < 8, "rpm 6000 with %d workers took %.2f s (unpaced %.2f s)" % (workers, t, free)
        # Each case is budgeted at prompt/4 + max_tokens = roughly 120-160 tokens; 1,200,000 tpm
        # (20,000/s) allows roughly 125-165 cases/s: 300 cases need well over one second.
        t = timed_run(sb, "tpm", "tpm: 1200000", 2)
        assert 1.2 <= t < 8, "tpm run took %.2f s (unpaced %.2f s)" % (t, free)
        assert free < 1.5, "the unpaced run took %.2f s" % free
    print("ok: pacing holds across workers")


if __name__ == "__main__":
    main()
