"""Draw the README's picture of true face | upper bound | voice reconstruction (issue 14).

Reads one audit folder (``audit.json``'s ``samples/`` and ``evaluation.csv``) and lays out,
for every ethnicity x gender of the evaluation population, the first sampled utterance (by
utterance id) as three tiles: the speaker's true (rendered) face, the upper bound (true face
-> face encoder -> face decoder) and the reconstruction from the voice. Rows are ethnicities,
columns female then male. Only bias-lab audits: the faces are synthetic.

Usage::

    python benchmarks/make_recon_grid.py --audit DEMO/audits/web-skewed/seed-0 \\
        --out docs/images/reconstructions.png
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from audit._samples import sample_file_stem

KINDS = ("true_face", "upper_bound", "reconstruction")


def _tile(samples: Path, utterance_id: str, size: int) -> np.ndarray:
    """Three images side by side for one utterance, with a white gap after them."""
    parts = []
    for kind in KINDS:
        path = samples / f"{sample_file_stem(utterance_id)}_{kind}.png"
        if not path.is_file():
            raise SystemExit(f"{path}: missing sample image (expected {', '.join(KINDS)})")
        img = Image.open(path).convert("RGB").resize((size, size), Image.Resampling.BICUBIC)
        parts.append(np.asarray(img))
    parts.append(np.full((size, size // 8, 3), 255, np.uint8))
    return np.concatenate(parts, axis=1)


def grid(audit: Path, size: int = 96) -> np.ndarray:
    """The picture as an ``(H, W, 3)`` uint8 array (see the module docstring)."""
    samples = audit / "samples"
    rows = pd.read_csv(audit / "evaluation.csv", dtype={"utterance_id": str})
    stems = {p.name.removesuffix("_true_face.png") for p in samples.glob("*_true_face.png")}
    rows = rows[rows["utterance_id"].map(sample_file_stem).isin(stems)].sort_values("utterance_id")
    lines = []
    for ethnicity in sorted(rows["ethnicity"].unique()):
        tiles = []
        for gender in ("female", "male"):
            cell = rows[(rows["ethnicity"] == ethnicity) & (rows["gender"] == gender)]
            if cell.empty:
                raise SystemExit(f"{audit}: no sampled utterance of {ethnicity} {gender} speakers")
            tiles.append(_tile(samples, cell["utterance_id"].iloc[0], size))
        lines.append(np.concatenate(tiles, axis=1))
        lines.append(np.full((size // 8, lines[-1].shape[1], 3), 255, np.uint8))
    return np.concatenate(lines[:-1], axis=0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--audit", type=Path, required=True, help="an audit output folder")
    ap.add_argument("--out", type=Path, required=True, help="PNG to write")
    ap.add_argument("--size", type=int, default=96, help="tile size in pixels")
    args = ap.parse_args()
    Image.fromarray(grid(args.audit, args.size)).save(args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
