"""Metric definitions: each metric is a function of group totals of per-row statistics.

A `MetricSpec` holds an ``(n_rows, K)`` array of per-row statistics and a function that maps
totals ``(..., K)`` to the metric ``(...)``. Point estimates apply it to the group totals,
bootstrap replicates to the replicate totals (see `audit.SpeakerBootstrap`), so one sparse
matrix product per grouping serves every metric.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from audit._groups import _is_missing
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
    "input_length_specs",
    "input_seconds_columns",
    "label_vocabulary",
    "rate_spec",
    "retrieval_specs",
    "similarity_specs",
]

_PROB = "_p_"


@dataclass(frozen=True)
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
        and its disparity test uses a score standard error (see `audit.metric_tables`).
    flag_funcs : dict of str to callable
        Flags computed from the point totals: name -> totals ``(..., K)`` -> bool ``(...)``
        (e.g. ``single_class`` where a group holds one true class).
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
        metric,
        target,
        label,
        np.column_stack(columns),
        valid,
        _ratio,
        higher_is_better,
        extra_funcs,
        binary=bool(binary),
    )


def _labels_of(values: pd.Series) -> pd.Series:
    """Strings with missing (NA or blank) as None."""
    miss = _is_missing(values)
    out = np.full(len(values), None, dtype=object)
    out[~miss] = values[~miss].astype(str).to_numpy(dtype=object)
    return pd.Series(out, index=values.index, dtype=object)


def detect_targets(table: pd.DataFrame) -> list[str]:
    """Judged attributes: ``t`` with label columns ``true_<t>`` and ``recon_<t>``.

    Examples
    --------
    >>> import pandas as pd
    >>> detect_targets(pd.DataFrame({"true_gender": ["f"], "recon_gender": ["m"]}))
    ['gender']
    """
    out = []
    for col in table.columns:
        if not (isinstance(col, str) and col.startswith("true_")) or _PROB in col:
            continue
        target = col[len("true_") :]
        other = f"recon_{target}"
        if other in table.columns and not pd.api.types.is_numeric_dtype(table[col].dtype):
            out.append(target)
    return out


def detect_measures(table: pd.DataFrame) -> list[str]:
    """Craniofacial measures: ``m`` with numeric columns ``true_<m>`` and ``recon_<m>``."""
    out = []
    for col in table.columns:
        if not (isinstance(col, str) and col.startswith("true_")) or _PROB in col:
            continue
        measure = col[len("true_") :]
        other = f"recon_{measure}"
        if (
            other in table.columns
            and pd.api.types.is_numeric_dtype(table[col].dtype)
            and not pd.api.types.is_bool_dtype(table[col].dtype)
            and pd.api.types.is_numeric_dtype(table[other].dtype)
            and table[col].notna().any()  # an all-NaN column is "not measured", not a measure
            and table[other].notna().any()
        ):
            out.append(measure)
    return out


def label_vocabulary(
    table: pd.DataFrame, target: str, labels: Sequence[str] | None = None
) -> list[str]:
    """Full label list of a judged attribute.

    Categories of categorical columns, else the sorted union of the labels seen in
    ``true_<t>``, ``recon_<t>``, ``upper_<t>``, ``<t>`` and the ``*_<t>_p_<label>`` columns.
    ``labels`` overrides; a label outside it raises.
    """
    seen: set[str] = set()
    for col in (f"true_{target}", f"recon_{target}", f"upper_{target}"):
        if col in table.columns:
            if isinstance(table[col].dtype, pd.CategoricalDtype):
                seen.update(map(str, table[col].cat.categories))
            seen.update(v for v in _labels_of(table[col]) if v is not None)
    for col in table.columns:
        for prefix in ("true", "recon", "upper"):
            head = f"{prefix}_{target}{_PROB}"
            if isinstance(col, str) and col.startswith(head):
                seen.add(col[len(head) :])
    if labels is None:
        return sorted(seen)
    labels = [str(v) for v in labels]
    unknown = sorted(seen - set(labels))
    if unknown:
        raise AuditInputError(
            f"labels {unknown} of {target!r} are not in the given label list {labels}"
        )
    return labels


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


def _pair_codes(
    table: pd.DataFrame, true_col: str, pred_col: str, labels: Sequence[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    true = _labels_of(table[true_col])
    pred = _labels_of(table[pred_col])
    for col, ser in ((true_col, true), (pred_col, pred)):
        bad = ser.notna() & ~ser.isin(list(labels))
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise AuditInputError(
                f"column {col!r} row {row}: label {ser.iloc[row]!r} is not in {list(labels)}"
            )
    valid = (true.notna() & pred.notna()).to_numpy()
    index = pd.Index(list(labels))
    t = np.where(true.notna(), index.get_indexer(true.fillna("").to_numpy(object)), -1)
    p = np.where(pred.notna(), index.get_indexer(pred.fillna("").to_numpy(object)), -1)
    return t.astype(np.int64), p.astype(np.int64), valid


def confusion_spec(
    table: pd.DataFrame, target: str, labels: Sequence[str], source: str = "recon"
) -> MetricSpec:
    """Confusion counts of ``true_<t>`` (rows) against ``<source>_<t>`` (columns).

    ``func`` returns the counts ``(..., L, L)``; row-normalise them for rates.
    """
    n_lab = len(labels)
    t, p, valid = _pair_codes(table, f"true_{target}", f"{source}_{target}", labels)
    stats = np.zeros((len(table), n_lab * n_lab))
    rows = np.flatnonzero(valid)
    stats[rows, t[rows] * n_lab + p[rows]] = 1.0

    def func(s: np.ndarray) -> np.ndarray:
        return s.reshape(*s.shape[:-1], n_lab, n_lab)

    name = "confusion" if source == "recon" else f"{source}_confusion"
    return MetricSpec(name, target, None, stats, valid, func, labels=tuple(labels))


def _n_true_classes(c: np.ndarray) -> np.ndarray:
    """Classes with at least one row among the true labels of confusion counts (..., L, L)."""
    return (c.sum(axis=-1) > 0).sum(axis=-1)


def agreement_specs(
    table: pd.DataFrame, target: str, labels: Sequence[str], source: str = "recon"
) -> list[MetricSpec]:
    """Agreement rate, Cohen's kappa, macro recall and per-class recall of one attribute.

    ``source="upper"`` gives the upper-bound row (metric names prefixed ``upper_``). Every
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
    specs = [
        MetricSpec(f"{prefix}agreement", target, None, stats, valid, agreement, binary=True),
        MetricSpec(f"{prefix}kappa", target, None, stats, valid, kappa, flag_funcs=flag),
        MetricSpec(
            f"{prefix}macro_recall",
            target,
            None,
            stats,
            valid,
            macro_recall,
            binary=True,  # an average of rates: the boundary rule applies
            flag_funcs=flag,
        ),
    ]
    t, p, _ = _pair_codes(table, f"true_{target}", f"{source}_{target}", labels)
    for i, label in enumerate(labels):
        in_class = valid & (t == i)
        specs.append(
            rate_spec(
                f"{prefix}recall",
                target,
                (p == i).astype(float),
                in_class,
                label=label,
                binary=True,
            )
        )
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
        specs.append(
            rate_spec(
                f"recall@{k}",
                "retrieval",
                (rank <= k).astype(float),
                valid,
                extras={"chance": chance, "gallery_size": gallery},
                binary=True,
            )
        )
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
                rate_spec(col, "feature", x, np.isfinite(x), higher_is_better=higher, binary=False)
            )
    return specs


#: Target of the input-length metrics (feature similarity and recall@K per input duration).
INPUT_LENGTH_TARGET = "input_length"
_SPEECH_SECONDS = re.compile(r"^speech_seconds_(\d+(?:\.\d+)?(?:e[+-]?\d+)?)s$")


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


def _difference_spec(
    metric: str,
    later: np.ndarray,
    first: np.ndarray,
    valid: np.ndarray,
    higher_is_better: bool,
) -> MetricSpec:
    """Paired difference of two means over the same rows: ``mean(later) - mean(first)``.

    ``valid`` marks the rows that count in both, so each speaker's rows enter both terms of
    every bootstrap replicate.
    """
    stats = np.column_stack(
        [np.where(valid, later, 0.0), np.where(valid, first, 0.0), valid.astype(np.float64)]
    )

    def func(s: np.ndarray) -> np.ndarray:
        return _ratio(s, 0, 2) - _ratio(s, 1, 2)

    return MetricSpec(
        metric, INPUT_LENGTH_TARGET, None, stats, valid, func, higher_is_better, binary=False
    )


def input_length_specs(
    table: pd.DataFrame, ks: Sequence[int] = (1, 2, 5, 10)
) -> list[MetricSpec]:
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
    >>> [s.metric for s in input_length_specs(t)]
    ['cos_sim (3 s)', 'cos_sim (6 s)', 'cos_sim (6 s - 3 s)']
    """
    _check_ks(ks)
    durations = input_seconds_columns(table)
    # per duration: name -> (per-row value, valid, higher is better)
    values: dict[float, dict[str, tuple[np.ndarray, np.ndarray, bool]]] = {}
    out: list[MetricSpec] = []
    for seconds, tag in durations.items():
        speech = pd.to_numeric(table[f"speech_seconds_{tag}"], errors="coerce").to_numpy(float)
        values[seconds] = {}
        for name, higher in _SIMILARITY_DIRECTION.items():
            col = f"{name}_{tag}"
            if col not in table.columns:
                continue
            x = pd.to_numeric(table[col], errors="coerce").to_numpy(dtype=float)
            values[seconds][name] = (x, np.isfinite(x), higher)
            out.append(
                rate_spec(
                    f"{name} ({seconds:g} s)",
                    INPUT_LENGTH_TARGET,
                    x,
                    np.isfinite(x),
                    higher_is_better=higher,
                    extras={"speech_seconds": speech},
                    binary=False,
                )
            )
        if f"retrieval_rank_{tag}" not in table.columns:
            continue
        rank, gallery = _ranks(table, f"retrieval_rank_{tag}")
        valid = np.isfinite(rank)
        for k in ks:
            hit = (rank <= k).astype(float)
            values[seconds][f"recall@{k}"] = (hit, valid, True)
            with np.errstate(divide="ignore", invalid="ignore"):
                chance = np.minimum(k, gallery) / gallery
            out.append(
                rate_spec(
                    f"recall@{k} ({seconds:g} s)",
                    INPUT_LENGTH_TARGET,
                    hit,
                    valid,
                    extras={"chance": chance, "gallery_size": gallery, "speech_seconds": speech},
                    binary=True,
                )
            )
    if len(durations) < 2:
        return out
    first_s, *later_s = durations
    for seconds in later_s:
        for name, (x, valid, higher) in values[seconds].items():
            if name not in values[first_s]:
                continue
            x0, valid0, _ = values[first_s][name]
            out.append(
                _difference_spec(
                    f"{name} ({seconds:g} s - {first_s:g} s)", x, x0, valid & valid0, higher
                )
            )
    return out


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
                    "ece",
                    target,
                    f"{prob_prefix}{_PROB}* vs {truth_col}",
                    stats,
                    valid,
                    lambda s, nb=n_bins: ece_from_sums(s, nb),
                    higher_is_better=False,
                )
            )
            break
    return specs
