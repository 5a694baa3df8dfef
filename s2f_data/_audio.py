"""Audio loading: any file soundfile or PyAV reads -> mono float32 at the requested rate.

Two decoders: soundfile (libsndfile: WAV PCM 8/16/24/32-bit and float, FLAC, OGG, MP3, ...)
and PyAV (the audio track of video and AAC files: mp4, m4a, mov, mkv, webm). Integer PCM is
scaled to [-1, 1); float files are kept as stored. Channels are averaged to mono and any
sample rate is resampled with ``torchaudio.functional.resample``.

The clip policy of the paper (speech of ``clip_seconds``, shorter clips looped, longer ones
cropped) lives in :func:`fit_clip` and :func:`load_clip`; :func:`load_clip` reads only the
windows it needs, so an hour-long file is never decoded whole.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from s2f_data._decoders import (
    SAMPLE_RATE_RANGE,
    VIDEO_SUFFIXES,
    _audio_stream,
    _check_rate,
    _check_readable,
    _decode_pyav,
    _decode_soundfile,
    _open_av,
    _use_pyav,
    _wav_truncated,
    is_sample_rate,
    sf_reason,
    soundfile_blocks,
)
from s2f_data.exceptions import DataFormatError

__all__ = [
    "CROP_MODES",
    "SAMPLE_RATE_RANGE",
    "VIDEO_SUFFIXES",
    "AudioFileInfo",
    "Clip",
    "ClipPolicy",
    "audio_info",
    "decode_audio",
    "fit_clip",
    "load_audio",
    "load_clip",
    "resample",
    "soundfile_blocks",
    "to_mono",
]

CropMode = Literal["first", "centre", "windows"]
CROP_MODES: frozenset[str] = frozenset({"first", "centre", "windows"})


@dataclass(frozen=True, kw_only=True)
class AudioFileInfo:
    """What a file holds, read from its header (nothing decoded).

    Parameters
    ----------
    path : pathlib.Path
        The file.
    sample_rate : int
        Native sample rate in Hz.
    channels : int
        Channel count.
    frames : int or None
        Samples per channel; ``None`` when the container does not say.
    subtype : str
        Sample format (``"PCM_16"``, ``"FLOAT"``, ``"aac"``, ...).
    backend : {"soundfile", "pyav"}
        The decoder used.
    truncated : bool
        A WAV file whose header promises more data than the file holds (an interrupted
        copy); the samples present are still decoded.
    """

    path: Path
    sample_rate: int
    channels: int
    frames: int | None
    subtype: str
    backend: str
    truncated: bool = False

    @property
    def duration_s(self) -> float | None:
        """Duration in seconds, or ``None`` when unknown."""
        return None if self.frames is None else self.frames / self.sample_rate


@dataclass(frozen=True)
class ClipPolicy:
    """How a waveform becomes the model's fixed-length input (paper: 6 s).

    Parameters
    ----------
    seconds : float
        Clip length. Shorter speech is repeated until it fills the clip (and flagged).
    crop : {"first", "centre", "windows"}
        For longer speech: the first window, the centre window, or ``n_windows`` windows
        spread evenly over the file (their features are meant to be averaged).
    n_windows : int
        Number of windows for ``crop="windows"``.
    """

    seconds: float = 6.0
    crop: CropMode = "first"
    n_windows: int = 3

    def __post_init__(self) -> None:
        if not (math.isfinite(self.seconds) and self.seconds > 0):
            raise ValueError(f"ClipPolicy.seconds must be a positive number, got {self.seconds}")
        if self.crop not in CROP_MODES:
            raise ValueError(
                f"ClipPolicy.crop must be one of {sorted(CROP_MODES)}, got {self.crop!r}"
            )
        if not (isinstance(self.n_windows, int) and self.n_windows >= 1):
            raise ValueError(
                f"ClipPolicy.n_windows must be an integer >= 1, got {self.n_windows!r}"
            )

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dictionary."""
        return {"seconds": self.seconds, "crop": self.crop, "n_windows": self.n_windows}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ClipPolicy:
        """Build from :meth:`to_dict` output."""
        return cls(
            seconds=float(data["seconds"]), crop=data["crop"], n_windows=int(data["n_windows"])
        )


@dataclass(frozen=True, kw_only=True)
class Clip:
    """Fixed-length windows cut from one utterance.

    Parameters
    ----------
    windows : numpy.ndarray
        Shape ``(n_windows, samples)`` float32; one row unless ``crop="windows"``.
    sample_rate : int
        Rate of ``windows``.
    looped : bool
        The speech was shorter than the clip and was repeated to fill it.
    source_seconds : float
        Duration of the whole utterance.
    """

    windows: np.ndarray
    sample_rate: int
    looped: bool
    source_seconds: float


def resample(wave: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Resample a mono signal with torchaudio's band-limited sinc interpolation.

    Parameters
    ----------
    wave : numpy.ndarray
        Shape ``(samples,)``, float32.
    orig_sr, target_sr : int
        Sample rates in Hz, inside :data:`SAMPLE_RATE_RANGE`.

    Returns
    -------
    numpy.ndarray
        Shape ``(ceil(samples * target_sr / orig_sr),)``, float32.

    Examples
    --------
    >>> resample(np.zeros(48000, dtype=np.float32), 48000, 16000).shape
    (16000,)
    """
    if wave.ndim != 1:
        raise ValueError(f"resample expects a 1-D signal, got shape {wave.shape}")
    if not (is_sample_rate(orig_sr) and is_sample_rate(target_sr)):  # 1e9 Hz: gigabytes
        low, high = SAMPLE_RATE_RANGE
        raise ValueError(
            f"sample rates must be integers in [{low}, {high}] Hz, got {orig_sr!r} -> {target_sr!r}"
        )
    if orig_sr == target_sr:
        return wave.astype(np.float32, copy=False)
    import torch
    import torchaudio.functional as taf

    g = math.gcd(int(orig_sr), int(target_sr))
    out = taf.resample(
        torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32)),
        int(orig_sr) // g,
        int(target_sr) // g,
    )
    return out.numpy()


def to_mono(data: np.ndarray) -> np.ndarray:
    """Average channels: ``(samples, channels) -> (samples,)``; 1-D input is returned as is."""
    if data.ndim == 1:
        return data.astype(np.float32, copy=False)
    if data.ndim != 2:
        raise ValueError(f"expected (samples, channels), got shape {data.shape}")
    return data.mean(axis=1, dtype=np.float64).astype(np.float32)


def audio_info(path: str | os.PathLike[str]) -> AudioFileInfo:
    """Read a file's sample rate, channels and length without decoding it.

    Parameters
    ----------
    path : path-like
        Audio or video file.

    Returns
    -------
    AudioFileInfo
        Header information.

    Raises
    ------
    DataFormatError
        If the file is missing, unreadable, or not audio; the message names the file.
    """
    path = Path(path)
    _check_readable(path)
    if _use_pyav(path):
        container = _open_av(path)
        try:
            stream = _audio_stream(container, path)
            frames = None
            if stream.duration is not None and stream.time_base is not None:
                frames = round(float(stream.duration * stream.time_base) * stream.rate)
            return AudioFileInfo(
                path=path,
                sample_rate=_check_rate(path, int(stream.rate)),
                channels=int(stream.channels),
                frames=frames,
                subtype=stream.codec_context.name,
                backend="pyav",
                truncated=False,
            )
        finally:
            container.close()
    import soundfile as sf

    try:
        info = sf.info(os.fsencode(path))
    except (sf.LibsndfileError, RuntimeError, OSError) as err:
        raise DataFormatError(f"{path}: not a readable audio file: {sf_reason(err)}") from err
    return AudioFileInfo(
        path=path,
        sample_rate=_check_rate(path, int(info.samplerate)),
        channels=int(info.channels),
        frames=int(info.frames),
        subtype=str(info.subtype),
        backend="soundfile",
        truncated=_wav_truncated(path),
    )


def decode_audio(
    path: str | os.PathLike[str],
    *,
    start_s: float = 0.0,
    duration_s: float | None = None,
) -> tuple[np.ndarray, int]:
    """Decode (part of) a file at its native rate and channel count.

    Parameters
    ----------
    path : path-like
        Audio file, or a video/AAC container (decoded with PyAV).
    start_s : float
        Offset of the first sample to return, in seconds.
    duration_s : float or None
        Seconds to return; ``None`` reads to the end.

    Returns
    -------
    data : numpy.ndarray
        Shape ``(samples, channels)``, float32; integer PCM scaled to [-1, 1).
    sample_rate : int
        Native rate in Hz.

    Raises
    ------
    DataFormatError
        Missing, unreadable, empty, undecodable or non-finite audio; the message names the
        file.
    """
    path = Path(path)
    if start_s < 0 or (duration_s is not None and duration_s <= 0):
        raise ValueError(f"need start_s >= 0 and duration_s > 0, got {start_s}, {duration_s}")
    _check_readable(path)
    if _use_pyav(path):
        data, sr = _decode_pyav(path, start_s, duration_s)
    else:
        data, sr = _decode_soundfile(path, start_s, duration_s)
    if data.shape[0] == 0:
        where = f" after {start_s:g} s" if start_s else ""
        raise DataFormatError(f"{path}: audio file has no samples{where}")
    if not np.isfinite(data).all():
        bad = int((~np.isfinite(data)).any(axis=1).sum())
        raise DataFormatError(
            f"{path}: audio contains NaN or Inf samples ({bad} of {data.shape[0]} frames); rejected"
        )
    return data, sr


def load_audio(
    path: str | os.PathLike[str],
    sample_rate: int = 16000,
    *,
    start_s: float = 0.0,
    duration_s: float | None = None,
) -> np.ndarray:
    """Decode an audio file to mono float32 at ``sample_rate``.

    Parameters
    ----------
    path : path-like
        Any format libsndfile reads (WAV, FLAC, OGG, MP3), or the audio track of a video or
        AAC file (mp4, m4a, mov, mkv, webm) through PyAV.
    sample_rate : int
        Target rate in Hz; other rates are resampled.
    start_s, duration_s : float
        Optional segment to read (seconds); by default the whole file.

    Returns
    -------
    numpy.ndarray
        Shape ``(samples,)``, float32 in [-1, 1] for PCM input.

    Raises
    ------
    DataFormatError
        If the file cannot be decoded, is empty, or holds NaN/Inf samples; the message
        names the file.

    Examples
    --------
    >>> import tempfile, pathlib, soundfile as sf
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.wav"
    >>> sf.write(p, np.zeros((8000, 2)), 8000)
    >>> load_audio(p).shape
    (16000,)
    """
    data, sr = decode_audio(path, start_s=start_s, duration_s=duration_s)
    return resample(to_mono(data), sr, sample_rate)


def _window_starts(total: int, length: int, policy: ClipPolicy) -> list[int]:
    if total <= length:
        return [0]
    if policy.crop == "first":
        return [0]
    if policy.crop == "centre":
        return [(total - length) // 2]
    return [round(float(x)) for x in np.linspace(0, total - length, policy.n_windows)]


def fit_clip(wave: np.ndarray, sample_rate: int, policy: ClipPolicy | None = None) -> Clip:
    """Loop or crop a mono waveform to the policy's clip length.

    Parameters
    ----------
    wave : numpy.ndarray
        Shape ``(samples,)``.
    sample_rate : int
        Rate of ``wave`` in Hz.
    policy : ClipPolicy or None
        Clip length and crop mode (default: 6 s, first window).

    Returns
    -------
    Clip
        ``windows`` of shape ``(k, round(seconds * sample_rate))``; ``k`` is 1 except for
        ``crop="windows"`` on speech longer than the clip.

    Examples
    --------
    >>> clip = fit_clip(np.arange(3, dtype=np.float32), 1, ClipPolicy(seconds=7))
    >>> clip.windows.tolist(), clip.looped
    ([[0.0, 1.0, 2.0, 0.0, 1.0, 2.0, 0.0]], True)
    """
    policy = policy or ClipPolicy()
    if wave.ndim != 1 or wave.shape[0] == 0:
        raise ValueError(f"fit_clip expects a non-empty 1-D signal, got shape {wave.shape}")
    if not (isinstance(sample_rate, int | np.integer) and sample_rate >= 1):
        raise ValueError(f"fit_clip expects a positive integer sample_rate, got {sample_rate!r}")
    length = round(policy.seconds * sample_rate)
    total = wave.shape[0]
    looped = total < length
    if looped:
        windows = np.resize(wave, length)[None, :]  # repeat until the clip is full
    else:
        starts = _window_starts(total, length, policy)
        windows = np.stack([wave[s : s + length] for s in starts])
    return Clip(
        windows=windows.astype(np.float32, copy=False),
        sample_rate=sample_rate,
        looped=looped,
        source_seconds=total / sample_rate,
    )


def load_clip(
    path: str | os.PathLike[str],
    policy: ClipPolicy | None = None,
    sample_rate: int = 16000,
) -> Clip:
    """Read only the windows the clip policy needs and return them at ``sample_rate``.

    For files whose length the header gives (everything soundfile reads) only the needed
    windows are decoded, so memory stays bounded by the clip length however long the file.

    Parameters
    ----------
    path : path-like
        Audio or video file.
    policy : ClipPolicy or None
        Clip length and crop mode (default: 6 s, first window).
    sample_rate : int
        Output rate in Hz.

    Returns
    -------
    Clip
        Windows ``(k, round(seconds * sample_rate))`` float32 and the looped flag.
    """
    policy = policy or ClipPolicy()
    info = audio_info(path)
    length = round(policy.seconds * sample_rate)
    if info.backend != "soundfile" or info.frames is None:
        return fit_clip(load_audio(path, sample_rate), sample_rate, policy)
    total_s = info.frames / info.sample_rate
    if total_s <= policy.seconds:
        return fit_clip(load_audio(path, sample_rate), sample_rate, policy)
    # Window starts in seconds, as fit_clip would place them on the resampled signal.
    total_out = math.ceil(info.frames * sample_rate / info.sample_rate)
    starts = _window_starts(total_out, length, policy)
    windows = []
    for s in starts:
        seg = load_audio(
            path,
            sample_rate,
            start_s=s / sample_rate,
            duration_s=policy.seconds + 1.0 / info.sample_rate,
        )
        if seg.shape[0] < length:  # the last window may end a sample short after resampling
            seg = np.pad(seg, (0, length - seg.shape[0]), mode="edge")
        windows.append(seg[:length])
    return Clip(
        windows=np.stack(windows), sample_rate=sample_rate, looped=False, source_seconds=total_s
    )
