"""Face images as the compact face side takes and gives them: images <-> fc7 features."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

__all__ = ["decode_features", "face_features", "to_images"]


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


def decode_features(model: nn.Module, feats: np.ndarray, batch: int = 256) -> np.ndarray:
    """Decode ``(N, D)`` face features to ``(N, S, S, 3)`` uint8 images.

    Rounds as the audit does (clamp to [0, 1], times 255, round half to even).
    """
    out = []
    with torch.no_grad():
        for i in range(0, len(feats), batch):
            image = model.face_decoder(torch.from_numpy(feats[i : i + batch])).image
            out.append(np.round(image.clamp(0, 1).permute(0, 2, 3, 1).numpy() * 255.0))
    size = model.cfg.face.image_size
    return np.concatenate(out).astype(np.uint8) if out else np.zeros((0, size, size, 3), "u1")
