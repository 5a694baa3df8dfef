"""Simulation study of the audit's intervals and tests on data with known truth.

Every replicate is an evaluation table of utterances nested in speakers: a speaker random
effect ``b ~ N(0, speaker_sd^2)`` on the logit of "the judge agrees" makes the utterances of
one speaker correlated. The true rate of a group is the population (marginal) mean
``E[sigmoid(logit(p) + b)]``, computed by Gauss-Hermite quadrature. The audit's own engine
(`audit.metric_tables` with `audit.SpeakerBootstrap`, the machinery behind
`audit.run_audit_tables`; `audit.compare_evaluations` for two models) produces the intervals
and flags, and the study counts how often they cover the truth or flag a gap.

A plain row bootstrap (percentile interval, utterances resampled within each group, speakers
ignored) is implemented here as the negative control: on speaker-correlated data it must
under-cover.

Studies (``--study``):

``coverage``
    Coverage of the 95% intervals of group rates and of differences to the reference
    (``overall`` and a named group), per group size, for the expanded interval (default),
    the audit's plain percentile speaker bootstrap and the row bootstrap.
``null``
    Family-wise false-flag rate with Holm when no group differs.
``power``
    Power to flag a 10-point gap between two groups of ``n`` utterances each.
``paired``
    Paired two-model comparison: coverage of the per-group difference, false flags when the
    models are equal, power when model B is 10 points worse in one group.

Run ``python benchmarks/validation/simulate.py --help``; results and commands are recorded
in ``docs/validation.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize, stats

from audit import compare_evaluations
from audit.stats import SpeakerBootstrap, build_groupings, metric_tables, rate_spec

__all__ = [
    "Design",
    "conditional_rate",
    "coverage_study",
    "main",
    "marginal_rate",
    "null_study",
    "paired_study",
    "power_study",
    "row_bootstrap_interval",
    "simulate_table",
]

_GH_NODES, _GH_WEIGHTS = np.polynomial.hermite_e.hermegauss(80)


def _logit(p: np.ndarray | float) -> np.ndarray:
    p = np.asarray(p, dtype=float)
    return np.log(p / (1 - p))


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


def marginal_rate(p: float, speaker_sd: float) -> float:
    """Population rate ``E[sigmoid(logit(p) + sd Z)]``, ``Z ~ N(0, 1)``.

    Examples
    --------
    >>> round(marginal_rate(0.5, 1.0), 6), round(marginal_rate(0.8, 0.0), 6)
    (0.5, 0.8)
    """
    vals = _sigmoid(_logit(p) + speaker_sd * _GH_NODES)
    return float(np.sum(_GH_WEIGHTS * vals) / np.sqrt(2 * np.pi))


def conditional_rate(rate: float, speaker_sd: float) -> float:
    """The ``p`` whose `marginal_rate` is ``rate`` (inverse of `marginal_rate`).

    Examples
    --------
    >>> round(marginal_rate(conditional_rate(0.8, 1.0), 1.0), 6)
    0.8
    """
    if not 0 < rate < 1:
        raise ValueError(f"rate must be in (0, 1), got {rate!r}")
    return float(
        optimize.brentq(lambda p: marginal_rate(p, speaker_sd) - rate, 1e-9, 1 - 1e-9, xtol=1e-12)
    )


@dataclass(frozen=True)
class Design:
    """Groups of one simulated evaluation table.

    Attributes
    ----------
    sizes : tuple of int
        Utterances per group (multiples of ``utterances_per_speaker``).
    rates : tuple of float
        True (population, marginal) rate of each group; the conditional rate at speaker
        effect 0 is derived with `conditional_rate`.
    utterances_per_speaker : int
        Utterances of every speaker.
    speaker_sd : float
        Standard deviation of the speaker effect on the logit.
    """

    sizes: tuple[int, ...]
    rates: tuple[float, ...]
    utterances_per_speaker: int = 4
    speaker_sd: float = 1.0
    names: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if len(self.sizes) != len(self.rates):
            raise ValueError(f"{len(self.sizes)} sizes but {len(self.rates)} rates")
        for n in self.sizes:
            if n < self.utterances_per_speaker or n % self.utterances_per_speaker:
                raise ValueError(
                    f"group size {n} is not a positive multiple of "
                    f"utterances_per_speaker={self.utterances_per_speaker}"
                )
        if not self.names:
            width = len(str(len(self.sizes) - 1))
            object.__setattr__(
                self, "names", tuple(f"g{i:0{width}d}" for i in range(len(self.sizes)))
            )

    def true_rates(self) -> np.ndarray:
        """True (marginal) rate of every group."""
        return np.asarray(self.rates, dtype=float)

    def conditional(self) -> np.ndarray:
        """Rate of every group at speaker effect 0."""
        return np.array([conditional_rate(p, self.speaker_sd) for p in self.rates])

    def true_overall(self) -> float:
        """Utterance-weighted mean of the group rates (the ``overall`` reference)."""
        return float(np.average(self.true_rates(), weights=self.sizes))


def simulate_table(
    design: Design, rng: np.random.Generator, *, latent: bool = False
) -> pd.DataFrame | tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Draw one evaluation table of `design`.

    Columns ``utterance_id``, ``speaker_id``, ``group``, ``correct`` (0/1), and the judge
    columns the audit reads: ``true_gender`` (always ``female``) and ``recon_gender``
    (``female`` when correct), so that the audit's ``agreement`` equals the rate.
    With ``latent=True`` also returns the speaker effect per row and the uniform draw per
    row (used to build a second, paired model).
    """
    u = design.utterances_per_speaker
    parts_spk, parts_grp, parts_p = [], [], []
    first = 0
    for g, (n, p) in enumerate(zip(design.sizes, design.conditional(), strict=True)):
        n_spk = n // u
        parts_spk.append(np.repeat(np.arange(first, first + n_spk), u))
        parts_grp.append(np.full(n, g))
        parts_p.append(np.full(n, p))
        first += n_spk
    spk = np.concatenate(parts_spk)
    grp = np.concatenate(parts_grp)
    p = np.concatenate(parts_p)
    effect = rng.normal(0.0, design.speaker_sd, first)[spk]
    draw = rng.random(len(spk))
    correct = (draw < _sigmoid(_logit(p) + effect)).astype(np.int8)
    table = pd.DataFrame(
        {
            "utterance_id": [f"u{i:06d}" for i in range(len(spk))],
            "speaker_id": [f"s{s:05d}" for s in spk],
            "group": np.asarray(design.names, dtype=object)[grp],
            "correct": correct,
            "true_gender": "female",
            "recon_gender": np.where(correct == 1, "female", "male"),
        }
    )
    if latent:
        return table, effect, draw
    return table


def audit_rates(
    table: pd.DataFrame,
    *,
    n_boot: int,
    seed: int,
    reference: str | dict = "overall",
    ci_method: str = "expanded",
    min_group_size: int = 10,
) -> pd.DataFrame:
    """The audit's records of the agreement rate per group (engine of `run_audit_tables`).

    Returns the metric records of the ``group`` grouping (the overall row dropped), indexed
    by group name.
    """
    correct = table["correct"].to_numpy(float)
    spec = rate_spec("agreement", "gender", correct, np.ones(len(table), dtype=bool))
    groupings = build_groupings(table, ["group"], 1)
    boot = SpeakerBootstrap(table["speaker_id"].to_numpy(), n_boot, seed)
    metrics, _ = metric_tables(
        table,
        [spec],
        groupings,
        boot,
        reference=reference,
        ci_method=ci_method,
        min_group_size=min_group_size,
        correction="holm",
    )
    rows = metrics[metrics["attribute"] == "group"].copy()
    rows.index = [g["group"] for g in rows["group"]]
    return rows


def row_bootstrap_interval(
    correct: np.ndarray,
    groups: np.ndarray,
    n_groups: int,
    n_boot: int,
    rng: np.random.Generator,
    level: float = 0.95,
) -> tuple[np.ndarray, np.ndarray]:
    """Negative control: percentile interval of a plain row bootstrap, stratified by group.

    Utterances are resampled with replacement inside their group, ignoring speakers. The
    replicate mean of ``n`` Bernoulli rows is ``Binomial(n, p_hat) / n``, drawn directly.

    Returns
    -------
    low, high : ndarray, shape (n_groups,)
    """
    n = np.bincount(groups, minlength=n_groups)
    k = np.bincount(groups, weights=correct, minlength=n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        p_hat = np.where(n > 0, k / n, np.nan)
    reps = rng.binomial(n, np.nan_to_num(p_hat), size=(n_boot, n_groups)) / np.maximum(n, 1)
    a = (1 - level) / 2
    return np.quantile(reps, a, axis=0), np.quantile(reps, 1 - a, axis=0)


def _binom_se(k: int, n: int) -> float:
    p = k / n if n else float("nan")
    return float(np.sqrt(p * (1 - p) / n)) if n else float("nan")


def coverage_study(
    design: Design,
    replicates: int,
    seed: int,
    n_boot: int = 1000,
    level: float = 0.95,
    named_reference: str | None = None,
) -> pd.DataFrame:
    """Coverage of group-rate and difference intervals per group.

    Returns
    -------
    DataFrame
        One row per group: size, speakers, true rate, coverage of the expanded rate CI,
        of the audit's percentile CI, of the row bootstrap (negative control), of the
        difference CIs against ``overall`` and against ``named_reference`` (default: the
        first group), and the rate of misses below / above for the expanded rate CI.
    """
    rng = np.random.default_rng(seed)
    truth = design.true_rates()
    overall = design.true_overall()
    names = list(design.names)
    ref_name = named_reference or names[0]
    ref_idx = names.index(ref_name)
    keys = [
        "rate_expanded",
        "rate_percentile",
        "rate_row_bootstrap",
        "diff_overall",
        "diff_named",
        "miss_low",
        "miss_high",
    ]
    hits = {k: np.zeros(len(names)) for k in keys}
    width = np.zeros(len(names))
    for _ in range(replicates):
        table = simulate_table(design, rng)
        boot_seed = int(rng.integers(2**31))
        exp = audit_rates(table, n_boot=n_boot, seed=boot_seed).loc[names]
        pct = audit_rates(table, n_boot=n_boot, seed=boot_seed, ci_method="percentile").loc[names]
        named = audit_rates(table, n_boot=n_boot, seed=boot_seed, reference={"group": ref_name})
        named = named.loc[names]
        codes = pd.Categorical(table["group"], categories=names).codes
        lo, hi = row_bootstrap_interval(
            table["correct"].to_numpy(float), codes, len(names), n_boot, rng, level
        )
        hits["rate_expanded"] += (exp["ci_low"] <= truth) & (truth <= exp["ci_high"])
        hits["miss_low"] += exp["ci_high"].to_numpy() < truth
        hits["miss_high"] += exp["ci_low"].to_numpy() > truth
        hits["rate_percentile"] += (pct["ci_low"] <= truth) & (truth <= pct["ci_high"])
        hits["rate_row_bootstrap"] += (lo <= truth) & (truth <= hi)
        d_true = truth - overall
        hits["diff_overall"] += (exp["diff_ci_low"] <= d_true) & (d_true <= exp["diff_ci_high"])
        d_named = truth - truth[ref_idx]
        hits["diff_named"] += (named["diff_ci_low"] <= d_named) & (d_named <= named["diff_ci_high"])
        width += (exp["ci_high"] - exp["ci_low"]).to_numpy()
    out = pd.DataFrame(
        {
            "group": names,
            "n_utterances": design.sizes,
            "n_speakers": [n // design.utterances_per_speaker for n in design.sizes],
            "true_rate": truth,
            **{k: np.asarray(v, dtype=float) / replicates for k, v in hits.items()},
            "mean_width": width / replicates,
        }
    )
    out.loc[ref_idx, "diff_named"] = np.nan  # the reference itself has no difference
    out.attrs["named_reference"] = ref_name
    out.attrs["replicates"] = replicates
    out.attrs["mc_se_at_95"] = float(np.sqrt(0.95 * 0.05 / replicates))
    return out


def null_study(
    design: Design,
    replicates: int,
    seed: int,
    n_boot: int = 1000,
    reference: str | dict = "overall",
    level: float = 0.95,
) -> dict:
    """Family-wise false-flag rate (any group flagged ``significant``) under equal rates.

    Also the share of tested rows (those in the Holm family) whose raw p-value is below
    ``1 - level``: about ``1 - level`` for a calibrated test.
    """
    rng = np.random.default_rng(seed)
    any_flag = 0
    flags = 0
    raw_any = 0
    raw_rows = 0
    tested = 0
    for _ in range(replicates):
        table = simulate_table(design, rng)
        rows = audit_rates(table, n_boot=n_boot, seed=int(rng.integers(2**31)), reference=reference)
        sig = rows["flags"].map(lambda f: "significant" in f).to_numpy()
        eligible = rows["p_adjusted"].notna().to_numpy()
        tested += int(eligible.sum())
        flags += int(sig.sum())
        any_flag += bool(sig.any())
        raw_any += bool((rows["p_value"][eligible] < 1 - level).any())
        raw_rows += int((rows["p_value"][eligible] < 1 - level).sum())
    return {
        "replicates": replicates,
        "groups_tested_per_replicate": tested / replicates,
        "familywise_false_flag_rate": any_flag / replicates,
        "mc_se": _binom_se(any_flag, replicates),
        "false_flags_per_replicate": flags / replicates,
        "uncorrected_any_p_below_alpha": raw_any / replicates,
        "raw_p_below_alpha_per_row": raw_rows / max(tested, 1),
    }


def power_study(
    design: Design,
    target: str,
    replicates: int,
    seed: int,
    n_boot: int = 1000,
    reference: str | dict | None = None,
) -> dict:
    """Power to flag group ``target`` (its rate differs); also counts other false flags.

    The oracle power is that of a Wald test of the same difference using the true standard
    deviation of the estimate (its spread over the replicates): the best any test at this
    level can do with these data, for comparison. With ``reference="best"`` the true
    difference is to the truly best group.
    """
    rng = np.random.default_rng(seed)
    ref = reference if reference is not None else {"group": design.names[0]}
    flagged = 0
    others = 0
    diffs = []
    for _ in range(replicates):
        table = simulate_table(design, rng)
        rows = audit_rates(table, n_boot=n_boot, seed=int(rng.integers(2**31)), reference=ref)
        sig = rows["flags"].map(lambda f: "significant" in f)
        flagged += bool(sig[target])
        others += bool(sig.drop(target).any())
        diffs.append(float(rows.loc[target, "difference"]))
    diffs_arr = np.array(diffs)
    truth = design.true_rates()
    t_idx = list(design.names).index(target)
    if ref == "overall":
        true_diff = truth[t_idx] - design.true_overall()
    elif ref == "best":
        true_diff = truth[t_idx] - truth.max()
    else:
        true_diff = truth[t_idx] - truth[list(design.names).index(ref["group"])]
    z = stats.norm.ppf(0.975)
    sd = float(diffs_arr.std(ddof=1))
    shift = abs(true_diff) / sd
    oracle = float(stats.norm.sf(z - shift) + stats.norm.cdf(-z - shift))
    return {
        "replicates": replicates,
        "true_difference": float(true_diff),
        "power": flagged / replicates,
        "mc_se": _binom_se(flagged, replicates),
        "other_groups_flagged": others / replicates,
        "sd_of_difference": sd,
        "oracle_wald_power": oracle,
    }


def paired_tables(
    design_a: Design, gaps: Sequence[float], rng: np.random.Generator, share: float = 0.7
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Two models on the same rows.

    B shares A's speaker effect and, for a fraction ``share`` of the utterances, A's
    uniform draw; its true rate in every group is A's plus ``gaps``.
    """
    a, effect, draw = simulate_table(design_a, rng, latent=True)
    sd = design_a.speaker_sd
    cond_b = [conditional_rate(p + gap, sd) for p, gap in zip(design_a.rates, gaps, strict=True)]
    p_b = np.repeat(cond_b, design_a.sizes)
    own = rng.random(len(a))
    draw_b = np.where(rng.random(len(a)) < share, draw, own)
    correct_b = (draw_b < _sigmoid(_logit(p_b) + effect)).astype(np.int8)
    b = a.copy()
    b["correct"] = correct_b
    b["recon_gender"] = np.where(correct_b == 1, "female", "male")
    return a, b


def paired_study(
    design: Design,
    gaps: Sequence[float],
    replicates: int,
    seed: int,
    n_boot: int = 1000,
    level: float = 0.95,
) -> pd.DataFrame:
    """Paired comparison (`audit.compare_evaluations`): coverage and flag rate per group.

    Returns
    -------
    DataFrame
        One row per group plus ``overall``: true difference B - A, coverage of its interval,
        the share of replicates flagging it ``significant`` (power where the gap is non-zero,
        false flags where it is 0), and ``any_false_flag``: the family-wise rate of flagging
        any group whose true difference is 0.
    """
    rng = np.random.default_rng(seed)
    names = ["all", *design.names]
    truth_a = design.true_rates()
    design_b = Design(
        design.sizes,
        tuple(p + g for p, g in zip(design.rates, gaps, strict=True)),
        design.utterances_per_speaker,
        design.speaker_sd,
        design.names,
    )
    truth_b = design_b.true_rates()
    d_true = np.concatenate([[design_b.true_overall() - design.true_overall()], truth_b - truth_a])
    null = np.isclose(d_true, 0.0)
    cover = np.zeros(len(names))
    sig = np.zeros(len(names))
    any_false = 0
    for _ in range(replicates):
        a, b = paired_tables(design, gaps, rng)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = compare_evaluations(
                a,
                b,
                groupings=["group"],
                n_boot=n_boot,
                ci_level=level,
                random_state=int(rng.integers(2**31)),
            )["paired"]
        rows = out[(out["metric"] == "agreement")].copy()
        rows.index = [g.get("group", "all") for g in rows["group"]]
        rows = rows.loc[names]
        cover += ((rows["diff_ci_low"] <= d_true) & (d_true <= rows["diff_ci_high"])).to_numpy()
        s = rows["flags"].map(lambda f: "significant" in f).to_numpy()
        sig += s
        any_false += bool((s & null).any())
    res = pd.DataFrame(
        {
            "group": names,
            "n_utterances": [sum(design.sizes), *design.sizes],
            "true_difference": d_true,
            "coverage": cover / replicates,
            "flag_rate": sig / replicates,
        }
    )
    res.attrs["any_false_flag"] = any_false / replicates
    res.attrs["replicates"] = replicates
    return res


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split(","))


def _floats(text: str) -> tuple[float, ...]:
    return tuple(float(x) for x in text.split(","))


def _expand(values: tuple, n: int, name: str) -> tuple:
    if len(values) == 1:
        return values * n
    if len(values) != n:
        raise SystemExit(f"--{name} needs 1 or {n} values, got {len(values)}")
    return values


def build_parser() -> argparse.ArgumentParser:
    """Command-line options of the study."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--study", choices=("coverage", "null", "power", "paired"), required=True)
    p.add_argument("--replicates", type=int, default=200)
    p.add_argument(
        "--sizes",
        type=_ints,
        default=(20, 40, 100, 200, 500, 2000),
        help="utterances per group, comma-separated",
    )
    p.add_argument(
        "--rates",
        type=_floats,
        default=(0.7,),
        help="conditional rate per group (one value = all groups)",
    )
    p.add_argument(
        "--gap",
        type=float,
        default=-0.10,
        help="power/paired: gap added to the last group (power) or to model B in "
        "the last group (paired); 0 for the paired null",
    )
    p.add_argument("--utterances-per-speaker", type=int, default=4)
    p.add_argument("--speaker-sd", type=float, default=1.0)
    p.add_argument(
        "--reference",
        default="overall",
        help="'overall', 'best' (null study) or a group name (coverage: the named reference of the "
        "difference CIs, default the first group)",
    )
    p.add_argument("--n-boot", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Run one study and print its table."""
    args = build_parser().parse_args(argv)
    sizes = args.sizes
    rates = _expand(args.rates, len(sizes), "rates")
    if args.study == "power":
        rates = (*rates[:-1], rates[-1] + args.gap)
    design = Design(sizes, rates, args.utterances_per_speaker, args.speaker_sd)
    ref = args.reference if args.reference in ("overall", "best") else {"group": args.reference}
    start = time.perf_counter()
    if args.study == "coverage":
        named = None if args.reference in ("overall", "best") else args.reference
        result: object = coverage_study(
            design, args.replicates, args.seed, args.n_boot, named_reference=named
        )
    elif args.study == "null":
        result = null_study(design, args.replicates, args.seed, args.n_boot, ref)
    elif args.study == "power":
        ref_power = None if args.reference == "overall" and len(sizes) == 2 else ref
        result = power_study(
            design, design.names[-1], args.replicates, args.seed, args.n_boot, ref_power
        )
    else:
        gaps = (0.0,) * (len(sizes) - 1) + (args.gap,)
        result = paired_study(design, gaps, args.replicates, args.seed, args.n_boot)
    elapsed = time.perf_counter() - start
    print(f"# {' '.join(sys.argv)}")
    print(
        f"# design: sizes={sizes} rates={rates} utt/spk={args.utterances_per_speaker} "
        f"speaker_sd={args.speaker_sd} true rates={np.round(design.true_rates(), 4).tolist()}"
    )
    if isinstance(result, pd.DataFrame):
        if args.json:
            print(result.to_json(orient="records"))
        else:
            print(result.round(4).to_string(index=False))
        for k, v in result.attrs.items():
            print(f"# {k}: {v:.4g}" if isinstance(v, float) else f"# {k}: {v}")
    else:
        print(json.dumps(result, indent=1))
    print(f"# {elapsed:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
