"""The self-critique chain sections of report.html in a real browser: a sim run (two models of
different accuracy, n=4 candidates, two judges, one revision round, all five ranking strategies,
graders exact + numeric, 300 generated cases) is rendered by headless Chromium, and the rendered
DOM of #strategies, #rounds, #judges and #clusters must show report.json's numbers: every table
cell, every chart bar with its interval whisker and value label, every histogram bar, every
cluster and its examples. The browser must also have kept every element of the page as written
(nothing dropped or moved by the HTML parser), and a 1280x4000 screenshot is taken (its path is
printed; RS_KEEP_TMP=1 keeps it)."""
import os
import re
import shutil
import sys

sys.path.insert(0, os.path.dirname(__file__))
import rslib  # noqa: E402
from test_html_report import Dom, check_header, check_self_contained, pct  # noqa: E402

R = rslib.REASONSAVER
N_CASES = 300
SHOT_W, SHOT_H = 1280, 4000
STRATEGIES = ["first", "judge", "consensus", "majority", "oracle"]
GRADERS = ["exact", "numeric"]
# "by-strong" judges strong's candidates itself (self) and weak's (cross); "by-weak" the reverse.
CONFIG = """
run: {name: html-chains, seed: 5}
dataset: {path: %(dataset)s, shard_size: 10}
models:
  - {name: strong, provider: sim, model: sim-1, n: 4,
     params: {accuracy: 0.75, judge_accuracy: 0.85, self_bias: 0.5, fix_rate: 0.4,
              break_rate: 0.1}}
  - {name: weak, provider: sim, model: sim-1, n: 4,
     params: {accuracy: 0.45, judge_accuracy: 0.7, self_bias: 0.3, fix_rate: 0.5,
              break_rate: 0.2, seed: 3}}
judges:
  - {name: by-strong, model: strong}
  - {name: by-weak, model: weak}
revise: {rounds: 1}
ranking: [first, judge, consensus, majority, oracle]
scoring: {graders: [exact, numeric]}
cluster: {workers: 1}
report: {formats: [json, markdown, html]}
"""
# The page's sections, top to bottom, for this run (no near_duplicates: not asked for).
SECTIONS = ["accuracy", "experiment", "strategies", "rounds", "judges", "models", "tags",
            "clusters", "reliability", "resources"]


def chains_run(sb):
    dataset = sb.path("arith.jsonl")
    sb.run([R, "datasets", "gen", "arithmetic", "--n", str(N_CASES), "--seed", "3", "--out",
            dataset], check=0)
    cfg = sb.write("chains.yaml", CONFIG % {"dataset": dataset})
    r = sb.run([R, "run", cfg, "--out", sb.path("runs")], check=0, timeout=120)
    run_dir = rslib.run_dir_from_output(r.stdout, sb.dir)
    page = os.path.join(run_dir, "report.html")
    assert os.path.isfile(page), os.listdir(run_dir)
    return run_dir, page


# ------------------------------------------------------------------ formats, as html.c writes them


def num(v, prec):
    """coord_put_num: prec decimals, or -prec significant digits; n/a for null."""
    if v is None:
        return "n/a"
    return "%.*g" % (-prec, v) if prec < 0 else "%.*f" % (prec, v)


def ci_text(ci):
    return "\u2014" if ci is None else "%.1f\u2013%.1f" % (100 * ci[0], 100 * ci[1])


def acc_text(acc):
    return "n/a" if acc is None else pct(acc)


def integer(v):
    return "{:,}".format(v)


def cell(dom, within, metric, **key):
    return dom.one("td", within=within, data_metric=metric, **key)["text"]


# ------------------------------------------------------------------ the run itself


def check_run_shape(rep):
    """The run exercised everything the page shows, and with numbers that tell the parts apart
    (a cell swapped between models, strategies or judges would show another value)."""
    assert rep["schema"] == "reasonsaver.report/2", rep["schema"]
    assert rep["dataset"]["cases"] == N_CASES, rep["dataset"]
    models = rep["models"]
    assert [m["name"] for m in models] == ["strong", "weak"]
    for m in models:
        assert [s["name"] for s in m["strategies"]] == STRATEGIES, (m["name"], m["strategies"])
        assert all([g["name"] for g in s["graders"]] == GRADERS for s in m["strategies"])
        assert [r["round"] for r in m["rounds"]] == [0, 1], (m["name"], m["rounds"])
        assert m["flips"]["pairs"] > 0, m["flips"]
        accs = [s["graders"][0]["accuracy"] for s in m["strategies"]]
        assert len(set(accs)) >= 3, (m["name"], accs)
    assert models[0]["graders"][0]["accuracy"] != models[1]["graders"][0]["accuracy"]
    assert [(j["name"], j["model"]) for j in rep["judges"]] == [("by-strong", "strong"),
                                                                ("by-weak", "weak")]
    for j in rep["judges"]:
        assert all(j[s]["n"] > 0 for s in ("all", "self", "cross")), j
    assert rep["judges"][0]["all"]["kappa"] != rep["judges"][1]["all"]["kappa"]
    assert len(rep["clusters"]) >= 2, rep["clusters"]
    assert len({c["size"] for c in rep["clusters"]}) >= 2, rep["clusters"]


# ------------------------------------------------------------------ charts


def axis(dom, chart):
    """plot x and width from the chart's own gridlines (0% is the axis line, 100% the last)."""
    xs = [float(e["attrs"]["x1"]) for e in dom.find("line", within=chart)
          if e["attrs"].get("class") in ("axis", "grid")]
    assert len(xs) == 6, (chart, xs)
    return xs[0], xs[-1] - xs[0]


def chart_rows(dom, chart):
    """One row per label line of a bar chart, in order: {group, label, rect, ci, val}. The group
    name is shown beside a group's first row only; it carries over."""
    rows, group = [], None
    for e in dom.elements:
        if chart not in e["within"]:
            continue
        a, cls = e["attrs"], e["attrs"].get("class")
        if e["tag"] == "text" and cls == "grp":
            group = e["text"]
        elif e["tag"] == "text" and a.get("clip-path") == "url(#%s-l)" % chart:
            rows.append({"group": group, "label": e["text"], "rect": None, "ci": None,
                         "val": None})
        elif e["tag"] == "rect" and cls == "bar":
            assert rows and rows[-1]["rect"] is None, (chart, "a bar without its label", a)
            rows[-1]["rect"] = e
        elif e["tag"] == "path" and cls == "ci":
            assert rows and rows[-1]["ci"] is None, (chart, "a whisker without its bar", a)
            rows[-1]["ci"] = e
        elif e["tag"] == "text" and cls == "val":
            rows[-1]["val"] = e["text"]
    return rows


def check_bars(dom, chart, want):
    """want: [(group, label, {data-* attributes}, counts)], one per bar, in order. Each bar's
    attributes, length, whisker, value label and tooltip must be report.json's."""
    rows = chart_rows(dom, chart)
    assert len(rows) == len(want), (chart, len(rows), len(want))
    assert len(dom.find("rect", within=chart, **{"class": "bar"})) == len(want), chart
    assert len(dom.find("path", within=chart, **{"class": "ci"})) == len(want), chart
    x0, w = axis(dom, chart)
    for row, (group, label, key, g) in zip(rows, want):
        where = (chart, group, label)
        assert (row["group"], row["label"]) == (group, label), (where, row["group"], row["label"])
        acc, ci = g["accuracy"], g["ci95"]
        assert acc is not None and ci is not None, where
        a = row["rect"]["attrs"]
        for k, v in key.items():
            assert a.get(k) == v, (where, k, a.get(k), v)
        assert a["data-accuracy"] == "%.6f" % acc, (where, a["data-accuracy"], acc)
        assert abs(float(a["x"]) - x0) < 1e-6, (where, a["x"], x0)
        assert abs(float(a["width"]) - w * acc) <= 0.06, (where, a["width"], w * acc)
        # The interval: a horizontal line from lo to hi, with end caps at both.
        d = row["ci"]["attrs"]["d"]
        m = re.fullmatch(r"M([\d.]+) [\d.]+H([\d.]+)M([\d.]+) [\d.]+V[\d.]+M([\d.]+) [\d.]+V[\d.]+",
                         d)
        assert m, (where, d)
        lo, hi, cap_lo, cap_hi = map(float, m.groups())
        assert abs(lo - (x0 + w * ci[0])) <= 0.06 and abs(hi - (x0 + w * ci[1])) <= 0.06, \
            (where, d, ci)
        assert (cap_lo, cap_hi) == (lo, hi), (where, d)
        assert row["val"] == pct(acc), (where, row["val"], acc)
        tip = row["rect"]["text"]
        want_tip = "%s (95%% CI %.1f\u2013%.1f%%), %d correct of %d graded" % (
            pct(acc), 100 * ci[0], 100 * ci[1], g["correct"], g["correct"] + g["wrong"])
        assert want_tip in tip, (where, tip, want_tip)


# ------------------------------------------------------------------ sections


def strategy_groups(rep):
    """The models' strategies, then the candidate pool's (all models together) as one more group,
    as the page draws them."""
    groups = [(m["name"], m["strategies"]) for m in rep["models"]]
    assert "pool" in rep, "a two-model run must report the candidate pool"
    return groups + [("all models (pool)", rep["pool"]["strategies"])]


def check_strategies(dom, rep):
    want = []
    for name, strategies in strategy_groups(rep):
        m = {"name": name}
        for s in strategies:
            g = s["graders"][0]
            want.append((m["name"], s["name"], {"data-model": m["name"], "data-strategy": s["name"],
                                                "data-grader": g["name"]}, g))
    check_bars(dom, "chart-strategies", want)
    t = "table-strategies"
    rows = 0
    for name, strategies in strategy_groups(rep):
        m = {"name": name}
        for s in strategies:
            for gi, g in enumerate(s["graders"]):
                key = {"data_model": m["name"], "data_strategy": s["name"],
                       "data_grader": g["name"]}
                where = (m["name"], s["name"], g["name"])
                assert cell(dom, t, "accuracy", **key) == acc_text(g["accuracy"]), \
                    (where, cell(dom, t, "accuracy", **key), g["accuracy"])
                assert cell(dom, t, "ci95", **key) == ci_text(g["ci95"]), (where, g["ci95"])
                for k in ("correct", "wrong", "error", "skipped"):
                    assert cell(dom, t, k, **key) == integer(g[k]), (where, k, g[k])
                mc = s["mcnemar_vs_first"] if gi == 0 else None
                if mc is None:  # first itself, and every grader but the first: dashes
                    assert not dom.find("td", within=t, data_metric="mcnemar_b", **key), where
                    assert not dom.find("td", within=t, data_metric="mcnemar_p", **key), where
                else:
                    assert cell(dom, t, "mcnemar_b", **key) == integer(mc["b"]), (where, mc)
                    assert cell(dom, t, "mcnemar_c", **key) == integer(mc["c"]), (where, mc)
                    assert cell(dom, t, "mcnemar_p", **key) == num(mc["exact_p"], -3), \
                        (where, cell(dom, t, "mcnemar_p", **key), mc)
                rows += 1
    assert len(dom.find("td", within=t, data_metric="accuracy")) == rows
    # `first` of each model is the model's plain accuracy.
    for m in rep["models"]:
        plain = [{k: v for k, v in g.items() if k != "type"} for g in m["graders"]]
        assert m["strategies"][0]["graders"] == plain, m["name"]


def check_rounds(dom, rep):
    want = []
    for m in rep["models"]:
        for r in m["rounds"]:
            g = r["graders"][0]
            want.append((m["name"], "round %d" % r["round"],
                         {"data-model": m["name"], "data-round": str(r["round"]),
                          "data-grader": g["name"]}, g))
    check_bars(dom, "chart-rounds", want)
    t = "table-flips"
    flips = [m for m in rep["models"] if m.get("flips")]
    assert len(dom.find("td", within=t, data_metric="pairs")) == len(flips)
    for m in flips:
        f, key = m["flips"], {"data_model": m["name"]}
        for k in ("pairs", "wrong_to_right", "right_to_wrong"):
            assert cell(dom, t, k, **key) == integer(f[k]), (m["name"], k, f[k])
        assert f["mcnemar"]["b"] == f["wrong_to_right"], f
        got = cell(dom, t, "mcnemar_p", **key)
        assert got == num(f["mcnemar"]["exact_p"], -3), (m["name"], got, f["mcnemar"])


def check_judges(dom, rep):
    t = "table-judges"
    rows = [tr["text"] for tr in dom.find("tr", within=t)][1:]  # after the header row
    want_rows = []
    for j in rep["judges"]:
        for split in ("all", "self", "cross"):
            q = j[split]
            if split != "all" and q["n"] == 0:
                assert not dom.find("td", within=t, data_judge=j["name"], data_split=split)
                continue
            want_rows.append(j["name"] + (j["model"] or "?") + split + integer(q["n"]))
            key = {"data_judge": j["name"], "data_split": split}
            where = (j["name"], split)
            for k in ("n", "unparsed", "errors"):
                assert cell(dom, t, k, **key) == integer(q[k]), (where, k, q[k])
            for k in ("tp", "fp", "tn", "fn"):
                assert cell(dom, t, k, **key) == integer(q["confusion"][k]), (where, k, q)
            for k in ("precision", "recall", "kappa", "auroc"):
                got = cell(dom, t, k, **key)
                assert got == num(q[k], 3), (where, k, got, q[k])
    assert len(rows) == len(want_rows), (rows, want_rows)
    for got, want in zip(rows, want_rows):
        assert got.startswith(want), (got[:80], want)

    # One histogram per judge, of its "all" scores: bars = report.json's counts, heights the
    # shares of each class on one scale.
    hists = [e for e in dom.find("svg", within="judges") if e["attrs"].get("id", "")
             .startswith("hist-judge-")]
    assert [h["attrs"]["id"] for h in hists] == \
        ["hist-judge-%d" % i for i in range(len(rep["judges"]))], [h["attrs"]["id"] for h in hists]
    captions = dom.find("figcaption", within="judges")
    assert len(captions) == len(rep["judges"]), len(captions)
    for i, j in enumerate(rep["judges"]):
        hist, hid = j["all"]["histogram"], "hist-judge-%d" % i
        bars = dom.find("rect", within=hid, **{"class": "hbar"})
        assert len(bars) == 2 * hist["bins"], (hid, len(bars))
        totals = {c: sum(hist[c]) for c in ("correct", "wrong")}
        assert all(totals.values()), (hid, totals)
        scale = None
        for b in bars:
            a = b["attrs"]
            cls, k = a["data-class"], int(a["data-bin"])
            assert int(a["data-count"]) == hist[cls][k], (hid, cls, k, a["data-count"], hist)
            share = hist[cls][k] / totals[cls]
            if scale is None or share > scale[1]:
                scale = (float(a["height"]) / share if share else 0, share)
        assert sorted((b["attrs"]["data-class"], int(b["attrs"]["data-bin"])) for b in bars) == \
            sorted((c, k) for c in ("correct", "wrong") for k in range(hist["bins"])), hid
        for b in bars:
            a = b["attrs"]
            share = hist[a["data-class"]][int(a["data-bin"])] / totals[a["data-class"]]
            assert abs(float(a["height"]) - scale[0] * share) <= 0.1, (hid, a, share, scale)
        cap = captions[i]["text"]
        assert j["name"] in cap and "(%s)" % integer(totals["correct"]) in cap and \
            "(%s)" % integer(totals["wrong"]) in cap, (cap, totals)


def check_clusters(dom, rep):
    clusters = rep["clusters"]
    divs = dom.find("div", within="clusters", **{"class": "cluster"})
    # Cluster ids count from 1 (the heading's number); hist-judge-<i> from 0.
    assert [d["attrs"].get("id") for d in divs] == \
        ["cluster-%d" % (i + 1) for i in range(len(clusters))], [d["attrs"] for d in divs]
    note = dom.find("p", within="clusters")[0]["text"]
    assert note.startswith(integer(rep["failures"]["total"]) + " answers"), (note, rep["failures"])
    for i, c in enumerate(clusters):
        cid = "cluster-%d" % (i + 1)
        assert divs[i]["attrs"]["data-size"] == str(c["size"]), (cid, divs[i]["attrs"], c["size"])
        h3 = dom.one("h3", within=cid)["text"]
        assert h3 == "Cluster %d: %s answers (%.1f%%)" % (i + 1, integer(c["size"]),
                                                          100 * c["share"]), (cid, h3, c)
        ids = [e["text"] for e in dom.find("code", within=cid, **{"class": "case"})]
        assert ids == [e["case_id"] for e in c["examples"]], (cid, ids, c["examples"])
        items, pres = dom.find("li", within=cid), dom.find("pre", within=cid)
        assert len(items) == len(pres) == len(c["examples"]), (cid, len(items), len(pres))
        for li, pre, e in zip(items, pres, c["examples"]):
            assert li["text"].startswith("%s \u00b7 %s" % (e["case_id"], e["model"])), \
                (cid, li["text"][:80], e["model"])
            out = e["output"] if len(e["output"]) <= 600 else e["output"][:599] + "\u2026"
            assert pre["text"] == out, (cid, pre["text"], e["output"])


def check_page(raw, dom, rep):
    """The browser kept the page as written: the same elements, attributes and text in the same
    places (only the <tbody> a table gets implicitly is new), a complete head, and the sections
    in order."""
    def shape(d):
        return [(e["tag"], e["attrs"], e["within"], " ".join(e["text"].split()))
                for e in d.elements if e["tag"] != "tbody"]
    a, b = shape(raw), shape(dom)
    for part in (3, 4):  # elements and their places first (the first difference named), then text
        for i, (x, y) in enumerate(zip(a, b)):
            assert x[:part] == y[:part], ("element %d differs after the browser parsed it" % i,
                                          x[:part][:3], y[:part][:3])
    assert len(a) == len(b), ("the browser dropped or added elements", len(a), len(b))
    tags = [e["tag"] for e in dom.elements]
    head = tags[:tags.index("body")]
    assert head[:2] == ["html", "head"] and {"meta", "title", "style"} <= set(head), head
    assert dom.find("title")[0]["text"] == "reasonsaver report: " + rep["run_id"]
    csp = [e for e in dom.find("meta") if e["attrs"].get("http-equiv") ==
           "Content-Security-Policy"]
    assert len(csp) == 1 and "default-src 'none'" in csp[0]["attrs"]["content"], csp
    assert [e["attrs"].get("id") for e in dom.find("section")] == SECTIONS
    assert len(dom.find("header")) == 1
    foot = dom.one("footer")["text"]
    assert rep["schema"] in foot and rep["config_sha256"] in foot, foot


def check_markdown(run_dir):
    with open(os.path.join(run_dir, "report.md"), encoding="utf-8") as f:
        md = f.read()
    for title in ("Ranking strategies", "Revision rounds", "Judges", "Failure clusters"):
        assert "\n## " + title in md, title


def main():
    if not rslib.CHROMIUM:
        rslib.skip("chromium not installed (apt-get install -y chromium)")
    if not shutil.which("redis-server"):
        rslib.skip("redis-server is not installed (apt-get install -y redis-server)")
    if not os.path.exists(R):
        rslib.skip("reasonsaver is not built (%s)" % R)
    with rslib.Sandbox() as sb:
        run_dir, page = chains_run(sb)
        shot = sb.path("chains.png")
        procs = [rslib.chromium(sb, "dom", "--dump-dom", "file://" + page),
                 rslib.chromium_screenshot(sb, "shot", "file://" + page, shot, (SHOT_W, SHOT_H))]
        rep = rslib.load_report(run_dir)
        check_run_shape(rep)
        check_self_contained(page)
        check_markdown(run_dir)
        with open(page, encoding="utf-8") as f:
            raw = Dom(f.read())
        dom = Dom(rslib.chromium_finish(procs[0], "dump-dom"))
        rslib.chromium_finish(procs[1], "screenshot")
        check_header(dom, rep)
        check_page(raw, dom, rep)
        check_strategies(dom, rep)
        check_rounds(dom, rep)
        check_judges(dom, rep)
        check_clusters(dom, rep)
        rslib.check_screenshot(shot, (SHOT_W, SHOT_H), 60000)
    print("ok: html_chains")


if __name__ == "__main__":
    main()
