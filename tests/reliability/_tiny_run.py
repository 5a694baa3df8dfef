"""A test-sized model configuration shared by the reliability tests of checkpoints and audits."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
from PIL import Image

from s2f_data import ManifestInfo, write_manifest
from s2f_model import S2FConfig

_SR = 8000

#: A test-sized model (the compact structure, narrow layers, 32 px faces).
TINY = {
    "audio.clip_seconds": 2.0,
    "voice.channels": [4, 4, 8, 8, 8, 8, 8, 8, 8],
    "voice.hidden_dim": 16,
    "voice.feature_dim": 16,
    "face.feature_dim": 16,
    "face.image_size": 32,
    "face.block_channels": [4, 4, 8, 8, 8],
    "face.n_identities": 3,
    "decoder.image_size": 32,
    "decoder.first_dim": 16,
    "decoder.landmark_hidden": 16,
    "decoder.texture_channels": 16,
    "train.face_side": "train",  # 32 px faces: the shipped 64 px face side does not fit
}


def tiny_config() -> S2FConfig:
    """The compact preset shrunk for tests."""
    return S2FConfig.compact().replace(**TINY)


def make_manifest(
    root: Path, *, n_speakers: int = 4, with_face=lambda s: True, ids=None, split=lambda s: "test"
) -> Path:
    """Write ``n_speakers`` x 2 utterances (1 s noise) with 40 px faces under ``root``."""
    rng = np.random.default_rng(0)
    root.mkdir(parents=True, exist_ok=True)
    rows = []
    for s in range(n_speakers):
        Image.fromarray(np.full((40, 40, 3), 30 + 50 * s, dtype=np.uint8)).save(root / f"f{s}.png")
        for u in range(2):
            k = 2 * s + u
            uid = ids[k] if ids is not None else f"s{s}u{u}"
            sf.write(root / f"a{k}.wav", 0.1 * rng.standard_normal(_SR), _SR)
            rows.append(
                {
                    "utterance_id": uid,
                    "speaker_id": f"s{s}",
                    "split": split(s),
                    "audio_path": f"a{k}.wav",
                    "face_path": f"f{s}.png" if with_face(s) else None,
                    "gender": "female" if s % 2 else "male",
                }
            )
    return write_manifest(pd.DataFrame(rows), root / "manifest.csv", ManifestInfo(source="test"))
