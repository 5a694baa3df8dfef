"""Two arms of retrained models: several training seeds per arm, audited on the same rows.

An *arm* is one training recipe (data, settings) trained with several seeds. Training noise
moves a model's metrics as much as a change of training data can, so a comparison of one
checkpoint per arm calls seed noise a finding. `compare_arms` estimates each arm's metric as
the mean over its seeds and the arm difference with an interval that accounts for both
sources of variation:

- **speakers**: one stratified speaker-cluster bootstrap (`audit.stats.SpeakerBootstrap`) draws
  the same speakers for every checkpoint of both arms, so the pairing on the evaluation rows
  is kept; its replicates of the difference of the seed means give the speaker variance
  ``V_spk`` (times ``m / (m - 1)``, as in `audit.stats.bootstrap_p_value`) and the interval
  *without* seed variance (the paired comparison's interval);
- **seeds**: the seed-to-seed variance of the per-seed values on the full data, pooled over
  the arms (``s_p^2 = sum (k - 1) s^2 / sum (k - 1)``, ``ddof=1`` within each arm), gives
  ``V_seed = s_p^2 (1 / k_A + 1 / k_B)``.

The interval *with* seed variance is ``d +- t_f sqrt(V_spk + V_seed)`` with the seed
variance's ``f = sum (k - 1)`` degrees of freedom, and the p-value is the matching t test
(exact when the speaker part is 0, conservative otherwise; Satterthwaite's data-dependent
degrees of freedom made it liberal in the tail, see `audit._arms_stats.seed_interval`).
This is the variance a two-level bootstrap (seeds resampled within each arm, speakers
resampled jointly) estimates, with the two corrections that such a bootstrap lacks at 2-5
seeds: the unbiased seed variance (a seed resample shrinks it by ``(k - 1) / k``) and t
quantiles with the few degrees of freedom that 3 seeds give (a percentile interval over 3
seeds has only 10 distinct seed draws). Pooling assumes that retraining is about as noisy in
both arms; with the same number of seeds per arm the test is robust to unequal variances.
With one seed in an arm only the other
arm's variance is used (flag ``seed_variance_from_one_arm``); with one seed in both arms there
is no seed variance and the result equals `audit.compare_evaluations` exactly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from audit._arms_rows import base_flags, change_row, paired_row
from audit._arms_stats import seed_interval, seed_spread
from audit._audit import build_metric_specs, default_groupings
from audit._bootstrap import SpeakerBootstrap, bootstrap_interval, bootstrap_p_value
from audit._compare_base import (
    align_evaluations,
    mcnemar_counts,
    metric_key,
    read_evaluation_audit,
)
from audit._compare_focus import (
    add_seed_verdicts,
    comparison_groupings,
    control_comparison,
    focus_changes,
)
from audit._compare_settings import CompareSettings, resolve_compare_settings
from audit._counts import GroupCounts
from audit._estimates import collapsed
from audit._groups import Grouping
from audit._metrics import MetricSpec, _labels_of, detect_targets, label_vocabulary
from audit._records import spec_fields
from audit._swap_change import swap_change_table
from audit.exceptions import AuditInputError

__all__ = ["compare_arm_audits", "compare_arms"]


@dataclass(frozen=True, kw_only=True)
class _Arms:
    """Aligned tables of both arms, their metric specs and the stacked statistics."""

    tables: list[pd.DataFrame]  # arm A's seeds, then arm B's
    k_a: int
    specs: list[dict[tuple[str, str, str | None], MetricSpec]]
    keys: list[tuple[str, str, str | None]]
    stacked: np.ndarray  # (rows, tables x sum of widths): table t's block is t * width
    starts: np.ndarray  # offsets of the keys inside one table's block
    correct: list[dict[tuple[str, str], np.ndarray]]  # per table, for McNemar

    @property
    def k_b(self) -> int:
        return len(self.tables) - self.k_a

    def cols(self, t: int, i: int) -> slice:
        offset = t * int(self.starts[-1])
        return slice(offset + int(self.starts[i]), offset + int(self.starts[i + 1]))


def _check_tables(tables: Sequence[pd.DataFrame], arm: str) -> list[pd.DataFrame]:
    if isinstance(tables, pd.DataFrame):
        tables = [tables]
    tables = list(tables)
    if not tables:
        raise AuditInputError(f"arm {arm} holds no evaluation table; give at least one")
    for i, t in enumerate(tables):
        if not isinstance(t, pd.DataFrame):
            raise AuditInputError(
                f"arm {arm}, checkpoint {i}: expected an evaluation DataFrame, got "
                f"{type(t).__name__}"
            )
    return tables


def _prepare(
    tables_a: list[pd.DataFrame],
    tables_b: list[pd.DataFrame],
    group_cols: Sequence[str],
    labels: Mapping[str, Sequence[str]] | None,
    retrieval_ks: Sequence[int],
) -> _Arms:
    """Align every table on arm A's first, build specs and stack their statistics."""
    first = tables_a[0]
    aligned = [align_evaluations(first, first, group_cols)[0]]
    aligned += [align_evaluations(first, t, group_cols)[1] for t in [*tables_a[1:], *tables_b]]
    everything = pd.concat(aligned, ignore_index=True)
    found = [detect_targets(t) for t in aligned]
    targets = [t for t in found[0] if all(t in f for f in found[1:])]
    vocab = {t: label_vocabulary(everything, t, (labels or {}).get(t)) for t in targets}
    specs = [
        {
            metric_key(s): s
            for s in build_metric_specs(t, labels=vocab, retrieval_ks=retrieval_ks)[0]
        }
        for t in aligned
    ]
    keys = [k for k in specs[0] if all(k in s for s in specs[1:])]
    stacked = np.hstack([s[k].stats for s in specs for k in keys])
    widths = [specs[0][k].n_stats for k in keys]
    correct: list[dict[tuple[str, str], np.ndarray]] = [{} for _ in aligned]
    for t in targets:
        for source in ("recon", "upper"):
            if all(f"{source}_{t}" in frame.columns for frame in aligned):
                for frame, out in zip(aligned, correct, strict=True):
                    same = _labels_of(frame[f"true_{t}"]) == _labels_of(frame[f"{source}_{t}"])
                    out[(source, t)] = same.to_numpy(bool)
    return _Arms(
        tables=aligned,
        k_a=len(tables_a),
        specs=specs,
        keys=keys,
        stacked=stacked,
        starts=np.concatenate([[0], np.cumsum(widths)]).astype(np.int64),
        correct=correct,
    )


def _arm_means(
    arms: _Arms, i: int, point: np.ndarray, reps: np.ndarray, reps_total: np.ndarray
) -> dict[str, np.ndarray]:
    """Per-seed values and gaps, and the arm means, of key ``i`` in one grouping."""
    key = arms.keys[i]
    vals, rvals, totals, rtotals = [], [], [], []
    for t, spec in enumerate(arms.specs):
        sl = arms.cols(t, i)
        vals.append(spec[key].func(point[:, sl]))
        rvals.append(spec[key].func(reps[:, :, sl]))
        totals.append(spec[key].func(point[:, sl].sum(axis=0)))
        rtotals.append(spec[key].func(reps_total[:, sl])[:, None])
    k = arms.k_a
    out: dict[str, np.ndarray] = {"seeds": np.stack(vals), "seed_totals": np.stack(totals)}
    for arm, part in (("a", slice(0, k)), ("b", slice(k, None))):
        # the mean of one array is that array exactly, so one seed per arm reproduces the
        # paired comparison bit for bit
        out[f"v{arm}"] = np.mean(np.stack(vals[part]), axis=0)
        out[f"r{arm}"] = np.mean(np.stack(rvals[part]), axis=0)
        out[f"o{arm}"] = np.mean(np.stack(totals[part]), axis=0)
        out[f"ro{arm}"] = np.mean(np.stack(rtotals[part]), axis=0)
    with np.errstate(invalid="ignore"):
        out["gaps"] = out["seeds"] - out["seed_totals"][:, None]
    return out


def _interval(
    estimate: np.ndarray,
    estimate_reps: np.ndarray,
    seeds_a: np.ndarray,
    seeds_b: np.ndarray,
    n_spk: np.ndarray,
    n_utt: np.ndarray,
    size: np.ndarray,
    cfg: CompareSettings,
) -> dict[str, np.ndarray]:
    """Speaker-only interval and p-value, and the interval and p-value with seed variance."""
    level = cfg.ci_level
    lo, hi = bootstrap_interval(estimate_reps, n_spk, level, cfg.ci_method)  # type: ignore[arg-type]
    flat = collapsed(lo, hi, estimate, size) & (n_utt > 0)
    lo[flat], hi[flat] = np.nan, np.nan
    p = bootstrap_p_value(estimate, estimate_reps, n_spk)
    out = seed_interval(estimate, estimate_reps, n_spk, seeds_a, seeds_b, level)
    out["speaker_ci_low"], out["speaker_ci_high"], out["speaker_p_value"] = lo, hi, p
    if not np.any(np.isfinite(out["seed_se"])):  # one seed per arm: the paired comparison
        out["ci_low"], out["ci_high"], out["p_value"] = lo, hi, p
        out["degenerate"] = flat
    else:
        out["degenerate"] = collapsed(out["ci_low"], out["ci_high"], estimate, size)
        out["degenerate"] &= n_utt > 0
        out["ci_low"][out["degenerate"]] = np.nan
        out["ci_high"][out["degenerate"]] = np.nan
    return out


def _key_estimates(
    arms: _Arms,
    i: int,
    sums: tuple[np.ndarray, np.ndarray, np.ndarray],
    n: tuple,
    cfg: CompareSettings,
) -> dict[str, object]:
    """Arm means, differences, changes of the gaps and their intervals for key ``i``."""
    m = _arm_means(arms, i, *sums)
    n_utt, n_spk = n
    k = arms.k_a
    va, vb, oa, ob = m["va"], m["vb"], m["oa"], m["ob"]
    with np.errstate(invalid="ignore"):
        diff, diff_reps = vb - va, m["rb"] - m["ra"]
        change = np.abs(vb - ob) - np.abs(va - oa)
        change_reps = np.abs(m["rb"] - m["rob"]) - np.abs(m["ra"] - m["roa"])
    seeds, gaps = m["seeds"], m["gaps"]
    size_d = np.fmax(np.abs(va), np.abs(vb))
    size_c = np.fmax(np.abs(va - oa), np.abs(vb - ob))
    common = (n_spk, n_utt)
    return {
        "va": va,
        "vb": vb,
        "gap_a": va - oa,
        "gap_b": vb - ob,
        "diff": diff,
        "change": change,
        "d": _interval(diff, diff_reps, seeds[:k], seeds[k:], *common, size_d, cfg),
        "c": _interval(change, change_reps, gaps[:k], gaps[k:], *common, size_c, cfg),
        "spread_v": seed_spread(seeds[:k], seeds[k:]),
        "spread_g": seed_spread(gaps[:k], gaps[k:]),
    }


def _grouping_rows(
    arms: _Arms, grouping: Grouping, boot: SpeakerBootstrap, cfg: CompareSettings
) -> tuple[list[dict], list[dict]]:
    """Paired and disparity-change rows of every key and group of one grouping."""
    n_groups = grouping.n_groups
    point, reps = boot.group_sums(arms.stacked, grouping.codes, n_groups)
    sums = (point, reps, reps.sum(axis=1))  # each replicate's whole table, once
    counts = GroupCounts(boot, grouping.codes, n_groups)
    labels_g = grouping.labels()
    paired_rows: list[dict] = []
    change_rows: list[dict] = []
    one_each = arms.k_a == 1 and arms.k_b == 1
    for i, key in enumerate(arms.keys):
        valid = np.logical_and.reduce([s[key].valid for s in arms.specs])
        n_utt, n_spk = counts(valid)
        e = _key_estimates(arms, i, sums, (n_utt, n_spk), cfg)
        mcn = (
            mcnemar_counts(key, arms.correct[0], arms.correct[1], valid, grouping.codes, n_groups)
            if one_each
            else None
        )
        for g in range(n_groups):
            flags = base_flags(int(n_utt[g]), int(n_spk[g]), cfg.min_group_size)
            base = {
                "metric": key[0],
                "target": key[1],
                "label": key[2],
                "attribute": grouping.attribute,
                "group": dict(grouping.groups[g]),
                "group_label": labels_g[g],
                "n_utterances": int(n_utt[g]),
                "n_speakers": int(n_spk[g]),
            }
            paired_rows.append(paired_row(base, e, mcn, g, flags, (arms.k_a, arms.k_b)))
            if grouping.columns:
                change_rows.append(change_row(base, e, g, flags, (arms.k_a, arms.k_b)))
    return paired_rows, change_rows


def _rows(
    arms: _Arms, groupings: list[Grouping], cfg: CompareSettings
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``paired`` and ``disparity_change`` of every grouping, before error control."""
    boot = SpeakerBootstrap(arms.tables[0]["speaker_id"].to_numpy(), cfg.n_boot, cfg.seed)
    paired_rows: list[dict] = []
    change_rows: list[dict] = []
    for grouping in groupings:
        p_rows, c_rows = _grouping_rows(arms, grouping, boot, cfg)
        paired_rows += p_rows
        change_rows += c_rows
    return pd.DataFrame(paired_rows), pd.DataFrame(change_rows)


def compare_arms(
    tables_a: Sequence[pd.DataFrame],
    tables_b: Sequence[pd.DataFrame],
    settings: CompareSettings | None = None,
    **options: object,
) -> dict[str, pd.DataFrame]:
    """Compare arm B with arm A, each a list of checkpoints (training seeds) on the same rows.

    Parameters
    ----------
    tables_a, tables_b : sequence of DataFrame
        Evaluation tables of arm A's checkpoints (the baseline) and arm B's, all of the same
        utterances (see `audit.align_evaluations`).
    settings : CompareSettings, optional
        The comparison's settings; keyword ``options`` (the same names: groupings,
        max_order, n_boot, ci_level, ci_method, min_group_size, correction, random_state,
        labels, retrieval_ks, focus, error_control) replace its fields.

    Returns
    -------
    dict of str to DataFrame
        ``paired``, ``disparity_change`` and ``focus`` with the columns of
        `audit.compare_evaluations`, where values are the means over each arm's seeds and
        the interval, p-value and flags account for seed variance (module docstring),
        followed by ``n_seeds_a``, ``n_seeds_b``; each arm's seed spread
        (``value_a_seed_sd`` / ``_min`` / ``_max``, ``gap_*`` for the gaps in
        ``disparity_change``); ``seed_sd`` (pooled seed-to-seed SD of one model's value or
        gap); ``speaker_ci_low`` / ``speaker_ci_high`` / ``speaker_p_value`` (without seed
        variance); ``speaker_se``, ``seed_se`` and ``df``. Flags:
        ``seed_spread_exceeds_difference`` (``seed_sd`` exceeds the absolute difference),
        ``seed_variance_from_one_arm``. McNemar's counts need one checkpoint per arm.
        ``focus`` also gets the seed columns of its groups and ``seed_verdict``
        (`audit._compare_focus.SEED_VERDICTS`). ``language_swap_change``: the change of the
        language-swap effect (`audit._swap_change`). With one checkpoint per arm the
        `audit.compare_evaluations` columns equal its result.

    Examples
    --------
    >>> from audit import make_evaluation_table
    >>> a = make_evaluation_table(40, 2, random_state=0)
    >>> b = [a.assign(recon_gender=a["true_gender"])] * 2  # two seeds, both always right
    >>> out = compare_arms([a, a], b, groupings=["gender"], n_boot=50, min_group_size=5)
    >>> row = out["paired"].query("metric == 'agreement' and target == 'gender'").iloc[0]
    >>> int(row["n_seeds_b"]), float(row["value_b"]), float(row["seed_sd"])
    (2, 1.0, 0.0)
    """
    cfg = resolve_compare_settings(settings, options)
    list_a, list_b = _check_tables(tables_a, "A"), _check_tables(tables_b, "B")
    groupings = cfg.groupings
    if groupings is None:
        groupings = default_groupings(list_a[0])
    grouping_list, questions = comparison_groupings(list_a[0], groupings, cfg.max_order, cfg.focus)
    group_cols = sorted({c for g in grouping_list for c in g.columns})
    arms = _prepare(list_a, list_b, group_cols, cfg.labels, cfg.retrieval_ks)
    paired, changes = _rows(arms, grouping_list, cfg)
    control_comparison(paired, changes, cfg.correction, 1 - cfg.ci_level, cfg.error_control)  # type: ignore[arg-type]
    for frame in (paired, changes):
        add_seed_verdicts(frame)  # what the seeds say, decided here, worded by reports
    focus = focus_changes(paired, changes, questions)
    specs = [arms.specs[0][key] for key in arms.keys]
    return {
        "paired": spec_fields(paired, specs) if len(paired) else paired,
        "disparity_change": spec_fields(changes, specs) if len(changes) else changes,
        "focus": focus,
        "language_swap_change": swap_change_table(
            arms.tables[: arms.k_a], arms.tables[arms.k_a :], cfg
        ),
    }


def compare_arm_audits(
    audits_a: Sequence[str | object],
    audits_b: Sequence[str | object],
    settings: CompareSettings | None = None,
    **options: object,
) -> dict[str, pd.DataFrame]:
    """Compare two arms of written audits through their ``evaluation.csv`` files.

    Parameters
    ----------
    audits_a, audits_b : sequence of path-like
        ``audit.json`` files (or their folders) of arm A's checkpoints and arm B's.
    settings : CompareSettings, optional
        Settings to use instead of those recorded in the first audit of arm A (groupings,
        max_order, n_boot, ci_level, ci_method, min_group_size, correction, seed, focus,
        error_control).
    **options
        Replace single settings (see `compare_arms`).

    Returns
    -------
    dict of str to DataFrame
        See `compare_arms`.
    """
    if isinstance(audits_a, str) or isinstance(audits_b, str):
        raise AuditInputError("audits_a and audits_b must be lists of audit paths, not strings")
    if not audits_a or not audits_b:
        raise AuditInputError("each arm needs at least one audit")
    tables_a, tables_b, recorded = [], [], {}
    for arm, paths, out in (("A", audits_a, tables_a), ("B", audits_b, tables_b)):
        for path in paths:
            table, options_here = read_evaluation_audit(path)  # type: ignore[arg-type]
            out.append(table)
            if not recorded and arm == "A":
                recorded = options_here
    base = settings if settings is not None else CompareSettings(**recorded)  # type: ignore[arg-type]
    return compare_arms(tables_a, tables_b, base, **options)
