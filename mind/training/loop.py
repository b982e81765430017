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
"""

from __future__ import annotations

import contextlib
import math
import signal
import sys
import threading
import time
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from mind.model import losses
from mind.model.batching import collate, encode_problem
from mind.training.calibration import InertiaCalibrator
from mind.model.checkpoint import CheckpointPolicy, latest_checkpoint, load_checkpoint, no_checkpoint_message, save_checkpoint
from mind.training.config import TrainConfig
from mind.data import perspectives_in, resolve_holdout, split_holdout
from mind.training.sets import load_training_set
from mind.errors import ConfigError, RunDirError
from mind.data.perspectives import validate_ids
from mind.model.precision import resolve_for_run
from mind.run import RunWriter, TrackerSink
from mind.training.telemetry import sample_records, step_record
from mind.model.threads import intra_op_threads, small_ops, threads_for
from mind.training.tracking import CurriculumTracker, agreement, perspective_mean_predictor, spearman


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


class _StopFlag:
    """Set by SIGTERM (the dashboard's Stop button): the loop checkpoints and exits cleanly after the step."""

    def __init__(self):
        self.stop = False
        if threading.current_thread() is threading.main_thread():
            signal.signal(signal.SIGTERM, self._handle)

    def _handle(self, *_):
        self.stop = True


def train(cfg: TrainConfig, out: str | Path, resume: bool = False, progress: bool = True) -> Path:
    """Train according to ``cfg``, writing the run directory ``out``; with ``resume`` continue its last checkpoint."""
    from mind.training.trackers import check_trackers; check_trackers(cfg.trackers)  # missing tracker package: fail before any work
    from accelerate import Accelerator
    from accelerate.utils import set_seed

    out = Path(out)
    clock = StartupClock()
    prec = resolve_for_run(cfg.precision, out if resume else None)  # auto -> fp32/bf16 for this device (precision.py)
    acc = Accelerator(log_with=cfg.trackers or None, project_dir=str(out), cpu=not torch.cuda.is_available() or None,
                      mixed_precision="bf16" if prec.precision == "bf16" else "no")
    set_seed(cfg.seed)
    problems = load_training_set(cfg.data, perspectives=cfg.perspectives or None)
    persp = list(validate_ids(cfg.perspectives or perspectives_in(problems)))
    n_holdout = resolve_holdout(cfg.holdout, cfg.data)
    problems, heldout = split_holdout(problems, n_holdout, cfg.holdout_seed)
    if acc.is_main_process and (prec.warning or cfg.precision == "auto"):  # after the data loaded: errors stay one line
        print(f"warning: {prec.warning}" if prec.warning else f"note: precision=auto -> {prec.precision} ({prec.reason})",
              file=sys.stderr)
    if cfg.max_problems:
        problems = problems[: cfg.max_problems]
    K, world = len(persp), acc.num_processes
    global_batch = cfg.batch_size * cfg.grad_accum * world

    from mind.model.student import SHARED_PREFIX_MODELS, StudentLM, add_lora, load_causal_lm, load_tokenizer

    tok = load_tokenizer(cfg.student)
    encoded = [encode_problem(tok, p, i, tuple(persp), cfg.max_length, cfg.chat_template) for i, p in enumerate(problems)]
    masks = torch.tensor([ep.mask for ep in encoded])
    encoded_h = [encode_problem(tok, p, i, tuple(persp), cfg.max_length, cfg.chat_template) for i, p in enumerate(heldout)]
    clock.mark("data")
    golden = _golden_slots(cfg, persp, masks)

    hf = load_causal_lm(cfg.student, tok, seed=cfg.seed)
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

    metanet = opt_m = features = None
    if cfg.uses_metanet:
        from mind.model.encoder import encode_texts, feature_text
        from mind.model.metanet import MetaNet

        features = _features(problems + heldout, persp, cfg.encoder, encode_texts, feature_text,
                             show=acc.is_main_process and progress)
        features, features_h = features[: len(problems)], features[len(problems):]
        clock.mark("features")
        metanet = MetaNet(features.shape[-1], K, cfg.meta_hidden, cfg.meta_heads, cfg.effective_attention, cfg.meta_score)
        opt_m = torch.optim.AdamW(metanet.parameters(), lr=cfg.meta_warmup_lr)
        metanet, opt_m = acc.prepare(metanet, opt_m)
    student, opt_s = acc.prepare(student, opt_s)
    calibrator = InertiaCalibrator(len(problems), K, cfg.effective_g)
    curriculum = CurriculumTracker(K)
    meta_accum = cfg.meta_accum_steps(len(problems) / global_batch)

    writer = RunWriter(out) if acc.is_main_process else None
    sinks = [writer] if writer else []
    if writer and cfg.trackers:
        acc.init_trackers("mind", config={k: v if isinstance(v, (int, float, str, bool)) else str(v) for k, v in cfg.to_dict().items()})
        sinks.append(TrackerSink(acc))
    probes = [(i, k) for i in range(min(cfg.probe_problems, len(problems))) for k in range(K) if masks[i, k]]

    start = 0
    if resume:
        ckpt = latest_checkpoint(out / "checkpoints")
        if ckpt is None:
            raise RunDirError(no_checkpoint_message(out))
        state = load_checkpoint(ckpt, student=acc.unwrap_model(student).lm, metanet=acc.unwrap_model(metanet) if metanet else None,
                                opt_s=opt_s, opt_m=opt_m, sched_s=sched_s, calibrator=calibrator, lora=lora)
        start = int(state["step"])
        if state.get("curriculum"):
            curriculum.load_state_dict(state["curriculum"])
        if writer:
            writer.truncate_after(start)
    elif writer:
        n_train = sum(p.numel() for p in student.parameters() if p.requires_grad)
        writer.write_json("config.json", {**cfg.to_dict(), "holdout": n_holdout, "heldout_ids": [p.id for p in heldout],
                                          "perspectives": persp, "out": str(out), "n_problems": len(problems),
                                          "world_size": world, "global_batch": global_batch, "trainable_params": n_train,
                                          "command": sys.argv, "versions": _versions(), **prec.record(),
                                          "recomputed_layers": recomputed})
        writer.write_jsonl("data.jsonl", [p.to_json() for p in problems])
        writer.write_jsonl("heldout.jsonl", [p.to_json() for p in heldout])
        writer.write_jsonl("probes.jsonl", [{"problem_id": problems[i].id, "perspective": persp[k]} for i, k in probes])

    stop = _StopFlag()
    if writer:
        writer.set_status("running", step=start, total_steps=cfg.steps, error=None)
        beat = _Heartbeat(writer)
        if start == 0:
            _snapshot(writer, acc.unwrap_model(student), encoded, probes, 0, shared)
            clock.mark("snapshot_0")
    if start == 0 and metanet is not None and cfg.meta_calibrate_epochs:
        report = calibrate_metanet(acc, metanet, opt_m, acc.unwrap_model(student), encoded, features, masks, calibrator, cfg,
                                   tok.pad_token_id, shared, show=progress and acc.is_main_process)
        if writer:
            writer.write_json("calibration.json", report)
        clock.mark("calibration")
    bar = tqdm(total=cfg.steps, initial=start, desc=f"mind train [{cfg.method}]", disable=not (progress and acc.is_main_process),
               dynamic_ncols=True)
    policy = CheckpointPolicy(cfg.checkpoint_every, cfg.checkpoint_minutes)
    try:
        for step in range(start + 1, cfg.steps + 1):
            t0 = time.perf_counter()
            idx_all = batch_indices(step, global_batch, len(problems), cfg.seed)
            warm = cfg.uses_metanet and step <= cfg.meta_warmup_steps
            logs, sums = [], {"loss_total": 0.0, "loss_sft": 0.0, "loss_cons": 0.0, "loss_meta": 0.0, "tokens": 0}
            for micro in range(cfg.grad_accum):
                lo = (micro * world + acc.process_index) * cfg.batch_size
                idx = torch.as_tensor(idx_all[lo : lo + cfg.batch_size])
                mask = masks[idx]
                scores = attn = None
                if metanet is not None:
                    with small_ops():  # MetaNet's tensors are tiny: one thread (mind/model/threads.py)
                        scores, attn = metanet(features[idx].to(acc.device), mask.to(acc.device))
                alpha = _weights(cfg, warm, scores, mask, golden[idx])
                ctx = acc.no_sync(student) if micro < cfg.grad_accum - 1 else contextlib.nullcontext()
                rescore = metanet is not None and step % cfg.rescore_every == 0  # MetaNet needs every L_real
                rest = mask & ~(alpha > 0) if rescore else torch.zeros_like(mask)
                with ctx:
                    ce, total, sft, cons, n_tokens = rationale_losses(
                        student, [encoded[i] for i in idx.tolist()], alpha, rest, K, cfg.effective_lam,
                        tok.pad_token_id, shared, acc.device, lambda t: acc.backward(t / cfg.grad_accum))
                # Calibration sees every process's losses so every copy of L~ stays identical.
                g_idx, g_ce, g_mask = acc.gather((idx.to(acc.device), ce.detach(), mask.to(acc.device)))
                calibrator.update(g_idx.cpu(), g_ce.cpu(), g_mask.cpu())
                filtered = calibrator.filtered[idx].to(acc.device)
                meta_per = None
                if metanet is not None:
                    ranked = mask & calibrator.seen[idx]  # == mask unless rescore_every > 1 left some L~ unmeasured
                    meta_per = losses.meta_loss(scores, _meta_target(cfg, filtered, ranked.to(acc.device)), ranked.to(acc.device),
                                                cfg.tau, cfg.meta_kl_direction)
                    accum = 1 if warm else meta_accum
                    with small_ops():
                        acc.backward(meta_per.mean() / (cfg.grad_accum * accum))
                    sums["loss_meta"] += meta_per.mean().item() / cfg.grad_accum
                sums["loss_total"] += total.item() / cfg.grad_accum
                sums["loss_sft"] += sft.item() / cfg.grad_accum
                sums["loss_cons"] += cons.item() / cfg.grad_accum
                sums["tokens"] += n_tokens
                logs.append(dict(idx=idx, mask=mask, ranked=mask & calibrator.seen[idx], alpha=alpha, scores=None if scores is None else scores.detach().cpu(),
                                 ce=ce.detach().cpu(), filtered=filtered.cpu(), attn=None if attn is None else attn.detach().cpu(),
                                 meta=None if meta_per is None else meta_per.detach().cpu()))
            if cfg.max_grad_norm > 0:
                acc.clip_grad_norm_(student.parameters(), cfg.max_grad_norm)
            opt_s.step()
            sched_s.step()
            opt_s.zero_grad(set_to_none=True)
            meta_lr = None
            if metanet is not None and (warm or step % meta_accum == 0):
                meta_lr = cfg.meta_warmup_lr if warm else cfg.effective_meta_lr
                for group in opt_m.param_groups:
                    group["lr"] = meta_lr
                with small_ops():
                    opt_m.step()
                opt_m.zero_grad(set_to_none=True)

            # ---- telemetry (gathered over processes; written by the main process only)
            gathered = _gather_logs(acc, logs)
            reduced = {k: float(acc.reduce(torch.tensor(v, dtype=torch.float64, device=acc.device), "mean")) for k, v in sums.items()}
            reduced["tokens"] = int(round(reduced["tokens"] * world))
            if writer:
                epoch_f = step * global_batch / len(problems)
                with small_ops():
                    tracking = agreement(gathered["scores"], gathered["filtered"], gathered["ranked"],
                                         perspective_mean_predictor(calibrator.filtered, calibrator.seen))
                tracking["curriculum_shift"] = curriculum.update(int((step - 1) * global_batch // len(problems)), gathered["alpha"])
                snap_now = (cfg.snapshot_every and step % cfg.snapshot_every == 0) or step == cfg.steps
                if snap_now and encoded_h:
                    tracking.update(_heldout_tracking(acc.unwrap_model(student), acc.unwrap_model(metanet) if metanet else None,
                                                      encoded_h, features_h if metanet is not None else None, calibrator,
                                                      tok.pad_token_id, shared, acc.device))
                elapsed = time.perf_counter() - t0
                rec = step_record(step, persp, mask=gathered["mask"], alpha=gathered["alpha"], scores=gathered["scores"],
                                  ce=gathered["ce"], filtered=gathered["filtered"],
                                  epoch=epoch_f, lr=sched_s.get_last_lr()[0], **tracking,
                                  meta_lr=meta_lr if meta_lr is not None else math.nan,
                                  meta_phase="off" if metanet is None else ("warmup" if warm else "joint"),
                                  time_s=elapsed, tokens_per_s=reduced["tokens"] / elapsed, wall=time.time(),
                                  **{k: (math.nan if k == "loss_meta" and metanet is None else v) for k, v in reduced.items()})
                for s in sinks:
                    s.log_step(rec)
                if step == start + 1:
                    clock.mark("first_step")
                    writer.set_status(None, startup=clock.report())
                if step % cfg.log_samples_every == 0:
                    ids = [problems[i].id for i in gathered["idx"].tolist()]
                    writer.log_samples(sample_records(step, ids, persp, mask=gathered["mask"], alpha=gathered["alpha"],
                                                      scores=gathered["scores"], ce=gathered["ce"], filtered=gathered["filtered"],
                                                      attention=gathered["attn"], meta_loss=gathered["meta"]))
                beat.step = step
                if snap_now:
                    _snapshot(writer, acc.unwrap_model(student), encoded, probes, step, shared)
            stop.stop = _all_agree(acc, stop.stop)  # a SIGTERM seen by one process stops them all together
            if _all_agree(acc, policy.due(step, last=step == cfg.steps or stop.stop)):
                _checkpoint(acc, out, step, student, metanet, opt_s, opt_m, sched_s, calibrator, lora,
                            extra={"curriculum": curriculum.state_dict()})
            bar.set_postfix(loss=f"{reduced['loss_total']:.3f}", sel=f"{float(gathered['alpha'].gt(0).sum(-1).float().mean()):.1f}")
            bar.update(1)
            if stop.stop:
                if writer:
                    writer.set_status("stopped", step=step)
                return out
        if writer:
            writer.set_status("finished", step=cfg.steps)
        return out
    except KeyboardInterrupt:
        if writer:
            writer.set_status("stopped", error="interrupted")
        raise
    except BaseException as exc:
        if writer:
            writer.set_status("crashed", error=f"{type(exc).__name__}: {exc}"[:500])
        raise
    finally:
        bar.close()
        if writer:
            beat.close()
            for s in sinks:
                s.close()


# ------------------------------------------------------------------------------------------------- pieces


def _meta_target(cfg: TrainConfig, filtered: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """What MetaNet's scores are matched to, as a loss-like table: L~ itself, or its per-problem z-scores."""
    return losses.standardize(filtered, mask) if cfg.meta_target == "zscore" else filtered


def calibrate_metanet(acc, metanet, opt_m, student, encoded, features, masks, calibrator, cfg: TrainConfig, pad_id: int,
                      shared: bool, show: bool, batch: int = 8) -> dict:
    """The calibration pass (``meta_calibrate_epochs``): L_real of the initial student on every training rationale
    (no grad) seeds the calibrator, then MetaNet is fitted to it for that many epochs of its own (seeded shuffles
    of all training problems, ``batch`` at a time, ``meta_warmup_lr``). Returns what it measured, per epoch."""
    t0 = time.perf_counter()
    l0 = score_rationales(student, encoded, pad_id, shared, acc.device)
    calibrator.update(torch.arange(len(encoded)), l0, masks)
    target = _meta_target(cfg, calibrator.filtered, masks)
    for group in opt_m.param_groups:
        group["lr"] = cfg.meta_warmup_lr
    epochs = []
    for epoch in tqdm(range(cfg.meta_calibrate_epochs), desc="MetaNet calibration", disable=not show, leave=False):
        order = torch.from_numpy(np.random.default_rng([cfg.seed, epoch, 0xCA1]).permutation(len(encoded)))
        total = 0.0
        for lo in range(0, len(order), batch):
            idx = order[lo : lo + batch]
            m = masks[idx].to(acc.device)
            scores, _ = metanet(features[idx].to(acc.device), m)
            loss = losses.meta_loss(scores, target[idx].to(acc.device), m, cfg.tau, cfg.meta_kl_direction).mean()
            acc.backward(loss)
            opt_m.step()
            opt_m.zero_grad(set_to_none=True)
            total += float(loss.detach()) * len(idx)
        with torch.no_grad():
            scores, _ = metanet(features.to(acc.device), masks.to(acc.device))
        rho = spearman(scores.cpu(), -calibrator.filtered, masks)
        epochs.append({"epoch": epoch + 1, "loss_meta": total / len(order),
                       "meta_spearman": float(rho[torch.isfinite(rho)].mean())})
    return {"epochs": epochs, "loss_real_mean": float(l0[torch.isfinite(l0)].mean()), "n_problems": len(encoded),
            "time_s": round(time.perf_counter() - t0, 2)}


@torch.no_grad()
def _heldout_tracking(student, metanet, encoded_h, features_h, calibrator, pad_id: int, shared: bool, device) -> dict:
    """Tracking on problems the student never trains on: MetaNet's scores (and the perspective-mean predictor built
    from the training problems' L~) against the student's current L_real there."""
    l_h = score_rationales(student, encoded_h, pad_id, shared, device)
    mask_h = torch.isfinite(l_h)
    scores = None
    if metanet is not None:
        scores, _ = metanet(features_h.to(device), mask_h.to(device))
        scores = scores.cpu()
    out = agreement(scores, l_h, mask_h, perspective_mean_predictor(calibrator.filtered, calibrator.seen), prefix="heldout_")
    out["heldout_loss"] = float(l_h[mask_h].mean())
    return out


def _golden_slots(cfg: TrainConfig, persp: list[str], masks: torch.Tensor) -> torch.Tensor:
    """Slot of the 'single' baseline's rationale per problem: the golden perspective, else the first present."""
    if cfg.golden_perspective not in persp and cfg.method == "single":
        raise ConfigError(f"golden_perspective={cfg.golden_perspective!r} is not among {persp}; pick one of them")
    want = persp.index(cfg.golden_perspective) if cfg.golden_perspective in persp else 0
    first = masks.float().argmax(-1)
    return torch.where(masks[:, want], torch.full_like(first, want), first)


def _weights(cfg: TrainConfig, warm: bool, scores, mask: torch.Tensor, golden: torch.Tensor) -> torch.Tensor:
    """alpha (B, K) on the CPU for the method and phase; rows sum to 1 over the rationales trained on."""
    if cfg.method == "single":
        return torch.nn.functional.one_hot(golden, mask.shape[1]).float()
    if scores is None or warm:
        return losses.uniform_weights(mask)
    s = scores.detach().cpu()
    selected = losses.select_perspectives(s, mask, cfg.beta)
    return losses.selection_weights(s, selected, cfg.tau_student)


def _forward(student, batch, device, answers: bool = True, prompt=None):
    """One teacher-forced pass: (hidden, per-target log-probs, answer-row log-distributions or None, answer splits).

    ``answers=False`` skips the answer rows' full log-distributions (only the consistency term and snapshots use
    them). ``prompt``: a :class:`mind.model.student.PromptCache` the shared-prompt pass fills, or reuses when filled."""
    n_ans = [len(ix) for ix in batch.answer_index] if answers else None
    answer_index = torch.cat(batch.answer_index).to(device) if answers else torch.zeros(0, dtype=torch.long, device=device)
    prefix = batch.prefix.to(device) if batch.prefix is not None else None
    hidden, tok_logp, ans_logp = student(batch.input_ids.to(device), batch.attention_mask.to(device), batch.rows.to(device),
                                         batch.cols.to(device), batch.target_ids.to(device), answer_index, prefix=prefix,
                                         prompt=prompt)
    return hidden, tok_logp, ans_logp.split(n_ans) if answers else None


def rationale_losses(student, probs, alpha: torch.Tensor, rest: torch.Tensor, K: int, lam: float, pad_id: int,
                     shared: bool, device, backward, reuse_prompt: bool = True):
    """The student's side of one micro-batch of problems ``probs``.

    The rationales with alpha > 0 run with gradients: weighted SFT plus lambda x consistency, handed to
    ``backward`` (before the next pass, so their graph is freed). The ``rest`` rationales (alpha = 0) then run in a
    no-grad pass: calibration needs their L_real, the student does not train on them. With ``shared`` (the
    shared-prompt layout) both batches are laid out over the same prompts and the no-grad pass reads the first
    pass's prompt keys/values, detached (same values, so the same losses; ``reuse_prompt=False`` computes them
    again, as before). Returns per-rationale CE (B, K) of every rationale run (NaN elsewhere), the objective's
    (total, sft, cons) and the tokens run.
    """
    from mind.model.student import PromptCache

    selected = alpha > 0
    more = bool(rest.any())
    reuse = shared and reuse_prompt and more
    prompts = (selected | rest).any(-1).tolist() if reuse else None
    cache = PromptCache() if reuse else None
    batch = collate(probs, selected.tolist(), pad_id, shared, prompts=prompts)
    B = len(probs)
    _, tok_logp, ans = _forward(student, batch, device, answers=lam > 0, prompt=cache)
    ce = _ce_table(batch, tok_logp, B, K, device)
    kept = cache.detached() if cache is not None and cache.filled else None  # before backward replays any layer
    alpha = alpha.to(ce.device)
    if lam > 0:
        # The consistency term is many element-wise ops over (pairs, A, V): it runs on a detached copy of the answer
        # rows, on few threads (mind/model/threads.py), and hands its gradient to the rows; the student's backward then
        # takes sft + <rows, that gradient>, whose gradient is the objective's own.
        rows = torch.cat(ans)
        leaf = rows.detach().requires_grad_()
        pairs = max(int(selected.sum(-1).max()) - 1, 1) / 2  # pairs per selected row: the JSD tensors' size
        with intra_op_threads(threads_for(int(rows.numel() * pairs))):
            answer_logp = _answer_tables(batch, leaf.split([len(ix) for ix in batch.answer_index]), B, K, device)
            total, sft, cons = losses.student_objective(ce, alpha, answer_logp, lam)
            grad = torch.autograd.grad(cons, leaf, grad_outputs=torch.tensor(lam, dtype=cons.dtype, device=cons.device))[0] \
                if cons.requires_grad else None
        backward(sft if grad is None else sft + torch.dot(rows.flatten(), grad.flatten()))
    else:
        total, sft, cons = losses.student_objective(ce, alpha, [None] * B, lam)
        backward(total)
    total, sft, cons = total.detach(), sft.detach(), cons.detach()
    n_tokens = batch.n_tokens
    if more:
        with torch.no_grad():
            rest_batch = collate(probs, rest.tolist(), pad_id, shared, prompts=prompts)
            ce_rest, _ = _student_pass(student, rest_batch, B, K, False, device, prompt=kept)
        ce = torch.where(rest.to(ce.device), ce_rest, ce)
        n_tokens += rest_batch.n_tokens
    return ce, total, sft, cons, n_tokens


@torch.no_grad()
def score_rationales(student, encoded, pad_id: int, shared: bool, device, chunk: int = 8) -> torch.Tensor:
    """L_real without gradients: the per-rationale cross-entropy (N, K) of every present rationale of the encoded
    problems (NaN where a perspective is missing), ``chunk`` problems at a time, in eval mode."""
    K = len(encoded[0].targets) if encoded else 0
    was_training = student.training
    student.eval()
    out = []
    try:
        for lo in range(0, len(encoded), chunk):
            part = encoded[lo : lo + chunk]
            batch = collate(part, [ep.mask for ep in part], pad_id, shared)
            ce, _ = _student_pass(student, batch, len(part), K, False, device)
            out.append(ce.float().cpu())
    finally:
        student.train(was_training)
    return torch.cat(out) if out else torch.zeros(0, K)


def _student_pass(student, batch, B: int, K: int, need_answers: bool, device, prompt=None):
    """Teacher-forced pass: per-rationale CE (B, K) (NaN where not run) and, if asked, per-problem (K, A, V)
    answer log-distributions (zeros for rationales not run). ``prompt``: see :func:`_forward`."""
    _, tok_logp, ans = _forward(student, batch, device, answers=need_answers, prompt=prompt)
    ce = _ce_table(batch, tok_logp, B, K, device)
    return ce, _answer_tables(batch, ans, B, K, device) if need_answers else [None] * B


def _ce_table(batch, tok_logp: torch.Tensor, B: int, K: int, device) -> torch.Tensor:
    """Per-rationale CE (B, K) from the per-target log-probs of ``batch``; NaN where a rationale did not run."""
    ce_seq = losses.per_sequence_ce(tok_logp, batch.seq_of_target.to(device), batch.input_ids.shape[0])
    ce = torch.full((B, K), float("nan"), device=device, dtype=ce_seq.dtype)
    return ce.index_put((batch.seq_problem.to(device), batch.seq_slot.to(device)), ce_seq)


def _answer_tables(batch, ans, B: int, K: int, device) -> list:
    """Per problem, its sequences' answer log-distributions ``ans`` (one (A, V) per sequence) as a (K, A, V) table
    with zeros for the rationales not run; None where fewer than two ran (no pair to compare)."""
    answer_logp = [None] * B
    for b in range(B):
        rows = (batch.seq_problem == b).nonzero().flatten().tolist()
        if len(rows) > 1:  # (K, A, V); the answer span has the same length A in every rationale of a problem
            stacked = torch.stack([ans[r] for r in rows])
            full = stacked.new_zeros((K,) + stacked.shape[1:])
            answer_logp[b] = full.index_copy(0, batch.seq_slot[rows].to(device), stacked)
    return answer_logp


@torch.no_grad()
def _snapshot(writer: RunWriter, student, encoded, probes, step: int, shared: bool = False, chunk: int = 16) -> None:
    """Last-layer hidden states, mean-pooled over the rationale tokens, of every probe pair; plus whether the
    student's teacher-forced argmax reproduces the answer tokens."""
    was_training = student.training
    student.eval()
    device = next(student.parameters()).device
    pooled, correct = [], []
    for lo in range(0, len(probes), chunk):
        part = probes[lo : lo + chunk]
        eps = [encoded[i] for i, _ in part]
        run = [[k == kk for kk in range(len(ep.targets))] for ep, (_, k) in zip(eps, part)]
        batch = collate(eps, run, 0, shared)
        hidden, _, ans = _forward(student, batch, device)
        h = hidden[batch.rows.to(device), batch.cols.to(device)]
        n = batch.input_ids.shape[0]
        sums = torch.zeros(n, h.shape[-1], device=device).index_add(0, batch.rows.to(device), h.float())
        counts = torch.bincount(batch.rows.to(device), minlength=n).clamp(min=1)[:, None]
        pooled.append((sums / counts).cpu())
        correct += [bool((a.argmax(-1).cpu() == ids).all()) for a, ids in zip(ans, batch.answer_ids)]
    student.train(was_training)
    writer.write_snapshot(step, torch.cat(pooled).numpy(), np.asarray(correct))


def _checkpoint(acc, out, step, student, metanet, opt_s, opt_m, sched_s, calibrator, lora, extra=None):
    acc.wait_for_everyone()
    if acc.is_main_process:
        save_checkpoint(out / "checkpoints", step=step, student=acc.unwrap_model(student).lm,
                        metanet=acc.unwrap_model(metanet) if metanet is not None else None, opt_s=opt_s, opt_m=opt_m,
                        sched_s=sched_s, calibrator=calibrator, lora=lora, extra={"world_size": acc.num_processes, **(extra or {})})
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


def _features(problems, persp, encoder, encode_texts, feature_text, show: bool) -> torch.Tensor:
    """(N, K, F) frozen Sentence-BERT features; zeros where a perspective is missing."""
    where, texts = [], []
    for i, p in enumerate(problems):
        for k, pid in enumerate(persp):
            r = p.rationale(pid)
            if r is not None:
                where.append((i, k))
                texts.append(feature_text(p.question, r.text))
    feats = encode_texts(texts, encoder, show_progress=show)
    out = torch.zeros(len(problems), len(persp), feats.shape[1])
    ii, kk = zip(*where)
    out[list(ii), list(kk)] = torch.from_numpy(feats)
    return out


class StartupClock:
    """Where the time to the first step record goes: seconds per phase (``imports``: from the process start to
    :func:`train`, then data, model, features, snapshot_0, calibration, first_step), reported in status.json."""

    def __init__(self):
        self.t = time.time()
        try:
            import psutil

            self.phases = {"imports": round(self.t - psutil.Process().create_time(), 2)}
        except Exception:  # noqa: BLE001 - psutil is optional here
            self.phases = {}

    def mark(self, phase: str) -> None:
        now = time.time()
        self.phases[phase] = round(now - self.t, 2)
        self.t = now

    def report(self) -> dict:
        return {**self.phases, "total": round(sum(self.phases.values()), 2)}


class _Heartbeat:
    """Refreshes status.json every few seconds from a daemon thread, so long steps never look stale."""

    def __init__(self, writer: RunWriter, every_s: float = 10.0):
        self.writer, self.step, self._done = writer, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, args=(every_s,), daemon=True)
        self._thread.start()

    def _run(self, every_s):
        while not self._done.wait(every_s):
            self.writer.heartbeat(self.step, every_s=0)

    def close(self):
        self._done.set()


def _versions() -> dict:
    import platform

    import transformers

    from mind._version import __version__

    return {"mind": __version__, "torch": torch.__version__, "transformers": transformers.__version__,
            "python": platform.python_version(), "machine": platform.machine()}
