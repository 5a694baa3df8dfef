"""Synthetic per-utterance evaluation tables with known truth, for tests and examples.

Speakers carry a random effect on the logit of every judge agreement (utterances of one
speaker are correlated), reconstructions of high-pitched male voices turn female more often,
ethnicity agreement differs by group as in the paper, and craniofacial measures correlate
with a known coefficient.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from audit._bootstrap import check_random_state
from audit.exceptions import AuditInputError

__all__ = ["SYNTHETIC_TRUTH", "make_evaluation_table"]

_GENDERS = ("female", "male")
_AGES = ("18-29", "30-44", "45-59", "60+")
_ETHNICITIES = ("Asian", "Black", "Indian", "White")
_LANGUAGES = ("en", "zh", "hi", "es")

#: The parameters behind `make_evaluation_table` (probabilities at speaker effect 0).
SYNTHETIC_TRUTH: dict = {
    "gender_agreement": 0.94,
    "upper_gender_agreement": 0.97,
    "ethnicity_agreement": {"Asian": 0.50, "Black": 0.11, "Indian": 0.13, "White": 0.61},
    "upper_ethnicity_agreement": {"Asian": 0.71, "Black": 0.41, "Indian": 0.55, "White": 0.76},
    "age_group_agreement": 0.30,
    "upper_age_group_agreement": 0.45,
    "craniofacial_r": {"nasal_index": 0.4, "nose_width": 0.3, "jaw_width": 0.0},
    "ethnicity_shares": (0.29, 0.12, 0.09, 0.50),
    "male_f0_hz": 115.0,
    "female_f0_hz": 205.0,
}


def _logit(p: float | np.ndarray) -> np.ndarray:
    p = np.asarray(p, dtype=float)
    return np.log(p / (1 - p))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def _judge(
    rng: np.random.Generator,
    truth: np.ndarray,
    p_correct: np.ndarray,
    labels: tuple[str, ...],
    confusion_weights: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw judged labels and probabilities: correct with ``p_correct``, else by weights."""
    n, n_lab = len(truth), len(labels)
    correct = rng.random(n) < p_correct
    weights = np.tile(confusion_weights, (n, 1))
    weights[np.arange(n), truth] = 0
    weights /= weights.sum(axis=1, keepdims=True)
    wrong = (rng.random(n)[:, None] > np.cumsum(weights, axis=1)).sum(axis=1)
    pred = np.where(correct, truth, np.minimum(wrong, n_lab - 1))
    # Probabilities: the chosen label gets a confidence near the chance of being right.
    conf = np.clip(p_correct + rng.normal(0, 0.05, n), 1 / n_lab + 0.01, 0.99)
    probs = np.tile((1 - conf)[:, None] / (n_lab - 1), (1, n_lab))
    probs[np.arange(n), pred] = conf
    return pred, probs


def make_evaluation_table(
    n_speakers: int = 200,
    utterances_per_speaker: int = 4,
    *,
    random_state: int = 0,
    speaker_sd: float = 0.8,
    missing_rate: float = 0.03,
    gallery_size: int = 100,
) -> pd.DataFrame:
    """Make a per-utterance evaluation table with known, speaker-correlated truth.

    Parameters
    ----------
    n_speakers : int
        Number of speakers.
    utterances_per_speaker : int
        Utterances per speaker.
    random_state : int
        Seed.
    speaker_sd : float
        Standard deviation of the speaker effect on the logit of every agreement.
    missing_rate : float
        Share of speakers without an ethnicity label, and of utterances without a
        reconstruction age label.
    gallery_size : int
        Retrieval gallery size.

    Returns
    -------
    DataFrame
        Columns ``utterance_id``, ``speaker_id``, ``split``, ``language``, ``accent``,
        ``gender``, ``age_group``, ``ethnicity``, ``f0_median_hz``, for each of gender,
        age_group, ethnicity ``true_<t>``, ``recon_<t>``, ``upper_<t>``,
        ``true_<t>_p_<label>`` and ``recon_<t>_p_<label>``, ``cos_sim``, ``l1``, ``l2``,
        ``retrieval_rank``, ``gallery_size`` and ``true_<m>`` / ``recon_<m>`` for the
        craniofacial measures of `SYNTHETIC_TRUTH`.

    Examples
    --------
    >>> t = make_evaluation_table(20, 3, random_state=1)
    >>> t.shape[0], t["speaker_id"].nunique()
    (60, 20)
    """
    for name, value in (("n_speakers", n_speakers), ("utterances", utterances_per_speaker)):
        if not isinstance(value, int | np.integer) or value < 1:
            raise AuditInputError(f"{name} must be a positive integer, got {value!r}")
    rng = np.random.default_rng(check_random_state(random_state))
    table, speakers = _speakers(rng, n_speakers, utterances_per_speaker, missing_rate, speaker_sd)
    for target in ("gender", "age_group", "ethnicity"):
        _add_judged(table, rng, target, speakers)
    miss_age = rng.random(len(table)) < missing_rate
    table.loc[miss_age, "recon_age_group"] = None
    for j in range(len(_AGES)):
        table.loc[miss_age, f"recon_age_group_p_{_AGES[j]}"] = np.nan
    _add_features(table, rng, speakers.effect, gallery_size)
    _add_craniofacial(table, rng, speakers.index, n_speakers)
    return table


@dataclass(frozen=True, kw_only=True)
class _Speakers:
    """Per-utterance speaker draws that the outcome columns depend on."""

    index: np.ndarray  # (n,) speaker of each utterance
    codes: dict[str, np.ndarray]  # target -> (n,) true label code
    effect: np.ndarray  # (n,) speaker effect on the logit of every agreement
    f0: np.ndarray  # (n,) median F0 of each utterance


def _speakers(
    rng: np.random.Generator, n_speakers: int, n_utt: int, missing_rate: float, speaker_sd: float
) -> tuple[pd.DataFrame, _Speakers]:
    """Draw the speakers: manifest-like columns and what the outcomes depend on."""
    spk = np.repeat(np.arange(n_speakers), n_utt)
    n = len(spk)
    truth = SYNTHETIC_TRUTH
    gender_s = rng.integers(0, 2, n_speakers)
    age_s = rng.choice(4, n_speakers, p=(0.3, 0.3, 0.25, 0.15))
    eth_s = rng.choice(4, n_speakers, p=truth["ethnicity_shares"])
    lang_s = rng.choice(4, n_speakers, p=(0.6, 0.2, 0.1, 0.1))
    accent_choices = np.array(["en-us", "en-gb", "en-x-zh"])
    accent_s = np.where(lang_s == 0, accent_choices[rng.integers(0, 3, n_speakers)], "native")
    eth_missing = rng.random(n_speakers) < missing_rate
    effect = rng.normal(0, speaker_sd, n_speakers)[spk]
    f0_speaker = np.where(gender_s == 1, truth["male_f0_hz"], truth["female_f0_hz"])
    f0_speaker = f0_speaker + rng.normal(0, 22, n_speakers)
    f0 = f0_speaker[spk] + rng.normal(0, 6, n)
    table = pd.DataFrame(
        {
            "utterance_id": [f"u{s:05d}_{i}" for s in range(n_speakers) for i in range(n_utt)],
            "speaker_id": [f"s{s:05d}" for s in spk],
            "split": "test",
            "language": np.array(_LANGUAGES)[lang_s][spk],
            "accent": accent_s[spk],
            "gender": np.array(_GENDERS)[gender_s][spk],
            "age_group": np.array(_AGES)[age_s][spk],
            "ethnicity": pd.Series(np.array(_ETHNICITIES)[eth_s][spk]).where(
                ~eth_missing[spk], None
            ),
            "f0_median_hz": f0,
        }
    )
    codes = {"gender": gender_s[spk], "age_group": age_s[spk], "ethnicity": eth_s[spk]}
    return table, _Speakers(index=spk, codes=codes, effect=effect, f0=f0)


_VOCABULARIES = {"gender": _GENDERS, "age_group": _AGES, "ethnicity": _ETHNICITIES}


def _shares(target: str) -> np.ndarray:
    if target == "gender":
        return np.array([0.5, 0.5])
    if target == "age_group":
        return np.array([0.3, 0.3, 0.25, 0.15])
    return np.asarray(SYNTHETIC_TRUTH["ethnicity_shares"])


def _agreement_logit(
    prefix: str, target: str, judged: np.ndarray, speakers: _Speakers
) -> np.ndarray:
    """Logit of agreement with the true face's judged label, for recon or upper."""
    truth = SYNTHETIC_TRUTH
    labels = _VOCABULARIES[target]
    key = f"{prefix}_{target}_agreement" if prefix == "upper" else f"{target}_agreement"
    base = truth[key]
    n = len(judged)
    p0 = (
        np.array([base[lab] for lab in labels])[judged]
        if isinstance(base, dict)
        else np.full(n, base)
    )
    logit = _logit(p0) + speakers.effect * (1.0 if prefix == "recon" else 0.5)
    if target == "gender" and prefix == "recon":
        # High-pitched male voices and low-pitched female voices are misjudged.
        male = judged == 1
        f0 = speakers.f0
        logit = logit - np.where(
            male, 0.05 * (f0 - truth["male_f0_hz"]), -0.05 * (f0 - truth["female_f0_hz"])
        )
    return logit


def _add_judged(
    table: pd.DataFrame, rng: np.random.Generator, target: str, speakers: _Speakers
) -> None:
    """Judged labels (and probabilities) of the true face, reconstruction and upper bound."""
    labels = _VOCABULARIES[target]
    n = len(table)
    # The judge on the true face mostly agrees with the recorded label.
    judged, judged_p = _judge(
        rng, speakers.codes[target], np.full(n, 0.95), labels, _shares(target)
    )
    for prefix in ("recon", "upper"):
        logit = _agreement_logit(prefix, target, judged, speakers)
        pred, probs = _judge(rng, judged, _sigmoid(logit), labels, _shares(target))
        table[f"{prefix}_{target}"] = np.array(labels)[pred]
        if prefix == "recon":
            for j, lab in enumerate(labels):
                table[f"recon_{target}_p_{lab}"] = probs[:, j]
    table[f"true_{target}"] = np.array(labels)[judged]
    for j, lab in enumerate(labels):
        table[f"true_{target}_p_{lab}"] = judged_p[:, j]


def _add_features(
    table: pd.DataFrame, rng: np.random.Generator, effect: np.ndarray, gallery_size: int
) -> None:
    """Features and retrieval, better for speakers with a positive effect."""
    n = len(table)
    table["cos_sim"] = np.clip(0.6 + 0.05 * effect + rng.normal(0, 0.05, n), -1, 1)
    table["l2"] = np.sqrt(np.maximum(2 - 2 * table["cos_sim"].to_numpy(), 0))
    table["l1"] = table["l2"] * 40 + rng.normal(0, 0.5, n)
    quality = _sigmoid(-1.0 + effect)
    rank = np.ceil(gallery_size * rng.beta(0.7, 0.7 + 3 * quality)).astype(int)
    table["retrieval_rank"] = np.clip(rank, 1, gallery_size)
    table["gallery_size"] = gallery_size


def _add_craniofacial(
    table: pd.DataFrame, rng: np.random.Generator, spk: np.ndarray, n_speakers: int
) -> None:
    """Craniofacial measures of true face and reconstruction, correlated with known r."""
    n = len(table)
    for measure, r in SYNTHETIC_TRUTH["craniofacial_r"].items():
        x_s = rng.normal(0, 1, n_speakers)
        true = x_s[spk] + rng.normal(0, 0.1, n)
        recon = r * x_s[spk] + np.sqrt(1 - r**2) * rng.normal(0, 1, n)
        table[f"true_{measure}"] = true
        table[f"recon_{measure}"] = recon
