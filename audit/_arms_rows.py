"""Rows of an arm comparison: one record per metric, group and table, with seed columns.

`audit.compare_arms` computes per key the arm means, differences, changes of the gaps and
their intervals (`audit._arms`); these functions turn one group of them into the records of
``paired`` and ``disparity_change``, and name the seed columns that
`audit.compare_evaluations` leaves out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from audit._compare_focus import unchanged_flags

__all__ = ["SEED_COLUMNS", "base_flags", "change_row", "paired_row", "without_seed_columns"]

#: Columns that an arm comparison adds to ``paired`` and ``disparity_change`` (seed spread,
#: the interval without seed variance and the standard errors); ``value`` / ``gap`` parts
#: name the per-arm spread of a value (``paired``) or of a gap (``disparity_change``).
SEED_COLUMNS: tuple[str, ...] = (
    "n_seeds_a",
    "n_seeds_b",
    *(
        f"{what}_{arm}_seed_{stat}"
        for what in ("value", "gap")
        for arm in "ab"
        for stat in ("sd", "min", "max")
    ),
    "seed_sd",
    "speaker_ci_low",
    "speaker_ci_high",
    "speaker_p_value",
    "speaker_se",
    "seed_se",
    "df",
    "seed_verdict",
)


def without_seed_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` without the `SEED_COLUMNS` it has (the single-checkpoint comparison)."""
    return frame.drop(columns=[c for c in SEED_COLUMNS if c in frame.columns])


def base_flags(n_utt: int, n_spk: int, min_group_size: int) -> list[str]:
    """``["empty"]``, ``["insufficient_data"]`` or no flag for a group of this size."""
    if n_utt == 0:
        return ["empty"]
    if n_spk < min_group_size:
        return ["insufficient_data"]
    return []


def paired_row(
    base: dict,
    e: Mapping[str, object],
    mcn: tuple | None,
    g: int,
    flags: list[str],
    seeds: tuple[int, int],
) -> dict:
    """Record of group ``g`` in ``paired``: arm means, difference, interval, seed columns.

    ``e`` holds one key's estimates (`audit._arms`), ``mcn`` McNemar's counts or None,
    ``flags`` the group's size flags and ``seeds`` the checkpoints per arm.
    """
    d, spread = e["d"], e["spread_v"]
    paired_flags = flags if mcn else [*flags, "mcnemar_not_applicable"]
    return {
        **base,
        "value_a": float(e["va"][g]),
        "value_b": float(e["vb"][g]),
        "difference": float(e["diff"][g]),
        "diff_ci_low": float(d["ci_low"][g]),
        "diff_ci_high": float(d["ci_high"][g]),
        "p_value": float(d["p_value"][g]),
        "p_adjusted": np.nan,
        "mcnemar_b": float(mcn[0][g]) if mcn else np.nan,
        "mcnemar_c": float(mcn[1][g]) if mcn else np.nan,
        "mcnemar_p": float(mcn[2][g]) if mcn else np.nan,
        "flags": paired_flags
        + (["degenerate_ci"] if d["degenerate"][g] else [])
        + _seed_flags(d, spread, e["diff"], g, flags),
        **_seed_columns(d, spread, g, *seeds, "value"),
    }


def change_row(
    base: dict, e: Mapping[str, object], g: int, flags: list[str], seeds: tuple[int, int]
) -> dict:
    """Record of group ``g`` in ``disparity_change``: gaps, change of size, seed columns."""
    c, spread = e["c"], e["spread_g"]
    same = unchanged_flags(e["va"][g], e["vb"][g])  # the arm means
    return {
        **base,
        "disparity_a": float(e["gap_a"][g]),
        "disparity_b": float(e["gap_b"][g]),
        "change": float(e["change"][g]),
        "change_ci_low": float(c["ci_low"][g]),
        "change_ci_high": float(c["ci_high"][g]),
        "p_value": np.nan if same else float(c["p_value"][g]),
        "p_adjusted": np.nan,
        "flags": flags
        + same
        + (["degenerate_ci"] if c["degenerate"][g] else [])
        + _seed_flags(c, spread, e["change"], g, flags),
        **_seed_columns(c, spread, g, *seeds, "gap"),
    }


def _seed_flags(
    interval: Mapping[str, np.ndarray],
    spread: Mapping[str, np.ndarray],
    estimate: np.ndarray,
    g: int,
    flags: Sequence[str],
) -> list[str]:
    out = []
    if interval["one_arm"][g]:
        out.append("seed_variance_from_one_arm")
    sd = spread["seed_sd"][g]
    if not flags and np.isfinite(sd) and np.isfinite(estimate[g]) and sd > abs(estimate[g]):
        out.append("seed_spread_exceeds_difference")
    return out


def _seed_columns(
    interval: Mapping[str, np.ndarray],
    spread: Mapping[str, np.ndarray],
    g: int,
    k_a: int,
    k_b: int,
    what: str,
) -> dict[str, float | int]:
    out: dict[str, float | int] = {"n_seeds_a": k_a, "n_seeds_b": k_b}
    for arm in ("a", "b"):
        for stat in ("sd", "min", "max"):
            out[f"{what}_{arm}_seed_{stat}"] = float(spread[f"{stat}_{arm}"][g])
    out["seed_sd"] = float(spread["seed_sd"][g])
    for name in (
        "speaker_ci_low",
        "speaker_ci_high",
        "speaker_p_value",
        "speaker_se",
        "seed_se",
        "df",
    ):
        out[name] = float(interval[name][g])
    return out
