"""The bias-lab judge trained on rendered faces (torch)."""

import json

import numpy as np
import pandas as pd
import pytest
import torch

from audit.judges import (
    BIASLAB_VOCABULARIES,
    BiasLabJudge,
    JudgeError,
    JudgeTrainConfig,
    judge_labels,
    load_judge,
    render_judge_dataset,
    train_biaslab_judge,
)

SMALL = JudgeTrainConfig(
    channels=(16, 32, 48, 64), epochs=8, batch_size=32, lr=4e-3, fractions=(0.65, 0.1, 0.25)
)


@pytest.fixture(scope="module")
def dataset():
    return render_judge_dataset(384, size=64, seed=11)


@pytest.fixture(scope="module")
def judge(dataset):
    images, labels = dataset
    return train_biaslab_judge(images, labels, labels["face_id"], config=SMALL, seed=3)


def test_dataset_is_balanced_and_labelled(dataset):
    images, labels = dataset
    assert images.shape == (384, 64, 64, 3) and images.dtype == np.uint8
    assert labels.groupby(["gender", "age_group", "ethnicity"]).size().tolist() == [12] * 32
    assert labels["face_id"].is_unique


def test_beats_majority_baseline_on_held_out_faces(judge):
    report = judge.report
    overall = report[report["group_attribute"] == "all"].set_index("attribute")
    assert overall.loc["gender", "n"] == judge.training["n_images"]["test"] == 96
    # clear margins over the majority-class baseline (chance 0.5 / 0.25 / 0.25)
    assert overall.loc["gender", "accuracy"] >= overall.loc["gender", "majority_accuracy"] + 0.15
    assert (
        overall.loc["ethnicity", "accuracy"] >= overall.loc["ethnicity", "majority_accuracy"] + 0.3
    )
    assert (
        overall.loc["age_group", "accuracy"] >= overall.loc["age_group", "majority_accuracy"] + 0.1
    )


def test_report_accuracy_matches_independent_recount(judge, dataset):
    images, labels = dataset
    # recompute the test split from the training record: faces not seen in train/calibration
    probs = judge.predict_proba(images)
    report = judge.report
    from audit.judges._biaslab import _split_groups

    test = _split_groups(labels["face_id"].to_numpy().astype(str), SMALL.fractions, 3) == 2
    for attr, vocab in BIASLAB_VOCABULARIES.items():
        pred = np.array(vocab)[probs[attr][test].argmax(1)]
        truth = labels.loc[test, attr].to_numpy()
        row = report[(report.attribute == attr) & (report.group_attribute == "all")].iloc[0]
        assert row["accuracy"] == pytest.approx(np.mean(pred == truth))
        for g in BIASLAB_VOCABULARIES["ethnicity"]:
            m = labels.loc[test, "ethnicity"].to_numpy() == g
            r = report[
                (report.attribute == attr)
                & (report.group_attribute == "ethnicity")
                & (report.group == g)
            ].iloc[0]
            assert r["n"] == m.sum()
            assert r["accuracy"] == pytest.approx(np.mean(pred[m] == truth[m]))
    assert set(report.columns) >= {
        "attribute",
        "group_attribute",
        "group",
        "n",
        "accuracy",
        "majority_accuracy",
        "ece",
        "ece_uncalibrated",
    }
    assert report["ece"].between(0, 1).all()


def test_probabilities_shape_and_any_input_size(judge, dataset):
    images, _ = dataset
    probs = judge.predict_proba(images[:4])
    assert set(probs) == set(BIASLAB_VOCABULARIES)
    for attr, p in probs.items():
        assert p.shape == (4, len(BIASLAB_VOCABULARIES[attr]))
        np.testing.assert_allclose(p.sum(axis=1), 1.0)
    # a 224 px reconstruction-sized image is resized: close to judging the 64 px image
    big = np.repeat(np.repeat(images[:4], 4, axis=1), 4, axis=2)[:, :224, :224]
    assert judge.predict_proba(big)["gender"].shape == (4, 2)
    assert isinstance(judge, BiasLabJudge)
    labels = judge_labels(judge, images[:3])
    assert list(labels.columns) == [
        "gender",
        "gender_confidence",
        "age_group",
        "age_group_confidence",
        "ethnicity",
        "ethnicity_confidence",
    ]


def test_save_load_round_trip(judge, dataset, tmp_path):
    images, _ = dataset
    judge.save(tmp_path / "j")
    meta = json.loads((tmp_path / "j" / "judge.json").read_text())
    assert meta["kind"] == "biaslab-cnn" and meta["vocabularies"]["gender"] == ["female", "male"]
    assert not list((tmp_path / "j").glob("*.pt")) and not list((tmp_path / "j").glob("*.pkl"))
    loaded = load_judge(tmp_path / "j")
    a, b = judge.predict_proba(images[:16]), loaded.predict_proba(images[:16])
    for attr in a:
        np.testing.assert_allclose(a[attr], b[attr], rtol=1e-6, atol=1e-7)
    assert loaded.temperatures == pytest.approx(judge.temperatures)
    pd.testing.assert_frame_equal(loaded.report, judge.report, check_dtype=False)
    assert loaded.config == judge.config


def test_load_errors(tmp_path, judge):
    with pytest.raises(JudgeError, match=r"judge\.json: missing"):
        load_judge(tmp_path)
    judge.save(tmp_path / "j")
    meta = json.loads((tmp_path / "j" / "judge.json").read_text())
    meta["format_version"] = 99
    (tmp_path / "j" / "judge.json").write_text(json.dumps(meta))
    with pytest.raises(JudgeError, match="version 99; expected 'biaslab-cnn' version 1"):
        load_judge(tmp_path / "j")
    meta["format_version"] = 1
    meta["config"]["channels"] = [8, 8, 8, 8]
    (tmp_path / "j" / "judge.json").write_text(json.dumps(meta))
    with pytest.raises(JudgeError, match="weights do not match"):
        load_judge(tmp_path / "j")


def test_same_seed_same_judge_other_seed_differs(dataset):
    images, labels = dataset
    sub, lab = images[:96], labels.iloc[:96]
    cfg = JudgeTrainConfig(channels=(8, 8, 8, 8), epochs=1, batch_size=16)
    state = torch.random.get_rng_state()
    a = train_biaslab_judge(sub, lab, lab["face_id"], config=cfg, seed=1)
    assert torch.equal(torch.random.get_rng_state(), state)  # global torch RNG untouched
    b = train_biaslab_judge(sub, lab, lab["face_id"], config=cfg, seed=1)
    c = train_biaslab_judge(sub, lab, lab["face_id"], config=cfg, seed=2)
    pa, pb, pc = (j.predict_proba(sub[:8])["gender"] for j in (a, b, c))
    np.testing.assert_array_equal(pa, pb)
    assert not np.allclose(pa, pc)


def test_missing_labels_are_left_out(dataset):
    images, labels = dataset
    lab = labels.iloc[:96].copy()
    lab["ethnicity"] = pd.array([None] * 96, dtype="string")
    cfg = JudgeTrainConfig(channels=(8, 8, 8, 8), epochs=1, batch_size=16)
    j = train_biaslab_judge(images[:96], lab, lab["face_id"], config=cfg, seed=0)
    row = j.report[(j.report.attribute == "ethnicity") & (j.report.group_attribute == "all")]
    assert row["n"].item() == 0 and np.isnan(row["accuracy"].item())


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"labels": "bad_gender"}, r"column 'gender': unknown label\(s\) \['robot'\]"),
        ({"labels": "no_column"}, "labels have no column 'age_group'"),
        ({"groups": "short"}, r"images \(12\), labels \(12\) and groups \(5\)"),
        ({"groups": "one"}, "at least 3 distinct face ids"),
    ],
)
def test_training_input_errors(dataset, change, match):
    images, labels = dataset
    imgs, lab, groups = images[:12], labels.iloc[:12].copy(), labels["face_id"].iloc[:12]
    if change.get("labels") == "bad_gender":
        lab.loc[lab.index[0], "gender"] = "robot"
    if change.get("labels") == "no_column":
        lab = lab.drop(columns="age_group")
    if change.get("groups") == "short":
        groups = groups[:5]
    if change.get("groups") == "one":
        groups = ["same"] * 12
    with pytest.raises(JudgeError, match=match):
        train_biaslab_judge(imgs, lab, groups, config=JudgeTrainConfig(epochs=1))


def test_config_validation_and_round_trip():
    cfg = JudgeTrainConfig(epochs=3)
    assert JudgeTrainConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(JudgeError, match="fractions must be 3 positive numbers"):
        JudgeTrainConfig(fractions=(0.5, 0.5, 0.0))
    with pytest.raises(JudgeError, match=r"unknown JudgeTrainConfig key\(s\) \['depth'\]"):
        JudgeTrainConfig.from_dict({"depth": 3})
    with pytest.raises(JudgeError, match="stem_stride must be 1 or 2, got 4"):
        JudgeTrainConfig(stem_stride=4)
    # a judge.json written before stem_stride existed loads with the stride it was built with
    old = {k: v for k, v in JudgeTrainConfig().to_dict().items() if k != "stem_stride"}
    assert JudgeTrainConfig.from_dict(old).stem_stride == 2


@pytest.mark.parametrize(("stride", "side"), [(2, 4), (1, 8)])
def test_stem_stride_sets_the_last_stage_s_resolution(stride, side):
    from audit.judges._biaslab_model import _build_net

    net = _build_net(JudgeTrainConfig(stem_stride=stride), [2, 4, 4])
    body = net[: [type(m).__name__ for m in net].index("AdaptiveAvgPool2d")]
    assert body(torch.zeros(2, 3, 64, 64)).shape == (2, 128, side, side)
    assert net(torch.zeros(2, 3, 64, 64)).shape == (2, 10)


@pytest.mark.slow
def test_full_size_judge_on_2000_faces():
    images, labels = render_judge_dataset(2000, size=64, seed=0)
    judge = train_biaslab_judge(images, labels, labels["face_id"], seed=0)
    overall = judge.report[judge.report.group_attribute == "all"].set_index("attribute")
    assert overall.loc["gender", "accuracy"] > 0.75
    assert overall.loc["ethnicity", "accuracy"] > 0.75
    assert overall.loc["age_group", "accuracy"] > 0.45


def test_blurred_held_out_faces_still_judged(judge, dataset):
    # reconstructions are blurrier than renders: the judge is trained to cope with that
    from scipy.ndimage import gaussian_filter

    from audit.judges._biaslab import _split_groups

    images, labels = dataset
    test = _split_groups(labels["face_id"].to_numpy().astype(str), SMALL.fractions, 3) == 2
    blurred = (
        np.stack([gaussian_filter(im.astype(float), sigma=(1.5, 1.5, 0)) for im in images[test]])
        .round()
        .astype(np.uint8)
    )
    probs = judge.predict_proba(blurred)
    for attr, margin in (("gender", 0.15), ("ethnicity", 0.3)):
        truth = labels.loc[test, attr].to_numpy()
        pred = np.array(BIASLAB_VOCABULARIES[attr])[probs[attr].argmax(1)]
        majority = labels.loc[~test, attr].value_counts().index[0]
        assert np.mean(pred == truth) >= np.mean(truth == majority) + margin, attr


def test_augment_keeps_shape_range_and_is_seeded():
    from audit.judges._biaslab import _augment

    x = torch.rand(6, 3, 32, 32)
    cfg = JudgeTrainConfig(image_size=32, blur_prob=1.0, lowres_prob=1.0)
    a = _augment(x, cfg, torch.Generator().manual_seed(0))
    b = _augment(x, cfg, torch.Generator().manual_seed(0))
    c = _augment(x, cfg, torch.Generator().manual_seed(1))
    assert a.shape == x.shape and a.min() >= 0 and a.max() <= 1
    assert torch.equal(a, b) and not torch.equal(a, c)
    # blur and low resolution remove fine detail: neighbouring pixels become more alike
    assert (a.diff(dim=-1).abs().mean()) < 0.5 * x.diff(dim=-1).abs().mean()


# ------------------------------------------------------------------ the shipped judge
def test_shipped_judge_checksum_and_recipe():
    import hashlib

    from audit.judges._shipped import SHIPPED_DIR, SHIPPED_RECIPE, SHIPPED_SHA256

    weights = SHIPPED_DIR / "judge.safetensors"
    assert hashlib.sha256(weights.read_bytes()).hexdigest() == SHIPPED_SHA256
    from audit.judges import shipped_judge_sha256

    assert shipped_judge_sha256() == SHIPPED_SHA256
    meta = json.loads((SHIPPED_DIR / "judge.json").read_text())
    assert meta["training"]["request"] == SHIPPED_RECIPE
    assert weights.stat().st_size < 2_000_000  # small enough to ship


def test_auto_judge_for_biaslab_is_the_shipped_one_and_trains_nothing(tmp_path):
    from audit import resolve_judge

    judge, info = resolve_judge("auto", source="biaslab", cache_dir=tmp_path / "cache")
    assert info["kind"] == "biaslab-shipped"
    assert judge.training["shipped"] is True
    assert not (tmp_path / "cache").exists()  # no judge trained or cached


def test_shipped_judge_on_freshly_rendered_faces():
    """Faces from another seed than the judge's: accuracy well above the majority rate.

    On 4,000 such faces (docs/benchmarks.md) the judge scored gender 0.955, ethnicity 0.990,
    age group 0.786; with 600 faces the standard errors are about 0.008, 0.004 and 0.017,
    and each bound sits about 4 standard errors below.
    """
    from audit.judges._shipped import shipped_judge

    judge = shipped_judge()
    images, labels = render_judge_dataset(600, seed=12345)
    probs = judge.predict_proba(images)
    acc = {
        a: float(np.mean(np.asarray(judge.vocabularies[a])[p.argmax(1)] == labels[a]))
        for a, p in probs.items()
    }
    assert acc["gender"] >= 0.92 and acc["ethnicity"] >= 0.97 and acc["age_group"] >= 0.72
    # reconstructions are blurry: a 2 px Gaussian blur (at 64 px) costs the judge little
    # (1,000 faces: gender 0.964, ethnicity 0.995, age group 0.793 blurred)
    from audit.judges._biaslab import _gaussian_blur

    x = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255  # (N, 3, 64, 64)
    blurred = (_gaussian_blur(x, 2.0).clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1)
    probs = judge.predict_proba(blurred.numpy())
    acc = {
        a: float(np.mean(np.asarray(judge.vocabularies[a])[p.argmax(1)] == labels[a]))
        for a, p in probs.items()
    }
    assert acc["gender"] >= 0.92 and acc["ethnicity"] >= 0.97 and acc["age_group"] >= 0.72


@pytest.mark.slow
def test_shipped_judge_regenerates_bit_for_bit(tmp_path):
    import hashlib

    from audit.judges._shipped import SHIPPED_SHA256, train_shipped_judge

    folder = train_shipped_judge(tmp_path)
    digest = hashlib.sha256((folder / "judge.safetensors").read_bytes()).hexdigest()
    assert digest == SHIPPED_SHA256
