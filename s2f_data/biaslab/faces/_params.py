"""Face parameters and their group-conditioned distributions.

A face is a :class:`FaceParams`: a frozen record of about forty numbers and a few category
names from which :func:`~s2f_data.biaslab.faces.render_face` draws the image and computes the
68 landmarks. :func:`~s2f_data.biaslab.faces.sample_face_params` (``_sampling``) draws one from a
:class:`FaceDistribution` given the demographic labels and the ``face_size`` latent.

Simulation settings, not statements about real people
------------------------------------------------------
The numbers below are settings of a simulation, chosen so that a judge can learn the labels
from the pictures and so that an audit has something to find. They are not measurements of,
or claims about, any real population, and they are deliberately coarse.

Geometry is in *face units*: fractions of the image side for a face with ``face_size = 0``.
Every shape parameter has an individual mean and standard deviation (``BASE_SHAPE``); each
label shifts the mean by a number of those standard deviations (SD), and the shifts of the
three labels add up. Gender shifts are +s for men and -s for women, so the gap is 2s. Between
any two ethnicities no mean differs by more than 0.9 SD, and between the genders only jaw
squareness (1.8 SD) and brow thickness (1.6 SD) differ by more than 1 SD, so individual
variation is larger than group differences on most shape parameters (a test checks it).
Skin tone, eyelid fold, hair and facial hair are deliberately more group-dependent, so a
judge can learn the labels (a test checks that a linear model on thumbnails can).

=============  =======================================================================
Setting        Default
=============  =======================================================================
skin tone      tone in [0, 1] (dark to light) ~ N(mean, SD 0.06-0.08): Asian 0.70,
               Black 0.20, Indian 0.45, White 0.80, mapped through five colour anchors,
               plus an offset ``skin_hue`` (Asian a little yellow, White a little pink)
               and individual brightness (2.5%) and warmth variation.
shape (SD)     Asian: face width +0.4, eye height -0.5, eye tilt +0.3, nose width +0.3,
               eyelid fold ~ N(0.65, 0.15) (others 0.05-0.15); Black: nose width +0.6,
               lips +0.6, face height +0.2; Indian: nose length +0.3, brow thickness
               +0.4, eye height +0.2; White: nose width -0.3, lips -0.3, eye height +0.2,
               face width -0.2. Gender (s, men +s, women -s): jaw squareness 0.9, brow
               thickness 0.8, brow height -0.4, brow arch -0.4, face width 0.3, nose
               width 0.3, chin length 0.3, lips -0.3, eye width and height -0.2.
lips           colour mixes skin and red by a redness ~ N(0.5, 0.1) for women and
               N(0.32, 0.1) for men.
hair colour    Asian: black 90%, dark brown 10%; Black, Indian: black 80%, dark brown
               20%; White: black 10%, dark brown 30%, brown 25%, light brown 15%, blond
               15%, red 5%.
iris colour    dark brown / brown for Asian, Black, Indian; White: brown 40%, hazel 15%,
               green 15%, blue 30%.
hair style     women: long 55%, bob 25%, curly 10%, short 10%; men: short 60%, buzz 25%,
               curly 10%, long 5%. Curly weight x3 for Black, x0.3 for Asian. Bald is
               added for men with weight 0.05 / 0.15 / 0.35 at 30-44 / 45-59 / 60+, and
               men's hairline recedes by 0.01 / 0.025 / 0.04 face units.
facial hair    men only: none 50%, stubble 20%, moustache 8%, goatee 7%, beard 15%.
age            wrinkles 18-29 0.0, 30-44 0.2, 45-59 0.5, 60+ 0.85 (SD 0.1); grey hair
               fraction 0.0 / 0.05 / 0.35 / 0.8 (SD up to 0.15); lips -0.2 SD at 45-59;
               at 60+ lips -0.5, eye height -0.3 and brow height -0.3 SD.
lighting       light from the side ~ N(0, 0.35), brightness ~ N(1, 0.04); background and
               clothing colours drawn from one palette for every group.
face size      the latent scales the whole face by ``1 + 0.06 * face_size`` about the eye
               line (clipped to +-3.5), so one SD of the latent moves face width by 6%.
=============  =======================================================================
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "AGE_GROUPS",
    "BACKGROUND_COLORS",
    "BASE_SHAPE",
    "CLOTHING_COLORS",
    "ETHNICITIES",
    "FACIAL_HAIR_STYLES",
    "GENDERS",
    "HAIR_STYLES",
    "AgeProfile",
    "EthnicityProfile",
    "FaceDistribution",
    "FaceParams",
    "GenderProfile",
]

ETHNICITIES: tuple[str, ...] = ("Asian", "Black", "Indian", "White")
GENDERS: tuple[str, ...] = ("female", "male")
AGE_GROUPS: tuple[str, ...] = ("18-29", "30-44", "45-59", "60+")
HAIR_STYLES: tuple[str, ...] = ("short", "buzz", "long", "bob", "curly", "bald")
FACIAL_HAIR_STYLES: tuple[str, ...] = ("none", "stubble", "moustache", "goatee", "beard")

#: Individual mean and standard deviation of every shape parameter, with hard limits.
#: name -> (mean, sd, low, high), in face units unless noted.
BASE_SHAPE: dict[str, tuple[float, float, float, float]] = {
    "face_width": (0.255, 0.014, 0.20, 0.31),  # half-width at the cheekbones
    "face_height": (0.355, 0.017, 0.30, 0.41),  # eye line to chin
    "forehead_height": (0.330, 0.012, 0.29, 0.37),  # eye line to top of skull
    "jaw_squareness": (2.6, 0.35, 1.8, 4.2),  # superellipse exponent: 2 round, 4 square
    "chin_length": (0.012, 0.007, 0.0, 0.035),  # extra drop of the chin point
    "eye_spacing": (0.118, 0.006, 0.10, 0.14),  # half distance between eye centres
    "eye_width": (0.052, 0.004, 0.040, 0.064),  # half-width of one eye
    "eye_height": (0.021, 0.003, 0.012, 0.030),  # upper-lid apex above the corner line
    "eye_tilt": (0.06, 0.08, -0.2, 0.35),  # outer-corner rise, fraction of eye half-width
    "brow_height": (0.050, 0.007, 0.032, 0.070),  # eye line to brow centre line
    "brow_thickness": (0.014, 0.003, 0.009, 0.024),
    "brow_arch": (0.012, 0.005, 0.0, 0.026),
    "nose_width": (0.060, 0.006, 0.044, 0.080),  # half alar width (landmarks 31-35)
    "nose_length": (0.135, 0.010, 0.105, 0.165),  # eye line to nose tip (landmark 30)
    "mouth_position": (0.235, 0.012, 0.20, 0.27),  # eye line to the mouth line
    "mouth_width": (0.095, 0.008, 0.075, 0.120),  # half-width (landmarks 48-54)
    "upper_lip": (0.017, 0.004, 0.007, 0.028),
    "lower_lip": (0.023, 0.005, 0.010, 0.036),
    "ear_size": (0.120, 0.010, 0.095, 0.145),  # ear height
}

_SHAPE_NAMES = tuple(BASE_SHAPE)


def _rgb(where: str, value: Any) -> tuple[float, float, float]:
    """Return ``value`` as three floats in ``[0, 1]``; raise naming the field otherwise."""
    try:
        rgb = tuple(float(v) for v in value)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{where}: expected 3 finite floats, got {value!r}") from err
    if len(rgb) != 3 or not all(math.isfinite(v) for v in rgb):
        raise ValueError(f"{where}: expected 3 finite floats, got {value!r}")
    if not all(0.0 <= v <= 1.0 for v in rgb):
        raise ValueError(f"{where}: expected values in [0, 1], got {value!r}")
    return rgb  # type: ignore[return-value]  # length checked above


def _number(where: str, value: Any) -> float:
    """Return ``value`` as a finite float; raise naming the field otherwise (bools refused)."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating):
        raise ValueError(f"{where}: expected a number, got {value!r}")
    if not math.isfinite(float(value)):
        raise ValueError(f"{where}: expected a finite number, got {value!r}")
    return float(value)


#: Ranges of the FaceParams fields outside BASE_SHAPE: name -> (low, high, as printed).
_SCALAR_RANGES: dict[str, tuple[float, float, str]] = {
    "face_size": (-3.5, 3.5, "[-3.5, 3.5]"),
    "light_direction": (-1.0, 1.0, "[-1, 1]"),
    "light_gain": (0.7, 1.3, "[0.7, 1.3]"),
    "hair_volume": (0.0, 0.12, "[0, 0.12]"),
    "hairline": (0.12, 0.34, "[0.12, 0.34]"),
}


def _check_ranges(params: FaceParams) -> None:
    """Raise unless every shape, amount and scalar field of ``params`` is in its range."""
    for name, (_, _, low, high) in BASE_SHAPE.items():
        value = getattr(params, name)
        if not low <= value <= high:
            raise ValueError(f"FaceParams.{name}: {value!r} outside the range [{low}, {high}]")
    for name in ("eyelid_fold", "wrinkles", "facial_hair_density"):
        value = getattr(params, name)
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"FaceParams.{name}: {value!r} outside the range [0, 1]")
    for name, (low, high, shown) in _SCALAR_RANGES.items():
        value = getattr(params, name)
        if not low <= value <= high:
            raise ValueError(f"FaceParams.{name}: {value!r} outside {shown}")


@dataclass(frozen=True, kw_only=True)
class FaceParams:
    """Everything needed to draw one face; rendering is a pure function of these fields.

    Geometry is in face units (fractions of the image side at ``face_size = 0``); colours are
    RGB triples in ``[0, 1]``. The demographic labels are carried for bookkeeping only: the
    renderer never reads them.

    Attributes
    ----------
    ethnicity, gender, age_group : str
        Labels the face was sampled for (not used for drawing).
    face_size : float
        Size latent in ``[-3.5, 3.5]``; the face is scaled by ``1 + 0.06 * face_size``.
    face_width, face_height, forehead_height, jaw_squareness, chin_length : float
        Head shape: half-width at the cheekbones, eye line to chin, eye line to skull top,
        superellipse exponent of the jaw (2 round, 4 square), extra drop of the chin point.
    eye_spacing, eye_width, eye_height, eye_tilt, eyelid_fold : float
        Half distance between eye centres, half eye width, lid opening, rise of the outer
        corner (fraction of ``eye_width``), fold amount in ``[0, 1]`` (1 hides the crease).
    brow_height, brow_thickness, brow_arch : float
        Brow centre line above the eye line, its thickness and arch.
    nose_width, nose_length, mouth_position, mouth_width, upper_lip, lower_lip, ear_size : float
        Half alar width, eye line to nose tip, eye line to the mouth line, half mouth width,
        lip heights, ear height. Ranges of all shape fields: ``BASE_SHAPE``.
    skin_rgb, lip_rgb, iris_rgb, hair_rgb, background_rgb, clothing_rgb : tuple of float
        Colours.
    hair_style : str
        One of ``HAIR_STYLES``.
    hair_volume, hairline : float
        Hair thickness above the skull, eye line to hairline.
    facial_hair : str
        One of ``FACIAL_HAIR_STYLES``.
    facial_hair_density, wrinkles : float
        In ``[0, 1]``.
    light_direction, light_gain : float
        Side light in ``[-1, 1]`` (positive: from the image right), brightness factor.

    Examples
    --------
    >>> import numpy as np
    >>> p = sample_face_params(np.random.default_rng(0), ethnicity="Asian", gender="female",
    ...                        age_group="30-44", face_size=0.0)
    >>> FaceParams.from_dict(p.to_dict()) == p
    True
    """

    ethnicity: str
    gender: str
    age_group: str
    face_size: float
    face_width: float
    face_height: float
    forehead_height: float
    jaw_squareness: float
    chin_length: float
    eye_spacing: float
    eye_width: float
    eye_height: float
    eye_tilt: float
    eyelid_fold: float
    brow_height: float
    brow_thickness: float
    brow_arch: float
    nose_width: float
    nose_length: float
    mouth_position: float
    mouth_width: float
    upper_lip: float
    lower_lip: float
    ear_size: float
    skin_rgb: tuple[float, float, float]
    lip_rgb: tuple[float, float, float]
    iris_rgb: tuple[float, float, float]
    hair_rgb: tuple[float, float, float]
    hair_style: str
    hair_volume: float
    hairline: float
    facial_hair: str
    facial_hair_density: float
    wrinkles: float
    light_direction: float
    light_gain: float
    background_rgb: tuple[float, float, float]
    clothing_rgb: tuple[float, float, float]

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            where = f"FaceParams.{f.name}"
            if f.name.endswith("_rgb"):
                object.__setattr__(self, f.name, _rgb(where, value))
            elif f.type == "str" or f.type is str:
                if not isinstance(value, str):
                    raise ValueError(f"{where}: expected a string, got {value!r}")
            else:
                object.__setattr__(self, f.name, _number(where, value))
        if self.hair_style not in HAIR_STYLES:
            raise ValueError(
                f"FaceParams.hair_style: unknown style {self.hair_style!r}; allowed: {HAIR_STYLES}"
            )
        if self.facial_hair not in FACIAL_HAIR_STYLES:
            raise ValueError(
                f"FaceParams.facial_hair: unknown style {self.facial_hair!r}; "
                f"allowed: {FACIAL_HAIR_STYLES}"
            )
        _check_ranges(self)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (colours as lists)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FaceParams:
        """Build from :meth:`to_dict` output; unknown or missing keys raise ``ValueError``."""
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(data) - set(names))
        missing = [n for n in names if n not in data]
        if unknown:
            raise ValueError(f"FaceParams.from_dict: unknown key(s) {unknown}; allowed: {names}")
        if missing:
            raise ValueError(f"FaceParams.from_dict: missing key(s) {missing}")
        kwargs = {
            n: tuple(data[n]) if n.endswith("_rgb") and not isinstance(data[n], str) else data[n]
            for n in names
        }
        return cls(**kwargs)


# --------------------------------------------------------------------------------------------
# Group profiles
# --------------------------------------------------------------------------------------------

HAIR_COLOURS: dict[str, tuple[float, float, float]] = {
    "black": (0.07, 0.06, 0.06),
    "dark_brown": (0.20, 0.13, 0.09),
    "brown": (0.38, 0.25, 0.15),
    "light_brown": (0.56, 0.41, 0.26),
    "blond": (0.80, 0.66, 0.42),
    "red": (0.60, 0.26, 0.12),
}
IRIS_COLOURS: dict[str, tuple[float, float, float]] = {
    "dark_brown": (0.20, 0.12, 0.07),
    "brown": (0.38, 0.23, 0.11),
    "hazel": (0.47, 0.38, 0.18),
    "green": (0.33, 0.47, 0.28),
    "blue": (0.34, 0.50, 0.70),
}
#: Background colours (RGB in [0, 1]) a face is drawn on, one picked per face (read-only).
BACKGROUND_COLORS = np.array(
    [
        [0.80, 0.82, 0.85],
        [0.70, 0.74, 0.78],
        [0.85, 0.83, 0.78],
        [0.62, 0.66, 0.62],
        [0.88, 0.88, 0.88],
        [0.55, 0.60, 0.70],
    ]
)
#: Clothing colours (RGB in [0, 1]), one picked per face (read-only).
CLOTHING_COLORS = np.array(
    [
        [0.15, 0.20, 0.35],
        [0.30, 0.30, 0.32],
        [0.55, 0.15, 0.15],
        [0.20, 0.40, 0.30],
        [0.85, 0.85, 0.82],
        [0.45, 0.35, 0.25],
        [0.10, 0.10, 0.12],
    ]
)
BACKGROUND_COLORS.setflags(write=False)
CLOTHING_COLORS.setflags(write=False)


@dataclass(frozen=True, kw_only=True)
class EthnicityProfile:
    """Settings for one ethnicity label (simulation settings, see the module docstring).

    Parameters
    ----------
    skin_tone : float
        Mean of the skin-tone axis in ``[0, 1]`` (0 dark, 1 light).
    skin_tone_sd : float
        Individual standard deviation of the tone.
    skin_hue : tuple of float
        RGB offset added to the skin colour (small).
    shifts : mapping
        Shape parameter -> shift of its mean in individual standard deviations.
    eyelid_fold : float
        Mean of the eyelid-fold amount (0 visible crease, 1 no visible crease).
    hair_colours, iris_colours : mapping
        Colour name -> weight.
    curly_weight : float
        Multiplier on the weight of the curly hair style.
    """

    skin_tone: float
    skin_tone_sd: float = 0.06
    skin_hue: tuple[float, float, float] = (0.0, 0.0, 0.0)
    shifts: Mapping[str, float] = field(default_factory=dict)
    eyelid_fold: float = 0.1
    hair_colours: Mapping[str, float] = field(default_factory=lambda: {"black": 1.0})
    iris_colours: Mapping[str, float] = field(default_factory=lambda: {"dark_brown": 1.0})
    curly_weight: float = 1.0


@dataclass(frozen=True, kw_only=True)
class GenderProfile:
    """Settings for one gender label: shape shifts, hair styles, facial hair, lip colour."""

    shifts: Mapping[str, float] = field(default_factory=dict)
    hair_styles: Mapping[str, float] = field(default_factory=lambda: {"short": 1.0})
    facial_hair: Mapping[str, float] = field(default_factory=lambda: {"none": 1.0})
    bald_weight: float = 0.0
    lip_redness: float = 0.3


@dataclass(frozen=True, kw_only=True)
class AgeProfile:
    """Settings for one age group: wrinkles, greying, hairline, baldness, shape shifts."""

    wrinkles: float = 0.0
    grey: float = 0.0
    hairline_recession: float = 0.0
    bald_factor: float = 0.0
    shifts: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class FaceDistribution:
    """Group-conditioned face distributions: one profile per label of each attribute.

    The label vocabularies are the keys of the three mappings; pass your own mappings to use
    another vocabulary. :meth:`default` gives the settings in the module docstring.
    """

    ethnicities: Mapping[str, EthnicityProfile]
    genders: Mapping[str, GenderProfile]
    age_groups: Mapping[str, AgeProfile]

    def __post_init__(self) -> None:
        for attr in ("ethnicities", "genders", "age_groups"):
            profiles = getattr(self, attr)
            if not profiles:
                raise ValueError(f"FaceDistribution.{attr}: needs at least one label")
            for label, prof in profiles.items():
                for name in getattr(prof, "shifts", {}):
                    if name not in BASE_SHAPE:
                        raise ValueError(
                            f"FaceDistribution.{attr}[{label!r}]: unknown shape parameter "
                            f"{name!r}; allowed: {_SHAPE_NAMES}"
                        )
        for label, prof in self.ethnicities.items():
            _check_weights(f"ethnicities[{label!r}].hair_colours", prof.hair_colours, HAIR_COLOURS)
            _check_weights(f"ethnicities[{label!r}].iris_colours", prof.iris_colours, IRIS_COLOURS)
        for label, prof in self.genders.items():
            _check_weights(f"genders[{label!r}].hair_styles", prof.hair_styles, HAIR_STYLES)
            _check_weights(f"genders[{label!r}].facial_hair", prof.facial_hair, FACIAL_HAIR_STYLES)

    @classmethod
    def default(cls) -> FaceDistribution:
        """Return the default settings (documented in the module docstring)."""
        return cls(
            ethnicities=_default_ethnicities(),
            genders=_default_genders(),
            age_groups=_default_age_groups(),
        )


def _default_ethnicities() -> dict[str, EthnicityProfile]:
    """Return the default ethnicity profiles of :meth:`FaceDistribution.default`."""
    brown_eyes = {"dark_brown": 0.7, "brown": 0.3}
    dark_hair = {"black": 0.8, "dark_brown": 0.2}
    ethnicities = {
        "Asian": EthnicityProfile(
            skin_tone=0.70,
            skin_hue=(0.005, 0.01, -0.015),
            shifts={"face_width": 0.4, "eye_height": -0.5, "nose_width": 0.3, "eye_tilt": 0.3},
            eyelid_fold=0.65,
            hair_colours={"black": 0.9, "dark_brown": 0.1},
            iris_colours=brown_eyes,
            curly_weight=0.3,
        ),
        "Black": EthnicityProfile(
            skin_tone=0.20,
            skin_tone_sd=0.07,
            shifts={"nose_width": 0.6, "upper_lip": 0.6, "lower_lip": 0.6, "face_height": 0.2},
            eyelid_fold=0.1,
            hair_colours=dark_hair,
            iris_colours={"dark_brown": 0.85, "brown": 0.15},
            curly_weight=3.0,
        ),
        "Indian": EthnicityProfile(
            skin_tone=0.45,
            skin_tone_sd=0.08,
            skin_hue=(0.0, 0.005, -0.01),
            shifts={"nose_length": 0.3, "brow_thickness": 0.4, "eye_height": 0.2},
            eyelid_fold=0.15,
            hair_colours=dark_hair,
            iris_colours=brown_eyes,
        ),
        "White": EthnicityProfile(
            skin_tone=0.80,
            skin_hue=(0.015, -0.005, 0.0),
            shifts={
                "nose_width": -0.3,
                "upper_lip": -0.3,
                "lower_lip": -0.3,
                "eye_height": 0.2,
                "face_width": -0.2,
            },
            eyelid_fold=0.05,
            hair_colours={
                "black": 0.10,
                "dark_brown": 0.30,
                "brown": 0.25,
                "light_brown": 0.15,
                "blond": 0.15,
                "red": 0.05,
            },
            iris_colours={"brown": 0.40, "hazel": 0.15, "green": 0.15, "blue": 0.30},
        ),
    }
    return ethnicities


def _default_genders() -> dict[str, GenderProfile]:
    """Return the default gender profiles of :meth:`FaceDistribution.default`."""
    male_shifts = {
        "jaw_squareness": 0.9,
        "face_width": 0.3,
        "brow_thickness": 0.8,
        "brow_height": -0.4,
        "upper_lip": -0.3,
        "lower_lip": -0.3,
        "eye_width": -0.2,
        "eye_height": -0.2,
        "chin_length": 0.3,
        "nose_width": 0.3,
        "brow_arch": -0.4,
    }
    genders = {
        "female": GenderProfile(
            shifts={k: -v for k, v in male_shifts.items()},
            hair_styles={"long": 0.55, "bob": 0.25, "curly": 0.10, "short": 0.10},
            facial_hair={"none": 1.0},
            bald_weight=0.0,
            lip_redness=0.5,
        ),
        "male": GenderProfile(
            shifts=male_shifts,
            hair_styles={"short": 0.60, "buzz": 0.25, "curly": 0.10, "long": 0.05},
            facial_hair={
                "none": 0.50,
                "stubble": 0.20,
                "moustache": 0.08,
                "goatee": 0.07,
                "beard": 0.15,
            },
            bald_weight=1.0,
            lip_redness=0.32,
        ),
    }
    return genders


def _default_age_groups() -> dict[str, AgeProfile]:
    """Return the default age-group profiles of :meth:`FaceDistribution.default`."""
    age_groups = {
        "18-29": AgeProfile(wrinkles=0.0, grey=0.0, hairline_recession=0.0, bald_factor=0.0),
        "30-44": AgeProfile(wrinkles=0.2, grey=0.05, hairline_recession=0.01, bald_factor=0.05),
        "45-59": AgeProfile(
            wrinkles=0.5,
            grey=0.35,
            hairline_recession=0.025,
            bald_factor=0.15,
            shifts={"upper_lip": -0.2, "lower_lip": -0.2},
        ),
        "60+": AgeProfile(
            wrinkles=0.85,
            grey=0.8,
            hairline_recession=0.04,
            bald_factor=0.35,
            shifts={
                "upper_lip": -0.5,
                "lower_lip": -0.5,
                "eye_height": -0.3,
                "brow_height": -0.3,
            },
        ),
    }
    return age_groups


@functools.lru_cache(maxsize=1)
def _default_distribution() -> FaceDistribution:
    """:meth:`FaceDistribution.default`, built once (it is frozen and never mutated)."""
    return FaceDistribution.default()


def _check_weights(where: str, weights: Mapping[str, float], allowed: Any) -> None:
    for key, w in weights.items():
        if key not in allowed:
            raise ValueError(
                f"FaceDistribution.{where}: unknown name {key!r}; allowed: {tuple(allowed)}"
            )
        if not (w >= 0.0 and math.isfinite(w)):
            raise ValueError(f"FaceDistribution.{where}[{key!r}]: weight {w!r} must be >= 0")
    if sum(weights.values()) <= 0.0:
        raise ValueError(f"FaceDistribution.{where}: weights sum to zero")
