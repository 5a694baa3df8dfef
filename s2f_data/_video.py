"""Video files (PyAV): header information and a face frame at a given time.

The audio track of a video is read by :func:`s2f_data.load_audio` (PyAV decoder).
"""

from __future__ import annotations

import io
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from s2f_data._atomic import atomic_write_bytes
from s2f_data._crop import crop_around
from s2f_data._files import path_problem
from s2f_data.exceptions import DataFormatError

__all__ = ["VideoInfo", "save_frame", "video_frame", "video_info"]


@dataclass(frozen=True, kw_only=True)
class VideoInfo:
    """Header information of a video file.

    Parameters
    ----------
    width, height : int
        Frame size in pixels.
    fps : float or None
        Average frame rate.
    duration_s : float or None
        Duration of the video stream (or the container) in seconds.
    has_audio : bool
        The file has an audio track.
    """

    width: int
    height: int
    fps: float | None
    duration_s: float | None
    has_audio: bool


def _open(path: Path) -> Any:
    import av

    problem = path_problem(path, "video file")  # missing, a FIFO, a link loop, empty, ...
    if problem is not None:
        raise DataFormatError(f"{path}: {problem}")
    try:
        container = av.open(str(path))
    except (av.error.FFmpegError, OSError, ValueError) as err:
        raise DataFormatError(f"{path}: cannot open video file: {err}") from err
    if not container.streams.video:
        container.close()
        raise DataFormatError(f"{path}: file has no video track")
    return container


def video_info(path: str | os.PathLike[str]) -> VideoInfo:
    """Read a video's frame size, rate and duration.

    Parameters
    ----------
    path : path-like
        Video file.

    Returns
    -------
    VideoInfo
        Header information.
    """
    path = Path(path)
    container = _open(path)
    try:
        stream = container.streams.video[0]
        duration = None
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = container.duration / 1_000_000
        fps = float(stream.average_rate) if stream.average_rate else None
        return VideoInfo(
            width=int(stream.codec_context.width),
            height=int(stream.codec_context.height),
            fps=fps,
            duration_s=duration,
            has_audio=bool(container.streams.audio),
        )
    finally:
        container.close()


def video_frame(path: str | os.PathLike[str], time_s: float | None = None) -> np.ndarray:
    """Decode the frame shown at ``time_s`` (the last frame starting at or before it).

    Parameters
    ----------
    path : path-like
        Video file.
    time_s : float or None
        Time in seconds from the start; ``None`` takes the middle of the video.

    Returns
    -------
    numpy.ndarray
        Shape ``(H, W, 3)``, uint8 RGB.

    Raises
    ------
    DataFormatError
        Missing file, no video track, nothing decodable, or ``time_s`` past the end; the
        message names the file.
    """
    import av

    path = Path(path)
    if time_s is None:
        duration = video_info(path).duration_s
        time_s = 0.0 if duration is None else duration / 2
    if not (math.isfinite(time_s) and time_s >= 0):
        raise ValueError(f"{path}: time_s must be a finite number of seconds >= 0, got {time_s}")
    container = _open(path)
    chosen = None
    try:
        stream = container.streams.video[0]
        if time_s > 0 and stream.time_base is not None:
            container.seek(int(time_s / stream.time_base), stream=stream, backward=True)
        for frame in container.decode(stream):
            t = frame.time if frame.time is not None else 0.0
            if chosen is not None and t > time_s + 1e-9:
                break
            chosen = frame
            if t > time_s + 1e-9:  # first decodable frame is already later: take it
                break
        if chosen is None:
            raise DataFormatError(f"{path}: no decodable video frame at {time_s:g} s")
        last_t = chosen.time if chosen.time is not None else 0.0
        duration = None if stream.duration is None else float(stream.duration * stream.time_base)
        if duration is not None and time_s > duration + 1e-6 and last_t < time_s:
            raise DataFormatError(
                f"{path}: time {time_s:g} s is past the end of the video ({duration:g} s)"
            )
        return chosen.to_ndarray(format="rgb24")
    except av.error.FFmpegError as err:
        raise DataFormatError(f"{path}: cannot decode video: {err}") from err
    finally:
        container.close()


def save_frame(
    video: str | os.PathLike[str],
    out_path: str | os.PathLike[str],
    time_s: float | None = None,
    *,
    centre: tuple[float, float] | None = None,
    side_fraction: float = 0.6,
) -> Path:
    """Write one frame of a video as a PNG (atomically), optionally cropped around a face.

    Parameters
    ----------
    video : path-like
        Video file.
    out_path : path-like
        Destination ``.png``.
    time_s : float or None
        Frame time (default: the middle).
    centre : tuple of float or None
        Normalised face centre ``(x, y)``; crop a square of ``side_fraction`` of the frame
        height around it.
    side_fraction : float
        Crop size relative to the frame height.

    Returns
    -------
    pathlib.Path
        ``out_path``.
    """
    from PIL import Image

    frame = video_frame(video, time_s)
    if centre is not None:
        frame = crop_around(frame, centre[0], centre[1], side_fraction)
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(frame)).save(buf, format="PNG")
    atomic_write_bytes(out_path, buf.getvalue())
    return Path(out_path)
