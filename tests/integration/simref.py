"""An independent implementation of the sim model's definition (docs/SIM.md), used to compute the
counts a report must show without running any reasonsaver code."""
import math
import re

import xxhash

MASK53 = 2.0 ** -53


def draw(model, case_id, k, salt, seed):
    key = "%s\x1f%s\x1f%d\x1f%s" % (model, case_id, k, salt)
    return (xxhash.xxh64_intdigest(key.encode(), seed=seed & 0xFFFFFFFFFFFFFFFF) >> 11) * MASK53


def outcome(model, case_id, k, seed, accuracy, error_rate=0.0):
    """'error', 'correct' or 'wrong' for candidate k of a case."""
    if draw(model, case_id, k, "error", seed) < error_rate:
        return "error"
    return "correct" if draw(model, case_id, k, "correct", seed) < accuracy else "wrong"


def expected_counts(cases, model, seed, accuracy, error_rate=0.0):
    """cases: iterable of case ids. Returns {'correct': n, 'wrong': n, 'error': n}."""
    counts = {"correct": 0, "wrong": 0, "error": 0}
    for cid in cases:
        counts[outcome(model, cid, 0, seed, accuracy, error_rate)] += 1
    return counts


def gsm8k_target(answer):
    m = re.search(r"#### (.*)", answer)
    return m.group(1).strip() if m else None


# ---- the full reply, judging and revising: docs/SIM.md's Python reference ----

NUM = re.compile(r"(?:[+-]?[$€£]?|[$€£][+-])(?:(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|\.\d+)"
                 r"(?:[eE][+-]?\d+)?%?", re.ASCII)
WS = " \t\n\r\f\v"
CRITIQUE_RIGHT = ("[simulated] Critique: Each step follows from the one before, and the final "
                  "answer answers the question.")
CRITIQUE_WRONG = ("[simulated] Critique: A step does not follow from the one before, so the "
                  "final answer cannot be trusted.")


def hash64(model, case_id, k, salt, seed):
    key = "%s\x1f%s\x1f%d\x1f%s" % (model, case_id, k, salt)
    return xxhash.xxh64_intdigest(key.encode(), seed=seed & 0xFFFFFFFFFFFFFFFF)


def number(s):
    while True:  # the scorer's trimming, repeated until nothing changes
        t = s.strip(WS).rstrip(".")
        while len(t) > 1 and t[0] in "*`" and t[-1] in "*`":
            t = t[1:-1]
        if t == s:
            break
        s = t
    if not NUM.fullmatch(s):
        return None
    clean = re.sub(r"[$€£,%]", "", s)
    if len(clean) > 63:
        return None
    v = float(clean)
    return v if math.isfinite(v) else None


def fmt(x):
    if x == 0:
        return "0"
    if x == math.trunc(x) and abs(x) < 2.0 ** 53:
        return "%.0f" % x
    return "%.15g" % x


def wrong_answer(target, h):
    d = (1 + h % 9) * (-1 if (h >> 32) & 1 else 1)
    t = number(target)
    if t is not None and fmt(t + d) != fmt(t):
        return fmt(t + d)
    return "not " + target


def reply(model, case_id, k, seed, target, accuracy=0.7, error_rate=0.0):
    """The generated text of candidate k, or None when the call fails."""
    if draw(model, case_id, k, "error", seed) < error_rate:
        return None
    if target is None:
        answer = "42"
    elif draw(model, case_id, k, "correct", seed) < accuracy:
        answer = target
    else:
        answer = wrong_answer(target, hash64(model, case_id, k, "wrong", seed))
    return ("[simulated] Working through the problem step by step.\n"
            "The answer is %s.\n#### %s" % (answer, answer))


def call_draw(model, case_id, k, what, name, rnd, seed):
    salt = "%s:%s:%d" % (what, name, rnd) if name is not None else "%s:%d" % (what, rnd)
    return draw(model, case_id, k, salt, seed)


def judge(name, cand_model, case_id, k, rnd, seed, truth, is_self, judge_accuracy=0.8,
          self_bias=0.2, error_rate=0.0):
    """(says_correct, text) of judge `name` on a candidate; (None, None) when the call fails."""
    d = lambda what: call_draw(cand_model, case_id, k, what, name, rnd, seed)  # noqa: E731
    if d("error:judge") < error_rate:
        return None, None
    says = truth if d("judge") < judge_accuracy else not truth
    if not says and is_self and not truth:
        says = d("selfbias") < self_bias
    text = "%s\nVerdict: %s" % (CRITIQUE_RIGHT if says else CRITIQUE_WRONG, "Y" if says else "N")
    return says, text


def last_answer(text):
    """What follows the last '#### ' up to the line's end (the hashes extractor, for the sim)."""
    if text is None or "#### " not in text:
        return None
    return text[text.rindex("#### ") + 5:].split("\n")[0] or None


def revise(model, case_id, k, rnd, seed, target, prev_text, prev_correct, said_correct,
           fix_rate=0.3, break_rate=0.05, error_rate=0.0):
    """The text of revision rnd, or None when the call fails."""
    d = lambda what: call_draw(model, case_id, k, what, None, rnd, seed)  # noqa: E731
    if d("error:revise") < error_rate:
        return None
    wrong = lambda: wrong_answer(target, hash64(model, case_id, k, "wrong:%d" % rnd, seed))  # noqa
    prev = last_answer(prev_text)
    if target is not None and not said_correct and prev_correct and d("break") < break_rate:
        answer = wrong()
    elif target is not None and not said_correct and not prev_correct and d("fix") < fix_rate:
        answer = target
    elif prev is not None:
        answer = prev
    else:
        answer = "42" if target is None else target if prev_correct else wrong()
    head = ("The critique found no mistake; keeping the answer." if said_correct
            else "Reworking the problem after the critique.")
    return "[simulated] %s\nThe answer is %s.\n#### %s" % (head, answer, answer)


# ---- the hash embedder (common/embed.h's definition) ----

KIND_SHARE = (0.4, 0.2, 0.4)  # unigrams, bigrams, char n-grams: parts of the squared norm


def _code_points(b):
    """Byte offsets where a code point starts in b, plus len(b)."""
    return [i for i in range(len(b)) if b[i] & 0xC0 != 0x80] + [len(b)]


def hash_embed(text, dim):
    words = [w.lower() for w in re.findall(rb"[0-9A-Za-z\x80-\xff]+", (text or "").encode())]
    padded = [b"<" + w + b">" for w in words]
    counts = [{}, {}, {}]

    def add(kind, data):
        counts[kind][data] = counts[kind].get(data, 0) + 1

    for i, p in enumerate(padded):
        add(0, p)
        if i + 1 < len(padded):
            add(1, p + padded[i + 1])
        cps = _code_points(p)
        for s in range(len(cps) - 1):
            for n in (3, 4, 5):
                if s + n < len(cps):
                    add(2, p[cps[s]:cps[s + n]])
    v = [0.0] * dim
    for kind, feats in enumerate(counts):
        weights = {f: 1.0 + math.log(c) for f, c in feats.items()}
        sq = sum(w * w for w in weights.values())
        if sq == 0:
            continue
        scale = math.sqrt(KIND_SHARE[kind] / sq)
        for f, w in weights.items():
            h = xxhash.xxh64_intdigest(f, seed=kind + 1)
            v[((h & 0xFFFFFFFF) * dim) >> 32] += -w * scale if h >> 63 else w * scale
    n = math.sqrt(sum(x * x for x in v))
    return [x / n for x in v] if n else v


def cosine(a, b):
    na, nb = math.sqrt(sum(x * x for x in a)), math.sqrt(sum(x * x for x in b))
    if na == 0 or nb == 0:
        return 0.0
    return sum(x * y for x, y in zip(a, b)) / (na * nb)


def medoid_totals(vecs):
    """Each vector's total similarity to the others (the consensus strategy's score)."""
    return [sum(cosine(v, w) for j, w in enumerate(vecs) if j != i) for i, v in enumerate(vecs)]
