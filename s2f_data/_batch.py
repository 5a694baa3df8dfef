"""Batch loading with an error table: one bad file never stops the batch.

Every failure is recorded as a row ``(index, path, reason)`` and counted in the summary;
``strict=True`` stops at the first failure instead. Nothing is dropped silently: results
stay aligned with the inputs (``None`` where loading failed).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

import numpy as np
import pandas as pd

from s2f_data._audio import Clip, ClipPolicy, load_clip
from s2f_data._images import FaceFit, load_face
from s2f_data._quality import QualityThresholds, assess_audio
from s2f_data.exceptions import BatchError, DataFormatError

__all__ = [
    "ERROR_COLUMNS",
    "BatchResult",
    "check_media",
    "load_audio_batch",
    "load_face_batch",
    "run_batch",
]

T = TypeVar("T")
ERROR_COLUMNS: tuple[str, ...] = ("index", "path", "reason")


@dataclass
class BatchResult(Generic[T]):
    """Results of a batch, aligned with its inputs, plus the error table.

    Parameters
    ----------
    items : list
        One entry per input; ``None`` where loading failed.
    errors : pandas.DataFrame
        Columns ``index``, ``path``, ``reason``; one row per failed input.
    """

    items: list[T | None]
    errors: pd.DataFrame

    @property
    def n_total(self) -> int:
        """Number of inputs."""
        return len(self.items)

    @property
    def n_failed(self) -> int:
        """Number of failed inputs."""
        return len(self.errors)

    @property
    def n_ok(self) -> int:
        """Number of inputs loaded."""
        return self.n_total - self.n_failed

    @property
    def ok_indices(self) -> list[int]:
        """Indices of the inputs that loaded."""
        failed = set(self.errors["index"].tolist())
        return [i for i in range(self.n_total) if i not in failed]

    def summary(self) -> str:
        """One line: ``"N loaded, M failed (of T)"`` with the most common reasons."""
        text = f"{self.n_ok} loaded, {self.n_failed} failed (of {self.n_total})"
        if self.n_failed:
            kinds = self.errors["reason"].map(_reason_kind).value_counts()
            text += ": " + ", ".join(f"{k} x{v}" for k, v in kinds.items())
        return text


def _reason_kind(reason: str) -> str:
    head = reason.split(":", 1)[0]
    return head if len(head) < 40 else head[:37] + "..."


def _reason(err: BaseException, path: str) -> str:
    text = str(err)
    prefix = f"{path}: "
    if text.startswith(prefix):  # DataFormatError already names the file
        text = text[len(prefix) :]
    if not isinstance(err, DataFormatError | ValueError | OSError):
        text = f"{type(err).__name__}: {text}"
    return text


def run_batch(
    inputs: Iterable[str | os.PathLike[str]],
    fn: Callable[[Path], T],
    *,
    strict: bool = False,
) -> BatchResult[T]:
    """Apply ``fn`` to every input, recording failures instead of stopping.

    Parameters
    ----------
    inputs : iterable of path-like
        Files to process.
    fn : callable
        ``fn(path) -> result``.
    strict : bool
        Raise :class:`BatchError` at the first failure.

    Returns
    -------
    BatchResult
        Results aligned with ``inputs`` and the error table.

    Examples
    --------
    >>> res = run_batch(["a", "b"], lambda p: 1 / 0 if p.name == "b" else 1)
    >>> res.items, res.errors["reason"].tolist()
    ([1, None], ['ZeroDivisionError: division by zero'])
    """
    items: list[T | None] = []
    rows: list[dict[str, Any]] = []
    for i, raw in enumerate(inputs):
        path = Path(raw)
        try:
            items.append(fn(path))
        except Exception as err:  # one bad file never stops the batch (see module doc)
            reason = _reason(err, str(path))
            if strict:
                raise BatchError(str(path), reason) from err
            items.append(None)
            rows.append({"index": i, "path": str(path), "reason": reason})
    errors = pd.DataFrame(rows, columns=list(ERROR_COLUMNS)).astype({"index": "int64"})
    return BatchResult(items, errors)


def load_audio_batch(
    paths: Sequence[str | os.PathLike[str]],
    sample_rate: int = 16000,
    policy: ClipPolicy | None = None,
    *,
    strict: bool = False,
) -> BatchResult[Clip]:
    """Load fixed-length clips for many files (see :func:`s2f_data.load_clip`).

    Parameters
    ----------
    paths : sequence of path-like
        Audio or video files.
    sample_rate : int
        Output rate in Hz.
    policy : ClipPolicy or None
        Clip length and crop mode.
    strict : bool
        Stop at the first failure.

    Returns
    -------
    BatchResult of Clip
        Clips aligned with ``paths`` and the error table.
    """
    return run_batch(paths, lambda p: load_clip(p, policy, sample_rate), strict=strict)


def load_face_batch(
    paths: Sequence[str | os.PathLike[str]],
    size: int = 224,
    *,
    fit: FaceFit = "crop",
    strict: bool = False,
) -> BatchResult[np.ndarray]:
    """Load many face images as ``(size, size, 3)`` uint8 arrays.

    Parameters
    ----------
    paths : sequence of path-like
        Image or video files.
    size : int
        Output side.
    fit : {"crop", "resize", "pad"}
        See :func:`s2f_data.prepare_face`.
    strict : bool
        Stop at the first failure.

    Returns
    -------
    BatchResult of numpy.ndarray
        Images aligned with ``paths`` and the error table.
    """
    return run_batch(paths, lambda p: load_face(p, size, fit=fit), strict=strict)


def check_media(
    audio_paths: Sequence[str | os.PathLike[str]],
    face_paths: Sequence[str | os.PathLike[str] | None] | None = None,
    *,
    thresholds: QualityThresholds | None = None,
    face_size: int = 224,
    strict: bool = False,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Decode every audio file (and face) once and tabulate quality and errors.

    Parameters
    ----------
    audio_paths : sequence of path-like
        One per utterance.
    face_paths : sequence of path-like or None, optional
        One per utterance (``None`` entries are skipped).
    thresholds : QualityThresholds or None
        Quality limits.
    face_size : int
        Face side used when test-decoding faces.
    strict : bool
        Stop at the first failure.

    Returns
    -------
    quality : pandas.DataFrame
        One row per utterance: ``index``, ``path`` and the :class:`AudioQuality` fields
        (NaN where the file failed).
    errors : pandas.DataFrame
        Columns ``index``, ``path``, ``kind`` (``audio`` / ``face``), ``reason``.
    """
    audio = run_batch(audio_paths, lambda p: assess_audio(p, thresholds), strict=strict)
    rows = []
    for i, (p, q) in enumerate(zip(audio_paths, audio.items, strict=True)):
        row: dict[str, Any] = {"index": i, "path": str(p)}
        if q is not None:
            row.update(q.to_dict())
        rows.append(row)
    quality = pd.DataFrame(rows)
    errors = audio.errors.assign(kind="audio")
    if face_paths is not None:
        present = [(i, p) for i, p in enumerate(face_paths) if p is not None]
        faces = run_batch([p for _, p in present], lambda p: load_face(p, face_size), strict=strict)
        face_err = faces.errors.assign(
            kind="face", index=[present[j][0] for j in faces.errors["index"]]
        )
        errors = pd.concat([errors, face_err], ignore_index=True)
    errors = (
        errors[["index", "path", "kind", "reason"]]
        .sort_values(["index", "kind"], kind="stable")
        .reset_index(drop=True)
    )
    return quality, errors
