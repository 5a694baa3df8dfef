"""The change of the language-swap effect between two models (or two arms of seeds).

The language-swap table (`audit.language_swap_table`) gives, per group of bilingual speakers
and language pair ``a-b``, the mean within-speaker shift of an outcome when the speaker talks
in ``a`` instead of ``b`` (for example P(judged Asian) speaking Mandarin minus speaking
English). Two models audited on the same rows have the same speakers, so the change of that
shift from A to B is paired over speakers:

- per speaker, language pair and checkpoint, the shift comes from `audit.paired_differences`;
  a speaker counts for an outcome when every checkpoint's shift is finite, so that every
  model is measured on the same speakers;
- per group, ``shift_a`` and ``shift_b`` are the means over those speakers (averaged over
  each arm's checkpoints), and ``change = shift_b - shift_a``;
- the interval and p-value come from one stratified speaker-cluster bootstrap that draws the
  same speakers for every checkpoint (`audit.stats.SpeakerBootstrap`); with several checkpoints
  per arm the seed-to-seed variance of the group shifts is added as in `audit.compare_arms`
  (`audit._arms_stats.seed_interval`), and ``speaker_ci_*`` keep the interval without it;
- the p-values of the whole table are one family for the comparison's multiple-testing
  correction, as in the language-swap table.

Groups: all bilingual speakers, by ethnicity, by first language and by ethnicity x first
language (those whose columns exist), the language pair always part of the group; groups of
fewer than 2 speakers are left out, groups under the comparison's ``min_group_size`` are
flagged ``insufficient_data``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from audit._arms_stats import seed_interval, seed_spread
from audit._bootstrap import SpeakerBootstrap, bootstrap_interval, bootstrap_p_value
from audit._compare_settings import CompareSettings
from audit._language_swap import paired_differences
from audit._multitest import adjust_p_values
from audit.exceptions import MismatchedRowsError

__all__ = ["SWAP_CHANGE_COLUMNS", "swap_change_table"]

#: Columns of the ``language_swap_change`` table, in order.
SWAP_CHANGE_COLUMNS: tuple[str, ...] = (
    "grouping",
    "group",
    "language_pair",
    "language_a",
    "language_b",
    "outcome",
    "n_speakers",
    "shift_a",
    "shift_b",
    "change",
    "ci_low",
    "ci_high",
    "p_value",
    "p_adjusted",
    "significant",
    "n_seeds_a",
    "n_seeds_b",
    "seed_sd",
    "speaker_ci_low",
    "speaker_ci_high",
    "flags",
)
_GROUPINGS: tuple[tuple[str, ...], ...] = (
    (),
    ("ethnicity",),
    ("first_language",),
    ("ethnicity", "first_language"),
)
_KEYS = ("speaker_id", "language_pair")
_MIN_SPEAKERS = 2


def _empty() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=object) for c in SWAP_CHANGE_COLUMNS})


@dataclass(frozen=True, kw_only=True)
class _Pairs:
    """Per (speaker, language pair) shifts of every checkpoint, on common speakers."""

    frame: pd.DataFrame  # the first checkpoint's pairs (speaker attributes, languages)
    names: list[str]  # outcomes
    shifts: np.ndarray  # (checkpoints, pairs, outcomes); 0 where not valid
    valid: np.ndarray  # (pairs, outcomes): finite for every checkpoint
    k_a: int


def _pairs(tables: Sequence[pd.DataFrame], k_a: int) -> _Pairs | None:
    """Within-speaker shifts of each checkpoint, checked to describe the same pairs."""
    diffs = [paired_differences(t) for t in tables]
    first = diffs[0]
    if first.empty:
        return None
    keys = first[list(_KEYS)].astype(str).to_numpy()
    for i, d in enumerate(diffs[1:], start=1):
        if len(d) != len(first) or not np.array_equal(d[list(_KEYS)].astype(str).to_numpy(), keys):
            raise MismatchedRowsError(
                f"checkpoint {i} has other bilingual speakers or language pairs than "
                "checkpoint 0; compare audits of the same rows"
            )
    names = [
        c
        for c in first.columns
        if c.startswith(("p_judged_", "agree_", "cos_sim", "feature_shift"))
    ]
    names = [n for n in names if ":" not in n and all(n in d.columns for d in diffs)]
    values = np.stack([d[names].to_numpy(np.float64) for d in diffs])
    valid = np.isfinite(values).all(axis=0)
    return _Pairs(
        frame=first,
        names=names,
        shifts=np.where(valid, values, 0.0),
        valid=valid,
        k_a=k_a,
    )


def _group_codes(frame: pd.DataFrame, columns: tuple[str, ...]) -> tuple[np.ndarray, list]:
    keys = frame[[*columns, "language_pair"]].astype("string").fillna("(missing)")
    tuples = list(keys.itertuples(index=False, name=None))
    codes, uniques = pd.factorize(pd.Series(tuples, dtype=object), sort=True)
    return codes.astype(np.int64), list(uniques)


def _estimates(
    pairs: _Pairs, codes: np.ndarray, n_groups: int, boot: SpeakerBootstrap, cfg: CompareSettings
) -> dict[str, np.ndarray]:
    """Per-seed group shifts, arm means, change and its intervals; arrays (groups, outcomes)."""
    t, _, k = pairs.shifts.shape
    stacked = np.concatenate([*pairs.shifts, pairs.valid.astype(np.float64)], axis=1)
    point, reps = boot.group_sums(stacked, codes, n_groups)
    n = point[:, t * k :]  # (groups, K) speakers per group and outcome
    with np.errstate(invalid="ignore", divide="ignore"):
        seeds = np.stack([point[:, i * k : (i + 1) * k] / n for i in range(t)])
        rep_n = reps[:, :, t * k :]
        rep_seeds = np.stack([reps[:, :, i * k : (i + 1) * k] / rep_n for i in range(t)])
    ka = pairs.k_a
    shift_a, shift_b = seeds[:ka].mean(axis=0), seeds[ka:].mean(axis=0)
    change = shift_b - shift_a
    rep_change = rep_seeds[ka:].mean(axis=0) - rep_seeds[:ka].mean(axis=0)
    shape = change.shape
    low, high = bootstrap_interval(rep_change, n, cfg.ci_level, cfg.ci_method)  # type: ignore[arg-type]
    p = bootstrap_p_value(change, rep_change, n)
    out = {"n": n, "shift_a": shift_a, "shift_b": shift_b, "change": change}
    out.update(speaker_ci_low=low, speaker_ci_high=high, ci_low=low, ci_high=high, p_value=p)
    flat_seeds = seeds.reshape(t, -1)
    out["seed_sd"] = seed_spread(flat_seeds[:ka], flat_seeds[ka:])["seed_sd"].reshape(shape)
    if t > 2:  # some arm has two or more seeds: add the seed variance
        with_seeds = seed_interval(
            change.ravel(),
            rep_change.reshape(len(rep_change), -1),
            n.ravel(),
            flat_seeds[:ka],
            flat_seeds[ka:],
            cfg.ci_level,
        )
        for name in ("ci_low", "ci_high", "p_value"):
            out[name] = with_seeds[name].reshape(shape)
    return out


def _grouping_rows(
    pairs: _Pairs, columns: tuple[str, ...], boot: SpeakerBootstrap, cfg: CompareSettings
) -> list[dict]:
    """Rows of one grouping: every group (with its language pair) and outcome."""
    codes, keys = _group_codes(pairs.frame, columns)
    e = _estimates(pairs, codes, len(keys), boot, cfg)
    n_seeds = {"n_seeds_a": pairs.k_a, "n_seeds_b": len(pairs.shifts) - pairs.k_a}
    rows = []
    for g, key in enumerate(keys):
        if np.unique(pairs.frame.loc[codes == g, "speaker_id"]).size < _MIN_SPEAKERS:
            continue
        *labels, pair = key
        a, b = str(pair).split("-", 1)
        for j, name in enumerate(pairs.names):
            n = int(e["n"][g, j])
            flags = ["insufficient_data"] if n < cfg.min_group_size else []
            sd, change = e["seed_sd"][g, j], e["change"][g, j]
            if not flags and np.isfinite(sd) and np.isfinite(change) and sd > abs(change):
                flags.append("seed_spread_exceeds_difference")
            rows.append(
                {
                    "grouping": " x ".join(columns) or "all",
                    "group": " x ".join([*map(str, labels), str(pair)]),
                    "language_pair": str(pair),
                    "language_a": a,
                    "language_b": b,
                    "outcome": name,
                    "n_speakers": n,
                    **{c: float(e[c][g, j]) for c in ("shift_a", "shift_b", "change")},
                    **{c: float(e[c][g, j]) for c in ("ci_low", "ci_high", "p_value")},
                    **n_seeds,
                    "seed_sd": float(sd),
                    "speaker_ci_low": float(e["speaker_ci_low"][g, j]),
                    "speaker_ci_high": float(e["speaker_ci_high"][g, j]),
                    "flags": flags,
                }
            )
    return rows


def swap_change_table(
    tables_a: Sequence[pd.DataFrame], tables_b: Sequence[pd.DataFrame], cfg: CompareSettings
) -> pd.DataFrame:
    """Change of the language-swap shift from arm A to arm B, per group and outcome.

    Parameters
    ----------
    tables_a, tables_b : sequence of DataFrame
        Aligned evaluation tables (same rows) of arm A's checkpoints and arm B's.
    cfg : CompareSettings
        The comparison's settings (n_boot, ci_level, ci_method, correction, random_state,
        min_group_size).

    Returns
    -------
    DataFrame
        Columns `SWAP_CHANGE_COLUMNS` (see the module docstring); ``significant`` when the
        adjusted p is below ``1 - ci_level`` (also in ``flags``). Empty when no speaker is
        heard in two languages or the tables have no ``language`` column.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> a = pd.DataFrame({"utterance_id": [f"u{i}" for i in range(40)],
    ...                   "speaker_id": np.repeat([f"s{i}" for i in range(10)], 4),
    ...                   "language": ["zh", "zh", "en", "en"] * 10, "ethnicity": "Asian",
    ...                   "cos_sim": rng.normal(0.5, 0.05, 40)})
    >>> drop = rng.normal(0.1, 0.02, 40) * (a["language"] == "zh")  # B: lower when speaking zh
    >>> b = a.assign(cos_sim=a["cos_sim"] - drop)
    >>> out = swap_change_table([a], [b], CompareSettings(n_boot=100, min_group_size=5))
    >>> out.loc[0, ["group", "outcome"]].tolist(), int(out.loc[0, "n_speakers"])
    (['zh-en', 'cos_sim'], 10)
    >>> round(float(out.loc[0, "change"]), 2), bool(out.loc[0, "significant"])
    (-0.1, True)
    """
    tables = [*tables_a, *tables_b]
    if any("language" not in t.columns for t in tables):
        return _empty()
    pairs = _pairs(tables, len(tables_a))
    if pairs is None or not pairs.names:
        return _empty()
    boot = SpeakerBootstrap(pairs.frame["speaker_id"].to_numpy(), cfg.n_boot, cfg.seed)
    rows: list[dict] = []
    for columns in _GROUPINGS:
        if all(c in pairs.frame.columns for c in columns):
            rows += _grouping_rows(pairs, columns, boot, cfg)
    if not rows:
        return _empty()
    out = pd.DataFrame(rows)
    out["p_adjusted"] = adjust_p_values(out["p_value"].to_numpy(np.float64), cfg.correction)  # type: ignore[arg-type]
    out["significant"] = out["p_adjusted"] < (1 - cfg.ci_level)
    out["flags"] = [
        [*flags, "significant"] if sig else flags
        for flags, sig in zip(out["flags"], out["significant"], strict=True)
    ]
    return out[list(SWAP_CHANGE_COLUMNS)]
