"""Targets of the standardised voice objective: vocabularies, label matrix, statistics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from s2f_model import S2FConfig
from s2f_model._voice_targets import (
    aux_label_matrix,
    aux_vocabularies,
    target_stats,
    with_aux_classes,
)

FRAME = pd.DataFrame(
    {
        "utterance_id": ["a", "b", "c", "d", "e"],
        "split": ["train", "train", "train", "val", "train"],
        "face_path": ["f1", "f2", "f3", "f4", None],  # e has no face: not a training row
        "language": ["en", "zh", None, "ja", "hi"],
        "gender": ["male", "male", "male", "female", "female"],
        "face_size": [1.0, -1.0, 3.0, 9.0, 100.0],
    }
)


def test_vocabularies_come_from_the_training_rows_with_a_face_only():
    vocab = aux_vocabularies(FRAME, ["language", "gender", "face_size", "accent"])
    assert vocab["language"] == ["en", "zh"]  # ja is a val row, hi has no face
    assert vocab["gender"] is None  # only one label among the training rows
    assert vocab["accent"] is None  # no such column
    values = np.array([1.0, -1.0, 3.0])
    assert vocab["face_size"] == {"mean": values.mean(), "std": values.std()}
    cfg = S2FConfig.compact().replace(
        **{
            "loss.objective": "standardized",
            "voice.standardize_output": True,
            "loss.aux_targets": ["language", "gender", "face_size", "accent"],
        }
    )
    sized, _ = with_aux_classes(cfg, FRAME)
    assert sized.voice.aux_classes == (2, 0, 1, 0)


def test_label_matrix_codes_standardises_and_marks_unknown_as_nan():
    vocab = aux_vocabularies(FRAME, ["language", "face_size"])
    labels = aux_label_matrix(FRAME, ["c", "b", "d"], vocab)
    mean, std = vocab["face_size"]["mean"], vocab["face_size"]["std"]
    expected = np.array(
        [
            [np.nan, (3 - mean) / std],  # c: no language
            [1, (-1 - mean) / std],  # b: zh is index 1
            [np.nan, (9 - mean) / std],
        ],
        dtype=np.float32,
    )  # d: ja unknown
    np.testing.assert_allclose(labels.numpy(), expected, rtol=1e-6)


def test_target_stats_match_numpy_and_floor_constant_dimensions():
    x = torch.randn(50, 4, generator=torch.Generator().manual_seed(0)) * torch.tensor(
        [1.0, 2.0, 0.5, 0.0]
    )  # the last dimension never varies
    mean, std = target_stats(x)
    ref = x.double().numpy()
    np.testing.assert_allclose(mean.numpy(), ref.mean(0), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(std[:3].numpy(), ref.std(0)[:3], rtol=1e-6)
    assert float(std[3]) == np.float32(ref.std(0)[:4].mean() * 1e-3)
