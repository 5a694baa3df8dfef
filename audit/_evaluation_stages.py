"""Stages of the evaluation builder: voices, faces, similarity, judge, craniofacial, measures.

:func:`audit._evaluation.finish_evaluation` runs them in this order on the row blocks of
:func:`audit._evaluation_rows.evaluate_rows`. Each stage takes small data objects
(:class:`VoiceRows`, :class:`FaceSide`) and returns evaluation-table columns (name -> array,
one entry per evaluated row), so the table's column order is the order of the stages.
torch is imported inside :func:`encode_faces` only: ``import audit`` stays torch-free.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from audit._craniofacial import craniofacial_measures
from audit._evaluation_rows import (
    _VOICE_COLUMN_RENAME,
    RowsPart,
    _Prepared,
    _to_uint8,
)
from audit._input_length import input_seconds_tag
from audit.exceptions import AuditInputError
from audit.judges import check_probabilities

__all__ = [
    "FaceSide",
    "VoiceRows",
    "craniofacial_columns",
    "encode_faces",
    "gather_voices",
    "judge_columns",
    "recon_judge_columns",
    "resize_image",
    "retrieval_ranks",
    "similarity_columns",
    "voice_measure_table_columns",
]

#: Manifest columns copied into the evaluation table, in order.
MANIFEST_COLUMNS = (
    "utterance_id",
    "speaker_id",
    "split",
    "language",
    "accent",
    "gender",
    "age_group",
    "ethnicity",
)

Columns = dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class VoiceRows:
    """The voice side of every evaluated utterance, gathered from the row blocks in order.

    Attributes
    ----------
    table : DataFrame
        Manifest columns of the evaluated rows (index 0..n-1).
    rows : list of int
        Positions of the evaluated rows in the prepared frame.
    errors : list of dict
        Every row that was not evaluated, with its stage and reason.
    features : numpy.ndarray
        ``(n, D)`` face features predicted from the voice.
    recon, recon_landmarks : numpy.ndarray
        ``(n, S, S, 3)`` uint8 reconstructions and their ``(n, 68, 2)`` landmarks.
    by_length : dict
        Per input duration: ``(features (n, D), speech seconds (n,))``.
    measures : list of dict
        Voice measures per row (``[]`` when not measured).
    """

    table: pd.DataFrame
    rows: list[int]
    errors: list[dict[str, Any]]
    features: np.ndarray
    recon: np.ndarray
    recon_landmarks: np.ndarray
    by_length: dict[float, tuple[np.ndarray, np.ndarray]]
    measures: list[dict[str, float]]


@dataclass(frozen=True, kw_only=True)
class FaceSide:
    """The true faces through the face encoder and decoder (the upper bound).

    Attributes
    ----------
    owner : numpy.ndarray
        ``(n,)`` index of each evaluated row's face in the arrays below.
    features : numpy.ndarray
        ``(faces, D)`` face-encoder features of the distinct true faces.
    upper, upper_landmarks : numpy.ndarray
        ``(faces, S, S, 3)`` uint8 upper-bound faces and their ``(faces, 68, 2)`` landmarks.
    """

    owner: np.ndarray
    features: np.ndarray
    upper: np.ndarray
    upper_landmarks: np.ndarray


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def gather_voices(prep: _Prepared, parts: Sequence[RowsPart]) -> VoiceRows:
    """Stage 1: concatenate the row blocks; check that every row is evaluated or listed."""
    errors = list(prep.errors)
    for part in parts:
        errors.extend(part.errors)
    ok_rows = [int(i) for part in parts for i in part.rows]
    if not ok_rows:
        raise AuditInputError(
            f"no utterance could be evaluated ({len(errors)} errors; first: "
            f"{errors[0]['reason'] if errors else 'none'})"
        )
    frame = prep.frame
    _check_accounted(frame, ok_rows, errors)
    table = frame.loc[ok_rows, [c for c in MANIFEST_COLUMNS if c in frame.columns]]
    return VoiceRows(
        table=table.reset_index(drop=True),
        rows=ok_rows,
        errors=errors,
        features=np.concatenate([p.voice for p in parts]),  # (n, D)
        recon=np.concatenate([p.recon for p in parts]),  # (n, S, S, 3)
        recon_landmarks=np.concatenate([p.recon_landmarks for p in parts]),  # (n, 68, 2)
        by_length={
            d: (
                np.concatenate([p.by_length[d][0] for p in parts]),  # (n, D)
                np.concatenate([p.by_length[d][1] for p in parts]),  # (n,)
            )
            for d in prep.durations
        },
        measures=[m for p in parts for m in p.measures],
    )


def _check_accounted(frame: pd.DataFrame, ok_rows: list[int], errors: list[dict]) -> None:
    """Raise unless every row is evaluated or in the error table (nothing silently dropped)."""
    listed = {str(e["utterance_id"]) for e in errors}
    done = set(ok_rows)
    lost = [
        str(uid)
        for i, uid in enumerate(frame["utterance_id"])
        if i not in done and str(uid) not in listed
    ]
    if lost:
        raise RuntimeError(
            f"{len(lost)} row(s) neither evaluated nor listed as errors, e.g. {lost[:3]}: "
            f"a bug in the evaluation builder"
        )


def encode_faces(model: Any, prep: _Prepared, voices: VoiceRows, batch_size: int) -> FaceSide:
    """Stage 2: every distinct true face through the face encoder and the decoder."""
    import torch  # lazily: `import audit` stays torch-free

    device = next(model.parameters()).device
    with torch.inference_mode():
        imgs = torch.from_numpy(np.stack(prep.face_images)).permute(0, 3, 1, 2).float() / 255.0
        imgs = imgs.to(device)  # (faces, 3, H, W)
        f_parts, up_imgs, up_lms = [], [], []
        for start in range(0, len(imgs), batch_size):
            f = model.encode_face(imgs[start : start + batch_size])
            o = model.decode(f)
            f_parts.append(f.cpu().numpy())
            up_imgs.append(_to_uint8(o.image))
            up_lms.append(o.landmarks.cpu().numpy())
    return FaceSide(
        owner=prep.row_face[voices.rows],
        features=np.concatenate(f_parts),  # (faces, D)
        upper=np.concatenate(up_imgs),  # (faces, S, S, 3)
        upper_landmarks=np.concatenate(up_lms),  # (faces, 68, 2)
    )


def retrieval_ranks(
    voices: Sequence[np.ndarray],
    faces: np.ndarray,
    owner: np.ndarray,
    gallery_size: int,
    rng: np.random.Generator,
) -> tuple[list[np.ndarray], int]:
    """1-based rank of each utterance's own face among ``gallery_size`` faces by cosine.

    ``voices`` holds one or more ``(utterances, D)`` arrays of L2-normalised voice features
    of the same utterances (e.g. from different input lengths); ``faces`` holds one
    L2-normalised feature per speaker; ``owner[i]`` indexes the face of utterance ``i``.
    Each gallery is the true face plus distinct other speakers' faces drawn at random, once
    per utterance and shared by every array of ``voices`` (so their ranks are paired). Ties
    count against the true face (pessimistic rank).
    """
    n_faces = len(faces)
    size = min(gallery_size, n_faces)
    n = len(voices[0])
    ranks = [np.empty(n, dtype=np.int64) for _ in voices]
    sims = [v @ faces.T for v in voices]  # each (utterances, speakers)
    for i in range(n):
        others = np.delete(np.arange(n_faces), owner[i])
        pick = rng.choice(others, size=size - 1, replace=False) if size > 1 else others[:0]
        for sim, rank in zip(sims, ranks, strict=True):
            rank[i] = 1 + int(np.sum(sim[i, pick] >= sim[i, owner[i]]))
    return ranks, size


def _distances(vn: np.ndarray, fn: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cosine, L1 and L2 between row-wise unit vectors ``(n, D)``."""
    return np.sum(vn * fn, axis=1), np.abs(vn - fn).sum(axis=1), np.linalg.norm(vn - fn, axis=1)


def similarity_columns(
    voices: VoiceRows, faces: FaceSide, gallery_size: int, rng: np.random.Generator
) -> tuple[Columns, Columns, int]:
    """Stage 3: similarity to the own face and retrieval rank, overall and per input length.

    Returns the main columns (``cos_sim``, ``l1``, ``l2``, ``retrieval_rank``,
    ``gallery_size``), the input-length columns (appended after every other column) and the
    gallery size used. Retrieval is over one face per speaker (the first face seen for each
    speaker); the input-length features share the galleries, so their ranks are paired.
    """
    vn = _unit(voices.features)
    fn = _unit(faces.features[faces.owner])
    cols: Columns = dict(zip(("cos_sim", "l1", "l2"), _distances(vn, fn), strict=True))
    vn_by_length = {d: _unit(feats) for d, (feats, _) in voices.by_length.items()}
    spk = voices.table["speaker_id"].to_numpy()
    spk_face: dict[str, int] = {}
    for s, k in zip(spk, faces.owner, strict=True):
        spk_face.setdefault(s, int(k))
    speakers = list(spk_face)
    gallery = _unit(faces.features[[spk_face[s] for s in speakers]])
    position = {s: k for k, s in enumerate(speakers)}
    owner = np.array([position[s] for s in spk])
    all_ranks, size = retrieval_ranks(
        [vn, *vn_by_length.values()], gallery, owner, gallery_size, rng
    )
    cols["retrieval_rank"] = all_ranks[0]
    cols["gallery_size"] = np.full(len(all_ranks[0]), size)
    length_cols: Columns = {}
    for (d, vn_d), rank_d in zip(vn_by_length.items(), all_ranks[1:], strict=True):
        tag = input_seconds_tag(d)
        cos_d, l1_d, l2_d = _distances(vn_d, fn)
        length_cols[f"cos_sim_{tag}"] = cos_d
        length_cols[f"l1_{tag}"] = l1_d
        length_cols[f"l2_{tag}"] = l2_d
        length_cols[f"retrieval_rank_{tag}"] = rank_d
        length_cols[f"speech_seconds_{tag}"] = voices.by_length[d][1]
    return cols, length_cols, size


def resize_image(image: np.ndarray, size: int) -> np.ndarray:
    """Resize an ``(H, W, 3)`` uint8 image to ``(size, size, 3)`` (bilinear; same size: as is)."""
    from PIL import Image

    if image.shape[0] == size and image.shape[1] == size:
        return image
    pil = Image.fromarray(image).resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(pil, dtype=np.uint8)


def _judged(judge: Any, images: np.ndarray, prefix: str) -> Columns:
    """Judge labels and probabilities as ``<prefix>_<attr>`` / ``<prefix>_<attr>_p_<label>``."""
    probs = check_probabilities(judge, judge.predict_proba(images), len(images))
    out: Columns = {}
    for attr, labels in judge.vocabularies.items():
        p = probs[attr]
        ok = ~np.isnan(p).all(axis=1)
        top = np.argmax(np.where(ok[:, None], p, 0.0), axis=1)
        label = np.asarray(labels, dtype=object)[top]
        out[f"{prefix}_{attr}"] = pd.array(np.where(ok, label, None), dtype="string")
        for k, lab in enumerate(labels):
            out[f"{prefix}_{attr}_p_{lab}"] = p[:, k]
    return out


def judge_columns(judge: Any, prep: _Prepared, voices: VoiceRows, faces: FaceSide) -> Columns:
    """Stage 4: the judge on true faces, reconstructions and upper bounds.

    All at the reconstruction's resolution, so the three are judged alike.
    """
    size = voices.recon.shape[1]
    true_small = np.stack(
        [resize_image(prep.face_images[k], size) for k in faces.owner]
    )  # (n, S, S, 3)
    cols = _judged(judge, true_small, "true")
    cols.update(_judged(judge, voices.recon, "recon"))
    cols.update(_judged(judge, faces.upper[faces.owner], "upper"))
    return cols


def recon_judge_columns(judge: Any, voices: VoiceRows) -> Columns:
    """Stage 4 without face images: the judge on the reconstructions alone.

    The audit then compares them with the speaker's recorded attributes (``recorded_``
    metrics), the only truth voice-only data (Common Voice, say) has.
    """
    return _judged(judge, voices.recon, "recon")


def craniofacial_columns(prep: _Prepared, voices: VoiceRows, faces: FaceSide) -> Columns:
    """Stage 5: craniofacial measures of the true face and of the reconstruction.

    The true face's landmarks are the manifest's where known, else the upper bound's.
    """
    true_lm = np.stack(
        [
            prep.face_landmarks[k]
            if prep.face_landmarks[k] is not None
            else faces.upper_landmarks[k]
            for k in faces.owner
        ]
    )  # (n, 68, 2)
    true_m = craniofacial_measures(true_lm)
    recon_m = craniofacial_measures(voices.recon_landmarks)
    cols: Columns = {}
    for name in true_m.columns:
        cols[f"true_{name}"] = true_m[name].to_numpy()
        cols[f"recon_{name}"] = recon_m[name].to_numpy()
    return cols


def voice_measure_table_columns(prep: _Prepared, voices: VoiceRows) -> Columns:
    """Stage 6: the voice measures as ``voice_<measure>`` columns (none when not measured)."""
    if not (prep.measure_voice and voices.measures):
        return {}
    vm = pd.DataFrame(voices.measures)
    return {
        _VOICE_COLUMN_RENAME.get(name, f"voice_{name}"): vm[name].to_numpy() for name in vm.columns
    }
