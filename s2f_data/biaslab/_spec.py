"""Population specs: who is in a synthetic population, read from TOML.

A spec sets the number of speakers, utterances per speaker, clip length, the joint
distribution of demographics as a chain of conditional tables (P(ethnicity),
P(language | ethnicity), P(accent | language, ethnicity), P(gender), P(age group)), the split by
speaker, the seed, the face image size and combinations held out of training.

TOML layout (see ``presets/*.toml``)::

    name = "my-population"
    speakers = 400
    utterances_per_speaker = 5
    clip_seconds = 3.0
    seed = 0
    face_size_px = 128

    [split]            # fractions of speakers; holdout speakers always go to test
    train = 0.8
    val = 0.1
    test = 0.1
    [ethnicity]        # P(ethnicity)
    Asian = 0.25 ...
    [gender]           # P(gender)
    [age_group]        # P(age group)
    [language.Asian]   # P(language | ethnicity), one table per ethnicity
    en = 0.7 ...
    [accent.en.default]  # P(accent | en, any ethnicity without its own table)
    [accent.en.Asian]    # P(accent | en, Asian)
    [[holdout]]        # speakers matching every key are never in train or val
    language = "zh"
    ethnicity = "White"
    [bilingual]        # optional: speakers who also speak English (same voice identity)
    share = 0.2                  # P(bilingual | first language not English), training draws
    eval_block = true            # evaluation draws add a counterfactual block (see below)
    utterances_per_language = 2  # utterances of a bilingual speaker in each language

Non-English languages have the single accent ``native`` and need no accent table.

A bilingual speaker keeps one voice identity and speaks their first language and English,
the English with the L1 accent where the lab simulates one (``en-x-zh``, ``en-x-hi``,
``en-x-es``), otherwise with a native accent drawn from ``[accent.en.*]``. With
``eval_block = true`` an evaluation draw adds ``min_per_cell`` bilingual speakers for every
(ethnicity, language) pair of the spec whose language is not English and has P > 0.
"""

from __future__ import annotations

import hashlib
import json
import os
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from s2f_data.biaslab._accent import ACCENTS
from s2f_data.biaslab._text import LANGUAGES
from s2f_data.biaslab._voice import AGE_GROUPS, GENDERS
from s2f_data.exceptions import PopulationSpecError

__all__ = ["ETHNICITIES", "MAX_SPEAKERS", "PRESETS", "PopulationSpec", "load_spec"]

#: Most speakers one draw may hold (training draw, or all cells of an evaluation draw): a
#: larger count is a typo, and generating it would run for days.
MAX_SPEAKERS = 1_000_000

#: Ethnicity vocabulary of the bias lab (the face renderer's groups).
ETHNICITIES: tuple[str, ...] = ("Asian", "Black", "Indian", "White")
#: Names of the built-in presets.
PRESETS: tuple[str, ...] = ("web-skewed", "representative")
_HOLDOUT_KEYS = ("ethnicity", "language", "accent", "gender", "age_group")
_TOP_KEYS = frozenset(
    {
        "name",
        "description",
        "speakers",
        "utterances_per_speaker",
        "clip_seconds",
        "seed",
        "face_size_px",
        "split",
        "ethnicity",
        "gender",
        "age_group",
        "language",
        "accent",
        "holdout",
        "bilingual",
    }
)
_BILINGUAL_KEYS = ("share", "eval_block", "utterances_per_language")
_PROB_TOL = 1e-6


def _where(source: str | None, key: str) -> str:
    return f"{source}: key {key!r}" if source else f"key {key!r}"


def _distribution(
    data: Any, key: str, allowed: tuple[str, ...], source: str | None
) -> dict[str, float]:
    """Validate a probability table: labels in ``allowed``, values >= 0, sum 1."""
    if not isinstance(data, dict) or not data:
        raise PopulationSpecError(
            f"{_where(source, key)}: expected a table of label = probability, got {data!r}"
        )
    out: dict[str, float] = {}
    for label, value in data.items():
        if label not in allowed:
            raise PopulationSpecError(
                f"{_where(source, f'{key}.{label}')}: label {label!r} is not one of {list(allowed)}"
            )
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not (0.0 <= float(value) <= 1.0)
        ):
            raise PopulationSpecError(
                f"{_where(source, f'{key}.{label}')}: probability must be a number in [0, 1], "
                f"got {value!r}"
            )
        out[label] = float(value)
    total = sum(out.values())
    if abs(total - 1.0) > _PROB_TOL:
        raise PopulationSpecError(
            f"{_where(source, key)}: probabilities must sum to 1, got {total:.6g}"
        )
    return out


def _integer(data: dict[str, Any], key: str, lo: int, hi: int, source: str | None) -> int:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise PopulationSpecError(
            f"{_where(source, key)}: expected an integer in [{lo}, {hi}], got {value!r}"
        )
    return value


def _bilingual(data: Any, upp: int, source: str | None) -> dict[str, Any]:
    """Validate the optional ``[bilingual]`` table; fill its defaults."""
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise PopulationSpecError(f"{_where(source, 'bilingual')}: expected a table")
    unknown = sorted(set(data) - set(_BILINGUAL_KEYS))
    if unknown:
        raise PopulationSpecError(
            f"{_where(source, f'bilingual.{unknown[0]}')}: unknown key; expected one of "
            f"{list(_BILINGUAL_KEYS)}"
        )
    share = data.get("share", 0.0)
    if (
        isinstance(share, bool)
        or not isinstance(share, int | float)
        or not (0.0 <= float(share) <= 1.0)
    ):
        raise PopulationSpecError(
            f"{_where(source, 'bilingual.share')}: expected a number in [0, 1], got {share!r}"
        )
    block = data.get("eval_block", False)
    if not isinstance(block, bool):
        raise PopulationSpecError(
            f"{_where(source, 'bilingual.eval_block')}: expected true or false, got {block!r}"
        )
    upl = _integer(
        {"utterances_per_language": data.get("utterances_per_language", upp)},
        "utterances_per_language",
        1,
        1000,
        source,
    )
    return {"share": float(share), "eval_block": block, "utterances_per_language": upl}


def _language(
    lang_table: Any, ethnicity: dict[str, float], source: str | None
) -> dict[str, dict[str, float]]:
    """Validate ``[language.<ethnicity>]``: one P(language | ethnicity) per ethnicity."""
    if not isinstance(lang_table, dict):
        raise PopulationSpecError(
            f"{_where(source, 'language')}: expected one table per ethnicity "
            f"([language.<ethnicity>]), got {lang_table!r}"
        )
    for eth in ethnicity:
        if eth not in lang_table:
            raise PopulationSpecError(
                f"{_where(source, f'language.{eth}')}: missing; every ethnicity needs "
                "P(language | ethnicity)"
            )
    language: dict[str, dict[str, float]] = {}
    for eth, table in lang_table.items():
        if eth not in ETHNICITIES:
            raise PopulationSpecError(
                f"{_where(source, f'language.{eth}')}: {eth!r} is not one of {list(ETHNICITIES)}"
            )
        language[eth] = _distribution(table, f"language.{eth}", LANGUAGES, source)
    return language


def _accent(acc_table: Any, source: str | None) -> dict[str, dict[str, dict[str, float]]]:
    """Validate ``[accent.<language>.<ethnicity or default>]`` tables."""
    if not isinstance(acc_table, dict):
        raise PopulationSpecError(f"{_where(source, 'accent')}: expected a table")
    accent: dict[str, dict[str, dict[str, float]]] = {}
    for lang, per_eth in acc_table.items():
        if lang not in LANGUAGES:
            raise PopulationSpecError(
                f"{_where(source, f'accent.{lang}')}: {lang!r} is not one of {list(LANGUAGES)}"
            )
        if not isinstance(per_eth, dict):
            raise PopulationSpecError(
                f"{_where(source, f'accent.{lang}')}: expected tables "
                f"[accent.{lang}.default] or [accent.{lang}.<ethnicity>]"
            )
        accent[lang] = {}
        for eth, table in per_eth.items():
            if eth != "default" and eth not in ETHNICITIES:
                raise PopulationSpecError(
                    f"{_where(source, f'accent.{lang}.{eth}')}: expected 'default' or one "
                    f"of {list(ETHNICITIES)}"
                )
            accent[lang][eth] = _distribution(table, f"accent.{lang}.{eth}", ACCENTS[lang], source)
    return accent


def _check_accents_cover(
    language: dict[str, dict[str, float]],
    accent: dict[str, dict[str, dict[str, float]]],
    source: str | None,
) -> None:
    """Raise unless every language spoken with several accents has an accent table."""
    for eth, table in language.items():
        for lang, p in table.items():
            if (
                p > 0
                and len(ACCENTS[lang]) > 1
                and not (eth in accent.get(lang, {}) or "default" in accent.get(lang, {}))
            ):
                raise PopulationSpecError(
                    f"{_where(source, f'accent.{lang}')}: missing; language.{eth}.{lang} > 0 "
                    f"needs [accent.{lang}.{eth}] or [accent.{lang}.default]"
                )


def _holdout(holdout_raw: Any, source: str | None) -> tuple[dict[str, str], ...]:
    """Validate the ``[[holdout]]`` label combinations."""
    if not isinstance(holdout_raw, list):
        raise PopulationSpecError(
            f"{_where(source, 'holdout')}: expected an array of tables [[holdout]]"
        )
    holdout = []
    for i, item in enumerate(holdout_raw):
        key = f"holdout[{i}]"
        if not isinstance(item, dict) or not item:
            raise PopulationSpecError(f"{_where(source, key)}: expected a non-empty table")
        for k, v in item.items():
            if k not in _HOLDOUT_KEYS:
                raise PopulationSpecError(
                    f"{_where(source, f'{key}.{k}')}: expected one of {list(_HOLDOUT_KEYS)}"
                )
            if not isinstance(v, str):
                raise PopulationSpecError(
                    f"{_where(source, f'{key}.{k}')}: expected a label string, got {v!r}"
                )
        holdout.append({k: str(v) for k, v in item.items()})
    return tuple(holdout)


@dataclass(frozen=True, kw_only=True)
class PopulationSpec:
    """A synthetic population: sizes and the joint distribution of demographics.

    Build one with :func:`load_spec`, :meth:`preset` or :meth:`from_dict`; all three validate.

    Parameters
    ----------
    name : str
        Short name, recorded in the manifest sidecar and data card.
    speakers : int
        Number of speakers of a training draw.
    utterances_per_speaker : int
        Utterances per speaker.
    clip_seconds : float
        Length of every utterance.
    seed : int
        Default seed.
    face_size_px : int
        Face image side (64-224).
    split : dict
        Fractions of speakers in ``train``, ``val``, ``test``.
    ethnicity, gender, age_group : dict
        Marginal probabilities.
    language : dict
        ``ethnicity -> language -> P(language | ethnicity)``.
    accent : dict
        ``language -> ethnicity or "default" -> accent -> P``.
    holdout : tuple of dict
        Label combinations (``{"language": "zh", "ethnicity": "White"}``) kept out of training.
    description : str
        Free text.
    bilingual : dict
        Empty (no bilingual speakers), or ``share`` (float), ``eval_block`` (bool) and
        ``utterances_per_language`` (int); see the module docstring.
    """

    name: str
    speakers: int
    utterances_per_speaker: int
    clip_seconds: float
    seed: int
    face_size_px: int
    split: dict[str, float]
    ethnicity: dict[str, float]
    gender: dict[str, float]
    age_group: dict[str, float]
    language: dict[str, dict[str, float]]
    accent: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    holdout: tuple[dict[str, str], ...] = ()
    description: str = ""
    bilingual: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str | None = None) -> PopulationSpec:
        """Validate a parsed TOML table and build a spec.

        Parameters
        ----------
        data : dict
            The TOML content.
        source : str or None
            File name used in error messages.

        Returns
        -------
        PopulationSpec

        Raises
        ------
        PopulationSpecError
            Naming the offending key and what was expected.

        Examples
        --------
        >>> PopulationSpec.from_dict({"name": "x", "speakers": 0})  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        s2f_data.exceptions.PopulationSpecError: key 'speakers': expected an integer in [1, ...
        """
        if not isinstance(data, dict):
            raise PopulationSpecError(f"{source or 'spec'}: expected a table, got {data!r}")
        unknown = sorted(set(data) - _TOP_KEYS)
        if unknown:
            raise PopulationSpecError(
                f"{_where(source, unknown[0])}: unknown key; expected one of {sorted(_TOP_KEYS)}"
            )
        name = data.get("name")
        if not isinstance(name, str) or not name:
            raise PopulationSpecError(f"{_where(source, 'name')}: expected a non-empty string")
        speakers = _integer(data, "speakers", 1, MAX_SPEAKERS, source)
        upp = _integer(data, "utterances_per_speaker", 1, 1000, source)
        seed = _integer(data, "seed", 0, 2**63 - 1, source)
        face_px = _integer(data, "face_size_px", 64, 224, source)
        clip = data.get("clip_seconds")
        if (
            isinstance(clip, bool)
            or not isinstance(clip, int | float)
            or not (0.5 <= float(clip) <= 30.0)
        ):
            raise PopulationSpecError(
                f"{_where(source, 'clip_seconds')}: expected a number in [0.5, 30], got {clip!r}"
            )
        split = _distribution(data.get("split"), "split", ("train", "val", "test"), source)
        ethnicity = _distribution(data.get("ethnicity"), "ethnicity", ETHNICITIES, source)
        gender = _distribution(data.get("gender"), "gender", GENDERS, source)
        age = _distribution(data.get("age_group"), "age_group", AGE_GROUPS, source)
        language = _language(data.get("language"), ethnicity, source)
        accent = _accent(data.get("accent", {}), source)
        _check_accents_cover(language, accent, source)
        holdout = _holdout(data.get("holdout", []), source)
        description = data.get("description", "")
        if not isinstance(description, str):
            raise PopulationSpecError(f"{_where(source, 'description')}: expected a string")
        return cls(
            name=name,
            speakers=speakers,
            utterances_per_speaker=upp,
            clip_seconds=float(clip),
            seed=seed,
            face_size_px=face_px,
            split=split,
            ethnicity=ethnicity,
            gender=gender,
            age_group=age,
            language=language,
            accent=accent,
            holdout=holdout,
            description=description,
            bilingual=_bilingual(data.get("bilingual"), upp, source),
        )

    def to_dict(self) -> dict[str, Any]:
        """Return the TOML/JSON-ready table (:meth:`from_dict` reads it back)."""
        out: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "speakers": self.speakers,
            "utterances_per_speaker": self.utterances_per_speaker,
            "clip_seconds": self.clip_seconds,
            "seed": self.seed,
            "face_size_px": self.face_size_px,
            "split": dict(self.split),
            "ethnicity": dict(self.ethnicity),
            "gender": dict(self.gender),
            "age_group": dict(self.age_group),
            "language": {k: dict(v) for k, v in self.language.items()},
            "accent": {k: {e: dict(t) for e, t in v.items()} for k, v in self.accent.items()},
            "holdout": [dict(h) for h in self.holdout],
        }
        if self.bilingual:  # absent key: specs without the option keep their fingerprint
            out["bilingual"] = dict(self.bilingual)
        return out

    def fingerprint(self) -> str:
        """SHA-256 of the canonical JSON of the spec (identifies a population's settings)."""
        blob = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    @classmethod
    def preset(cls, name: Literal["web-skewed", "representative"]) -> PopulationSpec:
        """Load a built-in preset.

        Parameters
        ----------
        name : {"web-skewed", "representative"}
            ``web-skewed`` mirrors the paper's data (mostly English; most Asian speakers speak
            English, Mandarin speakers rare); ``representative`` is balanced.

        Returns
        -------
        PopulationSpec

        Examples
        --------
        >>> PopulationSpec.preset("representative").ethnicity["Black"]
        0.25
        """
        if name not in PRESETS:
            raise PopulationSpecError(f"unknown preset {name!r}; expected one of {list(PRESETS)}")
        text = resources.files("s2f_data.biaslab").joinpath("presets", f"{name}.toml")
        return cls.from_dict(
            tomllib.loads(text.read_text(encoding="utf-8")), source=f"preset {name}"
        )

    def accent_table(self, language: str, ethnicity: str) -> dict[str, float]:
        """P(accent | language, ethnicity), falling back to the language's default table."""
        tables = self.accent.get(language, {})
        if ethnicity in tables:
            return tables[ethnicity]
        if "default" in tables:
            return tables["default"]
        return {ACCENTS[language][0]: 1.0}

    def bilingual_cells(self) -> list[tuple[str, str]]:
        """(ethnicity, first language) pairs of an evaluation draw's bilingual block.

        Every pair whose language is not English and has P(language | ethnicity) > 0; empty
        without ``[bilingual] eval_block = true``.

        Examples
        --------
        >>> PopulationSpec.preset("representative").bilingual_cells()[:2]
        [('Asian', 'zh'), ('Asian', 'ja')]
        """
        if not self.bilingual.get("eval_block", False):
            return []
        return [
            (eth, lang)
            for eth in ETHNICITIES
            if eth in self.language
            for lang in LANGUAGES
            if lang != "en" and self.language[eth].get(lang, 0) > 0
        ]

    def is_held_out(self, labels: dict[str, str]) -> bool:
        """Whether a speaker with these labels matches a holdout combination."""
        return any(all(labels.get(k) == v for k, v in h.items()) for h in self.holdout)


def load_spec(path: str | os.PathLike[str]) -> PopulationSpec:
    """Read and validate a TOML population spec.

    Parameters
    ----------
    path : path-like
        The ``.toml`` file.

    Returns
    -------
    PopulationSpec

    Raises
    ------
    PopulationSpecError
        If the file is missing, not TOML, or a key is invalid (the message names it).
    """
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise PopulationSpecError(f"{path}: population spec not found") from err
    except tomllib.TOMLDecodeError as err:
        raise PopulationSpecError(f"{path}: not valid TOML: {err}") from err
    return PopulationSpec.from_dict(data, source=str(path))
