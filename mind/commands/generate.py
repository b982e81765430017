"""``mind generate``: build a multi-perspective rationale dataset with a teacher LLM.

Example::

    export OPENAI_API_KEY=...            # or any value for a local server
    mind generate --dataset gsm8k --split train --limit 500 \\
        --teacher openai:Qwen2.5-7B-Instruct --base-url http://127.0.0.1:8000/v1 --out data/gsm8k.jsonl

Writes ``data/gsm8k.jsonl`` (the :mod:`mind.data` schema), ``data/gsm8k.card.json`` / ``.card.md`` and keeps
every response in ``data/gsm8k.cache.jsonl``: rerun the same command to resume after a crash.
"""

from __future__ import annotations

import argparse
import shlex
import sys


def add_parser(subparsers) -> None:
    p = subparsers.add_parser(
        "generate",
        help="ask a teacher LLM for one rationale per perspective, judge them, write a dataset",
        description="Build a multi-perspective rationale dataset: teacher -> judge -> down-sampling -> JSONL + data card.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    src = p.add_argument_group("problems")
    src.add_argument("--dataset", required=True,
                     help="benchmark name (gsm8k, svamp, math500, csqa, strategyqa, gpqa) or a JSONL file of {id, question, answer}")
    src.add_argument("--split", default=None, help="benchmark split (e.g. train, test)")
    src.add_argument("--limit", type=int, default=None, help="use the first N problems")
    src.add_argument("--benchmark-path", default=None, help="local copy of the benchmark file/folder")
    t = p.add_argument_group("teacher")
    t.add_argument("--teacher", required=True, help="openai:MODEL (OpenAI-compatible server) or hf:ID_OR_FOLDER (local model; hf:smollm2-135m is embedded)")
    t.add_argument("--base-url", default=None, help="server URL, e.g. http://127.0.0.1:8000/v1 (default: api.openai.com)")
    t.add_argument("--api-key-env", default="OPENAI_API_KEY",
                   help="environment variable that holds the API key (the key itself is never written anywhere)")
    t.add_argument("--perspectives", metavar="FILE", default=None, help="JSON/YAML perspective set (default: the built-in eight)")
    t.add_argument("--max-tokens", type=int, default=1024, help="completion budget per rationale")
    t.add_argument("--temperature", type=float, default=0.0)
    t.add_argument("--concurrency", type=int, default=8, help="parallel HTTP requests")
    t.add_argument("--batch-size", type=int, default=8, help="generation batch for hf: models")
    t.add_argument("--device", default=None, help="device for hf: models (default: cuda when available, else cpu)")
    t.add_argument("--timeout", type=float, default=120.0, help="seconds per HTTP request")
    t.add_argument("--max-retries", type=int, default=5, help="retries per request on 429/5xx/timeouts/connection errors")
    t.add_argument("--retry-base-delay", type=float, default=0.5, help="first backoff (seconds), doubled per retry, with jitter")
    t.add_argument("--retry-max-delay", type=float, default=20.0, help="cap on one backoff (seconds)")
    t.add_argument("--max-consecutive-failures", type=int, default=25,
                   help="stop when this many requests in a row fail after their retries")
    j = p.add_argument_group("judge and down-sampling")
    j.add_argument("--judge", default="answer", help="'answer' (answer checker) or llm:openai:MODEL")
    j.add_argument("--judge-base-url", default=None, help="server for the LLM judge (default: --base-url)")
    j.add_argument("--difficulty", default="solve_rate", choices=("solve_rate", "length"),
                   help="difficulty signal: fraction of perspectives right, or median rationale words")
    j.add_argument("--easy-threshold", type=float, default=None,
                   help="easy when solve rate >= this (default 1.0) or median words <= this (default 80)")
    j.add_argument("--easy-keep", type=float, default=0.5, help="probability of keeping an easy problem")
    j.add_argument("--min-rationales", type=int, default=1, help="drop problems with fewer kept rationales")
    j.add_argument("--seed", type=int, default=0, help="seed of the down-sampling draws")
    o = p.add_argument_group("output")
    o.add_argument("--out", required=True, help="output dataset (JSONL); card and cache are written beside it")
    o.add_argument("--cache", default=None, help="response cache file (default: <out>.cache.jsonl)")
    o.add_argument("--durable", action="store_true", help="fsync the cache after every response")
    o.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.set_defaults(func=run)


def _command_line() -> str:
    """``mind generate ...`` as typed (flags only: no flag ever carries a secret)."""
    argv = sys.argv[1:]
    if "generate" in argv:
        return shlex.join(["mind", *argv[argv.index("generate"):]])
    return "mind generate (called in-process)"


def run(args) -> int:
    from pathlib import Path

    from mind.teacher.downsample import DownsampleConfig
    from mind.teacher.pipeline import GenerateConfig, generate
    from mind.teacher.retry import RetryPolicy

    cfg = GenerateConfig(
        dataset=args.dataset, out=Path(args.out), teacher=args.teacher, split=args.split, limit=args.limit,
        benchmark_path=args.benchmark_path, base_url=args.base_url, api_key_env=args.api_key_env,
        perspectives_file=args.perspectives, judge=args.judge, judge_base_url=args.judge_base_url,
        timeout=args.timeout, max_tokens=args.max_tokens, temperature=args.temperature,
        concurrency=args.concurrency, batch_size=args.batch_size, device=args.device,
        retry=RetryPolicy(args.max_retries, args.retry_base_delay, args.retry_max_delay),
        max_consecutive_failures=args.max_consecutive_failures,
        downsample=DownsampleConfig(args.difficulty, args.easy_keep, args.easy_threshold, args.min_rationales, args.seed),
        cache=Path(args.cache) if args.cache else None, durable=args.durable,
        progress=not args.no_progress,
        command=_command_line(),
    )
    try:
        card = generate(cfg)
    except KeyboardInterrupt:
        print(f"interrupted: finished responses are kept in {cfg.cache_path}; rerun the same command to continue",
              file=sys.stderr)
        raise
    if card["problems_kept"] == 0:
        print("warning: no problem was kept; see the data card for the drop reasons", file=sys.stderr)
    print(
        f"{card['problems_kept']} of {card['problems_in']} problems kept, {card['rationales_in_output']} rationales "
        f"({card['rationales_generated']} generated, {card['rationales_requested'] - card['rationales_kept']} dropped: "
        + ", ".join(f"{k} {v}" for k, v in card["dropped_by_reason"].items() if v)
        + f"); {card['requests']['sent']} requests sent, {card['requests']['cached']} from cache -> {card['output']}"
    )
    return 0
