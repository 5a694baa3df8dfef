"""Voice pitch analysis: predicted-gender rates of reconstructions by F0 bin and gender."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import pandas as pd

from audit.exceptions import AuditInputError

__all__ = ["DEFAULT_F0_BINS", "f0_bin_column"]

#: F0 bin edges in Hz: typical male voices sit around 85-155 Hz, female around 165-255 Hz.
DEFAULT_F0_BINS: tuple[float, ...] = (0.0, 100.0, 130.0, 160.0, 190.0, 220.0, float("inf"))


def _fmt(edge: float) -> str:
    return f"{edge:g}"


def f0_bin_column(f0_hz: pd.Series, bins: Sequence[float] = DEFAULT_F0_BINS) -> pd.Series:
    """Ordered categorical F0 bin labels such as ``"100-130 Hz"`` (left-closed bins).

    All bins are categories, so empty bins still appear as empty groups.

    Examples
    --------
    >>> import pandas as pd
    >>> f0_bin_column(pd.Series([95.0, 150.0, None]), (0, 100, 200)).tolist()
    ['<100 Hz', '100-200 Hz', nan]
    """
    edges = np.asarray(bins, dtype=float)
    if edges.ndim != 1 or len(edges) < 2 or np.any(np.diff(edges) <= 0):
        raise AuditInputError(f"f0 bins must be at least 2 increasing edges, got {list(bins)}")
    labels = []
    for lo, hi in itertools.pairwise(edges):
        if lo <= 0:
            labels.append(f"<{_fmt(hi)} Hz")
        elif np.isinf(hi):
            labels.append(f">={_fmt(lo)} Hz")
        else:
            labels.append(f"{_fmt(lo)}-{_fmt(hi)} Hz")
    values = pd.to_numeric(f0_hz, errors="coerce").to_numpy(dtype=float)
    idx = np.searchsorted(edges, values, side="right") - 1
    inside = np.isfinite(values) & (idx >= 0) & (idx < len(labels))
    out = pd.Categorical.from_codes(np.where(inside, idx, -1), categories=labels, ordered=True)
    return pd.Series(out, index=f0_hz.index, name="f0_bin")
