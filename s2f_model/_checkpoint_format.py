"""The checkpoint format: file names, version, stages, and the checks made when reading one.

A checkpoint is a JSON document (format tag, config, stage and step, optimizer and scheduler
state, metadata, name and SHA-256 of its tensor file) beside a safetensors file. This module
defines the names and validates what is read (:func:`validate_meta`, :func:`check_finite`,
:func:`refuse_pickle`); ``_checkpoint.py`` writes and reads the pair.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from s2f_model.exceptions import CheckpointError

if TYPE_CHECKING:
    import torch

__all__ = [
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_VERSION",
    "MODEL_CHECKPOINT",
    "RUN_STAGES",
    "TRAIN_CHECKPOINT",
    "LoadedCheckpoint",
    "check_finite",
    "find_checkpoint",
    "refuse_pickle",
    "require_finished",
    "training_info",
    "validate_meta",
]

CHECKPOINT_FORMAT = "s2f-audit-checkpoint"
CHECKPOINT_VERSION = 1
#: Name of the training checkpoint inside a run folder (resume reads it).
TRAIN_CHECKPOINT = "checkpoint.json"
#: Name of the final inference checkpoint inside a run folder (``load_model`` prefers it).
MODEL_CHECKPOINT = "model.json"
#: Positions a checkpoint may record, in training order; ``"done"``: the run finished.
RUN_STAGES: tuple[str, ...] = ("face_encoder", "face_decoder", "voice", "done")
_PICKLE_SUFFIXES = frozenset({".pt", ".pth", ".pkl", ".pickle", ".bin", ".ckpt", ".tar"})


@dataclass(kw_only=True)
class LoadedCheckpoint:
    """What :func:`load_checkpoint` returns.

    Parameters
    ----------
    meta : dict
        The JSON document (config, stage, step, scheduler, metadata, ...).
    model_state : dict of str to torch.Tensor
        Model weights, keys as in ``module.state_dict()``.
    optimizer_state : dict or None
        A state dict ready for ``optimizer.load_state_dict`` (``None`` if none was saved).
    rng_states : dict of str to torch.Tensor
        RNG states as uint8 tensors (``torch.set_rng_state`` takes them as they are).
    path : pathlib.Path
        The JSON file read.
    """

    meta: dict[str, Any]
    model_state: dict[str, torch.Tensor]
    optimizer_state: dict[str, Any] | None
    rng_states: dict[str, torch.Tensor] = field(default_factory=dict)
    path: Path = Path()


def refuse_pickle(path: Path) -> None:
    """Raise if ``path`` looks like a pickle or a ``torch.save`` archive."""
    if path.suffix.lower() in _PICKLE_SUFFIXES:
        raise CheckpointError(
            f"{path}: refusing to load a {path.suffix} file: pickled checkpoints can run code "
            f"when loaded; s2f-audit reads only its own safetensors + JSON checkpoints "
            f"(a run folder, its {MODEL_CHECKPOINT}/{TRAIN_CHECKPOINT}, or the .safetensors "
            f"file beside them)"
        )
    with open(path, "rb") as fh:
        head = fh.read(4)
    if head[:1] == b"\x80" or head == b"PK\x03\x04":
        raise CheckpointError(
            f"{path}: the file holds a pickle or torch.save archive, which can run code when "
            f"loaded; refusing it (expected s2f-audit JSON + safetensors)"
        )


def find_checkpoint(path: str | os.PathLike[str], prefer: str = MODEL_CHECKPOINT) -> Path:
    """Locate the checkpoint JSON for a run folder, a JSON file or a tensor file.

    Parameters
    ----------
    path : path-like
        A run folder (``prefer`` first, then the other of ``model.json`` /
        ``checkpoint.json``), a checkpoint JSON, or a ``.safetensors`` file written by
        :func:`save_checkpoint` (its JSON is found beside it).
    prefer : str
        Which JSON a run folder is read from first.

    Returns
    -------
    pathlib.Path
        The JSON file.

    Raises
    ------
    CheckpointError
        If nothing is found, or the file is a pickle / ``torch.save`` archive.
    """
    path = Path(path)
    if path.is_dir():
        names = [prefer, *(n for n in (MODEL_CHECKPOINT, TRAIN_CHECKPOINT) if n != prefer)]
        for name in names:
            if (path / name).is_file():
                return path / name
        raise CheckpointError(
            f"{path}: no checkpoint in this folder (looked for {', '.join(names)})"
        )
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    refuse_pickle(path)
    if path.suffix == ".safetensors":
        for candidate in sorted(path.parent.glob("*.json")):
            try:
                meta = json.loads(candidate.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            if isinstance(meta, dict) and meta.get("tensors") == path.name:
                return candidate
        raise CheckpointError(f"{path}: no checkpoint JSON beside it names this tensor file")
    return path


def _damaged(json_path: Path, meta: dict[str, Any], key: str, expected: str) -> CheckpointError:
    """Return the error for a field of the wrong type (names the file, key and value)."""
    return CheckpointError(
        f"{json_path}: {key!r} must be {expected}, got {meta.get(key)!r}: the checkpoint "
        f"is damaged or was edited by hand"
    )


def _validate_position(meta: dict[str, Any], json_path: Path) -> None:
    """Check ``stage`` and ``step``."""
    if meta.get("stage") not in RUN_STAGES:
        raise _damaged(json_path, meta, "stage", f"one of {list(RUN_STAGES)}")
    step = meta.get("step")
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise _damaged(json_path, meta, "step", "an integer >= 0")


def _validate_finished(meta: dict[str, Any], json_path: Path) -> None:
    """Check ``finished`` (true exactly when the stage is ``done``; absent in old files)."""
    finished = meta.get("finished", meta["stage"] == "done")
    if not isinstance(finished, bool):
        raise _damaged(json_path, meta, "finished", "true or false")
    if finished != (meta["stage"] == "done"):
        raise CheckpointError(
            f"{json_path}: 'finished' is {str(finished).lower()} but 'stage' is "
            f"{meta['stage']!r}: the checkpoint is damaged or was edited by hand"
        )


def _validate_state(meta: dict[str, Any], json_path: Path) -> None:
    """Check ``metadata``, ``scheduler``, ``optimizer`` and ``tensors_sha256``."""
    if not isinstance(meta.get("metadata"), dict):
        raise _damaged(json_path, meta, "metadata", "an object")
    for key in ("scheduler", "optimizer"):
        if meta.get(key) is not None and not isinstance(meta[key], dict):
            raise _damaged(json_path, meta, key, "an object or null")
    optim = meta.get("optimizer")
    if optim is not None and (
        not isinstance(optim.get("param_groups"), list)
        or not isinstance(optim.get("scalars", {}), dict)
    ):
        raise _damaged(
            json_path,
            meta,
            "optimizer",
            "an object with a 'param_groups' list and a 'scalars' object",
        )
    if not isinstance(meta.get("tensors_sha256"), str):
        raise _damaged(json_path, meta, "tensors_sha256", "a hex string")


def _validate_metadata(extra: dict[str, Any], json_path: Path) -> None:
    """Check the metadata fields other code reads: identities and recorded objects."""
    identities = extra.get("identities")
    if identities is not None and (
        not isinstance(identities, list) or not all(isinstance(i, str) for i in identities)
    ):
        raise CheckpointError(
            f"{json_path}: metadata.identities must be a list of strings, got "
            f"{type(identities).__name__}"
        )
    for key in ("training_data", "training_source", "face_from", "evaluation", "final_loss"):
        if extra.get(key) is not None and not isinstance(extra[key], dict):
            raise CheckpointError(
                f"{json_path}: metadata.{key} must be an object, got {extra[key]!r}"
            )


def validate_meta(meta: dict[str, Any], json_path: Path) -> None:
    """Check the types of the checkpoint JSON's fields once; raise naming the file and key."""
    _validate_position(meta, json_path)
    _validate_state(meta, json_path)
    _validate_finished(meta, json_path)
    _validate_metadata(meta["metadata"], json_path)


def check_finite(tensors: dict[str, torch.Tensor], tensor_path: Path) -> None:
    """Refuse NaN or infinite values in any floating-point tensor, naming the first one."""
    import torch

    for key, value in tensors.items():
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            n_bad = int((~torch.isfinite(value)).sum())
            raise CheckpointError(
                f"{tensor_path}: non-finite values in tensor {key!r} ({n_bad} of "
                f"{value.numel()} are NaN or infinite): the training diverged or the file "
                f"was damaged; such weights give meaningless outputs"
            )


def require_finished(
    ckpt: LoadedCheckpoint, *, allow_unfinished: bool = False, until: str = "done"
) -> None:
    """Refuse a checkpoint of a run that stopped before reaching stage ``until``.

    Parameters
    ----------
    ckpt : LoadedCheckpoint
        What :func:`load_checkpoint` returned.
    allow_unfinished : bool
        Accept it anyway (the caller records the stage and step it got).
    until : str
        The stage the run must have reached: ``"done"`` (the whole run) or ``"voice"``
        (the face side finished, for reusing it).

    Raises
    ------
    CheckpointError
        If the run stopped earlier and ``allow_unfinished`` is False.
    """
    stage, step = ckpt.meta["stage"], ckpt.meta["step"]
    if allow_unfinished or RUN_STAGES.index(stage) >= RUN_STAGES.index(until):
        return
    what = "the face side of this run is unfinished" if until != "done" else "unfinished run"
    raise CheckpointError(
        f"{ckpt.path}: {what} (stage {stage!r}, step {step}): training stopped before the "
        f"end; finish it with `s2f-audit train --resume --out {ckpt.path.parent}`, or pass "
        f"--allow-unfinished (allow_unfinished=True) to use it anyway"
    )


def training_info(ckpt: LoadedCheckpoint) -> dict[str, Any]:
    """Where a checkpoint's model stands: stage, step, finished and its training data.

    Parameters
    ----------
    ckpt : LoadedCheckpoint
        What :func:`load_checkpoint` returned.

    Returns
    -------
    dict
        ``stage``, ``step``, ``finished``, ``training_data`` (the training manifest's
        identity: path, SHA-256, sidecar SHA-256, source; ``{}`` when not recorded),
        ``n_train_utterances``, ``n_train_faces`` and ``n_identities`` (``None`` when not
        recorded).
    """
    extra = ckpt.meta["metadata"]
    identities = extra.get("identities")
    return {
        "stage": ckpt.meta["stage"],
        "step": ckpt.meta["step"],
        "finished": ckpt.meta["stage"] == "done",
        "training_data": {
            **(extra.get("training_data") or {}),
            **(extra.get("training_source") or {}),
        },
        "n_train_utterances": extra.get("n_train_utterances"),
        "n_train_faces": extra.get("n_train_faces"),
        "n_identities": None if identities is None else len(identities),
    }
