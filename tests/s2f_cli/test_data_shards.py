"""``s2f-audit data shards`` (issue #20): writes the split's shards; bad input exits 2."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from s2f_cli import main
from s2f_data import ShardStream, load_audio, read_manifest, write_shards

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "reliability"))
from _tiny_run import make_manifest


def make_tiny_manifest(root: Path) -> Path:
    """5 speakers x 2 utterances (1 s at 8 kHz): speakers 0-3 train, 4 test."""
    return make_manifest(root, n_speakers=5, split=lambda s: "train" if s < 4 else "test")


def test_writes_the_train_split_and_the_stream_reads_it_back(tmp_path, capsys):
    manifest = make_tiny_manifest(tmp_path / "m")
    code = main(["data", "shards", str(manifest), "--samples-per-shard", "5"])
    assert code == 0
    assert "8 samples in 2 shard(s) written to" in capsys.readouterr().out
    index = json.loads((tmp_path / "m" / "shards" / "shards.json").read_text())
    assert (index["split"], index["sample_rate"], index["n_samples"]) == ("train", 16000, 8)
    man = read_manifest(manifest)
    rows = man.frame.set_index("utterance_id")
    got = {s.labels["utterance_id"]: s for s in ShardStream(tmp_path / "m" / "shards")}
    assert sorted(got) == sorted(rows.index[rows["split"] == "train"])
    uid = "s1u1"  # 8 kHz on disk, resampled to 16 kHz once
    want = load_audio(man.resolve(rows.loc[uid, "audio_path"]), 16000).astype(np.float32)
    np.testing.assert_array_equal(got[uid].wave, want)


def test_bad_input_exits_2_naming_what_is_wrong(tmp_path, capsys):
    manifest = make_tiny_manifest(tmp_path / "m")
    assert main(["data", "shards", str(manifest), "--samples-per-shard", "0"]) == 2
    assert "--samples-per-shard must be at least 1, got 0" in capsys.readouterr().err
    (tmp_path / "m" / "a1.wav").write_bytes(b"not a wav")
    assert main(["data", "shards", str(manifest), "--out", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err
    assert "row 's0u1': cannot read audio a1.wav" in err
    assert not (tmp_path / "s" / "shards.json").exists()  # no index for a partial write


def test_sample_rate_outside_the_audio_range_exits_2(tmp_path, capsys):
    # 99999999 Hz used to try to allocate terabytes for the resampled audio (a traceback)
    manifest = make_tiny_manifest(tmp_path / "m")
    for rate in ("0", "999", "99999999"):
        assert main(["data", "shards", str(manifest), "--sample-rate", rate]) == 2
        err = capsys.readouterr().err
        assert f"--sample-rate must be in [1000, 768000] Hz, got {rate}" in err
    assert not (tmp_path / "m" / "shards").exists()
    with pytest.raises(ValueError, match=r"sample_rate must be an integer in \[1000, 768000\]"):
        write_shards(manifest, tmp_path / "s", sample_rate=99_999_999)
