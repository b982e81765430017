"""``python -m mind.benchmarks.lm_eval_tasks --data DIR --out TASKS_DIR``: write mind's lm-evaluation-harness task
YAMLs for a benchmark folder (absolute data paths), then print the ``lm_eval`` command that scores an export with
them."""

from __future__ import annotations

import argparse
import sys


def main(argv=None) -> int:
    from mind.benchmarks.lm_eval_tasks import TASKS, write_task_configs
    from mind.errors import MindError

    p = argparse.ArgumentParser(prog="python -m mind.benchmarks.lm_eval_tasks",
                                description="Write lm-evaluation-harness task YAMLs (mind_csqa, mind_strategyqa, "
                                            "mind_gsm8k) that read the benchmark files of --data, for "
                                            "`lm_eval --include_path TASKS_DIR`.")
    p.add_argument("--data", help="benchmark folder in the layout of shared/data, e.g. DIR/csqa/dev_rand_split.jsonl "
                                  "(default: $MIND_DATA_DIR or ../shared/data)")
    p.add_argument("--out", required=True, metavar="TASKS_DIR", help="folder to write the YAML files into")
    p.add_argument("--tasks", default=",".join(TASKS), help=f"comma list (default: {','.join(TASKS)})")
    args = p.parse_args(argv)
    try:
        files = write_task_configs(args.out, args.data, args.tasks)
    except MindError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    for f in files:
        print(f"wrote {f}")
    names = ",".join(f.stem for f in files)
    print(f"score a model folder: lm_eval --model hf --model_args pretrained=MODEL_DIR,dtype=float32 "
          f"--include_path {args.out} --tasks {names} --limit 100 --log_samples --output_path OUT")
    return 0


if __name__ == "__main__":
    sys.exit(main())
