"""Input-length metrics: similarity and recall@K per input duration, and paired differences.

Each spec says what it is in its record fields (`audit._records`): ``section``
``input_length``, ``base_metric`` (``cos_sim``, ``recall@5``, ...), ``input_seconds`` and,
for the paired difference of a longer duration from the shortest, ``baseline_seconds``.
The ``metric`` strings (``cos_sim (3 s)``, ``cos_sim (6 s - 3 s)``) are display text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pandas as pd

from audit._metrics import _SIMILARITY_DIRECTION, MetricSpec, _check_ks, _ranks, _ratio, rate_spec
from audit._records import (
    BASE_METRIC,
    BASELINE_SECONDS,
    INPUT_LENGTH_TARGET,
    INPUT_SECONDS,
    SECTION,
)

__all__ = ["INPUT_LENGTH_TARGET", "input_length_specs", "input_seconds_columns"]

_SPEECH_SECONDS = re.compile(r"^speech_seconds_(\d+(?:\.\d+)?(?:e[+-]?\d+)?)s$")
#: Per duration: metric name -> (per-row value, valid rows, higher is better).
_Values = dict[str, tuple[np.ndarray, np.ndarray, bool]]


def input_seconds_columns(table: pd.DataFrame) -> dict[float, str]:
    """Input durations of the input-length comparison present in an evaluation table.

    A duration ``d`` is present when the table has ``speech_seconds_<d>s`` (written by
    `audit.build_evaluation_table`); its other columns are ``cos_sim_<d>s``, ``l1_<d>s``,
    ``l2_<d>s`` and ``retrieval_rank_<d>s``.

    Returns
    -------
    dict of float to str
        Seconds -> column suffix (``3.0 -> "3s"``), sorted by seconds.

    Examples
    --------
    >>> import pandas as pd
    >>> input_seconds_columns(pd.DataFrame(columns=["speech_seconds_6s", "speech_seconds_3s"]))
    {3.0: '3s', 6.0: '6s'}
    """
    found = {}
    for col in table.columns:
        match = _SPEECH_SECONDS.match(col) if isinstance(col, str) else None
        if match:
            found[float(match.group(1))] = f"{match.group(1)}s"
    return dict(sorted(found.items()))


def _fields(base: str, seconds: float, baseline: float | None = None) -> dict[str, object]:
    return {
        SECTION: "input_length",
        BASE_METRIC: base,
        INPUT_SECONDS: float(seconds),
        BASELINE_SECONDS: None if baseline is None else float(baseline),
    }


def _difference_spec(
    base: str,
    seconds: tuple[float, float],
    values: tuple[np.ndarray, np.ndarray],
    valid: np.ndarray,
    higher_is_better: bool,
) -> MetricSpec:
    """Paired difference of two means over the same rows: ``mean(later) - mean(first)``.

    ``seconds`` and ``values`` are (later, first); ``valid`` marks the rows that count in
    both, so each speaker's rows enter both terms of every bootstrap replicate.
    """
    (later_s, first_s), (later, first) = seconds, values
    stats = np.column_stack(
        [np.where(valid, later, 0.0), np.where(valid, first, 0.0), valid.astype(np.float64)]
    )

    def func(s: np.ndarray) -> np.ndarray:
        return _ratio(s, 0, 2) - _ratio(s, 1, 2)

    return MetricSpec(
        metric=f"{base} ({later_s:g} s - {first_s:g} s)",
        target=INPUT_LENGTH_TARGET,
        label=None,
        stats=stats,
        valid=valid,
        func=func,
        higher_is_better=higher_is_better,
        binary=False,
        fields=_fields(base, later_s, first_s),
    )


def _duration_specs(
    table: pd.DataFrame, seconds: float, tag: str, ks: Sequence[int]
) -> tuple[list[MetricSpec], _Values]:
    """Similarity and recall@K specs of one duration, and their per-row values."""
    speech = pd.to_numeric(table[f"speech_seconds_{tag}"], errors="coerce").to_numpy(float)
    values: _Values = {}
    out: list[MetricSpec] = []
    for name, higher in _SIMILARITY_DIRECTION.items():
        col = f"{name}_{tag}"
        if col not in table.columns:
            continue
        x = pd.to_numeric(table[col], errors="coerce").to_numpy(dtype=float)
        values[name] = (x, np.isfinite(x), higher)
        spec = rate_spec(
            f"{name} ({seconds:g} s)",
            INPUT_LENGTH_TARGET,
            x,
            np.isfinite(x),
            higher_is_better=higher,
            extras={"speech_seconds": speech},
            binary=False,
        )
        out.append(replace(spec, fields=_fields(name, seconds)))
    if f"retrieval_rank_{tag}" not in table.columns:
        return out, values
    rank, gallery = _ranks(table, f"retrieval_rank_{tag}")
    valid = np.isfinite(rank)
    for k in ks:
        hit = (rank <= k).astype(float)
        values[f"recall@{k}"] = (hit, valid, True)
        with np.errstate(divide="ignore", invalid="ignore"):
            chance = np.minimum(k, gallery) / gallery
        spec = rate_spec(
            f"recall@{k} ({seconds:g} s)",
            INPUT_LENGTH_TARGET,
            hit,
            valid,
            extras={"chance": chance, "gallery_size": gallery, "speech_seconds": speech},
            binary=True,
        )
        out.append(replace(spec, fields=_fields(f"recall@{k}", seconds)))
    return out, values


def input_length_specs(table: pd.DataFrame, ks: Sequence[int] = (1, 2, 5, 10)) -> list[MetricSpec]:
    """Feature similarity and recall@K per input duration, and their paired differences.

    For each duration ``d`` found by `input_seconds_columns`: ``cos_sim (d s)``,
    ``l1 (d s)``, ``l2 (d s)`` (group means) and ``recall@K (d s)`` (share of rows with
    ``retrieval_rank_<d>s <= K``, with ``chance`` and ``gallery_size`` beside it), all with
    target ``input_length`` and the mean seconds of speech used (``speech_seconds``) as an
    extra column. With two or more durations, each longer duration ``b`` also gets the
    paired difference from the shortest ``a``: metric ``<name> (b s - a s)``, the mean over
    the rows valid at both durations of the per-row difference (speaker-bootstrap interval
    as for every metric, so the pairing is accounted for).

    Parameters
    ----------
    table : DataFrame
        Evaluation table.
    ks : sequence of int
        K of recall@K.

    Returns
    -------
    list of MetricSpec
        Empty when the table has no input-length columns.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"cos_sim_3s": [0.1, 0.3], "speech_seconds_3s": [3.0, 2.0],
    ...                   "cos_sim_6s": [0.2, 0.5], "speech_seconds_6s": [6.0, 2.0]})
    >>> specs = input_length_specs(t)
    >>> [s.metric for s in specs]
    ['cos_sim (3 s)', 'cos_sim (6 s)', 'cos_sim (6 s - 3 s)']
    >>> [(s.fields["input_seconds"], s.fields["baseline_seconds"]) for s in specs]
    [(3.0, None), (6.0, None), (6.0, 3.0)]
    """
    _check_ks(ks)
    durations = input_seconds_columns(table)
    values: dict[float, _Values] = {}
    out: list[MetricSpec] = []
    for seconds, tag in durations.items():
        specs, values[seconds] = _duration_specs(table, seconds, tag, ks)
        out += specs
    if len(durations) < 2:
        return out
    first_s, *later_s = durations
    for seconds in later_s:
        for name, (x, valid, higher) in values[seconds].items():
            if name not in values[first_s]:
                continue
            x0, valid0, _ = values[first_s][name]
            out.append(_difference_spec(name, (seconds, first_s), (x, x0), valid & valid0, higher))
    return out
