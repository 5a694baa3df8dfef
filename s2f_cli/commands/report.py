"""Render a self-contained HTML fairness report from an audit.json.

Every table shown is also written as CSV and JSON to OUT_files/ beside the HTML; --pdf prints
the report to OUT.pdf with headless Chromium.

Example::

    s2f-audit report audits/a/audit.json --out report.html --pdf
"""

from __future__ import annotations

import argparse
import logging
import shlex

from reports import render_report

NAME = "report"
HELP = "render an HTML fairness report from audit.json"

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options."""
    parser.add_argument("audit_json", help="audit.json written by `s2f-audit audit`")
    parser.add_argument("--out", required=True, help="output .html")
    parser.add_argument(
        "--pdf", action="store_true", help="also write OUT.pdf through headless Chromium"
    )
    parser.add_argument(
        "--include-faces",
        action="store_true",
        help="show sample faces of real (non built-in) data; off by default for privacy",
    )
    parser.add_argument("--title", default=None, help="report title (default: from the model)")
    parser.add_argument(
        "--max-rows",
        type=int,
        default=400,
        help="rows shown per table in the HTML; the CSV/JSON exports keep all (default: 400)",
    )


def command_line(args: argparse.Namespace) -> str:
    """Return the command that reproduces this report."""
    parts = ["s2f-audit", NAME, args.audit_json, "--out", args.out]
    if args.pdf:
        parts.append("--pdf")
    if args.include_faces:
        parts.append("--include-faces")
    if args.title is not None:
        parts += ["--title", args.title]
    if args.max_rows != 400:
        parts += ["--max-rows", str(args.max_rows)]
    return shlex.join(parts)


def run(args: argparse.Namespace) -> int:
    """Run the command."""
    if args.max_rows < 1:
        raise ValueError(f"--max-rows must be at least 1, got {args.max_rows}")
    out = render_report(
        args.audit_json,
        args.out,
        include_faces=args.include_faces,
        pdf=args.pdf,
        title=args.title,
        command=command_line(args),
        max_rows=args.max_rows,
    )
    log.info("wrote %s", out)
    if args.pdf:
        log.info("wrote %s", out.with_suffix(".pdf"))
    return 0
