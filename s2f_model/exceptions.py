"""Errors of the model package (configuration, shapes, weight import, checkpoints, training)."""

from __future__ import annotations

__all__ = ["CheckpointError", "ConfigError", "TrainingError", "WeightImportError"]


class ConfigError(ValueError):
    """A configuration value is invalid; the message names the setting and what is allowed."""


class WeightImportError(ValueError):
    """A weight file does not fit the model: the message lists missing/unexpected/bad keys."""


class CheckpointError(ValueError):
    """A checkpoint is missing, damaged, of another format, or would need unpickling."""


class TrainingError(ValueError):
    """Training cannot start or resume (bad run folder, changed data or config)."""
