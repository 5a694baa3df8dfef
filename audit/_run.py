"""`audit_model`: checkpoint + manifest -> audit folder (audit.json, CSV tables, samples)."""

from __future__ import annotations

import logging
import os
import shutil
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from audit._audit import DEFAULT_MIN_GROUP_SIZE, run_audit_tables
from audit._evaluation import (
    EvaluationResult,
    EvaluationSettings,
    build_evaluation_table,
    finish_evaluation,
    resolve_input_seconds,
    voice_measure_columns,
)
from audit._input_length import InputSeconds
from audit._judge_choice import JudgeSpec, resolve_judge
from audit._language_swap import language_swap_table
from audit._output_dir import check_output_dir, replacing_dir
from audit._schema import EVALUATION_FILENAME, AuditResult, read_audit, row_ids_sha256
from audit._settings import with_options
from audit._sharded import ShardedEvaluation, evaluate_distributed, remove_work_dir
from audit.exceptions import AuditInputError, SmallGroupWarning
from s2f_data import Manifest, file_digest, read_manifest

__all__ = ["AuditRunSettings", "audit_model", "resolve_judge"]

log = logging.getLogger(__name__)


def _earlier_voice_measures(folder: Path, manifest_path: Path) -> pd.DataFrame:
    """Voice measures of an earlier audit of the same manifest (checked by SHA-256)."""
    earlier = read_audit(folder)
    digest = file_digest(manifest_path)
    if earlier.data.get("sha256") != digest:
        raise AuditInputError(
            f"cannot reuse voice measures of {folder}: it audited "
            f"{earlier.data.get('manifest')!r} (sha256 {earlier.data.get('sha256')}), not "
            f"{manifest_path} (sha256 {digest})"
        )
    name = earlier.artifacts.get("evaluation", EVALUATION_FILENAME)
    path = (folder if folder.is_dir() else folder.parent) / name
    try:
        table = pd.read_csv(path)  # exact: floats are written and parsed round-trip
    except (OSError, ValueError) as err:
        raise AuditInputError(f"cannot read the evaluation table {path}: {err}") from err
    return voice_measure_columns(table)


@dataclass(frozen=True, kw_only=True)
class AuditRunSettings:
    """Settings of :func:`audit_model` (each also a keyword argument of it).

    Parameters
    ----------
    judge : "auto", "none", path or judge object
        See :func:`resolve_judge`.
    split : str or None
        Rows to evaluate (default the test split).
    groupings, max_order, reference, n_boot, min_group_size, correction, error_control, focus
        Passed to :func:`audit.run_audit_tables` (``focus``: the focus questions).
    gallery_size : int
        Retrieval gallery size (capped at the number of evaluated speakers).
    seed : int
        Seeds the judge training, galleries, samples and bootstrap.
    device : str
        Torch device for the model.
    command : str or None
        The command line to record.
    progress : bool
        Progress bars.
    input_seconds : sequence of float, "auto", "none" or None
        Input durations of the input-length comparison (feature similarity and recall@K
        from the first d seconds of speech, looped; see
        :func:`audit.build_evaluation_table`). ``"auto"``: 3 s and 6 s when the model can
        take both. The durations evaluated are recorded as ``settings.input_seconds``.
    voice_measures_from : path-like, optional
        An earlier audit folder on the same manifest (same SHA-256): its voice measures
        (pitch, voicing, rate, SNR: they depend only on the audio) are reused instead of
        measured again. For two models audited on one population.
    allow_unfinished : bool
        Audit a run that stopped before its last stage (refused by default); ``audit.json``
        records its stage and step under ``model``.
    batch_size : int
        Utterances per forward pass. Under ``torchrun`` the ranks split the rows in whole
        batches (see :mod:`audit._sharded`), so the same ``batch_size`` gives the same table
        with any number of processes.
    """

    judge: JudgeSpec = "auto"
    split: str | None = "test"
    groupings: Sequence[str | Sequence[str]] | None = None
    max_order: int = 2
    reference: str | Mapping[str, str] = "overall"
    n_boot: int = 1000
    min_group_size: int | None = None
    correction: Literal["holm", "bh", "none"] = "holm"
    error_control: Literal["family", "audit"] = "family"
    focus: Sequence[Sequence[str]] | None = None
    gallery_size: int = 100
    seed: int = 0
    device: str = "cpu"
    command: str | None = None
    progress: bool = False
    input_seconds: InputSeconds = "auto"
    voice_measures_from: str | os.PathLike[str] | None = None
    allow_unfinished: bool = False
    batch_size: int = 32

    def check(self) -> None:
        """Raise :class:`AuditInputError` for a bad count (before any work is done)."""
        for name, low in (("gallery_size", 2), ("max_order", 1), ("n_boot", 1), ("batch_size", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise AuditInputError(f"{name} must be an integer >= {low}, got {value!r}")


@dataclass(frozen=True, kw_only=True)
class _Inputs:
    """What the audit reads before evaluating: paths, manifest, model, process group."""

    checkpoint: Path
    manifest_path: Path
    manifest: Manifest
    out: Path
    model: Any
    ctx: Any | None  # the torchrun process group, None in one process
    voice_measures: bool | pd.DataFrame  # True: measure; a table: reuse these


def audit_model(
    checkpoint: str | os.PathLike[str],
    manifest: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    settings: AuditRunSettings | None = None,
    **options: Any,
) -> Path:
    """Audit a trained model on a manifest and write the audit folder.

    Writes ``audit.json`` (provenance + every table), one CSV per table, ``evaluation.csv``
    (one row per utterance), ``errors.csv`` (utterances that could not be evaluated, each
    with its reason) and sample reconstructions under ``samples/`` (with, for speakers heard in
    two languages, one speaker's pair per ethnicity x language pair:
    ``artifacts.language_pairs``). Everything is written
    into a fresh folder beside ``out_dir`` that then replaces ``out_dir`` in one step, so a
    killed audit leaves either the earlier audit or the new one, never a mix (see
    :mod:`audit._output_dir`); a folder holding files an audit does not write is refused.

    Parameters
    ----------
    checkpoint : path-like
        Run folder or checkpoint of a trained model.
    manifest : path-like
        Evaluation ``manifest.csv``.
    out_dir : path-like
        Output folder.
    settings : AuditRunSettings, optional
        The settings; the defaults when omitted.
    **options
        Fields of :class:`AuditRunSettings` (``judge``, ``split``, ``n_boot``, ``seed``, ...),
        overriding ``settings``.

    Returns
    -------
    pathlib.Path
        Path of ``audit.json``.

    Raises
    ------
    ValueError
        If an explicit ``input_seconds`` duration cannot be fed to the model.
    AuditInputError
        If ``voice_measures_from`` is not an audit of the same manifest, ``out_dir`` holds
        files an audit does not write, or a count is out of range.
    TypeError
        For an unknown option.
    s2f_model.CheckpointError
        If the checkpoint is damaged, or unfinished and ``allow_unfinished`` is False.
    """
    opts = with_options(AuditRunSettings, settings, options, "audit_model")
    opts.check()  # arguments before any work: a bad value must not cost a whole evaluation
    out = Path(out_dir)
    check_output_dir(out)  # before any work
    inputs = _load_inputs(Path(checkpoint), Path(manifest), out, opts)
    sharded = None
    if inputs.ctx is not None:  # under torchrun: every rank evaluates its shards, rank 0 the rest
        sharded = evaluate_distributed(_shard_job(inputs, opts))
        if not inputs.ctx.is_main:
            _shutdown(inputs.ctx)
            return out / "audit.json"  # rank 0 writes it
    with replacing_dir(out) as tmp:
        result = _write_audit(inputs, opts, sharded, tmp)
    if sharded is not None:
        remove_work_dir(sharded[2])  # published: the shards are no longer needed
        _shutdown(inputs.ctx)
    if len(result.errors):
        log.warning(
            "%d utterance(s) could not be evaluated; see %s", len(result.errors), out / "errors.csv"
        )
    return out / "audit.json"


def _shard_job(inputs: _Inputs, opts: AuditRunSettings) -> ShardedEvaluation:
    return ShardedEvaluation(
        model=inputs.model,
        manifest=inputs.manifest,
        manifest_path=inputs.manifest_path,
        checkpoint=inputs.checkpoint,
        out=inputs.out,
        ctx=inputs.ctx,
        split=opts.split,
        input_seconds=opts.input_seconds,
        voice_measures=inputs.voice_measures,
        batch_size=opts.batch_size,
        progress=opts.progress,
    )


def _shutdown(ctx: Any) -> None:
    from s2f_model import shutdown  # lazily: s2f_model imports torch, `import audit` must not

    shutdown(ctx)


def _load_inputs(
    checkpoint: Path, manifest_path: Path, out: Path, opts: AuditRunSettings
) -> _Inputs:
    """Read the manifest, join torchrun's process group, load the model; check durations."""
    from s2f_model import load_model  # lazily: s2f_model imports torch

    man = read_manifest(manifest_path)
    ctx = _distributed_context(opts.device)
    device = opts.device if ctx is None else str(ctx.device)
    model = load_model(checkpoint, map_location=device, allow_unfinished=opts.allow_unfinished)
    resolve_input_seconds(model, opts.input_seconds)  # a duration the model cannot take fails here
    known = (
        True
        if opts.voice_measures_from is None
        else _earlier_voice_measures(Path(opts.voice_measures_from), manifest_path)
    )
    return _Inputs(
        checkpoint=checkpoint,
        manifest_path=manifest_path,
        manifest=man,
        out=out,
        model=model,
        ctx=ctx,
        voice_measures=known,
    )


def _evaluate(
    inputs: _Inputs, opts: AuditRunSettings, judge: Any, sharded: tuple | None, tmp: Path
) -> EvaluationResult:
    """Return the evaluation: from the gathered shards, or computed in this process."""
    settings = EvaluationSettings(
        split=opts.split,
        gallery_size=opts.gallery_size,
        batch_size=opts.batch_size,
        voice_measures=inputs.voice_measures,
        samples_dir=tmp / "samples",
        random_state=opts.seed,
        progress=opts.progress,
        input_seconds=opts.input_seconds,
    )
    if sharded is not None:
        return finish_evaluation(inputs.model, sharded[0], sharded[1], judge, settings)
    return build_evaluation_table(inputs.model, inputs.manifest, judge, settings)


def _write_audit(
    inputs: _Inputs, opts: AuditRunSettings, sharded: tuple | None, tmp: Path
) -> EvaluationResult:
    """Evaluate, compute every table and write the audit folder into ``tmp``."""
    if (inputs.out / "judge").is_dir():  # the cached auto judge moves with the folder
        shutil.copytree(inputs.out / "judge", tmp / "judge")
    judge_obj, judge_info = resolve_judge(
        opts.judge, source=inputs.manifest.info.source, cache_dir=tmp / "judge", seed=opts.seed
    )
    result = _evaluate(inputs, opts, judge_obj, sharded, tmp)
    table = result.table
    min_group_size = DEFAULT_MIN_GROUP_SIZE if opts.min_group_size is None else opts.min_group_size
    tables = _audit_tables(table, opts, judge_obj, min_group_size)
    tables["errors"] = result.errors
    # Paired within-speaker effect of the language (speakers heard in 2+ languages).
    tables["language_swap"] = language_swap_table(
        table, n_boot=opts.n_boot, correction=opts.correction, random_state=opts.seed
    )
    if judge_info.get("report"):
        tables["judge_accuracy"] = pd.DataFrame(judge_info.pop("report"))
    artifacts: dict[str, Any] = {"samples": result.samples, "samples_dir": "samples"}
    if result.language_pairs:
        artifacts["language_pairs"] = result.language_pairs
    res = AuditResult(
        tables=tables,
        settings=_settings_section(opts, tables, result, judge_info, min_group_size),
        seed=opts.seed,
        command=opts.command,
        model=_model_section(inputs.checkpoint, inputs.model),
        data=_data_section(inputs, table, result.errors),
        artifacts=artifacts,
    )
    res.write(tmp, evaluation=table)
    return result


def _audit_tables(
    table: pd.DataFrame, opts: AuditRunSettings, judge: Any, min_group_size: int
) -> dict[str, pd.DataFrame]:
    """:func:`audit.run_audit_tables` with small-group warnings logged, not raised."""
    labels = {
        attr: list(vocab) for attr, vocab in (getattr(judge, "vocabularies", None) or {}).items()
    }
    # Small groups are expected in an audit; they are flagged in the tables. Log the
    # warning rather than raise it through callers that turn warnings into errors.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SmallGroupWarning)
        tables = run_audit_tables(
            table,
            groupings=opts.groupings,
            max_order=opts.max_order,
            reference=opts.reference,
            n_boot=opts.n_boot,
            min_group_size=min_group_size,
            correction=opts.correction,
            error_control=opts.error_control,
            focus=opts.focus,
            random_state=opts.seed,
            labels=labels or None,
        )
    for item in caught:
        if issubclass(item.category, SmallGroupWarning):
            log.warning("%s", item.message)
        else:
            warnings.warn_explicit(item.message, item.category, item.filename, item.lineno)
    return tables


def _settings_section(
    opts: AuditRunSettings,
    tables: Mapping[str, pd.DataFrame],
    result: EvaluationResult,
    judge_info: dict[str, Any],
    min_group_size: int,
) -> dict[str, Any]:
    """Return the ``settings`` section of audit.json."""
    input_seconds = opts.input_seconds
    return {
        "split": opts.split,
        "groupings": None
        if opts.groupings is None
        else [g if isinstance(g, str) else list(g) for g in opts.groupings],
        "ci_method": "expanded",
        "max_order": opts.max_order,
        "reference": opts.reference,
        "n_boot": opts.n_boot,
        "ci_level": 0.95,
        "min_group_size": min_group_size,
        "correction": opts.correction,
        "error_control": opts.error_control,
        "focus": [q.split(" x ") for q in tables["focus"].get("question", [])],
        "gallery_size": result.info.get("gallery_size"),
        "input_seconds": result.info.get("input_seconds") or None,
        "input_seconds_requested": (
            input_seconds
            if input_seconds is None or isinstance(input_seconds, str)
            else [float(d) for d in input_seconds]
        ),
        "judge": judge_info,
        "voice_measures_from": (
            None if opts.voice_measures_from is None else str(opts.voice_measures_from)
        ),
    }


def _data_section(inputs: _Inputs, table: pd.DataFrame, errors: pd.DataFrame) -> dict[str, Any]:
    """Return the ``data`` section of audit.json."""
    info = inputs.manifest.info
    return {
        "manifest": str(inputs.manifest_path),
        "sha256": file_digest(inputs.manifest_path),
        "source": info.source,
        "source_version": info.source_version,
        "n_utterances": len(table),
        "n_speakers": int(table["speaker_id"].nunique()),
        "n_errors": len(errors),
        "row_ids_sha256": row_ids_sha256(table["utterance_id"]),
        "vocabularies": {k: list(v) for k, v in info.vocabularies.items()},
        # counted in the cells of each language they speak (docs/metrics.md, "Groups")
        "n_multilingual_speakers": _n_multilingual(table),
    }


def _n_multilingual(table: pd.DataFrame) -> int:
    """Speakers with evaluated utterances in two or more languages."""
    if "language" not in table.columns:
        return 0
    spoken = table.dropna(subset=["language"]).groupby("speaker_id")["language"].nunique()
    return int((spoken >= 2).sum())


def _distributed_context(device: str) -> Any | None:
    """Join the torchrun process group (gloo on CPU, NCCL on CUDA); None outside torchrun.

    Under torchrun a bare ``cuda`` (or ``auto`` with CUDA present) becomes ``cuda:LOCAL_RANK``.
    The collective timeout is long (24 h): a rank that finished its shards waits at the
    barrier for the slowest one, which may take hours on CPUs; a rank that dies ends the job
    through torchrun, not through this timeout.
    """
    from s2f_model import init_distributed, world_from_env  # lazily: torch

    if world_from_env()[1] == 1:
        return None
    return init_distributed(device, timeout_s=24 * 3600.0)


def _model_section(checkpoint: Path, model: Any) -> dict[str, Any]:
    """Return the ``model`` section of audit.json: checkpoint, config, stage, step, training data.

    ``training_stage``, ``training_step`` and ``finished`` say where the run stood (an
    unfinished run is audited only when asked); ``training_data`` identifies the training
    manifest (path, SHA-256, source) with the counts the run recorded.
    """
    from s2f_model import find_checkpoint  # lazily: torch

    info = dict(getattr(model, "training_info", None) or {})
    training_data = dict(info.get("training_data") or {})
    for key in ("n_train_utterances", "n_train_faces", "n_identities"):
        if info.get(key) is not None:
            training_data[key] = info[key]
    return {
        "name": checkpoint.name,
        "checkpoint": str(checkpoint),
        # the checkpoint JSON records the SHA-256 of its tensor file
        "sha256": file_digest(find_checkpoint(checkpoint)),
        "training_stage": info.get("stage"),
        "training_step": info.get("step"),
        "finished": info.get("finished"),
        "config": model.cfg.to_dict(),
        "training_data": training_data,
    }
