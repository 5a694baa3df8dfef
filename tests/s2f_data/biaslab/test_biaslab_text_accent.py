"""Sentences per language and the phoneme-level non-native accents."""

from __future__ import annotations

import re

import numpy as np
import pytest

from s2f_data.biaslab import (
    LANGUAGE_VOICES,
    LANGUAGES,
    NATIVE_ENGLISH_ACCENTS,
    accent_text,
    count_sentences,
    espeak_phonemes,
    make_sentence,
)
from s2f_data.biaslab._accent import _tokenize

SCRIPTS = {
    "en": re.compile(r"^[A-Z][A-Za-z ,.?']+$"),
    "es": re.compile(r"^[¿A-ZÁÉÍÓÚ][\wáéíóúñü ,.?¿]+$"),
    "zh": re.compile(r"^[A-Z]?[a-z]+[1-5]( [a-z]+[1-5],?)*[.?]$"),  # tone-numbered pinyin
    "hi": re.compile(r"^[\u0900-\u097F ,?।]+$"),  # Devanagari
    "ar": re.compile(r"^[\u0600-\u06FF ،.؟]+$"),  # Arabic script
    "ja": re.compile(r"^[\u3040-\u30FF 、。]+$"),  # kana only, no kanji
}


@pytest.mark.parametrize("language", LANGUAGES)
def test_hundreds_of_sentences_in_the_right_script(language: str) -> None:
    rng = np.random.default_rng(0)
    drawn = [make_sentence(language, rng) for _ in range(1000)]
    assert len(set(drawn)) > 900
    assert count_sentences(language) > 100_000
    for s in drawn[:200]:
        assert SCRIPTS[language].match(s), s


def test_make_sentence_is_seeded_and_rejects_unknown_language() -> None:
    a = [make_sentence("hi", np.random.default_rng(5)) for _ in range(3)]
    assert a[0] == a[1] == a[2]
    with pytest.raises(ValueError, match=r"language 'fr' is not supported; expected one of"):
        make_sentence("fr", np.random.default_rng(0))


@pytest.mark.parametrize("language", [lang for lang in LANGUAGES if lang != "en"])
def test_espeak_reads_each_language_with_its_own_rules(language: str) -> None:
    # espeak marks a switch to English pronunciation with "(en)": the voice must not do that
    rng = np.random.default_rng(1)
    for _ in range(5):
        phon = espeak_phonemes(make_sentence(language, rng), LANGUAGE_VOICES[language])
        assert phon.strip() and "(en)" not in phon, phon


def test_native_accents_use_plain_text_and_english_voices() -> None:
    rng = np.random.default_rng(0)
    for accent, voice in NATIVE_ENGLISH_ACCENTS.items():
        assert accent_text("Hello there.", accent, strength=1.0, rng=rng) == ("Hello there.", voice)
        assert espeak_phonemes("Hello there.", voice).startswith("h")


def test_mandarin_l1_rewrites_english_phonemes() -> None:
    text = "The three brothers will deliver the strange bicycle near the station."
    spoken, voice = accent_text(text, "en-x-zh", strength=1.0, rng=np.random.default_rng(0))
    assert voice == "cmn-latn-pinyin"
    assert spoken.startswith("[[") and spoken.endswith("]]")
    tokens = _tokenize(spoken[2:-2].replace(" ", ""))
    native = _tokenize(espeak_phonemes(text, "en-us").replace(" ", ""))
    assert {"T", "D", "I", "V", "v"} & set(native)  # the English original has them...
    assert not {"T", "D", "I", "V", "v", "3:"} & set(tokens)  # ...the L1 version does not


def test_hindi_and_spanish_l1_rules() -> None:
    text = "The student will visit the station this week."
    hi, hi_voice = accent_text(text, "en-x-hi", strength=1.0, rng=np.random.default_rng(0))
    es, es_voice = accent_text(text, "en-x-es", strength=1.0, rng=np.random.default_rng(0))
    assert (hi_voice, es_voice) == ("hi", "es")
    assert "t." in hi  # retroflex stops
    assert "Ist" in hi  # epenthesis before /st/: "station" -> "istation"
    assert "est" in es and "I" not in es[2:-2].replace("aI", "")  # /ɪ/ -> /i/


def test_accent_strength_makes_speakers_differ_but_rng_repeats() -> None:
    text = "Seven thin visitors delivered the heavy wooden chairs on Thursday evening."
    runs = {
        accent_text(text, "en-x-zh", strength=0.6, rng=np.random.default_rng(s))[0]
        for s in range(8)
    }
    assert len(runs) > 1
    a = accent_text(text, "en-x-hi", strength=0.7, rng=np.random.default_rng(3))
    b = accent_text(text, "en-x-hi", strength=0.7, rng=np.random.default_rng(3))
    assert a == b


def test_accent_errors() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"accent 'en-x-fr' is not one of \['en-us'"):
        accent_text("Hi.", "en-x-fr", strength=1.0, rng=rng)
    with pytest.raises(ValueError, match=r"accent strength must be in \(0, 1\], got 1.5"):
        accent_text("Hi.", "en-x-zh", strength=1.5, rng=rng)
