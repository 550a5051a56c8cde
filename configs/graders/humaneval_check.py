#!/usr/bin/env python3
"""A HumanEval-style exec grader for reasonsaver (docs/GRADERS.md): runs the candidate's code with
the case's own asserts in a subprocess, and says correct when they all pass.

Protocol: one JSON request per line on stdin, one JSON reply per line on stdout, for as long as
stdin stays open. The code is the last ```python block of the output, else the extracted answer,
else the whole output. The tests are the lines of the case's input that start with "assert ". The
program (code, then tests) runs in a fresh `python3 -I` in a temporary directory with a timeout and
no environment; exit status 0 is correct, anything else wrong, with the error's last line as the
reason. The subprocess is the sandbox's only wall: run untrusted code under a real one (a container,
nsjail, bubblewrap) in production.

usage: humaneval_check.py [--timeout SECONDS]   (default 5)
"""
import json
import os
import re
import subprocess
import sys
import tempfile

TIMEOUT = float(sys.argv[sys.argv.index("--timeout") + 1]) if "--timeout" in sys.argv else 5.0
FENCE = re.compile(r"```(?:python|py)?[ \t]*\n(.*?)```", re.S)


def code_of(req):
    out = req.get("output") or ""
    blocks = FENCE.findall(out)
    if blocks:
        return blocks[-1]
    return req.get("extracted") or out


def tests_of(req):
    text = req.get("input") or req.get("prompt") or ""
    return [line.strip() for line in text.splitlines() if line.strip().startswith("assert ")]


def grade(req):
    tests = tests_of(req)
    if not tests:
        return {"verdict": "error", "reason": "the case's input has no assert lines to run"}
    program = code_of(req) + "\n\n" + "\n".join(tests) + "\n"
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "candidate.py")
        with open(path, "w") as f:
            f.write(program)
        try:
            p = subprocess.run([sys.executable, "-I", path], cwd=d, env={}, capture_output=True,
                               text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return {"verdict": "wrong", "score": 0,
                    "reason": "timed out after %gs running the tests" % TIMEOUT}
    if p.returncode == 0:
        return {"verdict": "correct", "score": 1, "reason": "%d asserts passed" % len(tests)}
    err = (p.stderr.strip().splitlines() or ["exit status %d" % p.returncode])[-1]
    return {"verdict": "wrong", "score": 0, "reason": err[:500]}


def main():
    for line in sys.stdin:
        try:
            reply = grade(json.loads(line))
        except Exception as e:  # a bug here must not look like the candidate's fault
            reply = {"verdict": "error", "reason": "checker failed: %r" % e}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
