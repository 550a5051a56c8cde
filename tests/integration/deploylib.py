"""Helpers for the deployment tests: reading systemd units and starting what they (and the
Kubernetes manifests) describe the way systemd and the kubelet would, with the install paths
mapped onto this tree's build."""
import os
import re
import shutil
import stat
import subprocess

import rslib

DEPLOY = os.path.join(rslib.SRC, "deploy")
UNITS = os.path.join(DEPLOY, "systemd")
K8S = os.path.join(DEPLOY, "kubernetes")
MOCKLLM = os.path.join(rslib.BIN, "reasonsaver-mockllm")


def install_paths(root):
    """Install path -> where it is here: the binaries and helpers come from this tree; /etc, /var
    and the image's volume mount points from root, a test's temporary directory."""
    return [
        ("/usr/local/bin/", os.path.abspath(rslib.BIN) + "/"),
        ("/usr/local/libexec/reasonsaver/", UNITS + "/"),
        ("/usr/local/share/reasonsaver/", os.path.abspath(rslib.SRC) + "/"),
        ("/etc/reasonsaver", os.path.join(root, "etc", "reasonsaver")),
        ("/var/lib", os.path.join(root, "var", "lib")),
    ]


def remap(text, paths):
    """Each install path that starts a path in text replaced by its place here, in one pass (a
    replacement is never mapped again), the longest match first."""
    table = dict(paths)
    alts = [re.escape(p) + ("" if p.endswith("/") else r"(?![\w.-])")
            for p in sorted(table, key=len, reverse=True)]
    pattern = r"(?<![\w./-])(?:%s)" % "|".join("(%s)" % a for a in alts)
    return re.sub(pattern, lambda m: table[m.group(0)], text)


def keys_available():
    """Whether this build has `reasonsaver keys gen` (ZeroMQ CURVE keys)."""
    r = subprocess.run([rslib.REASONSAVER, "keys", "gen", "--help"], capture_output=True)
    return r.returncode == 0


def keys_gen(name, directory):
    os.makedirs(directory, exist_ok=True)
    r = subprocess.run([rslib.REASONSAVER, "keys", "gen", name, "--dir", directory],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return os.path.join(directory, name + ".pub"), os.path.join(directory, name + ".secret")


# ---- systemd units ----

def parse_unit(path):
    """{section: [(key, value), ...]} in file order; repeated keys are kept."""
    sections, cur = {}, None
    with open(path) as f:
        for raw in f:
            line = raw.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("[") and line.endswith("]"):
                cur = sections.setdefault(line[1:-1], [])
                continue
            assert cur is not None and "=" in line, "%s: bad line %r" % (path, line)
            key, _, value = line.partition("=")
            cur.append((key.strip(), value.strip()))
    return sections


def unit_values(unit, key, section="Service"):
    return [v for k, v in unit.get(section, []) if k == key]


def specifiers(text, spec):
    """systemd's %-specifiers that the units use; any other one is an error here."""
    def one(m):
        c = m.group(1)
        assert c in spec, "specifier %%%s not emulated" % c
        return spec[c]
    return re.sub(r"%(.)", one, text)


def env_file(path):
    """An EnvironmentFile= as systemd reads it (KEY=VALUE lines, # comments, optional quotes)."""
    env = {}
    with open(path) as f:
        for raw in f:
            line = raw.strip()
            if not line or line[0] in "#;":
                continue
            key, _, value = line.partition("=")
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
                value = value[1:-1]
            env[key.strip()] = value
    return env


def exec_argv(line, spec, env):
    """ExecStart= as systemd turns it into argv: specifiers, then ${VAR} as one word and a lone
    $VAR split on whitespace."""
    argv = []
    for word in line.split():
        word = specifiers(word, spec)
        m = re.fullmatch(r"\$([A-Za-z_][A-Za-z0-9_]*)", word)
        if m:
            argv.extend(env.get(m.group(1), "").split())
            continue
        argv.append(re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", lambda v: env.get(v.group(1), ""),
                           word))
    return argv


def load_credentials(unit, spec, paths, cred_dir):
    """LoadCredential=ID:PATH as systemd does it: a file is copied to ID, a directory's regular
    files to ID_NAME (symlinks ignored); a missing path fails the unit (AssertionError here)."""
    os.makedirs(cred_dir, mode=0o700)
    for value in unit_values(unit, "LoadCredential"):
        cid, _, path = value.partition(":")
        path = remap(specifiers(path, spec), paths)
        assert os.path.exists(path), "LoadCredential=%s: %s is missing: the unit would not start" % (
            value, path)
        if os.path.isdir(path):
            for name in sorted(os.listdir(path)):
                src = os.path.join(path, name)
                if os.path.isfile(src) and not os.path.islink(src):
                    shutil.copyfile(src, os.path.join(cred_dir, "%s_%s" % (cid, name)))
        else:
            shutil.copyfile(path, os.path.join(cred_dir, cid))
    for name in os.listdir(cred_dir):
        os.chmod(os.path.join(cred_dir, name), stat.S_IRUSR)
    os.chmod(cred_dir, 0o500)


def unit_command(unit_path, instance, root, paths):
    """(argv, env, cwd) of the unit's ExecStart for instance, as systemd would start it: a clean
    environment from Environment= and EnvironmentFile=, credentials in their own directory,
    StateDirectory created. Install paths mapped with paths."""
    unit = parse_unit(unit_path)
    name = os.path.basename(unit_path).replace("@.", "@%s." % instance)
    cred_dir = os.path.join(root, "run", "credentials", name)
    spec = {"i": instance, "d": cred_dir, "S": "/var/lib", "%": "%"}  # /var/lib is mapped below
    env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"}
    for value in unit_values(unit, "Environment"):
        key, _, val = specifiers(value, spec).partition("=")
        env[key] = val
    for value in unit_values(unit, "EnvironmentFile"):
        optional = value.startswith("-")
        path = remap(specifiers(value.lstrip("-"), spec), paths)
        if os.path.exists(path) or not optional:
            env.update(env_file(path))
    load_credentials(unit, spec, paths, cred_dir)
    env["CREDENTIALS_DIRECTORY"] = cred_dir
    for d in unit_values(unit, "StateDirectory"):
        env["STATE_DIRECTORY"] = remap(os.path.join("/var/lib", d), paths)
        os.makedirs(env["STATE_DIRECTORY"], exist_ok=True)
    (exec_start,) = unit_values(unit, "ExecStart")
    argv = [remap(a, paths) for a in exec_argv(exec_start, spec, env)]
    cwd = [remap(specifiers(v, spec), paths) for v in unit_values(unit, "WorkingDirectory")]
    return argv, env, cwd[0] if cwd else root
