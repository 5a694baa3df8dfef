"""Benchmark the audit's speaker-cluster bootstrap against fairlearn's MetricFrame bootstrap.

The job (issue 7): 95% CIs of one rate metric (gender agreement of true face vs
reconstruction) for every group of 5 attributes and of their 10 pairwise intersections,
100,000 rows from 20,000 speakers, 1,000 replicates. fairlearn runs the same groupings at a
small n_boot in the same process; its time is linear in n_boot and is scaled to 1,000.
Point estimates of both are compared for exact equality.

Optional: ``--coverage`` simulates the coverage of the plain and the expanded percentile
intervals for clustered binary data (5 utterances per speaker, intra-speaker correlation
~0.3).

Run: ``OMP_NUM_THREADS=1 python benchmarks/bench_audit.py [--fairlearn-boot 2] [--coverage]``
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np
import pandas as pd

import audit
from audit import SmallGroupWarning
from audit.stats import SpeakerBootstrap, build_groupings, metric_tables

ATTRIBUTES = {"language": 6, "accent": 8, "gender": 2, "age_group": 4, "ethnicity": 4}


def make_table(n_rows: int, n_speakers: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    spk = rng.integers(0, n_speakers, n_rows)
    spk[:n_speakers] = np.arange(n_speakers)
    cols = {}
    for name, k in ATTRIBUTES.items():
        levels = np.array([f"{name[:2]}{i}" for i in range(k)])
        cols[name] = levels[rng.integers(0, k, n_speakers)][spk]
    true = np.array(["female", "male"])[rng.integers(0, 2, n_speakers)][spk]
    p_agree = np.clip(0.9 + rng.normal(0, 0.08, n_speakers), 0, 1)[spk]
    recon = np.where(rng.random(n_rows) < p_agree, true, np.where(true == "male", "female", "male"))
    return pd.DataFrame(
        {
            "utterance_id": np.arange(n_rows).astype(str),
            "speaker_id": spk.astype(str),
            **cols,
            "true_gender": true,
            "recon_gender": recon,
        }
    )


def bench_ours(
    table: pd.DataFrame, n_boot: int, n_jobs: int = 1
) -> tuple[pd.DataFrame, dict[str, float]]:
    t0, c0 = time.perf_counter(), time.process_time()
    groupings = build_groupings(table, list(ATTRIBUTES), max_order=2)
    agree = (table["true_gender"] == table["recon_gender"]).to_numpy(float)
    spec = audit.stats.rate_spec("agreement", "gender", agree, np.ones(len(table), dtype=bool))
    t1 = time.perf_counter()
    boot = SpeakerBootstrap(table["speaker_id"].to_numpy(), n_boot, 0, n_jobs=n_jobs)
    boot.uniforms()
    t2 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SmallGroupWarning)
        metrics, _ = metric_tables(table, [spec], groupings, boot, reference="overall")
    t3 = time.perf_counter()
    return metrics, {
        "setup_s": t1 - t0,
        "draws_s": t2 - t1,
        "bootstrap_and_tables_s": t3 - t2,
        "total_wall_s": t3 - t0,
        "total_cpu_s": time.process_time() - c0,
    }


def bench_fairlearn(table: pd.DataFrame, n_boot: int) -> tuple[dict, float]:
    from fairlearn.metrics import MetricFrame
    from sklearn.metrics import accuracy_score

    columns = list(ATTRIBUTES)
    combos = [[c] for c in columns] + [
        [a, b] for i, a in enumerate(columns) for b in columns[i + 1 :]
    ]
    frames = {}
    t0 = time.perf_counter()
    for combo in combos:
        frames[" x ".join(combo)] = MetricFrame(
            metrics=accuracy_score,
            y_true=table["true_gender"],
            y_pred=table["recon_gender"],
            sensitive_features=table[combo],
            n_boot=n_boot,
            ci_quantiles=[0.025, 0.975],
            random_state=0,
        )
    return frames, time.perf_counter() - t0


def compare_points(metrics: pd.DataFrame, frames: dict) -> float:
    worst = 0.0
    n = 0
    for attribute, mf in frames.items():
        rows = metrics[metrics["attribute"] == attribute]
        cols = attribute.split(" x ")
        by_group = mf.by_group
        for _, rec in rows.iterrows():
            key = tuple(rec["group"][c] for c in cols)
            key = key[0] if len(key) == 1 else key
            if key in by_group.index:
                worst = max(worst, abs(rec["value"] - float(by_group.loc[key])))
                n += 1
    print(f"  compared {n} group point estimates; max |ours - fairlearn| = {worst:.3g}")
    return worst


def coverage(n_sims: int, sizes=(5, 10, 20, 50), n_boot: int = 400) -> None:
    true_mean = np.mean(np.clip(0.5 + np.random.default_rng(99).normal(0, 0.28, 10**6), 0.01, 0.99))
    print(f"coverage of 95% intervals ({n_sims} simulations, n_boot {n_boot}):")
    print("  speakers  percentile  expanded")
    for m in sizes:
        rng = np.random.default_rng(m)
        hits = {"percentile": 0, "expanded": 0}
        for sim in range(n_sims):
            p_spk = np.clip(0.5 + rng.normal(0, 0.28, m), 0.01, 0.99)
            spk = np.repeat(np.arange(m), 5)
            y = (rng.random(len(spk)) < p_spk[spk]).astype(float)
            boot = SpeakerBootstrap(spk, n_boot, sim)
            _, reps = boot.group_sums(
                np.column_stack([y, np.ones_like(y)]), np.zeros(len(spk), dtype=int), 1
            )
            rate = reps[:, :, 0] / reps[:, :, 1]
            for method in hits:
                lo, hi = audit.stats.bootstrap_interval(rate, np.array([m]), 0.95, method)
                hits[method] += lo[0] <= true_mean <= hi[0]
        print(f"  {m:8d}  {hits['percentile'] / n_sims:10.3f}  {hits['expanded'] / n_sims:8.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--speakers", type=int, default=20_000)
    parser.add_argument("--n-boot", type=int, default=1000)
    parser.add_argument("--fairlearn-boot", type=int, default=2)
    parser.add_argument("--coverage", type=int, default=0, metavar="N_SIMS")
    parser.add_argument("--n-jobs", type=int, default=1, help="bootstrap threads")
    args = parser.parse_args()
    print(f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}, load avg {os.getloadavg()}")
    table = make_table(args.rows, args.speakers)
    metrics, times = bench_ours(table, args.n_boot, args.n_jobs)
    n_groups = int((metrics["attribute"] != "overall").sum())
    print(
        f"ours: {len(metrics)} group records ({n_groups} groups in 15 groupings), "
        f"{args.n_boot} replicates"
    )
    for k, v in times.items():
        print(f"  {k}: {v:.2f}")
    if args.fairlearn_boot:
        frames, fl = bench_fairlearn(table, args.fairlearn_boot)
        scaled = fl / args.fairlearn_boot * args.n_boot
        print(
            f"fairlearn MetricFrame, 15 groupings, n_boot={args.fairlearn_boot}: {fl:.1f} s "
            f"-> {scaled:.0f} s ({scaled / 3600:.2f} h) scaled to {args.n_boot}"
        )
        print(f"  per replicate per grouping: {fl / args.fairlearn_boot / 15:.2f} s")
        print(f"  speed-up (wall): {scaled / times['total_wall_s']:.0f}x")
        compare_points(metrics, frames)
    if args.coverage:
        coverage(args.coverage)


if __name__ == "__main__":
    main()
