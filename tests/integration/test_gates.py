"""Gates for CI (docs/GATES.md): a run whose gates pass exits 0 and its report.json, report.md
and report.html show them with the report's own numbers; failing accuracy, error-rate, cost and
McNemar gates exit 3, each named with its value and bound (`reasonsaver report` and `resume`
judge the same, and a resume may loosen the gates); a gate naming a model the config lacks is a
config error (exit 2, its line) before anything runs; without gates a run whose calls all failed
exits 1 naming the model and its most common error, for a dead endpoint and for a wrong key,
while a healthy run exits 0. The --junit file validates against tests/integration/junit.xsd
(xmllint), hostile model names included, and a broken file does not."""
import json
import math
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(__file__))
import rslib  # noqa: E402
from test_mockllm import Mock  # noqa: E402

XSD = os.path.join(os.path.dirname(__file__), "junit.xsd")
DATASET = os.path.join(rslib.SRC, "datasets", "demo.jsonl")
CASES = 200
# A name with markup, quotes, an ampersand, a control character and non-ASCII text: it must come
# out of the JUnit file (and every report) escaped.
HOSTILE = r'weak <b>&amp;\"x' + "'" + r'\u0007é'  # as YAML writes it, in double quotes
HOSTILE_TEXT = 'weak <b>&amp;"x\'\x07é'


def shown(text):
    """text as a terminal line shows it: a control character as its picture (U+2407 for BEL)."""
    return text.replace("\x07", "\u2407")


def in_xml(text):
    """text as the JUnit file carries it: a character XML 1.0 cannot hold as U+FFFD."""
    return text.replace("\x07", "\ufffd")

SIM = """run: {name: %(name)s, seed: 1}
dataset: {path: %(dataset)s, limit: %(limit)d}
models:
  - {name: strong, provider: sim, model: sim-1, n: 3, params: {accuracy: 0.8},
     prices: {input: 1, output: 2}}
  - {name: "%(hostile)s", provider: sim, model: sim-1, params: {accuracy: 0.5, error_rate: 0.2}}
scoring: {graders: [exact]}
cluster: {workers: 1}
report: {formats: [json, markdown, html, jsonl]}
gates:
%(gates)s
"""

PASSING = """  - {metric: accuracy, model: strong, min: 0.5}
  - {metric: accuracy, model: strong, strategy: oracle, min: 0.8}
  - errors(strong) <= 1%%
  - {metric: errors, model: "%s", max: 0.4}
  - {metric: cost_usd, max: 100}
  - {name: oracle beats first, metric: mcnemar_p, model: strong, strategy: oracle, max: 0.05}
""" % HOSTILE

FAILING = """  - {metric: accuracy, model: strong, min: 0.99}
  - {metric: errors, model: "%s", max: 0.01}
  - {metric: cost_usd, model: strong, max: 0.000001}
  - {name: no difference, metric: mcnemar_p, model: strong, strategy: oracle, min: 0.5}
  - "accuracy(strong) <= 100%%"
""" % HOSTILE


def sim_config(sb, name, gates):
    return sb.write(name + ".yaml", SIM % {"name": name, "dataset": DATASET, "limit": CASES,
                                           "hostile": HOSTILE, "gates": gates})


def run(sb, cfg, name, code, *extra, env=None):
    r = sb.run([rslib.REASONSAVER, "run", cfg, "--out", sb.path(name)] + list(extra), env=env,
               timeout=240)
    assert r.returncode == code, "exited %d, wanted %d\nstdout:\n%s\nstderr:\n%s" % (
        r.returncode, code, r.stdout[-3000:], r.stderr[-3000:])
    return r


def validate(path):
    """xmllint's verdict on path against junit.xsd: (ok, output)."""
    v = subprocess.run(["xmllint", "--noout", "--schema", XSD, path], capture_output=True,
                       text=True)
    return v.returncode == 0, v.stderr


def check_junit(path, rep):
    ok, out = validate(path)
    assert ok, out
    root = ET.parse(path).getroot()
    suites = {s.get("name"): s for s in root.findall("testsuite")}
    models = suites["reasonsaver.models"]
    cases = models.findall("testcase")
    want = [(in_xml("reasonsaver.models." + m["name"]), g["name"]) for m in rep["models"]
            for g in m["graders"]]
    assert [(c.get("classname"), c.get("name")) for c in cases] == want, cases
    for c, (m, g) in zip(cases, [(m, g) for m in rep["models"] for g in m["graders"]]):
        assert "accuracy %.4f" % g["accuracy"] in c.find("system-out").text, c.find("system-out").text
    gates = suites["reasonsaver.gates"].findall("testcase")
    assert [c.get("name") for c in gates] == [in_xml(g["name"]) for g in rep["gates"]]
    for c, g in zip(gates, rep["gates"]):
        f = c.find("failure")
        assert (f is None) == g["passed"], (c.get("name"), g)
        if f is not None:
            assert f.get("message") == g["why"], (f.get("message"), g["why"])
    failed = sum(1 for s in suites.values() for c in s.findall("testcase")
                 if c.find("failure") is not None)
    assert int(root.get("failures")) == failed and int(root.get("tests")) == len(cases) + len(gates)
    return root


def check_schema_can_fail(sb, path):
    """The validation is not a rubber stamp: the same file with a testcase missing its name, or a
    failure count that is not a number, is refused."""
    with open(path) as f:
        text = f.read()
    for broken in (text.replace('<testcase name="exact"', "<testcase", 1),
                   text.replace('failures="', 'failures="x', 1)):
        assert broken != text
        bad = sb.write("broken.xml", broken)
        ok, _ = validate(bad)
        assert not ok, "xmllint accepted a broken JUnit file"


def sim_run(sb, name, gates, code):
    """A sim run with gates and --junit: (its output, run directory, report, JUnit path)."""
    junit = sb.path(name + ".xml")
    r = run(sb, sim_config(sb, name, gates), name, code, "--junit", junit)
    run_dir = rslib.run_dir_from_output(r.stdout, sb.dir)
    return r, run_dir, rslib.load_report(run_dir), junit


def check_passing(sb):
    r, run_dir, rep, junit = sim_run(sb, "pass", PASSING, 0)
    assert all(g["passed"] for g in rep["gates"]), rep["gates"]
    strong = rep["models"][0]
    values = [g["value"] for g in rep["gates"]]
    oracle = [s for s in strong["strategies"] if s["name"] == "oracle"][0]
    weak = rep["models"][1]
    # the gates' numbers are the report's, not a second computation
    assert values == [strong["graders"][0]["accuracy"], oracle["graders"][0]["accuracy"],
                      0.0, weak["errors"] / weak["cases"],
                      strong["cost_usd"] + weak["cost_usd"],
                      oracle["mcnemar_vs_first"]["exact_p"]], (values, rep["gates"])
    assert 0 < weak["errors"] < CASES and strong["cost_usd"] > 0, (weak, strong)
    assert rep["gates"][0]["name"] == "accuracy(strong, exact) >= 0.5", rep["gates"][0]
    assert "gate passed: oracle beats first" in r.stdout, r.stdout[-2000:]
    assert "gate failed" not in r.stderr, r.stderr[-2000:]
    with open(os.path.join(run_dir, "report.md")) as f:
        md = f.read()
    assert "## Gates" in md and "| oracle beats first |" in md and "**failed**" not in md, md[:3000]
    with open(os.path.join(run_dir, "report.html")) as f:
        html = f.read()
    assert 'id="table-gates"' in html and html.count('<tr data-passed="true">') == 6, html[:3000]
    root = check_junit(junit, rep)
    names = [c.get("classname") for c in root.iter("testcase")]
    assert in_xml("reasonsaver.models." + HOSTILE_TEXT) in names, names
    assert root.get("failures") == "0", root.attrib
    check_schema_can_fail(sb, junit)


def check_failing(sb):
    r, run_dir, rep, junit = sim_run(sb, "fail", FAILING, 3)
    assert [g["passed"] for g in rep["gates"]] == [False, False, False, False, True], rep["gates"]
    acc = rep["models"][0]["graders"][0]["accuracy"]
    want = ["reasonsaver: gate failed: accuracy(strong, exact) >= 0.99: %.6g is below the "
            "minimum 0.99" % acc,
            "reasonsaver: gate failed: errors(%s) <= 0.01: " % shown(HOSTILE_TEXT),
            "reasonsaver: gate failed: cost_usd(strong) <= 1e-06: %.6g is above the maximum "
            "1e-06" % rep["models"][0]["cost_usd"],
            "reasonsaver: gate failed: no difference: %.6g is below the minimum 0.5" % [
                s for s in rep["models"][0]["strategies"] if s["name"] == "oracle"][0][
                "mcnemar_vs_first"]["exact_p"]]
    for line in want:
        assert line in r.stderr, (line, r.stderr[-3000:])
    assert "accuracy(strong, exact) <= 1" not in r.stderr  # the passing one is not a failure
    with open(os.path.join(run_dir, "report.md")) as f:
        assert "**failed**" in f.read()
    check_junit(junit, rep)
    # `reasonsaver report` judges the stored run the same way
    again = sb.path("again.xml")
    r2 = sb.run([rslib.REASONSAVER, "report", rep["run_id"], "--out", sb.path("fail"),
                 "--junit", again])
    assert r2.returncode == 3, (r2.returncode, r2.stderr[-2000:])
    for line in want:
        assert line in r2.stderr, (line, r2.stderr[-3000:])
    with open(junit) as a, open(again) as b:
        assert a.read() == b.read()
    # a resume judges the same; gates are not part of the config's identity, so a resume may
    # loosen them, and the run then passes
    resume = [rslib.REASONSAVER, "resume", rep["run_id"], "--out", sb.path("fail"), "--quiet"]
    r3 = sb.run(resume)
    assert r3.returncode == 3 and want[0] in r3.stderr, (r3.returncode, r3.stderr[-2000:])
    r4 = sb.run(resume[:3] + [sim_config(sb, "loose", PASSING)] + resume[3:])
    assert r4.returncode == 0, (r4.returncode, r4.stderr[-2000:])
    assert "gate failed" not in r4.stderr and "--force" not in r4.stderr, r4.stderr[-2000:]
    # the loosened gates are the run's now: `report` and a resume without a config judge by them
    r5 = sb.run([rslib.REASONSAVER, "report", rep["run_id"], "--out", sb.path("fail")])
    assert r5.returncode == 0 and "gate failed" not in r5.stderr, (r5.returncode, r5.stderr[-2000:])
    r6 = sb.run(resume)
    assert r6.returncode == 0 and "gate failed" not in r6.stderr, (r6.returncode, r6.stderr[-2000:])


def first_verdicts(entry):
    """{strategy: first-grader verdict} of one model's entry of a results.jsonl record, as the
    report counts them: first is strategies.first or candidate 0, an error when the call failed."""
    first = entry.get("strategies", {}).get("first") or entry["candidates"][0]
    out = {"first": "error" if entry.get("error") else first.get("grades", {}).get("exact")}
    for name, s in entry.get("strategies", {}).items():
        if name != "first":
            out[name] = s.get("grades", {}).get("exact")
    return out


def mcnemar_exact_p(b, c):
    """McNemar's exact test, two-sided: 2 * P(X <= min(b, c)) for X ~ Bin(b + c, 1/2), at most 1."""
    n = b + c
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(min(b, c) + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def pair_from_results(run_dir, model, strategy, versus):
    """(b, c, exact_p) of strategy against versus, recomputed from results.jsonl alone."""
    b = c = 0
    with open(os.path.join(run_dir, "results.jsonl")) as f:
        for line in f:
            rec = json.loads(line)
            for e in rec["models"]:
                if e["model"] != model:
                    continue
                v = first_verdicts(e)
                x, y = v.get(strategy), v.get(versus)
                b += x == "correct" and y == "wrong"
                c += x == "wrong" and y == "correct"
    return b, c, mcnemar_exact_p(b, c)


VERSUS = """  - mcnemar_p(strong, oracle vs majority) <= 0.05
  - {name: majority like consensus, metric: mcnemar_p, model: strong, strategy: majority,
     versus: consensus, min: 0.1}
  - {name: consensus beats oracle, metric: mcnemar_p, model: strong, strategy: consensus,
     versus: oracle, min: 0.5}
"""


def check_versus(sb):
    """mcnemar_p between two strategies, neither of them first: the value is report.json's
    mcnemar_pairs entry, and the same p recomputed from the per-case verdicts in results.jsonl."""
    r, run_dir, rep, junit = sim_run(sb, "versus", VERSUS, 3)
    strong = rep["models"][0]
    names = [s["name"] for s in strong["strategies"]]
    want = [(names[j], names[i]) for i in range(len(names)) for j in range(i + 1, len(names))]
    assert [(p["strategy"], p["versus"]) for p in strong["mcnemar_pairs"]] == want, \
        strong["mcnemar_pairs"]
    pairs = {(p["strategy"], p["versus"]): p for p in strong["mcnemar_pairs"]}
    for (x, y), p in pairs.items():
        b, c, exact_p = pair_from_results(run_dir, "strong", x, y)
        assert (p["b"], p["c"]) == (b, c), ((x, y), p, b, c)
        assert abs(p["exact_p"] - exact_p) <= 1e-12 * max(1.0, exact_p), ((x, y), p, exact_p)
        if y == "first":
            vs_first = [s for s in strong["strategies"] if s["name"] == x][0]["mcnemar_vs_first"]
            assert p == dict(vs_first, strategy=x, versus=y), (p, vs_first)
    gates = rep["gates"]
    assert [g["passed"] for g in gates] == [True, True, False], gates
    assert [g["versus"] for g in gates] == ["majority", "consensus", "oracle"], gates
    assert [g["value"] for g in gates] == [pairs[("oracle", "majority")]["exact_p"],
                                           pairs[("majority", "consensus")]["exact_p"],
                                           pairs[("oracle", "consensus")]["exact_p"]], gates
    assert gates[0]["name"] == "mcnemar_p(strong, oracle vs majority) <= 0.05", gates[0]
    line = "reasonsaver: gate failed: consensus beats oracle: %.6g is below the minimum 0.5" % \
        gates[2]["value"]
    assert line in r.stderr, (line, r.stderr[-3000:])
    assert "gate passed: majority like consensus" in r.stdout, r.stdout[-2000:]
    check_junit(junit, rep)


def check_unknown_model(sb):
    cfg = sim_config(sb, "typo", "  - {metric: accuracy, model: strnog, min: 0.5}\n")
    r = run(sb, cfg, "typo", 2)
    want = "typo.yaml:11:31: gates[0].model: 'strnog' is not one of strong, %s; did you mean " \
           "'strong'?" % shown(HOSTILE_TEXT)
    assert want in shown(r.stderr), (want, r.stderr)
    assert not os.path.exists(sb.path("typo")), "a refused config must not start a run"


HTTP = """run: {name: %(name)s, seed: 1}
dataset: {path: %(dataset)s, limit: 20}
models:
  - {name: %(name)s-model, provider: openai, model: sim-1, base_url: "http://127.0.0.1:%(port)d/v1",
     mock: true, api_key_env: RS_GATES_KEY, max_retries: 0, connect_timeout_ms: 2000,
     timeout_ms: 5000}
scoring: {graders: [exact]}
cluster: {workers: 1}
"""


def http_run(sb, name, port, code):
    cfg = sb.write(name + ".yaml", HTTP % {"name": name, "dataset": DATASET, "port": port})
    env = dict(os.environ, RS_GATES_KEY="rs-gates-key")
    return run(sb, cfg, name, code, "--no-cache", env=env)


def check_all_errors(sb):
    dead = rslib.free_port()  # nothing listens there: every call is refused
    r = http_run(sb, "dead", dead, 1)
    assert ("reasonsaver: model dead-model: 20 of 20 cases ended in error, most often connect "
            "(20): check the model's base_url and that its server is up") in r.stderr, r.stderr
    locked = Mock(sb, "--quiet", "--api-key", "another-key")
    r = http_run(sb, "badkey", locked.port, 1)
    assert ("reasonsaver: model badkey-model: 20 of 20 cases ended in error, most often "
            "http_401 (20): check the key in the model's api_key_env") in r.stderr, r.stderr
    healthy = Mock(sb, "--quiet")
    r = http_run(sb, "healthy", healthy.port, 0)
    assert "ended in error" not in r.stderr, r.stderr


def main():
    if not shutil.which("xmllint"):
        rslib.skip("xmllint is not installed (apt-get install -y libxml2-utils)")
    with rslib.Sandbox() as sb:
        check_passing(sb)
        check_failing(sb)
        check_versus(sb)
        check_unknown_model(sb)
        check_all_errors(sb)
    print("ok: gates pass (0) and fail (3) with the report's numbers, a bad gate is exit 2, an "
          "all-error run is exit 1, the JUnit file validates")


if __name__ == "__main__":
    main()
