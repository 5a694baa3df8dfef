"""The model's config sections: audio front-end, voice encoder, face encoder, decoder, losses.

Frozen, keyword-only dataclasses that validate themselves in ``__post_init__`` (types once
with :func:`~s2f_model._config_checks.check_types`, then ranges). :class:`S2FConfig` in
``_config.py`` nests them; the training sections live in ``_train_config.py``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from s2f_model._config_checks import (
    AUX_TARGETS,
    REPRESENTATIONS,
    VGGFACE_MEAN,
    VOICE_OBJECTIVES,
    VOICE_POOLINGS,
    Representation,
    VoiceObjective,
    VoicePooling,
    check_types,
    choice,
    positive,
)
from s2f_model.exceptions import ConfigError

__all__ = ["AudioConfig", "DecoderConfig", "FaceConfig", "LossConfig", "VoiceConfig"]


@dataclass(frozen=True, kw_only=True)
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
        check_types(self, "audio")
        for name in (
            "sample_rate",
            "clip_seconds",
            "n_fft",
            "win_length",
            "hop_length",
            "compression",
        ):
            positive("audio", name, getattr(self, name))
        if self.win_length > self.n_fft:
            raise ConfigError(
                f"audio.win_length ({self.win_length}) must be <= audio.n_fft ({self.n_fft})"
            )
        choice("audio", "representation", self.representation, REPRESENTATIONS)
        full = self.n_fft // 2 + 1
        if self.n_freq_bins is not None and not 1 <= self.n_freq_bins <= full:
            raise ConfigError(
                f"audio.n_freq_bins must be in [1, {full}] or None, got {self.n_freq_bins!r}"
            )
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


@dataclass(frozen=True, kw_only=True)
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
    input_stats : bool
        Input statistics branch (x-vector style statistics pooling, on the input): the
        per-bin magnitude of the input spectrogram over its channels (the input itself when
        there is one channel), its mean and std over time, BatchNorm, concatenated to the
        flattened convolution features before the first FC layer (whose input grows by
        ``2 * n_freq``). Keeps the long-term spectral envelope that a small convolution stack
        can lose.
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
    input_stats: bool = False

    def __post_init__(self) -> None:
        check_types(self, "voice")
        choice("voice", "pooling", self.pooling, VOICE_POOLINGS)
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
                positive("voice", f"{name}[{i}]", v)
        for name in ("kernel_size", "hidden_dim", "feature_dim"):
            positive("voice", name, getattr(self, name))


@dataclass(frozen=True, kw_only=True)
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
        check_types(self, "face")
        if len(self.block_channels) != len(self.block_depths) or not self.block_channels:
            raise ConfigError(
                f"face.block_channels ({len(self.block_channels)} entries) and "
                f"face.block_depths ({len(self.block_depths)}) must be non-empty and equal length"
            )
        for name in ("image_size", "feature_dim", "n_identities"):
            positive("face", name, getattr(self, name))
        for i, (c, d) in enumerate(zip(self.block_channels, self.block_depths, strict=True)):
            positive("face", f"block_channels[{i}]", c)
            positive("face", f"block_depths[{i}]", d)
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


@dataclass(frozen=True, kw_only=True)
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
        check_types(self, "decoder")
        for name in (
            "image_size",
            "first_dim",
            "landmark_hidden",
            "n_landmarks",
            "texture_start",
            "texture_channels",
            "min_channels",
        ):
            positive("decoder", name, getattr(self, name))
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


@dataclass(frozen=True, kw_only=True)
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
        check_types(self, "loss")
        positive("loss", "temperature", self.temperature)
        choice("loss", "objective", self.objective, VOICE_OBJECTIVES)
        for name in self.aux_targets:
            if name == "ethnicity":
                raise ConfigError(
                    "loss.aux_targets must not contain 'ethnicity': ethnicity "
                    "may reach the face only through what the voice carries"
                )
            choice("loss", "aux_targets entry", name, AUX_TARGETS)
        if len(set(self.aux_targets)) != len(self.aux_targets):
            raise ConfigError(f"loss.aux_targets lists a label twice: {self.aux_targets!r}")
        for name in (
            "lambda1",
            "lambda2",
            "landmark_weight",
            "texture_weight",
            "embedding_weight",
            "identity_weight",
            "cosine_weight",
            "aux_weight",
        ):
            if getattr(self, name) < 0:
                raise ConfigError(f"loss.{name} must be >= 0, got {getattr(self, name)!r}")
