"""Face images: any PIL mode -> RGB uint8, resized and centre-cropped to the model's input.

A face path may also name a video file; then a frame is taken from it
(:func:`s2f_data.video_frame`, the middle frame unless a time is given).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any, Literal

import numpy as np

from s2f_data._audio import VIDEO_SUFFIXES
from s2f_data._files import path_problem
from s2f_data._video import video_frame
from s2f_data.exceptions import DataFormatError

__all__ = ["FACE_FITS", "load_face", "prepare_face", "to_rgb"]

FaceFit = Literal["crop", "resize", "pad"]
FACE_FITS: frozenset[str] = frozenset({"crop", "resize", "pad"})


def _scaled_uint8(img: Any) -> Any:
    """16-bit / 32-bit integer and float grey images -> 8-bit ``L`` (full range kept)."""
    from PIL import Image

    arr = np.asarray(img, dtype=np.float64)
    if img.mode == "F":
        top = 1.0 if arr.size and np.nanmax(arr) <= 1.0 else 255.0
    else:  # "I", "I;16", ...: 16-bit content unless the values fit in 8 bits
        top = 255.0 if arr.size and arr.max() <= 255 else 65535.0
    arr = np.nan_to_num(arr, nan=0.0)
    out = np.clip(np.round(arr / top * 255.0), 0, 255).astype(np.uint8)
    return Image.fromarray(out, mode="L")


def to_rgb(img: Any, background: tuple[int, int, int] = (255, 255, 255)) -> Any:
    """Convert a PIL image of any mode to ``RGB``.

    Transparent pixels (``RGBA``, ``LA``, ``PA``, palette transparency) are composited over
    ``background``; 16-bit and float grey images are scaled to 8 bits over their full range;
    ``CMYK``, ``YCbCr``, ``LAB``, ``HSV``, ``1``, ``L`` and ``P`` use PIL's conversion.

    Parameters
    ----------
    img : PIL.Image.Image
        Input image.
    background : tuple of int
        RGB colour under transparent pixels.

    Returns
    -------
    PIL.Image.Image
        An ``RGB`` image of the same size.
    """
    from PIL import Image

    if img.mode == "RGB":
        return img
    if img.mode in ("F", "I", "I;16", "I;16B", "I;16L", "I;16N"):
        return _scaled_uint8(img).convert("RGB")
    has_alpha = img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        img.mode in ("P", "L", "RGB") and "transparency" in img.info
    )
    if has_alpha:
        rgba = img.convert("RGBA")
        base = Image.new("RGBA", rgba.size, (*background, 255))
        return Image.alpha_composite(base, rgba).convert("RGB")
    return img.convert("RGB")


def prepare_face(
    image: Any,
    size: int = 224,
    fit: FaceFit = "crop",
    background: tuple[int, int, int] = (255, 255, 255),
) -> np.ndarray:
    """Bring a face image to ``(size, size, 3)`` uint8 RGB.

    Parameters
    ----------
    image : PIL.Image.Image or numpy.ndarray
        Any PIL mode, or an array ``(H, W)``, ``(H, W, 3)`` or ``(H, W, 4)`` of uint8.
    size : int
        Output side in pixels (the model's input, 224 in the paper).
    fit : {"crop", "resize", "pad"}
        ``crop``: scale the short side to ``size`` and cut the centre square; ``resize``:
        stretch to a square; ``pad``: scale the long side to ``size`` and pad with
        ``background``.
    background : tuple of int
        Colour for transparency and padding.

    Returns
    -------
    numpy.ndarray
        Shape ``(size, size, 3)``, uint8.

    Examples
    --------
    >>> prepare_face(np.zeros((100, 50), dtype=np.uint8), size=32).shape
    (32, 32, 3)
    """
    from PIL import Image

    if fit not in FACE_FITS:
        raise ValueError(f"fit must be one of {sorted(FACE_FITS)}, got {fit!r}")
    if not isinstance(size, int) or size < 1:
        raise ValueError(f"size must be a positive integer, got {size!r}")
    if isinstance(image, np.ndarray):
        if (
            image.dtype != np.uint8
            or image.ndim not in (2, 3)
            or (image.ndim == 3 and image.shape[2] not in (3, 4))
        ):
            raise ValueError(
                f"expected a uint8 array (H, W), (H, W, 3) or (H, W, 4), got "
                f"{image.dtype} {image.shape}"
            )
        image = Image.fromarray(image)
    img = to_rgb(image, background)
    w, h = img.size
    if w == 0 or h == 0:
        raise ValueError(f"image has zero size {w}x{h}")
    resample = Image.Resampling.BICUBIC
    if fit == "resize":
        img = img.resize((size, size), resample)
    elif fit == "crop":
        scale = size / min(w, h)
        nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
        img = img.resize((nw, nh), resample)
        left, top = (nw - size) // 2, (nh - size) // 2
        img = img.crop((left, top, left + size, top + size))
    else:
        scale = size / max(w, h)
        nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
        canvas = Image.new("RGB", (size, size), background)
        canvas.paste(img.resize((nw, nh), resample), ((size - nw) // 2, (size - nh) // 2))
        img = canvas
    out = np.asarray(img, dtype=np.uint8)
    if out.shape != (size, size, 3):  # pragma: no cover - PIL contract
        raise ValueError(f"internal error: face has shape {out.shape}")
    return out


def load_face(
    path: str | os.PathLike[str],
    size: int = 224,
    *,
    fit: FaceFit = "crop",
    time_s: float | None = None,
    background: tuple[int, int, int] = (255, 255, 255),
) -> np.ndarray:
    """Load a face image (or a frame of a video) as ``(size, size, 3)`` uint8 RGB.

    Parameters
    ----------
    path : path-like
        Image file (anything PIL reads) or video file (a frame is decoded).
    size : int
        Output side in pixels.
    fit : {"crop", "resize", "pad"}
        See :func:`prepare_face`.
    time_s : float or None
        For videos: time of the frame (default: the middle).
    background : tuple of int
        Colour under transparent pixels and around padded images.

    Returns
    -------
    numpy.ndarray
        Shape ``(size, size, 3)``, uint8.

    Raises
    ------
    DataFormatError
        Missing, unreadable, truncated or corrupt file; the message names it.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    problem = path_problem(path, "face image")  # missing, a FIFO, a link loop, unreadable...
    if problem is not None:
        raise DataFormatError(f"{path}: {problem}")
    if path.suffix.lower() in VIDEO_SUFFIXES:
        return prepare_face(video_frame(path, time_s), size, fit, background)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                img.load()  # force decoding now: truncated or corrupt data raises here
                img = ImageOps.exif_transpose(img) or img
                return prepare_face(img, size, fit, background)
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ) as err:
        raise DataFormatError(f"{path}: cannot decode face image: {err}") from err
