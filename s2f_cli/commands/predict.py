"""Reconstruct faces from voices: voice.wav -> face.png (files, folders or a manifest).

Example::

    s2f-audit predict --checkpoint runs/a voice.wav --out faces/
"""

from __future__ import annotations

import argparse

from s2f_cli._common import NotBuiltYet

NAME = "predict"
HELP = "reconstruct face images from voice recordings"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options."""
    parser.add_argument("--checkpoint", required=True, help="run folder or checkpoint")
    parser.add_argument("inputs", nargs="+", help="audio files, folders or a manifest.csv")
    parser.add_argument("--out", "-o", required=True, help="output folder (or .png for one)")


def run(args: argparse.Namespace) -> int:
    """Run the command."""
    raise NotBuiltYet("inference is not built yet (issue #3)")
