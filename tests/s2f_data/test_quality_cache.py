"""Quality checks against hand computations; the feature cache, including two writers."""

from __future__ import annotations

import hashlib
import math
import multiprocessing
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from s2fdata_media import tone

from s2f_data import FeatureCache, QualityThresholds, assess_audio, assess_wave, file_digest


def test_rms_and_peak_of_a_sine_match_the_formula():
    q = assess_wave(tone(2.0, 16000, freq=250, amp=0.5), 16000)
    assert q.rms_dbfs == pytest.approx(20 * math.log10(0.5 / math.sqrt(2)), abs=0.01)
    assert q.peak == pytest.approx(0.5, abs=1e-4)
    assert q.duration_s == 2.0 and q.flags == ()


def test_clipping_ratio_counts_samples_over_the_level():
    x = np.zeros(1000, dtype=np.float32)
    x[:5] = 1.0
    x[5:7] = -1.0
    x[7] = 0.9989  # below the 0.999 level
    q = assess_wave(x + 0.01 * (np.arange(1000) % 2), 1000)
    assert q.clipping_ratio == pytest.approx(7 / 1000)
    assert "clipped" in q.flags
    loose = assess_wave(x, 1000, QualityThresholds(max_clipping_ratio=0.01))
    assert "clipped" not in loose.flags


def test_multichannel_clipping_is_not_hidden_by_mixing():
    x = np.zeros((1000, 2), dtype=np.float32)
    x[:, 0] = 1.0
    x[:, 1] = -1.0  # the mono mix is silent, but both channels are clipped
    q = assess_wave(x, 1000)
    assert q.clipping_ratio == 1.0 and "clipped" in q.flags and q.channels == 2


def test_silence_and_short_flags_and_nan_rejected():
    q = assess_wave(np.full(500, 1e-4, dtype=np.float32), 1000)
    assert q.rms_dbfs == pytest.approx(-80.0, abs=0.01)
    assert q.flags == ("too_short", "silent")
    assert assess_wave(np.zeros(10, dtype=np.float32), 1000).rms_dbfs == -math.inf
    with pytest.raises(ValueError, match="NaN or Inf"):
        assess_wave(np.array([0.0, np.nan], dtype=np.float32), 1000)
    with pytest.raises(ValueError, match=r"clip_level must be in \(0, 1\], got 2"):
        QualityThresholds(clip_level=2)


def test_streamed_file_assessment_equals_in_memory(tmp_path: Path):
    rng = np.random.default_rng(5)
    x = rng.uniform(-1, 1, size=(24001, 2)).astype(np.float32)
    x[100:200] = 1.0
    sf.write(tmp_path / "s.wav", x, 8000, subtype="FLOAT")
    streamed = assess_audio(tmp_path / "s.wav", block_seconds=0.37)  # many blocks
    whole = assess_wave(x, 8000)
    assert streamed.flags == whole.flags
    assert streamed.duration_s == whole.duration_s
    assert streamed.clipping_ratio == whole.clipping_ratio
    assert streamed.rms_dbfs == pytest.approx(whole.rms_dbfs, abs=1e-9)
    row = streamed.to_dict()
    assert row["flags"] == "clipped" and row["channels"] == 2


# ------------------------------------------------------------------------------ cache
def test_file_digest_is_sha256(tmp_path: Path):
    data = bytes(range(256)) * 5000
    (tmp_path / "b").write_bytes(data)
    assert file_digest(tmp_path / "b", chunk_bytes=1000) == hashlib.sha256(data).hexdigest()


def test_cache_key_follows_content_and_config(tmp_path: Path):
    cache = FeatureCache(tmp_path / "c")
    (tmp_path / "a.wav").write_bytes(b"abc")
    (tmp_path / "b.wav").write_bytes(b"abc")
    k = cache.key(tmp_path / "a.wav", {"sr": 16000, "clip": 6.0})
    assert k == cache.key(tmp_path / "b.wav", {"clip": 6.0, "sr": 16000})  # same bytes
    assert k != cache.key(tmp_path / "a.wav", {"sr": 8000, "clip": 6.0})
    (tmp_path / "a.wav").write_bytes(b"abd")
    assert k != cache.key(tmp_path / "a.wav", {"sr": 16000, "clip": 6.0})
    with pytest.raises(ValueError, match="cache config must be JSON-serialisable"):
        cache.key(tmp_path / "a.wav", {"x": object()})


def test_get_or_compute_hits_and_recovers_from_corrupt_entries(tmp_path: Path):
    cache = FeatureCache(tmp_path / "c")
    (tmp_path / "a.wav").write_bytes(b"abc")
    calls = []

    def compute(p: Path) -> np.ndarray:
        calls.append(p)
        return np.arange(6, dtype=np.float32).reshape(2, 3)

    first = cache.get_or_compute(tmp_path / "a.wav", {"v": 1}, compute)
    again = cache.get_or_compute(tmp_path / "a.wav", {"v": 1}, compute)
    np.testing.assert_array_equal(first, again)
    assert len(calls) == 1
    entry = cache.entry_path(cache.key(tmp_path / "a.wav", {"v": 1}))
    entry.write_bytes(entry.read_bytes()[:20])  # a torn entry (e.g. copied half-way)
    cache.get_or_compute(tmp_path / "a.wav", {"v": 1}, compute)
    assert len(calls) == 2
    np.testing.assert_array_equal(np.load(entry), first)
    with pytest.raises(ValueError, match="64 lowercase hex"):
        cache.entry_path("../etc/passwd")


def _writer(folder: str, key: str, seed: int, n: int) -> None:
    cache = FeatureCache(folder)
    value = np.full((256, 256), 3.0, dtype=np.float32)
    for _ in range(n):
        cache.put(key, value)


def test_two_processes_writing_the_same_entry(tmp_path: Path):
    key = "ab" + "0" * 62
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path / "c"), key, s, 40)) for s in range(2)]
    for p in procs:
        p.start()
    reader = FeatureCache(tmp_path / "c")
    seen = 0
    while any(p.is_alive() for p in procs):
        got = reader.get(key)  # never a torn file: None (not yet) or the whole array
        if got is not None:
            assert got.shape == (256, 256) and float(got.min()) == 3.0
            seen += 1
    for p in procs:
        p.join()
        assert p.exitcode == 0
    assert reader.get(key) is not None
    assert sorted(x.name for x in (tmp_path / "c" / "ab").iterdir()) == [f"{key}.npy"]
