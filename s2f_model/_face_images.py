"""Face images as the compact face side takes and gives them: images <-> fc7 features."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

__all__ = ["decode_features", "face_features", "images_to_uint8", "to_images"]


def to_images(x: np.ndarray) -> Tensor:
    """``(..., S, S, 3)`` uint8 -> ``(N, 3, S, S)`` float in [0, 1]."""
    t = torch.from_numpy(np.ascontiguousarray(x)).reshape(-1, *x.shape[-3:])
    return t.permute(0, 3, 1, 2).float().div_(255.0)


def face_features(model: nn.Module, images: np.ndarray, batch: int = 256) -> np.ndarray:
    """fc7 features of ``(N, S, S, 3)`` uint8 faces: ``-> (N, feature_dim)`` float32."""
    out = []
    with torch.no_grad():
        for i in range(0, len(images), batch):
            out.append(model.face_encoder.features(to_images(images[i : i + batch])).numpy())
    return np.concatenate(out) if out else np.zeros((0, model.cfg.face.feature_dim), "f4")


def images_to_uint8(images: Tensor | np.ndarray) -> np.ndarray:
    """``(N, 3, H, W)`` float images in [0, 1] -> ``(N, H, W, 3)`` uint8.

    Values outside [0, 1] are clipped; rounding is half to even (``numpy.round``). The one
    conversion of decoded faces to pixels: the audit, ``predict`` and the face side's
    decoder choice all judge or save what this returns.

    Examples
    --------
    >>> images_to_uint8(np.array([[[[0.0, 0.5, 1.2]]] * 3], "f4"))[0, 0, :, 0].tolist()
    [0, 128, 255]
    """
    if isinstance(images, Tensor):
        images = images.detach().cpu().numpy()
    arr = np.clip(np.asarray(images), 0.0, 1.0).transpose(0, 2, 3, 1)  # (N, H, W, 3)
    return np.round(arr * 255.0).astype(np.uint8)


def decode_features(model: nn.Module, feats: np.ndarray, batch: int = 256) -> np.ndarray:
    """Decode ``(N, D)`` face features to ``(N, S, S, 3)`` uint8 images (``images_to_uint8``)."""
    out = []
    with torch.no_grad():
        for i in range(0, len(feats), batch):
            out.append(
                images_to_uint8(model.face_decoder(torch.from_numpy(feats[i : i + batch])).image)
            )
    size = model.cfg.face.image_size
    return np.concatenate(out) if out else np.zeros((0, size, size, 3), "u1")
