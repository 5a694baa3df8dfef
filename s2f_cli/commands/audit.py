"""Audit a model on a manifest: writes AUDIT_DIR/audit.json and one CSV per table.

Example::

    s2f-audit audit --checkpoint runs/a --manifest evalpop/manifest.csv --out audits/a
"""

from __future__ import annotations

import argparse

from s2f_cli._common import NotBuiltYet

NAME = "audit"
HELP = "run the stratified fairness audit of a model"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options."""
    parser.add_argument("--checkpoint", required=True, help="run folder or checkpoint")
    parser.add_argument("--manifest", required=True, help="evaluation manifest.csv")
    parser.add_argument("--out", required=True, help="audit output folder")


def run(args: argparse.Namespace) -> int:
    """Run the command."""
    raise NotBuiltYet("the audit engine is not built yet (issue #7)")
