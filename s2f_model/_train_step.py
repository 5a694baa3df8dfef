"""Building blocks of the training loop: seeds, augmentation, batches, one optimisation step.

Every random choice of a run is derived from ``(seed, stage, epoch)`` (data order) or
``(seed, stage, step)`` (augmentation, dropout) by :func:`derive_seed`, so a run interrupted
after any checkpoint and resumed ends with the same weights as an uninterrupted one.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable
from typing import Any, Literal

import torch
from torch import Tensor, nn
from torch.utils.data import DistributedSampler

from s2f_model._distributed import DistContext
from s2f_model.exceptions import TrainingError

__all__ = [
    "augment_faces",
    "compute_in_batches",
    "derive_seed",
    "parts_dict",
    "progress_bar",
    "rank_batches",
    "train_step",
]


def derive_seed(seed: int, *keys: int | str) -> int:
    """Return a 63-bit seed derived from ``seed`` and a path of keys (stage, epoch, step).

    Parameters
    ----------
    seed : int
        Run seed.
    *keys : int or str
        Context, e.g. ``("voice", "step", 17)``.

    Returns
    -------
    int
        In ``[0, 2**63)``; different keys give unrelated seeds.

    Examples
    --------
    >>> derive_seed(0, "voice", "step", 1) == derive_seed(0, "voice", "step", 1)
    True
    >>> derive_seed(0, "voice", "step", 1) == derive_seed(0, "voice", "step", 2)
    False
    """
    text = "/".join([str(int(seed)), *map(str, keys)])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") >> 1


def augment_faces(
    images: Tensor,
    generator: torch.Generator,
    max_shift: float = 0.06,
    brightness: float = 0.15,
    shard: tuple[int, int] = (0, 1),
) -> Tensor:
    """Shift each face by a few pixels and scale its brightness (no flips).

    Parameters
    ----------
    images : torch.Tensor
        ``(batch, 3, H, W)`` in ``[0, 1]``.
    generator : torch.Generator
        Source of randomness (CPU).
    max_shift : float
        Largest shift as a fraction of the side (edge pixels are replicated).
    brightness : float
        Brightness factor drawn from ``[1 - brightness, 1 + brightness]``.
    shard : tuple of int
        ``(rank, world_size)``: ``images`` are the items ``rank::world_size`` of a global
        batch of ``batch * world_size``; the draws are made for the global batch and sliced
        the same way, so a sharded run augments exactly like a single process.

    Returns
    -------
    torch.Tensor
        Same shape, clipped to ``[0, 1]``.
    """
    if images.ndim != 4:
        raise ValueError(f"expected (batch, 3, H, W) images, got shape {tuple(images.shape)}")
    rank, world = shard
    if not 0 <= rank < world:
        raise ValueError(
            f"shard must be (rank, world_size) with 0 <= rank < world_size, got {shard}"
        )
    b, _, h, w = images.shape
    pad = max(1, round(max_shift * max(h, w)))
    shifts = torch.randint(-pad, pad + 1, (b * world, 2), generator=generator)[rank::world]
    scale = 1.0 + (torch.rand(b * world, generator=generator)[rank::world] * 2 - 1) * brightness
    padded = nn.functional.pad(images, (pad, pad, pad, pad), mode="replicate")
    out = torch.empty_like(images)
    for i in range(b):  # per-sample crop: (3, H+2p, W+2p) -> (3, H, W)
        dy, dx = int(shifts[i, 0]) + pad, int(shifts[i, 1]) + pad
        out[i] = padded[i, :, dy : dy + h, dx : dx + w]
    out = out * scale.to(images.dtype).view(b, 1, 1, 1)
    return out.clamp_(0.0, 1.0)


def parts_dict(result: Any) -> tuple[Tensor, dict[str, Tensor]]:
    """Normalise a loss function's result to ``(total, {name: detached part})``."""
    if isinstance(result, Tensor):
        return result, {}
    if isinstance(result, tuple) and len(result) == 2 and isinstance(result[1], dict):
        total, parts = result
        return total, {k: v.detach() for k, v in parts.items() if isinstance(v, Tensor)}
    if hasattr(result, "_asdict"):
        fields = result._asdict()
        total = fields.pop("total")
        return total, {k: v.detach() for k, v in fields.items() if isinstance(v, Tensor)}
    raise TypeError(f"unexpected loss result of type {type(result).__name__}")


def train_step(
    stage_module: nn.Module,
    optimizer: torch.optim.Optimizer,
    inputs: tuple[Tensor, ...],
    *,
    precision: Literal["fp32", "bf16", "fp16"] = "fp32",
    grad_clip: float | None = None,
    scaler: torch.amp.GradScaler | None = None,
) -> dict[str, float]:
    """Run one optimisation step of a stage module and return its loss parts.

    Parameters
    ----------
    stage_module : torch.nn.Module
        A stage's loss module (possibly wrapped in DistributedDataParallel) whose forward
        returns ``(loss, parts)``.
    optimizer : torch.optim.Optimizer
        Optimiser over the stage's trainable parameters.
    inputs : tuple of torch.Tensor
        Forward arguments, already on the device.
    precision : {"fp32", "bf16", "fp16"}
        Autocast dtype (the device type is taken from the inputs).
    grad_clip : float or None
        Clip the gradient norm to this value.
    scaler : torch.amp.GradScaler or None
        Loss scaler for fp16.

    Returns
    -------
    dict of str to float
        ``loss`` (the total) and every part.
    """
    device_type = inputs[0].device.type
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    optimizer.zero_grad(set_to_none=True)
    with torch.autocast(
        device_type=device_type, dtype=dtype or torch.float32, enabled=dtype is not None
    ):
        loss, parts = stage_module(*inputs)
    if not torch.isfinite(loss):
        raise TrainingError(f"loss became {float(loss.detach())}; lower train.lr or use fp32")
    if scaler is not None:
        scaler.scale(loss).backward()
        scaler.unscale_(optimizer)
    else:
        loss.backward()
    if grad_clip is not None:
        params = [p for g in optimizer.param_groups for p in g["params"]]
        nn.utils.clip_grad_norm_(params, grad_clip)
    if scaler is not None:
        scaler.step(optimizer)
        scaler.update()
    else:
        optimizer.step()
    out = {"loss": float(loss.detach())}
    out.update({k: float(v) for k, v in parts.items()})
    return out


def rank_batches(
    n: int, batch_size: int, ctx: DistContext, seed: int, stage: str
) -> tuple[Callable[[int], Tensor], int]:
    """Return ``indices(step)`` (this rank's share of the global batch) and steps per epoch.

    The order of epoch ``e`` is a DistributedSampler permutation seeded by
    ``derive_seed(seed, stage)`` and ``e``: it depends on nothing else, so a resumed run sees
    the same batches.
    """
    per_rank = batch_size // ctx.world_size
    if per_rank < 1:
        raise TrainingError(
            f"train.batch_size={batch_size} is smaller than the number of processes "
            f"({ctx.world_size})"
        )
    sampler = DistributedSampler(
        range(n),
        num_replicas=ctx.world_size,
        rank=ctx.rank,
        shuffle=True,
        seed=derive_seed(seed, stage) % 2**31,
        drop_last=True,
    )
    per_rank = min(per_rank, len(sampler))
    if per_rank < 1:
        raise TrainingError(
            f"stage {stage}: {n} examples cannot be shared by {ctx.world_size} processes"
        )
    steps_per_epoch = len(sampler) // per_rank
    cache: dict[int, list[int]] = {}

    def indices(step: int) -> Tensor:
        epoch, k = divmod(step, steps_per_epoch)
        if epoch not in cache:
            cache.clear()
            sampler.set_epoch(epoch)
            cache[epoch] = list(iter(sampler))
        return torch.tensor(cache[epoch][k * per_rank : (k + 1) * per_rank])

    return indices, steps_per_epoch


def progress_bar(enabled: bool, total: int, initial: int, desc: str) -> Any:
    """Return a tqdm bar (a context manager), or a null context yielding None."""
    if not enabled:
        return contextlib.nullcontext(None)
    from tqdm.auto import tqdm  # third-party, only when a bar is shown

    return tqdm(total=total, initial=initial, desc=desc, unit="step", dynamic_ncols=True)


def compute_in_batches(
    fn: Callable[[Tensor], Tensor],
    n: int,
    get: Callable[[Tensor], Tensor],
    device: torch.device,
    batch_size: int = 64,
) -> Tensor:
    """Apply ``fn`` without gradients to ``get(indices)`` in batches; concatenate (float32)."""
    outs = []
    with torch.no_grad():
        for start in range(0, n, batch_size):
            idx = torch.arange(start, min(start + batch_size, n))
            outs.append(fn(get(idx).to(device)).float())
    return torch.cat(outs)
