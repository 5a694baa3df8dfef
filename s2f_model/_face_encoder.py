"""Face encoder in the VGG-16 / VGG-Face layout, and an importer for VGG-Face weights."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

import torch
from torch import Tensor, nn

from s2f_model._config import FaceConfig
from s2f_model.exceptions import WeightImportError

__all__ = ["FaceEncoder", "FaceEncoding", "load_vggface_state_dict", "vggface_key_shapes"]


class FaceEncoding(NamedTuple):
    """Face encoder outputs: ``features`` (batch, feature_dim) = fc7 after ReLU, ``logits``."""

    features: Tensor
    logits: Tensor


class FaceEncoder(nn.Module):
    """VGG-16 face encoder with fc7 features and fc8 identity logits.

    Layers are named as in the common PyTorch conversion of VGG-Face (``conv1_1`` ...
    ``conv5_3``, ``fc6``, ``fc7``, ``fc8``), so its state dict loads directly. Input RGB images
    in ``[0, 1]`` are scaled to 0-255 and the VGG-Face mean is subtracted inside.

    Parameters
    ----------
    cfg : FaceConfig
        Layout; the paper preset is VGG-Face (224 px, 4096-D fc6/fc7, 2622 identities).

    Examples
    --------
    >>> from s2f_model import S2FConfig
    >>> enc = FaceEncoder(S2FConfig.compact().face).eval()
    >>> enc(torch.rand(2, 3, 64, 64)).features.shape
    torch.Size([2, 256])
    """

    def __init__(self, cfg: FaceConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.conv_names: list[list[str]] = []
        c = 3
        for b, (out, depth) in enumerate(zip(cfg.block_channels, cfg.block_depths, strict=True)):
            names = []
            for i in range(depth):
                name = f"conv{b + 1}_{i + 1}"
                self.add_module(name, nn.Conv2d(c, out, 3, padding=1))
                names.append(name)
                c = out
            self.conv_names.append(names)
        self.out_size = cfg.image_size // 2 ** len(cfg.block_channels)
        self.fc6 = nn.Linear(c * self.out_size**2, cfg.feature_dim)
        self.fc7 = nn.Linear(cfg.feature_dim, cfg.feature_dim)
        self.fc8 = nn.Linear(cfg.feature_dim, cfg.n_identities)
        self.dropout = nn.Dropout(cfg.dropout)
        mean = torch.tensor(cfg.pixel_mean, dtype=torch.float32).view(1, 3, 1, 1)
        self.register_buffer("pixel_mean", mean, persistent=False)

    def features(self, images: Tensor) -> Tensor:
        """fc7 features (after ReLU): ``(batch, 3, S, S)`` in [0, 1] -> ``(batch, feature_dim)``."""
        size = self.cfg.image_size
        if images.ndim != 4 or images.shape[1:] != (3, size, size):
            raise ValueError(
                f"face encoder expects images of shape (batch, 3, {size}, {size}) in [0, 1], "
                f"got {tuple(images.shape)}"
            )
        x = images * 255.0 - self.pixel_mean.to(images.dtype)
        for names in self.conv_names:
            for name in names:
                x = torch.relu(getattr(self, name)(x))
            x = nn.functional.max_pool2d(x, 2)
        x = x.flatten(1)  # (batch, C * s * s), channel-major as in VGG's fc6
        x = self.dropout(torch.relu(self.fc6(x)))
        return torch.relu(self.fc7(x))

    def logits(self, features: Tensor) -> Tensor:
        """fc8 identity logits: ``(batch, feature_dim) -> (batch, n_identities)``."""
        if features.ndim != 2 or features.shape[1] != self.cfg.feature_dim:
            raise ValueError(
                f"fc8 expects features of shape (batch, {self.cfg.feature_dim}), "
                f"got {tuple(features.shape)}"
            )
        return self.fc8(self.dropout(features))

    def forward(self, images: Tensor) -> FaceEncoding:
        """Return fc7 features and fc8 logits of ``(batch, 3, S, S)`` images in [0, 1]."""
        feats = self.features(images)
        return FaceEncoding(feats, self.logits(feats))


def vggface_key_shapes(cfg: FaceConfig) -> dict[str, tuple[int, ...]]:
    """Return the keys and shapes of a VGG-Face state dict for ``cfg`` (fc6 as linear).

    Parameters
    ----------
    cfg : FaceConfig
        Face encoder layout.

    Returns
    -------
    dict
        ``{"conv1_1.weight": (64, 3, 3, 3), ..., "fc8.bias": (2622,)}``.
    """
    with torch.device("meta"):
        model = FaceEncoder(cfg)
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


def _read_weights(path: Path) -> Mapping[str, Tensor]:
    suffix = path.suffix.lower()
    if suffix == ".safetensors":
        from safetensors.torch import load_file

        return load_file(str(path))
    if suffix in {".pt", ".pth", ".bin"}:
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:
            raise WeightImportError(
                f"{path}: not a plain tensor state dict (only weights are loaded, never "
                f"pickled code): {err}"
            ) from err
        if not isinstance(state, Mapping):
            raise WeightImportError(f"{path}: expected a state dict, got {type(state).__name__}")
        return state
    raise WeightImportError(
        f"{path}: unsupported weight file suffix {suffix!r}; expected .safetensors, .pt or .pth"
    )


def load_vggface_state_dict(
    model: nn.Module,
    state: Mapping[str, Tensor] | str | os.PathLike[str],
) -> FaceEncoder:
    """Load VGG-Face weights in the common PyTorch conversion's key layout.

    Keys ``conv1_1.weight`` ... ``conv5_3.bias``, ``fc6.*``, ``fc7.*``, ``fc8.*``; an fc6
    stored as a 7x7 convolution ``(4096, 512, 7, 7)`` is flattened to the linear layout.
    Nothing is downloaded: pass the tensors or a local ``.safetensors``/``.pth`` file (the
    latter read with ``weights_only=True``).

    Parameters
    ----------
    model : FaceEncoder or Speech2Face
        The face encoder to fill (a ``Speech2Face``'s ``face_encoder`` is used).
    state : mapping or path-like
        The weights.

    Returns
    -------
    FaceEncoder
        The filled encoder.

    Raises
    ------
    WeightImportError
        Naming every missing, unexpected or wrongly shaped key.

    Examples
    --------
    >>> from s2f_model import S2FConfig
    >>> enc = FaceEncoder(S2FConfig.compact().face)
    >>> _ = load_vggface_state_dict(enc, FaceEncoder(S2FConfig.compact().face).state_dict())
    """
    encoder = getattr(model, "face_encoder", model)
    if not isinstance(encoder, FaceEncoder):
        raise TypeError(f"expected a FaceEncoder or Speech2Face, got {type(model).__name__}")
    source = "state dict"
    if isinstance(state, (str, os.PathLike)):
        source = str(state)
        state = _read_weights(Path(state))
    expected = {k: tuple(v.shape) for k, v in encoder.state_dict().items()}
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    converted: dict[str, Tensor] = {}
    bad_shapes: list[str] = []
    for key in sorted(set(expected) & set(state)):
        value = state[key]
        if not isinstance(value, Tensor):
            bad_shapes.append(f"{key}: not a tensor ({type(value).__name__})")
            continue
        if key == "fc6.weight" and value.ndim == 4:
            value = value.reshape(value.shape[0], -1)  # conv-style fc6 -> linear, C*7*7 order
        if tuple(value.shape) != expected[key]:
            bad_shapes.append(f"{key}: got {tuple(value.shape)}, expected {expected[key]}")
            continue
        converted[key] = value
    if missing or unexpected or bad_shapes:
        parts = []
        if missing:
            parts.append(f"missing keys {missing}")
        if unexpected:
            parts.append(f"unexpected keys {unexpected}")
        if bad_shapes:
            parts.append(f"wrong shapes [{'; '.join(bad_shapes)}]")
        raise WeightImportError(f"{source}: VGG-Face weights do not fit: " + ", ".join(parts))
    with torch.no_grad():
        encoder.load_state_dict(converted, strict=True)
    return encoder
