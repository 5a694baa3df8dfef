"""Self-contained HTML fairness reports rendered from what :mod:`audit` computed."""

__all__: list[str] = []
