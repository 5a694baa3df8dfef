"""Errors of the model package (configuration, shapes, weight import)."""

from __future__ import annotations

__all__ = ["ConfigError", "WeightImportError"]


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the setting and what is allowed."""


class WeightImportError(ValueError):
    """A weight file does not fit the model: the message lists missing/unexpected/bad keys."""
