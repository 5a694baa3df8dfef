"""The shipped compact face side: save, verify and load its weights and model card.

``s2f_model/weights/compact_face_side.safetensors`` holds the face encoder (``face_encoder.*``)
and the face decoder (``face_decoder.*``, with its mean face) of a compact
:class:`~s2f_model.Speech2Face`; ``compact_face_side.json`` beside it is the model card
(settings, CPU time, measured numbers, the config sections it fits and the file's sha256).
Regenerate both with ``s2f-audit face-side --seed 0 --out DIR`` (one thread).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from torch import nn

from s2f_model._checkpoint import MODEL_CHECKPOINT, save_checkpoint
from s2f_model._config import S2FConfig
from s2f_model._model import build_model
from s2f_model.exceptions import WeightImportError

__all__ = [
    "FACE_SIDE_PREFIXES",
    "load_face_side",
    "load_face_side_model",
    "pretrained_identities",
    "save_face_side",
    "shipped_card_path",
    "shipped_weights_path",
    "write_face_side_run",
]

WEIGHTS_NAME = "compact_face_side.safetensors"
CARD_NAME = "compact_face_side.json"
FACE_SIDE_PREFIXES = ("face_encoder.", "face_decoder.")
_SHIPPED_DIR = Path(__file__).parent / "weights"


def shipped_weights_path() -> Path:
    """Path of the shipped compact face-side weights."""
    return _SHIPPED_DIR / WEIGHTS_NAME


def shipped_card_path() -> Path:
    """Path of the shipped compact face-side model card (JSON)."""
    return _SHIPPED_DIR / CARD_NAME


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _sections(cfg: S2FConfig) -> dict[str, Any]:
    full = cfg.to_dict()
    return {"face": full["face"], "decoder": full["decoder"]}


def save_face_side(model: nn.Module, out_dir: str | os.PathLike[str], card: dict[str, Any]) -> Path:
    """Write the face encoder and decoder of ``model`` and the model card into ``out_dir``.

    Parameters
    ----------
    model : Speech2Face
        Model whose ``face_encoder`` and ``face_decoder`` are saved.
    out_dir : path-like
        Folder (created if missing); gets ``compact_face_side.safetensors`` and ``.json``.
    card : dict
        JSON-ready record; ``config`` (face and decoder sections), ``weights`` (file name)
        and ``sha256`` are added.

    Returns
    -------
    pathlib.Path
        The weights file.
    """
    from safetensors.torch import save_file

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    state = {
        k: v.detach().contiguous().cpu()
        for k, v in model.state_dict().items()
        if k.startswith(FACE_SIDE_PREFIXES)
    }
    path = out / WEIGHTS_NAME
    save_file(state, str(path))
    full = {
        **card,
        "config": _sections(model.cfg),
        "weights": WEIGHTS_NAME,
        "sha256": _sha256(path),
    }
    (out / CARD_NAME).write_text(json.dumps(full, indent=1) + "\n")
    return path


def _read_card(folder: Path) -> dict[str, Any]:
    path = folder / CARD_NAME
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise WeightImportError(f"{path}: cannot read the face-side model card: {err}") from err


def load_face_side(model: nn.Module, folder: str | os.PathLike[str] | None = None) -> nn.Module:
    """Load a pretrained face side into ``model`` (in place) after checking it.

    Parameters
    ----------
    model : Speech2Face
        Its ``cfg.face`` and ``cfg.decoder`` must equal those the weights were made for
        (the compact preset's for the shipped weights; ``face.n_identities`` included).
    folder : path-like, optional
        Folder with ``compact_face_side.safetensors`` and ``.json``; default: the shipped one.

    Returns
    -------
    Speech2Face
        ``model``, its face encoder and decoder replaced.

    Raises
    ------
    WeightImportError
        The file's sha256 differs from the card's, or the settings do not match.

    Examples
    --------
    >>> from s2f_model import S2FConfig, build_model
    >>> model = load_face_side(build_model(S2FConfig.compact(), seed=0))
    """
    from safetensors.torch import load_file

    folder = _SHIPPED_DIR if folder is None else Path(folder)
    card = _read_card(folder)
    path = folder / card.get("weights", WEIGHTS_NAME)
    if not path.is_file():
        raise WeightImportError(f"{path}: face-side weights not found")
    digest = _sha256(path)
    if digest != card.get("sha256"):
        raise WeightImportError(
            f"{path}: sha256 {digest} differs from the model card's {card.get('sha256')}"
        )
    if card.get("config") != _sections(model.cfg):
        raise WeightImportError(
            f"{path}: made for face/decoder settings {card.get('config')}, the model has "
            f"{_sections(model.cfg)}; use the compact preset without face/decoder overrides"
        )
    state = load_file(str(path))
    result = model.load_state_dict(state, strict=False)
    missing = [k for k in result.missing_keys if k.startswith(FACE_SIDE_PREFIXES)]
    if missing or result.unexpected_keys:
        raise WeightImportError(
            f"{path}: missing keys {missing[:5]}, unexpected keys {result.unexpected_keys[:5]}"
        )
    return model


def load_face_side_model(
    folder: str | os.PathLike[str] | None = None, cfg: S2FConfig | None = None
) -> nn.Module:
    """Build a compact model (seed 0) and load a pretrained face side into it (eval mode)."""
    return load_face_side(build_model(cfg or S2FConfig.compact(), seed=0), folder).eval()


def pretrained_identities(n: int) -> list[str]:
    """Names of the ``n`` fc8 classes of a pretrained face side (no manifest speaker)."""
    return [f"pretrained-{i:04d}" for i in range(n)]


def write_face_side_run(
    out_dir: str | os.PathLike[str], cfg: S2FConfig, folder: str | os.PathLike[str] | None = None
) -> Path:
    """Write a finished run folder that holds only a pretrained face side.

    Other runs reuse it with ``train(..., face_from=out_dir)`` (or ``s2f-audit train
    --face-from``), exactly like a run whose face stages were trained.

    Parameters
    ----------
    out_dir : path-like
        Run folder to write (``model.json`` and its tensors).
    cfg : S2FConfig
        The configuration the voice runs will use (face and decoder must fit the weights).
    folder : path-like, optional
        Face-side folder; default: the shipped one.

    Returns
    -------
    pathlib.Path
        ``out_dir``.
    """
    model = load_face_side(build_model(cfg, seed=cfg.train.seed), folder)
    source = _SHIPPED_DIR if folder is None else Path(folder)
    card = _read_card(source)
    metadata = {
        "identities": pretrained_identities(cfg.face.n_identities),
        "face_from": {
            "pretrained": str(source / card["weights"]),
            "tensors_sha256": card["sha256"],
        },
    }
    out = Path(out_dir)
    save_checkpoint(
        out, model, cfg.to_dict(), stage="done", step=0, metadata=metadata, name=MODEL_CHECKPOINT
    )
    return out
