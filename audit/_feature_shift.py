"""Within-speaker shift of the predicted face feature between languages (issue 15).

The evaluation stage that holds the predicted features calls :func:`feature_shift_columns`
and stores four per-row columns in the evaluation table (not the features themselves);
:mod:`audit._language_swap` turns them into paired ``feature_shift`` outcomes.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd

from audit.exceptions import AuditInputError

__all__ = ["FEATURE_SHIFT_COLUMNS", "feature_shift_columns"]

#: Per-row columns of the evaluation table that carry the within-speaker feature shift.
FEATURE_SHIFT_COLUMNS: tuple[str, ...] = (
    "feature_shift",
    "feature_shift_relative",
    "feature_shift_excess",
    "feature_shift_base",
)


def _unit_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (a zero row stays zero)."""
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def _between_speaker_spread(speakers: np.ndarray, unit: np.ndarray) -> float:
    """Mean 1 - cosine between two different speakers' mean features (NaN below 2 speakers).

    Over all ``n`` speakers' normalised means ``u_i``: the mean over pairs ``i < j`` of
    ``1 - u_i . u_j`` is ``1 - (|sum u|^2 - n) / (n (n - 1))``.
    """
    means = pd.DataFrame(unit).groupby(speakers, sort=True).mean().to_numpy(float)
    n = len(means)
    if n < 2:
        return float("nan")
    u = _unit_rows(means)
    total = u.sum(axis=0)
    spread = float(1.0 - (total @ total - np.sum(u * u)) / (n * (n - 1)))
    # rounding of the n * D products and sums: below it the speakers do not differ
    return spread if spread > 4 * n * u.shape[1] * np.finfo(float).eps else float("nan")


#: Most language-label splits averaged for the null shift (all of them when there are fewer).
MAX_SPLITS = 200


def _split_null(x: np.ndarray, k: int) -> float:
    """Mean 1 - cosine between the centroids of ``k`` and ``n - k`` rows of ``x`` ``(n, D)``.

    Over every split of the rows when there are at most `MAX_SPLITS` (the exact permutation
    mean), else over `MAX_SPLITS` random splits (seed 0): the shift that relabelling the
    speaker's utterances at random gives, i.e. the shift from utterance-to-utterance variation.
    """
    n = len(x)
    if math.comb(n, k) <= MAX_SPLITS:
        combos = list(itertools.combinations(range(n), k))
    else:
        rng = np.random.default_rng(0)
        combos = [rng.choice(n, size=k, replace=False) for _ in range(MAX_SPLITS)]
    masks = np.zeros((len(combos), n))
    for r, combo in enumerate(combos):
        masks[r, list(combo)] = 1.0
    part = masks @ x  # (splits, D): sums of the k rows (a centroid up to its scale)
    rest = x.sum(axis=0) - part  # (splits, D)
    norms = np.linalg.norm(part, axis=1) * np.linalg.norm(rest, axis=1)
    cos = np.sum(part * rest, axis=1) / np.maximum(norms, 1e-300)
    return float(np.mean(1.0 - cos))


def _speaker_shifts(
    speakers: np.ndarray, languages: np.ndarray, unit: np.ndarray, reference_language: str
) -> tuple[dict[tuple[object, str], tuple[float, float]], dict[object, str]]:
    """(speaker, language) -> (1 - cos(m_language, m_base), its null), speaker -> base."""
    grouped = pd.DataFrame(unit).groupby([speakers, languages], sort=True)
    centroids, rows = grouped.mean(), grouped.indices
    spoken: dict[object, list[str]] = {}
    for spk, lang in centroids.index:
        spoken.setdefault(spk, []).append(lang)
    shift: dict[tuple[object, str], tuple[float, float]] = {}
    base_of: dict[object, str] = {}
    for spk, spoken_by in spoken.items():
        if len(spoken_by) < 2:
            continue
        base = reference_language if reference_language in spoken_by else max(spoken_by)
        base_of[spk] = base
        m_base = _unit_rows(centroids.loc[[(spk, base)]].to_numpy(float))[0]
        for lang in spoken_by:
            if lang == base:
                shift[(spk, lang)] = (0.0, 0.0)
                continue
            m = _unit_rows(centroids.loc[[(spk, lang)]].to_numpy(float))[0]
            both = np.r_[rows[(spk, lang)], rows[(spk, base)]]
            null = _split_null(unit[both], len(rows[(spk, lang)]))
            shift[(spk, lang)] = (float(1.0 - m @ m_base), null)
    return shift, base_of


def feature_shift_columns(
    table: pd.DataFrame, features: np.ndarray, *, reference_language: str = "en"
) -> pd.DataFrame:
    """Per-row within-speaker feature shift, for the evaluation table (columns, not features).

    For a speaker heard in two or more languages, the base language is ``reference_language``
    when the speaker speaks it, otherwise the speaker's alphabetically last language (the
    ``b`` of :func:`paired_differences`'s pairs). Every row of the speaker in language ``l``
    gets ``feature_shift`` = 1 - cos(m_l, m_base), where ``m`` is the speaker's mean of the
    L2-normalised predicted features in that language (0 on the base language's rows),
    ``feature_shift_relative`` = ``feature_shift`` / the between-speaker spread (the mean
    1 - cosine between the mean predicted features of two different speakers, over every
    speaker of the table), ``feature_shift_excess`` = ``feature_shift`` minus its mean over
    the random relabellings of the speaker's utterances in ``l`` and the base language (the
    shift utterance-to-utterance variation alone gives: 0 in expectation when the language
    changes nothing; with one utterance per language it is 0 by construction) and
    ``feature_shift_base``. Rows of speakers heard in one language
    (or without a language) get NaN / ``<NA>``.

    Parameters
    ----------
    table : DataFrame
        Evaluation rows with ``speaker_id`` and ``language``.
    features : ndarray, shape (n_rows, D)
        Predicted face features of the rows.
    reference_language : str
        Base language of every speaker who speaks it.

    Returns
    -------
    DataFrame
        Columns `FEATURE_SHIFT_COLUMNS`, index of ``table``.

    Examples
    --------
    >>> t = pd.DataFrame({"speaker_id": ["s", "s", "t"], "language": ["zh", "en", "en"]})
    >>> f = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> feature_shift_columns(t, f)["feature_shift"].tolist()
    [1.0, 0.0, nan]
    """
    for col in ("speaker_id", "language"):
        if col not in table.columns:
            raise AuditInputError(
                f"the feature shift needs column {col!r}; the table has "
                f"{sorted(map(str, table.columns))}"
            )
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or features.shape[0] != len(table):
        raise AuditInputError(f"features must have shape ({len(table)}, D), got {features.shape}")
    unit = _unit_rows(features)
    speakers = table["speaker_id"].to_numpy()
    langs = table["language"].astype("string")
    keep = langs.notna().to_numpy()
    shift, base_of = _speaker_shifts(
        speakers[keep], langs[keep].to_numpy(), unit[keep], reference_language
    )
    pairs = np.array(
        [shift.get((s, lang), (np.nan, np.nan)) if ok else (np.nan, np.nan)
         for s, lang, ok in zip(speakers, langs.fillna("").to_numpy(), keep, strict=True)]
    ).reshape(len(table), 2)  # fmt: skip
    values = pairs[:, 0]
    spread = _between_speaker_spread(speakers, unit)
    return pd.DataFrame(
        {
            "feature_shift": values,
            "feature_shift_relative": values / spread,  # NaN without a spread
            "feature_shift_excess": values - pairs[:, 1],
            "feature_shift_base": pd.array(
                [
                    base_of.get(s) if np.isfinite(v) else None
                    for s, v in zip(speakers, values, strict=True)
                ],
                dtype="string",
            ),
        },
        index=table.index,
    )
