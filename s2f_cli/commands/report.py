"""Render a self-contained HTML fairness report from an audit.json.

Example::

    s2f-audit report audits/a/audit.json --out report.html
"""

from __future__ import annotations

import argparse

from s2f_cli._common import NotBuiltYet

NAME = "report"
HELP = "render an HTML fairness report from audit.json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options."""
    parser.add_argument("audit_json", help="audit.json written by `s2f-audit audit`")
    parser.add_argument("--out", required=True, help="output .html")


def run(args: argparse.Namespace) -> int:
    """Run the command."""
    raise NotBuiltYet("report rendering is not built yet (issue #8)")
