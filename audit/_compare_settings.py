"""Settings of a comparison of two models or two arms: one keyword-only dataclass.

`audit.compare_evaluations`, `audit.compare_arms` and the audit-file readers share these
twelve settings. They take a `CompareSettings` (``settings=``) or the same names as keywords
(the historical API), or both: keywords then replace the settings' fields.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from audit._bootstrap import CI_METHODS, check_random_state
from audit._multitest import CORRECTIONS
from audit._simultaneous import ERROR_CONTROLS
from audit.exceptions import AuditInputError

__all__ = ["CompareSettings", "resolve_compare_settings"]


@dataclass(frozen=True, kw_only=True)
class CompareSettings:
    """How two models (or two arms of training seeds) are compared on the same rows.

    Parameters
    ----------
    groupings : sequence of str or tuple of str, optional
        Grouping columns (default: the audit's default grouping columns present in the
        table).
    max_order : int
        Largest intersection order built from ``groupings``.
    n_boot : int
        Replicates of the paired speaker-cluster bootstrap.
    ci_level : float
        Interval level; ``1 - ci_level`` is the significance level.
    ci_method : {"expanded", "percentile"}
        Bootstrap interval method (see `audit.bootstrap_interval`).
    min_group_size : int
        Groups with fewer speakers are flagged ``insufficient_data``.
    correction : {"holm", "bh", "none"}
        Multiple-testing correction.
    random_state : int
        Seed of the paired bootstrap.
    labels : mapping, optional
        Full label list per judged attribute (default: labels seen in any table).
    retrieval_ks : sequence of int
        K of recall@K.
    focus : sequence of tuple of str, optional
        Focus questions (default: language x ethnicity and gender x age group, where their
        columns are grouping columns).
    error_control : {"family", "audit"}
        Scope of the multiple-testing correction.

    Examples
    --------
    >>> s = CompareSettings(n_boot=50)
    >>> s.n_boot, s.ci_method
    (50, 'expanded')
    >>> CompareSettings(correction="bonferroni")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    audit.exceptions.AuditInputError: correction must be one of ('holm', 'bh', 'none'), ...
    """

    groupings: Sequence[str | Sequence[str]] | None = None
    max_order: int = 1
    n_boot: int = 1000
    ci_level: float = 0.95
    ci_method: str = "expanded"
    min_group_size: int = 10
    correction: str = "holm"
    random_state: int = 0
    labels: Mapping[str, Sequence[str]] | None = None
    retrieval_ks: Sequence[int] = (1, 2, 5, 10)
    focus: Sequence[Sequence[str]] | None = None
    error_control: str = "family"

    def __post_init__(self) -> None:
        check_random_state(self.random_state)
        for name, allowed in (
            ("ci_method", CI_METHODS),
            ("correction", CORRECTIONS),
            ("error_control", ERROR_CONTROLS),
        ):
            value = getattr(self, name)
            if value not in allowed:
                raise AuditInputError(f"{name} must be one of {allowed}, got {value!r}")

    @property
    def seed(self) -> int:
        """``random_state`` as a checked int."""
        return check_random_state(self.random_state)


_FIELDS = frozenset(f.name for f in dataclasses.fields(CompareSettings))


def resolve_compare_settings(
    settings: CompareSettings | None, options: Mapping[str, object]
) -> CompareSettings:
    """Return the settings of a `CompareSettings` with keyword overrides (either may be empty).

    Raises
    ------
    TypeError
        Naming an option that is not a comparison setting.

    Examples
    --------
    >>> resolve_compare_settings(CompareSettings(n_boot=50), {"ci_level": 0.9}).n_boot
    50
    """
    unknown = sorted(set(options) - _FIELDS)
    if unknown:
        raise TypeError(
            f"unexpected comparison option(s) {unknown}; the settings are {sorted(_FIELDS)}"
        )
    if settings is None:
        return CompareSettings(**options)  # type: ignore[arg-type]
    if not isinstance(settings, CompareSettings):
        raise AuditInputError(f"settings must be a CompareSettings, got {type(settings).__name__}")
    return dataclasses.replace(settings, **options) if options else settings
