"""Training: face encoder, face decoder, then the voice encoder with the face side frozen.

The stages follow the paper (for data without published face weights, such as the built-in
population):

1. ``face_encoder``: the face encoder as an identity classifier over the training speakers
   (fc8 = identities), with small shifts and brightness changes as augmentation (no flips);
2. ``face_decoder``: the decoder on the frozen encoder's features, with landmark MSE,
   texture L1 and embedding consistency (:func:`~s2f_model.decoder_losses`);
3. ``voice``: the voice encoder with the face side frozen and the paper loss
   (:func:`~s2f_model.speech2face_loss`).

Every random choice is derived from ``(seed, stage, epoch)`` (data order) or
``(seed, stage, step)`` (augmentation, dropout), so a run interrupted after any checkpoint and
resumed ends with the same weights as an uninterrupted one. The same function runs under
``torchrun`` with DistributedDataParallel (gloo on CPU): each process takes its shard of every
global batch, rank 0 writes checkpoints.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import Tensor, nn

from s2f_data import read_manifest, sidecar_path
from s2f_model._checkpoint import (
    MODEL_CHECKPOINT,
    TRAIN_CHECKPOINT,
    file_sha256,
    load_checkpoint,
    require_finished,
    save_checkpoint,
)
from s2f_model._config import S2FConfig
from s2f_model._data import VoiceFaceDataset, load_voice_face_data, training_identities
from s2f_model._distributed import (
    DistContext,
    average_buffers,
    barrier,
    init_distributed,
    shutdown,
)
from s2f_model._voice_targets import aux_label_matrix, target_stats, with_aux_classes

__all__ = [
    "STAGES",
    "TrainResult",
    "augment_faces",
    "evaluate",
    "manifest_identity",
    "train",
    "train_step",
]

log = logging.getLogger(__name__)

Stage = Literal["face_encoder", "face_decoder", "voice"]
STAGES: tuple[Stage, ...] = ("face_encoder", "face_decoder", "voice")
_FEATURE_CACHE_BYTES = 1024**3  # precompute front-end features below this size
#: The face encoder (VGG layout, no BatchNorm, 0-255 inputs) is trained at this fraction of
#: ``train.lr``: at 1e-3 its ReLUs die within a few steps and the loss stays at chance.
FACE_ENCODER_LR_SCALE = 0.1


class TrainingError(ValueError):
    """Training cannot start or resume (bad run folder, changed data or config)."""


@dataclass
class TrainResult:
    """What :func:`train` returns.

    Parameters
    ----------
    model : Speech2Face
        The trained model (eval mode, unwrapped).
    run_dir : pathlib.Path
        Run folder with ``model.json`` and ``checkpoint.json``.
    losses : dict of str to list of float
        Per stage, the total loss of every step run in this call.
    evaluation : dict
        :func:`evaluate` results on the validation split (empty without one).
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
        :func:`evaluate` keys).
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


# --------------------------------------------------------------------------- seeding
def derive_seed(seed: int, *keys: int | str) -> int:
    """Return a 63-bit seed derived from ``seed`` and a path of keys (stage, epoch, step).

    Parameters
    ----------
    seed : int
        Run seed.
    *keys : int or str
        Context, e.g. ``("voice", "step", 17)``.

    Returns
    -------
    int
        In ``[0, 2**63)``; different keys give unrelated seeds.
    """
    text = "/".join([str(int(seed)), *map(str, keys)])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") >> 1


def manifest_identity(manifest_path: str | os.PathLike[str]) -> dict[str, Any]:
    """Identify a training manifest: path, SHA-256 of the CSV and of its sidecar.

    Parameters
    ----------
    manifest_path : path-like
        ``manifest.csv``.

    Returns
    -------
    dict
        ``{"manifest", "sha256", "sidecar_sha256"}`` (sidecar hash ``None`` when absent).
    """
    path = Path(manifest_path)
    side = sidecar_path(path)
    return {
        "manifest": str(path.absolute()),
        "sha256": file_sha256(path),
        "sidecar_sha256": file_sha256(side) if side.is_file() else None,
    }


# ---------------------------------------------------------------------- augmentation
def augment_faces(images: Tensor, generator: torch.Generator, max_shift: float = 0.06,
                  brightness: float = 0.15, shard: tuple[int, int] = (0, 1)) -> Tensor:
    """Shift each face by a few pixels and scale its brightness (no flips).

    Parameters
    ----------
    images : torch.Tensor
        ``(batch, 3, H, W)`` in ``[0, 1]``.
    generator : torch.Generator
        Source of randomness (CPU).
    max_shift : float
        Largest shift as a fraction of the side (edge pixels are replicated).
    brightness : float
        Brightness factor drawn from ``[1 - brightness, 1 + brightness]``.
    shard : tuple of int
        ``(rank, world_size)``: ``images`` are the items ``rank::world_size`` of a global
        batch of ``batch * world_size``; the draws are made for the global batch and sliced
        the same way, so a sharded run augments exactly like a single process.

    Returns
    -------
    torch.Tensor
        Same shape, clipped to ``[0, 1]``.
    """
    if images.ndim != 4:
        raise ValueError(f"expected (batch, 3, H, W) images, got shape {tuple(images.shape)}")
    rank, world = shard
    if not 0 <= rank < world:
        raise ValueError(f"shard must be (rank, world_size) with 0 <= rank < world_size, "
                         f"got {shard}")
    b, _, h, w = images.shape
    pad = max(1, round(max_shift * max(h, w)))
    shifts = torch.randint(-pad, pad + 1, (b * world, 2), generator=generator)[rank::world]
    scale = 1.0 + (torch.rand(b * world, generator=generator)[rank::world] * 2 - 1) * brightness
    padded = nn.functional.pad(images, (pad, pad, pad, pad), mode="replicate")
    out = torch.empty_like(images)
    for i in range(b):  # per-sample crop: (3, H+2p, W+2p) -> (3, H, W)
        dy, dx = int(shifts[i, 0]) + pad, int(shifts[i, 1]) + pad
        out[i] = padded[i, :, dy : dy + h, dx : dx + w]
    out = out * scale.to(images.dtype).view(b, 1, 1, 1)
    return out.clamp_(0.0, 1.0)


# ---------------------------------------------------------------------- stage modules
class _FaceIdentityStage(nn.Module):
    """Face encoder as identity classifier: ``images (B,3,S,S), identity (B,)`` -> loss."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: Tensor, identity: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        features = self.model.encode_face(images)
        logits = self.model.face_logits(features)
        loss = nn.functional.cross_entropy(logits.float(), identity)
        accuracy = (logits.argmax(dim=1) == identity).float().mean()
        return loss, {"identity_ce": loss.detach(), "accuracy": accuracy.detach()}


class _DecoderStage(nn.Module):
    """Decoder on frozen face features: ``features, images, landmarks, mask`` -> loss."""

    def __init__(self, model: nn.Module, cfg: S2FConfig) -> None:
        super().__init__()
        self.model = model
        self.cfg = cfg

    def forward(self, features: Tensor, images: Tensor, landmarks: Tensor,
                has_landmarks: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
        from s2f_model._losses import decoder_losses

        output = self.model.decode(features)
        return _call_decoder_losses(decoder_losses, self.model, self.cfg, output, features,
                                    images, landmarks, has_landmarks)


class _VoiceStage(nn.Module):
    """Voice encoder with its loss (``loss.objective``): ``spec, v_face[, aux]`` -> loss."""

    def __init__(self, model: nn.Module, cfg: S2FConfig) -> None:
        super().__init__()
        self.model = model
        self.cfg = cfg

    def forward(self, spec: Tensor, v_face: Tensor,
                aux_labels: Tensor | None = None) -> tuple[Tensor, dict[str, Tensor]]:
        from s2f_model._losses import speech2face_loss, standardized_voice_loss

        if self.cfg.loss.objective == "standardized":
            enc, loss = self.model.voice_encoder, self.cfg.loss
            z_speech, aux = enc.heads(enc.embed(spec))
            z_face = (v_face - enc.target_mean) / enc.target_std
            aux = None if aux is None else aux.float()
            return _parts_dict(standardized_voice_loss(
                z_speech.float(), z_face, cosine_weight=loss.cosine_weight, aux_outputs=aux,
                aux_labels=aux_labels, aux_classes=self.cfg.voice.aux_classes,
                aux_weight=loss.aux_weight))
        v_speech = self.model.voice_encoder(spec)
        return _call_speech2face_loss(speech2face_loss, self.model, self.cfg, v_speech.float(),
                                      v_face)


def _parts_dict(result: Any) -> tuple[Tensor, dict[str, Tensor]]:
    """Normalise a loss function's result to ``(total, {name: detached part})``."""
    if isinstance(result, Tensor):
        return result, {}
    if isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], dict):
        total, parts = result
        return total, {k: v.detach() for k, v in parts.items() if isinstance(v, Tensor)}
    if hasattr(result, "_asdict"):
        fields = result._asdict()
        total = fields.pop("total")
        return total, {k: v.detach() for k, v in fields.items() if isinstance(v, Tensor)}
    raise TypeError(f"unexpected loss result of type {type(result).__name__}")


def _call_speech2face_loss(fn: Callable, model: nn.Module, cfg: S2FConfig, v_speech: Tensor,
                           v_face: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
    loss = cfg.loss
    return _parts_dict(fn(v_speech, v_face, model.face_decoder, model.face_encoder,
                          lambda1=loss.lambda1, lambda2=loss.lambda2, T=loss.temperature))


def _call_decoder_losses(fn: Callable, model: nn.Module, cfg: S2FConfig, output: Any,
                         features: Tensor, images: Tensor, landmarks: Tensor,
                         has_landmarks: Tensor) -> tuple[Tensor, dict[str, Tensor]]:
    loss, dec = cfg.loss, cfg.decoder
    # faces without landmarks: target = the (detached) prediction, so no landmark gradient
    mask = has_landmarks.view(-1, 1, 1)
    landmarks = torch.where(mask, landmarks, output.landmarks.detach())
    return _parts_dict(fn(output, images, landmarks, model.face_encoder,
                          mean_face=model.face_decoder.mean_face,
                          landmark_weight=loss.landmark_weight,
                          texture_weight=loss.texture_weight,
                          embedding_weight=loss.embedding_weight,
                          border_per_side=dec.warp_border_points,
                          regularization=dec.warp_regularization))


# ----------------------------------------------------------------------- one step
def train_step(
    stage_module: nn.Module,
    optimizer: torch.optim.Optimizer,
    inputs: tuple[Tensor, ...],
    *,
    precision: Literal["fp32", "bf16", "fp16"] = "fp32",
    grad_clip: float | None = None,
    scaler: torch.amp.GradScaler | None = None,
) -> dict[str, float]:
    """Run one optimisation step of a stage module and return its loss parts.

    Parameters
    ----------
    stage_module : torch.nn.Module
        A stage's loss module (possibly wrapped in DistributedDataParallel) whose forward
        returns ``(loss, parts)``.
    optimizer : torch.optim.Optimizer
        Optimiser over the stage's trainable parameters.
    inputs : tuple of torch.Tensor
        Forward arguments, already on the device.
    precision : {"fp32", "bf16", "fp16"}
        Autocast dtype (the device type is taken from the inputs).
    grad_clip : float or None
        Clip the gradient norm to this value.
    scaler : torch.amp.GradScaler or None
        Loss scaler for fp16.

    Returns
    -------
    dict of str to float
        ``loss`` (the total) and every part.
    """
    device_type = inputs[0].device.type
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    optimizer.zero_grad(set_to_none=True)
    with torch.autocast(device_type=device_type, dtype=dtype or torch.float32,
                        enabled=dtype is not None):
        loss, parts = stage_module(*inputs)
    if not torch.isfinite(loss):
        raise TrainingError(f"loss became {float(loss.detach())}; lower train.lr or use fp32")
    if scaler is not None:
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
    else:
        loss.backward()
    if grad_clip is not None:
        params = [p for g in optimizer.param_groups for p in g["params"]]
        nn.utils.clip_grad_norm_(params, grad_clip)
    if scaler is not None:
        scaler.step(optimizer)
        scaler.update()
    else:
        optimizer.step()
    out = {"loss": float(loss.detach())}
    out.update({k: float(v) for k, v in parts.items()})
    return out


# ----------------------------------------------------------------------- evaluate
@torch.no_grad()
def evaluate(model: nn.Module, data: VoiceFaceDataset, cfg: S2FConfig,
             batch_size: int = 64) -> dict[str, float]:
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
    from s2f_model._losses import speech2face_loss

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
        total, parts = _call_speech2face_loss(speech2face_loss, model, cfg, v_speech, v_face)
        parts = {"loss": total, **parts,
                 "cosine": nn.functional.cosine_similarity(v_speech, v_face, dim=1).mean()}
        for key, value in parts.items():
            sums[key] = sums.get(key, 0.0) + float(value) * len(idx)
    out = {k: v / n for k, v in sums.items()}
    out["n"] = float(n)
    return out


# ----------------------------------------------------------------------- helpers
def _set_trainable(model: nn.Module, stage: Stage) -> nn.Module:
    """Freeze everything but the stage's sub-module; return that sub-module."""
    owner = {"face_encoder": model.face_encoder, "face_decoder": model.face_decoder,
             "voice": model.voice_encoder}[stage]
    for p in model.parameters():
        p.requires_grad_(False)
    for p in owner.parameters():
        p.requires_grad_(True)
    model.eval()
    owner.train()
    return owner


def _rank_batches(n: int, batch_size: int, ctx: DistContext, seed: int, stage: Stage
                  ) -> tuple[Callable[[int], Tensor], int]:
    """Return ``indices(step)`` (this rank's share of the global batch) and steps per epoch.

    The order of epoch ``e`` is a DistributedSampler permutation seeded by
    ``derive_seed(seed, stage)`` and ``e``: it depends on nothing else, so a resumed run sees
    the same batches.
    """
    from torch.utils.data import DistributedSampler

    per_rank = batch_size // ctx.world_size
    if per_rank < 1:
        raise TrainingError(
            f"train.batch_size={batch_size} is smaller than the number of processes "
            f"({ctx.world_size})"
        )
    sampler = DistributedSampler(range(n), num_replicas=ctx.world_size, rank=ctx.rank,
                                 shuffle=True, seed=derive_seed(seed, stage) % 2**31,
                                 drop_last=True)
    per_rank = min(per_rank, len(sampler))
    if per_rank < 1:
        raise TrainingError(f"stage {stage}: {n} examples cannot be shared by "
                            f"{ctx.world_size} processes")
    steps_per_epoch = len(sampler) // per_rank
    cache: dict[int, list[int]] = {}

    def indices(step: int) -> Tensor:
        epoch, k = divmod(step, steps_per_epoch)
        if epoch not in cache:
            cache.clear()
            sampler.set_epoch(epoch)
            cache[epoch] = list(iter(sampler))
        return torch.tensor(cache[epoch][k * per_rank : (k + 1) * per_rank])

    return indices, steps_per_epoch


def _progress(enabled: bool, total: int, initial: int, desc: str) -> Any:
    if not enabled:
        return contextlib.nullcontext(None)
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc=desc, unit="step", dynamic_ncols=True)


def _compute_in_batches(fn: Callable[[Tensor], Tensor], n: int, get: Callable[[Tensor], Tensor],
                        device: torch.device, batch_size: int = 64) -> Tensor:
    outs = []
    with torch.no_grad():
        for start in range(0, n, batch_size):
            idx = torch.arange(start, min(start + batch_size, n))
            outs.append(fn(get(idx).to(device)).float())
    return torch.cat(outs)


def init_face_encoder(model: nn.Module, seed: int) -> None:
    """Re-initialise the face encoder for training from scratch (torchvision's VGG scheme).

    Convolutions: Kaiming normal (fan-out, ReLU gain), zero bias; fully connected layers:
    N(0, 0.01), zero bias. PyTorch's default initialisation shrinks the activations by about
    sqrt(3) per layer, so after 13 convolutions the fc7 features are nearly constant and the
    identity loss does not move (measured: chance-level loss after 150 steps).

    Parameters
    ----------
    model : Speech2Face
        Model whose ``face_encoder`` is re-initialised in place.
    seed : int
        Seed of the draw (the global RNG is left as it was).
    """
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(seed)
        for module in model.face_encoder.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, 0.0, 0.01)
                nn.init.zeros_(module.bias)


def _set_mean_face(model: nn.Module, data: VoiceFaceDataset) -> None:
    """Set the decoder's mean face to the mean of the training landmarks (if any)."""
    faces = data.faces
    if not bool(faces.has_landmarks.any()):
        return
    mean = faces.landmarks[faces.has_landmarks].mean(dim=0)  # (faces, 68, 2) -> (68, 2)
    model.face_decoder.set_mean_face(mean)


# ----------------------------------------------------------------------- train
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
        Settings; ``face.n_identities`` is set to the number of training speakers with a face.
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
        Continue from ``out_dir/checkpoint.json``; the manifest and config must be the same.
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
    started = time.perf_counter()
    out_dir = Path(out_dir)
    ctx = init_distributed(cfg.train.device)
    try:
        with torch.random.fork_rng(devices=[]):
            return _train(cfg, Path(manifest_path), out_dir, resume, progress, stop_after,
                          ctx, started, face_from, allow_unfinished)
    finally:
        shutdown(ctx)


def _train(cfg: S2FConfig, manifest_path: Path, out_dir: Path, resume: bool, progress: bool,
           stop_after: int | None, ctx: DistContext, started: float,
           face_from: str | os.PathLike[str] | None = None,
           allow_unfinished: bool = False) -> TrainResult:
    from s2f_model._model import build_model

    device = ctx.device
    show = progress and ctx.is_main
    manifest = read_manifest(manifest_path)
    identities = training_identities(manifest)
    if not identities:
        raise TrainingError(f"{manifest_path}: no training speaker with a face")
    face_source = None
    pretrained = face_from is None and cfg.train.face_side == "pretrained"
    if face_from is not None:
        face_source = load_checkpoint(face_from, map_location="cpu")
        require_finished(face_source, allow_unfinished=allow_unfinished, until="voice")
        identities, cfg = _adopt_face_side(cfg, face_source)
    elif pretrained:  # fc8 keeps the shipped width; no manifest speaker is an fc8 class
        from s2f_model._face_side_io import pretrained_identities

        identities = pretrained_identities(cfg.face.n_identities)
    else:
        cfg = cfg.replace(**{"face.n_identities": len(identities)})
    cfg, aux_vocab = with_aux_classes(cfg, manifest.frame)
    data_id = manifest_identity(manifest_path)
    seed = cfg.train.seed

    ckpt = None
    ckpt_path = out_dir / TRAIN_CHECKPOINT
    if ckpt_path.is_file():
        if not resume:
            raise TrainingError(
                f"{out_dir} already holds a training checkpoint; pass resume=True "
                f"(--resume) to continue it, or choose a new run folder"
            )
        ckpt = load_checkpoint(ckpt_path, prefer=TRAIN_CHECKPOINT, map_location="cpu")
        saved = ckpt.meta["metadata"].get("training_data", {})
        if saved.get("sha256") != data_id["sha256"]:
            raise TrainingError(
                f"{ckpt_path} was trained on {saved.get('manifest')} (sha256 "
                f"{saved.get('sha256')}); {manifest_path} has sha256 {data_id['sha256']}: "
                f"resume with the same manifest or start a new run"
            )
        if _comparable(ckpt.meta["config"]) != _comparable(cfg.to_dict()):
            raise TrainingError(
                f"{ckpt_path} was made with another configuration; resume with the same "
                f"preset and overrides, or start a new run"
            )
    elif resume:
        log.info("no checkpoint in %s: starting from scratch", out_dir)
    barrier(ctx)  # every process has looked before rank 0 writes anything

    model = build_model(cfg, seed=derive_seed(seed, "init"))
    if ckpt is not None:
        model.load_state_dict(ckpt.model_state)
    elif face_source is not None:
        face_state = {k: v for k, v in face_source.model_state.items()
                      if k.startswith(("face_encoder.", "face_decoder."))}
        missing = model.load_state_dict(face_state, strict=False).missing_keys
        absent = [k for k in missing if k.startswith(("face_encoder.", "face_decoder."))]
        if absent:
            raise TrainingError(f"{face_source.path}: face weights missing: {absent[:5]}")
    elif pretrained:
        _load_pretrained_face_side(model)
        if cfg.train.face_steps:
            log.info("train.face_side='pretrained': the shipped face side is used, "
                     "train.face_steps=%d is ignored", cfg.train.face_steps)
    model.to(device)

    train_data = load_voice_face_data(manifest, "train", sample_rate=cfg.audio.sample_rate,
                                      clip_samples=cfg.audio.clip_samples,
                                      image_size=cfg.face.image_size, identities=identities,
                                      progress=show)
    frame = manifest.frame
    val_rows = frame["split"] == "val"
    if "face_path" in frame:
        val_rows &= frame["face_path"].notna()
    has_val = bool(val_rows.any())
    val_data = None
    if has_val:
        val_data = load_voice_face_data(manifest, "val", sample_rate=cfg.audio.sample_rate,
                                        clip_samples=cfg.audio.clip_samples,
                                        image_size=cfg.face.image_size,
                                        identities=identities, progress=False)
    if ckpt is None and face_source is None and not pretrained:
        _set_mean_face(model, train_data)
        if cfg.train.face_steps > 0:
            init_face_encoder(model, derive_seed(seed, "face_init"))

    metadata: dict[str, Any] = {
        "identities": identities,
        "training_data": data_id,
        "training_source": {"source": manifest.info.source,
                            "source_version": manifest.info.source_version},
        "n_train_utterances": len(train_data),
        "n_train_faces": len(train_data.faces),
        "world_size": ctx.world_size,
        "torch_version": torch.__version__,
    }
    aux_labels = None
    if aux_vocab:
        metadata["aux_vocabularies"] = aux_vocab
        aux_labels = aux_label_matrix(frame, train_data.utterance_ids, aux_vocab)
    if face_source is not None:
        metadata["face_from"] = {"checkpoint": str(face_source.path.absolute()),
                                 "tensors_sha256": face_source.meta["tensors_sha256"]}
    elif ckpt is not None and "face_from" in ckpt.meta["metadata"]:
        metadata["face_from"] = ckpt.meta["metadata"]["face_from"]
    elif pretrained:
        metadata["face_from"] = _pretrained_face_record()
    start_stage = STAGES.index(ckpt.meta["stage"]) if ckpt and ckpt.meta["stage"] in STAGES \
        else (len(STAGES) if ckpt else 0)
    start_step = int(ckpt.meta["step"]) if ckpt else 0
    if ckpt is not None and "torch" in ckpt.rng_states:
        torch.set_rng_state(ckpt.rng_states["torch"])
    result = TrainResult(model=model, run_dir=out_dir)
    steps_run = 0
    face_steps = 0 if "face_from" in metadata else cfg.train.face_steps
    steps = {"face_encoder": face_steps, "face_decoder": face_steps,
             "voice": cfg.train.voice_steps}
    for stage in STAGES[start_stage:]:
        first = start_step if stage == STAGES[start_stage] else 0
        restore = ckpt if (ckpt is not None and stage == ckpt.meta["stage"]) else None
        budget = None if stop_after is None else stop_after - steps_run
        ran, finished = _run_stage(stage, steps[stage], first, model, cfg, train_data, ctx,
                                   out_dir, metadata, restore, show, budget, result,
                                   val_data, aux_labels=aux_labels)
        steps_run += ran
        if not finished:
            result.finished = False
            result.seconds = time.perf_counter() - started
            model.eval()
            return result

    model.eval()
    if val_data is not None and len(val_data):
        result.evaluation = evaluate(model, val_data, cfg)
    metadata["evaluation"] = result.evaluation
    metadata["final_loss"] = {k: v[-1] for k, v in result.losses.items() if v}
    if ctx.is_main:
        save_checkpoint(out_dir, model, cfg.to_dict(), stage="done", step=0, metadata=metadata,
                        name=TRAIN_CHECKPOINT)
        save_checkpoint(out_dir, model, cfg.to_dict(), stage="done", step=0, metadata=metadata,
                        name=MODEL_CHECKPOINT)
    barrier(ctx)
    model.identities = identities
    result.seconds = time.perf_counter() - started
    return result


def _load_pretrained_face_side(model: nn.Module) -> None:
    """Load the shipped compact face side into ``model`` (``train.face_side="pretrained"``)."""
    from s2f_model._face_side_io import load_face_side
    from s2f_model.exceptions import WeightImportError

    try:
        load_face_side(model)
    except WeightImportError as err:
        raise TrainingError(f"train.face_side='pretrained': {err}; set train.face_side="
                            f"'train' to train the face side on the manifest") from err


def _pretrained_face_record() -> dict[str, Any]:
    """Checkpoint metadata naming the shipped face side (its weights file and sha256)."""
    from s2f_model._face_side_io import shipped_card_path, shipped_weights_path

    card = json.loads(shipped_card_path().read_text())
    return {"pretrained": str(shipped_weights_path()), "tensors_sha256": card["sha256"]}


def _adopt_face_side(cfg: S2FConfig, source: Any) -> tuple[list[str], S2FConfig]:
    """Check that a run's face side fits ``cfg``; return its identities and adjusted cfg."""
    theirs = S2FConfig.from_dict(source.meta["config"])
    cfg = cfg.replace(**{"face.n_identities": theirs.face.n_identities})
    for section in ("face", "decoder"):
        if getattr(theirs, section) != getattr(cfg, section):
            raise TrainingError(
                f"{source.path}: its {section} settings differ from this run's; reuse a face "
                f"side only with the same preset and face/decoder overrides"
            )
    identities = source.meta.get("metadata", {}).get("identities")
    if not identities or len(identities) != theirs.face.n_identities:
        raise TrainingError(f"{source.path}: no identity list matching its fc8 "
                            f"({theirs.face.n_identities} classes)")
    return list(identities), cfg


def _comparable(config: dict[str, Any]) -> dict[str, Any]:
    """Config without the settings a resumed run may change (device, logging, workers)."""
    train_cfg = {k: v for k, v in config.get("train", {}).items()
                 if k not in ("device", "log_every", "num_workers")}
    return {**config, "train": train_cfg}


def _run_stage(stage: Stage, n_steps: int, first: int, model: nn.Module, cfg: S2FConfig,
               data: VoiceFaceDataset, ctx: DistContext, out_dir: Path,
               metadata: dict[str, Any], restore: Any, show: bool, budget: int | None,
               result: TrainResult, val_data: VoiceFaceDataset | None = None,
               aux_labels: Tensor | None = None) -> tuple[int, bool]:
    """Run steps ``first..n_steps-1`` of one stage; return (steps run, finished)."""
    tc = cfg.train
    device = ctx.device
    seed = tc.seed
    owner = _set_trainable(model, stage)
    params = [p for p in owner.parameters() if p.requires_grad]
    lr = tc.lr * (FACE_ENCODER_LR_SCALE if stage == "face_encoder" else 1.0)
    optimizer = torch.optim.Adam(params, lr=lr, betas=tuple(tc.betas), eps=tc.eps,
                                 weight_decay=tc.weight_decay, foreach=True)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=tc.lr_decay_every,
                                                gamma=tc.lr_decay)
    scaler = torch.amp.GradScaler(device.type) if tc.precision == "fp16" else None
    if restore is not None and restore.optimizer_state is not None:
        optimizer.load_state_dict(restore.optimizer_state)
        scheduler.load_state_dict(restore.meta["scheduler"])
        if scaler is not None and restore.meta["metadata"].get("grad_scaler"):
            scaler.load_state_dict(restore.meta["metadata"]["grad_scaler"])
    losses = result.losses.setdefault(stage, [])

    # inputs of the stage, computed once (nothing when no step is left to run)
    active = n_steps > 0 and first < n_steps
    faces = data.faces
    feats = face_feats = specs = None
    if stage == "face_encoder":
        pool = torch.nonzero(faces.identity >= 0).flatten()
        module: nn.Module = _FaceIdentityStage(model)
    elif stage == "face_decoder":
        pool = torch.arange(len(faces))
        model.face_encoder.eval()
        if active:
            feats = _compute_in_batches(model.encode_face, len(faces),
                                        lambda i: faces.batch(i)["image"], device)
        module = _DecoderStage(model, cfg)
    else:
        pool = torch.arange(len(data))
        model.face_encoder.eval()
        if active:
            face_feats = _compute_in_batches(model.encode_face, len(faces),
                                             lambda i: faces.batch(i)["image"], device)
            if cfg.voice.standardize_output and first == 0:  # per utterance, as trained on
                model.voice_encoder.set_target_stats(*target_stats(
                    face_feats[data.face_index.to(device)]))
            spec_shape = model.frontend(data.waves[:1].to(device)).shape[1:]
            if len(data) * int(np.prod(spec_shape)) * 4 <= _FEATURE_CACHE_BYTES:
                specs = _compute_in_batches(model.frontend, len(data),
                                            lambda i: data.waves[i], device)
        module = _VoiceStage(model, cfg)
    if active and len(pool) == 0:
        raise TrainingError(f"stage {stage}: no training example")

    wrapped = module
    if ctx.distributed and active:
        from torch.nn.parallel import DistributedDataParallel

        wrapped = DistributedDataParallel(module, device_ids=None if device.type == "cpu"
                                          else [device])

    def batch_inputs(step: int, idx: Tensor) -> tuple[Tensor, ...]:
        sel = pool[idx]
        if stage == "face_encoder":
            gen = torch.Generator().manual_seed(derive_seed(seed, stage, "aug", step))
            b = faces.batch(sel)
            images = augment_faces(b["image"], gen, shard=(ctx.rank, ctx.world_size))
            return (images.to(device), b["identity"].to(device))
        if stage == "face_decoder":
            b = faces.batch(sel)
            return (feats[sel], b["image"].to(device), b["landmarks"].to(device),
                    b["has_landmarks"].to(device))
        spec = specs[sel] if specs is not None else model.frontend(data.waves[sel].to(device))
        if aux_labels is not None and cfg.loss.objective == "standardized":
            return (spec, face_feats[data.face_index[sel]], aux_labels[sel].to(device))
        return (spec, face_feats[data.face_index[sel]])

    def save(step: int) -> None:
        if ctx.is_main:
            meta = dict(metadata)
            if scaler is not None:
                meta["grad_scaler"] = scaler.state_dict()
            save_checkpoint(out_dir, model, cfg.to_dict(), optimizer=optimizer,
                            scheduler=scheduler, rng_states={"torch": torch.get_rng_state()},
                            stage=stage, step=step, metadata=meta, name=TRAIN_CHECKPOINT)
        barrier(ctx)

    ran = 0
    loop_started, cpu_started = time.perf_counter(), time.process_time()
    if active:
        indices, _ = _rank_batches(len(pool), tc.batch_size, ctx, seed, stage)
        with _progress(show, n_steps, first, stage) as bar:
            for step in range(first, n_steps):
                if budget is not None and ran >= budget:
                    result.stage_seconds[stage] = time.perf_counter() - loop_started
                    result.stage_cpu_seconds[stage] = time.process_time() - cpu_started
                    save(step)
                    return ran, False
                torch.manual_seed(derive_seed(seed, stage, "step", step))  # dropout
                inputs = batch_inputs(step, indices(step))
                parts = train_step(wrapped, optimizer, inputs, precision=tc.precision,
                                   grad_clip=tc.grad_clip, scaler=scaler)
                scheduler.step()
                losses.append(parts["loss"])
                ran += 1
                if bar is not None:
                    bar.update()
                    if step % 10 == 0 or step == n_steps - 1:
                        bar.set_postfix({k: f"{v:.4g}" for k, v in parts.items()})
                if tc.log_every and (step + 1) % tc.log_every == 0 and ctx.is_main:
                    log.info("%s step %d/%d: %s", stage, step + 1, n_steps,
                             ", ".join(f"{k}={v:.4g}" for k, v in parts.items()))
                if stage == "voice" and val_data is not None and tc.eval_every \
                        and (step + 1) % tc.eval_every == 0 and step + 1 < n_steps:
                    scores = evaluate(model, val_data, cfg)  # no RNG use: resume stays exact
                    _set_trainable(model, stage)
                    result.eval_history.append({"step": step + 1, **scores})
                    if ctx.is_main:
                        log.info("validation at voice step %d: loss %.4g, cosine %.3f",
                                 step + 1, scores["loss"], scores["cosine"])
                if tc.checkpoint_every and (step + 1) % tc.checkpoint_every == 0 \
                        and step + 1 < n_steps:
                    save(step + 1)
    result.stage_seconds[stage] = time.perf_counter() - loop_started
    result.stage_cpu_seconds[stage] = time.process_time() - cpu_started
    # stage done: the next stage starts from step 0 with a fresh optimizer
    if ran:
        average_buffers(owner, ctx)
    nxt = STAGES.index(stage) + 1
    if ctx.is_main:
        save_checkpoint(out_dir, model, cfg.to_dict(),
                        rng_states={"torch": torch.get_rng_state()},
                        stage=STAGES[nxt] if nxt < len(STAGES) else "done", step=0,
                        metadata=metadata, name=TRAIN_CHECKPOINT)
    barrier(ctx)
    for p in model.parameters():
        p.requires_grad_(True)
    return ran, True
