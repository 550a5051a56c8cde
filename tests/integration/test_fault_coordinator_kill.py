"""kill -9 the coordinator at three random points and resume each time: the final report and
every result equal a clean run's. Its embedded Redis dies with it and comes back from the AOF."""
import os
import random
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import faultlib  # noqa: E402
import rslib  # noqa: E402


def main():
    rnd = random.Random(11)
    with rslib.Sandbox() as sb:
        # ~6 s: room for 3 crashes. Heartbeats of 1 s: no worker is taken for dead under load, so
        # every redone case is one that was in flight at a crash.
        cfg = faultlib.setup(sb, cases=4000, workers=2, latency=100, heartbeat=1000)
        clean = faultlib.clean_run(sb, cfg)
        coord = faultlib.start(sb, cfg, "faulty")
        run_id = None
        for crash in range(3):
            target = 4000 * (crash + 1) // 4 + rnd.randint(-200, 200)
            rslib.wait_for(lambda: faultlib.done(sb, "faulty") >= target, 60,
                           "%d cases before crash %d" % (target, crash + 1))
            assert coord.poll() is None, "the run ended before crash %d: %s" % (
                crash + 1, coord.communicate()[1][-2000:])
            os.kill(coord.pid, signal.SIGKILL)
            coord.wait()
            run_id = os.path.basename(rslib.only_run_dir(sb.path("faulty")))
            st = rslib.status_json(sb, sb.path("faulty"), run_id)
            assert st["status"] == "running", st  # it never got to say otherwise
            coord = sb.spawn([rslib.REASONSAVER, "resume", run_id, "--out", sb.path("faulty")],
                             stdout=faultlib.subprocess.PIPE, stderr=faultlib.subprocess.PIPE,
                             text=True)
            time.sleep(0.2)
        out, err = coord.communicate(timeout=120)
        assert coord.returncode == 0, (coord.returncode, err[-3000:])
        assert "resuming run" in out, out
        run_dir = rslib.only_run_dir(sb.path("faulty"))
        rslib.assert_same_run(run_dir, clean)
        rel = rslib.load_report(run_dir)["reliability"]
        assert rel["resumes"] == 3, rel
        # Only cases in flight at a crash may be redone: held by the 2 workers x 32 slots, or
        # received but not yet written (the 20 ms write window).
        assert rel["redone_cases"] <= 3 * (2 * 32 + 128), rel
        print("ok: 3 coordinator crashes, %d cases redone, report identical" % rel["redone_cases"])


if __name__ == "__main__":
    main()
