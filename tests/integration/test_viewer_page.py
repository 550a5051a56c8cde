"""The viewer's page (`reasonsaver serve`, docs/VIEWER.md) in headless Chromium, against the API:

1. `/` is the page of coordinator/viewer/index.html, byte for byte.
2. Over a 100,000-case run of two sim models (a few cases with hostile text: script tags, a
   100 KB line, right-to-left marks), the page's views, each opened by its URL hash and read back
   from the DOM Chromium dumps once the page has rendered:
   - the runs list: the run's row, its status, counts and per-model accuracy as /api/runs has them;
   - the table filtered to one model's wrong answers: the rows (case idx, verdict, answer) and
     every filter count are those of /api/runs/ID/cases for the same filter; its Next link pages
     through the same snapshot (as_of) and gives the API's second page;
   - a case of that filter and the case its Next link leads to: id, every model's candidates,
     answers and verdicts, and the prev/next links equal /api/runs/ID/cases/IDX's;
   - hostile text arrives as text: no injected element, the prompt's 100 KB line whole;
   - two models of the run compared: the McNemar table and the disagreeing cases (with their
     links to the case view) as /api/compare has them.
   Screenshots of each view are saved in the sandbox (RS_KEEP_TMP=1 keeps them)."""
import json
import os
import sys
import urllib.parse

sys.path.insert(0, os.path.dirname(__file__))
import rslib  # noqa: E402
from test_html_report import Dom  # noqa: E402
from test_viewer_api import OPENER, api, start_serve  # noqa: E402

R = rslib.REASONSAVER
CASES = 100000
# Text that would inject elements if the page wrote it as HTML; a mark that reorders what follows.
HOSTILE = ('<script>document.title="pwned"</script><img src=x id="pwned-img" onerror="x()">'
           '<b id="pwned-b">bold</b> \u202e\u0645\u0631\u062d\u0628\u0627\u202c \ufffd ')
HOSTILE_TAG = '<i id="pwned-tag">tag</i>&amp;'
LONG = "y" * 100000
HOSTILE_EVERY = 9973
SIZE = (1280, 1600)

CONFIG = """
run: {name: viewer-page, seed: 3}
dataset: {path: cases.jsonl, fields: {input: question, target: answer, id: id, tags: tags}}
models:
  - {name: strong, provider: sim, model: sim-1, params: {accuracy: 0.8}}
  - {name: weak, provider: sim, model: sim-1, params: {accuracy: 0.45, error_rate: 0.02}}
scoring: {graders: [exact]}
cluster: {workers: 2}
report: {formats: [json, html, jsonl], spans: false}
"""


def make_run(sb):
    """The 100,000 generated cases, every HOSTILE_EVERY-th with hostile text (the first of them with
    a 100 KB line too) and a hostile tag; returns the run's id."""
    sb.run([R, "datasets", "gen", "arithmetic", "--n", str(CASES), "--seed", "5", "--out",
            sb.path("gen.jsonl")], check=0)
    with open(sb.path("gen.jsonl")) as f, open(sb.path("cases.jsonl"), "w") as out:
        for i, line in enumerate(f):
            c = json.loads(line)
            if i % HOSTILE_EVERY == 3:
                c["question"] += " " + HOSTILE + (LONG if i == 3 else "")
                c["tags"] = c.get("tags", []) + [HOSTILE_TAG]
            out.write(json.dumps(c) + "\n")
    sb.write("viewer.yaml", CONFIG)
    r = sb.run([R, "run", sb.path("viewer.yaml"), "--out", sb.path("runs")], check=0, timeout=280)
    run_dir = rslib.run_dir_from_output(r.stdout, sb.dir)
    return rslib.load_report(run_dir)["run_id"]


def page_url(port, fragment):
    return "http://127.0.0.1:%d/%s" % (port, fragment)


def browse(sb, port, views):
    """Dumps the DOM of each {name: hash} view and screenshots it, a few Chromium at a time;
    virtual time waits for the page's fetches, so the dump is of the rendered view. Returns
    {name: Dom}; a view that did not render fails here with the page's error line."""
    doms = {}
    for name, fragment in views.items():
        shot = sb.path("viewer-%s.png" % name)
        budget = "--virtual-time-budget=15000"
        procs = [rslib.chromium(sb, name + "-dom", budget, "--dump-dom", page_url(port, fragment)),
                 rslib.chromium_screenshot(sb, name + "-shot", page_url(port, fragment), shot, SIZE,
                                           budget)]
        dom = Tree(rslib.chromium_finish(procs[0], "dump-dom of " + name))
        rslib.chromium_finish(procs[1], "screenshot of " + name)
        main = dom.one("main", id="view")
        errors = dom.find(id="error")
        assert main["attrs"].get("data-state") == "ready", (
            name, fragment, main["attrs"], errors[0]["text"] if errors else "")
        rslib.check_screenshot(shot, SIZE, 10000, say=False)
        doms[name] = dom
    return doms


def text_of(el):
    return el["text"].strip()


def number(el):
    """A count as the page shows it (1,234) and as its data-n holds it; both must agree."""
    shown = int(text_of(el).replace(",", ""))
    assert shown == int(el["attrs"]["data-n"]), (el["text"], el["attrs"])
    return shown


def check_page_bytes(port):
    with OPENER.open("http://127.0.0.1:%d/" % port, timeout=60) as r:
        status, ctype, body = r.status, r.headers["Content-Type"], r.read()
    assert status == 200 and ctype.startswith("text/html"), (status, ctype)
    with open(os.path.join(rslib.SRC, "coordinator", "viewer", "index.html"), "rb") as f:
        assert body == f.read(), "/ is not coordinator/viewer/index.html"


def check_runs(dom, port, run_id):
    want = next(r for r in api(port, "/api/runs")["runs"] if r["run_id"] == run_id)
    row = dom.one("tr", within="run-list", data_run=run_id)
    assert row["attrs"]["data-status"] == want["status"] == "finished", row["attrs"]
    for f in ("done", "total", "failed"):
        assert int(row["attrs"]["data-" + f]) == want[f], (f, row["attrs"], want)
    assert want["done"] == want["total"] == CASES, want
    cells = {e["attrs"]["data-model"]: e for e in inside(dom, row, class_="acc")}
    assert sorted(cells) == sorted(want["accuracy"]), (sorted(cells), want["accuracy"])
    for m, acc in want["accuracy"].items():
        assert "%.1f%%" % (100 * acc) in cells[m]["text"], (m, cells[m]["text"], acc)
    links = dom.find("a", within="run-list", **{"class": "report-link"})
    assert [a["attrs"]["href"] for a in links] == ["/runs/%s/report.html" % run_id], links


def check_table(dom, d, model):
    """The table's rows and filter counts against one /cases response."""
    rows = dom.find("tr", within="cases-table")
    rows = [r for r in rows if "data-idx" in r["attrs"]]
    assert [int(r["attrs"]["data-idx"]) for r in rows] == [c["idx"] for c in d["cases"]], (
        [r["attrs"]["data-idx"] for r in rows][:10], [c["idx"] for c in d["cases"]][:10])
    for c in d["cases"]:
        row = dom.one("tr", within="cases-table", data_idx=str(c["idx"]))
        assert row["attrs"]["data-id"] == c["id"], (row["attrs"], c["id"])
        for m, got in c["models"].items():
            cell = [e for e in inside(dom, row, data_model=m) if e["tag"] == "td"]
            assert len(cell) == 1, (c["idx"], m, len(cell))
            verdict = inside(dom, cell[0], class_="verdict")
            assert [v["attrs"]["data-verdict"] for v in verdict] == [got["verdict"]], (c["idx"], m)
            answer = inside(dom, cell[0], data_field="extracted")
            want = "–" if got["extracted"] is None else got["extracted"]
            assert [e["text"] for e in answer] == [want], (c["idx"], m, answer, want)
        assert c["models"][model]["verdict"] == "wrong", c
    assert number(dom.one(id="total")) == d["total"]
    counts = d["counts"]
    for v, n in counts["verdict"].items():
        assert number(dom.one(id="count-verdict-" + v)) == n, (v, n)
    for v, n in counts["flipped"].items():
        assert number(dom.one(id="count-flipped-" + v)) == n, (v, n)
    assert number(dom.one(id="count-disagree")) == counts["disagree"]
    for key in ("tag", "reason"):
        opts = [o for o in dom.find("option", within="filter-" + key) if o["attrs"].get("data-value")]
        assert opts, "no %s options" % key
        shown = {o["attrs"]["data-value"]: int(o["attrs"]["data-n"]) for o in opts}
        assert {k: v for k, v in shown.items() if v} == counts[key], (key, shown, counts[key])
        for o in opts:
            assert o["text"].endswith("(%s)" % "{:,}".format(int(o["attrs"]["data-n"]))), o
    chosen = [o["attrs"]["value"] for o in dom.find("option", within="filter-model")
              if "selected" in o["attrs"]]
    assert chosen == [model], chosen
    current = [a["attrs"]["data-value"] for a in dom.find("a", within="filter-verdict")
               if a["attrs"].get("aria-current") == "true"]
    assert current == ["wrong"], current


class Tree(Dom):
    """Dom with each element's enclosing elements, so that what sits in a row or a column can be
    asked for."""

    def handle_starttag(self, tag, attrs):
        parents = list(self.stack)
        super().handle_starttag(tag, attrs)
        self.elements[-1]["parents"] = parents


def inside(dom, el, **attrs):
    """The elements within el that have the given attribute values (class_="x" means class)."""
    want = {k.rstrip("_").replace("_", "-"): v for k, v in attrs.items()}
    return [e for e in dom.elements if any(p is el for p in e["parents"])
            and all(e["attrs"].get(k) == v for k, v in want.items())]


def check_case(dom, c):
    """A case view against /api/runs/ID/cases/IDX."""
    view = dom.one("div", id="case-view")
    assert int(view["attrs"]["data-idx"]) == c["idx"], (view["attrs"], c["idx"])
    assert text_of(dom.one(id="case-id")) == c["id"]
    rec = c["record"]
    cols = dom.find("div", within="case-models", **{"class": "model-col"})
    assert [e["attrs"]["data-model"] for e in cols] == [m["model"] for m in rec["models"]], cols
    for col, m in zip(cols, rec["models"]):
        cands = inside(dom, col, class_="candidate")
        assert len(cands) == len(m["candidates"]), (m["model"], len(cands))
        for el, cand in zip(cands, m["candidates"]):
            sub = inside(dom, el)
            answers = [e["text"] for e in sub if e["attrs"].get("data-field") == "extracted"]
            want = "–" if cand["extracted"] is None else cand["extracted"]
            assert answers[:1] == [want], (m["model"], answers, want)
            # The candidate's own verdicts: the first set (its critiques and revisions follow).
            own = inside(dom, el, class_="grades")[0]
            verdicts = {e["attrs"]["data-grader"]: e["attrs"]["data-verdict"]
                        for e in inside(dom, own, class_="verdict")}
            assert verdicts == cand["grades"], (m["model"], verdicts, cand["grades"])
            outputs = [e["text"] for e in sub if e["attrs"].get("data-field") == "output"]
            assert outputs[:1] == [cand["output"] or ""], (m["model"], outputs[:1])
        if m.get("error_type"):
            errs = inside(dom, col, data_field="error_type")
            assert errs and errs[0]["text"] == m["error_type"], (m["model"], errs)
    for side in ("prev", "next"):
        link = dom.one("a", id=side + "-case")
        if c[side] is None:
            assert "href" not in link["attrs"], link["attrs"]
        else:
            assert int(link["attrs"]["data-idx"]) == c[side], (side, link["attrs"], c[side])
            path = link["attrs"]["href"].split("?")[0]
            assert path.endswith("/case/%d" % c[side]), link["attrs"]["href"]
    msgs = dom.find("div", within="case-prompt", **{"class": "msg"})
    assert [m["attrs"]["data-role"] for m in msgs] == [m["role"] for m in c["prompt"]], msgs
    contents = [e["text"] for e in dom.find("pre", within="case-prompt", data_field="content")]
    assert contents == [m["content"] for m in c["prompt"]], "the prompt differs"


def check_compare(dom, d, run_id):
    """Two models of the run: the McNemar table and the disagreeing cases' links."""
    for key in ("both_correct", "only_a", "only_b", "both_wrong", "pairs", "total"):
        assert number(dom.one(id=key.replace("_", "-"))) == d[key], key
    assert d["pairs"] <= CASES and d["only_a"] + d["only_b"] == d["total"], d
    rows = [r for r in dom.find("tr", within="compare-table") if "data-a-idx" in r["attrs"]]
    assert [(r["attrs"].get("data-id"), int(r["attrs"]["data-a-idx"]), int(r["attrs"]["data-b-idx"]))
            for r in rows] == [(c.get("id"), c["a_idx"], c["b_idx"]) for c in d["cases"]], rows[:3]
    for row, c in zip(rows, d["cases"]):
        got = [v["attrs"]["data-verdict"] for v in inside(dom, row, class_="verdict")]
        assert got == [c["a"], c["b"]], (c, got)
        link = inside(dom, row, class_="case-a")[0]["attrs"]["href"]
        assert link == "#/run/%s/case/%d?model=strong" % (run_id, c["a_idx"]), link


def check_no_injection(dom):
    for pwned in ("pwned-img", "pwned-b", "pwned-tag"):
        assert not dom.find(id=pwned), pwned + " was injected"
    assert not dom.find("img") and not dom.find("b", id="pwned-b") and not dom.find("i")
    assert len(dom.find("script")) == 1, "a script element was injected"
    assert dom.one("title")["text"] == "reasonsaver viewer"


def hash_of(href):
    assert href.startswith("#/"), href
    return href


def main():
    if not rslib.CHROMIUM:
        rslib.skip("chromium not installed (apt-get install -y chromium)")
    if not os.path.isfile(R):
        rslib.skip("no reasonsaver binary at " + R)
    with rslib.Sandbox() as sb:
        run_id = make_run(sb)
        port = start_serve(sb, "runs")
        rslib.wait_for(lambda: api(port, "/api/runs/%s" % run_id)["indexed"] >= CASES, 120,
                       "the run indexed")
        check_page_bytes(port)
        model = "weak"
        filt = {"model": model, "verdict": "wrong"}
        query = urllib.parse.urlencode(filt)
        table = api(port, "/api/runs/%s/cases?%s" % (run_id, query))
        assert table["total"] > 50 and table["cases"], table["total"]
        first = table["cases"][0]["idx"]
        case = api(port, "/api/runs/%s/cases/%d?%s" % (run_id, first, query))
        hostile_idx = 3
        hostile_q = urllib.parse.urlencode({"q": "<script>document.title"})
        found = api(port, "/api/runs/%s/cases?%s" % (run_id, hostile_q))
        assert found["total"] == len(range(3, CASES, HOSTILE_EVERY)), found["total"]
        doms = browse(sb, port, {
            "runs": "#/",
            "table": "#/run/%s?%s" % (run_id, query),
            "case": "#/run/%s/case/%d?%s" % (run_id, first, query),
            "hostile": "#/run/%s/case/%d" % (run_id, hostile_idx),
            "search": "#/run/%s?%s" % (run_id, hostile_q),
            "compare": "#/compare?a=%s&b=%s&model_a=strong&model_b=weak" % (run_id, run_id)})
        check_runs(doms["runs"], port, run_id)
        check_table(doms["table"], table, model)
        check_case(doms["case"], case)
        hostile = api(port, "/api/runs/%s/cases/%d" % (run_id, hostile_idx))
        assert LONG in hostile["prompt"][-1]["content"] and HOSTILE in hostile["prompt"][-1]["content"]
        check_no_injection(doms["hostile"])
        check_case(doms["hostile"], hostile)
        check_no_injection(doms["search"])
        rows = [r for r in doms["search"].find("tr", within="cases-table") if "data-idx" in r["attrs"]]
        assert [int(r["attrs"]["data-idx"]) for r in rows] == [c["idx"] for c in found["cases"]]
        assert HOSTILE_TAG in doms["search"].one("tr", data_idx=str(hostile_idx))["text"]

        check_compare(doms["compare"], api(port, "/api/compare?a=%s&b=%s&model_a=strong&model_b=weak"
                                          % (run_id, run_id)), run_id)

        # The next case of the filter and the table's next page, by the links the page drew.
        nxt = doms["case"].one("a", id="next-case")["attrs"]
        page2 = doms["table"].one("a", id="next-page")["attrs"]["href"]
        params = dict(urllib.parse.parse_qsl(page2.split("?", 1)[1]))
        assert params["as_of"] == str(table["as_of"]) and params["offset"] == "50", params
        more = browse(sb, port, {"next": hash_of(nxt["href"]), "page2": hash_of(page2)})
        after = api(port, "/api/runs/%s/cases/%s?%s" % (run_id, nxt["data-idx"], query))
        assert after["prev"] == first, (after["prev"], first)
        check_case(more["next"], after)
        second = api(port, "/api/runs/%s/cases?%s&offset=50&as_of=%d" % (run_id, query, table["as_of"]))
        check_table(more["page2"], second, model)
        print("screenshots: %s%s" % (sb.path("viewer-*.png"), "" if os.environ.get("RS_KEEP_TMP")
                                     else "; set RS_KEEP_TMP=1 to keep them"))
    print("ok: viewer_page")


if __name__ == "__main__":
    main()
