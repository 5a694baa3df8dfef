"""Sharded evaluation under ``torchrun``: ranks split the per-utterance model work.

The evaluated rows are cut into blocks of ``batch_size`` rows (one forward batch each, the
same blocks a single process runs), and the blocks into shards of ``blocks_per_shard``
blocks; shard ``k`` belongs to rank ``k % world_size``. Each rank runs the model (voice
encoder, decoder, input-length features) and the voice measures on its shards and writes each
finished shard as one ``.npz`` file (atomically) into a work folder keyed by the inputs'
identity (manifest, checkpoint, split, batch size, durations, device type, torch version).
After a barrier rank 0 reads every shard in row order and alone does the rest (face side,
retrieval galleries, judge, samples, statistics, outputs), so the table is the one a single
process computes: the same batches, in the same order, through the same code.

A rerun with the same inputs keeps the finished shards and computes only the missing ones
(a rank killed mid-run loses at most the shard it was computing). The work folder is removed
once the audit is published. It must be on a file system every rank sees (one host, or a
shared file system across hosts).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from audit._evaluation_rows import RowsPart, evaluate_rows, prepare_evaluation
from s2f_data import atomic_open, file_digest

__all__ = [
    "ShardedEvaluation",
    "evaluate_distributed",
    "shard_key",
    "shard_ranges",
    "sharded_rows",
    "work_dir_for",
]

log = logging.getLogger(__name__)

#: Version of the shard file layout (part of the key: an old layout is never read).
SHARD_FORMAT = 1
#: Batches per shard file: the work a killed rank loses at most.
BLOCKS_PER_SHARD = 4


def work_dir_for(out: Path, key: str) -> Path:
    """Return the shard folder of an audit writing ``out`` with inputs ``key``.

    A sibling of ``out`` (``<out>.shards/<key>``): the audit output folder is replaced as a
    whole when published, so shards that must survive a killed run live beside it.
    """
    return out.parent / f"{out.name}.shards" / key[:24]


def shard_key(identity: dict[str, Any]) -> str:
    """SHA-256 of the inputs that decide the shards' contents (JSON, sorted keys)."""
    text = json.dumps({**identity, "format": SHARD_FORMAT}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def shard_ranges(n_rows: int, batch_size: int, blocks_per_shard: int) -> list[tuple[int, int]]:
    """Row ranges ``[start, stop)`` of the shards: whole batches of ``batch_size`` rows.

    Examples
    --------
    >>> shard_ranges(10, 2, 2)
    [(0, 4), (4, 8), (8, 10)]
    """
    step = batch_size * blocks_per_shard
    return [(s, min(s + step, n_rows)) for s in range(0, n_rows, step)]


def _save_parts(path: Path, key: str, start: int, stop: int, parts: Sequence[RowsPart]) -> None:
    """Write the blocks of one shard to ``path`` in one atomic step."""
    arrays: dict[str, np.ndarray] = {}
    meta: dict[str, Any] = {"key": key, "start": start, "stop": stop, "blocks": []}
    for b, part in enumerate(parts):
        arrays[f"{b}_rows"] = part.rows
        arrays[f"{b}_voice"] = part.voice
        arrays[f"{b}_recon"] = part.recon
        arrays[f"{b}_recon_landmarks"] = part.recon_landmarks
        durations = list(part.by_length)
        for j, d in enumerate(durations):
            arrays[f"{b}_len{j}_feat"], arrays[f"{b}_len{j}_speech"] = part.by_length[d]
        # floats in JSON round-trip exactly (repr), NaN included
        meta["blocks"].append(
            {"durations": durations, "measures": part.measures, "errors": part.errors}
        )
    buf = io.BytesIO()
    np.savez(buf, meta=np.array(json.dumps(meta, default=str)), **arrays)
    with atomic_open(path, "wb") as fh:
        fh.write(buf.getvalue())


def _load_parts(path: Path, key: str, start: int, stop: int) -> list[RowsPart] | None:
    """Read a shard written by `_save_parts`; None when absent, unreadable or not this one."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            if (meta["key"], meta["start"], meta["stop"]) != (key, start, stop):
                log.warning("shard %s belongs to other inputs; computing it again", path)
                return None
            parts = []
            for b, block in enumerate(meta["blocks"]):
                by_length = {
                    float(d): (z[f"{b}_len{j}_feat"], z[f"{b}_len{j}_speech"])
                    for j, d in enumerate(block["durations"])
                }
                parts.append(
                    RowsPart(
                        rows=z[f"{b}_rows"],
                        voice=z[f"{b}_voice"],
                        recon=z[f"{b}_recon"],
                        recon_landmarks=z[f"{b}_recon_landmarks"],
                        by_length=by_length,
                        measures=block["measures"],
                        errors=block["errors"],
                    )
                )
            return parts
    except (OSError, ValueError, KeyError) as err:
        log.warning("shard %s unreadable (%s); computing it again", path, err)
        return None


def _compute_shard(model: Any, prep: Any, start: int, stop: int, batch_size: int) -> list[RowsPart]:
    return [
        evaluate_rows(model, prep, s, min(s + batch_size, stop))
        for s in range(start, stop, batch_size)
    ]


def sharded_rows(
    model: Any,
    prep: Any,
    ctx: Any,
    work: Path,
    key: str,
    *,
    batch_size: int = 32,
    blocks_per_shard: int = 4,
    progress: bool = False,
) -> list[RowsPart] | None:
    """Evaluate this rank's shards (reusing finished ones); rank 0 returns every block.

    Parameters
    ----------
    model : s2f_model.Speech2Face
        The model, on this rank's device, in eval mode.
    prep : audit._evaluation_rows._Prepared
        From :func:`audit._evaluation_rows.prepare_evaluation` (identical on every rank).
    ctx : s2f_model._distributed.DistContext
        This process's place in the job (a world of one computes every shard).
    work : pathlib.Path
        Shard folder (see :func:`work_dir_for`), seen by every rank.
    key : str
        :func:`shard_key` of the inputs, recorded in every shard and checked on reading.
    batch_size : int
        Rows per forward batch (part of the key: blocks must match a single process's).
    blocks_per_shard : int
        Batches per shard file (the unit of work lost when a rank is killed).
    progress : bool
        Progress bar on rank 0.

    Returns
    -------
    list of RowsPart or None
        On rank 0 the blocks of all rows in row order; None on the other ranks.

    Raises
    ------
    RuntimeError
        On rank 0, if a shard of another rank is missing after the barrier.
    """
    from s2f_model import barrier  # lazily: s2f_model imports torch

    ranges = shard_ranges(len(prep.frame), batch_size, blocks_per_shard)
    work.mkdir(parents=True, exist_ok=True)
    _run_own_shards(model, prep, ctx, ShardFiles(work=work, key=key, ranges=ranges),
                    batch_size=batch_size, progress=progress)  # fmt: skip
    barrier(ctx)
    if not ctx.is_main:
        return None
    return _gather_shards(ShardFiles(work=work, key=key, ranges=ranges), ctx.world_size)


@dataclass(frozen=True, kw_only=True)
class ShardFiles:
    """Where the shards of one evaluation live and which rows each holds."""

    work: Path
    key: str
    ranges: list[tuple[int, int]]

    def path(self, k: int) -> Path:
        """Return the file of shard ``k``."""
        return self.work / f"shard-{k:06d}.npz"


def _run_own_shards(
    model: Any, prep: Any, ctx: Any, files: ShardFiles, *, batch_size: int, progress: bool
) -> None:
    """Compute this rank's shards that are not finished yet (shard k: rank k % world)."""
    from tqdm.auto import tqdm

    mine = [k for k in range(len(files.ranges)) if k % ctx.world_size == ctx.rank]
    bar = tqdm(total=len(mine), desc="evaluate shards", disable=not (progress and ctx.is_main))
    n_reused = 0
    for k in mine:
        start, stop = files.ranges[k]
        path = files.path(k)
        if _load_parts(path, files.key, start, stop) is not None:
            n_reused += 1
        else:
            parts = _compute_shard(model, prep, start, stop, batch_size)
            _save_parts(path, files.key, start, stop, parts)
        bar.update(1)
    bar.close()
    log.info(
        "rank %d: %d shard(s) computed, %d reused from %s",
        ctx.rank,
        len(mine) - n_reused,
        n_reused,
        files.work,
    )


def _gather_shards(files: ShardFiles, world_size: int) -> list[RowsPart]:
    """Every shard's blocks in row order (rank 0, after the barrier)."""
    parts: list[RowsPart] = []
    for k, (start, stop) in enumerate(files.ranges):
        path = files.path(k)
        loaded = _load_parts(path, files.key, start, stop)
        if loaded is None:
            raise RuntimeError(
                f"shard {path} (rows {start}-{stop}, rank {k % world_size}) is missing or "
                f"damaged after every rank finished; rerun the audit to compute it again"
            )
        parts.extend(loaded)
    return parts


def remove_work_dir(work: Path) -> None:
    """Remove a finished audit's shard folder (and its parent when left empty)."""
    shutil.rmtree(work, ignore_errors=True)
    try:
        work.parent.rmdir()
    except OSError:
        pass  # other inputs' shards are still there


@dataclass(frozen=True, kw_only=True)
class ShardedEvaluation:
    """What a sharded evaluation needs: model, data, outputs, process group and settings.

    ``voice_measures`` is True (measure), False (skip) or a table of measures to reuse;
    ``out`` is the audit folder (the shards live beside it, see :func:`work_dir_for`).
    """

    model: Any
    manifest: Any
    manifest_path: Path
    checkpoint: Path
    out: Path
    ctx: Any
    split: str | None
    input_seconds: Any
    voice_measures: Any
    batch_size: int = 32
    progress: bool = False


def evaluate_distributed(job: ShardedEvaluation) -> tuple[Any, list[RowsPart] | None, Path]:
    """Prepare the evaluation and run this rank's shards (see :func:`sharded_rows`).

    Returns
    -------
    prep : audit._evaluation_rows._Prepared
        For :func:`audit._evaluation.finish_evaluation` on rank 0.
    parts : list of RowsPart or None
        Every block on rank 0, None elsewhere.
    work : pathlib.Path
        The shard folder (rank 0 removes it once the audit is published).
    """
    import torch  # lazily: `import audit` stays torch-free

    from s2f_model import find_checkpoint  # lazily: s2f_model imports torch

    prep = prepare_evaluation(
        job.model, job.manifest, job.split, job.input_seconds, job.voice_measures
    )
    known = json.dumps(prep.known_measures, sort_keys=True, default=str)
    identity = {
        "manifest_sha256": file_digest(job.manifest_path),
        "checkpoint_sha256": file_digest(find_checkpoint(job.checkpoint)),
        "split": job.split,
        "n_rows": len(prep.frame),
        "batch_size": job.batch_size,
        "blocks_per_shard": BLOCKS_PER_SHARD,
        "durations": list(prep.durations),
        "voice_measures": prep.measure_voice,
        "known_measures_sha256": hashlib.sha256(known.encode("utf-8")).hexdigest(),
        "device_type": job.ctx.device.type,
        "torch": torch.__version__,
    }
    key = shard_key(identity)
    work = work_dir_for(job.out, key)
    parts = sharded_rows(
        job.model,
        prep,
        job.ctx,
        work,
        key,
        batch_size=job.batch_size,
        blocks_per_shard=BLOCKS_PER_SHARD,
        progress=job.progress,
    )
    return prep, parts, work
