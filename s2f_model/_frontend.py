"""Audio front-end: clip policy and the power-law compressed STFT of the paper."""

from __future__ import annotations

from typing import TypeVar

import numpy as np
import torch
from torch import Tensor, nn
from torch.nn import functional as F

from s2f_model._config import AudioConfig

__all__ = ["AudioFrontEnd", "fit_clip", "random_clip_start"]

ArrayOrTensor = TypeVar("ArrayOrTensor", np.ndarray, Tensor)


def fit_clip(wave: ArrayOrTensor, length: int, start: int = 0) -> ArrayOrTensor:
    """Loop a shorter clip or crop a longer one to exactly ``length`` samples.

    Parameters
    ----------
    wave : numpy.ndarray or torch.Tensor
        Shape ``(..., samples)``; the last axis is time.
    length : int
        Output samples.
    start : int
        First sample of the crop (only used when the clip is longer than ``length``); use
        :func:`random_clip_start` for random crops in training.

    Returns
    -------
    numpy.ndarray or torch.Tensor
        Shape ``(..., length)``, the same type as ``wave``.

    Raises
    ------
    ValueError
        If the clip is empty, ``length`` is not positive or ``start`` is out of range.

    Examples
    --------
    >>> fit_clip(np.array([1.0, 2.0, 3.0]), 7).tolist()
    [1.0, 2.0, 3.0, 1.0, 2.0, 3.0, 1.0]
    >>> fit_clip(np.arange(5.0), 2, start=3).tolist()
    [3.0, 4.0]
    """
    if length <= 0:
        raise ValueError(f"clip length must be positive, got {length}")
    n = wave.shape[-1]
    if n == 0:
        raise ValueError(
            f"cannot fit an empty clip (shape {tuple(wave.shape)}) to {length} samples"
        )
    if n <= length:
        if start != 0:
            raise ValueError(f"start={start} given for a clip of {n} <= {length} samples")
        reps = -(-length // n)  # ceil
        if isinstance(wave, np.ndarray):
            looped = np.tile(wave, (1,) * (wave.ndim - 1) + (reps,))
        else:
            looped = wave.repeat(*((1,) * (wave.ndim - 1)), reps)
        return looped[..., :length]
    if not 0 <= start <= n - length:
        raise ValueError(f"start={start} out of range [0, {n - length}] for a clip of {n} samples")
    return wave[..., start : start + length]


def random_clip_start(n_samples: int, length: int, generator: np.random.Generator) -> int:
    """Draw a crop start for :func:`fit_clip` (0 when the clip is not longer than ``length``).

    Parameters
    ----------
    n_samples : int
        Samples in the clip.
    length : int
        Crop length.
    generator : numpy.random.Generator
        Source of randomness.

    Returns
    -------
    int
        A start in ``[0, n_samples - length]``.
    """
    if n_samples <= length:
        return 0
    return int(generator.integers(0, n_samples - length + 1))


class AudioFrontEnd(nn.Module):
    """Waveform -> power-law compressed STFT (Speech2Face input).

    Frames of ``win_length`` samples every ``hop_length`` samples (no centre padding), a
    periodic Hann window, zero-padded to ``n_fft`` points; the real and imaginary parts are
    each compressed as ``sign(x) * |x| ** compression`` (or the magnitude alone, with
    ``representation="magnitude"``). The window is a registered buffer.

    Parameters
    ----------
    cfg : AudioConfig
        Settings; ``cfg.sample_rate`` is the only rate accepted.

    Examples
    --------
    >>> fe = AudioFrontEnd(AudioConfig())
    >>> fe(torch.zeros(1, 96000)).shape
    torch.Size([1, 2, 257, 598])
    """

    def __init__(self, cfg: AudioConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.sample_rate = cfg.sample_rate
        # float64, cast to the input's dtype on use: exact for float64 input as well.
        self.register_buffer(
            "window", torch.hann_window(cfg.win_length, periodic=True, dtype=torch.float64)
        )

    def fit_clip(self, wave: Tensor, start: int = 0) -> Tensor:
        """Loop or crop ``(batch, samples)`` to ``(batch, cfg.clip_samples)``."""
        return fit_clip(wave, self.cfg.clip_samples, start)

    def stft(self, wave: Tensor) -> Tensor:
        """Uncompressed STFT, ``(batch, samples) -> (batch, freq, frames)`` complex.

        ``freq`` is ``cfg.n_freq``, ``frames = (samples - win_length) // hop_length + 1``.
        """
        cfg = self.cfg
        if wave.ndim != 2:
            raise ValueError(f"expected a (batch, samples) waveform, got shape {tuple(wave.shape)}")
        if wave.shape[-1] < cfg.win_length:
            raise ValueError(
                f"waveform has {wave.shape[-1]} samples, fewer than one window ({cfg.win_length})"
            )
        # Frame t covers samples [t * hop, t * hop + n_fft) with the window over its first
        # win_length samples (zero weight on the rest), i.e. a win_length frame zero-padded
        # to n_fft points. Padding the signal's end by n_fft - win_length keeps the frame
        # count at (samples - win_length) // hop + 1; the padding is always weighted by 0.
        extra = cfg.n_fft - cfg.win_length
        window = F.pad(self.window.to(wave.dtype), (0, extra))  # (n_fft,)
        spec = torch.stft(
            F.pad(wave, (0, extra)),
            cfg.n_fft,
            hop_length=cfg.hop_length,
            win_length=cfg.n_fft,
            window=window,
            center=False,
            return_complex=True,
        )  # (batch, n_fft // 2 + 1, frames)
        return spec[:, : cfg.n_freq]  # (batch, freq, frames)

    def forward(self, wave: Tensor, sample_rate: int | None = None) -> Tensor:
        """Compute the compressed spectrogram.

        Parameters
        ----------
        wave : torch.Tensor
            ``(batch, samples)`` float at ``self.sample_rate``; not looped or cropped here
            (see :meth:`fit_clip`).
        sample_rate : int or None
            Rate of ``wave`` if known; a mismatch raises.

        Returns
        -------
        torch.Tensor
            ``(batch, channels, freq, frames)``: channels 2 (real, imaginary) or 1
            (magnitude).
        """
        if sample_rate is not None and sample_rate != self.sample_rate:
            raise ValueError(
                f"audio at {sample_rate} Hz given to a front-end expecting {self.sample_rate} Hz;"
                f" resample it when loading (s2f_data.load_audio(path, sample_rate="
                f"{self.sample_rate}))"
            )
        if not wave.is_floating_point():
            raise ValueError(f"expected a floating-point waveform, got dtype {wave.dtype}")
        spec = self.stft(wave)
        p = self.cfg.compression
        if self.cfg.representation == "magnitude":
            return spec.abs().pow(p).unsqueeze(1)  # (batch, 1, freq, frames)
        parts = torch.view_as_real(spec).permute(0, 3, 1, 2)  # (batch, 2, freq, frames)
        return parts.abs().pow(p).copysign(parts)  # sign(x) * |x|^p

    def extra_repr(self) -> str:
        c = self.cfg
        return (
            f"sample_rate={c.sample_rate}, n_fft={c.n_fft}, win_length={c.win_length}, "
            f"hop_length={c.hop_length}, representation={c.representation!r}"
        )
