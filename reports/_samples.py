"""Sample faces of the report: true face, reconstruction and upper bound, as data URIs."""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from reports import _text
from reports._load import LoadedAudit
from reports._tables import group_label
from reports.exceptions import AuditFormatError

__all__ = ["samples"]


def _embed_image(root: Path, folder: Path, relative: Any) -> str | None:
    """Return a PNG data URI of ``folder / relative`` (re-encoded, at most 128 px).

    The image must lie inside ``root`` (the audit folder).
    """
    if not isinstance(relative, str) or not relative:
        return None
    path = (folder / relative).resolve()
    if not path.is_relative_to(root.resolve()):
        raise AuditFormatError(f"sample image {relative!r} lies outside the audit folder {root}")
    from PIL import Image  # lazy: only audits with sample faces need Pillow

    try:
        with Image.open(path) as image:
            image = image.convert("RGB")
            image.thumbnail((128, 128))
            buffer = io.BytesIO()
            image.save(buffer, format="PNG")
    except (OSError, ValueError) as err:
        raise AuditFormatError(f"sample image {path} could not be read: {err}") from err
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


_SAMPLE_IMAGES = (
    ("true_face", "true face"),
    ("reconstruction", "reconstruction"),
    ("upper_bound", "upper bound"),
)
_SAMPLE_META = frozenset(
    {"utterance_id", "speaker_id", "group", "group_label", *(key for key, _ in _SAMPLE_IMAGES)}
)


def samples(loaded: LoadedAudit, include_faces: bool) -> dict[str, Any]:
    """Sample faces to show: artifacts.samples entries with image files under samples_dir.

    Faces of the built-in population are shown; faces of real data only with
    ``include_faces``. Images must lie inside the audit folder and are re-encoded.
    """
    artifacts = loaded.section("artifacts")
    samples = artifacts.get("samples") or []
    source = str(loaded.section("data").get("source", ""))
    builtin = source.lower() in _text.BUILTIN_SOURCES
    if not samples:
        return {"shown": [], "status": "none"}
    if not (builtin or include_faces):
        return {"shown": [], "status": "withheld", "count": len(samples)}
    if loaded.folder is None:
        return {"shown": [], "status": "no_folder", "count": len(samples)}
    subdir = artifacts.get("samples_dir") or ""
    if not isinstance(subdir, str):
        raise AuditFormatError(f"{loaded.source}: artifacts.samples_dir must be a string")
    shown = []
    for i, sample in enumerate(samples):
        if not isinstance(sample, Mapping):
            raise AuditFormatError(
                f"{loaded.source}: artifacts.samples[{i}] must be an object, "
                f"got {type(sample).__name__}"
            )
        if isinstance(sample.get("group_label"), str):
            label = sample["group_label"]
        elif sample.get("group") is not None:
            label = group_label(sample.get("group"))
        else:
            label = group_label({k: v for k, v in sample.items() if k not in _SAMPLE_META})
        images = [
            (caption, _embed_image(loaded.folder, loaded.folder / subdir, sample[key]))
            for key, caption in _SAMPLE_IMAGES
            if sample.get(key)
        ]
        shown.append(
            {
                "label": label,
                "speaker": str(sample.get("speaker_id", "")),
                "utterance": str(sample.get("utterance_id", "")),
                "images": images,
            }
        )
    return {"shown": shown, "status": "shown", "count": len(samples)}
