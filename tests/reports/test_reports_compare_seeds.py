"""The comparison page of two arms of several training seeds."""

from __future__ import annotations

import numpy as np
import pytest
from report_helpers import soup_of

from audit import (
    AuditResult,
    compare_arm_audits,
    data_identity,
    make_evaluation_table,
    paired_comparison,
)
from reports import IncompatibleAuditsError, render_comparison
from reports._compare_seeds import seed_rows, seed_verdict

SETTINGS = {"groupings": ["ethnicity"], "n_boot": 40, "min_group_size": 5}


def _checkpoint(base, share, seed):
    out = base.copy()
    rng = np.random.default_rng(seed)
    flip = rng.random(len(out)) < share
    out.loc[flip, "recon_gender"] = np.where(
        out.loc[flip, "recon_gender"] == "male", "female", "male"
    )
    return out


@pytest.fixture(scope="module")
def arms(tmp_path_factory):
    root = tmp_path_factory.mktemp("arms")
    full = make_evaluation_table(60, 2, random_state=3)
    keep = ["utterance_id", "speaker_id", "language", "gender", "ethnicity"]
    base = full[[*keep, "true_gender", "recon_gender", "cos_sim", "retrieval_rank", "gallery_size"]]
    paths = {"a": [], "b": []}
    for arm, share in (("a", 0.3), ("b", 0.3)):
        for seed in range(3):
            table = _checkpoint(base, share, seed + (10 if arm == "b" else 0))
            folder = root / arm / f"seed-{seed}"
            AuditResult({}, settings=SETTINGS, seed=4, data=data_identity(table)).write(
                folder, evaluation=table
            )
            paths[arm].append(folder / "audit.json")
    return paths


def test_seeds_section_shows_the_audits_numbers_and_verdicts(arms, tmp_path):
    comparison = paired_comparison(arms["a"], arms["b"])
    out = render_comparison(arms["a"], arms["b"], tmp_path / "c.html", comparison=comparison)
    soup = soup_of(out)
    assert "3" in soup.find(id="meta").get_text() and soup.find(id="arm-b") is not None
    expected = compare_arm_audits(arms["a"], arms["b"])["paired"]
    table = soup.find(id="seeds-metrics")
    rows = table.find("tbody").find_all("tr")
    assert rows, "no headline rows"
    checked = 0
    for tr in rows:
        mask = (
            (expected["metric"] == tr["data-metric"])
            & (expected["target"] == tr["data-target"])
            & (expected["group_label"] == tr["data-group"])
        )
        assert mask.sum() == 1
        record = expected[mask].iloc[0]
        cells = tr.find_all("td")
        assert float(cells[4]["data-value"]) == pytest.approx(record["difference"], rel=1e-12)
        # beside the adjusted p: the simultaneous interval (seed variance included)
        low = float(cells[4]["data-ci-low"])
        assert low == pytest.approx(record["diff_sim_low"], rel=1e-12, nan_ok=True)
        low = float(cells[5]["data-ci-low"])
        assert low == pytest.approx(record["speaker_ci_low"], rel=1e-12, nan_ok=True)
        assert tr["data-verdict"] == seed_verdict(record.to_dict())
        checked += 1
    verdicts = {tr["data-verdict"] for tr in rows}
    # equal recipes (same flip rate): the seed noise must show up in some verdict
    assert any(v.startswith("seed noise") for v in verdicts), verdicts
    assert not any(v.endswith("beyond speaker and seed noise") for v in verdicts), verdicts
    assert checked == len(rows) and soup.find(id="seeds-gaps") is not None


def test_one_checkpoint_per_arm_says_training_noise_is_not_measured(arms, tmp_path):
    one = paired_comparison(arms["a"][0], arms["b"][0])
    out = render_comparison(arms["a"][0], arms["b"][0], tmp_path / "one.html", comparison=one)
    soup = soup_of(out)
    assert soup.find(id="one-seed-note") is not None and soup.find(id="seeds") is None


def test_an_empty_arm_is_refused(arms, tmp_path):
    with pytest.raises(IncompatibleAuditsError, match="arm B holds no audit"):
        render_comparison(arms["a"], [], tmp_path / "x.html")


def test_seed_rows_keep_headline_metrics_of_the_focus():
    base = {"n_seeds_a": 3, "n_seeds_b": 3, "flags": []}
    paired = [
        {**base, "metric": "agreement", "attribute": "overall", "difference": 0.1},
        {**base, "metric": "agreement", "attribute": "ethnicity", "difference": 0.1},
        {**base, "metric": "agreement", "attribute": "gender", "difference": 0.1},
        {**base, "metric": "kappa", "attribute": "overall", "difference": 0.1},
        {"metric": "agreement", "attribute": "overall", "difference": 0.1},  # no seed columns
    ]
    rows = seed_rows({"paired": paired}, [("language", "ethnicity")])
    assert [r["attribute"] for r in rows["metrics"]] == ["overall", "ethnicity"]
    assert rows["gaps"] == [] and rows["left_out"] == {"metrics": 0, "gaps": 0}
    assert rows["metrics"][0]["verdict"].startswith("not significant after correction")


def test_arms_without_the_audits_comparison_are_refused(arms, tmp_path):
    with pytest.raises(IncompatibleAuditsError, match="no paired comparison was passed"):
        render_comparison(arms["a"], arms["b"], tmp_path / "x.html")


@pytest.fixture(scope="module")
def focus_arms(tmp_path_factory):
    """Two arms of 3 seeds of one recipe, focus language x ethnicity: seed noise only."""
    root = tmp_path_factory.mktemp("focus-arms")
    base = make_evaluation_table(150, 3, random_state=11, missing_rate=0.0)
    labels = np.array(sorted(base["true_ethnicity"].unique()))
    settings = {"groupings": ["language", "ethnicity"], "n_boot": 60, "min_group_size": 5}
    paths = {"a": [], "b": []}
    for arm, first in (("a", 0), ("b", 10)):
        for seed in range(first, first + 3):
            table = base.copy()
            rng = np.random.default_rng(seed)
            redraw = rng.random(len(table)) < 0.3
            table.loc[redraw, "recon_ethnicity"] = rng.choice(labels, int(redraw.sum()))
            folder = root / arm / f"seed-{seed}"
            AuditResult({}, settings=settings, seed=4, data=data_identity(table)).write(
                folder, evaluation=table
            )
            paths[arm].append(folder / "audit.json")
    return paths


def test_focus_first_screen_states_the_seed_spread(focus_arms, tmp_path):
    comparison = paired_comparison(focus_arms["a"], focus_arms["b"])
    expected = comparison.tables["focus"].set_index("group_label")
    out = render_comparison(
        focus_arms["a"], focus_arms["b"], tmp_path / "c.html", comparison=comparison
    )
    soup = soup_of(out)
    heads = [th.get_text() for th in soup.find(id="focus-table").find("thead").find_all("th")]
    assert "95% CI with seed var." in heads and "95% CI speakers only" in heads
    assert "seed SD, pts" in heads
    rows = soup.find(id="focus-table").find("tbody").find_all("tr")
    for tr in rows:
        record = expected.loc[tr["data-group"]]
        with_seeds = tr.find("td", attrs={"data-col": "ci_with_seeds"})
        speakers = tr.find("td", attrs={"data-col": "ci_speakers"})
        sd = tr.find("td", attrs={"data-col": "seed_sd"})
        assert float(with_seeds["data-ci-low"]) == pytest.approx(record["change_ci_low"], rel=1e-12)
        assert float(speakers["data-ci-high"]) == pytest.approx(
            record["speaker_ci_high"], rel=1e-12
        )
        assert float(sd["data-value"]) == pytest.approx(record["seed_sd"], rel=1e-12)
        assert sd.get_text() == f"{100 * record['seed_sd']:.1f}"
        span = tr.find("span", class_="seed-verdict")
        assert span["data-seed-verdict"] == record["seed_verdict"]
    noisy = int((expected["seed_verdict"] == "seed_noise").sum())
    assert noisy > 0  # one recipe, other seeds: the seed spread must show
    sentence = soup.find(id="focus-seeds").get_text(" ", strip=True)
    assert "Training seeds (3 checkpoint(s) in A, 3 in B)" in sentence
    assert f"for {noisy} of " in sentence and "more than the recipes differ" in sentence
    folded = soup.find(id="focus-folded")
    if folded is not None:
        assert "seeds:" in folded.get_text()
