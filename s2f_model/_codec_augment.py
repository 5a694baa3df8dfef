"""Codec augmentation: a share of the training clips heard through an MP3 round trip.

The bias lab writes clean WAV; Common Voice is MP3 and VoxCeleb AAC. A voice encoder trained
on clean clips only reads codec noise as a voice cue: the compact demo model, audited on the
same speakers after an MP3 round trip, reconstructed women as women 0.52 of the time instead
of 0.98 (3 seeds; docs/benchmarks.md, "Voice-only audits and the MP3 round trip"). With
``train.codec_augment`` a fixed, seeded share of the in-memory training clips is replaced by
its MP3 round trip before the first step (libsndfile's MP3 encoder, its default quality).
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

__all__ = ["codec_round_trip", "mix_codec"]


def codec_round_trip(wave: np.ndarray, sample_rate: int) -> np.ndarray:
    """Encode one mono clip as MP3 in memory and decode it, keeping its length.

    Parameters
    ----------
    wave : numpy.ndarray
        ``(samples,)`` float waveform in [-1, 1].
    sample_rate : int
        Its rate in Hz (MP3 supports 8,000-48,000).

    Returns
    -------
    numpy.ndarray
        ``(samples,)`` float32: the decoded clip, cut or zero-padded to the input length.
    """
    import soundfile as sf

    buffer = io.BytesIO()
    sf.write(buffer, np.asarray(wave, dtype=np.float32), sample_rate, format="MP3")
    buffer.seek(0)
    decoded, _ = sf.read(buffer, dtype="float32")
    out = np.zeros(len(wave), dtype=np.float32)
    n = min(len(wave), len(decoded))
    out[:n] = decoded[:n]
    return out


def mix_codec(waves: torch.Tensor, fraction: float, seed: int, sample_rate: int) -> torch.Tensor:
    """Return ``waves`` with ``round(fraction * n)`` seeded rows replaced by their MP3 round trip.

    Parameters
    ----------
    waves : torch.Tensor
        ``(clips, samples)`` float32 training clips.
    fraction : float
        Share of clips to replace, in [0, 1]; 0 returns ``waves`` itself.
    seed : int
        Chooses the rows (the run's ``train.seed``): the same run mixes the same clips.
    sample_rate : int
        The clips' rate in Hz.

    Returns
    -------
    torch.Tensor
        A new tensor (the input is left as it is), or ``waves`` when nothing is replaced.
    """
    import torch

    n_mixed = round(fraction * len(waves))
    if n_mixed == 0:
        return waves
    rows = np.random.default_rng(seed).permutation(len(waves))[:n_mixed]
    out = waves.clone()
    for row in sorted(rows.tolist()):
        out[row] = torch.from_numpy(codec_round_trip(waves[row].numpy(), sample_rate))
    return out
