"""The bias-lab judge's network, settings and saved form (training: :mod:`audit.judges._biaslab`).

Saved as ``judge.safetensors`` (weights) + ``judge.json`` (config, vocabularies,
temperatures, report); never pickle.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from audit.judges._errors import JudgeError
from audit.judges._protocol import check_images
from s2f_data import atomic_write_bytes, atomic_write_text

if TYPE_CHECKING:
    import torch

__all__ = [
    "BIASLAB_VOCABULARIES",
    "BiasLabJudge",
    "JudgeTrainConfig",
    "load_judge",
]

#: The bias lab's label vocabularies (docs/architecture.md).
BIASLAB_VOCABULARIES: dict[str, tuple[str, ...]] = {
    "gender": ("female", "male"),
    "age_group": ("18-29", "30-44", "45-59", "60+"),
    "ethnicity": ("Asian", "Black", "Indian", "White"),
}
JUDGE_KIND = "biaslab-cnn"
FORMAT_VERSION = 1
_WEIGHTS = "judge.safetensors"
_META = "judge.json"


@dataclass(frozen=True, kw_only=True)
class JudgeTrainConfig:
    """Settings of the bias-lab judge and its training.

    Parameters
    ----------
    image_size : int
        Side the images are resized to (pixels).
    channels : tuple of int
        Output channels of the four conv stages.
    stem_stride : int
        Stride of the first convolution (1 or 2). With 2 the first stage already works at a
        quarter of the side (16 px of a 64 px face) after its max-pool; 1 keeps twice the
        resolution through every stage, at 4x the multiply-adds (2.3x the training time
        measured on one CPU thread; docs/benchmarks.md, "Longer-trained judges").
    epochs, batch_size, lr, weight_decay : number
        AdamW training settings (10% linear warm-up, then cosine decay).
    fractions : tuple of float
        Train / calibration / test fractions of the *face ids*.
    blur_prob, lowres_prob : float
        Probability of a Gaussian blur (sigma 0.6, 1.2 or 2 px at 64 px) and of a down-and-up
        resampling to 25-50% of the side, per image.
    noise_sd, shift_px, jitter : float
        Maximum Gaussian noise SD (in [0, 1] units), maximum shift in pixels and maximum
        brightness / contrast change.
    """

    image_size: int = 64
    channels: tuple[int, int, int, int] = (24, 48, 96, 128)
    stem_stride: int = 2
    epochs: int = 14
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 1e-4
    fractions: tuple[float, float, float] = (0.7, 0.15, 0.15)
    blur_prob: float = 0.5
    lowres_prob: float = 0.3
    noise_sd: float = 0.04
    shift_px: int = 4
    jitter: float = 0.08

    def __post_init__(self) -> None:
        if self.image_size < 16:
            raise JudgeError(f"image_size must be >= 16, got {self.image_size}")
        fr = self.fractions
        if len(fr) != 3 or min(fr) <= 0 or abs(sum(fr) - 1) > 1e-9:
            raise JudgeError(
                f"fractions must be 3 positive numbers summing to 1, got {self.fractions}"
            )
        if self.stem_stride not in (1, 2):
            raise JudgeError(f"stem_stride must be 1 or 2, got {self.stem_stride}")
        if self.epochs < 1 or self.batch_size < 2:
            raise JudgeError(
                f"need epochs >= 1 and batch_size >= 2, got {self.epochs}, {self.batch_size}"
            )

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JudgeTrainConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise :class:`JudgeError`."""
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise JudgeError(f"unknown JudgeTrainConfig key(s) {unknown}; allowed {sorted(known)}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})


def _build_net(cfg: JudgeTrainConfig, head_sizes: Sequence[int]) -> torch.nn.Module:
    """CNN ``(batch, 3, S, S) in [0, 1] -> (batch, sum(head_sizes))`` logits."""
    from torch import nn

    c1, c2, c3, c4 = cfg.channels

    def block(cin: int, cout: int, stride: int = 1) -> list[nn.Module]:
        return [
            nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=True),
        ]

    return nn.Sequential(
        *block(3, c1, stride=cfg.stem_stride),
        nn.MaxPool2d(2),  # S -> S/4 (S/2 with stem_stride 1)
        *block(c1, c2),
        nn.MaxPool2d(2),  # -> S/8
        *block(c2, c3),
        nn.MaxPool2d(2),  # -> S/16
        *block(c3, c4),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),  # (batch, c4)
        nn.Dropout(0.2),
        nn.Linear(c4, int(sum(head_sizes))),
    )


def _to_tensor(images: np.ndarray, size: int) -> torch.Tensor:
    """``(N, H, W, 3)`` uint8 -> ``(N, 3, size, size)`` float in [0, 1] (antialiased)."""
    import torch
    import torch.nn.functional as F

    x = torch.from_numpy(images).permute(0, 3, 1, 2).float().div_(255.0)  # (N, 3, H, W)
    if x.shape[-2:] != (size, size):
        x = F.interpolate(
            x, size=(size, size), mode="bilinear", antialias=True, align_corners=False
        )
    return x.clamp_(0.0, 1.0)


@dataclass(kw_only=True)
class BiasLabJudge:
    """A trained bias-lab judge (implements the :class:`~audit.judges.Judge` protocol).

    Build one with :func:`train_biaslab_judge` or :func:`load_judge`.

    Attributes
    ----------
    vocabularies : dict
        Attribute -> labels (head order).
    temperatures : dict
        Attribute -> fitted temperature applied to that head's logits.
    report : pandas.DataFrame
        Held-out (test split) accuracy and calibration, one row per (attribute,
        group_attribute, group); see :func:`train_biaslab_judge`.
    config : JudgeTrainConfig
        Architecture and training settings.
    training : dict
        Provenance: seed, counts per split, majority baselines, wall time.
    """

    net: Any
    vocabularies: dict[str, tuple[str, ...]]
    temperatures: dict[str, float]
    config: JudgeTrainConfig
    report: pd.DataFrame = field(default_factory=pd.DataFrame)
    training: dict[str, Any] = field(default_factory=dict)
    name: str = JUDGE_KIND

    def _logits(self, images: np.ndarray, batch_size: int = 256) -> dict[str, np.ndarray]:
        import torch

        images = check_images(images)
        self.net.eval()
        outs = []
        with torch.no_grad():
            for start in range(0, len(images), batch_size):
                x = _to_tensor(images[start : start + batch_size], self.config.image_size)
                outs.append(self.net(x).numpy().astype(np.float64))
        z = np.concatenate(outs) if outs else np.zeros((0, self._n_out()))
        result, start = {}, 0
        for attr, labels in self.vocabularies.items():
            result[attr] = z[:, start : start + len(labels)]
            start += len(labels)
        return result

    def _n_out(self) -> int:
        return sum(len(v) for v in self.vocabularies.values())

    def predict_proba(self, images: np.ndarray) -> dict[str, np.ndarray]:
        """Calibrated probabilities ``attribute -> (N, K)`` for ``(N, H, W, 3)`` uint8 images.

        Images of any size are resized (antialiased bilinear) to ``config.image_size``.
        """
        from scipy.special import softmax

        return {
            attr: softmax(z / self.temperatures[attr], axis=1)
            for attr, z in self._logits(images).items()
        }

    def save(self, folder: str | os.PathLike[str]) -> Path:
        """Write ``judge.safetensors`` and ``judge.json`` into ``folder``; return the folder."""
        from safetensors.torch import save as st_save

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        state = {k: v.detach().contiguous() for k, v in self.net.state_dict().items()}
        atomic_write_bytes(folder / _WEIGHTS, st_save(state))
        meta = {
            "kind": JUDGE_KIND,
            "format_version": FORMAT_VERSION,
            "name": self.name,
            "config": self.config.to_dict(),
            "head_order": list(self.vocabularies),  # output columns follow this order
            "vocabularies": {k: list(v) for k, v in self.vocabularies.items()},
            "temperatures": self.temperatures,
            "report": json.loads(self.report.to_json(orient="records")),
            "training": self.training,
        }
        atomic_write_text(folder / _META, json.dumps(meta, indent=2) + "\n")
        return folder


def load_judge(folder: str | os.PathLike[str]) -> BiasLabJudge:
    """Load a judge saved by :meth:`BiasLabJudge.save` (safetensors + JSON, no pickle).

    Parameters
    ----------
    folder : path-like
        Folder holding ``judge.json`` and ``judge.safetensors``.

    Returns
    -------
    BiasLabJudge
        In eval mode.

    Raises
    ------
    JudgeError
        If a file is missing, the kind or format version is unknown, or the weights do not
        match the config; the message names the file.
    """
    from safetensors.torch import load_file

    folder = Path(folder)
    meta_path, weights_path = folder / _META, folder / _WEIGHTS
    for path in (meta_path, weights_path):
        if not path.is_file():
            raise JudgeError(f"{path}: missing; a saved judge folder holds {_META} and {_WEIGHTS}")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise JudgeError(f"{meta_path}: not valid JSON: {err}") from err
    if meta.get("kind") != JUDGE_KIND or meta.get("format_version") != FORMAT_VERSION:
        raise JudgeError(
            f"{meta_path}: kind {meta.get('kind')!r} version {meta.get('format_version')!r}; "
            f"expected {JUDGE_KIND!r} version {FORMAT_VERSION}"
        )
    cfg = JudgeTrainConfig.from_dict(meta["config"])
    vocab = {k: tuple(meta["vocabularies"][k]) for k in meta["head_order"]}
    net = _build_net(cfg, [len(v) for v in vocab.values()])
    try:
        net.load_state_dict(load_file(weights_path))
    except (RuntimeError, OSError) as err:
        raise JudgeError(f"{weights_path}: weights do not match {meta_path}: {err}") from err
    net.eval()
    return BiasLabJudge(
        net=net,
        vocabularies=vocab,
        temperatures={k: float(v) for k, v in meta["temperatures"].items()},
        config=cfg,
        report=pd.DataFrame(meta["report"]),
        training=meta.get("training", {}),
        name=meta.get("name", JUDGE_KIND),
    )
