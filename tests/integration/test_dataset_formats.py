"""The same 50 cases from every dataset format give the same run: JSONL, CSV (a BOM, CRLF, quotes
and newlines inside fields), TSV, a JSON array, .jsonl.gz, .csv.zst and a Hugging Face folder
whose shards mix formats. results.jsonl's answers and the report's counts are identical; `datasets
check` counts bad records and names the first with its line and column; `datasets convert` turns
the CSV into JSONL that runs the same again."""
import csv
import gzip
import io
import json
import os
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
import rslib  # noqa: E402

R = rslib.REASONSAVER
CONFIG = """
run: {name: formats, seed: 3}
dataset:
  path: %(dataset)s
  shard_size: 8
models:
  - {name: strong, provider: sim, model: sim-1, params: {accuracy: 0.8}}
  - {name: weak, provider: sim, model: sim-1, params: {accuracy: 0.4, seed: 9}}
scoring:
  graders: [exact, {name: num, type: numeric, tolerance: 0.5}]
cluster: {workers: 2}
report: {formats: [json, jsonl]}
"""


def cases():
    """The first 50 demo cases without tags (a CSV cell holds one string), some made hostile."""
    out = []
    for i, c in enumerate(rslib.read_jsonl(os.path.join(rslib.SRC, "datasets", "demo.jsonl"))[:50]):
        q = c["question"]
        if i % 3 == 0:
            q += ' She said "done, really"\r\nthen,\tleft.'
        if i % 7 == 0:
            q = '"' + q + '" ""'
        out.append({"id": c["id"], "question": q, "answer": str(c["answer"])})
    return out


def to_csv(rows, delim):
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=["id", "question", "answer"], delimiter=delim,
                       lineterminator="\r\n" if delim == "," else "\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue()


def write_formats(sb, rows):
    """Every format's file (or folder): name -> path."""
    jsonl = "".join(json.dumps(r) + "\n" for r in rows)
    paths = {
        "jsonl": sb.write("d.jsonl", jsonl),
        "tsv": sb.write("d.tsv", to_csv(rows, "\t")),
        "json": sb.write("d.json", json.dumps(rows, indent=2)),
    }
    paths["csv"] = sb.path("d.csv")
    with open(paths["csv"], "w", encoding="utf-8-sig", newline="") as f:  # with a BOM
        f.write(to_csv(rows, ","))
    paths["jsonl.gz"] = sb.path("d.jsonl.gz")
    with gzip.open(paths["jsonl.gz"], "wt") as f:
        f.write(jsonl)
    subprocess.run(["zstd", "-q", "-f", paths["csv"], "-o", sb.path("d.csv.zst")], check=True)
    paths["csv.zst"] = sb.path("d.csv.zst")
    hf = sb.path("hf")
    os.makedirs(os.path.join(hf, "data"))
    with open(os.path.join(hf, "dataset_info.json"), "w") as f:
        json.dump({"splits": {"test": {"name": "test", "num_examples": len(rows)}}}, f)
    with open(os.path.join(hf, "data", "test-00000-of-00002.jsonl"), "w") as f:
        f.write("".join(json.dumps(r) + "\n" for r in rows[:20]))
    with gzip.open(os.path.join(hf, "data", "test-00001-of-00002.csv.gz"), "wt", newline="") as f:
        f.write(to_csv(rows[20:], ","))
    paths["hf"] = hf
    return paths


def run(sb, url, dataset, name):
    cfg = sb.write("%s.yaml" % name.replace(".", "_"), CONFIG % {"dataset": dataset})
    r = sb.run([R, "run", cfg, "--redis", url, "--out", sb.path("runs-" + name)], check=0)
    run_dir = rslib.run_dir_from_output(r.stdout, cwd=sb.dir)
    rep = rslib.load_report(run_dir)
    answers = [(x["idx"], x["id"], [[c.get("output") for c in m["candidates"]]
                                    for m in x["models"]])
               for x in rslib.read_jsonl(os.path.join(run_dir, "results.jsonl"))]
    counts = [(m["name"], [(g["name"], g["correct"], g["wrong"], g["error"], g["accuracy"])
                           for g in m["graders"]]) for m in rep["models"]]
    return answers, counts, rep


def check_cli(sb):
    """datasets check: counts per file, the first bad record with line and column; exit 2 when
    on_error is fail. A truncated gzip is one clear error naming the file."""
    bad = sb.write("bad.csv", 'id,question,answer\r\na,"q ""1""",1\r\nb,q2,2,extra\r\n'
                              'c,"multi\r\nline",3\r\nd,say "x",4\r\n')
    r = sb.run([R, "datasets", "check", bad], check=2)
    assert "2 cases, 2 lines skipped" in r.stdout, r.stdout
    assert "bad.csv: csv, 2 cases, 2 bad" in r.stdout, r.stdout
    assert "first bad record: %s:3:8: 4 fields, the header has 3" % bad in r.stdout, r.stdout
    assert "skipped: %s:6:7: a quote inside an unquoted field" % bad in r.stdout, r.stdout
    assert "on_error: fail" in r.stderr, r.stderr
    sb.run([R, "datasets", "check", bad, "--set", "dataset.on_error=skip"], check=0)
    data = open(sb.path("d.jsonl.gz"), "rb").read()
    with open(sb.path("cut.jsonl.gz"), "wb") as f:
        f.write(data[:-12])
    r = sb.run([R, "datasets", "check", sb.path("cut.jsonl.gz")], check=2)
    assert "cut.jsonl.gz: truncated gzip stream" in r.stderr, r.stderr
    r = sb.run([R, "datasets", "check", sb.path("hf")], check=0)
    assert "split: test" in r.stdout and "test-00001-of-00002.csv.gz: csv + gzip, 30 cases" \
        in r.stdout, r.stdout
    return bad


def check_skip_counted(sb, url, bad):
    """A run over the bad CSV with on_error: skip runs the good rows and counts the bad ones in
    the report."""
    cfg = sb.write("skip.yaml", (CONFIG % {"dataset": bad}).replace(
        "  shard_size: 8\n", "  shard_size: 8\n  on_error: skip\n"))
    r = sb.run([R, "run", cfg, "--redis", url, "--out", sb.path("runs-skip")], check=0)
    rep = rslib.load_report(rslib.run_dir_from_output(r.stdout, cwd=sb.dir))
    assert rep["dataset"]["cases"] == 2 and rep["dataset"]["skipped_lines"] == 2, rep["dataset"]


def main():
    if not shutil.which("zstd"):
        rslib.skip("zstd (the command) is not installed: apt-get install -y zstd")
    rows = cases()
    with rslib.Sandbox() as sb:
        url = sb.redis()
        paths = write_formats(sb, rows)
        want_answers, want_counts, rep = run(sb, url, paths["jsonl"], "jsonl")
        assert rep["dataset"]["cases"] == 50 and len(want_answers) == 50, rep["dataset"]
        assert [a[1] for a in want_answers] == [r["id"] for r in rows]
        for name, path in paths.items():
            if name == "jsonl":
                continue
            answers, counts, _ = run(sb, url, path, name)
            assert answers == want_answers, (name, answers[:3], want_answers[:3])
            assert counts == want_counts, (name, counts, want_counts)
            print("ok: %s gives the JSONL run's answers and counts" % name)
        # convert: CSV -> JSONL -> a run with the same answers; the records are the same data.
        out = sb.path("converted.jsonl")
        sb.run([R, "datasets", "convert", paths["csv.zst"], "--out", out], check=0)
        assert rslib.read_jsonl(out) == rows, "convert changed the records"
        answers, counts, _ = run(sb, url, out, "converted")
        assert answers == want_answers and counts == want_counts
        check_skip_counted(sb, url, check_cli(sb))
    print("ok: dataset formats")


if __name__ == "__main__":
    main()
