import io
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from audit._voice_measures import VOICE_MEASURES, voice_measures, voice_measures_batch

SR = 16000


def harmonic_tone(f0: float, seconds: float = 1.5, sr: int = SR) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return sum(0.3 / k * np.sin(2 * np.pi * f0 * k * t) for k in range(1, 6)).astype(np.float32)


@pytest.mark.parametrize("f0", [85.0, 120.0, 210.0, 330.0])
def test_f0_of_synthesized_tone_within_5_percent(f0):
    m = voice_measures(harmonic_tone(f0), SR)
    assert m["median_f0_hz"] == pytest.approx(f0, rel=0.05)
    assert m["voiced_fraction"] > 0.9
    assert m["f0_range_semitones"] < 0.5


def test_gliding_tone_range_and_keys():
    # F0 glides linearly 100 -> 200 Hz: 5th/95th percentiles near 105 and 195 Hz
    t = np.arange(2 * SR) / SR
    f = 100 + 50 * t  # instantaneous frequency
    phase = 2 * np.pi * np.cumsum(f) / SR
    m = voice_measures(0.4 * np.sin(phase), SR)
    assert list(m) == list(VOICE_MEASURES)
    assert m["f0_p05_hz"] == pytest.approx(105, rel=0.05)
    assert m["f0_p95_hz"] == pytest.approx(195, rel=0.05)
    assert m["f0_range_semitones"] == pytest.approx(12 * np.log2(m["f0_p95_hz"] / m["f0_p05_hz"]))


def test_bursts_give_voiced_fraction_rate_and_snr():
    # 6 voiced bursts of 0.25 s separated by 0.25 s of low noise, 3 s in total
    rng = np.random.default_rng(0)
    tone = harmonic_tone(150, 3.0)
    t = np.arange(len(tone)) / SR
    on = (t % 0.5) < 0.25
    noise = rng.normal(scale=0.003, size=len(tone))
    wave = tone * on + noise
    m = voice_measures(wave, SR)
    assert m["duration_s"] == pytest.approx(3.0)
    assert m["voiced_fraction"] == pytest.approx(0.5, abs=0.06)
    assert m["n_syllable_nuclei"] == 6
    assert m["speaking_rate_syl_per_s"] == pytest.approx(2.0)
    # burst power: sum of harmonic powers (0.3/k)^2/2, noise power 0.003^2
    signal_power = sum((0.3 / k) ** 2 / 2 for k in range(1, 6))
    true_snr = 10 * np.log10((signal_power + 0.003**2) / 0.003**2)
    assert m["snr_db"] == pytest.approx(true_snr, abs=1.5)


def test_snr_falls_with_more_noise():
    rng = np.random.default_rng(1)
    tone = harmonic_tone(150, 2.0)
    on = (np.arange(len(tone)) / SR % 0.5) < 0.25
    snrs = [
        voice_measures(tone * on + rng.normal(scale=s, size=len(tone)), SR)["snr_db"]
        for s in (0.001, 0.01, 0.05)
    ]
    assert snrs[0] > snrs[1] > snrs[2]


def test_silence_gives_nan_pitch_not_zero():
    m = voice_measures(np.zeros(SR, dtype=np.float32), SR)
    assert np.isnan(m["median_f0_hz"]) and np.isnan(m["f0_range_hz"])
    assert m["voiced_fraction"] == 0.0
    assert np.isnan(m["snr_db"])


@pytest.mark.parametrize(
    ("wave", "sr", "match"),
    [
        (np.zeros((2, SR)), SR, r"mono wave of shape \(samples,\), got \(2, 16000\)"),
        (np.zeros(100), SR, r"0.006 s long; voice measures need at least 0.25 s"),
        (np.full(SR, np.nan), SR, "finite floating-point"),
        (np.zeros(SR, dtype=np.int16), SR, "finite floating-point"),
        (np.zeros(SR), 16000.5, "sample_rate must be an integer"),
    ],
)
def test_bad_input_rejected(wave, sr, match):
    with pytest.raises(ValueError, match=match):
        voice_measures(wave, sr)


def test_bad_pitch_range_rejected():
    with pytest.raises(ValueError, match="pitch_floor < pitch_ceiling"):
        voice_measures(harmonic_tone(100), SR, pitch_floor=300, pitch_ceiling=200)


def test_batch_continues_past_bad_files(tmp_path):
    good = tmp_path / "good.wav"
    sf.write(good, harmonic_tone(120), SR, subtype="FLOAT")
    short = tmp_path / "short.wav"
    sf.write(short, np.zeros(200, dtype=np.float32), SR)
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"not audio at all")
    table = voice_measures_batch([junk, good, tmp_path / "missing.wav", short, good])
    assert list(table.columns) == ["path", *VOICE_MEASURES, "error"]
    assert table["path"].tolist()[1] == str(good)
    assert table["error"].isna().tolist() == [False, True, False, False, True]
    assert table.loc[0, "error"].startswith("DataFormatError")
    assert "junk.wav" in table.loc[0, "error"]
    assert "need at least 0.25 s" in table.loc[3, "error"]
    assert table.loc[[0, 2, 3], "median_f0_hz"].isna().all()
    assert table.loc[1, "median_f0_hz"] == pytest.approx(120, rel=0.05)
    single = voice_measures(harmonic_tone(120), SR)
    pd.testing.assert_series_equal(
        table.loc[4, list(VOICE_MEASURES)].astype(float),
        pd.Series(single, name=4, dtype=float),
        rtol=1e-5,
    )


def espeak(*args: str) -> tuple[np.ndarray, int]:
    text = "The quick brown fox jumps over the lazy dog near the river bank."
    out = subprocess.run(["espeak-ng", "--stdout", *args, text], capture_output=True, check=True)
    wave, sr = sf.read(io.BytesIO(out.stdout), dtype="float32")
    return wave, sr


needs_espeak = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng missing")


@pytest.mark.espeak
@needs_espeak
def test_espeak_pitch_settings_measured_in_order_and_near_reference():
    low = voice_measures(*espeak("-p", "20"))
    high = voice_measures(*espeak("-p", "80"))
    assert low["median_f0_hz"] < high["median_f0_hz"]
    # reference measurements on this machine: 78 Hz and 139 Hz
    assert low["median_f0_hz"] == pytest.approx(78, rel=0.05)
    assert high["median_f0_hz"] == pytest.approx(139, rel=0.05)


@pytest.mark.espeak
@needs_espeak
def test_espeak_speed_measured_as_speaking_rate():
    slow = voice_measures(*espeak("-s", "120"))
    fast = voice_measures(*espeak("-s", "220"))
    assert slow["duration_s"] > 1.5 * fast["duration_s"]
    assert fast["speaking_rate_syl_per_s"] > 1.4 * slow["speaking_rate_syl_per_s"]
