"""Stratified, intersectional fairness audit of voice-to-face models.

Tables in, tables out: tidy pandas DataFrames with ``n``, confidence intervals and flags.
The statistics core imports without torch.
"""

__all__: list[str] = []
