"""VoxCeleb1 and VoxCeleb2 adapters, and the age enrichment join.

Published layouts:

- ``vox1_meta.csv``: tab-separated despite its name; columns ``VoxCeleb1 ID``, ``VGGFace1 ID``,
  ``Gender`` (``m``/``f``), ``Nationality``, ``Set`` (``dev``/``test``). Audio
  ``wav/<id>/<youtube id>/<nnnnn>.wav``.
- ``vox2_meta.csv``: ``VoxCeleb2 ID``, ``VGGFace2 ID``, ``Gender``, ``Set`` (comma- or
  tab-separated copies exist, cells padded with spaces; some copies add a ``Name`` column).
  No nationality. Audio ``aac/<id>/<youtube id>/<nnnnn>.m4a``. Some gender labels are known
  to be wrong; the manifest's notes say so.
- Age enrichment (Hechmi et al. 2021, ``final_dataframe_extended.csv``): per speaker and
  video ``VoxCeleb_ID``, ``video_id``, ``gender``, ``birth_year``, ``recording_year``,
  ``speaker_age`` (= recording year - birth year), ``nationality_*``.

``Set`` maps ``dev -> train`` and ``test -> test``. ``Nationality`` is kept as its own
column ``nationality``: it is neither ethnicity nor language and is never mapped to either.
Language, accent and ethnicity stay unknown (missing).
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from s2f_data._manifest import ManifestInfo
from s2f_data.adapters._common import (
    ImportResult,
    PathWriter,
    age_group,
    age_vocabulary,
    check_age,
    clean,
    finish,
    read_delimited,
    require_columns,
)
from s2f_data.exceptions import DataFormatError

__all__ = ["import_voxceleb1", "import_voxceleb2", "read_age_table"]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp")
GENDERS = {"m": "male", "f": "female"}
SETS = {"dev": "train", "test": "test"}
VOX2_GENDER_NOTE = (
    "VoxCeleb2 data card: some gender labels in vox2_meta.csv are known to be wrong; "
    "audit gender results against a checked subset (the age enrichment table's own gender "
    "column is kept as gender_enriched for comparison)"
)
VOX1_NATIONALITY_NOTE = (
    "VoxCeleb1 Nationality is kept as the column 'nationality'; it is not ethnicity or "
    "language, and some labels are wrong (e.g. speakers labelled Norway who are French)"
)


def _find_audio_dirs(root: Path, name: str, max_depth: int = 3) -> list[Path]:
    """Folders called ``name`` (``wav`` / ``aac``) at most ``max_depth`` below ``root``."""
    found = []
    base_depth = len(root.parts)
    for dirpath, dirnames, _ in os.walk(root):
        depth = len(Path(dirpath).parts) - base_depth
        if Path(dirpath).name == name and Path(dirpath) != root:
            found.append(Path(dirpath))
            dirnames.clear()
            continue
        if depth >= max_depth:
            dirnames.clear()
        dirnames.sort()
    if root.name == name:
        found.append(root)
    return sorted(found)


def _speaker_files(audio_dirs: list[Path], suffixes: tuple[str, ...]) -> dict[str, list[Path]]:
    out: dict[str, list[Path]] = {}
    for d in audio_dirs:
        for spk in sorted(p for p in d.iterdir() if p.is_dir()):
            files = sorted(
                f for f in spk.glob("*/*") if f.suffix.lower() in suffixes and not f.is_dir()
            )
            out.setdefault(spk.name, []).extend(files)
    return out


@functools.lru_cache(maxsize=65536)
def _first_image(folder: Path) -> Path | None:
    """First image (sorted path order) anywhere below ``folder``; memoised per import."""
    if not folder.is_dir():
        return None
    images = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    return images[0] if images else None


def _find_face(faces_dir: Path, spk: str, face_id: str | None, video: str) -> Path | None:
    """Per utterance: a crop of this video, else any image of the speaker.

    Looked up, in order: ``<faces>/<id>/<video>/``, ``<faces>/<face id>/<video>/`` (the
    published ``unzippedFaces`` layout has one more level), ``<faces>/<id>/``,
    ``<faces>/<face id>/``, ``<faces>/<id>.<ext>``, ``<faces>/<face id>.<ext>``.
    """
    keys = [spk] + ([face_id] if face_id else [])
    for key in keys:
        hit = _first_image(faces_dir / key / video)
        if hit is None and (faces_dir / key).is_dir():
            nested = sorted((faces_dir / key).glob(f"*/{video}"))
            hit = _first_image(nested[0]) if nested else None
        if hit is not None:
            return hit
    for key in keys:
        hit = _first_image(faces_dir / key)
        if hit is not None:
            return hit
    for key in keys:
        for ext in IMAGE_SUFFIXES:
            if (faces_dir / f"{key}{ext}").is_file():
                return faces_dir / f"{key}{ext}"
    return None


def read_age_table(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read an age enrichment table into ``(speaker_id, video_id, age, gender, ...)``.

    Column names are matched case-insensitively with spaces as underscores. Needs
    ``VoxCeleb_ID`` and either ``birth_year`` + ``recording_year`` (age = difference) or
    ``speaker_age``; ``video_id`` (per-video ages), ``gender`` and ``nationality_*`` are
    optional.

    Parameters
    ----------
    path : path-like
        CSV or TSV.

    Returns
    -------
    pandas.DataFrame
        Columns ``speaker_id``, ``video_id`` (may be missing), ``age`` (float, NaN when
        unknown), ``gender_enriched``, ``birth_year``, ``recording_year``.
    """
    path = Path(path)
    raw = read_delimited(path, what="age table")
    raw.columns = [c.lower().replace(" ", "_") for c in raw.columns]
    raw = raw.rename(columns={"voxceleb1_id": "voxceleb_id", "voxceleb2_id": "voxceleb_id"})
    require_columns(raw, ["voxceleb_id"], path, "age table")
    if "speaker_age" not in raw and not {"birth_year", "recording_year"} <= set(raw):
        raise DataFormatError(
            f"{path}: age table needs 'speaker_age' or both 'birth_year' "
            f"and 'recording_year'; found {list(raw.columns)}"
        )

    def num(col: str) -> pd.Series:
        if col not in raw:
            return pd.Series(float("nan"), index=raw.index)
        values = pd.to_numeric(raw[col].replace("", None), errors="coerce")
        bad = raw[col].ne("") & values.isna()
        if bad.any():
            i = int(bad.idxmax())
            raise DataFormatError(
                f"{path}: line {i + 2}, column {col!r}: expected a number, got {raw[col][i]!r}"
            )
        return values.astype(float)

    birth, rec = num("birth_year"), num("recording_year")
    age = rec - birth
    source = pd.Series("recording_year - birth_year", index=raw.index)
    if "speaker_age" in raw:
        source = source.where(age.notna(), "speaker_age")
        age = age.fillna(num("speaker_age"))
    for i in age.index[age.notna()]:
        check_age(float(age[i]), f"{path}: line {i + 2} ({source[i]})")
    out = pd.DataFrame(
        {
            "speaker_id": raw["voxceleb_id"],
            "video_id": raw["video_id"] if "video_id" in raw else "",
            "age": age,
            "gender_enriched": raw["gender"].str.lower() if "gender" in raw else "",
            "birth_year": birth,
            "recording_year": rec,
        }
    )
    return out


def _age_lookup(table: pd.DataFrame) -> tuple[dict[tuple[str, str], float], dict[str, float]]:
    """(speaker, video) -> age and speaker -> age (only where all videos agree)."""
    known = table.dropna(subset=["age"])
    per_video = {(r.speaker_id, r.video_id): float(r.age) for r in known.itertuples() if r.video_id}
    per_speaker: dict[str, float] = {}
    no_video = known[known["video_id"] == ""]
    for spk, ages in no_video.groupby("speaker_id")["age"]:
        if ages.nunique() == 1:
            per_speaker[str(spk)] = float(ages.iloc[0])
    return per_video, per_speaker


def _meta_speaker(row: pd.Series, version: int, has_name: bool) -> dict[str, Any]:
    """Return one meta row's speaker record (split, gender, face id, nationality, name)."""
    return {
        "split": SETS[row["Set"]],
        "gender": GENDERS.get(row["Gender"].lower()),
        "face_id": clean(row[f"VGGFace{version} ID"]),
        "nationality": clean(row["Nationality"]) if version == 1 else None,
        "name": clean(row["Name"]) if has_name else None,
    }


def _read_meta(meta_path: Path, version: int) -> dict[str, dict[str, Any]]:
    """Return speaker id -> record from the meta file; raise naming line and column."""
    id_col, face_col = f"VoxCeleb{version} ID", f"VGGFace{version} ID"
    cols = [id_col, face_col, "Gender", "Set"] + (["Nationality"] if version == 1 else [])
    table = read_delimited(meta_path, what=f"vox{version} meta")
    require_columns(table, cols, meta_path, f"vox{version} meta")
    speakers: dict[str, dict[str, Any]] = {}
    for i, row in table.iterrows():
        line = int(i) + 2
        spk = row[id_col]
        if not spk:
            raise DataFormatError(f"{meta_path}: line {line}, column {id_col!r}: empty id")
        if spk in speakers:
            raise DataFormatError(
                f"{meta_path}: line {line}, column {id_col!r}: duplicate speaker {spk!r}"
            )
        if row["Set"] not in SETS:
            raise DataFormatError(
                f"{meta_path}: line {line}, column 'Set': expected one of "
                f"{sorted(SETS)}, got {row['Set']!r}"
            )
        gender = row["Gender"].lower()
        if gender and gender not in GENDERS:
            raise DataFormatError(
                f"{meta_path}: line {line}, column 'Gender': expected 'm' or "
                f"'f', got {row['Gender']!r}"
            )
        speakers[spk] = _meta_speaker(row, version, "Name" in table)
    return speakers


def _audio_files(root: Path, version: int) -> dict[str, list[Path]]:
    """Return speaker id -> audio files of the ``wav/`` (VoxCeleb1) or ``aac/`` tree."""
    audio_name, suffixes = ("wav", (".wav",)) if version == 1 else ("aac", (".m4a", ".wav"))
    audio_dirs = _find_audio_dirs(root, audio_name)
    if version == 2 and not audio_dirs:  # converted copies keep a wav tree
        audio_dirs = _find_audio_dirs(root, "wav")
    if not audio_dirs:
        raise DataFormatError(
            f"{root}: no '{audio_name}/' folder found (expected "
            f"{audio_name}/<id>/<video>/<nnnnn>{suffixes[0]})"
        )
    return _speaker_files(audio_dirs, suffixes)


@dataclass(frozen=True)
class _Ages:
    """The age enrichment joined per video and per speaker, and its own gender labels."""

    per_video: dict[tuple[str, str], float]
    per_speaker: dict[str, float]
    gender: dict[str, str]

    def age(self, spk: str, video: str) -> float | None:
        """Return the speaker's age in this video, else in every video, else None."""
        return self.per_video.get((spk, video), self.per_speaker.get(spk))


def _read_ages(
    age_table: str | os.PathLike[str], speakers: dict[str, Any], notes: list[str]
) -> _Ages:
    """Read the age enrichment table; note its speakers that the meta file lacks."""
    ages = read_age_table(age_table)
    per_video, per_speaker = _age_lookup(ages)
    enriched_gender: dict[str, str] = {}
    for spk, g in ages.groupby("speaker_id")["gender_enriched"]:
        labels = {x for x in g if x}
        if len(labels) == 1:
            enriched_gender[str(spk)] = labels.pop()
    unknown = sorted(set(ages["speaker_id"]) - set(speakers))
    if unknown:
        notes.append(
            f"age table: {len(unknown)} speaker id(s) not in the meta file, e.g. {unknown[:3]}"
        )
    return _Ages(per_video, per_speaker, enriched_gender)


@dataclass(frozen=True, kw_only=True)
class _RowMaker:
    """Turns one audio file of a listed speaker into a manifest row."""

    version: int
    writer: PathWriter
    faces: Path | None
    ages: _Ages | None

    def row(self, spk: str, meta_row: dict[str, Any], f: Path) -> dict[str, Any]:
        """Return the manifest row of audio file ``f`` of speaker ``spk``."""
        video = f.parent.name
        age = None if self.ages is None else self.ages.age(spk, video)
        row: dict[str, Any] = {
            "utterance_id": f"{spk}/{video}/{f.stem}",
            "speaker_id": spk,
            "audio_path": self.writer.cell(f),
            "split": meta_row["split"],
            "gender": meta_row["gender"],
            "age_group": age_group(age),
            "video_id": video,
            f"vggface{self.version}_id": meta_row["face_id"],
        }
        if self.faces is not None:
            face = _find_face(self.faces, spk, meta_row["face_id"], video)
            row["face_path"] = None if face is None else self.writer.cell(face)
        if self.version == 1:
            row["nationality"] = meta_row["nationality"]
        if meta_row["name"] is not None:
            row["name"] = meta_row["name"]
        if self.ages is not None:
            row["age"] = None if age is None else f"{age:g}"
            row["gender_enriched"] = self.ages.gender.get(spk)
        return row


def _coverage_notes(rows: list[dict[str, Any]], faces: bool, ages: bool) -> list[str]:
    """Return notes on how many rows got a face, an age, and a disagreeing gender."""
    notes = []
    if faces:
        n_missing = sum(r["face_path"] is None for r in rows)
        if n_missing:
            notes.append(
                f"no face image found for {n_missing} of {len(rows)} utterances "
                "(face_path left empty)"
            )
    if ages:
        n_age = sum(r["age"] is not None for r in rows)
        notes.append(f"age known for {n_age} of {len(rows)} utterances from the age table")
        mismatch = sum(
            1
            for r in rows
            if r["gender_enriched"] and r["gender"] and r["gender_enriched"] != r["gender"]
        )
        if mismatch:
            notes.append(
                f"gender in the meta file and the age table disagree for {mismatch} "
                "utterance(s) (column gender_enriched)"
            )
    return notes


def _import_voxceleb(
    version: int,
    root: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    meta: str | os.PathLike[str] | None,
    faces_dir: str | os.PathLike[str] | None,
    age_table: str | os.PathLike[str] | None,
) -> ImportResult:
    root = Path(root)
    if root.is_file():
        meta, root = meta or root, root.parent
    if not root.is_dir():
        raise DataFormatError(f"{root}: VoxCeleb{version} root folder not found")
    meta_path = Path(meta) if meta else root / f"vox{version}_meta.csv"
    speakers = _read_meta(meta_path, version)
    files = _audio_files(root, version)
    faces = Path(faces_dir) if faces_dir is not None else None
    if faces is not None and not faces.is_dir():
        raise DataFormatError(f"{faces}: faces folder not found")
    notes = [VOX1_NATIONALITY_NOTE] if version == 1 else [VOX2_GENDER_NOTE]
    ages = None if age_table is None else _read_ages(age_table, speakers, notes)

    writer = PathWriter(out, [root] + ([faces] if faces is not None else []))
    _first_image.cache_clear()  # the folders may have changed since the last import
    maker = _RowMaker(version=version, writer=writer, faces=faces, ages=ages)
    rows: list[dict[str, Any]] = []
    skipped: list[tuple[str, str]] = []
    for spk in sorted(files):
        if spk not in speakers:
            skipped.append((spk, f"speaker folder not listed in {meta_path.name}"))
            continue
        rows += [maker.row(spk, speakers[spk], f) for f in files[spk]]
    for spk in sorted(set(speakers) - set(files)):
        skipped.append((spk, "listed in the meta file but no audio found"))
    notes += _coverage_notes(rows, faces is not None, ages is not None)
    vocab = {
        "gender": ("female", "male"),
        "age_group": age_vocabulary(r["age_group"] for r in rows),
    }
    info = ManifestInfo(
        source=f"voxceleb{version}",
        source_version="",
        vocabularies=vocab,
        data_root=writer.data_root(),
        extra={
            "meta": str(meta_path),
            "age_table": None if age_table is None else str(age_table),
            "faces_dir": None if faces is None else str(faces),
            "split_mapping": dict(SETS),
        },
    )
    return finish(rows, out, info, skipped, notes, f"VoxCeleb{version} at {root}")


def import_voxceleb1(
    root: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    meta: str | os.PathLike[str] | None = None,
    faces_dir: str | os.PathLike[str] | None = None,
    age_table: str | os.PathLike[str] | None = None,
) -> ImportResult:
    """Import VoxCeleb1 (``vox1_meta.csv`` + ``wav/<id>/<video>/<nnnnn>.wav``).

    Parameters
    ----------
    root : path-like
        Data set folder holding ``vox1_meta.csv`` and a ``wav/`` tree (at most three levels
        down, e.g. ``vox1_dev_wav/wav``), or the meta file itself.
    out : path-like
        Manifest CSV to write.
    meta : path-like, optional
        Meta file if not ``<root>/vox1_meta.csv``.
    faces_dir : path-like, optional
        Folder of VGGFace1 images (``<VGGFace1 ID>/...``) or user crops (``<id>/<video>/``,
        ``<id>/``, ``<id>.jpg``); utterances without a match keep ``face_path`` empty.
    age_table : path-like, optional
        Age enrichment table joined on ``VoxCeleb_ID`` (and ``video_id`` when present).

    Returns
    -------
    ImportResult
        The written manifest, skipped items and notes.
    """
    return _import_voxceleb(1, root, out, meta=meta, faces_dir=faces_dir, age_table=age_table)


def import_voxceleb2(
    root: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    meta: str | os.PathLike[str] | None = None,
    faces_dir: str | os.PathLike[str] | None = None,
    age_table: str | os.PathLike[str] | None = None,
) -> ImportResult:
    """Import VoxCeleb2 (``vox2_meta.csv`` + ``aac/<id>/<video>/<nnnnn>.m4a``).

    Parameters
    ----------
    root : path-like
        Data set folder holding ``vox2_meta.csv`` and an ``aac/`` tree (or a ``wav/`` tree
        of converted files), or the meta file itself.
    out : path-like
        Manifest CSV to write.
    meta : path-like, optional
        Meta file if not ``<root>/vox2_meta.csv``.
    faces_dir : path-like, optional
        Folder of VGGFace2 images or user crops (see :func:`import_voxceleb1`).
    age_table : path-like, optional
        Age enrichment table.

    Returns
    -------
    ImportResult
        The written manifest, skipped items and notes (including the data card's warning
        that some gender labels are wrong).
    """
    return _import_voxceleb(2, root, out, meta=meta, faces_dir=faces_dir, age_table=age_table)
