"""The public surface of `audit` (issue 17): settings objects, audit.stats, the moved names."""

from __future__ import annotations

import subprocess
import sys
import warnings

import numpy as np
import pandas as pd
import pytest

import audit
import audit.stats
from audit import AuditInputError, AuditSettings, make_evaluation_table, run_audit_tables
from audit.stats import SpeakerBootstrap, TableSettings, build_groupings, metric_tables, rate_spec

KW = {"groupings": ["gender", "ethnicity"], "max_order": 1, "n_boot": 40, "n_permutations": 20}


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return make_evaluation_table(40, 3, random_state=4)


def _run(table: pd.DataFrame, *args, **kw) -> dict[str, pd.DataFrame]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", audit.SmallGroupWarning)
        return run_audit_tables(table, *args, **kw)


def _assert_same_tables(a: dict[str, pd.DataFrame], b: dict[str, pd.DataFrame]) -> None:
    assert list(a) == list(b)
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name], check_exact=True, obj=name)


def test_settings_object_gives_the_same_tables_as_keywords(table: pd.DataFrame) -> None:
    by_keywords = _run(table, reference="best", random_state=3, **KW)
    by_settings = _run(table, AuditSettings(reference="best", random_state=3, **KW))
    _assert_same_tables(by_keywords, by_settings)
    # a keyword replaces that field of the settings object
    base = AuditSettings(reference="best", random_state=9, **KW)
    _assert_same_tables(by_keywords, _run(table, base, random_state=3))


def test_settings_change_the_tables(table: pd.DataFrame) -> None:
    a = _run(table, AuditSettings(random_state=1, **KW))["metrics"]
    b = _run(table, AuditSettings(random_state=2, **KW))["metrics"]
    assert np.array_equal(a["value"].to_numpy(), b["value"].to_numpy(), equal_nan=True)
    assert not np.array_equal(a["ci_low"].to_numpy(), b["ci_low"].to_numpy(), equal_nan=True)


def test_unknown_setting_is_refused_by_name(table: pd.DataFrame) -> None:
    with pytest.raises(TypeError, match=r"unexpected keyword argument\(s\) \['n_bootstrap'\]"):
        run_audit_tables(table, n_bootstrap=10)
    with pytest.raises(TypeError, match="settings must be an AuditSettings, got dict"):
        run_audit_tables(table, {"n_boot": 10})


def test_bad_choices_name_the_setting(table: pd.DataFrame) -> None:
    with pytest.raises(AuditInputError, match="ci_method must be one of"):
        run_audit_tables(table, AuditSettings(ci_method="bca"))  # type: ignore[arg-type]
    with pytest.raises(AuditInputError, match="error_control must be one of"):
        run_audit_tables(table, error_control="everything")


def test_settings_are_frozen_and_keyword_only() -> None:
    settings = AuditSettings(n_boot=10)
    with pytest.raises(AttributeError):
        settings.n_boot = 20  # type: ignore[misc]
    with pytest.raises(TypeError):
        AuditSettings(None, 2)  # type: ignore[misc]


def test_metric_tables_takes_table_settings_or_keywords(table: pd.DataFrame) -> None:
    hit = (table["true_gender"] == table["recon_gender"]).to_numpy(float)
    spec = rate_spec("agreement", "gender", hit, np.ones(len(table), dtype=bool))
    groupings = build_groupings(table, ["ethnicity"], max_order=1)
    boot = SpeakerBootstrap(table["speaker_id"].to_numpy(), 50, 0)
    settings = TableSettings(reference="best", ci_level=0.9, min_group_size=3, correction="bh")
    a, _ = metric_tables(table, [spec], groupings, boot, settings)
    b, _ = metric_tables(
        table, [spec], groupings, boot, reference="best", ci_level=0.9, min_group_size=3,
        correction="bh",
    )  # fmt: skip
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    c, _ = metric_tables(table, [spec], groupings, boot, settings, ci_level=0.5)
    assert (c["ci_high"] - c["ci_low"]).sum() < (a["ci_high"] - a["ci_low"]).sum()
    with pytest.raises(TypeError, match=r"\['level'\]"):
        metric_tables(table, [spec], groupings, boot, level=0.9)


def test_entry_points_at_the_top_building_blocks_in_stats() -> None:
    top, stats = set(audit.__all__), set(audit.stats.__all__)
    assert not top & stats
    for name in ("audit_model", "run_audit_tables", "AuditSettings", "AuditResult",
                 "compare_evaluations", "read_audit", "AuditInputError", "JudgeError"):  # fmt: skip
        assert name in top, name
    for name in ("SpeakerBootstrap", "bootstrap_interval", "holm", "raking_weights",
                 "control_errors", "metric_tables", "MetricSpec", "build_groupings"):  # fmt: skip
        assert name in stats and name not in top, name
    for module, names in ((audit, top), (audit.stats, stats)):
        missing = [n for n in names if not hasattr(module, n)]
        assert not missing, missing
    errors = [n for n in top if n.endswith(("Error", "Warning"))]
    assert all(getattr(audit, n).__module__ == "audit.exceptions" for n in errors), errors


@pytest.mark.parametrize("name", ["rate_spec", "SpeakerBootstrap", "holm", "metric_tables"])
def test_moved_names_still_import_with_a_deprecation_warning(name: str) -> None:
    with pytest.warns(DeprecationWarning, match=rf"audit\.{name} moved to audit\.stats\.{name}"):
        obj = getattr(audit, name)
    assert obj is getattr(audit.stats, name)


def test_every_moved_name_is_in_stats_and_unknown_names_raise() -> None:
    moved = audit._MOVED_TO_STATS
    assert len(moved) >= 30 and moved <= set(audit.stats.__all__)
    with pytest.raises(AttributeError, match="has no attribute 'no_such_thing'"):
        audit.no_such_thing  # noqa: B018


def test_import_audit_and_audit_stats_load_no_torch() -> None:
    code = "import sys, audit, audit.stats; print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
