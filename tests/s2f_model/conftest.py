"""Fixtures for the training/inference tests: a tiny manifest in the real on-disk format."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest


def make_tiny_manifest(
    root: Path,
    *,
    n_speakers: int = 6,
    utts_per_speaker: int = 3,
    seconds: float = 1.0,
    sample_rate: int = 16000,
    face_px: int = 40,
    seed: int = 0,
) -> Path:
    """Write WAVs, PNG faces, landmark .npy files and manifest.csv/.json under ``root``.

    Speakers alternate train/train/.../val/test (the last two are val and test). Each speaker
    has a pitch (the voice) tied to a face colour and a landmark jitter, so voice -> face is
    learnable. Everything is derived from ``seed``.
    """
    import soundfile as sf
    from PIL import Image

    from s2f_data import ManifestInfo, write_manifest

    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    (root / "audio").mkdir(exist_ok=True)
    (root / "faces").mkdir(exist_ok=True)
    (root / "landmarks").mkdir(exist_ok=True)
    base = rng.uniform(0.25, 0.75, size=(68, 2)).astype(np.float32)
    rows = []
    for s in range(n_speakers):
        spk = f"spk{s:02d}"
        split = "train" if s < n_speakers - 2 else ("val" if s == n_speakers - 2 else "test")
        f0 = 90.0 + 150.0 * s / max(n_speakers - 1, 1)
        colour = rng.integers(30, 225, size=3)
        img = np.zeros((face_px, face_px, 3), dtype=np.uint8)
        img[:] = colour
        c = face_px // 2
        img[c - face_px // 6 : c + face_px // 6, c - face_px // 4 : c + face_px // 4] = 255 - colour
        img = np.clip(img.astype(int) + rng.integers(-10, 10, size=img.shape), 0, 255)
        Image.fromarray(img.astype(np.uint8)).save(root / "faces" / f"{spk}.png")
        marks = np.clip(base + rng.normal(0, 0.02, size=base.shape), 0.0, 1.0)
        np.save(root / "landmarks" / f"{spk}.npy", marks.astype(np.float32))
        for u in range(utts_per_speaker):
            n = int(seconds * sample_rate * (0.8 + 0.4 * u / max(utts_per_speaker - 1, 1)))
            t = np.arange(n) / sample_rate
            wave = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 6))
            wave = 0.2 * wave + 0.01 * rng.standard_normal(n)
            uid = f"{spk}_u{u}"
            sf.write(root / "audio" / f"{uid}.wav", wave.astype(np.float32), sample_rate)
            rows.append(
                {
                    "utterance_id": uid,
                    "speaker_id": spk,
                    "audio_path": f"audio/{uid}.wav",
                    "split": split,
                    "face_path": f"faces/{spk}.png",
                    "gender": "female" if s % 2 else "male",
                    "landmarks_path": f"landmarks/{spk}.npy",
                }
            )
    info = ManifestInfo(source="tiny-test", source_version="1")
    return write_manifest(pd.DataFrame(rows), root / "manifest.csv", info)


#: Config overrides for test-sized training: the compact structure with 2 s clips, 32 px
#: faces, narrow layers and a few steps per stage.
TINY_OVERRIDES: dict[str, object] = {
    "audio.clip_seconds": 2.0,
    "voice.channels": [8, 8, 16, 16, 16, 16, 32, 32, 32],
    "voice.hidden_dim": 64,
    "voice.feature_dim": 64,
    "face.feature_dim": 64,
    "face.image_size": 32,
    "face.block_channels": [8, 8, 16, 16, 16],
    "decoder.image_size": 32,
    "decoder.first_dim": 32,
    "decoder.landmark_hidden": 32,
    "decoder.texture_channels": 32,
    "train.face_steps": 4,
    "train.voice_steps": 6,
    "train.batch_size": 4,
    "train.lr_decay_every": 2,
    "train.checkpoint_every": 0,
    "train.face_side": "train",  # 32 px faces: the shipped 64 px face side does not fit
}


@pytest.fixture(scope="session")
def tiny_overrides() -> dict[str, object]:
    """The overrides behind :func:`tiny_config` (a copy)."""
    return dict(TINY_OVERRIDES)


@pytest.fixture(scope="session")
def tiny_config() -> Callable[..., object]:
    """``tiny_config(seed=0, **overrides) -> S2FConfig`` at test size."""

    def build(seed: int = 0, **overrides: object):
        from s2f_model import S2FConfig

        settings = {**TINY_OVERRIDES, "train.seed": seed, **overrides}
        return S2FConfig.compact().replace(**settings)

    return build


@pytest.fixture(scope="session")
def tiny_manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny manifest (6 speakers x 3 utterances of ~1 s, 40 px faces); do not modify."""
    return make_tiny_manifest(tmp_path_factory.mktemp("tiny"))


@pytest.fixture
def manifest_factory(tmp_path: Path) -> Callable[..., Path]:
    """Build a fresh tiny manifest with custom settings in this test's tmp folder."""

    def factory(**kwargs) -> Path:
        return make_tiny_manifest(tmp_path / "data", **kwargs)

    return factory
