"""Audio loading: any file soundfile reads -> mono float32 at the requested sample rate."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from s2f_data.exceptions import DataFormatError

__all__ = ["load_audio", "resample"]


def resample(wave: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Resample a mono signal with torchaudio's band-limited sinc interpolation.

    Parameters
    ----------
    wave : numpy.ndarray
        Shape ``(samples,)``, float32.
    orig_sr, target_sr : int
        Sample rates in Hz.

    Returns
    -------
    numpy.ndarray
        Shape ``(ceil(samples * target_sr / orig_sr),)``, float32.
    """
    if wave.ndim != 1:
        raise ValueError(f"resample expects a 1-D signal, got shape {wave.shape}")
    if orig_sr == target_sr:
        return wave.astype(np.float32, copy=False)
    import torch
    import torchaudio.functional as taf

    out = taf.resample(torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32)),
                       orig_sr, target_sr)
    return out.numpy()


def load_audio(path: str | os.PathLike[str], sample_rate: int = 16000) -> np.ndarray:
    """Decode an audio file to mono float32 at ``sample_rate``.

    Parameters
    ----------
    path : path-like
        Any format libsndfile reads (WAV, FLAC, OGG, ...).
    sample_rate : int
        Target rate in Hz; other rates are resampled.

    Returns
    -------
    numpy.ndarray
        Shape ``(samples,)``, float32 in [-1, 1] for PCM input.

    Raises
    ------
    DataFormatError
        If the file cannot be decoded, is empty, or holds NaN/Inf samples; the message
        names the file.
    """
    import soundfile as sf

    path = Path(path)
    try:
        data, sr = sf.read(path, dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError) as err:
        raise DataFormatError(f"{path}: cannot decode audio: {err}") from err
    if data.shape[0] == 0:
        raise DataFormatError(f"{path}: audio file has no samples")
    if not np.isfinite(data).all():
        raise DataFormatError(f"{path}: audio contains NaN or Inf samples")
    mono = data.mean(axis=1)  # (samples, channels) -> (samples,)
    return resample(mono, int(sr), sample_rate)
