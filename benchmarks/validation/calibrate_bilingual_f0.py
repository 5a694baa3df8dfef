"""Measure the median F0 of each bias-lab language / accent voice relative to en-us.

Same speaker (variant, rate, formant warp), same espeak pitch setting, one voice per language:
the geometric mean ratio of parselmouth median F0 to en-us's, by gender and at espeak pitch
20, 40, 60 and 80 (the ratio depends on the pitch). The printed table is ``_F0_VOICE_RATIO`` in
``s2f_data/biaslab/_bilingual.py`` (used for bilingual speakers).

Run: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/validation/calibrate_bilingual_f0.py``
"""

from __future__ import annotations

import dataclasses

import numpy as np
import parselmouth

from s2f_data.biaslab import (
    LANGUAGE_VOICES,
    NATIVE_ENGLISH_ACCENTS,
    NON_NATIVE_ACCENTS,
    SAMPLE_RATE,
    sample_voice,
    synthesize_utterance,
)

KEYS = [*NATIVE_ENGLISH_ACCENTS, *NON_NATIVE_ACCENTS, *LANGUAGE_VOICES]


def median_f0(wave: np.ndarray) -> float:
    """Median F0 (Hz) of voiced frames, parselmouth autocorrelation, 60-450 Hz."""
    pitch = parselmouth.Sound(wave.astype(np.float64), SAMPLE_RATE).to_pitch(
        time_step=0.01, pitch_floor=60.0, pitch_ceiling=450.0
    )
    f0 = pitch.selected_array["frequency"]
    return float(np.median(f0[f0 > 0]))


def _profile(base, key: str):
    if key in LANGUAGE_VOICES:
        voice = LANGUAGE_VOICES[key]
        return dataclasses.replace(
            base, language=key, accent="native", voice=f"{voice}+{base.voice.rsplit('+', 1)[1]}"
        )
    voice = (
        NON_NATIVE_ACCENTS[key].voice
        if key in NON_NATIVE_ACCENTS
        else (NATIVE_ENGLISH_ACCENTS[key])
    )
    extra = NON_NATIVE_ACCENTS[key].range_offset if key in NON_NATIVE_ACCENTS else 0
    return dataclasses.replace(
        base,
        language="en",
        accent=key,
        voice=f"{voice}+{base.voice.rsplit('+', 1)[1]}",
        pitch_range=base.pitch_range + extra,
    )


PITCHES = (20, 40, 60, 80)


def main(n_speakers: int = 4, n_clips: int = 2) -> None:
    """Print the ratio table: ``key: {gender: (ratio at each of PITCHES)}``."""
    ages = ("18-29", "30-44", "45-59", "60+")
    table: dict[str, dict[str, list[float]]] = {k: {} for k in KEYS}
    for gender in ("male", "female"):
        for pitch in PITCHES:
            logs: dict[str, list[float]] = {k: [] for k in KEYS}
            for s in range(n_speakers):
                base = sample_voice(
                    np.random.default_rng(100 + s),
                    language="es",
                    accent="native",
                    gender=gender,
                    age_group=ages[s % 4],
                    face_size=0.0,
                )
                base = dataclasses.replace(base, pitch=pitch)
                f0 = {
                    k: np.median(
                        [
                            median_f0(
                                synthesize_utterance(
                                    _profile(base, k),
                                    np.random.default_rng(1000 * s + j),
                                    clip_seconds=3.0,
                                ).wave
                            )
                            for j in range(n_clips)
                        ]
                    )
                    for k in KEYS
                }
                for k in KEYS:
                    logs[k].append(np.log(f0[k] / f0["en-us"]))
            for k in KEYS:
                table[k].setdefault(gender, []).append(round(float(np.exp(np.mean(logs[k]))), 3))
            print(f"# {gender} pitch {pitch} done", flush=True)
    for k in KEYS:
        print(f'    "{k}": ({tuple(table[k]["male"])}, {tuple(table[k]["female"])}),')


if __name__ == "__main__":
    main()
