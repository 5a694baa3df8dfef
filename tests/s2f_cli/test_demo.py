"""The main job end to end, at --quick size: both reports and the key audit rows exist."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from s2f_cli import main

# Tests that share the session-wide quick demo run on one xdist worker.
pytestmark = pytest.mark.xdist_group("quick_demo")


def test_demo_writes_report_and_comparison(quick_demo: Path) -> None:
    for name in ("report.html", "compare.html"):
        html = (quick_demo / name).read_text(encoding="utf-8")
        assert html.lstrip().lower().startswith("<!doctype html>")
        assert len(html) > 5000


def test_audit_has_english_speaking_asian_speakers(quick_demo: Path) -> None:
    audit = json.loads((quick_demo / "audits" / "web-skewed" / "audit.json").read_text())
    labels = {rec["group_label"] for rec in audit["tables"]["metrics"]}
    assert "language=en x ethnicity=Asian" in labels
    assert "language=zh x ethnicity=Asian" in labels
    # the evaluation rows of both audits are the same, so the comparison is paired
    other = json.loads((quick_demo / "audits" / "representative" / "audit.json").read_text())
    assert audit["data"]["row_ids_sha256"] == other["data"]["row_ids_sha256"]


def test_rerun_skips_finished_stages(quick_demo: Path) -> None:
    audit_json = quick_demo / "audits" / "web-skewed" / "audit.json"
    before = audit_json.stat().st_mtime_ns
    assert main(["demo", "--out", str(quick_demo), "--quick", "--quiet", "--seed", "3"]) == 0
    assert audit_json.stat().st_mtime_ns == before


def test_both_models_share_one_face_side(quick_demo: Path) -> None:
    from safetensors.numpy import load_file

    runs = quick_demo / "runs"
    metas = {
        name: json.loads((runs / name / "checkpoint.json").read_text())["metadata"]
        for name in ("web-skewed", "representative")
    }
    for name, meta in metas.items():
        assert Path(meta["face_from"]["checkpoint"]).parent.name == "face-side", name
    assert metas["web-skewed"]["training_data"] != metas["representative"]["training_data"]
    # the voice encoders differ; the face decoders are the face-side run's, bit for bit
    weights = {
        name: load_file(
            runs / name / json.loads((runs / name / "model.json").read_text())["tensors"]
        )
        for name in ("face-side", "web-skewed", "representative")
    }
    decoder = [k for k in weights["face-side"] if k.startswith("model.face_decoder.")]
    voice = [k for k in weights["web-skewed"] if k.startswith("model.voice_encoder.")]
    assert decoder and voice
    for k in decoder:
        assert (weights["web-skewed"][k] == weights["face-side"][k]).all(), k
        assert (weights["representative"][k] == weights["face-side"][k]).all(), k
    assert any((weights["web-skewed"][k] != weights["representative"][k]).any() for k in voice)


def test_cached_stages_name_what_they_build_on(quick_demo: Path, tmp_path, monkeypatch) -> None:
    """A new shipped face side or judge (a package upgrade) must not reuse stale runs and
    audits: the face-side stage's key holds the shipped weights' sha256, a voice run's key
    holds the face side's key, an audit's key holds its run's key and the judge's sha256."""
    from s2f_cli import _pipeline as pipe
    from s2f_model import shipped_card_path

    def marker(*parts: str) -> dict:
        return json.loads((quick_demo.joinpath(*parts) / ".stage.json").read_text())

    face, run = marker("runs", "face-side"), marker("runs", "web-skewed")
    shipped = json.loads(shipped_card_path().read_text())["sha256"]
    assert face["shipped_face_side_sha256"] == shipped
    assert run["face_from_key"] == face
    assert marker("audits", "web-skewed")["run_key"] == run
    from audit.judges._shipped import SHIPPED_SHA256

    judged = marker("audits", "web-skewed")["judge"]
    assert judged == {"shipped_judge_sha256": SHIPPED_SHA256}
    monkeypatch.setattr("audit.judges._shipped.SHIPPED_DIR", tmp_path / "no-judge")
    assert pipe._judge_key(5) == {"trained_judge_seed": 5}
    monkeypatch.undo()
    # the key the demo computes now is the finished one; with other shipped weights it is not
    cfg = pipe._train_config(pipe.DemoSettings.quick(), 3, **{"train.voice_steps": 0})
    manifest = Path(face["manifest"])
    assert json.loads(json.dumps(pipe._face_side_key(manifest, cfg), sort_keys=True)) == face
    card = tmp_path / "card.json"
    card.write_text(json.dumps({"sha256": "0" * 64}))
    monkeypatch.setattr("s2f_model.shipped_card_path", lambda: card)
    assert pipe._face_side_key(manifest, cfg)["shipped_face_side_sha256"] == "0" * 64
