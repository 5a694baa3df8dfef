"""Face geometry: the 68 iBUG landmarks and the dense outlines the renderer draws.

Everything is computed from :class:`FaceParams` alone, so the landmarks returned with an image
are the exact points the drawing was built from. Coordinates are normalised to the image:
``(x, y)`` in ``[0, 1]``, x to the right, y down; a normalised coordinate ``u`` is the
continuous pixel position ``u * size`` (pixel ``i`` covers ``[i, i + 1)``).

iBUG 68-point order (image left = the subject's right): jaw 0-16 (image left to right through
the chin at 8), brows 17-21 (image left, outer to inner) and 22-26 (inner to outer), nose
bridge 27-30 (top to tip), lower nose 31-35 (left ala, subnasale at 33, right ala), eyes
36-41 (image-left eye: outer corner, two upper-lid points, inner corner, two lower-lid points)
and 42-47 (inner corner first), outer lips 48-59 (left corner 48, upper lip to right corner
54, lower lip back), inner lips 60-67. Brow points lie on the brow's centre line.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from s2f_data.biaslab.faces._params import FaceParams

__all__ = ["EYE_LINE_Y", "FaceGeometry", "catmull_rom", "face_geometry", "face_landmarks"]

#: Vertical position of the eye line in the image (normalised), independent of face size.
EYE_LINE_Y = 0.43
_JAW_TOP = 0.025  # jaw points 0 and 16 sit this far below the eye line (face units)
_ORIGIN = np.array([0.5, EYE_LINE_Y])  # face-unit origin in the image


@functools.lru_cache(maxsize=32)
def _catmull_rom_basis(samples: int) -> np.ndarray:
    """Weights of the four control points at ``samples`` parameters, ``(samples, 4)``."""
    t = np.linspace(0.0, 1.0, samples, endpoint=False)
    t2, t3 = t * t, t * t * t
    basis = 0.5 * np.stack(
        [-t + 2 * t2 - t3, 2 - 5 * t2 + 3 * t3, t + 4 * t2 - 3 * t3, -t2 + t3], axis=-1
    )
    basis.setflags(write=False)
    return basis


@functools.lru_cache(maxsize=64)
def _window_index(n_seg: int) -> np.ndarray:
    """Return the indices of the four control points of each segment, ``(n_seg, 4)``."""
    index = np.arange(n_seg)[:, None] + np.arange(4)[None, :]
    index.setflags(write=False)
    return index


def catmull_rom(points: np.ndarray, samples: int = 8, closed: bool = False) -> np.ndarray:
    """Return a dense Catmull-Rom spline through ``points``, ``(n, 2) -> (m, 2)``.

    The curve passes through every input point, with ``samples`` points per segment;
    ``m = (n - 1) * samples + 1`` for an open curve and ``n * samples`` for a closed one.
    """
    pts = np.asarray(points, dtype=float)
    if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) < 2:
        raise ValueError(f"catmull_rom needs points of shape (n >= 2, 2), got {pts.shape}")
    if closed:
        ext = np.concatenate([pts[-1:], pts, pts[:2]])
    else:
        ext = np.concatenate([2 * pts[:1] - pts[1:2], pts, 2 * pts[-1:] - pts[-2:-1]])
    n_seg = len(ext) - 3
    windows = ext[_window_index(n_seg)]  # (n_seg, 4, 2)
    seg = np.matmul(_catmull_rom_basis(samples)[None], windows)  # (n_seg, samples, 2)
    out = seg.reshape(-1, 2)
    if not closed:
        out = np.concatenate([out, pts[-1:]])
    return out


@dataclass(frozen=True, kw_only=True)
class FaceGeometry:
    """Landmarks and drawing outlines of one face, all normalised image coordinates.

    Attributes
    ----------
    landmarks : ndarray, (68, 2)
        iBUG order.
    scale : float
        Face-size factor applied around the eye line.
    outline : ndarray, (n, 2)
        Closed face outline (jaw then skull), clockwise from landmark 0.
    jaw : ndarray, (m, 2)
        Dense jaw contour from landmark 0 to 16; the landmarks are among its vertices.
    """

    landmarks: np.ndarray
    scale: float
    outline: np.ndarray
    jaw: np.ndarray
    params: FaceParams

    def to_image(self, xy: np.ndarray) -> np.ndarray:
        """Map face units ``(..., 2)`` (origin between the eyes on the eye line) to the image."""
        return np.asarray(xy, dtype=float) * self.scale + _ORIGIN


def superellipse_jaw(p: FaceParams, phi: np.ndarray) -> np.ndarray:
    """Jaw contour in face units at angles ``phi`` in ``[0, pi]`` (0 = image left)."""
    n = p.jaw_squareness
    c, s = np.cos(phi), np.abs(np.sin(phi))
    depth = p.face_height - _JAW_TOP
    x = -p.face_width * np.sign(c) * np.abs(c) ** (2.0 / n)
    # chin_length moves depth from the whole lower contour into the chin point, so the chin
    # gets pointier while y(pi/2) stays at face_height.
    y = _JAW_TOP + (depth - p.chin_length) * s ** (2.0 / n) + p.chin_length * s**12
    return np.stack([x, y], axis=-1)


def face_geometry(params: FaceParams) -> FaceGeometry:
    """Compute landmarks and outlines of a face (no drawing).

    Parameters
    ----------
    params : FaceParams

    Returns
    -------
    FaceGeometry
    """
    p = params
    scale = float(np.clip(1.0 + 0.06 * p.face_size, 0.75, 1.25))
    lm = np.zeros((68, 2))

    # Jaw 0-16: superellipse, equal angle steps; the dense contour includes those angles.
    phi_lm = np.linspace(0.0, np.pi, 17)
    lm[0:17] = superellipse_jaw(p, phi_lm)
    phi_dense = np.linspace(0.0, np.pi, 16 * 4 + 1)
    jaw = superellipse_jaw(p, phi_dense)
    # Skull: from the right end of the jaw over the top back to the left end.
    psi = np.linspace(0.0, np.pi, 33)[1:-1]
    top = p.forehead_height + _JAW_TOP
    cs, sn = np.cos(psi), np.sin(psi)
    skull = np.stack(
        [
            p.face_width * np.sign(cs) * np.abs(cs) ** (2.0 / 2.4),
            _JAW_TOP - top * sn ** (2.0 / 2.4),
        ],
        axis=-1,
    )
    outline = np.concatenate([jaw, skull])

    # Brows 17-26 on the centre line, outer to inner for the image-left brow.
    t = np.linspace(0.0, 1.0, 5)
    ew = p.eye_width
    bx_outer, bx_inner = p.eye_spacing + 1.25 * ew, p.eye_spacing - 1.0 * ew
    bx = bx_outer + (bx_inner - bx_outer) * t
    arch = np.sin(np.pi * (0.25 + 0.75 * t)) * p.brow_arch  # peak towards the outer third
    by = -p.brow_height - arch + 0.35 * p.brow_arch * (1 - t)
    lm[17:22] = np.stack([-bx, by], axis=-1)
    lm[22:27] = np.stack([bx[::-1], by[::-1]], axis=-1)

    # Nose 27-35.
    nl, nw = p.nose_length, p.nose_width
    lm[27:31, 0] = 0.0
    lm[27:31, 1] = np.linspace(-0.02, nl, 4)
    lm[31:36] = [
        [-nw, nl + 0.006],
        [-0.5 * nw, nl + 0.014],
        [0.0, nl + 0.018],
        [0.5 * nw, nl + 0.014],
        [nw, nl + 0.006],
    ]

    # Eyes 36-47.
    for side in (-1.0, 1.0):
        upper, lower, outer, inner = _eye_curves(p, side, 4)
        # upper/lower run from outer (t=0) to inner (t=1) with 4 samples per third.
        if side < 0:
            lm[36] = outer
            lm[37] = upper[4]
            lm[38] = upper[8]
            lm[39] = inner
            lm[40] = lower[8]
            lm[41] = lower[4]
        else:
            lm[42] = inner
            lm[43] = upper[8]
            lm[44] = upper[4]
            lm[45] = outer
            lm[46] = lower[4]
            lm[47] = lower[8]

    # Mouth 48-67.
    ym, mw, ul, ll = p.mouth_position, p.mouth_width, p.upper_lip, p.lower_lip
    lm[48:60] = [
        [-mw, ym],
        [-0.6 * mw, ym - 0.85 * ul],
        [-0.22 * mw, ym - ul],
        [0.0, ym - 0.82 * ul],
        [0.22 * mw, ym - ul],
        [0.6 * mw, ym - 0.85 * ul],
        [mw, ym],
        [0.6 * mw, ym + 0.8 * ll],
        [0.25 * mw, ym + 0.98 * ll],
        [0.0, ym + ll],
        [-0.25 * mw, ym + 0.98 * ll],
        [-0.6 * mw, ym + 0.8 * ll],
    ]
    gap = 0.0015
    lm[60:68] = [
        [-0.9 * mw, ym],
        [-0.35 * mw, ym - gap],
        [0.0, ym - 0.7 * gap],
        [0.35 * mw, ym - gap],
        [0.9 * mw, ym],
        [0.35 * mw, ym + gap],
        [0.0, ym + 0.7 * gap],
        [-0.35 * mw, ym + gap],
    ]

    geo = FaceGeometry(landmarks=np.empty((68, 2)), scale=scale, outline=outline, jaw=jaw, params=p)
    return FaceGeometry(
        landmarks=geo.to_image(lm).astype(np.float32),
        scale=scale,
        outline=geo.to_image(outline),
        jaw=geo.to_image(jaw),
        params=p,
    )


def _eye_curves(
    p: FaceParams, side: float, per_third: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Upper and lower lid curves of one eye in face units, outer corner to inner corner.

    Returns ``(upper, lower, outer, inner)``; the lids have ``3 * per_third + 1`` points.
    """
    ew, eh = p.eye_width, p.eye_height
    outer = np.array([side * (p.eye_spacing + ew), -p.eye_tilt * ew])
    inner = np.array([side * (p.eye_spacing - ew), 0.0])
    t = np.linspace(0.0, 1.0, 3 * per_third + 1)
    base = outer[None, :] + (inner - outer)[None, :] * t[:, None]
    # The upper lid peaks a little towards the inner side; the lower lid is flatter.
    up = eh * np.sin(np.pi * t) ** 0.85 * (1.0 + 0.15 * (t - 0.5))
    down = 0.7 * eh * np.sin(np.pi * t) ** 1.1
    upper = base.copy()
    upper[:, 1] -= up
    lower = base.copy()
    lower[:, 1] += down
    return upper, lower, outer, inner


def eye_curves_image(
    geo: FaceGeometry, side: float, per_third: int = 6
) -> tuple[np.ndarray, np.ndarray]:
    """Dense upper and lower lid curves of one eye in image coordinates (outer to inner)."""
    upper, lower, _, _ = _eye_curves(geo.params, side, per_third)
    return geo.to_image(upper), geo.to_image(lower)


def face_landmarks(params: FaceParams) -> np.ndarray:
    """Return the 68 iBUG landmarks of a face without rendering it.

    Parameters
    ----------
    params : FaceParams

    Returns
    -------
    ndarray, float32, (68, 2)
        Normalised image coordinates, x right, y down; identical to the landmarks that
        :func:`render_face` returns.

    Examples
    --------
    >>> import numpy as np
    >>> from s2f_data.biaslab.faces import sample_face_params
    >>> p = sample_face_params(np.random.default_rng(0), ethnicity="White", gender="male",
    ...                        age_group="18-29", face_size=0.0)
    >>> face_landmarks(p).shape
    (68, 2)
    """
    return face_geometry(params).landmarks
