"""Report section "Does the language spoken change the face?" from a language_swap table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from report_helpers import rows_by_source, soup_of

from audit import read_audit
from audit._language_swap import language_swap_table
from reports import render_report
from reports._language_swap import language_swap_answer

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "audit_small.json"


def _table(shift: float) -> pd.DataFrame:
    """Bilingual Asian x zh speakers (shifted) and White x es speakers (no shift)."""
    rng = np.random.default_rng(0)
    rows = []
    for eth, lang, delta in (("Asian", "zh", shift), ("White", "es", 0.0)):
        for s in range(12):
            base = rng.normal(0.4, 0.1)
            for j, spoken in enumerate([lang, lang, "en", "en"]):
                p = base + (delta if spoken != "en" else 0.0) + rng.normal(0, 0.02)
                rows.append({"utterance_id": f"{eth}{s}-{j}", "speaker_id": f"{eth}{s}",
                             "language": spoken, "ethnicity": eth,
                             f"recon_ethnicity_p_{eth}": p,
                             f"recon_ethnicity_p_{'White' if eth == 'Asian' else 'Asian'}": 1 - p,
                             "recon_ethnicity": eth, "true_ethnicity": eth,
                             "cos_sim": rng.normal(0.5, 0.05)})
    return language_swap_table(pd.DataFrame(rows), n_boot=300, random_state=1)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("swap")
    audit = read_audit(FIXTURE)
    # only the composition table beside the new one: the report renders in a fraction of a
    # second instead of re-rendering the whole fixture audit
    audit.tables = {"groups": audit.tables["groups"], "language_swap": _table(0.2)}
    audit.write(folder)
    out = render_report(folder / "audit.json", folder / "report.html")
    return out, soup_of(out), audit.tables["language_swap"]


def test_section_answers_with_figure_and_table(rendered) -> None:
    out, soup, table = rendered
    node = soup.find(attrs={"data-section": "language_swap"})
    assert node is not None
    text = node.get_text(" ")
    assert "Does the language spoken change the face?" in text
    assert "Yes, in 1 of 2 ethnicity x language pairs" in text
    assert "(Asian x zh x zh-en: +0.199 [" in text  # planted 0.2, 12 speakers
    assert node.find("svg") is not None  # the forest plot of paired shifts
    assert "language_swap_headline" in str(node)
    # every shown row points at its record of the audit table, with the same group
    shown = {k: v for k, v in rows_by_source(soup).items() if k[0] == "language_swap"}
    assert len(shown) == 2 * 3  # 2 pairs x (own-ethnicity probability, agreement, cos_sim)
    for (_, index), cells in shown.items():
        assert cells[0]["group"]["text"] == table["group"].iloc[index]
        assert table["grouping"].iloc[index] == "ethnicity x first_language"
    exported = list(out.parent.rglob("language_swap.csv"))
    assert exported, "the full table is exported"


def test_answer_without_shift_and_without_bilinguals() -> None:
    records = _table(0.0).to_dict("records")
    text = language_swap_answer(records)
    assert text.startswith("No: in none of the 2 ethnicity x language pairs (24 speakers)")
    assert "cannot rule them out" in text
    assert language_swap_answer([]).startswith("Not measured")
