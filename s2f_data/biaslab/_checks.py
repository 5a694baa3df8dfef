"""Checks of a generated population: measured voice statistics and held-out separability.

These functions measure what the generator produced, independently of its settings:

- :func:`voice_statistics`: per utterance median F0 (Praat, via parselmouth), voiced
  fraction and a speaking-rate proxy (intensity peaks per second);
- :func:`utterance_features`: a fixed acoustic summary (MFCC means and deviations, delta
  MFCC deviations, spectral centroid and flatness statistics) - a deliberately simple stand-in
  for a learned embedding;
- :func:`held_out_classification`: a scikit-learn logistic regression on those features,
  trained on some speakers and tested on others (grouped cross-validation by speaker), for
  accent or language;
- :func:`speaker_identification`: nearest-centroid identification of speakers from utterances
  not used for enrolment.

Run ``python -m s2f_data.biaslab._checks DIR`` on a generated population to print the tables
used in docs/population.md.
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from s2f_data._atomic import atomic_write_bytes
from s2f_data._audio import load_audio
from s2f_data._manifest import read_manifest
from s2f_data.biaslab._accent import ACCENTS
from s2f_data.biaslab._spec import ETHNICITIES, PopulationSpec
from s2f_data.biaslab._voice import AGE_GROUPS, GENDERS
from s2f_data.biaslab.faces import render_face, sample_face_params

__all__ = [
    "accent_study_spec",
    "face_grid",
    "held_out_classification",
    "speaker_identification",
    "utterance_features",
    "voice_statistics",
]

_SR = 16000
_N_FFT, _HOP, _N_MELS, _N_MFCC = 512, 160, 40, 20


@functools.cache
def _mel_dct() -> tuple[np.ndarray, np.ndarray]:
    """Mel filterbank ``(40, 257)`` (HTK mel, 50-7600 Hz) and DCT-II matrix ``(20, 40)``."""

    def hz_to_mel(f: np.ndarray) -> np.ndarray:
        return 2595.0 * np.log10(1.0 + f / 700.0)

    def mel_to_hz(m: np.ndarray) -> np.ndarray:
        return 700.0 * (10 ** (m / 2595.0) - 1.0)

    freqs = np.fft.rfftfreq(_N_FFT, 1.0 / _SR)
    edges = mel_to_hz(
        np.linspace(hz_to_mel(np.array(50.0)), hz_to_mel(np.array(7600.0)), _N_MELS + 2)
    )
    bank = np.zeros((_N_MELS, len(freqs)))
    for i in range(_N_MELS):
        lo, mid, hi = edges[i], edges[i + 1], edges[i + 2]
        bank[i] = np.clip(np.minimum((freqs - lo) / (mid - lo), (hi - freqs) / (hi - mid)), 0, None)
    n = np.arange(_N_MELS)
    dct = np.cos(np.pi / _N_MELS * (n[None, :] + 0.5) * np.arange(_N_MFCC)[:, None])
    return bank, dct


def utterance_features(wave: np.ndarray) -> np.ndarray:
    """Acoustic summary of one 16 kHz utterance.

    Parameters
    ----------
    wave : numpy.ndarray
        Shape ``(samples,)``, 16 kHz.

    Returns
    -------
    numpy.ndarray
        Shape ``(64,)``: MFCC 1-19 mean and sd over active frames, delta-MFCC sd, log-energy
        sd, spectral centroid and flatness mean and sd, active fraction, energy-peak rate.
    """
    if wave.ndim != 1 or len(wave) < _N_FFT:
        raise ValueError(
            f"utterance_features expects a 1-D signal of >= 512 samples, got shape {wave.shape}"
        )
    bank, dct = _mel_dct()
    n_frames = 1 + (len(wave) - _N_FFT) // _HOP
    idx = np.arange(_N_FFT)[None, :] + _HOP * np.arange(n_frames)[:, None]
    power = np.abs(np.fft.rfft(wave[idx] * np.hanning(_N_FFT), axis=1)) ** 2  # (frames, 257)
    log_e = np.log(power.sum(axis=1) + 1e-10)
    active = log_e > log_e.max() - 6.0  # frames within 26 dB of the loudest
    if active.sum() < 3:
        active[:] = True
    mfcc = (np.log(power @ bank.T + 1e-10) @ dct.T)[:, 1:]  # (frames, 19), c0 dropped
    act = mfcc[active]
    delta = np.diff(mfcc, axis=0)
    freqs = np.fft.rfftfreq(_N_FFT, 1.0 / _SR)
    p = power[active] + 1e-12
    centroid = (p @ freqs) / p.sum(axis=1) / 1000.0
    flatness = np.exp(np.log(p).mean(axis=1)) / p.mean(axis=1)
    smooth = np.convolve(log_e, np.ones(5) / 5, mode="same")
    peaks = (
        (smooth[1:-1] > smooth[:-2])
        & (smooth[1:-1] >= smooth[2:])
        & (smooth[1:-1] > log_e.max() - 4.0)
    ).sum()
    return np.concatenate(
        [
            act.mean(axis=0),
            act.std(axis=0),
            delta.std(axis=0),
            [
                log_e[active].std(),
                centroid.mean(),
                centroid.std(),
                flatness.mean(),
                flatness.std(),
                active.mean(),
                peaks / (len(wave) / _SR),
            ],
        ]
    )


def _median_f0(wave: np.ndarray) -> tuple[float, float]:
    import parselmouth

    pitch = parselmouth.Sound(wave.astype(np.float64), _SR).to_pitch(
        pitch_floor=60.0, pitch_ceiling=500.0
    )
    f0 = pitch.selected_array["frequency"]
    voiced = f0[f0 > 0]
    return (
        float(np.median(voiced)) if voiced.size else float("nan"),
        float(voiced.size / max(len(f0), 1)),
    )


def _load(frame: pd.DataFrame, folder: Path) -> list[np.ndarray]:
    return [load_audio(folder / p) for p in frame["audio_path"]]


def voice_statistics(frame: pd.DataFrame, folder: str | os.PathLike[str]) -> pd.DataFrame:
    """Measure every utterance of a manifest: median F0, voiced fraction, rate proxy.

    Parameters
    ----------
    frame : pandas.DataFrame
        Manifest rows (``audio_path`` relative to ``folder``).
    folder : path-like
        The manifest's folder.

    Returns
    -------
    pandas.DataFrame
        The rows with ``f0_measured_hz``, ``voiced_fraction`` and ``peaks_per_s`` added.
    """
    out = frame.copy()
    f0s, voiced, rate = [], [], []
    for wave in _load(frame, Path(folder)):
        f0, vf = _median_f0(wave)
        f0s.append(f0)
        voiced.append(vf)
        rate.append(utterance_features(wave)[-1])
    out["f0_measured_hz"] = f0s
    out["voiced_fraction"] = voiced
    out["peaks_per_s"] = rate
    return out


def held_out_classification(
    frame: pd.DataFrame,
    folder: str | os.PathLike[str],
    target: str,
    *,
    n_splits: int = 5,
    random_state: int = 0,
    features: np.ndarray | None = None,
) -> dict[str, Any]:
    """Classify ``target`` (e.g. accent) from audio, testing only on unseen speakers.

    Parameters
    ----------
    frame : pandas.DataFrame
        Manifest rows with ``speaker_id`` and the ``target`` column.
    folder : path-like
        The manifest's folder.
    target : str
        Column to predict.
    n_splits : int
        Folds of :class:`sklearn.model_selection.StratifiedGroupKFold` (groups = speakers).
    random_state : int
        Seed of the fold assignment.
    features : numpy.ndarray or None
        Precomputed :func:`utterance_features` rows (computed when ``None``).

    Returns
    -------
    dict
        ``accuracy``, ``balanced_accuracy``, ``chance`` (majority-class share),
        ``n_utterances``, ``n_speakers``, ``labels`` and ``confusion`` (rows = true label,
        row-normalised).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import balanced_accuracy_score, confusion_matrix
    from sklearn.model_selection import StratifiedGroupKFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x = (
        features
        if features is not None
        else np.stack([utterance_features(w) for w in _load(frame, Path(folder))])
    )
    y = frame[target].astype(str).to_numpy()
    groups = frame["speaker_id"].astype(str).to_numpy()
    pred = np.empty_like(y)
    folds = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=random_state)
    for train, test in folds.split(x, y, groups):
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=0.5))
        model.fit(x[train], y[train])
        pred[test] = model.predict(x[test])
    labels = sorted(set(y))
    cm = confusion_matrix(y, pred, labels=labels).astype(float)
    cm /= np.maximum(cm.sum(axis=1, keepdims=True), 1)
    return {
        "target": target,
        "accuracy": float((pred == y).mean()),
        "balanced_accuracy": float(balanced_accuracy_score(y, pred)),
        "chance": float(pd.Series(y).value_counts(normalize=True).iloc[0]),
        "n_utterances": len(y),
        "n_speakers": len(set(groups)),
        "labels": labels,
        "confusion": cm.round(3).tolist(),
    }


def speaker_identification(
    frame: pd.DataFrame,
    folder: str | os.PathLike[str],
    *,
    n_enrol: int = 2,
    features: np.ndarray | None = None,
) -> dict[str, Any]:
    """Identify speakers from utterances not used for enrolment (nearest centroid, cosine).

    Each speaker's first ``n_enrol`` utterances form its centroid (in standardised feature
    space); every other utterance is assigned to the nearest centroid among all speakers.

    Parameters
    ----------
    frame : pandas.DataFrame
        Manifest rows (several utterances per speaker, different sentences).
    folder : path-like
        The manifest's folder.
    n_enrol : int
        Enrolment utterances per speaker.
    features : numpy.ndarray or None
        Precomputed :func:`utterance_features` rows.

    Returns
    -------
    dict
        ``top1``, ``top5``, ``chance`` (1 / speakers), ``n_speakers``, ``n_trials``.
    """
    x = (
        features
        if features is not None
        else np.stack([utterance_features(w) for w in _load(frame, Path(folder))])
    )
    x = (x - x.mean(axis=0)) / (x.std(axis=0) + 1e-9)
    spk = frame["speaker_id"].astype(str).to_numpy()
    rank = frame.groupby("speaker_id").cumcount().to_numpy()
    ids = sorted(set(spk))
    cent = np.stack([x[(spk == s) & (rank < n_enrol)].mean(axis=0) for s in ids])
    cent /= np.linalg.norm(cent, axis=1, keepdims=True)
    test = rank >= n_enrol
    q = x[test] / np.linalg.norm(x[test], axis=1, keepdims=True)
    sims = q @ cent.T
    truth = np.searchsorted(ids, spk[test])
    order = np.argsort(-sims, axis=1)
    return {
        "top1": float((order[:, 0] == truth).mean()),
        "top5": float((order[:, :5] == truth[:, None]).any(axis=1).mean()),
        "chance": 1.0 / len(ids),
        "n_speakers": len(ids),
        "n_trials": int(test.sum()),
    }


def accent_study_spec(speakers: int = 168, utterances_per_speaker: int = 3) -> PopulationSpec:
    """Return an English-only spec with the seven accents equally likely (for the accent check).

    Parameters
    ----------
    speakers : int
        Speakers in the draw.
    utterances_per_speaker : int
        Utterances (3 s) per speaker.

    Returns
    -------
    PopulationSpec
        Balanced ethnicity, gender and age; language ``en``; accents uniform.
    """
    data = PopulationSpec.preset("representative").to_dict()
    accents = ACCENTS["en"]
    data.update(
        name="accent-study",
        speakers=speakers,
        utterances_per_speaker=utterances_per_speaker,
        language={eth: {"en": 1.0} for eth in data["ethnicity"]},
        accent={"en": {"default": {a: 1.0 / len(accents) for a in accents}}},
    )
    return PopulationSpec.from_dict(data)


def face_grid(path: str | os.PathLike[str], *, size: int = 112, seed: int = 0) -> Path:
    """Write a grid of faces: rows ethnicity, columns gender x age group (one random face each).

    Parameters
    ----------
    path : path-like
        PNG to write (atomically).
    size : int
        Face side in pixels.
    seed : int
        Seed of the faces.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    import io

    from PIL import Image, ImageDraw

    cols = [(g, a) for g in GENDERS for a in AGE_GROUPS]
    top, left = 28, 64
    img = Image.new("RGB", (left + size * len(cols), top + size * len(ETHNICITIES)), "white")
    draw = ImageDraw.Draw(img)
    for j, (g, a) in enumerate(cols):
        draw.text((left + j * size + 6, 6), f"{g} {a}", fill="black")
    for i, eth in enumerate(ETHNICITIES):
        draw.text((6, top + i * size + size // 2), eth, fill="black")
        for j, (g, a) in enumerate(cols):
            rng = np.random.default_rng([seed, i, j])
            params = sample_face_params(
                rng, ethnicity=eth, gender=g, age_group=a, face_size=float(rng.normal())
            )
            face, _ = render_face(params, size=size)
            img.paste(Image.fromarray(face), (left + j * size, top + i * size))
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    atomic_write_bytes(path, buf.getvalue())
    return Path(path)


def _main(argv: list[str]) -> int:  # pragma: no cover - a reporting script
    if argv[:1] == ["--faces"]:
        print(face_grid(argv[1]))
        return 0
    man = read_manifest(Path(argv[0]) / "manifest.csv")
    frame = man.frame.reset_index(drop=True)
    stats = voice_statistics(frame, man.folder)
    stats["f0_hz"] = stats["f0_hz"].astype(float)
    speakers = pd.read_csv(man.folder / "speakers.csv")
    stats["rate_wpm"] = stats["speaker_id"].map(
        dict(zip(speakers["speaker_id"], speakers["voice_rate"], strict=True))
    )
    table = stats.groupby(["gender", "age_group"]).agg(
        speakers=("speaker_id", "nunique"),
        f0_target_median=("f0_hz", "median"),
        f0_measured_median=("f0_measured_hz", "median"),
        f0_measured_iqr=("f0_measured_hz", lambda s: s.quantile(0.75) - s.quantile(0.25)),
        rate_wpm_setting=("rate_wpm", "median"),
        peaks_per_s=("peaks_per_s", "median"),
        voiced=("voiced_fraction", "median"),
    )
    print(table.round(2).to_string())
    feats = np.stack([utterance_features(w) for w in _load(frame, man.folder)])
    print(speaker_identification(frame, man.folder, features=feats))
    for target in argv[1:]:
        print(held_out_classification(frame, man.folder, target, features=feats))
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(_main(sys.argv[1:]))
