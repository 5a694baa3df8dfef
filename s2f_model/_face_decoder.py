"""Face decoder after Cole et al. 2017: feature -> landmarks + texture -> warped face."""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor, nn

from s2f_model._config import DecoderConfig
from s2f_model._warp import warp_image

__all__ = ["FaceDecoder", "FaceOutput", "default_mean_face"]


class FaceOutput(NamedTuple):
    """Decoder output.

    Attributes
    ----------
    image : torch.Tensor
        ``(batch, 3, S, S)`` in ``[0, 1]``: the texture warped to the landmarks.
    landmarks : torch.Tensor
        ``(batch, 68, 2)`` normalised ``(x, y)`` (x right, y down).
    texture : torch.Tensor
        ``(batch, 3, S, S)`` in ``[0, 1]``: the face in mean-face geometry.
    """

    image: Tensor
    landmarks: Tensor
    texture: Tensor


def _ellipse(cx: float, cy: float, rx: float, ry: float, angles: np.ndarray) -> np.ndarray:
    return np.stack((cx + rx * np.cos(angles), cy + ry * np.sin(angles)), 1)


def default_mean_face() -> np.ndarray:
    """Return a schematic frontal 68-point face (iBUG order) used until one is set from data.

    Returns
    -------
    numpy.ndarray
        ``(68, 2)`` float32 in ``[0, 1]`` (x right, y down; the subject's right eye on the
        image's left, as in iBUG).
    """
    jaw = _ellipse(0.5, 0.40, 0.32, 0.45, np.linspace(np.pi, 0.0, 17))  # 0-16, left to right
    jaw[:, 1] = 0.40 + 0.45 * np.sin(np.linspace(0.0, np.pi, 17))
    brow_x = np.linspace(0.0, 1.0, 5)
    brow_r = np.stack((0.24 + 0.19 * brow_x, 0.33 - 0.03 * np.sin(np.pi * brow_x)), 1)  # 17-21
    brow_l = np.stack((0.57 + 0.19 * brow_x, 0.33 - 0.03 * np.sin(np.pi * brow_x)), 1)  # 22-26
    bridge = np.stack((np.full(4, 0.5), np.linspace(0.40, 0.56, 4)), 1)  # 27-30
    base = np.stack(
        (np.linspace(0.44, 0.56, 5), 0.61 - 0.015 * np.sin(np.pi * np.linspace(0, 1, 5))), 1
    )  # 31-35
    eye_angles = np.pi + np.arange(6) * 2 * np.pi / 6  # corner, top, top, corner, bottom, bottom
    eye_r = _ellipse(0.36, 0.42, 0.055, 0.022, eye_angles)  # 36-41
    eye_l = _ellipse(0.64, 0.42, 0.055, 0.022, eye_angles)  # 42-47
    mouth_o = _ellipse(0.5, 0.72, 0.10, 0.04, np.pi + np.arange(12) * 2 * np.pi / 12)  # 48-59
    mouth_i = _ellipse(0.5, 0.72, 0.065, 0.015, np.pi + np.arange(8) * 2 * np.pi / 8)  # 60-67
    face = np.concatenate((jaw, brow_r, brow_l, bridge, base, eye_r, eye_l, mouth_o, mouth_i))
    return face.astype(np.float32)


class FaceDecoder(nn.Module):
    """Feature -> frontal face image, landmarks and texture (Cole et al. 2017 layout).

    ``first_layer``: FC ``feature_dim -> first_dim`` + ReLU (its activations enter the
    Speech2Face loss). Landmarks: MLP ``first_dim -> landmark_hidden -> 2 * n_landmarks``
    predicting the displacement from ``mean_face`` (last layer zero-initialised, so an
    untrained decoder outputs the mean face). Texture: FC to ``texture_start^2 x
    texture_channels`` + ReLU, transposed convolutions (kernel 5, stride 2, ReLU) with
    ``max(texture_channels / 2**i, min_channels)`` channels, a 1x1 convolution to RGB and a
    sigmoid. The texture is warped from the mean face to the predicted landmarks with a
    thin-plate spline whose image border does not move.

    Parameters
    ----------
    cfg : DecoderConfig
        Layout.
    feature_dim : int
        Input feature size.

    Examples
    --------
    >>> from s2f_model import S2FConfig
    >>> dec = FaceDecoder(S2FConfig.compact().decoder, 256)
    >>> out = dec(torch.randn(2, 256))
    >>> out.image.shape, out.landmarks.shape
    (torch.Size([2, 3, 64, 64]), torch.Size([2, 68, 2]))
    """

    def __init__(self, cfg: DecoderConfig, feature_dim: int) -> None:
        super().__init__()
        self.cfg = cfg
        self.feature_dim = feature_dim
        self.fc_first = nn.Linear(feature_dim, cfg.first_dim)
        self.landmark_mlp = nn.Sequential(
            nn.Linear(cfg.first_dim, cfg.landmark_hidden),
            nn.ReLU(),
            nn.Linear(cfg.landmark_hidden, 2 * cfg.n_landmarks),
        )
        nn.init.zeros_(self.landmark_mlp[2].weight)
        nn.init.zeros_(self.landmark_mlp[2].bias)
        c0 = cfg.texture_channels
        self.texture_fc = nn.Linear(cfg.first_dim, cfg.texture_start**2 * c0)
        ups: list[nn.Module] = []
        c = c0
        for i in range(1, cfg.n_upsample + 1):
            out = max(c0 // 2**i, cfg.min_channels)
            ups += [nn.ConvTranspose2d(c, out, 5, stride=2, padding=2, output_padding=1), nn.ReLU()]
            c = out
        self.upsample = nn.Sequential(*ups)
        self.to_rgb = nn.Conv2d(c, 3, 1)
        # channels_last: ~1.5-2x faster transposed convolutions on CPU.
        self.upsample.to(memory_format=torch.channels_last)
        self.to_rgb.to(memory_format=torch.channels_last)
        if cfg.n_landmarks == 68:
            mean = torch.from_numpy(default_mean_face())
        else:  # no schematic template: a circle of points
            a = torch.linspace(0.0, 2 * math.pi, cfg.n_landmarks + 1)[:-1]
            mean = torch.stack((0.5 + 0.3 * a.cos(), 0.5 + 0.3 * a.sin()), 1)
        self.register_buffer("mean_face", mean.float())

    @torch.no_grad()
    def set_mean_face(self, landmarks: Tensor | np.ndarray) -> None:
        """Set the mean face (e.g. the training set's mean landmarks), shape ``(L, 2)``."""
        value = torch.as_tensor(np.asarray(landmarks), dtype=torch.float32)
        expected = (self.cfg.n_landmarks, 2)
        if tuple(value.shape) != expected:
            raise ValueError(f"mean face must have shape {expected}, got {tuple(value.shape)}")
        if not torch.isfinite(value).all():
            raise ValueError("mean face holds NaN or Inf values")
        self.mean_face.copy_(value)

    def first_layer(self, features: Tensor) -> Tensor:
        """First-layer activations: ``(batch, feature_dim) -> (batch, first_dim)`` after ReLU."""
        if features.ndim != 2 or features.shape[1] != self.feature_dim:
            raise ValueError(
                f"face decoder expects features of shape (batch, {self.feature_dim}), "
                f"got {tuple(features.shape)}"
            )
        return torch.relu(self.fc_first(features))

    def forward(self, features: Tensor) -> FaceOutput:
        """Decode ``(batch, feature_dim)`` features to a :class:`FaceOutput`."""
        h = self.first_layer(features)  # (batch, first_dim)
        batch = h.shape[0]
        mean = self.mean_face.to(h.dtype).expand(batch, -1, -1)  # (batch, L, 2)
        landmarks = mean + self.landmark_mlp(h).view(batch, -1, 2)  # (batch, L, 2)
        s, c0 = self.cfg.texture_start, self.cfg.texture_channels
        x = torch.relu(self.texture_fc(h)).view(batch, c0, s, s)  # (batch, C0, s, s)
        x = x.contiguous(memory_format=torch.channels_last)
        texture = torch.sigmoid(self.to_rgb(self.upsample(x)))  # (batch, 3, S, S)
        image = warp_image(
            texture,
            mean,
            landmarks,
            border_per_side=self.cfg.warp_border_points,
            regularization=self.cfg.warp_regularization,
            grid_size=self.cfg.warp_grid_size,
        )
        return FaceOutput(image, landmarks, texture)
