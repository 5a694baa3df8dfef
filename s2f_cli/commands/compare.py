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
    parser.add_argument(
        "--n-boot",
        type=int,
        default=None,
        help="replicates of the paired bootstrap (default: n_boot recorded in audit A)",
    )


def run(args: argparse.Namespace) -> int:
    """Run the command."""
    from reports import render_comparison

    parts = ["s2f-audit", NAME, args.audit_a, args.audit_b, "--out", args.out]
    if args.pdf:
        parts.append("--pdf")
    if args.title is not None:
        parts += ["--title", args.title]
    options = {}
    if args.n_boot is not None:
        if args.n_boot < 1:
            raise ValueError(f"--n-boot must be at least 1, got {args.n_boot}")
        parts += ["--n-boot", str(args.n_boot)]
        options["n_boot"] = args.n_boot
    out = render_comparison(
        args.audit_a,
        args.audit_b,
        args.out,
        pdf=args.pdf,
        title=args.title,
        command=shlex.join(parts),
        compare_options=options,
    )
    log.info("wrote %s", out)
    return 0
