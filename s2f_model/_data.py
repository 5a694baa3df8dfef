"""Manifest -> in-memory torch datasets for training: clipped voices, faces, landmarks.

Everything is decoded once and kept as tensors (the built-in population fits in memory many
times over): voices as fixed-length clips at the model's sample rate, faces as ``uint8``
tensors resized to the model's face size (each distinct face file decoded once), landmarks
from the ``landmarks_path`` extra column, and training speakers mapped to identity indices
(the face encoder's fc8 classes).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from s2f_data import DataFormatError, Manifest, load_audio, read_manifest
from s2f_model._frontend import fit_clip

if TYPE_CHECKING:
    import pandas as pd
    import torch

__all__ = [
    "FaceDataset",
    "VoiceFaceDataset",
    "load_face_image",
    "load_faces",
    "load_landmarks",
    "load_voice_face_data",
    "rows_with_face",
    "training_identities",
]

log = logging.getLogger(__name__)

Split = Literal["train", "val", "test"]
_SPLITS = ("train", "val", "test")
N_LANDMARKS = 68


def load_face_image(
    path: str | os.PathLike[str] | bytes, size: int, *, name: str = ""
) -> np.ndarray:
    """Decode a face image to RGB ``uint8`` of shape ``(size, size, 3)``.

    Parameters
    ----------
    path : path-like or bytes
        Any image Pillow reads (a file, or its bytes as stored in a training shard);
        greyscale, palette and RGBA are converted to RGB.
    size : int
        Output side in pixels (bilinear, anti-aliased when shrinking).
    name : str
        What to call the image in errors when ``path`` is bytes (e.g. shard and key).

    Returns
    -------
    numpy.ndarray
        ``(size, size, 3)`` uint8.

    Raises
    ------
    DataFormatError
        If the file cannot be decoded; the message names it.
    """
    import io

    from PIL import Image, UnidentifiedImageError

    source = io.BytesIO(path) if isinstance(path, bytes) else path
    label = name or ("<bytes>" if isinstance(path, bytes) else path)
    try:
        with Image.open(source) as img:
            rgb = img.convert("RGB")
    except (OSError, UnidentifiedImageError, ValueError) as err:
        raise DataFormatError(f"{label}: cannot decode face image: {err}") from err
    if rgb.size != (size, size):
        rgb = rgb.resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(rgb, dtype=np.uint8)


def load_landmarks(path: str | os.PathLike[str]) -> np.ndarray:
    """Read a ``(68, 2)`` landmark file (``.npy``, no pickles), normalised to ``[0, 1]``.

    Parameters
    ----------
    path : path-like
        A ``.npy`` file written by ``numpy.save``.

    Returns
    -------
    numpy.ndarray
        ``(68, 2)`` float32, x right and y down as fractions of the image size.

    Raises
    ------
    DataFormatError
        Wrong shape, non-finite values, values far outside ``[0, 1]``, or an unreadable file.
    """
    try:
        marks = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise DataFormatError(f"{path}: cannot read landmarks (.npy expected): {err}") from err
    if marks.shape != (N_LANDMARKS, 2):
        raise DataFormatError(
            f"{path}: landmarks have shape {marks.shape}, expected ({N_LANDMARKS}, 2)"
        )
    marks = marks.astype(np.float32)
    if not np.isfinite(marks).all():
        raise DataFormatError(f"{path}: landmarks contain NaN or Inf")
    if marks.min() < -0.5 or marks.max() > 1.5:
        raise DataFormatError(
            f"{path}: landmark coordinates span [{marks.min():.3g}, {marks.max():.3g}]; "
            f"expected coordinates normalised to [0, 1] of the image size"
        )
    return marks


def training_identities(manifest: Manifest) -> list[str]:
    """Return the sorted speaker ids of the training split that have a face (fc8 classes).

    Parameters
    ----------
    manifest : s2f_data.Manifest
        The training manifest.

    Returns
    -------
    list of str
        Identity ``i`` of the face encoder's fc8 is ``result[i]``.
    """
    frame = manifest.frame
    rows = frame["split"] == "train"
    if "face_path" in frame:
        rows &= frame["face_path"].notna()
    return sorted(str(s) for s in frame.loc[rows, "speaker_id"].unique())


@dataclass(kw_only=True)
class FaceDataset:
    """Distinct face images with landmarks and identity index.

    Parameters
    ----------
    images : torch.Tensor
        ``(faces, 3, size, size)`` uint8.
    landmarks : torch.Tensor
        ``(faces, 68, 2)`` float32; rows without landmarks hold zeros.
    has_landmarks : torch.Tensor
        ``(faces,)`` bool.
    identity : torch.Tensor
        ``(faces,)`` int64 fc8 class, ``-1`` for speakers outside the training identities.
    paths : list of pathlib.Path
        Source file per face.
    """

    images: torch.Tensor
    landmarks: torch.Tensor
    has_landmarks: torch.Tensor
    identity: torch.Tensor
    paths: list[Path]

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return self.batch([index])

    def batch(self, indices: Sequence[int] | torch.Tensor) -> dict[str, torch.Tensor]:
        """Return a batch: ``image`` float ``(batch, 3, S, S)`` in ``[0, 1]`` and the rest."""
        import torch

        idx = torch.as_tensor(indices, dtype=torch.long)
        return {
            "image": self.images[idx].float() / 255.0,
            "landmarks": self.landmarks[idx],
            "has_landmarks": self.has_landmarks[idx],
            "identity": self.identity[idx],
        }


@dataclass(kw_only=True)
class VoiceFaceDataset:
    """Utterances as fixed-length clips, each pointing at its speaker's face.

    Parameters
    ----------
    waves : torch.Tensor
        ``(utterances, clip_samples)`` float32 at the model's sample rate (clip policy applied).
    face_index : torch.Tensor
        ``(utterances,)`` int64 index into ``faces``.
    faces : FaceDataset
        The distinct faces.
    utterance_ids, speaker_ids : list of str
        Manifest values per utterance.
    identities : list of str
        Training speaker ids in fc8 order.
    n_dropped : int
        Rows of the split left out because they have no face.
    """

    waves: torch.Tensor
    face_index: torch.Tensor
    faces: FaceDataset
    utterance_ids: list[str]
    speaker_ids: list[str]
    identities: list[str]
    n_dropped: int = 0
    _frontend_cache: dict[str, torch.Tensor] = field(default_factory=dict, repr=False)

    def __len__(self) -> int:
        return int(self.waves.shape[0])

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return self.batch([index])

    def frontend_features(self, key: str, compute: Callable[[], torch.Tensor]) -> torch.Tensor:
        """Return the front-end features of every clip, computed once per ``key``.

        Parameters
        ----------
        key : str
            What decides the features besides the clips (audio settings and device): runs
            that share this dataset (``train --seeds``) and the key share the tensor.
        compute : callable
            ``compute() -> (utterances, ...)`` tensor, called on the first request.

        Returns
        -------
        torch.Tensor
            The cached tensor (read it, never write to it).
        """
        if key not in self._frontend_cache:
            self._frontend_cache[key] = compute()
        return self._frontend_cache[key]

    def batch(self, indices: Sequence[int] | torch.Tensor) -> dict[str, torch.Tensor]:
        """Return ``wave (batch, samples)`` plus the face batch of those utterances."""
        import torch

        idx = torch.as_tensor(indices, dtype=torch.long)
        out = self.faces.batch(self.face_index[idx])
        out["wave"] = self.waves[idx]
        out["face_index"] = self.face_index[idx]
        return out


def load_voice_face_data(
    manifest: Manifest | str | os.PathLike[str],
    split: Split | None,
    *,
    sample_rate: int,
    clip_samples: int,
    image_size: int,
    identities: Sequence[str] | None = None,
    progress: bool = False,
) -> VoiceFaceDataset:
    """Decode one split of a manifest into tensors.

    Parameters
    ----------
    manifest : Manifest or path-like
        The manifest (or its CSV path).
    split : {"train", "val", "test"} or None
        Rows to load (``None``: all rows).
    sample_rate : int
        Model sample rate; audio at other rates is resampled by ``s2f_data.load_audio``.
    clip_samples : int
        Clip length in samples (shorter audio looped, longer cropped).
    image_size : int
        Face side in pixels.
    identities : sequence of str, optional
        fc8 speaker order; default :func:`training_identities` of the manifest.
    progress : bool
        Show a tqdm bar while decoding.

    Returns
    -------
    VoiceFaceDataset
        Rows without a face are dropped (counted in ``n_dropped``).

    Raises
    ------
    ValueError
        Unknown split, no row with a face, or an undecodable file (the error names it).
    """
    import torch

    if not isinstance(manifest, Manifest):
        manifest = read_manifest(manifest)
    if identities is None:
        identities = training_identities(manifest)
    with_face, n_dropped = rows_with_face(manifest, split)
    face_index, face_rows = _distinct_faces(with_face)
    bar = _progress_bar(progress, len(with_face) + len(face_rows), split)
    try:
        waves = _load_waves(manifest, with_face, sample_rate, clip_samples, bar)
        faces = load_faces(
            manifest, with_face.loc[face_rows], image_size, identities=identities, bar=bar
        )
    finally:
        if bar is not None:
            bar.close()
    return VoiceFaceDataset(
        waves=torch.from_numpy(waves),
        face_index=torch.from_numpy(face_index),
        faces=faces,
        utterance_ids=[str(v) for v in with_face["utterance_id"]],
        speaker_ids=[str(v) for v in with_face["speaker_id"]],
        identities=list(identities),
        n_dropped=int(n_dropped),
    )


def rows_with_face(manifest: Manifest, split: Split | None) -> tuple[pd.DataFrame, int]:
    """Return the rows of ``split`` that have a face, and the count of those left out.

    Raises
    ------
    ValueError
        Unknown split, no ``face_path`` column, or no row of the split with a face.
    """
    if split is not None and split not in _SPLITS:
        raise ValueError(f"split must be one of {list(_SPLITS)} or None, got {split!r}")
    frame = manifest.frame
    rows = frame if split is None else frame[frame["split"] == split]
    if "face_path" not in rows:
        raise ValueError(
            f"{manifest.folder}: manifest has no face_path column; training needs faces"
        )
    with_face = rows[rows["face_path"].notna()]
    n_dropped = len(rows) - len(with_face)
    if n_dropped:
        log.warning("%d row(s) of split %s have no face and are left out", n_dropped, split)
    if len(with_face) == 0:
        raise ValueError(
            f"{manifest.folder}: no row of split {split!r} has a face_path; cannot train on it"
        )
    return with_face, n_dropped


def _distinct_faces(rows: pd.DataFrame) -> tuple[np.ndarray, list[Any]]:
    """Index every row's face among the distinct face files: ``(face_index, first rows)``."""
    face_keys: dict[str, int] = {}
    face_rows: list[Any] = []
    face_index = np.empty(len(rows), dtype=np.int64)
    for i, (row_idx, cell) in enumerate(rows["face_path"].items()):
        key = str(cell)
        if key not in face_keys:
            face_keys[key] = len(face_keys)
            face_rows.append(row_idx)
        face_index[i] = face_keys[key]
    return face_index, face_rows


def _progress_bar(enabled: bool, total: int, split: Split | None) -> Any:
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=f"loading {split or 'all'}", unit="file", leave=False)


def _load_waves(
    manifest: Manifest, rows: pd.DataFrame, sample_rate: int, clip_samples: int, bar: Any
) -> np.ndarray:
    """Decode every row's audio to a clip: ``(rows, clip_samples)`` float32."""
    waves = np.empty((len(rows), clip_samples), dtype=np.float32)
    for i, cell in enumerate(rows["audio_path"].tolist()):
        wave = load_audio(manifest.resolve(str(cell)), sample_rate=sample_rate)
        waves[i] = fit_clip(wave, clip_samples)
        if bar is not None:
            bar.update()
    return waves


def load_faces(
    manifest: Manifest,
    rows: pd.DataFrame,
    image_size: int,
    *,
    identities: Sequence[str],
    bar: Any = None,
) -> FaceDataset:
    """Decode one face per row (with its landmarks and fc8 identity) into a FaceDataset.

    Parameters
    ----------
    manifest : s2f_data.Manifest
        Resolves the rows' paths.
    rows : pandas.DataFrame
        One row per distinct face (``face_path``, ``speaker_id``, optional ``landmarks_path``).
    image_size : int
        Face side in pixels.
    identities : sequence of str
        fc8 speaker order; other speakers get identity ``-1``.
    bar : tqdm bar, optional
        Advanced once per face.

    Returns
    -------
    FaceDataset
        ``len(rows)`` faces in the rows' order.
    """
    import torch

    ident_index = {spk: i for i, spk in enumerate(identities)}
    has_marks_col = "landmarks_path" in rows
    images = np.empty((len(rows), image_size, image_size, 3), dtype=np.uint8)
    marks = np.zeros((len(rows), N_LANDMARKS, 2), dtype=np.float32)
    has_marks = np.zeros(len(rows), dtype=bool)
    face_ident = np.full(len(rows), -1, dtype=np.int64)
    paths: list[Path] = []
    for j, (_, row) in enumerate(rows.iterrows()):
        path = manifest.resolve(str(row["face_path"]))
        paths.append(path)
        images[j] = load_face_image(path, image_size)
        if has_marks_col and not _is_missing(row["landmarks_path"]):
            marks[j] = load_landmarks(manifest.resolve(str(row["landmarks_path"])))
            has_marks[j] = True
        face_ident[j] = ident_index.get(str(row["speaker_id"]), -1)
        if bar is not None:
            bar.update()
    return FaceDataset(
        images=torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(),  # (F,S,S,3)->(F,3,S,S)
        landmarks=torch.from_numpy(marks),
        has_landmarks=torch.from_numpy(has_marks),
        identity=torch.from_numpy(face_ident),
        paths=paths,
    )


def _is_missing(value: object) -> bool:
    import pandas as pd

    return value is None or bool(pd.isna(value)) or str(value).strip() == ""
