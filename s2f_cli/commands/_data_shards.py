"""``s2f-audit data shards``: write a manifest's split as sequential tar training shards.

Training reads them with ``s2f-audit train --shards DIR`` (``train.data="shards"``): the
voice stage streams its clips from them instead of decoding every clip into memory first
(issue #20; docs/scaling.md).

Example::

    s2f-audit data shards pop/manifest.csv --out pop/shards --samples-per-shard 1000
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from s2f_cli.exceptions import CLIError

__all__ = ["add_shards_parser", "run_shards"]


def add_shards_parser(sub: argparse._SubParsersAction, parents: list) -> None:
    """Declare the ``shards`` action and its options."""
    p = sub.add_parser(
        "shards",
        parents=parents,
        help="write a manifest's split as tar shards to train from (train --shards)",
        description="Decode every row's audio once (at --sample-rate) and write it with the "
        "face file's bytes and the row's labels into tar shards in the WebDataset layout, "
        "with shards.json listing each shard's sample count and SHA-256.",
    )
    p.add_argument("manifest", help="manifest.csv")
    p.add_argument("--out", help="shard folder (default: 'shards' beside the manifest)")
    p.add_argument(
        "--split",
        default="train",
        choices=("train", "val", "test", "all"),
        help="rows to write (default train; training reads train shards)",
    )
    p.add_argument(
        "--samples-per-shard",
        type=int,
        default=1000,
        metavar="N",
        help="samples per tar file (default 1000; at least one shard per training process)",
    )
    p.add_argument(
        "--sample-rate",
        type=int,
        default=16000,
        metavar="HZ",
        help="audio rate of the shards: the model's (default 16000)",
    )


def run_shards(args: argparse.Namespace) -> int:
    """Write the shards; bad input (manifest, unreadable file) exits with status 2."""
    from s2f_data import SAMPLE_RATE_RANGE, ManifestError, ShardError, write_shards

    if args.samples_per_shard < 1:
        raise CLIError(f"--samples-per-shard must be at least 1, got {args.samples_per_shard}")
    low, high = SAMPLE_RATE_RANGE
    if not low <= args.sample_rate <= high:
        raise CLIError(f"--sample-rate must be in [{low}, {high}] Hz, got {args.sample_rate}")
    out = Path(args.out) if args.out else Path(args.manifest).parent / "shards"
    started = time.perf_counter()
    try:
        index_path = write_shards(
            args.manifest,
            out,
            split=None if args.split == "all" else args.split,
            sample_rate=args.sample_rate,
            samples_per_shard=args.samples_per_shard,
        )
    except (ManifestError, ShardError, OSError) as err:
        raise CLIError(str(err)) from err
    index = json.loads(index_path.read_text())
    print(
        f"{index['n_samples']} samples in {len(index['shards'])} shard(s) written to {out} "
        f"in {time.perf_counter() - started:.1f} s (index: {index_path})"
    )
    return 0
