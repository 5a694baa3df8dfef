"""Wording of the report: metric names, numbers with intervals, findings as sentences."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from reports import _text
from reports._tables import NO_INTERVAL, fmt_number, group_label, has_flag

__all__ = [
    "ci_label_of",
    "error_control_text",
    "finding_text",
    "finite",
    "is_proportion",
    "key_values",
    "metric_name",
    "p_text",
    "pct",
    "subject",
]

#: Words of a metric name that make it a proportion (shown in %).
_PROPORTION_WORDS = ("rate", "agreement", "recall", "accuracy", "share", "precision")
#: Targets that are not a judged attribute (metric names stand alone).
_UNTARGETED = frozenset({"feature", "retrieval", "input_length"})


def is_proportion(metric: Any) -> bool:
    """Whether a metric name denotes a proportion (shown in %)."""
    return isinstance(metric, str) and any(w in metric.lower() for w in _PROPORTION_WORDS)


def metric_name(metric: Any, target: Any = None, label: Any = None) -> str:
    """Readable description of a metric of a judged attribute (target) and label.

    Examples
    --------
    >>> metric_name("recall", "ethnicity", "Asian")
    'reconstructions judged Asian among true-Asian faces (ethnicity recall)'
    >>> metric_name("agreement", "gender")
    'gender agreement'
    >>> metric_name("recorded_agreement", "gender")
    'gender agreement with the recorded value'
    """
    if not isinstance(metric, str):
        return "value"
    upper, recorded = metric.startswith("upper_"), metric.startswith("recorded_")
    base = metric.removeprefix("upper_").removeprefix("recorded_")
    target = target if isinstance(target, str) and target not in _UNTARGETED else ""
    label = label if isinstance(label, str) else ""
    if base == "recall" and label:
        among = f"speakers recorded {label}" if recorded else f"true-{label} faces"
        text = f"reconstructions judged {label} among {among} ({target} recall)".replace(
            " ( recall)", " (recall)"
        )
    elif base == "predicted_rate" and label:
        text = f"reconstructions judged {label}" + (f" ({target})" if target else "")
    elif base == "kappa":
        text = f"Cohen's kappa for {target}" if target else "Cohen's kappa"
    elif base == "ece":
        text = "judge calibration error (ECE)" + (f" for {target}" if target else "")
        text += f" {label}" if label else ""
    elif base == "pearson_r":
        text = f"Pearson r of {target}" if target else "Pearson r"
    else:
        readable = _text.METRIC_NAMES.get(base, base.replace("_", " "))
        text = f"{target} {readable}" if target else readable
    if recorded and base != "recall":
        text += " with the recorded value" if target else ""
    return f"upper bound: {text}" if upper else text


def finite(value: Any) -> bool:
    """Whether a value is a finite number (bools are not numbers here)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def pct(value: Any, proportion: bool, points: bool = False) -> str:
    """Format a value in % (or points) for proportions, else with 3 decimals."""
    if not finite(value):
        return "—"
    if proportion:
        return f"{100 * value:+.1f} points" if points else f"{100 * value:.1f}%"
    return f"{value:+.3f}" if points else f"{value:.3f}"


def p_text(value: Any) -> str:
    """Format a p-value (``< 0.001`` below 0.001)."""
    if not finite(value):
        return "—"
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def subject(record: Mapping[str, Any]) -> str:
    """Return the group a record is about: its ``group_label``, else its ``group``'s label."""
    label = record.get("group_label")
    return label if isinstance(label, str) else group_label(record.get("group"))


def _interval(
    record: Mapping[str, Any],
    low: str,
    high: str,
    ci_label: str,
    proportion: bool,
    points: bool = False,
) -> str:
    """``95% CI a to b``; for a ``degenerate_ci`` record without bounds, says there is none."""
    lo, hi = record.get(low), record.get(high)
    if not (finite(lo) or finite(hi)) and has_flag(record, "degenerate_ci"):
        return NO_INTERVAL
    return f"{ci_label} CI {pct(lo, proportion, points)} to {pct(hi, proportion, points)}"


def finding_text(record: Mapping[str, Any], ci_label: str) -> str:
    """Write one finding as a plain-language sentence with its numbers."""
    prop = is_proportion(record.get("metric"))
    what = metric_name(record.get("metric"), record.get("target"), record.get("label"))
    parts = [
        f"{subject(record)}: {what} {pct(record.get('value'), prop)}",
        f" ({_interval(record, 'ci_low', 'ci_high', ci_label, prop)}, "
        f"n = {record.get('n_utterances', '—')} utterances"
        f" from {record.get('n_speakers', '—')} speakers)",
    ]
    reference = record.get("reference")
    reference = group_label(reference) if isinstance(reference, Mapping) else reference
    where = "overall" if reference == "overall" else f"for {reference}"
    if finite(record.get("reference_value")):
        parts.append(f" versus {pct(record['reference_value'], prop)} {where}")
    elif reference:
        parts.append(f" versus {reference}")
    if finite(record.get("difference")):
        # a tested difference shows its family's simultaneous interval, which agrees with
        # the adjusted p; the unadjusted one is in the exports
        sim = finite(record.get("diff_sim_low")) or finite(record.get("diff_sim_high"))
        low, high = ("diff_sim_low", "diff_sim_high") if sim else ("diff_ci_low", "diff_ci_high")
        label = f"{ci_label} simultaneous" if sim else ci_label
        parts.append(
            f"; difference {pct(record['difference'], prop, points=True)} "
            f"({_interval(record, low, high, label, prop, True)})"
        )
    if finite(record.get("ratio")):
        parts.append(f", ratio {record['ratio']:.2f}")
    if finite(record.get("p_adjusted")):
        parts.append(f", adjusted p {p_text(record['p_adjusted'])}")
    elif finite(record.get("p_value")):
        parts.append(f", p {p_text(record['p_value'])}")
    return "".join(parts) + "."


def ci_label_of(settings: Mapping[str, Any]) -> str:
    """``95%``-style label of the audit's confidence level."""
    level = settings.get("ci_level", 0.95)
    return f"{100 * level:g}%" if finite(level) else "95%"


_CORRECTION_NAMES = {
    "holm": "Holm (family-wise error)",
    "bh": "Benjamini-Hochberg (false discovery rate)",
    "none": "no correction",
}


def error_control_text(settings: Mapping[str, Any], ci_label: str) -> str:
    """Say which correction was used, over which scope, and what the intervals mean.

    Examples
    --------
    >>> text = error_control_text({"correction": "holm", "error_control": "audit"}, "95%")
    >>> text.startswith("Multiple comparisons: Holm (family-wise error) over every test")
    True
    """
    correction = settings.get("correction", "holm")
    name = _CORRECTION_NAMES.get(str(correction), str(correction))
    scope = settings.get("error_control")
    if scope == "audit":
        where = "over every test of this audit as one family (audit-wide error control)"
    elif scope == "family":
        where = (
            "within each family (one metric of one attribute and label, over all groups); "
            "the audit as a whole is not controlled (error_control='audit' does that)"
        )
    else:
        where = "within each family (this audit does not record the scope: per family assumed)"
    return (
        f"Multiple comparisons: {name} {where}. The interval of a tested difference is "
        f"the {ci_label} simultaneous interval of its family, so it excludes 0 exactly when "
        "the adjusted p is significant; the unadjusted intervals are in the exports "
        "(diff_ci_low, diff_ci_high)."
    )


def key_values(mapping: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(key, text) pairs of a provenance mapping, for the key-value tables."""
    out = []
    for key, value in mapping.items():
        if isinstance(value, Mapping):
            text = ", ".join(f"{k}: {v}" for k, v in value.items())
        elif isinstance(value, list | tuple):
            text = ", ".join(" x ".join(v) if isinstance(v, list) else str(v) for v in value)
        elif value is None:
            text = "—"
        else:
            text = fmt_number(value) if finite(value) and not isinstance(value, int) else str(value)
        out.append((str(key), text))
    return out
