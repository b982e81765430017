"""The data step end to end: problems -> teacher rationales (one per perspective) -> judge -> down-sampling ->
multi-perspective dataset (:mod:`mind.data` schema) and data card.

:func:`generate` reads a :class:`GenerateConfig` and returns the card as a dict. Every teacher and judge
response goes through the on-disk cache (default ``<out>.cache.jsonl``), so rerunning the same command after a
crash or Ctrl-C sends only the requests that had not succeeded yet.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from mind.data import Problem, Rationale, write_problems
from mind.errors import ConfigError
from mind.data.perspectives import load_perspectives, validate_ids
from mind.teacher import card as card_mod
from mind.teacher.backends import DEFAULT_KEY_ENV, make_backend
from mind.teacher.cache import ResponseCache, make_key
from mind.teacher.downsample import DownsampleConfig, select
from mind.teacher.judge import DROP_REASONS, answer_verdict, extract, judge_messages, parse_judge, parse_verdict
from mind.teacher.prompts import build_messages, default_perspectives, prompts_hash, question_with_choices, request_hash, with_prompts
from mind.teacher.retry import RetryPolicy
from mind.teacher.runner import Job, JobRunner
from mind.teacher.sources import load_items


@dataclass(frozen=True)
class GenerateConfig:
    dataset: str  # benchmark name (gsm8k, svamp, ...) or a JSONL file of {id, question, answer}
    out: Path  # output dataset (JSONL); the card and cache go beside it
    teacher: str  # openai:MODEL or hf:ID_OR_FOLDER
    split: str | None = None  # benchmark split
    limit: int | None = None  # first N problems
    benchmark_path: str | None = None  # a local copy of the benchmark (passed to load_benchmark)
    base_url: str | None = None  # OpenAI-compatible endpoint, e.g. http://127.0.0.1:8000/v1
    api_key_env: str = DEFAULT_KEY_ENV  # name of the env var holding the key (never the key itself)
    perspectives_file: str | None = None  # JSON/YAML perspective set; default: the eight built-in ones
    judge: str = "answer"  # "answer" or llm:openai:MODEL
    judge_base_url: str | None = None  # defaults to base_url
    timeout: float = 120.0  # seconds per request
    max_tokens: int = 1024  # completion budget per rationale
    temperature: float = 0.0
    concurrency: int = 8  # parallel HTTP requests
    batch_size: int = 8  # local-model generation batch
    device: str | None = None  # local-model device (None: cuda when available)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    max_consecutive_failures: int = 25  # abort when this many requests in a row fail after retries
    downsample: DownsampleConfig = field(default_factory=DownsampleConfig)
    cache: Path | None = None  # default: <out stem>.cache.jsonl
    durable: bool = False  # fsync the cache after every response
    progress: bool = True
    command: str = ""  # recorded in the card

    def __post_init__(self):
        if self.concurrency < 1:
            raise ConfigError(f"--concurrency {self.concurrency}: must be >= 1")
        if self.max_consecutive_failures < 1:
            raise ConfigError("--max-consecutive-failures: must be >= 1")
        object.__setattr__(self, "out", Path(self.out))

    @property
    def cache_path(self) -> Path:
        if self.cache is not None:
            return Path(self.cache)
        stem = self.out.name[: -len(self.out.suffix)] if self.out.suffix else self.out.name
        return self.out.parent / f"{stem}.cache.jsonl"


def resolve_perspectives(path: str | None):
    """The perspective set to ask for: the built-in eight, or a user file (prompts filled from the defaults)."""
    ps = default_perspectives() if not path else with_prompts(load_perspectives(path))
    validate_ids([p.id for p in ps])
    return ps


def _runner(cfg: GenerateConfig, backend, cache, desc: str) -> JobRunner:
    return JobRunner(backend, cache, cfg.retry, cfg.concurrency, cfg.max_consecutive_failures, cfg.progress, desc)


def generate(cfg: GenerateConfig) -> dict:
    """Run the whole data step; write the dataset and the card; return the card."""
    perspectives = resolve_perspectives(cfg.perspectives_file)
    jspec = parse_judge(cfg.judge)
    items = load_items(cfg.dataset, cfg.split, cfg.limit, cfg.benchmark_path)
    backend = make_backend(cfg.teacher, base_url=cfg.base_url, api_key_env=cfg.api_key_env, timeout=cfg.timeout,
                           max_tokens=cfg.max_tokens, temperature=cfg.temperature, batch_size=cfg.batch_size,
                           device=cfg.device)
    judge_backend = None
    if jspec.kind == "llm":
        judge_backend = make_backend(jspec.backend, base_url=cfg.judge_base_url or cfg.base_url,
                                     api_key_env=cfg.api_key_env, timeout=cfg.timeout, max_tokens=16,
                                     temperature=0.0, batch_size=cfg.batch_size, device=cfg.device,
                                     flag="--judge")
    cfg.out.parent.mkdir(parents=True, exist_ok=True)
    with ResponseCache(cfg.cache_path, durable=cfg.durable) as cache:
        jobs = {}
        for it in items:
            for p in perspectives:
                msgs = build_messages(p, it.question, it.answer_type, it.choices)
                key = make_key("teacher", it.id, p.id, backend.name, request_hash(msgs, backend.params))
                jobs[(it.id, p.id)] = Job(key, msgs)
        teacher_run = _runner(cfg, backend, cache, "teacher")
        responses, failures = teacher_run.run(list(jobs.values()))

        verdicts: dict[tuple[str, str], tuple[bool, str, str]] = {}
        to_judge = []
        for it in items:
            for p in perspectives:
                key = jobs[(it.id, p.id)].key
                if key in failures or key not in responses:
                    verdicts[(it.id, p.id)] = (False, "backend_failure", "")
                    continue
                text = responses[key]["text"]
                if jspec.kind == "answer":
                    v = answer_verdict(text, it.answer, it.answer_type, it.choices)
                    verdicts[(it.id, p.id)] = (v.keep, v.reason, v.answer)
                    continue
                found = extract(text, it.answer_type, it.choices)
                if found is None:
                    verdicts[(it.id, p.id)] = (False, "no_answer", "")
                    continue
                msgs = judge_messages(it.question, it.answer, text, it.choices)
                jkey = make_key("judge", it.id, p.id, judge_backend.name, request_hash(msgs, judge_backend.params))
                to_judge.append(((it.id, p.id), str(found), Job(jkey, msgs)))
        judge_run = None
        judge_used: list[dict] = []
        if to_judge:
            judge_run = _runner(cfg, judge_backend, cache, "judge")
            jresp, _jfail = judge_run.run([j for _, _, j in to_judge])
            for ip, found, job in to_judge:
                if job.key not in jresp:
                    verdicts[ip] = (False, "judge_failure", found)
                    continue
                judge_used.append(jresp[job.key])
                ok = parse_verdict(jresp[job.key]["text"])
                verdicts[ip] = (bool(ok), "" if ok else ("wrong_answer" if ok is False else "judge_unclear"), found)
        cache_path = cache.path

    kept_texts = {it.id: [responses[jobs[(it.id, p.id)].key]["text"] for p in perspectives
                          if verdicts[(it.id, p.id)][0]] for it in items}
    decisions = select(kept_texts, len(perspectives), cfg.downsample)
    problems = []
    for it in items:
        if not decisions[it.id]["kept"]:
            continue
        rats = tuple(Rationale(p.id, responses[jobs[(it.id, p.id)].key]["text"].strip(), verdicts[(it.id, p.id)][2])
                     for p in perspectives if verdicts[(it.id, p.id)][0])
        problems.append(Problem(it.id, question_with_choices(it.question, it.choices), it.answer, rats, it.answer_type))
    write_problems(cfg.out, problems)

    card = _build_card(cfg, backend, jspec, perspectives, items, jobs, responses, verdicts, decisions, problems,
                       teacher_run, judge_run, judge_used, cache_path)
    card_mod.write_card(cfg.out, card)
    return card


def _tokens(records) -> dict:
    return {"prompt": sum(int(r.get("prompt_tokens", 0) or 0) for r in records),
            "completion": sum(int(r.get("completion_tokens", 0) or 0) for r in records)}


def _build_card(cfg, backend, jspec, perspectives, items, jobs, responses, verdicts, decisions, problems,
                teacher_run, judge_run, judge_used, cache_path) -> dict:
    per = {}
    by_reason: Counter = Counter()
    for p in perspectives:
        dropped: Counter = Counter()
        generated = kept = 0
        for it in items:
            keep, reason, _ = verdicts[(it.id, p.id)]
            generated += jobs[(it.id, p.id)].key in responses
            kept += keep
            if not keep:
                dropped[reason] += 1
        by_reason.update(dropped)
        per[p.id] = {"generated": generated, "kept": kept, "dropped": dict(dropped)}
    used = [responses[j.key] for j in jobs.values() if j.key in responses]
    stats = teacher_run.stats
    ds = cfg.downsample
    why = Counter(d["reason"] for d in decisions.values())
    return {
        "output": str(cfg.out),
        "cache": str(cache_path),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": cfg.command,
        "teacher": backend.name,
        "base_url": cfg.base_url,
        "api_key_env": cfg.api_key_env if backend.name.startswith("openai:") else None,
        "sampling": dict(backend.params),
        "judge": jspec.name,
        "perspectives": [p.id for p in perspectives],
        "prompts_hash": prompts_hash(perspectives),
        "source": {"dataset": cfg.dataset, "split": cfg.split, "limit": cfg.limit},
        "problems_in": len(items),
        "rationales_requested": len(jobs),
        "rationales_generated": len(used),
        "rationales_kept": sum(v[0] for v in verdicts.values()),
        "drop_reasons": list(DROP_REASONS),
        "dropped_by_reason": {r: by_reason.get(r, 0) for r in DROP_REASONS},
        "per_perspective": per,
        "downsampling": {"signal": ds.signal, "threshold": ds.resolved_threshold, "easy_keep": ds.easy_keep,
                         "seed": ds.seed, "min_rationales": ds.min_rationales,
                         "easy_problems": sum(d["easy"] for d in decisions.values()),
                         "dropped_easy": why.get("easy_downsampled", 0),
                         "dropped_too_few": why.get("too_few_rationales", 0)},
        "problems_kept": len(problems),
        "rationales_in_output": sum(len(p.rationales) for p in problems),
        "tokens": {"teacher": _tokens(used),
                   "judge": _tokens(judge_used),
                   "this_run": {"prompt": stats.prompt_tokens + (judge_run.stats.prompt_tokens if judge_run else 0),
                                "completion": stats.completion_tokens
                                + (judge_run.stats.completion_tokens if judge_run else 0)}},
        "requests": {"sent": stats.requests + (judge_run.stats.requests if judge_run else 0),
                     "cached": stats.cached + (judge_run.stats.cached if judge_run else 0),
                     "failed": stats.failed + (judge_run.stats.failed if judge_run else 0),
                     "retries": dict(stats.retries + (judge_run.stats.retries if judge_run else Counter())),
                     "failures": dict(stats.failures + (judge_run.stats.failures if judge_run else Counter()))},
    }
