"""Per-utterance voice measures: pitch (Praat via parselmouth), voicing, rate, SNR.

These describe the input side of the audit (who is speaking, how high, how fast, how
cleanly recorded), so that errors can be related to voice properties, e.g. high-pitched male
voices that the paper saw reconstructed as female faces. Definitions in ``docs/metrics.md``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

import numpy as np
import pandas as pd

from s2f_data import load_audio

__all__ = ["VOICE_MEASURES", "voice_measures", "voice_measures_batch"]

#: Measure name -> unit and short definition.
VOICE_MEASURES: dict[str, str] = {
    "duration_s": "s; samples / sample rate",
    "median_f0_hz": "Hz; median F0 over voiced Praat pitch frames (NaN if none voiced)",
    "f0_p05_hz": "Hz; 5th percentile of voiced F0",
    "f0_p95_hz": "Hz; 95th percentile of voiced F0",
    "f0_range_hz": "Hz; f0_p95_hz - f0_p05_hz",
    "f0_range_semitones": "st; 12 * log2(f0_p95_hz / f0_p05_hz)",
    "voiced_fraction": "fraction of pitch frames that are voiced (over the whole utterance)",
    "speaking_rate_syl_per_s": "syllable nuclei (voiced intensity peaks) per second of duration",
    "n_syllable_nuclei": "count of voiced intensity peaks (de Jong and Wempe 2009, simplified)",
    "snr_db": "dB; 10 log10(P95 / P10) of 25 ms frame powers, capped at 100 dB",
}

#: Shortest utterance Praat's pitch and intensity analyses accept with the default floors.
MIN_DURATION_S = 0.25
_SNR_CAP_DB = 100.0


def _frame_powers(wave: np.ndarray, sample_rate: int) -> np.ndarray:
    """Mean power of 25 ms frames with a 10 ms hop: ``(samples,) -> (frames,)``."""
    win, hop = round(0.025 * sample_rate), round(0.010 * sample_rate)
    if len(wave) < win:
        return np.array([np.mean(wave.astype(np.float64) ** 2)])
    frames = np.lib.stride_tricks.sliding_window_view(wave.astype(np.float64), win)[::hop]
    return np.mean(frames**2, axis=1)  # (frames, win) -> (frames,)


def _snr_db(wave: np.ndarray, sample_rate: int) -> float:
    """Percentile SNR estimate: loud frames (95th percentile) over quiet ones (10th).

    Equals ``10 log10((S + N) / N)``, i.e. about the SNR when it is well above 0 dB, for an
    utterance with pauses; a signal without pauses reads near 0 dB.
    """
    powers = _frame_powers(wave, sample_rate)
    noise = float(np.percentile(powers, 10))
    loud = float(np.percentile(powers, 95))
    if loud <= 0.0:
        return float("nan")  # digital silence: no signal to compare
    if noise <= loud * 10 ** (-_SNR_CAP_DB / 10):
        return _SNR_CAP_DB
    return float(10 * np.log10(loud / noise))


def _syllable_nuclei(
    db: np.ndarray, voiced_at: np.ndarray, *, silence_db: float, dip_db: float
) -> int:
    """Count intensity peaks above a silence threshold, separated by dips, that are voiced.

    A simplified version of de Jong and Wempe (2009): a peak counts if it lies above
    ``max(intensity) - silence_db``, is voiced, and the intensity dips by at least ``dip_db``
    between it and the previously counted peak.
    """
    if len(db) < 3:
        return 0
    threshold = np.nanmax(db) - silence_db
    is_peak = (db[1:-1] > db[:-2]) & (db[1:-1] >= db[2:]) & (db[1:-1] > threshold)
    peaks = np.flatnonzero(is_peak) + 1
    count, last = 0, None
    for idx in peaks:
        if not voiced_at[idx]:
            continue
        if last is not None:
            dip = min(db[last], db[idx]) - db[last : idx + 1].min()
            if dip < dip_db:
                if db[idx] > db[last]:
                    last = idx  # same syllable, keep the higher peak
                continue
        count += 1
        last = idx
    return count


def _check_wave(
    wave: np.ndarray, sample_rate: int, pitch_floor: float, pitch_ceiling: float
) -> float:
    """Raise ValueError for a wave or setting :func:`voice_measures` cannot use; duration s."""
    if wave.ndim != 1:
        raise ValueError(
            f"voice_measures expects a mono wave of shape (samples,), got {wave.shape}"
        )
    if not np.issubdtype(wave.dtype, np.floating) or not np.isfinite(wave).all():
        raise ValueError("voice_measures expects a finite floating-point wave")
    if not (isinstance(sample_rate, int | np.integer) and sample_rate >= 4000):
        raise ValueError(f"sample_rate must be an integer >= 4000 Hz, got {sample_rate!r}")
    if not 0 < pitch_floor < pitch_ceiling < sample_rate / 2:
        raise ValueError(
            f"need 0 < pitch_floor < pitch_ceiling < sample_rate / 2, got "
            f"{pitch_floor}, {pitch_ceiling}, {sample_rate / 2}"
        )
    duration = len(wave) / sample_rate
    if duration < MIN_DURATION_S:
        raise ValueError(
            f"utterance is {duration:.3f} s long; voice measures need at least {MIN_DURATION_S} s"
        )
    return duration


def voice_measures(
    wave: np.ndarray,
    sample_rate: int,
    *,
    pitch_floor: float = 60.0,
    pitch_ceiling: float = 500.0,
    time_step: float = 0.01,
) -> dict[str, float]:
    """Measure pitch, voicing, speaking rate, duration and SNR of one utterance.

    Parameters
    ----------
    wave : numpy.ndarray
        Mono signal ``(samples,)``, float, finite.
    sample_rate : int
        Sample rate in Hz.
    pitch_floor, pitch_ceiling : float
        Praat pitch search range in Hz (autocorrelation method, ``To Pitch``). The default
        60-500 Hz covers adult and child voices; raise the floor for speed, lower it for very
        low male voices.
    time_step : float
        Analysis hop in seconds for pitch and intensity.

    Returns
    -------
    dict
        The keys of :data:`VOICE_MEASURES`, as floats. Pitch statistics are NaN when no
        frame is voiced (never 0).

    Raises
    ------
    ValueError
        If the wave is not 1-D, not finite, shorter than 0.25 s, or the parameters are out
        of range.

    Examples
    --------
    >>> sr = 16000
    >>> t = np.arange(sr) / sr
    >>> m = voice_measures(0.3 * np.sin(2 * np.pi * 150 * t), sr)
    >>> round(m["median_f0_hz"])
    150
    """
    import parselmouth

    wave = np.asarray(wave)
    duration = _check_wave(wave, sample_rate, pitch_floor, pitch_ceiling)
    sound = parselmouth.Sound(wave.astype(np.float64), sampling_frequency=float(sample_rate))
    pitch = sound.to_pitch(
        time_step=time_step, pitch_floor=pitch_floor, pitch_ceiling=pitch_ceiling
    )
    f0 = pitch.selected_array["frequency"]  # (frames,), 0 where unvoiced
    voiced = f0[f0 > 0]
    if voiced.size:
        p05, med, p95 = np.percentile(voiced, [5, 50, 95])
        rng_st = 12 * np.log2(p95 / p05)
    else:
        p05 = med = p95 = rng_st = float("nan")

    intensity = sound.to_intensity(minimum_pitch=max(pitch_floor, 50.0), time_step=time_step)
    db = intensity.values[0]
    times = intensity.xs()
    voiced_at = np.interp(times, pitch.xs(), (f0 > 0).astype(float)) > 0.5  # (int_frames,)
    nuclei = _syllable_nuclei(db, voiced_at, silence_db=25.0, dip_db=2.0)
    return {
        "duration_s": float(duration),
        "median_f0_hz": float(med),
        "f0_p05_hz": float(p05),
        "f0_p95_hz": float(p95),
        "f0_range_hz": float(p95 - p05),
        "f0_range_semitones": float(rng_st),
        "voiced_fraction": float(voiced.size / max(len(f0), 1)),
        "speaking_rate_syl_per_s": float(nuclei / duration),
        "n_syllable_nuclei": float(nuclei),
        "snr_db": _snr_db(wave, sample_rate),
    }


def voice_measures_batch(
    paths: Iterable[str | os.PathLike[str]],
    *,
    sample_rate: int = 16000,
    pitch_floor: float = 60.0,
    pitch_ceiling: float = 500.0,
) -> pd.DataFrame:
    """Measure many audio files; a file that fails gets an ``error`` and NaN measures.

    Parameters
    ----------
    paths : iterable of path-like
        Audio files readable by :func:`s2f_data.load_audio`.
    sample_rate : int
        Rate the files are decoded to before measuring.
    pitch_floor, pitch_ceiling : float
        Passed to :func:`voice_measures`.

    Returns
    -------
    pandas.DataFrame
        One row per path in input order: ``path``, the :data:`VOICE_MEASURES` columns and
        ``error`` (``<NA>`` on success, otherwise the exception type and message).

    Examples
    --------
    >>> table = voice_measures_batch(["missing.wav"])
    >>> bool(table.loc[0, "error"].startswith("DataFormatError"))
    True
    """
    rows = []
    for path in paths:
        row: dict[str, object] = {"path": str(path)}
        try:
            wave = load_audio(path, sample_rate=sample_rate)
            row |= voice_measures(
                wave, sample_rate, pitch_floor=pitch_floor, pitch_ceiling=pitch_ceiling
            )
            row["error"] = pd.NA
        except Exception as err:  # one bad file must never stop the batch: record it
            row |= dict.fromkeys(VOICE_MEASURES, float("nan"))
            row["error"] = f"{type(err).__name__}: {str(err).strip()}"
        rows.append(row)
    columns = ["path", *VOICE_MEASURES, "error"]
    frame = pd.DataFrame(rows, columns=columns)
    frame["error"] = frame["error"].astype("string")
    return frame
