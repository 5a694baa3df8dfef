"""Seed-to-seed spread of decoder-only face-side runs (issue 14): how large a change must be.

Reads the records ``bench_decoder_sweep.py`` appends to ``CACHE/decoder_results.jsonl``,
groups the runs that differ only in ``seed`` (same settings otherwise, same ``model_set``
config changes, same encoder weights) and prints, per group, the judged upper bound
(true face -> encoder -> decoder -> shipped bias-lab judge, the sweep's held-out persons)
as mean [min, max] over seeds: gender and ethnicity agreement with the rendered labels per
ethnicity, their mean over ethnicities, and the reconstruction nearest its own face.

Run::

    python benchmarks/decoder_seed_spread.py /tmp/face_side_sweep
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from s2f_model._face_side import FaceSideSettings

#: Settings that do not change one decoder-only run: its seed, and the choice among several
#: decoders that only the full face side makes (recorded since the choice existed).
_IGNORED = frozenset({"seed", "decoder_candidates", "validation_persons", "validation_seed"})


def _group_key(record: dict[str, Any]) -> str:
    """What a run was, without its seed: the settings that differ from the defaults (or
    that its record lacks), the config changes and the encoder source (a label, never
    parsed back)."""
    defaults = dataclasses.asdict(FaceSideSettings())
    settings = record["settings"]
    changed = [
        f"{k}={settings.get(k, 'unrecorded')}"
        for k in sorted(defaults)
        if k not in _IGNORED and settings.get(k, "unrecorded") != defaults[k]
    ]
    parts = [*changed, *record.get("model_set", []), f"encoder={record.get('weights')}"]
    return " ".join(parts)


def run_numbers(record: dict[str, Any]) -> dict[str, float]:
    """Upper-bound numbers of one run: ``gender Asian`` ... ``ethnicity mean``, ``nearest own``."""
    rows = record["upper_bound"]["per_ethnicity"]
    out: dict[str, float] = {}
    for attr in ("gender", "ethnicity"):
        values = {r["ethnicity"]: r[f"judge_{attr}_recon"] for r in rows}
        out.update({f"{attr} {eth}": v for eth, v in values.items()})
        out[f"{attr} mean"] = float(np.mean(list(values.values())))
    out["nearest own"] = record["upper_bound"]["nearest_own_feature"]
    return out


def _mean_min_max(values: list[float]) -> tuple[float, float, float]:
    return float(np.mean(values)), float(np.min(values)), float(np.max(values))


def spread(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per group of seeds: ``names``, ``seeds``, ``label`` and ``numbers``.

    ``numbers`` maps each quantity of :func:`run_numbers` to ``(mean, min, max)``.
    """
    groups: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        groups.setdefault(_group_key(record), []).append(record)
    out = []
    for key, runs in groups.items():
        per_run = [run_numbers(r) for r in runs]
        numbers = {q: _mean_min_max([n[q] for n in per_run]) for q in per_run[0]}
        out.append(
            {
                "names": [r["name"] for r in runs],
                "seeds": [r["settings"]["seed"] for r in runs],
                "label": key,
                "numbers": numbers,
            }
        )
    return out


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print(__doc__)
        return 2
    path = Path(args[0]) / "decoder_results.jsonl"
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    for group in spread(records):
        seeds = group["seeds"]
        if len(set(seeds)) < 2:
            continue
        names = ", ".join(group["names"])
        print(f"\n{group['label']}: {names} (seeds {seeds})")
        if len(set(seeds)) < len(seeds):
            print("  warning: a seed repeats; these runs differ in something unrecorded")
        for q, (mean, lo, hi) in group["numbers"].items():
            print(f"  {q:20s} {mean:.3f} [{lo:.3f}, {hi:.3f}]")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
