"""Writers of small real media files for the data-layer tests (PyAV, soundfile, PIL)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def tone(
    seconds: float, sr: int = 16000, freq: float = 220.0, amp: float = 0.5, channels: int = 1
) -> np.ndarray:
    """Sine tone ``(samples,)`` or ``(samples, channels)`` float32."""
    t = np.arange(round(seconds * sr)) / sr
    x = (amp * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    if channels == 1:
        return x
    return np.stack([x * (1 - 0.1 * c) for c in range(channels)], axis=1)


def write_m4a(path: Path, wave: np.ndarray, sr: int = 16000) -> Path:
    """AAC audio in an MP4 (.m4a) container, mono."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("aac", rate=sr, layout="mono")
        frame_len = 1024
        pts = 0
        for i in range(0, len(wave), frame_len):
            chunk = np.ascontiguousarray(wave[i : i + frame_len], dtype=np.float32)[None, :]
            frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
            frame.sample_rate = sr
            frame.pts = pts
            pts += chunk.shape[1]
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def write_mp4(
    path: Path,
    seconds: float = 1.0,
    sr: int = 16000,
    fps: int = 10,
    size: tuple[int, int] = (64, 48),
    with_audio: bool = True,
    freq: float = 220.0,
) -> Path:
    """Video whose frame k is filled with grey level 20*k (to find frames by time), plus a tone."""
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    w, h = size
    n_frames = round(seconds * fps)
    with av.open(str(path), "w", format="mp4") as out:
        vs = out.add_stream("mpeg4", rate=fps)
        vs.width, vs.height, vs.pix_fmt = w, h, "yuv420p"
        vs.codec_context.qscale = 1
        if with_audio:
            aus = out.add_stream("aac", rate=sr, layout="mono")
        for k in range(n_frames):
            img = np.full((h, w, 3), min(255, 20 * k), dtype=np.uint8)
            img[: h // 4, : w // 4] = (255, 0, 0)  # a red corner to check colour order
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts = k
            for packet in vs.encode(frame):
                out.mux(packet)
        for packet in vs.encode(None):
            out.mux(packet)
        if with_audio:
            wave = tone(seconds, sr, freq)
            pts = 0
            for i in range(0, len(wave), 1024):
                chunk = np.ascontiguousarray(wave[i : i + 1024])[None, :]
                frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout="mono")
                frame.sample_rate = sr
                frame.pts = pts
                pts += chunk.shape[1]
                for packet in aus.encode(frame):
                    out.mux(packet)
            for packet in aus.encode(None):
                out.mux(packet)
    return path


def write_image(path: Path, mode: str = "RGB", size: tuple[int, int] = (40, 30)) -> Path:
    """Image in a PIL mode with a known pattern."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    w, h = size
    rgb = np.zeros((h, w, 3), dtype=np.uint8)
    rgb[..., 0] = np.linspace(0, 255, w, dtype=np.uint8)[None, :]
    rgb[..., 1] = 128
    img = Image.fromarray(rgb)
    if mode != "RGB":
        img = img.convert(mode)
    img.save(path)
    return path
