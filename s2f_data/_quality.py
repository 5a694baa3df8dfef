"""Per-utterance audio quality checks: duration, silence, clipping, non-finite samples.

NaN or Inf samples reject a file (:class:`~s2f_data.exceptions.DataFormatError`); the other
checks only record flags, so the audit can report how many utterances were short, silent or
clipped instead of dropping them.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from s2f_data._audio import audio_info, decode_audio, resample, soundfile_blocks, to_mono
from s2f_data.exceptions import DataFormatError

__all__ = [
    "QUALITY_FLAGS",
    "AudioQuality",
    "QualityThresholds",
    "assess_audio",
    "assess_wave",
    "load_audio_checked",
]

#: Every flag a quality record can carry.
QUALITY_FLAGS: tuple[str, ...] = ("too_short", "silent", "clipped", "truncated")


@dataclass(frozen=True, kw_only=True)
class QualityThresholds:
    """Limits of the quality checks.

    Parameters
    ----------
    min_seconds : float
        Shorter utterances are flagged ``too_short`` (the clip policy will loop them).
    silence_dbfs : float
        RMS level in dB relative to full scale below which an utterance is ``silent``.
    clip_level : float
        Absolute sample value counted as clipped.
    max_clipping_ratio : float
        Fraction of clipped samples above which an utterance is flagged ``clipped``.
    """

    min_seconds: float = 1.0
    silence_dbfs: float = -60.0
    clip_level: float = 0.999
    max_clipping_ratio: float = 0.001

    def __post_init__(self) -> None:
        if not self.min_seconds >= 0:
            raise ValueError(f"min_seconds must be >= 0, got {self.min_seconds}")
        if not 0 < self.clip_level <= 1:
            raise ValueError(f"clip_level must be in (0, 1], got {self.clip_level}")
        if not 0 <= self.max_clipping_ratio <= 1:
            raise ValueError(f"max_clipping_ratio must be in [0, 1], got {self.max_clipping_ratio}")

    def to_dict(self) -> dict[str, float]:
        """Return a JSON-ready dictionary."""
        return asdict(self)


@dataclass(frozen=True, kw_only=True)
class AudioQuality:
    """Quality record of one utterance.

    Parameters
    ----------
    duration_s : float
        Duration in seconds.
    sample_rate : int
        Native sample rate in Hz.
    channels : int
        Channel count.
    rms_dbfs : float
        RMS over all samples and channels in dBFS (``-inf`` for digital silence).
    peak : float
        Largest absolute sample value.
    clipping_ratio : float
        Fraction of samples at or above the clip level.
    flags : tuple of str
        Subset of :data:`QUALITY_FLAGS`.
    """

    duration_s: float
    sample_rate: int
    channels: int
    rms_dbfs: float
    peak: float
    clipping_ratio: float
    flags: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        """Return a flat dictionary (flags joined with ``;``) for a table row."""
        row = asdict(self)
        row["flags"] = ";".join(self.flags)
        return row


def _dbfs(sum_sq: float, n: int) -> float:
    if n == 0 or sum_sq == 0:
        return -math.inf
    return 10.0 * math.log10(sum_sq / n)


def _record(
    n_frames: int,
    sr: int,
    channels: int,
    sum_sq: float,
    peak: float,
    n_clipped: int,
    thresholds: QualityThresholds,
    truncated: bool = False,
) -> AudioQuality:
    n = n_frames * channels
    duration = n_frames / sr
    rms = _dbfs(sum_sq, n)
    ratio = n_clipped / n if n else 0.0
    flags = []
    if duration < thresholds.min_seconds:
        flags.append("too_short")
    if rms < thresholds.silence_dbfs:
        flags.append("silent")
    if ratio > thresholds.max_clipping_ratio:
        flags.append("clipped")
    if truncated:
        flags.append("truncated")
    return AudioQuality(
        duration_s=duration,
        sample_rate=sr,
        channels=channels,
        rms_dbfs=rms,
        peak=peak,
        clipping_ratio=ratio,
        flags=tuple(flags),
    )


def assess_wave(
    wave: np.ndarray, sample_rate: int, thresholds: QualityThresholds | None = None
) -> AudioQuality:
    """Quality record of an in-memory signal.

    Parameters
    ----------
    wave : numpy.ndarray
        Shape ``(samples,)`` or ``(samples, channels)``, float in [-1, 1].
    sample_rate : int
        Rate in Hz.
    thresholds : QualityThresholds or None
        Limits (defaults if ``None``).

    Returns
    -------
    AudioQuality
        Duration, level, clipping and flags.

    Raises
    ------
    ValueError
        If the signal holds NaN or Inf samples.

    Examples
    --------
    >>> q = assess_wave(np.zeros(8000, dtype=np.float32), 16000)
    >>> q.duration_s, q.flags
    (0.5, ('too_short', 'silent'))
    """
    thresholds = thresholds or QualityThresholds()
    data = wave[:, None] if wave.ndim == 1 else wave
    if data.ndim != 2:
        raise ValueError(f"expected (samples,) or (samples, channels), got {wave.shape}")
    if not np.isfinite(data).all():
        raise ValueError("signal contains NaN or Inf samples")
    x = np.abs(data.astype(np.float64))
    return _record(
        data.shape[0],
        sample_rate,
        data.shape[1],
        float(np.square(x).sum()),
        float(x.max(initial=0.0)),
        int((x >= thresholds.clip_level).sum()),
        thresholds,
    )


def assess_audio(
    path: str | os.PathLike[str],
    thresholds: QualityThresholds | None = None,
    *,
    block_seconds: float = 30.0,
) -> AudioQuality:
    """Quality record of a file, read block by block (memory bounded by one block).

    Levels are measured on the stored samples at the native rate and channel count, before
    mixing to mono (mixing could hide a clipped channel).

    Parameters
    ----------
    path : path-like
        Audio or video file.
    thresholds : QualityThresholds or None
        Limits (defaults if ``None``).
    block_seconds : float
        Block length for streaming.

    Returns
    -------
    AudioQuality
        Duration, level, clipping and flags.

    Raises
    ------
    DataFormatError
        If the file cannot be decoded or holds NaN/Inf samples (rejected); the message names
        the file.
    """
    thresholds = thresholds or QualityThresholds()
    path = Path(path)
    info = audio_info(path)
    if info.backend != "soundfile":
        data, sr = decode_audio(path)
        return assess_wave(data, sr, thresholds)
    sr, ch = info.sample_rate, info.channels
    n_frames, sum_sq, peak, n_clipped = 0, 0.0, 0.0, 0
    for block, _ in soundfile_blocks(path, block_frames=max(1, round(block_seconds * sr))):
        if not np.isfinite(block).all():
            raise DataFormatError(
                f"{path}: audio contains NaN or Inf samples near {n_frames / sr:.2f} s; rejected"
            )
        x = np.abs(block.astype(np.float64))
        n_frames += block.shape[0]
        sum_sq += float(np.square(x).sum())
        peak = max(peak, float(x.max(initial=0.0)))
        n_clipped += int((x >= thresholds.clip_level).sum())
    if n_frames == 0:
        raise DataFormatError(f"{path}: audio file has no samples")
    return _record(n_frames, sr, ch, sum_sq, peak, n_clipped, thresholds, info.truncated)


def load_audio_checked(
    path: str | os.PathLike[str],
    sample_rate: int = 16000,
    thresholds: QualityThresholds | None = None,
) -> tuple[np.ndarray, AudioQuality]:
    """Decode a file once: the model's input and the quality record ``data check`` gives.

    The quality is measured on the stored samples (native rate and channels) with the same
    rules as :func:`assess_audio`, so ``predict`` flags silent, short, clipped and truncated
    files exactly as ``data check --decode`` does.

    Parameters
    ----------
    path : path-like
        Audio or video file.
    sample_rate : int
        Rate of the returned signal in Hz.
    thresholds : QualityThresholds or None
        Limits (defaults if ``None``).

    Returns
    -------
    wave : numpy.ndarray
        Shape ``(samples,)``, mono float32 at ``sample_rate``.
    quality : AudioQuality
        Duration, level, clipping and flags of the stored samples.

    Raises
    ------
    DataFormatError
        If the file cannot be decoded, is empty or holds NaN/Inf samples; the message names
        the file.

    Examples
    --------
    >>> import tempfile, pathlib, soundfile as sf
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "quiet.wav"
    >>> sf.write(p, np.zeros(800), 16000)
    >>> wave, quality = load_audio_checked(p)
    >>> wave.shape, quality.flags
    ((800,), ('too_short', 'silent'))
    """
    path = Path(path)
    data, sr = decode_audio(path)
    quality = assess_wave(data, sr, thresholds)
    if audio_info(path).truncated:
        quality = replace(quality, flags=(*quality.flags, "truncated"))
    return resample(to_mono(data), sr, sample_rate), quality
