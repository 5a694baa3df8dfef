"""Training from tar shards (``train.data="shards"``): the training set and the voice stage.

:class:`ShardTrainingSet` stands where the in-memory :class:`~s2f_model.VoiceFaceDataset`
stands in training: it answers the same questions (how many utterances, their ids, the
distinct faces for the face stages and the mean face), but holds no clip: the voice stage's
inputs are streamed from the shards by :func:`shard_voice_inputs`. The distinct faces are
decoded from the manifest only when a face stage or the mean face asks for them.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from s2f_data import Manifest, ShardError, rows_digest
from s2f_model._data import FaceDataset, load_faces, rows_with_face
from s2f_model._shard_data import (
    AuxLabels,
    FaceFeatureCache,
    ShardBatches,
    ShardTrainingData,
    ShardVoiceInputs,
    shard_target_stats,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from s2f_model._config import S2FConfig
    from s2f_model._stages import StageEnv

__all__ = ["ShardTrainingSet", "open_shard_training_set", "shard_voice_batches"]


@dataclass(frozen=True, kw_only=True)
class ShardTrainingSet:
    """The training split when its clips are streamed from shards.

    Parameters
    ----------
    shards : ShardTrainingData
        The checked shard folder.
    manifest : s2f_data.Manifest
        The training manifest (labels, faces, identities).
    image_size : int
        Face side in pixels.
    identities : list of str
        fc8 speaker order.
    """

    shards: ShardTrainingData
    manifest: Manifest
    image_size: int
    identities: list[str]

    @functools.cached_property
    def _rows(self) -> Any:
        return rows_with_face(self.manifest, "train")[0]

    def __len__(self) -> int:
        """Training utterances with a face (the samples the voice stage trains on)."""
        return len(self._rows)

    @property
    def utterance_ids(self) -> list[str]:
        """Training utterances with a face, in manifest order."""
        return [str(v) for v in self._rows["utterance_id"]]

    @functools.cached_property
    def faces(self) -> FaceDataset:
        """The distinct training faces, decoded from the manifest on first use."""
        rows = self._rows.drop_duplicates("face_path")
        return load_faces(self.manifest, rows, self.image_size, identities=self.identities)


def open_shard_training_set(
    manifest: Manifest, cfg: S2FConfig, identities: list[str]
) -> ShardTrainingSet:
    """Open ``train.shard_dir`` (default ``shards`` beside the manifest) for training.

    Raises
    ------
    ShardError
        Shards of other rows (:func:`s2f_data.rows_digest`), split or sample rate, or an
        index whose count differs from the manifest's training rows.
    """
    folder = cfg.run.shard_dir or manifest.folder / "shards"
    frame = manifest.frame
    train_rows = frame[frame["split"] == "train"]
    shards = ShardTrainingData.open(
        folder, sample_rate=cfg.audio.sample_rate, rows_sha256=rows_digest(train_rows)
    )
    if shards.n_samples != len(train_rows):
        raise ShardError(
            f"{shards.folder / 'shards.json'}: {shards.n_samples} samples, the "
            f"manifest has {len(train_rows)} training rows; write the shards again"
        )
    return ShardTrainingSet(
        shards=shards,
        manifest=manifest,
        image_size=cfg.face.image_size,
        identities=list(identities),
    )


def shard_voice_batches(
    env: StageEnv,
) -> tuple[torch.Tensor, Callable[[int, torch.Tensor], tuple[torch.Tensor, ...]]]:
    """Return the voice stage's pool and batches, streamed from the shards.

    Each rank reads its own shards and takes ``train.batch_size // world_size`` samples per
    step, in step order (the pool is one entry per sample of a global batch; the entries the
    loop draws from it are not used). Targets are standardised with statistics from one pass
    over the shards (summed over the ranks) when the run starts.

    Returns
    -------
    pool : torch.Tensor
        ``(batch_size,)``.
    batch : callable
        ``batch(step, sel) -> (spec, v_face[, aux_labels])`` on the device.
    """
    model, cfg, ctx, data = env.model, env.cfg, env.ctx, env.data
    per_rank = cfg.train.batch_size // ctx.world_size
    model.face_encoder.eval()
    cache = FaceFeatureCache(model.encode_face, cfg.face.image_size, ctx.device)
    if env.active and cfg.voice.standardize_output and env.first_step == 0:
        model.voice_encoder.set_target_stats(
            *shard_target_stats(
                data.shards,
                cache,
                feature_dim=cfg.face.feature_dim,
                rank=ctx.rank,
                world_size=ctx.world_size,
            )
        )
    aux = None
    if env.aux_labels is not None and cfg.loss.objective == "standardized":
        aux = AuxLabels(data.utterance_ids, env.aux_labels)
    inputs = ShardVoiceInputs(
        batches=ShardBatches(
            data=data.shards,
            rank=ctx.rank,
            world_size=ctx.world_size,
            per_rank=per_rank,
            seed=cfg.train.seed,
            buffer=cfg.train.shuffle_buffer,
        ),
        faces=cache,
        frontend=model.frontend,
        clip_samples=cfg.audio.clip_samples,
        aux=aux,
        next_step=env.first_step if env.active else 0,
    )

    def batch(step: int, sel: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return inputs(step)

    return torch.arange(per_rank * ctx.world_size), batch
