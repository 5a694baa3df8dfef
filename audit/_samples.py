"""Sample reconstructions written by the audit: PNG files named after the utterance.

:func:`write_samples` writes true face / reconstruction / upper bound triples for a few
utterances per group; :func:`write_language_pairs` writes, for a few speakers heard in two
languages, the true face and one reconstruction per language side by side (the language-swap
report section shows them). Both return JSON-ready records that name the files inside the
samples folder (``artifacts.samples`` and ``artifacts.language_pairs`` of ``audit.json``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from audit._evaluation_stages import resize_image
from s2f_data import atomic_open

__all__ = ["SampleImages", "sample_file_stem", "write_language_pairs", "write_samples"]

#: Hex characters of the SHA-256 of an utterance id kept in sample file names.
_SAMPLE_HASH_CHARS = 10
_SAMPLE_NAME_CHARS = 60


def sample_file_stem(utterance_id: str) -> str:
    """Return a file-name stem for an utterance id: safe, short and collision-free.

    The readable part keeps letters, digits, ``-``, ``_`` and ``.`` (others become ``_``,
    at most 60 characters, no leading dot); the SHA-256 of the whole id is appended, so
    ``a/b`` and ``a?b`` get different names.

    Examples
    --------
    >>> sample_file_stem("a/b"), sample_file_stem("a?b")
    ('a_b-c14cddc033', 'a_b-c2a7b64a2d')
    """
    safe = "".join(
        ch if ch.isascii() and (ch.isalnum() or ch in "-_.") else "_" for ch in utterance_id
    )[:_SAMPLE_NAME_CHARS].lstrip(".")
    digest = hashlib.sha256(utterance_id.encode("utf-8")).hexdigest()[:_SAMPLE_HASH_CHARS]
    return f"{safe or 'utt'}-{digest}"


@dataclass(frozen=True, kw_only=True)
class SampleImages:
    """The images samples are cut from, one entry per evaluated row or distinct face.

    Attributes
    ----------
    table : DataFrame
        The evaluation rows (``utterance_id`` and group columns).
    owner : numpy.ndarray
        ``(n,)`` index of each row's face in ``faces`` and ``upper``.
    faces : list of numpy.ndarray
        Distinct true faces ``(H, W, 3)`` uint8.
    recon : numpy.ndarray
        ``(n, S, S, 3)`` uint8 reconstructions.
    upper : numpy.ndarray
        ``(faces, S, S, 3)`` uint8 upper-bound faces.
    """

    table: pd.DataFrame
    owner: np.ndarray
    faces: list[np.ndarray]
    recon: np.ndarray
    upper: np.ndarray


def _save_png(path: Path, image: np.ndarray) -> str:
    from PIL import Image

    with atomic_open(path, "wb") as fh:
        Image.fromarray(image).save(fh, format="PNG")
    return path.name


def write_samples(
    images: SampleImages,
    folder: Path,
    groups: Sequence[str],
    per_group: int,
    rng: np.random.Generator,
) -> list[dict[str, Any]]:
    """Write true / reconstruction / upper-bound PNG triples for a few utterances per group."""
    table = images.table
    folder.mkdir(parents=True, exist_ok=True)
    cols = [c for c in groups if c in table.columns]
    out: list[dict[str, Any]] = []
    keys = table[cols].astype("string").fillna("(missing)") if cols else None
    buckets = (
        keys.groupby(cols, sort=True, dropna=False).indices
        if keys is not None
        else {"all": np.arange(len(table))}
    )
    size = images.recon.shape[1]
    for idx in buckets.values():
        chosen = rng.choice(idx, size=min(per_group, len(idx)), replace=False)
        for i in sorted(int(j) for j in chosen):
            uid = str(table.at[i, "utterance_id"])
            safe = sample_file_stem(uid)
            record: dict[str, Any] = {"utterance_id": uid}
            record.update({c: str(keys.at[i, c]) for c in cols} if keys is not None else {})
            face = images.owner[i]
            for name, img in (
                ("true_face", images.faces[face]),
                ("reconstruction", images.recon[i]),
                ("upper_bound", images.upper[face]),
            ):
                record[name] = _save_png(folder / f"{safe}_{name}.png", resize_image(img, size * 2))
            out.append(record)
    return out


def _pair_order(languages: Sequence[str], reference: str) -> tuple[str, str]:
    """Return the pair ``(a, b)`` shown for a speaker: ``b`` the reference language when spoken."""
    others = sorted(x for x in languages if x != reference)
    if len(others) < len(languages):
        return others[0], reference
    return others[0], others[1]


def _pair_cells(table: pd.DataFrame, reference: str) -> dict[tuple[str, str, str], list[str]]:
    """(ethnicity, language a, language b) -> speakers heard in both, in speaker order."""
    known = table[table["language"].notna().to_numpy()]
    spoken = known.groupby("speaker_id", sort=True)["language"].unique()
    has_eth = "ethnicity" in table.columns
    ethnicity = table.groupby("speaker_id", sort=True)["ethnicity"].first() if has_eth else None
    cells: dict[tuple[str, str, str], list[str]] = {}
    for spk, languages in spoken.items():
        if len(languages) < 2:
            continue
        a, b = _pair_order([str(x) for x in languages], reference)
        eth = "" if ethnicity is None else ethnicity[spk]
        eth = "(missing)" if pd.isna(eth) else str(eth)
        cells.setdefault((eth, a, b), []).append(spk)
    return cells


def _pair_record(
    images: SampleImages, folder: Path, spk: str, cell: tuple[str, str, str]
) -> dict[str, Any]:
    eth, a, b = cell
    table, size = images.table, images.recon.shape[1]
    rows = {}
    for lang in (a, b):
        mine = (table["speaker_id"] == spk) & (table["language"] == lang)
        rows[lang] = int(np.flatnonzero(mine.fillna(False).to_numpy())[0])  # first in row order
    uid = {lang: str(table.at[rows[lang], "utterance_id"]) for lang in (a, b)}
    face = images.faces[images.owner[rows[a]]]
    record: dict[str, Any] = {"speaker_id": str(spk)}
    if "ethnicity" in table.columns:
        record["ethnicity"] = eth
    record.update({"language_a": a, "language_b": b, "utterance_a": uid[a], "utterance_b": uid[b]})
    record["true_face"] = _save_png(
        folder / f"{sample_file_stem(uid[a])}_true_face.png", resize_image(face, size * 2)
    )
    for lang, key in ((a, "reconstruction_a"), (b, "reconstruction_b")):
        record[key] = _save_png(
            folder / f"{sample_file_stem(uid[lang])}_reconstruction.png",
            resize_image(images.recon[rows[lang]], size * 2),
        )
    return record


def write_language_pairs(
    images: SampleImages,
    folder: Path,
    rng: np.random.Generator,
    *,
    per_cell: int = 1,
    reference_language: str = "en",
) -> list[dict[str, Any]]:
    """Write same-speaker reconstructions in two languages, to show side by side.

    For every (ethnicity, language pair) cell of the speakers heard in two or more languages,
    ``per_cell`` speakers drawn at random; for each, the true face and the reconstruction
    from the speaker's first utterance (in row order) in each language of the pair (``b`` is
    ``reference_language`` when the speaker speaks it, as in the language-swap table;
    otherwise the two alphabetically first languages).

    Returns
    -------
    list of dict
        ``speaker_id``, ``ethnicity`` (when the table has it), ``language_a``,
        ``language_b``, ``utterance_a``, ``utterance_b``, ``true_face``,
        ``reconstruction_a``, ``reconstruction_b`` (file names inside ``folder``).
    """
    if "language" not in images.table.columns:
        return []
    cells = _pair_cells(images.table, reference_language)
    if cells:
        folder.mkdir(parents=True, exist_ok=True)
    out = []
    for cell, speakers in sorted(cells.items()):
        picked = rng.choice(len(speakers), size=min(per_cell, len(speakers)), replace=False)
        for spk in sorted(speakers[int(k)] for k in picked):
            out.append(_pair_record(images, folder, spk, cell))
    return out
