"""Training throughput of the compact preset, per stage, on a synthetic manifest.

Writes a manifest of ``--speakers`` x ``--clips`` 3 s clips (harmonic tones + noise, one
64 px face and landmark file per speaker), then times data loading and ``--steps`` steps of
each stage (face encoder, face decoder, voice encoder) and prints steps/s, clips/s and the
projected time of a full compact training with the preset's step counts.

    OMP_NUM_THREADS=2 .venv/bin/python benchmarks/bench_train.py --steps 40
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
import torch
from PIL import Image

from s2f_data import ManifestInfo, write_manifest
from s2f_model import S2FConfig, train


def make_manifest(
    root: Path, speakers: int, clips: int, seconds: float = 3.0, seed: int = 0
) -> Path:
    rng = np.random.default_rng(seed)
    for sub in ("audio", "faces", "landmarks"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    base = rng.uniform(0.25, 0.75, size=(68, 2)).astype(np.float32)
    rows = []
    sr = 16000
    t = np.arange(int(seconds * sr)) / sr
    for s in range(speakers):
        spk = f"spk{s:04d}"
        split = "train" if s % 10 < 8 else ("val" if s % 10 == 8 else "test")
        f0 = rng.uniform(85, 250)
        img = np.full((64, 64, 3), rng.integers(30, 225, size=3), dtype=np.uint8)
        Image.fromarray(img).save(root / "faces" / f"{spk}.png")
        np.save(
            root / "landmarks" / f"{spk}.npy",
            np.clip(base + rng.normal(0, 0.02, base.shape), 0, 1).astype(np.float32),
        )
        for c in range(clips):
            wave = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 6))
            wave = 0.2 * wave + 0.01 * rng.standard_normal(t.size)
            uid = f"{spk}_{c}"
            sf.write(root / "audio" / f"{uid}.wav", wave.astype(np.float32), sr)
            rows.append(
                {
                    "utterance_id": uid,
                    "speaker_id": spk,
                    "split": split,
                    "audio_path": f"audio/{uid}.wav",
                    "face_path": f"faces/{spk}.png",
                    "landmarks_path": f"landmarks/{spk}.npy",
                }
            )
    return write_manifest(pd.DataFrame(rows), root / "manifest.csv", ManifestInfo(source="bench"))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--speakers", type=int, default=200)
    parser.add_argument("--clips", type=int, default=6)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--precision", default="fp32")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench_train_"))
    try:
        t0 = time.perf_counter()
        manifest = make_manifest(tmp / "data", args.speakers, args.clips)
        print(
            f"manifest: {args.speakers * args.clips} clips written in "
            f"{time.perf_counter() - t0:.1f} s (torch threads {torch.get_num_threads()})"
        )
        preset = S2FConfig.compact()
        over = {
            "train.checkpoint_every": 0,
            "train.precision": args.precision,
            "train.face_steps": args.steps,
            "train.voice_steps": args.steps,
        }
        t0, c0 = time.perf_counter(), time.process_time()
        res = train(preset.replace(**over), manifest, tmp / "run", progress=False)
        total = time.perf_counter() - t0
        setup = total - sum(res.stage_seconds.values())
        setup_cpu = time.process_time() - c0 - sum(res.stage_cpu_seconds.values())
        bs = preset.train.batch_size
        print(
            f"set-up (decode audio and faces, build model, caches, checkpoints): {setup:.1f} s "
            f"({setup_cpu:.1f} CPU-s)"
        )
        rate = {}
        for stage, secs in res.stage_seconds.items():
            rate[stage] = secs / args.steps
            cpu = res.stage_cpu_seconds[stage] / args.steps
            print(
                f"{stage:13s}: {args.steps / secs:5.2f} steps/s, {bs * args.steps / secs:6.1f} "
                f"clips/s (batch {bs}); {cpu:.3f} CPU-s per step"
            )
        full = (
            setup
            + preset.train.face_steps * (rate["face_encoder"] + rate["face_decoder"])
            + preset.train.voice_steps * rate["voice"]
        )
        print(
            f"projected compact training with the preset's steps ({preset.train.face_steps} "
            f"face encoder + {preset.train.face_steps} decoder + {preset.train.voice_steps} "
            f"voice): {full / 60:.1f} min"
        )
        import os

        print(f"load average during the run: {os.getloadavg()}")
        print(f"final losses: { {k: round(v[-1], 4) for k, v in res.losses.items()} }")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
