"""The three training stages as objects: trainable part, learning-rate scale, steps and inputs.

1. ``face_encoder``: the face encoder as an identity classifier over the training speakers
   (fc8 = identities), with small shifts and brightness changes as augmentation (no flips);
2. ``face_decoder``: the decoder on the frozen encoder's features, with landmark MSE,
   texture L1 and embedding consistency (:func:`~s2f_model.decoder_losses`);
3. ``voice``: the voice encoder with the face side frozen and its loss
   (``loss.objective``: :func:`~s2f_model.speech2face_loss` or
   :func:`~s2f_model.standardized_voice_loss`).

A :class:`TrainingStage` says which part of the model trains, at which fraction of
``train.lr``, for how many steps, and builds its :class:`StageInputs` (loss module, example
pool and the batch of a step). The loop in ``_train_loop.py`` runs any stage.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import Tensor, nn

from s2f_model._config import S2FConfig, TrainConfig
from s2f_model._data import VoiceFaceDataset
from s2f_model._distributed import DistContext
from s2f_model._losses import (
    DecoderLossWeights,
    WarpSettings,
    decoder_losses,
    speech2face_loss,
    standardized_voice_loss,
)
from s2f_model._shard_train import ShardTrainingSet, shard_voice_batches
from s2f_model._train_step import augment_faces, compute_in_batches, derive_seed, parts_dict
from s2f_model._voice_targets import target_stats

__all__ = [
    "FACE_ENCODER_LR_SCALE",
    "STAGES",
    "TRAINING_STAGES",
    "DecoderStageLoss",
    "IdentityStageLoss",
    "Stage",
    "StageEnv",
    "StageInputs",
    "TrainingStage",
    "VoiceStageLoss",
    "evaluate",
    "paper_voice_loss",
    "set_trainable",
]

Stage = Literal["face_encoder", "face_decoder", "voice"]
STAGES: tuple[Stage, ...] = ("face_encoder", "face_decoder", "voice")
#: Precompute the voice stage's front-end features when they take at most this many bytes.
_FEATURE_CACHE_BYTES = 1024**3
#: The face encoder (VGG layout, no BatchNorm, 0-255 inputs) is trained at this fraction of
#: ``train.lr``: at 1e-3 its ReLUs die within a few steps and the loss stays at chance.
FACE_ENCODER_LR_SCALE = 0.1


# ---------------------------------------------------------------------- loss modules
class IdentityStageLoss(nn.Module):
    """Face encoder as identity classifier: ``images (B,3,S,S), identity (B,)`` -> loss."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: Tensor, identity: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        """Return the identity cross-entropy and ``{identity_ce, accuracy}``."""
        features = self.model.encode_face(images)
        logits = self.model.face_logits(features)
        loss = nn.functional.cross_entropy(logits.float(), identity)
        accuracy = (logits.argmax(dim=1) == identity).float().mean()
        return loss, {"identity_ce": loss.detach(), "accuracy": accuracy.detach()}


class DecoderStageLoss(nn.Module):
    """Decoder on frozen face features: ``features, images, landmarks, mask`` -> loss."""

    def __init__(self, model: nn.Module, cfg: S2FConfig) -> None:
        super().__init__()
        self.model = model
        self.cfg = cfg

    def forward(
        self, features: Tensor, images: Tensor, landmarks: Tensor, has_landmarks: Tensor
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """Return the decoder losses; faces without landmarks get no landmark gradient."""
        loss, dec, model = self.cfg.loss, self.cfg.decoder, self.model
        output = model.decode(features)
        # faces without landmarks: target = the (detached) prediction, so no landmark gradient
        mask = has_landmarks.view(-1, 1, 1)
        landmarks = torch.where(mask, landmarks, output.landmarks.detach())
        return parts_dict(
            decoder_losses(
                output,
                images,
                landmarks,
                model.face_encoder,
                mean_face=model.face_decoder.mean_face,
                weights=DecoderLossWeights(
                    loss.landmark_weight, loss.texture_weight, loss.embedding_weight
                ),
                warp=WarpSettings(dec.warp_border_points, dec.warp_regularization),
            )
        )


def paper_voice_loss(
    model: nn.Module, cfg: S2FConfig, v_speech: Tensor, v_face: Tensor
) -> tuple[Tensor, dict[str, Tensor]]:
    """Return the paper's voice loss of predicted and true face features (total, parts)."""
    loss = cfg.loss
    return parts_dict(
        speech2face_loss(
            v_speech,
            v_face,
            model.face_decoder,
            model.face_encoder,
            lambda1=loss.lambda1,
            lambda2=loss.lambda2,
            T=loss.temperature,
        )
    )


class VoiceStageLoss(nn.Module):
    """Voice encoder with its loss (``loss.objective``): ``spec, v_face[, aux]`` -> loss."""

    def __init__(self, model: nn.Module, cfg: S2FConfig) -> None:
        super().__init__()
        self.model = model
        self.cfg = cfg

    def forward(
        self, spec: Tensor, v_face: Tensor, aux_labels: Tensor | None = None
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """Return the voice loss; ``spec`` is the front-end output of the clips."""
        if self.cfg.loss.objective == "standardized":
            enc, loss = self.model.voice_encoder, self.cfg.loss
            z_speech, aux = enc.heads(enc.embed(spec))
            z_face = (v_face - enc.target_mean) / enc.target_std
            aux = None if aux is None else aux.float()
            return parts_dict(
                standardized_voice_loss(
                    z_speech.float(),
                    z_face,
                    cosine_weight=loss.cosine_weight,
                    aux_outputs=aux,
                    aux_labels=aux_labels,
                    aux_classes=self.cfg.voice.aux_classes,
                    aux_weight=loss.aux_weight,
                )
            )
        v_speech = self.model.voice_encoder(spec)
        return paper_voice_loss(self.model, self.cfg, v_speech.float(), v_face)


# ---------------------------------------------------------------------- stage objects
@dataclass(frozen=True, kw_only=True)
class StageEnv:
    """What a stage needs to build its inputs.

    Parameters
    ----------
    model : Speech2Face
        The model being trained (unwrapped, on ``ctx.device``).
    cfg : S2FConfig
        The run's settings.
    data : VoiceFaceDataset
        Training utterances and their faces.
    ctx : DistContext
        This process's place in the job (device, rank).
    first_step : int
        The step this call starts the stage at (0 unless resumed mid-stage).
    active : bool
        Whether any step is left to run (the inputs are computed only then).
    aux_labels : torch.Tensor or None
        ``(utterances, targets)`` auxiliary labels of the voice stage.
    """

    model: nn.Module
    cfg: S2FConfig
    data: VoiceFaceDataset
    ctx: DistContext
    first_step: int = 0
    active: bool = True
    aux_labels: Tensor | None = None


@dataclass(frozen=True, kw_only=True)
class StageInputs:
    """What a stage trains on.

    Parameters
    ----------
    module : torch.nn.Module
        Loss module: ``module(*batch(step, sel)) -> (loss, parts)``.
    pool : torch.Tensor
        ``(examples,)`` indices the batches are drawn from (shuffled per epoch).
    batch : callable
        ``batch(step, sel) -> tuple of tensors`` on the device, for the pool entries ``sel``.
    """

    module: nn.Module
    pool: Tensor
    batch: Callable[[int, Tensor], tuple[Tensor, ...]]


@dataclass(frozen=True, kw_only=True)
class TrainingStage:
    """One training stage: its name, trainable part, learning-rate scale, steps and inputs.

    Parameters
    ----------
    name : {"face_encoder", "face_decoder", "voice"}
        Stage name (checkpoints record it; seeds are derived from it).
    trainable : callable
        ``trainable(model) -> nn.Module``: the part that trains; the rest is frozen.
    lr_scale : float
        Fraction of ``train.lr`` this stage trains at.
    steps : callable
        ``steps(train_config) -> int``: the number of steps.
    face_side : bool
        Part of the face side: skipped when the face side is reused (``face_from`` or the
        shipped pretrained face side).
    validates : bool
        Runs the validation every ``train.eval_every`` steps (the voice stage).
    inputs : callable
        ``inputs(env: StageEnv) -> StageInputs``.
    """

    name: Stage
    trainable: Callable[[nn.Module], nn.Module]
    lr_scale: float
    steps: Callable[[TrainConfig], int]
    face_side: bool
    validates: bool
    inputs: Callable[[StageEnv], StageInputs]

    def n_steps(self, train: TrainConfig, face_reused: bool) -> int:
        """Return the steps of this stage (0 for a face stage when the face side is reused)."""
        return 0 if (self.face_side and face_reused) else self.steps(train)


def set_trainable(model: nn.Module, part: nn.Module) -> nn.Module:
    """Freeze everything but ``part`` (a sub-module of ``model``); put only it in train mode."""
    for p in model.parameters():
        p.requires_grad_(False)
    for p in part.parameters():
        p.requires_grad_(True)
    model.eval()
    part.train()
    return part


def _face_features(env: StageEnv) -> Tensor:
    """``(faces, feature_dim)`` features of every training face (frozen encoder, eval mode)."""
    faces = env.data.faces
    env.model.face_encoder.eval()
    return compute_in_batches(
        env.model.encode_face, len(faces), lambda i: faces.batch(i)["image"], env.ctx.device
    )


def _face_encoder_inputs(env: StageEnv) -> StageInputs:
    """Faces with an identity class, augmented per step (seeded by the step)."""
    faces, ctx, seed = env.data.faces, env.ctx, env.cfg.train.seed

    def batch(step: int, sel: Tensor) -> tuple[Tensor, ...]:
        gen = torch.Generator().manual_seed(derive_seed(seed, "face_encoder", "aug", step))
        b = faces.batch(sel)
        images = augment_faces(b["image"], gen, shard=(ctx.rank, ctx.world_size))
        return (images.to(ctx.device), b["identity"].to(ctx.device))

    pool = torch.nonzero(faces.identity >= 0).flatten()
    return StageInputs(module=IdentityStageLoss(env.model), pool=pool, batch=batch)


def _face_decoder_inputs(env: StageEnv) -> StageInputs:
    """Every face, with its frozen encoder features computed once."""
    faces, device = env.data.faces, env.ctx.device
    env.model.face_encoder.eval()
    feats = _face_features(env) if env.active else None

    def batch(step: int, sel: Tensor) -> tuple[Tensor, ...]:
        b = faces.batch(sel)
        return (
            feats[sel],
            b["image"].to(device),
            b["landmarks"].to(device),
            b["has_landmarks"].to(device),
        )

    pool = torch.arange(len(faces))
    return StageInputs(module=DecoderStageLoss(env.model, env.cfg), pool=pool, batch=batch)


def _voice_inputs(env: StageEnv) -> StageInputs:
    """Every utterance with its face's features; front-end features cached when small."""
    if isinstance(env.data, ShardTrainingSet):  # train.data="shards": streamed (issue #20)
        pool, batch = shard_voice_batches(env)
        return StageInputs(module=VoiceStageLoss(env.model, env.cfg), pool=pool, batch=batch)
    model, cfg, data, device = env.model, env.cfg, env.data, env.ctx.device
    model.face_encoder.eval()
    face_feats = specs = None
    if env.active:
        face_feats = _face_features(env)
        if cfg.voice.standardize_output and env.first_step == 0:  # per utterance, as trained
            model.voice_encoder.set_target_stats(
                *target_stats(face_feats[data.face_index.to(device)])
            )
        spec_shape = model.frontend(data.waves[:1].to(device)).shape[1:]
        if len(data) * int(np.prod(spec_shape)) * 4 <= _FEATURE_CACHE_BYTES:
            specs = data.frontend_features(  # shared by the runs of train --seeds
                f"{model.frontend.cfg}@{device}",
                lambda: compute_in_batches(
                    model.frontend, len(data), lambda i: data.waves[i], device
                ),
            )
    aux = env.aux_labels if cfg.loss.objective == "standardized" else None

    def batch(step: int, sel: Tensor) -> tuple[Tensor, ...]:
        spec = specs[sel] if specs is not None else model.frontend(data.waves[sel].to(device))
        if aux is not None:
            return (spec, face_feats[data.face_index[sel]], aux[sel].to(device))
        return (spec, face_feats[data.face_index[sel]])

    pool = torch.arange(len(data))
    return StageInputs(module=VoiceStageLoss(model, cfg), pool=pool, batch=batch)


#: The stages in training order.
TRAINING_STAGES: tuple[TrainingStage, ...] = (
    TrainingStage(
        name="face_encoder",
        trainable=lambda model: model.face_encoder,
        lr_scale=FACE_ENCODER_LR_SCALE,
        steps=lambda train: train.face_steps,
        face_side=True,
        validates=False,
        inputs=_face_encoder_inputs,
    ),
    TrainingStage(
        name="face_decoder",
        trainable=lambda model: model.face_decoder,
        lr_scale=1.0,
        steps=lambda train: train.face_steps,
        face_side=True,
        validates=False,
        inputs=_face_decoder_inputs,
    ),
    TrainingStage(
        name="voice",
        trainable=lambda model: model.voice_encoder,
        lr_scale=1.0,
        steps=lambda train: train.voice_steps,
        face_side=False,
        validates=True,
        inputs=_voice_inputs,
    ),
)


@torch.no_grad()
def evaluate(
    model: nn.Module, data: VoiceFaceDataset, cfg: S2FConfig, batch_size: int = 64
) -> dict[str, float]:
    """Mean voice-stage loss parts and feature agreement on a data set.

    Parameters
    ----------
    model : Speech2Face
        The model (put in eval mode here and left so).
    data : VoiceFaceDataset
        Utterances with faces (e.g. the validation split).
    cfg : S2FConfig
        Loss weights.
    batch_size : int
        Clips per forward pass.

    Returns
    -------
    dict of str to float
        ``loss`` and its parts (means over utterances), ``cosine`` (mean cosine similarity of
        voice and face features) and ``n`` (utterances).
    """
    model.eval()
    device = next(model.parameters()).device
    sums: dict[str, float] = {}
    n = len(data)
    for start in range(0, n, batch_size):
        idx = torch.arange(start, min(start + batch_size, n))
        batch = data.batch(idx)
        wave = batch["wave"].to(device)
        v_speech = model.encode_voice(wave)
        v_face = model.encode_face(batch["image"].to(device))
        total, parts = paper_voice_loss(model, cfg, v_speech, v_face)
        cosine = nn.functional.cosine_similarity(v_speech, v_face, dim=1).mean()
        parts = {"loss": total, **parts, "cosine": cosine}
        for key, value in parts.items():
            sums[key] = sums.get(key, 0.0) + float(value) * len(idx)
    out = {k: v / n for k, v in sums.items()}
    out["n"] = float(n)
    return out
