"""The manifest's JSON sidecar (``manifest.json``): source, vocabularies, data root.

:meth:`ManifestInfo.from_dict` is the one place that checks a sidecar's keys and types, so a
damaged file is refused with the key named, before anything uses it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["MANIFEST_SCHEMA_VERSION", "ManifestInfo", "sidecar_path"]

MANIFEST_SCHEMA_VERSION = 1


@dataclass(frozen=True, kw_only=True)
class ManifestInfo:
    """Sidecar metadata of a manifest.

    Parameters
    ----------
    source : str
        Name of the data source (``"biaslab"``, ``"voxceleb1"``, ...).
    source_version : str
        Version of the source or of the generator.
    vocabularies : dict of str to tuple of str
        Allowed labels per demographic column. A column without an entry accepts any label.
    data_root : str or None
        Folder that every path must stay inside, relative to the manifest's folder or
        absolute. ``None`` means the manifest's own folder.
    extra : dict
        Free metadata (population spec, import options, ...), stored as given.
    schema_version : int
        Manifest schema version.
    """

    source: str
    source_version: str = ""
    vocabularies: dict[str, tuple[str, ...]] = field(default_factory=dict)
    data_root: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    schema_version: int = MANIFEST_SCHEMA_VERSION

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dictionary."""
        return {
            "schema_version": self.schema_version,
            "source": self.source,
            "source_version": self.source_version,
            "vocabularies": {k: list(v) for k, v in self.vocabularies.items()},
            "data_root": self.data_root,
            "extra": self.extra,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ManifestInfo:
        """Build from :meth:`to_dict` output.

        Every key is type-checked here, once, so a damaged sidecar is refused with a message
        naming the key instead of failing later.

        Raises
        ------
        ValueError
            If ``data`` is not an object with a string ``source``, or a key has the wrong
            type; the message names the key, what it holds and what was expected.

        Examples
        --------
        >>> ManifestInfo.from_dict({"source": "demo", "data_root": 5})
        Traceback (most recent call last):
        ...
        ValueError: key 'data_root': expected a folder path (string) or null, got int 5
        """
        if not isinstance(data, dict):
            raise ValueError(f"expected a JSON object with a 'source' key, got {_describe(data)}")
        unknown = sorted(set(data) - _SIDECAR_KEYS)
        if unknown:
            raise ValueError(f"unknown key(s) {unknown}; allowed: {sorted(_SIDECAR_KEYS)}")
        if "source" not in data:
            raise ValueError("key 'source' is missing (the name of the data source)")
        version = data.get("schema_version", MANIFEST_SCHEMA_VERSION)
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise ValueError(
                f"key 'schema_version': expected an integer >= 1, got {_describe(version)}"
            )
        if version > MANIFEST_SCHEMA_VERSION:
            raise ValueError(
                f"manifest sidecar has schema_version {version}; this version of s2f-audit "
                f"reads up to {MANIFEST_SCHEMA_VERSION}"
            )
        _expect_str(data, "source", allow_empty=False)
        _expect_str(data, "source_version")
        root = data.get("data_root")
        if root is not None and (not isinstance(root, str) or root == ""):
            raise ValueError(
                f"key 'data_root': expected a folder path (string) or null, got {_describe(root)}"
            )
        extra = data.get("extra", {})
        if extra is None:
            extra = {}
        if not isinstance(extra, dict):
            raise ValueError(
                f"key 'extra': expected a JSON object (or null), got {_describe(extra)}"
            )
        return cls(
            source=data["source"],
            source_version=data.get("source_version", ""),
            vocabularies=_vocabularies(data.get("vocabularies")),
            data_root=root,
            extra=dict(extra),
            schema_version=version,
        )


#: Keys a sidecar may hold (those :meth:`ManifestInfo.to_dict` writes).
_SIDECAR_KEYS = frozenset(
    {"schema_version", "source", "source_version", "vocabularies", "data_root", "extra"}
)


def _describe(value: Any) -> str:
    """``int 5``, ``list [1]``: a value's JSON-ish type and a short repr, for messages."""
    text = repr(value)
    text = text if len(text) <= 60 else text[:57] + "..."
    return f"{type(value).__name__} {text}"


def _expect_str(data: dict[str, Any], key: str, *, allow_empty: bool = True) -> None:
    value = data.get(key, "")
    if not isinstance(value, str) or (not allow_empty and not value):
        what = "a non-empty string" if not allow_empty else "a string"
        raise ValueError(f"key {key!r}: expected {what}, got {_describe(value)}")


def _vocabularies(vocab: Any) -> dict[str, tuple[str, ...]]:
    """Check the sidecar's ``vocabularies``: column -> list of distinct string labels."""
    if vocab is None:
        return {}
    if not isinstance(vocab, dict):
        raise ValueError(
            f"key 'vocabularies': expected an object mapping column -> list of "
            f"labels, got {_describe(vocab)}"
        )
    out: dict[str, tuple[str, ...]] = {}
    for column, labels in vocab.items():
        where = f"key 'vocabularies.{column}'"
        if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
            raise ValueError(f"{where}: expected a list of string labels, got {_describe(labels)}")
        out[column] = tuple(labels)
    return out


def sidecar_path(csv_path: str | os.PathLike[str]) -> Path:
    """Return the sidecar path of a manifest CSV (``x.csv`` -> ``x.json``)."""
    return Path(csv_path).with_suffix(".json")
