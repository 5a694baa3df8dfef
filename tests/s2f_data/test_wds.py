"""Sequential tar training shards (issue #20, item 2): round trip, ranks, bad shards."""

from __future__ import annotations

import io
import json
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

from s2f_data import load_audio, read_manifest
from s2f_data._wds import ShardError, ShardStream, read_shard, write_shards

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "reliability"))
from _tiny_run import make_manifest  # noqa: E402


@pytest.fixture
def shards(tmp_path):
    man = read_manifest(make_manifest(tmp_path / "d", n_speakers=4, with_face=lambda s: s != 3))
    write_shards(man, tmp_path / "s", split="test", sample_rate=8000, samples_per_shard=3)
    return man, tmp_path / "s"


def test_every_row_comes_back_once_with_its_audio_face_and_labels(shards):
    man, folder = shards
    assert sorted(p.name for p in folder.glob("*.tar")) == [
        "shard-000000.tar", "shard-000001.tar", "shard-000002.tar",
    ]  # fmt: skip
    stream = ShardStream(folder, buffer=4, seed=1)
    got = {s.labels["utterance_id"]: s for s in stream}
    assert stream.seen == 8 and sorted(got) == sorted(man.frame["utterance_id"])
    for _, row in man.frame.iterrows():
        sample = got[row["utterance_id"]]
        want = load_audio(man.resolve(row["audio_path"]), 8000)
        np.testing.assert_array_equal(sample.wave, want.astype(np.float32))
        assert sample.labels["speaker_id"] == row["speaker_id"]
        if row["speaker_id"] == "s3":
            assert sample.face is None
        else:
            assert sample.face == Path(man.resolve(row["face_path"])).read_bytes()


def test_ranks_partition_the_samples_and_the_order_is_seeded(shards):
    _, folder = shards
    parts = [[s.key for s in ShardStream(folder, rank=r, world_size=2, seed=3)] for r in (0, 1)]
    assert sorted(parts[0] + parts[1]) == [f"{k:09d}" for k in range(8)]
    assert not set(parts[0]) & set(parts[1])
    again = [s.key for s in ShardStream(folder, rank=0, world_size=2, seed=3)]
    assert again == parts[0]
    one = ShardStream(folder, buffer=2, seed=0)
    first, second = [s.key for s in one], [s.key for s in one]  # epochs 0 and 1
    assert sorted(first) == sorted(second) and first != second


def test_a_truncated_shard_is_a_clear_error_naming_it(shards):
    _, folder = shards
    path = folder / "shard-000001.tar"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ShardError, match=r"shard-000001\.tar"):
        list(ShardStream(folder))


def test_a_sample_missing_a_member_is_a_clear_error(shards):
    _, folder = shards
    path = folder / "shard-000000.tar"
    kept = io.BytesIO()
    with tarfile.open(path) as src, tarfile.open(fileobj=kept, mode="w") as dst:
        for info in src.getmembers():
            if info.name != "000000001.wave.npy":
                dst.addfile(info, src.extractfile(info))
    path.write_bytes(kept.getvalue())
    with pytest.raises(ShardError, match=r"shard-000000\.tar: sample 000000001 lacks its wave"):
        list(read_shard(path))


def test_a_shard_with_fewer_samples_than_its_index_is_refused(shards):
    _, folder = shards
    path = folder / "shard-000002.tar"  # 2 samples: drop the last one whole
    kept = io.BytesIO()
    with tarfile.open(path) as src, tarfile.open(fileobj=kept, mode="w") as dst:
        for info in src.getmembers():
            if not info.name.startswith("000000007."):
                dst.addfile(info, src.extractfile(info))
    path.write_bytes(kept.getvalue())
    with pytest.raises(ShardError, match=r"shard-000002\.tar: 1 sample"):
        list(ShardStream(folder))


def test_a_split_without_rows_is_refused_and_the_index_names_its_rows(tmp_path):
    from s2f_data import rows_digest

    path = make_manifest(tmp_path / "d", n_speakers=2)  # every row in "test"
    with pytest.raises(ShardError, match="the manifest has no row of split 'train'"):
        write_shards(path, tmp_path / "s", split="train")
    index_path = write_shards(path, tmp_path / "s", split="test", sample_rate=8000)
    index = json.loads(index_path.read_text())
    frame = read_manifest(path).frame
    assert index["rows_sha256"] == rows_digest(frame)
    assert index["rows_sha256"] != rows_digest(frame.iloc[::-1])  # order matters
