"""Setting a training run up: the plan, the resume check, the model and the metadata.

:func:`plan_run` reads the manifest and fixes what the run trains on (identities, the face
side it reuses, auxiliary vocabularies); :func:`open_resume_checkpoint` finds and checks the
checkpoint a resumed run continues; :func:`build_run_model` builds the model with the right
weights; :func:`run_metadata` gathers what every checkpoint of the run records.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from s2f_data import Manifest, read_manifest, sidecar_path
from s2f_model._checkpoint import (
    TRAIN_CHECKPOINT,
    LoadedCheckpoint,
    file_sha256,
    load_checkpoint,
    require_finished,
)
from s2f_model._config import S2FConfig
from s2f_model._data import VoiceFaceDataset, training_identities
from s2f_model._distributed import DistContext
from s2f_model._face_side_io import (
    load_face_side,
    pretrained_identities,
    shipped_card_path,
    shipped_weights_path,
)
from s2f_model._model import build_model
from s2f_model._stages import STAGES
from s2f_model._train_step import derive_seed
from s2f_model._voice_targets import with_aux_classes
from s2f_model.exceptions import ConfigError, TrainingError, WeightImportError

__all__ = [
    "RunPlan",
    "build_run_model",
    "init_face_encoder",
    "manifest_identity",
    "open_resume_checkpoint",
    "plan_run",
    "prepare_fresh_model",
    "run_metadata",
    "set_mean_face",
    "start_position",
]

log = logging.getLogger("s2f_model._train")
_FACE_PREFIXES = ("face_encoder.", "face_decoder.")


def manifest_identity(manifest_path: str | os.PathLike[str]) -> dict[str, Any]:
    """Identify a training manifest: path, SHA-256 of the CSV and of its sidecar.

    Parameters
    ----------
    manifest_path : path-like
        ``manifest.csv``.

    Returns
    -------
    dict
        ``{"manifest", "sha256", "sidecar_sha256"}`` (sidecar hash ``None`` when absent).
    """
    path = Path(manifest_path)
    side = sidecar_path(path)
    return {
        "manifest": str(path.absolute()),
        "sha256": file_sha256(path),
        "sidecar_sha256": file_sha256(side) if side.is_file() else None,
    }


@dataclass(frozen=True, kw_only=True)
class RunPlan:
    """What a run trains on, fixed before any weight is built.

    Parameters
    ----------
    cfg : S2FConfig
        The settings, with ``face.n_identities`` and ``voice.aux_classes`` set from the data.
    manifest : Manifest
        The training manifest.
    identities : list of str
        fc8 classes in order (training speakers, or those of the reused face side).
    face_source : LoadedCheckpoint or None
        The run whose face side is reused (``face_from``).
    pretrained : bool
        The shipped face side is loaded (``train.face_side="pretrained"``).
    aux_vocab : dict
        Auxiliary target vocabularies (empty without auxiliary heads).
    data_id : dict
        :func:`manifest_identity` of the manifest.
    manifest_path : pathlib.Path
        The manifest as the caller named it (for messages).
    """

    cfg: S2FConfig
    manifest: Manifest
    identities: list[str]
    face_source: LoadedCheckpoint | None
    pretrained: bool
    aux_vocab: dict[str, Any]
    data_id: dict[str, Any]
    manifest_path: Path

    @property
    def face_reused(self) -> bool:
        """True when the face stages are skipped (face side from a run or the shipped one)."""
        return self.face_source is not None or self.pretrained


def _adopt_face_side(cfg: S2FConfig, source: LoadedCheckpoint) -> tuple[list[str], S2FConfig]:
    """Check that a run's face side fits ``cfg``; return its identities and adjusted cfg."""
    theirs = S2FConfig.from_dict(source.meta["config"])
    cfg = cfg.replace(**{"face.n_identities": theirs.face.n_identities})
    for section in ("face", "decoder"):
        if getattr(theirs, section) != getattr(cfg, section):
            raise TrainingError(
                f"{source.path}: its {section} settings differ from this run's; reuse a face "
                f"side only with the same preset and face/decoder overrides"
            )
    identities = source.meta.get("metadata", {}).get("identities")
    if not identities or len(identities) != theirs.face.n_identities:
        raise TrainingError(
            f"{source.path}: no identity list matching its fc8 ({theirs.face.n_identities} classes)"
        )
    return list(identities), cfg


def plan_run(
    cfg: S2FConfig,
    manifest_path: Path,
    face_from: str | os.PathLike[str] | None,
    allow_unfinished: bool,
) -> RunPlan:
    """Read the manifest and fix identities, the face side and the data-dependent settings."""
    manifest = read_manifest(manifest_path)
    identities = training_identities(manifest)
    if not identities:
        raise TrainingError(f"{manifest_path}: no training speaker with a face")
    face_source = None
    pretrained = face_from is None and cfg.train.face_side == "pretrained"
    if face_from is not None:
        face_source = load_checkpoint(face_from, map_location="cpu")
        require_finished(face_source, allow_unfinished=allow_unfinished, until="voice")
        identities, cfg = _adopt_face_side(cfg, face_source)
    elif pretrained:  # fc8 keeps the shipped width; no manifest speaker is an fc8 class
        identities = pretrained_identities(cfg.face.n_identities)
    else:
        cfg = cfg.replace(**{"face.n_identities": len(identities)})
    cfg, aux_vocab = with_aux_classes(cfg, manifest.frame)
    return RunPlan(
        cfg=cfg,
        manifest=manifest,
        identities=identities,
        face_source=face_source,
        pretrained=pretrained,
        aux_vocab=aux_vocab,
        data_id=manifest_identity(manifest_path),
        manifest_path=manifest_path,
    )


def _saved_identity(ckpt: LoadedCheckpoint) -> dict[str, Any]:
    """Return the identity of a checkpoint's config (settings it lacks take their defaults)."""
    try:
        return S2FConfig.from_dict(ckpt.meta["config"]).identity()
    except ConfigError as err:
        raise TrainingError(f"{ckpt.path}: bad config: {err}") from err


def open_resume_checkpoint(out_dir: Path, resume: bool, plan: RunPlan) -> LoadedCheckpoint | None:
    """Return the checkpoint a resumed run continues (None: start from scratch).

    Raises
    ------
    TrainingError
        A checkpoint is there but ``resume`` is False, or it was made from another manifest
        or with settings of another identity (:meth:`S2FConfig.identity`).
    """
    ckpt_path = out_dir / TRAIN_CHECKPOINT
    if not ckpt_path.is_file():
        if resume:
            log.info("no checkpoint in %s: starting from scratch", out_dir)
        return None
    if not resume:
        raise TrainingError(
            f"{out_dir} already holds a training checkpoint; pass resume=True "
            f"(--resume) to continue it, or choose a new run folder"
        )
    ckpt = load_checkpoint(ckpt_path, prefer=TRAIN_CHECKPOINT, map_location="cpu")
    saved = ckpt.meta["metadata"].get("training_data", {})
    sha = plan.data_id["sha256"]
    if saved.get("sha256") != sha:
        raise TrainingError(
            f"{ckpt_path} was trained on {saved.get('manifest')} (sha256 "
            f"{saved.get('sha256')}); {plan.manifest_path} has sha256 {sha}: "
            f"resume with the same manifest or start a new run"
        )
    if _saved_identity(ckpt) != plan.cfg.identity():
        raise TrainingError(
            f"{ckpt_path} was made with another configuration; resume with the same "
            f"preset and overrides, or start a new run"
        )
    return ckpt


def _load_pretrained_face_side(model: nn.Module) -> None:
    """Load the shipped compact face side into ``model`` (``train.face_side="pretrained"``)."""
    try:
        load_face_side(model)
    except WeightImportError as err:
        raise TrainingError(
            f"train.face_side='pretrained': {err}; set train.face_side="
            f"'train' to train the face side on the manifest"
        ) from err


def build_run_model(plan: RunPlan, ckpt: LoadedCheckpoint | None) -> nn.Module:
    """Build the model and load its starting weights (checkpoint, reused or shipped face side)."""
    cfg = plan.cfg
    model = build_model(cfg, seed=derive_seed(cfg.train.seed, "init"))
    if ckpt is not None:
        model.load_state_dict(ckpt.model_state)
    elif plan.face_source is not None:
        source = plan.face_source
        face_state = {k: v for k, v in source.model_state.items() if k.startswith(_FACE_PREFIXES)}
        missing = model.load_state_dict(face_state, strict=False).missing_keys
        absent = [k for k in missing if k.startswith(_FACE_PREFIXES)]
        if absent:
            raise TrainingError(f"{source.path}: face weights missing: {absent[:5]}")
    elif plan.pretrained:
        _load_pretrained_face_side(model)
        if cfg.train.face_steps:
            log.info(
                "train.face_side='pretrained': the shipped face side is used, "
                "train.face_steps=%d is ignored",
                cfg.train.face_steps,
            )
    return model


def init_face_encoder(model: nn.Module, seed: int) -> None:
    """Re-initialise the face encoder for training from scratch (torchvision's VGG scheme).

    Convolutions: Kaiming normal (fan-out, ReLU gain), zero bias; fully connected layers:
    N(0, 0.01), zero bias. PyTorch's default initialisation shrinks the activations by about
    sqrt(3) per layer, so after 13 convolutions the fc7 features are nearly constant and the
    identity loss does not move (measured: chance-level loss after 150 steps).

    Parameters
    ----------
    model : Speech2Face
        Model whose ``face_encoder`` is re-initialised in place.
    seed : int
        Seed of the draw (the global RNG is left as it was).
    """
    with torch.random.fork_rng(devices=[]), torch.no_grad():
        torch.manual_seed(seed)
        for module in model.face_encoder.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, 0.0, 0.01)
                nn.init.zeros_(module.bias)


def set_mean_face(model: nn.Module, data: VoiceFaceDataset) -> None:
    """Set the decoder's mean face to the mean of the training landmarks (if any)."""
    faces = data.faces
    if not bool(faces.has_landmarks.any()):
        return
    mean = faces.landmarks[faces.has_landmarks].mean(dim=0)  # (faces, 68, 2) -> (68, 2)
    model.face_decoder.set_mean_face(mean)


def prepare_fresh_model(model: nn.Module, plan: RunPlan, data: VoiceFaceDataset) -> None:
    """For a run whose face side trains here: mean face from the data, VGG initialisation."""
    if plan.face_reused:
        return
    set_mean_face(model, data)
    if plan.cfg.train.face_steps > 0:
        init_face_encoder(model, derive_seed(plan.cfg.train.seed, "face_init"))


def _pretrained_face_record() -> dict[str, Any]:
    """Checkpoint metadata naming the shipped face side (its weights file and sha256)."""
    card = json.loads(shipped_card_path().read_text())
    return {"pretrained": str(shipped_weights_path()), "tensors_sha256": card["sha256"]}


def run_metadata(
    plan: RunPlan, data: VoiceFaceDataset, ctx: DistContext, ckpt: LoadedCheckpoint | None
) -> dict[str, Any]:
    """Return what every checkpoint of the run records: data identity, identities, ..."""
    metadata: dict[str, Any] = {
        "identities": plan.identities,
        "training_data": plan.data_id,
        "training_source": {
            "source": plan.manifest.info.source,
            "source_version": plan.manifest.info.source_version,
        },
        "n_train_utterances": len(data),
        "n_train_faces": len(data.faces),
        "world_size": ctx.world_size,
        "torch_version": torch.__version__,
    }
    if plan.aux_vocab:
        metadata["aux_vocabularies"] = plan.aux_vocab
    if plan.face_source is not None:
        metadata["face_from"] = {
            "checkpoint": str(plan.face_source.path.absolute()),
            "tensors_sha256": plan.face_source.meta["tensors_sha256"],
        }
    elif ckpt is not None and "face_from" in ckpt.meta["metadata"]:
        metadata["face_from"] = ckpt.meta["metadata"]["face_from"]
    elif plan.pretrained:
        metadata["face_from"] = _pretrained_face_record()
    return metadata


def start_position(ckpt: LoadedCheckpoint | None) -> tuple[int, int]:
    """(index of the first stage to run, its first step) for a fresh or resumed run."""
    if ckpt is None:
        return 0, 0
    stage = ckpt.meta["stage"]
    index = STAGES.index(stage) if stage in STAGES else len(STAGES)
    return index, int(ckpt.meta["step"])
