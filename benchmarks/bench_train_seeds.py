"""``train --seeds N``: one run per seed decoding its own data (before) vs sharing it (after).

Issue #19 asks the seeds of one arm to share the decoded training data. This benchmark
writes a synthetic manifest (``--utterances`` clips of 3 s noise at 16 kHz, 100 speakers with
64 px faces; 80 % train, 20 % val), then trains ``--seeds`` compact models (shipped face
side, ``--steps`` voice steps each) twice, in fresh processes:

- ``separate``: ``s2f_model.train`` once per seed (what ``s2f-audit train --seeds`` did: every
  seed decodes the clips and faces and computes the front-end features again);
- ``shared``: ``s2f_model.train_seeds`` (decode once, train N models).

It prints the wall time of each mode, per run the time outside the stages' step loops (data,
features, model, writing), and whether each seed's weights are the same in both modes.

Example::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_train_seeds.py --seeds 3
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

_SR = 16000


def make_manifest(folder: Path, n: int, speakers: int = 100) -> Path:
    """Write ``n`` 3 s noise clips of ``speakers`` speakers with faces; return the CSV."""
    import pandas as pd
    import soundfile as sf
    from PIL import Image

    from s2f_data import ManifestInfo, write_manifest

    rng = np.random.default_rng(0)
    (folder / "audio").mkdir(parents=True, exist_ok=True)
    (folder / "faces").mkdir(exist_ok=True)
    for s in range(speakers):
        face = rng.integers(0, 256, size=(64, 64, 3), dtype=np.uint8)
        Image.fromarray(face).save(folder / "faces" / f"s{s}.png")
    rows = []
    for i in range(n):
        wave = (0.1 * rng.standard_normal(3 * _SR)).astype(np.float32)
        sf.write(folder / "audio" / f"u{i}.wav", wave, _SR, subtype="PCM_16")
        s = i % speakers
        rows.append({"utterance_id": f"u{i}", "speaker_id": f"s{s}",
                     "split": "val" if s % 5 == 4 else "train",
                     "audio_path": f"audio/u{i}.wav", "face_path": f"faces/s{s}.png",
                     "gender": ("female", "male")[s % 2]})  # fmt: skip
    return write_manifest(pd.DataFrame(rows), folder / "manifest.csv", ManifestInfo(source="bench"))


def _weights_sha(run: Path) -> str:
    from s2f_model import load_model

    digest = hashlib.sha256()
    for key, value in sorted(load_model(run).state_dict().items()):
        digest.update(key.encode() + value.detach().contiguous().numpy().tobytes())
    return digest.hexdigest()


def worker(mode: str, manifest: Path, out: Path, seeds: int, steps: int) -> dict:
    """Train ``seeds`` models in ``mode``; return the wall time and weight hashes."""
    from s2f_model import S2FConfig, train, train_seeds

    cfg = S2FConfig.compact().replace(
        **{"train.voice_steps": steps, "train.checkpoint_every": 0, "train.log_every": 0}
    )
    runs = [(out / f"seed-{i}", i) for i in range(seeds)]
    t0 = time.perf_counter()
    if mode == "shared":
        results = train_seeds(cfg, manifest, runs, progress=False)
    else:
        results = [
            train(cfg.replace(**{"train.seed": seed}), manifest, run, progress=False)
            for run, seed in runs
        ]
    seconds = time.perf_counter() - t0
    # per run: wall time outside the stages' step loops (data, features, model, writing)
    outside = [r.seconds - sum(r.stage_seconds.values()) for r in results]
    return {"mode": mode, "seconds": seconds, "outside_loops_s": outside,
            "sha": [_weights_sha(r) for r, _ in runs]}  # fmt: skip


def main() -> None:
    """Write the manifest, time both modes in fresh processes, print the result."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--utterances", type=int, default=2000)
    ap.add_argument(
        "--worker", nargs=3, metavar=("MODE", "MANIFEST", "OUT"), help=argparse.SUPPRESS
    )
    args = ap.parse_args()
    if args.worker:
        mode, manifest, out = args.worker
        print(json.dumps(worker(mode, Path(manifest), Path(out), args.seeds, args.steps)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        manifest = make_manifest(Path(tmp) / "data", args.utterances)
        results = {}
        for mode in ("separate", "shared"):
            cmd = [
                sys.executable,
                __file__,
                "--seeds",
                str(args.seeds),
                "--steps",
                str(args.steps),
                "--worker",
                mode,
                str(manifest),
                str(Path(tmp) / mode),
            ]
            out = subprocess.run(cmd, capture_output=True, text=True)
            if out.returncode:
                raise RuntimeError(out.stderr[-3000:])
            results[mode] = json.loads(out.stdout.strip().splitlines()[-1])
            outside = ", ".join(f"{x:.1f}" for x in results[mode]["outside_loops_s"])
            print(f"{mode:8s}: {results[mode]['seconds']:.1f} s for {args.seeds} seeds; outside "
                  f"the step loops per run: {outside} s", flush=True)  # fmt: skip
        pairs = zip(results["separate"]["sha"], results["shared"]["sha"], strict=True)
        same = [a == b for a, b in pairs]
        saved = results["separate"]["seconds"] - results["shared"]["seconds"]
        print(
            f"same weights: {same}; shared saves {saved:.1f} s "
            f"({saved / results['separate']['seconds']:.0%})"
        )


if __name__ == "__main__":
    main()
