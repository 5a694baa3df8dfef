"""Planted bias: one language x ethnicity cell absent from training must be the one flagged.

The population is a bias-lab spec (`s2f_data.biaslab.PopulationSpec`, ``representative``
preset by default) with one ``[[holdout]]`` combination, so its speakers never reach the
training split. Training the model end to end for every replicate is far too slow for a
simulation study on two shared cores, so this works at the evaluation-table level: an
evaluation draw fills every cell of `s2f_data.biaslab.evaluation_cells` with ``per_cell``
speakers, and the reconstruction judge is simulated: its ethnicity agreement is ``base`` for
every cell seen in training and ``held_out`` for the held-out cell (the model maps the unseen
combination to other faces), with a speaker random effect on the logit. Gender agreement is
the same everywhere (a null control). The audit (`audit.run_audit_tables`, Holm) then runs
over ``language``, ``ethnicity`` and their intersection.

A replicate succeeds when, in the ``language x ethnicity`` grouping, the held-out cell is
the only one flagged significantly *below* the reference (overall) for ethnicity agreement,
no group is flagged below for gender agreement, and every other group flagged below contains
the held-out cell (its language or ethnicity margin). Groups flagged *above* the overall
value are counted separately: the held-out cell pulls the overall value down, so every seen
cell is truly a little above it.

Run ``python benchmarks/validation/planted_bias.py --replicates 50``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from audit import run_audit_tables
from s2f_data.biaslab import ETHNICITIES, PopulationSpec, evaluation_cells

__all__ = ["held_out_spec", "main", "planted_bias_replicate", "planted_bias_table"]


def held_out_spec(
    language: str = "hi", ethnicity: str = "Indian", preset: str = "representative"
) -> PopulationSpec:
    """The preset with one language x ethnicity combination held out of training."""
    data = PopulationSpec.preset(preset).to_dict()
    data["holdout"] = [{"language": language, "ethnicity": ethnicity}]
    return PopulationSpec.from_dict(data, source=f"{preset}+holdout")


def planted_bias_table(
    spec: PopulationSpec,
    rng: np.random.Generator,
    *,
    per_cell: int = 20,
    utterances_per_speaker: int = 5,
    base: float = 0.6,
    held_out: float = 0.3,
    gender_rate: float = 0.9,
    speaker_sd: float = 0.8,
) -> pd.DataFrame:
    """Evaluation table of one draw: every evaluation cell filled, judge simulated."""
    rows = []
    spk = 0
    for language, ethnicity in evaluation_cells(spec):
        unseen = spec.is_held_out({"language": language, "ethnicity": ethnicity})
        p_eth = held_out if unseen else base
        for _ in range(per_cell):
            gender = "female" if rng.random() < 0.5 else "male"
            effect = rng.normal(0, speaker_sd)
            for u in range(utterances_per_speaker):
                eth_ok = rng.random() < 1 / (1 + np.exp(-(np.log(p_eth / (1 - p_eth)) + effect)))
                g_ok = rng.random() < 1 / (
                    1 + np.exp(-(np.log(gender_rate / (1 - gender_rate)) + effect))
                )
                others = [e for e in ETHNICITIES if e != ethnicity]
                rows.append(
                    {
                        "utterance_id": f"u{spk:04d}_{u}",
                        "speaker_id": f"s{spk:04d}",
                        "language": language,
                        "ethnicity": ethnicity,
                        "gender": gender,
                        "true_ethnicity": ethnicity,
                        "recon_ethnicity": ethnicity if eth_ok else others[rng.integers(3)],
                        "true_gender": gender,
                        "recon_gender": gender
                        if g_ok
                        else ("male" if gender == "female" else "female"),
                    }
                )
            spk += 1
    return pd.DataFrame(rows)


def planted_bias_replicate(
    spec: PopulationSpec, seed: int, *, n_boot: int = 1000, **table_options: float
) -> dict:
    """One replicate: which groups the audit flags for ethnicity and gender agreement."""
    rng = np.random.default_rng(seed)
    table = planted_bias_table(spec, rng, **table_options)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        metrics = run_audit_tables(
            table,
            groupings=["language", "ethnicity"],
            max_order=2,
            n_boot=n_boot,
            random_state=int(rng.integers(2**31)),
            correction="holm",
        )["metrics"]
    significant = metrics[
        (metrics["metric"] == "agreement") & metrics["flags"].map(lambda f: "significant" in f)
    ]
    # A disparity against a group is a significant gap below the reference; a group above
    # the overall value (every seen cell is, a little, since the held-out cell pulls the
    # overall value down) is reported separately.
    flagged = significant[significant["difference"] < 0]
    above = sorted(
        significant.loc[
            (significant["difference"] > 0) & (significant["target"] == "ethnicity"), "group_label"
        ]
    )
    held = spec.holdout[0]
    cell_label = f"language={held['language']} x ethnicity={held['ethnicity']}"
    eth = flagged[flagged["target"] == "ethnicity"]
    cells = sorted(eth.loc[eth["attribute"] == "language x ethnicity", "group_label"])
    margins = sorted(eth.loc[eth["attribute"] != "language x ethnicity", "group_label"])

    def contains_cell(group: dict) -> bool:
        return all(held.get(k) == v for k, v in group.items())

    stray = [
        r["group_label"]
        for _, r in eth.iterrows()
        if r["attribute"] != "language x ethnicity" and not contains_cell(r["group"])
    ]
    gender_flags = sorted(flagged.loc[flagged["target"] == "gender", "group_label"])
    return {
        "held_out_cell": cell_label,
        "flagged_cells": cells,
        "flagged_margins": margins,
        "stray_margins": stray,
        "gender_flags": gender_flags,
        "flagged_above": above,
        "success": cells == [cell_label] and not stray and not gender_flags,
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Run replicates and print the success rate and the flag counts."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--replicates", type=int, default=50)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--per-cell", type=int, default=20, help="speakers per evaluation cell")
    p.add_argument("--utterances-per-speaker", type=int, default=5)
    p.add_argument("--base", type=float, default=0.6, help="ethnicity agreement, seen cells")
    p.add_argument("--held-out", type=float, default=0.3, help="ethnicity agreement, held out")
    p.add_argument("--n-boot", type=int, default=1000)
    args = p.parse_args(argv)
    spec = held_out_spec()
    start = time.perf_counter()
    results = [
        planted_bias_replicate(
            spec,
            args.seed * 100_000 + r,
            n_boot=args.n_boot,
            per_cell=args.per_cell,
            utterances_per_speaker=args.utterances_per_speaker,
            base=args.base,
            held_out=args.held_out,
        )
        for r in range(args.replicates)
    ]
    n = len(results)
    cell = results[0]["held_out_cell"]
    summary = {
        "replicates": n,
        "cells": [f"{a} x {b}" for a, b in evaluation_cells(spec)],
        "held_out_cell": cell,
        "success_rate": sum(r["success"] for r in results) / n,
        "held_out_cell_flagged": sum(cell in r["flagged_cells"] for r in results) / n,
        "other_cell_flagged": sum(any(c != cell for c in r["flagged_cells"]) for r in results) / n,
        "stray_margin_flagged": sum(bool(r["stray_margins"]) for r in results) / n,
        "gender_flagged": sum(bool(r["gender_flags"]) for r in results) / n,
        "any_group_flagged_above_overall": sum(bool(r["flagged_above"]) for r in results) / n,
        "margins_flagged": pd.Series([m for r in results for m in r["flagged_margins"]])
        .value_counts()
        .to_dict(),
    }
    print(f"# {' '.join(sys.argv)}")
    print(json.dumps(summary, indent=1))
    print(f"# {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
