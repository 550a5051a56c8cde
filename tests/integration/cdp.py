"""A minimal Chrome DevTools Protocol client over --remote-debugging-pipe (no websocket, no
package): headless Chromium on fds 3 (commands in) and 4 (replies out), one page, and
JavaScript evaluated in it. For tests that must watch a page change while it stays open."""
import json
import os
import shutil
import subprocess
import time


class Page:
    def __init__(self, url, width=1400, height=1000):
        # Debian's /usr/bin/chromium is a shell launcher; the browser itself takes the pipe fds
        chromium = next((c for c in ("/usr/lib/chromium/chromium", shutil.which("chromium"),
                                     shutil.which("chromium-browser")) if c and os.access(c, os.X_OK)),
                        None)
        if not chromium:
            raise FileNotFoundError("chromium")
        cmd_r, self._cmd_w = os.pipe()  # we write commands, chromium reads fd 3
        self._out_r, out_w = os.pipe()  # chromium writes replies on fd 4
        self._buf = b""
        self._id = 0

        def fds():  # in the child: the pipe ends as fds 3 and 4, kept across exec
            r, w = os.dup(cmd_r), os.dup(out_w)  # first out of the way of 3 and 4
            os.dup2(r, 3)
            os.dup2(w, 4)
            os.set_inheritable(3, True)
            os.set_inheritable(4, True)

        self.proc = subprocess.Popen(
            [chromium, "--headless=new", "--no-sandbox", "--disable-gpu",
             "--remote-debugging-pipe", "--window-size=%d,%d" % (width, height), "about:blank"],
            close_fds=False, preexec_fn=fds, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)  # close_fds would close the 3 and 4 made in the child
        os.close(cmd_r)
        os.close(out_w)
        target = self.call("Target.createTarget", {"url": url})["targetId"]
        self.session = self.call("Target.attachToTarget",
                                 {"targetId": target, "flatten": True})["sessionId"]

    def call(self, method, params=None, session=None, timeout=30):
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self._cmd_w, json.dumps(msg).encode() + b"\0")
        until = time.time() + timeout
        while time.time() < until:
            while b"\0" in self._buf:
                raw, self._buf = self._buf.split(b"\0", 1)
                reply = json.loads(raw)
                if reply.get("id") == self._id:
                    if "error" in reply:
                        raise RuntimeError("%s: %s" % (method, reply["error"]))
                    return reply.get("result", {})
            chunk = os.read(self._out_r, 1 << 16)
            if not chunk:
                raise RuntimeError("chromium closed the pipe")
            self._buf += chunk
        raise TimeoutError(method)

    def eval(self, expression):
        """The value of a JavaScript expression in the page (JSON-able)."""
        r = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True},
                      session=self.session)
        if "exceptionDetails" in r:
            raise RuntimeError("%s: %s" % (expression, r["exceptionDetails"]))
        return r["result"].get("value")

    def wait(self, expression, timeout=30, what=None):
        """Waits until expression is truthy; returns its value."""
        until = time.time() + timeout
        while time.time() < until:
            v = self.eval(expression)
            if v:
                return v
            time.sleep(0.1)
        raise AssertionError("timed out waiting for " + (what or expression))

    CODES = {"Escape": 27, "ArrowLeft": 37, "ArrowRight": 39, "Enter": 13}

    def key(self, key):
        """Presses and releases one key (a character, or one of CODES) in the page."""
        down = {"type": "keyDown", "key": key, "text": key} if len(key) == 1 else \
            {"type": "rawKeyDown", "key": key, "code": key,
             "windowsVirtualKeyCode": self.CODES[key]}
        self.call("Input.dispatchKeyEvent", down, session=self.session)
        up = dict(down, type="keyUp")
        up.pop("text", None)
        self.call("Input.dispatchKeyEvent", up, session=self.session)

    def close(self):
        try:
            os.close(self._cmd_w)
        except OSError:
            pass
        self.proc.kill()
        self.proc.wait()
        os.close(self._out_r)
