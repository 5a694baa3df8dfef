"""One loop that runs any training stage: optimiser, steps, logs, validation, checkpoints.

:func:`run_stage` trains one :class:`~s2f_model._stages.TrainingStage` from a given step to
its last, writing a resumable checkpoint every ``train.checkpoint_every`` steps and at the
end (pointing at the next stage), and stops early (after a checkpoint) when the call's step
budget is spent. Under ``torchrun`` the stage's loss module is wrapped in
DistributedDataParallel and rank 0 writes the checkpoints.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from s2f_model._checkpoint import (
    TRAIN_CHECKPOINT,
    LoadedCheckpoint,
    ResumeState,
    save_checkpoint,
)
from s2f_model._config import S2FConfig
from s2f_model._data import VoiceFaceDataset
from s2f_model._distributed import DistContext, average_buffers, barrier
from s2f_model._stages import (
    TRAINING_STAGES,
    StageEnv,
    StageInputs,
    TrainingStage,
    evaluate,
    set_trainable,
)
from s2f_model._train_step import derive_seed, progress_bar, rank_batches, train_step
from s2f_model.exceptions import TrainingError

__all__ = ["StagePosition", "TrainResult", "TrainSession", "run_stage"]

log = logging.getLogger("s2f_model._train")


@dataclass(kw_only=True)
class TrainResult:
    """What :func:`~s2f_model.train` returns.

    Parameters
    ----------
    model : Speech2Face
        The trained model (eval mode, unwrapped).
    run_dir : pathlib.Path
        Run folder with ``model.json`` and ``checkpoint.json``.
    losses : dict of str to list of float
        Per stage, the total loss of every step run in this call.
    evaluation : dict
        :func:`~s2f_model.evaluate` results on the validation split (empty without one).
    finished : bool
        False when the run stopped early (``stop_after``).
    seconds : float
        Wall time of this call.
    stage_seconds : dict of str to float
        Wall time of each stage's optimisation steps (without data loading and set-up).
    stage_cpu_seconds : dict of str to float
        CPU time of the same (all threads of this process).
    eval_history : list of dict
        Validation results every ``train.eval_every`` voice steps (``step`` and the
        :func:`~s2f_model.evaluate` keys).
    """

    model: nn.Module
    run_dir: Path
    losses: dict[str, list[float]] = field(default_factory=dict)
    evaluation: dict[str, float] = field(default_factory=dict)
    finished: bool = True
    seconds: float = 0.0
    stage_seconds: dict[str, float] = field(default_factory=dict)
    stage_cpu_seconds: dict[str, float] = field(default_factory=dict)
    eval_history: list[dict[str, float]] = field(default_factory=list)


@dataclass(kw_only=True)
class TrainSession:
    """What every stage of one training call shares.

    Parameters
    ----------
    model : Speech2Face
        The model (unwrapped, on ``ctx.device``).
    cfg : S2FConfig
        The run's settings (``cfg.run`` gives the log, checkpoint and validation cadence).
    data : VoiceFaceDataset
        Training data.
    val_data : VoiceFaceDataset or None
        Validation data (voice-stage validation every ``train.eval_every`` steps).
    aux_labels : torch.Tensor or None
        Auxiliary labels of the training utterances (voice stage).
    ctx : DistContext
        This process's place in the job.
    out_dir : pathlib.Path
        Run folder (checkpoints).
    metadata : dict
        Checkpoint metadata (training data, identities, ...).
    show : bool
        Show progress bars.
    result : TrainResult
        Filled in as the stages run.
    """

    model: nn.Module
    cfg: S2FConfig
    data: VoiceFaceDataset
    val_data: VoiceFaceDataset | None
    aux_labels: torch.Tensor | None
    ctx: DistContext
    out_dir: Path
    metadata: dict[str, Any]
    show: bool
    result: TrainResult


@dataclass(frozen=True, kw_only=True)
class StagePosition:
    """Where a stage starts in this call.

    Parameters
    ----------
    n_steps : int
        Steps of the stage in the run.
    first : int
        Step to start at (> 0 when resumed mid-stage).
    restore : LoadedCheckpoint or None
        Checkpoint of this stage to restore the optimiser, scheduler and scaler from.
    budget : int or None
        Steps this call may still run (``stop_after``); ``None``: no limit.
    """

    n_steps: int
    first: int = 0
    restore: LoadedCheckpoint | None = None
    budget: int | None = None


@dataclass(kw_only=True)
class _Optimisation:
    """A stage's optimiser, learning-rate schedule and (fp16) loss scaler."""

    optimizer: torch.optim.Optimizer
    scheduler: Any
    scaler: torch.amp.GradScaler | None


def _optimisation(
    session: TrainSession, stage: TrainingStage, part: nn.Module, restore: Any
) -> _Optimisation:
    """Adam over ``part``'s trainable parameters at ``train.lr * stage.lr_scale``, restored."""
    tc = session.cfg.train
    params = [p for p in part.parameters() if p.requires_grad]
    optimizer = torch.optim.Adam(
        params,
        lr=tc.lr * stage.lr_scale,
        betas=tuple(tc.betas),
        eps=tc.eps,
        weight_decay=tc.weight_decay,
        foreach=True,
    )
    scheduler = torch.optim.lr_scheduler.StepLR(
        optimizer, step_size=tc.lr_decay_every, gamma=tc.lr_decay
    )
    scaler = torch.amp.GradScaler(session.ctx.device.type) if tc.precision == "fp16" else None
    if restore is not None and restore.optimizer_state is not None:
        optimizer.load_state_dict(restore.optimizer_state)
        scheduler.load_state_dict(restore.meta["scheduler"])
        if scaler is not None and restore.meta["metadata"].get("grad_scaler"):
            scaler.load_state_dict(restore.meta["metadata"]["grad_scaler"])
    return _Optimisation(optimizer=optimizer, scheduler=scheduler, scaler=scaler)


def _save_mid_stage(
    session: TrainSession, stage: TrainingStage, opt: _Optimisation, step: int
) -> None:
    """Write a resumable checkpoint at ``step`` of ``stage`` (rank 0), then wait for all."""
    if session.ctx.is_main:
        meta = dict(session.metadata)
        if opt.scaler is not None:
            meta["grad_scaler"] = opt.scaler.state_dict()
        save_checkpoint(
            session.out_dir,
            session.model,
            session.cfg.to_dict(),
            state=ResumeState(
                optimizer=opt.optimizer,
                scheduler=opt.scheduler,
                rng_states={"torch": torch.get_rng_state()},
            ),
            stage=stage.name,
            step=step,
            metadata=meta,
            name=TRAIN_CHECKPOINT,
        )
    barrier(session.ctx)


def _save_stage_end(session: TrainSession, stage: TrainingStage) -> None:
    """Write the checkpoint that starts the next stage at step 0 (or ``done``)."""
    names = [s.name for s in TRAINING_STAGES]
    nxt = names.index(stage.name) + 1
    if session.ctx.is_main:
        save_checkpoint(
            session.out_dir,
            session.model,
            session.cfg.to_dict(),
            state=ResumeState(rng_states={"torch": torch.get_rng_state()}),
            stage=names[nxt] if nxt < len(names) else "done",
            step=0,
            metadata=session.metadata,
            name=TRAIN_CHECKPOINT,
        )
    barrier(session.ctx)


def _validate(session: TrainSession, stage: TrainingStage, step: int) -> None:
    """Record validation results after ``step`` steps (no RNG use: resume stays exact)."""
    scores = evaluate(session.model, session.val_data, session.cfg)
    set_trainable(session.model, stage.trainable(session.model))
    session.result.eval_history.append({"step": step, **scores})
    if session.ctx.is_main:
        log.info(
            "validation at voice step %d: loss %.4g, cosine %.3f",
            step,
            scores["loss"],
            scores["cosine"],
        )


def _after_step(
    session: TrainSession, stage: TrainingStage, opt: _Optimisation, step: int, n_steps: int
) -> None:
    """Validate and checkpoint after step ``step`` (0-based) as the cadence asks."""
    run, done = session.cfg.run, step + 1
    if run.eval_every and stage.validates and session.val_data is not None:
        if done % run.eval_every == 0 and done < n_steps:
            _validate(session, stage, done)
    if run.checkpoint_every and done % run.checkpoint_every == 0 and done < n_steps:
        _save_mid_stage(session, stage, opt, done)


def _log_step(
    session: TrainSession, bar: Any, stage: TrainingStage, step: int, n_steps: int, parts: dict
) -> None:
    """Update the progress bar and write a log line every ``train.log_every`` steps."""
    if bar is not None:
        bar.update()
        if step % 10 == 0 or step == n_steps - 1:
            bar.set_postfix({k: f"{v:.4g}" for k, v in parts.items()})
    every = session.cfg.run.log_every
    if every and (step + 1) % every == 0 and session.ctx.is_main:
        text = ", ".join(f"{k}={v:.4g}" for k, v in parts.items())
        log.info("%s step %d/%d: %s", stage.name, step + 1, n_steps, text)


def _wrap(session: TrainSession, module: nn.Module) -> nn.Module:
    """Wrap a loss module in DistributedDataParallel when more than one process runs."""
    if not session.ctx.distributed:
        return module
    from torch.nn.parallel import DistributedDataParallel  # only under torchrun

    device = session.ctx.device
    return DistributedDataParallel(module, device_ids=None if device.type == "cpu" else [device])


def _loop(
    session: TrainSession,
    stage: TrainingStage,
    inputs: StageInputs,
    opt: _Optimisation,
    pos: StagePosition,
) -> tuple[int, bool]:
    """Run steps ``pos.first .. pos.n_steps - 1``; return (steps run, finished)."""
    tc, ctx = session.cfg.train, session.ctx
    losses = session.result.losses.setdefault(stage.name, [])
    wrapped = _wrap(session, inputs.module)
    indices, _ = rank_batches(len(inputs.pool), tc.batch_size, ctx, tc.seed, stage.name)
    ran = 0
    with progress_bar(session.show, pos.n_steps, pos.first, stage.name) as bar:
        for step in range(pos.first, pos.n_steps):
            if pos.budget is not None and ran >= pos.budget:
                _save_mid_stage(session, stage, opt, step)
                return ran, False
            torch.manual_seed(derive_seed(tc.seed, stage.name, "step", step))  # dropout
            batch = inputs.batch(step, inputs.pool[indices(step)])
            parts = train_step(
                wrapped,
                opt.optimizer,
                batch,
                precision=tc.precision,
                grad_clip=tc.grad_clip,
                scaler=opt.scaler,
            )
            opt.scheduler.step()
            losses.append(parts["loss"])
            ran += 1
            _log_step(session, bar, stage, step, pos.n_steps, parts)
            _after_step(session, stage, opt, step, pos.n_steps)
    return ran, True


def run_stage(session: TrainSession, stage: TrainingStage, pos: StagePosition) -> tuple[int, bool]:
    """Run steps ``pos.first .. pos.n_steps - 1`` of ``stage``; return (steps run, finished).

    The stage's part is unfrozen (the rest frozen), its optimiser built (and restored from
    ``pos.restore``), its inputs prepared, and the loop run. A finished stage averages its
    buffers across processes, writes the checkpoint that starts the next stage, and leaves
    every parameter trainable again.
    """
    model = session.model
    part = set_trainable(model, stage.trainable(model))
    opt = _optimisation(session, stage, part, pos.restore)
    active = pos.n_steps > 0 and pos.first < pos.n_steps
    env = StageEnv(
        model=model,
        cfg=session.cfg,
        data=session.data,
        ctx=session.ctx,
        first_step=pos.first,
        active=active,
        aux_labels=session.aux_labels,
    )
    inputs = stage.inputs(env)
    if active and len(inputs.pool) == 0:
        raise TrainingError(f"stage {stage.name}: no training example")
    ran, finished = 0, True
    loop_started, cpu_started = time.perf_counter(), time.process_time()
    if active:
        ran, finished = _loop(session, stage, inputs, opt, pos)
    session.result.stage_seconds[stage.name] = time.perf_counter() - loop_started
    session.result.stage_cpu_seconds[stage.name] = time.process_time() - cpu_started
    if not finished:
        return ran, False
    if ran:
        average_buffers(part, session.ctx)
    _save_stage_end(session, stage)
    for p in model.parameters():
        p.requires_grad_(True)
    return ran, True
