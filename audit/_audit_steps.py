"""The steps of `audit.run_audit_tables` after preparation, on one `AuditRun`.

`AuditRun` carries what every step shares (the table, the settings, the groupings, the
bootstrap, row weights, judged attributes and their labels); each step returns its tables:
`scalar_tables` (metrics and confusion), `craniofacial_table`, `pitch_table` and
`judge_error_tables`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from audit._audit_settings import AuditSettings
from audit._bootstrap import SpeakerBootstrap
from audit._correlation import pearson_spec, speaker_permutation_test
from audit._estimates import Reference
from audit._groups import Grouping, build_groupings
from audit._judge_error import judge_accuracy_specs, judge_corrected_confusion
from audit._metrics import MetricSpec, _labels_of, detect_measures, rate_spec
from audit._pitch import f0_bin_column
from audit._records import REFERENCE_COLUMNS
from audit._simultaneous import control_errors
from audit._tables import FAMILY_COLUMNS, adjust_families, metric_tables

__all__ = [
    "AuditRun",
    "control_audit_errors",
    "craniofacial_table",
    "judge_error_tables",
    "pitch_table",
]


@dataclass(frozen=True, kw_only=True)
class AuditRun:
    """One audit's prepared inputs, shared by the steps of `audit.run_audit_tables`.

    Attributes
    ----------
    table : DataFrame
        The evaluation table (index reset).
    settings : AuditSettings
        The audit's settings.
    seed : int
        Checked ``settings.random_state``.
    groupings : list of Grouping
        Every grouping of the audit (focus intersections included).
    questions : tuple of tuple of str
        Focus questions.
    boot : SpeakerBootstrap
        Bootstrap over the table's speakers.
    weights : ndarray, optional
        Row weights (``settings.sample_weight``).
    targets : list of str
        Judged attributes of the table.
    vocab : dict of str to list of str
        Label list of every judged attribute (those judged on reconstructions only too).
    """

    table: pd.DataFrame
    settings: AuditSettings
    seed: int
    groupings: list[Grouping]
    questions: tuple[tuple[str, ...], ...]
    boot: SpeakerBootstrap
    weights: np.ndarray | None
    targets: list[str]
    vocab: dict[str, list[str]]

    def metric_tables(
        self,
        specs: Sequence[MetricSpec],
        *,
        reference: Reference = None,
        confusion: Sequence[MetricSpec] = (),
        table: pd.DataFrame | None = None,
        groupings: Sequence[Grouping] | None = None,
    ) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Run `audit.stats.metric_tables` with this audit's bootstrap, weights and settings."""
        s = self.settings
        return metric_tables(
            self.table if table is None else table,
            specs,
            self.groupings if groupings is None else groupings,
            self.boot,
            confusion=confusion,
            reference=reference,
            ci_level=s.ci_level,
            ci_method=s.ci_method,
            min_group_size=s.min_group_size,
            correction=s.correction,
            weights=self.weights,
        )


def craniofacial_table(run: AuditRun) -> pd.DataFrame:
    """Pearson r of every craniofacial measure per group, with permutation p-values.

    Each group's correlations form one p-value family (``attribute``, ``group_label``).
    """
    table, s = run.table, run.settings
    specs = [pearson_spec(table, m) for m in detect_measures(table)]
    crani = run.metric_tables(specs)[0]
    if len(crani):
        _permutation_p_values(run, crani)
        crani = crani.drop(columns=list(REFERENCE_COLUMNS))
        adjust_families(crani, s.correction, 1 - s.ci_level, by=("attribute", "group_label"))
    return crani


def control_audit_errors(run: AuditRun, metrics: pd.DataFrame, crani: pd.DataFrame) -> None:
    """With ``error_control="audit"``, correct every test of the audit as one family."""
    s = run.settings
    if s.error_control != "audit":
        return
    tested = [(metrics, FAMILY_COLUMNS), (crani, ("attribute", "group_label"))]
    control_errors([(f, by) for f, by in tested if len(f)], s.correction, 1 - s.ci_level, "audit")


def pitch_table(run: AuditRun) -> pd.DataFrame:
    """Predicted-gender rates by F0 bin and recorded gender (empty without those columns)."""
    table, s = run.table, run.settings
    gender_target = "gender" if "gender" in run.vocab else None  # judged, face or not
    if (
        gender_target is None
        or "f0_median_hz" not in table.columns
        or s.pitch_gender_column not in table.columns
    ):
        return pd.DataFrame()
    derived = table.assign(f0_bin=f0_bin_column(table["f0_median_hz"], s.f0_bins))
    recon = _labels_of(derived[f"recon_{gender_target}"])
    valid = recon.notna().to_numpy()
    pitch_specs = [
        rate_spec(
            "predicted_rate",
            gender_target,
            (recon == lab).to_numpy(float),
            valid,
            label=lab,
            binary=True,
        )
        for lab in run.vocab[gender_target]
    ]
    pitch_groupings = build_groupings(
        derived, [("f0_bin", s.pitch_gender_column)], include_overall=False
    )
    pitch = run.metric_tables(pitch_specs, table=derived, groupings=pitch_groupings)[0]
    return pitch.drop(columns=[*REFERENCE_COLUMNS, "p_value", "p_adjusted"])


def judge_error_tables(run: AuditRun) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Judge accuracy per group and the judge-corrected confusion (`audit._judge_error`).

    Only for judged attributes with a recorded column whose labels the judge knows.
    """
    table, vocab, s = run.table, run.vocab, run.settings
    known = [
        t
        for t in run.targets
        if t in table.columns and set(_labels_of(table[t]).dropna()) <= set(vocab[t])
    ]
    specs = judge_accuracy_specs(table, known)
    accuracy = pd.DataFrame()
    if specs:
        accuracy = run.metric_tables(specs)[0]
        accuracy = accuracy.drop(columns=[*REFERENCE_COLUMNS, "p_value", "p_adjusted"])
    parts = [
        judge_corrected_confusion(
            table, t, vocab[t], run.groupings, run.boot, s.ci_level, s.min_group_size
        )
        for t in known
    ]
    corrected = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    return accuracy, corrected


def _permutation_p_values(run: AuditRun, crani: pd.DataFrame) -> None:
    """Fill ``p_value``, ``r_speaker`` and ``null_abs_r`` of the craniofacial table in place."""
    table, boot = run.table, run.boot
    by_attr = {g.attribute: (gi, g) for gi, g in enumerate(run.groupings)}
    measures = list(dict.fromkeys(crani["target"]))
    pairs = {
        m: (
            pd.to_numeric(table[f"true_{m}"], errors="coerce").to_numpy(float),
            pd.to_numeric(table[f"recon_{m}"], errors="coerce").to_numpy(float),
        )
        for m in measures
    }
    out = np.full((len(crani), 3), np.nan)
    rows = zip(
        crani["attribute"], crani["group"], crani["target"], crani["n_utterances"], strict=True
    )
    for i, (attribute, group, measure, n_utt) in enumerate(rows):
        if n_utt == 0:
            continue
        gi, grouping = by_attr[attribute]
        g = grouping.find(group) if grouping.columns else 0
        mask = grouping.codes == g
        x, y = pairs[measure]
        rng = np.random.default_rng(
            np.random.SeedSequence(run.seed, spawn_key=(1, gi, int(g), measures.index(measure)))
        )
        out[i] = speaker_permutation_test(
            x[mask], y[mask], boot.speaker_codes[mask], run.settings.n_permutations, rng
        )
    crani["p_value"] = out[:, 0]
    crani["r_speaker"] = out[:, 1]
    crani["null_abs_r"] = out[:, 2]
