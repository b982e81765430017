"""``mind perspectives``: list the reasoning perspectives and the teacher instruction of each."""

from __future__ import annotations

import argparse
import json
import textwrap


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "perspectives",
        help="list the teacher's reasoning perspectives and their prompts",
        description="List the perspective set (id, name, style, teacher prompt): the built-in eight, or a file's.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--perspectives", metavar="FILE", default=None,
                   help="a JSON/YAML list of {id, name, style, prompt}; missing prompts come from the defaults")
    p.add_argument("--json", action="store_true", help="print JSON (a list of objects) instead of text")
    p.add_argument("--system", action="store_true", help="also print the teacher's system prompt")
    p.set_defaults(func=run)


def run(args) -> int:
    from mind.teacher.pipeline import resolve_perspectives
    from mind.teacher.prompts import TEACHER_SYSTEM, prompts_hash

    ps = resolve_perspectives(args.perspectives)
    if args.json:
        rows = [{"id": p.id, "name": p.name, "style": p.style, "prompt": p.prompt} for p in ps]
        out = {"perspectives": rows, "prompts_hash": prompts_hash(ps)}
        if args.system:
            out["system"] = TEACHER_SYSTEM
        print(json.dumps(out if args.system else rows, indent=2, ensure_ascii=False))
        return 0
    if args.system:
        print("system prompt:")
        print(textwrap.indent(textwrap.fill(TEACHER_SYSTEM, 100), "  "))
        print()
    for p in ps:
        print(f"{p.id}  ({p.name}): {p.style}")
        print(textwrap.indent(textwrap.fill(p.prompt, 100), "    "))
        print()
    print(f"{len(ps)} perspectives, prompts hash {prompts_hash(ps)}")
    return 0
