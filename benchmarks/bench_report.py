"""Time report rendering on a large audit, optionally against an earlier version of reports.

By default the audit is computed once by the audit engine (100k utterances, 20k speakers,
synthetic evaluation table, 5 attributes and their pairwise intersections) and cached in a
folder; ``--audit`` renders an existing audit folder instead (e.g. the demo audit). The
script times rendering the report, the comparison of the audit with itself and (with --pdf)
printing the PDF. ``--baseline REV`` also renders with the ``reports`` package of git
revision REV (extracted with ``git archive``, run in a child process, alternating with the
current code so both see the same load) and prints both.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_report.py [--folder /tmp/bench_report] [--pdf]
    OMP_NUM_THREADS=1 python benchmarks/bench_report.py --audit /tmp/prof-audit \
        --baseline dce1b9d
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
#: Child process that renders with whichever ``reports`` comes first on its path.
_CHILD = """
import json, sys, time
import reports
audit, out, kind = sys.argv[1:4]
start, cpu = time.perf_counter(), time.process_time()
if kind == "report":
    path = reports.render_report(audit, out)
else:
    try:  # since issue 17 the caller computes the comparison in audit; before, reports did
        from audit import paired_comparison
        options = {"comparison": paired_comparison(audit, audit)}
    except ImportError:
        options = {}
    path = reports.render_comparison(audit, audit, out, **options)
print(json.dumps({"wall": time.perf_counter() - start, "cpu": time.process_time() - cpu,
                  "bytes": path.stat().st_size, "module": reports.__file__}))
"""


def build_audit(folder: Path, n_speakers: int, per_speaker: int, n_boot: int) -> Path:
    import audit
    from audit import AuditResult, data_identity, make_evaluation_table, run_audit_tables

    path = folder / "audit.json"
    if path.is_file():
        return path
    start = time.perf_counter()
    table = make_evaluation_table(n_speakers, per_speaker, random_state=0)
    settings = {"max_order": 2, "n_boot": n_boot, "n_permutations": n_boot, "random_state": 0}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", audit.SmallGroupWarning)
        tables = run_audit_tables(table, **settings)
    result = AuditResult(
        tables,
        settings=settings,
        seed=0,
        command="benchmarks/bench_report.py",
        model={"name": "synthetic"},
        data=data_identity(table, source="synthetic"),
    )
    result.write(folder)
    elapsed = time.perf_counter() - start
    print(f"audit computed in {elapsed:.1f} s (not part of the report time)")
    return path


def baseline_path(rev: str) -> Path:
    """Extract the ``reports`` package of git revision ``rev`` into a temporary folder."""
    archive = subprocess.run(
        ["git", "archive", rev, "reports"], cwd=REPO, capture_output=True, check=True
    ).stdout
    folder = Path(tempfile.mkdtemp(prefix="bench_report_baseline_"))
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(folder, filter="data")
    return folder


def run_child(pythonpath: Path | None, audit: Path, out: Path, kind: str) -> dict:
    """Render in a child process (``pythonpath`` first on its path); return its timings."""
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(pythonpath), str(REPO)])
    result = subprocess.run(
        [sys.executable, "-c", _CHILD, str(audit), str(out), kind],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=pythonpath or REPO,  # "-c" puts the working folder first on the path
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def compare_with_baseline(path: Path, out_dir: Path, rev: str, runs: int) -> None:
    """Alternate baseline and current renders (each in a fresh child process) and print both."""
    old = baseline_path(rev)
    for kind in ("report", "comparison"):
        for attempt in range(runs if kind == "report" else 1):
            for label, pythonpath in ((rev, old), ("current", None)):
                target = out_dir / label / f"{kind}.html"
                got = run_child(pythonpath, path, target, kind)
                module = Path(got["module"]).parent
                if (pythonpath is None) == module.is_relative_to(old):
                    raise RuntimeError(f"{label} run imported reports from {module}")
                print(
                    f"{kind} run {attempt + 1} [{label}]: {got['wall']:.2f} s wall, "
                    f"{got['cpu']:.2f} s CPU, {got['bytes'] / 1e6:.2f} MB"
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--folder", default="/tmp/bench_report")
    parser.add_argument("--audit", default=None, help="render this audit folder instead")
    parser.add_argument("--baseline", default=None, help="git revision to compare with")
    parser.add_argument("--runs", type=int, default=2, help="report renders per version")
    parser.add_argument("--speakers", type=int, default=20_000)
    parser.add_argument("--per-speaker", type=int, default=5)
    parser.add_argument("--n-boot", type=int, default=100)
    parser.add_argument("--pdf", action="store_true")
    args = parser.parse_args()
    folder = Path(args.folder)
    folder.mkdir(parents=True, exist_ok=True)
    if args.audit is not None:
        path = Path(args.audit) / "audit.json"
    else:
        path = build_audit(folder, args.speakers, args.per_speaker, args.n_boot)
    data = json.loads(path.read_text(encoding="utf-8"))
    sizes = {name: len(records) for name, records in data["tables"].items()}
    print(
        f"audit: {data['data']['n_utterances']} utterances, {data['data']['n_speakers']} "
        f"speakers; table rows {sizes}; audit.json {path.stat().st_size / 1e6:.1f} MB"
    )
    if args.baseline is not None:
        compare_with_baseline(path, folder / "out", args.baseline, args.runs)
        return

    start = time.perf_counter()
    import reports

    print(f"import reports: {time.perf_counter() - start:.2f} s")
    out = folder / "out" / "report.html"
    for attempt in range(args.runs):
        start, cpu = time.perf_counter(), time.process_time()
        reports.render_report(path, out)
        print(
            f"render_report run {attempt + 1}: {time.perf_counter() - start:.2f} s wall, "
            f"{time.process_time() - cpu:.2f} s CPU"
        )
    files = list((out.parent / "report_files").iterdir())
    print(
        f"report.html {out.stat().st_size / 1e6:.2f} MB; {len(files)} export files, "
        f"{sum(f.stat().st_size for f in files) / 1e6:.1f} MB"
    )
    start, cpu = time.perf_counter(), time.process_time()
    from audit import paired_comparison  # here: `import reports` above is timed alone

    comparison = paired_comparison(path, path)  # audit computes, reports renders
    cmp_out = reports.render_comparison(
        path, path, folder / "out" / "compare.html", comparison=comparison
    )
    print(
        f"render_comparison: {time.perf_counter() - start:.2f} s "
        f"wall, {time.process_time() - cpu:.2f} s CPU; {cmp_out.stat().st_size / 1e6:.2f} MB"
    )
    if args.pdf:
        from pypdf import PdfReader

        start = time.perf_counter()  # Chromium's time is in its own processes: wall only
        pdf = reports.html_to_pdf(out, out.with_suffix(".pdf"))
        print(
            f"PDF: {time.perf_counter() - start:.1f} s, {len(PdfReader(pdf).pages)} pages, "
            f"{pdf.stat().st_size / 1e6:.1f} MB"
        )


if __name__ == "__main__":
    main()
