"""Compare two audits of two models on the same evaluation rows.

Refuses when the audits were run on different rows or label sets. Every table shown is also
written as CSV and JSON to OUT_files/; --pdf prints OUT.pdf with headless Chromium.

Example::

    s2f-audit compare audits/a/audit.json audits/b/audit.json --out compare.html
"""

from __future__ import annotations

import argparse
import logging
import shlex

NAME = "compare"
HELP = "compare two models audited on the same rows"

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options."""
    parser.add_argument("audit_a", help="audit.json of the first (baseline) model")
    parser.add_argument("audit_b", help="audit.json of the second model")
    parser.add_argument("--out", required=True, help="output .html")
    parser.add_argument(
        "--pdf", action="store_true", help="also write OUT.pdf through headless Chromium"
    )
    parser.add_argument("--title", default=None, help="report title (default: model names)")


def run(args: argparse.Namespace) -> int:
    """Run the command."""
    from reports import render_comparison

    parts = ["s2f-audit", NAME, args.audit_a, args.audit_b, "--out", args.out]
    if args.pdf:
        parts.append("--pdf")
    if args.title is not None:
        parts += ["--title", args.title]
    out = render_comparison(
        args.audit_a,
        args.audit_b,
        args.out,
        pdf=args.pdf,
        title=args.title,
        command=shlex.join(parts),
    )
    log.info("wrote %s", out)
    return 0
