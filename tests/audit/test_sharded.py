"""Sharded evaluation under torchrun (issue #20): two gloo processes give the one-process audit.

Both sides run the real command line (``python -m s2f_cli audit`` and ``torchrun
--nproc_per_node 2 -m s2f_cli audit``) on a tiny model and a 10-utterance manifest with one
unreadable audio file, in batches of 2 rows: shards of 4 batches, rank 0 computing shard 0
(rows 0-7), rank 1 shard 1 (rows 8-9, one of them unreadable). The ranks split the rows in
whole batches, so every forward pass sees the same batch as in one process and the tables
agree bit for bit; the only field allowed to differ in audit.json is its creation time.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from audit._sharded import shard_ranges
from s2f_model import build_model
from s2f_model._checkpoint import save_checkpoint

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "reliability"))
from _tiny_run import make_manifest, tiny_config  # noqa: E402

_ARGS = [
    "--judge", "none", "--n-boot", "20", "--min-group-size", "2", "--batch-size", "2",
    "--input-seconds", "0.5", "1", "--gallery-size", "5",
]  # fmt: skip


def _save_run(run: Path) -> Path:
    cfg = tiny_config()
    save_checkpoint(
        run,
        build_model(cfg, seed=0),
        cfg.to_dict(),
        stage="done",
        step=0,
        metadata={"identities": ["a", "b", "c"], "n_train_utterances": 12, "n_train_faces": 3},
        name="model.json",
    )
    return run


def _cli(root: Path, out: Path, nproc: int, extra=()) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    launcher = (
        ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(nproc)]
        if nproc > 1
        else []
    )
    cmd = [
        sys.executable, *launcher, "-m", "s2f_cli", "audit",
        "--checkpoint", str(root / "run"), "--manifest", str(root / "d" / "manifest.csv"),
        "--out", str(out), *_ARGS, *extra,
    ]  # fmt: skip
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240, cwd=root)


def _audit_json(folder: Path) -> dict:
    data = json.loads((folder / "audit.json").read_text())
    data.pop("created")
    return data


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("sharded")
    make_manifest(root / "d", n_speakers=5)  # 10 rows
    (root / "d" / "a9.wav").write_bytes(b"not a wav file")  # one row fails, in shard 1
    _save_run(root / "run")
    return root


def test_shard_ranges_are_whole_batches_covering_every_row():
    ranges = shard_ranges(24, 2, 4)
    assert ranges == [(0, 8), (8, 16), (16, 24)]
    assert shard_ranges(25, 2, 4)[-1] == (24, 25)
    rows = [i for a, b in shard_ranges(101, 3, 2) for i in range(a, b)]
    assert rows == list(range(101))


def test_two_gloo_processes_write_the_one_process_audit(tiny):
    single = _single(tiny)
    dist = _cli(tiny, tiny / "audit", 2)
    assert dist.returncode == 0, dist.stderr[-3000:]
    # the same command line (same --out) on both sides: audit.json may differ only in `created`
    assert _audit_json(tiny / "audit") == _audit_json(single)
    for name in ("evaluation.csv", "errors.csv"):
        assert (tiny / "audit" / name).read_bytes() == (single / name).read_bytes()
    errors = pd.read_csv(tiny / "audit" / "errors.csv")
    assert errors["utterance_id"].tolist() == ["s4u1"] and errors["stage"].tolist() == ["audio"]
    table = pd.read_csv(tiny / "audit" / "evaluation.csv")
    assert len(table) == 9 and np.isfinite(table["cos_sim_0.5s"]).all()
    # rank 1 computed its shard; the shard folder is gone once the audit is published
    assert "rank 1: 1 shard(s) computed, 0 reused" in dist.stderr
    assert not (tiny / "audit.shards").exists()


def _single(tiny: Path) -> Path:
    """The one-process audit (written once per module, under the same --out as the others)."""
    if not (tiny / "single").is_dir():
        single = _cli(tiny, tiny / "audit", 1)
        assert single.returncode == 0, single.stderr[-3000:]
        (tiny / "audit").rename(tiny / "single")
    return tiny / "single"


@pytest.mark.slow  # ~20 s on 2 busy cores: three two-process runs
def test_a_failed_run_keeps_finished_shards_and_a_rerun_redoes_the_missing_one(tiny):
    out = tiny / "resumed"
    # fails after every rank finished its shards (the focus column is checked by the tables)
    failed = _cli(tiny, out, 2, ["--focus", "no_such_column:gender"])
    assert failed.returncode != 0
    shards = sorted((tiny / "resumed.shards").glob("*/shard-*.npz"))
    assert [p.name for p in shards] == [f"shard-{k:06d}.npz" for k in range(2)]
    shards[1].unlink()  # rank 1's finished shard lost (as if rank 1 was killed)
    rerun = _cli(tiny, out, 2)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "rank 0: 0 shard(s) computed, 1 reused" in rerun.stderr
    assert "rank 1: 1 shard(s) computed, 0 reused" in rerun.stderr
    single = _single(tiny)
    got, want = _audit_json(out), _audit_json(single)
    assert got.pop("command") != want.pop("command")  # --out differs
    assert got == want
    for name in ("evaluation.csv", "errors.csv"):
        assert (out / name).read_bytes() == (single / name).read_bytes()


def _rank_pid(parent: int, rank: int) -> int | None:
    """Process id of torchrun worker ``rank`` (a child of ``parent``), or None."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if ppid == parent and f"RANK={rank}".encode() in environ:
            return int(entry.name)
    return None


@pytest.mark.slow  # ~40 s on 2 busy cores
@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs /proc")
def test_killing_a_rank_mid_run_then_rerunning_gives_the_one_process_audit(tmp_path):
    import signal
    import time

    from PIL import Image

    from s2f_data import ManifestInfo, write_manifest

    d = tmp_path / "d"
    d.mkdir()
    rng = np.random.default_rng(0)
    rows = []
    for s in range(30):  # 60 rows, batches of 1: 15 shards of 4 rows
        Image.fromarray(np.full((40, 40, 3), 7 * s, dtype=np.uint8)).save(d / f"f{s}.png")
        for u in range(2):
            k = 2 * s + u
            sf.write(d / f"a{k}.wav", 0.1 * rng.standard_normal(8000), 8000)
            rows.append({
                "utterance_id": f"s{s}u{u}", "speaker_id": f"s{s}", "split": "test",
                "audio_path": f"a{k}.wav", "face_path": f"f{s}.png",
                "gender": "female" if s % 2 else "male",
            })  # fmt: skip
    write_manifest(pd.DataFrame(rows), d / "manifest.csv", ManifestInfo(source="test"))
    _save_run(tmp_path / "run")
    extra = ["--batch-size", "1"]
    single = _cli(tmp_path, tmp_path / "audit", 1, extra)
    assert single.returncode == 0, single.stderr[-3000:]
    (tmp_path / "audit").rename(tmp_path / "single")

    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
        "-m", "s2f_cli", "audit", "--checkpoint", str(tmp_path / "run"),
        "--manifest", str(d / "manifest.csv"), "--out", str(tmp_path / "audit"), *_ARGS, *extra,
    ]  # fmt: skip
    proc = subprocess.Popen(
        cmd, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    killed, deadline = None, time.monotonic() + 180
    while proc.poll() is None and time.monotonic() < deadline:
        if killed is None and any((tmp_path / "audit.shards").glob("*/shard-*.npz")):
            killed = _rank_pid(proc.pid, 1)
            if killed is not None:
                os.kill(killed, signal.SIGKILL)  # a worker this test started
        time.sleep(0.02)
    proc.wait(timeout=60)
    assert killed is not None and proc.returncode != 0, "rank 1 finished before it was killed"
    left = list((tmp_path / "audit.shards").glob("*/shard-*.npz"))
    assert 0 < len(left) < 15  # some shards finished, some lost

    rerun = _cli(tmp_path, tmp_path / "audit", 2, extra)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    reused = sum(int(m) for m in re.findall(r"shard\(s\) computed, (\d+) reused", rerun.stderr))
    assert reused == len(left)
    assert _audit_json(tmp_path / "audit") == _audit_json(tmp_path / "single")
    for name in ("evaluation.csv", "errors.csv"):
        assert (tmp_path / "audit" / name).read_bytes() == (tmp_path / "single" / name).read_bytes()
