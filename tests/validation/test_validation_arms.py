"""The arm-comparison simulation (benchmarks/validation/arms.py) and a small version of it."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from audit import compare_arms, compare_evaluations

ARMS_PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "validation" / "arms.py"


@pytest.fixture(scope="module")
def arms_sim():
    name = "s2f_validation_arms"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ARMS_PATH)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up here
        spec.loader.exec_module(module)
    return sys.modules[name]


def test_simulated_arm_rates_match_their_truth(arms_sim):
    # many checkpoints and speakers: the mean over seeds and speakers is the true arm rate
    design = arms_sim.ArmDesign(
        speakers=(3000, 3000), gaps=(0.0, -0.2), k=40, seed_sd=0.6, utterances_per_speaker=1
    )
    tables_a, tables_b = arms_sim.arm_tables(design, np.random.default_rng(0))
    rate = {
        arm: np.mean(
            [(t["recon_gender"] == "female").groupby(t["group"]).mean() for t in tables], axis=0
        )
        for arm, tables in (("a", tables_a), ("b", tables_b))
    }
    # MC error: seed SD of a group rate ~0.6 x 0.21 over sqrt(40) seeds ~0.02, speakers less
    assert rate["a"] == pytest.approx([0.7, 0.7], abs=0.05)
    assert rate["b"] == pytest.approx([0.7, 0.5], abs=0.05)
    spread = [(t["recon_gender"] == "female").mean() for t in tables_a]
    assert np.std(spread) > 0.03  # the seeds really differ


def test_arm_tables_share_rows_and_speakers(arms_sim):
    design = arms_sim.ArmDesign(speakers=(10, 10), gaps=(0.0, 0.0), k=2)
    tables_a, tables_b = arms_sim.arm_tables(design, np.random.default_rng(1))
    first = tables_a[0]
    for t in [*tables_a, *tables_b]:
        assert (t["utterance_id"] == first["utterance_id"]).all()
        assert (t["speaker_id"] == first["speaker_id"]).all()
    out = compare_arms(
        tables_a[:1], tables_b[:1], groupings=["group"], n_boot=30, min_group_size=5
    )["paired"]
    ref = compare_evaluations(
        tables_a[0], tables_b[0], groupings=["group"], n_boot=30, min_group_size=5
    )["paired"]
    assert out["diff_ci_low"].equals(ref["diff_ci_low"])


@pytest.mark.slow
def test_arm_interval_covers_and_spares_equal_arms_slow(arms_sim):
    # 60 replicates each (about 1 minute): the arm interval covers where the
    # single-checkpoint interval does not, and equal arms are rarely flagged
    gap = arms_sim.ArmDesign(seed_sd=0.5)
    res = arms_sim.arms_study(gap, replicates=60, seed=5, n_boot=300)
    assert res["cover_arms"].min() >= 0.85
    assert res["cover_single"].mean() < 0.8
    null = arms_sim.ArmDesign(gaps=(0.0, 0.0, 0.0, 0.0), seed_sd=0.5)
    res = arms_sim.arms_study(null, replicates=60, seed=6, n_boot=300)
    assert res.attrs["family_false_flags_arms"] <= 0.1
    assert res.attrs["family_false_flags_single_checkpoint"] >= 0.3
