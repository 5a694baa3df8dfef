"""fairlearn interop: any scalar metric of the audit as a `fairlearn.metrics.MetricFrame`.

The MetricFrame groups the same valid rows by the same sensitive features (missing labels
as ``"(missing)"``) and applies an equivalent metric function, so its ``overall`` and
``by_group`` equal the audit's point estimates; it adds fairlearn's own ``difference``,
``ratio`` and (row-resampling) bootstrap.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from audit._groups import column_levels
from audit._metrics import _labels_of, label_vocabulary
from audit.exceptions import AuditInputError

__all__ = ["FAIRLEARN_METRICS", "to_metric_frame"]

#: Metric names `to_metric_frame` understands (``recall@K`` for any K).
FAIRLEARN_METRICS: tuple[str, ...] = (
    "agreement",
    "upper_agreement",
    "kappa",
    "upper_kappa",
    "macro_recall",
    "upper_macro_recall",
    "recall",
    "upper_recall",
    "recall@K",
    "cos_sim",
    "l1",
    "l2",
)


def _weighted_mean(y_true: np.ndarray, y_pred: np.ndarray, sample_weight=None) -> float:
    values = np.asarray(y_true, dtype=float)
    if sample_weight is None:
        return float(np.mean(values))
    return float(np.average(values, weights=np.asarray(sample_weight, dtype=float)))


def _label_metric(metric: str, labels: list[str], label: str | None) -> Callable[..., float]:
    from sklearn.metrics import accuracy_score, cohen_kappa_score, recall_score

    base = metric.removeprefix("upper_")
    if base == "agreement":
        return accuracy_score
    if base == "kappa":

        def kappa(y_true, y_pred, sample_weight=None):
            # Undefined when the group holds one true class (the audit reports NaN and the
            # flag single_class); sklearn would return a number that looks like a finding.
            if len(set(np.asarray(y_true, dtype=object))) < 2:
                return np.nan
            return cohen_kappa_score(y_true, y_pred, labels=labels, sample_weight=sample_weight)

        return kappa
    if base == "macro_recall":

        def macro_recall(y_true, y_pred, sample_weight=None):
            present = sorted(set(np.asarray(y_true, dtype=object)))
            return recall_score(
                y_true,
                y_pred,
                labels=present,
                average="macro",
                sample_weight=sample_weight,
                zero_division=np.nan,
            )

        return macro_recall
    if base == "recall":
        if label is None:
            raise AuditInputError("metric 'recall' needs label=<class>")

        def recall(y_true, y_pred, sample_weight=None):
            mask = np.asarray(y_true, dtype=object) == label
            if not mask.any():
                return np.nan
            hit = (np.asarray(y_pred, dtype=object) == label).astype(float)
            w = None if sample_weight is None else np.asarray(sample_weight)[mask]
            return _weighted_mean(hit[mask], hit[mask], w)

        return recall
    raise AuditInputError(f"unknown label metric {metric!r}")


def _metric_inputs(
    table: pd.DataFrame, metric: str, target: str | None, label: str | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, Callable[..., float]]:
    """Return ``y_true``, ``y_pred``, the valid-row mask and the metric function of ``metric``.

    ``metric`` is a name the user passes (one of `FAIRLEARN_METRICS`), so ``recall@K`` is
    read from it; audit tables never carry meaning in a name.
    """
    match = re.fullmatch(r"recall@(\d+)", metric)
    if match:
        rank = pd.to_numeric(table["retrieval_rank"], errors="coerce").to_numpy(float)
        hit = (rank <= int(match.group(1))).astype(float)
        return hit, hit, np.isfinite(rank), _weighted_mean
    if metric in ("cos_sim", "l1", "l2"):
        if metric not in table.columns:
            raise AuditInputError(f"column {metric!r} is not in the evaluation table")
        values = pd.to_numeric(table[metric], errors="coerce").to_numpy(float)
        return values, values, np.isfinite(values), _weighted_mean
    if metric.removeprefix("upper_") in ("agreement", "kappa", "macro_recall", "recall"):
        return _label_inputs(table, metric, target, label)
    raise AuditInputError(f"metric must be one of {FAIRLEARN_METRICS}, got {metric!r}")


def _label_inputs(
    table: pd.DataFrame, metric: str, target: str | None, label: str | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, Callable[..., float]]:
    """Judged labels (true and reconstructed or upper bound) of a label metric."""
    if target is None:
        raise AuditInputError(f"metric {metric!r} needs target=<judged attribute>")
    source = "upper" if metric.startswith("upper_") else "recon"
    for col in (f"true_{target}", f"{source}_{target}"):
        if col not in table.columns:
            raise AuditInputError(f"column {col!r} is not in the evaluation table")
    truth = _labels_of(table[f"true_{target}"])
    pred = _labels_of(table[f"{source}_{target}"])
    valid = (truth.notna() & pred.notna()).to_numpy()
    func = _label_metric(metric, label_vocabulary(table, target), label)
    return truth.to_numpy(object), pred.to_numpy(object), valid, func


def to_metric_frame(
    table: pd.DataFrame,
    metric: str,
    *,
    sensitive_features: str | Sequence[str],
    target: str | None = None,
    label: str | None = None,
    sample_weight: str | np.ndarray | None = None,
    **metric_frame_kwargs: Any,
):
    """Export one audit metric as a fairlearn ``MetricFrame``.

    Parameters
    ----------
    table : DataFrame
        Evaluation table.
    metric : str
        One of `FAIRLEARN_METRICS` (``"recall@5"`` etc. for retrieval).
    sensitive_features : str or sequence of str
        Grouping columns (several give their intersection, as in fairlearn).
    target : str, optional
        Judged attribute for label metrics (``gender``, ``ethnicity``, ...).
    label : str, optional
        Class of the per-class ``recall``.
    sample_weight : str or ndarray, optional
        Weight column or array, passed to the metric as ``sample_weight``.
    **metric_frame_kwargs
        Passed to ``MetricFrame`` (e.g. ``n_boot``, ``ci_quantiles``, ``random_state``).

    Returns
    -------
    fairlearn.metrics.MetricFrame
        Over the rows where the metric is defined (both labels present, finite values).

    Examples
    --------
    >>> from audit import make_evaluation_table
    >>> t = make_evaluation_table(30, 2)
    >>> mf = to_metric_frame(t, "agreement", target="gender", sensitive_features="ethnicity")
    >>> bool(mf.overall.iloc[0] == (t.true_gender == t.recon_gender).mean())
    True
    """
    from fairlearn.metrics import MetricFrame

    features = (
        [sensitive_features] if isinstance(sensitive_features, str) else list(sensitive_features)
    )
    y_true, y_pred, valid, func = _metric_inputs(table, metric, target, label)
    sens = {}
    for col in features:
        codes, levels = column_levels(table, col)
        sens[col] = np.array(levels, dtype=object)[codes][valid]
    params = {}
    if sample_weight is not None:
        w = table[sample_weight] if isinstance(sample_weight, str) else sample_weight
        params = {"sample_params": {metric: {"sample_weight": np.asarray(w, float)[valid]}}}
    return MetricFrame(
        metrics={metric: func},
        y_true=np.asarray(y_true)[valid],
        y_pred=np.asarray(y_pred)[valid],
        sensitive_features=pd.DataFrame(sens),
        **params,
        **metric_frame_kwargs,
    )
