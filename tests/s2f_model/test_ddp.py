"""DistributedDataParallel under torchrun (gloo on CPU) against a single process."""

from __future__ import annotations

import hashlib
import json
import os
import runpy
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file
from torch.utils.flop_counter import FlopCounterMode

from s2f_model import S2FConfig
from s2f_model._checkpoint import load_checkpoint
from s2f_model._distributed import DistContext, resolve_device, world_from_env
from s2f_model._model import build_model
from s2f_model._train import augment_faces, derive_seed
from s2f_model._train_step import rank_batches

REPO = Path(__file__).resolve().parents[2]  # the repository root, for subprocesses
WORKER = Path(__file__).with_name("_ddp_worker.py")
U64 = 2.0**-53  # unit roundoff of float64
U32 = 2.0**-24  # unit roundoff of float32


def _state_sha(state: dict[str, torch.Tensor]) -> str:
    digest = hashlib.sha256()
    for key, value in sorted(state.items()):
        digest.update(key.encode())
        digest.update(value.detach().contiguous().numpy().tobytes())
    return digest.hexdigest()


def _run_worker(
    manifest: Path, overrides: dict[str, Any], out: Path, reduction: str = "mean"
) -> None:
    """One ``torchrun --nproc_per_node 2`` of tests/s2f_model/_ddp_worker.py (gloo)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        str(WORKER),
        str(manifest),
        str(out),
        json.dumps(overrides),
        reduction,
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]


def _tolerances(
    n_flops: int, per_sample: list[dict[str, torch.Tensor]], float32_head: int | None
) -> dict[str, float]:
    """Largest difference allowed between two float64 evaluations of one batch gradient.

    Both sides compute the same sums of per-sample terms in another order (each rank sums
    its half batch, gloo adds the halves and DDP divides by 2; one process sums 4 samples
    and divides by 4; kernels may also block a batch of 2 and one of 4 differently). For
    a sum of ``n`` terms, either order is within ``gamma_n * sum|terms|`` of the exact
    value, ``gamma_n = n u / (1 - n u)`` (Higham, Accuracy and Stability of Numerical
    Algorithms, 2nd ed., eq. 4.4). We bound ``n`` by the stage's whole floating-point
    operation count (forward and backward of the batch, counted by ``FlopCounterMode``;
    no path through the graph is longer) and the terms' size per tensor by its ``scale``,
    the largest element of ``mean_i |grad loss_i|`` (per-sample gradients), so a tensor may
    differ by ``2 * gamma_n * scale``. (Intermediate terms can exceed ``scale`` where a
    loss subtracts nearly equal numbers; counting every operation of the batch as one sum,
    some 1e8 terms where a path has ~1e4, leaves that room.)

    The identity stage's head casts its logits to float32 (as training does): the two sides
    round logits that agree to float64 accuracy, so they agree unless one lies at a float32
    rounding boundary; the cross-entropy gradient then differs by at most the float32 error
    of a softmax over ``K`` classes, about ``(K + 1) u32`` per logit on either side, hence
    ``4 (K + 1) u32 * scale`` more. With the tiny model this is ~1e-8 (float64) and ~1e-6
    (head) of the gradient scale. Measured on an Intel Xeon: DDP differs from one process
    by at most 1.2e-13 of the scale (5e-6 of the tolerance, on the landmark layer, whose
    MSE subtracts nearly equal coordinates); the wrong references (no all-reduce, or a sum
    instead of a mean) miss by about the scale itself, over 1e5 times the tolerance.
    """
    gamma = n_flops * U64 / (1 - n_flops * U64)
    head = 0.0 if float32_head is None else 4 * (float32_head + 1) * U32
    out = {}
    for key in per_sample[0]:
        scale = torch.stack([g[key].abs() for g in per_sample]).mean(dim=0).max().item()
        out[key] = (2 * gamma + head) * scale
    return out


def _worst(
    a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], tol: dict[str, float]
) -> tuple[float, str]:
    """Largest ``max|a - b| / tol`` over the tensors, and its tensor (0/0 counts as 0)."""
    ratios = {}
    for key, allowed in tol.items():
        diff = (a[key] - b[key]).abs().max().item()
        ratios[key] = diff / allowed if allowed > 0 else (0.0 if diff == 0 else float("inf"))
    key = max(ratios, key=ratios.__getitem__)
    return ratios[key], key


def test_two_process_gloo_run_equals_single_process(tiny_manifest, tiny_overrides, tmp_path):
    """Two gloo processes: one step's gradients equal one process's; ranks stay identical.

    What DDP must make equal is each rank's averaged gradient and the global-batch gradient
    of one process: :func:`_check_gradients` compares them in float64, which keeps the
    comparison free of the CPU's summation order. (The float32 weights after Adam steps
    differed by 1.05e-5 on AMD EPYC: Adam's first steps move each weight by about
    ``lr * sign(gradient)`` whatever the gradient's size, so a rounding difference in a
    near-zero gradient can move a weight by up to ``lr``.) :func:`_check_training_run`
    checks the full float32 training run that users start with torchrun.
    """
    overrides = _overrides(tiny_overrides)
    _run_worker(tiny_manifest, overrides, tmp_path)
    _check_gradients(tiny_manifest, overrides, tmp_path / "grads")
    _check_training_run(tmp_path)


@pytest.mark.slow
@pytest.mark.parametrize("reduction", ["sum", "local"])
def test_gradient_check_catches_a_ddp_that_does_not_average(
    tiny_manifest, tiny_overrides, tmp_path, reduction
):
    """The same check on a DDP whose hook sums, or skips the all-reduce, must fail.

    Measured: both miss by 8e5 (identity stage) to 3e7 (decoder) times the tolerance.
    """
    overrides = _overrides(tiny_overrides)
    _run_worker(tiny_manifest, overrides, tmp_path, reduction)
    with pytest.raises(AssertionError, match=r"DDP gradient off by|face_encoder"):
        _check_gradients(tiny_manifest, overrides, tmp_path / "grads")


def _overrides(tiny_overrides: dict[str, Any]) -> dict[str, Any]:
    # dropout 0 keeps the face side deterministic given the batch; 2 steps per stage
    return {
        **tiny_overrides,
        "face.dropout": 0.0,
        "train.face_steps": 2,
        "train.voice_steps": 2,
    }


def _check_gradients(manifest: Path, overrides: dict[str, Any], grads: Path) -> None:
    """Each face stage: the DDP gradient on both ranks = the global-batch gradient."""
    worker = runpy.run_path(str(WORKER), run_name="ddp_worker")
    cfg, model, data = worker["prepare"](manifest, overrides)
    ranks = [load_file(str(grads / f"rank{r}.safetensors")) for r in (0, 1)]
    faces = [json.loads((grads / f"rank{r}.json").read_text()) for r in (0, 1)]
    for stage in worker["FACE_STAGES"]:
        batch = worker["stage_batch"](stage, model, cfg, data, DistContext())
        torch.manual_seed(derive_seed(cfg.train.seed, stage, "step", 0))
        with FlopCounterMode(display=False) as counter:
            full = worker["gradients"](batch.module, batch.inputs)
        n = len(batch.faces)
        per_sample = [
            worker["gradients"](batch.module, tuple(x[i : i + 1] for x in batch.inputs))
            for i in range(n)
        ]
        shards = [
            worker["gradients"](batch.module, tuple(x[r::2] for x in batch.inputs)) for r in (0, 1)
        ]
        tol = _tolerances(
            counter.get_total_flops(),
            per_sample,
            cfg.face.n_identities if stage == "face_encoder" else None,
        )
        # each rank saw its own half of the same global batch (DistributedSampler slicing)
        assert n == cfg.train.batch_size == 4
        assert faces[0][stage] == batch.faces[0::2] and faces[1][stage] == batch.faces[1::2]
        ddp = [
            {k.removeprefix(f"{stage}/"): v for k, v in rank.items() if k.startswith(f"{stage}/")}
            for rank in ranks
        ]
        assert sorted(ddp[0]) == sorted(full), stage
        for key in full:  # the all-reduced gradient is the same tensor on both ranks
            assert torch.equal(ddp[0][key], ddp[1][key]), (stage, key)
        ratio, key = _worst(ddp[0], full, tol)
        assert ratio <= 1.0, f"{stage} {key}: DDP gradient off by {ratio:.3g} x tolerance"
        mean = {k: (shards[0][k] + shards[1][k]) / 2 for k in full}
        assert _worst(mean, full, tol)[0] <= 1.0  # the reference: mean of the halves
        # wrong references fail by far: no all-reduce (a rank's own half) or no division
        for wrong in (*shards, {k: shards[0][k] + shards[1][k] for k in full}):
            assert _worst(wrong, full, tol)[0] > 100.0, stage


def _check_training_run(out: Path) -> None:
    """The full float32 run: every rank ends with the same weights, rank 0 saved them."""
    ranks = [json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0]["world"] == "2"
    assert ranks[0]["sha256"] == ranks[1]["sha256"]  # every rank holds the same weights
    assert ranks[0]["steps"] == {"face_encoder": 2, "face_decoder": 2, "voice": 2}
    ddp = load_checkpoint(out / "run")
    assert ddp.meta["metadata"]["world_size"] == 2
    assert _state_sha(ddp.model_state) == ranks[0]["sha256"]  # rank 0 wrote its weights
    assert {"checkpoint.json", "model.json"} <= {p.name for p in (out / "run").glob("*.json")}
    # every stage trained (the voice stage's BatchNorm sees per-rank batches)
    cfg = S2FConfig.from_dict(ddp.meta["config"])
    init = build_model(cfg, seed=derive_seed(cfg.train.seed, "init")).state_dict()
    for key in ("voice_encoder.fc2.weight", "face_decoder.to_rgb.weight"):
        assert not torch.equal(ddp.model_state[key], init[key]), key


def test_rank_shards_partition_the_global_batch():
    one = DistContext()
    idx1, per_epoch1 = rank_batches(23, 6, one, seed=3, stage="voice")
    shards = [rank_batches(23, 6, DistContext(rank=r, world_size=2), 3, "voice") for r in (0, 1)]
    assert per_epoch1 == 3 and all(n == 3 for _, n in shards)
    for step in range(7):  # crosses epochs
        glob = idx1(step)
        a, b = shards[0][0](step), shards[1][0](step)
        assert len(glob) == 6 and len(a) == len(b) == 3
        assert sorted(torch.cat([a, b]).tolist()) == sorted(glob.tolist())
        assert torch.equal(a, glob[0::2]) and torch.equal(b, glob[1::2])
    # every epoch is a permutation, epochs differ, and the order depends on the seed
    epoch0 = torch.cat([idx1(s) for s in range(3)])
    epoch1 = torch.cat([idx1(s) for s in range(3, 6)])
    assert len(set(epoch0.tolist())) == 18 and not torch.equal(epoch0, epoch1)
    other, _ = rank_batches(23, 6, one, seed=4, stage="voice")
    assert not torch.equal(other(0), idx1(0))


def test_sharded_augmentation_equals_global():
    images = torch.rand(8, 3, 12, 12)
    full = augment_faces(images, torch.Generator().manual_seed(5))
    for rank in (0, 1):
        part = augment_faces(images[rank::2], torch.Generator().manual_seed(5), shard=(rank, 2))
        assert torch.equal(part, full[rank::2])
    with pytest.raises(ValueError, match=r"0 <= rank < world_size, got \(2, 2\)"):
        augment_faces(images, torch.Generator(), shard=(2, 2))


def test_world_from_env_and_device():
    assert world_from_env({}) == (0, 1, 0)
    assert world_from_env({"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1"}) == (1, 2, 1)
    with pytest.raises(ValueError, match=r"RANK=2, WORLD_SIZE=2"):
        world_from_env({"RANK": "2", "WORLD_SIZE": "2"})
    with pytest.raises(ValueError, match=r"WORLD_SIZE='two' is not an integer"):
        world_from_env({"WORLD_SIZE": "two"})
    assert resolve_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    with pytest.raises(ValueError, match="is not a torch device"):
        resolve_device("toaster")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="asks for CUDA, which this machine lacks"):
            resolve_device("cuda:0")


def test_batch_smaller_than_world_is_refused():
    with pytest.raises(ValueError, match=r"batch_size=1 is smaller than the number of processes"):
        rank_batches(10, 1, DistContext(rank=0, world_size=2), 0, "voice")
