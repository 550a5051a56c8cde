"""report.html in a real browser: headless Chromium renders the demo run's page, and its rendered
DOM must show report.json's numbers, the Simulated banner and one chart bar per model and grader; a
screenshot is taken (its path is printed; RS_KEEP_TMP=1 keeps it). A second run with hostile model
and tag names checks that every report string is escaped, as the browser parses it."""
import html.parser
import os
import re
import shutil
import sys

sys.path.insert(0, os.path.dirname(__file__))
import rslib  # noqa: E402

R = rslib.REASONSAVER
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}
# Names a dataset or config could carry that would break the page if written unescaped.
HOSTILE_TAG = "<b id=\"pwned-tag\">x</b>&amp;'\""
HOSTILE_MODEL = "m<i id=pwned-model>'\"&"


class Dom(html.parser.HTMLParser):
    """Every element of a page in document order: tag, attributes, text content and the ids of
    the elements it sits in."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.stack, self.elements = [], []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag, attrs):
        el = {"tag": tag, "attrs": dict(attrs), "text": "",
              "within": {e["attrs"].get("id") for e in self.stack} - {None}}
        self.elements.append(el)
        if tag not in VOID:
            self.stack.append(el)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.stack.pop()

    def handle_endtag(self, tag):
        while self.stack:
            if self.stack.pop()["tag"] == tag:
                break

    def handle_data(self, data):
        for el in self.stack:
            el["text"] += data

    def find(self, tag=None, within=None, **attrs):
        """Elements matching tag, an enclosing id and attributes (data_model= means data-model;
        a value of None means the attribute must be absent)."""
        want = {k.replace("_", "-"): v for k, v in attrs.items()}
        return [e for e in self.elements
                if (tag is None or e["tag"] == tag) and (within is None or within in e["within"])
                and all(e["attrs"].get(k) == v for k, v in want.items())]

    def one(self, tag=None, within=None, **attrs):
        found = self.find(tag, within, **attrs)
        assert len(found) == 1, (tag, within, attrs, len(found))
        return found[0]


def demo_run(sb, name, *extra):
    r = sb.run([R, "run", os.path.join(rslib.SRC, "configs", "demo.yaml"), "--out",
                sb.path(name), "--set", "cluster.workers=1"] + list(extra), check=0, timeout=120)
    run_dir = rslib.run_dir_from_output(r.stdout, sb.dir)
    page = os.path.join(run_dir, "report.html")
    assert os.path.isfile(page), os.listdir(run_dir)
    return run_dir, page


def hostile_run(sb):
    """Two cases whose tag, and a model whose name, are markup."""
    sb.write("hostile.jsonl", "".join(
        '{"id":"h%d","question":"1+%d?","answer":"%d","tags":[%s]}\n'
        % (i, i, i + 1, '"%s"' % HOSTILE_TAG.replace('"', '\\"')) for i in range(2)))
    return demo_run(sb, "hostile", "--set", "dataset.path=" + sb.path("hostile.jsonl"),
                    "--set", "models.0.name=" + HOSTILE_MODEL)


def pct(x):
    return "%.1f%%" % (100 * x)


def check_self_contained(page):
    with open(page, encoding="utf-8") as f:
        text = f.read()
    assert "<script" not in text.lower(), "report.html has a script"
    # url(#id) names an element of the page itself (the charts' clip paths); nothing else may.
    for pattern in (r"\s(src|href)\s*=", r"url\((?!#)", r"@import", r"<link\b"):
        assert not re.search(pattern, text, re.I), "report.html refers outside itself: " + pattern
    # The only URL is the SVG namespace, which is a name, not a fetch.
    urls = set(re.findall(r"https?://[^\s\"'<>]+", text))
    assert urls <= {"http://www.w3.org/2000/svg"}, urls


def check_header(dom, rep):
    assert rep["simulated"] is True
    banner = dom.one(id="simulated-banner")["text"]
    assert "Simulated" in banner and "not a language model" in banner, banner
    assert dom.one(id="run-id")["text"] == rep["run_id"]
    assert dom.one(id="status")["text"] == rep["status"]
    assert dom.one(id="cases")["text"] == "{:,}".format(rep["dataset"]["cases"])
    for section in ("accuracy", "models", "tags", "reliability", "resources"):
        assert dom.find("section", id=section), "no section " + section


def check_accuracy(dom, rep):
    """Table cells and chart bars against report.json: one bar per model x grader."""
    bars = dom.find("rect", within="chart-accuracy", **{"class": "bar"})
    want = [(m["name"], g["name"], g) for m in rep["models"] for g in m["graders"]]
    assert len(bars) == len(want), (len(bars), len(want))
    labels = dom.one("svg", id="chart-accuracy")["text"]
    scale = []
    for (model, grader, g), bar in zip(want, bars):
        assert (bar["attrs"]["data-model"], bar["attrs"]["data-grader"]) == (model, grader)
        cell = dom.one("td", within="table-accuracy", data_model=model, data_grader=grader,
                       data_metric="accuracy")
        assert cell["text"] == pct(g["accuracy"]), (model, grader, cell["text"], g["accuracy"])
        for k in ("correct", "wrong", "error", "skipped"):
            got = dom.one("td", within="table-accuracy", data_model=model, data_grader=grader,
                          data_metric=k)["text"]
            assert got == "{:,}".format(g[k]), (model, grader, k, got)
        assert pct(g["accuracy"]) in labels, (pct(g["accuracy"]), labels)
        scale.append(float(bar["attrs"]["width"]) / g["accuracy"])
    # Bar lengths are proportional to accuracy (one scale, to the rounding of the width).
    assert max(scale) - min(scale) < 2, scale


def check_models_and_tags(dom, rep):
    for m in rep["models"]:
        for k in ("cases", "errors", "input_tokens", "output_tokens"):
            got = dom.one("td", within="table-models", data_model=m["name"], data_metric=k)["text"]
            assert got == "{:,}".format(m[k]), (m["name"], k, got)
    for t in rep["tags"]:
        for m in t["models"]:
            for g in m["graders"]:
                if g["accuracy"] is None:
                    continue
                cell = dom.one("td", within="table-tags", data_tag=t["tag"], data_model=m["name"],
                               data_grader=g["name"], data_metric="accuracy")
                assert cell["text"] == pct(g["accuracy"]), (t["tag"], m["name"], g["name"])
    bars = dom.find("rect", within="chart-tags", **{"class": "bar"})
    assert len(bars) == min(len(rep["tags"]), 40) * len(rep["models"]), len(bars)


def check_hostile(dom, rep):
    """Markup in the names arrived as text: no element was injected, and the names round-trip."""
    assert not dom.find(id="pwned-tag") and not dom.find(id="pwned-model")
    assert not dom.find("b") and not dom.find("i")
    assert rep["models"][0]["name"] == HOSTILE_MODEL
    assert [t["tag"] for t in rep["tags"]] == [HOSTILE_TAG]
    cells = dom.find("td", within="table-tags", data_tag=HOSTILE_TAG, data_model=HOSTILE_MODEL,
                     data_metric="accuracy")
    assert len(cells) == len(rep["models"][0]["graders"]), len(cells)
    assert HOSTILE_TAG in dom.one("table", id="table-tags")["text"]
    assert HOSTILE_MODEL in dom.one("svg", id="chart-accuracy")["text"]


def main():
    if not rslib.CHROMIUM:
        rslib.skip("chromium not installed (apt-get install -y chromium)")
    if not shutil.which("redis-server"):
        rslib.skip("redis-server is not installed (apt-get install -y redis-server)")
    with rslib.Sandbox() as sb:
        run_dir, page = demo_run(sb, "runs")
        bad_dir, bad_page = hostile_run(sb)
        check_self_contained(page)
        shot = sb.path("report.png")
        procs = [rslib.chromium(sb, "dom", "--dump-dom", "file://" + page),
                 rslib.chromium(sb, "bad", "--dump-dom", "file://" + bad_page),
                 rslib.chromium_screenshot(sb, "shot", "file://" + page, shot, (1280, 2000))]
        dom = Dom(rslib.chromium_finish(procs[0], "dump-dom"))
        bad_dom = Dom(rslib.chromium_finish(procs[1], "dump-dom"))
        rslib.chromium_finish(procs[2], "screenshot")
        rep = rslib.load_report(run_dir)
        check_header(dom, rep)
        check_accuracy(dom, rep)
        check_models_and_tags(dom, rep)
        check_hostile(bad_dom, rslib.load_report(bad_dir))
        rslib.check_screenshot(shot, (1280, 2000), 30000)
    print("ok: html_report")


if __name__ == "__main__":
    main()
