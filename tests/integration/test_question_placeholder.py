"""{{question}} in judge and revise templates is the case's raw input, not the rendered prompt.

A run through reasonsaver-mockllm (--log-requests) whose prompt.template wraps each question in
instructions and whose judge template is "Q: {{question}}\\nA: {{answer}}\\nVerdict: Y or N": every
judge request the mock received quotes the dataset's question field as read and none of the
template's instructions, while the generations did see them; the revision's {{prompt}} is the
rendered prompt (instructions included) and its system message is the run's. Then the OpenAI evals
format, whose {{question}} is the case's non-system messages."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import rslib  # noqa: E402
from test_mockllm import MOCK, Mock  # noqa: E402

KEY = "rs-question-test-key"
INSTRUCTIONS = "Solve step by step and end with '#### <answer>'."
SYSTEM = "You are a careful grader's student."
CONFIG = """
run: {name: %(name)s, seed: 1}
dataset: {path: %(dataset)s, limit: %(limit)d, format: %(format)s}
models:
  - {name: gpt, provider: openai, model: sim-1, base_url: "http://127.0.0.1:%(port)d/v1",
     mock: true, api_key_env: RS_TEST_KEY, max_retries: 2, retry_base_ms: 20, retry_cap_ms: 100}
prompt:
  system: "%(system)s"
  template: "%(instructions)s\\n\\n{{input}}"
judges:
  - {name: j, model: gpt, template: "Q: {{question}}\\nA: {{answer}}\\nVerdict: Y or N"}
revise: {rounds: 1, template: "PROMPT: {{prompt}}\\nQ: {{question}}\\nA: {{answer}}\\nC: {{critique}}"}
scoring: {graders: [exact]}
cluster: {workers: 1, worker_slots: 8}
"""


def run(sb, name, dataset, limit, fmt):
    log = sb.path(name + "-requests.jsonl")
    mock = Mock(sb, "--quiet", "--log-requests", log)
    cfg = sb.write(name + ".yaml", CONFIG % {
        "name": name, "dataset": dataset, "limit": limit, "format": fmt, "port": mock.port,
        "system": SYSTEM, "instructions": INSTRUCTIONS})
    env = dict(os.environ, RS_TEST_KEY=KEY)
    r = sb.run([rslib.REASONSAVER, "run", cfg, "--out", sb.path(name + "-runs")], env=env,
               check=0)
    assert r.returncode == 0, r.stdout + r.stderr
    mock.stop()
    with open(log) as f:
        reqs = [json.loads(line) for line in f]
    assert all(q["path"] == "/v1/chat/completions" for q in reqs), reqs
    return [q["body"]["messages"] for q in reqs]


def split(msgs_list):
    """(generations, judge requests, revisions) by the shape of their messages."""
    judge = [m for m in msgs_list if len(m) == 1 and m[0]["content"].startswith("Q: ")]
    revise = [m for m in msgs_list if m[-1]["content"].startswith("PROMPT: ")]
    gen = [m for m in msgs_list if m not in judge and m not in revise]
    return gen, judge, revise


def check_jsonl(sb):
    limit = 6
    dataset = os.path.join(rslib.SRC, "datasets", "demo.jsonl")
    questions = [c["question"] for c in rslib.read_jsonl(dataset)[:limit]]
    gen, judge, revise = split(run(sb, "jsonl", dataset, limit, "jsonl"))
    assert len(gen) == limit and len(judge) == limit and len(revise) == limit, (
        len(gen), len(judge), len(revise))
    for m in gen:  # the model saw the template's instructions
        assert [x["role"] for x in m] == ["system", "user"], m
        assert m[1]["content"].startswith(INSTRUCTIONS + "\n\n"), m
    seen = set()
    for (m,) in judge:
        text = m["content"]
        assert m["role"] == "user", m
        assert INSTRUCTIONS not in text and SYSTEM not in text, text  # not the rendered prompt
        q = text[len("Q: "):text.index("\nA: ")]
        assert q in questions, (q, questions)  # the raw input, exactly
        assert text.endswith("\nVerdict: Y or N"), text
        seen.add(q)
    assert seen == set(questions), seen
    for m in revise:
        assert [x["role"] for x in m] == ["system", "user"] and m[0]["content"] == SYSTEM, m
        text = m[1]["content"]
        prompt = text[len("PROMPT: "):text.index("\nQ: ")]
        q = text[text.index("\nQ: ") + 4:text.index("\nA: ")]
        assert q in questions and prompt == INSTRUCTIONS + "\n\n" + q, text


def check_evals(sb):
    limit = 4
    dataset = os.path.join(rslib.SRC, "datasets", "evals-sample.jsonl")
    cases = rslib.read_jsonl(dataset)[:limit]
    want = set()
    for c in cases:
        shown = [m for m in c["input"] if m["role"] != "system"]
        want.add(shown[0]["content"] if len(shown) == 1 else
                 "\n\n".join("%s: %s" % (m["role"], m["content"]) for m in shown))
    gen, judge, _ = split(run(sb, "evals", dataset, limit, "evals"))
    assert len(judge) == limit, len(judge)
    got = {m[0]["content"][len("Q: "):m[0]["content"].index("\nA: ")] for m in judge}
    assert got == want, (got, want)


def main():
    if not os.path.exists(MOCK):
        rslib.skip("reasonsaver-mockllm is not built")
    with rslib.Sandbox() as sb:
        check_jsonl(sb)
        check_evals(sb)
    print("ok: judges and revisions quote the raw input as {{question}}, the prompt as {{prompt}}")


if __name__ == "__main__":
    main()
