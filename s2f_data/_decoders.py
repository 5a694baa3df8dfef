"""The two audio decoders behind :func:`s2f_data.decode_audio`: soundfile and PyAV.

soundfile (libsndfile) reads WAV PCM 8/16/24/32-bit and float, FLAC, OGG, MP3, GSM 6.10, ...;
PyAV reads the audio track of video and AAC containers. Both refuse a missing or odd path
(what it is, from :func:`s2f_data.path_problem`) and a sample rate outside
:data:`SAMPLE_RATE_RANGE` with a :class:`~s2f_data.DataFormatError` naming the file.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from s2f_data._files import path_problem
from s2f_data.exceptions import DataFormatError

__all__ = ["SAMPLE_RATE_RANGE", "VIDEO_SUFFIXES", "is_sample_rate", "soundfile_blocks"]

#: Suffixes decoded with PyAV (audio track of a video or AAC container).
VIDEO_SUFFIXES: frozenset[str] = frozenset(
    {".mp4", ".m4a", ".m4v", ".aac", ".mov", ".mkv", ".webm", ".avi", ".3gp"}
)
#: Native sample rates accepted, in Hz: below 1 kHz a file holds no speech band at all, and
#: 768 kHz is the highest rate audio interfaces record.
SAMPLE_RATE_RANGE: tuple[int, int] = (1000, 768000)


def is_sample_rate(rate: object) -> bool:
    """Whether ``rate`` is an integer number of Hz inside `SAMPLE_RATE_RANGE` (bools are not)."""
    low, high = SAMPLE_RATE_RANGE
    if isinstance(rate, bool) or not isinstance(rate, int | np.integer):
        return False
    return low <= rate <= high


#: Frames per block when soundfile reads a file block by block.
_BLOCK_FRAMES = 1 << 16


def _use_pyav(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_SUFFIXES


def _check_readable(path: Path) -> None:
    problem = path_problem(path, "audio file")
    if problem is not None:
        raise DataFormatError(f"{path}: {problem}")


def _check_rate(path: Path, sample_rate: int) -> int:
    """Refuse a sample rate outside :data:`SAMPLE_RATE_RANGE` (a damaged or forged header).

    Resampling from such a rate would need gigabytes, or says nothing about a voice.
    """
    low, high = SAMPLE_RATE_RANGE
    if not low <= sample_rate <= high:
        raise DataFormatError(
            f"{path}: sample rate {sample_rate} Hz is outside the supported "
            f"range [{low}, {high}] Hz (a damaged header?)"
        )
    return int(sample_rate)


def _wav_truncated(path: Path) -> bool:
    """Tell whether a RIFF/WAVE file's ``data`` chunk declares more bytes than the file holds.

    libsndfile then decodes the samples that are present, silently; this flags the file.
    """
    import struct

    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return False
        pos = 12
        while pos + 8 <= size:
            fh.seek(pos)
            chunk_id, chunk_len = struct.unpack("<4sI", fh.read(8))
            if chunk_id == b"data":
                # 0 and 0xFFFFFFFF mark a stream written without a final length.
                return chunk_len not in (0, 0xFFFFFFFF) and pos + 8 + chunk_len > size
            pos += 8 + chunk_len + (chunk_len & 1)
    return False


def _open_av(path: Path) -> Any:
    import av

    try:
        return av.open(str(path))
    except (av.error.FFmpegError, OSError, ValueError) as err:
        raise DataFormatError(f"{path}: cannot open media file: {err}") from err


def _audio_stream(container: Any, path: Path) -> Any:
    if not container.streams.audio:
        raise DataFormatError(f"{path}: media file has no audio track")
    return container.streams.audio[0]


def _decode_pyav(path: Path, start_s: float, duration_s: float | None) -> tuple[np.ndarray, int]:
    import av

    container = _open_av(path)
    chunks: list[np.ndarray] = []
    try:
        stream = _audio_stream(container, path)
        sr = _check_rate(path, int(stream.rate))
        first = round(start_s * sr)
        stop = None if duration_s is None else first + round(duration_s * sr)
        # Planar float output, channels and rate unchanged: frame.to_ndarray() is (ch, n).
        converter = av.AudioResampler(format="fltp")
        pos = 0
        try:
            for frame in container.decode(stream):
                for out in converter.resample(frame):
                    arr = out.to_ndarray().T  # (channels, n) -> (n, channels)
                    lo, hi = pos, pos + arr.shape[0]
                    pos = hi
                    if hi <= first:
                        continue
                    chunks.append(arr[max(0, first - lo) : None if stop is None else stop - lo])
                if stop is not None and pos >= stop:
                    break
        except (av.error.FFmpegError, ValueError) as err:
            raise DataFormatError(f"{path}: cannot decode audio track: {err}") from err
        channels = int(stream.channels) or 1
        declared = None
        if stream.duration is not None and stream.time_base is not None:
            declared = round(float(stream.duration * stream.time_base) * sr)
    finally:
        container.close()
    if not chunks:
        return np.zeros((0, channels), dtype=np.float32), sr
    data = np.concatenate(chunks).astype(np.float32, copy=False)
    if declared is not None and duration_s is None:
        # AAC pads its last frame to 1024 samples: keep the length the container declares.
        data = data[: max(0, declared - first)]
    return data, sr


def soundfile_blocks(
    path: str | os.PathLike[str],
    *,
    start_s: float = 0.0,
    duration_s: float | None = None,
    block_frames: int = _BLOCK_FRAMES,
) -> Iterator[tuple[np.ndarray, int]]:
    """Read a soundfile-readable file block by block: the one soundfile decoding path.

    Both :func:`decode_audio` (and so ``load_audio`` and ``predict``) and the quality check of
    ``data check --decode`` read through here, so a file decodes in both or in neither.
    Files libsndfile cannot seek in (GSM 6.10 in WAV, some compressed streams) are read from
    the start, skipping to ``start_s``.

    Parameters
    ----------
    path : path-like
        Audio file (WAV, FLAC, OGG, MP3, ...).
    start_s : float
        Offset of the first frame, in seconds.
    duration_s : float or None
        Seconds to read; ``None`` reads to the end.
    block_frames : int
        Frames per block.

    Yields
    ------
    block : numpy.ndarray
        Shape ``(frames, channels)``, float32; integer PCM scaled to [-1, 1).
    sample_rate : int
        Native rate in Hz (the same for every block).

    Raises
    ------
    DataFormatError
        If libsndfile cannot open or decode the file, or the rate is out of range.
    """
    import soundfile as sf

    path = Path(path)
    _check_readable(path)
    try:
        with sf.SoundFile(os.fsencode(path)) as fh:
            sr = _check_rate(path, int(fh.samplerate))
            skip = round(start_s * sr)
            left = None if duration_s is None else round(duration_s * sr)
            if skip and fh.seekable():
                fh.seek(min(skip, fh.frames))
                skip = 0
            while left is None or left > 0:
                want = block_frames if left is None else min(block_frames, left)
                block = fh.read(want, dtype="float32", always_2d=True)
                if block.shape[0] == 0:
                    break
                if skip:  # an unseekable file: drop frames until start_s
                    cut = min(skip, block.shape[0])
                    block, skip = block[cut:], skip - cut
                    if block.shape[0] == 0:
                        continue
                if left is not None:
                    left -= block.shape[0]
                yield block, sr
    except (sf.LibsndfileError, RuntimeError, OSError) as err:
        raise DataFormatError(f"{path}: cannot decode audio: {sf_reason(err)}") from err


def sf_reason(err: BaseException) -> str:
    """Return libsndfile's reason without the repeated file name.

    Called after :func:`path_problem` found a regular, readable file, so libsndfile's "File
    does not exist or is not a regular file" means it did not recognise the content.
    """
    text = str(getattr(err, "error_string", "") or err)
    if text.startswith("File does not exist or is not a regular file"):
        return (
            "libsndfile does not recognise the content (not an audio format it reads, or damaged)"
        )
    return text


def _decode_soundfile(
    path: Path, start_s: float, duration_s: float | None
) -> tuple[np.ndarray, int]:
    pieces = list(soundfile_blocks(path, start_s=start_s, duration_s=duration_s))
    if not pieces:  # decode_audio reports the empty file
        return np.zeros((0, 1), dtype=np.float32), 0
    return np.concatenate([block for block, _ in pieces]), pieces[0][1]
