"""Task configs for lm-evaluation-harness (``lm_eval --include_path``) over mind's local benchmark files.

Researchers compare small-model numbers with lm-evaluation-harness, so the project ships its own task YAMLs that
read the same files ``mind eval`` reads (no hub download) and ask the questions as ``mind eval``'s plain format does
(:mod:`mind.evaluation.likelihood`: ``Question: <question>\\nAnswer:`` and each option's text):

* ``mind_csqa`` - CommonsenseQA dev, multiple choice over the option texts, ``acc`` and ``acc_norm``;
* ``mind_strategyqa`` - StrategyQA dev, multiple choice over ``yes`` / ``no``, ``acc`` and ``acc_norm``;
* ``mind_gsm8k`` - GSM8K test, greedy ``generate_until``, exact match of the final number (lm-eval's own
  ``strict-match`` and ``flexible-extract`` filters).

The YAMLs in this folder name their data as ``../shared/data/...``, relative to the directory ``lm_eval`` runs in,
so they work as they are from the checkout root (beside ``../shared/data``). lm-eval 0.4.13 hands ``--metadata``
only to tasks built by a Python ``custom_dataset`` function, never to ``dataset_kwargs``, so a plain
``dataset_path: json`` task cannot take its path from the command line; for any other folder
:func:`write_task_configs` (or ``python -m mind.benchmarks.lm_eval_tasks --data DIR --out TASKS_DIR``) writes copies
with absolute paths. GPQA is not offered: its file is a password-protected zip that the ``json`` loader cannot read.

Nothing here imports lm_eval: it is a test / bench dependency (``pip install -e '.[bench]'``), not a runtime one.
"""

from __future__ import annotations

from pathlib import Path

TASKS_DIR = Path(__file__).resolve().parent
SHIPPED_DATA = "../shared/data"  # where the shipped YAMLs look, relative to lm_eval's working directory
# task name -> (mind benchmark, split): the file each task reads is the one load_benchmark reads for it
TASKS: dict[str, tuple[str, str]] = {
    "mind_csqa": ("csqa", "dev"),
    "mind_strategyqa": ("strategyqa", "dev"),
    "mind_gsm8k": ("gsm8k", "test"),
}
CHOICE_TASKS = ("mind_csqa", "mind_strategyqa")  # multiple_choice, compared with mind's plain likelihood format
GENERATE_TASKS = ("mind_gsm8k",)  # generate_until, compared with mind's answer extractor


def resolve_tasks(tasks=None) -> tuple[str, ...]:
    """Canonical task names from a comma string or list; ``csqa`` is accepted for ``mind_csqa``. ConfigError on an
    unknown one, so a typo fails before any model is loaded."""
    from mind.errors import ConfigError

    if tasks is None:
        return tuple(TASKS)
    names = [t.strip() for t in tasks.split(",")] if isinstance(tasks, str) else [str(t).strip() for t in tasks]
    out: list[str] = []
    for name in filter(None, names):
        key = name if name in TASKS else f"mind_{name.lower()}"
        if key not in TASKS:
            raise ConfigError(f"lm-eval task {name!r} is unknown; use a comma list of {','.join(TASKS)} "
                              f"(or {','.join(t[5:] for t in TASKS)})")
        if key not in out:
            out.append(key)
    if not out:
        raise ConfigError(f"no lm-eval task given; use a comma list of {','.join(TASKS)}")
    return tuple(out)


def task_config(task: str) -> dict:
    """The shipped YAML of ``task`` as a dict (plain YAML: no ``!function`` tags, so safe_load reads it)."""
    import yaml

    return yaml.safe_load((TASKS_DIR / f"{task}.yaml").read_text(encoding="utf-8"))


def data_file(task: str, data_dir: str | Path | None = None) -> Path:
    """The absolute path of the benchmark file ``task`` reads from ``data_dir`` (default: mind's data folder,
    ``$MIND_DATA_DIR`` or ``../shared/data``), found exactly as :func:`mind.benchmarks.load_benchmark` finds it;
    a DataError naming the fix when it is not there (the hub copies have other field names)."""
    from mind.benchmarks.items import local_benchmark_file

    benchmark, split = TASKS[task]
    return local_benchmark_file(benchmark, split, data_dir).resolve()


def write_task_configs(out_dir: str | Path, data_dir: str | Path | None = None, tasks=None) -> list[Path]:
    """Write the task YAMLs into ``out_dir`` with ``data_files`` pointing at absolute paths under ``data_dir``
    (default: mind's data folder), so ``lm_eval --include_path out_dir`` scores the files ``mind eval --data
    data_dir`` scores from any working directory. Returns the files written."""
    import yaml

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for task in resolve_tasks(tasks):
        cfg = task_config(task)
        files = cfg["dataset_kwargs"]["data_files"]
        (split,) = files  # one split per task: the evaluated one
        files[split] = str(data_file(task, data_dir))
        path = out / f"{task}.yaml"
        header = (f"# written by mind.benchmarks.lm_eval_tasks.write_task_configs from {TASKS_DIR / (task + '.yaml')}\n"
                  f"# (see the comments there); data from {files[split]}\n")
        path.write_text(header + yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True, width=1000), encoding="utf-8")
        written.append(path)
    return written
