"""Craniofacial measures on 68-point (iBUG) face landmarks, numpy only.

The paper (Oh et al. 2019, table 4) correlated these measures between true faces and
reconstructions. Each measure is a ratio of two landmark distances (dimensionless) or a
distance / area normalised by the squared or plain inter-ocular distance (distance between
the two eye centres), so that image size and face scale cancel. Definitions and landmark
indices (0-based, iBUG order) are documented in ``docs/metrics.md``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["CRANIOFACIAL_MEASURES", "craniofacial_measures", "inter_ocular_distance"]

#: Measure name -> one-line definition (landmark indices are 0-based iBUG 68-point).
CRANIOFACIAL_MEASURES: dict[str, str] = {
    "nasal_index": "nose width |31-35| / nose height |27-33|",
    "nose_width": "|31-35| / IOD",
    "vermilion_height_index": "upper vermilion |51-62| / lower vermilion |66-57|",
    "nose_area": "area of polygon 27,31,32,33,34,35 / IOD^2",
    "lateral_upper_lip_heights": "mean(|31-48|, |35-54|) / IOD",
    "intercanthal_index": "inner eye corners |39-42| / outer eye corners |36-45|",
    "mouth_face_width_index": "mouth width |48-54| / face width |0-16|",
    "mandibular_index": "stomion-chin |sto-8| / jaw width |4-12|",
    "labio_oral_region": "area of outer lip polygon 48..59 / IOD^2",
    "upper_lip_height": "subnasale-stomion |33-sto| / IOD",
    "nose_height": "|27-33| / IOD",
    "jaw_width": "|4-12| / IOD",
    "philtrum_width": "|50-52| / IOD",
}

_N_POINTS = 68


def _dist(pts: np.ndarray, a: int | np.ndarray, b: int | np.ndarray) -> np.ndarray:
    """Euclidean distance per face between two landmarks (or landmark-valued arrays)."""
    pa = pts[:, a] if isinstance(a, int) else a
    pb = pts[:, b] if isinstance(b, int) else b
    return np.linalg.norm(pa - pb, axis=-1)


def _polygon_area(poly: np.ndarray) -> np.ndarray:
    """Shoelace area of polygons ``(N, P, 2) -> (N,)`` (absolute value, any orientation)."""
    x, y = poly[..., 0], poly[..., 1]
    return 0.5 * np.abs(np.sum(x * np.roll(y, -1, axis=1) - np.roll(x, -1, axis=1) * y, axis=1))


def _check_landmarks(landmarks: np.ndarray) -> np.ndarray:
    pts = np.asarray(landmarks, dtype=np.float64)
    if pts.ndim == 2:
        pts = pts[None]  # (68, 2) -> (1, 68, 2)
    if pts.ndim != 3 or pts.shape[1:] != (_N_POINTS, 2):
        raise ValueError(
            f"landmarks must have shape (N, 68, 2) or (68, 2) in iBUG 68-point order, "
            f"got {np.shape(landmarks)}"
        )
    if np.isinf(pts).any():
        raise ValueError("landmarks contain Inf; use NaN for a face whose landmarks are missing")
    return pts


def inter_ocular_distance(landmarks: np.ndarray) -> np.ndarray:
    """Distance between the two eye centres, the face scale of the normalised measures.

    Parameters
    ----------
    landmarks : numpy.ndarray
        ``(N, 68, 2)`` (or one face ``(68, 2)``), iBUG order, isotropic coordinates.

    Returns
    -------
    numpy.ndarray
        ``(N,)``: distance between the mean of points 36-41 and the mean of points 42-47.

    Examples
    --------
    >>> pts = np.zeros((68, 2)); pts[42:48, 0] = 2.0
    >>> float(inter_ocular_distance(pts)[0])
    2.0
    """
    pts = _check_landmarks(landmarks)
    return _dist(pts, pts[:, 36:42].mean(axis=1), pts[:, 42:48].mean(axis=1))


def craniofacial_measures(landmarks: np.ndarray) -> pd.DataFrame:
    """Compute the paper's craniofacial measures plus philtrum width for each face.

    Parameters
    ----------
    landmarks : numpy.ndarray
        ``(N, 68, 2)`` landmarks in iBUG 68-point order (or one face ``(68, 2)``). The
        coordinates must be isotropic (pixels, or fractions of a square image), because
        ratios of horizontal and vertical distances change under unequal axis scaling. A
        face whose landmarks are NaN (e.g. no face detected) gives a row of NaN.

    Returns
    -------
    pandas.DataFrame
        ``N`` rows, one column per name in :data:`CRANIOFACIAL_MEASURES`, in that order.
        Index measures are dimensionless ratios (not multiplied by 100); distances are
        divided by the inter-ocular distance (IOD) and areas by IOD squared. A zero
        denominator gives NaN, never 0 or Inf.

    Raises
    ------
    ValueError
        If the array does not have shape ``(N, 68, 2)`` or contains Inf.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> table = craniofacial_measures(rng.uniform(size=(3, 68, 2)))
    >>> table.shape
    (3, 13)
    """
    pts = _check_landmarks(landmarks)
    iod = _dist(pts, pts[:, 36:42].mean(axis=1), pts[:, 42:48].mean(axis=1))
    stomion = 0.5 * (pts[:, 62] + pts[:, 66])  # midpoint of the inner lip centres

    nose_width = _dist(pts, 31, 35)
    nose_height = _dist(pts, 27, 33)
    jaw_width = _dist(pts, 4, 12)
    nose_poly = pts[:, [27, 31, 32, 33, 34, 35]]  # nasion, alae and nostril base
    values = {
        "nasal_index": (nose_width, nose_height),
        "nose_width": (nose_width, iod),
        "vermilion_height_index": (_dist(pts, 51, 62), _dist(pts, 66, 57)),
        "nose_area": (_polygon_area(nose_poly), iod**2),
        "lateral_upper_lip_heights": (0.5 * (_dist(pts, 31, 48) + _dist(pts, 35, 54)), iod),
        "intercanthal_index": (_dist(pts, 39, 42), _dist(pts, 36, 45)),
        "mouth_face_width_index": (_dist(pts, 48, 54), _dist(pts, 0, 16)),
        "mandibular_index": (_dist(pts, stomion, 8), jaw_width),
        "labio_oral_region": (_polygon_area(pts[:, 48:60]), iod**2),
        "upper_lip_height": (_dist(pts, 33, stomion), iod),
        "nose_height": (nose_height, iod),
        "jaw_width": (jaw_width, iod),
        "philtrum_width": (_dist(pts, 50, 52), iod),
    }
    columns = {}
    for name in CRANIOFACIAL_MEASURES:
        num, den = values[name]
        with np.errstate(divide="ignore", invalid="ignore"):
            columns[name] = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan)
    return pd.DataFrame(columns, columns=list(CRANIOFACIAL_MEASURES))
