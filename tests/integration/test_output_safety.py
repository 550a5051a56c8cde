"""Output files and hostile text.

1. `report --to DIR` with links planted in DIR (at the temporary name an older version used,
   results.jsonl.tmp, and at a final name): no link is followed, the files they point to keep
   their bytes, the reports are regular files.
2. A dataset whose prompts, ids and tags hold an escape sequence, CR, a lone 0xff byte, </script>,
   '|', newlines and bidirectional marks: report.md, report.html, results.jsonl, report.json, the
   terminal summary and `trace` hold no raw control or bidirectional character, the Markdown
   tables keep their columns, HTML shows </script> as text, every JSON line parses, and the line
   with invalid UTF-8 is refused by the dataset loader (skipped and counted with on_error: skip).
"""
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(__file__))
import rslib  # noqa: E402

ESC, RLM, RLO = "\x1b", "\u200f", "\u202e"
HOSTILE = ESC + "[31mred" + ESC + "[0m|pipe\r\n<b>x</b></script>" + RLM + RLO + "evil"

CONFIG = """
run: {name: hostile-text, seed: 3}
dataset: {path: cases.jsonl, fields: {input: question, target: answer, id: id, tags: tags},
          on_error: skip}
models: [{name: m, provider: sim, model: sim-1, params: {accuracy: 0.5}}]
cluster: {workers: 1}
report: {formats: [json, markdown, html, jsonl], near_duplicates: true}
"""


def write_dataset(sb):
    lines = []
    for i in range(12):
        lines.append(json.dumps({"id": "case-%d%s" % (i, ESC + "[2J" if i == 3 else ""),
                                 "question": "What is %d + 1? %s" % (i % 2, HOSTILE),
                                 "answer": str(i % 2 + 1),
                                 "tags": ["t|" + ESC + "[1m" + RLO + "%d" % (i % 2)]}).encode())
    lines.append(b'{"id":"bad-utf8","question":"lone \xff byte","answer":"1","tags":[]}')
    with open(sb.path("cases.jsonl"), "wb") as f:
        f.write(b"\n".join(lines) + b"\n")


def assert_clean_text(what, text, allow_newlines=True):
    for bad in (ESC, RLM, RLO, "\r", "\x9b"):
        assert bad not in text, "%s holds %r" % (what, bad)
    if not allow_newlines:
        assert "\n" not in text


def check_hostile_text(sb):
    write_dataset(sb)
    cfg = sb.write("hostile.yaml", CONFIG)
    r = sb.run([rslib.REASONSAVER, "run", cfg, "--out", sb.path("runs")], check=0)
    assert_clean_text("the run's summary", r.stdout)
    run_dir = rslib.run_dir_from_output(r.stdout, sb.dir)
    run_id = os.path.basename(run_dir)
    rep = rslib.load_report(run_dir)
    assert rep["dataset"]["cases"] == 12 and rep["dataset"]["skipped_lines"] == 1, rep["dataset"]
    with open(os.path.join(run_dir, "results.jsonl"), "rb") as f:
        raw = f.read()
    assert b"\x1b" not in raw and b"\r" not in raw  # JSON escapes them as \u001b, \r
    recs = [json.loads(line) for line in raw.decode("utf-8").splitlines()]
    assert len(recs) == 12 and recs[3]["id"] == "case-3" + ESC + "[2J"  # the data itself is kept
    with open(os.path.join(run_dir, "report.md"), encoding="utf-8") as f:
        md = f.read()
    assert_clean_text("report.md", md)
    assert "\u241b" in md, "the escape code is shown as a picture"
    # every row of the By tag table has the header's 8 columns: '|' inside a cell is escaped
    rows = [ln for ln in md.split("\n## By tag")[1].split("\n\n")[1].splitlines()]
    assert len(rows) >= 4, rows
    for ln in rows:
        assert ln.replace("\\|", "").count("|") == 9, ln
    assert "near-duplicate" in md.lower() and "\\<b\\>" in md, md[-1500:]
    with open(os.path.join(run_dir, "report.html"), encoding="utf-8") as f:
        html = f.read()
    assert_clean_text("report.html", html)
    assert "&lt;/script&gt;" in html and "</script>" not in html
    assert "<b>x</b>" not in html
    r = sb.run([rslib.REASONSAVER, "trace", run_id, "case-0", "--full", "--out", sb.path("runs")],
               check=0)
    assert_clean_text("trace", r.stdout)
    assert "[31mred" in r.stdout, r.stdout
    r = sb.run([rslib.REASONSAVER, "trace", run_id, "--index", "3", "--out", sb.path("runs")],
               check=0)
    assert_clean_text("trace", r.stdout)
    print("ok: hostile prompts, ids and tags are escaped in every report format and in trace")
    return run_id


def check_planted_links(sb, run_id):
    to = sb.path("to")
    os.makedirs(to)
    victims = {}
    for name in ("results.jsonl.tmp", "report.json.tmp", "report.md"):
        victim = sb.path("victim-" + name)
        with open(victim, "w") as f:
            f.write("precious " + name)
        os.symlink(victim, os.path.join(to, name))
        victims[victim] = "precious " + name
    r = sb.run([rslib.REASONSAVER, "report", run_id, "--out", sb.path("runs"), "--to", to], check=0)
    for victim, text in victims.items():
        with open(victim) as f:
            assert f.read() == text, "%s was overwritten through a planted link" % victim
    for name in ("results.jsonl", "report.json", "report.md", "report.html"):
        assert os.path.isfile(os.path.join(to, name)) and not os.path.islink(os.path.join(to, name))
    left = sorted(n for n in os.listdir(to) if n.startswith("."))
    assert left == [], left  # no temporary file left behind
    assert len(rslib.read_jsonl(os.path.join(to, "results.jsonl"))) == 12, r.stdout
    print("ok: report --to follows no planted link")


def main():
    with rslib.Sandbox() as sb:
        run_id = check_hostile_text(sb)
        check_planted_links(sb, run_id)


if __name__ == "__main__":
    main()
