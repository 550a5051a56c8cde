"""kill -9 a random worker every second during a 5,000-case run with 4 workers (the coordinator
restarts each one): the report and every result equal a clean run's; nothing lost or counted
twice."""
import os
import random
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import faultlib  # noqa: E402
import rslib  # noqa: E402


def main():
    rnd = random.Random(7)
    with rslib.Sandbox() as sb:
        cfg = faultlib.setup(sb, cases=5000, workers=4, latency=150)
        clean = faultlib.clean_run(sb, cfg)
        coord = faultlib.start(sb, cfg, "faulty")
        kills = 0
        deadline = time.time() + 120
        while coord.poll() is None and time.time() < deadline:
            time.sleep(1.0)
            workers = rslib.children(coord.pid, "reasonsaver-worker")
            if workers:
                try:
                    os.kill(rnd.choice(workers), signal.SIGKILL)
                    kills += 1
                except ProcessLookupError:
                    pass
        out, err = coord.communicate(timeout=60)
        assert coord.returncode == 0, (coord.returncode, err[-3000:])
        assert kills >= 3, "the run ended before enough workers were killed (%d)" % kills
        assert "restarting it" in err, err[-2000:]
        run_dir = rslib.run_dir_from_output(out, sb.dir)
        rslib.assert_same_run(run_dir, clean)
        rel = rslib.load_report(run_dir)["reliability"]
        assert rel["redone_cases"] > 0, rel  # the killed workers' cases were sent again
        print("ok: %d workers killed, %d cases redone, report identical" % (kills, rel["redone_cases"]))


if __name__ == "__main__":
    main()
