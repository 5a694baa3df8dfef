"""Compare two models, or two arms of models trained with several seeds, on the same rows.

Refuses when the audits were run on different rows or label sets. Every table shown is also
written as CSV and JSON to OUT_files/; --pdf prints OUT.pdf with headless Chromium.

One checkpoint per side (positional A B) gives the paired comparison: its intervals cover
the sampling of evaluation speakers only. An arm (--a ..., --b ...) is several checkpoints
of one training recipe with different seeds, audited on the same rows: each arm's metric
is the mean over its seeds and the difference gets an interval that also covers training
noise. An arm item is an audit.json, a folder holding one, or a folder whose seed-*/
subfolders hold one each (as `s2f-audit train --seeds N` lays out runs).

Examples::

    s2f-audit compare audits/a/audit.json audits/b/audit.json --out compare.html
    s2f-audit compare --a audits/skewed/seed-*/ --b audits/representative/ --out compare.html
"""

from __future__ import annotations

import argparse
import logging
import shlex
from pathlib import Path

from s2f_cli._common import CLIError

NAME = "compare"
HELP = "compare two models (or two arms of training seeds) audited on the same rows"

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options."""
    parser.add_argument("audit_a", nargs="?", help="audit.json of the first (baseline) model")
    parser.add_argument("audit_b", nargs="?", help="audit.json of the second model")
    parser.add_argument(
        "--a",
        dest="arm_a",
        nargs="+",
        metavar="AUDIT",
        help="arm A (baseline): audits of its checkpoints, one per training seed",
    )
    parser.add_argument(
        "--b", dest="arm_b", nargs="+", metavar="AUDIT", help="arm B: audits of its checkpoints"
    )
    parser.add_argument("--out", required=True, help="output .html")
    parser.add_argument(
        "--pdf", action="store_true", help="also write OUT.pdf through headless Chromium"
    )
    parser.add_argument("--title", default=None, help="report title (default: model names)")
    parser.add_argument(
        "--n-boot",
        type=int,
        default=None,
        help="replicates of the paired bootstrap (default: n_boot recorded in audit A)",
    )


def expand_arm(items: list[str], option: str) -> list[Path]:
    """Audit files of one arm: each item is an audit.json, its folder or a seed-* parent.

    Raises
    ------
    CLIError
        Naming the item that holds no audit.
    """
    out: list[Path] = []
    for item in items:
        path = Path(item)
        if path.is_file():
            out.append(path)
        elif (path / "audit.json").is_file():
            out.append(path / "audit.json")
        elif path.is_dir() and sorted(path.glob("seed-*/audit.json")):
            out += sorted(path.glob("seed-*/audit.json"), key=_seed_order)
        else:
            raise CLIError(
                f"{option} {item}: no audit.json there (nor in {item}/seed-*/); audit each "
                "checkpoint first with `s2f-audit audit --checkpoint RUN --out AUDIT_DIR`"
            )
    return out


def _seed_order(path: Path) -> tuple[int, str]:
    suffix = path.parent.name.removeprefix("seed-")
    return (int(suffix), "") if suffix.isdigit() else (1 << 30, suffix)


def _arms(args: argparse.Namespace) -> tuple[list[Path], list[Path], list[str]]:
    """Both arms' audits and the command-line words that name them."""
    positional = args.audit_a is not None or args.audit_b is not None
    arms = args.arm_a is not None or args.arm_b is not None
    if positional and arms:
        raise CLIError("give either two audits (A B) or two arms (--a ... --b ...), not both")
    if arms:
        if args.arm_a is None or args.arm_b is None:
            raise CLIError("an arm comparison needs both --a and --b")
        a, b = expand_arm(args.arm_a, "--a"), expand_arm(args.arm_b, "--b")
        return a, b, ["--a", *map(str, a), "--b", *map(str, b)]
    if args.audit_a is None or args.audit_b is None:
        raise CLIError("give two audits (A B) or two arms (--a AUDIT [AUDIT ...] --b ...)")
    return [Path(args.audit_a)], [Path(args.audit_b)], [args.audit_a, args.audit_b]


def run(args: argparse.Namespace) -> int:
    """Run the command: the audit package compares, the reports package renders."""
    # lazy: audit and reports load pandas and Jinja; `s2f-audit --help` stays light
    from audit import paired_comparison
    from reports import check_comparable, load_audit, render_comparison

    arm_a, arm_b, words = _arms(args)
    first, *others = [load_audit(p) for p in [*arm_a, *arm_b]]
    for other in others:  # refuse other rows or labels before the bootstrap runs
        check_comparable(first, other)
    parts = ["s2f-audit", NAME, *words, "--out", args.out]
    if args.pdf:
        parts.append("--pdf")
    if args.title is not None:
        parts += ["--title", args.title]
    options = {}
    if args.n_boot is not None:
        if args.n_boot < 1:
            raise CLIError(f"--n-boot must be at least 1, got {args.n_boot}")
        parts += ["--n-boot", str(args.n_boot)]
        options["n_boot"] = args.n_boot
    single = len(arm_a) == 1 and len(arm_b) == 1 and args.arm_a is None
    side_a = str(arm_a[0]) if single else [str(p) for p in arm_a]
    side_b = str(arm_b[0]) if single else [str(p) for p in arm_b]
    out = render_comparison(
        side_a,
        side_b,
        args.out,
        comparison=paired_comparison(side_a, side_b, **options),
        pdf=args.pdf,
        title=args.title,
        command=shlex.join(parts),
    )
    log.info("wrote %s (%d checkpoints in A, %d in B)", out, len(arm_a), len(arm_b))
    return 0
