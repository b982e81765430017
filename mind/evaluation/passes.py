"""The two passes of an evaluation over one model, each resumable through a :class:`PredictionStore`.

:func:`score_pending` is the teacher-forced pass (:mod:`mind.evaluation.likelihood`); :func:`generate_pending` the
greedy generation and answer checking. Both do only the items missing from their store (same key) and append each
batch as soon as it is done, with a tqdm progress bar (``[phase/phases] what model``, which the dashboard follows).
:func:`store_keys` says what goes into a key: everything that changes a result.
"""

from __future__ import annotations

import copy

from mind.evaluation.store import PredictionStore, dumps_key


def _bar(total: int, desc: str, progress: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="item", disable=not progress, dynamic_ncols=True, mininterval=0.5)


def generate_pending(model, tok, store: PredictionStore, items: dict, prompts: dict, settings, progress: bool,
                     desc: str) -> int:
    """Generate the items missing from ``store``; append each finished batch. Returns how many were generated.

    Items are generated in groups of equal budget (``settings.budget`` of their answer type). With bf16 a bf16 copy
    of the model generates, so ``model`` itself stays exact for the likelihood pass and checkpoint merging."""
    import torch

    from mind.benchmarks.answers import check_answer, extract_answer
    from mind.evaluation.decode import iter_greedy

    todo = [(b, it) for b, its in items.items() for it in its if not store.has(b, it.id)]
    if not todo:
        return 0
    bar = _bar(len(todo), desc, progress)
    gen = copy.deepcopy(model).to(torch.bfloat16) if settings.precision == "bf16" else model
    done = 0
    try:
        for budget in sorted({settings.budget(it.answer_type) for _, it in todo}, reverse=True):
            group = [(b, it) for b, it in todo if settings.budget(it.answer_type) == budget]
            for batch in iter_greedy(gen, tok, [prompts[(b, it.id)] for b, it in group], budget, settings.batch_size,
                                     settings.stop_at_answer):
                records = []
                for g in batch:
                    b, it = group[g.index]
                    choices = list(it.choices) or None
                    records.append({"benchmark": b, "id": it.id, "prediction": g.text,
                                    "extracted": extract_answer(g.text, it.answer_type, choices), "gold": it.answer,
                                    "correct": bool(check_answer(g.text, it.answer, it.answer_type, choices)),
                                    "n_tokens": g.n_tokens})
                store.add(records)
                done += len(records)
                bar.update(len(records))
    finally:
        del gen
        bar.close()
    return done


def score_pending(model, tok, store: PredictionStore, items: dict, prompts: dict, settings, heldout,
                  chat_template: bool, device, progress: bool, desc: str, prompt_version: int = 2) -> int:
    """Teacher-forced records for the items missing from ``store``, appended batch by batch."""
    from mind.evaluation.likelihood import rationale_ce, score_items, scoring_for
    from mind.model.student import StudentLM

    todo = [(b, it) for b, its in items.items() for it in its if not store.has(b, it.id)]
    if not todo:
        return 0
    student = StudentLM(model)
    problems = {p.id: p for p in heldout.problems} if heldout is not None else {}
    bar = _bar(len(todo), desc, progress)
    try:
        for lo in range(0, len(todo), settings.batch_size):
            part = todo[lo : lo + settings.batch_size]
            recs = score_items(student, tok, [scoring_for(it, prompts[(b, it.id)], prompt_version) for b, it in part],
                               device, settings.batch_size)
            held = [i for i, (b, _) in enumerate(part) if b == "heldout"]
            if held:
                ce = rationale_ce(student, tok, [problems[part[i][1].id] for i in held], heldout.perspectives,
                                  heldout.max_length, chat_template, device, prompt_version=prompt_version)
                for row, i in enumerate(held):
                    recs[i]["rationale_ce"] = {p: float(v) if v == v else None for p, v in zip(heldout.perspectives, ce[row])}
            store.add([{"benchmark": b, "id": it.id, "gold": it.answer, **r} for (b, it), r in zip(part, recs)])
            bar.update(len(part))
    finally:
        bar.close()
    return len(todo)


# What the teacher-forced records hold; a store line of another scoring is never reused. "answer-line" (before
# prompt versions): gold line and per-token option-text ranking; "v2": gold line, option letters, harness acc/acc_norm.
SCORING = "v2"


def store_keys(who: str, common: dict, items: dict, settings, heldout) -> tuple[dict, dict]:
    """Per-benchmark store keys: (generation, likelihood). They name everything that changes a result
    (``common`` carries the student, seed, chat template and prompt version)."""
    gen, lik = {}, {}
    for b, its in items.items():
        answer_type = its[0].answer_type if its else "number"
        extra = {"precision": "bf16"} if settings.precision == "bf16" else {}
        if settings.stop_at_answer:
            extra["stop"] = "answer-line"
        gen[b] = dumps_key(model=who, max_new_tokens=settings.budget(answer_type), **common, **extra)
        held = {"perspectives": list(heldout.perspectives), "max_length": heldout.max_length} if b == "heldout" else {}
        lik[b] = dumps_key(model=who, scoring=SCORING, **common, **held)
    return gen, lik
