"""`run_audit_tables`: the evaluation table in, every audit table out."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from audit._audit_settings import DEFAULT_GROUPING_COLUMNS, DEFAULT_MIN_GROUP_SIZE, AuditSettings
from audit._audit_steps import (
    AuditRun,
    control_audit_errors,
    craniofacial_table,
    judge_error_tables,
    pitch_table,
)
from audit._bootstrap import SpeakerBootstrap, check_random_state
from audit._focus import (
    DEFAULT_FOCUS,
    check_focus,
    focus_metric_of,
    focus_tables,
    summary_findings,
)
from audit._groups import Grouping, _is_missing, build_groupings
from audit._input_length_metrics import input_length_specs
from audit._labels import detect_recorded_targets, recorded_labels
from audit._metrics import (
    MetricSpec,
    agreement_specs,
    calibration_specs,
    confusion_spec,
    detect_targets,
    label_vocabulary,
    retrieval_specs,
    similarity_specs,
)
from audit._records import record_fields
from audit.exceptions import AuditInputError, SmallGroupWarning

__all__ = [
    "DEFAULT_GROUPING_COLUMNS",
    "DEFAULT_MIN_GROUP_SIZE",
    "TABLE_NAMES",
    "AuditSettings",
    "build_metric_specs",
    "check_evaluation_table",
    "default_groupings",
    "run_audit_tables",
]

#: Tables returned by `run_audit_tables`, in order.
TABLE_NAMES: tuple[str, ...] = (
    "groups",
    "metrics",
    "confusion",
    "craniofacial",
    "pitch",
    "focus",
    "focus_groups",
    "summary",
    "judge_accuracy_by_group",
    "confusion_judge_corrected",
)


def check_evaluation_table(table: pd.DataFrame) -> None:
    """Raise `AuditInputError` unless ``table`` has unique utterance ids and speaker ids."""
    if not isinstance(table, pd.DataFrame):
        raise AuditInputError(f"the evaluation table must be a DataFrame, got {type(table)}")
    for col in ("utterance_id", "speaker_id"):
        if col not in table.columns:
            raise AuditInputError(f"the evaluation table has no {col!r} column")
        missing = table[col].isna().to_numpy()
        if missing.any():
            raise AuditInputError(f"{col!r} is missing in row {int(np.flatnonzero(missing)[0])}")
    dup = table["utterance_id"].duplicated().to_numpy()
    if dup.any():
        row = int(np.flatnonzero(dup)[0])
        raise AuditInputError(
            f"utterance_id {str(table['utterance_id'].iloc[row])!r} occurs twice (row {row})"
        )
    if len(table) == 0:
        raise AuditInputError("the evaluation table has no rows")


def _groups_table(
    groupings: Sequence[Grouping], boot: SpeakerBootstrap, min_group_size: int
) -> pd.DataFrame:
    rows = []
    for grouping in groupings:
        n_utt = np.bincount(grouping.codes, minlength=grouping.n_groups)
        pairs = np.unique(boot.speaker_codes * grouping.n_groups + grouping.codes)
        n_spk = np.bincount(pairs % grouping.n_groups, minlength=grouping.n_groups)
        for g, (group, label) in enumerate(zip(grouping.groups, grouping.labels(), strict=True)):
            if n_utt[g] == 0:
                flags = ["empty"]
            elif n_spk[g] < min_group_size:
                flags = ["insufficient_data"]
            else:
                flags = []
            rows.append(
                {
                    "attribute": grouping.attribute,
                    "group": dict(group),
                    "group_label": label,
                    "n_utterances": int(n_utt[g]),
                    "n_speakers": int(n_spk[g]),
                    "flags": flags,
                }
            )
    return pd.DataFrame(
        rows, columns=["attribute", "group", "group_label", "n_utterances", "n_speakers", "flags"]
    )


def _weights(table: pd.DataFrame, sample_weight: str | None) -> np.ndarray | None:
    if sample_weight is None:
        return None
    if sample_weight not in table.columns:
        raise AuditInputError(f"sample_weight column {sample_weight!r} is not in the table")
    return pd.to_numeric(table[sample_weight], errors="coerce").to_numpy(dtype=float)


def build_metric_specs(
    table: pd.DataFrame,
    *,
    labels: Mapping[str, Sequence[str]] | None = None,
    retrieval_ks: Sequence[int] = (1, 2, 5, 10),
    calibration_bins: int = 10,
) -> tuple[list[MetricSpec], list[MetricSpec]]:
    """Scalar metric specs and confusion specs for every measurement column present.

    Parameters
    ----------
    table : DataFrame
        Evaluation table.
    labels : mapping, optional
        Full label list per judged attribute.
    retrieval_ks : sequence of int
        K of recall@K.
    calibration_bins : int
        Bins of the expected calibration error.

    Returns
    -------
    specs : list of MetricSpec
        Agreement, kappa, macro and per-class recall (and their ``upper_`` versions; for
        attributes judged on reconstructions only, their ``recorded_`` versions against the
        speaker's recorded value),
        recall@K, feature similarity, the input-length metrics (target ``input_length``:
        similarity and recall@K per input duration and their paired differences), ECE.
    confusions : list of MetricSpec
        Confusion counts (reconstruction and upper bound) per judged attribute.
    """
    targets = detect_targets(table)
    vocab = {t: label_vocabulary(table, t, (labels or {}).get(t)) for t in targets}
    # A judged attribute with no label at all (every judgement missing) is not measured.
    targets = [t for t in targets if vocab[t]]
    specs: list[MetricSpec] = []
    confusions: list[MetricSpec] = []
    for target in targets:
        specs += agreement_specs(table, target, vocab[target])
        confusions.append(confusion_spec(table, target, vocab[target]))
        if f"upper_{target}" in table.columns:
            specs += agreement_specs(table, target, vocab[target], source="upper")
            confusions.append(confusion_spec(table, target, vocab[target], source="upper"))
    for target in detect_recorded_targets(table):  # no face images: the recorded value
        target_labels = label_vocabulary(table, target, (labels or {}).get(target))
        # not measured when no speaker's recorded value is one the judge can output
        if target_labels and recorded_labels(table, target, target_labels).notna().any():
            specs += agreement_specs(table, target, target_labels, source="recorded")
            confusions.append(confusion_spec(table, target, target_labels, source="recorded"))
    specs += retrieval_specs(table, retrieval_ks)
    specs += similarity_specs(table)
    specs += input_length_specs(table, retrieval_ks)
    specs += calibration_specs(table, targets, vocab, calibration_bins)
    return specs, confusions


def run_audit_tables(
    evaluation_table: pd.DataFrame, settings: AuditSettings | None = None, **options: Any
) -> dict[str, pd.DataFrame]:
    """Compute every audit table from a per-utterance evaluation table.

    Parameters
    ----------
    evaluation_table : DataFrame
        One row per utterance: ``utterance_id``, ``speaker_id``, grouping columns and the
        measurement columns (``true_<t>`` / ``recon_<t>`` / ``upper_<t>`` judge labels,
        ``recon_<t>_p_<label>`` probabilities, ``cos_sim``, ``l1``, ``l2``,
        ``retrieval_rank``, ``gallery_size``, per input duration ``cos_sim_<d>s``, ``l1_<d>s``,
        ``l2_<d>s``, ``retrieval_rank_<d>s`` and ``speech_seconds_<d>s``, ``true_<m>`` /
        ``recon_<m>`` craniofacial measures, ``f0_median_hz``). Metrics whose columns are
        absent are skipped.
    settings : AuditSettings, optional
        Every setting in one object (default: `AuditSettings` defaults).
    **options
        Any field of `AuditSettings` as a keyword (``groupings``, ``max_order``,
        ``reference``, ``n_boot``, ``ci_level``, ``ci_method``, ``min_group_size``,
        ``correction``, ``error_control``, ``focus``, ``random_state``, ``labels``,
        ``retrieval_ks``, ``f0_bins``, ``pitch_gender_column``, ``n_permutations``,
        ``calibration_bins``, ``sample_weight``, ``n_jobs``); it replaces that field of
        ``settings``. `AuditSettings` documents each one.

    Returns
    -------
    dict of str to DataFrame
        The tables of `TABLE_NAMES`: ``groups`` (every group with its counts and flags),
        ``metrics`` (agreement, kappa, macro and per-class recall, their ``upper_`` rows,
        recall@K with chance, feature similarity, input-length rows with target
        ``input_length``, ECE), ``confusion`` (row-normalised confusion matrices),
        ``craniofacial`` (Pearson r with permutation p-values), ``pitch`` (predicted-label
        rates by F0 bin and gender), the focus tables and the judge-error tables.

    Examples
    --------
    >>> from audit import make_evaluation_table
    >>> table = make_evaluation_table(40, 3)
    >>> tables = run_audit_tables(table, groupings=["gender"], n_boot=50, min_group_size=5)
    >>> sorted(tables)  # doctest: +NORMALIZE_WHITESPACE
    ['confusion', 'confusion_judge_corrected', 'craniofacial', 'focus', 'focus_groups',
     'groups', 'judge_accuracy_by_group', 'metrics', 'pitch', 'summary']
    """
    run = _prepare_run(evaluation_table, AuditSettings.from_options(settings, **options))
    specs, confusions = build_metric_specs(
        run.table,
        labels=run.settings.labels,
        retrieval_ks=run.settings.retrieval_ks,
        calibration_bins=run.settings.calibration_bins,
    )
    metrics, confusion = run.metric_tables(
        specs, confusion=confusions, reference=run.settings.reference
    )
    metrics = _drop_impossible_recalls(metrics)
    crani = craniofacial_table(run)
    control_audit_errors(run, metrics, crani)
    pitch = pitch_table(run)
    judge_acc, corrected = judge_error_tables(run)
    groups = _groups_table(run.groupings, run.boot, run.settings.min_group_size)
    _warn_small_groups(groups, run.settings.min_group_size)
    focus_q, focus_g = focus_tables(metrics, run.questions, focus_metric_of(metrics))
    return {
        "groups": groups,
        "metrics": record_fields(metrics, specs),
        "confusion": confusion,
        "craniofacial": crani,
        "pitch": pitch,
        "focus": focus_q,
        "focus_groups": focus_g,
        "summary": summary_findings(metrics, focus_g),
        "judge_accuracy_by_group": judge_acc,
        "confusion_judge_corrected": corrected,
    }


def _prepare_run(evaluation_table: pd.DataFrame, settings: AuditSettings) -> AuditRun:
    """Check the table and settings; build the groupings, the bootstrap and the weights."""
    check_evaluation_table(evaluation_table)
    table = evaluation_table.reset_index(drop=True)
    seed = check_random_state(settings.random_state)
    settings.check_choices()
    groupings = settings.groupings
    if groupings is None:
        groupings = default_groupings(table)
    grouping_columns = {c for g in groupings for c in ([g] if isinstance(g, str) else g)}
    questions = resolve_focus(table, settings.focus, grouping_columns)
    grouping_list = build_groupings(table, groupings, settings.max_order)
    have = {frozenset(g.columns) for g in grouping_list}
    extra = [q for q in questions if frozenset(q) not in have]
    if extra:  # focus intersections are always computed
        grouping_list = build_groupings(table, [*groupings, *extra], settings.max_order)
    boot = SpeakerBootstrap(
        table["speaker_id"].to_numpy(), settings.n_boot, seed, n_jobs=settings.n_jobs
    )
    weights = _weights(table, settings.sample_weight)
    targets = detect_targets(table)
    labels = settings.labels or {}
    return AuditRun(
        table=table,
        settings=settings,
        seed=seed,
        groupings=grouping_list,
        questions=questions,
        boot=boot,
        weights=weights,
        targets=targets,
        vocab={
            t: label_vocabulary(table, t, labels.get(t))
            for t in [*targets, *detect_recorded_targets(table)]
        },
    )


def default_groupings(table: pd.DataFrame) -> list[str]:
    """`DEFAULT_GROUPING_COLUMNS` that split the table: two or more recorded values.

    A column with no value at all (Common Voice's ethnicity, say) is an attribute the data
    does not record, and one with a single value (a one-language set) a group equal to the
    whole table: grouping by either repeats every row under a second name.
    """
    out = []
    for column in DEFAULT_GROUPING_COLUMNS:
        if column in table.columns:
            values = table[column][~_is_missing(table[column])]
            if values.astype(str).nunique() >= 2:
                out.append(column)
    return out


def _drop_impossible_recalls(metrics: pd.DataFrame) -> pd.DataFrame:
    """Drop ``recorded_recall`` of label L in groups recorded as another value than L.

    Against the recorded attribute, speakers recorded "male" hold no speaker recorded
    "female", so that recall is empty by construction; kept, it would list "gender=male"
    among the empty groups.
    """
    if not len(metrics):
        return metrics
    impossible = [
        m == "recorded_recall" and isinstance(g, Mapping) and t in g and g[t] != lab
        for m, g, t, lab in zip(
            metrics["metric"], metrics["group"], metrics["target"], metrics["label"], strict=True
        )
    ]
    return metrics[~np.asarray(impossible, dtype=bool)].reset_index(drop=True)


def _warn_small_groups(groups: pd.DataFrame, min_group_size: int) -> None:
    """Warn `SmallGroupWarning` (at the caller of `run_audit_tables`) about small groups."""
    small = groups[groups["flags"].map(lambda f: "insufficient_data" in f)]
    if len(small):
        warnings.warn(
            f"{len(small)} group(s) have fewer than {min_group_size} speakers and are flagged "
            f"insufficient_data, e.g. {small['group_label'].iloc[0]!r} with "
            f"{small['n_speakers'].iloc[0]} speaker(s)",
            SmallGroupWarning,
            stacklevel=3,
        )


def resolve_focus(
    table: pd.DataFrame, focus: Sequence[Sequence[str]] | None, columns: set[str]
) -> tuple[tuple[str, ...], ...]:
    """Focus questions of an audit: checked explicit ones, or the default ones.

    The default questions are those whose columns are all grouping ``columns`` of the
    audit (so ``groupings=["gender"]`` asks none); explicit ones must be table columns.
    """
    if focus is None:
        return tuple(q for q in DEFAULT_FOCUS if all(c in columns for c in q))
    questions = check_focus(focus)
    for question in questions:
        missing = [c for c in question if c not in table.columns]
        if missing:
            raise AuditInputError(
                f"focus question {' x '.join(question)!r} needs column(s) {missing} that the "
                f"evaluation table lacks; columns are {sorted(map(str, table.columns))}"
            )
    return questions
