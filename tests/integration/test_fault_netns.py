"""Across hosts: the coordinator and its Redis in one network namespace, workers in two others,
joined by veth pairs and a bridge that this test creates and removes itself (as root). Midway one
worker host's link is cut: its leases expire and the other host takes its cases; when the link
comes back the worker rejoins. The report equals a one-machine run's. Skipped with a clear message
where namespaces cannot be created."""
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))
import faultlib  # noqa: E402
import rslib  # noqa: E402

TAG = "rs%d" % (os.getpid() % 100000)
NET = "10.251.%d" % (os.getpid() % 200 + 20)  # addresses of this test's own namespaces only
HOSTS = {"c": 1, "w1": 2, "w2": 3}


def sh(*args, check=True):
    return subprocess.run(list(args), capture_output=True, text=True, check=check)


def ns(host):
    return "%s-%s" % (TAG, host)


def setup_network():
    bridge = TAG + "br"
    sh("ip", "link", "add", bridge, "type", "bridge")
    sh("ip", "link", "set", bridge, "up")
    for host, n in HOSTS.items():
        sh("ip", "netns", "add", ns(host))
        inner, outer = "%s%si" % (TAG, host), "%s%so" % (TAG, host)
        sh("ip", "link", "add", inner, "type", "veth", "peer", "name", outer)
        sh("ip", "link", "set", inner, "netns", ns(host))
        sh("ip", "link", "set", outer, "master", bridge)
        sh("ip", "link", "set", outer, "up")
        sh("ip", "netns", "exec", ns(host), "ip", "addr", "add", "%s.%d/24" % (NET, n), "dev", inner)
        sh("ip", "netns", "exec", ns(host), "ip", "link", "set", inner, "up")
        sh("ip", "netns", "exec", ns(host), "ip", "link", "set", "lo", "up")


def teardown_network():
    for host in HOSTS:
        sh("ip", "netns", "del", ns(host), check=False)
        sh("ip", "link", "del", "%s%so" % (TAG, host), check=False)
    sh("ip", "link", "del", TAG + "br", check=False)


def link(host, state):
    sh("ip", "link", "set", "%s%so" % (TAG, host), state)


def main():
    if os.geteuid() != 0:
        rslib.skip("network namespaces need root")
    if not shutil.which("ip"):
        rslib.skip("the ip command is missing (apt-get install -y iproute2)")
    probe = sh("ip", "netns", "add", TAG + "-probe", check=False)
    if probe.returncode != 0:
        rslib.skip("cannot create network namespaces here: " + probe.stderr.strip())
    sh("ip", "netns", "del", TAG + "-probe", check=False)
    with rslib.Sandbox() as sb:
        cfg = faultlib.setup(sb, cases=3000, workers=0, latency=100)
        clean = faultlib.clean_run(sb, sb.write("clean.yaml", open(cfg).read().replace(
            "workers: 0", "workers: 2")))
        try:
            setup_network()
            endpoint = "tcp://%s.1:5555" % NET
            # private namespaces: plain TCP on purpose (test_curve.py covers CURVE)
            coord = sb.spawn(["ip", "netns", "exec", ns("c"), rslib.REASONSAVER, "run", cfg,
                              "--bind", endpoint, "--insecure", "--out", sb.path("hosts")],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for host in ("w1", "w2"):
                sb.spawn(["ip", "netns", "exec", ns(host), rslib.WORKER, "--connect", endpoint,
                          "--id", host], stderr=subprocess.DEVNULL)
            rslib.wait_for(lambda: faultlib.done(sb, "hosts") >= 600, 60, "600 cases")
            link("w1", "down")
            time.sleep(2.0)  # w1 is silent for more than 3 heartbeats: its leases come back
            link("w1", "up")
            out, err = coord.communicate(timeout=120)
            assert coord.returncode == 0, (coord.returncode, err[-3000:])
        finally:
            teardown_network()
        assert "worker w1 (" in err and "go back to the queue" in err, err[-3000:]
        assert err.count("worker w1 joined") >= 2, "w1 did not rejoin:\n" + err[-3000:]
        rslib.assert_same_run(rslib.run_dir_from_output(out, sb.dir), clean)
        print("ok: a cut worker host's cases moved to the other host; it rejoined; same report")


if __name__ == "__main__":
    main()
