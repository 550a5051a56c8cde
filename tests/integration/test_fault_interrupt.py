"""SIGINT then resume; double SIGINT then resume; a second coordinator on a live run is refused,
and after kill -9 of the first the resume takes over; a changed dataset is refused on resume; an
unknown run id is a clear error."""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import faultlib  # noqa: E402
import rslib  # noqa: E402


def interrupt_and_resume(sb, cfg, clean, out, signals):
    coord = faultlib.start(sb, cfg, out)
    # early enough that a slow status poll on a loaded machine cannot let the run finish first
    rslib.wait_for(lambda: faultlib.done(sb, out) >= 400, 60, "400 cases")
    for _ in range(signals):
        coord.send_signal(signal.SIGINT)
        time.sleep(0.05)
    stdout, err = coord.communicate(timeout=60)
    assert coord.returncode == 130, (coord.returncode, err[-2000:])
    run_id = os.path.basename(rslib.only_run_dir(sb.path(out)))
    assert "reasonsaver resume %s" % run_id in err, err[-2000:]
    st = rslib.status_json(sb, sb.path(out), run_id)
    assert st["status"] == "interrupted" and 0 < st["done"] < st["total"], st
    if signals == 1:
        resume_killed(sb, out, run_id, st["done"])
    r = sb.run([rslib.REASONSAVER, "resume", run_id, "--out", sb.path(out), "--quiet"], check=0)
    rslib.assert_same_run(rslib.only_run_dir(sb.path(out)), clean)
    return run_id


def resume_killed(sb, out, run_id, done):
    """The interrupted run's end wrote results.idx for what was done, and the viewer would read
    the run from it; a resume removes it before it stores anything, so that a resume killed
    midway leaves none (the viewer reads that run from Redis, where its newer results are)."""
    idx = os.path.join(sb.path(out), run_id, "results.idx")
    assert os.path.exists(idx), "an interrupted run's end writes results.idx"
    p = sb.spawn([rslib.REASONSAVER, "resume", run_id, "--out", sb.path(out), "--quiet"],
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    rslib.wait_for(lambda: faultlib.done(sb, out) >= done + 100, 60, "the resume's first cases")
    p.kill()
    p.wait()
    assert not os.path.exists(idx), "results.idx of the earlier end left behind by a resume"


def second_coordinator(sb, cfg, clean):
    coord = faultlib.start(sb, cfg, "locked")
    rslib.wait_for(lambda: faultlib.done(sb, "locked") >= 300, 60, "300 cases")
    run_id = os.path.basename(rslib.only_run_dir(sb.path("locked")))
    r = sb.run([rslib.REASONSAVER, "resume", run_id, "--out", sb.path("locked")], check=1,
               timeout=60)
    assert "is held by coordinator" in r.stderr, r.stderr
    os.kill(coord.pid, signal.SIGKILL)
    coord.wait()
    r = sb.run([rslib.REASONSAVER, "resume", run_id, "--out", sb.path("locked"), "--quiet"],
               check=0, timeout=120)
    assert "taking over the lock" in r.stderr, r.stderr
    rslib.assert_same_run(rslib.only_run_dir(sb.path("locked")), clean)


def refusals(sb, run_id, out):
    r = sb.run([rslib.REASONSAVER, "resume", "no-such-run", "--out", sb.path(out)], check=2)
    assert "no run 'no-such-run'" in r.stderr, r.stderr
    with open(sb.path("cases.jsonl"), "a") as f:
        f.write('{"id": "extra", "question": "1+1?", "answer": "2"}\n')
    r = sb.run([rslib.REASONSAVER, "resume", run_id, "--out", sb.path(out)], check=2)
    assert "changed since the run started" in r.stderr and "--force" in r.stderr, r.stderr
    r = sb.run([rslib.REASONSAVER, "resume", run_id, "--out", sb.path(out), "--force", "--quiet"],
               check=0)
    rep = rslib.load_report(rslib.only_run_dir(sb.path(out)))
    assert "changed" in (rep["reliability"]["forced"] or ""), rep["reliability"]
    assert rep["dataset"]["cases"] == 2001


def main():
    with rslib.Sandbox() as sb:
        # 2 workers x 32 slots at 150 ms: about 430 cases/s, so a run lasts some 5 s
        cfg = faultlib.setup(sb, cases=2000, workers=2, latency=150)
        clean = faultlib.clean_run(sb, cfg)
        interrupt_and_resume(sb, cfg, clean, "once", 1)
        interrupt_and_resume(sb, cfg, clean, "twice", 2)
        second_coordinator(sb, cfg, clean)
        refusals(sb, os.path.basename(rslib.only_run_dir(sb.path("once"))), "once")
        print("ok: interrupts, lock, refusals")


if __name__ == "__main__":
    main()
