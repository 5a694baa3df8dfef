"""The judge's own error in view: its accuracy per group and a judge-corrected confusion.

A reconstruction judged "Asian" is only as trustworthy as the judge is on Asian faces. Where
the evaluation table holds the speaker's recorded attribute ``<t>`` beside the judge's
labels of the true face (``true_<t>``) and of the reconstruction (``recon_<t>``):

- ``judge_accuracy``: per group, the share of true faces the judge labels as recorded
  (``true_<t> == <t>``), with the usual speaker-cluster interval;
- ``confusion_judge_corrected``: the confusion of the recorded attribute (rows) against the
  reconstruction's attribute (columns) corrected for the judge's misclassification. With
  ``M[k, j] = P(judge says j | face is k)`` estimated on the true faces of the whole table
  and ``O[i, j] = P(judge says j on the reconstruction | speaker is i)`` observed in the
  group, the reconstruction's own attribute has ``C = O M^-1`` (the matrix method: the
  judge is assumed to err on reconstructions as on true faces, and its errors not to
  depend on the speaker's group). Negative entries are set to 0 and each row renormalised.
  Each bootstrap replicate re-estimates both ``O`` (the group's speakers) and ``M`` (all
  speakers, same draw), so the interval carries the judge's uncertainty too; ``value_raw``
  is the uncorrected ``O``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from audit._bootstrap import SpeakerBootstrap, bootstrap_interval, boundary_interval
from audit._groups import Grouping
from audit._metrics import MetricSpec, _pair_codes, rate_spec

__all__ = ["correct_confusion", "judge_accuracy_specs", "judge_corrected_confusion"]


def judge_accuracy_specs(table: pd.DataFrame, targets: Sequence[str]) -> list[MetricSpec]:
    """Rate specs ``judge_accuracy`` (``true_<t> == <t>``) of targets with a recorded column."""
    specs = []
    for target in targets:
        if target not in table.columns:
            continue
        labels = sorted(
            set(table[f"true_{target}"].dropna().astype(str))
            | set(table[target].dropna().astype(str))
        )
        t, p, valid = _pair_codes(table, target, f"true_{target}", labels)
        if valid.any():
            correct = np.where(valid, (t == p).astype(float), 0.0)
            specs.append(rate_spec("judge_accuracy", target, correct, valid, binary=True))
    return specs


def correct_confusion(observed: np.ndarray, judge: np.ndarray) -> np.ndarray:
    """Judge-corrected confusion rates ``O M^-1`` (clipped at 0, rows renormalised).

    Parameters
    ----------
    observed : ndarray, shape (..., L, L)
        Counts of (recorded label, judged label of the reconstruction).
    judge : ndarray, shape (..., L, L)
        Counts of (recorded label, judged label of the true face).

    Returns
    -------
    ndarray, shape (..., L, L)
        Corrected rates; NaN rows where the group has no rows of that label, NaN everywhere
        where the judge's confusion is singular or has an empty row.

    Examples
    --------
    >>> import numpy as np
    >>> m = np.array([[90.0, 10.0], [20.0, 80.0]])  # judge: 90 % / 80 % right
    >>> c = np.array([[0.7, 0.3], [0.4, 0.6]])  # what the reconstructions really are
    >>> o = 100 * c @ (m / m.sum(1, keepdims=True))  # what the judge reports
    >>> correct_confusion(o, m).round(6).tolist()
    [[0.7, 0.3], [0.4, 0.6]]
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        o = observed / observed.sum(axis=-1, keepdims=True)
        m = judge / judge.sum(axis=-1, keepdims=True)
    ok = np.isfinite(m).all(axis=(-2, -1)) & (np.abs(np.linalg.det(np.nan_to_num(m))) > 1e-9)
    m_safe = np.where(ok[..., None, None], np.nan_to_num(m), np.eye(m.shape[-1]))
    c = np.clip(o @ np.linalg.inv(m_safe), 0.0, None)
    with np.errstate(divide="ignore", invalid="ignore"):
        c = c / c.sum(axis=-1, keepdims=True)
    return np.where(ok[..., None, None], c, np.nan)


def judge_corrected_confusion(
    table: pd.DataFrame,
    target: str,
    labels: Sequence[str],
    groupings: Sequence[Grouping],
    boot: SpeakerBootstrap,
    ci_level: float = 0.95,
    min_group_size: int = 10,
) -> pd.DataFrame:
    """Return the judge-corrected confusion of one target for every grouping's groups.

    Columns as the ``confusion`` table (``true_label`` is the recorded attribute) plus
    ``value_raw`` (the uncorrected rate) and ``judge_n`` (true faces behind ``M``).
    """
    n_lab = len(labels)
    r_o, p_o, v_o = _pair_codes(table, target, f"recon_{target}", labels)
    r_m, p_m, v_m = _pair_codes(table, target, f"true_{target}", labels)
    stats = np.zeros((len(table), 2 * n_lab * n_lab))
    rows = np.flatnonzero(v_o)
    stats[rows, r_o[rows] * n_lab + p_o[rows]] = 1.0
    rows = np.flatnonzero(v_m)
    stats[rows, n_lab * n_lab + r_m[rows] * n_lab + p_m[rows]] = 1.0
    records = []
    for grouping in groupings:
        point, reps = boot.group_sums(stats, grouping.codes, grouping.n_groups)
        shape = (n_lab, n_lab)
        obs = point[:, : n_lab * n_lab].reshape(-1, *shape)  # (G, L, L)
        obs_r = reps[:, :, : n_lab * n_lab].reshape(*reps.shape[:2], *shape)  # (B, G, L, L)
        judge = point[:, n_lab * n_lab :].sum(axis=0).reshape(shape)  # whole table
        judge_r = reps[:, :, n_lab * n_lab :].sum(axis=1).reshape(-1, *shape)  # (B, L, L)
        value = correct_confusion(obs, judge[None])
        value_r = correct_confusion(obs_r, judge_r[:, None])
        with np.errstate(divide="ignore", invalid="ignore"):
            raw = obs / obs.sum(axis=-1, keepdims=True)
        n_rows = obs.sum(axis=-1)  # (G, L)
        spk = _row_speakers(boot, grouping, r_o, v_o, n_lab)  # (G, L)
        m = np.repeat(spk[:, :, None], n_lab, axis=2).astype(np.float64)
        low, high = bootstrap_interval(value_r, m, ci_level, "expanded")
        n_cell = np.repeat(n_rows[:, :, None], n_lab, axis=2)
        low, high, _ = boundary_interval(value, value_r, n_cell, m, low, high, ci_level)
        labels_g = grouping.labels()
        for g in range(grouping.n_groups):
            for i in range(n_lab):
                flags = []
                if n_rows[g, i] == 0:
                    flags.append("empty")
                elif spk[g, i] < min_group_size:
                    flags.append("insufficient_data")
                for j in range(n_lab):
                    records.append(
                        {
                            "metric": "confusion_judge_corrected",
                            "target": target,
                            "attribute": grouping.attribute,
                            "group": dict(grouping.groups[g]),
                            "group_label": labels_g[g],
                            "true_label": labels[i],
                            "pred_label": labels[j],
                            "n_utterances": int(n_rows[g, i]),
                            "n_speakers": int(spk[g, i]),
                            "value": float(value[g, i, j]),
                            "ci_low": float(low[g, i, j]),
                            "ci_high": float(high[g, i, j]),
                            "value_raw": float(raw[g, i, j]),
                            "judge_n": int(judge[i].sum()),
                            "flags": list(flags),
                        }
                    )
    return pd.DataFrame.from_records(records)


def _row_speakers(
    boot: SpeakerBootstrap, grouping: Grouping, rows: np.ndarray, valid: np.ndarray, n_lab: int
) -> np.ndarray:
    """Distinct speakers per (group, recorded label) among valid rows."""
    g = grouping.codes[valid]
    key = np.unique((boot.speaker_codes[valid] * grouping.n_groups + g) * n_lab + rows[valid])
    cell = key % (grouping.n_groups * n_lab)
    counts = np.bincount(cell, minlength=grouping.n_groups * n_lab)
    return counts.reshape(grouping.n_groups, n_lab)
