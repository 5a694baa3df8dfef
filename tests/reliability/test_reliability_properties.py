"""Property-based tests (hypothesis): the manifest validator, the audio loader, the statistics.

No input may raise anything but the documented error; the statistics keep their invariants
on arbitrary small tables (rates in [0, 1], the interval around the estimate, invariance to
the order of the rows). The validator and the loader also get inputs they must accept, and
each test states the share that must be (tests/reliability/_acceptance.py): a validator that
refuses everything fails them, as the ``..._fails_the_fuzz`` tests show.
"""

from __future__ import annotations

import io
import os
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from _acceptance import AcceptanceLog
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit import run_audit_tables
from audit.stats import SpeakerBootstrap, build_groupings, metric_tables, rate_spec
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


_NAME = st.from_regex(r"[A-Za-z0-9_-]{1,8}", fullmatch=True)
_VOCABULARY = {"gender": ("female", "male"), "language": ("en", "zh")}


@st.composite
def valid_manifests(draw: st.DrawFn) -> tuple[pd.DataFrame, ManifestInfo]:
    """A manifest the validator must accept: unique ids and files, one split per speaker."""
    root = draw(st.sampled_from([None, ".", "sub"]))
    prefix = "sub/" if root == "sub" else ""  # paths lie under the data root
    with_faces = draw(st.booleans())  # all rows have a face, or none
    rows = []
    for s in range(draw(st.integers(2, 5))):
        speaker = f"{draw(_NAME)}-{s}"
        split = draw(st.sampled_from(["train", "val", "test"]))
        gender = draw(st.sampled_from(["female", "male", None]))
        for u in range(draw(st.integers(1, 3))):
            uid = f"{speaker}_{u}"
            rows.append(
                {
                    "utterance_id": uid,
                    "speaker_id": speaker,
                    "audio_path": f"{prefix}audio/{uid}.wav",
                    "split": split,
                    "face_path": f"{prefix}faces/{speaker}.png" if with_faces else None,
                    "gender": gender,
                    "language": draw(st.sampled_from(["en", "zh", None])),
                }
            )
    vocabularies = draw(st.sampled_from([{}, _VOCABULARY]))
    info = ManifestInfo(source="prop", vocabularies=vocabularies, data_root=root)
    return pd.DataFrame(rows, dtype="string"), info


# Damages to a valid manifest: each changes the frame in place at (or near) a row and
# returns where the validator must report it, ``(line, column)`` (line None: the table).
def _empty_cell(frame: pd.DataFrame, row: int, col: str) -> tuple[int | None, str]:
    frame.loc[row, col] = pd.NA
    return row + 2, col


def _duplicate_id(frame: pd.DataFrame, row: int) -> tuple[int | None, str]:
    row = max(row, 1)
    frame.loc[row, "utterance_id"] = frame.loc[0, "utterance_id"]
    return row + 2, "utterance_id"


def _unknown_split(frame: pd.DataFrame, row: int) -> tuple[int | None, str]:
    frame.loc[row, "split"] = "exam"
    return row + 2, "split"


def _escaping_path(frame: pd.DataFrame, row: int) -> tuple[int | None, str]:
    frame.loc[row, "audio_path"] = "../../outside.wav"
    return row + 2, "audio_path"


def _speaker_in_two_splits(frame: pd.DataFrame, row: int) -> tuple[int | None, str]:
    speaker = frame.loc[row, "speaker_id"]
    other = "val" if frame.loc[row, "split"] == "train" else "train"
    first = int(frame.index[frame["speaker_id"] == speaker][0])
    extra = frame.loc[row].copy()
    extra["utterance_id"] = f"{extra['utterance_id']}-again"
    extra["audio_path"] = str(extra["audio_path"]).replace(".wav", "-again.wav")
    extra["split"] = other
    frame.loc[len(frame)] = extra
    return first + 2, "split"


def _missing_column(frame: pd.DataFrame, row: int, col: str) -> tuple[int | None, str]:
    del frame[col]
    return None, col


_DAMAGE = st.one_of(
    st.sampled_from([partial(_empty_cell, col=c) for c in REQUIRED_COLUMNS]),
    st.sampled_from([_duplicate_id, _unknown_split, _escaping_path, _speaker_in_two_splits]),
    st.sampled_from([partial(_missing_column, col=c) for c in REQUIRED_COLUMNS]),
)


def _refuse_manifest(
    frame: pd.DataFrame, info: ManifestInfo, folder: object
) -> list[ManifestIssue]:
    """A validator that refuses every manifest (for the test that the fuzz can fail)."""
    return [ManifestIssue(line=None, column=None, value=None, message="refused")]


def _manifest_fuzz(
    validate: Callable[..., list[ManifestIssue]] = validate_manifest, max_examples: int = 40
) -> tuple[AcceptanceLog, AcceptanceLog]:
    """Valid manifests must pass (100 %); a copy with one damage must be reported.

    Returns the log of the valid manifests (accepted = no issue) and the log of the damaged
    copies (accepted = an issue names the damaged line and column).
    """
    valid = AcceptanceLog("valid manifests given to validate_manifest", min_share=1.0)
    damaged = AcceptanceLog("damaged manifests reported at the damage", min_share=1.0)

    @settings(
        max_examples=max_examples, deadline=None, suppress_health_check=[HealthCheck.too_slow]
    )
    @given(case=valid_manifests(), damage=_DAMAGE, row=st.integers(0, 14))
    def check(case: tuple[pd.DataFrame, ManifestInfo], damage: Callable, row: int) -> None:
        frame, info = case
        broken = frame.copy()
        line, column = damage(broken, row % len(frame))
        with tempfile.TemporaryDirectory() as folder:
            issues = validate(frame, info, folder)
            found = validate(broken, info, folder)
        if issues:
            valid.reject(str(issues[0]))
        else:
            valid.accept()
        if (line, column) in [(i.line, i.column) for i in found]:
            damaged.accept()
        else:
            name = getattr(damage, "__name__", None) or f"{damage.func.__name__}{damage.keywords}"
            damaged.reject(f"{name}: no issue at line {line}, column {column!r}")

    check()
    return valid, damaged


def test_manifest_validator_accepts_valid_and_reports_each_damage() -> None:
    valid, damaged = _manifest_fuzz()
    valid.check()
    damaged.check()


def test_a_manifest_validator_that_refuses_or_passes_everything_fails_the_fuzz() -> None:
    with pytest.raises(AssertionError, match=r"only 0 of \d+ \(0%\) valid manifests"):
        _manifest_fuzz(_refuse_manifest, max_examples=5)[0].check()
    with pytest.raises(AssertionError, match=r"only 0 of \d+ \(0%\) damaged manifests"):
        _manifest_fuzz(lambda frame, info, folder: [], max_examples=5)[1].check()


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
#: (libsndfile format, subtype, suffix, largest decoding error of one stored sample)
_FORMATS = [
    ("WAV", "PCM_16", ".wav", 2.0**-15),
    ("WAV", "FLOAT", ".wav", 0.0),
    ("FLAC", "PCM_16", ".flac", 2.0**-15),
    ("OGG", "VORBIS", ".ogg", None),  # lossy: only the length is checked
]


@dataclass(frozen=True)
class _AudioFile:
    """A valid audio file's bytes and what they hold."""

    data: bytes
    suffix: str
    samples: np.ndarray  # (frames, channels) float32 as written
    rate: int
    quantum: float | None


@st.composite
def valid_audio_files(draw: st.DrawFn) -> _AudioFile:
    fmt, subtype, suffix, quantum = draw(st.sampled_from(_FORMATS))
    rate = draw(st.sampled_from([8000, 16000, 22050, 44100, 48000]))
    shape = (draw(st.integers(1, 4000)), draw(st.integers(1, 2)))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    samples = rng.uniform(-0.9, 0.9, shape).astype(np.float32)
    buffer = io.BytesIO()
    sf.write(buffer, samples, rate, format=fmt, subtype=subtype)
    return _AudioFile(buffer.getvalue(), suffix, samples, rate, quantum)


@st.composite
def damaged_copies(draw: st.DrawFn, data: bytes) -> bytes:
    """Truncated, overwritten, prefixed, or replaced by a known header and random bytes."""
    kind = draw(st.sampled_from(["truncate", "overwrite", "prefix", "noise"]))
    if kind == "truncate":
        return data[: draw(st.integers(0, len(data) - 1))]
    if kind == "overwrite":
        out = bytearray(data)
        for _ in range(draw(st.integers(1, 8))):
            out[draw(st.integers(0, len(out) - 1))] = draw(st.integers(0, 255))
        return bytes(out)
    if kind == "prefix":
        return draw(st.binary(min_size=1, max_size=64)) + data
    return draw(_HEADERS) + draw(st.binary(max_size=2048))


def _check_decoded(wave: np.ndarray) -> None:
    assert isinstance(wave, np.ndarray)
    assert wave.dtype == np.float32 and wave.ndim == 1 and wave.size > 0
    assert np.all(np.isfinite(wave))


def _check_content(wave: np.ndarray, audio: _AudioFile) -> None:
    """Length after resampling to 16 kHz; at 16 kHz lossless files decode to the mono mix."""
    expected = audio.samples.shape[0] * 16000 / audio.rate
    assert abs(wave.size - expected) <= 1, (wave.size, expected)
    if audio.rate == 16000 and audio.quantum is not None:
        mono = audio.samples.mean(axis=1)
        np.testing.assert_allclose(wave, mono, rtol=0, atol=audio.quantum + 2.0**-23)


def _refuse_audio(path: str | os.PathLike[str]) -> np.ndarray:
    """A loader that refuses every file (for the test that the fuzz can fail)."""
    raise DataFormatError(f"{path}: refused")


def _audio_fuzz(
    load: Callable[..., np.ndarray] = load_audio, max_examples: int = 30
) -> AcceptanceLog:
    """Valid WAV/FLAC/OGG files and damaged copies through ``load``.

    Every valid file must decode (the stated share is 100 %) to the right length, and at
    16 kHz to the samples written; a damaged copy either decodes to finite samples or
    raises ``DataFormatError`` naming the file.
    """
    log = AcceptanceLog("valid audio files given to load_audio", min_share=1.0)

    @settings(max_examples=max_examples, deadline=None)
    @given(audio=valid_audio_files(), data=st.data())
    def check(audio: _AudioFile, data: st.DataObject) -> None:
        damaged = data.draw(damaged_copies(audio.data))
        with tempfile.TemporaryDirectory() as folder:
            good, bad = Path(folder) / f"clip{audio.suffix}", Path(folder) / f"bad{audio.suffix}"
            good.write_bytes(audio.data)
            bad.write_bytes(damaged)
            try:
                wave = load(good)
            except DataFormatError as err:
                log.reject(str(err))
            else:
                log.accept()
                _check_decoded(wave)
                _check_content(wave, audio)
            try:
                _check_decoded(load(bad))
            except DataFormatError as err:
                assert str(bad) in str(err) or bad.name in str(err)

    check()
    return log


def test_audio_loader_on_valid_and_damaged_files() -> None:
    _audio_fuzz().check()


def test_a_loader_that_refuses_everything_fails_the_fuzz() -> None:
    with pytest.raises(AssertionError, match=r"only 0 of \d+ \(0%\) valid audio files"):
        _audio_fuzz(_refuse_audio, max_examples=5).check()


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
