"""Common Voice adapter (voice only: no faces).

Published layout: ``cv-corpus-<version>/<locale>/`` holding ``clips/*.mp3`` and
tab-separated ``train.tsv``, ``dev.tsv``, ``test.tsv`` (also ``validated.tsv``,
``other.tsv``, ...) with columns ``client_id``, ``path``, ``sentence``, ``up_votes``,
``down_votes``, ``age``, ``gender``, ``accents``, ``variant``, ``locale`` (newer releases add
``sentence_id``, ``sentence_domain``, ``segment``; older ones have ``accent`` and no
``variant``). Sentences contain unbalanced quote characters, so the files are read with
quoting switched off.

Every source column is kept as given, prefixed ``cv_``. The manifest columns are derived:

- ``gender`` (documented mapping, raw label kept in ``cv_gender``):
  ``male``, ``male_masculine`` -> ``male``; ``female``, ``female_feminine`` -> ``female``;
  ``other``, ``non-binary`` -> ``other``; ``intersex``, ``transgender`` -> missing (they do
  not state a gender); ``do_not_wish_to_say`` and empty -> missing.
- ``age_group`` with ``age_scheme="project"``: ``twenties`` -> 18-29, ``thirties`` -> 30-44,
  ``fifties`` -> 45-59, ``sixties`` .. ``nineties`` -> 60+; ``teens`` and ``fourties`` (sic,
  the published spelling; ``forties`` is accepted too) straddle two project groups and stay
  missing. With ``age_scheme="decades"`` the age words themselves are the groups
  (``forties`` spelled as published, ``fourties``).
- ``language``: from ``locale`` (or the folder name when the TSV has no ``locale`` column).
  Locales whose language subtag is shared by different languages or varieties keep them
  apart (:data:`CV_LOCALE_LANGUAGES`): ``zh-CN`` -> ``zh`` (Mandarin, as in the bias lab),
  ``zh-HK`` -> ``yue`` (the Hong Kong set is Cantonese, like the ``yue`` locale),
  ``zh-TW`` -> ``zh-TW`` (Taiwanese Mandarin), the two Romansh idioms stay apart. Any other
  locale gives its primary subtag (``sv-SE`` -> ``sv``) unless two locales of one import
  would merge that way: then both keep their whole tag. The raw tag stays in ``cv_locale``.
  ``accent``: the ``accents`` (or ``accent``) cell.
- ``split``: ``train.tsv`` -> train, ``dev.tsv`` -> val, ``test.tsv`` -> test; in other files
  a speaker of those keeps its split and the others are split by ``client_id`` with
  ``seed``. A ``client_id`` found in two of the split files is refused with both TSV files
  and lines (a speaker must stay in one split).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from s2f_data._files import path_problem
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

__all__ = [
    "CV_AGE_GROUPS",
    "CV_AGE_WORDS",
    "CV_GENDERS",
    "CV_LOCALE_LANGUAGES",
    "import_common_voice",
    "locale_languages",
]

#: Common Voice age words, as published ("fourties" sic) -> project age group (None: unknown).
CV_AGE_GROUPS: dict[str, str | None] = {
    "teens": None,
    "twenties": "18-29",
    "thirties": "30-44",
    "fourties": None,
    "forties": None,
    "fifties": "45-59",
    "sixties": "60+",
    "seventies": "60+",
    "eighties": "60+",
    "nineties": "60+",
}
CV_AGE_WORDS: tuple[str, ...] = (
    "teens",
    "twenties",
    "thirties",
    "fourties",
    "fifties",
    "sixties",
    "seventies",
    "eighties",
    "nineties",
)
#: Common Voice gender labels (old and new) -> manifest gender (None: missing).
CV_GENDERS: dict[str, str | None] = {
    "male": "male",
    "male_masculine": "male",
    "female": "female",
    "female_feminine": "female",
    "other": "other",
    "non-binary": "other",
    "intersex": None,
    "transgender": None,
    "do_not_wish_to_say": None,
}
#: Common Voice locales whose language subtag alone would merge different languages or
#: varieties -> the manifest's language label.
CV_LOCALE_LANGUAGES: dict[str, str] = {
    "zh-CN": "zh",
    "zh-HK": "yue",
    "zh-TW": "zh-TW",
    "yue": "yue",
    "rm-sursilv": "rm-sursilv",
    "rm-vallader": "rm-vallader",
}
SPLIT_FILES = {"train.tsv": "train", "dev.tsv": "val", "test.tsv": "test"}
AgeScheme = Literal["project", "decades"]


def locale_languages(locales: Iterable[str]) -> dict[str, str]:
    """Map Common Voice locale tags to manifest language labels without merging varieties.

    Parameters
    ----------
    locales : iterable of str
        Locale tags found in one import (``"zh-HK"``, ``"sv-SE"``, ``"en"``).

    Returns
    -------
    dict of str to str
        Locale -> language: :data:`CV_LOCALE_LANGUAGES` where listed, else the lowercase
        primary subtag, else (when two different locales would share a subtag) the tag.

    Examples
    --------
    >>> locale_languages(["zh-CN", "zh-HK", "sv-SE", "es-AR", "es-ES"])
    {'zh-CN': 'zh', 'zh-HK': 'yue', 'sv-SE': 'sv', 'es-AR': 'es-AR', 'es-ES': 'es-ES'}
    """
    tags = list(dict.fromkeys(locales))
    out = {t: CV_LOCALE_LANGUAGES.get(t, t.split("-")[0].split("_")[0].lower()) for t in tags}
    for label in {v for t, v in out.items() if t not in CV_LOCALE_LANGUAGES}:
        merged = [t for t in tags if out[t] == label and t not in CV_LOCALE_LANGUAGES]
        if len(merged) > 1:
            out.update({t: t for t in merged})
    return out


def _check_speaker_splits(table: pd.DataFrame, root: Path) -> None:
    """Refuse a client_id listed in two split files, naming both TSV files and lines."""
    first = table.drop_duplicates(["client_id", "_split"])
    first = first[first["client_id"] != ""]
    counts = first["client_id"].value_counts()
    bad = counts.index[counts > 1]
    if len(bad) == 0:
        return
    shown = []
    for cid in list(bad)[:3]:
        rows = first[first["client_id"] == cid]
        where = "; ".join(
            f"{root / f} line {n} ({sp})"
            for f, n, sp in zip(rows["_file"], rows["_line"], rows["_split"], strict=True)
        )
        shown.append(f"client_id {cid!r} at {where}")
    more = f" (and {len(bad) - 3} more)" if len(bad) > 3 else ""
    raise DataFormatError(
        f"{len(bad)} speaker(s) appear in several splits{more}: "
        + "; ".join(shown)
        + "; a speaker must stay in one split (read only "
        "some of the TSV files with --tsv, or fix the files)"
    )


def _read_tsv(path: Path) -> pd.DataFrame:
    table = read_delimited(path, sep="\t", what="Common Voice TSV", quoting=csv.QUOTE_NONE)
    require_columns(table, ["client_id", "path", "age", "gender"], path, "Common Voice TSV")
    return table


def _read_tables(root: Path, tsv_files: tuple[str, ...], split: SpeakerSplit) -> pd.DataFrame:
    """Return the TSV files' rows with ``_file``, ``_line`` and ``_split`` columns added.

    A speaker of train/dev/test.tsv keeps that split in the other files too; the other
    speakers of the other files are split with ``split``.
    """
    frames = []
    for name in tsv_files:
        path = root / name
        t = _read_tsv(path)
        t["_file"] = name
        t["_line"] = t.index + 2
        frames.append(t)
    table = pd.concat(frames, ignore_index=True).fillna("")
    split_col = table["_file"].map(SPLIT_FILES)
    if split_col.isna().any():
        fixed = dict(
            zip(table.loc[split_col.notna(), "client_id"], split_col.dropna(), strict=True)
        )
        split_col = split_col.fillna(table["client_id"].map(fixed))
        split_of = split.assign(table.loc[split_col.isna(), "client_id"])
        split_col = split_col.fillna(table["client_id"].map(split_of))
    table["_split"] = split_col
    _check_speaker_splits(table, root)
    return table


def _clip_problem(r: dict[str, Any], seen: set[str], clips: Path) -> tuple[str, str] | None:
    """Return (item, reason) when the row's clip is not imported, else None; marks it seen."""
    where = f"{r['_file']} line {r['_line']}"
    if r["path"] in seen:
        return f"{where}: {r['path']}", "clip listed again (first row kept)"
    seen.add(r["path"])
    if not r["client_id"] or not r["path"]:
        return where, "empty client_id or path"
    audio = Path(os.path.normpath(clips / r["path"]))
    if clips.absolute() not in audio.absolute().parents:
        return f"{where}: {r['path']}", "clip path leaves the clips folder"
    if not audio.is_file():  # missing, or what it is (a dangling link, a FIFO, ...)
        return f"{where}: {r['path']}", path_problem(audio, "audio file") or "not a regular file"
    return None


def _gender_and_age(r: dict[str, Any], root: Path, age_scheme: AgeScheme) -> tuple[Any, Any]:
    """Return the row's manifest gender and age group; raise naming file, line and column."""
    age_word = r["age"].lower()
    if age_word and age_word not in CV_AGE_GROUPS:
        raise DataFormatError(
            f"{root / r['_file']}: line {r['_line']}, column 'age': "
            f"unknown age {r['age']!r}; expected one of "
            f"{list(CV_AGE_WORDS)} or empty"
        )
    gender_word = r["gender"].lower()
    if gender_word and gender_word not in CV_GENDERS:
        raise DataFormatError(
            f"{root / r['_file']}: line {r['_line']}, column 'gender': "
            f"unknown gender {r['gender']!r}; expected one of "
            f"{list(CV_GENDERS)} or empty"
        )
    if age_scheme == "project":
        group = CV_AGE_GROUPS.get(age_word)
    else:
        group = "fourties" if age_word == "forties" else (age_word or None)
    return CV_GENDERS.get(gender_word), group


def _straddle_notes(rows: list[dict[str, Any]], age_scheme: AgeScheme) -> list[str]:
    """Return the note on ages that straddle two project age groups (if any)."""
    if age_scheme != "project":
        return []
    n_straddle = sum(1 for r in rows if r["cv_age"] in ("teens", "fourties", "forties"))
    if not n_straddle:
        return []
    return [
        f"{n_straddle} utterance(s) aged 'teens' or 'fourties' straddle two "
        "project age groups: age_group left missing (cv_age keeps the word)"
    ]


def _check_folders(
    root: Path, age_scheme: AgeScheme, clips_dir: str | os.PathLike[str] | None
) -> Path:
    """Check the locale folder and ``age_scheme``; return the clips folder."""
    if not root.is_dir():
        problem = path_problem(root, "Common Voice locale folder") or "a file, not a folder"
        raise DataFormatError(f"{root}: {problem}")
    if age_scheme not in ("project", "decades"):
        raise ValueError(f"age_scheme must be 'project' or 'decades', got {age_scheme!r}")
    clips = Path(clips_dir) if clips_dir is not None else root / "clips"
    if not clips.is_dir():
        raise DataFormatError(f"{clips}: clips folder not found")
    return clips


def _manifest_info(
    root: Path, writer: PathWriter, age_scheme: AgeScheme, extra: dict[str, Any]
) -> ManifestInfo:
    """Return the sidecar info: the vocabularies of ``age_scheme`` and the import settings."""
    vocab = {
        "gender": ("female", "male", "other"),
        "age_group": ("18-29", "30-44", "45-59", "60+")
        if age_scheme == "project"
        else CV_AGE_WORDS,
    }
    return ManifestInfo(
        source="common_voice",
        source_version=root.parent.name,
        vocabularies=vocab,
        data_root=writer.data_root(),
        extra=extra,
    )


def import_common_voice(
    root: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    tsv_files: tuple[str, ...] = ("train.tsv", "dev.tsv", "test.tsv"),
    age_scheme: AgeScheme = "project",
    clips_dir: str | os.PathLike[str] | None = None,
    split: SpeakerSplit = DEFAULT_SPLIT,
) -> ImportResult:
    """Import a Common Voice locale folder.

    Parameters
    ----------
    root : path-like
        Locale folder (``cv-corpus-<version>/<locale>``) with the TSV files and ``clips/``.
    out : path-like
        Manifest CSV to write.
    tsv_files : tuple of str
        TSV files to read, in order; a clip listed twice keeps its first row (the repeat is
        listed as skipped).
    age_scheme : {"project", "decades"}
        Age groups: the project's (straddling decades missing) or the age words as given.
    clips_dir : path-like, optional
        Audio folder (default ``<root>/clips``).
    split : SpeakerSplit
        Speaker split for TSV files other than train/dev/test.

    Returns
    -------
    ImportResult
        The written manifest, skipped items and notes.
    """
    root = Path(root)
    clips = _check_folders(root, age_scheme, clips_dir)
    table = _read_tables(root, tsv_files, split)
    source_cols = [c for c in table.columns if not c.startswith("_")]

    writer = PathWriter(out, [clips])
    rows: list[dict[str, Any]] = []
    sources: list[str] = []  # file and line of each row, for error messages
    skipped: list[tuple[str, str]] = []
    seen: set[str] = set()
    tags = [clean(x) for x in table["locale"]] if "locale" in table else [None]
    # the folder name stands in for a missing locale cell
    languages = locale_languages([t or root.name for t in tags])
    for r in table.to_dict("records"):
        problem = _clip_problem(r, seen, clips)
        if problem is not None:
            skipped.append(problem)
            continue
        gender, group = _gender_and_age(r, root, age_scheme)
        locale = clean(r.get("locale")) or root.name
        row: dict[str, Any] = {
            "utterance_id": Path(r["path"]).stem,
            "speaker_id": r["client_id"],
            "audio_path": writer.cell(Path(os.path.normpath(clips / r["path"]))),
            "split": r["_split"],
            "language": languages[locale],
            "accent": clean(r.get("accents")) or clean(r.get("accent")),
            "gender": gender,
            "age_group": group,
        }
        row.update({f"cv_{c}": clean(r[c]) for c in source_cols})
        rows.append(row)
        sources.append(f"{root / r['_file']} line {r['_line']}")
    extra = {
        "tsv_files": list(tsv_files),
        "age_scheme": age_scheme,
        "gender_mapping": {k: v for k, v in CV_GENDERS.items()},
        "age_mapping": CV_AGE_GROUPS if age_scheme == "project" else None,
        "split_seed": split.seed,
        "locale_languages": languages,
    }
    info = _manifest_info(root, writer, age_scheme, extra)
    notes = _straddle_notes(rows, age_scheme)
    return finish(rows, out, info, skipped, notes, f"Common Voice at {root}", sources)
