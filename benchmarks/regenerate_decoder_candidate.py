"""Retrain one decoder candidate of a face side and compare it bit for bit (issue 14).

A decoder candidate ``k >= 1`` depends only on the frozen encoder, the training persons, the
settings and ``candidate_seed(seed, k)`` (``s2f_model._face_side_select``), so the kept
decoder of a face side can be checked in about 15 CPU-minutes instead of rerunning the whole
``s2f-audit face-side`` command (65 CPU-minutes): this loads the face side, renders its
training persons again, trains candidate ``k`` with ``train_candidate`` (what
``choose_decoder`` runs) and prints how many decoder tensors equal the saved ones.

Run (one thread)::

    OMP_NUM_THREADS=1 python benchmarks/regenerate_decoder_candidate.py --candidate 1
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from s2f_model import load_face_side_model, shipped_card_path
from s2f_model._face_side import FaceSideSettings, _train_decoder
from s2f_model._face_side_data import render_face_set
from s2f_model._face_side_select import candidate_seed, train_candidate


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--candidate", type=int, required=True, help="k >= 1 (the card's chosen)")
    ap.add_argument("--weights", type=Path, help="face-side folder (default: the shipped one)")
    args = ap.parse_args()
    if args.candidate < 1:
        raise SystemExit("--candidate must be >= 1: candidate 0 draws from the run's generator")
    torch.set_num_threads(1)
    card_path = (args.weights or shipped_card_path().parent) / "compact_face_side.json"
    card = json.loads(card_path.read_text())
    s = FaceSideSettings(**card["settings"])  # the card holds asdict(settings)
    model = load_face_side_model(args.weights)
    saved = {k: v.clone() for k, v in model.face_decoder.state_dict().items()}
    start = time.process_time()
    data = render_face_set(s.n_persons, seed=s.seed, image_size=model.cfg.face.image_size)
    seed = candidate_seed(s.seed, args.candidate)

    def train(m: torch.nn.Module, gen: torch.Generator, out: dict[str, list[float]]) -> None:
        _train_decoder(m, data, s, gen, out)

    train_candidate(model, train, seed, {})
    new = model.face_decoder.state_dict()
    equal = sum(torch.equal(saved[k], new[k]) for k in saved)
    out = {
        "candidate": args.candidate,
        "chosen_in_card": card.get("decoder_choice", {}).get("chosen"),
        "seed": seed,
        "tensors_equal": equal,
        "tensors": len(saved),
        "cpu_seconds": round(time.process_time() - start, 1),
    }
    print(json.dumps(out))
    return 0 if equal == len(saved) else 1


if __name__ == "__main__":
    raise SystemExit(main())
