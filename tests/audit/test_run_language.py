"""audit_model with speakers heard in two languages: feature shift, sample pairs, main tables."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from PIL import Image

from audit import audit_model
from s2f_data import ManifestInfo, write_manifest
from s2f_model import build_model, save_checkpoint

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests" / "reliability"))
from _tiny_run import tiny_config  # noqa: E402

_SR = 8000


@pytest.fixture(scope="module")
def audited(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4 speakers x 4 utterances: s0 and s1 speak zh and en (2 each), s2 and s3 en only."""
    root = tmp_path_factory.mktemp("bilingual")
    rng = np.random.default_rng(1)
    rows = []
    for s in range(4):
        face = np.zeros((40, 40, 3), dtype=np.uint8)
        face[..., s % 3] = 60 + 50 * s
        Image.fromarray(face).save(root / f"f{s}.png")
        for u in range(4):
            sf.write(root / f"s{s}u{u}.wav", 0.1 * rng.standard_normal(_SR), _SR)
            rows.append({"utterance_id": f"s{s}u{u}", "speaker_id": f"s{s}", "split": "test",
                         "audio_path": f"s{s}u{u}.wav", "face_path": f"f{s}.png",
                         "language": "zh" if s < 2 and u < 2 else "en"})  # fmt: skip
    manifest = write_manifest(
        pd.DataFrame(rows), root / "manifest.csv", ManifestInfo(source="test")
    )
    cfg = tiny_config()
    run = root / "run"
    save_checkpoint(
        run, build_model(cfg, seed=0), cfg.to_dict(), stage="done", step=0,
        metadata={"identities": ["a", "b", "c"]}, name="model.json",
    )  # fmt: skip
    out = root / "audit"
    audit_model(run, manifest, out, judge="none", n_boot=50, min_group_size=2,
                input_seconds="none", gallery_size=2)  # fmt: skip
    return out


def test_feature_shift_columns_and_language_swap_rows(audited: Path) -> None:
    ev = pd.read_csv(audited / "evaluation.csv")
    mono = ev["speaker_id"].isin(["s2", "s3"])
    assert ev.loc[mono, "feature_shift"].isna().all()
    assert ev.loc[mono, "feature_shift_base"].isna().all()
    bi = ev[~mono]
    assert (bi["feature_shift_base"] == "en").all()
    assert (bi.loc[bi["language"] == "en", "feature_shift"] == 0).all()
    per_speaker = bi[bi["language"] == "zh"].groupby("speaker_id")["feature_shift"]
    assert (per_speaker.nunique() == 1).all() and (per_speaker.first() > 0).all()
    swap = pd.read_csv(audited / "language_swap.csv")
    row = swap[(swap["grouping"] == "all") & (swap["outcome"] == "feature_shift")].iloc[0]
    # the table's shift is the speakers' mean of the column's zh value (its en value is 0)
    assert row["shift"] == pytest.approx(per_speaker.first().mean(), rel=1e-12)
    assert row["n_speakers"] == 2 and np.isnan(row["p_value"])
    rel = swap[(swap["grouping"] == "all") & (swap["outcome"] == "feature_shift_relative")]
    ratio = (bi["feature_shift_relative"] / bi["feature_shift"])[bi["feature_shift"] > 0]
    assert rel["shift"].iloc[0] == pytest.approx(row["shift"] * ratio.iloc[0], rel=1e-9)


def test_bilingual_english_counts_in_the_english_cells(audited: Path) -> None:
    record = json.loads((audited / "audit.json").read_text())
    assert record["data"]["n_multilingual_speakers"] == 2
    groups = pd.DataFrame(record["tables"]["groups"])
    lang = groups[groups["attribute"] == "language"].set_index("group_label")
    assert lang.loc["language=en", "n_speakers"] == 4  # s0, s1 in English too (docs/metrics.md)
    assert lang.loc["language=en", "n_utterances"] == 12
    assert lang.loc["language=zh", "n_speakers"] == 2


def test_language_pair_samples_written(audited: Path) -> None:
    record = json.loads((audited / "audit.json").read_text())
    pairs = record["artifacts"]["language_pairs"]
    assert len(pairs) == 1  # one speaker drawn for the one (zh, en) cell
    pair = pairs[0]
    assert pair["speaker_id"] in {"s0", "s1"}
    assert (pair["language_a"], pair["language_b"]) == ("zh", "en")
    assert pair["utterance_a"] == f"{pair['speaker_id']}u0"  # first utterance in each language
    assert pair["utterance_b"] == f"{pair['speaker_id']}u2"
    for key in ("true_face", "reconstruction_a", "reconstruction_b"):
        assert (audited / "samples" / pair[key]).is_file()
