"""Kill ``s2f-audit audit`` at random times; check the folder always describes one run.

Issue #18: an audit killed while writing into an existing folder used to leave the old
audit.json beside new CSVs. Audits now build a fresh sibling folder and swap it in at the end
(``audit/_output_dir.py``). This script audits a tiny model once (seed 1), then starts more
audits of the same folder with other seeds and SIGKILLs each at a random time: half drawn
uniformly over the whole run, half over its last 30% (where the files are written). After
each kill it checks that every file of the folder belongs to one audit: the tables of
audit.json match the CSVs, the utterance ids of evaluation.csv hash to audit.json's
``row_ids_sha256``, every listed sample exists and nothing else is there.

Run::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/kill_audit.py --kills 20 --seed 0

It prints a JSON report (kill times, which run each kill left, inconsistencies: must be
``[]``). ``tests/reliability/test_reliability_audit.py`` runs it with 20 kills (slow marker).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

_ROOT = Path(__file__).resolve().parents[1]
_TINY = {
    "audio.clip_seconds": 2.0,
    "voice.channels": [4, 4, 8, 8, 8, 8, 8, 8, 8],
    "voice.hidden_dim": 16,
    "voice.feature_dim": 16,
    "face.feature_dim": 16,
    "face.image_size": 32,
    "face.block_channels": [4, 4, 8, 8, 8],
    "face.n_identities": 3,
    "decoder.image_size": 32,
    "decoder.first_dim": 16,
    "decoder.landmark_hidden": 16,
    "decoder.texture_channels": 16,
}


def _setup(root: Path) -> tuple[Path, Path]:
    """Write a tiny finished run and a 6-speaker manifest (2 utterances each) under root."""
    import soundfile as sf
    from PIL import Image

    from s2f_data import ManifestInfo, write_manifest
    from s2f_model import S2FConfig, build_model, save_checkpoint

    cfg = S2FConfig.compact().replace(**_TINY)
    run = root / "run"
    save_checkpoint(
        run,
        build_model(cfg, seed=0),
        cfg.to_dict(),
        stage="done",
        metadata={"identities": ["a", "b", "c"]},
        name="model.json",
    )
    rng = np.random.default_rng(0)
    data = root / "data"
    data.mkdir(parents=True)
    rows = []
    for s in range(6):
        Image.fromarray(np.full((40, 40, 3), 20 + 40 * s, dtype=np.uint8)).save(data / f"f{s}.png")
        for u in range(2):
            sf.write(data / f"s{s}u{u}.wav", 0.1 * rng.standard_normal(8000), 8000)
            rows.append(
                {
                    "utterance_id": f"s{s}/u{u}",
                    "speaker_id": f"s{s}",
                    "split": "test",
                    "audio_path": f"s{s}u{u}.wav",
                    "face_path": f"f{s}.png",
                    "gender": "female" if s % 2 else "male",
                }
            )
    manifest = write_manifest(
        pd.DataFrame(rows), data / "manifest.csv", ManifestInfo(source="test")
    )
    return run, manifest


def describe_one_run(folder: Path) -> str:
    """Return the seed of the audit in ``folder``; raise AssertionError on any mix.

    Parameters
    ----------
    folder : pathlib.Path
        An audit folder.

    Returns
    -------
    str
        ``str(seed)`` of the one audit every file belongs to.
    """
    from audit import read_audit, row_ids_sha256

    res = read_audit(folder)
    for name, frame in res.tables.items():
        text = (folder / f"{name}.csv").read_text()
        if len(frame.columns) == 0:
            assert not text.strip(), f"{name}.csv is not empty but audit.json's table is"
            continue
        on_disk = pd.read_csv(folder / f"{name}.csv")
        assert len(on_disk) == len(frame), f"{name}.csv has {len(on_disk)} rows, json {len(frame)}"
        for col in ("estimate", "ci_low", "ci_high"):
            if col in frame.columns:
                np.testing.assert_allclose(
                    on_disk[col].to_numpy(float),
                    frame[col].to_numpy(float),
                    equal_nan=True,
                    err_msg=f"{name}.csv column {col}",
                )
    evaluation = pd.read_csv(folder / "evaluation.csv", dtype={"utterance_id": str})
    assert row_ids_sha256(evaluation["utterance_id"]) == res.data["row_ids_sha256"]
    for sample in res.artifacts.get("samples", []):
        for key in ("true_face", "reconstruction", "upper_bound"):
            assert (folder / "samples" / sample[key]).is_file(), sample[key]
    expected = {"audit.json", "evaluation.csv", "samples", *(f"{n}.csv" for n in res.tables)}
    found = {p.name for p in folder.iterdir()}
    assert found == expected, f"unexpected files {sorted(found ^ expected)}"
    return str(res.seed)


def _audit_command(run: Path, manifest: Path, out: Path, seed: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "s2f_cli",
        "audit",
        "--checkpoint",
        str(run),
        "--manifest",
        str(manifest),
        "--out",
        str(out),
        "--judge",
        "none",
        "--n-boot",
        "20",
        "--min-group-size",
        "2",
        "--input-seconds",
        "none",
        "--seed",
        str(seed),
        "--quiet",
    ]


def kill_audit_at_random_points(
    workdir: str | os.PathLike[str], *, n_kills: int = 20, seed: int = 0
) -> dict[str, Any]:
    """Audit once, then SIGKILL ``n_kills`` audits of the same folder at random times.

    Parameters
    ----------
    workdir : path-like
        Scratch folder.
    n_kills : int
        Number of killed audits.
    seed : int
        Seeds the kill times.

    Returns
    -------
    dict
        ``n_kills``, ``full_seconds`` (one uninterrupted audit), ``kills`` (time, exit code,
        the run left: ``"old"`` or ``"new"``), ``inconsistent`` (kills after which the folder
        mixed runs; must be empty).
    """
    root = Path(workdir)
    run, manifest = _setup(root)
    out = root / "audit"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(_ROOT)}
    started = time.perf_counter()
    subprocess.run(
        _audit_command(run, manifest, out, 1),
        check=True,
        env=env,
        cwd=_ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    full = time.perf_counter() - started
    current = describe_one_run(out)
    rng = np.random.default_rng(seed)
    kills: list[dict[str, Any]] = []
    inconsistent: list[dict[str, Any]] = []
    for k in range(n_kills):
        low = 0.0 if k % 2 == 0 else 0.7 * full
        at = float(rng.uniform(low, 1.05 * full))
        new_seed = 100 + k
        proc = subprocess.Popen(
            _audit_command(run, manifest, out, new_seed),
            env=env,
            cwd=_ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            proc.wait(timeout=at)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
        code = proc.wait()
        record = {"kill_at_s": round(at, 2), "exit": code}
        try:
            left = describe_one_run(out)
        except (AssertionError, OSError, ValueError) as err:
            inconsistent.append({**record, "error": str(err)[:300]})
            continue
        if left not in (current, str(new_seed)):
            inconsistent.append({**record, "error": f"seed {left}: neither old nor new"})
        record["left"] = "new" if left == str(new_seed) else "old"
        current = left
        kills.append(record)
    return {
        "n_kills": n_kills,
        "full_seconds": round(full, 2),
        "kills": kills,
        "inconsistent": inconsistent,
    }


def main() -> int:
    """Command line: run the kills and print the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        report = kill_audit_at_random_points(tmp, n_kills=args.kills, seed=args.seed)
    print(json.dumps(report, indent=2))
    return 1 if report["inconsistent"] else 0


if __name__ == "__main__":
    sys.exit(main())
