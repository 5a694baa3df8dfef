"""Decoded training data shared by the runs of one process (``s2f-audit train --seeds N``).

Training ``N`` seeds on one manifest used to decode every clip and face ``N`` times, and to
compute the voice stage's front-end features ``N`` times. :class:`TrainingDataCache` keeps
the :class:`~s2f_model._train.TrainingData` of a run and hands it to the next run whose data
would be the same (same manifest bytes, audio settings, face size, fc8 identities and data
path); the front-end features are cached on the dataset itself
(:meth:`s2f_model.VoiceFaceDataset.frontend_features`). Each run still trains exactly as it
would alone: the cached tensors are never written to.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

__all__ = ["TrainingDataCache", "data_key"]


def data_key(plan: Any) -> str:
    """Return what decides a run's decoded data, as a JSON string (a cache key).

    Parameters
    ----------
    plan : RunPlan
        The run's plan (``s2f_model._train_setup.plan_run``).

    Returns
    -------
    str
        Manifest and sidecar SHA-256, audio settings, face size, fc8 identities, data path.
    """
    cfg = plan.cfg
    return json.dumps(
        {
            "manifest": [plan.data_id["sha256"], plan.data_id["sidecar_sha256"]],
            "audio": cfg.to_dict()["audio"],
            "image_size": cfg.face.image_size,
            "identities": list(plan.identities),
            "data": [cfg.train.data, cfg.run.shard_dir],
        },
        sort_keys=True,
    )


class TrainingDataCache:
    """Training data decoded once and reused by later runs with the same :func:`data_key`.

    Examples
    --------
    >>> cache = TrainingDataCache()
    >>> cache.size, cache.hits
    (0, 0)
    """

    def __init__(self) -> None:
        self._entries: dict[str, Any] = {}
        self.hits = 0

    @property
    def size(self) -> int:
        """Data sets held."""
        return len(self._entries)

    def get(self, plan: Any, build: Callable[[], Any]) -> Any:
        """Return the data of ``plan``: the cached one, or ``build()`` (then cached)."""
        key = data_key(plan)
        if key in self._entries:
            self.hits += 1
        else:
            self._entries[key] = build()
        return self._entries[key]
