"""compare.html shows the change of the language-swap effect from the audit (issue #15)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from report_helpers import soup_of

from audit import AuditResult, data_identity, paired_comparison
from reports import render_comparison
from reports._compare_swap import SWAP_ROWS, swap_change_context


def _table(shift: float, seed: int) -> pd.DataFrame:
    """40 bilingual speakers (zh and en); P(judged Asian) rises by ``shift`` in zh."""
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(40):
        base = rng.normal(0.4, 0.15)
        for j, lang in enumerate(["zh", "zh", "en", "en"]):
            p = float(np.clip(base + shift * (lang == "zh") + rng.normal(0, 0.05), 0, 1))
            rows.append(
                {
                    "utterance_id": f"s{s}-{j}",
                    "speaker_id": f"s{s}",
                    "language": lang,
                    "ethnicity": ["Asian", "White"][s % 2],
                    "true_ethnicity": ["Asian", "White"][s % 2],
                    "recon_ethnicity_p_Asian": p,
                    "recon_ethnicity_p_White": 1 - p,
                    "recon_ethnicity": "Asian" if p > 0.5 else "White",
                }
            )
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    root = tmp_path_factory.mktemp("swap")
    settings = {"groupings": ["language", "ethnicity"], "n_boot": 200, "min_group_size": 5}
    paths = []
    for name, table in (("a", _table(0.25, 1)), ("b", _table(0.0, 2))):
        AuditResult({}, settings=settings, seed=4, data=data_identity(table)).write(
            root / name, evaluation=table
        )
        paths.append(root / name / "audit.json")
    comparison = paired_comparison(*paths)
    out = render_comparison(*paths, root / "compare.html", comparison=comparison)
    return out, comparison.tables["language_swap_change"]


def test_swap_section_shows_the_audits_change(page):
    out, expected = page
    soup = soup_of(out)
    section = soup.find(id="swap-change")
    assert section is not None
    rows = section.find(id="swap-table").find("tbody").find_all("tr")
    assert rows
    first = rows[0]  # significant changes first: B's swap effect is 0.25 smaller
    assert first["data-outcome"] == "p_judged_ethnicity=Asian" and first["data-grouping"] == "all"
    for tr in rows:
        hit = expected[
            (expected["group"] == tr["data-group"])
            & (expected["outcome"] == tr["data-outcome"])
            & (expected["grouping"] == tr["data-grouping"])
        ]
        assert len(hit) == 1
        cell = tr.find("td", attrs={"data-col": "change"})
        assert float(cell["data-value"]) == pytest.approx(hit["change"].iloc[0], rel=1e-12)
        assert float(cell["data-ci-high"]) == pytest.approx(hit["ci_high"].iloc[0], rel=1e-12)
    assert float(first.find("td", attrs={"data-col": "change"})["data-ci-high"]) < 0
    assert "changed significantly" in section.find(id="swap-answer").get_text()
    exported = json.loads(
        (out.parent / "compare_files" / "paired_language_swap_change.json").read_text("utf-8")
    )
    assert len(exported) == len(expected)


def test_no_swap_section_without_bilingual_speakers():
    assert swap_change_context([])["available"] is False


def test_rows_significant_first_then_all_speakers_and_capped():
    base = {"n_seeds_a": 1, "n_seeds_b": 1, "change": 0.1}
    records = [
        {**base, "grouping": "ethnicity", "group": f"g{i}", "outcome": "o", "flags": []}
        for i in range(5)
    ]
    records += [
        {**base, "grouping": "all", "group": f"zh-en{i}", "outcome": "o", "flags": []}
        for i in range(SWAP_ROWS + 5)
    ]
    records.append(
        {
            **base,
            "grouping": "ethnicity",
            "group": "x",
            "outcome": "o",
            "flags": ["significant"],
            "change": -0.2,
        }
    )
    context = swap_change_context(records)
    assert context["rows"][0]["group"] == "x"
    assert context["rows"][0]["verdict"] == "the swap effect is smaller under B"
    assert len(context["rows"]) == SWAP_ROWS and context["left_out"] == len(records) - SWAP_ROWS
    assert all(r["grouping"] == "all" for r in context["rows"][1:])
