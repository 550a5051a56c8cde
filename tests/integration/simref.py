"""An independent implementation of the sim model's definition (docs/SIM.md), used to compute the
counts a report must show without running any reasonsaver code."""
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
