from __future__ import annotations

import json
import pickle
import zipfile

import pytest
import torch

from s2f_model._checkpoint import (
    CheckpointError,
    ResumeState,
    find_checkpoint,
    load_checkpoint,
    load_model,
    save_checkpoint,
)


def _net_and_optimizer(seed: int = 0):
    gen = torch.Generator().manual_seed(seed)
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.BatchNorm1d(8), torch.nn.Linear(8, 2))
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=gen))
    opt = torch.optim.Adam(net.parameters(), lr=1e-2, betas=(0.5, 0.999), eps=1e-4)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.95)
    for _ in range(3):
        opt.zero_grad()
        net(torch.randn(5, 4, generator=gen)).square().mean().backward()
        opt.step()
        sched.step()
    return net, opt, sched


def test_round_trip_restores_model_optimizer_scheduler_rng(tmp_path):
    net, opt, sched = _net_and_optimizer()
    rng = torch.get_rng_state()
    path = save_checkpoint(
        tmp_path,
        net,
        {"name": "x"},
        state=ResumeState(optimizer=opt, scheduler=sched, rng_states={"torch": rng}),
        stage="voice",
        step=3,
        metadata={"identities": ["a", "b"]},
    )
    assert path.name == "checkpoint.json"
    meta = json.loads(path.read_text())
    assert meta["stage"] == "voice" and meta["step"] == 3 and meta["config"] == {"name": "x"}
    ckpt = load_checkpoint(tmp_path, prefer="checkpoint.json")
    assert ckpt.meta["metadata"]["identities"] == ["a", "b"]
    for key, value in net.state_dict().items():
        assert torch.equal(ckpt.model_state[key], value), key
    assert ckpt.rng_states["torch"].dtype == torch.uint8
    assert torch.equal(ckpt.rng_states["torch"], rng)

    # a fresh model/optimizer/scheduler restored from the file continues identically
    net2, opt2, sched2 = _net_and_optimizer(seed=1)
    net2.load_state_dict(ckpt.model_state)
    opt2.load_state_dict(ckpt.optimizer_state)
    sched2.load_state_dict(ckpt.meta["scheduler"])
    x = torch.randn(5, 4, generator=torch.Generator().manual_seed(9))
    for model, optim, sch in ((net, opt, sched), (net2, opt2, sched2)):
        optim.zero_grad()
        model(x).square().mean().backward()
        optim.step()
        sch.step()
    for a, b in zip(net.parameters(), net2.parameters(), strict=True):
        assert torch.equal(a, b)
    assert sched.get_last_lr() == sched2.get_last_lr()


def test_ddp_style_wrapper_is_unwrapped(tmp_path):
    net, _, _ = _net_and_optimizer()

    class Wrapper(torch.nn.Module):
        def __init__(self, module):
            super().__init__()
            self.module = module

    save_checkpoint(tmp_path, Wrapper(net), {})
    keys = set(load_checkpoint(tmp_path / "checkpoint.json").model_state)
    assert keys == set(net.state_dict())  # no "module." prefix


def test_old_tensor_files_are_removed_and_damage_is_detected(tmp_path):
    net, _, _ = _net_and_optimizer()
    save_checkpoint(tmp_path, net, {}, stage="face_encoder", step=1)
    save_checkpoint(tmp_path, net, {}, stage="face_encoder", step=2)
    files = sorted(p.name for p in tmp_path.glob("*.safetensors"))
    assert files == ["checkpoint-face_encoder-00000002.safetensors"]
    tensor_file = tmp_path / files[0]
    assert find_checkpoint(tensor_file) == tmp_path / "checkpoint.json"
    data = bytearray(tensor_file.read_bytes())
    data[-1] ^= 0xFF
    tensor_file.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"differs from .* recorded in checkpoint\.json"):
        load_checkpoint(tmp_path)


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


@pytest.mark.parametrize("suffix", [".pt", ".pth", ".pkl", ".safetensors", ".json", ""])
def test_pickle_payload_is_refused_and_never_runs(tmp_path, suffix):
    marker = tmp_path / "pwned"
    bad = tmp_path / f"model{suffix}"
    bad.write_bytes(pickle.dumps(_Payload(marker)))
    assert not marker.exists()
    with pytest.raises(CheckpointError, match=r"(refusing|pickle)"):
        load_checkpoint(bad)
    with pytest.raises(CheckpointError, match=r"(refusing|pickle)"):
        load_model(bad)
    assert not marker.exists()


def test_torch_save_archive_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "weights.safetensors"
    torch.save({"w": torch.zeros(2), "evil": _Payload(marker)}, path)
    assert zipfile.is_zipfile(path)
    with pytest.raises(CheckpointError, match=r"pickle or torch\.save archive"):
        load_model(path)
    assert not marker.exists()


def test_missing_and_foreign_checkpoints(tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint in this folder"):
        load_checkpoint(tmp_path)
    with pytest.raises(CheckpointError, match="checkpoint not found"):
        load_checkpoint(tmp_path / "nope.json")
    (tmp_path / "model.json").write_text('{"format": "something-else"}')
    with pytest.raises(CheckpointError, match="not an s2f-audit checkpoint"):
        load_checkpoint(tmp_path)
    (tmp_path / "model.json").write_text(
        '{"format": "s2f-audit-checkpoint", "version": 99, "tensors": "x.safetensors"}'
    )
    with pytest.raises(CheckpointError, match="checkpoint version 99; this s2f-audit reads"):
        load_checkpoint(tmp_path)
    (tmp_path / "model.json").write_text(
        '{"format": "s2f-audit-checkpoint", "version": 1, "tensors": "../x.safetensors"}'
    )
    with pytest.raises(CheckpointError, match="bad tensor file name"):
        load_checkpoint(tmp_path)


@pytest.mark.parametrize("name", [123, None, ["x.safetensors"], ""])
def test_tensor_file_name_that_is_not_a_string_is_refused(tmp_path, name):
    doc = {"format": "s2f-audit-checkpoint", "version": 1, "tensors": name}
    (tmp_path / "model.json").write_text(json.dumps(doc))
    with pytest.raises(CheckpointError, match=r"model\.json: bad tensor file name"):
        load_checkpoint(tmp_path)
