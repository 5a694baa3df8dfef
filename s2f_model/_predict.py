"""Inference: voice recordings -> reconstructed face images (PNG), in batch.

Inputs may be audio files, folders (searched recursively for audio files) or manifests
(``.csv`` with an ``audio_path`` column). Every file goes through ``s2f_data.load_audio``, so
any sample rate and channel count works. A file that cannot be read is reported (path and
reason) and counted; it never stops the batch.
"""

from __future__ import annotations

import csv
import io
import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from s2f_data import (
    DataFormatError,
    atomic_write_bytes,
    atomic_write_text,
    load_audio_checked,
    path_problem,
    printable_path,
    read_manifest,
)
from s2f_model._config import AudioConfig
from s2f_model._face_images import images_to_uint8
from s2f_model._frontend import fit_clip

__all__ = ["AUDIO_SUFFIXES", "PredictionReport", "collect_inputs", "predict_faces"]

log = logging.getLogger(__name__)

#: File name endings treated as audio when a folder is searched.
AUDIO_SUFFIXES: frozenset[str] = frozenset(
    {
        ".wav",
        ".flac",
        ".ogg",
        ".oga",
        ".mp3",
        ".aiff",
        ".aif",
        ".au",
        ".opus",
        ".m4a",
        ".aac",
        ".mp4",
        ".webm",
        ".mkv",
        ".mov",
    }
)


@dataclass(kw_only=True)
class PredictionReport:
    """Outcome of :func:`predict_faces`.

    Parameters
    ----------
    outputs : list of (pathlib.Path, pathlib.Path)
        ``(input audio, written face.png)`` for every success, in input order.
    failures : list of (pathlib.Path, str)
        ``(input, reason)`` for every file that could not be processed.
    flags : dict of pathlib.Path to str
        Quality flags (``silent;too_short``, see ``s2f_data.QUALITY_FLAGS``) of inputs that
        gave a face but that ``data check --decode`` would flag, with the same rules.
    """

    outputs: list[tuple[Path, Path]] = field(default_factory=list)
    failures: list[tuple[Path, str]] = field(default_factory=list)
    flags: dict[Path, str] = field(default_factory=dict)

    @property
    def n_ok(self) -> int:
        """Faces written."""
        return len(self.outputs)

    @property
    def n_failed(self) -> int:
        """Inputs that failed."""
        return len(self.failures)


@dataclass(frozen=True)
class _Job:
    audio: Path
    out_name: str  # relative path of the PNG inside out_dir


def _is_manifest(path: Path) -> bool:
    return path.suffix.lower() == ".csv"


def collect_inputs(
    inputs: Sequence[str | os.PathLike[str]],
) -> tuple[list[tuple[Path, str]], list[tuple[Path, str]]]:
    """Expand files, folders and manifests into ``(audio path, output name)`` pairs.

    Output names: ``<stem>.png`` for a file; the path relative to the folder with ``.png`` for
    a folder's files; ``<utterance_id>.png`` for manifest rows. Names that collide get the
    input's position as a suffix (``voice.png``, ``voice-2.png``, ...).

    Parameters
    ----------
    inputs : sequence of path-like
        Audio files, folders and ``.csv`` manifests.

    Returns
    -------
    jobs : list of (pathlib.Path, str)
        Audio file and output name relative to the output folder.
    problems : list of (pathlib.Path, str)
        Inputs that do not exist or manifests that cannot be read.
    """
    jobs: list[tuple[Path, str]] = []
    problems: list[tuple[Path, str]] = []
    for raw in inputs:
        path = Path(raw)
        if path.is_dir():
            # every non-folder entry with an audio suffix: a dangling link, a link loop or
            # a FIFO gets a failed row saying what it is, never a silent drop
            found = sorted(
                p for p in path.rglob("*") if p.suffix.lower() in AUDIO_SUFFIXES and not p.is_dir()
            )
            if not found:
                problems.append(
                    (path, f"folder holds no audio file ({', '.join(sorted(AUDIO_SUFFIXES))})")
                )
            jobs += [(p, str(p.relative_to(path).with_suffix(".png"))) for p in found]
        elif path.is_file() and _is_manifest(path):
            try:
                manifest = read_manifest(path)
            except ValueError as err:
                problems.append((path, f"cannot read manifest: {err}"))
                continue
            frame = manifest.frame
            for uid, cell in zip(frame["utterance_id"], frame["audio_path"], strict=True):
                try:
                    audio = manifest.resolve(str(cell))
                except ValueError as err:
                    problems.append((path, f"row {uid}: {err}"))
                    continue
                jobs.append((audio, f"{_safe_name(str(uid))}.png"))
        elif path.is_file():
            jobs.append((path, f"{path.stem}.png"))
        elif not os.path.lexists(path):
            problems.append((path, "no such file or folder"))
        else:
            problems.append((path, path_problem(path) or "not a file or folder"))
    seen: dict[str, int] = {}
    unique = []
    for audio, name in jobs:
        count = seen.get(name, 0) + 1
        seen[name] = count
        if count > 1:
            stem, suffix = os.path.splitext(name)
            name = f"{stem}-{count}{suffix}"
        unique.append((audio, name))
    return unique, problems


def _safe_name(text: str) -> str:
    """Keep an utterance id usable as a file name (no folders, no odd characters)."""
    keep = "".join(c if c.isalnum() or c in "-_." else "_" for c in text)
    return keep.strip(".") or "utterance"


def _to_png(image: np.ndarray) -> bytes:
    """``(3, S, S)`` float in [0, 1] -> PNG bytes."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(images_to_uint8(image[None])[0]).save(buf, format="PNG")
    return buf.getvalue()


@torch.no_grad()
def predict_faces(
    model: nn.Module,
    inputs: Sequence[str | os.PathLike[str]] | str | os.PathLike[str],
    out_dir: str | os.PathLike[str] | None = None,
    *,
    batch_size: int = 16,
    output: str | os.PathLike[str] | None = None,
    progress: bool = False,
) -> PredictionReport:
    """Reconstruct a face image from each voice recording and write it as PNG.

    Parameters
    ----------
    model : Speech2Face
        A trained model (see ``load_model``); used in eval mode on its own device.
    inputs : path-like or sequence of path-like
        Audio files (any format, rate and channel count ``s2f_data.load_audio`` reads),
        folders (searched recursively) and manifests (``.csv``).
    out_dir : path-like, optional
        Output folder; a ``predictions.csv`` there lists input, output and status per file.
    batch_size : int
        Clips per forward pass.
    output : path-like, optional
        Exact PNG path, for a single input file (instead of ``out_dir``).
    progress : bool
        Show a tqdm bar.

    Returns
    -------
    PredictionReport
        Written faces and failures ``(path, reason)``; a failure never stops the batch.

    Raises
    ------
    ValueError
        If neither or both of ``out_dir`` and ``output`` are given, or ``output`` is used
        with more than one input.

    Examples
    --------
    >>> report = predict_faces(load_model("runs/a"), ["voice.wav"], "faces/")  # doctest: +SKIP
    >>> report.n_ok, report.failures  # doctest: +SKIP
    (1, [])
    """
    if isinstance(inputs, (str, os.PathLike)):
        inputs = [inputs]
    if (out_dir is None) == (output is None):
        raise ValueError("give exactly one of out_dir (a folder) and output (one .png file)")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    jobs, problems, root = _plan_outputs(inputs, out_dir, output)
    report = PredictionReport(failures=list(problems))
    model.eval()
    bar = None
    if progress:
        from tqdm.auto import tqdm  # third-party, only when a bar is shown

        bar = tqdm(total=len(jobs), desc="predict", unit="file")
    for start in range(0, len(jobs), batch_size):
        chunk = jobs[start : start + batch_size]
        waves, ok = _load_chunk(chunk, model.cfg.audio, report)
        if waves:
            _write_faces(model, waves, ok, root, report)
        if bar is not None:
            bar.update(len(chunk))
    if bar is not None:
        bar.close()
    if out_dir is not None:
        _write_index(root / "predictions.csv", report)
    return report


def _plan_outputs(
    inputs: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str] | None,
    output: str | os.PathLike[str] | None,
) -> tuple[list[tuple[Path, str]], list[tuple[Path, str]], Path]:
    """Return the jobs (audio, PNG name), the input problems and the output folder."""
    jobs, problems = collect_inputs(inputs)
    if output is None:
        return jobs, problems, Path(out_dir)
    if len(jobs) + len(problems) != 1:
        raise ValueError(
            f"output={output} names one PNG but the inputs hold "
            f"{len(jobs) + len(problems)} recordings; give an output folder instead"
        )
    output = Path(output)
    return [(audio, output.name) for audio, _ in jobs], problems, output.parent


def _failure_reason(audio: Path, err: Exception) -> str:
    """Return the reason of a failed input, without a leading repeat of its path."""
    reason = str(err)
    prefix = f"{audio}: "
    reason = reason[len(prefix) :] if reason.startswith(prefix) else reason
    if not isinstance(err, DataFormatError | OSError | ValueError):
        reason = f"{type(err).__name__}: {reason}"
    return reason


def _load_chunk(
    chunk: list[tuple[Path, str]], audio_cfg: AudioConfig, report: PredictionReport
) -> tuple[list[np.ndarray], list[tuple[Path, str]]]:
    """Decode a chunk's clips (fitted to the clip length); record failures and flags."""
    rate, length = audio_cfg.sample_rate, audio_cfg.clip_samples
    waves, ok = [], []
    for audio, name in chunk:
        try:
            wave, quality = load_audio_checked(audio, sample_rate=rate)
            waves.append(fit_clip(wave, length))
            ok.append((audio, name))
        except Exception as err:  # one bad file never stops the batch (module doc)
            reason = _failure_reason(audio, err)
            report.failures.append((audio, reason))
            log.warning("%s: %s", audio, reason)
            continue
        if quality.flags:
            report.flags[audio] = ";".join(quality.flags)
    return waves, ok


def _write_faces(
    model: nn.Module,
    waves: list[np.ndarray],
    ok: list[tuple[Path, str]],
    root: Path,
    report: PredictionReport,
) -> None:
    """Reconstruct the faces of ``waves`` and write one PNG per clip into ``root``."""
    device = next(model.parameters()).device
    batch = torch.from_numpy(np.stack(waves)).to(device)  # (batch, samples)
    images = model.decode(model.encode_voice(batch)).image.float().cpu().numpy()
    for (audio, name), image in zip(ok, images, strict=True):
        target = root / name
        try:
            atomic_write_bytes(target, _to_png(image))
        except OSError as err:
            report.failures.append((audio, f"cannot write {target}: {err}"))
            continue
        report.outputs.append((audio, target))


def _write_index(path: Path, report: PredictionReport) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["input", "output", "status", "reason", "flags"])
    rows: Iterable[list[str]] = (
        [
            printable_path(a),
            printable_path(o.relative_to(path.parent)),
            "ok",
            "",
            report.flags.get(a, ""),
        ]
        for a, o in report.outputs
    )
    writer.writerows(rows)
    writer.writerows(
        [printable_path(a), "", "failed", printable_path(reason), ""]
        for a, reason in report.failures
    )
    atomic_write_text(path, buf.getvalue())
