"""The MIND training loop: one explicit loop, on Accelerate (``accelerate launch`` scales it to several processes).

Per optimiser step, for each problem of the batch (GUIDE.md section 1):

1. MetaNet scores the K rationales from frozen Sentence-BERT features: s in R^K, positive.
2. Selection I_dyn = {k : s_k >= beta * max(s)}, alpha = softmax over I_dyn of s / tau_student (detached).
   During MetaNet's warm-up the student trains on uniform weights; baselines use their fixed weights.
3. The student is teacher-forced on the rationales with alpha > 0 (per-rationale cross-entropy and the answer
   distributions P_k; L_total = sum_k alpha_k CE_k + lambda * sum_{i<j} alpha_i alpha_j JSD(P_i || P_j)), then
   on the others in a no-grad pass, so L_real is known for every rationale (every ``rescore_every`` steps).
   Each question's prompt runs once per step for its K rationales, both passes, where the student allows
   (``shared_prefix``); MetaNet and the other small tensor work run on one thread (mind/model/threads.py).
4. The inertia calibrator folds L_real into L~ (EMA, factor g); MetaNet learns from
   L_meta = KL(softmax(s/tau) || softmax(-L~/tau)), with its own learning rate and accumulation.
5. Records go to the sinks (run directory, trackers); snapshots and checkpoints at their intervals.

:func:`train` is that loop, in phases: the accelerator, the data (:func:`load_data`), the parts
(:func:`build`: student, MetaNet, optimisers, calibrator), opening the run directory (:func:`open_run`), then per
step :func:`optimiser_step` (whose micro-batch body, :func:`micro_batch`, the training bench runs too) and
:func:`record_step`.
"""

from __future__ import annotations

import contextlib
import math
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from mind.data import perspectives_in, resolve_holdout, split_holdout
from mind.data.perspectives import validate_ids
from mind.errors import ConfigError, RunDirError
from mind.model import losses
from mind.model.batching import encode_problem
from mind.model.checkpoint import CheckpointPolicy, latest_checkpoint, load_checkpoint, no_checkpoint_message, save_checkpoint
from mind.model.forward import probe_states, rationale_losses
from mind.model.precision import resolve_for_run
from mind.model.threads import small_ops
from mind.run import RunWriter, TrackerSink
from mind.run.stop import clear_stop_request, read_stop_request
from mind.training.calibration import InertiaCalibrator, calibrate_metanet
from mind.training.config import TrainConfig
from mind.training.runtime import Heartbeat, StartupClock, StopFlag, versions
from mind.training.sets import load_training_set
from mind.training.telemetry import sample_records, step_record
from mind.training.tracking import CurriculumTracker, agreement, heldout_tracking, per_problem, perspective_mean_predictor


def batch_indices(step: int, global_batch: int, n: int, seed: int) -> np.ndarray:
    """Problem indices of optimiser step ``step`` (1-based): consecutive slices of seeded per-epoch permutations,
    so the data order is a pure function of the step (resume needs no sampler state)."""
    start = (step - 1) * global_batch
    out = []
    for pos in range(start, start + global_batch):
        epoch, i = divmod(pos, n)
        out.append(np.random.default_rng([seed, epoch]).permutation(n)[i])
    return np.asarray(out)


def lr_lambda(warmup: int, total: int):
    def f(i: int) -> float:
        if warmup and i < warmup:
            return (i + 1) / warmup
        progress = (i - warmup) / max(total - warmup, 1)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))

    return f


@dataclass
class TrainingData:
    """What the data phase loads: the problems (training and held-out), their perspectives, and their encodings."""

    tok: object  # the student's tokenizer
    problems: list  # training problems (after ``max_problems``)
    heldout: list  # problems kept out of training
    persp: list[str]  # perspective ids, slot order
    n_holdout: int
    encoded: list  # EncodedProblem per training problem
    encoded_h: list  # EncodedProblem per held-out problem
    masks: torch.Tensor  # (N, K) bool: which rationales each problem has
    golden: torch.Tensor  # (N,) the 'single' baseline's slot per problem


@dataclass
class Parts:
    """What the build phase makes: the models, their optimisers, and the state that follows the student."""

    student: torch.nn.Module  # StudentLM, prepared by Accelerate
    opt_s: torch.optim.Optimizer
    sched_s: object
    metanet: torch.nn.Module | None  # None for the baselines without MetaNet
    opt_m: torch.optim.Optimizer | None
    features: torch.Tensor | None  # (N, K, F) Sentence-BERT features of the training problems
    features_h: torch.Tensor | None  # the same for the held-out problems
    calibrator: InertiaCalibrator
    curriculum: CurriculumTracker
    meta_accum: int  # student steps per MetaNet update after warm-up
    shared: bool  # the shared-prompt layout is on
    lora: bool
    recomputed: list[int]  # [checkpointed, all] decoder layers


def train(cfg: TrainConfig, out: str | Path, resume: bool = False, progress: bool = True,
          stop: StopFlag | None = None) -> Path:
    """Train according to ``cfg``, writing the run directory ``out``; with ``resume`` continue its last checkpoint
    (a stop request left from an earlier stop is removed first, or the resumed run would stop after one step).

    A SIGTERM or a stop request (mind/run/stop.py) ends the run after the current step, with a checkpoint and
    status "stopped" (``stopped_by``: "request" or "signal N"). ``stop``: the flag to use, so that the caller can
    tell afterwards whether and why the run stopped early (``stop.by``, ``stop.step``; ``mind train`` turns a stop
    nobody asked for into a non-zero exit); by default a new one."""
    from mind.training.trackers import check_trackers

    check_trackers(cfg.trackers)  # missing tracker package: fail before any work
    out, clock = Path(out), StartupClock()
    if resume:
        clear_stop_request(out)
    acc, prec = accelerator(cfg, out, resume)
    data = load_data(cfg, acc, prec)
    clock.mark("data")
    parts = build(cfg, acc, data, clock, show=progress and acc.is_main_process)
    writer, sinks, start, probes = open_run(cfg, acc, out, resume, data, parts, prec)
    stop = stop if stop is not None else StopFlag()
    stop.arm(out)
    beat = None
    if writer:
        writer.set_status("running", step=start, total_steps=cfg.steps, error=None)
        beat = Heartbeat(writer)
        if start == 0:
            _snapshot(writer, acc.unwrap_model(parts.student), data.encoded, probes, 0, parts.shared)
            clock.mark("snapshot_0")
    if start == 0 and parts.metanet is not None and cfg.meta_calibrate_epochs:
        report = calibrate_metanet(acc, parts.metanet, parts.opt_m, acc.unwrap_model(parts.student), data.encoded,
                                   parts.features, data.masks, parts.calibrator, cfg, data.tok.pad_token_id, parts.shared,
                                   show=progress and acc.is_main_process)
        if writer:
            if data.encoded_h:
                report["heldout"] = _heldout(acc, data, parts, writer, 0)
            writer.write_json("calibration.json", report)
        clock.mark("calibration")
    bar = tqdm(total=cfg.steps, initial=start, desc=f"mind train [{cfg.method}]", disable=not (progress and acc.is_main_process),
               dynamic_ncols=True)
    policy = CheckpointPolicy(cfg.checkpoint_every, cfg.checkpoint_minutes)
    try:
        for step in range(start + 1, cfg.steps + 1):
            t0 = time.perf_counter()
            warm, logs, sums, meta_lr = optimiser_step(cfg, acc, data, parts, step)
            gathered, reduced = _gather_logs(acc, logs), _reduce(acc, sums)
            if writer:
                record_step(cfg, acc, data, parts, writer, sinks, step, warm, gathered, reduced, meta_lr, t0)
                if step == start + 1:
                    clock.mark("first_step")
                    writer.set_status(None, startup=clock.report())
                beat.step = step
                if (cfg.snapshot_every and step % cfg.snapshot_every == 0) or step == cfg.steps:
                    _snapshot(writer, acc.unwrap_model(parts.student), data.encoded, probes, step, parts.shared)
            stop.poll()  # the request file: one stat per step
            # A stop seen by one process stops them all together. This step decides on ``stopping`` alone: a signal
            # that arrives from here on stays in ``stop`` for the next step instead of splitting the processes.
            stopping = _agree_stop(acc, stop.by)
            if _all_agree(acc, policy.due(step, last=step == cfg.steps or stopping is not None)):
                _checkpoint(acc, out, step, parts)
            bar.set_postfix(loss=f"{reduced['loss_total']:.3f}", sel=f"{float(gathered['alpha'].gt(0).sum(-1).float().mean()):.1f}")
            bar.update(1)
            if stopping is not None and step < cfg.steps:  # on the last step the run is complete: it finishes
                stop.set_from(stopping)
                stop.step = step
                if writer:
                    writer.set_status("stopped", step=step, stopped_by=stop.by,
                                      **({"stop_request": read_stop_request(out)} if stop.requested else {}))
                return out
        if writer:
            writer.set_status("finished", step=cfg.steps)
        return out
    except KeyboardInterrupt:
        if writer:
            writer.set_status("stopped", error="interrupted", stopped_by=f"signal {int(signal.SIGINT)}")
        raise
    except BaseException as exc:
        if writer:
            writer.set_status("crashed", error=f"{type(exc).__name__}: {exc}"[:500])
        raise
    finally:
        bar.close()
        stop.disarm()
        if beat is not None:
            beat.close()
        for s in sinks:
            s.close()


# ------------------------------------------------------------------------------------------------- phases


def accelerator(cfg: TrainConfig, out: Path, resume: bool):
    """(Accelerator, resolved precision) for the run; seeds every generator with ``cfg.seed``."""
    from accelerate import Accelerator
    from accelerate.utils import set_seed

    prec = resolve_for_run(cfg.precision, out if resume else None)  # auto -> fp32/bf16 for this device (precision.py)
    acc = Accelerator(log_with=cfg.trackers or None, project_dir=str(out), cpu=not torch.cuda.is_available() or None,
                      mixed_precision="bf16" if prec.precision == "bf16" else "no")
    set_seed(cfg.seed)
    return acc, prec


def load_data(cfg: TrainConfig, acc, prec) -> TrainingData:
    """The training set, split into training and held-out problems, encoded for the student's tokenizer."""
    from mind.model.student import load_tokenizer

    problems = load_training_set(cfg.data, perspectives=cfg.perspectives or None)
    persp = list(validate_ids(cfg.perspectives or perspectives_in(problems)))
    n_holdout = resolve_holdout(cfg.holdout, cfg.data)
    problems, heldout = split_holdout(problems, n_holdout, cfg.holdout_seed)
    if acc.is_main_process and (prec.warning or cfg.precision == "auto"):  # after the data loaded: errors stay one line
        print(f"warning: {prec.warning}" if prec.warning else f"note: precision=auto -> {prec.precision} ({prec.reason})",
              file=sys.stderr)
    if cfg.max_problems:
        problems = problems[: cfg.max_problems]
    tok = load_tokenizer(cfg.student)
    def encode(part):
        return [encode_problem(tok, p, i, tuple(persp), cfg.max_length, cfg.chat_template, cfg.prompt_version)
                for i, p in enumerate(part)]

    encoded, encoded_h = encode(problems), encode(heldout)
    masks = torch.tensor([ep.mask for ep in encoded])
    if cfg.golden_perspective not in persp and cfg.method == "single":
        raise ConfigError(f"golden_perspective={cfg.golden_perspective!r} is not among {persp}; pick one of them")
    golden = losses.golden_slots(cfg.golden_perspective, persp, masks)
    return TrainingData(tok, problems, heldout, persp, n_holdout, encoded, encoded_h, masks, golden)


def build(cfg: TrainConfig, acc, data: TrainingData, clock: StartupClock, show: bool) -> Parts:
    """The student (LoRA or full, activation checkpointing as configured), MetaNet and the Sentence-BERT features
    when the method uses them, both optimisers, the calibrator and the curriculum tracker."""
    from mind.model.student import SHARED_PREFIX_MODELS, StudentLM, add_lora, load_causal_lm

    hf = load_causal_lm(cfg.student, data.tok, seed=cfg.seed)
    if cfg.gradient_checkpointing:
        if hasattr(hf, "activation_checkpointing_enable"):  # transformers >= 5.2x; the older name is deprecated
            hf.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False},
                                               every_n_layers=cfg.checkpoint_layers)
        elif cfg.checkpoint_layers == 1:
            hf.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        else:
            raise ConfigError(f"checkpoint_layers={cfg.checkpoint_layers} needs transformers with "
                              "activation_checkpointing_enable(every_n_layers=...); use checkpoint_layers=1")
    recomputed = _recomputed_layers(hf)  # [checkpointed, all] decoder layers, recorded in config.json
    lora = cfg.finetune == "lora"
    if lora:
        hf = add_lora(hf, cfg.lora_r, cfg.lora_alpha, cfg.lora_dropout, cfg.lora_targets, seed=cfg.seed)
    student = StudentLM(hf)
    clock.mark("model")
    shared = cfg.shared_prefix and student.shares_prefix
    if cfg.shared_prefix and not shared and acc.is_main_process:
        print(f"note: shared_prefix needs a {'/'.join(SHARED_PREFIX_MODELS)} decoder with sdpa or eager attention; "
              "this student runs full sequences", file=sys.stderr)
    opt_s = torch.optim.AdamW([p for p in student.parameters() if p.requires_grad], lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched_s = torch.optim.lr_scheduler.LambdaLR(opt_s, lr_lambda(cfg.warmup_steps, cfg.steps))

    metanet = opt_m = features = features_h = None
    K = len(data.persp)
    if cfg.uses_metanet:
        from mind.model.encoder import rationale_features
        from mind.model.metanet import MetaNet

        features = rationale_features(data.problems + data.heldout, data.persp, cfg.encoder, show_progress=show)
        features, features_h = features[: len(data.problems)], features[len(data.problems):]
        clock.mark("features")
        metanet = MetaNet(features.shape[-1], K, cfg.meta_hidden, cfg.meta_heads, cfg.effective_attention, cfg.meta_score)
        opt_m = torch.optim.AdamW(metanet.parameters(), lr=cfg.meta_warmup_lr)
        metanet, opt_m = acc.prepare(metanet, opt_m)
    student, opt_s = acc.prepare(student, opt_s)
    global_batch = cfg.batch_size * cfg.grad_accum * acc.num_processes
    return Parts(student, opt_s, sched_s, metanet, opt_m, features, features_h,
                 InertiaCalibrator(len(data.problems), K, cfg.effective_g), CurriculumTracker(K),
                 cfg.meta_accum_steps(len(data.problems) / global_batch), shared, lora, recomputed)


def open_run(cfg: TrainConfig, acc, out: Path, resume: bool, data: TrainingData, parts: Parts, prec):
    """(writer or None, sinks, start step, probes): a new run writes its resolved config and data files; a
    resumed one loads its last checkpoint and drops the records after it."""
    writer = RunWriter(out) if acc.is_main_process else None
    sinks = [writer] if writer else []
    if writer and cfg.trackers:
        acc.init_trackers("mind", config={k: v if isinstance(v, (int, float, str, bool)) else str(v) for k, v in cfg.to_dict().items()})
        sinks.append(TrackerSink(acc))
    K = len(data.persp)
    probes = [(i, k) for i in range(min(cfg.probe_problems, len(data.problems))) for k in range(K) if data.masks[i, k]]
    start = 0
    if resume:
        ckpt = latest_checkpoint(out / "checkpoints")
        if ckpt is None:
            raise RunDirError(no_checkpoint_message(out))
        state = load_checkpoint(ckpt, student=acc.unwrap_model(parts.student).lm,
                                metanet=acc.unwrap_model(parts.metanet) if parts.metanet else None, opt_s=parts.opt_s,
                                opt_m=parts.opt_m, sched_s=parts.sched_s, calibrator=parts.calibrator, lora=parts.lora)
        start = int(state["step"])
        if state.get("curriculum"):
            parts.curriculum.load_state_dict(state["curriculum"])
        if writer:
            writer.truncate_after(start)
    elif writer:
        world = acc.num_processes
        n_train = sum(p.numel() for p in parts.student.parameters() if p.requires_grad)
        writer.write_json("config.json", {**cfg.to_dict(), "holdout": data.n_holdout,
                                          "heldout_ids": [p.id for p in data.heldout], "perspectives": data.persp,
                                          "out": str(out), "n_problems": len(data.problems), "world_size": world,
                                          "global_batch": cfg.batch_size * cfg.grad_accum * world,
                                          "trainable_params": n_train, "command": sys.argv, "versions": versions(),
                                          "effective": cfg.effective(len(data.problems) / (cfg.batch_size * cfg.grad_accum * world)),
                                          **prec.record(), "recomputed_layers": parts.recomputed})
        writer.write_jsonl("data.jsonl", [p.to_json() for p in data.problems])
        writer.write_jsonl("heldout.jsonl", [p.to_json() for p in data.heldout])
        writer.write_jsonl("probes.jsonl", [{"problem_id": data.problems[i].id, "perspective": data.persp[k]} for i, k in probes])
    return writer, sinks, start, probes


# ------------------------------------------------------------------------------------------------- one step


def optimiser_step(cfg: TrainConfig, acc, data: TrainingData, parts: Parts, step: int, mark=None):
    """One optimiser step: every micro-batch of the step (:func:`micro_batch`), then both optimisers (MetaNet's
    on its own period). Returns (warm, per-micro-batch logs, summed losses, MetaNet's learning rate or None).
    ``mark``: see :func:`micro_batch`; also called after each optimiser."""
    mark = mark or (lambda name: None)
    world = acc.num_processes
    idx_all = batch_indices(step, cfg.batch_size * cfg.grad_accum * world, len(data.problems), cfg.seed)
    warm = cfg.uses_metanet and step <= cfg.meta_warmup_steps
    logs, sums = [], {"loss_total": 0.0, "loss_sft": 0.0, "loss_cons": 0.0, "loss_meta": 0.0, "tokens": 0}
    for micro in range(cfg.grad_accum):
        lo = (micro * world + acc.process_index) * cfg.batch_size
        idx = torch.as_tensor(idx_all[lo : lo + cfg.batch_size])
        ctx = acc.no_sync(parts.student) if micro < cfg.grad_accum - 1 else contextlib.nullcontext()
        with ctx:
            log, values = micro_batch(cfg, acc, data, parts, idx, step, warm, mark)
        logs.append(log)
        for k, v in values.items():
            sums[k] += v if k == "tokens" else v / cfg.grad_accum
    if cfg.max_grad_norm > 0:
        acc.clip_grad_norm_(parts.student.parameters(), cfg.max_grad_norm)
    parts.opt_s.step()
    parts.sched_s.step()
    parts.opt_s.zero_grad(set_to_none=True)
    mark("student optimiser")
    meta_lr = None
    if parts.metanet is not None and (warm or step % parts.meta_accum == 0):
        meta_lr = cfg.meta_warmup_lr if warm else cfg.effective_meta_lr
        for group in parts.opt_m.param_groups:
            group["lr"] = meta_lr
        with small_ops():
            parts.opt_m.step()
        parts.opt_m.zero_grad(set_to_none=True)
    mark("metanet optimiser")
    return warm, logs, sums, meta_lr


def micro_batch(cfg: TrainConfig, acc, data: TrainingData, parts: Parts, idx: torch.Tensor, step: int, warm: bool,
                mark=None) -> tuple[dict, dict]:
    """One micro-batch of problems ``idx``: MetaNet's scores and the weights alpha, the student's passes (gradients
    handed to Accelerate, scaled for accumulation), calibration and the meta loss's backward. Returns (the log
    tensors of the step record, {loss_total, loss_sft, loss_cons, loss_meta, tokens} of this micro-batch).
    ``mark(name)``, when given, is called after each part (the training bench times them)."""
    mark = mark or (lambda name: None)
    metanet, calibrator, K = parts.metanet, parts.calibrator, len(data.persp)
    mask = data.masks[idx]
    scores = attn = None
    if metanet is not None:
        with small_ops():  # MetaNet's tensors are tiny: one thread (mind/model/threads.py)
            scores, attn = metanet(parts.features[idx].to(acc.device), mask.to(acc.device))
    alpha = losses.perspective_weights(cfg.method, warm, scores, mask, data.golden[idx], cfg.beta, cfg.tau_student)
    mark("metanet forward + selection")
    rescore = metanet is not None and step % cfg.rescore_every == 0  # MetaNet needs every L_real
    rest = mask & ~(alpha > 0) if rescore else torch.zeros_like(mask)
    ce, total, sft, cons, n_tokens = rationale_losses(
        parts.student, [data.encoded[i] for i in idx.tolist()], alpha, rest, K, cfg.effective_lam,
        data.tok.pad_token_id, parts.shared, acc.device, lambda t: acc.backward(t / cfg.grad_accum))
    mark("student passes (incl. consistency)")
    # Calibration sees every process's losses so every copy of L~ stays identical.
    g_idx, g_ce, g_mask = acc.gather((idx.to(acc.device), ce.detach(), mask.to(acc.device)))
    calibrator.update(g_idx.cpu(), g_ce.cpu(), g_mask.cpu())
    filtered = calibrator.filtered[idx].to(acc.device)
    meta_per, values = None, {"loss_total": total.item(), "loss_sft": sft.item(), "loss_cons": cons.item(),
                              "loss_meta": 0.0, "tokens": n_tokens}
    if metanet is not None:
        ranked = mask & calibrator.seen[idx]  # == mask unless rescore_every > 1 left some L~ unmeasured
        meta_per = losses.meta_loss(scores, losses.meta_target(cfg.meta_target, filtered, ranked.to(acc.device)),
                                    ranked.to(acc.device), cfg.tau, cfg.meta_kl_direction)
        accum = 1 if warm else parts.meta_accum
        with small_ops():
            acc.backward(meta_per.mean() / (cfg.grad_accum * accum))
        values["loss_meta"] = meta_per.mean().item()
    mark("calibration + meta loss backward")
    log = dict(idx=idx, mask=mask, ranked=mask & calibrator.seen[idx], alpha=alpha,
               scores=None if scores is None else scores.detach().cpu(), ce=ce.detach().cpu(), filtered=filtered.cpu(),
               attn=None if attn is None else attn.detach().cpu(), meta=None if meta_per is None else meta_per.detach().cpu())
    return log, values


def record_step(cfg: TrainConfig, acc, data: TrainingData, parts: Parts, writer: RunWriter, sinks, step: int, warm: bool,
                gathered: dict, reduced: dict, meta_lr, t0: float) -> dict:
    """The step's tracking metrics (held-out ones on snapshot steps), its record to every sink, and its samples
    (every ``log_samples_every`` steps). Returns the step record."""
    n, global_batch = len(data.problems), cfg.batch_size * cfg.grad_accum * acc.num_processes
    calibrator, metanet = parts.calibrator, parts.metanet
    with small_ops():
        baseline = perspective_mean_predictor(calibrator.filtered, calibrator.seen)
        tracking = agreement(gathered["scores"], gathered["filtered"], gathered["ranked"], baseline)
        rows = per_problem(gathered["scores"], gathered["filtered"], gathered["ranked"], baseline)
    tracking["curriculum_shift"] = parts.curriculum.update(int((step - 1) * global_batch // n), gathered["alpha"])
    snap_now = (cfg.snapshot_every and step % cfg.snapshot_every == 0) or step == cfg.steps
    if snap_now and data.encoded_h:
        tracking.update(_heldout(acc, data, parts, writer, step))
    elapsed = time.perf_counter() - t0
    rec = step_record(step, data.persp, mask=gathered["mask"], alpha=gathered["alpha"], scores=gathered["scores"],
                      ce=gathered["ce"], filtered=gathered["filtered"],
                      epoch=step * global_batch / n, lr=parts.sched_s.get_last_lr()[0], **tracking,
                      meta_lr=meta_lr if meta_lr is not None else math.nan,
                      meta_phase="off" if metanet is None else ("warmup" if warm else "joint"),
                      time_s=elapsed, tokens_per_s=reduced["tokens"] / elapsed, wall=time.time(),
                      **{k: (math.nan if k == "loss_meta" and metanet is None else v) for k, v in reduced.items()})
    for s in sinks:
        s.log_step(rec)
    if step % cfg.log_samples_every == 0:
        ids = [data.problems[i].id for i in gathered["idx"].tolist()]
        writer.log_samples(sample_records(step, ids, data.persp, mask=gathered["mask"], alpha=gathered["alpha"],
                                          scores=gathered["scores"], ce=gathered["ce"], filtered=gathered["filtered"],
                                          attention=gathered["attn"], meta_loss=gathered["meta"], tracking=rows))
    return rec


def _heldout(acc, data: TrainingData, parts: Parts, writer: RunWriter, step: int) -> dict:
    """Held-out tracking now: its per-problem values go to tracking_heldout.jsonl, its means are returned for the
    step record (step 0: right after the calibration pass, the starting point of every later snapshot)."""
    metanet = parts.metanet
    means, rows = heldout_tracking(acc.unwrap_model(parts.student), acc.unwrap_model(metanet) if metanet else None,
                                   data.encoded_h, parts.features_h if metanet is not None else None, parts.calibrator,
                                   data.tok.pad_token_id, parts.shared, acc.device,
                                   cache_tag=f"precision={acc.mixed_precision}" if step == 0 else None)
    writer.log_heldout({"step": step, "problem_ids": [p.id for p in data.heldout], **rows})
    return means


# ------------------------------------------------------------------------------------------------- pieces


def _snapshot(writer: RunWriter, student, encoded, probes, step: int, shared: bool = False) -> None:
    """The probes' pooled hidden states and answer correctness at ``step``, written as a snapshot."""
    hidden, correct = probe_states(student, encoded, probes, shared)
    writer.write_snapshot(step, hidden, correct)


def _checkpoint(acc, out: Path, step: int, parts: Parts) -> None:
    acc.wait_for_everyone()
    if acc.is_main_process:
        metanet = acc.unwrap_model(parts.metanet) if parts.metanet is not None else None
        save_checkpoint(out / "checkpoints", step=step, student=acc.unwrap_model(parts.student).lm, metanet=metanet,
                        opt_s=parts.opt_s, opt_m=parts.opt_m, sched_s=parts.sched_s, calibrator=parts.calibrator,
                        lora=parts.lora, extra={"world_size": acc.num_processes, "curriculum": parts.curriculum.state_dict()})
    acc.wait_for_everyone()


def _recomputed_layers(model) -> list[int]:
    """[decoder layers whose activations are recomputed in backward (activation checkpointing on), all of them]."""
    try:
        from transformers.modeling_layers import GradientCheckpointingLayer
    except ImportError:  # older transformers: every module with the flag
        GradientCheckpointingLayer = torch.nn.Module
    layers = [m for m in model.modules() if isinstance(m, GradientCheckpointingLayer) and hasattr(m, "gradient_checkpointing")]
    return [sum(bool(m.gradient_checkpointing) for m in layers), len(layers)]


def _all_agree(acc, flag: bool) -> bool:
    """True on every process if it is on any (a time-based checkpoint or a stop request seen by one process must
    be taken by all, or they would wait for each other forever)."""
    if acc.num_processes == 1:
        return flag
    return bool(acc.reduce(torch.tensor(int(flag), device=acc.device), "sum").item() > 0)


def _agree_stop(acc, by: str | None) -> str | None:
    """The stop reason every process takes: a request seen by any process wins (someone asked), else the highest
    signal number seen, else None. Encoded as 0 (none), 1 (request) or 100+N (signal N) for one gather."""
    if acc.num_processes == 1:
        return by
    code = 0 if by is None else 1 if by == "request" else 100 + int(by.split()[1])
    codes = acc.gather(torch.tensor([code], device=acc.device)).tolist()
    if 1 in codes:
        return "request"
    return f"signal {max(codes) - 100}" if max(codes) >= 100 else None


def _reduce(acc, sums: dict) -> dict:
    """The step's summed losses averaged over processes; tokens summed over them."""
    reduced = {k: float(acc.reduce(torch.tensor(v, dtype=torch.float64, device=acc.device), "mean")) for k, v in sums.items()}
    reduced["tokens"] = int(round(reduced["tokens"] * acc.num_processes))
    return reduced


def _gather_logs(acc, logs: list[dict]) -> dict:
    """Concatenate micro-batches, then gather over processes, into global (B, K) tensors."""
    out = {}
    for key in ("idx", "mask", "ranked", "alpha", "scores", "ce", "filtered", "attn", "meta"):
        if logs[0][key] is None:
            out[key] = None
            continue
        t = torch.cat([l[key] for l in logs])
        out[key] = acc.gather(t.to(acc.device)).cpu() if acc.num_processes > 1 else t
    return out
