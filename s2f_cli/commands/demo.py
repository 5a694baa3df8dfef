"""The main job: population -> compact model -> audit -> report, then a retrained comparison.

Example::

    s2f-audit demo --out demo/
"""

from __future__ import annotations

import argparse

from s2f_cli._common import NotBuiltYet

NAME = "demo"
HELP = "run the whole pipeline on the built-in synthetic population"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options."""
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--quick", action="store_true", help="tiny settings (about a minute)")


def run(args: argparse.Namespace) -> int:
    """Run the command."""
    raise NotBuiltYet(
        "the demo needs the bias lab (#4), the model (#3), the audit (#7) and the report (#8)"
    )
