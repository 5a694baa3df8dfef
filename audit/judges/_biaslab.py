"""The bias-lab judge: a small CNN trained on rendered bias-lab faces.

It judges true faces and reconstructions alike, so it is trained with augmentations that
imitate a reconstruction's low detail (blur, down-and-up sampling, noise, small shifts).
Faces are split by face/speaker id into train / calibration / test; each attribute head is
temperature-scaled on the calibration split, and the test split gives the judge's own
accuracy and calibration error per group, which belong in every audit report.

This module renders the training faces and trains; the network, its settings and the saved
form (``judge.safetensors`` + ``judge.json``, never pickle) are in
:mod:`audit.judges._biaslab_model`, whose names are re-exported here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from audit.judges._biaslab_model import (
    BIASLAB_VOCABULARIES,
    BiasLabJudge,
    JudgeTrainConfig,
    _build_net,
    _to_tensor,
    load_judge,
)
from audit.judges._calibration import expected_calibration_error, fit_temperature
from audit.judges._errors import JudgeError
from audit.judges._protocol import check_images

if TYPE_CHECKING:
    import torch

__all__ = [
    "BIASLAB_VOCABULARIES",
    "BiasLabJudge",
    "JudgeTrainConfig",
    "load_judge",
    "render_judge_dataset",
    "train_biaslab_judge",
]


def _gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur with reflect padding: ``(B, 3, S, S) -> (B, 3, S, S)``."""
    import torch
    import torch.nn.functional as F

    radius = max(1, math.ceil(3 * sigma))
    t = torch.arange(-radius, radius + 1, dtype=x.dtype)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = (k / k.sum()).repeat(x.shape[1], 1)  # (C, 2r+1), one depthwise kernel per channel
    c = x.shape[1]
    y = F.conv2d(F.pad(x, (radius, radius, 0, 0), mode="reflect"), k[:, None, None, :], groups=c)
    return F.conv2d(F.pad(y, (0, 0, radius, radius), mode="reflect"), k[:, None, :, None], groups=c)


def _augment(x: torch.Tensor, cfg: JudgeTrainConfig, gen: torch.Generator) -> torch.Tensor:
    """Random flip, shift, blur, low resolution, noise and colour jitter (training only)."""
    import torch
    import torch.nn.functional as F

    b, _, s, _ = x.shape
    u = lambda *shape: torch.rand(*shape, generator=gen)  # noqa: E731
    flip = u(b) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(-1), x)
    if cfg.shift_px > 0:
        # random translation (+-shift_px), scale (+-5%) and rotation (+-5 degrees)
        shift = (2 * u(b, 2) - 1) * (2 * cfg.shift_px / s)  # in [-1, 1] grid units
        zoom = 1 + 0.05 * (2 * u(b) - 1)
        angle = torch.deg2rad(5 * (2 * u(b) - 1))
        cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
        theta = torch.stack(
            [torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1
        )  # (B, 2, 3)
        grid = F.affine_grid(theta, list(x.shape), align_corners=False)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)
    # blur with one of three strengths (0.6, 1.2, 2.0 px at 64 px), chosen per image
    level = torch.where(u(b) < cfg.blur_prob, torch.randint(1, 4, (b,), generator=gen), 0)
    x = x.clone()  # written in place below
    for lv, sigma in ((1, 0.6), (2, 1.2), (3, 2.0)):
        if (pick := level == lv).any():
            x[pick] = _gaussian_blur(x[pick], sigma * s / 64.0)
    if cfg.lowres_prob > 0 and (low := u(b) < cfg.lowres_prob).any():
        side = int(s * (0.25 + 0.25 * float(u(1))))
        small = F.interpolate(x[low], size=(side, side), mode="bilinear", antialias=True)
        x[low] = F.interpolate(small, size=(s, s), mode="bilinear", align_corners=False)
    gain = 1 + cfg.jitter * (2 * u(b, 1, 1, 1) - 1)
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    contrast = 1 + cfg.jitter * (2 * u(b, 1, 1, 1) - 1)
    x = (x - mean) * contrast + mean * gain
    x = x + cfg.noise_sd * u(b, 1, 1, 1) * torch.randn(x.shape, generator=gen)
    return x.clamp(0.0, 1.0)


def render_judge_dataset(
    n_faces: int, *, size: int = 64, seed: int = 0
) -> tuple[np.ndarray, pd.DataFrame]:
    """Render bias-lab faces balanced over gender x age group x ethnicity.

    Parameters
    ----------
    n_faces : int
        Number of faces; cells of the 2 x 4 x 4 design are filled in turn.
    size : int
        Image side in pixels.
    seed : int
        Seed of the ``numpy.random.Generator`` that draws the faces.

    Returns
    -------
    images : numpy.ndarray
        ``(n_faces, size, size, 3)`` uint8.
    labels : pandas.DataFrame
        Columns ``face_id``, ``gender``, ``age_group``, ``ethnicity``, ``face_size``.
    """
    # lazily: the bias-lab package (espeak bindings, renderer) adds ~1 s to `import audit`
    from s2f_data.biaslab.faces import render_face, sample_face_params

    rng = np.random.default_rng(seed)
    cells = [
        (g, a, e)
        for g in BIASLAB_VOCABULARIES["gender"]
        for a in BIASLAB_VOCABULARIES["age_group"]
        for e in BIASLAB_VOCABULARIES["ethnicity"]
    ]
    order = rng.permutation(n_faces) % len(cells)
    images = np.empty((n_faces, size, size, 3), dtype=np.uint8)
    rows = []
    for i, c in enumerate(order):
        gender, age_group, ethnicity = cells[c]
        face_size = float(rng.standard_normal())
        params = sample_face_params(
            rng, ethnicity=ethnicity, gender=gender, age_group=age_group, face_size=face_size
        )
        image, _ = render_face(params, size)
        images[i] = image
        rows.append(
            {
                "face_id": f"face{i:05d}",
                "gender": gender,
                "age_group": age_group,
                "ethnicity": ethnicity,
                "face_size": face_size,
            }
        )
    return images, pd.DataFrame(rows)


def _split_groups(groups: np.ndarray, fractions: Sequence[float], seed: int) -> np.ndarray:
    """Assign each row to split 0/1/2 (train/calibration/test) by its group id."""
    uniq = np.unique(groups)
    if len(uniq) < 3:
        raise JudgeError(f"need at least 3 distinct face ids to split, got {len(uniq)}")
    perm = np.random.default_rng(seed).permutation(len(uniq))
    n_cal = max(1, round(fractions[1] * len(uniq)))
    n_test = max(1, round(fractions[2] * len(uniq)))
    split_of = np.zeros(len(uniq), dtype=int)
    split_of[perm[:n_test]] = 2
    split_of[perm[n_test : n_test + n_cal]] = 1
    return split_of[np.searchsorted(uniq, groups)]


def _encode(labels: pd.DataFrame, vocab: Mapping[str, tuple[str, ...]]) -> np.ndarray:
    """Label strings -> ``(N, n_attributes)`` int codes, -1 where unknown."""
    codes = np.full((len(labels), len(vocab)), -1, dtype=np.int64)
    for j, (attr, names) in enumerate(vocab.items()):
        if attr not in labels:
            raise JudgeError(f"labels have no column {attr!r}; columns: {list(labels.columns)}")
        col = labels[attr].astype("string")
        bad = sorted(set(col.dropna()) - set(names))
        if bad:
            raise JudgeError(
                f"labels column {attr!r}: unknown label(s) {bad}; vocabulary {list(names)}"
            )
        index = {n: k for k, n in enumerate(names)}
        codes[:, j] = [index[v] if v in index else -1 for v in col.fillna("\0")]
    return codes


def _report(
    probs: Mapping[str, np.ndarray],
    codes: np.ndarray,
    raw_probs: Mapping[str, np.ndarray],
    labels: pd.DataFrame,
    vocab: Mapping[str, tuple[str, ...]],
    majority: Mapping[str, int],
) -> pd.DataFrame:
    """Tidy accuracy / ECE table on the test split, overall and per group."""
    rows = []
    group_attrs = ["all", *vocab]
    for j, attr in enumerate(vocab):
        y = codes[:, j]
        p, raw = probs[attr], raw_probs[attr]
        for gattr in group_attrs:
            groups = ["all"] if gattr == "all" else list(vocab[gattr])
            for g in groups:
                mask = y >= 0
                if gattr != "all":
                    mask &= (labels[gattr].astype("string") == g).fillna(False).to_numpy()
                n = int(mask.sum())
                acc = float((p[mask].argmax(1) == y[mask]).mean()) if n else float("nan")
                rows.append(
                    {
                        "attribute": attr,
                        "group_attribute": gattr,
                        "group": g,
                        "n": n,
                        "accuracy": acc,
                        "majority_accuracy": float((y[mask] == majority[attr]).mean())
                        if n
                        else float("nan"),
                        "ece": expected_calibration_error(p[mask], y[mask]),
                        "ece_uncalibrated": expected_calibration_error(raw[mask], y[mask]),
                    }
                )
    return pd.DataFrame(rows)


def train_biaslab_judge(
    images: np.ndarray,
    labels: pd.DataFrame,
    groups: Sequence[str] | np.ndarray,
    *,
    vocabularies: Mapping[str, Sequence[str]] | None = None,
    config: JudgeTrainConfig | None = None,
    seed: int = 0,
) -> BiasLabJudge:
    """Train, calibrate and evaluate a bias-lab judge.

    Parameters
    ----------
    images : numpy.ndarray
        ``(N, H, W, 3)`` uint8 rendered faces (e.g. from :func:`render_judge_dataset`).
    labels : pandas.DataFrame
        ``N`` rows with one column per attribute of ``vocabularies``; missing labels
        (``<NA>``) are left out of that attribute's loss and scores.
    groups : sequence of str
        ``N`` face (or speaker) ids: all images of one id land in the same split.
    vocabularies : mapping, optional
        Attribute -> labels; defaults to :data:`BIASLAB_VOCABULARIES`.
    config : JudgeTrainConfig, optional
        Architecture and training settings.
    seed : int
        Seeds the split, the weight initialisation, batch order and augmentations.

    Returns
    -------
    BiasLabJudge
        With ``report``: one row per (``attribute``, ``group_attribute``, ``group``) on the
        held-out test split, columns ``n``, ``accuracy``, ``majority_accuracy`` (share of
        the training split's majority label: the majority-class baseline), ``ece``
        (temperature-scaled) and ``ece_uncalibrated``. ``group_attribute == "all"`` is the
        overall row.
    """
    import time

    import torch  # lazily: `import audit.judges` stays torch-free

    t0 = time.perf_counter()
    cfg = config or JudgeTrainConfig()
    vocab = {k: tuple(v) for k, v in (vocabularies or BIASLAB_VOCABULARIES).items()}
    images = check_images(images)
    groups = np.asarray(groups).astype(str)
    if len(labels) != len(images) or len(groups) != len(images):
        n = (len(images), len(labels), len(groups))
        raise JudgeError(
            f"images ({n[0]}), labels ({n[1]}) and groups ({n[2]}) must have the same length"
        )
    labels = labels.reset_index(drop=True)
    codes = _encode(labels, vocab)
    split = _split_groups(groups, cfg.fractions, seed)
    net = _fit_net(
        _to_tensor(images, cfg.image_size),  # (N, 3, S, S)
        torch.from_numpy(codes),
        np.flatnonzero(split == 0),
        [len(v) for v in vocab.values()],
        cfg,
        seed,
    )
    judge = BiasLabJudge(
        net=net, vocabularies=vocab, temperatures=dict.fromkeys(vocab, 1.0), config=cfg
    )
    majority = _calibrate_and_report(judge, images, codes, split, labels)
    judge.training = _provenance(seed, split, groups, majority, vocab)
    judge.training["train_seconds"] = round(time.perf_counter() - t0, 2)
    judge.training["torch_version"] = torch.__version__
    return judge


def _provenance(
    seed: int,
    split: np.ndarray,
    groups: np.ndarray,
    majority: Mapping[str, int],
    vocab: Mapping[str, tuple[str, ...]],
) -> dict[str, object]:
    """Return the judge's ``training`` record: seed, counts per split, majority labels."""
    return {
        "seed": int(seed),
        "n_images": {
            "train": int((split == 0).sum()),
            "calibration": int((split == 1).sum()),
            "test": int((split == 2).sum()),
        },
        "n_faces": {
            name: len(np.unique(groups[split == k]))
            for k, name in enumerate(("train", "calibration", "test"))
        },
        "majority_label": {a: vocab[a][m] if m >= 0 else None for a, m in majority.items()},
    }


def _head_loss(z: torch.Tensor, yb: torch.Tensor, offsets: np.ndarray) -> torch.Tensor:
    """Sum over heads of the cross-entropy on the images whose label is known."""
    import torch.nn.functional as F

    loss = z.new_zeros(())
    for j in range(len(offsets) - 1):
        known = yb[:, j] >= 0
        if known.any():
            loss = loss + F.cross_entropy(z[known, offsets[j] : offsets[j + 1]], yb[known, j])
    return loss


def _fit_net(
    x_all: torch.Tensor,
    y_all: torch.Tensor,
    train_idx: np.ndarray,
    sizes: Sequence[int],
    cfg: JudgeTrainConfig,
    seed: int,
) -> torch.nn.Module:
    """Train the CNN on rows ``train_idx`` (AdamW, warm-up then cosine decay); eval mode."""
    import torch

    offsets = np.cumsum([0, *sizes])
    gen = torch.Generator().manual_seed(int(seed))
    # Weight init and dropout draw from torch's global generator: fork it so that the
    # caller's global state is restored afterwards, and seed the fork.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        net = _build_net(cfg, sizes).to(memory_format=torch.channels_last)
        steps_per_epoch = max(1, int(np.ceil(len(train_idx) / cfg.batch_size)))
        opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
        total = cfg.epochs * steps_per_epoch
        warm = max(1, total // 10)

        def lr_factor(step: int) -> float:  # linear warm-up, then cosine decay to 0
            if step < warm:
                return (step + 1) / warm
            return 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, total - warm)))

        sched = torch.optim.lr_scheduler.LambdaLR(opt, lr_factor)
        net.train()
        for _ in range(cfg.epochs):
            order = train_idx[torch.randperm(len(train_idx), generator=gen).numpy()]
            for start in range(0, len(order), cfg.batch_size):
                idx = torch.from_numpy(order[start : start + cfg.batch_size])
                if len(idx) < 2:
                    continue  # BatchNorm needs two images
                xb = _augment(x_all[idx], cfg, gen).contiguous(memory_format=torch.channels_last)
                loss = _head_loss(net(xb), y_all[idx], offsets)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sched.step()
    net.eval()
    return net.to(memory_format=torch.contiguous_format)


def _calibrate_and_report(
    judge: BiasLabJudge,
    images: np.ndarray,
    codes: np.ndarray,
    split: np.ndarray,
    labels: pd.DataFrame,
) -> dict[str, int]:
    """Fit each head's temperature on the calibration split; report on the test split.

    Returns the training split's majority label code per attribute (-1: no label).
    """
    from scipy.special import softmax

    vocab = judge.vocabularies
    logits = judge._logits(images)
    cal, test = split == 1, split == 2
    for j, attr in enumerate(vocab):
        known = cal & (codes[:, j] >= 0)
        judge.temperatures[attr] = fit_temperature(logits[attr][known], codes[known, j])
    calibrated = {a: softmax(z[test] / judge.temperatures[a], axis=1) for a, z in logits.items()}
    raw = {a: softmax(z[test], axis=1) for a, z in logits.items()}
    majority = {}
    for j, attr in enumerate(vocab):
        train_codes = codes[split == 0, j]
        train_codes = train_codes[train_codes >= 0]
        majority[attr] = (
            int(np.bincount(train_codes, minlength=len(vocab[attr])).argmax())
            if len(train_codes)
            else -1
        )
    judge.report = _report(
        calibrated, codes[test], raw, labels[test].reset_index(drop=True), vocab, majority
    )
    return majority
