"""Checkpoints: safetensors for tensors, JSON for everything else; never pickle.

A checkpoint is a pair of files in a run folder:

- ``<name>.json``: format tag, model config, training position (stage, step) and whether
  the run finished (``finished``: stage ``"done"``), scheduler state, the optimizer's
  non-tensor state, metadata, the identity of the training manifest, and the name and
  SHA-256 of the tensor file;
- ``<tensor file>.safetensors``: model weights (``model.<key>``), optimizer tensors
  (``optim.<param index>.<name>``) and RNG states (``rng.<name>``, uint8).

The tensor file is written first under a name that carries the stage and step, the JSON last
(both atomically), then older tensor files are removed: a process killed at any moment leaves
the previous consistent pair behind. Loading checks the SHA-256 and never unpickles anything;
it validates every field of the JSON once (types, the stage, the step) and refuses non-finite
weights, naming the file and the key or tensor. :func:`load_model` refuses an unfinished run
unless asked (``allow_unfinished=True``).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from s2f_data import atomic_open, atomic_write_text, file_digest
from s2f_model._checkpoint_format import (
    CHECKPOINT_FORMAT,
    CHECKPOINT_VERSION,
    MODEL_CHECKPOINT,
    RUN_STAGES,
    TRAIN_CHECKPOINT,
    LoadedCheckpoint,
    check_finite,
    find_checkpoint,
    require_finished,
    training_info,
    validate_meta,
)
from s2f_model._config import S2FConfig
from s2f_model.exceptions import CheckpointError

if TYPE_CHECKING:
    import torch

__all__ = [
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_VERSION",
    "MODEL_CHECKPOINT",
    "RUN_STAGES",
    "TRAIN_CHECKPOINT",
    "CheckpointError",
    "LoadedCheckpoint",
    "ResumeState",
    "file_sha256",
    "find_checkpoint",
    "load_checkpoint",
    "load_model",
    "require_finished",
    "save_checkpoint",
    "training_info",
]


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Return the hex SHA-256 of a file's bytes (see :func:`s2f_data.file_digest`)."""
    return file_digest(path)


@dataclass(kw_only=True)
class ResumeState:
    """What a resumable checkpoint stores besides the weights.

    Parameters
    ----------
    optimizer : torch.optim.Optimizer, optional
        Saved with its tensors flattened into the tensor file.
    scheduler : LRScheduler, optional
        Its ``state_dict()`` must be JSON-serialisable (``StepLR``'s is).
    rng_states : dict of str to torch.Tensor
        RNG states (uint8 tensors, e.g. ``torch.get_rng_state()``).
    """

    optimizer: torch.optim.Optimizer | None = None
    scheduler: Any = None
    rng_states: dict[str, torch.Tensor] = field(default_factory=dict)


def _flatten_optimizer(state: dict[str, Any]) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Split an optimizer state dict into tensors and a JSON-ready remainder."""
    import torch

    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, per_param in state["state"].items():
        for name, value in per_param.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim.{int(index)}.{name}"] = value.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(int(index)), {})[name] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def _unflatten_optimizer(tensors: dict[str, torch.Tensor], rest: dict[str, Any]) -> dict[str, Any]:
    """Rebuild an optimizer state dict from :func:`_flatten_optimizer` output."""
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        _, index, name = key.split(".", 2)
        state.setdefault(int(index), {})[name] = value
    for index, values in rest.get("scalars", {}).items():
        state.setdefault(int(index), {}).update(values)
    return {"state": state, "param_groups": rest["param_groups"]}


def save_checkpoint(
    run_dir: str | os.PathLike[str],
    model: torch.nn.Module,
    config: dict[str, Any],
    *,
    state: ResumeState | None = None,
    stage: str = "done",
    step: int = 0,
    metadata: dict[str, Any] | None = None,
    name: str = TRAIN_CHECKPOINT,
) -> Path:
    """Write a checkpoint (tensor file, then JSON) atomically into ``run_dir``.

    Parameters
    ----------
    run_dir : path-like
        Run folder; created if missing.
    model : torch.nn.Module
        The model. A ``DistributedDataParallel`` wrapper is unwrapped (``.module``).
    config : dict
        ``S2FConfig.to_dict()`` output.
    state : ResumeState, optional
        Optimizer, scheduler and RNG states, for a checkpoint a run resumes from.
    stage : str
        Training stage the state belongs to (``"done"`` for a finished model).
    step : int
        Steps completed in that stage.
    metadata : dict, optional
        JSON-ready extras (training manifest identity, identities, losses, ...).
    name : str
        JSON file name inside ``run_dir`` (``checkpoint.json`` or ``model.json``).

    Returns
    -------
    pathlib.Path
        The JSON file written.

    Examples
    --------
    >>> import tempfile, torch
    >>> d = tempfile.mkdtemp()
    >>> path = save_checkpoint(d, torch.nn.Linear(2, 1), {"demo": True}, step=3)
    >>> load_checkpoint(path).meta["step"]
    3
    """
    module = getattr(model, "module", model)
    state = state or ResumeState()
    tensors: dict[str, torch.Tensor] = {
        f"model.{k}": v.detach().cpu().contiguous() for k, v in module.state_dict().items()
    }
    optim_rest: dict[str, Any] | None = None
    if state.optimizer is not None:
        optim_tensors, optim_rest = _flatten_optimizer(state.optimizer.state_dict())
        tensors.update(optim_tensors)
    for key, value in state.rng_states.items():
        tensors[f"rng.{key}"] = value.detach().cpu().contiguous()
    meta = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "tensors": None,  # set by _write_pair
        "tensors_sha256": None,
        "config": config,
        "stage": stage,
        "step": int(step),
        "finished": stage == "done",
        "scheduler": None if state.scheduler is None else state.scheduler.state_dict(),
        "optimizer": optim_rest,
        "metadata": metadata or {},
    }
    return _write_pair(Path(run_dir), name, tensors, meta)


def _write_pair(
    run_dir: Path, name: str, tensors: dict[str, torch.Tensor], meta: dict[str, Any]
) -> Path:
    """Write the tensor file, then the JSON naming it (both atomic); drop older tensor files."""
    from safetensors.torch import save  # torch: kept out of importing this module

    run_dir.mkdir(parents=True, exist_ok=True)
    blob = save(tensors)
    stem = Path(name).stem
    tensor_name = f"{stem}-{meta['stage']}-{int(meta['step']):08d}.safetensors"
    with atomic_open(run_dir / tensor_name, "wb") as fh:
        fh.write(blob)
    meta = {**meta, "tensors": tensor_name, "tensors_sha256": hashlib.sha256(blob).hexdigest()}
    json_path = run_dir / name
    atomic_write_text(json_path, json.dumps(meta, indent=2, sort_keys=True) + "\n")
    for old in run_dir.glob(f"{stem}-*.safetensors"):
        if old.name != tensor_name:
            old.unlink(missing_ok=True)
    return json_path


def load_checkpoint(
    path: str | os.PathLike[str], *, prefer: str = MODEL_CHECKPOINT, map_location: str = "cpu"
) -> LoadedCheckpoint:
    """Read a checkpoint written by :func:`save_checkpoint`; never unpickles.

    Parameters
    ----------
    path : path-like
        Run folder, checkpoint JSON or its ``.safetensors`` file.
    prefer : str
        For a run folder: which JSON to read first (``model.json`` or ``checkpoint.json``).
    map_location : str
        Device the tensors are loaded to.

    Returns
    -------
    LoadedCheckpoint
        JSON document, model state, optimizer state and RNG states.

    Raises
    ------
    CheckpointError
        Missing file, pickle input, unknown format or version, a field of the wrong type
        (named), a tensor file whose SHA-256 differs from the one recorded, or a tensor
        holding NaN or infinite values (named).
    """
    json_path = find_checkpoint(path, prefer=prefer)
    meta = _read_meta(json_path)
    tensor_path = json_path.parent / meta["tensors"]
    if not tensor_path.is_file():
        raise CheckpointError(f"{json_path}: its tensor file {tensor_path} is missing")
    tensors = _read_tensors(tensor_path, meta.get("tensors_sha256"), json_path.name)
    model_state, optim_tensors, rng = {}, {}, {}
    for key, value in tensors.items():
        group, _, rest = key.partition(".")
        if group == "model":
            model_state[rest] = value.to(map_location)
        elif group == "optim":
            optim_tensors[key] = value.to(map_location)
        elif group == "rng":
            rng[rest] = value
        else:
            raise CheckpointError(f"{tensor_path}: unexpected tensor {key!r}")
    optim = None
    if meta.get("optimizer") is not None:
        optim = _unflatten_optimizer(optim_tensors, meta["optimizer"])
    return LoadedCheckpoint(
        meta=meta, model_state=model_state, optimizer_state=optim, rng_states=rng, path=json_path
    )


def _read_meta(json_path: Path) -> dict[str, Any]:
    """Read and validate a checkpoint JSON: format, version, tensor file name, fields."""
    try:
        meta = json.loads(json_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise CheckpointError(f"{json_path}: not a readable checkpoint JSON: {err}") from err
    if not isinstance(meta, dict) or meta.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"{json_path}: not an s2f-audit checkpoint (expected format {CHECKPOINT_FORMAT!r}, "
            f"got {meta.get('format') if isinstance(meta, dict) else type(meta).__name__!r})"
        )
    version = meta.get("version")
    if not isinstance(version, int) or version > CHECKPOINT_VERSION:
        raise CheckpointError(
            f"{json_path}: checkpoint version {version!r}; this s2f-audit reads up to "
            f"{CHECKPOINT_VERSION}"
        )
    tensor_name = meta.get("tensors")
    if not isinstance(tensor_name, str) or not tensor_name or Path(tensor_name).name != tensor_name:
        raise CheckpointError(
            f"{json_path}: bad tensor file name {tensor_name!r} (expected the name of a "
            ".safetensors file in the same folder)"
        )
    validate_meta(meta, json_path)
    return meta


def _read_tensors(tensor_path: Path, expected_sha: Any, json_name: str) -> dict[str, Any]:
    """Read a tensor file whose SHA-256 must be ``expected_sha``; refuse non-finite values."""
    from safetensors import SafetensorError  # torch: kept out of importing this module
    from safetensors.torch import load

    blob = tensor_path.read_bytes()
    digest = hashlib.sha256(blob).hexdigest()
    if digest != expected_sha:
        raise CheckpointError(
            f"{tensor_path}: SHA-256 {digest} differs from {expected_sha} "
            f"recorded in {json_name}: the file is damaged or from another save"
        )
    try:
        tensors = load(blob)
    except SafetensorError as err:
        raise CheckpointError(f"{tensor_path}: not a valid safetensors file: {err}") from err
    check_finite(tensors, tensor_path)
    return tensors


def load_model(
    run_dir_or_checkpoint: str | os.PathLike[str],
    map_location: str = "cpu",
    *,
    allow_unfinished: bool = False,
):
    """Load a trained Speech2Face model in eval mode from safetensors + JSON.

    Parameters
    ----------
    run_dir_or_checkpoint : path-like
        A run folder (its ``model.json``, else its latest ``checkpoint.json``), a checkpoint
        JSON, or the ``.safetensors`` file beside one. Pickle files are refused.
    map_location : str
        Device for the weights.
    allow_unfinished : bool
        Accept a run that stopped before its last stage (e.g. killed during the face-encoder
        stage); by default it is refused. ``model.training_info`` says where it stopped.

    Returns
    -------
    Speech2Face
        The model, in eval mode, on ``map_location``; ``model.identities`` holds the training
        speaker ids (fc8 order) when the checkpoint records them, ``model.training_info``
        the stage, step, whether the run finished and the training data
        (:func:`training_info`).

    Raises
    ------
    CheckpointError
        See :func:`load_checkpoint`; also when the weights do not fit the saved config, or
        the run is unfinished and ``allow_unfinished`` is False.
    """
    ckpt = load_checkpoint(run_dir_or_checkpoint, map_location=map_location)
    require_finished(ckpt, allow_unfinished=allow_unfinished)
    from s2f_model._model import build_model  # torch: kept out of importing this module

    try:
        cfg = S2FConfig.from_dict(ckpt.meta["config"])
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(f"{ckpt.path}: bad model config: {err}") from err
    model = build_model(cfg)
    try:
        model.load_state_dict(ckpt.model_state, strict=True)
    except RuntimeError as err:
        raise CheckpointError(f"{ckpt.path}: weights do not fit the saved config: {err}") from err
    model.to(map_location)
    model.eval()
    identities = ckpt.meta["metadata"].get("identities")
    if identities is not None:
        model.identities = list(identities)
    model.training_info = training_info(ckpt)
    return model
