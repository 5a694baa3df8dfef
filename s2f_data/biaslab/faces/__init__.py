"""Procedural faces for the bias lab, with exact 68-point landmarks.

:func:`sample_face_params` draws a face from group-conditioned distributions (simulation
settings, not statements about real people; see :mod:`._params`), :func:`render_face` draws it
and returns the iBUG 68-point landmarks computed from the same parameters.

Examples
--------
>>> import numpy as np
>>> from s2f_data.biaslab.faces import render_face, sample_face_params
>>> p = sample_face_params(np.random.default_rng(0), ethnicity="Asian", gender="male",
...                        age_group="18-29", face_size=0.0)
>>> image, landmarks = render_face(p, size=128)
>>> image.shape, landmarks.dtype.name
((128, 128, 3), 'float32')
"""

from s2f_data.biaslab.faces._geometry import face_landmarks
from s2f_data.biaslab.faces._params import (
    AGE_GROUPS,
    BACKGROUND_COLORS,
    CLOTHING_COLORS,
    ETHNICITIES,
    FACIAL_HAIR_STYLES,
    GENDERS,
    HAIR_STYLES,
    AgeProfile,
    EthnicityProfile,
    FaceDistribution,
    FaceParams,
    GenderProfile,
)
from s2f_data.biaslab.faces._render import render_face
from s2f_data.biaslab.faces._sampling import sample_face_params

__all__ = [
    "AGE_GROUPS",
    "BACKGROUND_COLORS",
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
    "face_landmarks",
    "render_face",
    "sample_face_params",
]
