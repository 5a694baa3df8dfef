"""Synthesized voices: one consistent voice per speaker, shaped by gender, age and face size.

A :class:`VoiceProfile` fixes everything that makes a speaker sound like themselves: the
espeak voice and variant, base pitch, pitch range, speaking rate, a vocal-tract-length factor
(formant scaling applied to the signal, tied to the face-size latent shared with the face
renderer), and voice quality (jitter, tremor, breathiness). :func:`synthesize_utterance`
speaks sentences with that profile.

Signal chain (16 kHz output)::

    espeak-ng (22.05 kHz) -> resample to 16 kHz -> loudness from the unwarped signal
    -> spectral-envelope warp by vtl_factor, faded out between 5.5 and 6.5 kHz
    -> tremor and jitter (time-varying delay) -> breath noise -> crop to clip length

The warp moves formants but not harmonics (pitch is unchanged) and leaves every bin above
6.5 kHz untouched, so the 7.2-7.9 kHz band carries no trace of the face-size latent (a formant
warp that moved the band edge let a model read the latent there). The loudness gain is taken
from the unwarped signal for the same reason.

All mappings are simulation settings chosen to give plausible, documented variety; they are
not claims about real people.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from s2f_data.biaslab._accent import (
    ACCENTS,
    NATIVE_ENGLISH_ACCENTS,
    NON_NATIVE_ACCENTS,
    accent_text,
)
from s2f_data.biaslab._espeak import ESPEAK_SAMPLE_RATE, espeak_synth
from s2f_data.biaslab._text import LANGUAGES, make_sentence

__all__ = [
    "AGE_GROUPS",
    "GENDERS",
    "LANGUAGE_VOICES",
    "SAMPLE_RATE",
    "Utterance",
    "VoiceProfile",
    "sample_voice",
    "synthesize_utterance",
]

SAMPLE_RATE = 16000
GENDERS: tuple[str, ...] = ("female", "male")
AGE_GROUPS: tuple[str, ...] = ("18-29", "30-44", "45-59", "60+")

#: espeak voice of each non-English language (English voices come from the accent).
LANGUAGE_VOICES: dict[str, str] = {
    "zh": "cmn-latn-pinyin",
    "hi": "hi",
    "es": "es",
    "ar": "ar",
    "ja": "ja",
}

#: Target median F0 in Hz by (gender, age group), before individual variation.
F0_TARGET_HZ: dict[tuple[str, str], float] = {
    ("male", "18-29"): 120.0,
    ("male", "30-44"): 115.0,
    ("male", "45-59"): 112.0,
    ("male", "60+"): 120.0,
    ("female", "18-29"): 215.0,
    ("female", "30-44"): 205.0,
    ("female", "45-59"): 192.0,
    ("female", "60+"): 185.0,
}
#: Individual spread of the median F0 (standard deviation of log F0).
F0_LOG_SD = 0.09
#: Speaking rate in words per minute (espeak ``-s``) by age group.
RATE_WPM: dict[str, float] = {"18-29": 185.0, "30-44": 175.0, "45-59": 165.0, "60+": 150.0}
RATE_LOG_SD = 0.08
#: espeak pitch-range parameter by gender (individual sd 10, clipped to 20-90).
PITCH_RANGE: dict[str, float] = {"female": 60.0, "male": 50.0}
#: Jitter (relative sd of cycle-to-cycle F0 perturbation) by age group.
JITTER: dict[str, float] = {"18-29": 0.004, "30-44": 0.005, "45-59": 0.007, "60+": 0.012}
#: Breath-noise level relative to the voice by gender (60+ adds 0.02).
BREATHINESS: dict[str, float] = {"female": 0.03, "male": 0.015}
#: Formant scale per standard deviation of the face-size latent: vtl = exp(-0.08 * z).
VTL_PER_SD = 0.08
#: The envelope warp is full below FADE_LOW_HZ and gone above FADE_HIGH_HZ.
FADE_LOW_HZ, FADE_HIGH_HZ = 5500.0, 6500.0
_VARIANTS: dict[str, tuple[str, ...]] = {
    "male": ("m1", "m2", "m3", "m4", "m5", "m6", "m7"),
    "female": ("f1", "f2", "f3", "f4", "f5"),
}
# Median F0 (Hz) measured with parselmouth on en-us at espeak pitch 0, 20, 40, 60, 80, 99.
_PITCH_POINTS = np.array([0.0, 20.0, 40.0, 60.0, 80.0, 99.0])
_F0_CALIBRATION: dict[str, tuple[float, ...]] = {
    "m1": (61, 69, 83, 102, 126, 156),
    "m2": (61, 73, 89, 111, 140, 176),
    "m3": (68, 78, 93, 113, 139, 171),
    "m4": (63, 71, 84, 101, 123, 150),
    "m5": (67, 78, 93, 112, 138, 171),
    "m6": (64, 74, 90, 110, 137, 170),
    "m7": (73, 82, 96, 114, 137, 167),
    "f1": (112, 132, 160, 196, 245, 304),
    "f2": (126, 146, 174, 212, 260, 320),
    "f3": (142, 162, 189, 225, 274, 334),
    "f4": (111, 131, 159, 197, 246, 306),
    "f5": (127, 151, 182, 224, 280, 348),
}
_TARGET_RMS = 0.06
_CLAUSE_GAP_S = 0.18


@dataclass(frozen=True, kw_only=True)
class VoiceProfile:
    """Everything that makes one synthetic speaker sound like themselves.

    Parameters
    ----------
    language, accent : str
        Spoken language (ISO 639-1) and accent label (``native`` for non-English).
    voice : str
        espeak voice with variant actually used (``"en-gb+m3"``, ``"hi+f2"``).
    f0_hz : float
        Target median pitch.
    pitch, pitch_range, rate : int
        espeak pitch (0-99), pitch range (0-99) and speed (words per minute).
    vtl_factor : float
        Formant scale applied to the signal (> 1 raises formants: a shorter vocal tract).
    tremor_hz, tremor_depth : float
        Slow pitch modulation (rate in Hz, relative depth); depth 0 below age 60.
    jitter : float
        Relative sd of the fast random pitch perturbation.
    breathiness : float
        Level of the envelope-following breath noise relative to the voice.
    accent_strength : float
        Probability that an optional L1 rule applies (non-native English only).
    """

    language: str
    accent: str
    voice: str
    f0_hz: float
    pitch: int
    pitch_range: int
    rate: int
    vtl_factor: float
    tremor_hz: float
    tremor_depth: float
    jitter: float
    breathiness: float
    accent_strength: float = 1.0

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dictionary."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> VoiceProfile:
        """Build from :meth:`to_dict` output."""
        return cls(**data)


@dataclass(frozen=True)
class Utterance:
    """A synthesized utterance.

    Parameters
    ----------
    wave : numpy.ndarray
        Shape ``(samples,)``, float32 in [-1, 1] at ``sample_rate``.
    sample_rate : int
        Hz (16000).
    text : str
        The sentence(s) spoken, in the language's script.
    """

    wave: np.ndarray
    sample_rate: int
    text: str


def _pitch_for_f0(variant: str, f0_hz: float) -> int:
    table = np.log(np.asarray(_F0_CALIBRATION[variant], dtype=float))
    return int(np.clip(np.round(np.interp(np.log(f0_hz), table, _PITCH_POINTS)), 0, 99))


def _check_choice(name: str, value: str, allowed: tuple[str, ...] | list[str]) -> None:
    if value not in allowed:
        raise ValueError(f"{name} {value!r} is not one of {list(allowed)}")


def sample_voice(
    rng: np.random.Generator,
    *,
    language: str,
    accent: str,
    gender: str,
    age_group: str,
    face_size: float,
) -> VoiceProfile:
    """Draw one speaker's voice.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of the individual variation.
    language : str
        ISO 639-1 code, one of ``en zh hi es ar ja``.
    accent : str
        For English one of ``en-us en-gb en-gb-scotland en-029 en-x-zh en-x-hi en-x-es``,
        otherwise ``native``.
    gender : {"female", "male"}
        Chooses the espeak variant family, the F0 target and breathiness.
    age_group : {"18-29", "30-44", "45-59", "60+"}
        Shapes F0, speaking rate, jitter and tremor.
    face_size : float
        The standardised face-size latent (~N(0, 1)) shared with the face renderer; sets the
        vocal-tract-length factor ``exp(-0.08 * face_size)``.

    Returns
    -------
    VoiceProfile
        The speaker's voice.

    Examples
    --------
    >>> import numpy as np
    >>> v = sample_voice(np.random.default_rng(0), language="en", accent="en-029",
    ...                  gender="female", age_group="30-44", face_size=0.0)
    >>> v.voice.startswith("en-029+f"), v.vtl_factor
    (True, 1.0)
    """
    _check_choice("language", language, LANGUAGES)
    _check_choice(f"accent for language {language!r}", accent, ACCENTS[language])
    _check_choice("gender", gender, GENDERS)
    _check_choice("age_group", age_group, AGE_GROUPS)
    if not np.isfinite(face_size):
        raise ValueError(f"face_size must be finite, got {face_size}")
    variants = _VARIANTS[gender]
    variant = variants[int(rng.integers(len(variants)))]
    f0 = F0_TARGET_HZ[(gender, age_group)] * float(np.exp(rng.normal(0.0, F0_LOG_SD)))
    pitch = _pitch_for_f0(variant, f0)
    prange = PITCH_RANGE[gender] + rng.normal(0.0, 10.0) - (5.0 if age_group == "60+" else 0.0)
    rate = RATE_WPM[age_group] * float(np.exp(rng.normal(0.0, RATE_LOG_SD)))
    strength = 1.0
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
    old = age_group == "60+"
    tremor_hz = float(rng.uniform(4.0, 6.5))
    tremor_depth = float(rng.uniform(0.02, 0.05)) if old else 0.0
    jitter = JITTER[age_group] * float(rng.uniform(0.7, 1.3))
    breath = (BREATHINESS[gender] + (0.02 if old else 0.0)) * float(rng.uniform(0.5, 1.5))
    return VoiceProfile(
        language=language,
        accent=accent,
        voice=f"{base}+{variant}",
        f0_hz=round(f0, 2),
        pitch=pitch,
        pitch_range=int(np.clip(round(prange), 20, 95)),
        rate=int(np.clip(round(rate), 110, 260)),
        vtl_factor=round(float(np.exp(-VTL_PER_SD * face_size)), 5),
        tremor_hz=round(tremor_hz, 3),
        tremor_depth=round(tremor_depth, 4),
        jitter=round(jitter, 5),
        breathiness=round(breath, 4),
        accent_strength=round(strength, 3),
    )


# ---------------------------------------------------------------------------------------------
# Signal processing
# ---------------------------------------------------------------------------------------------

_N_FFT, _HOP, _LIFTER = 512, 128, 26


def _stft(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Compute the STFT ``(samples,) -> (frames, n_fft // 2 + 1)``: Hann window, hop 128."""
    win = np.hanning(_N_FFT + 1)[:-1]
    pad = np.pad(x, (_N_FFT, _N_FFT + _HOP))
    frames = np.lib.stride_tricks.sliding_window_view(pad, _N_FFT)[::_HOP]  # (frames, n_fft)
    return np.fft.rfft(frames * win, axis=1), win, len(pad)


def _istft(spec: np.ndarray, win: np.ndarray, padded_len: int, n: int) -> np.ndarray:
    """Weighted overlap-add inverse of :func:`_stft`; ``(frames, bins) -> (n,)``."""
    frames = np.fft.irfft(spec, n=_N_FFT, axis=1) * win
    n_frames = len(frames)
    k = _N_FFT // _HOP  # frames overlapping each hop-sized block
    blocks = np.zeros((n_frames + k - 1, _HOP))
    norm = np.zeros((n_frames + k - 1, _HOP))
    win_blocks = (win**2).reshape(k, _HOP)
    for c in range(k):  # frame f contributes its block c to output block f + c
        blocks[c : c + n_frames] += frames[:, c * _HOP : (c + 1) * _HOP]
        norm[c : c + n_frames] += win_blocks[c]
    out = (blocks / np.maximum(norm, 1e-8)).reshape(-1)
    return out[_N_FFT : _N_FFT + n]


@functools.lru_cache(maxsize=512)
def _warp_operator(factor: float, sample_rate: int) -> np.ndarray:
    """Linear map ``(bins, bins)`` from a frame's log magnitude to its log gain.

    Cepstral smoothing (keep the first 26 quefrencies) and the frequency warp are both linear
    in the log magnitude, so ``log_gain = log_mag @ (S @ W - S)`` with ``S`` the smoother and
    ``W`` the interpolation that reads the envelope at ``f / factor`` (faded to ``f`` between
    5.5 and 6.5 kHz). Columns above 6.5 kHz are zero: those bins are left untouched.
    """
    n_bins = _N_FFT // 2 + 1
    eye = np.eye(n_bins)
    cep = np.fft.irfft(eye, n=_N_FFT, axis=1)
    cep[:, _LIFTER : _N_FFT - _LIFTER + 1] = 0.0
    smooth = np.fft.rfft(cep, axis=1).real  # row i: smoothed response to a unit at bin i
    freqs = np.fft.rfftfreq(_N_FFT, 1.0 / sample_rate)
    ramp = np.clip((FADE_HIGH_HZ - freqs) / (FADE_HIGH_HZ - FADE_LOW_HZ), 0.0, 1.0)
    weight = 0.5 - 0.5 * np.cos(np.pi * ramp)  # 1 below 5.5 kHz, 0 above 6.5 kHz
    src = weight * freqs / factor + (1.0 - weight) * freqs
    pos = np.clip(src / freqs[1], 0, n_bins - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, n_bins - 1)
    frac = pos - lo
    interp = np.zeros((n_bins, n_bins))  # env_src[:, j] = sum_i env[:, i] * interp[i, j]
    interp[lo, np.arange(n_bins)] += 1.0 - frac
    interp[hi, np.arange(n_bins)] += frac
    op = smooth @ interp - smooth
    op[:, weight == 0.0] = 0.0
    return op


def warp_formants(x: np.ndarray, factor: float, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Scale the spectral envelope (formants) by ``factor``, keeping pitch and the top band.

    The envelope is the cepstrally smoothed log spectrum of each frame; bins are multiplied by
    ``envelope(f / factor) / envelope(f)``. The warp fades out between 5.5 and 6.5 kHz, so bins
    above 6.5 kHz are unchanged.

    Parameters
    ----------
    x : numpy.ndarray
        Shape ``(samples,)``.
    factor : float
        Formant scale (> 1 moves formants up).
    sample_rate : int
        Hz.

    Returns
    -------
    numpy.ndarray
        Shape ``(samples,)``, float64.
    """
    if x.ndim != 1:
        raise ValueError(f"warp_formants expects a 1-D signal, got shape {x.shape}")
    if factor == 1.0 or len(x) == 0:
        return x.astype(np.float64)
    spec, win, padded = _stft(x.astype(np.float64))
    log_mag = np.log(np.abs(spec) + 1e-7)
    gain = np.exp(np.clip(log_mag @ _warp_operator(float(factor), sample_rate), -6.0, 6.0))
    return _istft(spec * gain, win, padded, len(x))


def _smooth_noise(
    rng: np.random.Generator, n: int, sample_rate: int, cutoff_hz: float
) -> np.ndarray:
    """Unit-sd low-pass noise of length ``n`` (linear interpolation of white noise)."""
    step = max(1, int(sample_rate / cutoff_hz))
    knots = rng.normal(0.0, 1.0, n // step + 2)
    return np.interp(np.arange(n) / step, np.arange(len(knots)), knots)


def _voice_quality(x: np.ndarray, profile: VoiceProfile, rng: np.random.Generator) -> np.ndarray:
    """Tremor and jitter as a time-varying delay, then envelope-following breath noise."""
    n = len(x)
    sr = SAMPLE_RATE
    t = np.arange(n) / sr
    # A delay d(t) changes the instantaneous pitch by the factor 1 - d'(t).
    phase = rng.uniform(0.0, 2.0 * np.pi)
    delay = (
        profile.tremor_depth
        / (2 * np.pi * profile.tremor_hz)
        * np.sin(2 * np.pi * profile.tremor_hz * t + phase)
    )
    jit = _smooth_noise(rng, n, sr, 60.0)
    delay += 1.5 * profile.jitter * np.cumsum(jit - jit.mean()) / sr
    y = np.interp(t - delay, t, x)
    k = int(0.01 * sr)
    csum = np.cumsum(np.abs(y))
    env = np.empty(n)
    env[k:] = (csum[k:] - csum[:-k]) / k  # 10 ms moving average of |y|
    env[:k] = csum[:k] / k
    noise = rng.normal(0.0, 1.0, n)
    noise = np.diff(noise, prepend=0.0) * 0.7  # tilt towards high frequencies
    shimmer = 1.0 + 0.5 * profile.jitter * 10 * _smooth_noise(rng, n, sr, 30.0)
    return y * shimmer + profile.breathiness * 1.5 * env * noise


_RS_UP, _RS_DOWN = 320, 441  # 22050 * 320 / 441 = 16000
_RS_TAPER_HZ = (7500.0, 7950.0)


def _next_smooth(n: int) -> int:
    """Smallest integer >= n whose prime factors are 2, 3 and 5."""
    while True:
        m = n
        for p in (2, 3, 5):
            while m % p == 0:
                m //= p
        if m == 1:
            return n
        n += 1


def _resample_22k_to_16k(x: np.ndarray) -> np.ndarray:
    """Band-limited resampling ``(n,) at 22.05 kHz -> (ceil(n / 441) * 320,) at 16 kHz``.

    Done in the frequency domain: the spectrum is cut at 8 kHz with a raised-cosine taper from
    7.5 to 7.95 kHz (identical for every speaker). The signal is zero-padded to a multiple of
    441 samples; espeak output starts and ends in silence, so the circular FFT does not wrap
    audible sound around. scipy.signal would do this too, but importing it costs seconds in
    every worker process.
    """
    blocks = _next_smooth(-(-len(x) // _RS_DOWN))  # 5-smooth: fast FFT sizes
    n_in, n_out = blocks * _RS_DOWN, blocks * _RS_UP
    spec = np.fft.rfft(x, n=n_in)[: n_out // 2 + 1]
    freqs = np.fft.rfftfreq(n_out, 1.0 / SAMPLE_RATE)
    lo, hi = _RS_TAPER_HZ
    taper = 0.5 + 0.5 * np.cos(np.pi * np.clip((freqs - lo) / (hi - lo), 0.0, 1.0))
    return np.fft.irfft(spec * taper, n=n_out) * (n_out / n_in)


def _espeak_input(
    profile: VoiceProfile, sentence: str, rng: np.random.Generator
) -> tuple[str, str]:
    """Espeak input and voice for one sentence of this speaker."""
    if profile.language == "en" and profile.accent in NON_NATIVE_ACCENTS:
        spoken, _ = accent_text(sentence, profile.accent, strength=profile.accent_strength, rng=rng)
        return spoken, profile.voice
    return sentence, profile.voice


def synthesize_utterance(
    profile: VoiceProfile,
    rng: np.random.Generator,
    *,
    clip_seconds: float | None = 3.0,
    text: str | None = None,
    isolated: bool = True,
) -> Utterance:
    """Speak one utterance with a speaker's voice.

    Parameters
    ----------
    profile : VoiceProfile
        The speaker (see :func:`sample_voice`).
    rng : numpy.random.Generator
        Chooses the sentences (when ``text`` is None) and the voice-quality noise.
    clip_seconds : float or None
        Length of the output. Sentences are drawn and appended until the clip is full, then
        the audio is cut with a 20 ms fade. ``None`` speaks ``text`` (or one sentence) whole.
    text : str or None
        Speak this text instead of drawn sentences (in the profile's language).
    isolated : bool
        Run espeak-ng with fresh state for every sentence, so the result depends only on the
        arguments (see :func:`~s2f_data.biaslab._espeak.espeak_synth`). The population
        generator passes ``False`` inside a per-speaker child process.

    Returns
    -------
    Utterance
        16 kHz float32 audio and the text spoken.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> v = sample_voice(rng, language="es", accent="native", gender="male",
    ...                  age_group="60+", face_size=1.0)
    >>> u = synthesize_utterance(v, rng, clip_seconds=1.0)
    >>> u.wave.shape, u.sample_rate
    ((16000,), 16000)
    """
    if clip_seconds is not None and not 0.2 <= clip_seconds <= 60.0:
        raise ValueError(f"clip_seconds must be in [0.2, 60] or None, got {clip_seconds}")
    target = None if clip_seconds is None else round(clip_seconds * SAMPLE_RATE)
    pieces: list[np.ndarray] = []
    sentences: list[str] = []
    total = 0
    gap = np.zeros(int(_CLAUSE_GAP_S * ESPEAK_SAMPLE_RATE), dtype=np.int16)
    while True:
        sentence = (
            text if (text is not None and not sentences) else make_sentence(profile.language, rng)
        )
        spoken, voice = _espeak_input(profile, sentence, rng)
        raw = espeak_synth(
            spoken,
            voice,
            rate=profile.rate,
            pitch=profile.pitch,
            pitch_range=profile.pitch_range,
            isolated=isolated,
        )
        if raw.size == 0:
            raise RuntimeError(f"espeak-ng produced no audio for {sentence!r} ({voice})")
        pieces += [raw, gap]
        sentences.append(sentence)
        total += raw.size + gap.size
        if target is None or total * SAMPLE_RATE / ESPEAK_SAMPLE_RATE >= target + 400:
            break
    x = _resample_22k_to_16k(np.concatenate(pieces[:-1]).astype(np.float64) / 32768.0)
    if target is not None:
        x = x[: target + 256]
    active = x[np.abs(x) > 0.01]
    gain = _TARGET_RMS / max(float(np.sqrt(np.mean(active**2))) if active.size else 0.0, 1e-4)
    y = warp_formants(x * gain, profile.vtl_factor)
    y = _voice_quality(y, profile, rng)
    if target is not None:
        y = y[:target]
        if len(y) < target:
            y = np.pad(y, (0, target - len(y)))
        fade = int(0.02 * SAMPLE_RATE)
        y[-fade:] *= np.linspace(1.0, 0.0, fade)
    y = np.clip(y, -1.0, 1.0).astype(np.float32)
    return Utterance(wave=y, sample_rate=SAMPLE_RATE, text=" ".join(sentences))
