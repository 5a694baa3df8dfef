"""The per-utterance half of the evaluation: faces, voices, model forward, voice measures.

:func:`prepare_evaluation` selects the rows and loads the faces (every process of a sharded
evaluation does the same); :func:`evaluate_rows` runs the model on one batch of rows, the
unit that :mod:`audit._sharded` spreads over ranks; :mod:`audit._evaluation` assembles the
table from the blocks. See :func:`audit.build_evaluation_table` for the columns.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from audit._input_length import InputSeconds, _input_length_batch, resolve_input_seconds
from audit._voice_measures import VOICE_MEASURES
from audit._voice_measures import voice_measures as measure_voice
from audit.exceptions import AuditInputError
from s2f_data import load_audio

if TYPE_CHECKING:
    from s2f_data import Manifest

log = logging.getLogger(__name__)

#: Reason recorded for a row without a face in a manifest where other rows have one.
NO_FACE_REASON = (
    "no face_path: the audit's measures (similarity, retrieval, attribute agreement, "
    "craniofacial) compare the reconstruction with the speaker's true face, so this "
    "utterance is not evaluated"
)


def _to_uint8(images: Any) -> np.ndarray:
    """``(batch, 3, H, W)`` float tensor in [0, 1] -> ``(batch, H, W, 3)`` uint8.

    :func:`s2f_model.images_to_uint8`, imported here: ``import audit`` must not load torch.
    """
    from s2f_model import images_to_uint8

    return images_to_uint8(images)


def _load_face(path: Path, size: int) -> np.ndarray:
    """Read an image as RGB uint8 ``(size, size, 3)`` (centre crop to square, then resize)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as img:
            img = img.convert("RGB")
            w, h = img.size
            side = min(w, h)
            left, top = (w - side) // 2, (h - side) // 2
            img = img.crop((left, top, left + side, top + side))
            img = img.resize((size, size), Image.Resampling.BILINEAR)
            return np.asarray(img, dtype=np.uint8)
    except (OSError, UnidentifiedImageError, ValueError) as err:
        raise ValueError(f"{path}: cannot read face image: {err}") from err


_VOICE_COLUMN_RENAME = {"median_f0_hz": "f0_median_hz"}


def voice_measure_columns(table: pd.DataFrame) -> pd.DataFrame:
    """Return the voice-measure columns of an evaluation table, with ``utterance_id``.

    Parameters
    ----------
    table : DataFrame
        An evaluation table (e.g. ``evaluation.csv`` of an audit read with
        ``pandas.read_csv``, which parses the written floats exactly).

    Returns
    -------
    DataFrame
        ``utterance_id`` and the measure columns present; pass it as ``voice_measures`` to
        :func:`build_evaluation_table`.
    """
    names = [_VOICE_COLUMN_RENAME.get(m, f"voice_{m}") for m in VOICE_MEASURES]
    present = [c for c in names if c in table.columns]
    if "utterance_id" not in table.columns or not present:
        raise AuditInputError(
            "voice measures to reuse need utterance_id and at least one of "
            f"{names}; got columns {list(table.columns)}"
        )
    return table[["utterance_id", *present]].copy()


def _known_voice_measures(given: bool | pd.DataFrame) -> dict[str, dict[str, float]]:
    """utterance_id -> measures (keys as :func:`voice_measures` returns them)."""
    if isinstance(given, bool):
        return {}
    if not isinstance(given, pd.DataFrame):
        raise AuditInputError(
            f"voice_measures must be True, False or a DataFrame, got {type(given).__name__}"
        )
    given = voice_measure_columns(given)
    back = {v: k for k, v in _VOICE_COLUMN_RENAME.items()}
    names = {c: back.get(c, c.removeprefix("voice_")) for c in given.columns[1:]}
    if given["utterance_id"].duplicated().any():
        dup = given.loc[given["utterance_id"].duplicated(), "utterance_id"].iloc[0]
        raise AuditInputError(f"voice measures to reuse list utterance {dup!r} twice")
    return {
        str(rec.pop("utterance_id")): {names[k]: float(v) for k, v in rec.items()}
        for rec in given.to_dict("records")
    }


@dataclass(kw_only=True)
class _Prepared:
    """What every process of an evaluation knows before the model runs on any utterance.

    ``frame`` holds the evaluated rows (positions 0..n-1); ``faces`` the distinct face
    images (``(H, W, 3)`` at the face encoder's input size) with their landmarks (or None)
    and ``row_face[i]``, the face of row ``i`` (-1: none, the row is in ``errors``).
    """

    manifest: Any
    frame: pd.DataFrame
    split: str | None
    durations: tuple[float, ...]
    has_faces: bool
    face_images: list[np.ndarray]
    face_landmarks: list[np.ndarray | None]
    row_face: np.ndarray
    errors: list[dict[str, Any]]
    known_measures: dict[str, dict[str, float]]
    measure_voice: bool


@dataclass(kw_only=True)
class RowsPart:
    """The per-utterance model work on one block of rows (what a shard of ranks computes).

    Attributes
    ----------
    rows : numpy.ndarray
        Positions (in the evaluated frame) of the rows evaluated, ascending.
    voice : numpy.ndarray
        ``(rows, D)`` voice features.
    recon : numpy.ndarray
        ``(rows, S, S, 3)`` uint8 reconstructions.
    recon_landmarks : numpy.ndarray
        ``(rows, 68, 2)`` landmarks of the reconstructions.
    by_length : dict
        Per input duration: ``(features (rows, D), speech seconds (rows,))``.
    measures : list of dict
        Voice measures per row (``[]`` when not measured).
    errors : list of dict
        Rows of the block whose audio could not be read, in row order.
    """

    rows: np.ndarray
    voice: np.ndarray
    recon: np.ndarray
    recon_landmarks: np.ndarray
    by_length: dict[float, tuple[np.ndarray, np.ndarray]]
    measures: list[dict[str, float]]
    errors: list[dict[str, Any]]


def prepare_evaluation(
    model: Any,
    manifest: Manifest,
    split: str | None,
    input_seconds: InputSeconds,
    voice_measures: bool | pd.DataFrame,
) -> _Prepared:
    """Select the rows, load the faces and resolve the input durations.

    Parameters
    ----------
    model : s2f_model.Speech2Face
        The model (its config gives the face size and the durations it can take).
    manifest : s2f_data.Manifest
        Evaluation manifest.
    split, input_seconds, voice_measures
        As for :func:`audit.build_evaluation_table`.

    Returns
    -------
    _Prepared
        The evaluated rows, faces, rows without a usable face (``errors``), durations and
        the voice measures to reuse; identical in every process of a sharded evaluation.

    Raises
    ------
    AuditInputError
        If the split has no rows, or ``voice_measures`` is not usable.
    """
    frame = manifest.frame
    if split is not None:
        frame = frame[frame["split"] == split]
    if len(frame) == 0:
        raise AuditInputError(
            f"the manifest has no rows in split {split!r}; splits present: "
            f"{sorted(manifest.frame['split'].dropna().unique())}"
        )
    frame = frame.reset_index(drop=True)
    durations = resolve_input_seconds(model, input_seconds)
    has_faces = "face_path" in frame.columns and frame["face_path"].notna().any()
    images, landmarks, row_face, errors = _load_faces(
        frame, manifest, model.cfg.face.image_size, has_faces
    )
    if durations and not has_faces:
        log.info("input-length comparison skipped: the manifest has no face files")
        durations = ()
    return _Prepared(
        manifest=manifest,
        frame=frame,
        split=split,
        durations=tuple(durations),
        has_faces=bool(has_faces),
        face_images=images,
        face_landmarks=landmarks,
        row_face=row_face,
        errors=errors,
        known_measures=_known_voice_measures(voice_measures),
        measure_voice=voice_measures is not False,
    )


def _load_faces(
    frame: pd.DataFrame, manifest: Manifest, face_in: int, has_faces: bool
) -> tuple[list[np.ndarray], list[np.ndarray | None], np.ndarray, list[dict[str, Any]]]:
    """Faces, once per distinct file, at the encoder's input size; rows without one listed."""
    errors: list[dict[str, Any]] = []
    face_index: dict[str, int] = {}
    face_images: list[np.ndarray] = []
    face_landmarks: list[np.ndarray | None] = []
    row_face = np.full(len(frame), -1, dtype=np.int64)
    if not has_faces:
        return face_images, face_landmarks, row_face, errors
    lm_col = "landmarks_path" if "landmarks_path" in frame.columns else None
    for i, row in frame.iterrows():
        cell = row["face_path"]
        uid = row["utterance_id"]
        if pd.isna(cell) or not str(cell).strip():
            errors.append(
                {"utterance_id": uid, "path": "", "stage": "face", "reason": NO_FACE_REASON}
            )
            continue
        if cell not in face_index:
            try:
                image = _load_face(manifest.resolve(cell), face_in)
            except ValueError as err:
                errors.append(
                    {"utterance_id": uid, "path": str(cell), "stage": "face", "reason": str(err)}
                )
                continue
            landmarks = None
            if lm_col is not None and pd.notna(row[lm_col]):
                try:
                    landmarks = np.load(manifest.resolve(row[lm_col])).astype(np.float32)
                    if landmarks.shape != (68, 2):
                        raise ValueError(f"expected shape (68, 2), got {landmarks.shape}")
                except (OSError, ValueError) as err:
                    errors.append(
                        {
                            "utterance_id": uid,
                            "path": str(row[lm_col]),
                            "stage": "landmarks",
                            "reason": str(err),
                        }
                    )
                    landmarks = None
            face_index[cell] = len(face_images)
            face_images.append(image)
            face_landmarks.append(landmarks)
        row_face[i] = face_index[cell]
    return face_images, face_landmarks, row_face, errors


def evaluate_rows(model: Any, prep: _Prepared, start: int, stop: int) -> RowsPart:
    """Run the model on rows ``start:stop`` of the evaluated frame (one forward batch).

    Reads the audio (an unreadable file is listed in ``errors``, stage ``audio``), runs the
    voice encoder and decoder, the input-length features and the voice measures. Rows without
    a usable face are skipped (already listed by :func:`prepare_evaluation`).

    The rows of one call form one batch, so a block gives the same numbers whichever
    process computes it (sharded evaluation splits the rows at these block boundaries).

    Parameters
    ----------
    model : s2f_model.Speech2Face
        The model in eval mode (inputs go to the device of its parameters).
    prep : _Prepared
        From :func:`prepare_evaluation`.
    start, stop : int
        Row positions in ``prep.frame``.

    Returns
    -------
    RowsPart
        The block's features, reconstructions, measures and audio errors.
    """
    waves, idx, errors = _read_audio(model.cfg, prep, start, stop)
    if not waves:
        return _empty_part(model.cfg, prep, errors)
    feats, out, by_length = _forward(model, prep, waves)
    return RowsPart(
        rows=np.asarray(idx, dtype=np.int64),
        voice=feats.cpu().numpy(),
        recon=_to_uint8(out.image),
        recon_landmarks=out.landmarks.cpu().numpy(),
        by_length=by_length,
        measures=_measure_voices(prep, idx, waves, model.cfg.audio.sample_rate),
        errors=errors,
    )


def _read_audio(
    cfg: Any, prep: _Prepared, start: int, stop: int
) -> tuple[list[np.ndarray], list[int], list[dict[str, Any]]]:
    """Waves of rows ``start:stop`` with a usable face; unreadable files listed (stage audio)."""
    frame = prep.frame
    waves, idx, errors = [], [], []
    for i in range(start, stop):
        if prep.has_faces and prep.row_face[i] < 0:
            continue  # no usable face: already in the error table with its reason
        cell = frame.at[i, "audio_path"]
        try:
            wave = load_audio(prep.manifest.resolve(cell), cfg.audio.sample_rate)
        except (ValueError, OSError) as err:
            errors.append(
                {
                    "utterance_id": frame.at[i, "utterance_id"],
                    "path": str(cell),
                    "stage": "audio",
                    "reason": str(err),
                }
            )
            continue
        waves.append(wave)
        idx.append(i)
    return waves, idx, errors


def _empty_part(cfg: Any, prep: _Prepared, errors: list[dict[str, Any]]) -> RowsPart:
    """Return a block without any evaluated row (right-shaped empty arrays, its errors)."""
    d_feat, size = cfg.voice.feature_dim, cfg.decoder.image_size
    return RowsPart(
        rows=np.zeros(0, dtype=np.int64),
        voice=np.zeros((0, d_feat), dtype=np.float32),
        recon=np.zeros((0, size, size, 3), dtype=np.uint8),
        recon_landmarks=np.zeros((0, 68, 2), dtype=np.float32),
        by_length={
            d: (np.zeros((0, d_feat), dtype=np.float32), np.zeros(0)) for d in prep.durations
        },
        measures=[],
        errors=errors,
    )


def _forward(
    model: Any, prep: _Prepared, waves: list[np.ndarray]
) -> tuple[Any, Any, dict[float, tuple[np.ndarray, np.ndarray]]]:
    """Voice features, decoded faces and the input-length features of one batch of waves."""
    import torch  # lazily: `import audit` stays torch-free

    cfg = model.cfg
    clip = cfg.audio.clip_samples
    device = next(model.parameters()).device
    by_length = {}
    with torch.inference_mode():
        batch = torch.stack(
            [model.frontend.fit_clip(torch.from_numpy(w)[None, :])[0, :clip] for w in waves]
        ).to(device)  # (batch, clip samples)
        feats = model.encode_voice(batch)
        out = model.decode(feats)
        for d in prep.durations:
            looped, speech = _input_length_batch(waves, d, cfg)
            looped = looped.to(device)
            if looped.shape[1] == clip:
                f_d = model.encode_voice(looped)
            else:  # longer than the clip: bypass the clip policy of encode_voice
                f_d = model.voice_encoder(model.frontend(looped))
            by_length[d] = (f_d.cpu().numpy(), np.asarray(speech))
    return feats, out, by_length


def _measure_voices(
    prep: _Prepared, idx: list[int], waves: list[np.ndarray], sample_rate: int
) -> list[dict[str, float]]:
    """Voice measures per row (reused where known; ``{}`` where measuring failed)."""
    measures: list[dict[str, float]] = []
    if not prep.measure_voice:
        return measures
    for i, w in zip(idx, waves, strict=True):
        uid = prep.frame.at[i, "utterance_id"]
        if uid in prep.known_measures:
            measures.append(prep.known_measures[uid])
            continue
        try:
            measures.append(measure_voice(w, sample_rate))
        except (ValueError, RuntimeError) as err:
            log.warning("voice measures failed: %s", err)
            measures.append({})
    return measures
