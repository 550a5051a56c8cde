"""deploy/kubernetes: every manifest parses and says what matters (image, command and args, env
from Secrets, ports and Services, probes, resources, the restricted securityContext, the key
mounts), and the Secrets make-secrets.sh writes are exactly those the pods use. Then the pods run
here as the kubelet would start them: one network namespace per pod with the Services' names in its
hosts file, the containers' exact command lines and environment (Secrets and the ConfigMap as
volumes in the kubelet's layout, $(VAR) expanded), as uid 10001 without capabilities and with
no_new_privs. Redis with its ACL user, the wait-redis init container, the coordinator Job and two
worker pods complete a run over CURVE; the model server accepts only the API key of the Secret;
a worker without keys and one with a key that is not authorised get nothing; the probes answer
(and fail with a wrong password); no secret reaches an output, a report or Redis's files."""
import base64
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
import deploylib  # noqa: E402
import rslib  # noqa: E402

try:
    import yaml
except ImportError:  # pragma: no cover
    rslib.skip("python3-yaml is missing (apt-get install -y python3-yaml)")

IMAGE = "reasonsaver:0.1.0"
WORKDIR = "/var/lib/reasonsaver"  # deploy/Containerfile's WORKDIR
UID = 10001
LABEL = "app.kubernetes.io/component"
# Paths of the image (deploy/Containerfile) -> this machine.
IMAGE_PATHS = [("/usr/local/bin/", os.path.abspath(rslib.BIN) + "/"),
               ("/usr/local/share/reasonsaver/", os.path.abspath(rslib.SRC) + "/")]
TAG = "rk%d" % (os.getpid() % 100000)
NET = "10.252.%d" % (os.getpid() % 200 + 20)


# ---- reading the manifests ----

def load_manifests():
    with open(os.path.join(deploylib.K8S, "kustomization.yaml")) as f:
        kust = yaml.safe_load(f)
    files = sorted(os.path.basename(p) for p in glob.glob(os.path.join(deploylib.K8S, "*.yaml")))
    assert sorted(kust["resources"] + ["kustomization.yaml"]) == files, (kust["resources"], files)
    docs = []
    for name in kust["resources"]:
        with open(os.path.join(deploylib.K8S, name)) as f:
            docs += [d for d in yaml.safe_load_all(f) if d]
    objs = {}
    for d in docs:
        assert d["metadata"].get("namespace", kust["namespace"]) == kust["namespace"], d["metadata"]
        objs[(d["kind"], d["metadata"]["name"])] = d
    return objs


def pod_spec(obj):
    return obj["spec"]["template"]["spec"]


def component(obj):
    return obj["spec"]["template"]["metadata"]["labels"][LABEL]


def env_of(container):
    return {e["name"]: e for e in container.get("env", [])}


def mount(container, path):
    (m,) = [m for m in container["volumeMounts"] if m["mountPath"] == path]
    return m


def volume(spec, name):
    (v,) = [v for v in spec["volumes"] if v["name"] == name]
    return v


def secret_key_ref(container, name):
    return env_of(container)[name]["valueFrom"]["secretKeyRef"]


def check_pod_security(obj):
    """The "restricted" Pod Security Standard and what the docs promise beyond it."""
    spec, name = pod_spec(obj), obj["metadata"]["name"]
    psc = spec["securityContext"]
    assert psc["runAsNonRoot"] is True and psc["runAsUser"] == UID and psc["fsGroup"] == UID, name
    assert psc["seccompProfile"] == {"type": "RuntimeDefault"}, name
    assert spec["automountServiceAccountToken"] is False, name
    assert not spec.get("hostNetwork") and not spec.get("hostPID") and not spec.get("hostIPC"), name
    for v in spec.get("volumes", []):
        assert set(v) - {"name"} <= {"configMap", "secret", "emptyDir", "persistentVolumeClaim"}, v
    for c in spec.get("initContainers", []) + spec["containers"]:
        sc = c["securityContext"]
        assert sc == {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                      "privileged": False, "capabilities": {"drop": ["ALL"]}}, (name, c["name"], sc)
        assert c["image"] == IMAGE, (name, c["image"])
        assert c["command"][0].startswith("/"), c["command"]
        res = c["resources"]
        assert res["requests"]["cpu"] and res["requests"]["memory"] and res["limits"]["memory"], res
        for e in c.get("env", []):
            assert "value" not in e or not re.search("KEY|PASSWORD|AUTH", e["name"]), e


def service_for(objs, comp):
    (svc,) = [o for (k, _), o in objs.items() if k == "Service" and o["spec"]["selector"][LABEL] == comp]
    return svc


def check_service(objs, workload, port_name, port):
    svc = service_for(objs, component(workload))
    assert svc["spec"]["selector"].items() <= workload["spec"]["template"]["metadata"]["labels"].items()
    (sp,) = [p for p in svc["spec"]["ports"] if p["name"] == port_name]
    (cp,) = [p for c in pod_spec(workload)["containers"] for p in c.get("ports", [])
             if p["name"] == sp["targetPort"]]
    assert sp["port"] == cp["containerPort"] == port, (sp, cp)
    return svc["metadata"]["name"]


def installed_from(spec, container, path, mode):
    """(Secret, key) that an init container copies to path with mode, in a memory volume that the
    container mounts read-only: a Secret's own files are group-readable, which a key must not be."""
    m = mount(container, os.path.dirname(path))
    assert m.get("readOnly") and volume(spec, m["name"])["emptyDir"]["medium"] == "Memory", m
    for init in spec.get("initContainers", []):
        mounts = {mt["name"]: mt for mt in init.get("volumeMounts", [])}
        if m["name"] not in mounts or mounts[m["name"]]["mountPath"] != m["mountPath"]:
            continue
        command = " ".join(init["command"])
        for name, mt in mounts.items():
            src = volume(spec, name).get("secret")
            if not src:
                continue
            for item in src["items"]:
                copy = "install -m %s %s/%s %s" % (mode, mt["mountPath"], item["path"], path)
                if re.search(r"(^|[\s/])%s($|\s)" % re.escape(copy), command):
                    assert mt.get("readOnly"), mt
                    return src["secretName"], item["key"]
    raise AssertionError("no init container installs %s with mode %s" % (path, mode))


def check_manifests(objs):
    """Returns the pods' objects after checking the fields that matter."""
    coord, workers = objs[("Job", "reasonsaver-coordinator")], objs[("Deployment", "reasonsaver-worker")]
    redis = objs[("StatefulSet", "reasonsaver-redis")]
    for o in (coord, workers, redis):
        check_pod_security(o)
    run_cfg = yaml.safe_load(objs[("ConfigMap", "reasonsaver-run")]["data"]["run.yaml"])
    cluster = run_cfg["cluster"]

    # Redis: ACL file from the Secret, data on the claim, probes that log in.
    r = pod_spec(redis)["containers"][0]
    redis_svc = check_service(objs, redis, "redis", 6379)
    assert r["args"][r["args"].index("--aclfile") + 1] == mount(r, "/etc/redis/acl")["mountPath"] + "/users.acl"
    assert volume(pod_spec(redis), "acl")["secret"]["secretName"] == "reasonsaver-redis"
    assert r["args"][r["args"].index("--appendonly") + 1] == "yes"
    assert mount(r, "/data")["name"] == redis["spec"]["volumeClaimTemplates"][0]["metadata"]["name"]
    assert secret_key_ref(r, "REDISCLI_AUTH") == {"name": "reasonsaver-redis", "key": "password"}
    for probe in ("readinessProbe", "livenessProbe"):
        assert "ping | grep -qx PONG" in r[probe]["exec"]["command"][-1], r[probe]

    # Coordinator: a Job that is not retried, its config, keys, Service and probes.
    spec = pod_spec(coord)
    assert coord["spec"]["backoffLimit"] == 0 and spec["restartPolicy"] == "Never"
    c = spec["containers"][0]
    assert c["command"] == ["/usr/local/bin/reasonsaver"] and c["args"][:2] == [
        "run", mount(c, "/etc/reasonsaver/run")["mountPath"] + "/run.yaml"], c["args"]
    assert volume(spec, "run-config")["configMap"]["name"] == "reasonsaver-run"
    assert secret_key_ref(c, "REDIS_PASSWORD") == {"name": "reasonsaver-redis", "key": "password"}
    coord_svc = check_service(objs, coord, "zmq", 5555)
    check_service(objs, coord, "metrics", 9464)
    assert cluster["bind"] == "tcp://0.0.0.0:5555" and cluster["workers"] == 0, cluster
    assert cluster["metrics_bind"].endswith(":9464")
    assert re.fullmatch(r"redis://reasonsaver@%s:6379/0" % redis_svc, cluster["redis"]), cluster["redis"]
    curve = cluster["curve"]
    assert installed_from(spec, c, curve["secret_key_file"], "0400") == (
        "reasonsaver-coordinator-key", "coordinator.secret")
    auth = mount(c, curve["authorized_keys_dir"])
    assert "subPath" not in auth, "a subPath mount would never see keys added later"
    assert volume(spec, auth["name"])["secret"]["secretName"] == "reasonsaver-authorized-workers"
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        assert c[probe]["httpGet"] == {"path": "/metrics", "port": "metrics"}, c[probe]
    (init,) = [i for i in spec["initContainers"] if i["name"] == "wait-redis"]
    assert redis_svc in init["command"][-1] and "--user reasonsaver" in init["command"][-1]

    # Workers: the coordinator's Service, both keys mounted, API keys from the Secret, no others.
    w = pod_spec(workers)["containers"][0]
    args = dict(zip(w["args"][::2], w["args"][1::2]))
    assert args["--connect"] == "tcp://%s:5555" % coord_svc, args
    assert installed_from(pod_spec(workers), w, args["--key"], "0400") == (
        "reasonsaver-worker-key", "worker.secret")
    assert installed_from(pod_spec(workers), w, args["--server-key"], "0444") == (
        "reasonsaver-worker-key", "coordinator.pub")
    allowed = args["--allow-env"].split(",")
    for name in allowed:
        ref = secret_key_ref(w, name)
        assert ref == {"name": "reasonsaver-api-keys", "key": name, "optional": True}, ref
    (model,) = run_cfg["models"]
    assert model["api_key_env"] in allowed
    assert env_of(w)["POD_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}

    # NetworkPolicies select the pods they are written for.
    comps = {component(o) for o in (coord, workers, redis)}
    for (kind, name), o in objs.items():
        if kind == "NetworkPolicy":
            assert o["spec"]["podSelector"]["matchLabels"][LABEL] in comps, name
            for rule in o["spec"]["ingress"]:
                for src in rule.get("from", []):
                    assert src["podSelector"]["matchLabels"][LABEL] in comps, name
    print("ok: manifests: images, commands, Secrets, ports, probes, resources, securityContext")
    return {"redis": redis, "coordinator": coord, "worker": workers}


def secrets_used(objs):
    """(secret, key) pairs the pods read, from env and volumes."""
    used = set()
    for o in objs.values():
        if o["kind"] not in ("Job", "Deployment", "StatefulSet"):
            continue
        spec = pod_spec(o)
        for c in spec.get("initContainers", []) + spec["containers"]:
            for e in c.get("env", []):
                ref = e.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    used.add((ref["name"], ref["key"]))
        for v in spec.get("volumes", []):
            if "secret" in v:
                for item in v["secret"].get("items", [{"key": "*"}]):
                    used.add((v["secret"]["secretName"], item["key"]))
    return used


def make_secrets(sb, api_key):
    out = sb.path("secrets.yaml")
    env = dict(os.environ, REASONSAVER=rslib.REASONSAVER, OPENAI_API_KEY=api_key)
    sb.run([os.path.join(deploylib.K8S, "make-secrets.sh"), "--keydir", sb.path("keys"),
            "--api-key", "OPENAI_API_KEY", out], env=env, check=0)
    assert oct(os.stat(out).st_mode & 0o777) == "0o600"
    with open(out) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    return {d["metadata"]["name"]: {k: base64.b64decode(v) for k, v in (d["data"] or {}).items()}
            for d in docs if d["kind"] == "Secret"}


def check_containerfile(objs):
    """The image recipe (not built here) has what the manifests run: the package of every library
    the binaries link, the servers the pods start, the paths they use, user 10001, no -dev package
    in the runtime stage."""
    with open(os.path.join(deploylib.DEPLOY, "Containerfile")) as f:
        text = f.read().replace("\\\n", " ")
    stages = re.split(r"^FROM ", text, flags=re.M)[1:]
    assert len(stages) == 2 and stages[0].split()[0] == stages[1].split()[0] == (
        "docker.io/library/debian:12-slim"), "two Debian 12 stages"
    runtime = stages[1]
    (install,) = re.findall(r"apt-get install -y --no-install-recommends ([^&]*)", runtime)
    packages = set(install.split())
    assert not [p for p in packages if p.endswith("-dev")], packages
    libs = set()
    for binary in ("reasonsaver", "reasonsaver-worker"):
        path = os.path.join(rslib.BIN, binary)
        sonames = re.findall(r"Shared library: \[(.*)\]", sh("readelf", "-d", path).stdout)
        where = dict(re.findall(r"^\s*(\S+) => (\S+)", sh("ldd", path).stdout, flags=re.M))
        libs |= {where[so] for so in sonames if not re.match(r"lib(asan|ubsan|lsan)", so)}
    # dpkg knows a library under /lib or /usr/lib (merged /usr): ask for both, once.
    variants = {lib: {lib, "/usr" + lib, lib.replace("/usr/lib/", "/lib/", 1)} for lib in libs}
    owners = dict((path, pkg.split(":")[0]) for pkg, path in re.findall(
        r"^(\S+): (\S+)$", sh("dpkg", "-S", *sorted(set().union(*variants.values())),
                               check=False).stdout, flags=re.M))
    needed = set()
    for lib, names in variants.items():
        found = [owners[n] for n in names if n in owners]
        assert found, "no package owns " + lib
        needed.add(found[0])
    missing = needed - packages - {"libc6"}  # libc6 is in every Debian image
    assert not missing, "the runtime stage lacks %s" % sorted(missing)
    assert {"redis-server", "redis-tools", "stunnel4"} <= packages
    assert re.search(r"^USER 10001:10001$", runtime, flags=re.M)
    assert "/usr/local/bin/" in runtime and "/usr/local/share/reasonsaver/datasets" in runtime
    run_yaml = objs[("ConfigMap", "reasonsaver-run")]["data"]["run.yaml"]
    dataset = yaml.safe_load(run_yaml)["dataset"]["path"]
    assert dataset.startswith("/usr/local/share/reasonsaver/datasets/"), dataset
    assert os.path.exists(deploylib.remap(dataset, IMAGE_PATHS)), dataset
    print("ok: Containerfile: runtime packages %s cover every linked library" % sorted(needed))


# ---- running the pods ----

def sh(*args, check=True):
    return subprocess.run(list(args), capture_output=True, text=True, check=check)


def write_volume(path, files, mode, group=UID):
    """A configMap or secret volume as the kubelet's atomic writer lays it out: the files in a
    timestamped directory, ..data pointing at it, each name a symlink through ..data."""
    stamp = "..2026_01_01_00_00_00.%d" % (len(files) * 7919 % 100000)
    os.makedirs(os.path.join(path, stamp))
    for name, data in files.items():
        p = os.path.join(path, stamp, name)
        with open(p, "wb") as f:
            f.write(data)
        os.chown(p, 0, group)
        os.chmod(p, mode)
        os.symlink(os.path.join("..data", name), os.path.join(path, name))
    os.symlink(stamp, os.path.join(path, "..data"))
    for d in (path, os.path.join(path, stamp)):
        os.chown(d, 0, group)
        os.chmod(d, 0o2755)


class Pod:
    """A pod's network namespace, volumes and containers."""

    def __init__(self, sb, name, obj, host, hosts):
        self.sb, self.name, self.obj, self.spec = sb, name, obj, pod_spec(obj)
        self.ns, self.ip = "%s-%s" % (TAG, host), "%s.%d" % (NET, len(hosts) + 1)
        self.root = sb.path("pods", name)
        self.paths = []  # mountPath -> directory here, per container
        hosts[self.ns] = self.ip

    def materialise(self, secrets, configmaps, claims):
        self.writable = []
        # The image's WORKDIR, on a read-only root file system unless a volume is mounted there.
        self.workdir = os.path.join(self.root, "workdir")
        os.makedirs(self.workdir)
        vols = {}
        for v in self.spec.get("volumes", []):
            d = os.path.join(self.root, "volumes", v["name"])
            if "secret" in v:
                data = secrets[v["secret"]["secretName"]]
                items = v["secret"].get("items") or [{"key": k, "path": k} for k in data]
                write_volume(d, {i["path"]: data[i["key"]] for i in items}, v["secret"]["defaultMode"])
            elif "configMap" in v:
                write_volume(d, {k: s.encode() for k, s in configmaps[v["configMap"]["name"]].items()},
                             0o644)
            else:
                os.makedirs(d)
                os.chmod(d, 0o777 if "emptyDir" in v else 0o2775)
                os.chown(d, 0, UID)
                self.writable.append(d)
            vols[v["name"]] = d
        for t in self.obj["spec"].get("volumeClaimTemplates", []):
            d = os.path.join(self.root, "volumes", t["metadata"]["name"])
            os.makedirs(d)
            os.chmod(d, 0o2775)
            os.chown(d, 0, UID)
            self.writable.append(d)
            vols[t["metadata"]["name"]] = d
        claims.update(vols)
        self.vols = vols

    def mapping(self, container):
        m = [(mt["mountPath"], self.vols[mt["name"]]) for mt in container.get("volumeMounts", [])]
        return sorted(m, key=lambda p: -len(p[0])) + IMAGE_PATHS

    def command(self, container, secrets):
        """argv and environment as the kubelet gives them to the container's process."""
        env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/",
               "HOSTNAME": self.name}
        for e in container.get("env", []):
            if "value" in e:
                env[e["name"]] = e["value"]
                continue
            src = e["valueFrom"]
            if "fieldRef" in src:
                assert src["fieldRef"]["fieldPath"] == "metadata.name"
                env[e["name"]] = self.name
            else:
                ref = src["secretKeyRef"]
                data = secrets.get(ref["name"], {})
                if ref["key"] in data:
                    env[e["name"]] = data[ref["key"]].decode()
                else:
                    assert ref.get("optional"), ref
        expand = lambda s: re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: env[m.group(1)], s)
        argv = [deploylib.remap(expand(a), self.mapping(container))
                for a in container["command"] + container.get("args", [])]
        return argv, env

    def start(self, container, secrets, **kw):
        argv, env = self.command(container, secrets)
        cwd = deploylib.remap(WORKDIR, self.mapping(container))
        return self.sb.spawn(["ip", "netns", "exec", self.ns] + drop_privileges() + argv, env=env,
                             cwd=cwd if cwd != WORKDIR else self.workdir, **kw)

    def run_init(self, secrets):
        """The pod's init containers, in order, each to a successful end."""
        for init in self.spec.get("initContainers", []):
            r = self.start(init, secrets, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            out = r.communicate(timeout=60)[0]
            assert r.returncode == 0, "%s: init container %s failed:\n%s" % (self.name, init["name"], out)

    def exec_probe(self, container, secrets, command, extra_env=None):
        argv, env = self.command(container, secrets)
        env.update(extra_env or {})
        cmd = [deploylib.remap(a, self.mapping(container)) for a in command]
        return subprocess.run(["ip", "netns", "exec", self.ns] + drop_privileges() + cmd, env=env,
                              capture_output=True, text=True, timeout=20)

    def http_probe(self, port, path):
        code = ("import urllib.request, sys\n"
                "try:\n"
                "    r = urllib.request.urlopen('http://%s:%d%s', timeout=5)\n"
                "except OSError:\n"
                "    sys.exit(1)\n"
                "sys.exit(0 if r.status == 200 else 1)\n"
                % (self.ip, port, path))
        return subprocess.run(["ip", "netns", "exec", self.ns, sys.executable, "-c", code],
                              capture_output=True, timeout=20).returncode == 0


def drop_privileges():
    """runAsUser/runAsGroup/fsGroup 10001, capabilities dropped, allowPrivilegeEscalation false."""
    return ["setpriv", "--reuid=%d" % UID, "--regid=%d" % UID, "--groups=%d" % UID,
            "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]


def setup_network(hosts, names):
    bridge = TAG + "br"
    sh("ip", "link", "add", bridge, "type", "bridge")
    sh("ip", "link", "set", bridge, "up")
    entries = "127.0.0.1 localhost\n" + "".join("%s %s\n" % (ip, n) for n, ip in names.items())
    for i, (ns, ip) in enumerate(hosts.items()):
        sh("ip", "netns", "add", ns)
        inner, outer = "%s%di" % (TAG, i), "%s%do" % (TAG, i)
        sh("ip", "link", "add", inner, "type", "veth", "peer", "name", outer)
        sh("ip", "link", "set", inner, "netns", ns)
        sh("ip", "link", "set", outer, "master", bridge)
        sh("ip", "link", "set", outer, "up")
        sh("ip", "netns", "exec", ns, "ip", "addr", "add", ip + "/24", "dev", inner)
        sh("ip", "netns", "exec", ns, "ip", "link", "set", inner, "up")
        sh("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")
        os.makedirs("/etc/netns/" + ns, exist_ok=True)  # ip netns exec binds it over /etc/hosts
        with open("/etc/netns/%s/hosts" % ns, "w") as f:
            f.write(entries)


def teardown_network(hosts):
    for i, ns in enumerate(hosts):
        sh("ip", "netns", "del", ns, check=False)
        sh("ip", "link", "del", "%s%do" % (TAG, i), check=False)
        shutil.rmtree("/etc/netns/" + ns, ignore_errors=True)
    sh("ip", "link", "del", TAG + "br", check=False)
    try:
        os.rmdir("/etc/netns")
    except OSError:
        pass


def wait(pred, timeout, what):
    rslib.wait_for(pred, timeout, what, interval=0.5)


def files_containing(root, needles):
    hits = []
    for d, _, names in os.walk(root):
        for n in names:
            p = os.path.join(d, n)
            if os.path.islink(p) or not os.path.isfile(p):
                continue
            with open(p, "rb") as f:
                data = f.read()
            hits += ["%s holds %s" % (p, what) for what, s in needles.items() if s in data]
    return hits


def run_pods(sb, objs, pods_objs, secrets):
    api_key = secrets["reasonsaver-api-keys"]["OPENAI_API_KEY"].decode()
    hosts, names = {}, {}
    redis = Pod(sb, "reasonsaver-redis-0", pods_objs["redis"], "redis", hosts)
    coord = Pod(sb, "reasonsaver-coordinator-x7k2p", pods_objs["coordinator"], "coord", hosts)
    workers = [Pod(sb, "reasonsaver-worker-5d9c7-%s" % s, pods_objs["worker"], "w%d" % i, hosts)
               for i, s in enumerate(("q4x8z", "m2n6v"))]
    api = Pod(sb, "model-api", pods_objs["worker"], "api", hosts)  # only its namespace is used
    plain = Pod(sb, "intruder-plain", pods_objs["worker"], "plain", hosts)
    rogue = Pod(sb, "intruder-rogue", pods_objs["worker"], "rogue", hosts)
    names[service_for(objs, "redis")["metadata"]["name"]] = redis.ip
    names[service_for(objs, "coordinator")["metadata"]["name"]] = coord.ip
    names["model-api"] = api.ip

    # The ConfigMap as the coordinator sees it: the same text, the model API replaced by the mock.
    run_yaml = objs[("ConfigMap", "reasonsaver-run")]["data"]["run.yaml"]
    assert "https://api.openai.com/v1" in run_yaml
    mock_port = 8089
    configmaps = {"reasonsaver-run": {"run.yaml": run_yaml.replace(
        "https://api.openai.com/v1", "http://model-api:%d/v1" % mock_port)}}
    claims = {}
    os.chmod(sb.dir, 0o755)
    for p in (redis, coord, plain, rogue) + tuple(workers):
        p.materialise(secrets, configmaps, claims)
    # The coordinator reads its config's paths in its own file system: map them like its args.
    cfg_dir = coord.vols["run-config"]
    cfg = os.path.join(cfg_dir, os.readlink(os.path.join(cfg_dir, "..data")), "run.yaml")
    os.chmod(cfg, 0o644)
    with open(cfg) as f:
        text = deploylib.remap(f.read(), coord.mapping(pod_spec(coord.obj)["containers"][0]))
    with open(cfg, "w") as f:
        f.write(text)

    try:  # torn down also when the set-up itself fails half way
        setup_network(hosts, names)
        return run_in_namespaces(sb, objs, secrets, api_key, redis, coord, workers, api, plain,
                                 rogue, mock_port)
    finally:
        teardown_network(hosts)


def run_in_namespaces(sb, objs, secrets, api_key, redis, coord, workers, api, plain, rogue,
                      mock_port):
    sb.spawn(["ip", "netns", "exec", api.ns, deploylib.MOCKLLM, "--bind", api.ip, "--port",
              str(mock_port), "--latency-ms", "1000", "--quiet"], env={"MOCKLLM_API_KEY": api_key, "PATH": "/usr/bin:/bin"})
    rc = pod_spec(redis.obj)["containers"][0]
    logs = {}
    logs["redis"] = open(sb.path("redis.log"), "w+")
    redis.start(rc, secrets, stdout=logs["redis"], stderr=subprocess.STDOUT)
    probe = rc["readinessProbe"]["exec"]["command"]
    wait(lambda: redis.exec_probe(rc, secrets, probe).returncode == 0, 20, "Redis's readiness probe")
    assert redis.exec_probe(rc, secrets, probe, {"REDISCLI_AUTH": "wrong"}).returncode != 0, \
        "the probe passes with a wrong password: it cannot fail"
    anon = subprocess.run(["ip", "netns", "exec", coord.ns, "redis-cli", "-h", "reasonsaver-redis",
                           "GET", "rs:x"], capture_output=True, text=True, timeout=20)
    assert "NOAUTH" in anon.stdout + anon.stderr, "Redis answered without a login: " + anon.stdout

    cspec = pod_spec(coord.obj)
    coord.run_init(secrets)
    cc = cspec["containers"][0]
    assert not coord.http_probe(9464, "/metrics"), "the probe passes with no coordinator"
    job = coord.start(cc, secrets, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wc = pod_spec(workers[0].obj)["containers"][0]
    for w in workers + [plain, rogue]:
        w.run_init(secrets)
    for w in workers:
        logs[w.name] = open(sb.path(w.name + ".log"), "w+")
        w.start(wc, secrets, stdout=logs[w.name], stderr=subprocess.STDOUT)
    # Intruders: the worker's command line without keys, and with a key pair of its own.
    argv, env = plain.command(wc, secrets)
    plain_argv = argv[:1] + ["--connect", argv[argv.index("--connect") + 1], "--id", "intruder-plain"]
    sb.spawn(["ip", "netns", "exec", plain.ns] + plain_argv, env=env, stderr=subprocess.DEVNULL)
    _, rogue_secret = deploylib.keys_gen("intruder", sb.path("rogue-keys"))
    rogue_argv = [rogue_secret if a.endswith("worker.secret") else
                  "intruder-rogue" if a == rogue.name else a for a in rogue.command(wc, secrets)[0]]
    sb.spawn(["ip", "netns", "exec", rogue.ns] + rogue_argv, env=env, stderr=subprocess.DEVNULL)

    def probed():
        if job.poll() is not None:
            out, err = job.communicate()
            raise AssertionError("the coordinator ended (exit %d) before its probes answered:\n%s"
                                 % (job.returncode, (out + err)[-3000:]))
        return coord.http_probe(9464, "/metrics")
    wait(probed, 60, "the coordinator's /metrics (its probes)")
    out, err = job.communicate(timeout=240)
    assert job.returncode == 0, (job.returncode, out[-2000:], err[-4000:])

    run_dir = rslib.run_dir_from_output(out, coord.root)
    if not os.path.isabs(run_dir) or not os.path.isdir(run_dir):
        run_dir = rslib.only_run_dir(os.path.join(coord.vols["runs"], "runs"))
    rep = rslib.load_report(run_dir)
    assert rep["status"] == "finished" and rep["dataset"]["missing_results"] == 0, rep["status"]
    assert rep["dataset"]["cases"] == 500, rep["dataset"]
    (model,) = rep["models"]
    assert not model["errors"], "model calls failed (API key from the Secret?): %s" % model["errors"]
    ids = {s["attributes"].get("reasonsaver.worker.id")
           for rec in rslib.read_jsonl(os.path.join(run_dir, "results.jsonl"))
           for s in rec["spans"] if s["name"] == "case"}
    # Both replicas worked, with the one key pair they share; no intruder did.
    assert ids == {w.name for w in workers}, ids
    assert rogue.ip in err, "the unauthorised key's peer was not logged with its address:\n" + err[-3000:]
    print("ok: pods ran in namespaces: 500 cases over CURVE, worker ids %s; intruders got nothing"
          % sorted(ids))

    needles = {"the Redis password": secrets["reasonsaver-redis"]["password"],
               "the API key": api_key.encode(),
               "the coordinator's secret key": secrets["reasonsaver-coordinator-key"][
                   "coordinator.secret"].strip(),
               "the worker's secret key": secrets["reasonsaver-worker-key"]["worker.secret"].strip()}
    for f in logs.values():
        f.seek(0)
    texts = {"coordinator stdout": out, "coordinator stderr": err}
    texts.update({k: f.read() for k, f in logs.items()})
    leaks = ["%s holds %s" % (k, w) for k, t in texts.items() for w, s in needles.items()
             if s.decode() in t]
    leaks += files_containing(coord.vols["runs"], needles) + files_containing(redis.vols["data"], needles)
    assert not leaks, leaks
    # uid 10001 wrote only into writable volumes (emptyDir, claims): not its working directory,
    # not a Secret or ConfigMap, not /tmp, /var/tmp or /dev/shm of the machine.
    stray = sh("find", "/tmp", "/var/tmp", "/dev/shm", "-xdev", "-path", "/tmp/rs-it-*", "-prune",
               "-o", "-uid", str(UID), "-print", check=False).stdout.split()
    pods = (redis, coord, plain, rogue) + tuple(workers)
    writable = tuple(d + "/" for p in pods for d in p.writable)
    for d, _, names in os.walk(sb.path("pods")):
        stray += [os.path.join(d, n) for n in names if os.lstat(os.path.join(d, n)).st_uid == UID
                  and not os.path.join(d, n).startswith(writable)]
    assert not stray, "written outside the pods' writable volumes:\n" + "\n".join(stray)
    print("ok: no secret in any output, report or Redis file; nothing written outside the volumes")


def main():
    if not shutil.which("redis-server") or not shutil.which("redis-cli"):
        rslib.skip("redis-server is not installed (apt-get install -y redis-server)")
    objs = load_manifests()
    pods = check_manifests(objs)
    check_containerfile(objs)
    with rslib.Sandbox() as sb:
        if not deploylib.keys_available():
            rslib.skip("manifests checked; the run needs `reasonsaver keys gen` (ZeroMQ CURVE), "
                       "which this build does not have")
        secrets = make_secrets(sb, "sk-test-" + os.urandom(12).hex())
        made = {(name, key) for name, data in secrets.items() for key in data}
        used = secrets_used(objs)
        unmade = {(n, k) for n, k in used if k != "*" and (n, k) not in made}
        unused = {(n, k) for n, k in made if (n, k) not in used and (n, "*") not in used}
        assert unmade == {("reasonsaver-api-keys", "ANTHROPIC_API_KEY")}, unmade  # optional
        assert not unused, unused
        with open(os.path.join(rslib.SRC, "docs", "REDIS.md")) as f:
            (doc_rules,) = re.findall(r"^ACL SETUSER rs on >PASSWORD (.*)$", f.read(), flags=re.M)
        acl = secrets["reasonsaver-redis"]["users.acl"].decode().splitlines()
        assert acl[0] == "user default off" and re.fullmatch(
            r"user reasonsaver on #[0-9a-f]{64} " + re.escape(doc_rules), acl[1]), acl
        print("ok: make-secrets.sh writes exactly the Secrets and keys the pods use, and REDIS.md's "
              "ACL rules")
        if os.geteuid() != 0:
            rslib.skip("manifests and Secrets checked; the pods need root to run in namespaces")
        for tool in ("ip", "setpriv"):
            if not shutil.which(tool):
                rslib.skip("manifests checked; the pods need `%s` (iproute2, util-linux)" % tool)
        probe = sh("ip", "netns", "add", TAG + "-probe", check=False)
        if probe.returncode != 0:
            rslib.skip("manifests checked; cannot create network namespaces here: "
                       + probe.stderr.strip())
        sh("ip", "netns", "del", TAG + "-probe", check=False)
        run_pods(sb, objs, pods, secrets)


if __name__ == "__main__":
    main()
