from __future__ import annotations

import copy
from typing import Any

import pytest

from s2f_data.biaslab import PopulationSpec


@pytest.fixture
def small_spec_dict() -> dict[str, Any]:
    """Representative preset shrunk to tiny, fast populations."""
    data = copy.deepcopy(PopulationSpec.preset("representative").to_dict())
    data.update(
        name="tiny", speakers=3, utterances_per_speaker=2, clip_seconds=1.0, face_size_px=64
    )
    return data


@pytest.fixture
def small_spec(small_spec_dict: dict[str, Any]) -> PopulationSpec:
    return PopulationSpec.from_dict(small_spec_dict)
