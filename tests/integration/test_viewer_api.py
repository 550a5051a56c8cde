"""`reasonsaver serve`'s JSON API (docs/VIEWER.md) against numbers recomputed here from
results.jsonl:

1. A chained run (judges, a revision round, ranking strategies, an error rate) whose dataset has
   hostile text: every filter (verdict, strategy outcome, tag, error reason, flipped, judge
   disagreement, prompt, text search) gives the cases and the counts computed here; paging
   through a filter gives exactly its cases in order; sorting by tokens; a case's prev/next follow
   the filter; compare of two models matches the table computed here; hostile text comes back
   as the same string inside valid JSON.
2. A live run: a snapshot's total and pages stay the same while results are stored, a later one
   sees more; the event stream forwards the coordinator's progress events, whose counts advance.
3. Read-only and the token: POST is 405; a non-loopback address without a token is refused; with
   one, a request without it (or with a wrong one) is 401 and with it (header or ?token=) 200."""
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(__file__))
import rslib  # noqa: E402

R = rslib.REASONSAVER
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))
HOSTILE = "<script>alert(1)</script> \u202e\u0645\u0631\u062d\u0628\u0627 " + "x" * 5000

CONFIG = """
run: {name: %(name)s, seed: 4}
dataset: {path: cases.jsonl, fields: {input: question, target: answer, id: id, tags: tags}}
models:
  - {name: strong, provider: sim, model: sim-1, n: 3,
     params: {temperature: 0.7, accuracy: 0.7, judge_accuracy: 0.8, fix_rate: 0.4,
              break_rate: 0.1, error_rate: 0.03, latency_ms: %(latency)s}}
  - {name: weak, provider: sim, model: sim-1,
     params: {temperature: 0.7, accuracy: 0.45, judge_accuracy: 0.7, latency_ms: %(latency)s}}
judges:
  - {name: j, model: strong}
revise: {rounds: 1, judge: j}
ranking: [first, judge, majority, oracle]
scoring: {graders: [exact]}
cluster: {workers: 2, worker_slots: %(slots)s, worker_backlog: 0}
report: {formats: [json, html, jsonl], spans: true}
"""


def get(port, path, token=None, method="GET"):
    req = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), method=method)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with OPENER.open(req, timeout=60) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def api(port, path, **kw):
    status, body = get(port, path, **kw)
    assert status == 200, (path, status, body[:300])
    return json.loads(body)


def start_serve(sb, out, *extra, port=None, env=None):
    """Starts `reasonsaver serve` over the runs in out, on a free loopback port unless port is
    given (extra then has its --bind); returns the port."""
    bind = [] if port else ["--bind", "127.0.0.1:%d" % (port := rslib.free_port())]
    p = sb.spawn([R, "serve", "--out", sb.path(out)] + bind + list(extra),
                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    rslib.wait_port(port, p)
    return port


def wait_indexed(port, run_id, want):
    rslib.wait_for(lambda: api(port, "/api/runs/%s" % run_id)["indexed"] >= want, 60,
                   "%d cases indexed" % want)


def write_cases(sb, n):
    sb.run([R, "datasets", "gen", "arithmetic", "--n", str(n), "--seed", "7", "--out",
            sb.path("gen.jsonl")], check=0)
    with open(sb.path("gen.jsonl")) as f, open(sb.path("cases.jsonl"), "w") as out:
        for i, line in enumerate(f):
            c = json.loads(line)
            if i % 97 == 3:
                c["question"] += " " + HOSTILE
                c["tags"] = c.get("tags", []) + ["hostile|tag\n<b>"]
            out.write(json.dumps(c) + "\n")


# ---- the reference ----

def first_verdict(m):
    if m.get("error") is not None:
        return "error"
    s = (m.get("strategies") or {}).get("first")
    g = (s or m["candidates"][0])["grades"]
    return g.get("exact", "skipped")


def strategy_verdict(m, name):
    if name == "first":
        return first_verdict(m)
    s = (m.get("strategies") or {}).get(name)
    v = ((s or {}).get("grades") or {}).get("exact")
    return v if v in ("correct", "wrong") else "other"


def flipped(m):
    c0 = m["candidates"][0]
    revs = c0.get("revisions") or []
    if not revs:
        return None
    v0, vn = c0["grades"].get("exact"), revs[-1]["grades"].get("exact")
    return "w2r" if (v0, vn) == ("wrong", "correct") else "r2w" if (v0, vn) == ("correct", "wrong") else None


def disagrees(m):
    for c in m["candidates"]:
        v = c["grades"].get("exact")
        if v not in ("correct", "wrong"):
            continue
        for q in c.get("critiques") or []:
            if q.get("round", 0) > 0 or not isinstance(q.get("judged_correct"), bool):
                continue
            if q["judged_correct"] != (v == "correct"):
                return True
    return False


def model_of(rec, name):
    return next(m for m in rec["models"] if m["model"] == name)


def check_filters(port, run_id, recs, src, rep_clusters):
    by_idx = {r["idx"]: r for r in recs}
    tags = sorted({t for r in recs for t in r["tags"]})
    hostile_tag = "hostile|tag\n<b>"
    assert hostile_tag in tags
    filters = [
        ({"model": "weak", "verdict": "wrong"}, lambda r: first_verdict(model_of(r, "weak")) == "wrong"),
        ({"model": "strong", "verdict": "error"}, lambda r: first_verdict(model_of(r, "strong")) == "error"),
        ({"model": "strong", "strategy": "majority", "outcome": "correct"},
         lambda r: strategy_verdict(model_of(r, "strong"), "majority") == "correct"),
        ({"tag": tags[0]}, lambda r: tags[0] in r["tags"]),
        ({"tag": hostile_tag, "model": "weak"}, lambda r: hostile_tag in r["tags"]),
        ({"model": "strong", "flipped": "w2r"}, lambda r: flipped(model_of(r, "strong")) == "w2r"),
        ({"model": "strong", "disagree": "1", "verdict": "correct"},
         lambda r: disagrees(model_of(r, "strong")) and first_verdict(model_of(r, "strong")) == "correct"),
        ({"q": "<script>alert(1)</script>"}, lambda r: HOSTILE[:20] in src[r["id"]]["question"]),
    ]
    clusters = rep_clusters(run_id)
    for n, c in enumerate(clusters[:2]):
        filters.append(({"cluster": str(n)}, lambda r, x=set(c["cases"]): r["idx"] in x))
    reasons = {model_of(r, "strong").get("error_type") for r in recs} - {None}
    for reason in sorted(reasons)[:2]:
        filters.append(({"model": "strong", "reason": reason},
                        lambda r, x=reason: model_of(r, "strong").get("error_type") == x))
    for params, pred in filters:
        want = [r["idx"] for r in recs if pred(r)]
        assert want, ("the filter selects nothing: a weak test", params)
        qs = urllib.parse.urlencode(dict(params, limit=500))
        got = api(port, "/api/runs/%s/cases?%s" % (run_id, qs))
        assert got["total"] == len(want), (params, got["total"], len(want))
        assert [c["idx"] for c in got["cases"]] == want[:500], params
        m = params.get("model", "strong")
        counts = got["counts"]
        for v in ("correct", "wrong", "error"):
            n = sum(first_verdict(model_of(by_idx[i], m)) == v for i in want)
            assert counts["verdict"][v] == n, (params, v, counts["verdict"], n)
        for t in tags:
            n = sum(t in by_idx[i]["tags"] for i in want)
            assert counts["tag"].get(t, 0) == n, (params, t)
        assert counts["flipped"]["w2r"] == sum(flipped(model_of(by_idx[i], m)) == "w2r" for i in want)
        assert counts["disagree"] == sum(disagrees(model_of(by_idx[i], m)) for i in want)
    return filters


def check_paging_and_order(port, run_id, recs):
    want = [r["idx"] for r in recs if first_verdict(model_of(r, "weak")) == "wrong"]
    got, offset, as_of = [], 0, None
    while True:
        page = api(port, "/api/runs/%s/cases?model=weak&verdict=wrong&limit=37&offset=%d%s"
                   % (run_id, offset, "&as_of=%d" % as_of if as_of else ""))
        as_of = page["as_of"]
        got += [c["idx"] for c in page["cases"]]
        if len(page["cases"]) < 37:
            break
        offset += 37
    assert got == want, "paging lost or repeated cases"
    tokens = lambda r: model_of(r, "weak")["candidates"][0].get("output_tokens") or 0  # noqa: E731
    order = sorted((r for r in recs if first_verdict(model_of(r, "weak")) == "wrong"),
                   key=lambda r: (-tokens(r), r["idx"]))
    page = api(port, "/api/runs/%s/cases?model=weak&verdict=wrong&sort=tokens&order=desc&limit=50"
               "&offset=10" % run_id)
    assert [c["idx"] for c in page["cases"]] == [r["idx"] for r in order[10:60]]
    mid = want[len(want) // 2]
    one = api(port, "/api/runs/%s/cases/%d?model=weak&verdict=wrong" % (run_id, mid))
    at = want.index(mid)
    assert (one["prev"], one["next"]) == (want[at - 1], want[at + 1]), one
    assert one["record"]["idx"] == mid and "spans" in one["record"]
    assert one["prompt"][-1]["role"] == "user"


def check_case_text(port, run_id, recs, src):
    r = next(r for r in recs if HOSTILE[:20] in src[r["id"]]["question"])
    one = api(port, "/api/runs/%s/cases/%d" % (run_id, r["idx"]))
    assert one["prompt"][-1]["content"] == src[r["id"]]["question"], "the text changed on the way"


def check_compare(port, run_id, recs):
    t = {"both": 0, "a": 0, "b": 0, "neither": 0}
    dis = []
    for r in recs:
        va, vb = first_verdict(model_of(r, "strong")), first_verdict(model_of(r, "weak"))
        if va not in ("correct", "wrong") or vb not in ("correct", "wrong"):
            continue
        key = "both" if va == vb == "correct" else "neither" if va == vb else "a" if va == "correct" else "b"
        t[key] += 1
        if va != vb:
            dis.append(r["idx"])
    got = api(port, "/api/compare?a=%s&b=%s&model_a=strong&model_b=weak&limit=500" % (run_id, run_id))
    assert (got["both_correct"], got["only_a"], got["only_b"], got["both_wrong"]) == (
        t["both"], t["a"], t["b"], t["neither"]), got
    assert got["total"] == len(dis) and [c["a_idx"] for c in got["cases"]] == dis[:500]


def finished_run(sb):
    write_cases(sb, 2000)
    cfg = sb.write("fin.yaml", CONFIG % {"name": "fin", "latency": 0, "slots": 64})
    sb.run([R, "run", cfg, "--out", sb.path("runs"), "--quiet"], check=0)
    run_dir = rslib.only_run_dir(sb.path("runs"))
    run_id = os.path.basename(run_dir)
    recs = rslib.read_jsonl(os.path.join(run_dir, "results.jsonl"))
    src = {c["id"]: c for c in rslib.read_jsonl(sb.path("cases.jsonl"))}
    port = start_serve(sb, "runs")
    runs = api(port, "/api/runs")["runs"]
    rep = rslib.load_report(run_dir)
    [row] = [x for x in runs if x["run_id"] == run_id]
    assert row["status"] == "finished" and row["report_html"] is True, row
    for m in rep["models"]:
        assert abs(row["accuracy"][m["name"]] - m["graders"][0]["accuracy"]) < 1e-12
    wait_indexed(port, run_id, len(recs))
    facets = api(port, "/api/runs/%s" % run_id)
    assert facets["models"] == ["strong", "weak"] and "majority" in facets["strategies"], facets
    clusters = rep.get("clusters") or []
    assert clusters and all(c["cases"] for c in clusters), "no failure clusters: a weak test"
    for c in clusters:  # the members are failures (first wrong) of some model
        assert all(any(first_verdict(m) == "wrong" for m in recs[i]["models"]) for i in c["cases"])
    assert api(port, "/api/runs/%s" % run_id)["clusters"] == len(clusters)
    check_filters(port, run_id, recs, src, lambda _: clusters)
    check_paging_and_order(port, run_id, recs)
    check_case_text(port, run_id, recs, src)
    check_compare(port, run_id, recs)
    status, body = get(port, "/runs/%s/report.html" % run_id)
    assert status == 200 and body.startswith(b"<!DOCTYPE html>")
    assert get(port, "/runs/..%2F..%2Fetc/report.html")[0] == 404
    assert get(port, "/api/runs/%s/cases?verdict=maybe" % run_id)[0] == 400
    assert get(port, "/api/runs/nope")[0] == 404
    assert get(port, "/api/runs", method="POST")[0] == 405
    print("ok: finished run: filters, counts, paging, order, neighbours, compare as recomputed")
    files_equal_redis(sb, port, run_dir, run_id)


def files_equal_redis(sb, port, run_dir, run_id):
    """A finished run is read from its files (results.jsonl through results.idx, config.json,
    report.json): no redis-server is started for it, every case is indexed from the first answer
    of a server just started, and every answer equals the one read from its Redis (the same
    directory without results.idx), and the one from the files `reasonsaver report` writes again
    from Redis (results.idx made the other way: from records read back in case order)."""
    assert not os.path.exists(os.path.join(run_dir, "redis.sock")), "a redis-server was started"
    fresh = start_serve(sb, "runs")
    assert api(fresh, "/api/runs/%s" % run_id)["indexed"] == 2000, "not indexed at once"
    other = sb.path("redis-mode")
    shutil.copytree(run_dir, os.path.join(other, run_id))
    os.unlink(os.path.join(other, run_id, "results.idx"))
    port2 = start_serve(sb, "redis-mode")
    wait_indexed(port2, run_id, 2000)
    assert os.path.exists(os.path.join(other, run_id, "redis.sock")), "not read from Redis"
    sb.run([R, "report", run_id, "--out", sb.path("runs"), "--to",
            sb.path("rebuilt/" + run_id)], check=0)
    assert os.path.exists(sb.path("rebuilt/%s/results.idx" % run_id))
    port3 = start_serve(sb, "rebuilt")
    paths = ["", "/cases?limit=50", "/cases?model=weak&verdict=wrong&offset=10&limit=30",
             "/cases?sort=tokens&desc=1&limit=20", "/cases?q=%3Cscript%3E&limit=10",
             "/cases?strategy=majority&outcome=correct&tag=hostile%7Ctag%0A%3Cb%3E",
             "/cases?flipped=w2r", "/cases?disagree=1&model=strong", "/cases?reason=http_500",
             "/cases/7", "/cases/1999?model=strong&verdict=wrong"]
    paths = ["/api/runs/%s%s" % (run_id, p) for p in paths]
    paths.append("/api/compare?a=%s&b=%s&model_a=strong&model_b=weak" % (run_id, run_id))
    for p in paths:
        a, b, c = api(port, p), api(port2, p), api(port3, p)
        for x in (a, b, c):
            x.pop("as_of", None)
        assert a == b, (p, json.dumps(a)[:300], json.dumps(b)[:300])
        assert a == c, (p, json.dumps(a)[:300], json.dumps(c)[:300])
    print("ok: a finished run is read from its files, indexed at once, as from Redis")
    # a report.json whose status is not a plain word is not trusted to open the run from files
    odd = sb.path("odd-status")
    shutil.copytree(run_dir, os.path.join(odd, run_id))
    rep_path = os.path.join(odd, run_id, "report.json")
    rep = rslib.load_report(os.path.join(odd, run_id))
    rep["status"] = 'fin"ished'
    with open(rep_path, "w") as f:
        json.dump(rep, f)
    port4 = start_serve(sb, "odd-status")
    body = OPENER.open("http://127.0.0.1:%d/api/runs/%s/events" % (port4, run_id), timeout=30).read()
    [event] = [json.loads(x[6:]) for x in body.decode().splitlines() if x.startswith("data: ")]
    assert event["status"] == "finished", event  # from its Redis
    assert os.path.exists(os.path.join(odd, run_id, "redis.sock")), "opened from its files"


def live_run(sb):
    cfg = sb.write("live.yaml", CONFIG % {"name": "live", "latency": 40, "slots": 4})
    coord = sb.spawn([R, "run", cfg, "--out", sb.path("live"), "--quiet", "--set",
                      "dataset.limit=600"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    rslib.wait_for(lambda: os.path.isdir(sb.path("live")) and os.listdir(sb.path("live")), 30, "run")
    run_id = os.listdir(sb.path("live"))[0]
    port = start_serve(sb, "live")
    rslib.wait_for(lambda: api(port, "/api/runs/%s" % run_id)["indexed"] >= 40, 60, "40 indexed")
    first = api(port, "/api/runs/%s/cases?limit=20" % run_id)
    as_of, total = first["as_of"], first["total"]
    stream = OPENER.open("http://127.0.0.1:%d/api/runs/%s/events" % (port, run_id), timeout=60)
    events = []
    while len(events) < 3:
        line = stream.readline().decode()
        if line.startswith("data: "):
            events.append(json.loads(line[6:]))
    stream.close()
    assert events[0]["done"] < events[-1]["done"], events
    # after the first (from the manifest), the coordinator's own events, forwarded from pub/sub
    assert all(e["type"] == "progress" and "in_flight" in e for e in events[1:]), events
    rslib.wait_for(lambda: api(port, "/api/runs/%s" % run_id)["indexed"] > total + 20, 60, "more")
    again = api(port, "/api/runs/%s/cases?limit=20&as_of=%d" % (run_id, as_of))
    assert again["total"] == total and again["cases"] == first["cases"], "the snapshot moved"
    later = api(port, "/api/runs/%s/cases?limit=20" % run_id)
    assert later["as_of"] > as_of and later["total"] > total
    coord.wait(timeout=120)
    body = OPENER.open("http://127.0.0.1:%d/api/runs/%s/events" % (port, run_id), timeout=30).read()
    [last] = [json.loads(x[6:]) for x in body.decode().splitlines() if x.startswith("data: ")]
    assert last["type"] == "status" and last["status"] == "finished", last  # and the stream ended
    # its coordinator gone, the run is read from its directory: every case, whole rows
    rslib.wait_for(lambda: api(port, "/api/runs/%s" % run_id)["indexed"] == 600, 60, "600 indexed")
    rows = api(port, "/api/runs/%s/cases?limit=5&offset=595" % run_id)["cases"]
    assert len(rows) == 5 and all(x["id"] and x["models"] for x in rows), rows
    print("ok: live run: a snapshot pages the same while results arrive; events advance")


def token(sb):
    r = sb.run([R, "serve", "--bind", "0.0.0.0:%d" % rslib.free_port(), "--out", sb.path("runs")])
    assert r.returncode == 2 and "token" in r.stderr, r.stderr
    secret = "s3cr3t-token-0123456789"
    port = rslib.free_port()
    env = dict(os.environ, RS_VIEW_TOKEN=secret)
    start_serve(sb, "runs", "--bind", "0.0.0.0:%d" % port, "--token-env", "RS_VIEW_TOKEN",
                port=port, env=env)
    assert get(port, "/api/runs")[0] == 401
    assert get(port, "/api/runs", token="wrong-token-0123456789")[0] == 401
    assert get(port, "/api/runs", token=secret)[0] == 200
    assert get(port, "/api/runs?token=" + secret)[0] == 200
    status, body = get(port, "/api/runs?token=nope")
    assert status == 401 and secret.encode() not in body
    print("ok: token required off loopback; 401 without it, 200 with it")


def main():
    with rslib.Sandbox() as sb:
        finished_run(sb)
        live_run(sb)
        token(sb)


if __name__ == "__main__":
    main()
