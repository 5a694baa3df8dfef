"""Simulation study of the arm comparison (`audit.compare_arms`): seeds and speakers.

Two arms (training recipes) of ``k`` checkpoints each (training seeds) are audited on the
same evaluation rows. Utterances are nested in speakers as in ``simulate.py`` (a speaker
effect ``b ~ N(0, speaker_sd^2)`` on the logit of "the judge agrees", shared by every
checkpoint: they are audited on the same speakers). Every checkpoint adds its own seed
effect ``delta`` on the logit, ``N(0, seed_sd^2)``, of which a share ``seed_group_share``
differs by group and the rest moves all groups together (a retrain that is better or worse
everywhere). Checkpoints share the uniform draw of an utterance with probability ``share``
(models trained on the same data agree on most utterances).

The true rate of an arm in a group is the population mean over speakers and seeds,
``E[sigmoid(c + b + delta)]``; the conditional rate ``c`` that gives the requested rate is
solved with ``simulate.conditional_rate`` at the combined SD ``sqrt(speaker_sd^2 +
seed_sd^2)``. Arm A has rate ``--rate`` everywhere, arm B adds ``--gaps`` per group.

For each replicate the study runs `audit.compare_arms` on all checkpoints and
`audit.compare_evaluations` on the first checkpoint of each arm (the single-checkpoint
comparison this corrects) and records coverage of the true arm difference and flags.

Run ``python benchmarks/validation/arms.py --help``; results are recorded in
``docs/validation.md``.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from simulate import _logit, _sigmoid, conditional_rate

from audit import compare_arms, compare_evaluations

__all__ = ["ArmDesign", "arm_tables", "arms_study", "main"]


@dataclass(frozen=True)
class ArmDesign:
    """Two arms of ``k`` checkpoints on one simulated evaluation population.

    Attributes
    ----------
    speakers : tuple of int
        Speakers per group.
    gaps : tuple of float
        True rate of arm B minus arm A, per group.
    rate : float
        True rate of arm A in every group.
    k : int
        Checkpoints (training seeds) per arm.
    seed_sd : float
        SD of a checkpoint's seed effect on the logit.
    seed_group_share : float
        Share of the seed variance that differs between groups.
    speaker_sd : float
        SD of the speaker effect on the logit.
    utterances_per_speaker : int
        Utterances of every speaker.
    share : float
        Probability that two checkpoints share an utterance's uniform draw.
    """

    speakers: tuple[int, ...] = (50, 50, 50, 50)
    gaps: tuple[float, ...] = (0.0, 0.0, 0.0, -0.10)
    rate: float = 0.7
    k: int = 3
    seed_sd: float = 0.4
    seed_group_share: float = 0.5
    speaker_sd: float = 1.0
    utterances_per_speaker: int = 4
    share: float = 0.7

    def __post_init__(self) -> None:
        if len(self.speakers) != len(self.gaps):
            raise ValueError(f"{len(self.speakers)} groups of speakers but {len(self.gaps)} gaps")
        if self.k < 1:
            raise ValueError(f"k must be >= 1, got {self.k}")

    @property
    def names(self) -> list[str]:
        """Group names ``g0``, ``g1``, ..."""
        return [f"g{i}" for i in range(len(self.speakers))]

    def true_differences(self) -> np.ndarray:
        """True B - A overall (utterance-weighted) and per group."""
        gaps = np.asarray(self.gaps, dtype=float)
        return np.concatenate([[np.average(gaps, weights=self.speakers)], gaps])


def _checkpoint(
    design: ArmDesign,
    cond: np.ndarray,
    rows: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    rng: np.random.Generator,
) -> np.ndarray:
    """0/1 outcomes of one checkpoint: its own seed effect, partly its own draws."""
    grp, effect, shared_draw, _ = rows
    n_groups = len(design.speakers)
    common = rng.normal()
    own = rng.normal(size=n_groups)
    w = design.seed_group_share
    delta = design.seed_sd * (np.sqrt(1 - w) * common + np.sqrt(w) * own)
    draw = np.where(rng.random(len(grp)) < design.share, shared_draw, rng.random(len(grp)))
    return (draw < _sigmoid(_logit(cond[grp]) + effect + delta[grp])).astype(np.int8)


def arm_tables(
    design: ArmDesign, rng: np.random.Generator
) -> tuple[list[pd.DataFrame], list[pd.DataFrame]]:
    """Evaluation tables of arm A's and arm B's checkpoints (the same rows)."""
    u = design.utterances_per_speaker
    n_spk = int(sum(design.speakers))
    spk_group = np.repeat(np.arange(len(design.speakers)), design.speakers)
    spk = np.repeat(np.arange(n_spk), u)
    grp = spk_group[spk]
    effect = rng.normal(0.0, design.speaker_sd, n_spk)[spk]
    rows = (grp, effect, rng.random(len(spk)), spk)
    total_sd = float(np.hypot(design.speaker_sd, design.seed_sd))
    cond_a = np.array([conditional_rate(design.rate, total_sd)] * len(design.speakers))
    cond_b = np.array([conditional_rate(design.rate + g, total_sd) for g in design.gaps])
    frame = pd.DataFrame(
        {
            "utterance_id": [f"u{i:06d}" for i in range(len(spk))],
            "speaker_id": [f"s{s:05d}" for s in spk],
            "group": np.asarray(design.names, dtype=object)[grp],
            "true_gender": "female",
        }
    )
    arms: tuple[list[pd.DataFrame], list[pd.DataFrame]] = ([], [])
    for cond, out in ((cond_a, arms[0]), (cond_b, arms[1])):
        for _ in range(design.k):
            correct = _checkpoint(design, cond, rows, rng)
            out.append(frame.assign(recon_gender=np.where(correct == 1, "female", "male")))
    return arms


def _agreement_rows(table: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    rows = table[(table["metric"] == "agreement") & (table["target"] == "gender")].copy()
    rows.index = [g.get("group", "all") for g in rows["group"]]
    return rows.loc[["all", *names]]


def _covers(rows: pd.DataFrame, truth: np.ndarray, low: str, high: str) -> np.ndarray:
    return ((rows[low] <= truth) & (truth <= rows[high])).to_numpy()


def arms_study(design: ArmDesign, replicates: int, seed: int, n_boot: int = 1000) -> pd.DataFrame:
    """Coverage and flags of the arm comparison and of the single-checkpoint comparison.

    Returns
    -------
    DataFrame
        One row per group plus ``all``: the true difference; coverage of the arm interval
        (with seed variance), of its speaker-only interval, and of the single-checkpoint
        comparison's interval (which estimates the difference of two checkpoints, so its
        target is the arm difference too); flag rates (``significant``) of the arm and the
        single-checkpoint comparison; mean interval widths. ``attrs`` holds the family-wise
        false-flag rates (any group whose true difference is 0 flagged) of both.
    """
    rng = np.random.default_rng(seed)
    names = design.names
    truth = design.true_differences()
    null = np.isclose(truth, 0.0)
    keys = (
        "cover_arms",
        "cover_speakers_only",
        "cover_single",
        "flag_arms",
        "flag_single",
        "width_arms",
        "width_single",
    )
    acc = {k: np.zeros(len(truth)) for k in keys}
    any_false = {"arms": 0, "single": 0}
    options = {"groupings": ["group"], "n_boot": n_boot}
    for _ in range(replicates):
        tables_a, tables_b = arm_tables(design, rng)
        options["random_state"] = int(rng.integers(2**31))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            arms = _agreement_rows(compare_arms(tables_a, tables_b, **options)["paired"], names)
            one = compare_evaluations(tables_a[0], tables_b[0], **options)["paired"]
        single = _agreement_rows(one, names)
        acc["cover_arms"] += _covers(arms, truth, "diff_ci_low", "diff_ci_high")
        acc["cover_speakers_only"] += _covers(arms, truth, "speaker_ci_low", "speaker_ci_high")
        acc["cover_single"] += _covers(single, truth, "diff_ci_low", "diff_ci_high")
        acc["width_arms"] += (arms["diff_ci_high"] - arms["diff_ci_low"]).to_numpy()
        acc["width_single"] += (single["diff_ci_high"] - single["diff_ci_low"]).to_numpy()
        for name, rows in (("arms", arms), ("single", single)):
            flagged = rows["flags"].map(lambda f: "significant" in f).to_numpy()
            acc[f"flag_{name}"] += flagged
            any_false[name] += bool((flagged & null).any())
    res = pd.DataFrame({"group": ["all", *names], "true_difference": truth})
    for key in keys:
        res[key] = acc[key] / replicates
    res.attrs["family_false_flags_arms"] = any_false["arms"] / replicates
    res.attrs["family_false_flags_single_checkpoint"] = any_false["single"] / replicates
    res.attrs["replicates"] = replicates
    return res


def _floats(text: str) -> tuple[float, ...]:
    return tuple(float(x) for x in text.split(","))


def build_parser() -> argparse.ArgumentParser:
    """Command-line options of the study."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--replicates", type=int, default=200)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-boot", type=int, default=1000)
    p.add_argument("--k", type=int, default=3, help="checkpoints (seeds) per arm")
    p.add_argument("--speakers", default="50,50,50,50", help="speakers per group")
    p.add_argument(
        "--gaps",
        type=_floats,
        default=(0.0, 0.0, 0.0, -0.10),
        help="true B - A per group, comma-separated",
    )
    p.add_argument("--rate", type=float, default=0.7, help="true rate of arm A")
    p.add_argument("--seed-sd", type=float, default=0.4, help="SD of the seed effect (logit)")
    p.add_argument("--seed-group-share", type=float, default=0.5)
    p.add_argument("--speaker-sd", type=float, default=1.0)
    p.add_argument("--share", type=float, default=0.7)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run the study and print its table."""
    args = build_parser().parse_args(argv)
    design = ArmDesign(
        speakers=tuple(int(x) for x in args.speakers.split(",")),
        gaps=args.gaps,
        rate=args.rate,
        k=args.k,
        seed_sd=args.seed_sd,
        seed_group_share=args.seed_group_share,
        speaker_sd=args.speaker_sd,
        share=args.share,
    )
    start = time.perf_counter()
    result = arms_study(design, args.replicates, args.seed, args.n_boot)
    print(f"# {' '.join(sys.argv)}")
    print(f"# design: {design}")
    print(result.round(4).to_string(index=False))
    for key, value in result.attrs.items():
        print(f"# {key}: {value:.4g}" if isinstance(value, float) else f"# {key}: {value}")
    print(f"# {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
