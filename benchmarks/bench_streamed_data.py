"""Training from sequential tar shards against the in-memory path (issue #20, item 2).

For each data set size (default 2,000 and 50,000 synthetic utterances) and each path, a fresh
process trains the compact voice encoder for a fixed number of steps (front-end + voice
encoder forward/backward + Adam; a stand-in MSE loss against a fixed per-speaker target, not
the paper loss, since only the data path is compared) and reports steps/s and its peak
resident memory (``ru_maxrss``):

- ``memory``: every sample decoded into a list first (as the present training cache does);
- ``shards``: :class:`s2f_data._wds.ShardStream` reading the shards front to back with a
  256-sample shuffle buffer.

The synthetic utterances are 0.25 s of noise at 16 kHz (looped to the 3 s clip by the
front-end) so that 50,000 of them fit on disk (16 kB each); the shard path's memory does not
depend on their number, the in-memory path's grows with it.

Example::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_streamed_data.py --sizes 2000 50000
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np

_SR = 16000
_SECONDS = 0.25


def make_shards(folder: Path, n: int, per_shard: int = 1000) -> None:
    """Write ``n`` synthetic samples in the layout of :func:`s2f_data._wds.write_shards`."""
    from s2f_data._wds import INDEX_NAME, SHARD_FORMAT, _add

    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    shards = []
    for k, start in enumerate(range(0, n, per_shard)):
        name = f"shard-{k:06d}.tar"
        count = min(per_shard, n - start)
        with tarfile.open(folder / name, "w", format=tarfile.USTAR_FORMAT) as tar:
            for i in range(start, start + count):
                buf = io.BytesIO()
                np.save(buf, (0.1 * rng.standard_normal(int(_SR * _SECONDS))).astype(np.float32))
                labels = {"utterance_id": f"u{i}", "speaker_id": f"s{i % 500}"}
                _add(tar, f"{i:09d}.labels.json", json.dumps(labels).encode())
                _add(tar, f"{i:09d}.wave.npy", buf.getvalue())
        shards.append({"name": name, "n_samples": count, "sha256": ""})
    index = {"format": SHARD_FORMAT, "sample_rate": _SR, "n_samples": n, "shards": shards}
    (folder / INDEX_NAME).write_text(json.dumps(index))


def _batches(path: str, folder: Path, batch: int):
    from s2f_data._wds import ShardStream

    stream = ShardStream(folder, buffer=256, seed=0)
    if path == "memory":
        samples = list(stream)  # every sample decoded and held, as a cache would
        while True:
            for s in range(0, len(samples) - batch + 1, batch):
                yield samples[s : s + batch]
    while True:
        chunk = []
        for sample in stream:
            chunk.append(sample)
            if len(chunk) == batch:
                yield chunk
                chunk = []


def worker(path: str, folder: Path, steps: int, batch: int) -> dict:
    """Train ``steps`` steps from ``path`` and return timings and peak memory."""
    import torch

    from s2f_model import S2FConfig, build_model

    torch.manual_seed(0)
    model = build_model(S2FConfig.compact(), seed=0)
    enc, front = model.voice_encoder, model.frontend
    opt = torch.optim.Adam(enc.parameters(), lr=1e-4)
    targets = torch.randn(
        500, model.cfg.voice.feature_dim, generator=torch.Generator().manual_seed(0)
    )
    t0 = time.perf_counter()
    data = _batches(path, folder, batch)
    first = next(data)
    t_first = time.perf_counter() - t0
    t1 = time.perf_counter()
    for step in range(steps):
        samples = first if step == 0 else next(data)
        wave = torch.stack([torch.from_numpy(s.wave) for s in samples])
        spk = torch.tensor([int(s.labels["speaker_id"][1:]) for s in samples])
        feats = enc(front(front.fit_clip(wave)))
        loss = torch.nn.functional.mse_loss(feats, targets[spk])
        opt.zero_grad()
        loss.backward()
        opt.step()
    steps_s = steps / (time.perf_counter() - t1)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"path": path, "first_batch_s": t_first, "steps_per_s": steps_s, "peak_rss_mb": peak_mb}


def main() -> None:
    """Write the shards, run one worker process per size and path, print the table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[2000, 50000])
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--worker", nargs=2, metavar=("PATH", "FOLDER"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker[0], Path(args.worker[1]), args.steps, args.batch)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            folder = Path(tmp) / f"n{n}"
            t0 = time.perf_counter()
            make_shards(folder, n)
            size = sum(p.stat().st_size for p in folder.glob("*.tar")) / 1e6
            took = time.perf_counter() - t0
            print(f"{n} utterances: {size:.0f} MB of shards written in {took:.1f} s")
            for path in ("shards", "memory"):
                cmd = [sys.executable, __file__, "--steps", str(args.steps), "--batch",
                       str(args.batch), "--worker", path, str(folder)]  # fmt: skip
                out = subprocess.run(cmd, capture_output=True, text=True, check=True)
                res = json.loads(out.stdout.strip().splitlines()[-1])
                print(
                    f"  {path:6s}: first batch {res['first_batch_s']:.2f} s, "
                    f"{res['steps_per_s']:.2f} steps/s, peak RSS {res['peak_rss_mb']:.0f} MB"
                )


if __name__ == "__main__":
    main()
