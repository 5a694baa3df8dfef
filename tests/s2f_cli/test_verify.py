"""`s2f-audit verify`: the MAV-Celeb verification protocol end to end on the adapter's fixture."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from PIL import Image
from sklearn.metrics import roc_curve

from s2f_cli import main
from s2f_model import build_model, load_model, save_checkpoint

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "reliability"))
sys.path.insert(0, str(REPO / "tests" / "s2f_data"))
from _tiny_run import tiny_config  # noqa: E402
from test_mavceleb import _fixture  # noqa: E402  (the adapter's fixture in MAV-Celeb's layout)


def _sklearn_eer(target: np.ndarray, score: np.ndarray) -> float:
    """Independent EER: sklearn's ROC at every threshold, crossing of FPR and FNR."""
    fpr, tpr, _ = roc_curve(target, score, drop_intermediate=False)
    d = (1 - tpr) - fpr
    k = int(np.flatnonzero(d <= 0)[0])
    if d[k] == 0:
        return float(fpr[k])
    lam = d[k - 1] / (d[k - 1] - d[k])
    return float(fpr[k - 1] + lam * (fpr[k] - fpr[k - 1]))


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cfg = tiny_config()
    folder = tmp_path_factory.mktemp("run")
    save_checkpoint(
        folder, build_model(cfg, seed=0), cfg.to_dict(), stage="done", step=0,
        metadata={"identities": ["a", "b", "c"]}, name="model.json",
    )  # fmt: skip
    return folder


def _vary(root: Path) -> None:
    """Give every utterance its own noise and every speaker its own face shade."""
    rng = np.random.default_rng(3)
    for k, wav in enumerate(sorted((root / "voices").rglob("*.wav"))):
        sf.write(wav, 0.1 * rng.standard_normal(16000) * (1 + k % 3), 16000)
    for jpg in (root / "faces").rglob("*.jpg"):
        shade = {"id0001": 30, "id0002": 120, "id0003": 220}[jpg.relative_to(root).parts[1]]
        Image.new("RGB", (32, 32), (shade, 255 - shade, shade // 2)).save(jpg)


def _verify(run: Path, root: Path, out: Path, *extra: str) -> int:
    return main(["verify", "--checkpoint", str(run), "--data", str(root), "--out", str(out),
                 "--split", "all", "--n-boot", "50", *extra])  # fmt: skip


def test_tied_scores_give_an_eer_of_one_half(run: Path, tmp_path: Path) -> None:
    # The fixture's audio is silent and every face is the same grey square: every trial gets
    # the same score. Above it nothing is accepted (FAR 0, FRR 1), at it everything is
    # (FAR 1, FRR 0): the two lines cross at FAR = FRR = 1/2.
    assert _verify(run, _fixture(tmp_path / "v1"), tmp_path / "out") == 0
    eer = pd.read_csv(tmp_path / "out" / "eer.csv")
    assert list(eer["language"]) == ["en", "ur"]
    assert list(eer["condition"]) == ["heard", "unheard"]
    assert eer["eer"].tolist() == [pytest.approx(0.5, abs=1e-12)] * 2


def test_scores_eer_and_challenge_files_agree(run: Path, tmp_path: Path) -> None:
    root = _fixture(tmp_path / "v1")
    _vary(root)
    out = tmp_path / "out"
    assert _verify(run, root, out, "--heard", "ur", "--n-nontarget", "2") == 0
    scores = pd.read_csv(out / "scores.csv")
    assert len(scores) == 3 * 2 * 2 * 2 * 3  # utterances x (own face + 2 others)
    assert scores.groupby("utterance_id")["target"].sum().eq(1).all()
    eer = pd.read_csv(out / "eer.csv").set_index("language")
    assert eer.loc["ur", "condition"] == "heard" and eer.loc["en", "condition"] == "unheard"
    for lang, part in scores.groupby("language"):
        expected = _sklearn_eer(part["target"].to_numpy(), part["score"].to_numpy())
        assert eer.loc[lang, "eer"] == pytest.approx(expected, abs=1e-12)
        assert eer.loc[lang, "ci_low"] <= eer.loc[lang, "eer"] <= eer.loc[lang, "ci_high"]
    # one trial scored again by hand: cosine of the model's two features
    model = load_model(run)
    row = scores.iloc[1]
    manifest = pd.read_csv(out / "manifest.csv")
    audio = manifest.set_index("utterance_id").loc[row["utterance_id"], "audio_path"]
    assert row["face_path"] in set(manifest["face_path"])
    import torch

    from s2f_data import load_audio

    wave = load_audio(out / audio, model.cfg.audio.sample_rate)
    with torch.inference_mode():
        clip = model.frontend.fit_clip(torch.from_numpy(wave)[None, :])[
            :, : model.cfg.audio.clip_samples
        ]
        v = model.encode_voice(clip)[0].numpy().astype(np.float64)
        size = model.cfg.face.image_size
        img = (
            Image.open(out / row["face_path"])
            .convert("RGB")
            .resize((size, size), Image.Resampling.BILINEAR)
        )
        x = torch.from_numpy(np.array(img)).permute(2, 0, 1)[None].float() / 255.0
        f = model.encode_face(x)[0].numpy().astype(np.float64)
    cos = v @ f / (np.linalg.norm(v) * np.linalg.norm(f))
    assert row["score"] == pytest.approx(cos, abs=1e-5)  # float32 features
    # the challenge's files: trial lists per language, L2 scores with 6 decimals
    listing = (out / "challenge" / "English_test.txt").read_text().splitlines()
    assert len(listing) == (scores["language"] == "en").sum()
    lines = (out / "challenge" / "sub_score_Urdu_heard.txt").read_text().splitlines()
    ur = scores[scores["language"] == "ur"]
    assert lines == [f"{t} {s:.6f}" for t, s in zip(ur["trial_id"], ur["l2"], strict=True)]
    assert (out / "challenge" / "sub_score_Urdu_unheard.txt").is_file()
    record = json.loads((out / "verification.json").read_text())
    assert record["settings"]["heard_language"] == "ur"
    assert record["data"]["n_scored"] == 24 and record["data"]["n_errors"] == 0
    assert [r["language"] for r in record["eer"]] == ["en", "ur"]


def test_single_language_speaker_flagged_and_bad_root_is_exit_2(
    run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert _verify(run, _fixture(tmp_path / "v1", single=True), out) == 0
    eer = pd.read_csv(out / "eer.csv", keep_default_na=False).set_index("language")
    assert eer.loc["en", "flags"] == "single_language_speakers"  # id0003 speaks English only
    assert eer.loc["ur", "flags"] == ""
    assert _verify(run, tmp_path / "nowhere", tmp_path / "out2") == 2
    err = capsys.readouterr().err
    assert "s2f-audit verify: error:" in err and "no voices/ folder" in err
