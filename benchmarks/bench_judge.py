"""Train the bias-lab judge on rendered faces and print its held-out report and timings.

Usage: OMP_NUM_THREADS=2 python benchmarks/bench_judge.py [--faces 2000] [--threads 2]
"""

import argparse
import time

import torch

from audit.judges import render_judge_dataset, train_biaslab_judge


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--faces", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--save", default=None, help="folder to save the judge into")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
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
