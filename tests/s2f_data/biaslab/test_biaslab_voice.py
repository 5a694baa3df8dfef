"""Synthesized voices: pitch by gender, determinism, the formant warp and its band-edge cue."""

from __future__ import annotations

import numpy as np
import parselmouth
import pytest

from s2f_data.biaslab import (
    SAMPLE_RATE,
    EspeakError,
    IsolatedCallError,
    VoiceProfile,
    espeak_synth,
    sample_voice,
    synthesize_utterance,
    warp_formants,
)
from s2f_data.biaslab._voice import _resample_22k_to_16k

pytestmark = pytest.mark.espeak


def _median_f0(wave: np.ndarray) -> float:
    pitch = parselmouth.Sound(wave.astype(np.float64), SAMPLE_RATE).to_pitch(
        pitch_floor=60.0, pitch_ceiling=500.0
    )
    f0 = pitch.selected_array["frequency"]
    return float(np.median(f0[f0 > 0]))


def _band_energy_db(wave: np.ndarray, lo: float, hi: float) -> float:
    spec = np.abs(np.fft.rfft(wave)) ** 2
    freqs = np.fft.rfftfreq(len(wave), 1.0 / SAMPLE_RATE)
    return float(10 * np.log10(spec[(freqs >= lo) & (freqs < hi)].sum() + 1e-12))


def test_measured_median_f0_follows_gender_targets() -> None:
    rng = np.random.default_rng(7)
    measured: dict[str, list[float]] = {"female": [], "male": []}
    for gender in ("female", "male", "female", "male"):
        v = sample_voice(
            rng,
            language="en",
            accent="en-us",
            gender=gender,
            age_group="30-44",
            face_size=float(rng.normal()),
        )
        u = synthesize_utterance(v, rng, clip_seconds=1.5)
        f0 = _median_f0(u.wave)
        assert f0 == pytest.approx(v.f0_hz, rel=0.15), (v.voice, v.pitch, v.f0_hz, f0)
        measured[gender].append(f0)
    assert min(measured["female"]) > 1.4 * max(measured["male"])


def test_same_seed_same_audio_different_seed_different() -> None:
    v = sample_voice(
        np.random.default_rng(0),
        language="hi",
        accent="native",
        gender="female",
        age_group="60+",
        face_size=-1.0,
    )
    a = synthesize_utterance(v, np.random.default_rng(1), clip_seconds=1.0)
    b = synthesize_utterance(v, np.random.default_rng(1), clip_seconds=1.0)
    c = synthesize_utterance(v, np.random.default_rng(2), clip_seconds=1.0)
    assert a.wave.dtype == np.float32 and a.wave.shape == (SAMPLE_RATE,)
    np.testing.assert_array_equal(a.wave, b.wave)
    assert a.text == b.text
    assert not np.array_equal(a.wave, c.wave)


def test_espeak_output_does_not_depend_on_earlier_calls() -> None:
    args = {"rate": 170, "pitch": 40, "pitch_range": 60}
    first = espeak_synth("Hello there my friend.", "en-us+m3", **args)
    espeak_synth("Hola amigo.", "es+f2", rate=220, pitch=80, pitch_range=20)
    again = espeak_synth("Hello there my friend.", "en-us+m3", **args)
    np.testing.assert_array_equal(first, again)


def test_warp_moves_formants_but_not_pitch() -> None:
    raw = espeak_synth("A sunny day at the seaside.", "en-us+m3", pitch=45)
    x = _resample_22k_to_16k(raw / 32768.0)
    up = warp_formants(x, 1.15)
    sx = parselmouth.Sound(x, SAMPLE_RATE)
    su = parselmouth.Sound(up, SAMPLE_RATE)
    fx, fu = sx.to_formant_burg(), su.to_formant_burg()
    pitch = sx.to_pitch()
    times = [
        t
        for t in np.linspace(0.1, sx.duration - 0.1, 60)
        if np.isfinite(pitch.get_value_at_time(t))
    ]  # voiced frames only
    ratios = [fu.get_value_at_time(2, t) / fx.get_value_at_time(2, t) for t in times]
    assert np.nanmedian(ratios) == pytest.approx(1.15, abs=0.06)
    assert _median_f0(up) == pytest.approx(_median_f0(x), rel=0.02)
    # above 6.5 kHz the spectrum is left as it was
    assert _band_energy_db(up, 7200, 7900) == pytest.approx(_band_energy_db(x, 7200, 7900), abs=0.2)


def test_band_edge_energy_does_not_reveal_face_size() -> None:
    """Energy at 7.2-7.9 kHz must not correlate with the face-size latent (a known shortcut)."""
    rng = np.random.default_rng(3)
    sizes = np.linspace(-2.2, 2.2, 16)
    rng.shuffle(sizes)
    edge, control = [], []
    for z in sizes:
        v = sample_voice(
            rng, language="en", accent="en-gb", gender="male", age_group="18-29", face_size=float(z)
        )
        u = synthesize_utterance(
            v,
            np.random.default_rng(99),
            clip_seconds=1.5,
            text="Please ask Peter where the yellow clock went.",
        )
        edge.append(_band_energy_db(u.wave, 7200, 7900))
        # positive control: a resampling warp moves the band edge with the latent
        n = len(u.wave)
        src = np.arange(int(n / v.vtl_factor)) * v.vtl_factor
        resampled = np.interp(src, np.arange(n), u.wave)[:n]
        spec = np.fft.rfft(resampled)
        freqs = np.fft.rfftfreq(len(resampled), 1.0 / SAMPLE_RATE)
        spec[freqs > 8000 * min(1.0, v.vtl_factor) - 100] = 0  # the moved band edge
        control.append(_band_energy_db(np.fft.irfft(spec, n=len(resampled)), 7200, 7900))
    r_edge = np.corrcoef(sizes, edge)[0, 1]
    r_control = np.corrcoef(sizes, control)[0, 1]
    print(f"r(latent, band-edge dB) = {r_edge:.3f}; resampling control r = {r_control:.3f}")
    assert abs(r_control) > 0.6  # the test can see a band-edge cue when there is one
    assert abs(r_edge) < 0.35


def test_sample_voice_validates_labels() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"accent for language 'zh' 'en-us' is not one of"):
        sample_voice(
            rng, language="zh", accent="en-us", gender="male", age_group="60+", face_size=0.0
        )
    with pytest.raises(ValueError, match=r"age_group '70\+' is not one of"):
        sample_voice(
            rng, language="en", accent="en-us", gender="male", age_group="70+", face_size=0.0
        )
    with pytest.raises(ValueError, match=r"gender 'other' is not one of \['female', 'male'\]"):
        sample_voice(
            rng, language="en", accent="en-us", gender="other", age_group="60+", face_size=0.0
        )


def test_profile_round_trip_and_voice_matches_language() -> None:
    rng = np.random.default_rng(0)
    expected = {"zh": "cmn-latn-pinyin+", "hi": "hi+", "es": "es+", "ar": "ar+", "ja": "ja+"}
    for lang, prefix in expected.items():
        v = sample_voice(
            rng, language=lang, accent="native", gender="female", age_group="18-29", face_size=0.3
        )
        assert v.voice.startswith(prefix)
        assert VoiceProfile.from_dict(v.to_dict()) == v
    v = sample_voice(
        rng, language="en", accent="en-x-hi", gender="male", age_group="18-29", face_size=0.3
    )
    assert v.voice.startswith("hi+m") and 0.6 <= v.accent_strength <= 1.0


def test_espeak_errors_name_the_voice() -> None:
    with pytest.raises(IsolatedCallError, match=r"espeak-ng has no voice 'xx-yy\+m3'"):
        espeak_synth("Hello.", "xx-yy+m3")
    with pytest.raises(EspeakError, match=r"espeak-ng has no voice 'xx-yy\+m3'"):
        espeak_synth("Hello.", "xx-yy+m3", isolated=False)
