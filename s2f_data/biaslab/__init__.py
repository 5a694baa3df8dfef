"""The bias lab: a synthetic speaker population with known demographics.

Speech comes from espeak-ng (six languages, English in native and non-native accents), faces
from a procedural renderer (:mod:`s2f_data.biaslab.faces`); a TOML spec sets the joint
distribution of ethnicity, language, accent, gender and age group. Everything here is a
simulation with documented settings, not a claim about real people (see docs/population.md).

Examples
--------
>>> import tempfile
>>> from s2f_data.biaslab import PopulationSpec, generate_population
>>> spec = PopulationSpec.preset("web-skewed")
>>> result = generate_population(spec, tempfile.mkdtemp(), seed=0, n_speakers=2, workers=1,
...                              progress=False)
>>> result.manifest_path.name
'manifest.csv'
"""

from s2f_data.biaslab._accent import (
    ACCENTS,
    NATIVE_ENGLISH_ACCENTS,
    NON_NATIVE_ACCENTS,
    L1Rules,
    accent_text,
)
from s2f_data.biaslab._bilingual import l1_english_accent, voice_in_language
from s2f_data.biaslab._datacard import data_card, expected_shares
from s2f_data.biaslab._espeak import espeak_phonemes, espeak_synth
from s2f_data.biaslab._generate import (
    GENERATOR_VERSION,
    PopulationResult,
    evaluation_cells,
    generate_population,
    sample_speakers,
)
from s2f_data.biaslab._spec import (
    ETHNICITIES,
    MAX_SPEAKERS,
    PRESETS,
    PopulationSpec,
    load_spec,
)
from s2f_data.biaslab._text import LANGUAGES, count_sentences, make_sentence
from s2f_data.biaslab._voice import (
    AGE_GROUPS,
    GENDERS,
    LANGUAGE_VOICES,
    SAMPLE_RATE,
    Utterance,
    VoiceProfile,
    sample_voice,
    synthesize_utterance,
    warp_formants,
)
from s2f_data.exceptions import EspeakError, IsolatedCallError, PopulationSpecError

__all__ = [
    "ACCENTS",
    "AGE_GROUPS",
    "ETHNICITIES",
    "GENDERS",
    "GENERATOR_VERSION",
    "LANGUAGES",
    "LANGUAGE_VOICES",
    "MAX_SPEAKERS",
    "NATIVE_ENGLISH_ACCENTS",
    "NON_NATIVE_ACCENTS",
    "PRESETS",
    "SAMPLE_RATE",
    "EspeakError",
    "IsolatedCallError",
    "L1Rules",
    "PopulationResult",
    "PopulationSpec",
    "PopulationSpecError",
    "Utterance",
    "VoiceProfile",
    "accent_text",
    "count_sentences",
    "data_card",
    "espeak_phonemes",
    "espeak_synth",
    "evaluation_cells",
    "expected_shares",
    "generate_population",
    "l1_english_accent",
    "load_spec",
    "make_sentence",
    "sample_speakers",
    "sample_voice",
    "synthesize_utterance",
    "voice_in_language",
    "warp_formants",
]
