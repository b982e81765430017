"""Paper experiments as one command each: ``compare`` (main table + ablations), ``separation`` (RQ4) and
``cached-runs`` (the runs shipped in ``cached_runs/``).

Every stage runs the ordinary CLI (``mind train``, ``mind analyze``, ``mind eval``) as a subprocess, so each run
directory is exactly what a user gets from those commands, and its card records the command that made it.
Stages skip work already done (a finished run is not retrained), so an interrupted experiment can be rerun.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from mind.training.config import METHODS
from mind.errors import ConfigError
from mind.run import load_run, write_json_atomic

COMPARE_METHODS = METHODS


def _mind(*args: str, log: Path | None = None) -> float:
    """Run ``python -m mind ARGS``; return its wall time. Output goes to ``log`` (appended) or the terminal."""
    cmd = [sys.executable, "-m", "mind", *map(str, args)]
    t0 = time.perf_counter()
    if log is None:
        proc = subprocess.run(cmd)
    else:
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "a") as f:
            f.write(f"$ mind {' '.join(map(str, args))}\n")
            f.flush()
            proc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        where = f"; see {log}" if log else ""
        raise ConfigError(f"`mind {' '.join(map(str, args))}` failed with exit code {proc.returncode}{where}")
    return time.perf_counter() - t0


def _finished(run_dir: Path) -> bool:
    try:
        return load_run(run_dir).state == "finished"
    except Exception:  # noqa: BLE001 - anything unreadable is simply not finished
        return False


def train_run(run_dir: Path, args: list[str]) -> dict:
    """Train (or resume, or skip when finished) one run; return its card entries."""
    if _finished(run_dir):
        return {}
    if (run_dir / "config.json").exists() and load_run(run_dir).checkpoints:
        cmd = ["train", "--resume", str(run_dir), "--quiet"]
    else:
        shutil.rmtree(run_dir, ignore_errors=True)
        cmd = ["train", *args, "--out", str(run_dir), "--quiet"]
    wall = _mind(*cmd, log=run_dir.parent / f"{run_dir.name}.log")
    return {"train_command": "mind " + " ".join(["train", *args, "--out", str(run_dir)]), "train_wall_s": round(wall, 1)}


def write_card(run_dir: Path, **entries) -> None:
    """card.json: how to regenerate the run, on what machine, with which package versions."""
    path = run_dir / "card.json"
    card = json.loads(path.read_text()) if path.exists() else {}
    card.update({k: v for k, v in entries.items() if v is not None})
    import torch
    import transformers

    from mind._version import __version__

    from mind.model.precision import cpu_flags, cpu_model

    card.setdefault("machine", f"{cpu_model()} ({platform.machine()}; {' '.join(cpu_flags()) or 'no listed ISA flags'}), "
                               f"{os.cpu_count()} cores, torch threads {torch.get_num_threads()}")
    cfg = run_dir / "config.json"
    if cfg.exists():
        resolved = json.loads(cfg.read_text()).get("precision_resolved")
        if resolved:
            card["precision"] = resolved
    card["versions"] = {"mind": __version__, "torch": torch.__version__, "transformers": transformers.__version__,
                        "python": platform.python_version()}
    write_json_atomic(path, card)


def run_name(prefix: str, method: str, seed: int) -> str:
    """A comparison's run folder name: ``<prefix><method>-s<seed>`` (e.g. ``smollm2-mind-s1``)."""
    return f"{prefix}{method}-s{seed}"


def compare(out_root: Path, *, data: str, student: str, methods: tuple[str, ...], train_args: list[str],
            stages: tuple[str, ...], eval_args: list[str], prefix: str = "", seeds: tuple[int, ...] = (0,),
            seeds_for: dict[str, tuple[int, ...]] | None = None, analyze_args: tuple[str, ...] = ()) -> pd.DataFrame:
    """Train every method with every seed on the same student and data; analyze (``mind analyze`` with
    ``analyze_args``) and evaluate each; return the summary table (one row per run).

    ``seeds`` (``seeds_for[method]`` where given) set ``--seed`` of each run: the data order, the LoRA and MetaNet
    initialisation and every torch generator (TrainConfig.seed); the held-out split and the problems trained on stay
    the same. Runs are made seed by seed (every method's seed 0 first), so a comparison that stops part-way has
    whole seeds. ``compare.json`` holds the rows and, after evaluation, the paired comparisons against the first
    method within each seed and the per-method aggregates over seeds."""
    out_root.mkdir(parents=True, exist_ok=True)
    plan = [(seed, m) for seed in sorted({s for m in methods for s in (seeds_for or {}).get(m, seeds)})
            for m in methods if seed in (seeds_for or {}).get(m, seeds)]
    rows = []
    for seed, method in plan:
        run_dir = out_root / run_name(prefix, method, seed)
        args = ["--data", data, "--student", student, "--method", method, "--seed", str(seed), *train_args]
        if "train" in stages:
            write_card(run_dir, **train_run(run_dir, args)) if not _finished(run_dir) else None
        if "analyze" in stages and _finished(run_dir):
            if not (run_dir / "analysis" / "metrics.json").exists():
                _mind("analyze", "--run", run_dir, *analyze_args, log=out_root / f"{run_dir.name}.log")
        if "eval" in stages and _finished(run_dir):
            if _eval_needed(run_dir, eval_args):
                _share_base_predictions(out_root, run_dir, prefix)
                t = _mind("eval", "--run", run_dir, *eval_args, log=out_root / f"{run_dir.name}.log")
                write_card(run_dir, eval_command="mind eval --run " + f"{run_dir} " + " ".join(eval_args), eval_wall_s=round(t, 1))
        rows.append({**summarize(run_dir), "seed": seed})
    table = pd.DataFrame(rows)
    runs = {(m, s): out_root / run_name(prefix, m, s) for s, m in plan}
    paired = paired_within_seeds(runs, methods) if "eval" in stages else {}
    seed_level = seed_table(runs, methods) if "eval" in stages else {}
    write_json_atomic(out_root / f"{prefix}compare.json", {
        "methods": list(methods), "seeds": {m: [s for s, mm in plan if mm == m] for m in methods},
        "rows": table.to_dict(orient="records"), "seed_level": seed_level, "paired": paired})
    table.attrs["paired"], table.attrs["seed_level"] = paired, seed_level
    return table


def seed_table(runs: dict[tuple[str, int], Path], methods: tuple[str, ...]) -> dict:
    """The seed-level results of the evaluated runs (:func:`mind.evaluation.seeds.experiment_table`)."""
    from mind.evaluation.items import read_items
    from mind.evaluation.seeds import experiment_table

    frames = {k: read_items(d / "eval") for k, d in runs.items() if (d / "eval" / "items.jsonl").is_file()}
    return experiment_table(frames, methods)


def _eval_needed(run_dir: Path, eval_args: list[str]) -> bool:
    """No evaluation yet, or one on fewer items than ``--limit`` asks now (a sitting with less time evaluates the
    first N items; a later one extends it, and ``mind eval`` reuses the predictions it already has)."""
    summary = run_dir / "eval" / "summary.json"
    if not summary.exists():
        return True
    if "--limit" not in eval_args:
        return False
    want = int(eval_args[eval_args.index("--limit") + 1])
    have = json.loads(summary.read_text(encoding="utf-8")).get("limit")
    return have is not None and int(have) < want


def paired_against_first(run_dirs: list[Path]) -> dict:
    """Every evaluated run against the first one, item by item (:func:`mind.evaluation.compare.paired`):
    ``{"reference": name, "runs": {name: comparison}}``; empty when fewer than two runs have an evaluation."""
    from mind.evaluation.compare import paired
    from mind.evaluation.items import read_items

    have = [d for d in run_dirs if (d / "eval" / "items.jsonl").is_file()]
    if len(have) < 2:
        return {}
    ref = read_items(have[0] / "eval")
    return {"reference": have[0].name,
            "runs": {d.name: paired(ref, read_items(d / "eval")) for d in have[1:]}}


def paired_within_seeds(runs: dict[tuple[str, int], Path], methods: tuple[str, ...]) -> dict:
    """Per seed, every method's run against the first method's run of that seed (items paired within the seed):
    ``{"reference": method, "seeds": {seed: paired_against_first(...)}, "family_size": m}``, with Holm over every
    test of all seeds (one family)."""
    from mind.evaluation.seeds import adjust_all

    seeds = sorted({s for _, s in runs})
    out = {}
    for s in seeds:
        dirs = [runs[(m, s)] for m in methods if (m, s) in runs]
        if dirs and dirs[0] == runs.get((methods[0], s)):
            got = paired_against_first(dirs)
            if got:
                out[str(s)] = got
    if not out:
        return {}
    family = adjust_all(out)
    return {"reference": methods[0], "seeds": out, "family_size": family,
            "multiplicity": f"Holm over the {family} item-level tests of every seed's table"}


def _share_base_predictions(out_root: Path, run_dir: Path, prefix: str) -> None:
    """Every run of a comparison has the same base student: hand it the base predictions and likelihoods the other
    runs already made (``mind eval`` keys them by student and decoding settings and recomputes nothing that
    matches; a line made under other settings is carried along but never used)."""
    from mind.evaluation.store import share_records

    for name in ("base_predictions.jsonl", "base_likelihoods.jsonl"):
        target = run_dir / "eval" / name
        for other in sorted(out_root.glob(f"{prefix}*/eval/{name}")):
            if other.parent.parent != run_dir:
                target.parent.mkdir(parents=True, exist_ok=True)
                share_records(other, target)


def summarize(run_dir: Path) -> dict:
    """One row of the comparison table from a run's telemetry, analysis and evaluation."""
    row: dict = {"run": run_dir.name}
    try:
        run = load_run(run_dir)
    except Exception:  # noqa: BLE001
        return {**row, "state": "missing"}
    steps = run.steps
    row.update(method=run.config.get("method"), state=run.state, steps=len(steps))
    if len(steps):
        tail = steps.tail(max(len(steps) // 4, 1))
        row.update(final_loss_sft=float(tail["loss_sft"].mean()), final_n_selected=float(tail["n_selected"].mean()))
        row.update(loss_raw_mean=float(tail[[c for c in tail.columns if c.startswith("loss_raw/")]].mean(axis=1).mean()))
    metrics = run_dir / "analysis" / "metrics.json"
    if metrics.exists():
        m = json.loads(metrics.read_text())
        last = (m.get("steps") or m.get("metrics") or [{}])[-1] if isinstance(m, dict) else (m or [{}])[-1]
        for k in ("ari", "nmi", "n_active_clusters"):
            if k in last:
                row[f"latent_{k}"] = last[k]
    summary = run_dir / "eval" / "summary.json"
    if summary.exists():
        s = json.loads(summary.read_text())
        for name, b in (s.get("benchmarks") or {}).items():
            row[f"acc_{name}"] = b.get("accuracy")
        row.update(id_avg=s.get("id_avg"), ood_avg=s.get("ood_avg"), forgetting=s.get("forgetting"))
        for k in ("id_avg", "ood_avg", "forgetting"):  # 95% intervals (mind eval's summary; absent in older ones)
            ci = s.get(f"{k}_ci")
            if isinstance(ci, list) and len(ci) == 2:
                row[f"{k}_lo"], row[f"{k}_hi"] = ci
    return row


def separation(out_root: Path, *, data: str, student: str, train_args: list[str], perspectives: list[str],
               center: str = "problem") -> dict:
    """RQ4: one single-perspective student per perspective, all from the same initial weights (same seed). Their
    final hidden states on the same probe problems, each on its own perspective's rationale, are clustered with the
    DP mixture: ``ari`` (and the other scores) says how well the clusters recover which student it was.

    ``center="problem"`` (the default, as in ``mind analyze``) subtracts from each state the mean over the students'
    states on the same problem: a real student's mean-pooled states are dominated by what the problem is about, so
    uncentred states cluster by problem and say nothing about the students. ``center="none"`` clusters them raw.

    Two controls separate what the students internalised from what the texts already carry:

    * ``text_only``: the same, at step 0, where every student is still the initial model, so only the rationale
      texts differ (their surface style);
    * ``same_text``: the trained students on one shared perspective's rationales (the first of ``perspectives``), so
      only the weights differ. A high ``same_text`` score means the students process identical input differently.
    """
    if center not in ("problem", "none"):
        raise ConfigError(f"center must be 'problem' or 'none', got {center!r}")
    out_root.mkdir(parents=True, exist_ok=True)
    states = {}
    for p in perspectives:
        run_dir = out_root / f"single-{p}"
        args = ["--data", data, "--student", student, "--method", "single", "--golden-perspective", p, *train_args]
        if not _finished(run_dir):
            write_card(run_dir, **train_run(run_dir, args))
        run = load_run(run_dir)
        states[p] = (run.hidden_states(0), run.hidden_states())
    views = {"own_text": [(p, states[p][1], p) for p in perspectives],
             "text_only": [(p, states[p][0], p) for p in perspectives],
             "same_text": [(p, states[p][1], perspectives[0]) for p in perspectives]}
    result: dict = {"perspectives": perspectives, "shared_text": perspectives[0], "center": center}
    for name, parts in views.items():
        X, labels, ids = _separation_points(parts)
        lm = cluster_students(X, labels, ids, len(perspectives), center=center)
        scores = {k: float(v) for k, v in lm.metrics_.items() if isinstance(v, (int, float))}
        scores["n_active_clusters"] = int(lm.n_active_clusters_)
        if name == "own_text":
            result.update(n_points=int(X.shape[0]), **scores)
            pts = pd.DataFrame({"problem_id": ids, "student": labels, "cluster": lm.labels_,
                                "x": lm.embedding_[:, 0].astype("float32"), "y": lm.embedding_[:, 1].astype("float32")})
            tmp = out_root / ".separation_points.parquet.tmp"
            pts.to_parquet(tmp, index=False)
            tmp.replace(out_root / "separation_points.parquet")
        else:
            result[name] = scores
    write_json_atomic(out_root / "separation.json", result)
    return result


def _separation_points(parts) -> tuple[np.ndarray, list[str], list[str]]:
    """Stack (student label, (X, meta), perspective whose rows to take) into one point set."""
    Xs, labels, ids = [], [], []
    for label, (X, meta), persp in parts:
        keep = (meta["perspective"] == persp).to_numpy()
        Xs.append(X[keep])
        labels += [label] * int(keep.sum())
        ids += meta.loc[keep, "problem_id"].tolist()
    return np.concatenate(Xs), labels, ids


def cluster_students(X: np.ndarray, labels: list[str], problem_ids: list[str], k: int, center: str = "problem"):
    """The separation experiment's clustering of one view: optionally problem-centred states (see
    :func:`separation`), a DP mixture with up to ``2k`` clusters, in as many PCA dimensions as ``mind analyze``
    uses (:func:`~mind.analysis.analyze.pca_dims`, at most 16). Returns the fitted
    :class:`~mind.analysis.latent.LatentMap`."""
    from mind.analysis.analyze import center_by_problem, pca_dims
    from mind.analysis.latent import LatentMap

    if center == "problem":
        X = center_by_problem(X, pd.DataFrame({"problem_id": problem_ids}))
    dims = min(pca_dims(X.shape[0], 16), X.shape[0] - 1)
    return LatentMap(projector="pca", max_clusters=max(2 * k, 4), n_components=dims).fit(X, labels)


def prune_for_shipping(run_dir: Path, keep_weights: bool = True, keep_base_records: bool = True) -> None:
    """Keep only the final checkpoint's adapter/weights and MetaNet (drop optimiser states, older checkpoints);
    ``keep_weights=False`` drops the checkpoints altogether (the separation students: what the experiment reads
    is their snapshots' hidden states, and eight adapters would double the shipped folder). The student's weights
    (a LoRA adapter, or the tiny run's full weights) are stored in float16, half the size; loading casts them back
    to the model's dtype (PEFT upcasts an adapter to the base model's).

    ``keep_base_records=False`` also drops ``eval/base_predictions.jsonl`` and ``eval/base_likelihoods.jsonl``, the
    base student's raw records: ``eval/items.jsonl`` and ``eval/summary.json`` keep the base columns every page and
    table reads, and the raw records are the same in every run of a comparison (``mind eval`` shares them), so a
    seed beyond the first needs no copy of its own."""
    if not keep_base_records:
        for name in ("base_predictions.jsonl", "base_likelihoods.jsonl"):
            (run_dir / "eval" / name).unlink(missing_ok=True)
    if not keep_weights:
        shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)
        return
    ckpts = sorted((run_dir / "checkpoints").glob("step_*"))
    for old in ckpts[:-1]:
        shutil.rmtree(old, ignore_errors=True)
    if ckpts:
        for f in ckpts[-1].glob("optim_*.pt"):
            f.unlink()
        for weights in (ckpts[-1] / "student.safetensors", ckpts[-1] / "adapter" / "adapter_model.safetensors"):
            _halve(weights)


def _halve(path: Path) -> None:
    """Rewrite a safetensors file's float32 tensors as float16 (atomically; nothing to do when there are none)."""
    if not path.is_file():
        return
    import torch
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(path), "pt") as f:  # one read: the tensors and the metadata to keep
        metadata = f.metadata()
        state = {k: f.get_tensor(k) for k in f.keys()}
    if not any(t.dtype == torch.float32 for t in state.values()):
        return
    tmp = path.with_suffix(".tmp")
    save_file({k: t.half() if t.dtype == torch.float32 else t for k, t in state.items()}, str(tmp), metadata=metadata)
    tmp.replace(path)
