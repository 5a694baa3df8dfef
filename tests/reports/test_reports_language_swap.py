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
from reports._language_swap import _own_ethnicity, language_swap_answer

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
                rows.append(
                    {
                        "utterance_id": f"{eth}{s}-{j}",
                        "speaker_id": f"{eth}{s}",
                        "language": spoken,
                        "ethnicity": eth,
                        f"recon_ethnicity_p_{eth}": p,
                        f"recon_ethnicity_p_{'White' if eth == 'Asian' else 'Asian'}": 1 - p,
                        "recon_ethnicity": eth,
                        "true_ethnicity": eth,
                        "cos_sim": rng.normal(0.5, 0.05),
                    }
                )
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


def _swap_audit(folder: Path, source: str) -> Path:
    """The fixture audit with a language-swap table that has the feature-shift outcomes and
    two same-speaker language pairs (PNG files under samples/)."""
    from PIL import Image

    rng = np.random.default_rng(2)
    rows, feats = [], []
    for s in range(10):
        speaker = rng.normal(size=8)
        for j, spoken in enumerate(["zh", "zh", "en", "en"]):
            rows.append(
                {
                    "utterance_id": f"s{s}-{j}",
                    "speaker_id": f"s{s}",
                    "language": spoken,
                    "ethnicity": "Asian",
                    "cos_sim": rng.normal(0.5, 0.05),
                }
            )
            feats.append(speaker + (1.0 if spoken == "zh" else 0.0) + 0.1 * rng.normal(size=8))
    table = language_swap_table(pd.DataFrame(rows), features=np.array(feats), n_boot=100)
    audit = read_audit(FIXTURE)
    audit.tables = {"groups": audit.tables["groups"], "language_swap": table}
    audit.data = {**audit.data, "source": source}
    (folder / "samples").mkdir(parents=True)
    pairs = []
    for k, shade in enumerate((60, 200)):
        names = {}
        for key in ("true_face", "reconstruction_a", "reconstruction_b"):
            names[key] = f"p{k}_{key}.png"
            Image.new("RGB", (16, 16), (shade, 0, 0)).save(folder / "samples" / names[key])
        pairs.append({"speaker_id": f"s{k}", "ethnicity": "Asian", "language_a": "zh",
                      "language_b": "en", "utterance_a": f"s{k}-0", "utterance_b": f"s{k}-2",
                      **names})  # fmt: skip
    audit.artifacts = {**audit.artifacts, "samples_dir": "samples", "language_pairs": pairs}
    audit.write(folder)
    return folder / "audit.json"


def test_feature_shift_rows_and_language_pairs_side_by_side(tmp_path: Path) -> None:
    out = render_report(_swap_audit(tmp_path / "a", "biaslab"), tmp_path / "a" / "report.html")
    soup = soup_of(out)
    node = soup.find(attrs={"data-section": "language_swap"})
    shown = [c[1][0]["outcome"]["text"] for c in rows_by_source(soup).items()
             if c[0][0] == "language_swap"]  # fmt: skip
    assert {"feature_shift", "feature_shift_relative"} <= set(shown)
    faces = node.find(id="faces-language_swap")
    assert faces is not None
    cards = faces.find_all(class_="face")
    assert len(cards) == 2
    assert [img["alt"] for img in cards[0].find_all("img")] == [
        "true face", "speaking zh", "speaking en"]  # fmt: skip
    assert all(img["src"].startswith("data:image/png;base64,") for img in faces.find_all("img"))
    assert "Asian speaker, zh vs en" in cards[0].get_text(" ")
    assert "1 - cosine between the speaker's mean predicted features" in node.get_text(" ")


def test_language_pairs_of_real_faces_only_when_asked(tmp_path: Path) -> None:
    path = _swap_audit(tmp_path / "a", "voxceleb")
    soup = soup_of(render_report(path, tmp_path / "a" / "report.html"))
    assert soup.find(id="faces-language_swap") is None  # real people: withheld by default
    soup = soup_of(render_report(path, tmp_path / "a" / "r2.html", include_faces=True))
    assert len(soup.find(id="faces-language_swap").find_all("img")) == 6


def test_own_ethnicity_read_from_speaker_group_and_from_older_records() -> None:
    record = {
        "grouping": "ethnicity x first_language",
        "group": "Asian x ja x ja-en",
        "speaker_group": {"ethnicity": "Black", "first_language": "ja"},
    }
    assert _own_ethnicity(record) == "p_judged_ethnicity=Black"  # the key, not the text
    older = {k: v for k, v in record.items() if k != "speaker_group"}
    assert _own_ethnicity(older) == "p_judged_ethnicity=Asian"
    assert _own_ethnicity({"grouping": "all", "group": "ja-en", "speaker_group": {}}) is None


def test_written_language_swap_records_carry_speaker_group(rendered) -> None:
    _, _, table = rendered
    cells = table[table["grouping"] == "ethnicity x first_language"]
    assert len(cells) > 0
    assert {r["ethnicity"] for r in cells["speaker_group"]} == {"Asian", "White"}
