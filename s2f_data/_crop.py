"""Square crops around a normalised centre point, shared by face images and video frames.

Its own module so that :mod:`s2f_data._images` (which decodes video frames) and
:mod:`s2f_data._video` (which crops the frames it saves) import it without importing each
other.
"""

from __future__ import annotations

import numpy as np

__all__ = ["crop_around"]


def crop_around(image: np.ndarray, cx: float, cy: float, side_fraction: float) -> np.ndarray:
    """Cut a square around a normalised centre point (e.g. AVSpeech's face centre).

    Parameters
    ----------
    image : numpy.ndarray
        Shape ``(H, W, 3)``.
    cx, cy : float
        Centre in ``[0, 1]`` of the width and height.
    side_fraction : float
        Side of the square as a fraction of the image height, in ``(0, 1]``.

    Returns
    -------
    numpy.ndarray
        Shape ``(s, s, 3)`` with ``s = round(side_fraction * H)``, shifted to stay inside the
        image (``s`` is capped by the short side).

    Examples
    --------
    >>> crop_around(np.zeros((10, 20, 3), dtype=np.uint8), 0.0, 1.0, 0.4).shape
    (4, 4, 3)
    """
    if image.ndim != 3:
        raise ValueError(f"expected (H, W, 3), got {image.shape}")
    if not (0 <= cx <= 1 and 0 <= cy <= 1):
        raise ValueError(f"face centre must be in [0, 1], got ({cx}, {cy})")
    if not 0 < side_fraction <= 1:
        raise ValueError(f"side_fraction must be in (0, 1], got {side_fraction}")
    h, w = image.shape[:2]
    side = max(1, min(h, w, round(side_fraction * h)))
    left = min(max(0, round(cx * w - side / 2)), w - side)
    top = min(max(0, round(cy * h - side / 2)), h - side)
    return image[top : top + side, left : left + side]
