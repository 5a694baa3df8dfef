"""Train the bias-lab judge on rendered faces and print its held-out report and timings.

Usage::

    OMP_NUM_THREADS=2 python benchmarks/bench_judge.py [--faces 2000] [--threads 2]
    # saturation curve: accuracy on a fixed held-out set of true faces against the number
    # of training faces, per attribute and per group, with Wilson 95% intervals
    OMP_NUM_THREADS=1 python benchmarks/bench_judge.py --threads 1 \
        --curve 1000,2000,4000,8000,16000 --test-faces 4000 [--epochs 14]

In curve mode the training faces of size ``n`` are the first ``n`` of one rendered set
(seed ``--seed``), and every judge is scored on the same ``--test-faces`` faces rendered with
seed ``--seed + 1000`` (never seen in training or calibration). Each judge still splits its
own ``n`` faces into train / calibration / test (70 / 15 / 15 %): ``n`` counts all of them.
"""

import argparse
import dataclasses
import time

import numpy as np
import pandas as pd
import torch

from audit.judges import (
    BIASLAB_VOCABULARIES,
    JudgeTrainConfig,
    render_judge_dataset,
    train_biaslab_judge,
)
from audit.stats import wilson_interval


def score_on(judge, images: np.ndarray, labels: pd.DataFrame) -> pd.DataFrame:
    """Accuracy per attribute, overall and per group, with Wilson 95% intervals."""
    probs = judge.predict_proba(images)
    rows = []
    for attr, names in BIASLAB_VOCABULARIES.items():
        right = np.asarray(names)[probs[attr].argmax(1)] == labels[attr].to_numpy()
        for gattr in ["all", *BIASLAB_VOCABULARIES]:
            groups = ["all"] if gattr == "all" else BIASLAB_VOCABULARIES[gattr]
            for g in groups:
                mask = (
                    np.ones(len(labels), bool)
                    if gattr == "all"
                    else (labels[gattr].to_numpy() == g)
                )
                n = int(mask.sum())
                acc = float(right[mask].mean())
                low, high = wilson_interval(np.array(acc), np.array(n))
                rows.append(
                    {
                        "attribute": attr,
                        "group_attribute": gattr,
                        "group": g,
                        "n": n,
                        "accuracy": acc,
                        "ci_low": float(low),
                        "ci_high": float(high),
                    }
                )
    return pd.DataFrame(rows)


def run_curve(args: argparse.Namespace) -> None:
    sizes = [int(s) for s in args.curve.split(",")]
    t0 = time.perf_counter()
    images, labels = render_judge_dataset(max(sizes), size=64, seed=args.seed)
    test_images, test_labels = render_judge_dataset(args.test_faces, size=64, seed=args.seed + 1000)
    print(
        f"rendered {max(sizes)} + {args.test_faces} faces in {time.perf_counter() - t0:.1f} s",
        flush=True,
    )
    cfg = dataclasses.replace(JudgeTrainConfig(), epochs=args.epochs)
    tables = []
    for n in sizes:
        t1, c1 = time.perf_counter(), time.process_time()
        judge = train_biaslab_judge(
            images[:n], labels.iloc[:n], labels["face_id"].iloc[:n], seed=args.seed, config=cfg
        )
        wall, cpu = time.perf_counter() - t1, time.process_time() - c1
        table = score_on(judge, test_images, test_labels)
        table.insert(0, "train_faces", n)
        tables.append(table)
        overall = table[table.group_attribute == "all"]
        print(
            f"n={n}: train wall {wall:.1f} s cpu {cpu:.1f} s; "
            + ", ".join(
                f"{r.attribute} {r.accuracy:.3f} [{r.ci_low:.3f}, {r.ci_high:.3f}]"
                for r in overall.itertuples()
            ),
            flush=True,
        )
        if args.save and n == max(sizes):
            judge.save(args.save)
    result = pd.concat(tables, ignore_index=True)
    pd.set_option("display.width", 200)
    print(result.round(3).to_string(index=False))
    if args.csv:
        result.to_csv(args.csv, index=False)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--faces", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save", default=None, help="folder to save the (largest) judge into")
    parser.add_argument("--curve", default=None, help="comma-separated training-face counts")
    parser.add_argument("--test-faces", type=int, default=4000)
    parser.add_argument("--epochs", type=int, default=JudgeTrainConfig().epochs)
    parser.add_argument("--csv", default=None, help="write the curve table here")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.curve:
        run_curve(args)
        return
    t0, c0 = time.perf_counter(), time.process_time()
    images, labels = render_judge_dataset(args.faces, size=64, seed=args.seed)
    t1, c1 = time.perf_counter(), time.process_time()
    judge = train_biaslab_judge(images, labels, labels["face_id"], seed=args.seed)
    t2, c2 = time.perf_counter(), time.process_time()
    print(f"faces {args.faces}, threads {args.threads}")
    print(f"render: wall {t1 - t0:.1f} s, cpu {c1 - c0:.1f} s")
    print(f"train+calibrate+evaluate: wall {t2 - t1:.1f} s, cpu {c2 - c1:.1f} s")
    print("temperatures", {k: round(v, 3) for k, v in judge.temperatures.items()})
    report = judge.report.round(3)
    print(report.to_string(index=False))
    if args.save:
        judge.save(args.save)


if __name__ == "__main__":
    main()
