"""Redis over TLS (rediss://) through the coordinator's supervised stunnel client, against
redis-server started with --tls-port and a throwaway CA made with the openssl CLI:

1. a whole run through rediss:// as the ACL user of docs/REDIS.md (CA file relative to the config),
   with the stunnel client killed mid-run (restarted, nothing lost: the report equals a clean run's),
   then `status` and `report`, which start their own stunnel from run.json;
2. a server that checks client certificates (--tls-auth-clients yes): a run with cert_file and
   key_file completes, one without is refused;
3. a server whose certificate comes from another CA: refused with a clear error, no run directory
   left behind;
and no stunnel process outlives its command."""
import os
import shutil
import signal
import stat
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
import redisauth  # noqa: E402
import rslib  # noqa: E402


def openssl(sb, *args):
    r = subprocess.run(["openssl"] + list(args), cwd=sb.path("tls"), capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, (args, r.stderr)


def make_certs(sb):
    """ca.pem signs server.pem (localhost, 127.0.0.1) and client.pem; other-ca.pem signs
    other-server.pem for the same names."""
    os.makedirs(sb.path("tls"))
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    with open(sb.path("tls", "san.ext"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    for ca in ("ca", "other-ca"):
        openssl(sb, "req", "-x509", *ec, "-keyout", ca + ".key", "-out", ca + ".pem", "-days",
                "2", "-subj", "/CN=reasonsaver test " + ca)
    for name, ca, ext in (("server", "ca", ["-extfile", "san.ext"]), ("client", "ca", []),
                          ("other-server", "other-ca", ["-extfile", "san.ext"])):
        openssl(sb, "req", *ec, "-keyout", name + ".key", "-out", name + ".csr", "-subj",
                "/CN=" + ("localhost" if "server" in name else "rs-client"))
        openssl(sb, "x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey", ca + ".key",
                "-CAcreateserial", "-out", name + ".pem", "-days", "2", *ext)


def tls_server(sb, password, cert, auth_clients):
    port = rslib.free_port()
    t = lambda n: sb.path("tls", n)  # noqa: E731
    extra = ["--port", "0", "--tls-port", str(port), "--tls-cert-file", t(cert + ".pem"),
             "--tls-key-file", t(cert + ".key"), "--tls-ca-cert-file", t("ca.pem"),
             "--tls-auth-clients", "yes" if auth_clients else "no"]
    cli = ["--tls", "--cacert", t("other-ca.pem" if cert.startswith("other") else "ca.pem"),
           "--cert", t("client.pem"), "--key", t("client.key")]
    try:
        return redisauth.Server(sb, password, extra=extra, port=port, cli_tls=cli)
    except AssertionError:
        log = "".join(open(os.path.join(d, "redis.log")).read() for d in
                      [sb.path("redis-%d" % port)] if os.path.exists(os.path.join(d, "redis.log")))
        if "TLS" in log and ("not supported" in log or "not compiled" in log.lower()):
            rslib.skip("this redis-server has no TLS support: " + log[-300:])
        raise


def stunnels_of(root):
    """pids of stunnel processes whose config lies under root."""
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if argv and os.path.basename(argv[0]) in (b"stunnel", b"stunnel4") and \
                any(root.encode() in a for a in argv):
            pids.append(int(pid))
    return pids


def whole_run(sb, outputs, password):
    server = tls_server(sb, password, "server", auth_clients=False)
    url = "rediss://rs@localhost:%d/0" % server.port
    cfg = redisauth.setup(sb, "tls", latency=200, file="tls.yaml",
                          cluster=', redis: "%s", redis_tls: {ca_file: tls/ca.pem}' % url)
    clean_cfg = redisauth.setup(sb, "tls", latency=200, file="clean.yaml")
    outputs.run(sb, [rslib.REASONSAVER, "run", clean_cfg, "--quiet", "--out", sb.path("clean")],
                redisauth.environ(), check=0)
    env = redisauth.environ(REDIS_PASSWORD=password)
    out = sb.path("runs")
    coord = sb.spawn([rslib.REASONSAVER, "run", cfg, "--out", out], env=env,
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    redisauth.wait_done(sb, out, env, 100, "cases through TLS")
    proxies = rslib.children(coord.pid, "stunnel") or rslib.children(coord.pid, "stunnel4")
    assert len(proxies) == 1, proxies
    run_dir = rslib.only_run_dir(out)
    conf = os.path.join(run_dir, "stunnel-%d.conf" % coord.pid)
    assert stat.S_IMODE(os.stat(conf).st_mode) == 0o600, oct(os.stat(conf).st_mode)
    text = open(conf).read()
    for want in ("client = yes", "verifyChain = yes", "checkHost = localhost",
                 "CAfile = " + sb.path("tls", "ca.pem"), "connect = localhost:%d" % server.port,
                 "accept = " + os.path.realpath(run_dir) + "/stunnel-%d.sock" % coord.pid):
        assert want in text, (want, text)
    os.kill(proxies[0], signal.SIGKILL)
    stdout, stderr = coord.communicate(timeout=120)
    outputs.texts += [stdout, stderr]
    assert coord.returncode == 0, (coord.returncode, stderr[-3000:])
    assert "TLS proxy to Redis (stunnel" in stderr and "restarting it" in stderr, stderr[-3000:]
    assert rslib.run_dir_from_output(stdout, sb.dir) == run_dir
    rslib.assert_same_run(run_dir, rslib.only_run_dir(sb.path("clean")))
    left = sorted(n for n in os.listdir(run_dir) if n.startswith("stunnel"))
    assert left == ["stunnel-%d.log" % coord.pid], left  # config and socket go, the log stays
    run_id = os.path.basename(run_dir)
    r = outputs.run(sb, [rslib.REASONSAVER, "status", "--out", out, run_id], env, check=0)
    assert "finished" in r.stdout, r.stdout
    outputs.run(sb, [rslib.REASONSAVER, "report", run_id, "--out", out], env, check=0)
    assert "rs:run:" + run_id in server.everything()
    return server


def client_certs(sb, outputs, password):
    server = tls_server(sb, password, "server", auth_clients=True)
    env = redisauth.environ(REDIS_PASSWORD=password)
    url = "rediss://rs@127.0.0.1:%d" % server.port
    with_cert = redisauth.setup(sb, "tls", file="client.yaml", cluster=(
        ', redis: "%s", redis_tls: {ca_file: tls/ca.pem, cert_file: tls/client.pem, '
        'key_file: tls/client.key}' % url))
    outputs.run(sb, [rslib.REASONSAVER, "run", with_cert, "--quiet", "--out", sb.path("client")],
                env, check=0)
    # the address is an IP here: the server certificate's IP SAN is what checkIP accepts
    log = [n for n in os.listdir(rslib.only_run_dir(sb.path("client"))) if n.endswith(".log")]
    assert any(n.startswith("stunnel-") for n in log), log
    without = redisauth.setup(sb, "tls", file="nocert.yaml",
                              cluster=', redis: "%s", redis_tls: {ca_file: tls/ca.pem}' % url)
    r = outputs.run(sb, [rslib.REASONSAVER, "run", without, "--out", sb.path("nocert")], env,
                    check=1)
    assert "TLS connection to redis at %s failed; stunnel logged:" % url in r.stderr, r.stderr
    assert not os.path.exists(sb.path("nocert")), os.listdir(sb.path("nocert"))


def other_ca(sb, outputs, password):
    server = tls_server(sb, password, "other-server", auth_clients=False)
    url = "rediss://rs@localhost:%d/0" % server.port
    cfg = redisauth.setup(sb, "tls", file="other.yaml",
                          cluster=', redis: "%s", redis_tls: {ca_file: tls/ca.pem}' % url)
    env = redisauth.environ(REDIS_PASSWORD=password)
    r = outputs.run(sb, [rslib.REASONSAVER, "run", cfg, "--out", sb.path("other")], env, check=1)
    assert "TLS connection to redis at %s failed; stunnel logged:" % url in r.stderr, r.stderr
    assert "certificate verify failed" in r.stderr, r.stderr
    assert "unable to get local issuer certificate" in r.stderr, r.stderr
    assert not os.path.exists(sb.path("other")), os.listdir(sb.path("other"))
    assert server.everything() == "", "something was written through a refused connection"


def main():
    for tool in ("openssl", "stunnel", "redis-server"):
        assert shutil.which(tool), "%s is missing: run scripts/install-deps.sh" % tool
    with rslib.Sandbox() as sb:
        make_certs(sb)
        password = redisauth.new_password("rs")
        outputs = redisauth.Outputs()
        whole_run(sb, outputs, password)
        client_certs(sb, outputs, password)
        other_ca(sb, outputs, password)
        assert stunnels_of(sb.dir) == [], "stunnel outlived its command: %s" % stunnels_of(sb.dir)
        assert redisauth.files_holding(sb.path("runs"), password) == []
        outputs.assert_clean(password)
        print("ok: rediss:// runs (stunnel restarted mid-run), client certificates, a foreign CA "
              "refused")


if __name__ == "__main__":
    main()
