"""Process-group plumbing for DistributedDataParallel runs under ``torchrun``.

A plain ``python`` process is a world of one: every helper here then does nothing, so the
training code has a single path. Under ``torchrun --nproc_per_node N`` the environment
variables ``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT`` are set;
:func:`init_distributed` joins the group (gloo on CPU, NCCL on CUDA).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

import torch

__all__ = [
    "DistContext",
    "average_buffers",
    "barrier",
    "init_distributed",
    "resolve_device",
    "shutdown",
    "world_from_env",
]


@dataclass(frozen=True, kw_only=True)
class DistContext:
    """Where this process sits in the job.

    Parameters
    ----------
    rank : int
        Global rank (0 writes checkpoints and shows progress).
    world_size : int
        Number of processes.
    local_rank : int
        Rank on this machine (picks the CUDA device).
    device : torch.device
        Device this process computes on.
    owns_group : bool
        True when :func:`init_distributed` created the process group (and so should
        destroy it at the end).
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    owns_group: bool = False

    @property
    def is_main(self) -> bool:
        """True on rank 0."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """True when more than one process takes part."""
        return self.world_size > 1


def world_from_env(env: Mapping[str, str] | None = None) -> tuple[int, int, int]:
    """Read ``(rank, world_size, local_rank)`` from torchrun's environment variables.

    Parameters
    ----------
    env : mapping, optional
        Defaults to ``os.environ``.

    Returns
    -------
    tuple of int
        ``(0, 1, 0)`` outside torchrun.

    Raises
    ------
    ValueError
        If a variable is not an integer or the values are inconsistent.
    """
    env = os.environ if env is None else env
    values = {}
    for name, default in (("RANK", "0"), ("WORLD_SIZE", "1"), ("LOCAL_RANK", "0")):
        raw = env.get(name, default)
        try:
            values[name] = int(raw)
        except ValueError as err:
            raise ValueError(f"environment variable {name}={raw!r} is not an integer") from err
    rank, world, local = values["RANK"], values["WORLD_SIZE"], values["LOCAL_RANK"]
    if world < 1 or not 0 <= rank < world or local < 0:
        raise ValueError(
            f"inconsistent torchrun environment: RANK={rank}, WORLD_SIZE={world}, "
            f"LOCAL_RANK={local} (expected 0 <= RANK < WORLD_SIZE, LOCAL_RANK >= 0)"
        )
    return rank, world, local


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """Turn a config device string into a ``torch.device``.

    Parameters
    ----------
    name : str
        ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"`` or ``"auto"`` (CUDA when available,
        else CPU).
    local_rank : int
        Under torchrun, a bare accelerator name gets this process's index.

    Returns
    -------
    torch.device
        The device.

    Raises
    ------
    ValueError
        If the string is not a device or the device is not available.
    """
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except RuntimeError as err:
        raise ValueError(f"train.device {name!r} is not a torch device: {err}") from err
    if device.type != "cpu" and device.index is None:
        device = torch.device(device.type, local_rank)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"train.device {name!r} asks for CUDA, which this machine lacks")
    return device


def init_distributed(device_name: str = "cpu", timeout_s: float = 600.0) -> DistContext:
    """Join the process group when started by torchrun; otherwise a world of one.

    Parameters
    ----------
    device_name : str
        Config device (see :func:`resolve_device`).
    timeout_s : float
        Collective timeout in seconds.

    Returns
    -------
    DistContext
        Rank, world size and device of this process.
    """
    import datetime

    import torch.distributed as dist

    rank, world, local = world_from_env()
    device = resolve_device(device_name, local)
    if world == 1:
        return DistContext(device=device)
    owns = False
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend=backend, timeout=datetime.timedelta(seconds=timeout_s))
        owns = True
    return DistContext(
        rank=rank, world_size=world, local_rank=local, device=device, owns_group=owns
    )


def barrier(ctx: DistContext) -> None:
    """Wait for every process (no-op in a world of one)."""
    if ctx.distributed:
        import torch.distributed as dist

        dist.barrier()


def average_buffers(module: torch.nn.Module, ctx: DistContext) -> None:
    """Average floating-point buffers (BatchNorm running statistics) over all processes.

    DistributedDataParallel broadcasts rank 0's buffers before every forward pass, so after
    the last step each process holds statistics updated by its own shard; averaging leaves
    every process with the same model (no-op in a world of one).

    Parameters
    ----------
    module : torch.nn.Module
        The module whose buffers are averaged in place.
    ctx : DistContext
        This process's place in the job.
    """
    if not ctx.distributed:
        return
    import torch.distributed as dist

    with torch.no_grad():
        for buf in module.buffers():
            if buf.is_floating_point():
                dist.all_reduce(buf, op=dist.ReduceOp.SUM)
                buf.div_(ctx.world_size)


def shutdown(ctx: DistContext) -> None:
    """Destroy the process group if :func:`init_distributed` created it."""
    if ctx.owns_group:
        import torch.distributed as dist

        dist.destroy_process_group()
