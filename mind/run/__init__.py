"""The run directory: the contract between the trainer, analysis, evaluation and the dashboard.

Layout (every file is JSON, JSONL, Parquet or safetensors; nothing is pickled)::

    runs/demo/
      config.json              resolved training config (written once, atomically)
      status.json              state (running | finished | crashed | stopped), pid, heartbeat, step, total_steps, error;
                               a stopped run's stopped_by: "request" (someone asked) or "signal N" (nobody did)
      stop_request.json        a stop asked for (the dashboard's Stop; mind/run/stop.py): who and when
      data.jsonl               the training problems (question, gold, K rationales), for the dashboard
      heldout.jsonl            the problems kept out of training (``holdout``), same schema; `mind eval`'s 'heldout'
      probes.jsonl             the fixed probe set of (problem, perspective) pairs, in snapshot row order
      steps.jsonl              one record per optimiser step (append-only)
      samples/step_000001-000100.parquet   per-problem MetaNet details (every ``log_samples_every`` steps), in
                               immutable Parquet chunks of 100 steps (or 4 MiB) ...
      samples.jsonl            ... and the newest ones not yet in a chunk (append-only between compactions)
      snapshots/step_000010.safetensors   hidden states (float16, n x d) and answer correctness of the probes
      checkpoints/step_000020/ student adapter or weights, MetaNet, optimisers, calibrator, RNG (for --resume)
      log.txt                  stdout/stderr of a run launched from the dashboard
      analysis/, eval/         written by ``mind analyze`` and ``mind eval``

Append-only files are written a whole line at a time and flushed, so a reader that meets a torn last line
(the record in flight) skips it; a crash loses at most that record. Snapshots, chunks and JSON files are written
to a temporary name and renamed, so a reader sees them complete or not at all (mind/run/samples.py says how a
crash during a compaction is read). The JSON/JSONL helpers live in mind/run/jsonl.py (below every run-file module);
this module re-exports them (``read_jsonl``, ``append_jsonl``, ``write_jsonl_atomic``, ``write_json_atomic``).

Reading scales with what changed, not with the run: ``steps`` and the samples tail are read incrementally (a
per-process cache keyed by the run folder remembers the byte offset, the file's identity and the frame so far;
mind/run/cache.py, mind/run/steps.py, mind/run/tail.py), and samples are read by step range from the chunks
that hold them (mind/run/samples.py, mind/run/chunks.py). Every property gives exactly what a full read
gives (:func:`read_full`, the reference kept for tests and the bench).

Public API::

    from mind import load_run
    run = load_run("runs/demo")
    run.config, run.status          # dicts
    run.steps                       # DataFrame, one row per optimiser step
    run.samples                     # DataFrame: step, problem_id, perspectives, scores, alphas, selected, ...
    run.samples_between(lo, hi)     # the same columns, only lo <= step <= hi (reads only the chunks needed)
    run.sample_steps                # list[int]: steps that have samples
    run.snapshot_steps              # list[int]
    X, meta = run.hidden_states(step)   # ndarray (n, d), DataFrame(problem_id, perspective, correct)
"""

from __future__ import annotations

from mind.run.cache import forget_readers
from mind.run.jsonl import append_jsonl, read_jsonl, write_json_atomic, write_jsonl_atomic
from mind.run.reader import PER_PERSPECTIVE, STALE_AFTER_S, STEP_COLUMNS, Run, list_runs, load_run, read_full, safe_run_path
from mind.run.writer import MetricSink, RunWriter, TrackerSink

__all__ = ["PER_PERSPECTIVE", "STALE_AFTER_S", "STEP_COLUMNS", "MetricSink", "Run", "RunWriter", "TrackerSink",
           "append_jsonl", "forget_readers", "list_runs", "load_run", "read_full", "read_jsonl", "safe_run_path",
           "write_json_atomic", "write_jsonl_atomic"]
