"""Casual Conversations adapter (Meta AI; videos of paid, consenting participants).

Published layout: a JSON file (``CasualConversations.json``) mapping each subject id to
``{"files": [...], "dark_files": [...], "label": {"age": ..., "gender": ..., "skin-type":
...}}`` (a list of such records with a ``subject_id`` field is accepted too); file paths are
relative to the data set root, e.g. ``CasualConversationsA/1140/1140_00.MP4``.

Each video becomes one utterance: the audio track is read from the video itself
(``audio_path`` is the video), and one frame per video is saved as a PNG (``face_path``).
Skin type (Fitzpatrick 1-6) is kept as its own column ``skin_type``; it is not ethnicity and
is never mapped to it. Videos from ``dark_files`` are kept with ``lighting = dark``.
Gender ``Male``/``Female``/``Other`` -> ``male``/``female``/``other``; ``N/A`` and empty ->
missing. Ages are numbers -> project age groups (the number is kept in ``age``).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from s2f_data._files import path_problem
from s2f_data._manifest import ManifestInfo
from s2f_data._video import save_frame
from s2f_data.adapters._common import (
    ImportResult,
    PathWriter,
    SpeakerSplit,
    age_group,
    age_vocabulary,
    check_age,
    clean,
    finish,
)
from s2f_data.exceptions import DataFormatError

__all__ = ["import_casual_conversations", "read_casual_conversations_json"]

GENDERS = {"male": "male", "female": "female", "other": "other"}
MISSING = {"", "n/a", "na", "none", "unknown"}
SKIN_TYPES = ("1", "2", "3", "4", "5", "6")
#: The subject split of Casual Conversations (it publishes none): 10% val, 20% test.
CASUAL_SPLIT = SpeakerSplit(val_fraction=0.1, test_fraction=0.2)


def read_casual_conversations_json(path: str | os.PathLike[str]) -> dict[str, dict[str, Any]]:
    """Read the annotation JSON into ``subject id -> record``.

    Parameters
    ----------
    path : path-like
        ``CasualConversations.json`` (or a v2 file of the same shape).

    Returns
    -------
    dict
        Subject id -> ``{"files": [...], "dark_files": [...], "label": {...}}``.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataFormatError(f"{path}: cannot read Casual Conversations JSON: {err}") from err
    if isinstance(data, list):
        out = {}
        for k, rec in enumerate(data):
            if not isinstance(rec, dict) or "subject_id" not in rec:
                raise DataFormatError(f"{path}: record {k} is not an object with 'subject_id'")
            out[str(rec["subject_id"])] = rec
        data = out
    if not isinstance(data, dict):
        raise DataFormatError(f"{path}: expected an object mapping subject id -> record")
    for sid, rec in data.items():
        if not isinstance(rec, dict) or not isinstance(rec.get("label", {}), dict):
            raise DataFormatError(
                f"{path}: subject {sid!r}: expected an object with 'files', "
                "'dark_files' and a 'label' object"
            )
        for key in ("files", "dark_files"):
            if not isinstance(rec.get(key, []), list):
                raise DataFormatError(f"{path}: subject {sid!r}: {key!r} must be a list")
    return {str(k): v for k, v in data.items()}


def _label(path: Path, sid: str, label: dict[str, Any]) -> dict[str, Any]:
    age_raw = clean(label.get("age"))
    age = None
    if age_raw is not None and age_raw.lower() not in MISSING:
        try:
            age = float(age_raw)
        except ValueError as err:
            raise DataFormatError(
                f"{path}: subject {sid!r}, label 'age': expected a number or N/A, got {age_raw!r}"
            ) from err
        age = check_age(age, f"{path}: subject {sid!r}, label 'age'")
    g_raw = (clean(label.get("gender")) or "").lower()
    if g_raw not in GENDERS and g_raw not in MISSING:
        raise DataFormatError(
            f"{path}: subject {sid!r}, label 'gender': expected Male, Female,"
            f" Other or N/A, got {label.get('gender')!r}"
        )
    skin_raw = clean(label.get("skin-type", label.get("skin_type")))
    skin = None
    if skin_raw is not None and skin_raw.lower() not in MISSING:
        skin = skin_raw.split(".")[0] if skin_raw.endswith(".0") else skin_raw
        if skin not in SKIN_TYPES:
            raise DataFormatError(
                f"{path}: subject {sid!r}, label 'skin-type': expected 1-6 "
                f"(Fitzpatrick) or N/A, got {skin_raw!r}"
            )
    return {"age": age, "gender": GENDERS.get(g_raw), "skin_type": skin}


def _annotation_json(root: Path, json_path: str | os.PathLike[str] | None) -> Path:
    """Check the root folder and return the annotation JSON (default: the only one in root)."""
    if not root.is_dir():
        raise DataFormatError(f"{root}: Casual Conversations root folder not found")
    if json_path is None:
        found = sorted(root.glob("*.json"))
        if len(found) != 1:
            raise DataFormatError(
                f"{root}: expected one annotation *.json, found "
                f"{[p.name for p in found]}; pass json_path"
            )
        json_path = found[0]
    return Path(json_path)


def _video_row(
    video: Path,
    sid: str,
    split_name: str,
    label: dict[str, Any],
    lighting: str,
    writer: PathWriter,
) -> dict[str, Any]:
    """Return the manifest row of one video (without ``face_path``)."""
    return {
        "utterance_id": f"{sid}/{video.stem}",
        "speaker_id": sid,
        "audio_path": writer.cell(video),
        "split": split_name,
        "gender": label["gender"],
        "age_group": age_group(label["age"]),
        "age": None if label["age"] is None else f"{label['age']:g}",
        "skin_type": label["skin_type"],
        "lighting": lighting,
    }


def _add_frame(
    row: dict[str, Any],
    video: Path,
    frames: Path,
    frame_time: float | None,
    writer: PathWriter,
) -> str | None:
    """Save the video's face frame and set ``face_path``; return the problem, or None.

    A frame that cannot be read leaves ``face_path`` empty; the row is kept.
    """
    sid = row["speaker_id"]
    png = frames / sid / f"{video.stem}.png"
    try:
        save_frame(video, png, frame_time)
        row["face_path"] = writer.cell(png)
    except DataFormatError as err:
        row["face_path"] = None
        return f"no face frame (row kept): {err}"
    return None


def _manifest_info(
    rows: list[dict[str, Any]], writer: PathWriter, extra: dict[str, Any]
) -> ManifestInfo:
    """Return the sidecar info: the vocabularies of the written rows and the import settings."""
    vocab = {
        "gender": ("female", "male", "other"),
        "age_group": age_vocabulary(r["age_group"] for r in rows),
        "skin_type": SKIN_TYPES,
    }
    return ManifestInfo(
        source="casual_conversations",
        vocabularies=vocab,
        data_root=writer.data_root(),
        extra=extra,
    )


def import_casual_conversations(
    root: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    json_path: str | os.PathLike[str] | None = None,
    frames_dir: str | os.PathLike[str] | None = None,
    extract_frames: bool = True,
    frame_time: float | None = None,
    include_dark: bool = True,
    split: SpeakerSplit = CASUAL_SPLIT,
) -> ImportResult:
    """Import Casual Conversations videos.

    Parameters
    ----------
    root : path-like
        Data set root (video paths in the JSON are relative to it).
    out : path-like
        Manifest CSV to write.
    json_path : path-like, optional
        Annotation JSON (default: the only ``*.json`` in ``root``).
    frames_dir : path-like, optional
        Where face frames are saved (default ``<manifest folder>/frames``).
    extract_frames : bool
        Save one frame per video as ``face_path``; if false ``face_path`` stays empty.
    frame_time : float or None
        Frame time in seconds (default: the middle of each video).
    include_dark : bool
        Keep the ``dark_files`` (as ``lighting = dark``); if false they are listed as skipped.
    split : SpeakerSplit
        Subject split (the data set has none); by default 10% val and 20% test.

    Returns
    -------
    ImportResult
        The written manifest, skipped items and notes.
    """
    if frame_time is not None and not (math.isfinite(frame_time) and frame_time >= 0):
        raise ValueError(f"frame_time must be a finite number of seconds >= 0, got {frame_time}")
    root = Path(root)
    json_path = _annotation_json(root, json_path)
    subjects = read_casual_conversations_json(json_path)
    frames = None
    if extract_frames:
        frames = Path(frames_dir) if frames_dir is not None else Path(out).parent / "frames"
    split_of = split.assign(subjects)
    writer = PathWriter(out, [root] + ([frames] if frames is not None else []))
    rows: list[dict[str, Any]] = []
    skipped: list[tuple[str, str]] = []
    for sid in sorted(subjects):
        rec = subjects[sid]
        label = _label(json_path, sid, rec.get("label") or {})
        videos = [(f, "normal") for f in rec.get("files", [])]
        videos += [(f, "dark") for f in rec.get("dark_files", [])]
        for rel, lighting in videos:
            if lighting == "dark" and not include_dark:
                skipped.append((str(rel), "dark file excluded (include_dark=False)"))
                continue
            video = root / str(rel)
            if not video.is_file():  # missing, or what it is (a dangling link, a FIFO, ...)
                skipped.append((str(rel), path_problem(video, "video file") or "not a file"))
                continue
            row = _video_row(video, sid, split_of[sid], label, lighting, writer)
            if frames is not None and (
                problem := _add_frame(row, video, frames, frame_time, writer)
            ):
                skipped.append((str(rel), problem))
            rows.append(row)
    extra = {
        "json": str(json_path),
        "frames_dir": None if frames is None else str(frames),
        "frame_time": frame_time,
        "split_seed": split.seed,
        "split_fractions": {"val": split.val_fraction, "test": split.test_fraction},
    }
    info = _manifest_info(rows, writer, extra)
    notes = [
        "skin_type is Fitzpatrick skin type (1-6), kept as its own column; it is not ethnicity"
    ]
    return finish(rows, out, info, skipped, notes, f"Casual Conversations at {root}")
