"""Language swap: the paired, within-speaker effect of the language spoken on the face.

A speaker heard in two languages (a bias-lab bilingual speaker, or any real speaker with
utterances in several languages) gives a counterfactual: same voice, same face, another
language. For every such speaker and language pair ``a-b`` the table takes the speaker's mean
outcome over the utterances in ``a`` minus the mean over those in ``b`` (``b`` is the reference
language, English by default, when the pair has it; otherwise the pair is in alphabetical
order), then averages these paired differences over the speakers of a group.

Outcomes (those whose columns the evaluation table has):

- ``p_judged_<attr>=<label>``: the judge's probability of ``label`` for the reconstruction
  (``recon_<attr>_p_<label>``), e.g. ``p_judged_ethnicity=Asian``;
- ``agree_<attr>``: the judged label of the reconstruction equals the judged label of the
  true face (``recon_<attr> == true_<attr>``);
- ``cos_sim``: cosine of the predicted face feature to the speaker's own face feature;
- ``feature_shift``: 1 - cosine between the speaker's mean L2-normalised predicted face
  feature in ``a`` and in ``b``, and ``feature_shift_relative``, the same divided by the
  between-speaker spread (the mean 1 - cosine between two different speakers' mean predicted
  features): 1 means the language moves the prediction as far as swapping the speaker does.
  The evaluation stage that holds the features writes them as per-row columns
  (:func:`feature_shift_columns`); ``features=`` computes them here. Both are >= 0 by
  construction, so they get an interval but no p-value. ``feature_shift_excess`` is the
  shift minus its mean over random relabellings of the speaker's utterances (the part that
  utterance-to-utterance variation does not explain): 0 in expectation when the language
  changes nothing, so it gets a p-value.

Groups: every speaker's pair falls in ``all`` and in each grouping of speaker attributes
(ethnicity, first language and their intersections with gender and age group); the language
pair is always part of the group. ``group`` is display text (the attribute values and the
pair joined by " x "); ``speaker_group`` holds the same attribute values as a mapping
(attribute -> value, empty for ``all``), so readers never split the text. Intervals and
p-values come from the stratified speaker-cluster bootstrap
(:class:`audit.stats.SpeakerBootstrap`, one row per speaker and pair), and the p-values of
the whole table form one family for the multiple-testing correction.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from audit._bootstrap import (
    SpeakerBootstrap,
    bootstrap_interval,
    bootstrap_p_value,
    check_random_state,
)
from audit._feature_shift import FEATURE_SHIFT_COLUMNS, feature_shift_columns
from audit._multitest import CORRECTIONS, Correction, adjust_p_values
from audit._settings import with_options
from audit.exceptions import AuditInputError

__all__ = [
    "FEATURE_SHIFT_COLUMNS",
    "LANGUAGE_SWAP_COLUMNS",
    "LanguageSwapSettings",
    "feature_shift_columns",
    "language_swap_table",
    "paired_differences",
]

#: Columns of the language-swap table, in order.
LANGUAGE_SWAP_COLUMNS: tuple[str, ...] = (
    "grouping",
    "group",
    "language_pair",
    "language_a",
    "language_b",
    "outcome",
    "n_speakers",
    "mean_a",
    "mean_b",
    "shift",
    "ci_low",
    "ci_high",
    "p_value",
    "p_adjusted",
    "significant",
    "speaker_group",
)
_EMPTY_DTYPES = {
    "n_speakers": "int64",
    "significant": "bool",
    **{
        c: "float64"
        for c in ("mean_a", "mean_b", "shift", "ci_low", "ci_high", "p_value", "p_adjusted")
    },
}
#: Outcomes that are >= 0 by construction: an interval, no p-value.
_NONNEGATIVE_OUTCOMES = ("feature_shift", "feature_shift_relative")
#: Outcomes read from the feature-shift columns: measured from the speaker's base language.
_SHIFT_OUTCOMES = (*_NONNEGATIVE_OUTCOMES, "feature_shift_excess")
_SPEAKER_ATTRIBUTES = ("ethnicity", "first_language", "gender", "age_group")
_DEFAULT_GROUPINGS: tuple[tuple[str, ...], ...] = (
    (),
    ("ethnicity",),
    ("first_language",),
    ("ethnicity", "first_language"),
    ("ethnicity", "gender"),
    ("ethnicity", "age_group"),
)


def _pair(a: str, b: str, reference: str) -> tuple[str, str]:
    if a == reference:
        return b, a
    if b == reference:
        return a, b
    return (a, b) if a < b else (b, a)


def _check_columns(table: pd.DataFrame) -> None:
    for col in ("speaker_id", "language"):
        if col not in table.columns:
            raise AuditInputError(
                f"language swap needs column {col!r}; the evaluation table has "
                f"{sorted(map(str, table.columns))}"
            )


def _outcomes(table: pd.DataFrame) -> pd.DataFrame:
    """Per-utterance outcome columns (float; NaN where undefined)."""
    out: dict[str, np.ndarray] = {}
    judged: list[str] = []
    for col in table.columns:
        if col.startswith("recon_") and "_p_" in col:
            attr, label = col[len("recon_") :].split("_p_", 1)
            judged += [attr] if attr not in judged else []
            values = pd.to_numeric(table[col], errors="coerce").to_numpy(float)
            out[f"p_judged_{attr}={label}"] = values
    for attr in judged:
        if f"recon_{attr}" not in table.columns or f"true_{attr}" not in table.columns:
            continue
        recon = table[f"recon_{attr}"].astype("string")
        true = table[f"true_{attr}"].astype("string")
        ok = (recon.notna() & true.notna()).to_numpy()
        agree = (recon == true).fillna(False).to_numpy(bool).astype(float)
        out[f"agree_{attr}"] = np.where(ok, agree, np.nan)
    for col in ("cos_sim", *_SHIFT_OUTCOMES):
        if col in table.columns:
            out[col] = pd.to_numeric(table[col], errors="coerce").to_numpy(float)
    return pd.DataFrame(out, index=table.index)


def _nanmean(x: np.ndarray) -> float:
    """Mean of the finite entries; NaN (no warning) when there are none."""
    x = x[np.isfinite(x)]
    return float(x.mean()) if x.size else np.nan


@dataclass(frozen=True, kw_only=True)
class _SpeakerLanguageMeans:
    """Outcome means per (speaker, language), in sorted order, with what a pair row needs."""

    names: list[str]
    values: np.ndarray  # (speaker-language cells, outcomes)
    counts: np.ndarray  # utterances per cell
    position: dict[tuple[object, str], int]
    spoken: dict[object, list[str]]
    attributes: pd.DataFrame  # speaker -> speaker attributes (first row)
    base: dict[object, str]  # speaker -> base language of the feature-shift columns


def _speaker_language_means(table: pd.DataFrame) -> _SpeakerLanguageMeans:
    outcomes = _outcomes(table)
    langs = table["language"].astype("string")
    keep = langs.notna().to_numpy()
    attrs = [c for c in _SPEAKER_ATTRIBUTES if c in table.columns]
    keys = [table["speaker_id"][keep].to_numpy(), langs[keep].to_numpy()]
    # (speaker, language) means in one pass; a mean over no finite value is NaN
    means = outcomes[keep].groupby(keys, sort=True).mean()
    counts = outcomes[keep].groupby(keys, sort=True).size()
    spoken: dict[object, list[str]] = {}
    for spk, lang in means.index:
        spoken.setdefault(spk, []).append(lang)
    base: dict[object, str] = {}
    if "feature_shift_base" in table.columns:
        bases = table.loc[keep, ["speaker_id", "feature_shift_base"]].dropna()
        base = dict(zip(bases["speaker_id"], bases["feature_shift_base"], strict=True))
    return _SpeakerLanguageMeans(
        names=list(outcomes.columns),
        values=means.to_numpy(float),
        counts=counts.to_numpy(),
        position={key: i for i, key in enumerate(means.index)},
        spoken=spoken,
        attributes=table.loc[keep, ["speaker_id", *attrs]].groupby("speaker_id").first(),
        base=base,
    )


def _pair_row(
    cells: _SpeakerLanguageMeans,
    spk: object,
    pair: tuple[str, str],
    *,
    reference_language: str,
    table_has_l1: bool,
) -> dict[str, object]:
    """Return the paired-difference row of one speaker and language pair ``(a, b)``."""
    a, b = pair
    ia, ib = cells.position[(spk, a)], cells.position[(spk, b)]
    row: dict[str, object] = {
        "speaker_id": spk,
        "language_a": a,
        "language_b": b,
        "language_pair": f"{a}-{b}",
        **cells.attributes.loc[spk].to_dict(),
        "n_a": int(cells.counts[ia]),
        "n_b": int(cells.counts[ib]),
    }
    if not table_has_l1:
        row["first_language"] = a if b == reference_language else "(unknown)"
    for j, name in enumerate(cells.names):
        ma, mb = cells.values[ia, j], cells.values[ib, j]
        if name in _SHIFT_OUTCOMES and cells.base.get(spk) != b:
            ma = mb = np.nan  # the columns measure from the base language only
        row.update({f"{name}:a": ma, f"{name}:b": mb, name: ma - mb})
    return row


def paired_differences(
    table: pd.DataFrame,
    *,
    features: np.ndarray | None = None,
    reference_language: str = "en",
) -> pd.DataFrame:
    """One row per (speaker, language pair): the within-speaker difference of each outcome.

    Parameters
    ----------
    table : DataFrame
        Per-utterance evaluation table with ``speaker_id`` and ``language``.
    features : ndarray, shape (n_rows, D), optional
        Predicted face features of the rows: computes the feature-shift columns
        (:func:`feature_shift_columns`) in place of any the table has.
    reference_language : str
        Second language of every pair that contains it.

    Returns
    -------
    DataFrame
        ``speaker_id``, ``language_a``, ``language_b``, ``language_pair`` (``"a-b"``), the
        speaker attributes present, ``n_a``, ``n_b``, and per outcome ``<o>:a``, ``<o>:b`` and
        ``<o>`` (the difference a - b). Empty when no speaker has two languages. The
        feature-shift outcomes are defined for pairs whose ``b`` is the speaker's base
        language (NaN otherwise).

    Examples
    --------
    >>> t = pd.DataFrame({"utterance_id": list("wxyz"), "speaker_id": ["s", "s", "s", "t"],
    ...                   "language": ["zh", "en", "en", "en"], "cos_sim": [0.2, 0.5, 0.3, 0.1]})
    >>> d = paired_differences(t)
    >>> d["language_pair"].tolist(), round(float(d["cos_sim"].iloc[0]), 3)
    (['zh-en'], -0.2)
    """
    _check_columns(table)
    table = table.reset_index(drop=True)
    if features is not None:
        shift = feature_shift_columns(table, features, reference_language=reference_language)
        table = table.drop(columns=list(FEATURE_SHIFT_COLUMNS), errors="ignore").join(shift)
    cells = _speaker_language_means(table)
    has_l1 = "first_language" in table.columns
    rows = [
        _pair_row(
            cells,
            spk,
            _pair(a, b, reference_language),
            reference_language=reference_language,
            table_has_l1=has_l1,
        )
        for spk, languages in cells.spoken.items()
        for a, b in itertools.combinations(sorted(languages), 2)
    ]
    return pd.DataFrame(rows)


def _group_codes(pairs: pd.DataFrame, columns: tuple[str, ...]) -> tuple[np.ndarray, list]:
    keys = pairs[[*columns, "language_pair"]].astype("string").fillna("(missing)")
    tuples = list(keys.itertuples(index=False, name=None))
    codes, uniques = pd.factorize(pd.Series(tuples, dtype=object), sort=True)
    return codes.astype(np.int64), list(uniques)


@dataclass(frozen=True, kw_only=True)
class _PairedOutcomes:
    """The paired differences as arrays, with the bootstrap over their speakers."""

    pairs: pd.DataFrame
    names: list[str]
    values: np.ndarray  # (pairs, 2K): differences with NaN as 0, then validity indicators
    ab: np.ndarray  # (pairs, 2K): per outcome the mean in a, then in b
    boot: SpeakerBootstrap
    ci_level: float
    min_speakers: int


def _paired_outcomes(
    pairs: pd.DataFrame, *, n_boot: int, seed: int, ci_level: float, min_speakers: int
) -> _PairedOutcomes:
    fixed = {
        "speaker_id",
        "language_a",
        "language_b",
        "language_pair",
        "n_a",
        "n_b",
        *_SPEAKER_ATTRIBUTES,
    }
    names = [c for c in pairs.columns if c not in fixed and ":" not in c]
    diffs = pairs[names].to_numpy(float)
    valid = np.isfinite(diffs)
    return _PairedOutcomes(
        pairs=pairs,
        names=names,
        values=np.concatenate([np.where(valid, diffs, 0.0), valid.astype(float)], axis=1),
        ab=pairs[[f"{n}:{s}" for n in names for s in "ab"]].to_numpy(float),
        boot=SpeakerBootstrap(pairs["speaker_id"].to_numpy(), n_boot, seed),
        ci_level=ci_level,
        min_speakers=min_speakers,
    )


def _empty_table() -> pd.DataFrame:
    return pd.DataFrame(
        {c: pd.Series(dtype=_EMPTY_DTYPES.get(c, object)) for c in LANGUAGE_SWAP_COLUMNS}
    )


@dataclass(frozen=True, kw_only=True)
class LanguageSwapSettings:
    """Settings of :func:`language_swap_table` (each also a keyword argument of it).

    Parameters
    ----------
    groupings : sequence of sequence of str, optional
        Speaker-attribute groupings; ``()`` is every speaker. Default: all, ethnicity, first
        language, ethnicity x first language, ethnicity x gender, ethnicity x age group
        (those whose columns exist).
    reference_language : str
        Language ``b`` of every pair that contains it.
    n_boot : int
        Bootstrap replicates.
    ci_level : float
        Interval level; ``1 - ci_level`` is the significance level of ``significant``.
    correction : {"holm", "bh", "none"}
        Multiple-testing correction over every p-value of the table (one family).
    min_speakers : int
        Groups with fewer speakers are left out.
    random_state : int
        Seed of the bootstrap.
    """

    groupings: Sequence[Sequence[str]] | None = None
    reference_language: str = "en"
    n_boot: int = 1000
    ci_level: float = 0.95
    correction: Correction = "holm"
    min_speakers: int = 2
    random_state: int = 0


def language_swap_table(
    table: pd.DataFrame,
    settings: LanguageSwapSettings | None = None,
    *,
    features: np.ndarray | None = None,
    **options: Any,
) -> pd.DataFrame:
    """Paired language-swap shifts per group, with bootstrap intervals and adjusted p-values.

    Parameters
    ----------
    table : DataFrame
        Per-utterance evaluation table (``speaker_id``, ``language``, outcome columns).
    settings : LanguageSwapSettings, optional
        The settings; the defaults when omitted.
    features : ndarray, shape (n_rows, D), optional
        Predicted face features of the rows (computes the feature-shift outcomes; an
        evaluation table written by the audit carries them as columns already).
    **options
        Fields of :class:`LanguageSwapSettings` (``groupings``, ``reference_language``,
        ``n_boot``, ``ci_level``, ``correction``, ``min_speakers``, ``random_state``),
        overriding ``settings``.

    Returns
    -------
    DataFrame
        Columns `LANGUAGE_SWAP_COLUMNS`, one row per (grouping, group, language pair,
        outcome); ``shift`` is the mean over speakers of (outcome in a) - (outcome in b).
        Empty (with these columns) when no speaker has utterances in two languages.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> t = pd.DataFrame({"utterance_id": [f"u{i}" for i in range(40)],
    ...                   "speaker_id": np.repeat([f"s{i}" for i in range(10)], 4),
    ...                   "language": ["zh", "zh", "en", "en"] * 10,
    ...                   "ethnicity": "Asian", "cos_sim": rng.normal(0.5, 0.05, 40)})
    >>> out = language_swap_table(t, n_boot=200)
    >>> out.loc[0, ["grouping", "group", "outcome"]].tolist(), int(out.loc[0, "n_speakers"])
    (['all', 'zh-en', 'cos_sim'], 10)
    """
    opts = with_options(LanguageSwapSettings, settings, options, "language_swap_table")
    seed = check_random_state(opts.random_state)
    if opts.correction not in CORRECTIONS:
        raise AuditInputError(f"correction must be one of {CORRECTIONS}, got {opts.correction!r}")
    if not 0 < opts.ci_level < 1:
        raise AuditInputError(f"ci_level must be in (0, 1), got {opts.ci_level!r}")
    pairs = paired_differences(table, features=features, reference_language=opts.reference_language)
    if pairs.empty:
        return _empty_table()
    data = _paired_outcomes(
        pairs, n_boot=opts.n_boot, seed=seed, ci_level=opts.ci_level,
        min_speakers=opts.min_speakers,
    )  # fmt: skip
    groupings = opts.groupings
    if groupings is None:
        groupings = [g for g in _DEFAULT_GROUPINGS if all(c in pairs.columns for c in g)]
    parts = [_grouping_rows(data, _checked_grouping(pairs, columns)) for columns in groupings]
    out = pd.concat(parts, ignore_index=True)
    out["p_adjusted"] = adjust_p_values(out["p_value"].to_numpy(float), opts.correction)
    out["significant"] = out["p_adjusted"] < (1 - opts.ci_level)
    return out[list(LANGUAGE_SWAP_COLUMNS)]


def _checked_grouping(pairs: pd.DataFrame, columns: Sequence[str]) -> tuple[str, ...]:
    columns = tuple(columns)
    missing = [c for c in columns if c not in pairs.columns]
    if missing:
        raise AuditInputError(
            f"language-swap grouping {columns} needs speaker attribute(s) {missing}; "
            f"available: {[c for c in _SPEAKER_ATTRIBUTES if c in pairs.columns]}"
        )
    return columns


def _grouping_rows(data: _PairedOutcomes, columns: tuple[str, ...]) -> pd.DataFrame:
    """Rows of one grouping: point shift, interval and p-value per group and outcome."""
    codes, keys = _group_codes(data.pairs, columns)
    names, values, k = data.names, data.values, len(data.names)
    point, reps = data.boot.group_sums(values, codes, len(keys))
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = point[:, :k] / point[:, k:]  # (groups, K)
        rep_mean = reps[:, :, :k] / reps[:, :, k:]  # (n_boot, groups, K)
    speakers = data.pairs["speaker_id"]
    n_spk = np.array([speakers[codes == g].nunique() for g in range(len(keys))])
    n_valid = point[:, k:]
    low, high = bootstrap_interval(rep_mean, np.broadcast_to(n_valid, mean.shape), data.ci_level)
    p = bootstrap_p_value(mean, rep_mean, n_valid)
    rows = []
    for g, key in enumerate(keys):
        if n_spk[g] < data.min_speakers:
            continue
        *labels, pair = key
        a, b = pair.split("-", 1)
        for j, name in enumerate(names):
            sel = (codes == g) & np.isfinite(values[:, j]) & (values[:, k + j] > 0)
            rows.append(
                {
                    "grouping": " x ".join(columns) or "all",
                    "group": " x ".join([*labels, pair]),
                    "language_pair": pair,
                    "language_a": a,
                    "language_b": b,
                    "outcome": name,
                    "n_speakers": int(n_valid[g, j]),
                    "mean_a": _nanmean(data.ab[sel, 2 * j]),
                    "mean_b": _nanmean(data.ab[sel, 2 * j + 1]),
                    "shift": mean[g, j],
                    "ci_low": low[g, j],
                    "ci_high": high[g, j],
                    "p_value": np.nan if name in _NONNEGATIVE_OUTCOMES else p[g, j],
                    "speaker_group": dict(zip(columns, labels, strict=True)),
                }
            )
    return pd.DataFrame(rows)
