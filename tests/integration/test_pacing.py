"""rpm and tpm limits hold for the whole cluster: the coordinator paces dispatch, so more workers
do not raise the rate above the limit.

Measured on the cases' own trace (each record's root span starts when a worker received the case),
not on the wall time of the command, so a loaded machine or a slow build cannot make the test
pass or fail: load only ever stretches a paced run, never compresses it below what the limit
allows."""
import collections
import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import rslib  # noqa: E402

CASES = 120
SHARD = 16  # dataset.shard_size's default: the most cases in one TASK
CONFIG = """
run: {name: pace}
dataset: {path: %(dataset)s, limit: %(cases)d}
models: [{name: m, provider: sim, model: sim-1, %(limit)s, params: {max_tokens: 100}}]
cluster: {workers: %(workers)d}
report: {formats: [json, jsonl]}
"""


def dispatch_spread(sb, name, limit, workers):
    """Seconds between the first and the last case a worker received, the receipt times, and the
    cases of each TASK (a Counter by task id, from the root spans)."""
    cfg = sb.write(name + ".yaml", CONFIG % {
        "dataset": os.path.join(rslib.SRC, "datasets", "demo.jsonl"), "cases": CASES,
        "limit": limit, "workers": workers})
    sb.run([rslib.REASONSAVER, "run", cfg, "--quiet", "--out", sb.path(name)], check=0)
    path = os.path.join(rslib.only_run_dir(sb.path(name)), "results.jsonl")
    roots = [next(s for s in r["spans"] if s["parent_span_id"] is None)
             for r in map(json.loads, open(path))]
    starts = sorted(s["start_us"] for s in roots)
    assert len(starts) == CASES, len(starts)
    tasks = collections.Counter(s["attributes"]["reasonsaver.task.id"] for s in roots)
    return (starts[-1] - starts[0]) / 1e6, starts, tasks


def max_in_window(starts, window_s):
    """The most cases received within any window of window_s seconds."""
    best, j = 0, 0
    for i, t in enumerate(starts):
        while t - starts[j] > window_s * 1e6:
            j += 1
        best = max(best, i - j + 1)
    return best


def main():
    with rslib.Sandbox() as sb:
        free, _, tasks = dispatch_spread(sb, "free", "rpm: 0", 2)
        # The control: without a limit nothing holds cases back, so they leave in full shards but
        # for the tail (at most a shard's worth in smaller tasks), where a pace cuts every TASK to
        # what its bucket holds. Counted in cases, not in time, so load cannot change it.
        small = sum(n for n in tasks.values() if n < SHARD)
        assert small <= SHARD, "unpaced: %d cases in tasks under %d: %s" % (
            small, SHARD, sorted(tasks.values()))
        # rpm 1200 = 20 cases/s with a bucket of one second (20 cases): the last of 120 cases can
        # go out no sooner than (120 - 20) / 20 = 5 s after the first, however many workers ask.
        for workers in (2, 4):
            spread, starts, _ = dispatch_spread(sb, "rpm%d" % workers, "rpm: 1200", workers)
            assert spread >= 4.5, "rpm 1200 with %d workers: %d cases within %.2f s" % (
                workers, CASES, spread)
            # Any 2 s window: at most the bucket plus 2 s of rate (a late receipt may bunch a few).
            most = max_in_window(starts, 2.0)
            assert most <= 20 + 40 + 8, "rpm 1200: %d cases received within 2 s" % most
        # tpm 240,000 = 4,000 tokens/s; a case is charged at most ~120 tokens (prompt bytes / 4 +
        # max_tokens 100), so at most ~33 cases/s after a one-second bucket: (120 - 33) / 33 s.
        spread, _, _ = dispatch_spread(sb, "tpm", "tpm: 240000", 2)
        assert spread >= 2.2, "tpm 240000: %d cases within %.2f s" % (CASES, spread)
    print("ok: pacing holds across workers (unpaced: %d cases within %.2f s)" % (CASES, free))


if __name__ == "__main__":
    main()
