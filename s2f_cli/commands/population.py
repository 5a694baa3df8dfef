"""Generate a synthetic speaker population (the bias lab) and write DIR/manifest.csv.

Training draws follow the spec's distributions and split speakers into train/val/test;
``--eval`` makes an evaluation draw instead: ``--per-cell`` speakers (default 20) in every
language x ethnicity cell the audit reports, all in the test split, with speaker ids that never
collide with a training draw. Re-running into the same folder skips finished speakers.

Examples::

    s2f-audit population --preset web-skewed --speakers 400 --seed 1 --out pop/
    s2f-audit population --preset representative --eval --seed 2 --out eval/
"""

from __future__ import annotations

import argparse

from s2f_cli._common import int_at_least, progress_enabled
from s2f_cli.exceptions import CLIError
from s2f_data.biaslab import MAX_SPEAKERS, PopulationSpec, generate_population, load_spec

NAME = "population"
HELP = "generate a built-in synthetic speaker population"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options."""
    parser.add_argument(
        "--preset",
        default="representative",
        choices=("web-skewed", "representative"),
        help="built-in spec (default: representative)",
    )
    parser.add_argument("--spec", help="TOML population spec (overrides --preset)")
    parser.add_argument("--speakers", type=int, help="number of speakers (training draws)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument(
        "--eval",
        action="store_true",
        help="evaluation draw: --per-cell speakers per language x ethnicity",
    )
    parser.add_argument(
        "--per-cell",
        type=int_at_least(1),
        default=20,
        help="speakers per cell of an evaluation draw (default: 20)",
    )
    parser.add_argument("--workers", type=int_at_least(1), default=2, help="processes (default: 2)")


def run(args: argparse.Namespace) -> int:
    """Run the command."""
    spec = load_spec(args.spec) if args.spec else PopulationSpec.preset(args.preset)
    if args.speakers is not None and not 1 <= args.speakers <= MAX_SPEAKERS:
        raise CLIError(
            f"--speakers must be an integer in [1, {MAX_SPEAKERS:,}], got {args.speakers}"
        )
    if args.eval and args.speakers is not None:
        raise CLIError("--speakers applies to training draws; use --per-cell with --eval")
    result = generate_population(
        spec,
        args.out,
        seed=args.seed,
        n_speakers=args.speakers,
        kind="eval" if args.eval else "train",
        min_per_cell=args.per_cell,
        workers=args.workers,
        progress=progress_enabled(args),
    )
    print(
        f"{result.manifest_path} ({len(result.speakers)} speakers, "
        f"{result.n_generated} generated, {result.n_skipped} already done)"
    )
    return 0
