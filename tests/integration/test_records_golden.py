"""A run stored by an earlier version (tests/data/golden-run: the demo config on 12 cases, its
embedded Redis's AOF, made by reasonsaver at commit 3e993fc; its dataset path, /tmp/gold/cases.jsonl
then, was rewritten in place to the relative gold-data/cases.jsonl of the same length, so that it reads
on any machine: the first 12 lines of datasets/demo.jsonl) reads back exactly as that version showed it: `trace` of every case, `export --jsonl` and results.jsonl are byte for byte the golden
copies made then. Whatever the way records are stored and read changes to, what a user sees of
a stored run does not."""
import hashlib
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(__file__))
import rslib  # noqa: E402

GOLDEN = os.path.join(os.path.dirname(__file__), "..", "data", "golden-run")
DEMO = os.path.join(os.path.dirname(__file__), "..", "..", "datasets", "demo.jsonl")
DATASET_SHA256 = "2ed99143aec02e297173d5c4c4ae6d1270893c2d0f0829deb7ad853e0ee39fda"


def read(path):
    with open(path, "rb") as f:
        return f.read()


def first_difference(a, b):
    for i in range(min(len(a), len(b))):
        if a[i] != b[i]:
            return i
    return min(len(a), len(b))


def assert_same(name, got, want):
    if got != want:
        at = first_difference(got, want)
        raise AssertionError("%s differs from the golden copy at byte %d:\ngot:    %r\ngolden: %r"
                             % (name, at, got[max(0, at - 80):at + 80],
                                want[max(0, at - 80):at + 80]))


def main():
    with rslib.Sandbox() as sb:
        run_id = read(os.path.join(GOLDEN, "RUN_ID")).decode().strip()
        run_dir = sb.path("runs", run_id)
        os.makedirs(run_dir)
        shutil.copytree(os.path.join(GOLDEN, "appendonlydir"), os.path.join(run_dir, "appendonlydir"))
        shutil.copy(os.path.join(GOLDEN, "run.json"), run_dir)
        # the run's dataset, relative to the commands' working directory (the sandbox)
        with open(DEMO, "rb") as f:
            cases = b"".join(f.readlines()[:12])
        assert hashlib.sha256(cases).hexdigest() == DATASET_SHA256, "datasets/demo.jsonl changed"
        os.makedirs(sb.path("gold-data"))
        with open(sb.path("gold-data", "cases.jsonl"), "wb") as f:
            f.write(cases)
        traces = b""
        for i in range(12):
            r = sb.run([rslib.REASONSAVER, "trace", run_id, str(i), "--index", "--full", "--out",
                        sb.path("runs")], check=0)
            traces += (r.stdout + r.stderr).encode()
        assert_same("trace", traces, read(os.path.join(GOLDEN, "trace.txt")))
        sb.run([rslib.REASONSAVER, "export", run_id, "--jsonl", sb.path("export.jsonl"), "--out",
                sb.path("runs")], check=0)
        assert_same("export --jsonl", read(sb.path("export.jsonl")),
                    read(os.path.join(GOLDEN, "export.jsonl")))
        sb.run([rslib.REASONSAVER, "report", run_id, "--out", sb.path("runs")], check=0)
        assert_same("results.jsonl", read(os.path.join(run_dir, "results.jsonl")),
                    read(os.path.join(GOLDEN, "results.jsonl")))
        rep = rslib.load_report(run_dir)
        assert rep["dataset"]["cases"] == 12 and rep["dataset"]["missing_results"] == 0, rep["dataset"]
        print("ok: trace, export and results.jsonl of a stored run equal the golden copies")


if __name__ == "__main__":
    main()
