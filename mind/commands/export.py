"""``mind export``: a run's student as a standard Hugging Face model folder (LoRA merged, or full weights), with
tokenizer, chat template, generation config and a model card; ``--adapter-only`` writes the PEFT adapter folder."""

from __future__ import annotations

import argparse

EXAMPLES = """examples:
  mind export --run runs/demo --out models/demo                  # latest checkpoint, LoRA merged into the base
  mind export --run runs/demo --step 20 --out models/demo-20 --adapter-only
  mind export --run runs/demo --out models/demo --force          # replace a previous export in that folder
The folder loads with AutoModelForCausalLM.from_pretrained(DIR) and `mind eval --student DIR` evaluates it."""


def add_parser(sub) -> None:
    p = sub.add_parser("export", help="write a run's student as a Hugging Face model folder with a model card",
                       description="Write the student of a `mind train` run as an ordinary Hugging Face model folder: "
                                   "the LoRA adapter merged into the base weights (or the full fine-tuned weights), "
                                   "fp32 safetensors, the tokenizer with its chat template, a greedy generation config "
                                   "and a README.md model card (base model, method and hyperparameters, data, "
                                   "evaluation with intervals when `mind eval` has run, the training command).",
                       epilog=EXAMPLES, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", required=True, metavar="RUN_DIR", help="run directory written by `mind train`")
    p.add_argument("--step", type=int, default=None, help="checkpoint step to export (default: the latest)")
    p.add_argument("--out", required=True, metavar="DIR", help="folder to write; must be new or empty")
    p.add_argument("--adapter-only", action="store_true",
                   help="write the PEFT adapter folder (adapter_config.json + adapter_model.safetensors, tokenizer, "
                        "card) instead of merged weights (LoRA runs only)")
    p.add_argument("--force", action="store_true", help="replace --out when it holds a previous `mind export`")
    p.add_argument("--device", help="torch device for merging (default: cpu)")
    p.set_defaults(func=run)


def run(args) -> int:
    from mind.export.folder import export_run

    res = export_run(args.run, args.out, step=args.step, adapter_only=args.adapter_only, force=args.force,
                     device=args.device)
    what = {"merged": "LoRA merged into the base weights", "full": "full fine-tuned weights",
            "adapter": "LoRA adapter only"}[res.kind]
    print(f"{'replaced' if res.replaced else 'wrote'} {res.out}: {res.run.name} step {res.step}, {what}")
    print("files: " + ", ".join(res.files))
    print(f"model card: {res.out / 'README.md'}")
    return 0
