"""Stratified, intersectional fairness audit of voice-to-face models.

Tables in, tables out: tidy pandas DataFrames with ``n``, confidence intervals and flags.
The statistics core imports without torch.

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

from audit._arms import compare_arm_audits, compare_arms
from audit._audit import (
    DEFAULT_GROUPING_COLUMNS,
    DEFAULT_MIN_GROUP_SIZE,
    TABLE_NAMES,
    build_metric_specs,
    check_evaluation_table,
    run_audit_tables,
)
from audit._bootstrap import (
    CI_METHODS,
    SpeakerBootstrap,
    bootstrap_interval,
    bootstrap_p_value,
    expanded_alpha,
)
from audit._compare import (
    PairedComparison,
    align_evaluations,
    compare_audits,
    compare_evaluations,
    mcnemar_exact,
    paired_comparison,
)
from audit._compare_settings import CompareSettings
from audit._correlation import pearson_from_sums, pearson_spec, speaker_permutation_test
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
from audit._groups import MISSING, OVERALL, Grouping, build_groupings, column_levels, group_label
from audit._language_swap import (
    LANGUAGE_SWAP_COLUMNS,
    LanguageSwapSettings,
    language_swap_table,
    paired_differences,
)
from audit._metrics import (
    MetricSpec,
    agreement_specs,
    calibration_specs,
    cohen_kappa_from_counts,
    confusion_spec,
    detect_measures,
    detect_targets,
    ece_from_sums,
    label_vocabulary,
    rate_spec,
    retrieval_specs,
    similarity_specs,
)
from audit._multitest import CORRECTIONS, adjust_p_values, benjamini_hochberg, holm
from audit._pitch import DEFAULT_F0_BINS, f0_bin_column
from audit._plots import plot_ci_forest, plot_confusion
from audit._reweight import kish_effective_n, poststratification_weights, raking_weights
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
from audit._simultaneous import ERROR_CONTROLS, control_errors
from audit._synthetic import SYNTHETIC_TRUTH, make_evaluation_table
from audit._tables import CONFUSION_COLUMNS, FLAGS, RECORD_COLUMNS, metric_tables
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
    MismatchedRowsError,
    ReweightingWarning,
    SmallGroupWarning,
)

__all__ = [
    "AUDIT_FILENAME",
    "CI_METHODS",
    "CONFUSION_COLUMNS",
    "CORRECTIONS",
    "CRANIOFACIAL_MEASURES",
    "DEFAULT_F0_BINS",
    "DEFAULT_GROUPING_COLUMNS",
    "DEFAULT_MIN_GROUP_SIZE",
    "ERROR_CONTROLS",
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
    "AuditInputError",
    "AuditResult",
    "AuditRunSettings",
    "AuditSchemaError",
    "CompareSettings",
    "EvaluationResult",
    "EvaluationSettings",
    "Grouping",
    "LanguageSwapSettings",
    "MetricSpec",
    "MismatchedRowsError",
    "PairedComparison",
    "ReweightingWarning",
    "SmallGroupWarning",
    "SpeakerBootstrap",
    "VerifySettings",
    "adjust_p_values",
    "agreement_specs",
    "align_evaluations",
    "audit_model",
    "benjamini_hochberg",
    "bootstrap_interval",
    "bootstrap_p_value",
    "build_evaluation_table",
    "build_groupings",
    "build_metric_specs",
    "calibration_specs",
    "check_evaluation_table",
    "cohen_kappa_from_counts",
    "column_levels",
    "compare_arm_audits",
    "compare_arms",
    "compare_audits",
    "compare_evaluations",
    "confusion_spec",
    "control_errors",
    "craniofacial_measures",
    "data_identity",
    "detect_measures",
    "detect_targets",
    "ece_from_sums",
    "equal_error_rate",
    "expanded_alpha",
    "f0_bin_column",
    "feature_shift_columns",
    "group_label",
    "holm",
    "inter_ocular_distance",
    "kish_effective_n",
    "label_vocabulary",
    "language_swap_table",
    "make_evaluation_table",
    "make_trials",
    "mcnemar_exact",
    "metric_tables",
    "package_versions",
    "paired_comparison",
    "paired_differences",
    "pearson_from_sums",
    "pearson_spec",
    "plot_ci_forest",
    "plot_confusion",
    "poststratification_weights",
    "raking_weights",
    "rate_spec",
    "read_audit",
    "resolve_input_seconds",
    "resolve_judge",
    "retrieval_specs",
    "row_ids_sha256",
    "run_audit_tables",
    "score_trials",
    "similarity_specs",
    "speaker_permutation_test",
    "to_metric_frame",
    "validate_audit",
    "verification_eer_table",
    "verify_model",
    "voice_measure_columns",
    "voice_measures",
    "voice_measures_batch",
    "write_challenge_files",
]
