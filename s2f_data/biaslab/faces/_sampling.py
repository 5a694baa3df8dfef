"""Draw one face's parameters from a :class:`FaceDistribution` (``sample_face_params``).

The draws come from one ``numpy.random.Generator`` in a fixed order (shape, colours, hair,
facial features, scene); that order fixes every rendered face of a seed, and with it the
shipped face side trained on them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from s2f_data.biaslab.faces._params import (
    BACKGROUND_COLORS,
    BASE_SHAPE,
    CLOTHING_COLORS,
    HAIR_COLOURS,
    IRIS_COLOURS,
    AgeProfile,
    EthnicityProfile,
    FaceDistribution,
    FaceParams,
    GenderProfile,
    _default_distribution,
)

__all__ = ["sample_face_params", "skin_colour"]

_GREY = (0.78, 0.77, 0.75)
# Skin colour along the tone axis (0 dark, 1 light): anchors at 0, 0.25, 0.5, 0.75, 1.
_SKIN_ANCHORS = np.array(
    [
        [0.23, 0.14, 0.09],
        [0.42, 0.27, 0.17],
        [0.64, 0.45, 0.32],
        [0.84, 0.66, 0.52],
        [0.97, 0.84, 0.75],
    ]
)


def _clip(x: float, low: float, high: float) -> float:
    """Clip a scalar (``np.clip`` is slow on scalars)."""
    return min(max(float(x), low), high)


def _choose(rng: np.random.Generator, weights: Mapping[str, float]) -> str:
    """Draw one name with probability proportional to its weight (one uniform draw)."""
    names = list(weights)
    cum = np.cumsum([weights[n] for n in names])
    index = int(np.searchsorted(cum, rng.random() * cum[-1], side="right"))
    return names[min(index, len(names) - 1)]


def _lookup(profiles: Mapping[str, Any], label: str, attribute: str) -> Any:
    if label not in profiles:
        raise ValueError(f"unknown {attribute} label {label!r}; allowed: {tuple(profiles)}")
    return profiles[label]


def skin_colour(tone: float, hue: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> np.ndarray:
    """Return the RGB skin colour at ``tone`` in ``[0, 1]`` (0 dark, 1 light) plus ``hue``."""
    t = _clip(tone, 0.0, 1.0) * (len(_SKIN_ANCHORS) - 1)
    i = min(int(t), len(_SKIN_ANCHORS) - 2)
    frac = t - i
    rgb = (1 - frac) * _SKIN_ANCHORS[i] + frac * _SKIN_ANCHORS[i + 1]
    return np.clip(rgb + np.asarray(hue), 0.0, 1.0)


def sample_face_params(
    rng: np.random.Generator,
    *,
    ethnicity: str,
    gender: str,
    age_group: str,
    face_size: float,
    distribution: FaceDistribution | None = None,
) -> FaceParams:
    """Draw one face for the given demographic labels.

    Parameters
    ----------
    rng : numpy.random.Generator
        The only source of randomness.
    ethnicity, gender, age_group : str
        Labels; each must be a key of the matching mapping of ``distribution``.
    face_size : float
        Standardised size latent (about N(0, 1)); it scales the whole face by
        ``1 + 0.06 * face_size``. Clipped to ``[-3.5, 3.5]``.
    distribution : FaceDistribution, optional
        Group settings; :meth:`FaceDistribution.default` when omitted.

    Returns
    -------
    FaceParams

    Raises
    ------
    ValueError
        For a label outside the vocabulary (the message lists the allowed labels).

    Examples
    --------
    >>> import numpy as np
    >>> p = sample_face_params(np.random.default_rng(1), ethnicity="Black", gender="male",
    ...                        age_group="60+", face_size=0.5)
    >>> p.gender, p.face_size
    ('male', 0.5)
    """
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    dist = _default_distribution() if distribution is None else distribution
    eth = _lookup(dist.ethnicities, ethnicity, "ethnicity")
    gen = _lookup(dist.genders, gender, "gender")
    age = _lookup(dist.age_groups, age_group, "age_group")
    size = float(face_size)
    if not math.isfinite(size):
        raise ValueError(f"face_size must be finite, got {face_size!r}")
    size = _clip(size, -3.5, 3.5)

    values = _draw_shape(rng, eth, gen, age)
    colours = _draw_colours(rng, eth, gen, age)
    hair = _draw_hair(rng, eth, gen, age)
    features = {
        "facial_hair": _choose(rng, gen.facial_hair),
        "facial_hair_density": _clip(0.75 + 0.15 * rng.standard_normal(), 0.3, 1.0),
        "wrinkles": _clip(age.wrinkles + 0.1 * rng.standard_normal(), 0.0, 1.0),
        "eyelid_fold": _clip(eth.eyelid_fold + 0.15 * rng.standard_normal(), 0.0, 1.0),
    }
    return FaceParams(
        ethnicity=ethnicity,
        gender=gender,
        age_group=age_group,
        face_size=size,
        **colours,
        **hair,
        **features,
        **_draw_scene(rng),
        **values,
    )


# The helpers below draw in the order sample_face_params calls them; that order fixes every
# rendered face of a seed (and the shipped face side trained on them): do not reorder draws.


def _draw_shape(
    rng: np.random.Generator, eth: EthnicityProfile, gen: GenderProfile, age: AgeProfile
) -> dict[str, float]:
    """Draw the BASE_SHAPE settings: group shifts plus one standard normal each, clipped."""
    values: dict[str, float] = {}
    z = rng.standard_normal(len(BASE_SHAPE))
    for zi, (name, (mean, sd, low, high)) in zip(z, BASE_SHAPE.items(), strict=True):
        shift = eth.shifts.get(name, 0.0) + gen.shifts.get(name, 0.0) + age.shifts.get(name, 0.0)
        values[name] = _clip(mean + sd * (shift + zi), low, high)
    # The mouth must sit below the nose whatever was drawn.
    values["mouth_position"] = float(
        max(values["mouth_position"], values["nose_length"] + 0.045 + values["upper_lip"])
    )
    return values


def _draw_colours(
    rng: np.random.Generator, eth: EthnicityProfile, gen: GenderProfile, age: AgeProfile
) -> dict[str, tuple[float, ...]]:
    """Draw the skin, lip, hair and iris colours."""
    tone = eth.skin_tone + eth.skin_tone_sd * rng.standard_normal()
    # Individual variation: brightness and warmth (red against blue), not free hue.
    brightness, warmth = rng.standard_normal(2)
    skin = skin_colour(tone, eth.skin_hue) * (1.0 + 0.025 * brightness)
    skin = np.clip(skin + 0.015 * warmth * np.array([1.0, 0.0, -1.0]), 0.0, 1.0)
    redness = _clip(gen.lip_redness + 0.1 * rng.standard_normal(), 0.0, 0.8)
    lip_target = np.array([0.72, 0.30, 0.32]) * (0.55 + 0.45 * skin.mean())
    lip = np.clip(0.85 * skin * (1 - redness) + redness * lip_target, 0.0, 1.0)

    hair = np.array(HAIR_COLOURS[_choose(rng, eth.hair_colours)])
    hair = np.clip(hair * (1.0 + 0.08 * rng.standard_normal()), 0.0, 1.0)
    grey_sd = 0.15 * min(1.0, age.grey / 0.2)  # no greying noise for groups set to 0
    grey = _clip(age.grey + grey_sd * rng.standard_normal(), 0.0, 1.0)
    hair = (1 - grey) * hair + grey * np.array(_GREY)
    iris = np.array(IRIS_COLOURS[_choose(rng, eth.iris_colours)])
    return {
        "skin_rgb": tuple(skin),
        "lip_rgb": tuple(lip),
        "iris_rgb": tuple(iris),
        "hair_rgb": tuple(hair),
    }


_HAIR_VOLUME = {
    "short": 0.025,
    "buzz": 0.008,
    "long": 0.03,
    "bob": 0.035,
    "curly": 0.07,
    "bald": 0.0,
}


def _draw_hair(
    rng: np.random.Generator, eth: EthnicityProfile, gen: GenderProfile, age: AgeProfile
) -> dict[str, Any]:
    """Draw the hair style (curly by ethnicity, bald by gender and age), volume, hairline."""
    styles = dict(gen.hair_styles)
    if "curly" in styles:
        styles["curly"] *= eth.curly_weight
    bald = gen.bald_weight * age.bald_factor
    if bald > 0:
        styles["bald"] = styles.get("bald", 0.0) + bald
    hair_style = _choose(rng, styles)
    volume = _clip(_HAIR_VOLUME[hair_style] * (1 + 0.2 * rng.standard_normal()), 0.0, 0.12)
    recession = age.hairline_recession * gen.bald_weight
    hairline = _clip(0.245 + recession + 0.012 * rng.standard_normal(), 0.20, 0.32)
    return {"hair_style": hair_style, "hair_volume": volume, "hairline": hairline}


def _draw_scene(rng: np.random.Generator) -> dict[str, Any]:
    """Draw the background and clothing colours and the side light: the scene, not the person."""
    background = BACKGROUND_COLORS[int(rng.integers(len(BACKGROUND_COLORS)))]
    background = np.clip(background + 0.03 * rng.standard_normal(3), 0.0, 1.0)
    clothing = CLOTHING_COLORS[int(rng.integers(len(CLOTHING_COLORS)))]
    clothing = np.clip(clothing * (1 + 0.1 * rng.standard_normal()), 0.0, 1.0)
    return {
        "background_rgb": tuple(background),
        "clothing_rgb": tuple(clothing),
        "light_direction": _clip(0.35 * rng.standard_normal(), -1.0, 1.0),
        "light_gain": _clip(1.0 + 0.04 * rng.standard_normal(), 0.85, 1.15),
    }
