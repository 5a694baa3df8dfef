"""Rendered bias-lab faces with their exact parameters, for pretraining the compact face side.

Each *person* is one :func:`~s2f_data.biaslab.faces.sample_face_params` draw (gender, age group
and ethnicity balanced, face size ~ N(0, 1)), rendered twice with two independent draws of the
scene (background, clothing, side light and brightness): the pair teaches the encoder what
belongs to the person and what does not. Faces are rendered at the bias lab's 128 px and
shrunk to the model's size with the same bilinear resize as the training data loader
(:func:`s2f_model._data.load_face_image`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from s2f_data.biaslab.faces import (
    AGE_GROUPS,
    BACKGROUND_COLORS,
    CLOTHING_COLORS,
    ETHNICITIES,
    GENDERS,
    HAIR_STYLES,
    render_face,
    sample_face_params,
)

__all__ = ["CANONICAL_SCENE", "PERSON_TARGETS", "FaceSet", "render_face_set", "scene_colour"]

#: Regression targets that describe the person (not the scene), in column order.
PERSON_TARGETS: tuple[str, ...] = (
    "face_size",
    "face_width",
    "face_height",
    "forehead_height",
    "jaw_squareness",
    "chin_length",
    "eye_spacing",
    "eye_width",
    "eye_height",
    "eye_tilt",
    "eyelid_fold",
    "brow_height",
    "brow_thickness",
    "brow_arch",
    "nose_width",
    "nose_length",
    "mouth_position",
    "mouth_width",
    "upper_lip",
    "lower_lip",
    "ear_size",
    "skin_r",
    "skin_g",
    "skin_b",
    "lip_r",
    "lip_g",
    "lip_b",
    "iris_r",
    "iris_g",
    "iris_b",
    "hair_r",
    "hair_g",
    "hair_b",
    "hair_volume",
    "hairline",
    "facial_hair_amount",
    "wrinkles",
    "hair_short",
    "hair_buzz",
    "hair_long",
    "hair_bob",
    "hair_curly",
    "hair_bald",
)
_RENDER_PX = 128  # the bias lab's face_size_px

#: The scene of the decoder's canonical targets: the mean background of the bias lab's
#: palette, its lightest clothing, frontal light at gain 1 (no random draws).
CANONICAL_SCENE: dict[str, object] = {
    "background_rgb": tuple(float(v) for v in BACKGROUND_COLORS.mean(0)),
    "clothing_rgb": tuple(float(v) for v in CLOTHING_COLORS[CLOTHING_COLORS.sum(1).argmax()]),
    "light_direction": 0.0,
    "light_gain": 1.0,
}


@dataclass(frozen=True, kw_only=True)
class FaceSet:
    """Rendered persons, each in two scenes.

    Attributes
    ----------
    images : numpy.ndarray
        ``(persons, 2, S, S, 3)`` uint8: the same person in two scenes.
    landmarks : numpy.ndarray
        ``(persons, 68, 2)`` float32 in ``[0, 1]`` (the scene does not move them).
    gender, ethnicity, age_group : numpy.ndarray
        ``(persons,)`` int64 indices into ``GENDERS``, ``ETHNICITIES``, ``AGE_GROUPS``.
    targets : numpy.ndarray
        ``(persons, len(PERSON_TARGETS))`` float32 person parameters.
    background : numpy.ndarray
        ``(persons, 2, 3)`` float32 background RGB of each scene.
    canonical : numpy.ndarray or None
        ``(persons, S, S, 3)`` uint8: the person in :data:`CANONICAL_SCENE` (rendered only
        when asked for: the decoder's targets with ``decoder_target="canonical"``).
    """

    images: np.ndarray
    landmarks: np.ndarray
    gender: np.ndarray
    ethnicity: np.ndarray
    age_group: np.ndarray
    targets: np.ndarray
    background: np.ndarray
    canonical: np.ndarray | None = None

    def __len__(self) -> int:
        """Return the number of persons."""
        return len(self.gender)


def scene_colour(rng: np.random.Generator) -> dict[str, object]:
    """Draw a scene (background, clothing, light) as :func:`sample_face_params` does.

    Parameters
    ----------
    rng : numpy.random.Generator
        The only source of randomness.

    Returns
    -------
    dict
        ``background_rgb``, ``clothing_rgb``, ``light_direction``, ``light_gain``.
    """
    background = BACKGROUND_COLORS[int(rng.integers(len(BACKGROUND_COLORS)))]
    background = np.clip(background + 0.03 * rng.standard_normal(3), 0.0, 1.0)
    clothing = CLOTHING_COLORS[int(rng.integers(len(CLOTHING_COLORS)))]
    clothing = np.clip(clothing * (1 + 0.1 * rng.standard_normal()), 0.0, 1.0)
    light = float(np.clip(0.35 * rng.standard_normal(), -1.0, 1.0))
    gain = float(np.clip(1.0 + 0.04 * rng.standard_normal(), 0.85, 1.15))
    return {
        "background_rgb": tuple(background),
        "clothing_rgb": tuple(clothing),
        "light_direction": light,
        "light_gain": gain,
    }


def _person_targets(p: object) -> list[float]:
    out = [float(getattr(p, name)) for name in PERSON_TARGETS[:21]]
    for name in ("skin_rgb", "lip_rgb", "iris_rgb", "hair_rgb"):
        out.extend(float(v) for v in getattr(p, name))
    amount = 0.0 if p.facial_hair == "none" else p.facial_hair_density
    out.extend([p.hair_volume, p.hairline, amount, p.wrinkles])
    out.extend(float(p.hair_style == s) for s in HAIR_STYLES)
    return out


def _shrink(image: np.ndarray, size: int) -> np.ndarray:
    from PIL import Image

    if image.shape[0] == size:
        return image
    return np.asarray(Image.fromarray(image).resize((size, size), Image.Resampling.BILINEAR))


def render_face_set(
    n_persons: int, seed: int, image_size: int = 64, canonical: bool = False
) -> FaceSet:
    """Render ``n_persons`` balanced bias-lab persons, each in two scenes.

    Parameters
    ----------
    n_persons : int
        Number of persons (cells of gender x age group x ethnicity are filled in turn, in a
        seeded order).
    seed : int
        Seed of the ``numpy.random.Generator`` that draws everything.
    image_size : int
        Output side in pixels.
    canonical : bool
        Also render each person in :data:`CANONICAL_SCENE` (draws nothing: the two scenes
        are the same with or without it).

    Returns
    -------
    FaceSet

    Examples
    --------
    >>> s = render_face_set(2, seed=0, image_size=64)
    >>> s.images.shape, s.targets.shape
    ((2, 2, 64, 64, 3), (2, 43))
    """
    if n_persons < 1:
        raise ValueError(f"n_persons must be >= 1, got {n_persons}")
    rng = np.random.default_rng(seed)
    cells = [
        (g, a, e)
        for g in range(len(GENDERS))
        for a in range(len(AGE_GROUPS))
        for e in range(len(ETHNICITIES))
    ]
    order = rng.permutation(n_persons) % len(cells)
    images = np.empty((n_persons, 2, image_size, image_size, 3), dtype=np.uint8)
    landmarks = np.empty((n_persons, 68, 2), dtype=np.float32)
    labels = np.empty((n_persons, 3), dtype=np.int64)
    targets = np.empty((n_persons, len(PERSON_TARGETS)), dtype=np.float32)
    background = np.empty((n_persons, 2, 3), dtype=np.float32)
    still = np.empty((n_persons, image_size, image_size, 3), np.uint8) if canonical else None
    for i, c in enumerate(order):
        g, a, e = cells[int(c)]
        p = sample_face_params(
            rng,
            ethnicity=ETHNICITIES[e],
            gender=GENDERS[g],
            age_group=AGE_GROUPS[a],
            face_size=float(rng.normal()),
        )
        for view in range(2):
            scene = p if view == 0 else dataclasses.replace(p, **scene_colour(rng))
            image, marks = render_face(scene, size=_RENDER_PX)
            images[i, view] = _shrink(image, image_size)
            background[i, view] = scene.background_rgb
        if still is not None:
            still[i] = _shrink(
                render_face(dataclasses.replace(p, **CANONICAL_SCENE), _RENDER_PX)[0], image_size
            )
        landmarks[i] = marks
        labels[i] = (g, e, a)
        targets[i] = _person_targets(p)
    return FaceSet(
        images=images,
        landmarks=landmarks,
        gender=labels[:, 0],
        ethnicity=labels[:, 1],
        age_group=labels[:, 2],
        targets=targets,
        background=background,
        canonical=still,
    )
