"""A test-sized model configuration shared by the reliability tests of checkpoints and audits."""

from __future__ import annotations

from s2f_model import S2FConfig

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
}


def tiny_config() -> S2FConfig:
    """The compact preset shrunk for tests."""
    return S2FConfig.compact().replace(**TINY)
