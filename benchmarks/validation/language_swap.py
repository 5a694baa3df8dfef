"""Language swap: coverage, family-wise false flags and power of the paired design (issue 15).

Works at the evaluation-table level (training a model per replicate is far too slow on two
shared cores). Each replicate builds the counterfactual block of a bias-lab evaluation draw:
``per_cell`` bilingual speakers for every (ethnicity, first language) pair of the
``representative`` preset (7 pairs), gender and age balanced, each speaker with
``utterances`` utterances in the first language and as many in English. Two outcomes per
utterance, both with a speaker random effect much larger than the language effect (as in
real audits, where speakers differ far more than one speaker's two languages):

- the judge's ``P(judged Asian)``: ``clip(b_s + shift * [first language] + e, 0, 1)`` with
  ``b_s ~ N(0.4, 0.12)``, ``e ~ N(0, 0.05)``;
- ``cos_sim``: ``c_s + shift * [first language] + e`` with ``c_s ~ N(0.5, 0.08)``,
  ``e ~ N(0, 0.04)``.

Studies (``audit.language_swap_table``, expanded-percentile speaker bootstrap, Holm over the
whole table):

- ``coverage``: a shift ``--shift`` planted in every cell and outcome; the share of the
  95 % intervals of the ``ethnicity x first_language`` rows that contain it;
- ``null``: no shift anywhere; the share of replicates with any significant row (the
  family-wise false-flag rate of the table);
- ``power``: shift ``--shift`` in the Asian x zh cell only (P(judged Asian) and cos_sim); the
  share of replicates in which its ``ethnicity x first_language`` row is flagged (Holm), and
  for comparison the unadjusted power of the paired test and of the between-speaker design
  the audit had before: Welch's t-test on speaker means of ``per_cell`` speakers heard only in
  zh against ``per_cell`` other speakers heard only in English (same outcome model), at the
  same total number of speakers (``per_cell / 2`` per language) and at ``per_cell`` per
  language (twice the speakers).

Run ``python benchmarks/validation/language_swap.py --study coverage --replicates 200``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np
import pandas as pd
from scipy import stats

from audit import language_swap_table
from s2f_data.biaslab import PopulationSpec

__all__ = ["main", "simulate_block"]

_GENDERS = ("female", "male")
_AGES = ("18-29", "30-44", "45-59", "60+")


def _speaker_rows(
    rng: np.random.Generator,
    sid: str,
    labels: dict[str, str],
    languages: list[str],
    shift: float,
    utterances: int,
) -> list[dict[str, object]]:
    base_p, base_c = rng.normal(0.4, 0.12), rng.normal(0.5, 0.08)
    rows = []
    for lang in languages:
        delta = shift if lang != "en" else 0.0
        for j in range(utterances):
            p = float(np.clip(base_p + delta + rng.normal(0, 0.05), 0.0, 1.0))
            rows.append(
                {
                    "utterance_id": f"{sid}-{lang}-{j}",
                    "speaker_id": sid,
                    "language": lang,
                    **labels,
                    "recon_ethnicity_p_Asian": p,
                    "cos_sim": base_c + delta + rng.normal(0, 0.04),
                }
            )
    return rows


def simulate_block(
    rng: np.random.Generator,
    per_cell: int,
    utterances: int,
    shifts: dict[tuple[str, str], float],
) -> pd.DataFrame:
    """Evaluation table of the bilingual block: ``shifts[(ethnicity, L1)]`` planted (else 0)."""
    rows = []
    for eth, lang in PopulationSpec.preset("representative").bilingual_cells():
        for j in range(per_cell):
            labels = {"ethnicity": eth, "gender": _GENDERS[j % 2], "age_group": _AGES[(j // 2) % 4]}
            rows += _speaker_rows(
                rng,
                f"{eth}-{lang}-{j}",
                labels,
                [lang, "en"],
                shifts.get((eth, lang), 0.0),
                utterances,
            )
    return pd.DataFrame(rows)


def _between_p(rng: np.random.Generator, n: int, utterances: int, shift: float) -> float:
    """Welch p-value, speaker means: n speakers heard in zh vs n others heard in English."""
    means = []
    for lang in ("zh", "en"):
        vals = []
        for j in range(n):
            rows = _speaker_rows(rng, f"b{lang}{j}", {}, [lang], shift, 2 * utterances)
            vals.append(np.mean([r["recon_ethnicity_p_Asian"] for r in rows]))
        means.append(vals)
    return float(stats.ttest_ind(means[0], means[1], equal_var=False).pvalue)


def _cell(out: pd.DataFrame) -> pd.DataFrame:
    return out[out["grouping"] == "ethnicity x first_language"]


def main(argv: list[str] | None = None) -> int:
    """Run one study and print a JSON summary."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--study", choices=("coverage", "null", "power"), required=True)
    ap.add_argument("--replicates", type=int, default=200)
    ap.add_argument("--per-cell", type=int, default=20)
    ap.add_argument("--utterances", type=int, default=2)
    ap.add_argument("--shift", type=float, default=0.05)
    ap.add_argument("--n-boot", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    start = time.perf_counter()
    cells = PopulationSpec.preset("representative").bilingual_cells()
    hits, total, any_flag, flagged, paired_raw, between_same, between_double = 0, 0, 0, 0, 0, 0, 0
    for r in range(args.replicates):
        rng = np.random.default_rng(np.random.SeedSequence([args.seed, r]))
        if args.study == "coverage":
            shifts = dict.fromkeys(cells, args.shift)
        elif args.study == "power":
            shifts = {("Asian", "zh"): args.shift}
        else:
            shifts = {}
        table = simulate_block(rng, args.per_cell, args.utterances, shifts)
        out = language_swap_table(table, n_boot=args.n_boot, random_state=r)
        if args.study == "coverage":
            rows = _cell(out)
            hits += int(((rows["ci_low"] <= args.shift) & (rows["ci_high"] >= args.shift)).sum())
            total += len(rows)
        elif args.study == "null":
            any_flag += int(out["significant"].any())
            total += len(out)
        else:
            row = _cell(out)
            row = row[
                (row["group"] == "Asian x zh x zh-en")
                & (row["outcome"] == "p_judged_ethnicity=Asian")
            ].iloc[0]
            flagged += int(row["significant"])
            paired_raw += int(row["p_value"] < 0.05)
            between_same += int(
                _between_p(rng, args.per_cell // 2, args.utterances, args.shift) < 0.05
            )
            between_double += int(
                _between_p(rng, args.per_cell, args.utterances, args.shift) < 0.05
            )
    n = args.replicates
    result: dict[str, object] = {
        "study": args.study,
        "replicates": n,
        "per_cell": args.per_cell,
        "utterances": args.utterances,
        "shift": args.shift,
        "n_boot": args.n_boot,
        "seed": args.seed,
    }
    if args.study == "coverage":
        result.update(
            intervals=total, coverage=hits / total, mc_se=float(np.sqrt(0.95 * 0.05 / total))
        )
    elif args.study == "null":
        result.update(
            rows_per_table=total // n,
            familywise_false_flag_rate=any_flag / n,
            mc_se=float(np.sqrt(0.05 * 0.95 / n)),
        )
    else:
        result.update(
            power_paired_holm=flagged / n,
            power_paired_unadjusted=paired_raw / n,
            power_between_same_speakers=between_same / n,
            power_between_twice_the_speakers=between_double / n,
        )
    result["seconds"] = round(time.perf_counter() - start, 1)
    json.dump(result, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
