"""Data layer: the manifest format, atomic writes, loaders, adapters and the bias lab.

Everything downstream reads one format, the manifest (one row per utterance).
"""

from s2f_data._atomic import atomic_open, atomic_write_bytes, atomic_write_text
from s2f_data._audio import load_audio, resample
from s2f_data._manifest import (
    DEMOGRAPHIC_COLUMNS,
    MANIFEST_SCHEMA_VERSION,
    REQUIRED_COLUMNS,
    SPLITS,
    Manifest,
    ManifestInfo,
    ManifestIssue,
    read_manifest,
    sidecar_path,
    validate_manifest,
    write_manifest,
)
from s2f_data.exceptions import DataFormatError, ManifestError

__all__ = [
    "DEMOGRAPHIC_COLUMNS",
    "MANIFEST_SCHEMA_VERSION",
    "REQUIRED_COLUMNS",
    "SPLITS",
    "DataFormatError",
    "Manifest",
    "ManifestError",
    "ManifestInfo",
    "ManifestIssue",
    "atomic_open",
    "atomic_write_bytes",
    "atomic_write_text",
    "load_audio",
    "read_manifest",
    "resample",
    "sidecar_path",
    "validate_manifest",
    "write_manifest",
]
