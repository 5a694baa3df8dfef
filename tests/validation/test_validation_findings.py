"""Defects of the audit found by the simulation study, now fixed: regression tests.

Each test states the behaviour the audit should have (see docs/validation.md, "Findings").
"""

from __future__ import annotations

import numpy as np
import pytest


def test_comparisons_against_an_insufficient_reference_are_not_flagged(sim):
    design = sim.Design((12, 400, 400), (0.9, 0.7, 0.7), utterances_per_speaker=4)
    table = sim.simulate_table(design, np.random.default_rng(1))
    rows = sim.audit_rates(table, n_boot=300, seed=1, reference={"group": "g0"})
    assert "insufficient_data" in rows.loc["g0", "flags"]
    others = rows.loc[["g1", "g2"]]
    assert not any("significant" in f for f in others["flags"]), others["flags"].tolist()
    assert others["p_adjusted"].isna().all()


def _raw_false_positive_rate(sim, reference, replicates=30, seed=3):
    """Share of group comparisons with raw p < 0.05 when all 8 groups are equal."""
    design = sim.Design((200,) * 8, (0.7,) * 8, utterances_per_speaker=4)
    rng = np.random.default_rng(seed)
    hits = []
    for _ in range(replicates):
        table = sim.simulate_table(design, rng)
        rows = sim.audit_rates(
            table, n_boot=300, seed=int(rng.integers(2**31)), reference=reference
        )
        hits.extend(rows["p_value"].dropna().to_numpy() < 0.05)
    return float(np.mean(hits))


@pytest.mark.parametrize("reference", ["overall", {"group": "g0"}], ids=["overall", "named"])
def test_raw_p_values_are_calibrated_against_a_fixed_reference(sim, reference):
    assert _raw_false_positive_rate(sim, reference) <= 0.10  # measured 0.075 and 0.076


def test_raw_p_values_are_calibrated_against_the_best_group(sim):
    # Finding 3: the best group is chosen on the data; the max-T p-values account for the
    # choice (measured 0.090 here; 0.195 when the winner was treated as a fixed reference).
    assert _raw_false_positive_rate(sim, "best") <= 0.10
