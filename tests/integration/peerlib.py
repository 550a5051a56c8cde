"""A hostile peer for the coordinator's socket: speaks the wire protocol (docs/PROTOCOL.md) with
python3-zmq and python3-msgpack, so tests can send what no honest worker sends."""
import time

import rslib

try:
    import msgpack
    import zmq
except ImportError:  # the test skips; install-deps installs both
    zmq = msgpack = None

MAX_I63 = 2 ** 63 - 1


def require():
    if zmq is None:
        rslib.skip("python3-zmq and python3-msgpack are needed (apt-get install -y python3-zmq "
                   "python3-msgpack)")


class Peer:
    """One DEALER connection. bytes values are sent as msgpack str with their raw bytes (so a
    test can send invalid UTF-8), str values as UTF-8."""

    def __init__(self, endpoint, rcvhwm=None, curve=None):
        self.ctx = zmq.Context()
        self.sock = self.ctx.socket(zmq.DEALER)
        self.sock.setsockopt(zmq.LINGER, 0)
        if rcvhwm is not None:
            self.sock.setsockopt(zmq.RCVHWM, rcvhwm)
            self.sock.setsockopt(zmq.RCVBUF, 4096)
        if curve:  # (server_public, public, secret), Z85 bytes
            self.sock.curve_serverkey, self.sock.curve_publickey, self.sock.curve_secretkey = curve
        self.sock.connect(endpoint)

    def send(self, msg, block=True):
        frame = msgpack.packb(msg, use_bin_type=False)
        self.sock.send(frame, 0 if block else zmq.NOBLOCK)

    def send_raw(self, frame):
        self.sock.send(frame)

    def hello(self, worker_id="peer", host="peerhost", slots=8):
        self.send({"t": "HELLO", "v": 1, "worker_id": worker_id, "host": host, "pid": 1,
                   "version": "0.1.0", "slots": slots})

    def credit(self, n):
        self.send({"t": "CREDIT", "v": 1, "n": n})

    def heartbeat(self):
        self.send({"t": "HEARTBEAT", "v": 1, "in_flight": 0})

    def result(self, task_id, lease, cases):
        """cases: [(idx, record_json_text)]."""
        self.send({"t": "RESULT", "v": 1, "task_id": task_id, "lease": lease,
                   "cases": [{"idx": i, "failed": False, "json": j} for i, j in cases],
                   "spans": []})

    def recv(self, timeout=1.0):
        """The next message as a dict, or None after timeout seconds."""
        if not self.sock.poll(int(timeout * 1000)):
            return None
        return msgpack.unpackb(self.sock.recv(), raw=False)

    def recv_until(self, kind, timeout=5.0):
        until = time.time() + timeout
        while time.time() < until:
            m = self.recv(max(0.05, until - time.time()))
            if m and m.get("t") == kind:
                return m
        return None

    def close(self):
        self.sock.close(0)
        self.ctx.term()


def forged(record):
    """A copy of a result record in which every grade says correct."""
    import copy
    r = copy.deepcopy(record)
    for m in r.get("models", []):
        for c in m.get("candidates", []):
            c["grades"] = {g: "correct" for g in c.get("grades", {})}
        for s in m.get("strategies", {}).values():
            s["grades"] = {g: "correct" for g in s.get("grades", {})}
    return r
