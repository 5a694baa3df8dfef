"""Score a model on MAV-Celeb with the multilingual voice-face verification protocol (FAME).

Imports the MAV-Celeb version root (voices/ and faces/ per language folder), scores every
test utterance against its own face and other speakers' faces (cosine of the face feature
predicted from the voice and the candidate face's feature), and writes OUT/eer.csv (equal
error rate per test language, heard / unheard, with speaker-bootstrap intervals),
OUT/scores.csv, the challenge's trial and score files under OUT/challenge/, OUT/errors.csv
and OUT/verification.json. See docs/metrics.md (multilingual association protocol).

Example::

    s2f-audit verify --checkpoint runs/a --data mavceleb_v1 --out verify/a --heard en \
        --test-ids mavceleb_v1/test_ids.txt
"""

from __future__ import annotations

import argparse

from s2f_cli._common import int_at_least

NAME = "verify"
HELP = "score a model on MAV-Celeb: cross-modal verification EER per language (heard/unheard)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options."""
    parser.add_argument("--checkpoint", required=True, help="run folder or checkpoint")
    parser.add_argument("--data", required=True, help="MAV-Celeb version root (v1, v2 or v3)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument(
        "--heard",
        default="en",
        help="ISO code of the language the model was trained on (default en); the others "
        "are unheard",
    )
    parser.add_argument(
        "--split", default="test", help="split to score (default test; 'all' for every row)"
    )
    parser.add_argument(
        "--test-ids", default=None, help="file of test identities, one per line (the challenge's)"
    )
    parser.add_argument(
        "--n-nontarget",
        type=int_at_least(1),
        default=1,
        help="non-target trials per utterance (default 1)",
    )
    parser.add_argument(
        "--n-boot", type=int_at_least(1), default=1000, help="bootstrap replicates (default 1000)"
    )
    parser.add_argument(
        "--batch-size", type=int_at_least(1), default=32, help="utterances per forward pass"
    )


def run(args: argparse.Namespace) -> int:
    """Run the command."""
    from audit import verify_model  # lazily: the CLI parser loads no audit code

    path = verify_model(
        args.checkpoint,
        args.data,
        args.out,
        heard_language=args.heard,
        split=None if args.split == "all" else args.split,
        test_ids=args.test_ids,
        n_nontarget=args.n_nontarget,
        n_boot=args.n_boot,
        seed=args.seed,
        batch_size=args.batch_size,
        device=args.device,
    )
    print(f"wrote {path}")
    return 0
