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

from s2f_data import atomic_open, atomic_write_text
from s2f_model.exceptions import CheckpointError

if TYPE_CHECKING:
    import torch

__all__ = [
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_VERSION",
    "CheckpointError",
    "LoadedCheckpoint",
    "file_sha256",
    "find_checkpoint",
    "load_checkpoint",
    "load_model",
    "require_finished",
    "save_checkpoint",
    "training_info",
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


@dataclass
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


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Return the hex SHA-256 of a file's bytes (see :func:`s2f_data.file_digest`)."""
    from s2f_data import file_digest

    return file_digest(path)


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
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: Any = None,
    rng_states: dict[str, torch.Tensor] | None = None,
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
    optimizer : torch.optim.Optimizer, optional
        Saved with tensors flattened into the tensor file.
    scheduler : LRScheduler, optional
        Its ``state_dict()`` must be JSON-serialisable (``StepLR``'s is).
    rng_states : dict of str to torch.Tensor, optional
        RNG states (uint8 tensors, e.g. ``torch.get_rng_state()``).
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
    from safetensors.torch import save

    module = getattr(model, "module", model)
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    tensors: dict[str, torch.Tensor] = {
        f"model.{k}": v.detach().cpu().contiguous() for k, v in module.state_dict().items()
    }
    optim_rest: dict[str, Any] | None = None
    if optimizer is not None:
        optim_tensors, optim_rest = _flatten_optimizer(optimizer.state_dict())
        tensors.update(optim_tensors)
    for key, value in (rng_states or {}).items():
        tensors[f"rng.{key}"] = value.detach().cpu().contiguous()
    blob = save(tensors)
    stem = Path(name).stem
    tensor_name = f"{stem}-{stage}-{int(step):08d}.safetensors"
    with atomic_open(run_dir / tensor_name, "wb") as fh:
        fh.write(blob)
    meta = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "tensors": tensor_name,
        "tensors_sha256": hashlib.sha256(blob).hexdigest(),
        "config": config,
        "stage": stage,
        "step": int(step),
        "finished": stage == "done",
        "scheduler": None if scheduler is None else scheduler.state_dict(),
        "optimizer": optim_rest,
        "metadata": metadata or {},
    }
    json_path = run_dir / name
    atomic_write_text(json_path, json.dumps(meta, indent=2, sort_keys=True) + "\n")
    for old in run_dir.glob(f"{stem}-*.safetensors"):
        if old.name != tensor_name:
            old.unlink(missing_ok=True)
    return json_path


def _refuse_pickle(path: Path) -> None:
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
    _refuse_pickle(path)
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


def _validate_meta(meta: dict[str, Any], json_path: Path) -> None:
    """Check the types of the checkpoint JSON's fields once; raise naming the file and key."""

    def bad(key: str, expected: str) -> CheckpointError:
        return CheckpointError(
            f"{json_path}: {key!r} must be {expected}, got {meta.get(key)!r}: the checkpoint "
            f"is damaged or was edited by hand"
        )

    if meta.get("stage") not in RUN_STAGES:
        raise bad("stage", f"one of {list(RUN_STAGES)}")
    step = meta.get("step")
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise bad("step", "an integer >= 0")
    for key in ("metadata",):
        if not isinstance(meta.get(key), dict):
            raise bad(key, "an object")
    for key in ("scheduler", "optimizer"):
        if meta.get(key) is not None and not isinstance(meta[key], dict):
            raise bad(key, "an object or null")
    optim = meta.get("optimizer")
    if optim is not None and (
        not isinstance(optim.get("param_groups"), list)
        or not isinstance(optim.get("scalars", {}), dict)
    ):
        raise bad("optimizer", "an object with a 'param_groups' list and a 'scalars' object")
    if not isinstance(meta.get("tensors_sha256"), str):
        raise bad("tensors_sha256", "a hex string")
    finished = meta.get("finished", meta["stage"] == "done")
    if not isinstance(finished, bool):
        raise bad("finished", "true or false")
    if finished != (meta["stage"] == "done"):
        raise CheckpointError(
            f"{json_path}: 'finished' is {str(finished).lower()} but 'stage' is "
            f"{meta['stage']!r}: the checkpoint is damaged or was edited by hand"
        )
    extra = meta["metadata"]
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


def _check_finite(tensors: dict[str, torch.Tensor], tensor_path: Path) -> None:
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
    from safetensors import SafetensorError
    from safetensors.torch import load

    json_path = find_checkpoint(path, prefer=prefer)
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
    tensor_name = str(meta.get("tensors", ""))
    if not tensor_name or Path(tensor_name).name != tensor_name:
        raise CheckpointError(f"{json_path}: bad tensor file name {tensor_name!r}")
    _validate_meta(meta, json_path)
    tensor_path = json_path.parent / tensor_name
    if not tensor_path.is_file():
        raise CheckpointError(f"{json_path}: its tensor file {tensor_path} is missing")
    blob = tensor_path.read_bytes()
    digest = hashlib.sha256(blob).hexdigest()
    if digest != meta.get("tensors_sha256"):
        raise CheckpointError(
            f"{tensor_path}: SHA-256 {digest} differs from {meta.get('tensors_sha256')} "
            f"recorded in {json_path.name}: the file is damaged or from another save"
        )
    try:
        tensors = load(blob)
    except SafetensorError as err:
        raise CheckpointError(f"{tensor_path}: not a valid safetensors file: {err}") from err
    _check_finite(tensors, tensor_path)
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
    return LoadedCheckpoint(meta, model_state, optim, rng, json_path)


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
    from s2f_model._config import S2FConfig
    from s2f_model._model import build_model

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
