"""Compare two audits of two models on the same evaluation rows.

Example::

    s2f-audit compare audits/a/audit.json audits/b/audit.json --out compare.html
"""

from __future__ import annotations

import argparse

from s2f_cli._common import NotBuiltYet

NAME = "compare"
HELP = "compare two models audited on the same rows"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options."""
    parser.add_argument("audit_a", help="audit.json of the first (baseline) model")
    parser.add_argument("audit_b", help="audit.json of the second model")
    parser.add_argument("--out", required=True, help="output .html")


def run(args: argparse.Namespace) -> int:
    """Run the command."""
    raise NotBuiltYet("model comparison is not built yet (issues #7, #8)")
