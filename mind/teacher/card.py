"""The data card written beside a generated dataset: ``<name>.card.json`` and a readable ``<name>.card.md``.

It records where the data came from (teacher model, judge, prompts hash, command, source dataset) and what
happened to it (problems in, rationales generated, dropped per perspective and per reason, problems kept after
down-sampling, tokens used). It never holds an API key: only the *name* of the environment variable.
"""

from __future__ import annotations

import json
from pathlib import Path


def card_paths(out: Path) -> tuple[Path, Path]:
    """``data.jsonl`` -> ``data.card.json``, ``data.card.md`` in the same folder."""
    stem = out.name[: -len(out.suffix)] if out.suffix else out.name
    return out.parent / f"{stem}.card.json", out.parent / f"{stem}.card.md"


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def render_markdown(card: dict) -> str:
    """A short human summary of ``card``."""
    t = card["tokens"]["teacher"]
    lines = [
        f"# Data card: {Path(card['output']).name}",
        "",
        f"- Teacher: `{card['teacher']}`" + (f" at `{card['base_url']}`" if card.get("base_url") else ""),
        f"- Judge: `{card['judge']}`",
        f"- Source: `{card['source']['dataset']}`"
        + (f" split `{card['source']['split']}`" if card["source"].get("split") else "")
        + (f", limit {card['source']['limit']}" if card["source"].get("limit") else ""),
        f"- Perspectives ({len(card['perspectives'])}): {', '.join(card['perspectives'])}; prompts hash `{card['prompts_hash']}`",
        f"- Command: `{card['command']}`" if card.get("command") else "- Command: (not recorded)",
        f"- Created: {card['created']}",
        "",
        "## Counts",
        "",
        f"- Problems in: {card['problems_in']}",
        f"- Rationales requested: {card['rationales_requested']}, generated: {card['rationales_generated']}, "
        f"kept by the judge: {card['rationales_kept']}",
        f"- Problems kept after down-sampling: {card['problems_kept']} "
        f"(easy: {card['downsampling']['easy_problems']}, dropped as easy: {card['downsampling']['dropped_easy']}, "
        f"dropped for too few rationales: {card['downsampling']['dropped_too_few']})",
        f"- Rationales in the output: {card['rationales_in_output']}",
        f"- Tokens (teacher): {t['prompt']} prompt + {t['completion']} completion"
        + (f"; judge: {card['tokens']['judge']['prompt']} + {card['tokens']['judge']['completion']}"
           if card["tokens"]["judge"]["prompt"] or card["tokens"]["judge"]["completion"] else ""),
        f"- Requests this run: {card['requests']['sent']} sent, {card['requests']['cached']} answered from the cache, "
        f"{sum(card['requests']['retries'].values())} retries, {card['requests']['failed']} failed",
        "",
        "## Per perspective",
        "",
        "| perspective | generated | kept | " + " | ".join(card["drop_reasons"]) + " |",
        "|---|---|---|" + "---|" * len(card["drop_reasons"]),
    ]
    for pid in card["perspectives"]:
        row = card["per_perspective"][pid]
        drops = " | ".join(str(row["dropped"].get(r, 0)) for r in card["drop_reasons"])
        lines.append(f"| {pid} | {row['generated']} | {row['kept']} | {drops} |")
    ds = card["downsampling"]
    lines += [
        "",
        f"Down-sampling: signal `{ds['signal']}`, easy when {'>=' if ds['signal'] == 'solve_rate' else '<='} "
        f"{ds['threshold']}, easy problems kept with probability {ds['easy_keep']} (seed {ds['seed']}).",
        "",
    ]
    return "\n".join(lines)


def write_card(out: Path, card: dict) -> tuple[Path, Path]:
    """Write the JSON and markdown card beside ``out``; return their paths."""
    jpath, mpath = card_paths(out)
    _atomic_write(jpath, json.dumps(card, indent=2, ensure_ascii=False) + "\n")
    _atomic_write(mpath, render_markdown(card))
    return jpath, mpath
