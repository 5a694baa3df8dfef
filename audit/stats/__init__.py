"""Statistical building blocks of the audit (the way scikit-learn keeps `metrics.pairwise`).

`audit.run_audit_tables` and `audit.audit_model` are built from these; use them to build
your own tables from the same parts. Sections:

- Bootstrap and intervals: `SpeakerBootstrap` (stratified speaker-cluster bootstrap of group
  totals), `bootstrap_interval` (expanded percentile), `boundary_interval`,
  `wilson_interval`, `effective_sample_size`, `replicate_variance`, `expanded_alpha`,
  `bootstrap_p_value`.
- Tests, power and multiple testing: `score_p_value`, `null_effective_size`,
  `within_speaker_correlation`, `mcnemar_exact`, `adjust_p_values` (`holm`,
  `benjamini_hochberg`), `control_errors` (simultaneous intervals, audit-wide error
  control), `simultaneous_intervals`, `minimum_detectable_difference`.
- Reweighting: `raking_weights`, `poststratification_weights`, `kish_effective_n`.
- Correlation: `pearson_from_sums`, `pearson_spec`, `speaker_permutation_test`.
- Groupings: `Grouping`, `build_groupings`, `column_levels`, `group_label`.
- Metric specs and tables: `MetricSpec` and its builders (`rate_spec`, `agreement_specs`,
  `confusion_spec`, `retrieval_specs`, `similarity_specs`, `calibration_specs`,
  `build_metric_specs`, ...), `metric_tables` with `TableSettings`, `adjust_families`.

Examples
--------
>>> import numpy as np
>>> from audit.stats import SpeakerBootstrap, bootstrap_interval
>>> speakers = np.repeat(np.arange(20), 3)  # 20 speakers, 3 utterances each
>>> hits = (np.arange(60) % 4 == 0).astype(float)[:, None]
>>> boot = SpeakerBootstrap(speakers, 200, random_state=0)
>>> point, reps = boot.group_sums(np.hstack([hits, np.ones_like(hits)]), np.zeros(60, int), 1)
>>> rate, rate_reps = point[:, 0] / point[:, 1], reps[:, :, 0] / reps[:, :, 1]
>>> low, high = bootstrap_interval(rate_reps, np.array([20]), 0.95)
>>> bool(low[0] < rate[0] < high[0])
True
"""

from audit._audit import build_metric_specs
from audit._bootstrap import SpeakerBootstrap, check_random_state
from audit._compare import mcnemar_exact
from audit._correlation import pearson_from_sums, pearson_spec, speaker_permutation_test
from audit._estimates import TableSettings
from audit._groups import Grouping, build_groupings, column_levels, group_label
from audit._intervals import (
    CI_METHODS,
    bootstrap_interval,
    bootstrap_p_value,
    boundary_interval,
    effective_sample_size,
    expanded_alpha,
    replicate_variance,
    wilson_interval,
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
from audit._power import null_effective_size, score_p_value, within_speaker_correlation
from audit._reweight import kish_effective_n, poststratification_weights, raking_weights
from audit._simultaneous import (
    ERROR_CONTROLS,
    control_errors,
    minimum_detectable_difference,
    simultaneous_intervals,
)
from audit._tables import adjust_families, metric_tables

__all__ = [
    "CI_METHODS",
    "CORRECTIONS",
    "ERROR_CONTROLS",
    "Grouping",
    "MetricSpec",
    "SpeakerBootstrap",
    "TableSettings",
    "adjust_families",
    "adjust_p_values",
    "agreement_specs",
    "benjamini_hochberg",
    "bootstrap_interval",
    "bootstrap_p_value",
    "boundary_interval",
    "build_groupings",
    "build_metric_specs",
    "calibration_specs",
    "check_random_state",
    "cohen_kappa_from_counts",
    "column_levels",
    "confusion_spec",
    "control_errors",
    "detect_measures",
    "detect_targets",
    "ece_from_sums",
    "effective_sample_size",
    "expanded_alpha",
    "group_label",
    "holm",
    "kish_effective_n",
    "label_vocabulary",
    "mcnemar_exact",
    "metric_tables",
    "minimum_detectable_difference",
    "null_effective_size",
    "pearson_from_sums",
    "pearson_spec",
    "poststratification_weights",
    "raking_weights",
    "rate_spec",
    "replicate_variance",
    "retrieval_specs",
    "score_p_value",
    "similarity_specs",
    "simultaneous_intervals",
    "speaker_permutation_test",
    "wilson_interval",
    "within_speaker_correlation",
]
