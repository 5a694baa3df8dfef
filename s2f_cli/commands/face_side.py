"""Pretrain the compact face side (face encoder and decoder) on rendered bias-lab faces.

With the defaults this regenerates the face side shipped in ``s2f_model/weights``
(``compact_face_side.safetensors`` and its model card) bit for bit on the same torch
build: it renders the training persons, trains the face encoder, trains
``--decoder-candidates`` decoders on it from their own seeds and keeps the one whose
reconstructions of ``--validation-persons`` other rendered persons the shipped bias-lab
judge reads best (mean over ethnicities of the gender and ethnicity agreement with the
persons' true labels). One thread; about 70 CPU-minutes with the defaults. The measured
numbers of the card come from ``benchmarks/bench_face_side.py --update-card``.

Example::

    s2f-audit face-side --seed 0 --out face_side/
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from audit.judges import judge_labels
from s2f_cli.exceptions import CLIError
from s2f_data.biaslab.faces import ETHNICITIES, GENDERS

NAME = "face-side"
HELP = "pretrain the compact face encoder and decoder on rendered faces"

#: ``s2f_model.FaceSideSettings`` fields set by their own flag, with their type (``seed``
#: comes from ``--seed``). Listed here because importing the model package loads torch,
#: which building the parser must not; a test keeps the table in step with the dataclass.
FIELDS: dict[str, type] = {
    "n_persons": int,
    "encoder_steps": int,
    "decoder_steps": int,
    "batch_size": int,
    "encoder_lr": float,
    "decoder_lr": float,
    "ethnicity_weight": float,
    "invariance_weight": float,
    "decoder_shrink": float,
    "targets_weight": float,
    "face_size_weight": float,
    "landmark_weight": float,
    "texture_weight": float,
    "embedding_weight": float,
    "texture_target": str,
    "decoder_target": str,
    "decoder_candidates": int,
    "validation_persons": int,
    "validation_seed": int,
}


#: What the decoder candidates are scored by, for the model card.
SCORE = (
    "shipped bias-lab judge on the validation persons' decoded features, as they are and moved "
    "towards their mean (scores_by_shrink): share judged the true gender and share judged the "
    "true ethnicity, averaged over both, over ethnicities and over the shrink factors"
)


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options: ``--out`` and one per ``FaceSideSettings`` field."""
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument(
        "--keep-candidates",
        action="store_true",
        help="also write every decoder candidate's face side to OUT/candidate-K/",
    )
    for name, kind in FIELDS.items():
        parser.add_argument(
            _flag(name),
            dest=name,
            type=kind,
            help=f"FaceSideSettings.{name} (default: the shipped face side's)",
        )


def judged_agreement(judge: Any) -> Any:
    """Score for decoder candidates: the judge's balanced agreement with the true labels.

    Returns ``score(images, persons) -> float``: for each ethnicity the share of
    ``images`` (reconstructions of ``persons``) judged the person's gender and the share
    judged the person's ethnicity, averaged over both attributes and all ethnicities (each
    ethnicity weighs the same; one absent from ``persons`` is skipped).
    """

    def score(images: np.ndarray, persons: Any) -> float:
        labels = judge_labels(judge, images)
        said = {a: labels[a].fillna("").to_numpy(dtype=object) for a in ("gender", "ethnicity")}
        gender = np.asarray(GENDERS)[persons.gender]
        ethnicity = np.asarray(ETHNICITIES)[persons.ethnicity]
        shares = []
        for group in ETHNICITIES:
            m = ethnicity == group
            if m.any():
                shares += [np.mean(said["gender"][m] == gender[m])]
                shares += [np.mean(said["ethnicity"][m] == ethnicity[m])]
        return float(np.mean(shares))

    return score


def command_line(settings: Any) -> str:
    """Return the command that makes the face side of ``settings``, every setting spelled out."""
    flags = " ".join(f"{_flag(n)} {getattr(settings, n)}" for n in FIELDS)
    return f"s2f-audit face-side --seed {settings.seed} {flags} --out DIR"


def run(args: argparse.Namespace) -> int:
    """Run the command."""
    import torch  # local: keeps torch out of the CLI import

    from audit.judges import shipped_judge
    from s2f_model import FaceSideSettings, pretrain_face_side, save_face_side

    if args.device != "cpu":
        raise CLIError("face-side runs on the CPU in one thread (its bits depend on it)")
    given = {n: getattr(args, n) for n in FIELDS if getattr(args, n) is not None}
    settings = FaceSideSettings(seed=args.seed, **given)
    judge = shipped_judge()
    if judge is None and settings.decoder_candidates > 1:
        raise CLIError("no shipped bias-lab judge to score decoder candidates with")
    torch.set_num_threads(1)  # same bits on every run: one thread, fixed reduction order
    result = pretrain_face_side(settings, score=judged_agreement(judge) if judge else None)
    card = {**result.card(), "command": command_line(settings)}
    if result.choice is not None:
        card["decoder_choice"]["score"] = SCORE
    path = save_face_side(result.model, args.out, card)
    print(f"wrote {path} (CPU seconds {card['cpu_seconds']})")
    if args.keep_candidates and result.choice is not None:
        _save_candidates(result, Path(args.out), card)
    return 0


def _save_candidates(result: Any, out: Path, card: dict[str, Any]) -> None:
    """Write each decoder candidate (with the shared encoder) to ``out/candidate-K``."""
    from s2f_model import save_face_side

    decoder = result.model.face_decoder
    kept = {k: v.clone() for k, v in decoder.state_dict().items()}
    choice = result.choice
    for k, state in enumerate(choice.states):
        decoder.load_state_dict(state)
        record = {**card, "candidate": k, "candidate_score": choice.scores[k]}
        save_face_side(result.model, out / f"candidate-{k}", record)
    decoder.load_state_dict(kept)
