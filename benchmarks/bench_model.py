"""Forward throughput of the paper and compact presets, and FLOP/s vs fp32 matmul.

Usage: python benchmarks/bench_model.py [--threads N] [--skip-paper]

Prints, per preset: clips/s of ``encode_voice`` (front-end + voice encoder) and of the full
voice -> face path, FLOPs per clip (torch.utils.flop_counter; the FFT is not counted), the
achieved FLOP/s and its fraction of the fp32 matmul FLOP/s measured in the same run; and the
compact preset's training throughput (voice-encoder step with the paper loss).
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from s2f_model import S2FConfig, build_model, speech2face_loss


def best_time(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def matmul_flops(n: int = 1024, repeats: int = 5) -> float:
    """Best-of-``repeats`` fp32 FLOP/s of an n x n matmul (same thread count)."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    return 2 * n**3 / best_time(lambda: a @ b, repeats)


def count_flops(fn) -> int:
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


def bench_forward(preset: str, batch: int, repeats: int) -> None:
    cfg = S2FConfig.preset(preset)
    model = build_model(cfg).eval()
    wave = torch.randn(batch, cfg.audio.clip_samples)
    with torch.no_grad():
        enc = lambda: model.encode_voice(wave)  # noqa: E731
        full = lambda: model(wave)  # noqa: E731
        flops_enc = count_flops(enc) / batch
        flops_full = count_flops(full) / batch
        peak_enc = matmul_flops()  # measured beside each timing: the machine is shared
        t_enc = best_time(enc, repeats)
        peak_full = matmul_flops()
        t_full = best_time(full, repeats)
    params = sum(p.numel() for p in model.voice_encoder.parameters())
    print(
        f"[{preset}] voice encoder {params / 1e6:.2f} M params, input "
        f"{tuple(model.spectrogram(wave[:1]).shape[1:])}, batch {batch}"
    )
    for name, flops, t, peak in (
        ("encode_voice", flops_enc, t_enc, peak_enc),
        ("voice->face", flops_full, t_full, peak_full),
    ):
        rate = flops * batch / t
        print(
            f"  {name:13s} {batch / t:8.2f} clips/s  {flops / 1e9:7.2f} GFLOP/clip  "
            f"{rate / 1e9:6.1f} GFLOP/s = {rate / peak:5.1%} of matmul "
            f"({peak / 1e9:.1f} GFLOP/s)"
        )


def bench_train_compact(batch: int, steps: int) -> None:
    cfg = S2FConfig.compact()
    m = build_model(cfg)
    m.face_encoder.eval().requires_grad_(False)
    m.face_decoder.eval().requires_grad_(False)
    wave = torch.randn(batch, cfg.audio.clip_samples)
    v_face = torch.relu(torch.randn(batch, cfg.feature_dim))
    opt = torch.optim.Adam(m.voice_encoder.parameters(), lr=1e-3, betas=(0.5, 0.999), eps=1e-4)

    def step() -> None:
        out = speech2face_loss(m.encode_voice(wave), v_face, m.face_decoder, m.face_encoder)
        opt.zero_grad()
        out.total.backward()
        opt.step()

    flops = count_flops(step) / batch
    peak = matmul_flops()
    t = best_time(step, steps)
    rate = flops * batch / t
    print(
        f"[compact] train step (batch {batch}): {batch / t:.1f} clips/s, "
        f"{flops / 1e9:.2f} GFLOP/clip, {rate / 1e9:.1f} GFLOP/s = {rate / peak:.1%} of matmul "
        f"({peak / 1e9:.1f} GFLOP/s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--skip-paper", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    print(
        f"torch {torch.__version__}, {platform.machine()}, threads {torch.get_num_threads()}, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    bench_forward("compact", batch=16, repeats=3)
    bench_train_compact(batch=16, steps=3)
    if not args.skip_paper:
        bench_forward("paper", batch=1, repeats=1)
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
