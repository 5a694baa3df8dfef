"""Bilingual speakers: one voice identity speaking a second language (issue 15).

:func:`voice_in_language` derives a speaker's voice in another language from their voice in
the first: the espeak variant, median F0, base speed and pitch range, formant warp
(``vtl_factor``, tied to the face size), jitter, tremor and breathiness are kept; the espeak
base voice changes, plus the L1 prosody and accent strength when the target is non-native
English. espeak's voices do not speak at the same F0 for one pitch setting, so the espeak pitch
is re-chosen from a measured per-voice calibration (``_F0_VOICE_RATIO``) to keep the measured
median F0 in place.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from s2f_data.biaslab._accent import ACCENTS, NATIVE_ENGLISH_ACCENTS, NON_NATIVE_ACCENTS
from s2f_data.biaslab._text import LANGUAGES
from s2f_data.biaslab._voice import (
    _F0_CALIBRATION,
    _PITCH_POINTS,
    LANGUAGE_VOICES,
    VoiceProfile,
    _check_choice,
)

__all__ = [
    "bilingual_english_accent",
    "l1_english_accent",
    "utterance_voices",
    "voice_in_language",
]

# Median F0 of each language / accent voice relative to en-us at the same espeak pitch and
# variant, as (male, female) tuples at espeak pitch 20, 40, 60, 80: geometric mean over 4
# speakers x 2 clips of 3 s, parselmouth (benchmarks/validation/calibrate_bilingual_f0.py).
# Used only when a bilingual speaker switches language, so that the measured pitch stays put.
_F0_RATIO_PITCHES = (20.0, 40.0, 60.0, 80.0)
_F0_VOICE_RATIO: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "en-us": ((1.0, 1.0, 1.0, 1.0), (1.0, 1.0, 1.0, 1.0)),
    "en-gb": ((1.001, 1.001, 0.999, 1.0), (0.998, 0.998, 0.998, 0.997)),
    "en-gb-scotland": ((0.995, 0.998, 0.996, 0.998), (0.996, 0.996, 0.996, 0.997)),
    "en-029": ((1.003, 1.002, 1.003, 1.001), (0.998, 0.999, 0.997, 0.998)),
    "en-x-zh": ((0.97, 0.983, 0.986, 0.988), (0.97, 0.974, 0.978, 0.982)),
    "en-x-hi": ((1.028, 1.023, 1.019, 1.015), (1.019, 1.015, 1.013, 1.011)),
    "en-x-es": ((1.019, 1.023, 1.019, 1.015), (1.027, 1.023, 1.017, 1.016)),
    "zh": ((0.893, 0.867, 0.88, 0.902), (0.812, 0.831, 0.858, 0.884)),
    "hi": ((1.008, 1.01, 1.008, 1.006), (1.011, 1.009, 1.007, 1.005)),
    "es": ((1.028, 1.029, 1.022, 1.019), (1.038, 1.031, 1.022, 1.02)),
    "ar": ((1.021, 1.023, 1.02, 1.015), (1.037, 1.03, 1.027, 1.017)),
    "ja": ((1.028, 1.031, 1.024, 1.02), (1.043, 1.035, 1.029, 1.024)),
}


def _voice_f0(key: str, variant: str, pitch: np.ndarray) -> np.ndarray:
    """Return the expected median F0 (Hz) of a language or accent voice at ``pitch``."""
    table = np.log(np.asarray(_F0_CALIBRATION[variant], dtype=float))
    en_us = np.exp(np.interp(pitch, _PITCH_POINTS, table))
    ratio = _F0_VOICE_RATIO[key][int(variant.startswith("f"))]
    return en_us * np.interp(pitch, _F0_RATIO_PITCHES, ratio)


def _matching_pitch(src: str, dst: str, variant: str, pitch: int) -> int:
    """Espeak pitch at which voice ``dst`` has the median F0 that ``src`` has at ``pitch``."""
    target = float(_voice_f0(src, variant, np.asarray(float(pitch))))
    grid = np.arange(100, dtype=float)
    return int(np.argmin(np.abs(np.log(_voice_f0(dst, variant, grid)) - np.log(target))))


def l1_english_accent(first_language: str) -> str | None:
    """Return the simulated non-native English accent of speakers with this L1.

    Parameters
    ----------
    first_language : str
        ISO 639-1 code of the first language.

    Returns
    -------
    str or None
        ``en-x-<L1>`` when the lab simulates that accent (zh, hi, es), else None.

    Examples
    --------
    >>> l1_english_accent("zh"), l1_english_accent("ja")
    ('en-x-zh', None)
    """
    _check_choice("first_language", first_language, LANGUAGES)
    accent = f"en-x-{first_language}"
    return accent if accent in NON_NATIVE_ACCENTS else None


def voice_in_language(
    profile: VoiceProfile, *, language: str, accent: str, rng: np.random.Generator
) -> VoiceProfile:
    """Return the same speaker's voice in another language (one identity, new language).

    Variant, median F0, base speed and pitch range, formant warp (``vtl_factor``, tied to the
    face size), jitter, tremor and breathiness are kept; the espeak base voice changes, plus
    the L1 prosody (speed factor, range offset) and an accent strength when the target is
    non-native English. The espeak pitch is recalibrated for the new voice (espeak's voices
    speak at different F0 for one pitch setting: Mandarin 12 % below en-us), so the measured
    median F0 stays within a few percent.

    Parameters
    ----------
    profile : VoiceProfile
        The speaker's voice in a language spoken without an L1 adjustment (a non-English
        language, or native-accent English).
    language, accent : str
        Target language and accent (``native`` for non-English).
    rng : numpy.random.Generator
        Draws the accent strength of non-native English (nothing else is random).

    Returns
    -------
    VoiceProfile

    Raises
    ------
    ValueError
        If the labels are unknown or ``profile`` already carries a non-native accent.

    Examples
    --------
    >>> from s2f_data.biaslab import sample_voice
    >>> zh = sample_voice(np.random.default_rng(0), language="zh", accent="native",
    ...                   gender="male", age_group="30-44", face_size=0.5)
    >>> en = voice_in_language(zh, language="en", accent="en-x-zh",
    ...                        rng=np.random.default_rng(1))
    >>> en.f0_hz == zh.f0_hz, en.vtl_factor == zh.vtl_factor, en.voice.split("+")[0]
    (True, True, 'cmn-latn-pinyin')
    """
    _check_choice("language", language, LANGUAGES)
    _check_choice(f"accent for language {language!r}", accent, ACCENTS[language])
    if profile.accent in NON_NATIVE_ACCENTS:
        raise ValueError(
            f"profile speaks with the L1 accent {profile.accent!r}; derive other languages from "
            "the speaker's first-language (or native-accent) voice"
        )
    variant = profile.voice.rsplit("+", 1)[1]
    rate, prange, strength = float(profile.rate), float(profile.pitch_range), 1.0
    if language == "en" and accent in NON_NATIVE_ACCENTS:
        rules = NON_NATIVE_ACCENTS[accent]
        base = rules.voice
        rate *= rules.rate_factor
        prange += rules.range_offset
        strength = float(rng.uniform(0.6, 1.0))
    elif language == "en":
        base = NATIVE_ENGLISH_ACCENTS[accent]
    else:
        base = LANGUAGE_VOICES[language]
    src = profile.accent if profile.language == "en" else profile.language
    dst = accent if language == "en" else language
    src = profile.accent if profile.language == "en" else profile.language
    dst = accent if language == "en" else language
    pitch = _matching_pitch(src, dst, variant, profile.pitch)
    return dataclasses.replace(
        profile,
        language=language,
        accent=accent,
        voice=f"{base}+{variant}",
        pitch=pitch,
        pitch_range=int(np.clip(round(prange), 20, 95)),
        rate=int(np.clip(round(rate), 110, 260)),
        accent_strength=round(strength, 3),
    )


def bilingual_english_accent(
    first_language: str, accent_table: dict[str, float], rng: np.random.Generator
) -> str:
    """English accent of a bilingual speaker: the L1 accent, else a native one of the table.

    Parameters
    ----------
    first_language : str
        The speaker's first language.
    accent_table : dict
        P(accent | en, the speaker's ethnicity) of the spec; only its native accents are used
        when the lab has no accent for this L1.
    rng : numpy.random.Generator
        Draws the native accent (not used when the L1 accent exists).

    Returns
    -------
    str
        An English accent label (``en-us`` when the table has no native accent).

    Examples
    --------
    >>> bilingual_english_accent("hi", {"en-us": 1.0}, np.random.default_rng(0))
    'en-x-hi'
    >>> bilingual_english_accent("ja", {"en-x-zh": 0.6, "en-gb": 0.4}, np.random.default_rng(0))
    'en-gb'
    """
    l1 = l1_english_accent(first_language)
    if l1 is not None:
        return l1
    native = {a: p for a, p in accent_table.items() if a in NATIVE_ENGLISH_ACCENTS and p > 0}
    if not native:
        return "en-us"
    labels = list(native)
    probs = np.asarray([native[a] for a in labels], dtype=float)
    return labels[int(rng.choice(len(labels), p=probs / probs.sum()))]


def utterance_voices(
    speaker: dict[str, Any], n_monolingual: int, n_per_language: int
) -> list[VoiceProfile]:
    """Return the voice of each utterance of a speaker-table record, in utterance order.

    A monolingual speaker speaks ``n_monolingual`` utterances with ``voice_*``; a bilingual
    one (``bilingual`` true) ``n_per_language`` in the first language (``voice_*``), then as
    many in English (``voice2_*``).

    Examples
    --------
    >>> from s2f_data.biaslab import PopulationSpec, sample_speakers
    >>> t = sample_speakers(PopulationSpec.preset("representative"), kind="eval", min_per_cell=1)
    >>> rec = t[t["bilingual"]].iloc[0].to_dict()
    >>> [v.language for v in utterance_voices(rec, 3, 2)]
    ['zh', 'zh', 'en', 'en']
    """
    first = VoiceProfile.from_dict(
        {k[len("voice_") :]: v for k, v in speaker.items() if k.startswith("voice_")}
    )
    if not speaker.get("bilingual"):
        return [first] * n_monolingual
    english = VoiceProfile.from_dict(
        {k[len("voice2_") :]: v for k, v in speaker.items() if k.startswith("voice2_")}
    )
    return [first] * n_per_language + [english] * n_per_language
