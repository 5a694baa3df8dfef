"""Train the Speech2Face model (face side, then voice encoder) on a manifest.

Stages: the face encoder as an identity classifier over the training speakers, the face
decoder on its frozen features, then the voice encoder with the face side frozen (the paper's
loss). The run folder gets ``checkpoint.json`` (resumable, every ``--checkpoint-every``
steps) and, at the end, ``model.json`` for ``s2f-audit predict`` / ``audit``.

Examples::

    s2f-audit train --manifest pop/manifest.csv --preset compact --out runs/a
    s2f-audit train --manifest pop/manifest.csv --out runs/a --resume
    s2f-audit train --manifest pop/manifest.csv --out runs/quick --steps 50
    s2f-audit train --manifest pop/manifest.csv --out runs/a --seeds 3   # runs/a/seed-0..2
    s2f-audit data shards pop/manifest.csv --out pop/shards
    s2f-audit train --manifest pop/manifest.csv --out runs/s --shards pop/shards
    torchrun --nproc_per_node 2 -m s2f_cli train --manifest pop/manifest.csv --out runs/ddp
"""

from __future__ import annotations

import argparse
import json
import logging
import os
from typing import TYPE_CHECKING

from s2f_cli._common import CLIError, progress_enabled

if TYPE_CHECKING:
    from s2f_model import TrainResult

NAME = "train"
HELP = "train the model on a manifest"

log = logging.getLogger("s2f_cli.train")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options."""
    parser.add_argument("--manifest", required=True, help="manifest.csv to train on")
    parser.add_argument(
        "--preset",
        default="compact",
        choices=("compact", "paper"),
        help="compact (default) | paper",
    )
    parser.add_argument("--out", required=True, help="run folder (checkpoints)")
    parser.add_argument("--resume", action="store_true", help="continue from the run folder")
    parser.add_argument(
        "--face-from",
        metavar="RUN",
        help="reuse the face encoder and decoder of a finished run (same "
        "preset) and train only the voice encoder",
    )
    parser.add_argument(
        "--allow-unfinished",
        action="store_true",
        help="with --face-from: accept a run whose face stages did not finish",
    )
    parser.add_argument(
        "--seeds",
        type=int,
        metavar="N",
        help="train N models with seeds SEED, SEED+1, ... into OUT/seed-0, "
        "OUT/seed-1, ... (one arm of `s2f-audit compare --a/--b`); "
        "they share --face-from when given",
    )
    parser.add_argument(
        "--shards",
        metavar="DIR",
        help="stream the voice stage's clips from the tar shards in DIR "
        "(`s2f-audit data shards`; train.data='shards') instead of "
        "decoding every clip into memory first",
    )
    group = parser.add_argument_group("overrides of the preset's training settings")
    group.add_argument(
        "--steps",
        type=int,
        metavar="N",
        help="steps of every stage (face encoder, decoder, voice encoder)",
    )
    group.add_argument(
        "--face-steps",
        type=int,
        metavar="N",
        help="steps of the face encoder stage and of the decoder stage",
    )
    group.add_argument(
        "--voice-steps", type=int, metavar="N", help="steps of the voice encoder stage"
    )
    group.add_argument("--batch-size", type=int, metavar="N", help="clips per step")
    group.add_argument("--lr", type=float, help="Adam learning rate")
    group.add_argument("--precision", choices=("fp32", "bf16", "fp16"), help="autocast precision")
    group.add_argument(
        "--checkpoint-every",
        type=int,
        metavar="N",
        help="write a resumable checkpoint every N steps (0: stage ends only)",
    )
    group.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any config setting by dotted path, value as JSON, e.g. "
        "--set face.image_size=32 (repeatable)",
    )


def _overrides(args: argparse.Namespace) -> dict[str, object]:
    """Collect the config overrides the options ask for (later ones win)."""
    out: dict[str, object] = {"train.seed": int(args.seed), "train.device": args.device}
    if args.shards is not None:
        out.update({"train.data": "shards", "train.shard_dir": str(args.shards)})
    if args.steps is not None:
        out["train.face_steps"] = out["train.voice_steps"] = args.steps
    for flag, key in (
        ("face_steps", "train.face_steps"),
        ("voice_steps", "train.voice_steps"),
        ("batch_size", "train.batch_size"),
        ("lr", "train.lr"),
        ("precision", "train.precision"),
        ("checkpoint_every", "train.checkpoint_every"),
    ):
        value = getattr(args, flag)
        if value is not None:
            out[key] = value
    for item in args.set:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise CLIError(f"--set expects KEY=VALUE, got {item!r}")
        try:
            out[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            out[key.strip()] = raw  # a bare string such as --set train.device=cpu
    return out


def seed_runs(out: str, seed: int, seeds: int | None) -> list[tuple[str, int]]:
    """(run folder, seed) of every model to train: OUT itself, or OUT/seed-i with seed + i.

    Examples
    --------
    >>> seed_runs("runs/a", 7, None)
    [('runs/a', 7)]
    >>> seed_runs("runs/a", 7, 2)
    [('runs/a/seed-0', 7), ('runs/a/seed-1', 8)]
    """
    if seeds is None:
        return [(out, seed)]
    return [(os.path.join(out, f"seed-{i}"), seed + i) for i in range(seeds)]


def run(args: argparse.Namespace) -> int:
    """Run the command: one model, or one per seed sharing the decoded training data."""
    from s2f_model import S2FConfig, train_seeds  # here, so `s2f-audit --help` needs no torch

    if args.seeds is not None and args.seeds < 1:
        raise CLIError(f"--seeds must be at least 1, got {args.seeds}")
    runs = seed_runs(args.out, int(args.seed), args.seeds)
    if args.seeds is not None:
        log.info("training %s with seeds %s", args.out, [seed for _, seed in runs])
    cfg = S2FConfig.preset(args.preset).replace(**_overrides(args))
    results = train_seeds(
        cfg,
        args.manifest,
        runs,
        resume=args.resume,
        progress=progress_enabled(args),
        face_from=args.face_from,
        allow_unfinished=args.allow_unfinished,
    )
    for result in results:
        _report(result)
    return 0


def _report(result: TrainResult) -> None:
    """Log one run's steps and validation; rank 0 prints where the model went."""
    out = result.run_dir
    steps = {stage: len(losses) for stage, losses in result.losses.items()}
    log.info("trained %s in %.1f s: steps %s", out, result.seconds, steps)
    if result.evaluation:
        log.info("validation: %s", ", ".join(f"{k}={v:.4g}" for k, v in result.evaluation.items()))
    if os.environ.get("RANK", "0") == "0":  # under torchrun, only rank 0 reports
        print(f"model written to {result.run_dir / 'model.json'}")
