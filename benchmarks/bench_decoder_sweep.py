"""Decoder-only face-side runs for choosing ``FaceSideSettings`` (issue 14): judged upper bound.

Keeps the face encoder of a face side (``--weights shipped`` or a folder) frozen, trains a
fresh compact face decoder on it with the given settings on rendered persons (seed 0), and
judges the upper bound (true face -> encoder -> decoder -> shipped bias-lab judge) on 1,000
held-out persons (``bench_face_side.PROBE_SEED``) per ethnicity. Rendered sets are cached in
``--cache``; one JSON line per run is appended to ``CACHE/decoder_results.jsonl``. ``--save
DIR`` also writes the face side (encoder and new decoder) for ``decoder_shrinkage.py``.

Run (one thread)::

    OMP_NUM_THREADS=1 python benchmarks/bench_decoder_sweep.py --name tw30 \\
        n_persons=10000 decoder_steps=1000 texture_weight=30
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_face_side import _shipped_judge, upper_bound
from bench_face_side_sweep import start_run, sweep_parser

from s2f_model._face_side import _train_decoder
from s2f_model._face_side_io import load_face_side_model, save_face_side


def main() -> None:
    ap = sweep_parser(__doc__)
    ap.add_argument("--weights", default="shipped", help="face side whose encoder is kept")
    ap.add_argument("--save", type=Path, help="also write the trained face side here")
    args = ap.parse_args()
    s, data, probe, gen, model = start_run(args)
    trained = load_face_side_model(None if args.weights == "shipped" else Path(args.weights))
    model.face_encoder.load_state_dict(trained.face_encoder.state_dict())
    model.eval()
    losses: dict[str, list[float]] = {}
    start = time.process_time()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(torch.randint(2**31, (1,), generator=gen)))
        _train_decoder(model, data, s, gen, losses)
    cpu = time.process_time() - start
    ub = upper_bound(model.eval(), probe, _shipped_judge())
    ub.pop("recon")
    out = {
        "name": args.name,
        "weights": args.weights,
        "model_set": args.model_set,
        "settings": dataclasses.asdict(s),
        "cpu_seconds": round(cpu, 1),
        "final_losses": {k: sum(v[-50:]) / len(v[-50:]) for k, v in losses.items() if v},
        "upper_bound": ub,
    }
    if args.save:
        save_face_side(model, args.save, {"settings": out["settings"], "sweep": args.name})
    line = json.dumps(out)
    with (args.cache / "decoder_results.jsonl").open("a") as fh:
        fh.write(line + "\n")
    print(line)


if __name__ == "__main__":
    main()
