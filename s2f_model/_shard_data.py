"""Voice-stage training batches streamed from tar shards (``train.data="shards"``, issue #20).

The in-memory path (:func:`~s2f_model.load_voice_face_data`) decodes every training clip
before the first step; this one reads the shards written by :func:`s2f_data.write_shards`
front to back while training, so memory does not grow with the number of utterances:

- each rank reads its own shards of every epoch (:class:`s2f_data.ShardStream`: shard order
  reshuffled per epoch, samples shuffled within ``train.shuffle_buffer`` samples) and takes
  ``train.batch_size // world_size`` samples per step;
- every epoch's count of samples is checked against ``shards.json`` and logged
  (:attr:`ShardBatches.epochs`); samples without a face are counted and left out, as the
  in-memory path leaves out rows without a face;
- face-encoder features are computed from the face bytes in the shard and kept in a
  bounded least-recently-used cache (:class:`FaceFeatureCache`), keyed by the face file;
- resuming at step ``k`` replays the stream's first ``k`` batches without decoding them, so
  a resumed run sees the same batches as an uninterrupted one.

The face stages, the validation split and the manifest's labels still come from the
manifest (their size grows with speakers and faces, not with utterances).
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from s2f_data import ShardError, ShardStream, read_shard
from s2f_model._data import load_face_image
from s2f_model._frontend import fit_clip
from s2f_model._voice_targets import STD_FLOOR

__all__ = [
    "AuxLabels",
    "FaceFeatureCache",
    "ShardBatches",
    "ShardTrainingData",
    "ShardVoiceInputs",
    "shard_target_stats",
]

log = logging.getLogger(__name__)

#: Face features kept by :class:`FaceFeatureCache` (4096 x 4096 float32 = 64 MiB at most
#: for the paper's features; speakers usually have one face file each).
FACE_CACHE_ITEMS = 4096


@dataclass(frozen=True, kw_only=True)
class ShardTrainingData:
    """A checked folder of training shards.

    Parameters
    ----------
    folder : pathlib.Path
        Folder written by :func:`s2f_data.write_shards` (``shards.json`` and the tars).
    index : dict
        The parsed ``shards.json``.
    sample_rate : int
        Rate of the shards' waveforms (the model's).
    """

    folder: Path
    index: dict[str, Any]
    sample_rate: int

    @classmethod
    def open(
        cls,
        folder: str | os.PathLike[str],
        *,
        sample_rate: int,
        rows_sha256: str | None = None,
    ) -> ShardTrainingData:
        """Read and check ``folder/shards.json`` against the model and the manifest.

        Parameters
        ----------
        folder : path-like
            The shard folder.
        sample_rate : int
            The model's sample rate; the shards must have been written at it.
        rows_sha256 : str, optional
            :func:`s2f_data.rows_digest` of the manifest's training rows; refused when
            ``shards.json`` records another (shards of other rows or files).

        Raises
        ------
        ShardError
            Unreadable index, shards of another split, rate or manifest.
        """
        folder = Path(folder)
        index = ShardStream(folder).index
        where = folder / "shards.json"
        if index.get("split", "train") != "train":
            raise ShardError(
                f"{where}: shards of split {index['split']!r}; training reads "
                f"shards of the 'train' split (write them with --split train)"
            )
        if int(index["sample_rate"]) != sample_rate:
            raise ShardError(
                f"{where}: audio at {index['sample_rate']} Hz, the model expects "
                f"{sample_rate} Hz; write the shards again at {sample_rate} Hz"
            )
        written = index.get("rows_sha256")
        if rows_sha256 is not None and written != rows_sha256:
            raise ShardError(
                f"{where}: written from other rows than the training manifest's "
                f"(rows_sha256 {written}, manifest {rows_sha256}); write the shards again "
                f"from this manifest"
            )
        return cls(folder=folder, index=index, sample_rate=sample_rate)

    @property
    def n_samples(self) -> int:
        """Samples listed in ``shards.json`` (rows with and without a face)."""
        return int(self.index["n_samples"])


@dataclass(frozen=True, kw_only=True)
class EpochCount:
    """Samples one rank read in one epoch of the shards.

    Parameters
    ----------
    epoch : int
        Epoch of the shard order.
    seen : int
        Samples read (every one of this rank's shards, front to back).
    expected : int
        Samples ``shards.json`` lists for those shards.
    no_face : int
        Samples left out because they have no face.
    """

    epoch: int
    seen: int
    expected: int
    no_face: int


@dataclass(kw_only=True)
class ShardBatches:
    """One rank's endless sequence of training batches from the shards.

    Parameters
    ----------
    data : ShardTrainingData
        The shards.
    rank, world_size : int
        This process's place in the job (each rank reads its own shards).
    per_rank : int
        Samples per step on this rank.
    seed : int
        Seeds the shard order and the shuffle buffer.
    buffer : int
        Shuffle-buffer size in samples.
    epochs : list of EpochCount
        Filled as epochs finish (checked against ``shards.json``, logged).
    """

    data: ShardTrainingData
    rank: int = 0
    world_size: int = 1
    per_rank: int
    seed: int
    buffer: int = 256
    epochs: list[EpochCount] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.per_rank < 1:
            raise ValueError(f"per_rank must be at least 1, got {self.per_rank}")
        self._stream = ShardStream(
            self.data.folder,
            rank=self.rank,
            world_size=self.world_size,
            buffer=self.buffer,
            seed=self.seed,
        )
        self._groups = self._group_iter()

    def _samples(self) -> Iterator[Any]:
        """Yield the samples with a face, epoch after epoch, checking each epoch's count.

        The last sample of an epoch is held back until the epoch is counted, so the count
        is checked and logged before a step trains on it.
        """
        epoch = 0
        while True:
            self._stream.epoch = epoch
            seen = no_face = 0
            held = None
            for sample in self._stream:  # per-shard counts checked by the stream
                seen += 1
                if sample.face is None:
                    no_face += 1
                    continue
                if held is not None:
                    yield held
                held = sample
            count = EpochCount(
                epoch=epoch, seen=seen, expected=self._stream.expected(epoch), no_face=no_face
            )
            self._finish_epoch(count)
            if held is not None:
                yield held
            epoch += 1

    def _finish_epoch(self, count: EpochCount) -> None:
        if count.seen != count.expected:
            raise ShardError(
                f"{self.data.folder}: rank {self.rank} read {count.seen} samples "
                f"in epoch {count.epoch}, shards.json lists {count.expected}"
            )
        if count.seen == count.no_face:
            raise ShardError(
                f"{self.data.folder}: rank {self.rank}'s shards of epoch "
                f"{count.epoch} hold no sample with a face; cannot train on them"
            )
        self.epochs.append(count)
        log.info(
            "rank %d, shard epoch %d: %d samples seen (shards.json: %d), %d without a "
            "face left out",
            self.rank,
            count.epoch,
            count.seen,
            count.expected,
            count.no_face,
        )

    def _group_iter(self) -> Iterator[list[Any]]:
        group: list[Any] = []
        for sample in self._samples():
            group.append(sample)
            if len(group) == self.per_rank:
                yield group
                group = []

    def skip(self, steps: int) -> None:
        """Read past the batches of ``steps`` steps without decoding them (resuming)."""
        for _ in range(steps):
            next(self._groups)

    def next_samples(self) -> list[Any]:
        """Return the next step's ``per_rank`` samples (:class:`s2f_data.ShardStream` items)."""
        return next(self._groups)

    def waves(self, samples: list[Any], clip_samples: int) -> Tensor:
        """Clips of the samples: ``(per_rank, clip_samples)`` float32 (looped or cropped)."""
        clips = [fit_clip(np.asarray(s.wave, dtype=np.float32), clip_samples) for s in samples]
        return torch.from_numpy(np.stack(clips))  # (B, clip_samples)


def face_key(sample: Any) -> str:
    """Cache key of a sample's face: its manifest ``face_path``, else its bytes' SHA-256."""
    path = sample.labels.get("face_path")
    if path:
        return f"path:{path}"
    return "sha256:" + hashlib.sha256(sample.face).hexdigest()


class FaceFeatureCache:
    """Face-encoder features of the shards' faces, least recently used evicted.

    Parameters
    ----------
    encode : callable
        ``(batch, 3, S, S) float in [0, 1] -> (batch, D)`` (the frozen face encoder).
    image_size : int
        ``S``, the face encoder's input side.
    device : torch.device
        Where ``encode`` runs; features are returned there.
    max_items : int
        Features kept (memory bound).
    """

    def __init__(
        self,
        encode: Callable[[Tensor], Tensor],
        image_size: int,
        device: torch.device,
        max_items: int = FACE_CACHE_ITEMS,
    ) -> None:
        if max_items < 1:
            raise ValueError(f"max_items must be at least 1, got {max_items}")
        self.encode, self.image_size, self.device = encode, image_size, device
        self.max_items = max_items
        self._store: OrderedDict[str, Tensor] = OrderedDict()
        self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._store)

    @torch.no_grad()
    def features(self, samples: list[Any]) -> Tensor:
        """Features of the samples' faces: ``(len(samples), D)`` float32 on ``device``."""
        keys = [face_key(s) for s in samples]
        missing = {k: s for k, s in zip(keys, samples, strict=True) if k not in self._store}
        self.misses += len(missing)
        self.hits += len(keys) - len(missing)
        for k, sample in missing.items():  # one at a time: a face's features do not
            image = load_face_image(sample.face, self.image_size, name=f"shard sample {sample.key}")
            batch = torch.tensor(image).permute(2, 0, 1)[None].float() / 255.0  # (1,3,S,S)
            self._store[k] = self.encode(batch.to(self.device)).float()[0]  # depend on the batch
        out = torch.stack([self._store[k] for k in keys])
        for k in keys:
            self._store.move_to_end(k)
        while len(self._store) > self.max_items:
            self._store.popitem(last=False)
        return out


def shard_target_stats(
    data: ShardTrainingData,
    cache: FaceFeatureCache,
    *,
    feature_dim: int,
    rank: int = 0,
    world_size: int = 1,
    batch_size: int = 64,
) -> tuple[Tensor, Tensor]:
    """Per-dimension mean and floored std of the voice targets, in one pass over the shards.

    The same statistics as :func:`s2f_model._voice_targets.target_stats` on one face-feature
    row per training utterance with a face: each rank sums its shards (float64) and the sums
    are added over the ranks, so every rank gets the same result.

    Parameters
    ----------
    data : ShardTrainingData
        The shards.
    cache : FaceFeatureCache
        Face features (the frozen face encoder).
    feature_dim : int
        ``D``, the face features' width.
    rank, world_size : int
        This process's place in the job; each rank reads its shards of epoch 0.
    batch_size : int
        Faces encoded at once.

    Returns
    -------
    tuple of torch.Tensor
        ``(D,)`` mean and ``(D,)`` std (float32), on the cache's device.
    """
    shards = ShardStream(data.folder, rank=rank, world_size=world_size).my_shards(0)
    n, total, squares = 0, None, None

    def add(group: list[Any]) -> None:
        nonlocal n, total, squares
        x = cache.features(group).double()  # (B, D)
        n += x.shape[0]
        total = x.sum(0) if total is None else total + x.sum(0)
        squares = (x * x).sum(0) if squares is None else squares + (x * x).sum(0)

    group: list[Any] = []
    for shard in shards:
        for sample in read_shard(data.folder / shard["name"]):
            if sample.face is not None:
                group.append(sample)
            if len(group) == batch_size:
                add(group)
                group = []
    if group:
        add(group)
    moments = torch.zeros(3, feature_dim, dtype=torch.float64, device=cache.device)
    if total is not None:
        moments[0, 0], moments[1], moments[2] = n, total, squares
    if world_size > 1:
        import torch.distributed as dist

        dist.all_reduce(moments)  # sum of counts, sums and squares over the ranks
    count = float(moments[0, 0])
    if count < 2:
        raise ShardError(
            f"{data.folder}: {count:.0f} sample(s) with a face; the target "
            f"statistics need at least 2"
        )
    mean = moments[1] / count
    std = (moments[2] / count - mean * mean).clamp_min(0.0).sqrt()
    floor = max(float(std.mean()) * STD_FLOOR, 1e-12)
    return mean.float(), std.clamp_min(floor).float()


class AuxLabels:
    """Auxiliary-head labels of training utterances, looked up by ``utterance_id``.

    Parameters
    ----------
    utterance_ids : list of str
        The rows of ``matrix``.
    matrix : torch.Tensor
        ``(utterances, heads)`` labels from :func:`s2f_model._voice_targets.aux_label_matrix`.
    """

    def __init__(self, utterance_ids: list[str], matrix: Tensor) -> None:
        if matrix.shape[0] != len(utterance_ids):
            raise ValueError(f"{matrix.shape[0]} label rows for {len(utterance_ids)} utterances")
        self.matrix = matrix
        self.row = {str(uid): i for i, uid in enumerate(utterance_ids)}

    def __call__(self, samples: list[Any]) -> Tensor:
        """Labels of the samples: ``(len(samples), heads)`` float32 (NaN: missing)."""
        try:
            rows = [self.row[str(s.labels["utterance_id"])] for s in samples]
        except KeyError as err:
            raise ShardError(
                f"shard sample {err} is not a training utterance of the "
                f"manifest; write the shards again from it"
            ) from err
        return self.matrix[rows]


@dataclass(kw_only=True)
class ShardVoiceInputs:
    """The voice stage's inputs of consecutive steps, read from the shards.

    Parameters
    ----------
    batches : ShardBatches
        This rank's batches.
    faces : FaceFeatureCache
        Face features (the targets).
    frontend : callable
        ``(batch, clip_samples) -> spectrogram`` on the device.
    clip_samples : int
        Clip length the front-end expects.
    aux : AuxLabels or None
        Auxiliary labels (the standardised objective's heads), or None.
    next_step : int
        The step whose inputs the next call returns (the first step of this call to train).
    """

    batches: ShardBatches
    faces: FaceFeatureCache
    frontend: Callable[[Tensor], Tensor]
    clip_samples: int
    aux: AuxLabels | None = None
    next_step: int = 0

    def __post_init__(self) -> None:
        self.batches.skip(self.next_step)  # resuming: the batches already trained on

    def __call__(self, step: int) -> tuple[Tensor, ...]:
        """Return ``(spec, v_face[, aux_labels])`` of ``step`` (steps must come in order)."""
        if step != self.next_step:
            raise RuntimeError(
                f"shard batches are read in order: asked for step {step}, "
                f"the stream is at step {self.next_step}"
            )
        self.next_step += 1
        samples = self.batches.next_samples()
        device = self.faces.device
        spec = self.frontend(self.batches.waves(samples, self.clip_samples).to(device))
        v_face = self.faces.features(samples)
        if self.aux is None:
            return (spec, v_face)
        return (spec, v_face, self.aux(samples).to(device))
