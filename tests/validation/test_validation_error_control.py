"""Simulation checks of issue #16 (docs/validation.md, "Simultaneous intervals ...").

Each study runs the audit's own engine on tables with known truth; the default suite runs
short versions with loose bounds, the slow ones the documented sizes.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

PATH = Path(__file__).resolve().parents[2] / "benchmarks" / "validation" / "error_control.py"


@pytest.fixture(scope="module")
def ec():
    name = "s2f_validation_error_control"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, PATH)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def test_audit_wide_control_is_stricter_than_per_family(ec):
    got = ec.audit_null_study(20, seed=5)
    assert got["tests_per_audit"] == 84  # 12 families x 7 groups
    assert got["any_flag_audit"] <= got["any_flag_family"]


@pytest.mark.slow
def test_audit_wide_control_keeps_any_flag_under_null_at_5_percent_slow(ec):
    got = ec.audit_null_study(200, seed=21)
    assert got["any_flag_audit"] <= 0.05, got


@pytest.mark.slow
def test_simultaneous_intervals_cover_jointly_slow(ec):
    got = ec.joint_coverage_study(200, seed=22)
    assert got["joint_coverage_simultaneous"] >= 0.94, got


@pytest.mark.slow
def test_mdd_matches_simulated_power_slow(ec):
    got = ec.power_study(200, seed=31)
    assert abs(got["power_at_mdd_level"] - 0.80) <= 0.05, got


@pytest.mark.slow
def test_small_group_near_0_9_is_not_flagged_under_the_null_slow(ec):
    got = ec.small_null_study(200, seed=23)
    assert got["raw_p_below_005"] <= 0.05 + 2 * got["mc_se"] + 0.01, got
