"""Validation helpers shared by the config sections: choices, bounds and type checks.

Every config dataclass calls :func:`check_types` once in ``__post_init__`` (the boundary
where JSON from a checkpoint or a ``--set`` override enters), then its own range checks with
:func:`positive` and :func:`choice`. Errors are :class:`~s2f_model.exceptions.ConfigError`
naming the dotted key and what was allowed.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Any, Literal

from s2f_model.exceptions import ConfigError

__all__ = [
    "AUX_REGRESSION",
    "AUX_TARGETS",
    "FACE_SIDES",
    "PRECISIONS",
    "REPRESENTATIONS",
    "VGGFACE_MEAN",
    "VOICE_OBJECTIVES",
    "VOICE_POOLINGS",
    "FaceSide",
    "Precision",
    "Representation",
    "VoiceObjective",
    "VoicePooling",
    "check_dense_size",
    "check_types",
    "choice",
    "positive",
]

Representation = Literal["complex", "magnitude"]
Precision = Literal["fp32", "bf16", "fp16"]
VoicePooling = Literal["mean", "mean_std"]
VoiceObjective = Literal["paper", "standardized"]
FaceSide = Literal["train", "pretrained"]

REPRESENTATIONS: frozenset[str] = frozenset({"complex", "magnitude"})
VOICE_POOLINGS: frozenset[str] = frozenset({"mean", "mean_std"})
VOICE_OBJECTIVES: frozenset[str] = frozenset({"paper", "standardized"})
#: Labels a voice encoder may be asked to predict as auxiliary targets. Ethnicity is never
#: one: it must reach the face only through what the voice carries (the audit's question).
AUX_TARGETS: frozenset[str] = frozenset({"gender", "age_group", "language", "accent", "face_size"})
#: Auxiliary targets predicted by regression (one output); the others are classifications.
AUX_REGRESSION: frozenset[str] = frozenset({"face_size"})
PRECISIONS: frozenset[str] = frozenset({"fp32", "bf16", "fp16"})
FACE_SIDES: frozenset[str] = frozenset({"train", "pretrained"})

# VGG-Face's per-channel RGB mean on the 0-255 scale (the common PyTorch conversion's meta).
VGGFACE_MEAN: tuple[float, float, float] = (
    129.186279296875,
    104.76238250732422,
    93.59396362304688,
)


def positive(section: str, name: str, value: float) -> None:
    """Raise `ConfigError` unless ``value > 0`` (the message names ``section.name``)."""
    if not value > 0:
        raise ConfigError(f"{section}.{name} must be > 0, got {value!r}")


def choice(section: str, name: str, value: str, allowed: frozenset[str]) -> None:
    """Raise `ConfigError` unless ``value`` is one of ``allowed``."""
    if value not in allowed:
        raise ConfigError(f"{section}.{name} must be one of {sorted(allowed)}, got {value!r}")


#: Upper bounds of integer settings, so that a damaged checkpoint or a typo fails here with
#: the key's name rather than in ``torch.empty`` or an out-of-memory kill. Sizes that
#: allocate weights get tight bounds; other integers are bounded by ``_INT_DEFAULT_MAX``.
_SIZE_MAX = 65_536
_INT_MAX: dict[str, int] = {
    "audio.sample_rate": 384_000,
    "audio.n_fft": _SIZE_MAX,
    "audio.win_length": _SIZE_MAX,
    "audio.hop_length": _SIZE_MAX,
    "audio.n_freq_bins": _SIZE_MAX,
    "voice.channels": _SIZE_MAX,
    "voice.freq_strides": 64,
    "voice.time_strides": 64,
    "voice.kernel_size": 64,
    "voice.hidden_dim": _SIZE_MAX,
    "voice.feature_dim": _SIZE_MAX,
    "face.image_size": 4096,
    "face.block_channels": _SIZE_MAX,
    "face.block_depths": 64,
    "face.feature_dim": _SIZE_MAX,
    "face.n_identities": 1_000_000,
    "decoder.image_size": 4096,
    "decoder.first_dim": _SIZE_MAX,
    "decoder.landmark_hidden": _SIZE_MAX,
    "decoder.n_landmarks": 10_000,
    "decoder.texture_start": 4096,
    "decoder.texture_channels": _SIZE_MAX,
    "decoder.min_channels": _SIZE_MAX,
    "decoder.warp_border_points": 1024,
    "decoder.warp_grid_size": 4096,
    "train.batch_size": _SIZE_MAX,
    "train.num_workers": 1024,
}
_INT_DEFAULT_MAX = 10**12
#: ``torch.manual_seed`` accepts seeds in this range.
_SEED_RANGE = (-(2**63), 2**64 - 1)
#: Largest number of weights in the main dense layers (8 GiB in float32).
_MAX_DENSE_WEIGHTS = 2**31


def check_dense_size(cfg: Any) -> None:
    """Refuse settings whose main dense layers would exceed `_MAX_DENSE_WEIGHTS` weights."""
    face, voice, dec = cfg.face, cfg.voice, cfg.decoder
    side = face.image_size // 2 ** len(face.block_channels)  # spatial size entering fc6
    dense = {
        "face fc6": face.block_channels[-1] * side * side * face.feature_dim,
        "face fc8": face.feature_dim * face.n_identities,
        "voice fc": voice.channels[-1] * 2 * voice.hidden_dim
        + voice.hidden_dim * voice.feature_dim,
        "decoder": dec.first_dim * dec.texture_start**2 * dec.texture_channels,
    }
    total = sum(dense.values())
    if total > _MAX_DENSE_WEIGHTS:
        raise ConfigError(
            f"the settings ask for {total:,} weights in the dense layers ({dense}); at most "
            f"{_MAX_DENSE_WEIGHTS:,} are allowed: lower face.image_size, face.n_identities or "
            f"the widths"
        )


def _is_number(value: Any) -> bool:
    """Return True for int and float values, False for bool (not a number here)."""
    return not isinstance(value, bool) and isinstance(value, int | float)


def _is_int(value: Any) -> bool:
    """Return True for int values, False for bool."""
    return not isinstance(value, bool) and isinstance(value, int)


def _unwrap_optional(key: str, hint: Any, value: Any) -> Any:
    """For ``X | None`` return ``X`` (or ``None`` when ``value`` is None and allowed).

    The message of a wrong type says "or null", so that a JSON user knows null is allowed.
    """
    args = typing.get_args(hint)
    if typing.get_origin(hint) not in (typing.Union, types.UnionType):
        return hint
    if value is None and type(None) in args:
        return None
    inner = [a for a in args if a is not type(None)]
    if len(inner) != 1:
        return hint
    hint = inner[0]
    if hint is float and not _is_number(value):
        raise ConfigError(f"{key} must be a number or null, got {value!r}")
    if hint is int and not _is_int(value):
        raise ConfigError(f"{key} must be an integer or null, got {value!r}")
    return hint


def _check_int(key: str, value: Any) -> None:
    """Require an integer within its bound (`_INT_MAX`, or `_SEED_RANGE` for ``train.seed``)."""
    if not _is_int(value):
        raise ConfigError(f"{key} must be an integer, got {value!r}")
    if key == "train.seed":
        low, high = _SEED_RANGE
    else:
        low, high = None, _INT_MAX.get(key.split("[")[0], _INT_DEFAULT_MAX)
    if value > high:
        raise ConfigError(f"{key} must be <= {high}, got {value!r}")
    if low is not None and value < low:
        raise ConfigError(f"{key} must be >= {low}, got {value!r}")


def _check_scalar(key: str, hint: Any, value: Any) -> None:
    """Raise `ConfigError` unless ``value`` has the type ``hint`` allows (bool is not int)."""
    hint = _unwrap_optional(key, hint, value)
    if hint is None:
        return
    if typing.get_origin(hint) is Literal:
        args = typing.get_args(hint)
        if value not in args or not isinstance(value, str):
            raise ConfigError(f"{key} must be one of {sorted(args)}, got {value!r}")
    elif hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key} must be true or false, got {value!r}")
    elif hint is int:
        _check_int(key, value)
    elif hint is float:
        if not _is_number(value):
            raise ConfigError(f"{key} must be a number, got {value!r}")
        if not math.isfinite(value):
            raise ConfigError(f"{key} must be finite, got {value!r}")
    elif hint is str and not isinstance(value, str):
        raise ConfigError(f"{key} must be a string, got {value!r}")


def _check_tuple(key: str, hint: Any, value: Any) -> None:
    """Require a tuple of the hinted length (or any length for ``tuple[X, ...]``), item by item."""
    if not isinstance(value, tuple):
        raise ConfigError(f"{key} must be a list, got {value!r}")
    items = typing.get_args(hint)
    if len(items) == 2 and items[1] is Ellipsis:
        items = (items[0],) * len(value)
    elif len(items) != len(value):
        raise ConfigError(f"{key} must have {len(items)} entries, got {list(value)!r}")
    for i, (item_hint, item) in enumerate(zip(items, value, strict=True)):
        _check_scalar(f"{key}[{i}]", item_hint, item)


def check_types(obj: Any, section: str) -> None:
    """Check every field of a config dataclass against its type hint, once, at the boundary.

    Integers refuse booleans and floats (``64.0``, ``true``), floats must be finite, tuples
    are checked item by item, and integers are bounded (`_INT_MAX`) so that a damaged
    checkpoint fails here, naming the key, rather than deep inside torch.
    """
    hints = typing.get_type_hints(type(obj))
    for f in dataclasses.fields(obj):
        hint, value, key = hints[f.name], getattr(obj, f.name), f"{section}.{f.name}"
        if typing.get_origin(hint) is tuple:
            _check_tuple(key, hint, value)
        elif not dataclasses.is_dataclass(hint):
            _check_scalar(key, hint, value)
