import numpy as np
import pandas as pd
import pytest

from audit._craniofacial import (
    CRANIOFACIAL_MEASURES,
    craniofacial_measures,
    inter_ocular_distance,
)


def hand_face() -> np.ndarray:
    """A face drawn by hand on integer coordinates (x right, y down)."""
    p = np.full((68, 2), np.nan)
    # eyes: left eye 36..41 centred at (30, 40), right eye 42..47 centred at (70, 40)
    p[36], p[37], p[38], p[39], p[40], p[41] = (
        (20, 40),
        (27, 37),
        (33, 37),
        (40, 40),
        (33, 43),
        (27, 43),
    )
    p[42], p[43], p[44], p[45], p[46], p[47] = (
        (60, 40),
        (67, 37),
        (73, 37),
        (80, 40),
        (73, 43),
        (67, 43),
    )
    # jaw 0..16: face width |0-16| = 100, jaw width |4-12| = 80, chin 8 at (50, 110)
    for i in range(17):
        p[i] = (0 + 100 * i / 16, 40 + 70 * np.sin(np.pi * i / 16))
    p[4], p[12], p[8] = (10, 90), (90, 90), (50, 110)
    # nose: nasion 27 (50, 40), bridge, tip 30 (50, 65), base 31..35
    p[27], p[28], p[29], p[30] = (50, 40), (50, 48), (50, 56), (50, 65)
    p[31], p[32], p[33], p[34], p[35] = (40, 70), (45, 72), (50, 72), (55, 72), (60, 70)
    # mouth outer 48..59: corners (35, 85), (65, 85); upper lip top 51 (50, 80); lower 57 (50, 94)
    p[48], p[49], p[50], p[51], p[52], p[53] = (
        (35, 85),
        (40, 81),
        (46, 80),
        (50, 80),
        (54, 80),
        (60, 81),
    )
    p[54], p[55], p[56], p[57], p[58], p[59] = (
        (65, 85),
        (60, 90),
        (55, 93),
        (50, 94),
        (45, 93),
        (40, 90),
    )
    # inner lips: upper centre 62 (50, 84), lower centre 66 (50, 88) -> stomion (50, 86)
    p[60], p[61], p[62], p[63], p[64], p[65], p[66], p[67] = (
        (37, 85),
        (44, 84),
        (50, 84),
        (56, 84),
        (63, 85),
        (56, 87),
        (50, 88),
        (44, 87),
    )
    p[17:27] = np.c_[np.linspace(20, 80, 10), np.full(10, 30)]  # brows (unused)
    return p


def expected_hand_values() -> dict[str, float]:
    iod = 40.0  # eye centres (30, 40) and (70, 40)
    # nose polygon (50,40) (40,70) (45,72) (50,72) (55,72) (60,70): shoelace by hand
    # = triangle-like: 0.5*|sum(x_i*y_{i+1} - x_{i+1}*y_i)|
    pts = [(50, 40), (40, 70), (45, 72), (50, 72), (55, 72), (60, 70)]
    s = sum(pts[i][0] * pts[(i + 1) % 6][1] - pts[(i + 1) % 6][0] * pts[i][1] for i in range(6))
    nose_area = abs(s) / 2
    assert nose_area == 330.0  # by hand: triangle 27,31,35 = 300, strip below y=70 = 30
    lip = [
        (35, 85),
        (40, 81),
        (46, 80),
        (50, 80),
        (54, 80),
        (60, 81),
        (65, 85),
        (60, 90),
        (55, 93),
        (50, 94),
        (45, 93),
        (40, 90),
    ]
    s = sum(lip[i][0] * lip[(i + 1) % 12][1] - lip[(i + 1) % 12][0] * lip[i][1] for i in range(12))
    lip_area = abs(s) / 2
    lat = np.hypot(5, 15)  # |31-48| = |(40,70)-(35,85)| = |35-54| by symmetry
    return {
        "nasal_index": 20 / 32,
        "nose_width": 20 / iod,
        "vermilion_height_index": 4 / 6,  # |51-62| = 4, |66-57| = 6
        "nose_area": nose_area / iod**2,
        "lateral_upper_lip_heights": lat / iod,
        "intercanthal_index": 20 / 60,
        "mouth_face_width_index": 30 / 100,
        "mandibular_index": 24 / 80,  # stomion (50, 86) to chin (50, 110)
        "labio_oral_region": lip_area / iod**2,
        "upper_lip_height": 14 / iod,  # subnasale (50, 72) to stomion (50, 86)
        "nose_height": 32 / iod,
        "jaw_width": 80 / iod,
        "philtrum_width": 8 / iod,
    }


def test_hand_made_face_known_answers():
    table = craniofacial_measures(hand_face()[None])
    assert list(table.columns) == list(CRANIOFACIAL_MEASURES)
    expected = expected_hand_values()
    for name, value in expected.items():
        assert table.loc[0, name] == pytest.approx(value, rel=1e-12), name
    assert inter_ocular_distance(hand_face())[0] == pytest.approx(40.0)


def test_lip_area_worked_by_hand():
    # trapezoids above and below the corner line y = 85: upper 114, lower 175 (by hand)
    table = craniofacial_measures(hand_face())
    assert table.loc[0, "labio_oral_region"] * 40**2 == pytest.approx(114.0 + 175.0)


def test_similarity_invariance_and_batch_equals_single():
    rng = np.random.default_rng(3)
    face = hand_face()
    faces = []
    for _ in range(5):
        theta, scale = rng.uniform(-0.5, 0.5), rng.uniform(0.002, 3.0)
        rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
        faces.append(scale * face @ rot.T + rng.uniform(-50, 50, size=2))
    batch = craniofacial_measures(np.stack(faces))
    single = pd.concat([craniofacial_measures(f) for f in faces], ignore_index=True)
    pd.testing.assert_frame_equal(batch, single)
    ref = craniofacial_measures(face).iloc[0].to_numpy()
    np.testing.assert_allclose(batch.to_numpy(), np.tile(ref, (5, 1)), rtol=1e-9)


def test_anisotropic_scaling_changes_ratios():
    face = hand_face() * np.array([1.0, 2.0])
    assert craniofacial_measures(face).loc[0, "nasal_index"] == pytest.approx(20 / 64)


def test_missing_face_gives_nan_row_not_zero():
    faces = np.stack([hand_face(), np.full((68, 2), np.nan)])
    table = craniofacial_measures(faces)
    assert table.iloc[0].notna().all()
    assert table.iloc[1].isna().all()


def test_zero_denominator_gives_nan():
    face = np.zeros((68, 2))
    table = craniofacial_measures(face)
    assert table.isna().all(axis=None)


@pytest.mark.parametrize("shape", [(68,), (2, 67, 2), (2, 68, 3), (1, 1, 68, 2)])
def test_bad_shapes_rejected(shape):
    with pytest.raises(ValueError, match=r"shape \(N, 68, 2\).*got"):
        craniofacial_measures(np.zeros(shape))


def test_inf_rejected():
    face = hand_face()
    face[3, 0] = np.inf
    with pytest.raises(ValueError, match="Inf"):
        craniofacial_measures(face)
