"""Voice-side numbers of a demo's trained models, per arm: mean and range over seeds.

For every ``DEMO/runs/<arm>/seed-*`` voice model of ``s2f-audit demo --seeds N``, measures on
the demo's held-out evaluation population (``DEMO/populations/eval``) what issue 14 asks of the
voice side, with ``bench_voice_objective.measure``: linear probes on the predicted face
feature and on the first FC layer's activations (language balanced accuracy, gender accuracy,
face-size R^2; 5 folds grouped by speaker), cosine(prediction, true face feature) beside the
cosine of the training set's mean face feature, and recall@1 in a 100-face gallery. Usage::

    OMP_NUM_THREADS=1 python benchmarks/demo_voice_probes.py DEMO_DIR [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_voice_objective import measure

#: (row label, function of one ``measure`` result)
ROWS = (
    ("language, prediction", lambda m: m["probe_pred"]["language"]),
    ("language, hidden layer", lambda m: m["probe_hidden"]["language"]),
    ("face-size R^2, prediction", lambda m: m["probe_pred"]["face_size_r2"]),
    ("face-size R^2, hidden layer", lambda m: m["probe_hidden"]["face_size_r2"]),
    ("gender, prediction", lambda m: m["probe_pred"]["gender"]),
    ("cosine(prediction, true feature)", lambda m: m["cosine"]),
    ("cosine(mean training feature, true feature)", lambda m: m["cosine_mean_feature"]),
    ("recall@1, 100-face gallery", lambda m: m["recall_at_1"]),
)


def _spread(values: list[float]) -> str:
    return f"{np.mean(values):.3f} [{min(values):.3f}, {max(values):.3f}]"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("demo", type=Path, help="an s2f-audit demo output folder")
    ap.add_argument("--json", type=Path, help="write every run's measurements here")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(1)
    pops = args.demo / "populations"
    results: dict[str, list[dict[str, Any]]] = {}
    for arm_dir in sorted(p for p in (args.demo / "runs").iterdir() if p.name != "face-side"):
        train = pops / f"train-{arm_dir.name}" / "manifest.csv"
        for run in sorted(arm_dir.glob("seed-*")):
            seed = int(run.name.removeprefix("seed-"))
            m = measure(run, pops / "eval" / "manifest.csv", train, seed)
            results.setdefault(arm_dir.name, []).append({"seed": seed, **m})
            print(f"measured {run}", file=sys.stderr, flush=True)
    arms = sorted(results)
    print("| | " + " | ".join(arms) + " |")
    print("|---|" + "---|" * len(arms))
    for label, get in ROWS:
        cells = [_spread([get(m) for m in results[a]]) for a in arms]
        print(f"| {label} | " + " | ".join(cells) + " |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
