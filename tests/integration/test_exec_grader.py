"""Exec graders (docs/GRADERS.md) in real runs.

1. One run with eight exec graders the test writes as scripts: one answers correct, one
   wrong (with a score and a reason), one sleeps past timeout_ms, one exits, one kills itself, one
   prints garbage, one prints a 100 KB line, one never reads its stdin (one case's request is
   over 100 KB, more than a pipe holds). Every case has its verdict or its grader error with the
   reason in results.jsonl, the report counts them per grader, the workers never died (no
   restart in the log) and no case went missing; the report rebuilt from Redis is the one the run
   folded, byte for byte.
2. A worker started by hand without --allow-exec refuses the spec (exit 3, the flag named).
3. HumanEval style, end to end: configs/graders/humaneval.yaml as shipped (sim's correct answers
   pass, its wrong ones fail), then the same checker over solutions that fail an assert and loop
   forever.
4. configs/graders/tolerance.yaml, the shell example, agrees with the built-in numeric grader
   wherever the answer is exact."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import rslib  # noqa: E402
from test_report_fold import assert_rebuilt_same  # noqa: E402

PY = "#!/usr/bin/env python3\nimport sys\nfor line in sys.stdin:\n    %s\n    sys.stdout.flush()\n"
# A shell's `read` takes a pipe one byte at a time (slow for the 200 KB case): the graders that
# answer read with Python, the others read a byte or nothing.
GRADERS = {
    "right": PY % "print('{\"verdict\": \"correct\", \"reason\": \"fine\"}')",
    "wrong": PY % "print('{\"verdict\":\"wrong\",\"score\":0.25,\"reason\":\"meh\"}')",
    "sleeper": "#!/bin/sh\nhead -c 1 >/dev/null; exec sleep 60",
    "exits": "#!/bin/sh\nhead -c 1 >/dev/null; exit 1",
    "killed": "#!/bin/sh\nhead -c 1 >/dev/null; kill -9 $$",
    "garbage": PY % "print('I think it is right')",
    "huge": PY % "print('x' * 100000)",
    "deaf": "#!/bin/sh\nexec sleep 60",
}
ERRORS = {"sleeper": "timeout", "exits": "crashed", "killed": "crashed", "garbage": "bad_reply",
          "huge": "reply_too_large", "deaf": "timeout"}
TIMEOUT_MS = {"sleeper": 700, "deaf": 700}  # the others must never time out
N = 6

CONFIG = """
run: {name: exec, seed: 1}
dataset: {path: cases.jsonl}
models:
  - {name: sim, provider: sim, model: sim-1, params: {accuracy: 1}}
scoring:
  graders:
    - exact
%s
cluster: {workers: 2, worker_slots: 4}
report: {formats: [json, markdown, html, jsonl]}
"""


def grader_yaml(sb, name, body):
    path = sb.write(name + ".sh", body + "\n")
    os.chmod(path, 0o755)
    return ("    - {name: %s, type: exec, command: [./%s.sh], concurrency: 2, timeout_ms: %d}"
            % (name, name, TIMEOUT_MS.get(name, 60000)))


def write_cases(sb, n, big=None):
    lines = []
    for i in range(n):
        q = "What is %d + 1?" % i
        if big is not None and i == big:
            q += " " + "padding " * 13000  # the request passes 100 KB: a pipe holds 64 KiB
        lines.append(json.dumps({"id": "c%d" % i, "question": q, "answer": str(i + 1)}))
    sb.write("cases.jsonl", "\n".join(lines) + "\n")


def run_ok(sb, cfg, *extra):
    r = sb.run([rslib.REASONSAVER, "run", cfg, "--out", sb.path("runs")] + list(extra), check=0)
    return r, rslib.run_dir_from_output(r.stdout, sb.dir)


def misbehaving_graders():
    with rslib.Sandbox() as sb:
        write_cases(sb, N, big=2)
        cfg = sb.write("exec.yaml", CONFIG % "\n".join(
            grader_yaml(sb, n, b) for n, b in GRADERS.items()))
        r, run_dir = run_ok(sb, cfg)
        assert "restarting it" not in r.stderr and "exited unexpectedly" not in r.stderr, r.stderr
        recs = rslib.read_jsonl(os.path.join(run_dir, "results.jsonl"))
        assert sorted(x["id"] for x in recs) == ["c%d" % i for i in range(N)], recs
        for rec in recs:
            cand = rec["models"][0]["candidates"][0]
            grades, details = cand["grades"], cand["grade_details"]
            assert grades["exact"] == "correct", rec
            assert "exact" not in details, details
            assert grades["right"] == "correct", cand
            assert details["right"] == {"score": 1.0, "reason": "fine", "error_type": None,
                                        "latency_ms": details["right"]["latency_ms"]}, details
            assert grades["wrong"] == "wrong" and details["wrong"]["score"] == 0.25, details
            assert details["wrong"]["reason"] == "meh", details
            for name, etype in ERRORS.items():
                assert grades[name] == "error", (name, cand)
                assert details[name]["error_type"] == etype, (name, details[name])
                assert details[name]["score"] is None, details[name]
            assert "no reply within 700 ms" in details["sleeper"]["reason"], details
            assert "exited with status 1" in details["exits"]["reason"], details
            assert "killed by signal 9" in details["killed"]["reason"], details
            assert "I think it is right" in details["garbage"]["reason"], details
            assert "65536" in details["huge"]["reason"], details
        big = [x for x in recs if x["id"] == "c2"][0]["models"][0]["candidates"][0]
        assert "does it read it?" in big["grade_details"]["deaf"]["reason"], big
        rep = rslib.load_report(run_dir)
        assert rep["dataset"]["missing_results"] == 0, rep["dataset"]
        graders = {g["name"]: g for g in rep["models"][0]["graders"]}
        assert graders["right"]["type"] == "exec", graders["right"]
        assert (graders["right"]["correct"], graders["right"]["error"]) == (N, 0), graders
        assert (graders["wrong"]["wrong"], graders["wrong"]["error"]) == (N, 0), graders
        for name in ERRORS:
            assert graders[name]["error"] == N and graders[name]["correct"] == 0, graders[name]
        for name in ERRORS:
            assert graders[name]["errors_by_reason"] == {ERRORS[name]: N}, graders[name]
            assert graders[name]["score_mean"] is None, graders[name]
        assert graders["wrong"]["score_mean"] == 0.25 and graders["right"]["score_mean"] == 1
        assert "exact" in graders and "score_mean" not in graders["exact"], graders["exact"]
        md = open(os.path.join(run_dir, "report.md")).read()
        assert "### Exec graders" in md and "reply\\_too\\_large 6" in md, md[:3000]
        page = open(os.path.join(run_dir, "report.html")).read()
        exec_part = page[page.index('id="table-exec"'):]
        assert "reply_too_large" in exec_part[:exec_part.index("</table>")], exec_part[:3000]
        # the report folded during the run is the one rebuilt from Redis, byte for byte
        assert_rebuilt_same(sb, "runs", run_dir)


def refused_without_allow_exec():
    with rslib.Sandbox() as sb:
        write_cases(sb, 2)
        cfg = sb.write("exec.yaml", (CONFIG % grader_yaml(sb, "right", GRADERS["right"]))
                       .replace("workers: 2", "workers: 0, bind: \"tcp://127.0.0.1:%d\"" %
                                rslib.free_port()))
        port = int(open(cfg).read().split("tcp://127.0.0.1:")[1].split('"')[0])
        coord = sb.spawn([rslib.REASONSAVER, "run", cfg, "--out", sb.path("runs")],
                         stdout=open(sb.path("coord.out"), "w"),
                         stderr=open(sb.path("coord.err"), "w"))
        w = sb.run([rslib.WORKER, "--connect", "tcp://127.0.0.1:%d" % port], timeout=60)
        assert w.returncode == 3, (w.returncode, w.stderr)
        assert "--allow-exec" in w.stderr and "exec grader 'right'" in w.stderr, w.stderr
        coord.kill()


def humaneval():
    example = os.path.join(rslib.SRC, "configs", "graders")
    with rslib.Sandbox() as sb:
        # as shipped: sim's right answers are its targets, its wrong ones "not <target>"
        r, run_dir = run_ok(sb, os.path.join(example, "humaneval.yaml"))
        recs = rslib.read_jsonl(os.path.join(run_dir, "results.jsonl"))
        cases = [json.loads(x) for x in open(os.path.join(example, "humaneval.jsonl"))]
        assert len(recs) == len(cases)
        verdicts = set()
        for rec in recs:
            cand = rec["models"][0]["candidates"][0]
            right = cand["extracted"] == rec["targets"][0]
            want = "correct" if right else "wrong"
            assert cand["grades"]["tests"] == want, cand
            reason = cand["grade_details"]["tests"]["reason"]
            assert reason == ("2 asserts passed" if right else "SyntaxError: invalid syntax"), cand
            verdicts.add(want)
        assert verdicts == {"correct", "wrong"}, verdicts  # the example shows both
        rep = rslib.load_report(run_dir)
        g = rep["models"][0]["graders"][0]
        assert (g["name"], g["correct"] + g["wrong"], g["error"]) == ("tests", len(cases), 0), g

        # solutions that fail an assert and loop forever: the checker's subprocess timeout
        lines = [
            ("ok", "Write sq.\nassert sq(3) == 9", "def sq(x): return x * x"),
            ("bug", "Write sq.\nassert sq(3) == 9", "def sq(x): return x + x"),
            ("loop", "Write f.\nassert f(1) == 1", "def f(x): return [0 for _ in iter(int, 1)]"),
        ]
        sb.write("he.jsonl", "".join(json.dumps({"id": i, "question": q, "answer": a}) + "\n"
                                     for i, q, a in lines))
        cfg = sb.write("he.yaml", """
run: {name: he}
dataset: {path: he.jsonl}
models: [{name: coder, provider: sim, model: sim-1, params: {accuracy: 1}}]
scoring:
  extractor: hashes
  graders:
    - {name: tests, type: exec, command: [%s, --timeout, "1"], timeout_ms: 30000}
cluster: {workers: 1}
report: {formats: [json, jsonl]}
""" % os.path.join(example, "humaneval_check.py"))
        r, run_dir = run_ok(sb, cfg)
        got = {x["id"]: x["models"][0]["candidates"][0] for x in
               rslib.read_jsonl(os.path.join(run_dir, "results.jsonl"))}
        assert got["ok"]["grades"]["tests"] == "correct", got["ok"]
        assert got["bug"]["grades"]["tests"] == "wrong", got["bug"]
        assert got["bug"]["grade_details"]["tests"]["reason"] == "AssertionError", got["bug"]
        assert got["loop"]["grades"]["tests"] == "wrong", got["loop"]
        assert "timed out after 1s" in got["loop"]["grade_details"]["tests"]["reason"], got["loop"]


def tolerance():
    example = os.path.join(rslib.SRC, "configs", "graders", "tolerance.yaml")
    with rslib.Sandbox() as sb:
        r, run_dir = run_ok(sb, example)
        recs = rslib.read_jsonl(os.path.join(run_dir, "results.jsonl"))
        assert len(recs) == 100
        for rec in recs:
            cand = rec["models"][0]["candidates"][0]
            g = cand["grades"]
            if g["numeric"] == "correct":
                assert g["within-1pct"] == "correct", cand
                assert cand["grade_details"]["within-1pct"]["score"] == 1, cand
            else:
                want = float(rec["targets"][0])
                close = abs(float(cand["extracted"]) - want) <= 0.01 * max(1, abs(want))
                assert g["within-1pct"] == ("correct" if close else "wrong"), cand


def main():
    misbehaving_graders()
    refused_without_allow_exec()
    humaneval()
    tolerance()
    print("ok")


if __name__ == "__main__":
    main()
