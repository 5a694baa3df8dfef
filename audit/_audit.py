"""`run_audit_tables`: the evaluation table in, every audit table out."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
import pandas as pd

from audit._bootstrap import CI_METHODS, SpeakerBootstrap, check_random_state
from audit._correlation import pearson_spec, speaker_permutation_test
from audit._focus import DEFAULT_FOCUS, check_focus, focus_tables, summary_findings
from audit._groups import Grouping, build_groupings
from audit._input_length_metrics import input_length_specs
from audit._judge_error import judge_accuracy_specs, judge_corrected_confusion
from audit._metrics import (
    MetricSpec,
    _labels_of,
    agreement_specs,
    calibration_specs,
    confusion_spec,
    detect_measures,
    detect_targets,
    label_vocabulary,
    rate_spec,
    retrieval_specs,
    similarity_specs,
)
from audit._multitest import CORRECTIONS
from audit._pitch import DEFAULT_F0_BINS, f0_bin_column
from audit._records import record_fields
from audit._simultaneous import ERROR_CONTROLS, ErrorControl, control_errors
from audit._tables import FAMILY_COLUMNS, Reference, adjust_families, metric_tables
from audit.exceptions import AuditInputError, SmallGroupWarning

__all__ = [
    "DEFAULT_GROUPING_COLUMNS",
    "DEFAULT_MIN_GROUP_SIZE",
    "TABLE_NAMES",
    "build_metric_specs",
    "check_evaluation_table",
    "run_audit_tables",
]

#: Manifest columns grouped by default (those present in the table).
DEFAULT_GROUPING_COLUMNS: tuple[str, ...] = (
    "language",
    "accent",
    "gender",
    "age_group",
    "ethnicity",
)
#: Default minimum number of speakers per group. The plain percentile speaker bootstrap
#: covers 92% at 10 speakers and 80% at 5 (REFERENCE.md section 4); the expanded interval
#: used here is near nominal from 5 speakers on (docs/metrics.md), but a disparity between
#: groups of fewer than 10 speakers is too noisy to act on, so smaller groups are flagged.
DEFAULT_MIN_GROUP_SIZE = 10
#: Disparity columns of a metric record; tables without a reference drop them.
_REFERENCE_COLUMNS: tuple[str, ...] = (
    "reference",
    "reference_value",
    "difference",
    "diff_ci_low",
    "diff_ci_high",
    "ratio",
    "ratio_ci_low",
    "ratio_ci_high",
)
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
        Agreement, kappa, macro and per-class recall (and their ``upper_`` versions),
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
    specs += retrieval_specs(table, retrieval_ks)
    specs += similarity_specs(table)
    specs += input_length_specs(table, retrieval_ks)
    specs += calibration_specs(table, targets, vocab, calibration_bins)
    return specs, confusions


def run_audit_tables(
    evaluation_table: pd.DataFrame,
    *,
    groupings: Sequence[str | Sequence[str]] | None = None,
    max_order: int = 2,
    reference: Reference = "overall",
    n_boot: int = 1000,
    ci_level: float = 0.95,
    ci_method: Literal["expanded", "percentile"] = "expanded",
    min_group_size: int = DEFAULT_MIN_GROUP_SIZE,
    correction: Literal["holm", "bh", "none"] = "holm",
    error_control: ErrorControl = "family",
    focus: Sequence[Sequence[str]] | None = None,
    random_state: int = 0,
    labels: Mapping[str, Sequence[str]] | None = None,
    retrieval_ks: Sequence[int] = (1, 2, 5, 10),
    f0_bins: Sequence[float] = DEFAULT_F0_BINS,
    pitch_gender_column: str = "gender",
    n_permutations: int = 1000,
    calibration_bins: int = 10,
    sample_weight: str | None = None,
    n_jobs: int = 1,
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
    groupings : sequence, optional
        Grouping columns (strings) and explicit intersections (sequences); by default the
        columns of `DEFAULT_GROUPING_COLUMNS` present in the table.
    max_order : int
        Largest automatic intersection order.
    reference : {"overall", "best"} or mapping
        Reference of the disparities: the whole table, the best group of each grouping, or
        a named group such as ``{"gender": "male"}`` (groupings without those columns use
        ``"overall"``).
    n_boot : int
        Bootstrap replicates.
    ci_level : float
        Confidence level of every interval; ``1 - ci_level`` is the significance level.
    ci_method : {"expanded", "percentile"}
        Interval method (see `audit.bootstrap_interval`).
    min_group_size : int
        Minimum speakers per group (default `DEFAULT_MIN_GROUP_SIZE`).
    correction : {"holm", "bh", "none"}
        Multiple-testing correction per metric family.
    error_control : {"family", "audit"}
        Scope of the correction: each family (one metric of one target and label; the
        craniofacial correlations of one group) on its own, or every test of the audit as
        one family (controls the chance of any false flag in the whole audit).
    focus : sequence of tuple of str, optional
        Focus questions: the intersections the audit is for; they are always computed and
        answered in the tables ``focus`` (one verdict per question), ``focus_groups`` (one
        per group) and ``summary`` (the executive summary's findings). Default
        `audit.DEFAULT_FOCUS` (language x ethnicity, gender x age group), those of its
        questions whose columns are all grouping columns of the audit (all of them with the
        default groupings); ``()`` asks none. An explicit question is always computed; one
        whose column the table lacks raises.
    random_state : int
        Seed of the bootstrap and permutations.
    labels : mapping, optional
        Full label list per judged attribute (default: every label seen).
    retrieval_ks : sequence of int
        K of recall@K.
    f0_bins : sequence of float
        F0 bin edges (Hz) of the pitch table.
    pitch_gender_column : str
        Gender column of the pitch table (the recorded gender by default).
    n_permutations : int
        Shuffles of the craniofacial permutation test.
    calibration_bins : int
        Bins of the expected calibration error.
    sample_weight : str, optional
        Column of row weights (e.g. from `audit.raking_weights`): every metric becomes its
        weighted version, with ``weight_sum`` and Kish's ``effective_n`` beside it.
    n_jobs : int
        Bootstrap threads (results do not depend on it).

    Returns
    -------
    dict of str to DataFrame
        ``groups`` (every group with its counts and flags), ``metrics`` (agreement,
        kappa, macro and per-class recall, their ``upper_`` rows, recall@K with chance,
        feature similarity, input-length rows with target ``input_length``, ECE),
        ``confusion`` (row-normalised confusion matrices),
        ``craniofacial`` (Pearson r with permutation p-values), ``pitch`` (predicted-label
        rates by F0 bin and gender).

    Examples
    --------
    >>> from audit import make_evaluation_table
    >>> table = make_evaluation_table(40, 3)
    >>> tables = run_audit_tables(table, groupings=["gender"], n_boot=50, min_group_size=5)
    >>> sorted(tables)  # doctest: +NORMALIZE_WHITESPACE
    ['confusion', 'confusion_judge_corrected', 'craniofacial', 'focus', 'focus_groups',
     'groups', 'judge_accuracy_by_group', 'metrics', 'pitch', 'summary']
    """
    check_evaluation_table(evaluation_table)
    table = evaluation_table.reset_index(drop=True)
    seed = check_random_state(random_state)
    if ci_method not in CI_METHODS:
        raise AuditInputError(f"ci_method must be one of {CI_METHODS}, got {ci_method!r}")
    if correction not in CORRECTIONS:
        raise AuditInputError(f"correction must be one of {CORRECTIONS}, got {correction!r}")
    if error_control not in ERROR_CONTROLS:
        raise AuditInputError(
            f"error_control must be one of {ERROR_CONTROLS}, got {error_control!r}"
        )
    if groupings is None:
        groupings = [c for c in DEFAULT_GROUPING_COLUMNS if c in table.columns]
    grouping_columns = {c for g in groupings for c in ([g] if isinstance(g, str) else g)}
    questions = resolve_focus(table, focus, grouping_columns)
    grouping_list = build_groupings(table, groupings, max_order)
    have = {frozenset(g.columns) for g in grouping_list}
    extra = [q for q in questions if frozenset(q) not in have]
    if extra:  # focus intersections are always computed
        grouping_list = build_groupings(table, [*groupings, *extra], max_order)
    boot = SpeakerBootstrap(table["speaker_id"].to_numpy(), n_boot, seed, n_jobs=n_jobs)
    options = {
        "ci_level": ci_level,
        "ci_method": ci_method,
        "min_group_size": min_group_size,
        "correction": correction,
    }

    weights = _weights(table, sample_weight)
    options["weights"] = weights
    targets = detect_targets(table)
    vocab = {t: label_vocabulary(table, t, (labels or {}).get(t)) for t in targets}
    specs, confusions = build_metric_specs(
        table, labels=labels, retrieval_ks=retrieval_ks, calibration_bins=calibration_bins
    )
    metrics, confusion = metric_tables(
        table, specs, grouping_list, boot, confusion=confusions, reference=reference, **options
    )

    measures = detect_measures(table)
    crani = metric_tables(
        table,
        [pearson_spec(table, m) for m in measures],
        grouping_list,
        boot,
        reference=None,
        **options,
    )[0]
    if len(crani):
        _permutation_p_values(table, crani, grouping_list, boot, n_permutations, seed)
        crani = crani.drop(columns=list(_REFERENCE_COLUMNS))
        adjust_families(crani, correction, 1 - ci_level, by=("attribute", "group_label"))
    if error_control == "audit":
        tested = [(metrics, FAMILY_COLUMNS), (crani, ("attribute", "group_label"))]
        control_errors([(f, by) for f, by in tested if len(f)], correction, 1 - ci_level, "audit")

    pitch = pd.DataFrame()
    gender_target = "gender" if "gender" in targets else None
    if (
        gender_target is not None
        and "f0_median_hz" in table.columns
        and pitch_gender_column in table.columns
    ):
        derived = table.assign(f0_bin=f0_bin_column(table["f0_median_hz"], f0_bins))
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
            for lab in vocab[gender_target]
        ]
        pitch_groupings = build_groupings(
            derived, [("f0_bin", pitch_gender_column)], include_overall=False
        )
        pitch = metric_tables(
            derived, pitch_specs, pitch_groupings, boot, reference=None, **options
        )[0]
        pitch = pitch.drop(columns=[*_REFERENCE_COLUMNS, "p_value", "p_adjusted"])

    judge_acc, corrected = _judge_error_tables(
        table, targets, vocab, grouping_list, boot, options, ci_level, min_group_size
    )
    groups = _groups_table(grouping_list, boot, min_group_size)
    small = groups[groups["flags"].map(lambda f: "insufficient_data" in f)]
    if len(small):
        warnings.warn(
            f"{len(small)} group(s) have fewer than {min_group_size} speakers and are flagged "
            f"insufficient_data, e.g. {small['group_label'].iloc[0]!r} with "
            f"{small['n_speakers'].iloc[0]} speaker(s)",
            SmallGroupWarning,
            stacklevel=2,
        )
    focus_q, focus_g = focus_tables(metrics, questions)
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


def _judge_error_tables(
    table: pd.DataFrame,
    targets: Sequence[str],
    vocab: Mapping[str, Sequence[str]],
    groupings: Sequence[Grouping],
    boot: SpeakerBootstrap,
    options: Mapping[str, object],
    ci_level: float,
    min_group_size: int,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Judge accuracy per group and the judge-corrected confusion (`audit._judge_error`).

    Only for judged attributes with a recorded column whose labels the judge knows.
    """
    known = [
        t
        for t in targets
        if t in table.columns and set(_labels_of(table[t]).dropna()) <= set(vocab[t])
    ]
    specs = judge_accuracy_specs(table, known)
    accuracy = pd.DataFrame()
    if specs:
        accuracy = metric_tables(table, specs, groupings, boot, reference=None, **options)[0]
        accuracy = accuracy.drop(columns=[*_REFERENCE_COLUMNS, "p_value", "p_adjusted"])
    parts = [
        judge_corrected_confusion(table, t, vocab[t], groupings, boot, ci_level, min_group_size)
        for t in known
    ]
    corrected = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
    return accuracy, corrected


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


def _permutation_p_values(
    table: pd.DataFrame,
    crani: pd.DataFrame,
    groupings: Sequence[Grouping],
    boot: SpeakerBootstrap,
    n_permutations: int,
    seed: int,
) -> None:
    """Fill ``p_value``, ``r_speaker`` and ``null_abs_r`` of the craniofacial table in place."""
    by_attr = {g.attribute: (gi, g) for gi, g in enumerate(groupings)}
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
            np.random.SeedSequence(seed, spawn_key=(1, gi, int(g), measures.index(measure)))
        )
        out[i] = speaker_permutation_test(
            x[mask], y[mask], boot.speaker_codes[mask], n_permutations, rng
        )
    crani["p_value"] = out[:, 0]
    crani["r_speaker"] = out[:, 1]
    crani["null_abs_r"] = out[:, 2]
