"""The evaluation-table builder: model + judge + manifest -> one row per utterance."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from PIL import Image

from audit import build_evaluation_table
from s2f_data import ManifestInfo, read_manifest, write_manifest


class BrightnessJudge:
    """A deterministic judge: 'light' when the mean pixel is above 128, else 'dark'."""

    def __init__(self) -> None:
        self.name = "brightness"
        self.vocabularies = {"tone": ("dark", "light")}

    def predict_proba(self, images: np.ndarray) -> dict[str, np.ndarray]:
        light = (images.reshape(len(images), -1).mean(axis=1) > 128).astype(float)
        return {"tone": np.stack([1 - light, light], axis=1)}


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory):
    import torch

    from s2f_model import S2FConfig, build_model

    root = tmp_path_factory.mktemp("evalset")
    rng = np.random.default_rng(0)
    rows = []
    for s in range(4):
        face = np.full((80, 80, 3), 40 + 60 * s, dtype=np.uint8)
        Image.fromarray(face).save(root / f"f{s}.png")
        lm = rng.uniform(0.2, 0.8, size=(68, 2)).astype(np.float32)
        np.save(root / f"f{s}.npy", lm)
        for u in range(2):
            name = f"s{s}u{u}.wav"
            sf.write(root / name, 0.1 * rng.standard_normal(8000 * (1 + u)), 8000)
            rows.append(
                {
                    "utterance_id": f"s{s}u{u}",
                    "speaker_id": f"s{s}",
                    "split": "test",
                    "audio_path": name,
                    "face_path": f"f{s}.png",
                    "landmarks_path": f"f{s}.npy",
                    "language": "en" if s < 2 else "zh",
                }
            )
    (root / "bad.wav").write_text("not audio")
    rows.append(
        {
            "utterance_id": "bad",
            "speaker_id": "s9",
            "split": "test",
            "audio_path": "bad.wav",
            "face_path": "f0.png",
            "landmarks_path": "f0.npy",
            "language": "en",
        }
    )
    path = write_manifest(pd.DataFrame(rows), root / "manifest.csv", ManifestInfo(source="test"))
    torch.manual_seed(0)
    model = build_model(S2FConfig.compact(), seed=0).eval()
    result = build_evaluation_table(
        model,
        read_manifest(path),
        BrightnessJudge(),
        gallery_size=3,
        samples_dir=root / "samples",
        samples_per_group=1,
        random_state=0,
        voice_measures=False,
    )
    return root, result


def test_one_row_per_good_utterance_and_bad_file_listed(setup) -> None:
    _, result = setup
    assert sorted(result.table["utterance_id"]) == [f"s{s}u{u}" for s in range(4) for u in (0, 1)]
    assert result.errors["utterance_id"].tolist() == ["bad"]
    assert result.errors["stage"].tolist() == ["audio"]
    assert "bad.wav" in result.errors["reason"].iloc[0]


def test_measurement_columns_are_consistent(setup) -> None:
    _, result = setup
    t = result.table
    assert t["cos_sim"].between(-1, 1).all()
    # L2 between unit vectors equals sqrt(2 - 2 cos)
    np.testing.assert_allclose(t["l2"], np.sqrt(np.maximum(2 - 2 * t["cos_sim"], 0)), atol=1e-5)
    assert t["retrieval_rank"].between(1, 3).all()
    assert (t["gallery_size"] == 3).all()
    # the judge sees the true faces at the reconstruction's size; s0 (40) is dark, s3 light
    true_tone = t.set_index("utterance_id")["true_tone"]
    assert true_tone["s0u0"] == "dark" and true_tone["s3u1"] == "light"
    probs = t[["recon_tone_p_dark", "recon_tone_p_light"]].to_numpy()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    assert {"true_nasal_index", "recon_nasal_index"} <= set(t.columns)
    assert {"upper_tone"} <= set(t.columns)


def test_true_landmarks_come_from_the_manifest(setup) -> None:
    from audit import craniofacial_measures

    root, result = setup
    t = result.table.set_index("utterance_id")
    expected = craniofacial_measures(np.load(root / "f2.npy")[None])["nasal_index"].iloc[0]
    assert t.loc["s2u0", "true_nasal_index"] == pytest.approx(expected)


def test_samples_written_per_group(setup) -> None:
    root, result = setup
    assert {s["language"] for s in result.samples} == {"en", "zh"}
    for sample in result.samples:
        for key in ("true_face", "reconstruction", "upper_bound"):
            assert (root / "samples" / sample[key]).is_file()


def test_empty_split_is_a_clear_error(setup, tmp_path: Path) -> None:
    from audit import AuditInputError

    root, _ = setup
    with pytest.raises(AuditInputError, match="no rows in split 'train'"):
        build_evaluation_table(None, read_manifest(root / "manifest.csv"), None, split="train")


# --------------------------------------------------------------- input length (3 s vs 6 s)
_SR_FILE = 8000  # files are written at 8 kHz; load_audio resamples to the model's 16 kHz
_LENGTHS = (1, 4, 7)  # seconds per utterance: shorter than, between and above 3 s and 6 s


@pytest.fixture(scope="module")
def lengths(tmp_path_factory: pytest.TempPathFactory):
    """Compact model (3 s clip), 5 speakers x utterances of 1, 4 and 7 s; auto durations."""
    from s2f_model import S2FConfig, build_model

    root = tmp_path_factory.mktemp("lengths")
    rng = np.random.default_rng(1)
    rows = []
    for s in range(5):
        Image.fromarray(np.full((64, 64, 3), 30 + 45 * s, dtype=np.uint8)).save(root / f"f{s}.png")
        for seconds in _LENGTHS:
            name = f"s{s}_{seconds}s.wav"
            sf.write(root / name, 0.1 * rng.standard_normal(_SR_FILE * seconds), _SR_FILE)
            rows.append(
                {
                    "utterance_id": f"s{s}_{seconds}s",
                    "speaker_id": f"s{s}",
                    "split": "test",
                    "audio_path": name,
                    "face_path": f"f{s}.png",
                    "language": "en" if s < 3 else "zh",
                }
            )
    path = write_manifest(pd.DataFrame(rows), root / "manifest.csv", ManifestInfo(source="test"))
    model = build_model(S2FConfig.compact(), seed=0).eval()
    manifest = read_manifest(path)
    result = build_evaluation_table(
        model, manifest, None, gallery_size=3, random_state=0, voice_measures=False
    )
    return model, manifest, result


def _seconds_of(table: pd.DataFrame) -> np.ndarray:
    return table["utterance_id"].str.extract(r"_(\d+)s$")[0].astype(float).to_numpy()


def test_input_length_columns_for_each_auto_duration(lengths) -> None:
    model, _, result = lengths
    t = result.table
    assert model.cfg.audio.clip_seconds == 3.0
    assert result.info["input_seconds"] == [3.0, 6.0]
    for tag, d in (("3s", 3.0), ("6s", 6.0)):
        for name in ("cos_sim", "l1", "l2", "retrieval_rank", "speech_seconds"):
            assert f"{name}_{tag}" in t.columns
        # speech used = min(d, utterance length)
        np.testing.assert_allclose(t[f"speech_seconds_{tag}"], np.minimum(d, _seconds_of(t)))
        assert t[f"retrieval_rank_{tag}"].between(1, 3).all()
        np.testing.assert_allclose(
            t[f"l2_{tag}"], np.sqrt(np.maximum(2 - 2 * t[f"cos_sim_{tag}"], 0)), atol=1e-5
        )


def test_duration_of_the_clip_equals_the_main_columns_exactly(lengths) -> None:
    # d = clip (3 s): the first 3 s of a 4 or 7 s utterance is the main pass's crop, and a
    # 1 s utterance is looped to 3 s by both, so every value is identical (galleries shared)
    _, _, result = lengths
    t = result.table
    assert (t["speech_seconds_3s"][_seconds_of(t) == 1] == 1.0).all()
    for name in ("cos_sim", "l1", "l2", "retrieval_rank"):
        np.testing.assert_array_equal(t[f"{name}_3s"].to_numpy(), t[name].to_numpy())


def test_longer_than_the_clip_is_the_looped_speech_fed_whole(lengths) -> None:
    # independent reference: numpy looping, then the front-end and encoder on 6 s directly
    import torch

    from s2f_data import load_audio

    model, manifest, result = lengths
    t = result.table.set_index("utterance_id")
    sr = model.cfg.audio.sample_rate
    with torch.inference_mode():
        for uid, seconds in (("s1_1s", 1), ("s1_4s", 4), ("s1_7s", 7)):
            wave = load_audio(manifest.resolve(f"s1_{seconds}s.wav"), sr)
            speech = wave[: 6 * sr]
            looped = np.tile(speech, -(-6 * sr // len(speech)))[: 6 * sr]
            assert t.loc[uid, "speech_seconds_6s"] == min(6, seconds)
            v = model.voice_encoder(model.frontend(torch.from_numpy(looped)[None]))[0].numpy()
            face = np.asarray(Image.open(manifest.resolve("f1.png")), dtype=np.float32) / 255
            f = model.encode_face(torch.from_numpy(face).permute(2, 0, 1)[None])[0].numpy()
            cos = v @ f / (np.linalg.norm(v) * np.linalg.norm(f))
            assert t.loc[uid, "cos_sim_6s"] == pytest.approx(cos, rel=1e-4, abs=1e-6)


def test_input_length_galleries_are_shared() -> None:
    from audit._evaluation_stages import retrieval_ranks as _retrieval_ranks

    rng = np.random.default_rng(0)
    faces = rng.standard_normal((6, 4))
    voices = rng.standard_normal((20, 4))
    owner = np.arange(20) % 6
    (alone,), size = _retrieval_ranks([voices], faces, owner, 3, np.random.default_rng(5))
    (main, same, flipped), _ = _retrieval_ranks(
        [voices, voices, -voices], faces, owner, 3, np.random.default_rng(5)
    )
    assert size == 3
    np.testing.assert_array_equal(main, alone)  # extra inputs do not change the main draws
    np.testing.assert_array_equal(same, main)  # same features -> same ranks, same galleries
    assert not np.array_equal(flipped, main)


def test_input_seconds_none_adds_nothing(lengths) -> None:
    model, manifest, result = lengths
    plain = build_evaluation_table(
        model,
        manifest,
        None,
        gallery_size=3,
        random_state=0,
        voice_measures=False,
        input_seconds=None,
    )
    assert plain.info["input_seconds"] == []
    assert not [c for c in plain.table.columns if c.endswith(("_3s", "_6s"))]
    pd.testing.assert_frame_equal(plain.table, result.table[plain.table.columns])


def test_input_seconds_resolution_and_clear_errors(lengths) -> None:
    import torch

    from audit._evaluation import resolve_input_seconds

    model, manifest, _ = lengths
    assert resolve_input_seconds(model, "auto") == (3.0, 6.0)
    assert resolve_input_seconds(model, [6, 1.5]) == (1.5, 6.0)
    assert resolve_input_seconds(model, "none") == () == resolve_input_seconds(model, None)
    with pytest.raises(ValueError, match="at least one STFT window"):
        resolve_input_seconds(model, [0.01])
    with pytest.raises(ValueError, match="given twice"):
        resolve_input_seconds(model, [3, 3.0])
    with pytest.raises(ValueError, match="'auto', 'none'"):
        resolve_input_seconds(model, "all")

    class Fixed(torch.nn.Module):
        """An encoder that does not average over time (takes the clip only)."""

        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, spec: torch.Tensor) -> torch.Tensor:
            return self.inner(spec)

    class FixedModel:
        def __init__(self) -> None:
            self.cfg = model.cfg
            self.voice_encoder = Fixed(model.voice_encoder)

    fixed = FixedModel()
    assert resolve_input_seconds(fixed, [3]) == (3.0,)
    assert resolve_input_seconds(fixed, "auto") == ()  # 6 s does not fit: not evaluated
    with pytest.raises(ValueError, match=r"6 s cannot be fed.*model clip is 3 s"):
        resolve_input_seconds(fixed, [3, 6])
    with pytest.raises(ValueError, match="at least one STFT window"):
        build_evaluation_table(model, manifest, None, input_seconds=[0.001])


def test_input_length_metrics_have_rows_with_n_and_intervals(lengths) -> None:
    import warnings

    from audit import SmallGroupWarning, run_audit_tables

    _, _, result = lengths
    t = result.table
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SmallGroupWarning)
        m = run_audit_tables(t, groupings=["language"], n_boot=50, min_group_size=2)["metrics"]
    rows = m[m["target"] == "input_length"]
    expected = {
        f"{name} ({d})"
        for d in ("3 s", "6 s", "6 s - 3 s")
        for name in ("cos_sim", "l1", "l2", "recall@1", "recall@2", "recall@5", "recall@10")
    }
    assert set(rows["metric"]) == expected
    assert set(rows["group_label"]) >= {"all", "language=en", "language=zh"}
    overall = rows[rows["attribute"] == "overall"].set_index("metric")
    assert (overall["n_utterances"] == len(t)).all() and (overall["n_speakers"] == 5).all()
    assert overall["value"].notna().all()
    # every interval is finite and holds its value, except one the bootstrap cannot give a
    # width (a recall difference where no utterance changed rank), which is flagged
    finite = overall[["ci_low", "ci_high"]].notna().all(axis=1)
    degenerate = overall["flags"].map(lambda f: "degenerate_ci" in f)
    assert (finite | degenerate).all()
    assert finite[overall.index.str.match(r"^(cos_sim|l1|l2) \(\d s\)$")].all()
    shown = overall[finite]
    assert ((shown["ci_low"] <= shown["value"]) & (shown["value"] <= shown["ci_high"])).all()
    # values against direct computation on the evaluation table
    cos3, cos6 = (t[f"cos_sim_{tag}"].to_numpy(np.float64) for tag in ("3s", "6s"))
    assert overall.loc["cos_sim (6 s)", "value"] == pytest.approx(cos6.mean())
    assert overall.loc["cos_sim (6 s - 3 s)", "value"] == pytest.approx(
        cos6.mean() - cos3.mean(), rel=1e-9, abs=1e-15
    )
    assert overall.loc["recall@1 (6 s)", "value"] == pytest.approx(
        (t["retrieval_rank_6s"] <= 1).mean()
    )
    assert overall.loc["recall@1 (3 s)", "chance"] == pytest.approx(1 / 3)
    assert overall.loc["cos_sim (6 s)", "speech_seconds"] == pytest.approx(
        np.minimum(6, _seconds_of(t)).mean()
    )


def test_voice_measures_are_reused_where_known_and_measured_elsewhere(setup) -> None:
    from audit._evaluation import voice_measure_columns
    from s2f_model import S2FConfig, build_model

    root, _ = setup
    model = build_model(S2FConfig.compact(), seed=0).eval()
    manifest = read_manifest(root / "manifest.csv")
    kwargs = {"gallery_size": 3, "random_state": 0, "input_seconds": None}
    fresh = build_evaluation_table(model, manifest, None, **kwargs).table
    known = voice_measure_columns(fresh)
    assert "f0_median_hz" in known.columns and "voice_snr_db" in known.columns
    known = known[known["utterance_id"] != "s1u0"].copy()  # this one is measured again
    known.loc[known["utterance_id"] == "s0u0", "voice_snr_db"] = -7.0  # shows the copy is used
    reused = build_evaluation_table(model, manifest, None, voice_measures=known, **kwargs).table
    expected = fresh.copy()
    expected.loc[expected["utterance_id"] == "s0u0", "voice_snr_db"] = -7.0
    pd.testing.assert_frame_equal(reused, expected, check_exact=True)


def test_voice_measures_to_reuse_are_checked(tmp_path: Path) -> None:
    from audit import AuditResult
    from audit._evaluation import _known_voice_measures
    from audit._run import _earlier_voice_measures
    from audit.exceptions import AuditInputError

    with pytest.raises(AuditInputError, match="need utterance_id"):
        _known_voice_measures(pd.DataFrame({"f0_median_hz": [100.0]}))
    with pytest.raises(AuditInputError, match="utterance 'u1' twice"):
        _known_voice_measures(
            pd.DataFrame({"utterance_id": ["u1", "u1"], "f0_median_hz": [1.0, 2.0]})
        )
    manifest = tmp_path / "manifest.csv"
    manifest.write_text("utterance_id\nu1\n")
    AuditResult(tables={}, seed=0, data={"manifest": "other.csv", "sha256": "0" * 64}).write(
        tmp_path / "earlier"
    )
    with pytest.raises(AuditInputError, match=r"it audited 'other\.csv'"):
        _earlier_voice_measures(tmp_path / "earlier", manifest)


def test_sample_file_stems_are_safe_short_and_distinct() -> None:
    from audit._evaluation import sample_file_stem

    ids = ["a/b", "a?b", "a_b", "a:b", "a\\b", "..", ".hidden", "", "é", "x" * 500, "a b"]
    stems = [sample_file_stem(i) for i in ids]
    assert len(set(stems)) == len(ids)
    for stem in stems:
        assert stem and len(stem) <= 60 + 1 + 10
        assert not stem.startswith(".")
        assert all(ch.isascii() and (ch.isalnum() or ch in "-_.") for ch in stem)
    assert sample_file_stem("a/b") == sample_file_stem("a/b")  # deterministic
