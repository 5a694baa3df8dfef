"""Non-native English made at the phoneme level.

Reading English with another language's espeak voice does not make an accent: those voices
switch to English phonemes and only the intonation changes (measured here: accent
classification stayed at chance). So non-native English is built in three steps:

1. espeak's English (``en-us``) rules turn the text into phoneme mnemonics;
2. L1-specific rules rewrite the phoneme string: substitutions of English phonemes that the
   first language (L1) lacks by its nearest phonemes (e.g. /θ/ -> /s/ for Mandarin L1, /t/ ->
   retroflex /ʈ/ for Hindi L1, /ɪ/ -> /i/ for Spanish L1), deletion or vowel epenthesis after
   word-final consonants, epenthesis before initial /s/ clusters, final devoicing;
3. the rewritten string is spoken inside ``[[ ]]`` by the L1's own espeak voice, which brings
   the L1's phoneme realisations, rhythm and intonation (L1-like prosody), with an extra
   L1-specific speed and pitch-range change.

Each rule applies with probability ``strength`` (a per-speaker value in (0, 1]), so speakers
of one L1 differ in how strong their accent is. These rules are a coarse simulation of
well-known tendencies, not a description of how any person speaks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from s2f_data.biaslab._espeak import espeak_phonemes

__all__ = ["ACCENTS", "NATIVE_ENGLISH_ACCENTS", "NON_NATIVE_ACCENTS", "L1Rules", "accent_text"]

#: Native English accents: accent label -> espeak voice.
NATIVE_ENGLISH_ACCENTS: dict[str, str] = {
    "en-us": "en-us",
    "en-gb": "gmw/en",  # espeak finds British English by its file name
    "en-gb-scotland": "en-gb-scotland",
    "en-029": "en-029",
}

# Tokens of espeak's English phoneme mnemonics, longest first for greedy matching.
_EN_TOKENS = sorted(
    """@ @2 @5 @L 3 3: a a# A: A@ aI aI@ aU aU@ e@ E eI i i: I I# I2 i@ i@3 o@ O: O2 O@ oU OI
    u: U U@ V 0 p b t t# d k g f v T D s z S Z tS dZ h m n N l L r r- w j""".split(),
    key=len,
    reverse=True,
)
_TOKEN_SET = frozenset(_EN_TOKENS)
_VOWELS = frozenset(
    """@ @2 @5 @L 3 3: a a# A: A@ aI aI@ aU aU@ e@ E eI i i: I I# I2 i@ i@3 o@ O: O2 O@ oU OI
    u: U U@ V 0""".split()
)
_VOICED_TO_VOICELESS = {"b": "p", "d": "t", "g": "k", "v": "f", "z": "s", "dZ": "tS"}


@dataclass(frozen=True, kw_only=True)
class L1Rules:
    """How a first language colours English.

    Parameters
    ----------
    voice : str
        espeak voice of the L1 that speaks the rewritten phonemes.
    substitutions : dict of str to str
        English phoneme -> L1 phoneme string (applied with probability ``strength``).
    forced : dict of str to str
        Substitutions always applied (English phonemes the L1 voice cannot say at all).
    final_epenthesis : str or None
        Vowel added after a word-final consonant other than nasals.
    final_deletion : float
        Probability (times ``strength``) of dropping a word-final consonant cluster's last stop.
    initial_s_epenthesis : str or None
        Vowel inserted before a word-initial /s/ + consonant cluster.
    devoice_final : bool
        Devoice word-final voiced obstruents.
    rate_factor : float
        Speaking-rate multiplier (L1-like tempo).
    range_offset : int
        Added to the espeak pitch-range parameter (L1-like intonation span).
    """

    voice: str
    substitutions: Mapping[str, str]
    forced: Mapping[str, str] = field(default_factory=dict)
    final_epenthesis: str | None = None
    final_deletion: float = 0.0
    initial_s_epenthesis: str | None = None
    devoice_final: bool = False
    rate_factor: float = 1.0
    range_offset: int = 0


NON_NATIVE_ACCENTS: dict[str, L1Rules] = {
    # English with a Mandarin L1.
    "en-x-zh": L1Rules(
        voice="cmn-latn-pinyin",
        substitutions={
            "T": "s",
            "D": "d",
            "v": "w",
            "z": "s",
            "r": "l",
            "a": "E",
            "L": "o",
            "@L": "o",
            "Z": "S",
        },
        forced={
            "I": "i",
            "I#": "i",
            "I2": "i",
            "i:": "i",
            "U": "u",
            "u:": "u",
            "V": "a",
            "3": "@",
            "3:": "@",
            "0": "o",
            "O:": "o",
            "O2": "o",
            "O@": "o@",
            "OI": "oi",
            "A:": "a",
            "A@": "a",
            "aI": "ai",
            "aI@": "ai",
            "aU": "au",
            "aU@": "au",
            "eI": "ei",
            "oU": "ou",
            "U@": "u@",
            "i@3": "i@",
            "t#": "t",
            "r-": "",
            "a#": "a",
        },
        final_epenthesis="@",
        final_deletion=0.35,
        devoice_final=True,
        rate_factor=0.85,
        range_offset=20,
    ),
    # English with a Hindi L1.
    "en-x-hi": L1Rules(
        voice="hi",
        substitutions={
            "t": "t.",
            "d": "d.",
            "T": "th",
            "D": "d",
            "w": "v",
            "z": "dZ",
            "a": "E",
            "V": "@",
            "L": "@l",
            "@L": "@l",
        },
        forced={
            "3": "@r",
            "3:": "@r",
            "A:": "a:",
            "A@": "a:r",
            "0": "o",
            "O:": "o:",
            "O2": "o",
            "eI": "e:",
            "oU": "o:",
            "i@3": "i@",
            "t#": "t.",
            "r-": "r",
            "a#": "a",
            "I#": "I",
        },
        initial_s_epenthesis="I",
        rate_factor=1.08,
        range_offset=10,
    ),
    # English with a Spanish L1.
    "en-x-es": L1Rules(
        voice="es",
        substitutions={
            "v": "b",
            "z": "s",
            "S": "tS",
            "dZ": "j",
            "h": "x",
            "T": "t",
            "D": "d",
            "@": "e",
            "@2": "e",
            "@5": "e",
            "L": "el",
            "@L": "el",
            "N": "n",
        },
        forced={
            "I": "i",
            "I#": "i",
            "I2": "i",
            "i:": "i",
            "U": "u",
            "u:": "u",
            "V": "a",
            "3": "er",
            "3:": "er",
            "A:": "a",
            "A@": "ar",
            "0": "o",
            "O:": "o",
            "O2": "o",
            "O@": "or",
            "eI": "ei",
            "oU": "o",
            "OI": "oi",
            "a": "a",
            "a#": "a",
            "i@3": "ia",
            "U@": "ur",
            "t#": "t",
            "r-": "r",
            "Z": "S",
        },
        final_deletion=0.5,
        initial_s_epenthesis="e",
        rate_factor=1.0,
        range_offset=5,
    ),
}

#: Every accent label of the bias lab, per language (non-English languages are ``native``).
ACCENTS: dict[str, tuple[str, ...]] = {
    "en": (*NATIVE_ENGLISH_ACCENTS, *NON_NATIVE_ACCENTS),
    "zh": ("native",),
    "hi": ("native",),
    "es": ("native",),
    "ar": ("native",),
    "ja": ("native",),
}


def _tokenize(word: str) -> list[str]:
    tokens: list[str] = []
    i = 0
    while i < len(word):
        for tok in _EN_TOKENS:
            if word.startswith(tok, i):
                tokens.append(tok)
                i += len(tok)
                break
        else:  # stress marks, linking marks and anything unknown pass through
            tokens.append(word[i])
            i += 1
    return tokens


def _rewrite_word(word: str, rules: L1Rules, strength: float, rng: np.random.Generator) -> str:
    tokens = [t for t in _tokenize(word) if t not in ("#", ";", "-")]
    phones = [i for i, t in enumerate(tokens) if t in _TOKEN_SET]
    if not phones:
        return "".join(tokens)
    last = phones[-1]
    tail: list[str] = []
    if tokens[last] not in _VOWELS:
        if rules.devoice_final and tokens[last] in _VOICED_TO_VOICELESS:
            tokens[last] = _VOICED_TO_VOICELESS[tokens[last]]
        prev = phones[-2] if len(phones) > 1 else None
        if (
            rules.final_deletion > 0
            and prev is not None
            and tokens[prev] not in _VOWELS
            and tokens[last] in ("t", "d", "k", "p")
            and rng.random() < rules.final_deletion * strength
        ):
            tokens[last] = ""
        elif (
            rules.final_epenthesis
            and tokens[last] not in ("n", "N", "m", "r", "r-")
            and rng.random() < 0.6 * strength
        ):
            tail.append(rules.final_epenthesis)
    first = phones[0]
    if (
        rules.initial_s_epenthesis
        and tokens[first] == "s"
        and len(phones) > 1
        and tokens[phones[1]] not in _VOWELS
    ):
        tokens[first] = rules.initial_s_epenthesis + "s"
    out = []
    for tok in tokens:
        if tok in rules.forced:
            tok = rules.forced[tok]
        elif tok in rules.substitutions and rng.random() < strength:
            tok = rules.substitutions[tok]
        out.append(tok)
    return "".join(out + tail)


def accent_text(
    text: str, accent: str, *, strength: float, rng: np.random.Generator
) -> tuple[str, str]:
    """Return the espeak input and voice that speak English ``text`` with ``accent``.

    Parameters
    ----------
    text : str
        English sentence.
    accent : str
        A native accent (``"en-us"``, ``"en-gb"``, ``"en-gb-scotland"``, ``"en-029"``) or a
        non-native one (``"en-x-zh"``, ``"en-x-hi"``, ``"en-x-es"``).
    strength : float
        Accent strength in (0, 1]: the probability that an optional rule applies.
    rng : numpy.random.Generator
        Randomness of the optional rules.

    Returns
    -------
    tuple of str
        ``(espeak_input, voice)``: plain text and an English voice for native accents, or a
        ``[[...]]`` phoneme string and the L1's voice for non-native ones.

    Examples
    --------
    >>> import numpy as np
    >>> accent_text("Hello there.", "en-029", strength=1.0, rng=np.random.default_rng(0))
    ('Hello there.', 'en-029')
    """
    if accent in NATIVE_ENGLISH_ACCENTS:
        return text, NATIVE_ENGLISH_ACCENTS[accent]
    if accent not in NON_NATIVE_ACCENTS:
        raise ValueError(f"accent {accent!r} is not one of {list(ACCENTS['en'])}")
    if not 0.0 < strength <= 1.0:
        raise ValueError(f"accent strength must be in (0, 1], got {strength}")
    rules = NON_NATIVE_ACCENTS[accent]
    mnemonics = espeak_phonemes(text, "en-us")
    words = []
    for word in mnemonics.split():
        words.append("_:" if word == "_" else _rewrite_word(word, rules, strength, rng))
    return "[[" + " ".join(w for w in words if w) + "]]", rules.voice
