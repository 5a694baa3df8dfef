"""Reconstruct faces from voices: voice.wav -> face.png (files, folders or a manifest).

Any sample rate and channel count is accepted (the loader resamples and mixes to mono). A file
that cannot be read never stops the batch: it gets a ``failed`` row with its reason in
``predictions.csv`` and a line on stderr, and the others are still written. Inputs that
``data check --decode`` would flag (silent, too short, clipped, truncated) get their faces and
their flags in the ``flags`` column, with a warning line each.
Exit status: 0 when every input gave a face, 2 (bad input) when some failed.

Examples::

    s2f-audit predict --checkpoint runs/a voice.wav -o face.png
    s2f-audit predict --checkpoint runs/a voices/ pop/manifest.csv --out faces/
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from s2f_cli._common import int_at_least, progress_enabled
from s2f_data import printable_path

NAME = "predict"
HELP = "reconstruct face images from voice recordings"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options."""
    parser.add_argument("--checkpoint", required=True, help="run folder or checkpoint")
    parser.add_argument("inputs", nargs="+", help="audio files, folders or a manifest.csv")
    parser.add_argument("--out", "-o", required=True, help="output folder (or .png for one)")
    parser.add_argument(
        "--batch-size", type=int_at_least(1), default=16, help="clips per forward pass"
    )
    parser.add_argument(
        "--allow-unfinished",
        action="store_true",
        help="accept a run that stopped before its last stage (refused by default)",
    )


def run(args: argparse.Namespace) -> int:
    """Run the command."""
    # here, so `s2f-audit --help` needs no torch
    from s2f_model import load_model, predict_faces, resolve_device

    device = resolve_device(args.device)  # a clear error for an unknown/absent device
    model = load_model(
        args.checkpoint, map_location=str(device), allow_unfinished=args.allow_unfinished
    )
    out = Path(args.out)
    single = out.suffix.lower() == ".png"
    report = predict_faces(
        model,
        args.inputs,
        None if single else out,
        output=out if single else None,
        batch_size=args.batch_size,
        progress=progress_enabled(args),
    )
    for path, flags in report.flags.items():
        print(
            f"s2f-audit predict: warning: {printable_path(path)}: {flags} (the face was "
            "written; see data check --decode)",
            file=sys.stderr,
        )
    for path, reason in report.failures:
        print(f"s2f-audit predict: failed: {printable_path(path)}: {reason}", file=sys.stderr)
    where = out if single else out / "predictions.csv"
    print(f"{report.n_ok} face(s) written, {report.n_failed} failed ({printable_path(where)})")
    return 2 if report.n_failed else 0
