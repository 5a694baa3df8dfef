"""Draw docs/images/face_grid.png (bias-lab faces across groups) and time the renderer.

Usage::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/make_face_grid.py            # grid + timing
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/make_face_grid.py --no-speed --out x.png

The grid has one row per (ethnicity, gender) and one column per age group, two faces per
cell, drawn with a fixed seed. Labels are drawn as small coloured tabs, not text (no fonts):
the row order is printed instead. The timing renders the same faces repeatedly on one core
and reports CPU and wall time per face at several sizes.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from PIL import Image

from s2f_data.biaslab.faces import (
    AGE_GROUPS,
    ETHNICITIES,
    GENDERS,
    render_face,
    sample_face_params,
)

ROOT = Path(__file__).resolve().parents[1]


def make_grid(size: int, per_cell: int, seed: int) -> tuple[np.ndarray, list[str]]:
    rng = np.random.default_rng(seed)
    gap = max(2, size // 32)
    rows, names = [], []
    for eth in ETHNICITIES:
        for gen in GENDERS:
            tiles = []
            for age in AGE_GROUPS:
                for _ in range(per_cell):
                    p = sample_face_params(
                        rng,
                        ethnicity=eth,
                        gender=gen,
                        age_group=age,
                        face_size=float(rng.standard_normal()),
                    )
                    tiles.append(render_face(p, size)[0])
                tiles.append(np.full((size, gap, 3), 255, np.uint8))  # gap between age groups
            rows.append(np.concatenate(tiles[:-1], axis=1))
            names.append(f"{eth} {gen}")
    width = rows[0].shape[1]
    spacer = np.full((gap, width, 3), 255, np.uint8)
    out = []
    for i, row in enumerate(rows):
        out.append(row)
        if i % 2 == 1 and i < len(rows) - 1:
            out.append(spacer)  # gap between ethnicities
    return np.concatenate(out, axis=0), names


def time_renderer(sizes: list[int], n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    params = [
        sample_face_params(
            rng,
            ethnicity=ETHNICITIES[k % 4],
            gender=GENDERS[(k // 4) % 2],
            age_group=AGE_GROUPS[(k // 8) % 4],
            face_size=float(rng.standard_normal()),
        )
        for k in range(n)
    ]
    t0 = time.process_time()
    for k in range(n):
        sample_face_params(
            rng, ethnicity=ETHNICITIES[k % 4], gender="male", age_group="60+", face_size=0.0
        )
    sample_ms = 1000 * (time.process_time() - t0) / n
    print(f"sample_face_params: {sample_ms:.2f} ms CPU per face")
    for size in sizes:
        render_face(params[0], size)  # warm-up
        best_cpu, best_wall = np.inf, np.inf
        for _ in range(3):
            c0, w0 = time.process_time(), time.perf_counter()
            for p in params:
                render_face(p, size)
            best_cpu = min(best_cpu, (time.process_time() - c0) / n)
            best_wall = min(best_wall, (time.perf_counter() - w0) / n)
        print(
            f"render_face {size:>3} px: {1000 * best_cpu:.2f} ms CPU, {1000 * best_wall:.2f} ms "
            f"wall per face -> {1 / best_cpu:.0f} faces/s (CPU), {1 / best_wall:.0f} (wall)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images" / "face_grid.png")
    parser.add_argument("--size", type=int, default=112)
    parser.add_argument("--per-cell", type=int, default=2)
    parser.add_argument("--seed", type=int, default=2019)
    parser.add_argument("--no-speed", action="store_true", help="skip the timing")
    parser.add_argument("--n", type=int, default=200, help="faces per timing run")
    args = parser.parse_args()

    grid, names = make_grid(args.size, args.per_cell, args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(grid).save(args.out, optimize=True)
    print(f"wrote {args.out} ({grid.shape[1]} x {grid.shape[0]} px)")
    print("rows:", "; ".join(names))
    print("columns:", ", ".join(f"{a} (x{args.per_cell})" for a in AGE_GROUPS))
    if not args.no_speed:
        time_renderer([64, 128, 224], args.n, args.seed)


if __name__ == "__main__":
    main()
