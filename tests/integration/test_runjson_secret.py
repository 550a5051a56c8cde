"""A planted run.json cannot make `status` send a secret to a Redis of its choice: run.json names
the variable whose value goes out in AUTH, so a name like OPENAI_API_KEY (with the address of a
listener the attacker owns) is refused before any connection, and the listener hears nothing."""
import json
import os
import socket
import subprocess
import sys
import threading

sys.path.insert(0, os.path.dirname(__file__))
import rslib  # noqa: E402

SECRET = "sk-test-must-not-leave"


def main():
    with rslib.Sandbox() as sb:
        lsock = socket.socket()
        lsock.bind(("127.0.0.1", 0))
        lsock.listen(4)
        lsock.settimeout(0.2)
        port, heard, stop = lsock.getsockname()[1], [], threading.Event()

        def listen():
            while not stop.is_set():
                try:
                    c, _ = lsock.accept()
                except OSError:
                    continue
                c.settimeout(1)
                try:
                    heard.append(c.recv(65536))
                except OSError:
                    pass
                c.close()
        t = threading.Thread(target=listen)
        t.start()
        run_dir = sb.path("runs", "planted")
        os.makedirs(run_dir)
        for env_name in ("OPENAI_API_KEY", "AWS_SECRET_ACCESS_KEY", "GITHUB_TOKEN", "bad name"):
            with open(os.path.join(run_dir, "run.json"), "w") as f:
                json.dump({"run_id": "planted", "redis": "redis://127.0.0.1:%d/0" % port,
                           "redis_password_env": env_name}, f)
            env = dict(os.environ, **{"OPENAI_API_KEY": SECRET, "AWS_SECRET_ACCESS_KEY": SECRET,
                                      "GITHUB_TOKEN": SECRET})
            r = subprocess.run([rslib.REASONSAVER, "status", "--out", sb.path("runs"), "planted"],
                               env=env, capture_output=True, text=True, timeout=30)
            assert r.returncode != 0, (env_name, r.stdout, r.stderr)
            assert "redis_password_env" in r.stderr, (env_name, r.stderr)
            assert SECRET not in r.stdout + r.stderr
        stop.set()
        t.join()
        lsock.close()
        assert not any(SECRET.encode() in h for h in heard), heard
        assert not heard, "status connected to the planted address: %r" % heard
    print("ok: a run.json naming an API key, secret or token variable is refused unread")


if __name__ == "__main__":
    main()
