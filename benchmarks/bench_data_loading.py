"""Data loading speed and memory: decoders, clip policy on a 1-hour file, cache, adapters.

Run: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_data_loading.py
Prints one line per measurement (median of repeats, milliseconds unless stated).
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import scipy.signal
import soundfile as sf

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "s2f_data"))
from s2fdata_media import tone, write_m4a, write_mp4

from s2f_data import ClipPolicy, FeatureCache, assess_audio, load_audio, load_clip
from s2f_data.adapters import import_voxceleb1


def timed(fn, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="s2f_bench_") as tmp:
        run(Path(tmp))


def run(d: Path) -> None:
    load_audio(_write(d / "warm.wav", tone(0.1), 16000))  # import torch once, outside timing
    files = {
        "wav 16k PCM16 mono 6 s": _write(d / "a.wav", tone(6.0), 16000),
        "wav 44.1k PCM24 stereo 6 s": _write(
            d / "b.wav", tone(6.0, 44100, channels=2), 44100, "PCM_24"
        ),
        "wav 8k PCM16 6 s": _write(d / "c.wav", tone(6.0, 8000), 8000),
        "flac 48k 6 s": _write(d / "d.flac", tone(6.0, 48000), 48000),
        "mp3 16k 6 s": _write(d / "e.mp3", tone(6.0), 16000),
        "m4a (AAC) 16k 6 s": write_m4a(d / "f.m4a", tone(6.0)),
        "mp4 video+AAC 22.05k 6 s": write_mp4(d / "g.mp4", seconds=6.0, sr=22050),
    }
    for name, path in files.items():
        print(f"load_audio {name:28s} {timed(lambda p=path: load_audio(p)):8.1f} ms")
    stereo = files["wav 44.1k PCM24 stereo 6 s"]
    read_only = timed(lambda: sf.read(stereo, dtype="float32"))
    x = sf.read(stereo, dtype="float32")[0].mean(axis=1)
    poly = timed(lambda: scipy.signal.resample_poly(x, 160, 441))
    print(
        f"baseline 44.1k stereo: soundfile read only {read_only:.1f} ms, "
        f"scipy resample_poly 441->160 {poly:.1f} ms"
    )

    hour = d / "hour.wav"
    with sf.SoundFile(hour, "w", 8000, 1, subtype="PCM_16") as fh:
        block = tone(60.0, 8000, amp=0.3)
        for _ in range(60):
            fh.write(block)
    for crop, k in (("first", 1), ("centre", 1), ("windows", 5)):
        policy = ClipPolicy(6.0, crop, k)  # type: ignore[arg-type]
        ms = timed(lambda p=policy: load_clip(hour, p))
        tracemalloc.start()
        load_clip(hour, policy)
        peak = tracemalloc.get_traced_memory()[1] / 1e6
        tracemalloc.stop()
        print(
            f"load_clip 1-hour 8k file, {crop:7s} x{k}      {ms:8.1f} ms, peak {peak:.1f} MB traced"
        )
    t0 = time.perf_counter()
    tracemalloc.start()
    assess_audio(hour)
    peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    print(
        f"assess_audio 1-hour file (streamed)     {time.perf_counter() - t0:8.2f} s, "
        f"peak {peak:.1f} MB traced"
    )

    cache = FeatureCache(d / "cache")
    cfg = {"sample_rate": 16000, "clip": ClipPolicy().to_dict()}
    path = files["wav 44.1k PCM24 stereo 6 s"]
    miss = timed(lambda: load_clip(path).windows, repeats=3)
    cache.get_or_compute(path, cfg, lambda p: load_clip(p).windows)
    hit = timed(lambda: cache.get_or_compute(path, cfg, lambda p: load_clip(p).windows))
    cold = timed(
        lambda: FeatureCache(d / "cache").get_or_compute(path, cfg, lambda p: load_clip(p).windows)
    )
    print(
        f"cache 44.1k stereo clip: decode {miss:.1f} ms, hit {hit:.2f} ms "
        f"(memoised digest), hit {cold:.2f} ms (new cache object: hashes the file)"
    )

    root = d / "vox1"
    n_spk, n_vid, n_utt = 20, 5, 10
    lines = ["VoxCeleb1 ID\tVGGFace1 ID\tGender\tNationality\tSet"]
    short = (tone(0.05) * 32767).astype(np.int16)
    for s in range(n_spk):
        spk = f"id1{s:04d}"
        lines.append(f"{spk}\tName_{s}\t{'mf'[s % 2]}\tUSA\t{'dev' if s % 10 else 'test'}")
        for v in range(n_vid):
            folder = root / "wav" / spk / f"video{v:06d}"
            folder.mkdir(parents=True)
            for u in range(n_utt):
                sf.write(folder / f"{u + 1:05d}.wav", short, 16000, subtype="PCM_16")
    (root / "vox1_meta.csv").write_text("\n".join(lines) + "\n")
    t0 = time.perf_counter()
    res = import_voxceleb1(root, d / "out" / "manifest.csv")
    dt = time.perf_counter() - t0
    print(
        f"import_voxceleb1 {len(res.frame)} utterances: {dt:.2f} s "
        f"({len(res.frame) / dt:.0f} utterances/s)"
    )


def _write(path: Path, x: np.ndarray, sr: int, subtype: str | None = None) -> Path:
    sf.write(path, x, sr, subtype=subtype)
    return path


if __name__ == "__main__":
    main()
