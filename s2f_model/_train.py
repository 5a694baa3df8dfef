"""Training: face encoder, face decoder, then the voice encoder with the face side frozen.

The stages follow the paper (for data without published face weights, such as the built-in
population); each is a :class:`~s2f_model._stages.TrainingStage` object (trainable part,
learning-rate scale, steps, inputs) and one loop (``_train_loop.run_stage``) runs any of them:

1. ``face_encoder``: the face encoder as an identity classifier over the training speakers;
2. ``face_decoder``: the decoder on the frozen encoder's features;
3. ``voice``: the voice encoder with the face side frozen.

Every random choice is derived from ``(seed, stage, epoch)`` (data order) or
``(seed, stage, step)`` (augmentation, dropout), so a run interrupted after any checkpoint and
resumed ends with the same weights as an uninterrupted one. The same function runs under
``torchrun`` with DistributedDataParallel (gloo on CPU): each process takes its shard of every
global batch, rank 0 writes checkpoints.

This module holds the entry point :func:`train`, the one place where the training data is
built (:func:`load_training_data`) and the end of a run; set-up is in ``_train_setup.py``,
the stages in ``_stages.py``, the loop in ``_train_loop.py``, its parts in ``_train_step.py``.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from s2f_data import Manifest
from s2f_model._checkpoint import (
    MODEL_CHECKPOINT,
    TRAIN_CHECKPOINT,
    LoadedCheckpoint,
    save_checkpoint,
)
from s2f_model._codec_augment import mix_codec
from s2f_model._config import S2FConfig
from s2f_model._data import VoiceFaceDataset, load_voice_face_data
from s2f_model._data_cache import TrainingDataCache
from s2f_model._distributed import DistContext, barrier, init_distributed, shutdown
from s2f_model._shard_train import ShardTrainingSet, open_shard_training_set
from s2f_model._stages import (
    FACE_ENCODER_LR_SCALE,
    STAGES,
    TRAINING_STAGES,
    Stage,
    TrainingStage,
    evaluate,
)
from s2f_model._train_loop import StagePosition, TrainResult, TrainSession, run_stage
from s2f_model._train_setup import (
    RunPlan,
    build_run_model,
    init_face_encoder,
    manifest_identity,
    open_resume_checkpoint,
    plan_run,
    prepare_fresh_model,
    run_metadata,
    start_position,
)
from s2f_model._train_step import augment_faces, derive_seed, train_step
from s2f_model._voice_targets import aux_label_matrix
from s2f_model.exceptions import TrainingError

__all__ = [
    "FACE_ENCODER_LR_SCALE",
    "STAGES",
    "TRAINING_STAGES",
    "Stage",
    "TrainResult",
    "TrainingData",
    "TrainingError",
    "TrainingStage",
    "augment_faces",
    "derive_seed",
    "evaluate",
    "init_face_encoder",
    "load_training_data",
    "manifest_identity",
    "train",
    "train_seeds",
    "train_step",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class TrainingData:
    """The data a run trains and validates on.

    Parameters
    ----------
    train : VoiceFaceDataset or ShardTrainingSet
        The ``train`` split (utterances with faces): decoded in memory, or (with
        ``train.data="shards"``) streamed by the voice stage from tar shards.
    val : VoiceFaceDataset or None
        The ``val`` split's utterances with a face (None when there are none).
    """

    train: VoiceFaceDataset | ShardTrainingSet
    val: VoiceFaceDataset | None


def load_training_data(
    manifest: Manifest, cfg: S2FConfig, identities: list[str], *, progress: bool
) -> TrainingData:
    """Build the training and validation data of a run (the one place that does).

    Parameters
    ----------
    manifest : Manifest
        Training manifest (``train`` split for training, ``val`` for validation).
    cfg : S2FConfig
        Settings (sample rate, clip length, face size).
    identities : list of str
        fc8 classes: a training face's identity is its speaker's index here (-1 if absent).
    progress : bool
        Show a progress bar while the training split loads.

    Returns
    -------
    TrainingData
        Both splits, decoded in memory.
    """

    def load(split: str, show: bool) -> VoiceFaceDataset:
        return load_voice_face_data(
            manifest,
            split,
            sample_rate=cfg.audio.sample_rate,
            clip_samples=cfg.audio.clip_samples,
            image_size=cfg.face.image_size,
            identities=identities,
            progress=show,
        )

    if cfg.train.data == "shards":  # the voice stage streams its clips (issue #20)
        train = open_shard_training_set(manifest, cfg, identities)
    else:
        train = load("train", progress)
        if cfg.train.codec_augment:
            waves = mix_codec(
                train.waves, cfg.train.codec_augment, cfg.train.seed, cfg.audio.sample_rate
            )
            train = dataclasses.replace(train, waves=waves)
    frame = manifest.frame
    val_rows = frame["split"] == "val"
    if "face_path" in frame:
        val_rows &= frame["face_path"].notna()
    val = load("val", False) if bool(val_rows.any()) else None
    return TrainingData(train=train, val=val)


@dataclass(frozen=True, kw_only=True)
class _Call:
    """The options of one :func:`train` call (besides the config and the paths)."""

    resume: bool
    progress: bool
    stop_after: int | None
    face_from: str | os.PathLike[str] | None
    allow_unfinished: bool
    data_cache: TrainingDataCache | None = None  # shared by the runs of train_seeds


def train(
    cfg: S2FConfig,
    manifest_path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    resume: bool = False,
    progress: bool = True,
    *,
    stop_after: int | None = None,
    face_from: str | os.PathLike[str] | None = None,
    allow_unfinished: bool = False,
) -> TrainResult:
    """Train all stages on a manifest and write ``model.json`` into ``out_dir``.

    Parameters
    ----------
    cfg : S2FConfig
        Settings (``cfg.run``: device and the log, checkpoint and validation cadence, which
        a resumed run may change); ``face.n_identities`` is set to the number of training
        speakers with a face.
        ``train.face_steps`` steps are run for the face encoder and again for the decoder
        (0 skips both: the face side then stays as built, e.g. with imported VGG-Face weights),
        ``train.voice_steps`` for the voice encoder. With ``train.face_side="pretrained"``
        (the compact preset's default) the shipped face side is loaded instead
        (:func:`~s2f_model.load_face_side`; fc8 keeps its 512 classes) and both face stages
        are skipped.
    manifest_path : path-like
        Training manifest (``train`` split for training, ``val`` for evaluation).
    out_dir : path-like
        Run folder: ``checkpoint.json`` (resumable state, every ``train.checkpoint_every``
        steps and at each stage end) and ``model.json`` (final model) with their tensor files.
    resume : bool
        Continue from ``out_dir/checkpoint.json``; the manifest and the config's identity
        (:meth:`S2FConfig.identity`) must be the same.
        Without a checkpoint there, training starts from scratch.
    progress : bool
        Show tqdm progress bars (rank 0 only).
    stop_after : int, optional
        Stop (after writing a checkpoint) once this many steps ran in this call; used to
        test resuming.
    face_from : path-like, optional
        A finished run (or checkpoint) whose face encoder and decoder are reused as they
        are: both face stages are skipped and only the voice encoder is trained (e.g. a
        retrained comparison model on other data, with the same face side). Its face and
        decoder settings must match ``cfg``; fc8 keeps that run's identities. A run whose
        face stages did not finish is refused unless ``allow_unfinished``.
    allow_unfinished : bool
        Accept a ``face_from`` run that stopped before its face stages finished.

    Returns
    -------
    TrainResult
        Model, run folder, per-step losses, validation results.

    Raises
    ------
    TrainingError
        The run folder already holds a checkpoint and ``resume`` is False, or the checkpoint
        was made from another manifest or config.

    Examples
    --------
    >>> from s2f_model import S2FConfig  # doctest: +SKIP
    >>> result = train(S2FConfig.compact(), "pop/manifest.csv", "runs/a")  # doctest: +SKIP
    """
    call = _Call(
        resume=resume,
        progress=progress,
        stop_after=stop_after,
        face_from=face_from,
        allow_unfinished=allow_unfinished,
    )
    return _train_call(cfg, Path(manifest_path), Path(out_dir), call)


def train_seeds(
    cfg: S2FConfig,
    manifest_path: str | os.PathLike[str],
    runs: list[tuple[str | os.PathLike[str], int]],
    *,
    resume: bool = False,
    progress: bool = True,
    face_from: str | os.PathLike[str] | None = None,
    allow_unfinished: bool = False,
) -> list[TrainResult]:
    """Train one model per ``(run folder, seed)``, decoding the training data once.

    Each run is what ``train(cfg.replace(**{"train.seed": seed}), manifest_path, folder)``
    gives (the same weights); the decoded clips, faces and the voice stage's front-end
    features of the first run are reused by the next ones (``s2f-audit train --seeds``).

    Parameters
    ----------
    cfg : S2FConfig
        Settings; ``train.seed`` is replaced by each run's seed.
    manifest_path : path-like
        Training manifest.
    runs : list of (path-like, int)
        Run folder and seed of every model.
    resume, progress, face_from, allow_unfinished
        As in :func:`train`, for every run.

    Returns
    -------
    list of TrainResult
        In the order of ``runs``.
    """
    cache = TrainingDataCache()
    call = _Call(
        resume=resume,
        progress=progress,
        stop_after=None,
        face_from=face_from,
        allow_unfinished=allow_unfinished,
        data_cache=cache,
    )
    return [
        _train_call(cfg.replace(**{"train.seed": seed}), Path(manifest_path), Path(out), call)
        for out, seed in runs
    ]


def _train_call(cfg: S2FConfig, manifest_path: Path, out_dir: Path, call: _Call) -> TrainResult:
    """Run :func:`_train` in its process group with the global RNG state restored after."""
    started = time.perf_counter()
    ctx = init_distributed(cfg.run.device)
    try:
        with torch.random.fork_rng(devices=[]):
            result = _train(cfg, manifest_path, out_dir, call, ctx)
    finally:
        shutdown(ctx)
    result.seconds = time.perf_counter() - started
    return result


def _session(
    plan: RunPlan, out_dir: Path, call: _Call, ctx: DistContext
) -> tuple[TrainSession, LoadedCheckpoint | None]:
    """Check the run folder, build the model and the data: the session and its checkpoint."""
    ckpt = open_resume_checkpoint(out_dir, call.resume, plan)
    barrier(ctx)  # every process has looked before rank 0 writes anything
    model = build_run_model(plan, ckpt)
    model.to(ctx.device)
    show = call.progress and ctx.is_main
    data = (call.data_cache or TrainingDataCache()).get(
        plan, lambda: load_training_data(plan.manifest, plan.cfg, plan.identities, progress=show)
    )
    if ckpt is None:
        prepare_fresh_model(model, plan, data.train)
    aux_labels = None
    if plan.aux_vocab:
        aux_labels = aux_label_matrix(plan.manifest.frame, data.train.utterance_ids, plan.aux_vocab)
    session = TrainSession(
        model=model,
        cfg=plan.cfg,
        data=data.train,
        val_data=data.val,
        aux_labels=aux_labels,
        ctx=ctx,
        out_dir=out_dir,
        metadata=run_metadata(plan, data.train, ctx, ckpt),
        show=show,
        result=TrainResult(model=model, run_dir=out_dir),
    )
    return session, ckpt


def _train(
    cfg: S2FConfig, manifest_path: Path, out_dir: Path, call: _Call, ctx: DistContext
) -> TrainResult:
    """Set the run up, run the stages left, and finish it."""
    plan = plan_run(cfg, manifest_path, call.face_from, call.allow_unfinished)
    session, ckpt = _session(plan, out_dir, call, ctx)
    if ckpt is not None and "torch" in ckpt.rng_states:
        torch.set_rng_state(ckpt.rng_states["torch"])
    start, first = start_position(ckpt)
    face_reused = "face_from" in session.metadata
    steps_run = 0
    for index in range(start, len(TRAINING_STAGES)):
        stage = TRAINING_STAGES[index]
        pos = StagePosition(
            n_steps=stage.n_steps(plan.cfg.train, face_reused),
            first=first if index == start else 0,
            restore=ckpt if ckpt is not None and stage.name == ckpt.meta["stage"] else None,
            budget=None if call.stop_after is None else call.stop_after - steps_run,
        )
        ran, finished = run_stage(session, stage, pos)
        steps_run += ran
        if not finished:
            session.result.finished = False
            session.model.eval()
            return session.result
    _finish(session, plan)
    return session.result


def _finish(session: TrainSession, plan: RunPlan) -> None:
    """Evaluate on the validation split and write the final checkpoint and ``model.json``."""
    model, result, metadata, cfg = session.model, session.result, session.metadata, plan.cfg
    model.eval()
    if session.val_data is not None and len(session.val_data):
        result.evaluation = evaluate(model, session.val_data, cfg)
    metadata["evaluation"] = result.evaluation
    metadata["final_loss"] = {k: v[-1] for k, v in result.losses.items() if v}
    if session.ctx.is_main:
        for name in (TRAIN_CHECKPOINT, MODEL_CHECKPOINT):
            save_checkpoint(
                session.out_dir,
                model,
                cfg.to_dict(),
                stage="done",
                step=0,
                metadata=metadata,
                name=name,
            )
    barrier(session.ctx)
    model.identities = plan.identities
