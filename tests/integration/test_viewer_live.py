"""The viewer's page kept open in headless Chromium (tests/integration/cdp.py): a running run's
counts advance in the runs list from its event stream, without the page reloading; on a case,
j and k step to the next and previous case of the filter (as the API says) and Escape goes back
to the table."""
import json
import os
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
import rslib  # noqa: E402

import cdp  # noqa: E402

R = rslib.REASONSAVER
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
CONFIG = """
run: {name: live, seed: 2}
dataset: {path: %(dataset)s}
models:
  - {name: a, provider: sim, model: sim-1, params: {accuracy: 0.6, latency_ms: 150}}
scoring: {graders: [exact]}
cluster: {workers: 1, worker_slots: 2, worker_backlog: 0}
report: {formats: [json]}
"""


def api(port, path):
    with OPENER.open("http://127.0.0.1:%d%s" % (port, path), timeout=30) as r:
        return json.loads(r.read())


def main():
    with rslib.Sandbox() as sb:
        cfg = sb.write("live.yaml", CONFIG % {"dataset": os.path.join(rslib.SRC, "datasets",
                                                                       "demo.jsonl")})
        sb.spawn([R, "run", cfg, "--out", sb.path("runs"), "--quiet"], stdout=subprocess.DEVNULL,
                 stderr=subprocess.DEVNULL)
        rslib.wait_for(lambda: os.path.isdir(sb.path("runs")) and os.listdir(sb.path("runs")), 30,
                       "the run")
        run_id = os.listdir(sb.path("runs"))[0]
        port = rslib.free_port()
        serve = sb.spawn([R, "serve", "--bind", "127.0.0.1:%d" % port, "--out", sb.path("runs")],
                         stdout=subprocess.DEVNULL)
        rslib.wait_port(port, serve)
        try:
            page = cdp.Page("http://127.0.0.1:%d/#/" % port)
        except FileNotFoundError:
            rslib.skip("chromium is not installed (apt-get install -y chromium)")
        try:
            row = 'document.querySelector(\'tr[data-run="%s"]\')' % run_id
            first = int(page.wait(row + ' && %s.getAttribute("data-done")' % row, 30))
            page.eval("window.rsMarker = 1")  # gone if the page reloads
            page.wait('Number(%s.getAttribute("data-done")) > %d' % (row, first), 20,
                      "the row's count to advance")
            assert page.eval("window.rsMarker") == 1, "the page reloaded"
            later = int(page.eval('%s.getAttribute("data-done")' % row))
            assert api(port, "/api/runs/%s" % run_id)["done"] >= later > first
            print("ok: a running run's count advanced in the open page: %d -> %d" % (first, later))

            rslib.wait_for(lambda: api(port, "/api/runs/%s/cases?verdict=wrong" % run_id)["total"]
                           >= 3, 60, "three wrong answers")
            cases = api(port, "/api/runs/%s/cases?verdict=wrong&limit=3" % run_id)
            idx = cases["cases"][1]["idx"]
            one = api(port, "/api/runs/%s/cases/%d?verdict=wrong&as_of=%d" % (run_id, idx,
                                                                                cases["as_of"]))
            page.eval('location.hash = "#/run/%s/case/%d?verdict=wrong&as_of=%d"'
                      % (run_id, idx, cases["as_of"]))
            page.wait('document.querySelector("#case-view") && document.querySelector("#case-id")'
                      ' && document.querySelector("#case-id").textContent.length', 20, "the case")
            page.key("j")
            page.wait('location.hash.indexOf("/case/%d?") >= 0' % one["next"], 20, "j: next")
            page.wait('document.querySelector("#case-id") && document.querySelector("#case-id")'
                      '.textContent.indexOf(%s) >= 0' % json.dumps(
                          api(port, "/api/runs/%s/cases/%d" % (run_id, one["next"]))["id"]),
                      20, "the next case shown")
            page.key("k")
            page.wait('location.hash.indexOf("/case/%d?") >= 0' % idx, 20, "k: back")
            page.wait('document.querySelector(\'#case-view[data-idx="%d"]\') !== null' % idx, 20,
                      "the case shown again")  # keys act on a view once it is drawn
            page.key("Escape")
            page.wait('document.querySelector("#cases-table") !== null', 20, "Escape: the table")
            print("ok: j, k and Escape follow the filter's neighbours as the API gives them")
        finally:
            page.close()


if __name__ == "__main__":
    main()
