"""Encoder-only face-side runs for choosing ``FaceSideSettings`` (issue 14): probes on fc7.

Trains only the compact face encoder (no decoder) with the given settings on rendered persons
(seed 0) and probes its fc7 on 1,000 held-out persons (``bench_face_side.PROBE_SEED``) with
:func:`bench_face_side.probe_features`. Rendered sets are cached as pickles in ``--cache``.
One JSON line per run is appended to ``CACHE/results.jsonl`` and printed.

Run (one thread; the table in docs/benchmarks.md used ``n_persons=3000 encoder_steps=600``)::

    OMP_NUM_THREADS=1 python benchmarks/bench_face_side_sweep.py --name fsw3 \\
        n_persons=3000 encoder_steps=600 face_size_weight=3.0
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import pickle
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_face_side import PROBE_SEED, probe_features

from s2f_model import S2FConfig, build_model
from s2f_model._face_side import FaceSideSettings, _init_config, _train_encoder, face_features
from s2f_model._face_side_data import FaceSet, render_face_set


def _cached(cache: Path, n: int, seed: int, canonical: bool = False) -> FaceSet:
    path = cache / f"faces_{n}_{seed}{'_canonical' if canonical else ''}.pkl"
    if path.is_file():
        return pickle.loads(path.read_bytes())
    data = render_face_set(n, seed=seed, canonical=canonical)
    path.write_bytes(pickle.dumps(data))
    return data


def _settings(pairs: list[str]) -> FaceSideSettings:
    """``key=value`` strings -> settings (values cast to the field's default's type)."""
    defaults = FaceSideSettings()
    kw: dict[str, Any] = {"decoder_steps": 0}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not hasattr(defaults, key):
            raise SystemExit(f"expected FIELD=VALUE with a FaceSideSettings field, got {pair!r}")
        kw[key] = type(getattr(defaults, key))(value)
    return dataclasses.replace(defaults, **kw)


def sweep_parser(doc: str) -> argparse.ArgumentParser:
    """The arguments every sweep script takes: ``--name``, ``--cache`` and ``FIELD=VALUE``."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--name", required=True)
    ap.add_argument("--cache", type=Path, default=Path("/tmp/face_side_sweep"))
    ap.add_argument(
        "--model-set",
        action="append",
        default=[],
        metavar="SECTION.FIELD=JSON",
        help="change the compact model config, e.g. decoder.warp_grid_size=null (repeatable)",
    )
    ap.add_argument("settings", nargs="*", help="FaceSideSettings FIELD=VALUE")
    return ap


def _model_config(pairs: list[str]) -> S2FConfig:
    """The compact config the face side is built from, with ``SECTION.FIELD=JSON`` changes."""
    changes = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"expected SECTION.FIELD=JSON, got {pair!r}")
        changes[key] = json.loads(value)
    return _init_config(S2FConfig.compact().replace(**changes))


def start_run(
    args: argparse.Namespace,
) -> tuple[FaceSideSettings, FaceSet, FaceSet, torch.Generator, torch.nn.Module]:
    """Settings, training and probe persons, and the model built as pretrain_face_side does.

    Same draws as :func:`pretrain_face_side`: the model seed now, then (the caller's) the
    seed of the global RNG.
    """
    torch.set_num_threads(1)
    args.cache.mkdir(parents=True, exist_ok=True)
    s = _settings(args.settings)
    data = _cached(args.cache, s.n_persons, s.seed, s.decoder_target == "canonical")
    probe = _cached(args.cache, 1000, PROBE_SEED)
    gen = torch.Generator().manual_seed(s.seed)
    cfg = _model_config(args.model_set)
    model = build_model(cfg, seed=int(torch.randint(2**31, (1,), generator=gen)))
    return s, data, probe, gen, model


def main() -> None:
    args = sweep_parser(__doc__).parse_args()
    s, data, probe, gen, model = start_run(args)
    losses: dict[str, list[float]] = {}
    start = time.process_time()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(torch.randint(2**31, (1,), generator=gen)))
        _train_encoder(model, data, s, gen, losses)
    cpu = time.process_time() - start
    probes = probe_features(face_features(model.eval(), probe.images[:, 0]), probe)
    out = {
        "name": args.name,
        "model_set": args.model_set,
        "settings": dataclasses.asdict(s),
        "encoder_cpu_s": round(cpu, 1),
        "probes": {k: round(float(v), 3) for k, v in probes.items()},
        "final_losses": {k: round(float(np.mean(v[-50:])), 4) for k, v in losses.items()},
    }
    print(json.dumps(out))
    with (args.cache / "results.jsonl").open("a") as f:
        f.write(json.dumps(out) + "\n")


if __name__ == "__main__":
    main()
