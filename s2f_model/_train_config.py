"""Training settings: what defines a run (`TrainConfig`), how it runs (`RunSettings`).

:class:`TrainConfig` holds the settings that change the trained weights (learning rate,
steps, batch size, seed, precision, ...): a resumed run must keep them. :class:`RunSettings`
holds the settings of this process that leave the weights as they are (device, cadence of
logs, checkpoints and validation, data-loader workers): a resumed run may change them.

Checkpoints of format 1 store both in one ``train`` object (the layout written before the
two were separated); :func:`train_section` writes that layout and :func:`split_train_section`
reads it, so checkpoints old and new load and record the same JSON.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from s2f_model._config_checks import (
    FACE_SIDES,
    PRECISIONS,
    FaceSide,
    Precision,
    check_types,
    choice,
    positive,
)
from s2f_model.exceptions import ConfigError

__all__ = [
    "RUN_SETTING_KEYS",
    "TRAIN_LAYOUT",
    "RunSettings",
    "TrainConfig",
    "split_train_section",
    "train_section",
]

#: Where the voice stage reads its training clips: decoded into memory before the first step,
#: or streamed from the tar shards of ``s2f-audit data shards`` (issue #20).
TrainData = Literal["memory", "shards"]
TRAIN_DATA: frozenset[str] = frozenset({"memory", "shards"})

#: Largest learning rate accepted: Adam steps of more than 1 per unit gradient diverge.
_LR_MAX = 1.0


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """Training settings that define a run (a resumed run must keep them).

    Parameters
    ----------
    lr : float
        Adam learning rate (paper: 1e-3).
    betas : tuple of float
        Adam betas (paper: 0.5, 0.999).
    eps : float
        Adam epsilon (paper: 1e-4).
    weight_decay : float
        Adam weight decay.
    lr_decay : float
        Multiplicative learning-rate decay (paper: 0.95) ...
    lr_decay_every : int
        ... applied every this many steps (paper: 10,000).
    batch_size : int
        Clips per step (paper: 8).
    face_steps : int
        Steps of the face stage (face encoder and decoder); 0 skips it.
    face_side : {"train", "pretrained"}
        ``"train"``: the face stages train on the manifest's faces (``face_steps``);
        ``"pretrained"``: load the shipped compact face side
        (``s2f_model/weights/compact_face_side.*``) and skip both face stages.
    voice_steps : int
        Steps of the voice stage (voice encoder, face side frozen).
    grad_clip : float or None
        Gradient-norm clip; ``None`` disables it.
    precision : {"fp32", "bf16", "fp16"}
        Autocast precision.
    seed : int
        Seed for initialisation, data order and augmentation.
    data : {"memory", "shards"}
        ``"memory"`` (default): the training clips are decoded into memory before the first
        step; ``"shards"``: the voice stage streams them from the tar shards in
        ``train.shard_dir`` (``s2f-audit data shards``), each rank its own shards.
    shuffle_buffer : int
        With ``data="shards"``: samples held for shuffling (bounds the memory).
    codec_augment : float
        Share of the training clips heard through an MP3 round trip (0 to 1; default 0, as
        the paper), chosen by ``seed`` once before the first step, so that the voice encoder
        does not read codec noise as a voice cue (``s2f_model._codec_augment``; measured
        effect in docs/model.md, deviation 12). Only with ``data="memory"``.
    """

    lr: float = 1e-3
    betas: tuple[float, float] = (0.5, 0.999)
    eps: float = 1e-4
    weight_decay: float = 0.0
    lr_decay: float = 0.95
    lr_decay_every: int = 10_000
    batch_size: int = 8
    face_steps: int = 0
    face_side: FaceSide = "train"
    voice_steps: int = 100_000
    grad_clip: float | None = None
    precision: Precision = "fp32"
    seed: int = 0
    data: TrainData = "memory"
    shuffle_buffer: int = 256
    codec_augment: float = 0.0

    def __post_init__(self) -> None:
        check_types(self, "train")
        choice("train", "data", self.data, TRAIN_DATA)
        positive("train", "shuffle_buffer", self.shuffle_buffer)
        if self.lr > _LR_MAX:
            raise ConfigError(f"train.lr must be in (0, {_LR_MAX:g}], got {self.lr!r}")
        for name in ("lr", "eps", "lr_decay", "lr_decay_every", "batch_size"):
            positive("train", name, getattr(self, name))
        if len(self.betas) != 2 or not all(0.0 <= b < 1.0 for b in self.betas):
            raise ConfigError(f"train.betas must be two values in [0, 1), got {self.betas!r}")
        for name in ("weight_decay", "face_steps", "voice_steps"):
            if getattr(self, name) < 0:
                raise ConfigError(f"train.{name} must be >= 0, got {getattr(self, name)!r}")
        if self.grad_clip is not None:
            positive("train", "grad_clip", self.grad_clip)
        choice("train", "precision", self.precision, PRECISIONS)
        choice("train", "face_side", self.face_side, FACE_SIDES)
        if not 0.0 <= self.codec_augment <= 1.0:  # NaN fails too
            raise ConfigError(f"train.codec_augment must be in [0, 1], got {self.codec_augment!r}")
        if self.codec_augment and self.data == "shards":
            raise ConfigError(
                "train.codec_augment works on clips in memory, not with train.data='shards'"
            )


@dataclass(frozen=True, kw_only=True)
class RunSettings:
    """How this process runs a training; none of it changes the trained weights.

    A resumed run may change any of them (another device, other log or checkpoint cadence).
    Set them like the other settings, by their ``train.*`` keys
    (``cfg.replace(**{"train.checkpoint_every": 0})``, ``--set train.device=cuda``).

    Parameters
    ----------
    device : str
        ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ... or ``"auto"``.
    num_workers : int
        Data-loader worker processes.
    log_every, checkpoint_every, eval_every : int
        Intervals in steps (0 disables) of log lines, resumable checkpoints and validation
        (voice stage; validation uses no random numbers, so it leaves the weights as they
        are).
    shard_dir : str or None
        Folder of the training shards read with ``train.data="shards"`` (default: ``shards``
        beside the manifest); it may move between a run and its resumption.

    Examples
    --------
    >>> RunSettings(checkpoint_every=0).log_every
    100
    """

    device: str = "cpu"
    num_workers: int = 0
    log_every: int = 100
    checkpoint_every: int = 1000
    eval_every: int = 0
    shard_dir: str | None = None

    def __post_init__(self) -> None:
        check_types(self, "train")  # keys are spelled train.* (the checkpoint layout)
        for name in ("num_workers", "log_every", "checkpoint_every", "eval_every"):
            if getattr(self, name) < 0:
                raise ConfigError(f"train.{name} must be >= 0, got {getattr(self, name)!r}")


#: The ``train`` object of a checkpoint's config (format 1): both classes' fields in the
#: order they were written before the split, so that the JSON stays byte for byte the same.
TRAIN_LAYOUT: tuple[str, ...] = (
    "lr",
    "betas",
    "eps",
    "weight_decay",
    "lr_decay",
    "lr_decay_every",
    "batch_size",
    "face_steps",
    "face_side",
    "voice_steps",
    "grad_clip",
    "precision",
    "device",
    "seed",
    "num_workers",
    "log_every",
    "checkpoint_every",
    "eval_every",
)
#: Keys added after format 1, with their defaults: written after the layout's keys, and only
#: when they differ from the default, so that a config that does not use them (every run
#: before them) reads byte for byte as before.
OPTIONAL_TRAIN_KEYS: dict[str, Any] = {
    "data": "memory",
    "shuffle_buffer": 256,
    "shard_dir": None,
    "codec_augment": 0.0,
}
#: The keys of that object that belong to :class:`RunSettings`.
RUN_SETTING_KEYS: frozenset[str] = frozenset(f.name for f in dataclasses.fields(RunSettings))


def train_section(train: Mapping[str, Any], run: Mapping[str, Any]) -> dict[str, Any]:
    """Merge the two dicts into the ``train`` object of the checkpoint layout.

    Parameters
    ----------
    train : mapping
        :class:`TrainConfig` fields (JSON-ready).
    run : mapping
        :class:`RunSettings` fields (JSON-ready).

    Returns
    -------
    dict
        Keys in `TRAIN_LAYOUT` order.

    Examples
    --------
    >>> d = train_section(dataclasses.asdict(TrainConfig()), dataclasses.asdict(RunSettings()))
    >>> list(d)[11:14]
    ['precision', 'device', 'seed']
    """
    merged = {**train, **run}
    if set(merged) - set(OPTIONAL_TRAIN_KEYS) != set(TRAIN_LAYOUT):
        raise ConfigError(
            f"train settings {sorted(merged)} do not match the checkpoint "
            f"layout {sorted(TRAIN_LAYOUT)}"
        )
    out = {key: merged[key] for key in TRAIN_LAYOUT}
    out.update(
        {
            key: merged[key]
            for key, default in OPTIONAL_TRAIN_KEYS.items()
            if key in merged and merged[key] != default
        }
    )
    return out


def split_train_section(data: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split a ``train`` object into (:class:`TrainConfig` keys, :class:`RunSettings` keys).

    Unknown keys stay with the first dict (the config reader refuses them there).

    Examples
    --------
    >>> split_train_section({"lr": 0.01, "device": "cuda"})
    ({'lr': 0.01}, {'device': 'cuda'})
    """
    train = {k: v for k, v in data.items() if k not in RUN_SETTING_KEYS}
    run = {k: v for k, v in data.items() if k in RUN_SETTING_KEYS}
    return train, run
