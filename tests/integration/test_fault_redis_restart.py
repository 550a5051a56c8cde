"""Restart redis-server (AOF on) in the middle of a run: the coordinator holds results, reconnects
with backoff and flushes; the run completes with the same report as a clean one."""
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import faultlib  # noqa: E402
import rslib  # noqa: E402


def start_redis(sb, port, data):
    p = sb.spawn(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", data,
                  "--save", "", "--appendonly", "yes", "--appendfsync", "always",
                  "--logfile", "redis.log"], stdout=subprocess.DEVNULL)
    rslib.wait_port(port, p)
    return p


def main():
    with rslib.Sandbox() as sb:
        cfg = faultlib.setup(sb, cases=4000, workers=2, latency=20)
        clean = faultlib.clean_run(sb, cfg)
        port = rslib.free_port()
        data = sb.path("redis-data")
        os.makedirs(data)
        redis = start_redis(sb, port, data)
        url = "redis://127.0.0.1:%d/0" % port
        coord = faultlib.start(sb, cfg, "faulty", "--redis", url)
        rslib.wait_for(lambda: faultlib.done(sb, "faulty") >= 1000, 60, "1000 cases")
        redis.send_signal(signal.SIGKILL)  # the hard way: no shutdown save
        redis.wait()
        time.sleep(1.5)  # the run goes on, results pile up in the coordinator
        assert coord.poll() is None, coord.communicate()[1][-2000:]
        start_redis(sb, port, data)
        out, err = coord.communicate(timeout=120)
        assert coord.returncode == 0, (coord.returncode, err[-3000:])
        assert "Redis unavailable" in err and "Redis is back" in err, err[-2000:]
        rslib.assert_same_run(rslib.run_dir_from_output(out, sb.dir), clean)
        print("ok: redis restarted mid-run, report identical")


if __name__ == "__main__":
    main()
