"""Arbitrary small evaluation tables through `run_audit_tables` and `compare_evaluations`.

Only `AuditInputError` (naming what is wrong) may come out; every rate stays in [0, 1]; and
a stated share of the tables must be accepted (tests/reliability/_acceptance.py), so an
audit that refuses every table fails these tests instead of passing them vacuously.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import pandas as pd
import pytest
from _acceptance import AcceptanceLog
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from audit import AuditInputError, compare_evaluations, run_audit_tables

_LABEL = st.sampled_from(["female", "male", None])


@st.composite
def evaluation_tables(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(1, 12))
    n_spk = draw(st.integers(1, n))
    col = {
        "utterance_id": [f"u{i}" for i in range(n)],
        "speaker_id": [f"s{draw(st.integers(0, n_spk - 1))}" for _ in range(n)],
        "gender": [draw(_LABEL) for _ in range(n)],
        "language": [draw(st.sampled_from(["en", "zh", None])) for _ in range(n)],
        "true_gender": [draw(_LABEL) for _ in range(n)],
        "recon_gender": [draw(_LABEL) for _ in range(n)],
    }
    if draw(st.booleans()):
        col["recon_gender_p_female"] = [draw(st.floats(0, 1)) for _ in range(n)]
        col["recon_gender_p_male"] = [1 - x for x in col["recon_gender_p_female"]]
    if draw(st.booleans()):
        nan_or_cos = st.one_of(st.floats(-1, 1), st.just(float("nan")))
        col["cos_sim"] = [draw(nan_or_cos) for _ in range(n)]
    if draw(st.booleans()):
        col["retrieval_rank"] = [draw(st.integers(1, 10)) for _ in range(n)]
        col["gallery_size"] = [10] * n
    if draw(st.booleans()):
        col["true_nasal_index"] = [draw(st.floats(-3, 3)) for _ in range(n)]
        col["recon_nasal_index"] = [draw(st.floats(-3, 3)) for _ in range(n)]
    if draw(st.booleans()):
        f0 = st.one_of(st.floats(50, 400), st.just(float("nan")))
        col["f0_median_hz"] = [draw(f0) for _ in range(n)]
    return pd.DataFrame(col)


def _has_labels(table: pd.DataFrame) -> bool:
    return bool(table["true_gender"].notna().any() or table["recon_gender"].notna().any())


#: Measured: 60 of 60 labelled tables pass ``run_audit_tables`` and 35 of 35 pass
#: ``compare_evaluations``; these floors leave room for rules that refuse odd tables.
MIN_ACCEPTED = 0.6


def _refuse(*args: object, **kwargs: object) -> dict:
    """A validator that refuses everything (for the tests that the fuzz can fail)."""
    raise AuditInputError("refused: every table is refused")


def _audit_fuzz(
    run: Callable[..., dict] = run_audit_tables, max_examples: int = 25
) -> AcceptanceLog:
    """Arbitrary labelled tables through ``run``; returns the accepted/rejected counts."""
    log = AcceptanceLog("labelled evaluation tables given to run_audit_tables", MIN_ACCEPTED)

    @settings(
        max_examples=max_examples, deadline=None, suppress_health_check=[HealthCheck.too_slow]
    )
    @given(table=evaluation_tables(), reference=st.sampled_from(["overall", "best"]))
    def check(table: pd.DataFrame, reference: str) -> None:
        assume(_has_labels(table))  # the all-missing case has its own test below
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # small groups, by design
            try:
                out = run(table, n_boot=20, n_permutations=5, reference=reference, min_group_size=2)
            except AuditInputError as err:
                log.reject(str(err))
                return
        log.accept()
        metrics = out["metrics"]
        rate_rows = metrics["metric"].isin(["agreement", "recall", "macro_recall"])
        assert metrics.loc[rate_rows, "value"].dropna().between(0, 1).all()

    check()
    return log


def _compare_fuzz(
    compare: Callable[..., dict] = compare_evaluations, max_examples: int = 15
) -> AcceptanceLog:
    """Arbitrary labelled tables and a copy with flipped labels through ``compare``."""
    log = AcceptanceLog("labelled table pairs given to compare_evaluations", MIN_ACCEPTED)

    @settings(
        max_examples=max_examples, deadline=None, suppress_health_check=[HealthCheck.too_slow]
    )
    @given(table=evaluation_tables(), flips=st.lists(st.booleans(), min_size=12, max_size=12))
    def check(table: pd.DataFrame, flips: list[bool]) -> None:
        assume(_has_labels(table))
        other = table.copy()
        swap = {"female": "male", "male": "female"}
        other["recon_gender"] = [
            swap.get(v, v) if f else v for v, f in zip(table["recon_gender"], flips, strict=False)
        ]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            try:
                out = compare(
                    table, other, groupings=["gender", "language"], n_boot=20, min_group_size=2
                )
            except AuditInputError as err:
                log.reject(str(err))
                return
        log.accept()
        paired = out["paired"]
        agree = paired[paired["metric"] == "agreement"]
        assert agree["difference"].dropna().between(-1, 1).all()

    check()
    return log


def test_run_audit_tables_on_arbitrary_small_tables() -> None:
    _audit_fuzz().check()


def test_compare_evaluations_on_arbitrary_small_tables() -> None:
    _compare_fuzz().check()


def test_a_validator_that_refuses_everything_fails_the_fuzz() -> None:
    # the same properties with the audit replaced by one that refuses every table
    with pytest.raises(AssertionError, match=r"only 0 of \d+ \(0%\) labelled evaluation"):
        _audit_fuzz(_refuse, max_examples=10).check()
    with pytest.raises(AssertionError, match=r"only 0 of \d+ \(0%\) labelled table pairs"):
        _compare_fuzz(_refuse, max_examples=10).check()


def test_all_missing_judge_labels_do_not_crash() -> None:
    table = pd.DataFrame(
        {
            "utterance_id": ["u0", "u1", "u2", "u3"],
            "speaker_id": ["s0", "s1", "s2", "s3"],
            "gender": ["female", "male", "female", "male"],
            "true_gender": [None] * 4,
            "recon_gender": [None] * 4,
        }
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        try:
            out = run_audit_tables(table, n_boot=20, min_group_size=2)
        except AuditInputError as err:
            assert "gender" in str(err)
            return
    # accepted: then no agreement rate may come from zero labels (NaN, never 0 %)
    metrics = out["metrics"]
    agreement = metrics[metrics["metric"] == "agreement"]
    assert agreement["value"].isna().all(), agreement
