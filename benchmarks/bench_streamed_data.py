"""Training from tar shards against the in-memory path, through ``s2f_model.train`` (issue #20).

For each data set size (default 2,000 and 50,000 synthetic utterances) a synthetic manifest
is written (500 speakers, one 64 px face each, every row in the ``train`` split; utterance
``i`` is a hard link to audio file ``i mod 2000``, so that 50,000 rows need 2,000 files), then its
shards (``s2f_data.write_shards``, 1,000 samples per shard). A fresh process per (size, path)
trains the compact preset (shipped pretrained face side, the real voice objective) for a
fixed number of voice steps with ``train.data="memory"`` (clips decoded into memory and
front-end features cached first) or ``train.data="shards"`` (clips streamed from the shards,
shuffle buffer 256) and reports:

- ``setup_s``: wall time from the call to the first voice step (decoding for the in-memory
  path; the one pass over the shards for the target statistics for the shard path);
- ``steps_per_s``: voice steps per second of the stage loop;
- ``peak_rss_mb``: the process's peak resident memory (``ru_maxrss``).

The utterances are 0.25 s of noise (looped to the 3 s clip) so that 50,000 of them fit on
disk; the in-memory path is run only up to ``--memory-max`` utterances (its clips alone take
192 kB each: 9.6 GB at 50,000).

Example::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_streamed_data.py --sizes 2000 50000
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

_SR = 16000
_SECONDS = 0.25
_SPEAKERS = 500
_AUDIO_FILES = 2000  # utterance i is a hard link to file i mod 2000 (shards hold copies)


def make_manifest(folder: Path, n: int) -> Path:
    """Write ``n`` noise utterances of ``_SPEAKERS`` speakers with faces; return the CSV."""
    import pandas as pd
    import soundfile as sf
    from PIL import Image

    from s2f_data import ManifestInfo, write_manifest

    rng = np.random.default_rng(0)
    (folder / "audio").mkdir(parents=True, exist_ok=True)
    (folder / "faces").mkdir(exist_ok=True)
    for s in range(_SPEAKERS):
        face = rng.integers(0, 256, size=(64, 64, 3), dtype=np.uint8)
        Image.fromarray(face).save(folder / "faces" / f"s{s}.png")
    for i in range(n):
        if i < _AUDIO_FILES:
            wave = (0.1 * rng.standard_normal(int(_SR * _SECONDS))).astype(np.float32)
            sf.write(folder / "audio" / f"u{i}.wav", wave, _SR, subtype="PCM_16")
        else:  # a hard link: its own path (the manifest wants one file per row), no new bytes
            os.link(folder / "audio" / f"u{i % _AUDIO_FILES}.wav", folder / "audio" / f"u{i}.wav")
    rows = []
    for i in range(n):
        s = i % _SPEAKERS
        rows.append({"utterance_id": f"u{i}", "speaker_id": f"s{s}", "split": "train",
                     "audio_path": f"audio/u{i}.wav",
                     "face_path": f"faces/s{s}.png",
                     "gender": ("female", "male")[s % 2]})  # fmt: skip
    return write_manifest(pd.DataFrame(rows), folder / "manifest.csv", ManifestInfo(source="bench"))


def worker(path: str, manifest: Path, steps: int, batch: int) -> dict:
    """Train ``steps`` voice steps with ``train.data=path``; return timings and peak memory."""
    from s2f_model import S2FConfig
    from s2f_model._train import train

    cfg = S2FConfig.compact().replace(**{
        "train.data": path, "train.voice_steps": steps, "train.batch_size": batch,
        "train.checkpoint_every": 0, "train.log_every": 0,
    })  # fmt: skip
    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        result = train(cfg, manifest, Path(out) / "run", progress=False)
        total = time.perf_counter() - t0
    loop = result.stage_seconds["voice"]
    return {
        "path": path,
        "setup_s": total - loop,
        "steps_per_s": steps / loop,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "final_loss": result.losses["voice"][-1],
    }


def _run(path: str, manifest: Path, args: argparse.Namespace) -> dict:
    cmd = [sys.executable, __file__, "--steps", str(args.steps), "--batch", str(args.batch),
           "--worker", path, str(manifest)]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(f"worker {path} {manifest} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    """Write manifests and shards, run one worker process per size and path, print rows."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[2000, 50000])
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument(
        "--memory-max",
        type=int,
        default=2000,
        help="run the in-memory path only up to this many utterances",
    )
    ap.add_argument("--worker", nargs=2, metavar=("PATH", "MANIFEST"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker[0], Path(args.worker[1]), args.steps, args.batch)))
        return
    from s2f_data import write_shards

    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            t0 = time.perf_counter()
            manifest = make_manifest(Path(tmp) / f"n{n}", n)
            t1 = time.perf_counter()
            write_shards(manifest, manifest.parent / "shards", samples_per_shard=1000)
            size = sum(p.stat().st_size for p in (manifest.parent / "shards").glob("*.tar"))
            print(
                f"{n} utterances: manifest {t1 - t0:.1f} s, {size / 1e6:.0f} MB of shards "
                f"written in {time.perf_counter() - t1:.1f} s",
                flush=True,
            )
            paths = ["shards"] + (["memory"] if n <= args.memory_max else [])
            for path in paths:
                res = _run(path, manifest, args)
                print(
                    f"  {path:6s}: setup {res['setup_s']:.1f} s, {res['steps_per_s']:.3f} "
                    f"steps/s, peak RSS {res['peak_rss_mb']:.0f} MB, final loss "
                    f"{res['final_loss']:.4g}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
