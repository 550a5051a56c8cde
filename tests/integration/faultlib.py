"""A run config for the fault-injection tests: enough simulated latency that cases are in flight
when the fault hits, short heartbeats so dead workers are noticed within a second."""
import os
import subprocess

import rslib

CONFIG = """
run: {name: fault, seed: 21}
dataset: {path: cases.jsonl}
models:
  - {name: a, provider: sim, model: sim-1, params: {accuracy: 0.7, latency_ms: %(latency)s}}
  - {name: b, provider: sim, model: sim-1, params: {accuracy: 0.4, error_rate: 0.05, latency_ms: %(latency)s}}
scoring: {graders: [exact, numeric]}
cluster: {workers: %(workers)s, worker_slots: 32, heartbeat_ms: %(heartbeat)s, lease_ms: 5000}
"""


def setup(sb, cases=5000, workers=4, latency=10, heartbeat=200):
    sb.run([rslib.REASONSAVER, "datasets", "gen", "arithmetic", "--n", str(cases), "--seed", "5",
            "--out", sb.path("cases.jsonl")], check=0)
    return sb.write("fault.yaml", CONFIG % {"latency": latency, "workers": workers,
                                            "heartbeat": heartbeat})


def clean_run(sb, cfg):
    """The reference: the same config without faults, in its own out dir."""
    sb.run([rslib.REASONSAVER, "run", cfg, "--quiet", "--out", sb.path("clean")], check=0)
    return rslib.only_run_dir(sb.path("clean"))


def start(sb, cfg, out, *extra):
    return sb.spawn([rslib.REASONSAVER, "run", cfg, "--out", sb.path(out)] + list(extra),
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def done(sb, out):
    """Cases done of the only run in out (0 before it exists)."""
    try:
        run_dir = rslib.only_run_dir(sb.path(out))
    except (AssertionError, FileNotFoundError):
        return 0
    st = rslib.status_json(sb, sb.path(out), os.path.basename(run_dir))
    return st["done"] if st else 0
