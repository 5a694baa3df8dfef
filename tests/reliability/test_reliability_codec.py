"""``train.codec_augment``: a seeded share of the training clips through an MP3 round trip.

The compact demo model trained on clean WAV read the MP3 noise of the same speakers' clips as a
voice cue (women reconstructed as women 0.545 instead of 0.991); these tests pin down the
mechanism that trains against it.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _tiny_run import make_manifest, tiny_config

from s2f_data import read_manifest
from s2f_model import load_training_data
from s2f_model._codec_augment import codec_round_trip, mix_codec
from s2f_model.exceptions import ConfigError

_SR = 16000


def _voice_like(seconds: float = 1.0, f0: float = 180.0) -> np.ndarray:
    """A harmonic tone with a slow amplitude envelope (energy where speech has it)."""
    t = np.arange(int(seconds * _SR)) / _SR
    wave = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 12))
    return (0.2 * wave * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))).astype(np.float32)


def test_round_trip_keeps_length_and_changes_the_clip_a_little():
    wave = _voice_like()
    out = codec_round_trip(wave, _SR)
    assert out.shape == wave.shape and out.dtype == np.float32
    snr_db = 10 * np.log10(np.sum(wave**2) / np.sum((wave - out) ** 2))
    assert 5.0 < snr_db < 60.0  # lossy (not a copy), yet the same sound (not noise)


def test_mix_replaces_the_seeded_share_and_leaves_the_input_alone():
    waves = torch.from_numpy(np.stack([_voice_like(0.5, f0) for f0 in range(100, 260, 20)]))
    before = waves.clone()
    assert mix_codec(waves, 0.0, 0, _SR) is waves
    mixed = mix_codec(waves, 0.5, 3, _SR)
    changed = (mixed != waves).any(dim=1)
    assert int(changed.sum()) == round(0.5 * len(waves)) == 4
    assert torch.equal(waves, before)  # a new tensor
    again = mix_codec(waves, 0.5, 3, _SR)
    assert torch.equal(mixed, again)  # same seed, same clips, same bits
    other = mix_codec(waves, 0.5, 4, _SR)
    assert not torch.equal((other != waves).any(dim=1), changed)  # the seed picks the clips


@pytest.mark.parametrize("value", [-0.1, 1.5, float("nan")])
def test_config_refuses_a_share_outside_0_1(value):
    with pytest.raises(ConfigError, match="codec_augment must be"):
        tiny_config().replace(**{"train.codec_augment": value})


def test_config_refuses_it_with_shards():
    with pytest.raises(ConfigError, match=r"not with train\.data='shards'"):
        tiny_config().replace(**{"train.codec_augment": 0.5, "train.data": "shards"})


def test_config_without_it_writes_the_same_json_as_before():
    plain = tiny_config().to_dict()["train"]
    assert "codec_augment" not in plain  # old runs' stage keys and checkpoints unchanged
    assert tiny_config().replace(**{"train.codec_augment": 0.25}).to_dict()["train"][
        "codec_augment"
    ] == pytest.approx(0.25)


def test_training_data_hears_the_share_through_the_codec(tmp_path):
    manifest = read_manifest(make_manifest(tmp_path / "d", split=lambda s: "train"))
    clean_cfg = tiny_config()
    cfg = clean_cfg.replace(**{"train.codec_augment": 0.5})
    ids = ["s0", "s1", "s2", "s3"]
    clean = load_training_data(manifest, clean_cfg, ids, progress=False).train.waves
    mixed = load_training_data(manifest, cfg, ids, progress=False).train.waves
    changed = (mixed != clean).any(dim=1)
    assert len(clean) == 8 and int(changed.sum()) == 4
