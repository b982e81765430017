"""Training-step benchmarks: MIND overhead over the bare student work, `uniform` tokens/s against TRL's SFTTrainer,
hardware efficiency.

Runs the trainer's own step for `mind` (mind.training.loop's ``optimiser_step`` and ``record_step``) and composes the
library's pieces (mind.model.forward's ``rationale_losses`` / ``student_pass``, mind.model.losses) into the others, on one batch of ``--problems-per-step``
demo problems x 8 perspectives per round, and runs the variants interleaved (A B C, B C A, C A B, ...: the order
rotates each round) so that load from other processes hits them alike. Medians over ``--repeats`` rounds after ``--warmup`` rounds. Every variant uses the
trainer's shared-prompt layout (each question's prompt once for its K rationales) unless named "-full".
Variants:

  mind         the trainer's MIND step: MetaNet forward/backward, selection, the selected rationales with gradients
               and the others under no_grad (their L_real feeds the calibrator; the no-grad pass reuses the
               selected pass's prompt keys/values), consistency term, calibration, meta loss, both optimisers,
               the per-step tracking metrics (mind.training.tracking.agreement, curriculum shift) and telemetry records
               written to a temporary run directory. Timed in parts too (printed as a breakdown)
  mind-skip    the same step on a step where ``rescore_every`` > 1 skips the no-grad pass; a run with rescore_every=N
               costs (mind + (N - 1) * mind-skip) / N per step on average (printed for N = 4 and 8)
  bare         the same student work done bare: ``mind.model.forward.rationale_losses`` over the rationales `mind`
               selected this round (backward, alpha-weighted plain CE, lambda = 0) and a no-grad pass over the
               others, then the student's optimiser step; no MetaNet, calibration, consistency term, tracking or
               telemetry. mind/bare is the MIND-overhead target (<= 1.10x)
  bare-2prompt `bare` with the prompts computed again in the no-grad pass (``reuse_prompt=False``, the path before
               the prompt keys/values were reused): bare-2prompt/bare is what the reuse saves
  sft-sel      plain SFT over the rationales `mind` selected this round (alpha-weighted CE, no MetaNet/JSD/telemetry)
  uniform      plain SFT over all K rationales (the `uniform` method's step); target mind/uniform <= 0.75x
  uniform-full the same step with every sequence carrying its own copy of the prompt (the layout before the
               shared-prompt fast path; what TRL computes)
  uniform-bf16 the `uniform` step under bf16 autocast (``precision=bf16``); only where this CPU's bf16 matmul is fast
               (mind/model/precision.py's probe, the one behind ``precision=auto``; ``--bf16 on`` forces it), else skipped
  trl          (--trl) TRL SFTTrainer in fp32 (as `uniform`), same student/sequences/max length, completion-only
               loss, LoRA r=8 q/k/v/o, no packing, timed with a TrainerCallback; our variants run inside its
               on_step_end, so rounds interleave
  trl-bf16     (--trl, where bf16 is fast) a second TRL run at its default bf16, against `uniform-bf16*`: our bf16
               step timed inside that run's on_step_end. Where bf16 is slow TRL's default would compare against a
               crippled bf16, so it is skipped (saying so)

The first lines printed name the machine (CPU model, ISA flags such as avx2 / avx512_bf16 / amx_bf16, torch):
figures from one machine do not carry over to another.

Tokens per second count every sequence's real tokens, its prompt included (TRL's ``num_input_tokens_seen``
"non_padding"), so layouts that compute the prompt once are credited with the same tokens as those that repeat it.

Hardware efficiency: fp32 torch.mm FLOP/s (2048^2, 3 per round) against the `uniform` step's estimated FLOPs over
the positions it actually computes (padding included; activation-checkpointing recompute not counted, as in MFU):
  FLOPs = 4 * P_dec * n_computed  +  4 * V * d * M  +  12 * L * d * (sum over query rows of their key length)
(frozen-base LoRA: forward 2*P per token, backward 2*P for activation gradients, no weight gradients; LM head only at
the M target positions; attention scores+values; LoRA's own r=8 matmuls are < 1% and left out). "useful" counts
real positions only (prompt once per question) with causal attention.

    .venv/bin/python bench/bench_train.py --student tiny --repeats 5 --trl [--bf16 auto|on|off]
    .venv/bin/python bench/bench_train.py --student smollm2-135m --variants mind,bare,bare-2prompt,uniform --repeats 3
    .venv/bin/python bench/bench_train.py --student tiny --precision bf16   # every variant under bf16 autocast

Ratios in the summary are medians over rounds of the two variants' per-round ratio (next to the ratio of their
medians, and the per-round ratio of the CPU seconds the process spent, which load from other work inflates least):
both are timed in the same round, so load that comes and goes hits both.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import _env  # noqa: F401  (the repository on sys.path, the offline environment)


VARIANTS = ("mind", "mind-skip", "bare", "bare-2prompt", "sft-sel", "uniform", "uniform-full", "uniform-bf16")


def torch_equal(a, b) -> bool:
    import torch

    return b is not None and torch.equal(a, b)


def _now():
    import time as _t

    return _t.perf_counter()


class Bench:
    """Holds the student, MetaNet, calibrator and data; ``run_round(r)`` times every variant once on batch r."""

    def __init__(self, args):
        import torch

        from dataclasses import replace

        from accelerate import Accelerator

        from mind.data import load_problems, perspectives_in
        from mind.model import losses
        from mind.model.batching import encode_problem
        from mind.model.encoder import rationale_features
        from mind.model.metanet import MetaNet
        from mind.model.student import StudentLM, add_lora, load_causal_lm, load_tokenizer
        from mind.run import RunWriter
        from mind.training.calibration import InertiaCalibrator
        from mind.training.config import TrainConfig
        from mind.training.loop import Parts, TrainingData, lr_lambda
        from mind.training.tracking import CurriculumTracker

        self.args, self.torch = args, torch
        self.bf16 = True  # run the bf16 variants (main() decides from the probe)
        # The trainer's own step (mind.training.loop.optimiser_step / record_step) on these parts: MetaNet in its
        # warm-up for the --warmup rounds, updated every round after (meta_grad_accum=1), never a snapshot.
        self.cfg = cfg = TrainConfig(student=args.student, method="mind", batch_size=args.problems_per_step,
                                     max_length=args.max_length, seed=0, meta_warmup_steps=args.warmup,
                                     meta_grad_accum=1, steps=10**6, snapshot_every=0)
        self.cfg_skip = replace(cfg, rescore_every=10**9)  # `mind-skip`: a step that skips the no-grad pass
        self.acc = Accelerator(cpu=True)
        self.problems = load_problems("demo")
        self.persp = list(perspectives_in(self.problems))
        self.K = len(self.persp)
        self.tok = load_tokenizer(args.student)
        self.encoded = [encode_problem(self.tok, p, i, tuple(self.persp), cfg.max_length, cfg.chat_template)
                        for i, p in enumerate(self.problems)]
        self.masks = torch.tensor([ep.mask for ep in self.encoded])
        self.golden = losses.golden_slots(cfg.golden_perspective, self.persp, self.masks)
        hf = add_lora(load_causal_lm(args.student, self.tok, seed=0), cfg.lora_r, cfg.lora_alpha, cfg.lora_dropout,
                      cfg.lora_targets, seed=0)
        if args.checkpointing:
            hf.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
        self.student = StudentLM(hf).train()
        self.shared = self.student.shares_prefix
        self.opt_s = torch.optim.AdamW([p for p in self.student.parameters() if p.requires_grad], lr=cfg.lr)
        self.features = rationale_features(self.problems, self.persp, cfg.encoder)
        self.metanet = MetaNet(self.features.shape[-1], self.K, cfg.meta_hidden, cfg.meta_heads, True, cfg.meta_score)
        self.opt_m = torch.optim.AdamW(self.metanet.parameters(), lr=cfg.meta_warmup_lr)
        self.calibrator = InertiaCalibrator(len(self.problems), self.K, cfg.effective_g)
        self.curriculum = CurriculumTracker(self.K)
        self.data = TrainingData(self.tok, self.problems, [], self.persp, 0, self.encoded, [], self.masks, self.golden)
        sched = torch.optim.lr_scheduler.LambdaLR(self.opt_s, lr_lambda(0, cfg.steps))
        self.train_parts = Parts(self.student, self.opt_s, sched, self.metanet, self.opt_m, self.features, None,
                                 self.calibrator, self.curriculum, 1, self.shared, True, [])
        self.variants: set[str] | None = None  # None = all (main() sets --variants)
        self.parts: dict[str, list[float]] = {}  # the mind step's breakdown, per timed round
        self.tmp = tempfile.TemporaryDirectory(prefix="bench_train_")
        self.writer = RunWriter(Path(self.tmp.name) / "run")
        self.times: dict[str, list[float]] = {}
        self.cpu: dict[str, list[float]] = {}  # CPU seconds of this process per variant (all its threads)
        self.tokens: dict[str, list[int]] = {}
        self.extra: dict[str, list[float]] = {"telemetry": [], "n_selected": [], "matmul_flops": [], "flops": [],
                                              "useful_flops": [], "pad_frac": []}
        self.alpha_sel = None
        base = hf.get_base_model()
        self.V, self.d = base.get_output_embeddings().weight.shape
        self.L = base.config.num_hidden_layers
        emb = {id(base.get_output_embeddings().weight), id(base.get_input_embeddings().weight)}
        self.P_dec = sum(p.numel() for n, p in base.named_parameters() if id(p) not in emb and "lora_" not in n)

    # ------------------------------------------------------------------ pieces shared by the variants
    def _batch(self, r: int):
        from mind.training.loop import batch_indices

        idx = self.torch.as_tensor(batch_indices(r + 1, self.cfg.batch_size, len(self.problems), self.cfg.seed))
        return idx, self.masks[idx], [self.encoded[i] for i in idx.tolist()]

    def _opt_step(self):
        self.torch.nn.utils.clip_grad_norm_(self.student.parameters(), self.cfg.max_grad_norm)
        self.opt_s.step()
        self.opt_s.zero_grad(set_to_none=True)

    def _sft(self, r: int, alpha, rows, shared: bool = True):
        """Plain SFT step: alpha-weighted CE over ``rows`` (B, K), no consistency term."""
        from mind.model import losses
        from mind.model.batching import collate
        from mind.model.forward import student_pass

        idx, mask, eps = self._batch(r)
        batch = collate(eps, rows.tolist(), self.tok.pad_token_id, shared and self.shared)
        ce, _ = student_pass(self.student, batch, len(idx), self.K, False, "cpu")
        total, _, _ = losses.student_objective(ce, alpha, [None] * len(idx), 0.0)
        total.backward()
        self._opt_step()
        return batch

    # ------------------------------------------------------------------ variants: each returns real tokens
    def v_mind(self, r: int, warm: bool, rescore: bool = True) -> int:
        """The trainer's step itself: :func:`mind.training.loop.optimiser_step` (its micro-batch body marks each
        part) and :func:`mind.training.loop.record_step` (tracking metrics, step record and samples)."""
        from mind.training.loop import _gather_logs, _reduce, optimiser_step, record_step

        cfg = self.cfg if rescore else self.cfg_skip
        marks = [("start", _now())]
        step = r + 1
        step_warm, logs, sums, meta_lr = optimiser_step(cfg, self.acc, self.data, self.train_parts, step,
                                                        mark=lambda name: marks.append((name, _now())))
        assert step_warm == warm, "the bench's warm-up rounds and the trainer's warm-up disagree"
        gathered, reduced = _gather_logs(self.acc, logs), _reduce(self.acc, sums)
        t1 = _now()
        record_step(cfg, self.acc, self.data, self.train_parts, self.writer, [self.writer], step, step_warm, gathered,
                    reduced, meta_lr, marks[0][1])
        marks.append(("tracking metrics + telemetry records", _now()))
        if rescore:
            self.extra["telemetry"].append(marks[-1][1] - t1)
            for (_, a), (name, b) in zip(marks, marks[1:]):
                self.parts.setdefault(name, []).append(b - a)
            assert torch_equal(gathered["alpha"], self.alpha_sel), "MetaNet changed between the round's selection and the mind step"
            self.extra["n_selected"].append(float((gathered["alpha"] > 0).sum(-1).float().mean()))
        return reduced["tokens"]

    def _meta_state(self):
        import copy

        return copy.deepcopy((self.metanet.state_dict(), self.opt_m.state_dict(), self.calibrator.state_dict(),
                              self.curriculum.state_dict()))

    def _load_meta_state(self, saved) -> None:
        self.metanet.load_state_dict(saved[0])
        self.opt_m.load_state_dict(saved[1])
        self.calibrator.load_state_dict(saved[2])
        self.curriculum.load_state_dict(saved[3])

    def _select(self, r: int, warm: bool) -> None:
        """This round's selection (alpha and the rationales left for the no-grad pass) from MetaNet as it is now."""
        from mind.model import losses

        idx, mask, _ = self._batch(r)
        with self.torch.no_grad():
            scores, _ = self.metanet(self.features[idx], mask)
        self.alpha_sel = losses.perspective_weights(self.cfg.method, warm, scores, mask, self.golden[idx], self.cfg.beta,
                                                    self.cfg.tau_student)
        self.rest_sel = mask & ~(self.alpha_sel > 0)

    def v_bare(self, r: int, reuse_prompt: bool = True) -> int:
        """The student's work of this round's `mind` step, bare: selected with gradients, the rest without."""
        from mind.model.forward import rationale_losses

        _, _, eps = self._batch(r)
        _, _, _, _, n_tok = rationale_losses(self.student, eps, self.alpha_sel, self.rest_sel, self.K, 0.0,
                                             self.tok.pad_token_id, self.shared, "cpu", lambda t: t.backward(),
                                             reuse_prompt=reuse_prompt)
        self._opt_step()
        return n_tok

    def v_sft_sel(self, r: int) -> int:
        return self._sft(r, self.alpha_sel, self.alpha_sel > 0).n_tokens

    def v_uniform(self, r: int, shared: bool = True, bf16: bool = False) -> int:
        import contextlib

        from mind.model import losses

        _, mask, eps = self._batch(r)
        with self.torch.autocast("cpu", dtype=self.torch.bfloat16) if bf16 else contextlib.nullcontext():
            batch = self._sft(r, losses.uniform_weights(mask), mask, shared)
        if shared and not bf16:
            self.extra["flops"].append(self._flops(batch, eps, useful=False))
            self.extra["useful_flops"].append(self._flops(batch, eps, useful=True))
            self.extra["pad_frac"].append(1 - self._real_positions(batch) / batch.n_computed)
        return batch.n_tokens

    @staticmethod
    def _real_positions(batch) -> int:
        if batch.prefix is None:
            return int(batch.attention_mask.sum())
        return int(batch.prefix.attention_mask.sum() + batch.attention_mask.sum())

    def _flops(self, batch, eps, useful: bool) -> float:
        """Model FLOPs of one forward+backward over the positions ``batch`` computes (see the module docstring)."""
        head = 4 * self.V * self.d * batch.target_ids.numel()
        att = 12 * self.L * self.d
        lens = batch.attention_mask.sum(1).double()
        if batch.prefix is None:
            N, T = batch.input_ids.shape
            if useful:
                return 4 * self.P_dec * float(lens.sum()) + head + att / 2 * float((lens ** 2).sum())
            return 4 * self.P_dec * N * T + head + att * N * T * T
        pre = batch.prefix
        Q, P = pre.input_ids.shape
        N, S = batch.input_ids.shape
        if useful:
            p_len = pre.lengths.double()
            p_seq = p_len[pre.seq]
            return (4 * self.P_dec * float(p_len.sum() + lens.sum()) + head
                    + att / 2 * float((p_len ** 2).sum()) + att * float((lens * (p_seq + lens / 2)).sum()))
        widths = [(len(g), int(lens[g].max())) for g in pre.groups]  # each length group is padded to its longest
        return (4 * self.P_dec * batch.n_computed + head
                + att * (Q * P * P + sum(n * w * (P + w) for n, w in widths)))

    def matmul(self, n: int = 2048, reps: int = 3):
        """Peak probes: fp32 and bf16 torch.mm of n x n matrices (bf16 runs on AMX/AVX512-BF16 where the CPU has it)."""
        a, b = self.torch.randn(n, n), self.torch.randn(n, n)
        kinds = (("matmul_flops", (a, b)),) + ((("matmul_bf16_flops", (a.bfloat16(), b.bfloat16())),) if self.bf16 else ())
        for key, (x, y) in kinds:
            self.torch.mm(x, y)
            for _ in range(reps):
                t = _now()
                self.torch.mm(x, y)
                self.extra.setdefault(key, []).append(2 * n**3 / (_now() - t))

    def run_round(self, r: int, warm: bool):
        """One timed call of every variant on batch r (plus the matmul peak probe)."""
        plan = [("mind", lambda: self.v_mind(r, warm)), ("mind-skip", lambda: self.v_mind(r, warm, rescore=False)),
                ("bare", lambda: self.v_bare(r)), ("bare-2prompt", lambda: self.v_bare(r, reuse_prompt=False)),
                ("sft-sel", lambda: self.v_sft_sel(r)), ("uniform", lambda: self.v_uniform(r)),
                ("uniform-full", lambda: self.v_uniform(r, shared=False))]
        if self.bf16:
            plan.append(("uniform-bf16", lambda: self.v_uniform(r, bf16=True)))
        plan = [(n, fn) for n, fn in plan if self.variants is None or n in self.variants]
        # The order rotates each round, so that no variant always runs first or right after the same one (the
        # allocator and cache state left behind differ). The round's selection is made first, untimed, with the
        # MetaNet every variant of the round sees (`mind` makes the same one, then updates MetaNet; `mind-skip`'s
        # updates of MetaNet, its optimiser and the calibrator are undone after it, untimed).
        self._select(r, warm)
        plan = plan[r % len(plan):] + plan[: r % len(plan)]
        bf16_all = self.args.precision == "bf16"
        for name, fn in plan:
            saved = self._meta_state() if name == "mind-skip" else None
            t, c = _now(), time.process_time()
            if bf16_all and name != "uniform-bf16":  # --precision bf16: every variant under autocast, as precision=bf16
                with self.torch.autocast("cpu", dtype=self.torch.bfloat16):
                    n = fn()
            else:
                n = fn()
            self.times.setdefault(name, []).append(_now() - t)
            self.cpu.setdefault(name, []).append(time.process_time() - c)
            self.tokens.setdefault(name, []).append(n)
            if saved is not None:
                self._load_meta_state(saved)
        self.matmul()
        done = "  ".join(f"{k} {v[-1]:.2f}s" for k, v in self.times.items())
        print(f"round {r + 1}{' (warm-up)' if warm else ''}: {done}", file=sys.stderr, flush=True)


def trl_run(bench: Bench, rounds: int, warm_rounds: int, precision: str = "fp32"):
    """Drive TRL's SFTTrainer for ``rounds`` steps in ``precision``; after each of its steps (callback) run ours at
    the same precision: in fp32 one round of every variant, in bf16 our bf16 `uniform` step (as `uniform-bf16*`)."""
    import logging

    import datasets
    from peft import LoraConfig
    from transformers import TrainerCallback
    from trl import SFTConfig, SFTTrainer

    from mind.data.prompting import user_message
    from mind.model.student import load_causal_lm
    from mind.training.loop import batch_indices

    logging.getLogger("transformers").setLevel(logging.ERROR)
    rows = []  # step r's 16 rows = the problems of our round r, all their rationales: same sequences as `uniform`
    for r in range(rounds):
        for i in batch_indices(r + 1, bench.cfg.batch_size, len(bench.problems), bench.cfg.seed).tolist():
            p = bench.problems[i]
            for pid in bench.persp:
                ra = p.rationale(pid)
                if ra is not None:
                    rows.append({"prompt": [{"role": "user", "content": user_message(p.question)}],
                                 "completion": [{"role": "assistant", "content": ra.text}]})
    per_step = int(bench.masks[0].sum()) * bench.cfg.batch_size
    if any(int(m.sum()) != bench.K for m in bench.masks):
        print("note: some problems miss perspectives; TRL batches then mix problems")
    cfg = bench.cfg
    sft = SFTConfig(output_dir=bench.tmp.name + "/trl", max_steps=rounds, per_device_train_batch_size=per_step,
                    gradient_accumulation_steps=1, learning_rate=cfg.lr, lr_scheduler_type="constant", max_length=cfg.max_length,
                    packing=False, completion_only_loss=True, max_grad_norm=cfg.max_grad_norm, save_strategy="no",
                    logging_steps=10**6, report_to="none", use_cpu=True, dataloader_num_workers=0, seed=0,
                    train_sampling_strategy="sequential", include_num_input_tokens_seen="non_padding", disable_tqdm=True,
                    bf16=precision == "bf16", fp16=False)
    key = "trl" if precision == "fp32" else "trl-bf16"
    lora = LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                      target_modules=list(cfg.lora_targets), task_type="CAUSAL_LM")

    class Clock(TrainerCallback):
        def on_step_begin(self, args, state, control, **kw):
            self.t, self.seen = _now(), state.num_input_tokens_seen

        def on_step_end(self, args, state, control, **kw):
            bench.times.setdefault(key, []).append(_now() - self.t)
            bench.tokens.setdefault(key, []).append(state.num_input_tokens_seen - self.seen)
            r = state.global_step - 1
            if precision == "fp32":
                bench.run_round(r, warm=r < warm_rounds)
            else:
                t = _now()
                n = bench.v_uniform(r, bf16=True)
                bench.times.setdefault("uniform-bf16*", []).append(_now() - t)
                bench.tokens.setdefault("uniform-bf16*", []).append(n)

    model = load_causal_lm(bench.args.student, bench.tok, seed=0)
    print(f"TRL SFTConfig: bf16={sft.bf16}, gradient_checkpointing={sft.gradient_checkpointing}, packing={sft.packing}",
          flush=True)
    trainer = SFTTrainer(model=model, args=sft, train_dataset=datasets.Dataset.from_list(rows), processing_class=bench.tok,
                         peft_config=lora, callbacks=[Clock()])
    trainer.train()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--student", default="tiny", help="tiny or smollm2-135m")
    ap.add_argument("--repeats", type=int, default=5, help="timed rounds (medians over these)")
    ap.add_argument("--warmup", type=int, default=2, help="untimed rounds first (MetaNet in its warm-up phase)")
    ap.add_argument("--problems-per-step", type=int, default=2)
    ap.add_argument("--max-length", type=int, default=256)
    ap.add_argument("--checkpointing", action=argparse.BooleanOptionalAction, default=True,
                    help="activation checkpointing in the student, as the trainer's default (TRL's own setting is left at its default)")
    ap.add_argument("--precision", choices=("fp32", "bf16"), default="fp32",
                    help="precision of every variant (bf16: under autocast, as mind train precision=bf16; not with --trl)")
    ap.add_argument("--threads", type=int, default=0, help="torch intra-op threads (0 = torch's default, as mind train)")
    ap.add_argument("--variants", default="all",
                    help=f"comma-separated subset of {','.join(VARIANTS)} (bare, bare-2prompt, mind-skip and sft-sel need mind)")
    ap.add_argument("--trl", action="store_true", help="also time TRL's SFTTrainer (pip install -r bench/requirements.txt)")
    ap.add_argument("--bf16", choices=("auto", "on", "off"), default="auto",
                    help="bf16 variants: auto = only where this CPU's bf16 matmul is fast (precision=auto's probe)")
    args = ap.parse_args(argv)
    if args.precision == "bf16" and args.trl:
        ap.error("--precision bf16 with --trl: the TRL comparison runs at both precisions itself; drop one of them")
    variants = None if args.variants == "all" else set(args.variants.split(","))
    if variants is not None:
        unknown = variants - set(VARIANTS)
        if unknown or (variants & {"bare", "bare-2prompt", "mind-skip", "sft-sel"} and "mind" not in variants):
            ap.error(f"--variants {args.variants}: " + (f"unknown {sorted(unknown)}; pick from {','.join(VARIANTS)}"
                                                        if unknown else "bare, bare-2prompt, mind-skip and sft-sel need mind"))

    import torch

    from mind.model.precision import cached_probe, is_fast, machine_line

    if args.threads:
        torch.set_num_threads(args.threads)

    print(f"machine: {machine_line()}", flush=True)
    probe = cached_probe()
    fast = is_fast(probe.speedup)
    bf16 = args.bf16 == "on" or (args.bf16 == "auto" and fast)
    print(f"bf16 probe ({probe.n}x{probe.n} torch.mm, cached): bf16 {probe.gflops('bf16'):.0f} vs fp32 "
          f"{probe.gflops('fp32'):.0f} GFLOP/s = {probe.speedup:.2f}x -> precision=auto is {'bf16' if fast else 'fp32'} here; "
          + ("bf16 variants run" if bf16 else "bf16 variants SKIPPED: " + ("--bf16 off" if args.bf16 == "off" else
             "bf16 is slow on this CPU (--bf16 on runs them anyway)")), flush=True)
    t0 = _now()
    bench = Bench(args)
    bench.bf16 = bf16 and args.precision == "fp32"  # in bf16 every variant is already bf16: no separate uniform-bf16
    bench.variants = variants
    print(f"student {args.student}: setup {_now() - t0:.1f} s; torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"{os.cpu_count()} cpus, load avg {os.getloadavg()[0]:.1f}; {args.problems_per_step} problems x {bench.K} "
          f"perspectives per step, max_length {args.max_length}, warm-up {args.warmup}, repeats {args.repeats}")
    sys.stdout.flush()
    rounds = args.warmup + args.repeats
    if args.trl:
        trl_run(bench, rounds, args.warmup, "fp32")
        if bf16:  # TRL's default precision, against ours in the same precision
            trl_run(bench, rounds, args.warmup, "bf16")
        else:
            print("TRL at its default bf16: skipped (bf16 is slow here, so that comparison would be against a crippled "
                  "TRL); TRL ran in fp32, as `uniform`", flush=True)
    else:
        for r in range(rounds):
            bench.run_round(r, warm=r < args.warmup)
    report(bench, args)
    return 0


def report(bench: Bench, args) -> None:
    w = args.warmup
    med = lambda xs: statistics.median(xs[w:]) if len(xs) > w else float("nan")  # noqa: E731
    t = {k: med(v) for k, v in bench.times.items()}
    rate = {k: statistics.median([n / s for n, s in zip(bench.tokens[k][w:], bench.times[k][w:])]) for k in bench.times}
    ref = "mind" if "mind" in t else next(iter(t))
    print(f"\n{'variant':<13} {'median s':>9} {'min-max s':>15} {'real tok':>9} {'tok/s':>8}  vs {ref}")
    for k in bench.times:
        xs = bench.times[k][w:]
        print(f"{k:<13} {t[k]:>9.3f} {min(xs):>7.3f}-{max(xs):<7.3f} {statistics.median(bench.tokens[k][w:]):>9.0f} "
              f"{rate[k]:>8.0f}  {t[ref] / t[k]:>5.2f}x")
    # Ratios of two variants: the median over rounds of their per-round ratio (both timed in the same round, so
    # load that comes and goes hits both), next to the ratio of the medians.
    def ratio(a: str, b: str) -> str:
        per = statistics.median([x / y for x, y in zip(bench.times[a][w:], bench.times[b][w:])])
        out = f"{a}/{b} {per:.2f}x (ratio of medians {t[a] / t[b]:.2f}x"
        if a in bench.cpu and b in bench.cpu:  # CPU time: what load from other work inflates least
            out += f", CPU time {statistics.median([x / y for x, y in zip(bench.cpu[a][w:], bench.cpu[b][w:])]):.2f}x"
        return out + ")"

    parts = []
    if "mind" in t:
        print(f"\nselected per problem (mind): {med(bench.extra['n_selected']):.2f} of {bench.K}")
        total = sum(med(v) for v in bench.parts.values())
        print("mind step, by part (medians):")
        for name, xs in bench.parts.items():
            print(f"  {name:<36} {1e3 * med(xs):>9.1f} ms  {100 * med(xs) / total:>5.1f}%")
        tele = 100 * med(bench.extra["telemetry"]) / t["mind"]
        print(f"telemetry (step_record + sample_records + RunWriter writes): {1e3 * med(bench.extra['telemetry']):.1f} ms "
              f"= {tele:.2f}% of the mind step")
        if "bare" in t:
            parts.append(ratio("mind", "bare") + " (target <=1.10)")
        if "uniform" in t:
            parts.append(ratio("mind", "uniform") + " (target <=0.75)")
        if "bare-2prompt" in t and "bare" in t:
            parts.append("prompt reuse: " + ratio("bare-2prompt", "bare"))
        if "sft-sel" in t:
            parts.append(ratio("mind", "sft-sel"))
        if "mind-skip" in t:
            amort = {n: (t["mind"] + (n - 1) * t["mind-skip"]) / n for n in (4, 8)}
            base = "bare" if "bare" in t else "mind"
            print("mind step averaged over a run with rescore_every=N: " + ", ".join(
                f"N={n}: {a:.3f} s = {a / t[base]:.2f}x {base}" for n, a in amort.items()))
        parts.append(f"telemetry {tele:.1f}% (<=2)")
    if "uniform-bf16" in t and "uniform" in t:
        parts.append(f"bf16 autocast: uniform/uniform-bf16 {t['uniform'] / t['uniform-bf16']:.2f}x faster")
    elif not bench.bf16 and args.precision == "fp32":
        parts.append("bf16: skipped (slow on this CPU)")
    if "uniform-full" in t and "uniform" in t:
        parts.append(f"shared prompt: uniform-full/uniform {t['uniform-full'] / t['uniform']:.2f}x faster")
    if "uniform" in t and bench.extra["flops"] and args.precision == "fp32":
        peak = statistics.median(bench.extra["matmul_flops"][w * 3:])
        fl, ufl = med(bench.extra["flops"]), med(bench.extra["useful_flops"])
        eff, ueff = fl / t["uniform"] / peak, ufl / t["uniform"] / peak
        print(f"padding in the uniform batch: {100 * med(bench.extra['pad_frac']):.0f}% of computed positions")
        if "uniform-bf16" in t:
            peak16 = statistics.median(bench.extra["matmul_bf16_flops"][w * 3:])
            print(f"bf16 torch.mm 2048^2: median {peak16 / 1e9:.1f} GFLOP/s; uniform-bf16 step: {fl / t['uniform-bf16'] / 1e9:.1f} "
                  f"GFLOP/s = {fl / t['uniform-bf16'] / peak16:.2f} of bf16 peak, {fl / t['uniform-bf16'] / peak:.2f} of fp32 peak")
        print(f"fp32 torch.mm 2048^2: median {peak / 1e9:.1f} GFLOP/s; uniform step: {fl / 1e9:.1f} GFLOP computed "
              f"({ufl / 1e9:.1f} useful) -> {fl / t['uniform'] / 1e9:.1f} GFLOP/s = {eff:.2f} of peak ({ueff:.2f} useful); "
              f"P_dec={bench.P_dec / 1e6:.1f}M V={bench.V} d={bench.d} L={bench.L}")
        parts.append(f"hw eff {eff:.2f} (>=0.6)")
    if "trl" in rate and "uniform" in rate:
        parts.append(f"uniform/trl tok/s {rate['uniform'] / rate['trl']:.2f}x (>=1.0; both fp32)")
    if "trl-bf16" in rate:
        parts.append(f"uniform-bf16/trl-bf16 tok/s {rate['uniform-bf16*'] / rate['trl-bf16']:.2f}x (both bf16, TRL's default)")
    from mind.model.precision import cpu_model

    print(f"\nsummary [{args.student}, {args.precision}, median of {args.repeats}, {cpu_model()}, "
          f"load avg {os.getloadavg()[0]:.1f}]: "
          + ", ".join(parts))


if __name__ == "__main__":
    sys.exit(main())
