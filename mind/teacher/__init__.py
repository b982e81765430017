"""The teacher pipeline: perspective prompts, LLM backends, response cache, judge, down-sampling.

Entry point: :func:`mind.teacher.pipeline.generate` (``mind generate``). Modules, in data-flow order:
``prompts`` (system prompt, the eight perspective instructions, request hashing), ``sources`` (benchmark or
JSONL problems), ``backends`` / ``hf_backend`` (OpenAI-compatible server, local transformers model),
``retry`` and ``runner`` (concurrency, retries, progress), ``cache`` (append-only response cache), ``judge``
(answer checker or LLM judge), ``downsample`` (easy-problem down-sampling), ``card`` (data card).
Heavy libraries (openai, torch, transformers) are imported only where they are used.
"""
