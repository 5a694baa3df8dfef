"""Accepted-share bookkeeping for the property-based tests of tests/reliability/.

A property test that returns early when the code under test rejects an input passes even
when every input is rejected. The tests here record each generated input as accepted or
rejected and, after hypothesis has run them all, require a stated share to be accepted, so
a validator that refuses everything fails them.

Use::

    log = AcceptanceLog("evaluation tables given to run_audit_tables", min_share=0.6)

    @settings(...)
    @given(...)
    def check(table):
        try:
            out = run_audit_tables(table)
        except AuditInputError as err:
            log.reject(str(err))
            return
        log.accept()
        ...  # properties of an accepted input

    check()
    log.check()
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class AcceptanceLog:
    """Counts of accepted and rejected inputs of one property test.

    Parameters
    ----------
    what : str
        The inputs and the code that judges them, for the failure message.
    min_share : float
        Smallest share of accepted inputs, in ``(0, 1]``.
    """

    what: str
    min_share: float
    accepted: int = 0
    rejected: int = 0
    reasons: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        if not 0.0 < self.min_share <= 1.0:
            raise ValueError(f"min_share must lie in (0, 1], got {self.min_share}")

    def accept(self) -> None:
        """Record an accepted input."""
        self.accepted += 1

    def reject(self, reason: str) -> None:
        """Record a rejected input and why (the first line of the error message)."""
        self.rejected += 1
        self.reasons[reason.splitlines()[0][:160] if reason else "(no message)"] += 1

    @property
    def total(self) -> int:
        """Inputs seen."""
        return self.accepted + self.rejected

    def check(self) -> None:
        """Fail unless inputs were seen and at least ``min_share`` of them were accepted.

        Raises
        ------
        AssertionError
            Naming the counts and the most common rejection reasons.
        """
        if self.total == 0:
            raise AssertionError(f"no input reached the check ({self.what})")
        share = self.accepted / self.total
        if share < self.min_share:
            common = "; ".join(f"{n} x {r!r}" for r, n in self.reasons.most_common(3))
            raise AssertionError(
                f"only {self.accepted} of {self.total} ({share:.0%}) {self.what} were "
                f"accepted; at least {self.min_share:.0%} must be. Most common rejections: "
                f"{common}"
            )
