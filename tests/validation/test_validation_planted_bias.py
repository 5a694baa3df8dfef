"""Planted bias: the language x ethnicity cell held out of training is the one flagged.

Evaluation-table level (the judge of the reconstructions is simulated; see
``benchmarks/validation/planted_bias.py`` for why and for the full study).
"""

from __future__ import annotations

import numpy as np
import pytest


def test_spec_holds_the_cell_out_of_training(planted):
    spec = planted.held_out_spec("hi", "Indian")
    assert spec.is_held_out({"language": "hi", "ethnicity": "Indian", "gender": "male"})
    assert not spec.is_held_out({"language": "en", "ethnicity": "Indian"})
    table = planted.planted_bias_table(spec, np.random.default_rng(0), per_cell=4)
    cells = table.groupby(["language", "ethnicity"])["speaker_id"].nunique()
    assert (cells == 4).all() and ("hi", "Indian") in cells.index
    held = table[(table["language"] == "hi") & (table["ethnicity"] == "Indian")]
    agree = (held["recon_ethnicity"] == held["true_ethnicity"]).mean()
    rest = table.drop(held.index)
    assert agree < (rest["recon_ethnicity"] == rest["true_ethnicity"]).mean()


def test_audit_flags_the_held_out_cell_and_no_other(planted):
    spec = planted.held_out_spec("hi", "Indian")
    results = [planted.planted_bias_replicate(spec, seed, n_boot=400) for seed in range(4)]
    cell = "language=hi x ethnicity=Indian"
    assert all(cell in r["flagged_cells"] for r in results)
    assert sum(r["success"] for r in results) >= 3, results
    for r in results:
        assert not r["stray_margins"], r  # a flagged margin always contains the cell


@pytest.mark.slow
def test_planted_bias_success_rate_slow(planted):
    spec = planted.held_out_spec("hi", "Indian")
    results = [planted.planted_bias_replicate(spec, 1000 + s, n_boot=1000) for s in range(30)]
    assert np.mean([r["success"] for r in results]) >= 0.85
