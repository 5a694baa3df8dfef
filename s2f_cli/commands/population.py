"""Generate a synthetic speaker population (the bias lab) and write DIR/manifest.csv.

Example::

    s2f-audit population --preset web-skewed --speakers 200 --seed 1 --out pop/
"""

from __future__ import annotations

import argparse

from s2f_cli._common import NotBuiltYet

NAME = "population"
HELP = "generate a built-in synthetic speaker population"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options."""
    parser.add_argument(
        "--preset", default="representative", help="web-skewed | representative (default)"
    )
    parser.add_argument("--spec", help="TOML population spec (overrides --preset)")
    parser.add_argument("--speakers", type=int, help="number of speakers")
    parser.add_argument("--out", required=True, help="output folder")


def run(args: argparse.Namespace) -> int:
    """Run the command."""
    raise NotBuiltYet("the bias-lab population generator is not built yet (issue #4)")
