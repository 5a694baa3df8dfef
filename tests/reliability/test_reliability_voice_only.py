"""An audit of voice-only data (no face images), as the README's Common Voice example runs it.

Before, the judge was never applied without face images, so the audit measured nothing of
the model (empty metrics, "no gap flagged"), and ``--judge biaslab`` was an unknown plug-in.
"""

from __future__ import annotations

import json
from pathlib import Path

from _tiny_run import make_manifest
from bs4 import BeautifulSoup
from test_reliability_audit import save_run

from audit import read_audit
from audit.judges import get_judge, shipped_judge
from reports import render_report
from s2f_cli import main


def test_biaslab_names_the_shipped_judge():
    judge, shipped = get_judge("biaslab"), shipped_judge()
    assert judge.name == shipped.name and judge.vocabularies == shipped.vocabularies


def test_voice_only_audit_judges_reconstructions_against_recorded_gender(tmp_path: Path):
    manifest = make_manifest(tmp_path / "d", n_speakers=4, with_face=lambda s: False)
    run = save_run(tmp_path / "run")
    out = tmp_path / "audit"
    argv = ["audit", "--checkpoint", str(run), "--manifest", str(manifest), "--out", str(out)]
    argv += ["--judge", "biaslab", "--n-boot", "20", "--min-group-size", "2", "--quiet"]
    assert main(argv) == 0
    table = json.loads((out / "audit.json").read_text())
    assert table["data"]["n_utterances"] == 8 and table["data"]["n_errors"] == 0
    result = read_audit(out)
    metrics = result.tables["metrics"]
    overall = metrics[(metrics.attribute == "overall") & (metrics.target == "gender")]
    agreement = overall[overall.metric == "recorded_agreement"].iloc[0]
    assert agreement["n_utterances"] == 8 and 0 <= agreement["value"] <= 1
    assert not overall.metric.isin(["agreement", "upper_agreement"]).any()  # no true faces
    html = render_report(out, tmp_path / "r.html").read_text()
    soup = BeautifulSoup(html, "html.parser")
    section = soup.find(id="agreement").get_text(" ", strip=True)
    assert "gender agreement with the recorded value" in section
    heatmap = soup.find(
        "table", attrs={"data-heatmap": "recorded against reconstruction: gender|all"}
    )
    assert heatmap.find("thead").get_text(" ", strip=True).startswith("recorded \\ reconstruction")
