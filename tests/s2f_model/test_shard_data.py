"""Voice-stage batches streamed from tar shards (issue #20): counts, faces, targets, resume."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
import torch

from s2f_data import ShardError, read_manifest, write_shards
from s2f_model._data import load_face_image, load_voice_face_data
from s2f_model._shard_data import (
    FaceFeatureCache,
    ShardBatches,
    ShardTrainingData,
    ShardVoiceInputs,
    shard_target_stats,
)
from s2f_model._voice_targets import target_stats

SR = 16000


def _encode(images: torch.Tensor) -> torch.Tensor:
    """A stand-in face encoder: mean colour per channel and its square, ``(B,3,S,S) -> (B,6)``."""
    m = images.mean(dim=(2, 3))
    return torch.cat([m, m * m], dim=1)


@pytest.fixture
def shard_dir(tiny_manifest, tmp_path):
    """Training shards of the tiny manifest (4 train speakers x 3 utterances, 5 per shard)."""
    write_shards(
        tiny_manifest, tmp_path / "shards", split="train", sample_rate=SR, samples_per_shard=5
    )
    return tmp_path / "shards"


def test_open_checks_rate_split_and_rows(tiny_manifest, shard_dir, tmp_path):
    from s2f_data import file_digest, rows_digest

    frame = read_manifest(tiny_manifest).frame
    train_rows = frame[frame["split"] == "train"]
    data = ShardTrainingData.open(shard_dir, sample_rate=SR, rows_sha256=rows_digest(train_rows))
    assert data.n_samples == 12
    assert data.index["manifest_sha256"] == file_digest(tiny_manifest)
    with pytest.raises(
        ShardError, match=r"shards\.json: audio at 16000 Hz, the model expects 8000"
    ):
        ShardTrainingData.open(shard_dir, sample_rate=8000)
    other = train_rows.iloc[:-1]  # one row less: another digest
    with pytest.raises(ShardError, match="written from other rows than the training manifest"):
        ShardTrainingData.open(shard_dir, sample_rate=SR, rows_sha256=rows_digest(other))
    write_shards(tiny_manifest, tmp_path / "val", split="val", sample_rate=SR)
    with pytest.raises(ShardError, match="shards of split 'val'"):
        ShardTrainingData.open(tmp_path / "val", sample_rate=SR)


def test_every_epoch_gives_each_training_utterance_once_and_is_counted(shard_dir, caplog):
    data = ShardTrainingData.open(shard_dir, sample_rate=SR)
    batches = ShardBatches(data=data, per_rank=4, seed=0, buffer=3)
    with caplog.at_level(logging.INFO, logger="s2f_model._shard_data"):
        ids = [s.labels["utterance_id"] for _ in range(6) for s in batches.next_samples()]
    # 24 samples = two epochs of the 12 training utterances, each exactly once per epoch
    assert (
        sorted(ids[:12])
        == sorted(ids[12:])
        == sorted(f"spk{s:02d}_u{u}" for s in range(4) for u in range(3))
    )
    assert ids[:12] != ids[12:]  # reshuffled
    # both epochs counted (the last sample of an epoch waits for its count)
    assert [(c.epoch, c.seen, c.expected, c.no_face) for c in batches.epochs] == [
        (0, 12, 12, 0),
        (1, 12, 12, 0),
    ]
    assert "shard epoch 0: 12 samples seen (shards.json: 12), 0 without a face" in caplog.text


def test_ranks_split_every_epoch_between_them(shard_dir):
    data = ShardTrainingData.open(shard_dir, sample_rate=SR)
    ranks = [ShardBatches(data=data, rank=r, world_size=2, per_rank=1, seed=5) for r in (0, 1)]
    expected = [ranks[r]._stream.expected(0) for r in (0, 1)]
    got = [[ranks[r].next_samples()[0].key for _ in range(expected[r])] for r in (0, 1)]
    assert sorted(got[0] + got[1]) == [f"{k:09d}" for k in range(12)]
    assert sum(expected) == 12


def test_samples_without_face_are_counted_and_left_out(manifest_factory, tmp_path):
    path = manifest_factory()
    man = read_manifest(path)
    frame = man.frame.copy()
    frame.loc[frame["utterance_id"] == "spk00_u1", "face_path"] = None
    from s2f_data import ManifestInfo, write_manifest

    path = write_manifest(frame, path.with_name("manifest2.csv"), ManifestInfo(source="tiny-test"))
    write_shards(path, tmp_path / "s", split="train", sample_rate=SR)
    batches = ShardBatches(
        data=ShardTrainingData.open(tmp_path / "s", sample_rate=SR), per_rank=11, seed=0
    )
    ids = {s.labels["utterance_id"] for s in batches.next_samples()}
    assert "spk00_u1" not in ids and len(ids) == 11
    batches.next_samples()
    assert (batches.epochs[0].seen, batches.epochs[0].no_face) == (12, 1)


def test_a_truncated_shard_stops_training_naming_it(shard_dir):
    path = shard_dir / "shard-000001.tar"
    path.write_bytes(path.read_bytes()[:3000])
    batches = ShardBatches(
        data=ShardTrainingData.open(shard_dir, sample_rate=SR), per_rank=2, seed=0
    )
    with pytest.raises(ShardError, match=r"shard-000001\.tar: truncated or damaged tar"):
        for _ in range(12):
            batches.next_samples()


def test_face_features_match_the_files_and_the_cache_is_bounded(tiny_manifest, shard_dir):
    man = read_manifest(tiny_manifest)
    data = ShardTrainingData.open(shard_dir, sample_rate=SR)
    cache = FaceFeatureCache(_encode, 32, torch.device("cpu"), max_items=2)
    batches = ShardBatches(data=data, per_rank=6, seed=0)
    samples = batches.next_samples()
    got = cache.features(samples)
    for sample, row in zip(samples, got, strict=True):
        face = man.resolve(sample.labels["face_path"])
        img = torch.tensor(load_face_image(face, 32)).permute(2, 0, 1).float() / 255
        torch.testing.assert_close(row, _encode(img[None])[0], rtol=0, atol=0)
    assert len(cache) == 2  # least recently used faces evicted
    assert cache.misses >= len({s.labels["face_path"] for s in samples})


def test_target_stats_in_one_pass_equal_the_in_memory_ones(tiny_manifest, shard_dir):
    data = ShardTrainingData.open(shard_dir, sample_rate=SR)
    cache = FaceFeatureCache(_encode, 32, torch.device("cpu"))
    mean, std = shard_target_stats(data, cache, feature_dim=6, batch_size=5)
    mem = load_voice_face_data(
        tiny_manifest, "train", sample_rate=SR, clip_samples=100, image_size=32
    )
    per_utt = _encode(mem.faces.batch(mem.face_index)["image"])  # one row per utterance
    want_mean, want_std = target_stats(per_utt)
    # float64 sums of 12 values in [0, 1]: both agree to float32 rounding of the results
    torch.testing.assert_close(mean, want_mean, rtol=2**-22, atol=2**-22)
    torch.testing.assert_close(std, want_std, rtol=1e-5, atol=2**-20)


def test_resumed_inputs_continue_where_the_stream_was(shard_dir):
    data = ShardTrainingData.open(shard_dir, sample_rate=SR)

    def inputs(first: int) -> ShardVoiceInputs:
        return ShardVoiceInputs(
            batches=ShardBatches(data=data, per_rank=5, seed=2, buffer=4),
            faces=FaceFeatureCache(_encode, 32, torch.device("cpu")),
            frontend=lambda w: w[:, :50] * 2,
            clip_samples=SR,
            next_step=first,
        )

    whole = inputs(0)
    full = [whole(step) for step in range(5)]
    resumed = inputs(3)
    for step in (3, 4):
        for a, b in zip(resumed(step), full[step], strict=True):
            torch.testing.assert_close(a, b, rtol=0, atol=0)
    with pytest.raises(RuntimeError, match="asked for step 9, the stream is at step 5"):
        resumed(9)
    assert full[0][0].shape == (5, 50) and full[0][1].shape == (5, 6)


def test_index_lists_split_and_manifest(tiny_manifest, shard_dir):
    index = json.loads((shard_dir / "shards.json").read_text())
    assert index["split"] == "train" and index["n_samples"] == 12
    assert [s["n_samples"] for s in index["shards"]] == [5, 5, 2]
    assert np.all([len(s["sha256"]) == 64 for s in index["shards"]])
