"""The main job: population -> compact model -> audit -> report, then a retrained comparison.

Generates a web-skewed training population (mostly English, as web video) and a separate
representative evaluation population, trains the compact model on the first, audits it on
the second and writes DIR/report.html; then retrains on a representative population, audits
it on the same rows and writes DIR/compare.html. Finished stages are skipped on a re-run.

Example::

    s2f-audit demo --out demo/
    s2f-audit demo --out demo/ --seeds 3   # three voice encoders per population
"""

from __future__ import annotations

import argparse
import time

from s2f_cli._common import progress_enabled
from s2f_cli._pipeline import run_demo
from s2f_cli.exceptions import CLIError

NAME = "demo"
HELP = "run the whole pipeline on the built-in synthetic population"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options."""
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny settings (about a minute; numbers not meaningful)",
    )
    parser.add_argument(
        "--seeds",
        type=int,
        default=1,
        metavar="N",
        help="voice encoders per training population, one per seed (default 1); with 3 the "
        "comparison's intervals include training noise (about 15 instead of 8 minutes, "
        "see docs/benchmarks.md)",
    )


def run(args: argparse.Namespace) -> int:
    """Run the command."""
    if args.seeds < 1:
        raise CLIError(f"--seeds must be at least 1, got {args.seeds}")
    start = time.perf_counter()
    paths = run_demo(
        args.out,
        quick=args.quick,
        seed=args.seed,
        progress=progress_enabled(args),
        seeds=args.seeds,
    )
    minutes = (time.perf_counter() - start) / 60
    print(f"\ns2f-audit demo finished in {minutes:.1f} min. Open:")
    print(f"  report (model trained on web-skewed data): {paths['report']}")
    print(f"  comparison with the model retrained on representative data: {paths['compare']}")
    print(f"  audit tables (JSON + CSV): {paths['audit_web-skewed'].parent}")
    return 0
