"""Adapters: public data sets' published layouts -> the manifest.

Every adapter writes ``manifest.csv`` + ``manifest.json`` with :func:`s2f_data.write_manifest`
and returns an :class:`ImportResult` (the table, the sidecar, the source items it skipped
and why, and notes). Unknown demographics stay missing; nothing is guessed.

Examples
--------
>>> sorted(FORMATS)
['avspeech', 'casual_conversations', 'common_voice', 'mavceleb', 'table', 'voxceleb1', 'voxceleb2']
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from s2f_data.adapters._avspeech import avspeech_clip_id, import_avspeech, read_avspeech_csv
from s2f_data.adapters._casual import (
    CASUAL_SPLIT,
    import_casual_conversations,
    read_casual_conversations_json,
)
from s2f_data.adapters._common import (
    AGE_GROUPS,
    DEFAULT_SPLIT,
    ImportResult,
    SpeakerSplit,
    age_group,
    assign_splits,
)
from s2f_data.adapters._commonvoice import CV_AGE_GROUPS, CV_GENDERS, import_common_voice
from s2f_data.adapters._generic import import_table, parse_mapping
from s2f_data.adapters._mavceleb import MAVCELEB_LANGUAGES, import_mavceleb
from s2f_data.adapters._voxceleb import import_voxceleb1, import_voxceleb2, read_age_table

__all__ = [
    "AGE_GROUPS",
    "CV_AGE_GROUPS",
    "CV_GENDERS",
    "DEFAULT_SPLIT",
    "FORMATS",
    "MAVCELEB_LANGUAGES",
    "SPLIT_DEFAULTS",
    "ImportResult",
    "SpeakerSplit",
    "age_group",
    "assign_splits",
    "avspeech_clip_id",
    "import_avspeech",
    "import_casual_conversations",
    "import_common_voice",
    "import_dataset",
    "import_mavceleb",
    "import_table",
    "import_voxceleb1",
    "import_voxceleb2",
    "parse_mapping",
    "read_age_table",
    "read_avspeech_csv",
    "read_casual_conversations_json",
]

#: Format name -> adapter ``f(root, out, **options) -> ImportResult``.
FORMATS: dict[str, Callable[..., ImportResult]] = {
    "voxceleb1": import_voxceleb1,
    "voxceleb2": import_voxceleb2,
    "avspeech": import_avspeech,
    "common_voice": import_common_voice,
    "casual_conversations": import_casual_conversations,
    "table": import_table,
    "mavceleb": import_mavceleb,
}

#: Formats whose adapter splits speakers itself (argument ``split``) -> its default split.
#: The VoxCeleb adapters take the split from the meta file's ``Set`` column instead.
SPLIT_DEFAULTS: dict[str, SpeakerSplit] = {
    "avspeech": DEFAULT_SPLIT,
    "common_voice": DEFAULT_SPLIT,
    "casual_conversations": CASUAL_SPLIT,
    "table": DEFAULT_SPLIT,
    "mavceleb": DEFAULT_SPLIT,
}


def import_dataset(
    fmt: str, root: str | os.PathLike[str], out: str | os.PathLike[str], **options: Any
) -> ImportResult:
    """Run the adapter for ``fmt`` (one of :data:`FORMATS`).

    Parameters
    ----------
    fmt : str
        Format name.
    root : path-like
        Data set root or metadata file.
    out : path-like
        Manifest CSV to write.
    **options
        Adapter options (see each ``import_*`` function).

    Returns
    -------
    ImportResult
        The written manifest, skipped items and notes.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown data set format {fmt!r}; known: {sorted(FORMATS)}")
    return FORMATS[fmt](root, out, **options)
