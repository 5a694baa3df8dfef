"""Tests of the bias-lab face renderer: API, determinism, landmarks on features, groups."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from scipy import ndimage, stats
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from s2f_data.biaslab.faces import (
    AGE_GROUPS,
    ETHNICITIES,
    GENDERS,
    HAIR_STYLES,
    AgeProfile,
    EthnicityProfile,
    FaceDistribution,
    FaceParams,
    GenderProfile,
    face_landmarks,
    render_face,
    sample_face_params,
)
from s2f_data.biaslab.faces._params import BASE_SHAPE

# iBUG 68 mirror permutation: index i <-> FLIP[i] under a left-right flip of the image.
FLIP = np.array(
    list(range(16, -1, -1))
    + list(range(26, 16, -1))
    + [27, 28, 29, 30, 35, 34, 33, 32, 31]
    + [45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40]
    + [54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55]
    + [64, 63, 62, 61, 60, 67, 66, 65]
)

# Colours chosen so each feature is easy to tell apart from the others by colour alone.
SKIN = (0.80, 0.62, 0.50)
LIPS = (0.85, 0.10, 0.15)
IRIS = (0.10, 0.20, 0.90)
HAIR = (0.10, 0.60, 0.10)
BACKGROUND = (0.20, 0.80, 0.80)


def _face(seed: int = 0, **labels: object) -> FaceParams:
    kw = {"ethnicity": "White", "gender": "female", "age_group": "18-29", "face_size": 0.0}
    kw.update(labels)
    return sample_face_params(np.random.default_rng(seed), **kw)


def _coloured(p: FaceParams, **changes: object) -> FaceParams:
    """Feature colours that a test can classify, neutral light, no facial hair."""
    base = {
        "skin_rgb": SKIN,
        "lip_rgb": LIPS,
        "iris_rgb": IRIS,
        "hair_rgb": HAIR,
        "background_rgb": BACKGROUND,
        "clothing_rgb": (0.5, 0.5, 0.5),
        "facial_hair": "none",
        "hair_style": "short",
        "wrinkles": 0.0,
        "light_direction": 0.0,
        "light_gain": 1.0,
    }
    base.update(changes)
    return dataclasses.replace(p, **base)


def _pixel(image: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Colour of the pixel that contains normalised point ``xy``, as floats in [0, 1]."""
    size = image.shape[0]
    col, row = np.floor(np.asarray(xy) * size).astype(int)
    return image[row, col].astype(float) / 255.0


def _neighbourhood(image: np.ndarray, xy: np.ndarray, radius: int = 1) -> np.ndarray:
    size = image.shape[0]
    col, row = np.floor(np.asarray(xy) * size).astype(int)
    patch = image[row - radius : row + radius + 1, col - radius : col + radius + 1]
    return patch.reshape(-1, 3).astype(float) / 255.0


def _is_lip(rgb: np.ndarray, ratio: float = 2.0) -> np.ndarray:
    """Lip red: red well above green and blue (skin has red / green = 1.3)."""
    rgb = np.atleast_2d(rgb)
    return (rgb[:, 0] > ratio * rgb[:, 1]) & (rgb[:, 0] > ratio * rgb[:, 2]) & (rgb[:, 0] > 0.3)


def _is_eye(rgb: np.ndarray) -> np.ndarray:
    """Sclera or pupil (nearly grey), iris (blue) or lid line (dark)."""
    rgb = np.atleast_2d(rgb)
    # Sclera, pupil and their antialiased mixtures are nearly grey (skin is not: ptp 0.3).
    sclera = rgb.max(axis=1) - rgb.min(axis=1) < 0.12
    iris = rgb[:, 2] > rgb[:, 0] + 0.15
    dark = rgb.max(axis=1) < 0.3
    return sclera | iris | dark


# --------------------------------------------------------------------------------------------
# API, shapes, determinism
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [64, 128, 224])
def test_render_shapes_and_dtypes(size: int) -> None:
    image, landmarks = render_face(_face(), size=size)
    assert image.shape == (size, size, 3)
    assert image.dtype == np.uint8
    assert landmarks.shape == (68, 2)
    assert landmarks.dtype == np.float32
    assert np.all((landmarks > 0.0) & (landmarks < 1.0))


def test_render_is_deterministic_and_depends_on_params() -> None:
    p = _face(3)
    a, la = render_face(p, 96)
    b, lb = render_face(p, 96)
    assert a.tobytes() == b.tobytes()
    assert la.tobytes() == lb.tobytes()
    c, _ = render_face(dataclasses.replace(p, nose_width=p.nose_width + 0.01), 96)
    assert c.tobytes() != a.tobytes()


def test_sampling_same_seed_same_face_different_seed_different() -> None:
    labels = {"ethnicity": "Indian", "gender": "male", "age_group": "45-59", "face_size": 0.3}
    a = sample_face_params(np.random.default_rng(7), **labels)
    b = sample_face_params(np.random.default_rng(7), **labels)
    c = sample_face_params(np.random.default_rng(8), **labels)
    assert a == b
    assert a != c


def test_landmarks_are_independent_of_size_and_match_face_landmarks() -> None:
    p = _face(1)
    _, small = render_face(p, 64)
    _, large = render_face(p, 224)
    np.testing.assert_array_equal(small, large)
    np.testing.assert_array_equal(small, face_landmarks(p))


def test_to_dict_from_dict_round_trip_through_json() -> None:
    p = _face(5, ethnicity="Black", gender="male", age_group="60+", face_size=-1.2)
    data = json.loads(json.dumps(p.to_dict()))
    q = FaceParams.from_dict(data)
    assert q == p
    assert render_face(q, 64)[0].tobytes() == render_face(p, 64)[0].tobytes()


def test_from_dict_rejects_unknown_and_missing_keys() -> None:
    data = _face().to_dict()
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['nose_colour'\]"):
        FaceParams.from_dict({**data, "nose_colour": 1.0})
    del data["mouth_width"]
    with pytest.raises(ValueError, match=r"missing key\(s\) \['mouth_width'\]"):
        FaceParams.from_dict(data)


def test_params_validation_names_field_and_range() -> None:
    p = _face()
    with pytest.raises(ValueError, match=r"hair_style: unknown style 'mohawk'.*'short'"):
        dataclasses.replace(p, hair_style="mohawk")
    with pytest.raises(ValueError, match=r"nose_width: 0\.5 outside the range \[0\.044, 0\.08\]"):
        dataclasses.replace(p, nose_width=0.5)
    with pytest.raises(ValueError, match=r"skin_rgb: expected values in \[0, 1\]"):
        dataclasses.replace(p, skin_rgb=(1.2, 0.5, 0.5))
    with pytest.raises(ValueError, match=r"eye_width: expected a finite number, got nan"):
        dataclasses.replace(p, eye_width=float("nan"))


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        ({"ethnicity": "Martian"}, r"unknown ethnicity label 'Martian'; allowed: \('Asian'"),
        ({"gender": "robot"}, r"unknown gender label 'robot'; allowed: \('female', 'male'\)"),
        ({"age_group": "0-17"}, r"unknown age_group label '0-17'; allowed: \('18-29'"),
    ],
)
def test_unknown_labels_raise(labels: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _face(**labels)


def test_sample_rejects_bad_rng_and_face_size() -> None:
    with pytest.raises(ValueError, match=r"rng must be a numpy.random.Generator, got int"):
        sample_face_params(
            0,
            ethnicity="Asian",
            gender="male",
            age_group="60+",  # type: ignore[arg-type]
            face_size=0.0,
        )
    with pytest.raises(ValueError, match=r"face_size must be finite, got inf"):
        _face(face_size=float("inf"))


def test_light_direction_brightens_one_side_of_the_face() -> None:
    p = _coloured(_face(2))
    size = 128
    sides = []
    for light in (-0.8, 0.8):
        image, lm = render_face(dataclasses.replace(p, light_direction=light), size)
        # Cheeks: mirror-image patches between the outer eye corners and the mouth corners.
        left = _neighbourhood(image, 0.5 * (lm[36] + lm[48]), radius=2)
        right = _neighbourhood(image, 0.5 * (lm[45] + lm[54]), radius=2)
        sides.append(_luminance(right).mean() - _luminance(left).mean())
    assert sides[0] < -0.02 and sides[1] > 0.02, sides


def test_render_rejects_bad_size_and_params() -> None:
    with pytest.raises(ValueError, match=r"size must be in \[32, 512\] pixels, got 16"):
        render_face(_face(), 16)
    with pytest.raises(ValueError, match=r"size must be an integer number of pixels, got 64\.0"):
        render_face(_face(), 64.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"params must be a FaceParams, got dict"):
        render_face(_face().to_dict(), 64)  # type: ignore[arg-type]


def test_custom_vocabulary() -> None:
    default = FaceDistribution.default()
    dist = FaceDistribution(
        ethnicities={
            "Group A": EthnicityProfile(skin_tone=0.1),
            "Group B": EthnicityProfile(skin_tone=0.9),
        },
        genders={"x": GenderProfile()},
        age_groups={"adult": AgeProfile(), **default.age_groups},
    )
    rng = np.random.default_rng(0)
    a = sample_face_params(
        rng, ethnicity="Group A", gender="x", age_group="adult", face_size=0.0, distribution=dist
    )
    b = sample_face_params(
        rng, ethnicity="Group B", gender="x", age_group="60+", face_size=0.0, distribution=dist
    )
    assert np.mean(a.skin_rgb) < np.mean(b.skin_rgb)
    with pytest.raises(
        ValueError,
        match=r"unknown ethnicity label 'White'; allowed: "
        r"\('Group A', 'Group B'\)",
    ):
        sample_face_params(
            rng, ethnicity="White", gender="x", age_group="adult", face_size=0.0, distribution=dist
        )
    with pytest.raises(ValueError, match=r"unknown shape parameter 'nose_colour'"):
        FaceDistribution(
            ethnicities={"A": EthnicityProfile(skin_tone=0.5, shifts={"nose_colour": 1.0})},
            genders=default.genders,
            age_groups=default.age_groups,
        )
    with pytest.raises(ValueError, match=r"hair_colours: unknown name 'purple'"):
        FaceDistribution(
            ethnicities={"A": EthnicityProfile(skin_tone=0.5, hair_colours={"purple": 1})},
            genders=default.genders,
            age_groups=default.age_groups,
        )


# --------------------------------------------------------------------------------------------
# Landmark geometry
# --------------------------------------------------------------------------------------------


def test_landmarks_are_mirror_symmetric_and_in_ibug_order() -> None:
    for seed in range(5):
        lm = face_landmarks(_face(seed)).astype(float)
        flipped = lm[FLIP].copy()
        flipped[:, 0] = 1.0 - flipped[:, 0]
        np.testing.assert_allclose(flipped, lm, atol=1e-6)
        # Left to right along the jaw, chin lowest; eyes and brows ordered left to right.
        assert np.all(np.diff(lm[0:17, 0]) > 0)
        assert lm[8, 1] == lm[0:17, 1].max()
        assert lm[36, 0] < lm[39, 0] < lm[42, 0] < lm[45, 0]
        assert lm[17, 0] < lm[21, 0] < lm[22, 0] < lm[26, 0]
        # Brows above eyes above nose tip above mouth above chin.
        assert lm[17:27, 1].max() < lm[36:48, 1].min()
        assert lm[36:48, 1].max() < lm[30, 1] < lm[33, 1] < lm[51, 1] < lm[57, 1] < lm[8, 1]
        # Upper lid above lower lid, upper lip above lower lip.
        assert lm[37, 1] < lm[41, 1] and lm[44, 1] < lm[46, 1]
        assert lm[62, 1] <= lm[66, 1] and lm[51, 1] < lm[62, 1]


@pytest.mark.parametrize("face_size", [-2.0, 0.0, 1.5])
def test_craniofacial_measures_equal_the_parameters(face_size: float) -> None:
    p = _face(11, face_size=face_size)
    lm = face_landmarks(p).astype(float)
    scale = 1.0 + 0.06 * face_size
    dist = lambda i, j: float(np.linalg.norm(lm[i] - lm[j]))  # noqa: E731
    np.testing.assert_allclose(dist(31, 35), 2 * p.nose_width * scale, rtol=1e-5)
    np.testing.assert_allclose(dist(48, 54), 2 * p.mouth_width * scale, rtol=1e-5)
    np.testing.assert_allclose(dist(39, 42), 2 * (p.eye_spacing - p.eye_width) * scale, rtol=1e-5)
    np.testing.assert_allclose(dist(0, 16), 2 * p.face_width * scale, rtol=1e-5)
    np.testing.assert_allclose(lm[8, 1] - lm[27, 1], (p.face_height + 0.02) * scale, rtol=1e-5)
    np.testing.assert_allclose(lm[30, 1] - lm[27, 1], (p.nose_length + 0.02) * scale, rtol=1e-5)


def test_face_size_latent_changes_measured_face_width_monotonically() -> None:
    base = _coloured(_face(4))
    size = 160
    image_widths, landmark_widths = [], []
    for z in np.linspace(-3.0, 3.0, 7):
        p = dataclasses.replace(base, face_size=float(z))
        image, lm = render_face(p, size)
        # Count the face's pixels on the row of jaw landmark 4 (below the ears, above the
        # neck): everything that is not background colour.
        row = int(lm[4, 1] * size)
        diff = np.abs(image[row].astype(float) / 255.0 - np.array(BACKGROUND)).sum(axis=1)
        image_widths.append(int((diff > 0.3).sum()))
        landmark_widths.append(float((lm[12, 0] - lm[4, 0]) * size))
    assert np.all(np.diff(image_widths) > 0), image_widths
    assert np.all(np.diff(landmark_widths) > 0)
    # The width measured on the image matches the jaw landmarks to within two pixels.
    np.testing.assert_allclose(image_widths, landmark_widths, atol=2.5)


# --------------------------------------------------------------------------------------------
# Landmarks fall on the drawn features
# --------------------------------------------------------------------------------------------


def _check_features(p: FaceParams, size: int) -> None:
    image, lm = render_face(p, size)
    # Eyes: the middle of each eye is eye-coloured, and every eye landmark touches the eye.
    for idx in (range(36, 42), range(42, 48)):
        centre = lm[list(idx)].mean(axis=0)
        assert _is_eye(_pixel(image, centre)).all(), (idx, _pixel(image, centre))
        for i in idx:
            # On the outline: a pixel within two is eye-coloured or part of a lid line.
            near = _neighbourhood(image, lm[i], radius=2)
            dark = _luminance(near) < 0.6 * _luminance(np.array(SKIN))
            assert (_is_eye(near) | dark).any(), (i, near)
    # Mouth: the middle of each lip is lip-coloured; every mouth landmark touches a lip.
    for a, b in ((50, 61), (52, 63), (56, 65), (57, 66), (58, 67)):
        mid = (lm[a] + lm[b]) / 2
        assert _is_lip(_pixel(image, mid)).all(), (a, b, _pixel(image, mid))
    for i in range(48, 68):
        # Landmarks on the lip outline: a neighbouring pixel is at least partly lip.
        assert _is_lip(_neighbourhood(image, lm[i]), ratio=1.6).any(), i
    # Brows: the brow line is hair-coloured (green channel dominates; skin is red-dominant).
    # A brow can be barely over a pixel thick at 128 px, so the pixel or one of its vertical
    # neighbours (any 3 x 3 neighbour at the tapered ends).
    for i in range(17, 27):
        near = _neighbourhood(image, lm[i])
        if i not in (17, 21, 22, 26):
            near = near[[1, 4, 7]]
        assert (near[:, 1] > near[:, 0]).any(), (i, near)
    # Nose: 31-35 touch the dark nostrils / the shadow under the nose.
    skin_lum = float(_luminance(np.array(SKIN)))
    for i in range(31, 36):
        assert _luminance(_neighbourhood(image, lm[i])).min() < 0.8 * skin_lum, i


def _check_jaw(p: FaceParams, size: int) -> None:
    image, lm = render_face(p, size)
    img = image.astype(float) / 255.0
    centre = np.array([0.5, lm[30, 1]])
    for i in range(2, 15):  # 0-1 and 15-16 touch the ears
        direction = lm[i] - centre
        direction /= np.linalg.norm(direction)
        # Colour profile along the outward ray, every quarter pixel from -4 to +2 px (the
        # neck's own edge can be 3 px out).
        steps = np.arange(-4.0, 2.01, 0.25)
        pts = lm[i][None, :] * size + steps[:, None] * direction[None, :]  # (n, 2) pixels
        coords = [pts[:, 1] - 0.5, pts[:, 0] - 0.5]  # pixel centres at integer + 0.5
        profile = np.stack(
            [ndimage.map_coordinates(img[:, :, c], coords, order=1) for c in range(3)], -1
        )
        # The edge: the first point whose colour is further from the inside colour than
        # half the inside / outside contrast (the neck's shadow can follow just outside).
        inside, outside = profile[0], profile[-1]
        contrast = np.linalg.norm(outside - inside)
        assert contrast > 0.15, (i, inside, outside)
        far = np.linalg.norm(profile - inside, axis=1) > 0.5 * contrast
        edge = steps[np.argmax(far)]
        assert abs(edge) <= 1.5, (i, edge)


def _random_faces(n: int, seed: int) -> list[FaceParams]:
    """Faces across every group and hair style, recoloured for classification."""
    rng = np.random.default_rng(seed)
    faces = []
    for k in range(n):
        p = sample_face_params(
            rng,
            ethnicity=ETHNICITIES[k % 4],
            gender=GENDERS[(k // 4) % 2],
            age_group=AGE_GROUPS[(k // 8) % 4],
            face_size=float(np.clip(rng.standard_normal(), -3, 3)),
        )
        faces.append(
            _coloured(
                p, hair_style=p.hair_style, wrinkles=p.wrinkles, light_direction=p.light_direction
            )
        )
    return faces


@pytest.mark.parametrize("size", [128, 192, 224])
def test_landmarks_fall_on_drawn_features(size: int) -> None:
    for p in _random_faces(16, seed=size):
        _check_features(p, size)


@pytest.mark.parametrize("size", [128, 160])
def test_jaw_landmarks_on_face_boundary(size: int) -> None:
    # Without facial hair: a beard covers the jaw line by design.
    for p in _random_faces(16, seed=size + 1):
        _check_jaw(p, size)


@pytest.mark.slow
def test_landmarks_on_features_many_faces() -> None:
    for k, p in enumerate(_random_faces(400, seed=99)):
        size = (128, 160, 192, 224)[k % 4]
        _check_features(p, size)
        _check_jaw(p, size)


# --------------------------------------------------------------------------------------------
# Group-conditioned distributions
# --------------------------------------------------------------------------------------------


def _sample_many(n: int, seed: int = 0, **labels: str) -> list[FaceParams]:
    rng = np.random.default_rng(seed)
    kw = {"ethnicity": "White", "gender": "female", "age_group": "30-44"}
    kw.update(labels)
    return [sample_face_params(rng, face_size=float(rng.standard_normal()), **kw) for _ in range(n)]


def _luminance(rgb: np.ndarray) -> np.ndarray:
    return np.asarray(rgb, dtype=float) @ np.array([0.2126, 0.7152, 0.0722])


def test_rendered_skin_luminance_ordered_by_group() -> None:
    means = {}
    for eth in ETHNICITIES:
        lums = []
        for p in _sample_many(25, seed=1, ethnicity=eth):
            image, lm = render_face(p, 96)
            # Cheek: between the outer eye corner and the mouth corner, clear of features.
            cheek = 0.5 * (lm[36] + lm[48]) + np.array([-0.02, 0.0])
            lums.append(_luminance(_neighbourhood(image, cheek)).mean())
        means[eth] = float(np.mean(lums))
    assert means["White"] > means["Asian"] > means["Indian"] > means["Black"], means


def test_shape_parameters_shift_by_group_with_larger_individual_variation() -> None:
    groups = {eth: _sample_many(400, seed=2, ethnicity=eth) for eth in ETHNICITIES}
    nose = {eth: np.array([p.nose_width for p in ps]) for eth, ps in groups.items()}
    assert stats.ttest_ind(nose["Black"], nose["White"]).pvalue < 1e-6
    assert nose["Black"].mean() > nose["White"].mean()
    lips = {eth: np.array([p.upper_lip + p.lower_lip for p in ps]) for eth, ps in groups.items()}
    assert lips["Black"].mean() > lips["White"].mean()
    eye_open = {eth: np.array([p.eye_height for p in ps]) for eth, ps in groups.items()}
    assert eye_open["Asian"].mean() < eye_open["White"].mean()
    # Individual variation larger than group differences on most shape parameters: the
    # largest gap between group means is under one within-group SD for >= 80% of them,
    # between ethnicities and between genders.
    by_gender = {g: _sample_many(400, seed=12, gender=g) for g in GENDERS}
    for grouping in (groups, by_gender):
        small = 0
        for name in BASE_SHAPE:
            values = [np.array([getattr(p, name) for p in ps]) for ps in grouping.values()]
            means = [v.mean() for v in values]
            sd = np.sqrt(np.mean([v.var(ddof=1) for v in values]))
            small += (max(means) - min(means)) < sd
        assert small >= 0.8 * len(BASE_SHAPE), small


def test_gender_and_age_settings() -> None:
    men = _sample_many(300, seed=3, gender="male")
    women = _sample_many(300, seed=3, gender="female")
    assert np.mean([p.jaw_squareness for p in men]) > np.mean([p.jaw_squareness for p in women])
    assert all(p.facial_hair == "none" for p in women)
    assert 0.3 < np.mean([p.facial_hair != "none" for p in men]) < 0.7
    assert np.mean([p.hair_style == "long" for p in women]) > 0.4
    assert all(p.hair_style in HAIR_STYLES for p in men + women)
    wrinkles = [
        np.mean([p.wrinkles for p in _sample_many(200, seed=4, age_group=a)]) for a in AGE_GROUPS
    ]
    assert np.all(np.diff(wrinkles) > 0.1), wrinkles
    # Grey hair with age: black-haired groups get lighter, nearly colourless hair.
    old = _sample_many(200, seed=5, age_group="60+", ethnicity="Asian")
    young = _sample_many(200, seed=5, age_group="18-29", ethnicity="Asian")
    old_lum = _luminance(np.array([p.hair_rgb for p in old]))
    young_lum = _luminance(np.array([p.hair_rgb for p in young]))
    assert old_lum.mean() > young_lum.mean() + 0.4
    assert np.mean(young_lum < 0.15) > 0.9


def test_judge_can_learn_gender_and_ethnicity_but_faces_vary() -> None:
    rng = np.random.default_rng(6)
    images, gender, ethnicity = [], [], []
    for k in range(320):
        eth, gen = ETHNICITIES[k % 4], GENDERS[(k // 4) % 2]
        age = AGE_GROUPS[(k // 8) % 4]
        p = sample_face_params(
            rng, ethnicity=eth, gender=gen, age_group=age, face_size=float(rng.standard_normal())
        )
        image, _ = render_face(p, 64)
        # Simple features: a 16 x 16 RGB thumbnail.
        thumb = image.reshape(16, 4, 16, 4, 3).mean(axis=(1, 3)) / 255.0
        images.append(thumb.ravel())
        gender.append(gen)
        ethnicity.append(eth)
    x = np.array(images)
    train, test = slice(0, 240), slice(240, None)
    scores = {}
    for name, y in (("gender", np.array(gender)), ("ethnicity", np.array(ethnicity))):
        model = make_pipeline(StandardScaler(), LogisticRegression(C=0.05, max_iter=2000))
        model.fit(x[train], y[train])
        scores[name] = model.score(x[test], y[test])
    print("held-out accuracy on 16 x 16 thumbnails:", scores)
    assert scores["gender"] > 0.75, scores  # chance 0.5
    assert scores["ethnicity"] > 0.6, scores  # chance 0.25
    # Individual variation: faces of one group are all different.
    same_group = x[np.array(ethnicity) == "Asian"][:20]
    dists = np.linalg.norm(same_group[:, None] - same_group[None], axis=-1)
    assert dists[np.triu_indices(20, 1)].min() > 0.5
