"""Data card of a generated population: composition tables in markdown and JSON."""

from __future__ import annotations

from typing import Any

import pandas as pd

from s2f_data.biaslab._spec import PopulationSpec

__all__ = ["data_card", "expected_shares"]

_ATTRIBUTES = ("ethnicity", "language", "accent", "gender", "age_group", "split")


def expected_shares(spec: PopulationSpec) -> dict[str, dict[str, float]]:
    """Marginal share of speakers per label implied by the spec (training draws).

    Parameters
    ----------
    spec : PopulationSpec
        The population spec.

    Returns
    -------
    dict
        ``attribute -> label -> expected share``; language and accent are marginalised over
        ethnicity (and language).

    Examples
    --------
    >>> round(expected_shares(PopulationSpec.preset("representative"))["language"]["en"], 3)
    0.525
    """
    language: dict[str, float] = {}
    accent: dict[str, float] = {}
    for eth, p_eth in spec.ethnicity.items():
        for lang, p_lang in spec.language[eth].items():
            language[lang] = language.get(lang, 0.0) + p_eth * p_lang
            for acc, p_acc in spec.accent_table(lang, eth).items():
                accent[acc] = accent.get(acc, 0.0) + p_eth * p_lang * p_acc
    return {
        "ethnicity": dict(spec.ethnicity),
        "language": language,
        "accent": accent,
        "gender": dict(spec.gender),
        "age_group": dict(spec.age_group),
    }


def _md_table(frame: pd.DataFrame) -> str:
    cols = [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for row in frame.itertuples(index=False):
        cells = [f"{v:.3f}" if isinstance(v, float) else str(v) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _bilingual_section(
    speakers: pd.DataFrame, manifest: pd.DataFrame, tables: dict[str, list[dict[str, Any]]]
) -> list[str]:
    """Markdown lines (and ``tables`` entries) naming the bilingual speakers."""
    two = speakers[speakers["bilingual"].astype(bool)]
    rows = []
    for (eth, lang), grp in two.groupby(["ethnicity", "first_language"], sort=True):
        utts = manifest[manifest["speaker_id"].isin(grp["speaker_id"])]
        rows.append(
            {
                "ethnicity": eth,
                "first_language": lang,
                "speakers": len(grp),
                "english_accents": ", ".join(sorted(set(grp["voice2_accent"]))),
                "utterances_l1": int((utts["language"] == lang).sum()),
                "utterances_en": int((utts["language"] == "en").sum()),
            }
        )
    tables["bilingual"] = rows
    tables["bilingual_speakers"] = [{"speaker_id": s} for s in two["speaker_id"]]
    md = [
        "## bilingual speakers",
        "",
        f"{len(two)} speakers speak their first language and English with one voice identity "
        "(same pitch, speed, formant warp, jitter, tremor); language labels are per utterance, "
        "and the manifest columns `first_language` and `bilingual` mark them.",
        "",
    ]
    if rows:
        md += [
            _md_table(pd.DataFrame(rows)),
            "",
            "Speaker ids: " + ", ".join(f"`{s}`" for s in two["speaker_id"]),
            "",
        ]
    return md


def _attribute_sections(
    speakers: pd.DataFrame,
    manifest: pd.DataFrame,
    expected: dict[str, dict[str, float]],
    tables: dict[str, list[dict[str, Any]]],
) -> list[str]:
    """Add one table per attribute to ``tables``; return its markdown lines."""
    md: list[str] = []
    for attr in _ATTRIBUTES:
        n_spk = speakers.groupby(attr).size()
        n_utt = manifest.groupby(attr).size()
        rows = []
        for label in sorted(n_spk.index):
            row: dict[str, Any] = {
                attr: label,
                "speakers": int(n_spk[label]),
                "share": float(n_spk[label] / len(speakers)),
                "utterances": int(n_utt.get(label, 0)),
            }
            if attr in expected:
                row["expected_share"] = float(expected[attr].get(label, 0.0))
            rows.append(row)
        tables[attr] = rows
        md += [f"## {attr}", "", _md_table(pd.DataFrame(rows)), ""]
    return md


def _crosstab_sections(
    speakers: pd.DataFrame, tables: dict[str, list[dict[str, Any]]]
) -> list[str]:
    """Add the language x ethnicity and ethnicity x split tables; return their markdown lines."""
    md: list[str] = []
    cross = pd.crosstab(speakers["language"], speakers["ethnicity"])
    tables["language_x_ethnicity"] = [
        {"language": lang, "ethnicity": eth, "speakers": int(cross.loc[lang, eth])}
        for lang in cross.index
        for eth in cross.columns
    ]
    md += [
        "## speakers by language x ethnicity",
        "",
        _md_table(cross.reset_index().rename(columns={"language": "language \\ ethnicity"})),
        "",
    ]
    by_split = pd.crosstab(speakers["ethnicity"], speakers["split"])
    md += ["## speakers by ethnicity x split", "", _md_table(by_split.reset_index()), ""]
    tables["ethnicity_x_split"] = [
        {"ethnicity": e, "split": s, "speakers": int(by_split.loc[e, s])}
        for e in by_split.index
        for s in by_split.columns
    ]
    return md


def data_card(
    spec: PopulationSpec,
    speakers: pd.DataFrame,
    manifest: pd.DataFrame,
    *,
    seed: int,
    kind: str,
) -> tuple[str, dict[str, Any]]:
    """Build the data card of a population.

    Parameters
    ----------
    spec : PopulationSpec
        The spec the population was drawn from.
    speakers : pandas.DataFrame
        Speaker table (one row per speaker).
    manifest : pandas.DataFrame
        Manifest table (one row per utterance).
    seed : int
        Seed used.
    kind : str
        ``train`` or ``eval``.

    Returns
    -------
    tuple of (str, dict)
        Markdown text and a JSON-ready dictionary with the same tables.
    """
    expected = expected_shares(spec) if kind == "train" else {}
    tables: dict[str, list[dict[str, Any]]] = {}
    md = [
        f"# Data card: bias-lab population `{spec.name}` ({kind} draw, seed {seed})",
        "",
        "Synthetic speakers: espeak-ng voices and procedurally rendered faces. All labels are "
        "known exactly because they were set by the generator. The group settings are "
        "simulation choices, not statements about real people.",
        "",
        f"- speakers: {len(speakers)}; utterances: {len(manifest)} "
        f"({spec.utterances_per_speaker} per speaker, {spec.clip_seconds:g} s each)",
        f"- face images: {spec.face_size_px} px; spec fingerprint `{spec.fingerprint()[:16]}`",
        f"- holdout combinations (never in train/val): {list(spec.holdout) or 'none'}",
        "",
    ]
    md += _attribute_sections(speakers, manifest, expected, tables)
    md += _crosstab_sections(speakers, tables)
    if "bilingual" in speakers.columns:
        md += _bilingual_section(speakers, manifest, tables)
    card = {
        "name": spec.name,
        "kind": kind,
        "seed": seed,
        "n_speakers": len(speakers),
        "n_utterances": len(manifest),
        "spec": spec.to_dict(),
        "tables": tables,
    }
    return "\n".join(md), card
