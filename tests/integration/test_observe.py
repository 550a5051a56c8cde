"""Watching a run: status --json shows progress moving and the live workers while it runs; the
run's pub/sub channel carries progress events and the final status; `top` redraws under tmux and
quits on q."""
import json
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import faultlib  # noqa: E402
import rslib  # noqa: E402


def read_events(sub, seen):
    """Appends to seen the events that arrived on sub's channel, waiting at most 0.2 s for one."""
    while (m := sub.reply(timeout=0.2)) is not None:
        if m[0] == b"message":
            seen.append(json.loads(m[2]))


def check_status_and_events(sb):
    cfg = faultlib.setup(sb, cases=3000, workers=2, latency=150)
    url = sb.redis()
    coord = faultlib.start(sb, cfg, "live", "--redis", url)
    rslib.wait_for(lambda: faultlib.done(sb, "live") > 0, 30, "first results")
    run_id = os.path.basename(rslib.only_run_dir(sb.path("live")))
    sub = rslib.Resp(url)
    sub("SUBSCRIBE", "rs:run:%s:events" % run_id)
    seen = []
    first = rslib.status_json(sb, sb.path("live"), run_id)
    time.sleep(1.5)
    second = rslib.status_json(sb, sb.path("live"), run_id)
    assert first["live"] and second["done"] > first["done"], (first, second)
    assert len(second["workers"]) == 2, second["workers"]
    assert all(w["results"] > 0 for w in second["workers"]), second
    # A worker is given at most worker_slots + worker_backlog (default 32) cases; while cases are
    # left the workers hold some (the snapshot is older than the count of done cases).
    held = [w["in_flight"] for w in second["workers"]]
    assert all(n <= 32 + 32 for n in held), second["workers"]
    assert second["done"] == 3000 or sum(held) > 0, second
    assert second["eta_seconds"] is not None
    usage = second["usage"]["a"]
    assert usage["calls"] > 0 and usage["input_tokens"] > 0, usage
    assert "generate" in usage["last_minute_latency_ms_by_stage"], usage
    out, err = coord.communicate(timeout=120)
    assert coord.returncode == 0, err[-2000:]
    until = time.time() + 3
    while time.time() < until and not any(e.get("type") == "status" for e in seen):
        read_events(sub, seen)
    sub.close()
    progress = [e for e in seen if e["type"] == "progress"]
    assert progress and progress[-1]["total"] == 3000, seen[-3:]
    assert any(e["type"] == "status" and e["status"] == "finished" for e in seen), seen[-3:]
    done = rslib.status_json(sb, sb.path("live"), run_id)
    assert done["status"] == "finished" and not done["live"] and done["workers"] == [], done


def check_top(sb):
    if not shutil.which("tmux"):
        print("SKIP part: tmux is not installed (apt-get install -y tmux)")
        return
    cfg = faultlib.setup(sb, cases=3000, workers=2, latency=300)
    coord = faultlib.start(sb, cfg, "top")
    rslib.wait_for(lambda: faultlib.done(sb, "top") > 0, 30, "first results")
    session = "rs-top-%d" % os.getpid()
    cmd = "%s top --out %s" % (rslib.REASONSAVER, sb.path("top"))
    subprocess.run(["tmux", "new-session", "-d", "-s", session, "-x", "120", "-y", "30", cmd],
                   check=True)
    try:
        time.sleep(2.5)
        screen = subprocess.run(["tmux", "capture-pane", "-p", "-t", session],
                                capture_output=True, text=True).stdout
        assert "progress" in screen and "local-1" in screen and "q to quit" in screen, screen
        assert "last minute:" in screen and "generate p50" in screen, screen
        subprocess.run(["tmux", "send-keys", "-t", session, "q"], check=True)
        rslib.wait_for(lambda: subprocess.run(["tmux", "has-session", "-t", session],
                                              capture_output=True).returncode != 0, 5, "top to quit on q")
    finally:
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)
    coord.terminate()
    coord.communicate(timeout=60)


def main():
    with rslib.Sandbox() as sb:
        check_status_and_events(sb)
    with rslib.Sandbox() as sb:
        check_top(sb)
    print("ok: status, events, top")


if __name__ == "__main__":
    main()
