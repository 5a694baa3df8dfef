"""Judged gender of decoded voice predictions with one or more face decoders (issue 14).

Voice predictions are conditional means: they sit nearer the mean face feature than true
faces do. For every voice run of a demo output folder (``s2f-audit demo``) this measures how
far (median ``|pred - mean| / |true - mean|``, ``mean`` the training faces' mean feature) and
judges three decodings with the shipped bias-lab judge, against the judge's label of the true
face (the audit's gender agreement):

- ``upper``: the true face's feature (the upper bound);
- ``shrunk``: the true face's feature moved half-way to the mean;
- ``voice``: the voice prediction (what the audit reconstructs).

``--face-side DIR`` (repeatable) swaps in the decoder of another face side with the same face
encoder (``bench_decoder_sweep.py --save``); the run's own decoder is always measured.

Run (one thread)::

    OMP_NUM_THREADS=1 python benchmarks/decoder_shrinkage.py DEMO --face-side DIR
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_face_side import _judge_labels, _shipped_judge
from bench_voice_objective import _encode, _encode_mean_face

from s2f_model import S2FConfig, images_to_uint8, load_model
from s2f_model._face_side_io import load_face_side_model


def _decode(decoder: Any, feats: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return images_to_uint8(decoder(torch.from_numpy(feats.astype(np.float32))).image)


def _load_face_side(folder: Path) -> Any:
    """A face side with the decoder layout its card records (a sweep may change it)."""
    card = json.loads((folder / "compact_face_side.json").read_text())
    changes = {f"decoder.{k}": v for k, v in card["config"]["decoder"].items()}
    return load_face_side_model(folder, S2FConfig.compact().replace(**changes))


def _same_encoder(a: Any, b: Any) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


def _agreement(judge: Any, decoder: Any, feats: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Share of rows whose decoding is judged the gender the true face is judged; per gender."""
    label = _judge_labels(judge, _decode(decoder, feats))["gender"]
    out = {"all": float(np.mean(label == truth))}
    out.update({g: float(np.mean(label[truth == g] == g)) for g in ("female", "male")})
    return out


def measure_run(run: Path, demo: Path, decoders: dict[str, Any], judge: Any) -> dict[str, Any]:
    """Shrinkage of one voice run's predictions and the judged agreement per decoder."""
    arm = run.parent.name
    enc = _encode(run, demo / "populations" / "eval" / "manifest.csv")
    mean = _encode_mean_face(run, demo / "populations" / f"train-{arm}" / "manifest.csv")
    true = enc["faces"][enc["face_index"]]
    ratio = np.linalg.norm(enc["pred"] - mean, axis=1) / np.linalg.norm(true - mean, axis=1)
    truth = _judge_labels(judge, _true_images(enc))["gender"]
    rows = {}
    for name, decoder in decoders.items():
        rows[name] = {
            "upper": _agreement(judge, decoder, true, truth),
            "shrunk": _agreement(judge, decoder, mean + 0.5 * (true - mean), truth),
            "voice": _agreement(judge, decoder, enc["pred"], truth),
        }
    return {"run": f"{arm}/{run.name}", "median_ratio": float(np.median(ratio)), "decoders": rows}


def _true_images(enc: dict[str, Any]) -> np.ndarray:
    """The true face images (uint8) of the evaluation rows, as the judge sees them."""
    return images_to_uint8(enc["face_set"].batch(torch.from_numpy(enc["face_index"]))["image"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("demo", type=Path, help="an s2f-audit demo output folder")
    ap.add_argument("--face-side", type=Path, action="append", default=[])
    ap.add_argument("--runs", nargs="*", default=["*/seed-*"], help="glob(s) under DEMO/runs")
    ap.add_argument("--json", type=Path, help="write the measurements here")
    args = ap.parse_args()
    torch.set_num_threads(1)
    judge = _shipped_judge()
    runs = sorted({r for g in args.runs for r in (args.demo / "runs").glob(g) if r.is_dir()})
    results = []
    for run in runs:
        model = load_model(run).eval()
        decoders = {"run": model.face_decoder}
        for folder in args.face_side:
            other = _load_face_side(folder)
            if not _same_encoder(other.face_encoder, model.face_encoder):
                raise SystemExit(f"{folder}: its face encoder is not {run}'s")
            decoders[str(folder)] = other.face_decoder
        results.append(measure_run(run, args.demo, decoders, judge))
        print(json.dumps(results[-1]), flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
