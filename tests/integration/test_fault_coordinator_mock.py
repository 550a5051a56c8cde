"""kill -9 the coordinator three times during a run through reasonsaver-mockllm and resume: the
report equals a clean run's, and the model calls the mock counted are at most the cases plus, for
each crash, the cases in flight then: held by the workers (2 x 32 slots) or received by the
coordinator but not yet written (its write window: 20 ms of results, here at most ~128). Nothing
that was written is paid for twice, and the report's redo count agrees with the mock."""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import faultlib  # noqa: E402
import rslib  # noqa: E402
from test_mockllm import Mock  # noqa: E402

CASES, WORKERS, SLOTS = 3000, 2, 32
CONFIG = """
run: {name: mockkill, seed: 1}
dataset: {path: cases.jsonl}
models:
  - {name: a, provider: openai, model: sim-1, base_url: "http://127.0.0.1:%d/v1", mock: true}
scoring: {graders: [exact]}
cluster: {workers: %d, worker_slots: %d, heartbeat_ms: 1000}
report: {formats: [json, jsonl]}
"""


def main():
    with rslib.Sandbox() as sb:
        faultlib.setup(sb, cases=CASES)
        mock = Mock(sb, "--latency-ms", "60", "--quiet")
        cfg = sb.write("mock.yaml", CONFIG % (mock.port, WORKERS, SLOTS))
        clean = faultlib.clean_run(sb, cfg)
        mock.reset()
        coord = faultlib.start(sb, cfg, "faulty")
        for crash in range(3):
            target = CASES * (crash + 1) // 4
            rslib.wait_for(lambda: faultlib.done(sb, "faulty") >= target, 60, "%d cases" % target)
            if coord.poll() is not None:
                out, err = coord.communicate()
                raise AssertionError("the run ended (rc %s) before crash %d: %s"
                                     % (coord.returncode, crash + 1, err[-2000:]))
            os.kill(coord.pid, signal.SIGKILL)
            coord.wait()
            run_id = os.path.basename(rslib.only_run_dir(sb.path("faulty")))
            coord = sb.spawn([rslib.REASONSAVER, "resume", run_id, "--out", sb.path("faulty")],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            time.sleep(0.2)
        out, err = coord.communicate(timeout=120)
        assert coord.returncode == 0, err[-3000:]
        rslib.assert_same_run(rslib.only_run_dir(sb.path("faulty")), clean)
        chat = mock.stats()["by_endpoint"]["/v1/chat/completions"]
        bound = CASES + 3 * (WORKERS * SLOTS + 128)
        assert CASES <= chat <= bound, "mock counted %d calls for %d cases (bound %d)" % (chat, CASES, bound)
        redone = rslib.load_report(rslib.only_run_dir(sb.path("faulty")))["reliability"]["redone_cases"]
        # redone counts cases handed out twice: a TASK that had not reached the mock when the
        # coordinator died counts without a repeated call, and dispatches written with the results
        # they precede can lose the last write window's count. Both are bounded by what was in
        # flight at each crash.
        assert redone > 0 and abs(redone - (chat - CASES)) <= 3 * (WORKERS * SLOTS + 128), (
            redone, chat)
        print("ok: %d model calls for %d cases across 3 crashes (bound %d)" % (chat, CASES, bound))


if __name__ == "__main__":
    main()
