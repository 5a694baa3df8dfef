"""`s2f-audit demo --seeds N`: arms of several voice encoders and their comparison."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from s2f_cli import main
from s2f_cli._pipeline import run_demo


@pytest.mark.slow
def test_quick_demo_with_two_seeds_compares_arms(tmp_path: Path) -> None:
    argv = ["demo", "--out", str(tmp_path), "--quick", "--quiet", "--seed", "3", "--seeds", "2"]
    assert main(argv) == 0
    seeds = []
    for preset in ("web-skewed", "representative"):
        for i in range(2):
            model = json.loads(
                (tmp_path / "runs" / preset / f"seed-{i}" / "model.json").read_text()
            )
            seeds.append(model["config"]["train"]["seed"])
            assert (tmp_path / "audits" / preset / f"seed-{i}" / "audit.json").is_file()
    assert seeds == [3, 4, 3, 4]
    soup = BeautifulSoup((tmp_path / "compare.html").read_text(encoding="utf-8"), "html.parser")
    section = soup.find(id="seeds")
    assert section is not None
    verdicts = [tr["data-verdict"] for tr in section.find_all("tr") if tr.get("data-verdict")]
    assert verdicts and all(v for v in verdicts)
    # issue 19: the first screen's focus verdicts state the seed spread, per focus group
    focus = soup.find(id="focus-first")
    assert "seed" in focus.find(id="focus-seeds").get_text()
    seed_cells = focus.select('#focus-table td[data-col="seed_sd"]')
    seed_verdicts = focus.select("#focus-table span.seed-verdict")
    assert seed_cells and len(seed_verdicts) == len(focus.select("#focus-table tbody tr"))
    assert all(s["data-seed-verdict"] for s in seed_verdicts)


def test_demo_seeds_must_be_positive(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["demo", "--out", str(tmp_path / "d"), "--quick", "--seeds", "0"]) == 2
    assert "--seeds must be at least 1, got 0" in capsys.readouterr().err
    with pytest.raises(ValueError, match="seeds must be a positive integer, got 0"):
        run_demo(tmp_path / "e", quick=True, seeds=0)
    assert not (tmp_path / "d").exists() and not (tmp_path / "e").exists()
