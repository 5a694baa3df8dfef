"""Procedural renderer of frontal, neutral faces with Pillow (supersampled, box-filtered).

The renderer is a pure function of :class:`FaceParams`: no randomness, no fonts, no files.
Shapes are drawn on a canvas ``ss`` times larger than the output (``ss >= 2``, and the canvas
at least 192 px) and reduced with a box filter, which antialiases every edge. Skin gets
ellipsoidal shading and a side light in NumPy. All outlines come from
:func:`~s2f_data.biaslab.faces._geometry.face_geometry`, the same function that gives the
landmarks.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import Image, ImageDraw

from s2f_data.biaslab.faces._geometry import (
    EYE_LINE_Y,
    FaceGeometry,
    catmull_rom,
    eye_curves_image,
    face_geometry,
    superellipse_jaw,
)
from s2f_data.biaslab.faces._params import FaceParams

__all__ = ["MAX_SIZE", "MIN_SIZE", "render_face"]

MIN_SIZE = 32
MAX_SIZE = 512
_SCLERA = np.array([0.93, 0.91, 0.87])
_LASH = np.array([0.08, 0.06, 0.05])


class _Canvas:
    """Drawing helpers in normalised / face-unit coordinates on a supersampled canvas."""

    def __init__(self, geo: FaceGeometry, side: int) -> None:
        self.geo = geo
        self.side = side
        self.k = geo.scale * side  # canvas pixels per face unit

    def px(self, pts: np.ndarray) -> list[float]:
        """Normalised image coordinates ``(n, 2)`` -> flat canvas pixel list ``[x0, y0, ...]``."""
        return (np.asarray(pts, dtype=float) * self.side - 0.5).ravel().tolist()

    def fu(self, pts: np.ndarray) -> list[float]:
        """Face units ``(n, 2)`` -> flat canvas pixel list."""
        return self.px(self.geo.to_image(np.asarray(pts, dtype=float)))

    def width(self, face_units: float) -> int:
        """Convert a line width in face units to whole canvas pixels (at least 1)."""
        return max(1, round(face_units * self.k))


class _Painter:
    """Pillow drawing on one canvas: opaque fills take the fast path, translucent ones blend.

    ``ImageDraw.Draw(img, "RGBA")`` blends every fill and is ~3x slower than plain drawing
    even for opaque colours, so the fill's length (3 or 4) picks the drawer. Thick lines are
    drawn as one polygon around the curve: no overlapping segments (which would darken
    translucent strokes at every joint) and no per-joint circles.
    """

    def __init__(self, img: Image.Image) -> None:
        self.img = img
        self._opaque = ImageDraw.Draw(img)
        self._blend = ImageDraw.Draw(img, "RGBA")

    def _pick(self, fill: tuple[int, ...]) -> ImageDraw.ImageDraw:
        return self._opaque if len(fill) == 3 else self._blend

    def polygon(self, xy: list[float], fill: tuple[int, ...]) -> None:
        """Fill a polygon given as a flat ``[x0, y0, x1, y1, ...]`` list of canvas pixels."""
        self._pick(fill).polygon(xy, fill=fill)

    def ellipse(self, box: list[float], fill: tuple[int, ...]) -> None:
        """Fill the ellipse inscribed in ``box`` (``[x0, y0, x1, y1]``)."""
        self._pick(fill).ellipse(box, fill=fill)

    def line(
        self, xy: list[float], fill: tuple[int, ...], width: int = 1, joint: str | None = None
    ) -> None:
        """Stroke a polyline (segments only: on our dense, smooth curves joints need no caps).

        ``joint`` is accepted and ignored: Pillow's round joints cost up to 10x the line.
        """
        del joint
        self._pick(fill).line(xy, fill=fill, width=width)


def _over(base: np.ndarray, colour: np.ndarray, alpha: float) -> np.ndarray:
    """``colour`` at opacity ``alpha`` over a flat ``base`` colour (drawn opaque: faster)."""
    return (1.0 - alpha) * np.asarray(base) + alpha * np.asarray(colour)


def _rgb(colour: np.ndarray | tuple[float, ...], alpha: float | None = None) -> tuple[int, ...]:
    """RGB floats in [0, 1] (clipped) -> 8-bit tuple, with an optional alpha in [0, 1]."""
    if isinstance(colour, np.ndarray):
        colour = colour.tolist()  # Python floats: much faster to clip one by one
    out = tuple(int(min(max(v, 0.0), 1.0) * 255 + 0.5) for v in colour)
    if alpha is None:
        return out
    return (*out, int(min(max(float(alpha), 0.0), 1.0) * 255 + 0.5))


def _ellipse_pts(cx: float, cy: float, rx: float, ry: float, n: int = 48) -> np.ndarray:
    a = np.linspace(0.0, 2 * np.pi, n, endpoint=False)
    return np.stack([cx + rx * np.cos(a), cy + ry * np.sin(a)], axis=-1)


def render_face(params: FaceParams, size: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """Draw a face and return it with its 68 ground-truth landmarks.

    Parameters
    ----------
    params : FaceParams
        The face; rendering is deterministic in ``params`` and ``size``.
    size : int, default 128
        Output side in pixels (supported 32-512; designed for 64-224).

    Returns
    -------
    image : ndarray, uint8, (size, size, 3)
        RGB.
    landmarks : ndarray, float32, (68, 2)
        iBUG 68-point order, normalised to ``[0, 1]`` of the image width/height, x right,
        y down (a coordinate ``u`` is the continuous pixel position ``u * size``).

    Examples
    --------
    >>> import numpy as np
    >>> from s2f_data.biaslab.faces import sample_face_params
    >>> p = sample_face_params(np.random.default_rng(0), ethnicity="Indian", gender="female",
    ...                        age_group="45-59", face_size=0.0)
    >>> image, landmarks = render_face(p, size=64)
    >>> image.shape, image.dtype, landmarks.shape
    ((64, 64, 3), dtype('uint8'), (68, 2))
    """
    if not isinstance(params, FaceParams):
        raise ValueError(f"params must be a FaceParams, got {type(params).__name__}")
    if isinstance(size, bool) or not isinstance(size, int | np.integer):
        raise ValueError(f"size must be an integer number of pixels, got {size!r}")
    size = int(size)
    if not MIN_SIZE <= size <= MAX_SIZE:
        raise ValueError(f"size must be in [{MIN_SIZE}, {MAX_SIZE}] pixels, got {size}")
    ss = max(2, math.ceil(192 / size))
    side = size * ss
    geo = face_geometry(params)
    canvas, face_mask = _draw(geo, side)
    image = np.asarray(canvas.reduce(ss), dtype=np.float32)
    mask = np.asarray(face_mask.reduce(ss), dtype=np.float32) / 255.0
    factor = _shading(geo, size) * mask + (1.0 - mask)  # (size, size)
    image = image * (factor * np.float32(params.light_gain))[:, :, None]
    image = np.clip(image + 0.5, 0, 255).astype(np.uint8)
    return image, geo.landmarks.copy()


def _draw(geo: FaceGeometry, side: int) -> tuple[Image.Image, Image.Image]:
    """Draw the face on a ``side``-pixel canvas; return it and the face mask (mode L)."""
    p = geo.params
    cv = _Canvas(geo, side)
    skin = np.asarray(p.skin_rgb)
    hair = np.asarray(p.hair_rgb)
    img = Image.new("RGB", (side, side), _rgb(p.background_rgb))
    draw = _Painter(img)

    _draw_body(draw, cv, p, skin)
    _draw_back_hair(draw, cv, p, hair)
    _draw_ears(draw, cv, p, skin)
    # The face itself; shading is applied later through its mask.
    outline = cv.px(geo.outline)
    draw.polygon(outline, fill=_rgb(skin))
    face_mask = Image.new("L", (side, side), 0)
    mask_draw = ImageDraw.Draw(face_mask)
    mask_draw.polygon(outline, fill=255)
    _draw_facial_hair(draw, cv, geo, p, skin, hair)  # over flat skin, so it can be opaque
    _draw_age_lines(draw, cv, p, skin)
    _draw_nose(draw, cv, geo, p, skin)
    _draw_mouth(draw, cv, geo, p, skin)
    _draw_eyes(draw, cv, geo, p, skin)
    _draw_brows(draw, cv, geo, p, skin, hair)
    hair_pts = _draw_front_hair(draw, cv, geo, p, skin, hair)
    for pts in hair_pts:  # hair on the head is lit like the head, with no seam at the outline
        mask_draw.polygon(pts, fill=255)
    return img, face_mask


def _draw_body(draw: _Painter, cv: _Canvas, p: FaceParams, skin: np.ndarray) -> None:
    fw, fh = p.face_width, p.face_height
    # Shoulders: a wide ellipse below the chin.
    top = fh + 0.10
    draw.ellipse(
        cv.fu(np.array([[-2.1 * fw, top], [2.1 * fw, top + 0.9]])), fill=_rgb(p.clothing_rgb)
    )
    # Neck, in the shadow of the jaw.
    nw = 0.56 * fw
    neck = np.array(
        [
            [-nw, 0.15],
            [nw, 0.15],
            [nw * 1.05, top + 0.06],
            [0.0, top + 0.12],
            [-nw * 1.05, top + 0.06],
        ]
    )
    draw.polygon(cv.fu(neck), fill=_rgb(skin * 0.72))  # in the shadow of the jaw
    # The jaw casts a shadow on the neck: the jaw contour moved down, under the face.
    jaw = superellipse_jaw(p, np.linspace(0.0, np.pi, 33))
    jaw = jaw[(np.abs(jaw[:, 0]) <= nw) & (jaw[:, 1] > 0.1)]  # the part over the neck
    neck_colour = skin * 0.72
    for depth, alpha in ((0.06, 0.45), (0.035, 0.64), (0.015, 0.75)):  # darkest near the jaw
        shadow = np.concatenate([jaw, (jaw + np.array([0.0, depth]))[::-1]])
        draw.polygon(cv.fu(shadow), fill=_rgb(_over(neck_colour, skin * 0.35, alpha)))
    # Collar line.
    draw.line(
        cv.fu(np.array([[-nw * 1.3, top + 0.03], [0.0, top + 0.13], [nw * 1.3, top + 0.03]])),
        fill=_rgb(np.asarray(p.clothing_rgb) * 0.6),
        width=cv.width(0.008),
    )


def _skull_arc(p: FaceParams, grow: float, y_from: float, n: int = 24) -> np.ndarray:
    """Skull outline grown by ``grow`` (face units), left to right over the top.

    Both ends are at height ``y_from`` (face units).
    """
    a = p.face_width + grow
    top = p.forehead_height + 0.025 + grow
    # The skull outline is x = a cos^(2/2.4), y = 0.025 - top sin^(2/2.4) for psi in (0, pi).
    s_from = np.clip((0.025 - y_from) / top, 0.0, 1.0) ** 1.2
    psi0 = math.asin(float(s_from))
    psi = np.linspace(math.pi - psi0, psi0, n)
    cs, sn = np.cos(psi), np.sin(psi)
    return np.stack(
        [a * np.sign(cs) * np.abs(cs) ** (2 / 2.4), 0.025 - top * sn ** (2 / 2.4)], axis=-1
    )


def _draw_back_hair(draw: _Painter, cv: _Canvas, p: FaceParams, hair: np.ndarray) -> None:
    v = p.hair_volume
    if p.hair_style in ("long", "bob"):
        bottom = p.face_height + (0.18 if p.hair_style == "long" else -0.02)
        arc = _skull_arc(p, v + 0.01, 0.05)
        fw = p.face_width + v + 0.02
        flare = 0.03 if p.hair_style == "long" else 0.015
        sides = np.array(
            [
                [fw + flare, bottom - 0.03],
                [fw * 0.6, bottom],
                [-fw * 0.6, bottom],
                [-fw - flare, bottom - 0.03],
            ]
        )
        pts = np.concatenate([arc, sides])
        draw.polygon(cv.fu(pts), fill=_rgb(hair * 0.85))
    elif p.hair_style == "curly":
        a, b = p.face_width + v + 0.02, p.forehead_height * 0.62 + v + 0.05
        ang = np.linspace(0, 2 * np.pi, 68, endpoint=False)
        bump = 1.0 + 0.04 * np.cos(ang * 17)  # 4 vertices per bump
        pts = np.stack(
            [a * bump * np.cos(ang), -p.forehead_height * 0.45 + b * bump * np.sin(ang)], axis=-1
        )
        draw.polygon(cv.fu(pts), fill=_rgb(hair * 0.9))


def _draw_ears(draw: _Painter, cv: _Canvas, p: FaceParams, skin: np.ndarray) -> None:
    h = p.ear_size
    w = 0.36 * h
    for side in (-1.0, 1.0):
        cx = side * (p.face_width + 0.25 * w)
        cy = 0.045
        draw.polygon(cv.fu(_ellipse_pts(cx, cy, w, h / 2, 20)), fill=_rgb(skin * 0.88))
        inner = _ellipse_pts(cx + side * 0.15 * w, cy + 0.005, 0.5 * w, 0.34 * h, 16)
        draw.polygon(cv.fu(inner), fill=_rgb(skin * 0.66, 0.6))


def _shading(geo: FaceGeometry, size: int) -> np.ndarray:
    """Ellipsoidal shading with a side light over the head, ``(size, size)`` float32."""
    p = geo.params
    u = (np.arange(size, dtype=np.float32) + 0.5) / size
    half_w = 1.04 * geo.scale * p.face_width
    top = EYE_LINE_Y - geo.scale * (p.forehead_height + 0.025)
    bottom = EYE_LINE_Y + geo.scale * p.face_height
    cy, half_h = 0.5 * (top + bottom) + 0.02 * geo.scale, 0.5 * (bottom - top) * 1.06
    rx = (u - 0.5) / half_w  # (W,)
    ry = (u - cy) / half_h  # (H,)
    r2 = rx[None, :] ** 2 + ry[:, None] ** 2  # (H, W)
    nz = np.sqrt(np.clip(1.0 - r2, 0.0, 1.0))
    light = 0.80 + 0.22 * nz**0.5 + 0.10 * p.light_direction * rx[None, :]
    light -= 0.12 * np.clip(ry[:, None] - 0.55, 0.0, None)  # towards the chin is darker
    # Modelling: a highlight down the forehead and nose, shadows under the cheekbones.
    ex = EYE_LINE_Y + geo.scale * (p.mouth_position * 0.55)  # height of the cheek hollows
    sx = geo.scale * p.face_width
    gx_mid = np.exp(-0.5 * ((u - 0.5) / (0.18 * sx)) ** 2)  # (W,)
    gy_mid = np.exp(-0.5 * ((u - (EYE_LINE_Y - 0.02 * geo.scale)) / (0.45 * sx)) ** 2)  # (H,)
    light += 0.05 * gy_mid[:, None] * gx_mid[None, :]
    gx_cheek = np.exp(-0.5 * ((np.abs(u - 0.5) - 0.72 * sx) / (0.14 * sx)) ** 2)
    gy_cheek = np.exp(-0.5 * ((u - ex) / (0.16 * sx)) ** 2)
    light -= 0.06 * gy_cheek[:, None] * gx_cheek[None, :]
    return np.clip(light, 0.5, 1.15).astype(np.float32)


def _draw_age_lines(draw: _Painter, cv: _Canvas, p: FaceParams, skin: np.ndarray) -> None:
    w = p.wrinkles
    if w < 0.08:
        return
    line = _rgb(skin * 0.55, 0.15 + 0.45 * w)
    lw = cv.width(0.0035)
    # Forehead lines.
    n_lines = 1 + int(w * 3)
    for i in range(n_lines):
        y = -p.brow_height - 0.035 - 0.02 * i
        half = 0.08 + 0.02 * i
        xs = np.linspace(-half, half, 7)
        ys = y - 0.006 * np.cos(xs / half * np.pi / 2)
        draw.line(cv.fu(np.stack([xs, ys], -1)), fill=line, width=lw, joint="curve")
    # Nasolabial folds.
    for side in (-1.0, 1.0):
        pts = np.array(
            [
                [side * (p.nose_width + 0.012), p.nose_length - 0.01],
                [side * (p.nose_width + 0.028), p.mouth_position - 0.03],
                [side * (p.mouth_width + 0.012), p.mouth_position + 0.012 + 0.02 * w],
            ]
        )
        draw.line(
            cv.fu(catmull_rom(pts, 6)),
            fill=_rgb(skin * 0.55, 0.2 + 0.5 * w),
            width=cv.width(0.004),
            joint="curve",
        )
        # Crow's feet.
        ox = side * (p.eye_spacing + p.eye_width + 0.008)
        oy = -p.eye_tilt * p.eye_width
        for dy in (-0.012, 0.0, 0.012):
            draw.line(
                cv.fu(np.array([[ox, oy + 0.3 * dy], [ox + side * 0.02, oy + dy]])),
                fill=line,
                width=max(1, lw - 1),
            )
        # Under-eye bag.
        ex = side * p.eye_spacing
        xs = np.linspace(-0.8, 0.8, 7) * p.eye_width
        ys = 0.62 * p.eye_height + 0.012 + 0.006 * (1 - (xs / p.eye_width) ** 2)
        draw.line(
            cv.fu(np.stack([ex + xs, ys], -1)),
            fill=_rgb(skin * 0.6, 0.1 + 0.35 * w),
            width=lw,
            joint="curve",
        )


def _draw_nose(
    draw: _Painter, cv: _Canvas, geo: FaceGeometry, p: FaceParams, skin: np.ndarray
) -> None:
    nl, nw = p.nose_length, p.nose_width
    shadow = _rgb(skin * 0.6, 0.22)
    # Bridge sides.
    for side in (-1.0, 1.0):
        pts = np.array(
            [[side * 0.022, 0.0], [side * 0.02, 0.5 * nl], [side * 0.5 * nw, nl - 0.025]]
        )
        draw.line(cv.fu(catmull_rom(pts, 5)), fill=shadow, width=cv.width(0.007), joint="curve")
    # Tip highlight.
    draw.ellipse(
        cv.fu(np.array([[-0.35 * nw, nl - 0.018], [0.35 * nw, nl + 0.002]])),
        fill=_rgb(np.minimum(skin * 1.25 + 0.05, 1.0), 0.35),
    )
    # Alae: a curve from the side of the tip out and down to the ala landmark.
    for side, ala, inner in ((-1.0, 31, 32), (1.0, 35, 34)):
        a = geo.landmarks[ala]
        pts_fu = np.array(
            [
                [side * 0.55 * nw, nl - 0.026],
                [side * 0.98 * nw, nl - 0.012],
                [side * nw, nl + 0.006],
                [side * 0.75 * nw, nl + 0.012],
            ]
        )
        draw.line(
            cv.fu(catmull_rom(pts_fu, 6)),
            fill=_rgb(skin * 0.55, 0.6),
            width=cv.width(0.005),
            joint="curve",
        )
        # Nostril: dark ellipse between the ala and the subnasale side point.
        b = geo.landmarks[inner]
        cx, cy = (a + b) / 2
        rx = abs(float(b[0] - a[0])) * 0.45
        ry = 0.006 * geo.scale
        draw.ellipse(
            [
                (cx - rx) * cv.side,
                (cy - 1.4 * ry) * cv.side,
                (cx + rx) * cv.side,
                (cy + 0.4 * ry) * cv.side,
            ],
            fill=_rgb(skin * 0.28, 0.9),
        )
    # Shadow under the nose: a soft patch below the subnasale and a line along 31-35.
    sub = geo.landmarks[33].astype(float)
    rx, ry = 0.55 * nw * geo.scale, 0.008 * geo.scale
    draw.ellipse(
        [
            (sub[0] - rx) * cv.side,
            (sub[1] - 0.3 * ry) * cv.side,
            (sub[0] + rx) * cv.side,
            (sub[1] + 1.2 * ry) * cv.side,
        ],
        fill=_rgb(skin * 0.5, 0.35),
    )
    under = catmull_rom(geo.landmarks[31:36].astype(float), 5)
    draw.line(cv.px(under), fill=_rgb(skin * 0.4, 0.65), width=cv.width(0.006), joint="curve")


def _draw_mouth(
    draw: _Painter, cv: _Canvas, geo: FaceGeometry, p: FaceParams, skin: np.ndarray
) -> None:
    lm = geo.landmarks.astype(float)
    lip = np.asarray(p.lip_rgb)
    upper_outer = catmull_rom(lm[48:55], 6)
    lower_outer = catmull_rom(np.concatenate([lm[54:60], lm[48:49]]), 6)
    upper_inner = catmull_rom(lm[60:65], 6)
    lower_inner = catmull_rom(np.concatenate([lm[64:68], lm[60:61]]), 6)
    # Philtrum shadow.
    draw.line(
        cv.px(np.array([lm[33] + [0, 0.004], lm[51] - [0, 0.002]])),
        fill=_rgb(skin * 0.8, 0.3),
        width=cv.width(0.014),
    )
    # Upper lip: outer curve from 48 to 54, then the inner curve back from 64 to 60.
    draw.polygon(cv.px(np.concatenate([upper_outer, upper_inner[::-1]])), fill=_rgb(lip * 0.9))
    draw.polygon(cv.px(np.concatenate([lower_outer, lower_inner[::-1]])), fill=_rgb(lip))
    # Lower-lip highlight and the line where the lips meet.
    hl = np.array([(lm[67] + lm[58]) / 2, (lm[66] + lm[57]) / 2, (lm[65] + lm[56]) / 2])
    draw.line(
        cv.px(catmull_rom(hl, 4)),
        fill=_rgb(np.minimum(lip * 1.3 + 0.05, 1), 0.35),
        width=cv.width(0.004),
        joint="curve",
    )
    # The line where the lips meet runs a little past each corner (the commissure).
    ext = np.array([0.006 * geo.scale, 0.0])
    meet = catmull_rom(np.concatenate([lm[48:49] - ext, lm[60:65], lm[54:55] + ext]), 6)
    draw.line(cv.px(meet), fill=_rgb(lip * 0.45), width=cv.width(0.0045), joint="curve")
    # Shadow below the lower lip.
    below = np.array([lm[58], lm[57], lm[56]]) + np.array([0.0, 0.012 * geo.scale])
    draw.line(
        cv.px(catmull_rom(below, 4)),
        fill=_rgb(skin * 0.65, 0.25),
        width=cv.width(0.008),
        joint="curve",
    )


def _draw_eyes(
    draw: _Painter, cv: _Canvas, geo: FaceGeometry, p: FaceParams, skin: np.ndarray
) -> None:
    img = draw.img
    side_px = cv.side
    curves = [eye_curves_image(geo, side) for side in (-1.0, 1.0)]
    r = 0.42 * p.eye_width * geo.scale
    allpts = np.concatenate([c for pair in curves for c in pair])
    # Masks only over a box around both eyes (pasting over the whole canvas is slow).
    bx0 = max(0, int(allpts[:, 0].min() * side_px) - 4)
    by0 = max(0, int((allpts[:, 1].min() - r) * side_px) - 4)
    bx1 = min(side_px, int(allpts[:, 0].max() * side_px) + 5)
    by1 = min(side_px, int((allpts[:, 1].max() + r) * side_px) + 5)
    box = (bx1 - bx0, by1 - by0)
    # The openings as a mask over the box; the irises are drawn on a crop of the box and
    # pasted back through the mask, so the lids clip them.
    opening_mask = Image.new("L", box, 0)
    mask_draw = ImageDraw.Draw(opening_mask)
    off = np.array([bx0, by0], dtype=float)

    def local(pts: np.ndarray) -> list[float]:
        return (np.asarray(pts) * side_px - 0.5 - off).ravel().tolist()

    lids = []
    irises = []
    for upper, lower in curves:
        lids.append((upper, lower))
        # Eyelid crease above the upper lid (weak or absent with an eyelid fold).
        crease = upper.copy()
        crease[:, 1] -= (0.35 + 0.45 * (1 - p.eyelid_fold)) * p.eye_height * geo.scale + 0.004
        crease = crease[2:-1]
        alpha = 0.45 * (1.0 - p.eyelid_fold)
        if alpha > 0.03:
            draw.line(
                cv.px(crease), fill=_rgb(skin * 0.55, alpha), width=cv.width(0.004), joint="curve"
            )
        # Socket shadow between the brow and the lid.
        draw.line(
            cv.px(crease - [0, 0.008 * geo.scale]),
            fill=_rgb(skin * 0.7, 0.18),
            width=cv.width(0.012),
            joint="curve",
        )
        opening = np.concatenate([upper, lower[::-1]])
        draw.polygon(cv.px(opening), fill=_rgb(_SCLERA * (0.9 + 0.1 * skin.mean())))
        mask_draw.polygon(local(opening), fill=255)
        ex = 0.5 * (upper[0, 0] + upper[-1, 0])
        ey = 0.5 * (upper[0, 1] + upper[-1, 1]) - 0.1 * p.eye_height * geo.scale
        irises.append((ex, ey))
    crop = img.crop((bx0, by0, bx1, by1))
    crop_draw = ImageDraw.Draw(crop)
    iris = np.asarray(p.iris_rgb)
    for ex, ey in irises:
        for rr, colour in ((r, iris * 0.55), (0.82 * r, iris), (0.38 * r, _LASH)):
            crop_draw.ellipse(
                local(np.array([[ex - rr, ey - rr], [ex + rr, ey + rr]])), fill=_rgb(colour)
            )
    img.paste(crop, (bx0, by0), mask=opening_mask)  # in place: the painter stays valid
    for upper, lower in lids:
        # Catchlight inside the iris, only where it lies inside the opening.
        ex = 0.5 * (upper[0, 0] + upper[-1, 0])
        mid = len(upper) // 2
        cy = 0.5 * (upper[mid, 1] + lower[mid, 1])
        if upper[mid, 1] + 0.2 * r < cy - 0.25 * r:
            cx_ = ex + 0.25 * r
            draw.ellipse(
                [
                    (cx_ - 0.14 * r) * side_px,
                    (cy - 0.39 * r) * side_px,
                    (cx_ + 0.14 * r) * side_px,
                    (cy - 0.11 * r) * side_px,
                ],
                fill=(255, 255, 255, 200),
            )
        # Lash line along the upper lid, with a short flick past the outer corner.
        flick = upper[0] + (upper[0] - upper[3]) * 0.5 - np.array([0.0, 0.002 * geo.scale])
        lash = np.concatenate([flick[None], upper])
        draw.line(cv.px(lash), fill=_rgb(_LASH), width=cv.width(0.0045), joint="curve")
        draw.line(cv.px(lower), fill=_rgb(skin * 0.5, 0.7), width=cv.width(0.0025), joint="curve")
        # Caruncle: the small dark-pink mound in the inner corner.
        inner = lower[-1]
        rc = 0.22 * p.eye_height * geo.scale + 0.5 / cv.side
        caruncle = np.clip(skin * 0.5 + np.array([0.12, 0.0, 0.0]), 0.0, 1.0)
        draw.ellipse(
            [
                (inner[0] - rc) * side_px,
                (inner[1] - rc) * side_px,
                (inner[0] + rc) * side_px,
                (inner[1] + rc) * side_px,
            ],
            fill=_rgb(caruncle, 0.9),
        )


def _draw_brows(
    draw: _Painter,
    cv: _Canvas,
    geo: FaceGeometry,
    p: FaceParams,
    skin: np.ndarray,
    hair: np.ndarray,
) -> None:
    lm = geo.landmarks.astype(float)
    colour = _rgb(0.25 * skin + 0.75 * np.minimum(hair, 0.6) * 0.8, 0.92)
    half = 0.5 * p.brow_thickness * geo.scale
    for idx in (np.arange(17, 22), np.arange(22, 27)):
        centre = catmull_rom(lm[idx], 5)
        n = len(centre)
        t = np.linspace(0.0, 1.0, n)
        if idx[0] == 22:
            t = t[::-1]  # t runs outer (0) to inner (1) for both brows
        thick = half * (0.75 + 0.45 * t)
        tangent = np.gradient(centre, axis=0)
        tangent /= np.linalg.norm(tangent, axis=1, keepdims=True)
        # Run the brow a little past its end landmarks so they lie inside it.
        centre = centre.copy()
        centre[0] -= tangent[0] * thick[0]
        centre[-1] += tangent[-1] * thick[-1]
        normal = np.stack([-tangent[:, 1], tangent[:, 0]], -1)
        top = centre + normal * thick[:, None]
        bottom = centre - normal * thick[:, None]
        draw.polygon(cv.px(np.concatenate([top, bottom[::-1]])), fill=colour)


def _draw_front_hair(
    draw: _Painter,
    cv: _Canvas,
    geo: FaceGeometry,
    p: FaceParams,
    skin: np.ndarray,
    hair: np.ndarray,
) -> list[list[float]]:
    """Draw the hair over the head; return the polygons drawn (canvas pixels)."""
    fw, v, hl = p.face_width, p.hair_volume, p.hairline
    if p.hair_style == "bald":
        # A fringe hugging the sides of the skull above the ears only.
        polys = []
        for side in (-1.0, 1.0):
            outer = _skull_arc(p, 0.008, 0.05, 30)
            inner = _skull_arc(p, -0.012, 0.03, 30)
            keep_o = (outer[:, 0] * side > 0) & (outer[:, 1] > -0.17)
            keep_i = (inner[:, 0] * side > 0) & (inner[:, 1] > -0.15)
            pts = np.concatenate([outer[keep_o], inner[keep_i][::-1]])
            poly = cv.fu(pts)
            draw.polygon(poly, fill=_rgb(hair, 0.9))
            polys.append(poly)
        return polys
    long_sides = p.hair_style in ("long", "bob", "curly")
    side_bottom = 0.06 if long_sides else -0.01
    outer = _skull_arc(p, v, side_bottom if long_sides else -0.04)
    # Hairline: temple corner, a rounded front edge, then the other corner.
    fringe = 0.17 if p.hair_style == "bob" else min(hl, p.forehead_height - 0.06)
    recede = max(0.0, hl - 0.25)
    corner = fringe - 0.02 + 1.6 * recede
    # Keep the temple corners of the hairline 0.03 inside the skull outline.
    c = 0.72**1.2  # skull parameter at x = 0.72 face widths (x = a * c^(2 / 2.4))
    skull_top_at_corner = (p.forehead_height + 0.025) * (1.0 - c * c) ** (1.0 / 2.4) - 0.025
    corner = min(corner, skull_top_at_corner - 0.03)
    inner = np.array(
        [
            [fw * 1.0, side_bottom],
            [fw * 0.93, -0.07],
            [fw * 0.72, -corner],
            [fw * 0.35, -fringe - 0.004],
            [0.0, -fringe],
            [-fw * 0.35, -fringe - 0.004],
            [-fw * 0.72, -corner],
            [-fw * 0.93, -0.07],
            [-fw * 1.0, side_bottom],
        ]
    )
    if long_sides:
        inner[1, 0] = inner[-2, 0] = fw * 0.88
        inner[1, 0] *= 1.0
        inner[-2, 0] *= -1.0
        inner[0, 0], inner[-1, 0] = fw * 0.95, -fw * 0.95
    inner_dense = catmull_rom(inner, 3)
    pts = np.concatenate([outer, inner_dense])
    if p.hair_style == "buzz":
        colour = _rgb(0.55 * hair + 0.45 * skin * 0.8)
    else:
        colour = _rgb(hair)
    poly = cv.fu(pts)
    draw.polygon(poly, fill=colour)
    # A few strands of darker shade for texture.
    if p.hair_style != "buzz":
        dark = _rgb(hair * 0.7, 0.5)
        top = p.forehead_height + 0.025 + v
        for x in (-0.6, -0.25, 0.15, 0.5):
            c = abs(x) ** 1.2  # skull parameter at this x (see _skull_arc)
            start = top * (1.0 - c * c) ** (1.0 / 2.4) - 0.025 - 0.012
            strand = np.array(
                [
                    [x * fw, -start],
                    [x * fw * 1.15, -fringe - 0.03],
                    [x * fw * 1.25, -fringe + 0.005],
                ]
            )
            draw.line(
                cv.fu(catmull_rom(strand, 4)), fill=dark, width=cv.width(0.004), joint="curve"
            )
    return [poly]


def _draw_facial_hair(
    draw: _Painter,
    cv: _Canvas,
    geo: FaceGeometry,
    p: FaceParams,
    skin: np.ndarray,
    hair: np.ndarray,
) -> None:
    """Draw facial hair over the flat skin (before any other feature), as opaque fills."""
    style = p.facial_hair
    if style == "none":
        return
    d = p.facial_hair_density
    ym, mw, ul, ll = p.mouth_position, p.mouth_width, p.upper_lip, p.lower_lip
    sub = p.nose_length + 0.018
    # Moustache: a band above the upper lip, below the nose.
    thick = min(0.016, ym - ul - sub - 0.003)
    t = np.linspace(-1.0, 1.0, 9)
    lip_top = ym - ul * (0.55 + 0.45 * np.cos(t * np.pi / 2)) - 0.001
    bottom_edge = np.stack([t * mw * 1.02, lip_top + 0.004 * np.abs(t) ** 3], -1)
    top_edge = np.stack([t * mw * 0.9, lip_top - thick * (1.0 - 0.45 * np.abs(t) ** 2)], -1)
    moustache = np.concatenate([bottom_edge, top_edge[::-1]])
    chin_bottom = p.face_height
    goatee = np.array(
        [
            [-mw * 0.75, ym + 0.004],
            [-mw * 0.8, ym + ll + 0.03],
            [-mw * 0.45, chin_bottom - 0.004],
            [0.0, chin_bottom + 0.004],
            [mw * 0.45, chin_bottom - 0.004],
            [mw * 0.8, ym + ll + 0.03],
            [mw * 0.75, ym + 0.004],
            [mw * 0.3, ym + ll + 0.008],
            [-mw * 0.3, ym + ll + 0.008],
        ]
    )
    beard_colour = hair * 0.9
    if style in ("stubble", "beard"):
        # Lower face below a line from the sideburns across the cheeks, around the mouth.
        phi = np.linspace(0.06 * np.pi, 0.94 * np.pi, 24)
        jaw = superellipse_jaw(p, phi) * [1.01, 1.0] + [0.0, 0.004]
        alpha = (0.3 if style == "stubble" else 0.92) * d
        colour = hair * 0.6 if style == "stubble" else beard_colour
        # Nested layers whose upper edge steps down the cheek: a soft edge, full cover below.
        # Layer k is what k + 1 translucent layers would give over the skin.
        layer_alpha = 1.0 - (1.0 - alpha) ** (1.0 / 5.0)
        for k in range(5):
            cover = 1.0 - (1.0 - layer_alpha) ** (k + 1)
            drop = 0.008 * k
            cheeks = np.array(
                [
                    [p.face_width * 0.8, 0.07 + 2 * drop],
                    [mw * 1.45 + drop, ym - 0.045 + drop],
                    [mw * 1.15, ym + 0.008],
                    [mw * 0.6, ym + ll + 0.012],
                    [0.0, ym + ll + 0.016],
                    [-mw * 0.6, ym + ll + 0.012],
                    [-mw * 1.15, ym + 0.008],
                    [-mw * 1.45 - drop, ym - 0.045 + drop],
                    [-p.face_width * 0.8, 0.07 + 2 * drop],
                ]
            )
            lower = jaw[(jaw[:, 1] > 0.07 + 2 * drop)]
            pts = np.concatenate([lower, catmull_rom(cheeks, 3)])
            draw.polygon(cv.fu(pts), fill=_rgb(_over(skin, colour, cover)))
        draw.polygon(cv.fu(moustache), fill=_rgb(_over(skin, colour, alpha)))
    elif style == "moustache":
        draw.polygon(cv.fu(moustache), fill=_rgb(_over(skin, beard_colour, 0.9 * d)))
    elif style == "goatee":
        draw.polygon(cv.fu(moustache), fill=_rgb(_over(skin, beard_colour, 0.85 * d)))
        draw.polygon(cv.fu(goatee), fill=_rgb(_over(skin, beard_colour, 0.85 * d)))
