"""Worker for tests/s2f_model/test_ddp.py, started by ``torchrun --nproc_per_node 2``.

Usage: ``python _ddp_worker.py MANIFEST OUT_DIR OVERRIDES_JSON [REDUCTION]``. Each rank

1. computes the gradients of one step of each face stage in float64 through
   DistributedDataParallel (gloo), on its shard of the global batch, and writes them to
   ``OUT_DIR/grads/rank{r}.safetensors`` and the faces it used to ``rank{r}.json`` there;
2. runs :func:`s2f_model._train.train` (float32, as users run it) into ``OUT_DIR/run`` and
   records a hash of its final weights in ``OUT_DIR/rank{r}.json``.

``REDUCTION`` ``sum`` or ``local`` replaces DDP's gradient averaging by a plain sum or by no
all-reduce at all (a communication hook; no training run then): the slow test that the
gradient check catches a DDP that does not average.

The test imports this file (``runpy``) to compute the single-process reference with the same
functions; the stage inputs mirror the face stages' ``batch`` in s2f_model/_stages.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from s2f_data import read_manifest
from s2f_model import S2FConfig
from s2f_model._data import VoiceFaceDataset, load_voice_face_data, training_identities
from s2f_model._distributed import DistContext, init_distributed, shutdown
from s2f_model._model import build_model
from s2f_model._stages import (
    TRAINING_STAGES,
    DecoderStageLoss,
    IdentityStageLoss,
    set_trainable,
)
from s2f_model._train import augment_faces, derive_seed, init_face_encoder, train
from s2f_model._train_setup import set_mean_face
from s2f_model._train_step import rank_batches

#: The stages whose DDP gradients must equal the single-process ones (the voice stage's
#: BatchNorm normalises each rank's half batch, so there the two runs differ by design).
FACE_STAGES = ("face_encoder", "face_decoder")


@dataclass
class StageBatch:
    """One step's stage module, its inputs and where they sit in the global batch."""

    module: nn.Module
    inputs: tuple[Tensor, ...]
    faces: list[int]  # the face (index into ``data.faces``) of each input row


def prepare(
    manifest: str | os.PathLike[str], overrides: dict
) -> tuple[S2FConfig, nn.Module, VoiceFaceDataset]:
    """Config, float64 model and training data exactly as ``_train`` sets them up."""
    cfg = S2FConfig.compact().replace(**overrides)
    table = read_manifest(manifest)
    identities = training_identities(table)
    cfg = cfg.replace(**{"face.n_identities": len(identities)})
    data = load_voice_face_data(
        table,
        "train",
        sample_rate=cfg.audio.sample_rate,
        clip_samples=cfg.audio.clip_samples,
        image_size=cfg.face.image_size,
        identities=identities,
    )
    model = build_model(cfg, seed=derive_seed(cfg.train.seed, "init"))
    set_mean_face(model, data)
    init_face_encoder(model, derive_seed(cfg.train.seed, "face_init"))
    return cfg, model.double(), data


def stage_batch(
    stage: str,
    model: nn.Module,
    cfg: S2FConfig,
    data: VoiceFaceDataset,
    ctx: DistContext,
    step: int = 0,
) -> StageBatch:
    """This rank's inputs of ``step`` of a face stage, in float64."""
    seed = cfg.train.seed
    faces = data.faces
    trainable = {s.name: s.trainable for s in TRAINING_STAGES}[stage]
    set_trainable(model, trainable(model))
    if stage == "face_encoder":
        pool = torch.nonzero(faces.identity >= 0).flatten()
        module: nn.Module = IdentityStageLoss(model)
    else:
        pool = torch.arange(len(faces))
        model.face_encoder.eval()
        module = DecoderStageLoss(model, cfg)
    indices, _ = rank_batches(len(pool), cfg.train.batch_size, ctx, seed, stage)
    sel = pool[indices(step)]
    b = faces.batch(sel)
    images = b["image"].double()
    if stage == "face_encoder":
        gen = torch.Generator().manual_seed(derive_seed(seed, stage, "aug", step))
        inputs = (augment_faces(images, gen, shard=(ctx.rank, ctx.world_size)), b["identity"])
    else:
        with torch.no_grad():
            feats = model.encode_face(images)
        inputs = (feats, images, b["landmarks"].double(), b["has_landmarks"])
    return StageBatch(module, inputs, sel.tolist())


def gradients(module: nn.Module, inputs: tuple[Tensor, ...]) -> dict[str, Tensor]:
    """Gradients of the stage loss on ``inputs`` (``module`` may be wrapped in DDP)."""
    params = {n: p for n, p in module.named_parameters() if p.requires_grad}
    for p in params.values():
        p.grad = None
    loss, _ = module(*inputs)
    loss.backward()
    return {n.removeprefix("module."): p.grad.detach().clone() for n, p in params.items()}


# DDP inspects a hook's annotations and accepts only the real classes, not the strings that
# ``from __future__ import annotations`` leaves: so the hooks carry none.
def _summing_hook(state, bucket):
    """All-reduce a gradient bucket without DDP's division by the world size."""
    import torch.distributed as dist

    work = dist.all_reduce(bucket.buffer(), async_op=True)
    return work.get_future().then(lambda fut: fut.value()[0])


def _local_hook(state, bucket):
    """Keep each rank's own gradient (no all-reduce)."""
    fut = torch.futures.Future()
    fut.set_result(bucket.buffer())
    return fut


_HOOKS = {"sum": _summing_hook, "local": _local_hook}


def ddp_gradients(
    manifest: str, overrides: dict, ctx: DistContext, out: Path, reduction: str = "mean"
) -> None:
    """Write this rank's DDP gradients of step 0 of each face stage.

    ``reduction`` ``"mean"`` is DDP as training uses it; ``"sum"`` and ``"local"`` break it
    on purpose (see the module docstring).
    """
    from safetensors.torch import save_file
    from torch.nn.parallel import DistributedDataParallel

    if reduction not in ("mean", *_HOOKS):
        raise ValueError(f"reduction must be 'mean', 'sum' or 'local', got {reduction!r}")

    cfg, model, data = prepare(manifest, overrides)
    tensors, layout = {}, {}
    for stage in FACE_STAGES:
        batch = stage_batch(stage, model, cfg, data, ctx)
        torch.manual_seed(derive_seed(cfg.train.seed, stage, "step", 0))  # dropout, as trained
        wrapped = DistributedDataParallel(batch.module)
        if reduction in _HOOKS:
            wrapped.register_comm_hook(None, _HOOKS[reduction])
        for name, grad in gradients(wrapped, batch.inputs).items():
            tensors[f"{stage}/{name}"] = grad.contiguous()
        layout[stage] = batch.faces
        model.zero_grad(set_to_none=True)
    out.mkdir(parents=True, exist_ok=True)
    save_file(tensors, str(out / f"rank{ctx.rank}.safetensors"))
    (out / f"rank{ctx.rank}.json").write_text(json.dumps(layout))


def _weights_sha256(model: nn.Module) -> str:
    digest = hashlib.sha256()
    for key, value in sorted(model.state_dict().items()):
        digest.update(key.encode())
        digest.update(value.detach().contiguous().numpy().tobytes())
    return digest.hexdigest()


def main(argv: list[str]) -> None:
    """Gradients, then a full training run (see the module docstring)."""
    manifest, out, overrides = argv[0], Path(argv[1]), json.loads(argv[2])
    reduction = argv[3] if len(argv) > 3 else "mean"
    ctx = init_distributed("cpu")
    try:
        ddp_gradients(manifest, overrides, ctx, out / "grads", reduction)
        if reduction != "mean":
            return
        cfg = S2FConfig.compact().replace(**overrides)
        result = train(cfg, manifest, out / "run", progress=False)  # joins this group
        record = {
            "sha256": _weights_sha256(result.model),
            "world": os.environ["WORLD_SIZE"],
            "steps": {k: len(v) for k, v in result.losses.items()},
        }
        (out / f"rank{ctx.rank}.json").write_text(json.dumps(record))
    finally:
        shutdown(ctx)


if __name__ == "__main__":
    main(sys.argv[1:])
