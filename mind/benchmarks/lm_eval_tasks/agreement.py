"""Item-by-item agreement between lm-evaluation-harness (the ``mind_*`` tasks, ``log_samples``) and ``mind eval``.

Choice tasks: lm-eval's per-option log-likelihoods and picks against the plain-format records of
:mod:`mind.evaluation.likelihood` (``plain_logp``, ``plain_pred``, ``plain_pred_norm``) of the same items, matched by
item id, not by position, so that a different file or order shows up as missing items instead of as disagreement.
The student's own format (the ``The answer is (X).`` letter ranking, ``letter_pred``) is compared too: it asks the
question another way, so its differing items are listed rather than expected to be none.

Generation tasks: lm-eval's exact match (per filter) against mind's extractor (:mod:`mind.benchmarks.answers`) on
the very same generated texts. The two read a text differently by design (lm-eval takes the last number or a
``#### N`` line and compares strings; mind takes the last explicit answer line first and compares numbers), so
agreement is required only where both extracted the same answer ("comparable" items, see
:func:`compare_generations`).

Works on the samples of ``lm_eval.simple_evaluate(..., log_samples=True)`` (Python objects; the CLI's JSON files
write ``arguments`` another way); imports nothing of lm_eval.
"""

from __future__ import annotations

FLEXIBLE = "flexible-extract"  # lm-eval's gsm8k filter that takes the last number (mind's fallback does the same)
INVALID = "[invalid]"  # what lm-eval's regex filter returns when nothing matches


def _item_id(doc: dict, doc_id) -> str:
    """mind's id of a document: CSQA rows carry ``id``, StrategyQA rows ``qid`` (what load_benchmark uses)."""
    return str(doc.get("id") or doc.get("qid") or doc_id)


def _argmax(values) -> int:
    """First index of the largest value: numpy's argmax rule, which lm-eval and mind both use."""
    best = 0
    for i, v in enumerate(values):
        if v > values[best]:
            best = i
    return best


def lm_choice_rows(samples: list[dict]) -> list[dict]:
    """Per document of a multiple_choice task, in document order: id, gold index, each option's log-likelihood
    and text length, lm-eval's picks (raw and per character) and its acc / acc_norm."""
    rows = []
    for s in sorted(samples, key=lambda s: int(s["doc_id"])):
        lls = [float(r[0]) for r in s["filtered_resps"]]
        options = [str(a[1]).removeprefix(" ") for a in s["arguments"]]  # the continuation is " " + option text
        chars = [len(o) for o in options]
        rows.append({"id": _item_id(s["doc"], s["doc_id"]), "doc_id": int(s["doc_id"]), "gold": int(s["target"]),
                     "logp": lls, "chars": chars, "pred": _argmax(lls),
                     "pred_norm": _argmax([x / max(c, 1) for x, c in zip(lls, chars)]),
                     "acc": bool(s["acc"]), "acc_norm": bool(s["acc_norm"])})
    return rows


def _mean(xs) -> float:
    xs = list(xs)
    return sum(xs) / len(xs) if xs else float("nan")


def compare_choices(lm_rows: list[dict], ours: dict[str, dict]) -> dict:
    """Agreement of lm-eval's choice rows with mind's likelihood records (``ours``: id -> record) on the same items.

    Returns both harnesses' acc / acc_norm, the share of items where both pick the same option (raw and per
    character), the largest per-option log-likelihood difference, the ids that differ, and the same comparison for
    mind's own letter format. A KeyError names an item mind did not score: the two were given different items."""
    missing = [r["id"] for r in lm_rows if r["id"] not in ours]
    if missing:
        raise KeyError(f"mind has no record of {len(missing)} lm-eval item(s), e.g. {missing[0]}: not the same items")
    pairs = [(r, ours[r["id"]]) for r in lm_rows]
    diffs = [abs(a - b) for r, o in pairs for a, b in zip(r["logp"], o["plain_logp"])]
    shape_ok = all(len(r["logp"]) == len(o["plain_logp"]) for r, o in pairs)
    differ = [r["id"] for r, o in pairs if r["pred"] != o["plain_pred"] or r["pred_norm"] != o["plain_pred_norm"]]
    with_letter = [(r, o) for r, o in pairs if "letter_pred" in o]
    return {
        "n": len(pairs),
        "lm_eval": {"acc": _mean(r["acc"] for r in lm_rows), "acc_norm": _mean(r["acc_norm"] for r in lm_rows)},
        "mind": {"acc": _mean(bool(o["acc"]) for _, o in pairs),
                 "acc_norm": _mean(bool(o["acc_norm"]) for _, o in pairs)},
        "same_pred": _mean(r["pred"] == o["plain_pred"] for r, o in pairs),
        "same_pred_norm": _mean(r["pred_norm"] == o["plain_pred_norm"] for r, o in pairs),
        "max_abs_logp_diff": max(diffs) if diffs and shape_ok else float("nan"),
        "same_options": shape_ok,
        "differ": differ,
        "letter": {  # the student's own "The answer is (X)." ranking against lm-eval's raw pick
            "acc": _mean(o["letter_pred"] == r["gold"] for r, o in with_letter),
            "same_as_lm_eval": _mean(o["letter_pred"] == r["pred"] for r, o in with_letter),
            "differ": [r["id"] for r, o in with_letter if o["letter_pred"] != r["pred"]],
        },
    }


def lm_generation_rows(samples: list[dict]) -> list[dict]:
    """Per document of a generate_until task, in document order: its generated text, gold target, and per filter
    lm-eval's extracted answer and exact match (lm-eval logs one sample per document and filter)."""
    by_doc: dict[int, dict] = {}
    for s in samples:
        row = by_doc.setdefault(int(s["doc_id"]), {"doc_id": int(s["doc_id"]), "text": str(s["resps"][0][0]),
                                                   "gold": str(s["target"]), "extracted": {}, "exact_match": {}})
        row["extracted"][s["filter"]] = str(s["filtered_resps"][0])
        row["exact_match"][s["filter"]] = bool(s["exact_match"])
    return [by_doc[k] for k in sorted(by_doc)]


def lm_cleaned(answer: str, task: str = "mind_gsm8k") -> str:
    """An extracted answer as lm-eval's exact_match compares it: the task's ``regexes_to_ignore`` removed, lower
    case (``ignore_case``), read from the shipped YAML so that the two never drift apart."""
    import re

    from mind.benchmarks.lm_eval_tasks import task_config

    metric = next(m for m in task_config(task)["metric_list"] if m["metric"] == "exact_match")
    for pattern in metric.get("regexes_to_ignore", ()):
        answer = re.sub(pattern, "", answer)
    return answer.lower() if metric.get("ignore_case") else answer


def compare_generations(lm_rows: list[dict], answer_type: str = "number", task: str = "mind_gsm8k") -> dict:
    """lm-eval's exact match (per filter) against mind's extractor on the same generations.

    ``comparable``: items where lm-eval's last-number filter, cleaned as its exact match cleans it, is the very
    string mind's extractor returned; there the two verdicts must agree (``comparable_agree``). Elsewhere they read
    the text differently by design: mind prefers the last explicit answer line to the last number, and compares
    numbers (``18.0`` is ``18``) where lm-eval compares strings."""
    from mind.benchmarks.answers import check_answer, extract_answer

    rows, filters = [], sorted({f for r in lm_rows for f in r["exact_match"]})
    for r in lm_rows:
        ours = extract_answer(r["text"], answer_type)
        correct = bool(check_answer(r["text"], r["gold"], answer_type))
        flex = r["extracted"].get(FLEXIBLE, INVALID)
        rows.append({**r, "mind_extracted": ours, "mind_correct": correct,
                     "comparable": ours is not None and flex != INVALID and lm_cleaned(flex, task) == ours})
    comparable = [r for r in rows if r["comparable"]]

    def agrees(r, f):
        return r["exact_match"].get(f) == r["mind_correct"]

    return {
        "n": len(rows),
        "lm_eval": {f: _mean(r["exact_match"][f] for r in rows) for f in filters},
        "mind": {"accuracy": _mean(r["mind_correct"] for r in rows)},
        "agree": {f: _mean(agrees(r, f) for r in rows) for f in filters},
        "comparable": len(comparable),
        "comparable_agree": _mean(agrees(r, FLEXIBLE) for r in comparable) if comparable else float("nan"),
        "differ": [{"doc_id": r["doc_id"], "gold": r["gold"], "lm_eval": r["extracted"].get(FLEXIBLE),
                    "lm_eval_correct": r["exact_match"].get(FLEXIBLE), "mind": r["mind_extracted"],
                    "mind_correct": r["mind_correct"], "comparable": r["comparable"]}
                   for r in rows if not agrees(r, FLEXIBLE)],
        "rows": rows,
    }
