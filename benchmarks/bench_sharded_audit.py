"""Per-utterance cost of an audit's model work and of its shard files (issue #20, docs/scaling.md).

Runs, for a preset (compact by default), the per-row half of the evaluation that
``torchrun ... -m s2f_cli audit`` spreads over ranks (:func:`audit._evaluation_rows.evaluate_rows`:
audio read, front-end, voice encoder, decoder, input-length features, voice measures) on a
synthetic manifest, then writes and reads the blocks as one shard file
(:mod:`audit._sharded`). Prints wall and CPU seconds per utterance and shard bytes per
utterance: the measured inputs of the projections in docs/scaling.md.

Example::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_sharded_audit.py --rows 64
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf
import torch
from PIL import Image


def _manifest(root: Path, rows: int, sr: int, seconds: float) -> Path:
    from s2f_data import ManifestInfo, write_manifest

    rng = np.random.default_rng(0)
    records = []
    for i in range(rows):
        s = i // 2
        face = root / f"f{s}.png"
        if not face.exists():
            Image.fromarray(rng.integers(0, 255, (128, 128, 3), dtype=np.uint8)).save(face)
        sf.write(root / f"a{i}.wav", 0.1 * rng.standard_normal(int(sr * seconds)), sr)
        records.append(
            {
                "utterance_id": f"u{i}",
                "speaker_id": f"s{s}",
                "split": "test",
                "audio_path": f"a{i}.wav",
                "face_path": face.name,
            }
        )
    return write_manifest(
        pd.DataFrame(records), root / "manifest.csv", ManifestInfo(source="bench")
    )


def _timed(fn):
    w0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w0, time.process_time() - c0


def main() -> None:
    """Run the benchmark and print one line per measurement."""
    from audit._evaluation_rows import evaluate_rows, prepare_evaluation
    from audit._sharded import _load_parts, _save_parts
    from s2f_data import read_manifest
    from s2f_model import S2FConfig, build_model

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--preset", choices=("compact", "paper"), default="compact")
    ap.add_argument("--rows", type=int, default=64)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg = getattr(S2FConfig, args.preset)()
    model = build_model(cfg, seed=0).eval()
    sr, seconds = cfg.audio.sample_rate, cfg.audio.clip_samples / cfg.audio.sample_rate
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        man = read_manifest(_manifest(root, args.rows, sr, seconds))
        print(
            f"preset {args.preset}: {args.rows} utterances of {seconds:g} s, batch {args.batch}, "
            f"{args.threads} thread(s), load {Path('/proc/loadavg').read_text().split()[0]}"
        )
        for measures in (False, True):
            prep = prepare_evaluation(model, man, "test", "auto", measures)
            evaluate_rows(model, prep, 0, min(2, args.rows))  # warm-up
            parts, wall, cpu = _timed(
                lambda prep=prep: [
                    evaluate_rows(model, prep, s, min(s + args.batch, args.rows))
                    for s in range(0, args.rows, args.batch)
                ]
            )
            print(
                f"  evaluate_rows, input_seconds {list(prep.durations)}, voice measures "
                f"{measures}: {wall / args.rows * 1e3:.1f} ms wall, "
                f"{cpu / args.rows * 1e3:.1f} ms CPU per utterance"
            )
        path = root / "shard.npz"
        _, wall_w, _ = _timed(lambda: _save_parts(path, "k", 0, args.rows, parts))
        _, wall_r, _ = _timed(lambda: _load_parts(path, "k", 0, args.rows))
        size = path.stat().st_size
        print(
            f"  shard file: {size / args.rows / 1e3:.1f} kB per utterance; write "
            f"{wall_w / args.rows * 1e3:.2f} ms, read {wall_r / args.rows * 1e3:.2f} ms "
            f"per utterance"
        )


if __name__ == "__main__":
    main()
