"""Targets of the standardised voice objective: feature statistics and auxiliary labels.

The ``"standardized"`` voice objective (``loss.objective``) compares prediction and face
feature after standardising each dimension with the training set's mean and std, and may ask
the voice encoder to predict training-manifest labels on the side (``loss.aux_targets``).
This module derives both from the training data; the training code stores them (the
statistics in the voice encoder's buffers, the vocabularies in the checkpoint metadata).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from s2f_model._config import AUX_REGRESSION, S2FConfig

if TYPE_CHECKING:
    from torch import Tensor

__all__ = ["aux_label_matrix", "aux_vocabularies", "target_stats", "with_aux_classes"]

log = logging.getLogger(__name__)

#: Floor of a target dimension's std, as a share of the mean std over dimensions (a
#: dimension that never varies, e.g. a dead ReLU unit, must not be divided by ~0).
STD_FLOOR = 1e-3


def _training_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """Select the rows the voice stage trains on (training split, with a face)."""
    rows = frame[frame["split"] == "train"]
    if "face_path" in rows:
        rows = rows[rows["face_path"].notna()]
    return rows


def aux_vocabularies(frame: pd.DataFrame, targets: Sequence[str]) -> dict[str, Any]:
    """Label vocabularies (or regression statistics) of the auxiliary targets.

    Parameters
    ----------
    frame : pandas.DataFrame
        The training manifest's rows (all splits; the training rows are selected here).
    targets : sequence of str
        ``loss.aux_targets``.

    Returns
    -------
    dict
        Target -> sorted list of labels (classification) or ``{"mean": m, "std": s}``
        (regression). A target whose column is missing, or has fewer than two labels (or no
        spread) among the training rows, maps to ``None``: it has no head (size 0), and a
        warning names it.
    """
    rows = _training_rows(frame)
    out: dict[str, Any] = {}
    for name in targets:
        col = rows[name] if name in rows else pd.Series([], dtype=object)
        if name in AUX_REGRESSION:
            values = pd.to_numeric(col, errors="coerce").dropna().to_numpy(np.float64)
            std = float(values.std()) if len(values) else 0.0
            out[name] = {"mean": float(values.mean()), "std": std} if std > 0 else None
        else:
            labels = sorted({str(v) for v in col.dropna() if str(v).strip()})
            out[name] = labels if len(labels) >= 2 else None
        if out[name] is None:
            log.warning(
                "auxiliary target %r: no usable labels in the training rows (column "
                "missing, empty or constant); it gets no head",
                name,
            )
    return out


def _head_size(spec: Any, name: str) -> int:
    if spec is None:
        return 0
    return 1 if name in AUX_REGRESSION else len(spec)


def with_aux_classes(cfg: S2FConfig, frame: pd.DataFrame) -> tuple[S2FConfig, dict[str, Any]]:
    """Size the auxiliary heads from the training rows; return the config and vocabularies.

    Without ``loss.aux_targets`` the config is returned unchanged with ``{}``.

    Examples
    --------
    >>> frame = pd.DataFrame({"split": ["train"] * 3, "gender": ["m", "f", "m"],
    ...                       "face_size": [0.1, -0.4, 0.3]})
    >>> cfg = S2FConfig.compact().replace(**{
    ...     "loss.objective": "standardized", "voice.standardize_output": True,
    ...     "loss.aux_targets": ["gender", "face_size"]})
    >>> cfg, vocab = with_aux_classes(cfg, frame)
    >>> cfg.voice.aux_classes, vocab["gender"]
    ((2, 1), ['f', 'm'])
    """
    targets = cfg.loss.aux_targets
    if not targets:
        return cfg, {}
    vocab = aux_vocabularies(frame, targets)
    sizes = [_head_size(vocab[name], name) for name in targets]
    return cfg.replace(**{"voice.aux_classes": sizes}), vocab


def aux_label_matrix(
    frame: pd.DataFrame, utterance_ids: Sequence[str], vocab: dict[str, Any]
) -> Tensor:
    """Labels of the given utterances as a float matrix for the auxiliary heads.

    Parameters
    ----------
    frame : pandas.DataFrame
        Manifest rows holding ``utterance_id`` and the target columns.
    utterance_ids : sequence of str
        Utterances in the training data's order.
    vocab : dict
        From :func:`aux_vocabularies` (its order is the heads' order).

    Returns
    -------
    torch.Tensor
        ``(len(utterance_ids), len(vocab))`` float32: class index, or the regression value
        standardised with the training mean and std; NaN where the label is missing, not
        in the vocabulary, or the target has no head.
    """
    import torch

    unique = frame.drop_duplicates("utterance_id")
    unique.index = unique["utterance_id"].astype(str)
    rows = unique.loc[list(utterance_ids)]
    out = np.full((len(rows), len(vocab)), np.nan, dtype=np.float32)
    for j, (name, spec) in enumerate(vocab.items()):
        if spec is None or name not in rows:
            continue
        if name in AUX_REGRESSION:
            values = pd.to_numeric(rows[name], errors="coerce").to_numpy(np.float64)
            out[:, j] = (values - spec["mean"]) / spec["std"]
        else:
            codes = {label: k for k, label in enumerate(spec)}
            out[:, j] = [
                codes.get(str(v), np.nan) if not pd.isna(v) else np.nan for v in rows[name]
            ]
    return torch.from_numpy(out)


def target_stats(features: Tensor) -> tuple[Tensor, Tensor]:
    """Per-dimension mean and floored std of training targets, ``(n, D) -> (D,), (D,)``.

    Each target counts as often as it is trained on (pass one row per utterance). The std
    is floored at ``STD_FLOOR`` times the mean std over dimensions.
    """
    if features.ndim != 2 or features.shape[0] < 2:
        raise ValueError(f"need (n >= 2, feature_dim) targets, got {tuple(features.shape)}")
    x = features.double()
    mean = x.mean(0)
    std = x.std(0, unbiased=False)
    floor = max(float(std.mean()) * STD_FLOOR, 1e-12)
    return mean.float(), std.clamp_min(floor).float()
