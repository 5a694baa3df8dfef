"""Report section "Does the language spoken change the face?" (audit table ``language_swap``).

Renders what :func:`audit.language_swap_table` computed (no statistics here): a one-line
answer, a forest plot of the paired within-speaker shift of P(judged as the speaker's own
ethnicity) per ethnicity x language pair, a compact table of the headline outcomes (with the
shift of the predicted feature itself, when the audit measured it) and, from
``artifacts.language_pairs``, the same speaker's reconstructions in the two languages side by
side. The full table is in the exports (``language_swap.csv`` / ``.json``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from reports import _text
from reports._figures import forest_plot
from reports._load import LoadedAudit
from reports._samples import _embed_image
from reports._tables import build_table
from reports._v1 import swap_speaker_group
from reports.exceptions import AuditFormatError

__all__ = [
    "LANGUAGE_SWAP_TABLE",
    "add_language_pair_faces",
    "fill_language_swap_section",
    "language_swap_answer",
]

#: Name of the audit table this section renders.
LANGUAGE_SWAP_TABLE = "language_swap"
_CELL_GROUPING = "ethnicity x first_language"
_INTRO = (
    "Speakers heard in two languages (the bilingual speakers of the evaluation population, or "
    "any speaker with utterances in several languages) give a paired comparison: same voice, "
    "same face, another language. Each value is the mean over speakers of (outcome when "
    "speaking the first language of the pair) minus (outcome when speaking the second), with "
    "a speaker-bootstrap interval; p-values are corrected over the whole table. A shift in "
    "P(judged as the speaker's ethnicity) means the language itself changes how the "
    "reconstruction looks: language acting as a proxy for ethnicity."
)


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _own_ethnicity(record: Mapping[str, Any]) -> str | None:
    """Return the outcome P(judged <the group's ethnicity>) of an ethnicity x L1 record.

    The ethnicity is the record's ``speaker_group["ethnicity"]``; a record written before
    audit wrote ``speaker_group`` is read by `reports._v1.swap_speaker_group`.
    """
    speaker_group = record.get("speaker_group")
    if not isinstance(speaker_group, Mapping):
        speaker_group = swap_speaker_group(record)
    ethnicity = speaker_group.get("ethnicity")
    return f"p_judged_ethnicity={ethnicity}" if ethnicity else None


def _cell_records(
    records: Sequence[Mapping[str, Any]], outcome: str | None
) -> list[tuple[int, dict[str, Any]]]:
    """Return (index, record) of the ethnicity x L1 grouping for one outcome (None: own)."""
    out = []
    for index, record in enumerate(records):
        if record.get("grouping") != _CELL_GROUPING:
            continue
        want = outcome if outcome is not None else _own_ethnicity(record)
        if record.get("outcome") == want:
            out.append((index, dict(record)))
    return out


def language_swap_answer(records: Sequence[Mapping[str, Any]]) -> str:
    """One-paragraph answer to the section's question, from the table's records.

    Examples
    --------
    >>> language_swap_answer([])
    'Not measured: no speaker in the evaluated rows was heard in two languages.'
    """
    if not records:
        return "Not measured: no speaker in the evaluated rows was heard in two languages."
    cells = [r for _, r in _cell_records(records, None)]
    if not cells:
        cells = [dict(r) for r in records if r.get("grouping") == "all"]
    flagged = [r for r in cells if r.get("significant") is True]
    n_spk = sum(int(r.get("n_speakers") or 0) for r in cells)
    what = "P(judged as the speaker's own ethnicity)"
    if not flagged:
        finite = [r for r in cells if _finite(r.get("shift"))]
        largest = max(finite, key=lambda r: abs(r["shift"]), default=None)
        tail = ""
        if largest is not None:
            tail = (
                f" The largest shift is {largest['shift']:+.3f} ({largest['group']}, interval "
                f"[{largest['ci_low']:.3f}, {largest['ci_high']:.3f}])."
            )
        return (
            f"No: in none of the {len(cells)} ethnicity x language pairs ({n_spk} speakers) "
            f"does {what} change significantly when the same speaker switches language."
            + tail
            + " Intervals wider than the shifts of interest mean the audit cannot rule them out."
        )
    parts = [
        f"{r['group']}: {r['shift']:+.3f} [{r['ci_low']:.3f}, {r['ci_high']:.3f}], "
        f"adjusted p = {r['p_adjusted']:.3g}"
        for r in sorted(flagged, key=lambda r: r["p_adjusted"])
    ]
    return (
        f"Yes, in {len(flagged)} of {len(cells)} ethnicity x language pairs: {what} changes "
        "when the same speaker switches language (" + "; ".join(parts) + ")."
    )


def fill_language_swap_section(
    section: Any,
    records: Sequence[Mapping[str, Any]],
    exports: dict[str, list[dict[str, Any]]],
    unique: Callable[[str], str],
    max_rows: int,
) -> None:
    """Fill the report section from the audit's ``language_swap`` records.

    Parameters
    ----------
    section : reports._report.Section
        The section to fill (its tables are replaced by the compact view).
    records : sequence of mapping
        The audit table's records.
    exports : dict
        Exported tables (name -> records); the compact view is added.
    unique : callable
        Returns a unique, file-safe export name.
    max_rows : int
        Rows shown in the HTML table.
    """
    section.intro = _INTRO
    section.note = language_swap_answer(records)
    section.tables = []
    if not records:
        return
    own = [r for _, r in _cell_records(records, None)]
    labels = [f"{r['group']}" for r in own]
    plot = forest_plot(
        labels,
        own,
        point="shift",
        low="ci_low",
        high="ci_high",
        title="shift in P(judged as own ethnicity)",
    )
    if plot is not None:
        section.figures.append(
            {
                "plot": plot,
                "caption": "Paired within-speaker shift of P(judged as the speaker's own "
                "ethnicity): "
                "first language minus English, per ethnicity x language pair, with the "
                "speaker-bootstrap interval (0 = the language changes nothing)",
            }
        )
    section.tables.append(_headline_table(records, exports, unique, max_rows))


def _headline_table(
    records: Sequence[Mapping[str, Any]],
    exports: dict[str, list[dict[str, Any]]],
    unique: Callable[[str], str],
    max_rows: int,
) -> Any:
    """Return the compact view: headline outcomes per ethnicity x language pair (exported)."""
    compact = [
        item
        for outcome in (
            None,
            "agree_ethnicity",
            "cos_sim",
            "feature_shift",
            "feature_shift_relative",
            "feature_shift_excess",
        )
        for item in _cell_records(records, outcome)
    ]
    keep = (
        "group",
        "outcome",
        "n_speakers",
        "mean_a",
        "mean_b",
        "shift",
        "ci_low",
        "ci_high",
        "p_value",
        "p_adjusted",
        "significant",
    )
    rows = [{k: r.get(k) for k in keep} for _, r in compact]
    name = unique("language_swap_headline")
    exports[name] = rows
    return build_table(
        name,
        rows,
        max_rows=max_rows,
        indices=[i for i, _ in compact],
        source=LANGUAGE_SWAP_TABLE,
        caption="Headline outcomes per ethnicity x language pair (every grouping and outcome "
        "is in the export language_swap.csv)",
        estimates=(("shift", "ci_low", "ci_high"),),
    )


_PAIRS_NOTE = (
    " Below: the same speaker in the two languages, the true face beside the reconstruction "
    "from one utterance in each language (one speaker per ethnicity x language pair, drawn at "
    "random). feature_shift in the table is 1 - cosine between the speaker's mean predicted "
    "features in the two languages; feature_shift_relative divides it by the mean 1 - cosine "
    "between two different speakers (1: the language moves the prediction as far as another "
    "speaker would); feature_shift_excess subtracts the shift that randomly relabelling the "
    "speaker's utterances gives (0 when the language changes nothing beyond "
    "utterance-to-utterance variation)."
)


def _pair_face(loaded: LoadedAudit, folder: Any, i: int, pair: Any) -> dict[str, Any]:
    if not isinstance(pair, Mapping):
        raise AuditFormatError(
            f"{loaded.source}: artifacts.language_pairs[{i}] must be an object, "
            f"got {type(pair).__name__}"
        )
    a, b = str(pair.get("language_a", "?")), str(pair.get("language_b", "?"))
    images = [
        (caption, _embed_image(loaded.folder, folder, pair.get(key)))
        for key, caption in (
            ("true_face", "true face"),
            ("reconstruction_a", f"speaking {a}"),
            ("reconstruction_b", f"speaking {b}"),
        )
    ]
    who = str(pair.get("ethnicity") or "").strip()
    return {
        "label": f"{who + ' speaker, ' if who else ''}{a} vs {b}",
        "speaker": str(pair.get("speaker_id", "")),
        "images": images,
    }


def add_language_pair_faces(section: Any, loaded: LoadedAudit, include_faces: bool) -> None:
    """Show ``artifacts.language_pairs`` in the section: one speaker, two languages.

    Faces of the built-in population are shown; faces of real data only with
    ``include_faces`` (the rule of the report's samples). Images must lie inside the audit
    folder and are re-encoded.
    """
    artifacts = loaded.section("artifacts")
    pairs = artifacts.get("language_pairs") or []
    source = str(loaded.section("data").get("source", ""))
    if not pairs or loaded.folder is None:
        return
    if not (source.lower() in _text.BUILTIN_SOURCES or include_faces):
        return
    subdir = artifacts.get("samples_dir") or ""
    if not isinstance(subdir, str):
        raise AuditFormatError(f"{loaded.source}: artifacts.samples_dir must be a string")
    folder = loaded.folder / subdir
    section.faces = [_pair_face(loaded, folder, i, pair) for i, pair in enumerate(pairs)]
    section.intro = section.intro + _PAIRS_NOTE
