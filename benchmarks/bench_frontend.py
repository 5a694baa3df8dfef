"""Audio front-end vs torchaudio.transforms.Spectrogram: equal output and throughput.

Usage: python benchmarks/bench_frontend.py [--threads N]

torchaudio centres the 400-sample window inside the 512-point frame, so its frames are
aligned with ours after padding the signal by 56 samples on each side and undoing the
resulting linear phase. Both sides then apply the same power-law compression.
"""

from __future__ import annotations

import argparse
import os
import time

import torch
import torchaudio

from s2f_model import AudioFrontEnd, S2FConfig


def best_time(fn, repeats: int = 5) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--batch", type=int, default=16)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cfg = S2FConfig.paper().audio
    ours = AudioFrontEnd(cfg)
    offset = (cfg.n_fft - cfg.win_length) // 2
    ref = torchaudio.transforms.Spectrogram(
        n_fft=cfg.n_fft,
        win_length=cfg.win_length,
        hop_length=cfg.hop_length,
        center=False,
        power=None,
    )
    k = torch.arange(cfg.n_freq, dtype=torch.float64).view(-1, 1)
    phase64 = torch.exp(2j * torch.pi * k * offset / cfg.n_fft)  # angles up to ~176 rad
    phase = phase64.to(torch.complex64)

    def reference(wave: torch.Tensor) -> torch.Tensor:
        spec = ref(torch.nn.functional.pad(wave, (offset, offset))) * phase
        parts = torch.stack((spec.real, spec.imag), 1)
        return parts.sign() * parts.abs().pow(cfg.compression)

    wave = torch.randn(args.batch, cfg.clip_samples, generator=torch.Generator().manual_seed(0))
    a, b = ours(wave), reference(wave)
    sa, sb = ours.stft(wave), (ref(torch.nn.functional.pad(wave, (offset, offset))) * phase)
    print(
        f"threads {torch.get_num_threads()}, load average {os.getloadavg()[0]:.1f}, "
        f"batch {args.batch} x {cfg.clip_seconds:g} s"
    )
    print(f"shapes: ours {tuple(a.shape)}, torchaudio {tuple(b.shape)}")
    print(
        f"max |STFT difference| {float((sa - sb).abs().max()):.2e} "
        f"(max |STFT| {float(sb.abs().max()):.1f}); after compression "
        f"{float((a - b).abs().max()):.2e}"
    )
    w64 = wave.double()
    ref64 = torchaudio.transforms.Spectrogram(
        n_fft=cfg.n_fft,
        win_length=cfg.win_length,
        hop_length=cfg.hop_length,
        center=False,
        power=None,
        wkwargs={"dtype": torch.float64},
    )
    d64 = ours.stft(w64) - ref64(torch.nn.functional.pad(w64, (offset, offset))) * phase64
    print(f"float64: max |STFT difference| {float(d64.abs().max()):.2e}")
    t_ours = best_time(lambda: ours(wave))
    t_ref = best_time(lambda: reference(wave))
    t_raw = best_time(lambda: ref(wave))
    print(
        f"ours (STFT + compression) {args.batch / t_ours:.0f} clips/s; torchaudio aligned + "
        f"compression {args.batch / t_ref:.0f} clips/s (ratio ours/torchaudio "
        f"{t_ref / t_ours:.2f}x); torchaudio Spectrogram alone {args.batch / t_raw:.0f} clips/s "
        f"(ratio {t_raw / t_ours:.2f}x)"
    )


if __name__ == "__main__":
    main()
