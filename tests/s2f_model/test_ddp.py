from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch

from s2f_model import S2FConfig
from s2f_model._checkpoint import load_checkpoint
from s2f_model._distributed import DistContext, resolve_device, world_from_env
from s2f_model._model import build_model
from s2f_model._train import _rank_batches, augment_faces, derive_seed, train

# Runs under torchrun: trains, then every rank records a hash of its weights.
_SCRIPT = textwrap.dedent(
    """
    import hashlib, json, os, sys
    import torch
    from s2f_model import S2FConfig
    from s2f_model._train import train
    cfg = S2FConfig.compact().replace(**json.loads(sys.argv[3]))
    result = train(cfg, sys.argv[1], sys.argv[2], progress=False)
    digest = hashlib.sha256()
    for key, value in sorted(result.model.state_dict().items()):
        digest.update(key.encode())
        digest.update(value.detach().contiguous().numpy().tobytes())
    rank = os.environ["RANK"]
    with open(os.path.join(sys.argv[2], f"rank{rank}.json"), "w") as fh:
        json.dump({"sha256": digest.hexdigest(), "world": os.environ["WORLD_SIZE"],
                   "steps": {k: len(v) for k, v in result.losses.items()}}, fh)
    """
)

REPO = Path(__file__).resolve().parents[2]  # the repository root, for subprocesses


def _state_sha(state: dict[str, torch.Tensor]) -> str:
    digest = hashlib.sha256()
    for key, value in sorted(state.items()):
        digest.update(key.encode())
        digest.update(value.detach().contiguous().numpy().tobytes())
    return digest.hexdigest()


def _torchrun(script: Path, manifest: Path, out: Path, overrides: dict) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone",
           "--nproc_per_node", "2", str(script), str(manifest), str(out), json.dumps(overrides)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_two_process_gloo_run_equals_single_process(tiny_manifest, tmp_path, tiny_overrides):
    # dropout 0: then the face side's DDP gradients (each rank's half of every global batch,
    # averaged) equal the single-process gradients up to float summation order
    overrides = {**tiny_overrides, "face.dropout": 0.0, "train.face_steps": 2,
                 "train.voice_steps": 2}
    script = tmp_path / "ddp.py"
    script.write_text(_SCRIPT)
    out = tmp_path / "ddp"
    _torchrun(script, tiny_manifest, out, overrides)
    ranks = [json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert ranks[0]["world"] == "2"
    assert ranks[0]["sha256"] == ranks[1]["sha256"]  # every rank holds the same weights
    assert ranks[0]["steps"] == {"face_encoder": 2, "face_decoder": 2, "voice": 2}
    ddp = load_checkpoint(out)
    assert ddp.meta["metadata"]["world_size"] == 2
    assert _state_sha(ddp.model_state) == ranks[0]["sha256"]  # rank 0 wrote its weights
    assert sorted(p.name for p in out.glob("*.json")) == [
        "checkpoint.json", "model.json", "rank0.json", "rank1.json"]

    single = train(S2FConfig.compact().replace(**overrides), tiny_manifest, tmp_path / "one",
                   progress=False)
    ref = single.model.state_dict()
    for key, value in ddp.model_state.items():
        if key.startswith(("face_encoder.", "face_decoder.")) and value.is_floating_point():
            torch.testing.assert_close(value, ref[key], rtol=1e-4, atol=1e-5, msg=key)
    # the voice stage ran too (its BatchNorm sees per-rank batches, so no equality there)
    cfg = S2FConfig.from_dict(ddp.meta["config"])
    init = build_model(cfg, seed=derive_seed(cfg.train.seed, "init")).state_dict()
    assert not torch.equal(ddp.model_state["voice_encoder.fc2.weight"],
                           init["voice_encoder.fc2.weight"])


def test_rank_shards_partition_the_global_batch():
    one = DistContext()
    idx1, per_epoch1 = _rank_batches(23, 6, one, seed=3, stage="voice")
    shards = [_rank_batches(23, 6, DistContext(rank=r, world_size=2), 3, "voice")
              for r in (0, 1)]
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
    other, _ = _rank_batches(23, 6, one, seed=4, stage="voice")
    assert not torch.equal(other(0), idx1(0))


def test_sharded_augmentation_equals_global():
    images = torch.rand(8, 3, 12, 12)
    full = augment_faces(images, torch.Generator().manual_seed(5))
    for rank in (0, 1):
        part = augment_faces(images[rank::2], torch.Generator().manual_seed(5),
                             shard=(rank, 2))
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
        _rank_batches(10, 1, DistContext(rank=0, world_size=2), 0, "voice")
