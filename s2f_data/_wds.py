"""Sequential training shards in the WebDataset layout: tar files read front to back.

A manifest's audio, faces and labels are written as tar shards (``shard-000000.tar``, ...)
whose members are ``<key>.wave.npy`` (float32 waveform at the shard's sample rate),
``<key>.labels.json`` (the manifest row) and, where the row has a face, ``<key>.face.<ext>``
(the face file's bytes), in the WebDataset convention (members of one sample are consecutive
and share the key before the first dot), so ``webdataset`` can read them too. ``shards.json``
lists every shard with its sample count and SHA-256.

:class:`ShardStream` reads its rank's shards sequentially (shard order reshuffled per epoch,
samples shuffled within a bounded buffer), so memory stays bounded whatever the data set's
size. Nothing is lost silently: a truncated or damaged tar and a sample missing a member
raise :class:`ShardError` naming the shard and key, and every shard's count of samples is
checked against ``shards.json`` (``ShardStream.seen`` holds the count of the last epoch).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from s2f_data._decoders import SAMPLE_RATE_RANGE, is_sample_rate
from s2f_data._manifest import Manifest
from s2f_data.exceptions import ShardError

__all__ = ["ShardError", "ShardStream", "read_shard", "rows_digest", "write_shards"]

log = logging.getLogger(__name__)

INDEX_NAME = "shards.json"
SHARD_FORMAT = 1


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mtime = 0  # reproducible bytes
    tar.addfile(info, io.BytesIO(data))


def rows_digest(frame: pd.DataFrame) -> str:
    """SHA-256 of the rows' ``utterance_id``, ``audio_path`` and ``face_path``, in order.

    ``shards.json`` records it (``rows_sha256``) so that training can check that the shards
    hold the rows of its manifest's split, whatever the manifest file is called.

    Examples
    --------
    >>> frame = pd.DataFrame({"utterance_id": ["a"], "audio_path": ["a.wav"], "face_path": [None]})
    >>> rows_digest(frame) == rows_digest(frame.copy())
    True
    """
    digest = hashlib.sha256()
    for col in ("utterance_id", "audio_path", "face_path"):
        values = frame[col] if col in frame else pd.Series([None] * len(frame))
        for value in values:
            digest.update(b"\0" if value is None or pd.isna(value) else str(value).encode())
            digest.update(b"\n")
    return digest.hexdigest()


def _sample_members(manifest: Any, row: pd.Series, key: str, sample_rate: int) -> list:
    from s2f_data import load_audio

    try:
        wave = load_audio(manifest.resolve(row["audio_path"]), sample_rate).astype(np.float32)
    except (OSError, ValueError) as err:
        raise ShardError(
            f"row {row['utterance_id']!r}: cannot read audio {row['audio_path']}: {err}"
        ) from err
    buf = io.BytesIO()
    np.save(buf, wave, allow_pickle=False)
    labels = {k: (None if pd.isna(v) else v) for k, v in row.items()}
    members = [
        (f"{key}.labels.json", json.dumps(labels, default=str).encode("utf-8")),
        (f"{key}.wave.npy", buf.getvalue()),
    ]
    face = row.get("face_path")
    if face is not None and not pd.isna(face) and str(face).strip():
        path = manifest.resolve(face)
        try:
            data = Path(path).read_bytes()
        except OSError as err:
            raise ShardError(
                f"row {row['utterance_id']!r}: cannot read face {face}: {err}"
            ) from err
        ext = Path(path).suffix.lstrip(".").lower() or "img"
        members.append((f"{key}.face.{ext}", data))
    return members


def _check_shard_arguments(sample_rate: object, samples_per_shard: object) -> None:
    """Raise ValueError unless the rate is in `SAMPLE_RATE_RANGE` and the shard size >= 1."""
    if not is_sample_rate(sample_rate):
        low, high = SAMPLE_RATE_RANGE
        raise ValueError(
            f"sample_rate must be an integer in [{low}, {high}] Hz, got {sample_rate!r}"
        )
    if (
        isinstance(samples_per_shard, bool)
        or not isinstance(samples_per_shard, int)
        or samples_per_shard < 1
    ):
        raise ValueError(f"samples_per_shard must be a positive integer, got {samples_per_shard!r}")


def _write_shard(
    manifest: Manifest, frame: pd.DataFrame, start: int, size: int, rate: int, path: Path
) -> dict[str, object]:
    """Write rows ``start`` .. ``start + size`` of ``frame`` as one tar; return its index entry."""
    from s2f_data import atomic_open

    chunk = frame.iloc[start : start + size]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for j, (_, row) in enumerate(chunk.iterrows()):
            for member, data in _sample_members(manifest, row, f"{start + j:09d}", rate):
                _add(tar, member, data)
    with atomic_open(path, "wb") as fh:
        fh.write(buf.getvalue())
    digest = hashlib.sha256(buf.getvalue()).hexdigest()
    return {"name": path.name, "n_samples": len(chunk), "sha256": digest}


def write_shards(
    manifest: Manifest | str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    split: str | None = "train",
    sample_rate: int = 16000,
    samples_per_shard: int = 1000,
) -> Path:
    """Write a manifest's rows as sequential tar shards and ``shards.json``.

    Parameters
    ----------
    manifest : s2f_data.Manifest or path-like
        The training manifest, or its CSV path (then its SHA-256 is recorded in
        ``shards.json`` as ``manifest_sha256``, and training checks it against its manifest).
    out_dir : path-like
        Folder of the shards (created).
    split : str or None
        Rows of this split (``None``: all).
    sample_rate : int
        Audio is decoded and resampled once, at this rate.
    samples_per_shard : int
        Samples per tar file.

    Returns
    -------
    pathlib.Path
        Path of ``shards.json``.

    Raises
    ------
    ShardError
        If a row's audio or face cannot be read (the row is named; nothing is skipped).
    """
    from s2f_data import atomic_open, file_digest, read_manifest

    _check_shard_arguments(sample_rate, samples_per_shard)
    manifest_sha256 = None
    if not isinstance(manifest, Manifest):
        manifest_sha256 = file_digest(manifest)
        manifest = read_manifest(manifest)
    frame = manifest.frame if split is None else manifest.frame[manifest.frame["split"] == split]
    if len(frame) == 0:
        raise ShardError(f"{manifest.folder}: the manifest has no row of split {split!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    shards = [
        _write_shard(
            manifest, frame, start, samples_per_shard, sample_rate, out / f"shard-{k:06d}.tar"
        )
        for k, start in enumerate(range(0, len(frame), samples_per_shard))
    ]
    index = {
        "format": SHARD_FORMAT,
        "sample_rate": sample_rate,
        "split": split,
        "manifest_sha256": manifest_sha256,
        "rows_sha256": rows_digest(frame),
        "n_samples": len(frame),
        "shards": shards,
    }
    with atomic_open(out / INDEX_NAME, "w") as fh:
        json.dump(index, fh, indent=1)
    return out / INDEX_NAME


@dataclass(kw_only=True)
class Sample:
    """One training sample read from a shard: ``key``, waveform, labels, face bytes or None."""

    key: str
    wave: np.ndarray
    labels: dict[str, Any]
    face: bytes | None
    face_ext: str | None


def _decode(shard: Path, key: str, members: dict[str, bytes]) -> Sample:
    for need in ("wave.npy", "labels.json"):
        if need not in members:
            raise ShardError(
                f"{shard}: sample {key} lacks its {need} member (has {sorted(members)}); "
                f"the shard is incomplete: write it again"
            )
    try:
        wave = np.load(io.BytesIO(members["wave.npy"]), allow_pickle=False)
        labels = json.loads(members["labels.json"])
    except (ValueError, OSError) as err:
        raise ShardError(f"{shard}: sample {key} is damaged: {err}") from err
    face = next((k for k in members if k.startswith("face.")), None)
    return Sample(
        key=key,
        wave=wave,
        labels=labels,
        face=members[face] if face else None,
        face_ext=face.removeprefix("face.") if face else None,
    )


def read_shard(path: Path) -> Iterator[Sample]:
    """Yield the samples of one tar shard in order, reading it front to back (streaming).

    Raises
    ------
    ShardError
        If the tar is truncated or damaged, or a sample lacks a member.
    """
    key, members = None, {}
    try:
        with tarfile.open(path, mode="r|") as tar:
            for info in tar:
                if not info.isfile():
                    continue
                name = os.path.basename(info.name)
                this, _, ext = name.partition(".")
                data = tar.extractfile(info).read()
                if len(data) != info.size:
                    raise ShardError(f"{path}: member {info.name} is truncated")
                if this != key and key is not None:
                    yield _decode(path, key, members)
                    members = {}
                key = this
                members[ext] = data
    except (tarfile.TarError, EOFError, OSError) as err:
        raise ShardError(f"{path}: truncated or damaged tar ({err}); write it again") from err
    if key is not None:
        yield _decode(path, key, members)


class ShardStream:
    """Iterate a rank's share of the shards, shuffled within a bounded buffer.

    Parameters
    ----------
    folder : path-like
        Folder written by :func:`write_shards`.
    rank, world_size : int
        This process's shards are every ``world_size``-th of the epoch's shard order
        (a rank gets ``ceil`` or ``floor`` of ``n_shards / world_size`` shards).
    buffer : int
        Samples held for shuffling (memory is bounded by this, not by the data set).
    seed : int
        Seeds the shard order and the buffer draws (with the epoch).
    """

    def __init__(
        self,
        folder: str | os.PathLike[str],
        *,
        rank: int = 0,
        world_size: int = 1,
        buffer: int = 256,
        seed: int = 0,
    ) -> None:
        self.folder = Path(folder)
        try:
            self.index = json.loads((self.folder / INDEX_NAME).read_text())
        except (OSError, ValueError) as err:
            raise ShardError(
                f"{self.folder / INDEX_NAME}: cannot read the shard index: {err}"
            ) from err
        if self.index.get("format") != SHARD_FORMAT:
            raise ShardError(
                f"{self.folder / INDEX_NAME}: format {self.index.get('format')!r}, "
                f"expected {SHARD_FORMAT}"
            )
        if len(self.index["shards"]) < world_size:
            raise ShardError(
                f"{self.folder}: {len(self.index['shards'])} shard(s) for {world_size} "
                f"processes; write smaller shards"
            )
        if buffer < 1:
            raise ValueError(f"buffer must be at least 1 sample, got {buffer}")
        self.rank, self.world_size, self.buffer, self.seed = rank, world_size, buffer, seed
        self.epoch = 0
        self.seen = 0

    def my_shards(self, epoch: int) -> list[dict[str, Any]]:
        """Return this rank's shards in ``epoch`` (a seeded permutation, then every N-th)."""
        order = np.random.default_rng([self.seed, epoch]).permutation(len(self.index["shards"]))
        return [self.index["shards"][int(k)] for k in order[self.rank :: self.world_size]]

    def expected(self, epoch: int) -> int:
        """Return the samples ``shards.json`` lists for this rank's shards in ``epoch``."""
        return sum(int(shard["n_samples"]) for shard in self.my_shards(epoch))

    def __iter__(self) -> Iterator[Sample]:
        rng = np.random.default_rng([self.seed, self.epoch, self.rank, 1])
        buf: list[Sample] = []
        seen = 0
        expected = 0
        for shard in self.my_shards(self.epoch):
            path = self.folder / shard["name"]
            count = 0
            for sample in read_shard(path):
                count += 1
                if len(buf) < self.buffer:
                    buf.append(sample)
                    continue
                k = int(rng.integers(len(buf)))
                buf[k], sample = sample, buf[k]
                yield sample
            if count != shard["n_samples"]:
                raise ShardError(
                    f"{path}: {count} sample(s), shards.json lists {shard['n_samples']}; "
                    f"the shard does not match its index"
                )
            seen += count
            expected += shard["n_samples"]
        rng.shuffle(buf)
        yield from buf
        self.seen = seen
        log.info(
            "rank %d epoch %d: %d samples seen (expected %d)", self.rank, self.epoch, seen, expected
        )
        self.epoch += 1
