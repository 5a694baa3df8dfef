"""Model, loss and training settings as frozen dataclasses, with ``paper``/``compact`` presets.

The whole configuration is one :class:`S2FConfig`; it is saved (as JSON via
:meth:`S2FConfig.to_dict`) inside every checkpoint, so loading needs nothing else.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from s2f_model.exceptions import ConfigError

__all__ = [
    "AudioConfig",
    "DecoderConfig",
    "FaceConfig",
    "LossConfig",
    "S2FConfig",
    "TrainConfig",
    "VoiceConfig",
]

Representation = Literal["complex", "magnitude"]
Precision = Literal["fp32", "bf16", "fp16"]

REPRESENTATIONS: frozenset[str] = frozenset({"complex", "magnitude"})
VoicePooling = Literal["mean", "mean_std"]
VoiceObjective = Literal["paper", "standardized"]
VOICE_POOLINGS: frozenset[str] = frozenset({"mean", "mean_std"})
VOICE_OBJECTIVES: frozenset[str] = frozenset({"paper", "standardized"})
#: Labels a voice encoder may be asked to predict as auxiliary targets. Ethnicity is never
#: one: it must reach the face only through what the voice carries (the audit's question).
AUX_TARGETS: frozenset[str] = frozenset({"gender", "age_group", "language", "accent",
                                         "face_size"})
#: Auxiliary targets predicted by regression (one output); the others are classifications.
AUX_REGRESSION: frozenset[str] = frozenset({"face_size"})
PRECISIONS: frozenset[str] = frozenset({"fp32", "bf16", "fp16"})
FaceSide = Literal["train", "pretrained"]
FACE_SIDES: frozenset[str] = frozenset({"train", "pretrained"})

# VGG-Face's per-channel RGB mean on the 0-255 scale (the common PyTorch conversion's meta).
VGGFACE_MEAN: tuple[float, float, float] = (129.186279296875, 104.76238250732422, 93.59396362304688)


def _positive(section: str, name: str, value: float) -> None:
    if not value > 0:
        raise ConfigError(f"{section}.{name} must be > 0, got {value!r}")


def _choice(section: str, name: str, value: str, allowed: frozenset[str]) -> None:
    if value not in allowed:
        raise ConfigError(f"{section}.{name} must be one of {sorted(allowed)}, got {value!r}")


#: Upper bounds of integer settings, so that a damaged checkpoint or a typo fails here with
#: the key's name rather than in ``torch.empty`` or an out-of-memory kill. Sizes that
#: allocate weights get tight bounds; other integers are bounded by ``_INT_DEFAULT_MAX``.
_SIZE_MAX = 65_536
_INT_MAX: dict[str, int] = {
    "audio.sample_rate": 384_000,
    "audio.n_fft": _SIZE_MAX,
    "audio.win_length": _SIZE_MAX,
    "audio.hop_length": _SIZE_MAX,
    "audio.n_freq_bins": _SIZE_MAX,
    "voice.channels": _SIZE_MAX,
    "voice.freq_strides": 64,
    "voice.time_strides": 64,
    "voice.kernel_size": 64,
    "voice.hidden_dim": _SIZE_MAX,
    "voice.feature_dim": _SIZE_MAX,
    "face.image_size": 4096,
    "face.block_channels": _SIZE_MAX,
    "face.block_depths": 64,
    "face.feature_dim": _SIZE_MAX,
    "face.n_identities": 1_000_000,
    "decoder.image_size": 4096,
    "decoder.first_dim": _SIZE_MAX,
    "decoder.landmark_hidden": _SIZE_MAX,
    "decoder.n_landmarks": 10_000,
    "decoder.texture_start": 4096,
    "decoder.texture_channels": _SIZE_MAX,
    "decoder.min_channels": _SIZE_MAX,
    "decoder.warp_border_points": 1024,
    "decoder.warp_grid_size": 4096,
    "train.batch_size": _SIZE_MAX,
    "train.num_workers": 1024,
}
_INT_DEFAULT_MAX = 10**12
#: ``torch.manual_seed`` accepts seeds in this range.
_SEED_RANGE = (-(2**63), 2**64 - 1)
#: Largest learning rate accepted: Adam steps of more than 1 per unit gradient diverge.
_LR_MAX = 1.0
#: Largest number of weights in the main dense layers (8 GiB in float32).
_MAX_DENSE_WEIGHTS = 2**31


def _check_dense_size(cfg: Any) -> None:
    """Refuse settings whose main dense layers would exceed `_MAX_DENSE_WEIGHTS` weights."""
    face, voice, dec = cfg.face, cfg.voice, cfg.decoder
    side = face.image_size // 2 ** len(face.block_channels)  # spatial size entering fc6
    dense = {
        "face fc6": face.block_channels[-1] * side * side * face.feature_dim,
        "face fc8": face.feature_dim * face.n_identities,
        "voice fc": voice.channels[-1] * 2 * voice.hidden_dim + voice.hidden_dim
        * voice.feature_dim,
        "decoder": dec.first_dim * dec.texture_start**2 * dec.texture_channels,
    }
    total = sum(dense.values())
    if total > _MAX_DENSE_WEIGHTS:
        raise ConfigError(
            f"the settings ask for {total:,} weights in the dense layers ({dense}); at most "
            f"{_MAX_DENSE_WEIGHTS:,} are allowed: lower face.image_size, face.n_identities or "
            f"the widths"
        )


def _check_scalar(key: str, hint: Any, value: Any) -> None:
    """Raise `ConfigError` unless ``value`` has the type ``hint`` allows (bool is not int)."""
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return
        inner = [a for a in args if a is not type(None)]
        if len(inner) == 1:
            hint = inner[0]
            if hint is float and (isinstance(value, bool) or not isinstance(value, int | float)):
                raise ConfigError(f"{key} must be a number or null, got {value!r}")
            if hint is int and (isinstance(value, bool) or not isinstance(value, int)):
                raise ConfigError(f"{key} must be an integer or null, got {value!r}")
    if typing.get_origin(hint) is Literal:
        if value not in args or not isinstance(value, str):
            raise ConfigError(f"{key} must be one of {sorted(args)}, got {value!r}")
    elif hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key} must be true or false, got {value!r}")
    elif hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key} must be an integer, got {value!r}")
        low, high = _SEED_RANGE if key == "train.seed" else (None, _INT_MAX.get(
            key.split("[")[0], _INT_DEFAULT_MAX))
        if value > high or (low is not None and value < low):
            raise ConfigError(f"{key} must be <= {high}, got {value!r}" if value > high else
                              f"{key} must be >= {low}, got {value!r}")
    elif hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{key} must be a number, got {value!r}")
        if not math.isfinite(value):
            raise ConfigError(f"{key} must be finite, got {value!r}")
    elif hint is str and not isinstance(value, str):
        raise ConfigError(f"{key} must be a string, got {value!r}")


def _check_types(obj: Any, section: str) -> None:
    """Check every field of a config dataclass against its type hint, once, at the boundary.

    Integers refuse booleans and floats (``64.0``, ``true``), floats must be finite, tuples
    are checked item by item, and integers are bounded (`_INT_MAX`) so that a damaged
    checkpoint fails here, naming the key, rather than deep inside torch.
    """
    hints = typing.get_type_hints(type(obj))
    for f in dataclasses.fields(obj):
        hint, value, key = hints[f.name], getattr(obj, f.name), f"{section}.{f.name}"
        if typing.get_origin(hint) is tuple:
            if not isinstance(value, tuple):
                raise ConfigError(f"{key} must be a list, got {value!r}")
            items = typing.get_args(hint)
            if len(items) == 2 and items[1] is Ellipsis:
                items = (items[0],) * len(value)
            elif len(items) != len(value):
                raise ConfigError(f"{key} must have {len(items)} entries, got {list(value)!r}")
            for i, (item_hint, item) in enumerate(zip(items, value, strict=True)):
                _check_scalar(f"{key}[{i}]", item_hint, item)
        elif not dataclasses.is_dataclass(hint):
            _check_scalar(key, hint, value)


@dataclass(frozen=True)
class AudioConfig:
    """Audio front-end settings.

    Parameters
    ----------
    sample_rate : int
        Expected input rate in Hz; the front-end refuses other rates.
    clip_seconds : float
        Clip length: shorter clips are looped, longer ones cropped.
    n_fft, win_length, hop_length : int
        STFT sizes in samples (paper: 512 / 400 / 160 at 16 kHz). Frames are ``win_length``
        long (no centre padding) and zero-padded to ``n_fft`` before the FFT.
    compression : float
        Power-law exponent ``p`` in ``sign(x) * |x|**p`` (paper: 0.3).
    representation : {"complex", "magnitude"}
        ``complex``: compressed real and imaginary parts (2 channels, the paper);
        ``magnitude``: compressed magnitude only (1 channel, faster; a deviation).
    n_freq_bins : int or None
        Keep only the lowest ``n_freq_bins`` FFT bins; ``None`` keeps all ``n_fft // 2 + 1``.
    """

    sample_rate: int = 16000
    clip_seconds: float = 6.0
    n_fft: int = 512
    win_length: int = 400
    hop_length: int = 160
    compression: float = 0.3
    representation: Representation = "complex"
    n_freq_bins: int | None = None

    def __post_init__(self) -> None:
        _check_types(self, "audio")
        for name in ("sample_rate", "clip_seconds", "n_fft", "win_length", "hop_length",
                     "compression"):
            _positive("audio", name, getattr(self, name))
        if self.win_length > self.n_fft:
            raise ConfigError(
                f"audio.win_length ({self.win_length}) must be <= audio.n_fft ({self.n_fft})"
            )
        _choice("audio", "representation", self.representation, REPRESENTATIONS)
        full = self.n_fft // 2 + 1
        if self.n_freq_bins is not None and not 1 <= self.n_freq_bins <= full:
            raise ConfigError(f"audio.n_freq_bins must be in [1, {full}] or None, "
                              f"got {self.n_freq_bins!r}")
        if self.clip_samples < self.win_length:
            raise ConfigError(
                f"audio.clip_seconds={self.clip_seconds} gives {self.clip_samples} samples, "
                f"fewer than one window ({self.win_length})"
            )

    @property
    def clip_samples(self) -> int:
        """Samples per clip, ``round(clip_seconds * sample_rate)``."""
        return round(self.clip_seconds * self.sample_rate)

    @property
    def n_frames(self) -> int:
        """STFT frames of one clip: ``(clip_samples - win_length) // hop_length + 1``."""
        return (self.clip_samples - self.win_length) // self.hop_length + 1

    @property
    def n_freq(self) -> int:
        """Frequency bins kept."""
        return self.n_freq_bins if self.n_freq_bins is not None else self.n_fft // 2 + 1

    @property
    def n_channels(self) -> int:
        """Spectrogram channels: 2 (real, imaginary) or 1 (magnitude)."""
        return 2 if self.representation == "complex" else 1


@dataclass(frozen=True)
class VoiceConfig:
    """Voice encoder layer table.

    Layer ``i`` is a 4x4 (``kernel_size``) valid convolution with ``channels[i]`` outputs and
    stride ``(freq_strides[i], time_strides[i])``, followed by ReLU and BatchNorm, and by a
    max-pool of 2 along time only when ``time_pool[i]``. The last layer has neither
    activation nor BatchNorm; then average pooling over all time, ReLU, BatchNorm,
    FC ``hidden_dim`` + ReLU and FC ``feature_dim`` (no activation).

    Parameters
    ----------
    channels, freq_strides, time_strides, time_pool : tuple
        One entry per convolution (all the same length).
    kernel_size : int
        Square kernel size.
    hidden_dim : int
        Width of the first fully connected layer.
    feature_dim : int
        Output size; must equal the face encoder's ``feature_dim``.
    pool_first : bool
        Apply the time pooling right after the convolution (before ReLU and BatchNorm):
        cheaper, a deviation used by the compact preset.
    channels_last : bool
        Run the convolutions in ``torch.channels_last`` memory format (faster on CPU).
    pooling : {"mean", "mean_std"}
        Pooling over time: the paper's mean, or mean and standard deviation side by side
        (statistics pooling; doubles the input of the first FC layer).
    standardize_output : bool
        The last FC layer predicts the face feature standardised per dimension; the encoder
        holds the training set's mean and std (buffers ``target_mean``, ``target_std``, set by
        the training code) and its output is un-standardised with them.
    aux_classes : tuple of int
        Sizes of the auxiliary heads on the first FC layer's activations, one per entry of
        ``loss.aux_targets`` (1 for a regression, the number of labels for a classification,
        0 for a target without labels in the training data); set by the training code.
        Empty: no heads.
    """

    channels: tuple[int, ...] = (64, 64, 128, 128, 128, 256, 512, 512, 512)
    freq_strides: tuple[int, ...] = (1, 1, 1, 1, 1, 1, 1, 2, 2)
    time_strides: tuple[int, ...] = (1, 1, 1, 1, 1, 1, 1, 2, 2)
    time_pool: tuple[bool, ...] = (False, False, True, True, True, True, False, False, False)
    kernel_size: int = 4
    hidden_dim: int = 4096
    feature_dim: int = 4096
    pool_first: bool = False
    channels_last: bool = False
    pooling: VoicePooling = "mean"
    standardize_output: bool = False
    aux_classes: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        _check_types(self, "voice")
        _choice("voice", "pooling", self.pooling, VOICE_POOLINGS)
        for i, v in enumerate(self.aux_classes):
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ConfigError(f"voice.aux_classes[{i}] must be an int >= 0, got {v!r}")
        n = len(self.channels)
        if n == 0:
            raise ConfigError("voice.channels must list at least one convolution")
        for name in ("freq_strides", "time_strides", "time_pool"):
            if len(getattr(self, name)) != n:
                raise ConfigError(
                    f"voice.{name} has {len(getattr(self, name))} entries, expected {n} "
                    f"(one per entry of voice.channels)"
                )
        for name in ("channels", "freq_strides", "time_strides"):
            for i, v in enumerate(getattr(self, name)):
                _positive("voice", f"{name}[{i}]", v)
        for name in ("kernel_size", "hidden_dim", "feature_dim"):
            _positive("voice", name, getattr(self, name))


@dataclass(frozen=True)
class FaceConfig:
    """Face encoder (VGG-16 layout) settings.

    Parameters
    ----------
    image_size : int
        Input height and width; must be divisible by ``2 ** len(block_channels)``.
    block_channels, block_depths : tuple of int
        Channels and number of 3x3 convolutions of each block (each block ends in a 2x2
        max-pool). VGG-16: (64, 128, 256, 512, 512) and (2, 2, 3, 3, 3).
    feature_dim : int
        Width of fc6 and fc7; fc7 (after its ReLU) is the face feature.
    n_identities : int
        Outputs of fc8 (VGG-Face: 2622).
    dropout : float
        Dropout after fc6 and fc7 (training only).
    pixel_mean : tuple of float
        RGB mean subtracted on the 0-255 scale (VGG-Face's).
    """

    image_size: int = 224
    block_channels: tuple[int, ...] = (64, 128, 256, 512, 512)
    block_depths: tuple[int, ...] = (2, 2, 3, 3, 3)
    feature_dim: int = 4096
    n_identities: int = 2622
    dropout: float = 0.5
    pixel_mean: tuple[float, float, float] = VGGFACE_MEAN

    def __post_init__(self) -> None:
        _check_types(self, "face")
        if len(self.block_channels) != len(self.block_depths) or not self.block_channels:
            raise ConfigError(
                f"face.block_channels ({len(self.block_channels)} entries) and "
                f"face.block_depths ({len(self.block_depths)}) must be non-empty and equal length"
            )
        for name in ("image_size", "feature_dim", "n_identities"):
            _positive("face", name, getattr(self, name))
        for i, (c, d) in enumerate(zip(self.block_channels, self.block_depths, strict=True)):
            _positive("face", f"block_channels[{i}]", c)
            _positive("face", f"block_depths[{i}]", d)
        factor = 2 ** len(self.block_channels)
        if self.image_size % factor:
            raise ConfigError(
                f"face.image_size={self.image_size} must be divisible by {factor} "
                f"(2 ** number of blocks)"
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"face.dropout must be in [0, 1), got {self.dropout!r}")
        if len(self.pixel_mean) != 3:
            raise ConfigError(f"face.pixel_mean needs 3 values (RGB), got {self.pixel_mean!r}")


@dataclass(frozen=True)
class DecoderConfig:
    """Face decoder (after Cole et al. 2017) settings.

    Parameters
    ----------
    image_size : int
        Output height and width; ``image_size / texture_start`` must be a power of two.
    first_dim : int
        Width of the first layer (feature -> ``first_dim``, ReLU); its activations are
        compared in the voice-encoder loss (paper: 1000).
    landmark_hidden : int
        Hidden width of the landmark MLP.
    n_landmarks : int
        Number of 2-D landmarks (68, iBUG order).
    texture_start : int
        Spatial size of the first texture map (paper: 14).
    texture_channels : int
        Channels of the first texture map (paper: 256); transposed convolution ``i``
        (``i = 1, 2, ...``) has ``max(texture_channels // 2**i, min_channels)`` channels.
    min_channels : int
        Lower bound on texture channels (paper: 32).
    warp_border_points : int
        Fixed control points per image side (corners included) with zero displacement.
    warp_regularization : float
        Thin-plate spline smoothing term added to the kernel diagonal.
    warp_grid_size : int or None
        Resolution at which the spline is evaluated before its displacement is upsampled
        bilinearly to ``image_size``; ``None`` evaluates every pixel.
    """

    image_size: int = 224
    first_dim: int = 1000
    landmark_hidden: int = 1000
    n_landmarks: int = 68
    texture_start: int = 14
    texture_channels: int = 256
    min_channels: int = 32
    warp_border_points: int = 5
    warp_regularization: float = 1e-3
    warp_grid_size: int | None = 112

    def __post_init__(self) -> None:
        _check_types(self, "decoder")
        for name in ("image_size", "first_dim", "landmark_hidden", "n_landmarks",
                     "texture_start", "texture_channels", "min_channels"):
            _positive("decoder", name, getattr(self, name))
        ratio = self.image_size / self.texture_start
        if self.image_size % self.texture_start or not math.log2(ratio).is_integer():
            raise ConfigError(
                f"decoder.image_size / decoder.texture_start = {self.image_size}/"
                f"{self.texture_start} must be a power of two"
            )
        if self.warp_border_points < 2:
            raise ConfigError(
                f"decoder.warp_border_points must be >= 2, got {self.warp_border_points}"
            )
        if self.warp_grid_size is not None and not 1 <= self.warp_grid_size <= self.image_size:
            raise ConfigError(
                f"decoder.warp_grid_size must be in [1, image_size={self.image_size}] or None, "
                f"got {self.warp_grid_size!r}"
            )
        if self.warp_regularization < 0:
            raise ConfigError(
                f"decoder.warp_regularization must be >= 0, got {self.warp_regularization}"
            )

    @property
    def n_upsample(self) -> int:
        """Number of stride-2 transposed convolutions."""
        return round(math.log2(self.image_size / self.texture_start))


@dataclass(frozen=True)
class LossConfig:
    """Loss weights.

    Parameters
    ----------
    lambda1 : float
        Weight of the squared L2 distance between L2-normalised features (paper: 0.025).
    lambda2 : float
        Weight of the fc8 distillation cross-entropy (paper: 200).
    temperature : float
        Distillation temperature ``T`` (paper: 2).
    landmark_weight, texture_weight, embedding_weight : float
        Decoder losses: landmark MSE, texture L1 and negative cosine of face embeddings.
    identity_weight : float
        Weight of the identity cross-entropy when the face encoder is trained.
    objective : {"paper", "standardized"}
        Voice-encoder loss. ``"paper"``: the paper's loss (``lambda1``, ``lambda2``,
        ``temperature``). ``"standardized"`` (compact preset): mean squared error between
        the predicted and the true face feature, both standardised per dimension with the
        training set's mean and std, plus ``cosine_weight`` times the cosine distance of the
        standardised vectors; needs ``voice.standardize_output``.
    cosine_weight : float
        Weight of the cosine distance in the ``"standardized"`` objective.
    aux_targets : tuple of str
        Training-manifest labels the voice encoder also predicts from its first FC layer
        (any of gender, age_group, language, accent, face_size; never ethnicity), each with
        weight ``aux_weight`` (cross-entropy, or squared error of the standardised value).
    aux_weight : float
        Weight of each auxiliary head's loss.
    """

    lambda1: float = 0.025
    lambda2: float = 200.0
    temperature: float = 2.0
    landmark_weight: float = 100.0
    texture_weight: float = 1.0
    embedding_weight: float = 1.0
    identity_weight: float = 1.0
    objective: VoiceObjective = "paper"
    cosine_weight: float = 1.0
    aux_targets: tuple[str, ...] = ()
    aux_weight: float = 1.0

    def __post_init__(self) -> None:
        _check_types(self, "loss")
        _positive("loss", "temperature", self.temperature)
        _choice("loss", "objective", self.objective, VOICE_OBJECTIVES)
        for name in self.aux_targets:
            if name == "ethnicity":
                raise ConfigError("loss.aux_targets must not contain 'ethnicity': ethnicity "
                                  "may reach the face only through what the voice carries")
            _choice("loss", "aux_targets entry", name, AUX_TARGETS)
        if len(set(self.aux_targets)) != len(self.aux_targets):
            raise ConfigError(f"loss.aux_targets lists a label twice: {self.aux_targets!r}")
        for name in ("lambda1", "lambda2", "landmark_weight", "texture_weight",
                     "embedding_weight", "identity_weight", "cosine_weight", "aux_weight"):
            if getattr(self, name) < 0:
                raise ConfigError(f"loss.{name} must be >= 0, got {getattr(self, name)!r}")


@dataclass(frozen=True)
class TrainConfig:
    """Training settings (read by the training code).

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
    device : str
        ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ... or ``"auto"``.
    seed : int
        Seed for initialisation, data order and augmentation.
    num_workers : int
        Data-loader worker processes.
    log_every, checkpoint_every, eval_every : int
        Intervals in steps (0 disables).
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
    device: str = "cpu"
    seed: int = 0
    num_workers: int = 0
    log_every: int = 100
    checkpoint_every: int = 1000
    eval_every: int = 0

    def __post_init__(self) -> None:
        _check_types(self, "train")
        if self.lr > _LR_MAX:
            raise ConfigError(f"train.lr must be in (0, {_LR_MAX:g}], got {self.lr!r}")
        for name in ("lr", "eps", "lr_decay", "lr_decay_every", "batch_size"):
            _positive("train", name, getattr(self, name))
        if len(self.betas) != 2 or not all(0.0 <= b < 1.0 for b in self.betas):
            raise ConfigError(f"train.betas must be two values in [0, 1), got {self.betas!r}")
        for name in ("weight_decay", "face_steps", "voice_steps", "num_workers",
                     "log_every", "checkpoint_every", "eval_every"):
            if getattr(self, name) < 0:
                raise ConfigError(f"train.{name} must be >= 0, got {getattr(self, name)!r}")
        if self.grad_clip is not None:
            _positive("train", "grad_clip", self.grad_clip)
        _choice("train", "precision", self.precision, PRECISIONS)
        _choice("train", "face_side", self.face_side, FACE_SIDES)
        if not isinstance(self.seed, int) or isinstance(self.seed, bool):
            raise ConfigError(f"train.seed must be an int, got {self.seed!r}")


@dataclass(frozen=True)
class S2FConfig:
    """The complete Speech2Face configuration.

    Parameters
    ----------
    name : str
        Preset or run name (informational).
    audio, voice, face, decoder, loss, train
        The nested settings.

    Examples
    --------
    >>> cfg = S2FConfig.compact()
    >>> S2FConfig.from_dict(cfg.to_dict()) == cfg
    True
    >>> S2FConfig.paper().audio.n_frames
    598
    """

    name: str = "paper"
    audio: AudioConfig = field(default_factory=AudioConfig)
    voice: VoiceConfig = field(default_factory=VoiceConfig)
    face: FaceConfig = field(default_factory=FaceConfig)
    decoder: DecoderConfig = field(default_factory=DecoderConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        _check_dense_size(self)
        if self.voice.feature_dim != self.face.feature_dim:
            raise ConfigError(
                f"voice.feature_dim ({self.voice.feature_dim}) must equal face.feature_dim "
                f"({self.face.feature_dim}): the voice encoder predicts the face feature"
            )
        if self.loss.objective == "standardized" and not self.voice.standardize_output:
            raise ConfigError("loss.objective='standardized' needs voice.standardize_output="
                              "True (the encoder holds the target mean and std)")
        aux, sizes = self.loss.aux_targets, self.voice.aux_classes
        if aux and self.loss.objective != "standardized":
            raise ConfigError("loss.aux_targets need loss.objective='standardized' (the paper "
                              "objective has no auxiliary heads)")
        if sizes and len(sizes) != len(aux):
            raise ConfigError(f"voice.aux_classes has {len(sizes)} entries, expected one per "
                              f"loss.aux_targets entry {list(aux)} (or none)")
        for name, k in zip(aux, sizes, strict=False):
            if name in AUX_REGRESSION and k not in (0, 1):
                raise ConfigError(f"voice.aux_classes for regression target {name!r} must "
                                  f"be 0 or 1, got {k}")

    @property
    def feature_dim(self) -> int:
        """Size of the shared face feature (voice encoder output, face encoder fc7)."""
        return self.face.feature_dim

    # ----------------------------------------------------------------- presets
    @classmethod
    def paper(cls) -> S2FConfig:
        """Return the paper's settings (6 s clips, 598x257x2 input, VGG-Face, 224 px faces)."""
        return cls(name="paper")

    @classmethod
    def compact(cls) -> S2FConfig:
        """Return a small, fast variant of the same structure for 2-core CPU training.

        3 s clips, compressed magnitude (1 channel), frequency strides, narrow convolutions,
        256-D features, 64 px faces, 64-D decoder first layer scaled accordingly. The voice
        objective departs from the paper's (docs/model.md, "Voice objective"): standardised
        targets plus auxiliary heads on gender, age group, language, accent and face size.
        The face side is the shipped pretrained one (``train.face_side="pretrained"``,
        docs/model.md, "Pretrained compact face side").
        """
        return cls(
            name="compact",
            audio=AudioConfig(clip_seconds=3.0, representation="magnitude"),
            voice=VoiceConfig(
                channels=(16, 32, 32, 64, 64, 64, 128, 128, 128),
                freq_strides=(2, 2, 2, 1, 1, 1, 1, 2, 2),
                time_strides=(2, 1, 1, 1, 1, 1, 1, 2, 2),
                time_pool=(False, False, True, True, False, False, False, False, False),
                hidden_dim=512,
                feature_dim=256,
                pool_first=True,
                channels_last=True,
                standardize_output=True,
            ),
            face=FaceConfig(
                image_size=64,
                block_channels=(16, 32, 64, 128, 128),
                feature_dim=256,
                n_identities=512,
                dropout=0.1,
            ),
            decoder=DecoderConfig(
                image_size=64,
                first_dim=256,
                landmark_hidden=256,
                texture_start=8,
                texture_channels=128,
                min_channels=16,
                warp_grid_size=32,
            ),
            loss=LossConfig(
                objective="standardized",
                aux_targets=("gender", "age_group", "language", "accent", "face_size"),
            ),
            # Sized for the demo's budget (about 3 CPU-minutes per training on ~2,000 clips,
            # docs/benchmarks.md); raise the steps for better models.
            # face_side "pretrained": the shipped face side (s2f_model/weights, issue 14);
            # face_steps only apply with train.face_side="train"
            train=TrainConfig(batch_size=16, face_steps=300, voice_steps=250,
                              lr_decay_every=100, face_side="pretrained"),
        )

    @classmethod
    def preset(cls, name: Literal["paper", "compact"]) -> S2FConfig:
        """Return a named preset (``"paper"`` or ``"compact"``)."""
        presets = {"paper": cls.paper, "compact": cls.compact}
        if name not in presets:
            raise ConfigError(f"unknown preset {name!r}; expected one of {sorted(presets)}")
        return presets[name]()

    # ----------------------------------------------------------- (de)serialise
    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready nested dict (tuples become lists)."""
        return _to_jsonable(dataclasses.asdict(self))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> S2FConfig:
        """Rebuild a config from :meth:`to_dict` output; unknown keys raise.

        Missing keys take their defaults, so older checkpoints with fewer settings load.
        """
        if not isinstance(data, Mapping):
            raise ConfigError(f"config must be a mapping, got {type(data).__name__}")
        return _from_mapping(cls, data, "config")

    def replace(self, **overrides: Any) -> S2FConfig:
        """Return a copy with dotted-path overrides, e.g. ``{"face.n_identities": 150}``.

        Parameters
        ----------
        **overrides
            Keys ``"section.field"`` (or top-level ``"name"``); pass them with
            ``cfg.replace(**{"voice.feature_dim": 128, "face.feature_dim": 128})``.

        Returns
        -------
        S2FConfig
            A validated copy.
        """
        data = self.to_dict()
        for key, value in overrides.items():
            parts = key.split(".")
            node: Any = data
            for part in parts[:-1]:
                if not isinstance(node, dict) or part not in node:
                    raise ConfigError(f"unknown config key {key!r}")
                node = node[part]
            if not isinstance(node, dict) or parts[-1] not in node:
                raise ConfigError(f"unknown config key {key!r}")
            node[parts[-1]] = _to_jsonable(value)
        return S2FConfig.from_dict(data)


def _to_jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_jsonable(v) for v in value]
    return value


def _from_mapping(cls: type, data: Mapping[str, Any], where: str) -> Any:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; expected some of {sorted(names)}")
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            if not isinstance(value, Mapping):
                raise ConfigError(f"{where}.{name} must be a mapping, got {value!r}")
            kwargs[name] = _from_mapping(hint, value, f"{where}.{name}")
        elif typing.get_origin(hint) is tuple:
            if not isinstance(value, (list, tuple)):
                raise ConfigError(f"{where}.{name} must be a list, got {value!r}")
            kwargs[name] = tuple(value)
        else:
            kwargs[name] = value
    try:
        return cls(**kwargs)
    except TypeError as err:
        raise ConfigError(f"{where}: {err}") from err
