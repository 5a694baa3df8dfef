"""Input length (the paper's 3 s vs 6 s): which durations a model can take, and the inputs.

A duration ``d`` is fed as the first ``d`` seconds of an utterance, looped to the model's
clip when ``d`` is shorter, or to ``d`` itself when longer (the paper repeats short speech
until it fills the input). Used by :func:`audit.build_evaluation_table`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

__all__ = ["AUTO_INPUT_SECONDS", "InputSeconds", "input_seconds_tag", "resolve_input_seconds"]

log = logging.getLogger(__name__)

#: Input durations (seconds) compared by ``input_seconds="auto"``: the paper's 3 s vs 6 s.
AUTO_INPUT_SECONDS: tuple[float, ...] = (3.0, 6.0)
#: Per-duration columns: ``<name>_<tag>`` with ``tag = input_seconds_tag(seconds)``.
INPUT_LENGTH_COLUMNS: tuple[str, ...] = ("cos_sim", "l1", "l2", "retrieval_rank", "speech_seconds")

InputSeconds = Sequence[float] | Literal["auto", "none"] | None


def input_seconds_tag(seconds: float) -> str:
    """Column suffix of an input duration: ``3.0 -> "3s"``, ``1.5 -> "1.5s"``.

    Examples
    --------
    >>> input_seconds_tag(3.0), input_seconds_tag(1.5)
    ('3s', '1.5s')
    """
    return f"{float(seconds):g}s"


def _length_agnostic(model: Any) -> bool:
    """Whether the model's voice encoder takes any number of STFT frames.

    `s2f_model.VoiceEncoder` averages over all time before its fully connected layers, so a
    longer input than the configured clip is valid (the layer table checked at construction
    is the shortest input). Any other encoder is assumed to need exactly the clip.
    """
    from s2f_model import VoiceEncoder  # lazy: s2f_model imports torch; `import audit` must not

    return isinstance(getattr(model, "voice_encoder", None), VoiceEncoder)


def resolve_input_seconds(model: Any, input_seconds: InputSeconds) -> tuple[float, ...]:
    """Check the input durations of the input-length comparison against the model.

    A duration ``d`` up to the model's clip is fed as the first ``d`` seconds of speech
    looped to the clip (the paper's rule); a longer one as the first ``d`` seconds looped to
    ``d`` seconds, which only a length-agnostic voice encoder (one that averages over time,
    as both presets' encoders do) accepts.

    Parameters
    ----------
    model : s2f_model.Speech2Face
        The model (its ``cfg.audio`` and ``voice_encoder`` are read).
    input_seconds : sequence of float, "auto", "none" or None
        Durations in seconds. ``"auto"``: `AUTO_INPUT_SECONDS` when the model can take
        all of them, else none. ``None`` or ``"none"``: none.

    Returns
    -------
    tuple of float
        The durations, sorted ascending (empty: no comparison).

    Raises
    ------
    ValueError
        If a duration is not a finite number, is shorter than one STFT window, repeats, or
        is longer than the model's clip while the voice encoder needs exactly the clip.
    """
    if input_seconds is None:
        return ()
    if isinstance(input_seconds, str):
        if input_seconds == "none":
            return ()
        if input_seconds != "auto":
            raise ValueError(
                f"input_seconds must be a sequence of seconds, 'auto', 'none' or None, "
                f"got {input_seconds!r}"
            )
        try:
            return resolve_input_seconds(model, AUTO_INPUT_SECONDS)
        except ValueError as err:
            log.info("input-length comparison not evaluated: %s", err)
            return ()
    audio = model.cfg.audio
    clip_s = audio.clip_samples / audio.sample_rate
    out: dict[str, float] = {}
    for value in input_seconds:
        if isinstance(value, bool) or not isinstance(value, int | float | np.number):
            raise ValueError(f"input duration {value!r} is not a number of seconds")
        d = float(value)
        if not np.isfinite(d) or round(d * audio.sample_rate) < audio.win_length:
            raise ValueError(
                f"input duration {value!r} s is not allowed: it must be at least one STFT "
                f"window ({audio.win_length / audio.sample_rate:g} s)"
            )
        if round(d * audio.sample_rate) > audio.clip_samples and not _length_agnostic(model):
            raise ValueError(
                f"input duration {d:g} s cannot be fed to this model: the model clip is "
                f"{clip_s:g} s and its voice encoder ({type(model.voice_encoder).__name__}) "
                f"takes no longer input; use durations up to {clip_s:g} s"
            )
        tag = input_seconds_tag(d)
        if tag in out:
            raise ValueError(f"input duration {d:g} s is given twice in {list(input_seconds)}")
        out[tag] = d
    return tuple(sorted(out.values()))


def _input_length_batch(
    waves: Sequence[np.ndarray], seconds: float, cfg: Any
) -> tuple[Any, np.ndarray]:
    """Looped inputs of one duration: ``waves`` -> ``(batch, max(d, clip) samples)``.

    Each row is the first ``seconds`` of speech (or all of it when shorter), looped to the
    length fed to the model: the clip, or ``seconds`` when that is longer than the clip.
    Also returns the seconds of speech used per row.
    """
    import torch

    from s2f_model import fit_clip  # lazy: keeps torch out of `import audit`

    sr = cfg.audio.sample_rate
    want = round(seconds * sr)
    length = max(want, cfg.audio.clip_samples)
    used = np.array([min(want, len(w)) for w in waves], dtype=np.int64)
    batch = torch.stack(
        [fit_clip(torch.from_numpy(w[:k]), length) for w, k in zip(waves, used, strict=True)]
    )  # (batch, length)
    return batch, used / sr
