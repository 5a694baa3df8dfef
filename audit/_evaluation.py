"""The per-utterance evaluation table: model + judge + manifest -> one row per utterance.

This is the only part of :mod:`audit` that runs the model (torch is imported lazily). Each row
holds the manifest columns, the judge's labels and probabilities for the true face, the
reconstruction from the voice and the upper bound (true face -> face encoder -> decoder),
feature similarity, the retrieval rank of the true face in a gallery, craniofacial measures
of both faces and voice measures, and, per input duration (3 s and 6 s by default), the
feature similarity and retrieval rank of the voice feature computed from that much speech.
One bad file never stops the batch: it is listed in the error table with its path and reason.

Every row of the evaluated split is accounted for: it is either in the table or in the error
table with a reason (an audit reviewer must be able to see who was left out and why). A row
without a ``face_path`` in a manifest where other rows have faces (e.g. a VoxCeleb import whose
faces cover only some speakers) is listed with stage ``face``: every audit metric compares the
reconstruction with the speaker's true face, so evaluating it voice-only would add a row that
no metric can use while making it look evaluated.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from audit._evaluation_rows import (  # noqa: F401 - re-exported, the names' old home
    _VOICE_COLUMN_RENAME,
    NO_FACE_REASON,
    RowsPart,
    _known_voice_measures,
    _Prepared,
    _to_uint8,
    evaluate_rows,
    prepare_evaluation,
    voice_measure_columns,
)
from audit._input_length import (
    AUTO_INPUT_SECONDS,
    InputSeconds,
    input_seconds_tag,
    resolve_input_seconds,
)
from audit.exceptions import AuditInputError

if TYPE_CHECKING:
    from s2f_data import Manifest

__all__ = [
    "AUTO_INPUT_SECONDS",
    "EvaluationResult",
    "build_evaluation_table",
    "input_seconds_tag",
    "resolve_input_seconds",
]

log = logging.getLogger(__name__)

#: Hex characters of the SHA-256 of an utterance id kept in sample file names.
_SAMPLE_HASH_CHARS = 10
_SAMPLE_NAME_CHARS = 60

_MANIFEST_COLUMNS = (
    "utterance_id",
    "speaker_id",
    "split",
    "language",
    "accent",
    "gender",
    "age_group",
    "ethnicity",
)


@dataclass
class EvaluationResult:
    """What :func:`build_evaluation_table` returns.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per successfully evaluated utterance.
    errors : pandas.DataFrame
        One row per utterance that could not be evaluated: ``utterance_id``, ``path``,
        ``stage``, ``reason``.
    samples : list of dict
        Sample reconstructions written to disk (``utterance_id``, group columns,
        ``true_face``, ``reconstruction``, ``upper_bound`` as file names inside
        ``samples_dir``).
    info : dict
        Settings used (gallery size, split, judge name, ...).
    """

    table: pd.DataFrame
    errors: pd.DataFrame
    samples: list[dict[str, Any]] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)


def _judge_columns(judge: Any, images: np.ndarray, prefix: str) -> dict[str, Any]:
    """Judge labels and probabilities as ``<prefix>_<attr>`` / ``<prefix>_<attr>_p_<label>``."""
    from audit.judges._protocol import check_probabilities

    probs = check_probabilities(judge, judge.predict_proba(images), len(images))
    out: dict[str, Any] = {}
    for attr, labels in judge.vocabularies.items():
        p = probs[attr]
        ok = ~np.isnan(p).all(axis=1)
        top = np.argmax(np.where(ok[:, None], p, 0.0), axis=1)
        label = np.asarray(labels, dtype=object)[top]
        out[f"{prefix}_{attr}"] = pd.array(np.where(ok, label, None), dtype="string")
        for k, lab in enumerate(labels):
            out[f"{prefix}_{attr}_p_{lab}"] = p[:, k]
    return out


def _retrieval_ranks(
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


def build_evaluation_table(
    model: Any,
    manifest: Manifest,
    judge: Any | None,
    *,
    split: str | None = "test",
    gallery_size: int = 100,
    batch_size: int = 32,
    voice_measures: bool | pd.DataFrame = True,
    samples_dir: str | Path | None = None,
    samples_per_group: int = 2,
    sample_groups: Sequence[str] = ("language", "ethnicity"),
    random_state: int = 0,
    progress: bool = False,
    input_seconds: InputSeconds = "auto",
) -> EvaluationResult:
    """Run the model and the measurement instruments over a manifest.

    Parameters
    ----------
    model : s2f_model.Speech2Face
        A trained model in eval mode.
    manifest : s2f_data.Manifest
        Evaluation manifest; rows need ``face_path`` for face-side measures.
    judge : Judge or None
        Attribute judge applied to true faces, reconstructions and upper-bound faces, all at
        the model's output resolution so that they are judged alike. ``None`` skips
        attribute columns.
    split : str or None
        Evaluate only rows of this split (``None``: all rows).
    gallery_size : int
        Faces per retrieval gallery (true face + distinct other speakers), capped at the
        number of speakers.
    batch_size : int
        Utterances per forward pass.
    voice_measures : bool or DataFrame
        Measure F0 and other voice statistics of each utterance (parselmouth). A DataFrame
        gives measures taken earlier on the same audio (:func:`voice_measure_columns` of an
        earlier evaluation table, with ``utterance_id``): rows found there are copied, the
        others are measured. They depend only on the audio, so two models audited on one
        population need them once.
    samples_dir : path-like or None
        Where to write sample reconstructions (PNG); ``None`` writes none.
    samples_per_group : int
        Sample utterances per group of ``sample_groups``.
    sample_groups : sequence of str
        Columns whose combinations get samples.
    random_state : int
        Seeds gallery draws and sample choice.
    progress : bool
        Show a progress bar.
    input_seconds : sequence of float, "auto", "none" or None
        Input durations of the input-length comparison (see `resolve_input_seconds`;
        ``"auto"``: 3 s and 6 s when the model can take both). For each duration ``d`` the
        voice feature is recomputed from the first ``d`` seconds of speech, looped to the
        clip (or to ``d`` when longer, for a length-agnostic encoder), and the table gains
        ``cos_sim_<d>s``, ``l1_<d>s``, ``l2_<d>s``, ``retrieval_rank_<d>s`` (the same galleries
        as ``retrieval_rank``, so the comparison is paired) and ``speech_seconds_<d>s``
        (seconds of speech used, ``min(d, utterance length)``). Features only: no decoding or
        judging. Needs face files; the other columns do not depend on it.

    Returns
    -------
    EvaluationResult
        The table, the error table, samples and settings.

    Raises
    ------
    ValueError
        If an explicit ``input_seconds`` duration cannot be fed to the model.
    """
    from tqdm.auto import tqdm

    prep = prepare_evaluation(model, manifest, split, input_seconds, voice_measures)
    n = len(prep.frame)
    bar = tqdm(total=n, desc="evaluate", unit="utt", disable=not progress)
    parts = []
    for start in range(0, n, batch_size):
        parts.append(evaluate_rows(model, prep, start, min(start + batch_size, n)))
        bar.update(min(start + batch_size, n) - start)
    bar.close()
    return finish_evaluation(
        model,
        prep,
        parts,
        judge,
        gallery_size=gallery_size,
        batch_size=batch_size,
        samples_dir=samples_dir,
        samples_per_group=samples_per_group,
        sample_groups=sample_groups,
        random_state=random_state,
    )


def finish_evaluation(
    model: Any,
    prep: _Prepared,
    parts: Sequence[RowsPart],
    judge: Any | None,
    *,
    gallery_size: int = 100,
    batch_size: int = 32,
    samples_dir: str | Path | None = None,
    samples_per_group: int = 2,
    sample_groups: Sequence[str] = ("language", "ethnicity"),
    random_state: int = 0,
) -> EvaluationResult:
    """Assemble the table from the row blocks (in row order): faces, retrieval, judge, samples."""
    import torch

    frame, durations, cfg = prep.frame, prep.durations, model.cfg
    has_faces = prep.has_faces
    face_images, face_landmarks, row_face = prep.face_images, prep.face_landmarks, prep.row_face
    rng = np.random.default_rng(random_state)
    errors = list(prep.errors)
    for part in parts:
        errors.extend(part.errors)
    ok_rows = [int(i) for part in parts for i in part.rows]
    if not ok_rows:
        raise AuditInputError(
            f"no utterance could be evaluated ({len(errors)} errors; first: "
            f"{errors[0]['reason'] if errors else 'none'})"
        )
    feats_voice = [p.voice for p in parts]
    recon_imgs = [p.recon for p in parts]
    recon_lms = [p.recon_landmarks for p in parts]
    feats_by_length = {d: [p.by_length[d][0] for p in parts] for d in durations}
    speech_by_length = {d: [p.by_length[d][1] for p in parts] for d in durations}
    vmeasures = [m for p in parts for m in p.measures]
    device = next(model.parameters()).device

    _check_accounted(frame, ok_rows, errors)
    table = frame.loc[ok_rows, [c for c in _MANIFEST_COLUMNS if c in frame.columns]]
    table = table.reset_index(drop=True)
    v = np.concatenate(feats_voice)  # (n_ok, D)
    recon = np.concatenate(recon_imgs)  # (n_ok, S, S, 3)
    recon_lm = np.concatenate(recon_lms)  # (n_ok, 68, 2)
    cols: dict[str, Any] = {}
    length_cols: dict[str, Any] = {}  # input-length columns, appended after the others
    info: dict[str, Any] = {
        "split": prep.split,
        "n_evaluated": len(ok_rows),
        "n_errors": len(errors),
    }

    if has_faces:
        owner_face = row_face[ok_rows]
        with torch.inference_mode():
            imgs = torch.from_numpy(np.stack(face_images)).permute(0, 3, 1, 2).float() / 255.0
            imgs = imgs.to(device)
            f_parts, up_imgs, up_lms = [], [], []
            for start in range(0, len(imgs), batch_size):
                f = model.encode_face(imgs[start : start + batch_size])
                o = model.decode(f)
                f_parts.append(f.cpu().numpy())
                up_imgs.append(_to_uint8(o.image))
                up_lms.append(o.landmarks.cpu().numpy())
        f_all = np.concatenate(f_parts)  # (n_faces, D)
        upper_all = np.concatenate(up_imgs)  # (n_faces, S, S, 3)
        f_row = f_all[owner_face]
        vn = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
        fn = f_row / np.maximum(np.linalg.norm(f_row, axis=1, keepdims=True), 1e-12)
        cols["cos_sim"] = np.sum(vn * fn, axis=1)
        cols["l1"] = np.abs(vn - fn).sum(axis=1)
        cols["l2"] = np.linalg.norm(vn - fn, axis=1)
        vn_by_length = {}
        for d in durations:
            v_d = np.concatenate(feats_by_length[d])  # (n_ok, D)
            vn_by_length[d] = v_d / np.maximum(np.linalg.norm(v_d, axis=1, keepdims=True), 1e-12)
        # Retrieval over one face per speaker (the first face seen for each speaker).
        spk = table["speaker_id"].to_numpy()
        spk_face: dict[str, int] = {}
        for s, k in zip(spk, owner_face, strict=True):
            spk_face.setdefault(s, int(k))
        speakers = list(spk_face)
        gallery = f_all[[spk_face[s] for s in speakers]]
        gallery = gallery / np.maximum(np.linalg.norm(gallery, axis=1, keepdims=True), 1e-12)
        position = {s: k for k, s in enumerate(speakers)}
        owner = np.array([position[s] for s in spk])
        all_ranks, g = _retrieval_ranks(
            [vn, *vn_by_length.values()], gallery, owner, gallery_size, rng
        )
        ranks = all_ranks[0]
        cols["retrieval_rank"] = ranks
        cols["gallery_size"] = np.full(len(ranks), g)
        info["gallery_size"] = int(g)
        # Input-length comparison: the same faces and galleries, features from d seconds.
        for d, rank_d in zip(durations, all_ranks[1:], strict=True):
            tag, vn_d = input_seconds_tag(d), vn_by_length[d]
            length_cols[f"cos_sim_{tag}"] = np.sum(vn_d * fn, axis=1)
            length_cols[f"l1_{tag}"] = np.abs(vn_d - fn).sum(axis=1)
            length_cols[f"l2_{tag}"] = np.linalg.norm(vn_d - fn, axis=1)
            length_cols[f"retrieval_rank_{tag}"] = rank_d
            length_cols[f"speech_seconds_{tag}"] = np.concatenate(speech_by_length[d])

        # Judge all faces at the reconstruction's resolution, so they are judged alike.
        if judge is not None:
            true_small = np.stack(
                [_resize(face_images[k], recon.shape[1]) for k in owner_face]
            )  # (n_ok, S, S, 3)
            cols.update(_judge_columns(judge, true_small, "true"))
            cols.update(_judge_columns(judge, recon, "recon"))
            cols.update(_judge_columns(judge, upper_all[owner_face], "upper"))
            info["judge"] = getattr(judge, "name", type(judge).__name__)

        # Craniofacial measures: ground-truth landmarks where known, else the upper bound's.
        from audit._craniofacial import craniofacial_measures

        up_lm_all = np.concatenate(up_lms)
        true_lm = np.stack(
            [
                face_landmarks[k] if face_landmarks[k] is not None else up_lm_all[k]
                for k in owner_face
            ]
        )
        true_m = craniofacial_measures(true_lm)
        recon_m = craniofacial_measures(recon_lm)
        for name in true_m.columns:
            cols[f"true_{name}"] = true_m[name].to_numpy()
            cols[f"recon_{name}"] = recon_m[name].to_numpy()

        if samples_dir is not None:
            samples = _write_samples(
                table,
                owner_face,
                face_images,
                recon,
                upper_all,
                Path(samples_dir),
                sample_groups,
                samples_per_group,
                rng,
            )
        else:
            samples = []
    else:
        samples = []

    if prep.measure_voice and vmeasures:
        vm = pd.DataFrame(vmeasures)
        for name in vm.columns:
            cols[_VOICE_COLUMN_RENAME.get(name, f"voice_{name}")] = vm[name].to_numpy()

    cols.update(length_cols)
    info["input_seconds"] = list(durations)
    info["clip_seconds"] = cfg.audio.clip_samples / cfg.audio.sample_rate
    table = pd.concat([table, pd.DataFrame(cols)], axis=1)
    err = pd.DataFrame(errors, columns=["utterance_id", "path", "stage", "reason"])
    return EvaluationResult(table=table, errors=err, samples=samples, info=info)


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


def sample_file_stem(utterance_id: str) -> str:
    """Return a file-name stem for an utterance id: safe, short and collision-free.

    The readable part keeps letters, digits, ``-``, ``_`` and ``.`` (others become ``_``,
    at most 60 characters, no leading dot); the SHA-256 of the whole id is appended, so
    ``a/b`` and ``a?b`` get different names.

    Examples
    --------
    >>> sample_file_stem("a/b"), sample_file_stem("a?b")
    ('a_b-c14cddc033', 'a_b-c2a7b64a2d')
    """
    import hashlib

    safe = "".join(
        ch if ch.isascii() and (ch.isalnum() or ch in "-_.") else "_" for ch in utterance_id
    )[:_SAMPLE_NAME_CHARS].lstrip(".")
    digest = hashlib.sha256(utterance_id.encode("utf-8")).hexdigest()[:_SAMPLE_HASH_CHARS]
    return f"{safe or 'utt'}-{digest}"


def _resize(image: np.ndarray, size: int) -> np.ndarray:
    from PIL import Image

    if image.shape[0] == size and image.shape[1] == size:
        return image
    pil = Image.fromarray(image).resize((size, size), Image.Resampling.BILINEAR)
    return np.asarray(pil, dtype=np.uint8)


def _write_samples(
    table: pd.DataFrame,
    owner_face: np.ndarray,
    faces: list[np.ndarray],
    recon: np.ndarray,
    upper: np.ndarray,
    folder: Path,
    groups: Sequence[str],
    per_group: int,
    rng: np.random.Generator,
) -> list[dict[str, Any]]:
    """Write true / reconstruction / upper-bound PNG triples for a few utterances per group."""
    from PIL import Image

    from s2f_data import atomic_open

    folder.mkdir(parents=True, exist_ok=True)
    cols = [c for c in groups if c in table.columns]
    out: list[dict[str, Any]] = []
    keys = table[cols].astype("string").fillna("(missing)") if cols else None
    buckets = (
        keys.groupby(cols, sort=True, dropna=False).indices
        if keys is not None
        else {"all": np.arange(len(table))}
    )
    for idx in buckets.values():
        chosen = rng.choice(idx, size=min(per_group, len(idx)), replace=False)
        for i in sorted(int(j) for j in chosen):
            uid = str(table.at[i, "utterance_id"])
            safe = sample_file_stem(uid)
            record: dict[str, Any] = {"utterance_id": uid}
            record.update({c: str(keys.at[i, c]) for c in cols} if keys is not None else {})
            size = recon.shape[1]
            for name, img in (
                ("true_face", _resize(faces[owner_face[i]], size * 2)),
                ("reconstruction", _resize(recon[i], size * 2)),
                ("upper_bound", _resize(upper[owner_face[i]], size * 2)),
            ):
                path = folder / f"{safe}_{name}.png"
                with atomic_open(path, "wb") as fh:
                    Image.fromarray(img).save(fh, format="PNG")
                record[name] = path.name
            out.append(record)
    return out
