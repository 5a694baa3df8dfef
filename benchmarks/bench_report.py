"""Time report rendering on an audit of 100k utterances (20k speakers).

The audit is computed once by the audit engine (synthetic evaluation table, 5 attributes and
their pairwise intersections) and cached in a folder; the script then times rendering the
report, the comparison and (with --pdf) printing the PDF.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_report.py [--folder /tmp/bench_report] [--pdf]
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--folder", default="/tmp/bench_report")
    parser.add_argument("--speakers", type=int, default=20_000)
    parser.add_argument("--per-speaker", type=int, default=5)
    parser.add_argument("--n-boot", type=int, default=100)
    parser.add_argument("--pdf", action="store_true")
    args = parser.parse_args()
    folder = Path(args.folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = build_audit(folder, args.speakers, args.per_speaker, args.n_boot)
    data = json.loads(path.read_text(encoding="utf-8"))
    sizes = {name: len(records) for name, records in data["tables"].items()}
    print(
        f"audit: {data['data']['n_utterances']} utterances, {data['data']['n_speakers']} "
        f"speakers; table rows {sizes}; audit.json {path.stat().st_size / 1e6:.1f} MB"
    )

    start = time.perf_counter()
    import reports

    print(f"import reports: {time.perf_counter() - start:.2f} s")
    out = folder / "out" / "report.html"
    for attempt in range(2):
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
    cmp_out = reports.render_comparison(path, path, folder / "out" / "compare.html")
    print(
        f"render_comparison (unpaired: no evaluation.csv): {time.perf_counter() - start:.2f} s "
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
