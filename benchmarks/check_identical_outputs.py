"""Check that a refactor keeps the audit's outputs identical to a reference commit.

Runs the same audits with the source tree of a reference commit (extracted with ``git
archive``) and with the working tree, in the same virtual environment, and compares every
JSON and CSV they write:

1. the small fixture audit (``tests/fixtures/make_audit_small.py``'s ``build()``);
2. two model audits of a demo's evaluation population, subset to ``--utterances`` rows
   (540 by default, whole speakers, bilingual speakers included), with the demo's two
   checkpoints;
3. the comparison of those two audits (``s2f-audit compare``).

Values present in the reference output must be present and equal in the new output; keys,
columns and files the new code adds are listed (an intentional schema addition is allowed,
e.g. a schema-version bump), never counted as differences. ``created`` and
``schema_version`` are not compared. Exit status 0 when nothing differs, 1 otherwise.

Usage (from the repository root)::

    OMP_NUM_THREADS=1 python benchmarks/check_identical_outputs.py --ref 17223a2 \\
        --demo DEMO_DIR [--work DIR] [--n-boot 200]

``DEMO_DIR`` is a demo output folder (``s2f-audit demo --out DEMO_DIR``; the full demo gives
the 540-utterance audit). When it does not exist, the quick demo is run there with the
reference tree first (its evaluation population is smaller than 540 utterances).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
IGNORED_KEYS = {"created", "schema_version"}

_FIXTURE_DRIVER = """
import sys
sys.path.insert(0, "tests/fixtures")
from make_audit_small import build
result, evaluation = build()
result.write("fixture", evaluation)
"""


def extract_tree(ref: str, dest: Path) -> Path:
    """Extract the source tree of commit ``ref`` into ``dest`` (``git archive``)."""
    dest.mkdir(parents=True, exist_ok=True)
    archive = dest.with_suffix(".tar")
    subprocess.run(
        ["git", "archive", "--format=tar", "-o", str(archive), ref], cwd=ROOT, check=True
    )
    with tarfile.open(archive) as tar:
        tar.extractall(dest, filter="data")
    archive.unlink()
    return dest


def run_in(tree: Path, cwd: Path, args: list[str]) -> None:
    """Run ``python ARGS`` with ``tree``'s packages first on the path, in ``cwd``."""
    env = {**os.environ, "PYTHONPATH": str(tree), "PYTHONHASHSEED": "0"}
    print(f"[{tree.name}] python {' '.join(args)}", flush=True)
    subprocess.run([sys.executable, *args], cwd=cwd, env=env, check=True)


def subset_manifest(manifest: Path, n_rows: int) -> Path:
    """Write a manifest of whole speakers (seeded order) with about ``n_rows`` rows."""
    frame = pd.read_csv(manifest, dtype=str, keep_default_na=False)
    speakers = np.array(sorted(frame["speaker_id"].unique()))
    np.random.default_rng(0).shuffle(speakers)
    counts = frame["speaker_id"].value_counts()
    kept, total = set(), 0
    for speaker in speakers:  # greedy: whole speakers, as close to n_rows as they allow
        if total + counts[speaker] <= n_rows:
            kept.add(speaker)
            total += counts[speaker]
    out = manifest.with_name(f"manifest_identity{n_rows}.csv")
    tmp = out.with_name(f"{out.name}.{os.getpid()}.tmp")
    frame[frame["speaker_id"].isin(kept)].to_csv(tmp, index=False)
    tmp.replace(out)  # atomic: concurrent checks may read it
    sidecar = manifest.with_suffix(".json")
    if sidecar.is_file():
        out.with_suffix(".json").write_text(sidecar.read_text(encoding="utf-8"), encoding="utf-8")
    return out


def run_outputs(tree: Path, work: Path, demo: Path, subset: Path, n_boot: int) -> None:
    """Write the fixture audit, the two model audits and their comparison under ``work``."""
    shutil.rmtree(work, ignore_errors=True)  # nothing stale from an earlier run
    work.mkdir(parents=True)
    (work / "tests" / "fixtures").mkdir(parents=True, exist_ok=True)
    fixture_script = tree / "tests" / "fixtures" / "make_audit_small.py"
    (work / "tests" / "fixtures" / "make_audit_small.py").write_bytes(fixture_script.read_bytes())
    run_in(tree, work, ["-c", _FIXTURE_DRIVER])
    for arm in ("web-skewed", "representative"):
        run_in(
            tree,
            work,
            [
                "-m",
                "s2f_cli",
                "audit",
                "--checkpoint",
                str(demo / "runs" / arm),
                "--manifest",
                str(subset),
                "--out",
                f"audit-{arm}",
                "--n-boot",
                str(n_boot),
            ],
        )
    run_in(
        tree,
        work,
        [
            "-m",
            "s2f_cli",
            "compare",
            "audit-web-skewed/audit.json",
            "audit-representative/audit.json",
            "--out",
            "compare.html",
        ],
    )


def _same_number(a: Any, b: Any) -> bool:
    both_nan = isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)
    return both_nan or a == b


def compare_values(old: Any, new: Any, path: str, diffs: list[str], added: set[str]) -> None:
    """Record where ``new`` loses or changes a value of ``old``; collect added keys."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key, value in old.items():
            if key in IGNORED_KEYS:
                continue
            if key not in new:
                diffs.append(f"{path}.{key}: missing")
            else:
                compare_values(value, new[key], f"{path}.{key}", diffs, added)
        added.update(f"{_generic(path)}.{key}" for key in new.keys() - old.keys())
    elif isinstance(old, list) and isinstance(new, list):
        if len(old) != len(new):
            _compare_grown_list(old, new, path, diffs, added)
            return
        for i, (a, b) in enumerate(zip(old, new, strict=True)):
            compare_values(a, b, f"{path}[{i}]", diffs, added)
    elif not _same_number(old, new) or type(old) is not type(new):
        diffs.append(f"{path}: {old!r} -> {new!r}")


def _compare_grown_list(old: list, new: list, path: str, diffs: list[str], added: set[str]) -> None:
    """Items added to a list: every old item must still be there, in order (records may grow)."""
    if len(new) < len(old):
        diffs.append(f"{path}: {len(old)} items -> {len(new)}")
        return
    j = 0
    for i, item in enumerate(old):
        while j < len(new):
            trial: list[str] = []
            compare_values(item, new[j], f"{path}[{i}]", trial, set())
            j += 1
            if not trial:
                break
        else:
            diffs.append(f"{path}[{i}]: not found among the {len(new)} new items (in order)")
            return
    added.add(f"{_generic(path)}: {len(new) - len(old)} items")


def _generic(path: str) -> str:
    """``a.b[3].c`` -> ``a.b[*].c`` (for the list of added keys)."""
    return re.sub(r"\[\d+\]", "[*]", path)


def compare_csv(old: Path, new: Path, name: str, found: tuple[list[str], set[str]]) -> None:
    """Old columns must be present in ``new`` with the same text in every row."""
    diffs, added = found
    a = pd.read_csv(old, dtype=str, keep_default_na=False)
    b = pd.read_csv(new, dtype=str, keep_default_na=False)
    missing = [c for c in a.columns if c not in b.columns]
    if missing:
        diffs.append(f"{name}: columns missing {missing}")
    added.update(f"{name}:{c}" for c in b.columns if c not in a.columns)
    if len(a) != len(b):
        kept = [c for c in a.columns if c in b.columns]
        old_rows = a[kept].to_records(index=False).tolist()
        new_rows = set(b[kept].to_records(index=False).tolist())
        lost = sum(row not in new_rows for row in old_rows)
        if lost or len(b) < len(a):
            diffs.append(f"{name}: {len(a)} rows -> {len(b)}, {lost} old rows not found")
        else:
            added.add(f"{name}: {len(b) - len(a)} rows")
        return
    for col in (c for c in a.columns if c in b.columns):
        bad = np.flatnonzero(a[col].to_numpy() != b[col].to_numpy())
        if bad.size:
            diffs.append(
                f"{name}:{col}: {bad.size} rows differ, first row {bad[0]}: "
                f"{a[col].iloc[bad[0]]!r} -> {b[col].iloc[bad[0]]!r}"
            )


def marker_of(root: Path) -> Path:
    """The file that records which settings the reference outputs were made with."""
    return root / "identity-key.json"


def _load_json(path: Path, tree: Path) -> Any:
    """Parse ``path`` with the source tree's location replaced by ``<tree>`` (judge paths)."""
    return json.loads(path.read_text(encoding="utf-8").replace(str(tree), "<tree>"))


def compare_trees(
    old_root: Path, new_root: Path, trees: tuple[Path, Path]
) -> tuple[list[str], set[str], dict[str, int]]:
    """Compare every JSON/CSV file under ``old_root`` with its twin under ``new_root``."""
    diffs: list[str] = []
    added: set[str] = set()
    counts = {"json": 0, "csv": 0, "other_same": 0, "other_changed": 0}
    for old in sorted(p for p in old_root.rglob("*") if p.is_file() and p != marker_of(old_root)):
        rel = old.relative_to(old_root)
        new = new_root / rel
        if not new.is_file():
            diffs.append(f"{rel}: file missing")
        elif old.suffix == ".json":
            counts["json"] += 1
            compare_values(
                _load_json(old, trees[0]),
                _load_json(new, trees[1]),
                str(rel),
                diffs,
                added,
            )
        elif old.suffix == ".csv":
            counts["csv"] += 1
            compare_csv(old, new, str(rel), (diffs, added))
        else:
            same = old.read_bytes() == new.read_bytes()
            counts["other_same" if same else "other_changed"] += 1
    new_files = {p.relative_to(new_root) for p in new_root.rglob("*") if p.is_file()}
    added.update(f"file {p}" for p in new_files if not (old_root / p).is_file())
    return diffs, added, counts


def reference_outputs(
    ref_out: Path, ref_tree: Path, demo: Path, subset: Path, settings: list[Any]
) -> Path:
    """Write the reference outputs unless ``ref_out`` holds them for the same settings.

    Returns the source tree the outputs were made with (paths inside it are normalised).
    """
    key = [str(demo), str(subset), *settings]
    marker = marker_of(ref_out)
    if marker.is_file():
        recorded = json.loads(marker.read_text(encoding="utf-8"))
        if recorded["key"] == key:
            return Path(recorded["tree"])
    run_outputs(ref_tree, ref_out, demo, subset, settings[-1])
    marker.write_text(json.dumps({"key": key, "tree": str(ref_tree)}), encoding="utf-8")
    return ref_tree


def main(argv: list[str] | None = None) -> int:
    """Run both trees and print the differences; exit 1 when any value differs."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ref", default="17223a2", help="reference commit (default: 17223a2)")
    parser.add_argument("--demo", required=True, help="demo output folder (made if missing)")
    parser.add_argument("--work", default=None, help="scratch folder (default: a temp folder)")
    parser.add_argument(
        "--ref-cache", default=None, help="reference outputs folder, reused when it matches"
    )
    parser.add_argument("--utterances", type=int, default=540, help="rows of the model audit")
    parser.add_argument("--n-boot", type=int, default=200, help="bootstrap replicates")
    args = parser.parse_args(argv)
    work = Path(args.work or tempfile.mkdtemp(prefix="identity-")).resolve()
    ref_tree = extract_tree(args.ref, work / "ref-src")
    demo = Path(args.demo).resolve()
    if not (demo / "runs").is_dir():
        run_in(ref_tree, work, ["-m", "s2f_cli", "demo", "--quick", "--out", str(demo)])
    subset = subset_manifest(demo / "populations" / "eval" / "manifest.csv", args.utterances)
    print(f"model audits on {len(pd.read_csv(subset))} utterances ({subset})", flush=True)
    ref_out = Path(args.ref_cache).resolve() if args.ref_cache else work / "ref"
    made_by = reference_outputs(ref_out, ref_tree, demo, subset, [args.ref, args.n_boot])
    run_outputs(ROOT, work / "new", demo, subset, args.n_boot)
    diffs, added, counts = compare_trees(ref_out, work / "new", (made_by, ROOT))
    print(
        f"compared {counts['json']} JSON and {counts['csv']} CSV files; other files: "
        f"{counts['other_same']} identical, {counts['other_changed']} changed (not checked)"
    )
    print(f"added by the new code ({len(added)}):")
    for item in sorted(added):
        print(f"  + {item}")
    print(f"differences ({len(diffs)}):")
    for item in diffs[:200]:
        print(f"  ! {item}")
    return 1 if diffs else 0


if __name__ == "__main__":
    sys.exit(main())
