"""Score a model on MAV-Celeb: the FAME cross-modal verification protocol, end to end.

:func:`verify_model` imports a MAV-Celeb version root (:func:`s2f_data.adapters.import_mavceleb`),
runs the model once per utterance (the face feature predicted from the voice, clip policy as
in the audit) and once per distinct face (face-encoder feature), builds the trials
(:func:`audit._verification.make_trials`), scores them, and writes into the output folder:

- ``manifest.csv`` (+ ``manifest.json``): the imported data;
- ``scores.csv``: one row per trial (voice utterance, candidate face, target, cosine score,
  L2 challenge score);
- ``eer.csv``: EER per test language, ``heard`` / ``unheard``, with speaker-bootstrap
  intervals (:func:`audit._verification.verification_eer_table`);
- ``challenge/``: the challenge's trial lists and score files
  (:func:`audit._verification.write_challenge_files`);
- ``errors.csv``: utterances that could not be scored (no face crop, unreadable audio), with
  the reason: nothing is dropped silently;
- ``verification.json``: settings, model, data and the EER records.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from audit._evaluation_rows import _Prepared, _read_audio, prepare_evaluation
from audit._settings import with_options
from audit._verification import (
    make_trials,
    score_trials,
    verification_eer_table,
    write_challenge_files,
)
from audit.exceptions import AuditInputError
from s2f_data import atomic_write_text, file_digest, read_manifest
from s2f_data.adapters import SpeakerSplit, import_mavceleb

__all__ = ["VerifySettings", "verify_model"]

log = logging.getLogger(__name__)

VERIFICATION_FILENAME = "verification.json"


@dataclass(frozen=True, kw_only=True)
class VerifySettings:
    """Settings of :func:`verify_model` (each also a keyword argument of it).

    Parameters
    ----------
    heard_language : str
        ISO code of the language the model was trained on (``heard``); every other test
        language is ``unheard``.
    split : str or None
        Rows of the imported manifest to score (``None``: all rows).
    test_ids : path-like, optional
        Text file of the test identities (the challenge's); without it the adapter's seeded
        speaker split.
    n_nontarget : int
        Non-target trials per utterance (candidate faces of other speakers).
    n_boot : int
        Bootstrap replicates of the EER intervals.
    seed : int
        Seeds the speaker split, the trial draw and the bootstrap.
    batch_size : int
        Utterances (and faces) per forward pass.
    device : str
        Torch device of the model.
    """

    heard_language: str = "en"
    split: str | None = "test"
    test_ids: str | os.PathLike[str] | None = None
    n_nontarget: int = 1
    n_boot: int = 1000
    seed: int = 0
    batch_size: int = 32
    device: str = "cpu"

    def check(self) -> None:
        """Raise :class:`AuditInputError` for a count out of range."""
        for name in ("n_nontarget", "n_boot", "batch_size"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise AuditInputError(f"{name} must be an integer >= 1, got {value!r}")


def verify_model(
    checkpoint: str | os.PathLike[str],
    data_root: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    settings: VerifySettings | None = None,
    **options: Any,
) -> Path:
    """Score a trained model on a MAV-Celeb version with the heard / unheard protocol.

    Parameters
    ----------
    checkpoint : path-like
        Run folder or checkpoint of a trained model.
    data_root : path-like
        MAV-Celeb version root (``<version>_meta.csv``, ``voices/``, ``faces/``).
    out_dir : path-like
        Output folder (created); see the module docstring for its files.
    settings : VerifySettings, optional
        The settings; the defaults when omitted.
    **options
        Fields of :class:`VerifySettings`, overriding ``settings``.

    Returns
    -------
    pathlib.Path
        Path of ``verification.json``.

    Raises
    ------
    s2f_data.DataFormatError
        If the root is not in MAV-Celeb's layout (from the adapter, naming the path).
    AuditInputError
        If the split has no rows, fewer than two speakers have a face, or a count is bad.
    """
    from s2f_model import load_model  # lazily: s2f_model imports torch

    opts = with_options(VerifySettings, settings, options, "verify_model")
    opts.check()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    imported = import_mavceleb(
        data_root, out / "manifest.csv", test_ids=opts.test_ids, split=SpeakerSplit(seed=opts.seed)
    )
    manifest = read_manifest(imported.path)
    model = load_model(checkpoint, map_location=opts.device)
    prep = prepare_evaluation(model, manifest, opts.split, "none", False)
    voices, errors = _voice_features(model, prep, opts.batch_size)
    faces = _face_features(model, prep, opts.batch_size)
    scored_rows = prep.frame[prep.frame["utterance_id"].isin(voices)]
    trials = make_trials(scored_rows, n_nontarget=opts.n_nontarget, random_state=opts.seed)
    scored = score_trials(trials, voices, faces)
    eer = verification_eer_table(
        scored, heard_language=opts.heard_language, n_boot=opts.n_boot, random_state=opts.seed
    )
    scored.to_csv(out / "scores.csv", index=False)
    eer.to_csv(out / "eer.csv", index=False)
    errors.to_csv(out / "errors.csv", index=False)
    files = write_challenge_files(scored, out / "challenge", heard_language=opts.heard_language)
    record = {
        "settings": {k: None if v is None else v for k, v in asdict(opts).items()},
        "model": {"checkpoint": str(checkpoint), "config": model.cfg.to_dict()},
        "data": {
            "root": str(data_root),
            "manifest": imported.path.name,
            "sha256": file_digest(imported.path),
            "n_utterances": len(prep.frame),
            "n_scored": len(voices),
            "n_errors": len(errors),
            "n_speakers": int(scored_rows["speaker_id"].nunique()),
        },
        "eer": json.loads(eer.to_json(orient="records")),
        "files": ["scores.csv", "eer.csv", "errors.csv", *(f"challenge/{p.name}" for p in files)],
    }
    record["settings"]["test_ids"] = None if opts.test_ids is None else str(opts.test_ids)
    atomic_write_text(out / VERIFICATION_FILENAME, json.dumps(record, indent=2) + "\n")
    if len(errors):
        log.warning("%d utterance(s) could not be scored; see %s", len(errors), out / "errors.csv")
    return out / VERIFICATION_FILENAME


def _voice_features(
    model: Any, prep: _Prepared, batch_size: int
) -> tuple[dict[str, np.ndarray], pd.DataFrame]:
    """utterance_id -> face feature predicted from the voice; unscored rows with reasons."""
    import torch  # lazily: `import audit` stays torch-free

    clip = model.cfg.audio.clip_samples
    device = next(model.parameters()).device
    features: dict[str, np.ndarray] = {}
    errors = list(prep.errors)
    n = len(prep.frame)
    for start in range(0, n, batch_size):
        waves, idx, errs = _read_audio(model.cfg, prep, start, min(start + batch_size, n))
        errors.extend(errs)
        if not waves:
            continue
        with torch.inference_mode():
            batch = torch.stack(
                [model.frontend.fit_clip(torch.from_numpy(w)[None, :])[0, :clip] for w in waves]
            ).to(device)  # (batch, clip samples): the audit's clip policy
            feats = model.encode_voice(batch).cpu().numpy()  # (batch, D)
        for i, f in zip(idx, feats, strict=True):
            features[str(prep.frame.at[i, "utterance_id"])] = f
    return features, pd.DataFrame(errors, columns=["utterance_id", "path", "stage", "reason"])


def _face_features(model: Any, prep: _Prepared, batch_size: int) -> dict[str, np.ndarray]:
    """face_path cell -> face-encoder feature of that face (each distinct face once)."""
    import torch  # lazily: `import audit` stays torch-free

    if not prep.face_images:
        raise AuditInputError("verification needs face crops; no row of the split has one")
    device = next(model.parameters()).device
    parts = []
    with torch.inference_mode():
        imgs = torch.from_numpy(np.stack(prep.face_images)).permute(0, 3, 1, 2).float() / 255.0
        for start in range(0, len(imgs), batch_size):
            f = model.encode_face(imgs[start : start + batch_size].to(device))
            parts.append(f.cpu().numpy())
    feats = np.concatenate(parts)  # (faces, D)
    out: dict[str, np.ndarray] = {}
    for cell, k in zip(prep.frame["face_path"], prep.row_face, strict=True):
        if k >= 0:
            out[str(cell)] = feats[k]
    return out
