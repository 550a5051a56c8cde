"""Near-duplicate prompts are found on the dataset's own input field, not on the rendered prompt:
with a long prompt.template shared by every case, only the case that repeats another's question
(with different id) pairs up; the template's words add no similarity."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import rslib  # noqa: E402

# Long instructions of many distinct words: rendered into every prompt they would make any two
# prompts near-duplicates.
TEMPLATE = "Instructions: " + " ".join("rule%d" % i for i in range(400))
CONFIG = """
run: {name: dups}
dataset: {path: cases.jsonl}
models: [{name: m, provider: sim, model: sim-1}]
prompt: {template: "%s\\n\\n{{input}}"}
report: {formats: [json], near_duplicates: true}
""" % TEMPLATE


def main():
    with rslib.Sandbox() as sb:
        sb.run([rslib.REASONSAVER, "datasets", "gen", "arithmetic", "--n", "40", "--seed", "9",
                "--out", sb.path("gen.jsonl")], check=0)
        cases = rslib.read_jsonl(sb.path("gen.jsonl"))
        twin = dict(cases[7], id="twin-of-7")
        with open(sb.path("cases.jsonl"), "w") as f:
            for c in cases + [twin]:
                f.write(json.dumps(c) + "\n")
        cfg = sb.write("dups.yaml", CONFIG)
        sb.run([rslib.REASONSAVER, "run", cfg, "--quiet", "--out", sb.path("runs")], check=0)
        nd = rslib.load_report(rslib.only_run_dir(sb.path("runs")))["near_duplicates"]
        assert nd["cases"] == 41, nd
        pairs = {(p["a"], p["b"]) for p in nd["pairs"]}
        assert nd["total"] == 1 and pairs == {(cases[7]["id"], "twin-of-7")}, nd
        assert TEMPLATE[:40] not in nd["pairs"][0]["a_text"], nd["pairs"][0]
    print("ok: near-duplicates on the input field, not the template")


if __name__ == "__main__":
    main()
