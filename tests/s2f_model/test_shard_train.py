"""Training from tar shards (``train.data="shards"``, issue #20) against the in-memory path."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from s2f_data import ShardError, write_shards
from s2f_model._checkpoint import load_checkpoint
from s2f_model._train import train

REPO = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("_shard_ddp_worker.py")
EPOCH_LINE = re.compile(r"rank (\d), shard epoch (\d+): (\d+) samples seen \(shards\.json: (\d+)\)")


def _weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@pytest.fixture(scope="module")
def shards(tiny_manifest, tmp_path_factory):
    """The tiny manifest's 12 training rows in 3 shards (5, 5, 2)."""
    folder = tmp_path_factory.mktemp("shards")
    write_shards(tiny_manifest, folder, split="train", sample_rate=16000, samples_per_shard=5)
    return folder


def _shard_cfg(tiny_config, shards, **overrides):
    return tiny_config(**{"train.data": "shards", "train.shard_dir": str(shards), **overrides})


def test_one_full_batch_gives_the_in_memory_loss(tiny_manifest, shards, tmp_path, tiny_config):
    # batch = the whole training split: both paths see the same 12 clips in step 0, with the
    # same face side (face stages read the manifest in both), so the loss agrees up to the
    # order of float32 sums (relative 1e-5 covers 12-term sums of O(1) values)
    settings = {"train.batch_size": 12, "train.voice_steps": 1}
    mem = train(tiny_config(**settings), tiny_manifest, tmp_path / "mem", progress=False)
    shard = train(
        _shard_cfg(tiny_config, shards, **settings),
        tiny_manifest,
        tmp_path / "shard",
        progress=False,
    )
    assert mem.losses["face_decoder"] == shard.losses["face_decoder"]
    assert shard.losses["voice"] == pytest.approx(mem.losses["voice"], rel=1e-5)
    enc_m, enc_s = mem.model.voice_encoder, shard.model.voice_encoder
    torch.testing.assert_close(enc_s.target_mean, enc_m.target_mean, rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(enc_s.target_std, enc_m.target_std, rtol=1e-5, atol=1e-7)


def test_shard_run_counts_every_epoch_and_records_its_settings(
    tiny_manifest, shards, tmp_path, tiny_config, caplog
):
    cfg = _shard_cfg(tiny_config, shards)  # 6 steps x 4 clips = 2 epochs of 12
    with caplog.at_level(logging.INFO, logger="s2f_model._shard_data"):
        result = train(cfg, tiny_manifest, tmp_path / "run", progress=False)
    assert result.finished and len(result.losses["voice"]) == 6
    counts = [tuple(map(int, m.groups())) for m in EPOCH_LINE.finditer(caplog.text)]
    assert counts == [(0, 0, 12, 12), (0, 1, 12, 12)]
    meta = json.loads((tmp_path / "run" / "model.json").read_text())
    assert meta["config"]["train"]["data"] == "shards"
    assert meta["config"]["train"]["shard_dir"] == str(shards)
    assert meta["metadata"]["n_train_utterances"] == 12


def test_resumed_shard_run_matches_an_uninterrupted_one(
    tiny_manifest, shards, tmp_path, tiny_config
):
    cfg = _shard_cfg(tiny_config, shards)
    whole = train(cfg, tiny_manifest, tmp_path / "whole", progress=False)
    out = tmp_path / "run"
    first = train(cfg, tiny_manifest, out, progress=False, stop_after=11)  # voice step 3 of 6
    assert not first.finished
    assert load_checkpoint(out, prefer="checkpoint.json").meta["step"] == 3
    resumed = train(cfg, tiny_manifest, out, resume=True, progress=False)
    assert resumed.losses["voice"] == whole.losses["voice"][3:]
    a, b = _weights(resumed.model), _weights(whole.model)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_a_damaged_shard_stops_training_naming_it(tiny_manifest, shards, tmp_path, tiny_config):
    broken = tmp_path / "broken"
    broken.mkdir()
    for path in shards.iterdir():
        data = path.read_bytes()
        (broken / path.name).write_bytes(data[:2500] if path.name == "shard-000001.tar" else data)
    cfg = _shard_cfg(tiny_config, broken)
    with pytest.raises(ShardError, match=r"shard-000001\.tar: truncated or damaged tar"):
        train(cfg, tiny_manifest, tmp_path / "run", progress=False)


def test_shards_of_other_rows_are_refused(manifest_factory, shards, tmp_path, tiny_config):
    other = manifest_factory(n_speakers=5)
    with pytest.raises(ShardError, match="written from other rows than the training manifest"):
        train(_shard_cfg(tiny_config, shards), other, tmp_path / "run", progress=False)


@pytest.mark.slow
def test_two_gloo_processes_each_read_their_shards(tiny_manifest, shards, tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        str(WORKER),
        str(tiny_manifest),
        str(shards),
        str(tmp_path / "run"),
    ]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    counts = {(int(r), int(e)): (int(n), int(m)) for r, e, n, m in EPOCH_LINE.findall(proc.stderr)}
    # 6 steps x 2 clips per rank: each rank finishes its epoch 0 (shards 5+5+2 split 2:1 or
    # 1:2), and the two ranks' epoch-0 samples are all 12 training rows
    assert {r for r, _ in counts} == {0, 1}
    assert all(n == m for n, m in counts.values())
    assert counts[(0, 0)][0] + counts[(1, 0)][0] == 12
    model = load_checkpoint(tmp_path / "run")
    assert model.meta["metadata"]["world_size"] == 2
    assert model.meta["config"]["train"]["data"] == "shards"
