"""MAV-Celeb adapter (multilingual audio-visual celebrities; FAME 2024 / 2026 challenges).

Published layout, as described by the MAV-Celeb pages and the challenge baseline
(``mavceleb/mavceleb_baseline``) and used here; each version (v1 English-Urdu, v2
English-Hindi, v3 English-German) is one root::

    <root>/<version>_meta.csv                          ids,name,gender  (e.g. v2_meta.csv)
    <root>/voices/<id>/<Language>/<video>/<nnnnn>.wav  utterances, per language folder
    <root>/faces/<id>/<Language>/<video>/<nnnn>.jpg    face crops of the same videos

``<Language>`` is the language's English name (``English``, ``Urdu``, ``Hindi``, ``German``)
and becomes the manifest's ISO 639-1 ``language`` (``en``, ``ur``, ``hi``, ``de``) per
utterance; ``gender`` comes from the meta file (``Male``/``Female``). Ethnicity, accent and age
are not published and stay missing. The face of an utterance is the first crop of its video,
else the first crop of the speaker in that language, else any crop of the speaker.

Speakers are split by identity (never by utterance): the ids in ``test_ids`` go to ``test``,
or, without it, a seeded draw (:func:`~s2f_data.adapters.assign_splits`). Every speaker is
meant to have both languages; one with a single language is kept and flagged (column
``languages`` lists a speaker's languages; the notes count them), since the heard / unheard
protocol and the language-swap audit cannot use them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from s2f_data._manifest import ManifestInfo
from s2f_data.adapters._common import (
    DEFAULT_SPLIT,
    ImportResult,
    PathWriter,
    SpeakerSplit,
    clean,
    finish,
    read_delimited,
    require_columns,
)
from s2f_data.exceptions import DataFormatError

__all__ = ["MAVCELEB_LANGUAGES", "import_mavceleb"]

#: Language folder names of MAV-Celeb -> ISO 639-1 code.
MAVCELEB_LANGUAGES: dict[str, str] = {"English": "en", "Urdu": "ur", "Hindi": "hi", "German": "de"}
_GENDERS = {"male": "male", "female": "female", "m": "male", "f": "female"}
_IMAGES = (".jpg", ".jpeg", ".png")
SINGLE_LANGUAGE_REASON = "single language"


def _read_meta(root: Path, meta: str | os.PathLike[str] | None) -> tuple[Path, dict]:
    """Speaker id -> {name, gender} from ``<version>_meta.csv``."""
    if meta is not None:
        path = Path(meta)
    else:
        found = sorted(root.glob("*_meta.csv"))
        if len(found) != 1:
            raise DataFormatError(
                f"{root}: expected one <version>_meta.csv (e.g. v1_meta.csv) in the root, found "
                f"{[p.name for p in found]}; pass meta= to choose"
            )
        path = found[0]
    table = read_delimited(path, what="MAV-Celeb meta")
    table.columns = [c.strip().lower() for c in table.columns]
    require_columns(table, ["ids", "gender"], path, "MAV-Celeb meta")
    speakers: dict[str, dict[str, Any]] = {}
    for i, row in table.iterrows():
        line, spk = int(i) + 2, clean(row["ids"])
        if spk is None:
            raise DataFormatError(f"{path}: line {line}, column 'ids': empty id")
        if spk in speakers:
            raise DataFormatError(f"{path}: line {line}, column 'ids': duplicate id {spk!r}")
        gender = (clean(row["gender"]) or "").lower()
        if gender and gender not in _GENDERS:
            raise DataFormatError(
                f"{path}: line {line}, column 'gender': expected Male or "
                f"Female, got {row['gender']!r}"
            )
        name = clean(row["name"]) if "name" in table.columns else None
        speakers[spk] = {"gender": _GENDERS.get(gender), "name": name}
    return path, speakers


def _first_image(folder: Path) -> Path | None:
    if not folder.is_dir():
        return None
    images = sorted(p for p in folder.rglob("*") if p.suffix.lower() in _IMAGES)
    return images[0] if images else None


def _face(faces: Path | None, spk: str, language: str, video: str) -> Path | None:
    if faces is None:
        return None
    for folder in (faces / spk / language / video, faces / spk / language, faces / spk):
        hit = _first_image(folder)
        if hit is not None:
            return hit
    return None


def _utterances(voices: Path, skipped: list[tuple[str, str]]) -> dict[str, list[tuple]]:
    """Speaker -> [(language folder, video, wav path)], checking the language folders."""
    out: dict[str, list[tuple[str, str, Path]]] = {}
    for spk_dir in sorted(p for p in voices.iterdir() if p.is_dir()):
        for item in sorted(spk_dir.iterdir()):
            if not item.is_dir():
                skipped.append(
                    (
                        str(item),
                        "not inside a language folder (expected "
                        f"voices/<id>/<Language>/<video>/<n>.wav, Language one of "
                        f"{sorted(MAVCELEB_LANGUAGES)})",
                    )
                )
                continue
            if item.name not in MAVCELEB_LANGUAGES:
                raise DataFormatError(
                    f"{item}: unknown language folder {item.name!r}; expected one of "
                    f"{sorted(MAVCELEB_LANGUAGES)}"
                )
            wavs = sorted(w for w in item.glob("*/*.wav") if not w.is_dir())
            if not wavs:
                skipped.append((str(item), "language folder without <video>/<n>.wav files"))
            out.setdefault(spk_dir.name, []).extend((item.name, w.parent.name, w) for w in wavs)
    return out


def _split_of(
    kept: Mapping[str, Any], test_ids: str | os.PathLike[str] | None, split: SpeakerSplit
) -> dict[str, str]:
    """Speaker id -> split: the listed test identities (the rest train), else a seeded split."""
    if test_ids is not None:
        wanted = {
            line.strip() for line in Path(test_ids).read_text("utf-8").splitlines() if line.strip()
        }
        unknown = sorted(wanted - set(kept))
        if unknown:
            raise DataFormatError(f"{test_ids}: test id(s) without audio {unknown[:5]}")
        return {s: "test" if s in wanted else "train" for s in kept}
    return split.assign(kept)


def _rows(
    kept: Mapping[str, Any],
    speakers: Mapping[str, Mapping[str, str]],
    split_of: Mapping[str, str],
    faces_or_none: Path | None,
    writer: PathWriter,
) -> tuple[list[dict[str, Any]], list[str], list[str]]:
    """One manifest row per utterance: (rows, their wav paths, single-language speakers)."""
    rows: list[dict[str, Any]] = []
    where: list[str] = []
    single: list[str] = []
    for spk, utts in sorted(kept.items()):
        langs = sorted({MAVCELEB_LANGUAGES[lang] for lang, _, _ in utts})
        if len(langs) < 2:
            single.append(spk)
        for lang, video, wav in utts:
            face = _face(faces_or_none, spk, lang, video)
            rows.append(
                {
                    "utterance_id": f"{spk}/{lang}/{video}/{wav.stem}",
                    "speaker_id": spk,
                    "audio_path": writer.cell(wav),
                    "split": split_of[spk],
                    "language": MAVCELEB_LANGUAGES[lang],
                    "gender": speakers[spk]["gender"],
                    "face_path": None if face is None else writer.cell(face),
                    "video_id": video,
                    "name": speakers[spk]["name"],
                    "languages": ";".join(langs),
                }
            )
            where.append(str(wav))
    return rows, where, single


def _notes(rows: list[dict[str, Any]], single: list[str]) -> list[str]:
    """Return the notes on single-language speakers and utterances without a face crop."""
    notes: list[str] = []
    if single:
        notes.append(
            f"{len(single)} speaker(s) with a {SINGLE_LANGUAGE_REASON} (column "
            f"'languages'), e.g. {single[:3]}: no heard/unheard or language-swap "
            "pairs for them"
        )
    n_face = sum(r["face_path"] is not None for r in rows)
    if n_face < len(rows):
        notes.append(f"no face crop for {len(rows) - n_face} of {len(rows)} utterances")
    return notes


def import_mavceleb(
    root: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    meta: str | os.PathLike[str] | None = None,
    faces_dir: str | os.PathLike[str] | None = None,
    test_ids: str | os.PathLike[str] | None = None,
    split: SpeakerSplit = DEFAULT_SPLIT,
) -> ImportResult:
    """Import one MAV-Celeb version (voices and faces per language folder).

    Parameters
    ----------
    root : path-like
        Version root holding ``<version>_meta.csv``, ``voices/`` and ``faces/``.
    out : path-like
        Manifest CSV to write.
    meta : path-like, optional
        Meta file if not the one ``*_meta.csv`` of the root.
    faces_dir : path-like, optional
        Face crops if not ``<root>/faces`` (a missing default folder leaves faces empty).
    test_ids : path-like, optional
        Text file with one test identity per line (the challenge's unheard identities);
        without it a seeded speaker split by ``split``.
    split : SpeakerSplit
        Fractions and seed of the speaker split when ``test_ids`` is not given.

    Returns
    -------
    ImportResult
        Manifest rows (one per utterance, ``language`` per utterance), skipped items, notes.

    Raises
    ------
    DataFormatError
        No ``voices/`` folder, an unknown language folder, a bad meta file.
    """
    root = Path(root)
    voices = root / "voices"
    if not voices.is_dir():
        raise DataFormatError(
            f"{root}: no voices/ folder (expected voices/<id>/<Language>/<video>/<nnnnn>.wav)"
        )
    meta_path, speakers = _read_meta(root, meta)
    faces = Path(faces_dir) if faces_dir is not None else root / "faces"
    if faces_dir is not None and not faces.is_dir():
        raise DataFormatError(f"{faces}: faces folder not found")
    faces_or_none = faces if faces.is_dir() else None
    skipped: list[tuple[str, str]] = []
    files = _utterances(voices, skipped)
    for spk in sorted(set(files) - set(speakers)):
        skipped.append((spk, f"speaker folder not listed in {meta_path.name}"))
    kept = {s: v for s, v in files.items() if s in speakers and v}
    for spk in sorted(set(speakers) - set(files)):
        skipped.append((spk, f"listed in {meta_path.name} but no audio found"))
    split_of = _split_of(kept, test_ids, split)
    writer = PathWriter(out, [root] + ([faces] if faces_or_none is not None else []))
    rows, where, single = _rows(kept, speakers, split_of, faces_or_none, writer)
    notes = _notes(rows, single)
    info = ManifestInfo(
        source="mavceleb",
        source_version="",
        vocabularies={
            "gender": ("female", "male"),
            "language": tuple(sorted(MAVCELEB_LANGUAGES.values())),
        },
        data_root=writer.data_root(),
        extra={
            "meta": str(meta_path),
            "faces_dir": None if faces_or_none is None else str(faces),
            "test_ids": None if test_ids is None else str(test_ids),
            "seed": split.seed,
            "single_language_speakers": single,
        },
    )
    return finish(rows, out, info, skipped, notes, f"MAV-Celeb at {root}", where)
