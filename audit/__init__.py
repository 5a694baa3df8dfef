"""Stratified, intersectional fairness audit of voice-to-face models.

Tables in, tables out: tidy pandas DataFrames with ``n``, confidence intervals and flags.
The statistics core imports without torch.

The top level holds the entry points (`audit_model`, `run_audit_tables`, the comparisons,
the evaluation builder, `read_audit`), their settings and results, the output conventions
(table and column names, flags) and the errors. The statistical building blocks the tables
are made of (bootstrap, intervals, multiple testing, power, reweighting, groupings, metric
specs, `metric_tables`) live in `audit.stats`; judges in `audit.judges`.

Examples
--------
>>> import audit
>>> table = audit.make_evaluation_table(60, 3, random_state=0)  # one row per utterance
>>> tables = audit.run_audit_tables(
...     table, groupings=["gender"], n_boot=200, min_group_size=5, random_state=0
... )
>>> row = tables["metrics"].query("metric == 'agreement' and target == 'gender'").iloc[0]
>>> bool(row["ci_low"] <= row["value"] <= row["ci_high"])
True
"""

from audit import stats
from audit._arms import compare_arm_audits, compare_arms
from audit._audit import TABLE_NAMES, check_evaluation_table, default_groupings, run_audit_tables
from audit._audit_settings import DEFAULT_GROUPING_COLUMNS, DEFAULT_MIN_GROUP_SIZE, AuditSettings
from audit._compare import (
    PairedComparison,
    align_evaluations,
    compare_audits,
    compare_evaluations,
    paired_comparison,
)
from audit._compare_settings import CompareSettings
from audit._craniofacial import CRANIOFACIAL_MEASURES, craniofacial_measures, inter_ocular_distance
from audit._evaluation import (
    EvaluationResult,
    EvaluationSettings,
    build_evaluation_table,
    resolve_input_seconds,
    voice_measure_columns,
)
from audit._fairlearn import FAIRLEARN_METRICS, to_metric_frame
from audit._feature_shift import FEATURE_SHIFT_COLUMNS, feature_shift_columns
from audit._focus import focus_metric_of
from audit._groups import MISSING, OVERALL
from audit._language_swap import (
    LANGUAGE_SWAP_COLUMNS,
    LanguageSwapSettings,
    language_swap_table,
    paired_differences,
)
from audit._pitch import DEFAULT_F0_BINS, f0_bin_column
from audit._plots import plot_ci_forest, plot_confusion
from audit._run import AuditRunSettings, audit_model, resolve_judge
from audit._schema import (
    AUDIT_FILENAME,
    EVALUATION_FILENAME,
    SCHEMA_VERSION,
    AuditResult,
    data_identity,
    package_versions,
    read_audit,
    row_ids_sha256,
    validate_audit,
)
from audit._synthetic import SYNTHETIC_TRUTH, make_evaluation_table
from audit._tables import CONFUSION_COLUMNS, FLAGS, RECORD_COLUMNS
from audit._verification import (
    equal_error_rate,
    make_trials,
    score_trials,
    verification_eer_table,
    write_challenge_files,
)
from audit._verify_model import VerifySettings, verify_model
from audit._voice_measures import VOICE_MEASURES, voice_measures, voice_measures_batch
from audit.exceptions import (
    AuditInputError,
    AuditSchemaError,
    JudgeError,
    MismatchedRowsError,
    MissingJudgeDependencyError,
    ReweightingWarning,
    SmallGroupWarning,
)

# Entry points
__all__ = [
    "audit_model",
    "build_evaluation_table",
    "compare_arm_audits",
    "compare_arms",
    "compare_audits",
    "compare_evaluations",
    "make_evaluation_table",
    "paired_comparison",
    "plot_ci_forest",
    "plot_confusion",
    "read_audit",
    "resolve_judge",
    "run_audit_tables",
    "to_metric_frame",
    "validate_audit",
    "verify_model",
]
# Settings and results
__all__ += [
    "AuditResult",
    "AuditRunSettings",
    "AuditSettings",
    "CompareSettings",
    "EvaluationResult",
    "EvaluationSettings",
    "LanguageSwapSettings",
    "PairedComparison",
    "VerifySettings",
]
# Evaluation steps and measures
__all__ += [
    "align_evaluations",
    "check_evaluation_table",
    "craniofacial_measures",
    "data_identity",
    "default_groupings",
    "equal_error_rate",
    "f0_bin_column",
    "feature_shift_columns",
    "focus_metric_of",
    "inter_ocular_distance",
    "language_swap_table",
    "make_trials",
    "package_versions",
    "paired_differences",
    "resolve_input_seconds",
    "row_ids_sha256",
    "score_trials",
    "verification_eer_table",
    "voice_measure_columns",
    "voice_measures",
    "voice_measures_batch",
    "write_challenge_files",
]
# Output conventions and defaults
__all__ += [
    "AUDIT_FILENAME",
    "CONFUSION_COLUMNS",
    "CRANIOFACIAL_MEASURES",
    "DEFAULT_F0_BINS",
    "DEFAULT_GROUPING_COLUMNS",
    "DEFAULT_MIN_GROUP_SIZE",
    "EVALUATION_FILENAME",
    "FAIRLEARN_METRICS",
    "FEATURE_SHIFT_COLUMNS",
    "FLAGS",
    "LANGUAGE_SWAP_COLUMNS",
    "MISSING",
    "OVERALL",
    "RECORD_COLUMNS",
    "SCHEMA_VERSION",
    "SYNTHETIC_TRUTH",
    "TABLE_NAMES",
    "VOICE_MEASURES",
]
# Errors and warnings
__all__ += [
    "AuditInputError",
    "AuditSchemaError",
    "JudgeError",
    "MismatchedRowsError",
    "MissingJudgeDependencyError",
    "ReweightingWarning",
    "SmallGroupWarning",
]
__all__ += ["stats"]

#: Building blocks that moved to `audit.stats`; importing them from `audit` still works
#: for one release, with a DeprecationWarning naming the new place.
_MOVED_TO_STATS: frozenset[str] = frozenset(
    [
        "CI_METHODS",
        "CORRECTIONS",
        "ERROR_CONTROLS",
        "Grouping",
        "MetricSpec",
        "SpeakerBootstrap",
        "adjust_p_values",
        "agreement_specs",
        "benjamini_hochberg",
        "bootstrap_interval",
        "bootstrap_p_value",
        "build_groupings",
        "build_metric_specs",
        "calibration_specs",
        "cohen_kappa_from_counts",
        "column_levels",
        "confusion_spec",
        "control_errors",
        "detect_measures",
        "detect_targets",
        "ece_from_sums",
        "expanded_alpha",
        "group_label",
        "holm",
        "kish_effective_n",
        "label_vocabulary",
        "mcnemar_exact",
        "metric_tables",
        "pearson_from_sums",
        "pearson_spec",
        "poststratification_weights",
        "raking_weights",
        "rate_spec",
        "retrieval_specs",
        "similarity_specs",
        "speaker_permutation_test",
    ]
)


def __getattr__(name: str) -> object:
    """Resolve a name that moved to `audit.stats`, warning that it moved."""
    if name in _MOVED_TO_STATS:
        import warnings

        warnings.warn(
            f"audit.{name} moved to audit.stats.{name}; import it from audit.stats "
            "(the old name goes away in the next release)",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(stats, name)
    raise AttributeError(f"module 'audit' has no attribute {name!r}")
