"""Cross-modal verification (the FAME / MAV-Celeb protocol): trials, scores, EER per language.

A trial pairs one utterance (the voice) with one candidate face; it is a *target* trial when
both belong to the same identity. The model's score is the cosine between the face feature it
predicts from the voice and the face feature of the candidate face (higher = same person); the
challenge's score files hold the L2 distance between the two L2-normalised features instead
(lower = same person; ``L2 = sqrt(2 - 2 cos)``, so both give the same error rates).

Equal error rate per test language, with the speaker split of the protocol: a model trained
on one language is tested on *heard* speech (the training language) and *unheard* speech (the
other language), on identities it never saw. Intervals: the speaker-cluster bootstrap
(:class:`audit.stats.SpeakerBootstrap`, stratified by test language; a replicate weights every trial
by the number of times its voice's speaker was drawn), expanded percentile interval.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from audit._bootstrap import SpeakerBootstrap, bootstrap_interval, check_random_state
from audit.exceptions import AuditInputError
from s2f_data import atomic_write_text
from s2f_data.adapters import MAVCELEB_LANGUAGES

__all__ = [
    "equal_error_rate",
    "make_trials",
    "score_trials",
    "verification_eer_table",
    "write_challenge_files",
]

TRIAL_COLUMNS = (
    "trial_id",
    "speaker_id",
    "language",
    "utterance_id",
    "audio_path",
    "face_speaker_id",
    "face_path",
    "target",
)


def equal_error_rate(
    target: np.ndarray, score: np.ndarray, weight: np.ndarray | None = None
) -> float:
    """Equal error rate: where false acceptance equals false rejection (higher score = accept).

    A trial is accepted at threshold ``t`` when ``score >= t``. The two error rates are
    evaluated at every distinct score (and above the highest); between the two thresholds
    where their difference changes sign, both are interpolated linearly and the crossing is
    returned.

    Parameters
    ----------
    target : array-like of bool, shape (n,)
        Whether each trial is a same-identity trial.
    score : array-like of float, shape (n,)
        Scores, higher = more likely the same identity.
    weight : array-like of float, shape (n,), optional
        Trial weights (bootstrap draw counts); default 1.

    Returns
    -------
    float
        EER in [0, 1]; NaN without both target and non-target trials (of positive weight).

    Examples
    --------
    >>> equal_error_rate([1, 1, 1, 0, 0, 0], [0.9, 0.8, 0.3, 0.7, 0.2, 0.1])
    0.3333333333333333
    """
    target = np.asarray(target, dtype=bool)
    score = np.asarray(score, dtype=np.float64)
    w = np.ones(len(score)) if weight is None else np.asarray(weight, dtype=np.float64)
    if target.shape != score.shape or w.shape != score.shape or score.ndim != 1:
        raise AuditInputError(
            f"target, score and weight must have one shape (n,), got "
            f"{target.shape}, {score.shape}, {w.shape}"
        )
    if not np.isfinite(score).all():
        raise AuditInputError(
            f"scores must be finite; row {int(np.argmin(np.isfinite(score)))} is not"
        )
    pos, neg = w[target].sum(), w[~target].sum()
    if pos <= 0 or neg <= 0:
        return float("nan")
    order = np.argsort(-score, kind="stable")
    s, t, ww = score[order], target[order], w[order]
    # cumulative accepted weight at each distinct threshold (accept score >= s_k)
    last = np.r_[np.flatnonzero(np.diff(s) != 0), len(s) - 1]
    acc_pos = np.cumsum(np.where(t, ww, 0.0))[last]
    acc_neg = np.cumsum(np.where(~t, ww, 0.0))[last]
    far = np.r_[0.0, acc_neg / neg]  # threshold above every score: nothing accepted
    frr = np.r_[1.0, 1.0 - acc_pos / pos]
    d = frr - far  # decreasing from 1 to -1 as the threshold falls
    k = int(np.flatnonzero(d <= 0)[0])
    if d[k] == 0:
        return float(far[k])
    lam = d[k - 1] / (d[k - 1] - d[k])
    return float(far[k - 1] + lam * (far[k] - far[k - 1]))


def make_trials(
    table: pd.DataFrame,
    *,
    n_nontarget: int = 1,
    random_state: int = 0,
) -> pd.DataFrame:
    """Verification trials: every utterance with its own face and ``n_nontarget`` others.

    Parameters
    ----------
    table : DataFrame
        Manifest-like rows with ``utterance_id``, ``speaker_id``, ``language``, ``face_path``
        (``audio_path`` kept when present). Rows without a face are not trial voices.
    n_nontarget : int
        Non-target trials per utterance; the candidate faces come from other speakers, drawn
        uniformly.
    random_state : int
        Seed of the draw.

    Returns
    -------
    DataFrame
        Columns ``TRIAL_COLUMNS``; ``trial_id`` ``t000000``, ... in row order.

    Raises
    ------
    AuditInputError
        Missing columns, or fewer than two speakers with faces.
    """
    seed = check_random_state(random_state)
    need = ["utterance_id", "speaker_id", "language", "face_path"]
    missing = [c for c in need if c not in table.columns]
    if missing:
        raise AuditInputError(
            f"verification trials need column(s) {missing}; the table has "
            f"{sorted(map(str, table.columns))}"
        )
    rows = table[table["face_path"].notna()].reset_index(drop=True)
    faces = rows.groupby("speaker_id", sort=True)["face_path"].first()
    if len(faces) < 2:
        raise AuditInputError(f"verification needs faces of at least 2 speakers, got {len(faces)}")
    rng = np.random.default_rng(seed)
    speakers = faces.index.to_numpy()
    out = []
    for r in rows.itertuples(index=False):
        others = speakers[speakers != r.speaker_id]
        candidates = [(r.speaker_id, r.face_path, True)] + [
            (s, faces[s], False) for s in rng.choice(others, size=n_nontarget, replace=True)
        ]
        for spk, face, target in candidates:
            out.append(
                {
                    "speaker_id": r.speaker_id,
                    "language": r.language,
                    "utterance_id": r.utterance_id,
                    "audio_path": getattr(r, "audio_path", None),
                    "face_speaker_id": spk,
                    "face_path": face,
                    "target": target,
                }
            )
    trials = pd.DataFrame(out)
    trials.insert(0, "trial_id", [f"t{i:06d}" for i in range(len(trials))])
    return trials[list(TRIAL_COLUMNS)]


def score_trials(
    trials: pd.DataFrame,
    voice_features: dict[str, np.ndarray],
    face_features: dict[str, np.ndarray],
) -> pd.DataFrame:
    """Add ``score`` (cosine) and ``l2`` (challenge score) to the trials.

    Parameters
    ----------
    trials : DataFrame
        From :func:`make_trials`.
    voice_features : dict
        ``utterance_id`` -> face feature predicted from the voice, shape (D,).
    face_features : dict
        ``face_path`` -> face feature of the candidate face, shape (D,).

    Returns
    -------
    DataFrame
        ``trials`` with ``score`` and ``l2``.
    """
    missing = sorted(set(trials["utterance_id"]) - set(voice_features))[:3]
    if missing:
        raise AuditInputError(f"no voice feature for utterance(s) {missing}")
    missing = sorted(set(trials["face_path"]) - set(face_features))[:3]
    if missing:
        raise AuditInputError(f"no face feature for face(s) {missing}")

    def unit(x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        return x / max(float(np.linalg.norm(x)), 1e-12)

    v = np.stack([unit(voice_features[u]) for u in trials["utterance_id"]])
    f = np.stack([unit(face_features[p]) for p in trials["face_path"]])
    if v.shape != f.shape:
        raise AuditInputError(f"voice and face features differ in size: {v.shape} vs {f.shape}")
    cos = np.sum(v * f, axis=1)
    return trials.assign(score=cos, l2=np.linalg.norm(v - f, axis=1))


def verification_eer_table(
    trials: pd.DataFrame,
    *,
    heard_language: str,
    n_boot: int = 1000,
    ci_level: float = 0.95,
    random_state: int = 0,
) -> pd.DataFrame:
    """EER per test language (heard / unheard) with speaker-bootstrap intervals.

    Parameters
    ----------
    trials : DataFrame
        Scored trials (:func:`score_trials`): ``speaker_id``, ``language``, ``target``,
        ``score``.
    heard_language : str
        The language the model was trained on; the others are ``unheard``.
    n_boot, ci_level, random_state
        Bootstrap replicates, interval level and seed.

    Returns
    -------
    DataFrame
        One row per test language: ``language``, ``condition`` (``heard`` / ``unheard``),
        ``n_trials``, ``n_speakers``, ``eer``, ``ci_low``, ``ci_high``, ``flags``
        (``single_language_speakers`` when some of its speakers have no other language).
    """
    need = ["speaker_id", "language", "target", "score"]
    missing = [c for c in need if c not in trials.columns]
    if missing:
        raise AuditInputError(f"EER table needs column(s) {missing}")
    trials = trials.reset_index(drop=True)
    codes, langs = pd.factorize(trials["language"], sort=True)
    boot = SpeakerBootstrap(trials["speaker_id"].to_numpy(), n_boot, random_state)
    strata = boot.strata(codes, len(langs))
    spk_of_row = boot.speaker_codes
    target = trials["target"].to_numpy(bool)
    score = trials["score"].to_numpy(float)
    per_speaker = trials.groupby("speaker_id")["language"].nunique()
    reps = np.full((n_boot, len(langs)), np.nan)
    for start in range(0, n_boot, boot.chunk_size):
        stop = min(start + boot.chunk_size, n_boot)
        w = boot.weights(strata, start, stop)  # (chunk, n_speakers)
        for b in range(stop - start):
            row_w = w[b][spk_of_row]
            for g in range(len(langs)):
                m = codes == g
                reps[start + b, g] = equal_error_rate(target[m], score[m], row_w[m])
    rows = []
    n_spk = np.array([trials.loc[codes == g, "speaker_id"].nunique() for g in range(len(langs))])
    low, high = bootstrap_interval(reps, n_spk, ci_level)
    for g, lang in enumerate(langs):
        m = codes == g
        speakers = trials.loc[m, "speaker_id"].unique()
        single = int((per_speaker[speakers] < 2).sum())
        rows.append(
            {
                "language": lang,
                "condition": "heard" if lang == heard_language else "unheard",
                "n_trials": int(m.sum()),
                "n_speakers": int(n_spk[g]),
                "eer": equal_error_rate(target[m], score[m]),
                "ci_low": low[g],
                "ci_high": high[g],
                "flags": "single_language_speakers" if single else "",
            }
        )
    return pd.DataFrame(rows)


def write_challenge_files(
    trials: pd.DataFrame,
    folder: str | os.PathLike[str],
    *,
    heard_language: str,
    names: dict[str, str] | None = None,
) -> list[Path]:
    """Write the challenge's trial lists and score files, one pair per test language.

    ``<Language>_test.txt`` holds ``<trial id> <voice path> <face path>`` lines and
    ``sub_score_<Heard>_heard.txt`` / ``sub_score_<Heard>_unheard.txt`` hold
    ``<trial id> <L2 score>`` (6 decimals), the format of the FAME baseline's
    ``computeScore.py``.

    Parameters
    ----------
    trials : DataFrame
        Scored trials with ``l2``.
    folder : path-like
        Output folder (created).
    heard_language : str
        Training language (ISO code).
    names : dict, optional
        ISO code -> the challenge's language name (default MAV-Celeb's).

    Returns
    -------
    list of pathlib.Path
        Files written.
    """
    names = names or {v: k for k, v in MAVCELEB_LANGUAGES.items()}
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    heard = names.get(heard_language, heard_language)
    written = []
    for lang, part in trials.groupby("language", sort=True):
        name = names.get(lang, lang)
        listing = "".join(f"{r.trial_id} {r.audio_path} {r.face_path}\n" for r in part.itertuples())
        cond = "heard" if lang == heard_language else "unheard"
        scores = "".join(f"{r.trial_id} {r.l2:.6f}\n" for r in part.itertuples())
        for path, text in (
            (folder / f"{name}_test.txt", listing),
            (folder / f"sub_score_{heard}_{cond}.txt", scores),
        ):
            atomic_write_text(path, text)
            written.append(path)
    return written
