"""Temperature scaling and expected calibration error (numpy and scipy only)."""

from __future__ import annotations

import numpy as np

__all__ = ["expected_calibration_error", "fit_temperature"]


def expected_calibration_error(probs: np.ndarray, y: np.ndarray, n_bins: int = 15) -> float:
    """Top-label expected calibration error with equal-width confidence bins.

    ``ECE = sum_b (n_b / n) * |accuracy_b - mean confidence_b|``, bins ``(0, 1/B], ...``.

    Parameters
    ----------
    probs : numpy.ndarray
        ``(n, K)`` class probabilities.
    y : numpy.ndarray
        ``(n,)`` integer true classes.
    n_bins : int
        Number of bins ``B``.

    Returns
    -------
    float
        ECE in ``[0, 1]``; NaN when ``n == 0``.

    Examples
    --------
    >>> expected_calibration_error(np.array([[0.9, 0.1], [0.9, 0.1]]), np.array([0, 1]))
    0.4
    """
    probs = np.asarray(probs, dtype=np.float64)
    y = np.asarray(y)
    if probs.ndim != 2 or y.shape != (len(probs),):
        raise ValueError(f"need probs (n, K) and y (n,), got {probs.shape} and {y.shape}")
    if len(y) == 0:
        return float("nan")
    conf = probs.max(axis=1)
    correct = probs.argmax(axis=1) == y
    bins = np.clip(np.ceil(conf * n_bins).astype(int) - 1, 0, n_bins - 1)
    ece = 0.0
    for b in np.unique(bins):
        mask = bins == b
        ece += mask.mean() * abs(correct[mask].mean() - conf[mask].mean())
    return float(ece)


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """Temperature ``T`` minimising the negative log-likelihood of ``softmax(logits / T)``.

    Parameters
    ----------
    logits : numpy.ndarray
        ``(n, K)`` calibration-split logits.
    y : numpy.ndarray
        ``(n,)`` integer true classes.

    Returns
    -------
    float
        ``T`` in ``[0.05, 20]``; 1.0 when ``n == 0``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 2000)
    >>> z = np.where(y[:, None] == [0, 1], 1.0, -1.0) + rng.normal(size=(2000, 2))
    >>> round(fit_temperature(3 * z, y) / fit_temperature(z, y), 2)
    3.0
    """
    from scipy.optimize import minimize_scalar
    from scipy.special import log_softmax

    logits = np.asarray(logits, dtype=np.float64)
    y = np.asarray(y, dtype=int)
    if len(y) == 0:
        return 1.0

    def nll(log_t: float) -> float:
        return float(-log_softmax(logits / np.exp(log_t), axis=1)[np.arange(len(y)), y].mean())

    res = minimize_scalar(
        nll, bounds=(np.log(0.05), np.log(20.0)), method="bounded", options={"xatol": 1e-6}
    )
    return float(np.exp(res.x))
