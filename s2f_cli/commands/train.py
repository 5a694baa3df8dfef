"""Train the Speech2Face model (face side, then voice encoder) on a manifest.

Example::

    s2f-audit train --manifest pop/manifest.csv --preset compact --out runs/a
"""

from __future__ import annotations

import argparse

from s2f_cli._common import NotBuiltYet

NAME = "train"
HELP = "train the model on a manifest"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options."""
    parser.add_argument("--manifest", required=True, help="manifest.csv to train on")
    parser.add_argument("--preset", default="compact", help="compact (default) | paper")
    parser.add_argument("--out", required=True, help="run folder (checkpoints)")
    parser.add_argument("--resume", action="store_true", help="continue from the run folder")


def run(args: argparse.Namespace) -> int:
    """Run the command."""
    raise NotBuiltYet("model training is not built yet (issue #3)")
