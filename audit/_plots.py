"""Plotting helpers for notebooks and reports: confusion heatmaps and CI forest plots.

matplotlib and seaborn are imported lazily, and figures are built without pyplot (no GUI
backend, no global state): save them with ``ax.figure.savefig(path)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from audit.exceptions import AuditInputError

__all__ = ["plot_ci_forest", "plot_confusion"]


def _new_axes(ax: Any, size: tuple[float, float]) -> Any:
    if ax is not None:
        return ax
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, layout="constrained")
    return fig.add_subplot()


def plot_confusion(
    confusion: pd.DataFrame,
    *,
    target: str,
    group_label: str = "all",
    metric: str = "confusion",
    ax: Any = None,
) -> Any:
    """Draw one row-normalised confusion matrix with the rate and count on every cell.

    Parameters
    ----------
    confusion : DataFrame
        The ``confusion`` table of `audit.run_audit_tables`.
    target : str
        Judged attribute (``gender``, ``ethnicity``, ...).
    group_label : str
        Group to draw (``"all"`` for the whole table).
    metric : str
        ``"confusion"`` or ``"upper_confusion"``.
    ax : matplotlib Axes, optional
        Where to draw; a new figure otherwise.

    Returns
    -------
    matplotlib Axes
        Rows are the true face's label (with its ``n``), columns the reconstruction's;
        empty rows are blank and marked ``n=0``.
    """
    import seaborn as sns

    sel = confusion[
        (confusion["metric"] == metric)
        & (confusion["target"] == target)
        & (confusion["group_label"] == group_label)
    ]
    if sel.empty:
        raise AuditInputError(f"no {metric!r} rows for target {target!r} and group {group_label!r}")
    labels = list(dict.fromkeys(sel["true_label"]))
    rates = sel.pivot(index="true_label", columns="pred_label", values="value")
    rates = rates.loc[labels, labels]
    counts = sel.pivot(index="true_label", columns="pred_label", values="count").loc[labels, labels]
    row_n = sel.groupby("true_label")["n_utterances"].first().loc[labels]
    annot = np.empty(rates.shape, dtype=object)
    for i in range(len(labels)):
        for j in range(len(labels)):
            r = rates.iloc[i, j]
            annot[i, j] = "" if np.isnan(r) else f"{r:.2f}\nn={int(counts.iloc[i, j])}"
    ax = _new_axes(ax, (1.2 * len(labels) + 2, 1.0 * len(labels) + 1.5))
    sns.heatmap(
        rates.astype(float),
        annot=annot,
        fmt="",
        vmin=0,
        vmax=1,
        cmap="viridis",
        cbar=True,
        ax=ax,
        yticklabels=[f"{lab} (n={int(n)})" for lab, n in zip(labels, row_n, strict=True)],
        xticklabels=labels,
    )
    ax.set_xlabel(f"reconstruction: judged {target}")
    ax.set_ylabel(f"true face: judged {target}")
    ax.set_title(f"{metric} of {target}, {group_label}")
    return ax


def plot_ci_forest(
    metrics: pd.DataFrame,
    *,
    metric: str,
    target: str,
    attribute: str | None = None,
    label: str | None = None,
    ax: Any = None,
) -> Any:
    """Draw a forest plot: one row per group, the value with its CI and ``n`` beside it.

    Parameters
    ----------
    metrics : DataFrame
        The ``metrics`` table of `audit.run_audit_tables`.
    metric, target : str
        Which metric (e.g. ``"agreement"``, ``"gender"``).
    attribute : str, optional
        Only groups of this grouping (e.g. ``"ethnicity"``); all groupings otherwise.
    label : str, optional
        Class of per-class metrics.
    ax : matplotlib Axes, optional
        Where to draw; a new figure otherwise.

    Returns
    -------
    matplotlib Axes
        Groups flagged ``insufficient_data`` are drawn hollow; the overall value is a
        dashed vertical line; empty groups are listed without a marker.
    """
    sel = metrics[(metrics["metric"] == metric) & (metrics["target"] == target)]
    sel = sel[sel["label"].isna()] if label is None else sel[sel["label"] == label]
    overall = sel[sel["attribute"] == "overall"]
    if attribute is not None:
        sel = sel[sel["attribute"] == attribute]
    else:
        sel = sel[sel["attribute"] != "overall"]
    if sel.empty:
        raise AuditInputError(f"no rows for metric {metric!r}, target {target!r}")
    ax = _new_axes(ax, (7.0, 0.35 * len(sel) + 1.5))
    y = np.arange(len(sel))[::-1]
    values = sel["value"].to_numpy(float)
    low = sel["ci_low"].to_numpy(float)
    high = sel["ci_high"].to_numpy(float)
    small = sel["flags"].map(lambda f: "insufficient_data" in f).to_numpy(bool)
    ok = np.isfinite(values)
    err = np.vstack([values - low, high - values])
    for mask, face in ((ok & ~small, "C0"), (ok & small, "none")):
        if mask.any():
            e = np.where(np.isfinite(err[:, mask]), err[:, mask], 0)
            ax.errorbar(values[mask], y[mask], xerr=e, fmt="o", color="C0", mfc=face, capsize=3)
    if len(overall):
        ax.axvline(float(overall["value"].iloc[0]), color="0.4", linestyle="--", lw=1)
    ax.set_yticks(
        y,
        [
            f"{g} (n={n}, {s} spk)"
            for g, n, s in zip(
                sel["group_label"], sel["n_utterances"], sel["n_speakers"], strict=True
            )
        ],
    )
    ax.set_xlabel(f"{metric} ({target})" if label is None else f"{metric} ({target}={label})")
    ax.set_title("value with CI; hollow = insufficient data; dashed = overall")
    return ax
