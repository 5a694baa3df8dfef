"""The per-utterance evaluation table: model + judge + manifest -> one row per utterance.

This is the only part of :mod:`audit` that runs the model (torch is imported lazily). Each row
holds the manifest columns, the judge's labels and probabilities for the true face, the
reconstruction from the voice and the upper bound (true face -> face encoder -> decoder),
feature similarity, the retrieval rank of the true face in a gallery, craniofacial measures
of both faces and voice measures, and, per input duration (3 s and 6 s by default), the
feature similarity and retrieval rank of the voice feature computed from that much speech,
and, for speakers heard in two or more languages, the within-speaker shift of the predicted
feature between languages (four columns, :func:`audit.feature_shift_columns`).
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
from collections.abc import Mapping, Sequence
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
from audit._evaluation_stages import (
    MANIFEST_COLUMNS as _MANIFEST_COLUMNS,  # noqa: F401 - the name's old home
)
from audit._evaluation_stages import (
    FaceSide,
    VoiceRows,
    craniofacial_columns,
    encode_faces,
    gather_voices,
    judge_columns,
    recon_judge_columns,
    retrieval_ranks,
    similarity_columns,
    voice_measure_table_columns,
)
from audit._feature_shift import feature_shift_columns
from audit._input_length import (
    AUTO_INPUT_SECONDS,
    InputSeconds,
    input_seconds_tag,
    resolve_input_seconds,
)
from audit._samples import SampleImages, sample_file_stem, write_language_pairs, write_samples
from audit._settings import with_options

if TYPE_CHECKING:
    from s2f_data import Manifest

__all__ = [
    "AUTO_INPUT_SECONDS",
    "EvaluationResult",
    "EvaluationSettings",
    "build_evaluation_table",
    "input_seconds_tag",
    "resolve_input_seconds",
    "sample_file_stem",
]

log = logging.getLogger(__name__)


#: The old private name of :func:`audit._evaluation_stages.retrieval_ranks`.
_retrieval_ranks = retrieval_ranks


@dataclass(kw_only=True)
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
    language_pairs : list of dict
        Same-speaker reconstructions in two languages written to disk (see
        :func:`audit._samples.write_language_pairs`).
    """

    table: pd.DataFrame
    errors: pd.DataFrame
    samples: list[dict[str, Any]] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    language_pairs: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, kw_only=True)
class EvaluationSettings:
    """Settings of :func:`build_evaluation_table` (each also a keyword argument of it).

    Parameters
    ----------
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
    """

    split: str | None = "test"
    gallery_size: int = 100
    batch_size: int = 32
    voice_measures: bool | pd.DataFrame = True
    samples_dir: str | Path | None = None
    samples_per_group: int = 2
    sample_groups: Sequence[str] = ("language", "ethnicity")
    random_state: int = 0
    progress: bool = False
    input_seconds: InputSeconds = "auto"

    @classmethod
    def build(
        cls, settings: EvaluationSettings | None, options: Mapping[str, Any], caller: str
    ) -> EvaluationSettings:
        """Return ``settings`` (default: the defaults) with the keyword ``options`` applied.

        Raises
        ------
        TypeError
            For an option that is not a field, naming the fields (as Python does for an
            unknown keyword argument).
        """
        return with_options(cls, settings, options, caller)


def build_evaluation_table(
    model: Any,
    manifest: Manifest,
    judge: Any | None,
    settings: EvaluationSettings | None = None,
    **options: Any,
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
    settings : EvaluationSettings, optional
        The settings; the defaults when omitted.
    **options
        Fields of :class:`EvaluationSettings` (``split``, ``gallery_size``, ``batch_size``,
        ``voice_measures``, ``samples_dir``, ``samples_per_group``, ``sample_groups``,
        ``random_state``, ``progress``, ``input_seconds``), overriding ``settings``.

    Returns
    -------
    EvaluationResult
        The table, the error table, samples and settings.

    Raises
    ------
    ValueError
        If an explicit ``input_seconds`` duration cannot be fed to the model.
    TypeError
        For an unknown option.
    """
    from tqdm.auto import tqdm

    opts = EvaluationSettings.build(settings, options, "build_evaluation_table")
    prep = prepare_evaluation(model, manifest, opts.split, opts.input_seconds, opts.voice_measures)
    n, step = len(prep.frame), opts.batch_size
    bar = tqdm(total=n, desc="evaluate", unit="utt", disable=not opts.progress)
    parts = []
    for start in range(0, n, step):
        parts.append(evaluate_rows(model, prep, start, min(start + step, n)))
        bar.update(min(start + step, n) - start)
    bar.close()
    return finish_evaluation(model, prep, parts, judge, opts)


def finish_evaluation(
    model: Any,
    prep: _Prepared,
    parts: Sequence[RowsPart],
    judge: Any | None,
    settings: EvaluationSettings,
) -> EvaluationResult:
    """Assemble the table from the row blocks (in row order), stage by stage.

    Stages (:mod:`audit._evaluation_stages`): voices -> faces -> similarity and retrieval ->
    judge -> craniofacial -> samples -> voice measures -> feature shift; the input-length
    columns come last. Without face files the judge reads the reconstructions alone
    (compared later with the recorded attributes) and the face stages are skipped.
    """
    voices = gather_voices(prep, parts)
    rng = np.random.default_rng(settings.random_state)
    info: dict[str, Any] = {
        "split": prep.split,
        "n_evaluated": len(voices.rows),
        "n_errors": len(voices.errors),
    }
    cols: dict[str, Any] = {}
    length_cols: dict[str, Any] = {}  # input-length columns, appended after the others
    samples: list[dict[str, Any]] = []
    pairs: list[dict[str, Any]] = []
    if prep.has_faces:
        faces = encode_faces(model, prep, voices, settings.batch_size)
        main, length_cols, size = similarity_columns(voices, faces, settings.gallery_size, rng)
        cols.update(main)
        info["gallery_size"] = int(size)
        if judge is not None:
            cols.update(judge_columns(judge, prep, voices, faces))
            info["judge"] = getattr(judge, "name", type(judge).__name__)
        cols.update(craniofacial_columns(prep, voices, faces))
        if settings.samples_dir is not None:
            samples, pairs = _write_sample_images(prep, voices, faces, settings, rng)
    elif judge is not None:
        cols.update(recon_judge_columns(judge, voices))
        info["judge"] = getattr(judge, "name", type(judge).__name__)
    cols.update(voice_measure_table_columns(prep, voices))
    cols.update(length_cols)
    cols.update(_feature_shift(voices))
    cfg = model.cfg
    info["input_seconds"] = list(prep.durations)
    info["clip_seconds"] = cfg.audio.clip_samples / cfg.audio.sample_rate
    table = pd.concat([voices.table, pd.DataFrame(cols)], axis=1)
    err = pd.DataFrame(voices.errors, columns=["utterance_id", "path", "stage", "reason"])
    return EvaluationResult(
        table=table, errors=err, samples=samples, info=info, language_pairs=pairs
    )


def _feature_shift(voices: VoiceRows) -> dict[str, Any]:
    """Return the feature-shift columns when some speaker is heard in two languages, else none."""
    table = voices.table
    if "language" not in table.columns:
        return {}
    n_lang = table.dropna(subset=["language"]).groupby("speaker_id")["language"].nunique()
    if not (n_lang >= 2).any():
        return {}
    shift = feature_shift_columns(table, voices.features)
    return {c: shift[c].to_numpy() if c != "feature_shift_base" else shift[c].array for c in shift}


def _write_sample_images(
    prep: _Prepared,
    voices: VoiceRows,
    faces: FaceSide,
    settings: EvaluationSettings,
    rng: np.random.Generator,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Sample triples per group, then same-speaker language pairs (after them: same draws)."""
    images = SampleImages(
        table=voices.table,
        owner=faces.owner,
        faces=prep.face_images,
        recon=voices.recon,
        upper=faces.upper,
    )
    folder = Path(settings.samples_dir)
    samples = write_samples(images, folder, settings.sample_groups, settings.samples_per_group, rng)
    return samples, write_language_pairs(images, folder, rng)
