from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from s2f_model._checkpoint import load_checkpoint, load_model
from s2f_model._train import (
    TrainingError,
    augment_faces,
    derive_seed,
    manifest_identity,
    train,
)

REPO = Path(__file__).resolve().parents[2]  # the repository root, for subprocesses


def weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def assert_same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


@pytest.fixture(scope="module")
def reference_run(tiny_manifest, tmp_path_factory, tiny_config):
    """One uninterrupted run, shared by the tests that compare against it."""
    out = tmp_path_factory.mktemp("ref") / "run"
    result = train(tiny_config(), tiny_manifest, out, progress=False)
    return result, out


def test_training_writes_model_and_losses(reference_run, tiny_manifest):
    result, out = reference_run
    assert result.finished
    assert [len(result.losses[s]) for s in ("face_encoder", "face_decoder", "voice")] == [4, 4, 6]
    meta = json.loads((out / "model.json").read_text())
    assert meta["stage"] == "done"
    assert meta["metadata"]["identities"] == ["spk00", "spk01", "spk02", "spk03"]
    assert meta["config"]["face"]["n_identities"] == 4  # fc8 = training speakers
    assert meta["metadata"]["training_data"] == manifest_identity(tiny_manifest)
    assert set(result.evaluation) >= {
        "loss",
        "decoder_l1",
        "normalized_l2",
        "distillation",
        "cosine",
        "n",
    }
    assert result.evaluation["n"] == 3.0  # the val speaker's utterances
    model = load_model(out)
    assert not model.training
    assert model.identities == meta["metadata"]["identities"]
    assert_same(weights(model), weights(result.model))
    # the decoder's mean face was set from the training landmarks
    from s2f_model._data import load_voice_face_data

    data = load_voice_face_data(
        tiny_manifest, "train", sample_rate=16000, clip_samples=10, image_size=8
    )
    expected = data.faces.landmarks.mean(dim=0)
    torch.testing.assert_close(model.face_decoder.mean_face, expected)


def test_same_seed_same_weights_different_seed_different(
    reference_run, tiny_manifest, tmp_path, tiny_config
):
    result, _ = reference_run
    again = train(tiny_config(), tiny_manifest, tmp_path / "again", progress=False)
    assert_same(weights(again.model), weights(result.model))
    other = train(tiny_config(seed=1), tiny_manifest, tmp_path / "other", progress=False)
    a, b = weights(result.model), weights(other.model)
    differing = [k for k in a if a[k].is_floating_point() and not torch.equal(a[k], b[k])]
    assert "voice_encoder.fc2.weight" in differing
    assert any(k.startswith("face_encoder.") for k in differing)


@pytest.mark.parametrize("stop_after", [2, 6, 11])  # inside face_encoder / decoder / voice
def test_interrupted_and_resumed_run_matches(
    reference_run, tiny_manifest, tmp_path, stop_after, tiny_config
):
    result, _ = reference_run
    out = tmp_path / "run"
    first = train(tiny_config(), tiny_manifest, out, progress=False, stop_after=stop_after)
    assert not first.finished
    assert sum(len(v) for v in first.losses.values()) == stop_after
    ckpt = load_checkpoint(out, prefer="checkpoint.json")
    assert ckpt.meta["stage"] != "done" and ckpt.optimizer_state is not None
    resumed = train(tiny_config(), tiny_manifest, out, resume=True, progress=False)
    assert resumed.finished
    assert sum(len(v) for v in resumed.losses.values()) == 14 - stop_after
    # the losses of the resumed steps equal the uninterrupted run's
    tail = [x for s in ("face_encoder", "face_decoder", "voice") for x in result.losses[s]]
    got = [x for s in ("face_encoder", "face_decoder", "voice") for x in resumed.losses.get(s, [])]
    assert got == tail[stop_after:]
    assert_same(weights(resumed.model), weights(result.model))


def test_periodic_checkpoints_resume_exactly(reference_run, tiny_manifest, tmp_path, tiny_config):
    result, _ = reference_run
    cfg = tiny_config(**{"train.checkpoint_every": 3})
    out = tmp_path / "run"
    train(cfg, tiny_manifest, out, progress=False, stop_after=13)
    meta = json.loads((out / "checkpoint.json").read_text())
    assert (meta["stage"], meta["step"]) == ("voice", 5)
    assert len(list(out.glob("checkpoint-*.safetensors"))) == 1  # old tensor files removed
    resumed = train(cfg, tiny_manifest, out, resume=True, progress=False)
    assert_same(weights(resumed.model), weights(result.model))


def test_resume_may_change_the_run_settings(reference_run, tiny_manifest, tmp_path, tiny_config):
    """Device, log, checkpoint and validation cadence are run settings, not the run's
    identity: a resumed run may change them and still ends with the same weights."""
    result, _ = reference_run
    out = tmp_path / "run"
    train(
        tiny_config(**{"train.checkpoint_every": 3}),
        tiny_manifest,
        out,
        progress=False,
        stop_after=13,
    )
    other = tiny_config(
        **{
            "train.checkpoint_every": 0,
            "train.log_every": 1,
            "train.eval_every": 2,
            "train.device": "cpu",
        }
    )
    resumed = train(other, tiny_manifest, out, resume=True, progress=False)
    assert_same(weights(resumed.model), weights(result.model))
    # the final checkpoint records the settings this call ran with
    saved = json.loads((out / "model.json").read_text())["config"]["train"]
    assert (saved["checkpoint_every"], saved["log_every"], saved["eval_every"]) == (0, 1, 2)


def test_refuses_to_overwrite_or_resume_with_other_data(
    reference_run, manifest_factory, tiny_manifest, tmp_path, tiny_config
):
    _, out = reference_run
    with pytest.raises(TrainingError, match="already holds a training checkpoint; pass resume"):
        train(tiny_config(), tiny_manifest, out, progress=False)
    other = manifest_factory(n_speakers=5)
    with pytest.raises(TrainingError, match="resume with the same manifest"):
        train(tiny_config(), other, out, resume=True, progress=False)
    with pytest.raises(TrainingError, match="made with another configuration"):
        train(tiny_config(**{"train.lr": 0.5}), tiny_manifest, out, resume=True, progress=False)


def test_resume_of_finished_run_changes_nothing(
    reference_run, tiny_manifest, tmp_path, tiny_config
):
    import shutil

    result, out = reference_run
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    again = train(tiny_config(), tiny_manifest, copy, resume=True, progress=False)
    assert sum(len(v) for v in again.losses.values()) == 0
    assert_same(weights(again.model), weights(result.model))


def test_augment_faces_shifts_and_scales_without_flips():
    images = torch.rand(6, 3, 16, 16)
    gen = torch.Generator().manual_seed(0)
    out = augment_faces(images, gen, max_shift=0.125, brightness=0.0)
    assert out.shape == images.shape
    # with brightness off each output is a shifted copy: some shift in [-2, 2]^2 matches
    for i in range(6):
        centre = out[i, :, 2:-2, 2:-2]
        matches = [
            (dy, dx)
            for dy in range(-2, 3)
            for dx in range(-2, 3)
            if torch.equal(centre, images[i, :, 2 + dy : 14 + dy, 2 + dx : 14 + dx])
        ]
        assert matches, i
    again = augment_faces(images, torch.Generator().manual_seed(0), max_shift=0.125, brightness=0.0)
    assert torch.equal(out, again)
    bright = augment_faces(
        torch.full((50, 3, 4, 4), 0.5), torch.Generator().manual_seed(1), brightness=0.2
    )
    factors = bright[:, 0, 0, 0] / 0.5
    assert factors.min() >= 0.8 - 1e-6 and factors.max() <= 1.2 + 1e-6
    assert factors.std() > 0.05
    with pytest.raises(ValueError, match=r"expected \(batch, 3, H, W\) images, got shape"):
        augment_faces(torch.rand(3, 4, 4), gen)


def test_derive_seed_separates_contexts():
    seeds = {derive_seed(0, "voice", "step", k) for k in range(100)}
    assert len(seeds) == 100
    assert derive_seed(0, "voice") != derive_seed(1, "voice")
    assert derive_seed(3, "a", 1) == derive_seed(3, "a", 1)
    assert all(0 <= s < 2**63 for s in seeds)


def test_bf16_autocast_runs(tiny_manifest, tmp_path, tiny_config):
    cfg = tiny_config(**{"train.precision": "bf16", "train.face_steps": 1, "train.voice_steps": 2})
    result = train(cfg, tiny_manifest, tmp_path / "bf16", progress=False)
    assert all(torch.isfinite(torch.tensor(v)).all() for v in result.losses.values())
    assert all(p.dtype == torch.float32 for p in result.model.parameters())


_KILL_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from s2f_model import S2FConfig
    from s2f_model._train import train
    cfg = S2FConfig.compact().replace(**json.loads(sys.argv[3]))
    train(cfg, sys.argv[1], sys.argv[2], resume=True, progress=False)
    """
)


@pytest.mark.slow
def test_sigkill_mid_run_then_resume(tiny_manifest, tmp_path, tiny_overrides):
    script = tmp_path / "run.py"
    script.write_text(_KILL_SCRIPT)
    overrides = json.dumps({**tiny_overrides, "train.voice_steps": 80, "train.checkpoint_every": 5})
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    out = tmp_path / "run"
    args = [sys.executable, str(script), str(tiny_manifest)]
    proc = subprocess.Popen([*args, str(out), overrides], env=env)
    deadline = time.time() + 120
    meta_path = out / "checkpoint.json"
    while time.time() < deadline:  # wait for a mid-voice-stage checkpoint, then kill
        if meta_path.is_file():
            meta = json.loads(meta_path.read_text())
            if meta["stage"] == "voice" and meta["step"] >= 10:
                break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    meta = json.loads(meta_path.read_text())
    assert meta["stage"] == "voice" and 10 <= meta["step"] < 80
    assert not (out / "model.json").exists()
    subprocess.run([*args, str(out), overrides], env=env, check=True)
    ref = tmp_path / "ref"
    subprocess.run([*args, str(ref), overrides], env=env, check=True)
    assert_same(load_checkpoint(out).model_state, load_checkpoint(ref).model_state)


def test_cli_train_then_resume(tiny_manifest, tmp_path, capsys, tiny_overrides):
    from s2f_cli import main

    sets = [
        arg
        for key, value in tiny_overrides.items()
        if not key.startswith("train.")
        for arg in ("--set", f"{key}={json.dumps(value)}")
    ]
    out = tmp_path / "run"
    argv = [
        "train",
        "--manifest",
        str(tiny_manifest),
        "--out",
        str(out),
        "--steps",
        "2",
        "--voice-steps",
        "3",
        "--batch-size",
        "4",
        "--seed",
        "7",
        "--quiet",
        *sets,
        "--set",
        'train.face_side="train"',
    ]  # 32 px faces: not the shipped face side
    assert main(argv) == 0
    assert f"model written to {out / 'model.json'}" in capsys.readouterr().out
    meta = json.loads((out / "model.json").read_text())
    assert meta["config"]["train"]["seed"] == 7
    assert (meta["config"]["train"]["face_steps"], meta["config"]["train"]["voice_steps"]) == (2, 3)
    assert meta["config"]["face"]["image_size"] == 32
    assert main(argv) == 2  # the folder holds a checkpoint and --resume is missing
    assert "pass resume=True (--resume)" in capsys.readouterr().err
    assert main([*argv, "--resume"]) == 0
    assert (
        main(
            [
                "train",
                "--manifest",
                str(tiny_manifest),
                "--out",
                str(tmp_path / "x"),
                "--set",
                "face.nonsense=1",
                "--quiet",
            ]
        )
        == 2
    )
    assert "unknown config key 'face.nonsense'" in capsys.readouterr().err


def test_face_side_reused_from_another_run(reference_run, manifest_factory, tmp_path, tiny_config):
    result, ref_dir = reference_run
    other = manifest_factory(n_speakers=5, seed=3)  # other speakers: 3 train identities
    reused = train(tiny_config(seed=2), other, tmp_path / "b", progress=False, face_from=ref_dir)
    assert {k for k, v in reused.losses.items() if v} == {"voice"}
    assert len(reused.losses["voice"]) == 6
    a, b = weights(result.model), weights(reused.model)
    face_keys = [k for k in a if k.startswith(("face_encoder.", "face_decoder."))]
    assert face_keys
    for key in face_keys:
        assert torch.equal(a[key], b[key]), key
    assert not torch.equal(a["voice_encoder.fc2.weight"], b["voice_encoder.fc2.weight"])
    meta = json.loads((tmp_path / "b" / "model.json").read_text())
    assert meta["metadata"]["identities"] == ["spk00", "spk01", "spk02", "spk03"]
    assert meta["metadata"]["face_from"]["checkpoint"] == str(ref_dir / "model.json")
    with pytest.raises(TrainingError, match="its face settings differ from this run's"):
        train(
            tiny_config(**{"face.dropout": 0.3}),
            other,
            tmp_path / "c",
            progress=False,
            face_from=ref_dir,
        )


def test_periodic_validation_keeps_resume_exact(
    reference_run, tiny_manifest, tmp_path, tiny_config
):
    result, _ = reference_run
    cfg = tiny_config(**{"train.eval_every": 2})
    run = train(cfg, tiny_manifest, tmp_path / "a", progress=False)
    assert [h["step"] for h in run.eval_history] == [2, 4]
    assert all(h["n"] == 3.0 and h["loss"] > 0 for h in run.eval_history)
    assert_same(weights(run.model), weights(result.model))  # evaluation changes nothing


def test_init_face_encoder_keeps_features_alive(tiny_config):
    from s2f_model._model import build_model
    from s2f_model._train import init_face_encoder

    cfg = tiny_config(**{"face.dropout": 0.0})
    images = torch.rand(8, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    model = build_model(cfg, seed=0).eval()
    with torch.no_grad():
        default = model.encode_face(images).std(dim=0).mean()
        init_face_encoder(model, seed=1)
        ours = model.encode_face(images).std(dim=0).mean()
    assert ours > 100 * default  # features that differ between faces, not a constant
    again = build_model(cfg, seed=0)
    init_face_encoder(again, seed=1)
    assert torch.equal(again.face_encoder.conv1_1.weight, model.face_encoder.conv1_1.weight)
    state = torch.get_rng_state()
    init_face_encoder(again, seed=2)
    assert torch.equal(torch.get_rng_state(), state)  # the global RNG is untouched


STANDARDIZED = {
    "loss.objective": "standardized",
    "voice.standardize_output": True,
    "loss.aux_targets": ["gender", "face_size"],
    "voice.pooling": "mean_std",
}


def test_standardized_objective_trains_heads_and_stores_target_stats(
    reference_run, tiny_manifest, tmp_path, tiny_config
):
    from s2f_model._data import load_voice_face_data
    from s2f_model._voice_targets import target_stats

    _, face_run = reference_run
    cfg = tiny_config(**STANDARDIZED)
    out = tmp_path / "std"
    result = train(cfg, tiny_manifest, out, progress=False, face_from=face_run)
    meta = json.loads((out / "model.json").read_text())
    # gender has two labels in the training rows; the tiny manifest has no face_size column
    assert meta["config"]["voice"]["aux_classes"] == [2, 0]
    assert meta["metadata"]["aux_vocabularies"] == {"gender": ["female", "male"], "face_size": None}
    assert len(result.losses["voice"]) == 6 and all(map(math.isfinite, result.losses["voice"]))
    model = load_model(out)
    data = load_voice_face_data(
        tiny_manifest, "train", sample_rate=16000, clip_samples=10, image_size=cfg.face.image_size
    )
    with torch.no_grad():
        feats = model.encode_face(data.faces.batch(torch.arange(len(data.faces)))["image"])
    mean, std = target_stats(feats[data.face_index])  # one row per training utterance
    enc = model.voice_encoder
    torch.testing.assert_close(enc.target_mean, mean)
    torch.testing.assert_close(enc.target_std, std)
    # the stats are the training features' (independent NumPy computation)
    x = feats[data.face_index].double().numpy()
    np.testing.assert_allclose(enc.target_mean.numpy(), x.mean(0), rtol=1e-5, atol=1e-6)
    # stopped inside the voice stage and resumed: the same weights as the straight run
    part = tmp_path / "part"
    train(cfg, tiny_manifest, part, progress=False, face_from=face_run, stop_after=3)
    resumed = train(cfg, tiny_manifest, part, resume=True, progress=False, face_from=face_run)
    assert_same(weights(resumed.model), weights(result.model))
