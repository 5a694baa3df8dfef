"""Figures for the report: forest-plot geometry (drawn as inline SVG) and heatmap colours.

Only layout happens here (scaling values to SVG coordinates); the template draws the SVG, so
every label is escaped by Jinja2 and the text stays selectable and printable.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["ForestPlot", "ForestRow", "forest_plot", "heat_style"]


def heat_style(rate: Any) -> str:
    """Return the inline CSS of a heatmap cell for a rate in [0, 1] (grey for missing).

    Examples
    --------
    The text is black or white, whichever contrasts at least 4.5:1 with the background
    (WCAG AA; black is readable down to a relative luminance of 0.175, white up to 0.183).

    >>> heat_style(0.0)
    'background-color: rgb(255, 255, 255); color: #000'
    >>> heat_style(None)
    ''
    """
    if not isinstance(rate, int | float) or isinstance(rate, bool) or math.isnan(rate):
        return ""
    t = min(max(float(rate), 0.0), 1.0)
    # white -> dark blue (8, 48, 107)
    r, g, b = (round(255 + (end - 255) * t) for end in (8, 48, 107))
    text = "#fff" if _luminance(r, g, b) < 0.179 else "#000"
    return f"background-color: rgb({r}, {g}, {b}); color: {text}"


def _luminance(r: int, g: int, b: int) -> float:
    """WCAG relative luminance of an sRGB colour (0-255 channels)."""

    def lin(c: int) -> float:
        x = c / 255
        return x / 12.92 if x <= 0.04045 else ((x + 0.055) / 1.055) ** 2.4

    return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b)


@dataclass(frozen=True)
class ForestRow:
    """One row of a forest plot, in SVG user units (x of point and interval ends)."""

    label: str
    y: float
    x: float
    x_low: float
    x_high: float
    muted: bool
    value: float
    low: float
    high: float


@dataclass(frozen=True)
class ForestPlot:
    """Geometry of an inline SVG forest plot (drawn by the ``forest`` template macro)."""

    width: int
    height: int
    plot_left: int
    plot_right: int
    zero_x: float | None
    ticks: tuple[tuple[float, str], ...]
    rows: tuple[ForestRow, ...]
    title: str
    axis_y: float


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    span = hi - lo
    raw = span / max(count - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    start = math.ceil(lo / step) * step
    ticks, value = [], start
    while value <= hi + 1e-12:
        ticks.append(round(value, 12) + 0.0)  # + 0.0 turns -0.0 into 0.0
        value += step
    return ticks


def forest_plot(
    labels: Sequence[str],
    records: Sequence[Mapping[str, Any]],
    *,
    point: str = "difference",
    low: str = "diff_ci_low",
    high: str = "diff_ci_high",
    muted: Sequence[bool] = (),
    title: str = "",
    reference: float | None = 0.0,
) -> ForestPlot | None:
    """Lay out a forest plot (points with interval bars, one row per record).

    Parameters
    ----------
    labels : sequence of str
        Row labels (top to bottom).
    records : sequence of mapping
        Records holding ``point``, ``low`` and ``high``.
    point, low, high : str
        Keys of the estimate and its interval.
    muted : sequence of bool
        Rows drawn grey and hollow (insufficient data).
    title : str
        Axis title.
    reference : float or None
        Where to draw the dashed no-difference line.

    Returns
    -------
    ForestPlot or None
        The geometry, or None when no row has a finite estimate.

    Examples
    --------
    >>> plot = forest_plot(["a"], [{"difference": 0.1, "diff_ci_low": 0.0, "diff_ci_high": 0.2}])
    >>> plot.rows[0].x_low < plot.rows[0].x < plot.rows[0].x_high
    True
    """
    kept = []
    for i, (label, record) in enumerate(zip(labels, records, strict=True)):
        value = record.get(point)
        if not _finite(value):
            continue
        lo = record.get(low) if _finite(record.get(low)) else value
        hi = record.get(high) if _finite(record.get(high)) else value
        kept.append((label, float(value), float(lo), float(hi), bool(muted[i]) if muted else False))
    if not kept:
        return None
    lows = [r[2] for r in kept] + ([reference] if reference is not None else [])
    highs = [r[3] for r in kept] + ([reference] if reference is not None else [])
    lo_all, hi_all = min(lows), max(highs)
    if hi_all - lo_all < 1e-9:
        lo_all, hi_all = lo_all - 0.5, hi_all + 0.5
    pad = 0.05 * (hi_all - lo_all)
    lo_all, hi_all = lo_all - pad, hi_all + pad
    longest = max(len(r[0]) for r in kept)
    left = int(min(max(120, 16 + 6.4 * longest), 460))  # room for the labels (11 px font)
    right, row_h, top = left + 400, 18, 10

    def sx(v: float) -> float:
        return round(left + (v - lo_all) / (hi_all - lo_all) * (right - left), 2)

    rows = tuple(
        ForestRow(label, top + row_h * (i + 0.5), sx(v), sx(lo), sx(hi), grey, v, lo, hi)
        for i, (label, v, lo, hi, grey) in enumerate(kept)
    )
    axis_y = top + row_h * len(kept) + 4
    ticks = tuple((sx(t), f"{t:g}") for t in _ticks(lo_all, hi_all))
    zero = sx(reference) if reference is not None else None
    return ForestPlot(right + 20, int(axis_y + 36), left, right, zero, ticks, rows, title, axis_y)
