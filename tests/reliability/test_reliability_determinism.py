"""Same seed, same bytes; interrupted writes never leave a half-written audit.

The SIGKILL-and-resume test of training is ``tests/s2f_model/test_train.py::
test_sigkill_mid_run_then_resume``; the malicious pickle test is ``tests/s2f_model/
test_checkpoint.py::test_pickle_payload_is_refused_and_never_runs``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

from audit import AuditResult, make_evaluation_table, read_audit, run_audit_tables
from s2f_data import atomic_open, atomic_write_text

SETTINGS = {
    "n_boot": 120,
    "max_order": 2,
    "groupings": ["gender", "ethnicity"],
    "random_state": 5,
    "n_permutations": 20,
}


def _audit(seed: int, created: str | None = None) -> AuditResult:
    table = make_evaluation_table(60, 3, random_state=1)
    options = {**SETTINGS, "random_state": seed}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # small groups
        tables = run_audit_tables(table, **options)
    kwargs = {"created": created} if created else {}
    return AuditResult(tables, settings=options, seed=seed, **kwargs)


def _without_created(text: str) -> str:
    lines = [line for line in text.splitlines() if not line.lstrip().startswith('"created"')]
    assert len(lines) == len(text.splitlines()) - 1  # exactly one time-dependent line
    return "\n".join(lines)


@pytest.fixture(scope="module")
def two_runs() -> tuple[str, str]:
    first = _audit(5, created="2020-01-01T00:00:00+00:00").to_json()
    second = _audit(5, created="2030-06-30T12:00:00+00:00").to_json()
    return first, second


def test_same_seed_gives_byte_identical_audit_json_except_created(two_runs) -> None:
    first, second = two_runs
    assert first != second  # the timestamps differ ...
    assert _without_created(first) == _without_created(second)  # ... and nothing else
    assert json.loads(first)["created"] == "2020-01-01T00:00:00+00:00"


def test_created_is_the_only_time_dependent_field(two_runs) -> None:
    a, b = (json.loads(t) for t in two_runs)
    differ = sorted(k for k in a if a[k] != b[k])
    assert differ == ["created"]


def test_different_seed_changes_the_intervals_only(two_runs) -> None:
    other = json.loads(_audit(6, created="2020-01-01T00:00:00+00:00").to_json())
    base = json.loads(two_runs[0])
    recs_a = base["tables"]["metrics"]
    recs_b = other["tables"]["metrics"]
    assert [r["value"] for r in recs_a] == [r["value"] for r in recs_b]
    assert [r["ci_low"] for r in recs_a] != [r["ci_low"] for r in recs_b]


def test_written_audit_files_are_identical_and_round_trip(tmp_path: Path, two_runs) -> None:
    table = make_evaluation_table(40, 2, random_state=2)
    outs = []
    for name, text in zip(("a", "b"), two_runs, strict=True):
        res = AuditResult.from_json(text)
        res.created = "2020-01-01T00:00:00+00:00"
        path = res.write(tmp_path / name, evaluation=table)
        outs.append(path)
        assert read_audit(path) == res
    files_a = sorted(p.name for p in outs[0].parent.iterdir())
    assert files_a == sorted(p.name for p in outs[1].parent.iterdir())
    assert "audit.json" in files_a and "evaluation.csv" in files_a
    for name in files_a:
        assert (outs[0].parent / name).read_bytes() == (outs[1].parent / name).read_bytes(), name


def test_failed_atomic_write_leaves_the_old_file_and_no_debris(tmp_path: Path) -> None:
    path = tmp_path / "audit.json"
    atomic_write_text(path, "old complete content\n")
    with pytest.raises(RuntimeError, match="crash"), atomic_open(path) as f:
        f.write("new half")
        raise RuntimeError("crash in the middle of a write")
    assert path.read_text() == "old complete content\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["audit.json"]


_WRITER = """
import sys
from s2f_data import atomic_write_text
path = sys.argv[1]
print("ready", flush=True)
i = 0
while True:
    i += 1
    atomic_write_text(path, (str(i) + "\\n") * 200000 + "END\\n")
"""


def test_sigkill_during_repeated_writes_never_leaves_a_partial_file(tmp_path: Path) -> None:
    path = tmp_path / "audit.json"
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(root)}
    proc = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(path)], stdout=subprocess.PIPE, env=env, text=True
    )
    try:
        assert proc.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + 60
        while not path.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)  # let it be in the middle of further writes
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stdout.close()
    text = path.read_text()
    lines = text.splitlines()
    assert lines[-1] == "END"
    assert len(lines) == 200001 and len(set(lines[:-1])) == 1  # one complete version
