"""Benchmark: the demo end to end (`s2f-audit demo`), stage by stage.

Usage::

    python benchmarks/bench_demo.py --out /tmp/bench-demo [--quick]

Runs the demo into an empty folder and prints the wall time of each stage (parsed from the
pipeline's log) and the total, against the 10-minute goal on 2 CPU cores.
"""

from __future__ import annotations

import argparse
import logging
import re
import shutil
import time
from pathlib import Path


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.stages: list[tuple[str, float]] = []

    def emit(self, record: logging.LogRecord) -> None:
        m = re.match(r"(.+): done in ([0-9.]+) s", record.getMessage())
        if m:
            self.stages.append((m.group(1), float(m.group(2))))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="/tmp/bench-demo")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--keep", action="store_true", help="do not clear --out first")
    args = parser.parse_args()
    out = Path(args.out)
    if out.exists() and not args.keep:
        shutil.rmtree(out)
    from s2f_cli._pipeline import run_demo

    collect = _Collect()
    logger = logging.getLogger("s2f_cli._pipeline")
    logger.setLevel(logging.INFO)
    logger.addHandler(collect)
    start = time.perf_counter()
    run_demo(out, quick=args.quick, seed=0, progress=False)
    total = time.perf_counter() - start
    print(f"{'stage':45s} {'seconds':>8s}")
    for name, sec in collect.stages:
        print(f"{name:45s} {sec:8.1f}")
    goal = 600.0
    print(f"{'total':45s} {total:8.1f}   goal {goal:.0f} s -> ratio {total / goal:.2f}")


if __name__ == "__main__":
    main()
