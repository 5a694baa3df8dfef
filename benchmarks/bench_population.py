"""Bias-lab generation speed: utterances per second on this machine.

Generates the demo population (web-skewed preset: 400 speakers x 5 utterances x 3 s = 2,000
utterances, 128 px faces) with 2 worker processes and prints wall time and throughput.
Also times the parts of one utterance in this process.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/bench_population.py [--speakers 400] [--workers 2]
        [--out DIR]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import tempfile
import time

import numpy as np

from s2f_data.biaslab import PopulationSpec, generate_population, sample_voice
from s2f_data.biaslab._espeak import espeak_synth
from s2f_data.biaslab._voice import _resample_22k_to_16k, _voice_quality, warp_formants


def _per_part(repeats: int = 20) -> dict[str, float]:
    rng = np.random.default_rng(0)
    v = sample_voice(
        rng, language="en", accent="en-us", gender="male", age_group="60+", face_size=1.0
    )
    text = "There are seven heavy books on the table, and Anna wants to carry them."
    out: dict[str, float] = {}

    def timed(name: str, fn):
        # CPU time of this process: robust to other jobs sharing the cores
        start = time.process_time()
        for _ in range(repeats):
            result = fn()
        out[name] = (time.process_time() - start) / repeats * 1000
        return result

    raw = timed(
        "espeak in-process (CPU ms)", lambda: espeak_synth(text, "en-us+m3", isolated=False)
    )
    start = time.perf_counter()
    for _ in range(repeats):
        espeak_synth(text, "en-us+m3")
    out["espeak isolated, fork per call (wall ms)"] = (time.perf_counter() - start) / repeats * 1e3
    x = timed("resample 22.05->16 kHz (CPU ms)", lambda: _resample_22k_to_16k(raw / 32768.0))
    y = timed("formant warp (CPU ms)", lambda: warp_formants(x, 1.1))
    timed("voice quality (CPU ms)", lambda: _voice_quality(y, v, rng))
    out["audio seconds per call"] = len(x) / 16000
    return out


def _print_parts() -> None:
    for name, value in _per_part().items():
        print(f"{name:44s} {value:8.1f}")


def _cpu_seconds() -> float:
    """User + system CPU time of this process and its waited-for children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--speakers", type=int, default=400, help="0: time the parts only")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", help="keep the population here (default: temporary)")
    args = parser.parse_args()
    if args.speakers == 0:
        _print_parts()
        return
    spec = PopulationSpec.preset("web-skewed")
    out = args.out or tempfile.mkdtemp(prefix="bench_pop_")
    before = _cpu_seconds()
    start = time.perf_counter()
    result = generate_population(
        spec, out, seed=0, n_speakers=args.speakers, workers=args.workers, progress=False
    )
    wall = time.perf_counter() - start
    cpu = _cpu_seconds() - before
    n_utt = args.speakers * spec.utterances_per_speaker
    print(
        f"population: {args.speakers} speakers, {n_utt} utterances of "
        f"{spec.clip_seconds:g} s, {args.workers} workers, cpu count {os.cpu_count()}"
    )
    print(
        f"wall time {wall:.1f} s -> {n_utt / wall:.1f} utterances/s "
        f"({n_utt * spec.clip_seconds / wall:.0f} s of audio per s); "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"CPU time (this process + workers + per-speaker children) {cpu:.1f} s -> "
        f"{n_utt / cpu:.1f} utterances per CPU-second; on 2 idle cores about "
        f"{2 * n_utt / cpu:.0f} utterances/s, {n_utt} in {cpu / 2:.0f} s"
    )
    print(f"generated {result.n_generated}, skipped {result.n_skipped}; output {out}")
    if not args.out:
        shutil.rmtree(out)
    # after the population: in-process synthesis changes the state forked children inherit
    _print_parts()


if __name__ == "__main__":
    main()
