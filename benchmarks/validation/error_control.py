"""Simulation studies of issue #16: null standard errors, simultaneous intervals, audit scope.

Run from the repository root (one core)::

    OMP_NUM_THREADS=1 PYTHONPATH=. .venv/bin/python benchmarks/validation/error_control.py \
        --study joint --replicates 200 --seed 21

Studies (each prints its command, settings and a JSON result):

- ``small_null``: a 20-speaker group and a 200-speaker group at the same rate (0.9 by
  default); share of tables where the small group's raw p-value is below 0.05.
- ``joint``: six groups with different true rates; share of tables where the simultaneous
  intervals (``diff_sim_low`` / ``diff_sim_high``) of all six differences to ``overall``
  cover their true values together (goal >= 94 %), beside the unadjusted intervals.
- ``audit_null``: one audit of 12 metric families (12 independent speaker-correlated 0/1
  outcomes, all groups equal) over two groupings (4 and 3 groups) and their overall row;
  share of audits with any row flagged ``significant`` with ``error_control="family"`` and
  with ``"audit"`` (goal for ``"audit"``: <= 5 %).
- ``power``: power of the test of a group whose true difference to overall equals the
  audit's minimum detectable difference (``mdd``; goal: 80 % within 5 points).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from audit.stats import SpeakerBootstrap, build_groupings, control_errors, metric_tables, rate_spec

_HERE = Path(__file__).resolve().parent


def _simulate_module():
    name = "s2f_validation_simulate"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, _HERE / "simulate.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def _binom_se(k: int, n: int) -> float:
    p = k / n
    return float(np.sqrt(p * (1 - p) / n))


def small_null_study(replicates: int, seed: int, rate: float = 0.9, n_boot: int = 300) -> dict:
    """Raw false-positive rate of a 20-speaker group under a true null."""
    sim = _simulate_module()
    design = sim.Design((20 * 10, 200 * 10), (rate, rate), utterances_per_speaker=10)
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(replicates):
        table = sim.simulate_table(design, rng)
        rows = sim.audit_rates(table, n_boot=n_boot, seed=int(rng.integers(2**31)))
        hits += bool(rows.loc["g0", "p_value"] < 0.05)
    return {
        "replicates": replicates,
        "raw_p_below_005": hits / replicates,
        "mc_se": _binom_se(hits, replicates),
    }


def joint_coverage_study(replicates: int, seed: int, n_boot: int = 500) -> dict:
    """Joint coverage of the simultaneous intervals of six differences to overall."""
    sim = _simulate_module()
    rates = (0.6, 0.65, 0.7, 0.7, 0.75, 0.8)
    design = sim.Design((160,) * 6, rates, utterances_per_speaker=4)
    truth = design.true_rates() - design.true_overall()
    rng = np.random.default_rng(seed)
    joint_sim = joint_raw = flagged = 0
    each_sim = np.zeros(6)
    for _ in range(replicates):
        table = sim.simulate_table(design, rng)
        rows = sim.audit_rates(table, n_boot=n_boot, seed=int(rng.integers(2**31)))
        rows = rows.loc[list(design.names)]
        cover = ((rows["diff_sim_low"] <= truth) & (truth <= rows["diff_sim_high"])).to_numpy()
        raw = ((rows["diff_ci_low"] <= truth) & (truth <= rows["diff_ci_high"])).to_numpy()
        joint_sim += bool(cover.all())
        joint_raw += bool(raw.all())
        each_sim += cover
        flagged += int(rows["flags"].map(lambda f: "significant" in f).sum())
    return {
        "replicates": replicates,
        "true_differences": truth.round(4).tolist(),
        "joint_coverage_simultaneous": joint_sim / replicates,
        "mc_se": _binom_se(joint_sim, replicates),
        "joint_coverage_unadjusted": joint_raw / replicates,
        "per_group_coverage_simultaneous": (each_sim / replicates).round(3).tolist(),
        "significant_rows_per_table": flagged / replicates,
    }


def _audit_table(
    rng: np.random.Generator,
    n_speakers: int,
    utt: int,
    n_metrics: int,
    rate: float,
    speaker_sd: float,
) -> pd.DataFrame:
    spk = np.repeat(np.arange(n_speakers), utt)
    a = rng.integers(0, 4, n_speakers)[spk]
    b = rng.integers(0, 3, n_speakers)[spk]
    table = pd.DataFrame(
        {
            "utterance_id": [f"u{i}" for i in range(len(spk))],
            "speaker_id": [f"s{s}" for s in spk],
            "a": np.array(["a0", "a1", "a2", "a3"], dtype=object)[a],
            "b": np.array(["b0", "b1", "b2"], dtype=object)[b],
        }
    )
    logit = np.log(rate / (1 - rate))
    for k in range(n_metrics):
        effect = rng.normal(0.0, speaker_sd, n_speakers)[spk]
        table[f"y{k}"] = (rng.random(len(spk)) < 1 / (1 + np.exp(-(logit + effect)))).astype(float)
    return table


def audit_null_study(
    replicates: int,
    seed: int,
    n_metrics: int = 12,
    n_boot: int = 200,
    n_speakers: int = 240,
    utt: int = 4,
) -> dict:
    """Share of null audits with any significant row, per family and audit-wide."""
    rng = np.random.default_rng(seed)
    any_family = any_audit = 0
    tests = 0
    for _ in range(replicates):
        table = _audit_table(rng, n_speakers, utt, n_metrics, 0.7, 1.0)
        valid = np.ones(len(table), dtype=bool)
        specs = [
            rate_spec("agreement", f"y{k}", table[f"y{k}"].to_numpy(), valid)
            for k in range(n_metrics)
        ]
        groupings = build_groupings(table, ["a", "b"], 1)
        boot = SpeakerBootstrap(table["speaker_id"].to_numpy(), n_boot, int(rng.integers(2**31)))
        metrics, _ = metric_tables(table, specs, groupings, boot, reference="overall")
        sig = metrics["flags"].map(lambda f: "significant" in f)
        any_family += bool(sig.any())
        tests += int(metrics["p_adjusted"].notna().sum())
        control_errors([(metrics, ("metric", "target", "label"))], "holm", 0.05, "audit")
        any_audit += bool(metrics["flags"].map(lambda f: "significant" in f).any())
    return {
        "replicates": replicates,
        "families": n_metrics,
        "tests_per_audit": tests / replicates,
        "any_flag_family": any_family / replicates,
        "mc_se_family": _binom_se(any_family, replicates),
        "any_flag_audit": any_audit / replicates,
        "mc_se_audit": _binom_se(any_audit, replicates),
    }


def power_study(
    replicates: int,
    seed: int,
    n_speakers: int = 30,
    rate: float = 0.7,
    utt: int = 4,
    n_boot: int = 300,
    calibration: int = 40,
) -> dict:
    """Simulated power at the minimum detectable difference (goal: 80 % within 5 points).

    Group g0 (``n_speakers``) against a group of 200 speakers, reference ``overall``. The
    audit's ``mdd`` of g0 is averaged over ``calibration`` null tables; then g0's rate is
    moved down by that MDD (g1's up, so that the overall rate stays), and the share of tables where
    g0's test rejects at the MDD's level (raw p < ``mdd_alpha``; and Holm's ``significant``)
    is the simulated power.
    """
    sim = _simulate_module()
    sizes = (n_speakers * utt, 200 * utt)
    rng = np.random.default_rng(seed)
    null = sim.Design(sizes, (rate, rate), utterances_per_speaker=utt)
    mdds, levels = [], []
    for _ in range(calibration):
        rows = sim.audit_rates(
            sim.simulate_table(null, rng), n_boot=n_boot, seed=int(rng.integers(2**31))
        )
        mdds.append(rows.loc["g0", "mdd"])
        levels.append(rows.loc["g0", "mdd_alpha"])
    gap = float(np.mean(mdds))
    share = sizes[0] / sum(sizes)
    # g0 moves by the MDD and g1 the other way, so that the overall rate (the reference the
    # MDD was computed at) stays at `rate` and g0's difference to overall is the MDD
    rate_g0 = rate - gap
    rate_g1 = rate + gap * share / (1 - share)
    design = sim.Design(sizes, (rate_g0, rate_g1), utterances_per_speaker=utt)
    reject = flagged = 0
    for _ in range(replicates):
        rows = sim.audit_rates(
            sim.simulate_table(design, rng), n_boot=n_boot, seed=int(rng.integers(2**31))
        )
        reject += bool(rows.loc["g0", "p_value"] < rows.loc["g0", "mdd_alpha"])
        flagged += "significant" in rows.loc["g0", "flags"]
    return {
        "replicates": replicates,
        "n_speakers_g0": n_speakers,
        "rate": rate,
        "mdd_mean": round(gap, 4),
        "mdd_sd_over_null_tables": round(float(np.std(mdds)), 4),
        "mdd_alpha": float(np.mean(levels)),
        "rate_g0": round(rate_g0, 4),
        "rate_g1": round(rate_g1, 4),
        "power_at_mdd_level": reject / replicates,
        "mc_se": _binom_se(reject, replicates),
        "power_holm_significant": flagged / replicates,
    }


STUDIES = {
    "small_null": small_null_study,
    "joint": joint_coverage_study,
    "audit_null": audit_null_study,
    "power": power_study,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run one study and print its result as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", choices=sorted(STUDIES), required=True)
    parser.add_argument("--replicates", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--n-speakers", type=int, default=30, help="power: speakers of g0")
    parser.add_argument("--rate", type=float, default=0.7, help="power: rate under the null")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    extra = {"n_speakers": args.n_speakers, "rate": args.rate} if args.study == "power" else {}
    result = STUDIES[args.study](args.replicates, args.seed, **extra)
    result["seconds"] = round(time.perf_counter() - start, 1)
    print("# " + " ".join(["python benchmarks/validation/error_control.py", *sys.argv[1:]]))
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
