"""Property-based tests (hypothesis): the manifest validator, the audio loader, the statistics.

No input may raise anything but the documented error; the statistics keep their invariants
on arbitrary small tables (rates in [0, 1], the interval around the estimate, invariance to
the order of the rows).
"""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit import SpeakerBootstrap, build_groupings, metric_tables, rate_spec, run_audit_tables
from s2f_data import (
    REQUIRED_COLUMNS,
    DataFormatError,
    ManifestInfo,
    ManifestIssue,
    load_audio,
    validate_manifest,
)

# ---------------------------------------------------------------- manifest validator

_CELL = st.one_of(
    st.none(),
    st.sampled_from(
        [
            "",
            "a.wav",
            "../escape.wav",
            "/etc/passwd",
            "train",
            "test",
            "val",
            "exam",
            "female",
            "en",
            "x/../../y.wav",
            "s1",
            "s1",
            "u1",
            "u1",
        ]
    ),
    st.text(max_size=12),
)
_COLUMNS = st.lists(
    st.sampled_from(
        [
            *REQUIRED_COLUMNS,
            "face_path",
            "language",
            "gender",
            "ethnicity",
            "age_group",
            "accent",
            "extra",
            "",
        ]
    ),
    min_size=0,
    max_size=9,
    unique=True,
)


@st.composite
def manifest_frames(draw: st.DrawFn) -> pd.DataFrame:
    columns = draw(_COLUMNS)
    n = draw(st.integers(0, 6))
    data = {c: draw(st.lists(_CELL, min_size=n, max_size=n)) for c in columns}
    return pd.DataFrame(data, columns=columns, dtype="string")


_INFO = st.builds(
    ManifestInfo,
    source=st.just("prop"),
    vocabularies=st.one_of(
        st.just({}), st.just({"gender": ("female", "male"), "language": ("en", "zh")})
    ),
    data_root=st.sampled_from([None, ".", "sub", "/"]),
)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frame=manifest_frames(), info=_INFO)
def test_manifest_validator_never_crashes_and_points_at_real_lines(frame, info) -> None:
    with tempfile.TemporaryDirectory() as folder:
        issues = validate_manifest(frame, info, folder)
    assert isinstance(issues, list)
    for issue in issues:
        assert isinstance(issue, ManifestIssue)
        assert str(issue)  # printable
        if issue.line is not None:
            assert 2 <= issue.line <= len(frame) + 1, issue  # header is line 1
        if issue.column is not None:
            assert issue.column in frame.columns or issue.column in REQUIRED_COLUMNS, issue
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    for col in missing:
        assert any(i.column == col for i in issues), (col, issues)


# ---------------------------------------------------------------- audio loader

_HEADERS = st.sampled_from(
    [
        b"",
        b"RIFF\x24\x00\x00\x00WAVEfmt ",
        b"fLaC",
        b"OggS",
        b"ID3\x03\x00",
        b"\xff\xfb",
        b"\x00\x00\x00\x18ftypmp42",
    ]
)


@settings(max_examples=60, deadline=None)
@given(
    header=_HEADERS,
    body=st.binary(max_size=2048),
    suffix=st.sampled_from([".wav", ".flac", ".ogg", ".mp3", ".m4a", ".bin", ""]),
)
def test_audio_loader_on_arbitrary_bytes(header: bytes, body: bytes, suffix: str) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"clip{suffix}"
        path.write_bytes(header + body)
        try:
            wave = load_audio(path)
        except DataFormatError as err:
            assert str(path) in str(err) or path.name in str(err)
            return
    assert isinstance(wave, np.ndarray)
    assert wave.dtype == np.float32 and wave.ndim == 1 and wave.size > 0
    assert np.all(np.isfinite(wave))


# ---------------------------------------------------------------- statistics


@st.composite
def small_tables(draw: st.DrawFn) -> pd.DataFrame:
    n_spk = draw(st.integers(2, 14))
    groups = draw(st.lists(st.sampled_from("ABC"), min_size=n_spk, max_size=n_spk))
    rows = []
    for s in range(n_spk):
        for u in range(draw(st.integers(1, 4))):
            rows.append(
                {
                    "utterance_id": f"u{s}_{u}",
                    "speaker_id": f"s{s}",
                    "group": groups[s],
                    "correct": draw(st.booleans()),
                }
            )
    return pd.DataFrame(rows)


def _rate_records(table: pd.DataFrame, seed: int, reference="overall") -> pd.DataFrame:
    spec = rate_spec("rate", "x", table["correct"].to_numpy(float), np.ones(len(table), bool))
    boot = SpeakerBootstrap(table["speaker_id"].to_numpy(), 60, seed)
    metrics, _ = metric_tables(
        table,
        [spec],
        build_groupings(table, ["group"], 1),
        boot,
        reference=reference,
        min_group_size=2,
    )
    return metrics.set_index("group_label").sort_index()


@settings(max_examples=60, deadline=None)
@given(table=small_tables(), seed=st.integers(0, 2**31 - 1))
def test_rates_lie_in_unit_interval_and_ci_is_ordered(table, seed) -> None:
    rec = _rate_records(table, seed)
    value = rec["value"].to_numpy()
    assert np.all((value >= 0) & (value <= 1))
    expected = table.groupby("group")["correct"].mean()
    for label, v in expected.items():
        assert rec.loc[f"group={label}", "value"] == pytest.approx(v)
    lo, hi = rec["ci_low"].to_numpy(), rec["ci_high"].to_numpy()
    finite = np.isfinite(lo) & np.isfinite(hi)
    assert np.all(lo[finite] <= hi[finite])
    assert np.all((lo[finite] >= 0) & (hi[finite] <= 1))
    with np.errstate(invalid="ignore"):
        diff = rec["value"] - rec["reference_value"]
    ok = rec["difference"].notna()
    np.testing.assert_allclose(rec["difference"][ok], diff[ok], atol=1e-12)
    p = rec["p_value"].dropna()
    assert np.all((p >= 0) & (p <= 1))


@settings(max_examples=60, deadline=None)
@given(table=small_tables(), seed=st.integers(0, 2**31 - 1))
def test_interval_contains_the_estimate(table, seed) -> None:
    rec = _rate_records(table, seed)
    # A speaker-cluster bootstrap of a group mean is centred on it; its percentile interval
    # can only miss the estimate when resampling a handful of speakers skews it.
    ok = rec["ci_low"].notna() & (rec["n_speakers"] >= 2)
    v, lo, hi = rec["value"][ok], rec["ci_low"][ok], rec["ci_high"][ok]
    assert np.all((lo <= v + 1e-12) & (v - 1e-12 <= hi)), rec[["value", "ci_low", "ci_high"]]


@settings(max_examples=40, deadline=None)
@given(table=small_tables(), seed=st.integers(0, 2**31 - 1), order_seed=st.integers(0, 1000))
def test_row_order_does_not_change_the_tables(table, seed, order_seed) -> None:
    shuffled = table.sample(frac=1.0, random_state=order_seed).reset_index(drop=True)
    a, b = _rate_records(table, seed), _rate_records(shuffled, seed)
    cols = ["n_utterances", "n_speakers", "value", "ci_low", "ci_high", "difference", "p_value"]
    pd.testing.assert_frame_equal(a[cols], b[cols], check_exact=False, rtol=1e-12, atol=1e-12)


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 1000), order_seed=st.integers(0, 1000))
def test_full_audit_is_invariant_to_row_order(seed, order_seed) -> None:
    from audit import make_evaluation_table

    table = make_evaluation_table(24, 2, random_state=seed)
    shuffled = table.sample(frac=1.0, random_state=order_seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        kw = {
            "groupings": ["gender", "ethnicity"],
            "max_order": 1,
            "n_boot": 40,
            "n_permutations": 10,
            "min_group_size": 2,
        }
        a = run_audit_tables(table, **kw)["metrics"]
        b = run_audit_tables(shuffled, **kw)["metrics"]
    cols = ["value", "ci_low", "ci_high", "difference", "p_value", "p_adjusted"]
    pd.testing.assert_frame_equal(a[cols], b[cols], check_exact=False, rtol=1e-9, atol=1e-12)
    assert [f for f in a["flags"]] == [f for f in b["flags"]]
