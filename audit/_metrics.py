"""Metric definitions: each metric is a function of group totals of per-row statistics.

A `MetricSpec` holds an ``(n_rows, K)`` array of per-row statistics and a function that maps
totals ``(..., K)`` to the metric ``(...)``. Point estimates apply it to the group totals,
bootstrap replicates to the replicate totals (see `audit.stats.SpeakerBootstrap`), so one sparse
matrix product per grouping serves every metric.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from audit._labels import (
    _PROB,
    _labels_of,
    _pair_codes,
    detect_measures,
    detect_targets,
    label_vocabulary,
    recorded_labels,
)
from audit._records import SECTION
from audit.exceptions import AuditInputError

__all__ = [
    "MetricSpec",
    "agreement_specs",
    "calibration_specs",
    "cohen_kappa_from_counts",
    "confusion_spec",
    "detect_measures",
    "detect_targets",
    "ece_from_sums",
    "label_vocabulary",
    "rate_spec",
    "retrieval_specs",
    "similarity_specs",
]


@dataclass(frozen=True, kw_only=True)
class MetricSpec:
    """One metric as a function of group totals.

    Attributes
    ----------
    metric : str
        Metric name (``agreement``, ``kappa``, ``recall@5``, ...).
    target : str
        What it measures (judged attribute, ``retrieval``, ``feature``, measure name).
    label : str or None
        Class for per-class metrics, else None.
    stats : ndarray, shape (n_rows, K)
        Per-row statistics (zero on rows that do not count).
    valid : ndarray of bool, shape (n_rows,)
        Rows that count towards ``n_utterances`` / ``n_speakers``.
    func : callable
        Totals ``(..., K)`` -> value ``(...)`` (NaN where undefined).
    higher_is_better : bool
        Direction, used for the ``"best"`` reference.
    extras : dict of str to callable
        Further columns computed from the point totals (e.g. chance level).
    labels : tuple of str or None
        Label list of a confusion spec (rows and columns of ``func``'s matrices).
    binary : bool
        The metric is a rate of a binary per-row outcome (agreement, per-class recall,
        recall@K, predicted rate) or an average of such rates (macro recall): its
        interval is never narrower than the Wilson interval at the effective sample size,
        and its disparity test uses a score standard error (see `audit.stats.metric_tables`).
    flag_funcs : dict of str to callable
        Flags computed from the point totals: name -> totals ``(..., K)`` -> bool ``(...)``
        (e.g. ``single_class`` where a group holds one true class).
    fields : dict of str to object
        Keys that say what the metric's records are, appended to each record of the
        ``metrics`` table (`audit._records.record_fields`): ``section`` (the report
        section) and, for input-length metrics, ``base_metric``, ``input_seconds`` and
        ``baseline_seconds``.
    """

    metric: str
    target: str
    label: str | None
    stats: np.ndarray
    valid: np.ndarray
    func: Callable[[np.ndarray], np.ndarray]
    higher_is_better: bool = True
    extras: Mapping[str, Callable[[np.ndarray], np.ndarray]] = field(default_factory=dict)
    labels: tuple[str, ...] | None = None
    binary: bool = False
    flag_funcs: Mapping[str, Callable[[np.ndarray], np.ndarray]] = field(default_factory=dict)
    fields: Mapping[str, Any] = field(default_factory=dict)

    @property
    def n_stats(self) -> int:
        """Number of statistics ``K``."""
        return int(self.stats.shape[1])


def _ratio(sums: np.ndarray, num: int = 0, den: int = 1) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(sums[..., den] > 0, sums[..., num] / sums[..., den], np.nan)


def rate_spec(
    metric: str,
    target: str,
    numerator: np.ndarray,
    valid: np.ndarray,
    *,
    label: str | None = None,
    higher_is_better: bool = True,
    extras: Mapping[str, np.ndarray] | None = None,
    binary: bool | None = None,
) -> MetricSpec:
    """Define a mean over valid rows: ``sum(numerator * valid) / sum(valid)``.

    Parameters
    ----------
    metric, target : str
        Names (see `MetricSpec`).
    numerator : ndarray, shape (n_rows,)
        Per-row value (indicator for a rate); ignored where ``valid`` is False.
    valid : ndarray of bool, shape (n_rows,)
        Rows in the denominator.
    label : str, optional
        Class for per-class metrics.
    higher_is_better : bool
        Direction.
    extras : dict of str to ndarray, optional
        Per-row values whose group means over valid rows become extra columns.
    binary : bool, optional
        Whether the numerator is a binary outcome (a rate; see `MetricSpec`). By default,
        whether every valid row's numerator is 0 or 1.

    Returns
    -------
    MetricSpec
    """
    valid = np.asarray(valid, dtype=bool)
    num = np.where(valid, np.asarray(numerator, dtype=np.float64), 0.0)
    if binary is None:
        binary = bool(valid.any()) and bool(np.all((num[valid] == 0) | (num[valid] == 1)))
    columns = [num, valid.astype(np.float64)]
    extra_funcs: dict[str, Callable[[np.ndarray], np.ndarray]] = {}
    for i, (name, values) in enumerate((extras or {}).items()):
        columns.append(np.where(valid, np.asarray(values, dtype=np.float64), 0.0))
        extra_funcs[name] = lambda s, j=i + 2: _ratio(s, j, 1)
    return MetricSpec(
        metric=metric,
        target=target,
        label=label,
        stats=np.column_stack(columns),
        valid=valid,
        func=_ratio,
        higher_is_better=higher_is_better,
        extras=extra_funcs,
        binary=bool(binary),
    )


def cohen_kappa_from_counts(counts: np.ndarray) -> np.ndarray:
    """Cohen's kappa from confusion counts ``(..., L, L)`` (rows true, columns predicted).

    Examples
    --------
    >>> import numpy as np
    >>> round(float(cohen_kappa_from_counts(np.array([[20.0, 5], [10, 15]]))), 6)
    0.4
    """
    n = counts.sum(axis=(-1, -2))
    trace = np.trace(counts, axis1=-2, axis2=-1)
    expected = (counts.sum(axis=-1) * counts.sum(axis=-2)).sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        po = trace / n
        pe = expected / n**2
        kappa = (po - pe) / (1 - pe)
    return np.where((n > 0) & (pe < 1), kappa, np.nan)


def _codes(
    table: pd.DataFrame, target: str, labels: Sequence[str], source: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Label codes of the truth and the judged label compared by ``source``.

    ``"recon"`` / ``"upper"``: ``true_<t>`` against ``<source>_<t>``; ``"recorded"``: the
    speaker's recorded ``<t>`` (values the judge cannot output left unmeasured) against
    ``recon_<t>``, for data without face images.
    """
    if source != "recorded":
        return _pair_codes(table, f"true_{target}", f"{source}_{target}", labels)
    pair = pd.DataFrame(
        {
            "recorded": recorded_labels(table, target, labels),
            f"recon_{target}": table[f"recon_{target}"],
        }
    )
    return _pair_codes(pair, "recorded", f"recon_{target}", labels)


def confusion_spec(
    table: pd.DataFrame, target: str, labels: Sequence[str], source: str = "recon"
) -> MetricSpec:
    """Confusion counts of the truth (rows) against the judged label (columns).

    ``source`` picks the pair (`_codes`): ``true_<t>`` against ``recon_<t>`` or
    ``upper_<t>``, or (``"recorded"``) the recorded ``<t>`` against ``recon_<t>``.
    ``func`` returns the counts ``(..., L, L)``; row-normalise them for rates.
    """
    n_lab = len(labels)
    t, p, valid = _codes(table, target, labels, source)
    stats = np.zeros((len(table), n_lab * n_lab))
    rows = np.flatnonzero(valid)
    stats[rows, t[rows] * n_lab + p[rows]] = 1.0

    def func(s: np.ndarray) -> np.ndarray:
        return s.reshape(*s.shape[:-1], n_lab, n_lab)

    name = "confusion" if source == "recon" else f"{source}_confusion"
    return MetricSpec(
        metric=name,
        target=target,
        label=None,
        stats=stats,
        valid=valid,
        func=func,
        labels=tuple(labels),
        fields={SECTION: "confusion"},
    )


def _n_true_classes(c: np.ndarray) -> np.ndarray:
    """Classes with at least one row among the true labels of confusion counts (..., L, L)."""
    return (c.sum(axis=-1) > 0).sum(axis=-1)


def agreement_specs(
    table: pd.DataFrame, target: str, labels: Sequence[str], source: str = "recon"
) -> list[MetricSpec]:
    """Agreement rate, Cohen's kappa, macro recall and per-class recall of one attribute.

    ``source="upper"`` gives the upper-bound row (metric names prefixed ``upper_``),
    ``source="recorded"`` the reconstruction against the recorded attribute (``recorded_``;
    data without face images). Every
    metric is computed on the group's rows only. Macro recall averages the recall of the
    classes present among the group's true labels (sklearn's ``balanced_accuracy_score`` on
    those rows). Kappa is NaN where the group's true labels hold a single class (it would
    be 0 whatever the reconstructions, which reads like a finding); such rows of kappa and
    macro recall carry the flag ``single_class``.
    """
    n_lab = len(labels)
    conf = confusion_spec(table, target, labels, source)
    prefix = "" if source == "recon" else f"{source}_"
    stats, valid = conf.stats, conf.valid

    def agreement(s: np.ndarray) -> np.ndarray:
        c = s.reshape(*s.shape[:-1], n_lab, n_lab)
        n = c.sum(axis=(-1, -2))
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(n > 0, np.trace(c, axis1=-2, axis2=-1) / n, np.nan)

    def kappa(s: np.ndarray) -> np.ndarray:
        c = s.reshape(*s.shape[:-1], n_lab, n_lab)
        return np.where(_n_true_classes(c) >= 2, cohen_kappa_from_counts(c), np.nan)

    def single_class(s: np.ndarray) -> np.ndarray:
        return _n_true_classes(s.reshape(*s.shape[:-1], n_lab, n_lab)) == 1

    def macro_recall(s: np.ndarray) -> np.ndarray:
        c = s.reshape(*s.shape[:-1], n_lab, n_lab)
        support = c.sum(axis=-1)
        with np.errstate(divide="ignore", invalid="ignore"):
            recall = np.diagonal(c, axis1=-2, axis2=-1) / support
            present = support > 0
            total = np.where(present, recall, 0.0).sum(axis=-1)
            return np.where(present.any(axis=-1), total / present.sum(axis=-1), np.nan)

    flag = {"single_class": single_class}
    common = {"target": target, "label": None, "stats": stats, "valid": valid}
    fields = {SECTION: "agreement"}
    specs = [
        MetricSpec(
            metric=f"{prefix}agreement", **common, func=agreement, binary=True, fields=fields
        ),
        MetricSpec(metric=f"{prefix}kappa", **common, func=kappa, flag_funcs=flag, fields=fields),
        MetricSpec(
            metric=f"{prefix}macro_recall",
            **common,
            func=macro_recall,
            binary=True,  # an average of rates: the boundary rule applies
            flag_funcs=flag,
            fields=fields,
        ),
    ]
    t, p, _ = _codes(table, target, labels, source)
    for i, label in enumerate(labels):
        in_class = valid & (t == i)
        spec = rate_spec(
            f"{prefix}recall", target, (p == i).astype(float), in_class, label=label, binary=True
        )
        specs.append(replace(spec, fields=fields))
    return specs


def _ranks(table: pd.DataFrame, column: str) -> tuple[np.ndarray, np.ndarray]:
    """1-based ranks of ``column`` and ``gallery_size`` (NaN if absent), range-checked."""
    rank = pd.to_numeric(table[column], errors="coerce").to_numpy(dtype=float)
    if "gallery_size" in table.columns:
        gallery = pd.to_numeric(table["gallery_size"], errors="coerce").to_numpy(dtype=float)
    else:
        gallery = np.full(len(table), np.nan)
    valid = np.isfinite(rank)
    bad = valid & ((rank < 1) | (np.isfinite(gallery) & (rank > gallery)))
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise AuditInputError(
            f"{column} row {row} is {rank[row]:g}, expected 1 <= rank <= gallery_size "
            f"({gallery[row]:g})"
        )
    return rank, gallery


def _check_ks(ks: Sequence[int]) -> None:
    for k in ks:
        if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
            raise AuditInputError(f"retrieval K must be a positive integer, got {k!r}")


def retrieval_specs(table: pd.DataFrame, ks: Sequence[int] = (1, 2, 5, 10)) -> list[MetricSpec]:
    """Recall@K of ``retrieval_rank`` (1-based) with chance ``K / gallery_size`` beside it."""
    if "retrieval_rank" not in table.columns:
        return []
    rank, gallery = _ranks(table, "retrieval_rank")
    valid = np.isfinite(rank)
    _check_ks(ks)
    specs = []
    for k in ks:
        with np.errstate(divide="ignore", invalid="ignore"):
            chance = np.minimum(k, gallery) / gallery
        spec = rate_spec(
            f"recall@{k}",
            "retrieval",
            (rank <= k).astype(float),
            valid,
            extras={"chance": chance, "gallery_size": gallery},
            binary=True,
        )
        specs.append(replace(spec, fields={SECTION: "retrieval"}))
    return specs


#: Feature-similarity columns -> higher is better.
_SIMILARITY_DIRECTION = {"cos_sim": True, "l1": False, "l2": False}


def similarity_specs(
    table: pd.DataFrame,
    columns: Mapping[str, bool] | None = None,
) -> list[MetricSpec]:
    """Group means of feature-similarity columns (present ones of ``cos_sim``, ``l1``, ``l2``).

    ``columns`` maps column -> higher_is_better.
    """
    columns = columns or _SIMILARITY_DIRECTION
    specs = []
    for col, higher in columns.items():
        if col in table.columns:
            x = pd.to_numeric(table[col], errors="coerce").to_numpy(dtype=float)
            specs.append(
                replace(
                    rate_spec(
                        col, "feature", x, np.isfinite(x), higher_is_better=higher, binary=False
                    ),
                    fields={SECTION: "similarity"},
                )
            )
    return specs


def ece_from_sums(sums: np.ndarray, n_bins: int) -> np.ndarray:
    """Compute the expected calibration error from per-bin totals ``(..., 3 * n_bins)``.

    The totals are, per bin, the count, the summed confidence and the summed correctness:
    ``ECE = sum_b |correct_b - confidence_b| / n``.
    """
    s = sums.reshape(*sums.shape[:-1], n_bins, 3)
    n = s[..., 0].sum(axis=-1)
    gap = np.abs(s[..., 2] - s[..., 1]).sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(n > 0, gap / n, np.nan)


def calibration_specs(
    table: pd.DataFrame,
    targets: Sequence[str],
    labels: Mapping[str, Sequence[str]],
    n_bins: int = 10,
) -> list[MetricSpec]:
    """Top-label expected calibration error (equal-width bins) of the judge, per attribute.

    For attribute ``t`` the judge's probabilities on true faces ``true_<t>_p_<label>`` are
    scored against the recorded label ``<t>`` when both exist (the judge's own calibration);
    otherwise ``recon_<t>_p_<label>`` against ``true_<t>`` (how far the judge's confidence on
    reconstructions matches agreement with the true face's label). The ``label`` field of
    the result names the pair.
    """
    specs = []
    for target in targets:
        for prob_prefix, truth_col in (
            (f"true_{target}", target),
            (f"recon_{target}", f"true_{target}"),
        ):
            cols = [f"{prob_prefix}{_PROB}{lab}" for lab in labels[target]]
            present = truth_col in table.columns and all(c in table.columns for c in cols)
            if not cols or not present:
                continue
            probs = table[cols].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
            truth = _labels_of(table[truth_col])
            lookup = {lab: i for i, lab in enumerate(labels[target])}
            t = np.array([lookup.get(v, -1) if v is not None else -1 for v in truth])
            valid = np.isfinite(probs).all(axis=1) & (t >= 0)
            conf = np.where(valid, probs.max(axis=1, initial=0.0, where=np.isfinite(probs)), 0)
            pred = np.argmax(np.where(np.isfinite(probs), probs, -np.inf), axis=1)
            correct = (pred == t).astype(float)
            bins = np.minimum((conf * n_bins).astype(np.int64), n_bins - 1)
            stats = np.zeros((len(table), 3 * n_bins))
            rows = np.flatnonzero(valid)
            stats[rows, bins[rows] * 3] = 1.0
            stats[rows, bins[rows] * 3 + 1] = conf[rows]
            stats[rows, bins[rows] * 3 + 2] = correct[rows]
            specs.append(
                MetricSpec(
                    metric="ece",
                    target=target,
                    label=f"{prob_prefix}{_PROB}* vs {truth_col}",
                    stats=stats,
                    valid=valid,
                    func=lambda s, nb=n_bins: ece_from_sums(s, nb),
                    higher_is_better=False,
                    fields={SECTION: "calibration"},
                )
            )
            break
    return specs
