"""Damaged, unfinished and non-finite checkpoints (issue #18, items 2, 3 and 5).

Every case here was a Python traceback or a silent acceptance before the fix: the checkpoint
reader and the config dataclasses now validate types and ranges once, at the boundary, and
name the file and the key; consumers refuse an unfinished run unless told
``allow_unfinished``; non-finite weights are refused at load, naming the tensor.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
import torch
from _tiny_run import make_manifest, tiny_config

from s2f_model import (
    CheckpointError,
    ConfigError,
    FaceConfig,
    S2FConfig,
    TrainingError,
    VoiceConfig,
    build_model,
    load_checkpoint,
    load_model,
    save_checkpoint,
    train,
    train_step,
)


def save_tiny(
    run: Path,
    *,
    stage: str = "done",
    step: int = 0,
    name: str = "model.json",
    metadata: dict | None = None,
) -> Path:
    """Save a tiny model into ``run`` as a finished (or unfinished) checkpoint."""
    cfg = tiny_config()
    model = build_model(cfg, seed=0)
    return save_checkpoint(
        run,
        model,
        cfg.to_dict(),
        stage=stage,
        step=step,
        metadata={"identities": ["a", "b", "c"], **(metadata or {})},
        name=name,
    )


def _edit(path: Path, change) -> None:
    meta = json.loads(path.read_text())
    change(meta)
    path.write_text(json.dumps(meta))


def _set(*keys: str, value):
    def change(meta):
        node = meta
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value

    return change


# ------------------------------------------------------------- damaged checkpoint JSON
DAMAGED = [
    ("metadata-null", _set("metadata", value=None), r"'metadata' must be an object"),
    ("metadata-list", _set("metadata", value=[1, 2]), r"'metadata' must be an object"),
    ("optimizer-string", _set("optimizer", value="adam"), r"'optimizer' must be an object"),
    ("scheduler-list", _set("scheduler", value=[1]), r"'scheduler' must be an object"),
    ("stage-number", _set("stage", value=3), r"'stage' must be one of"),
    ("step-float", _set("step", value=2.5), r"'step' must be an integer >= 0"),
    ("step-negative", _set("step", value=-1), r"'step' must be an integer >= 0"),
    ("config-list", _set("config", value=[1]), r"config must be a mapping"),
    (
        "image-size-float",
        _set("config", "face", "image_size", value=64.0),
        r"face.image_size must be an integer, got 64.0",
    ),
    (
        "hidden-dim-bool",
        _set("config", "voice", "hidden_dim", value=True),
        r"voice.hidden_dim must be an integer, got True",
    ),
    (
        "n-identities-1e12",
        _set("config", "face", "n_identities", value=1e12),
        r"face.n_identities must be an integer, got 1000000000000.0",
    ),
    (
        "n-identities-huge-int",
        _set("config", "face", "n_identities", value=10**12),
        r"face.n_identities must be <= ",
    ),
    (
        "channels-float",
        _set("config", "voice", "channels", value=[4.0] * 9),
        r"voice.channels\[0\] must be an integer",
    ),
    (
        "time-pool-int",
        _set("config", "voice", "time_pool", value=[0] * 9),
        r"voice.time_pool\[0\] must be true or false",
    ),
    (
        "dropout-string",
        _set("config", "face", "dropout", value="0.1"),
        r"face.dropout must be a number",
    ),
    (
        "compression-inf",
        _set("config", "audio", "compression", value=math.inf),
        r"audio.compression must be finite",
    ),
    (
        "identities-not-list",
        _set("metadata", "identities", value="abc"),
        r"metadata.identities must be a list of strings",
    ),
]


@pytest.mark.parametrize(("case", "change", "match"), DAMAGED, ids=[c[0] for c in DAMAGED])
def test_damaged_checkpoint_json_is_a_clear_error_naming_file_and_key(
    tmp_path, case, change, match
):
    path = save_tiny(tmp_path)
    _edit(path, change)
    with pytest.raises(CheckpointError, match=match) as info:
        load_model(tmp_path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    ("key", "value", "match"),
    [
        ("face.image_size", 64.0, r"face.image_size must be an integer, got 64.0"),
        ("voice.hidden_dim", True, r"voice.hidden_dim must be an integer, got True"),
        ("face.n_identities", 10**12, r"face.n_identities must be <= 1000000"),
        ("train.batch_size", 8.5, r"train.batch_size must be an integer"),
        ("train.lr", 1e30, r"train.lr must be in \(0, 1\]"),
        ("train.lr", math.nan, r"train.lr must be finite"),
        ("train.grad_clip", True, r"train.grad_clip must be a number or null"),
        ("voice.pool_first", 1, r"voice.pool_first must be true or false"),
        ("train.precision", 16, r"train.precision must be one of"),
        ("face.image_size", 2**20, r"face.image_size must be <= "),
    ],
)
def test_config_refuses_wrong_types_and_sizes(key, value, match):
    with pytest.raises(ConfigError, match=match):
        tiny_config().replace(**{key: value})


def test_config_dataclasses_check_types_when_built_directly():
    with pytest.raises(ConfigError, match=r"face\.image_size must be an integer"):
        FaceConfig(image_size=64.0)
    with pytest.raises(ConfigError, match=r"voice\.hidden_dim must be an integer"):
        VoiceConfig(hidden_dim=True)


def test_valid_configs_still_load(tmp_path):
    save_tiny(tmp_path)
    model = load_model(tmp_path)
    assert model.cfg == tiny_config()
    assert S2FConfig.from_dict(S2FConfig.paper().to_dict()) == S2FConfig.paper()


# ------------------------------------------------------------------- unfinished runs
def test_unfinished_run_is_refused_unless_allowed(tmp_path):
    save_tiny(tmp_path, stage="face_encoder", step=3, name="checkpoint.json")
    with pytest.raises(
        CheckpointError,
        match=r"unfinished run \(stage 'face_encoder', step 3\)"
        r".*allow_unfinished",
    ):
        load_model(tmp_path)
    model = load_model(tmp_path, allow_unfinished=True)
    assert model.training_info["finished"] is False
    assert model.training_info["stage"] == "face_encoder"
    assert model.training_info["step"] == 3


def test_finished_run_records_stage_step_and_training_data(tmp_path):
    data = {"manifest": "/x/manifest.csv", "sha256": "ab" * 32, "sidecar_sha256": None}
    path = save_tiny(tmp_path, metadata={"training_data": data, "n_train_utterances": 7})
    assert json.loads(path.read_text())["finished"] is True
    info = load_model(tmp_path).training_info
    assert info["finished"] is True and info["stage"] == "done"
    assert info["training_data"]["sha256"] == "ab" * 32
    assert info["n_train_utterances"] == 7


def test_older_checkpoint_without_finished_key_is_judged_by_its_stage(tmp_path):
    path = save_tiny(tmp_path, stage="voice", step=2, name="checkpoint.json")
    _edit(path, lambda meta: meta.pop("finished"))
    with pytest.raises(CheckpointError, match="unfinished run"):
        load_model(tmp_path)
    _edit(path, _set("finished", value=True))  # contradicts the stage
    with pytest.raises(CheckpointError, match="'finished' is true but 'stage' is 'voice'"):
        load_checkpoint(path)


# ---------------------------------------------------------------- non-finite weights
@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_non_finite_weights_are_refused_naming_the_tensor(tmp_path, bad):
    cfg = tiny_config()
    model = build_model(cfg, seed=0)
    with torch.no_grad():
        model.face_decoder.landmark_mlp[0].weight[0, 0] = bad
    save_checkpoint(tmp_path, model, cfg.to_dict(), name="model.json")
    with pytest.raises(
        CheckpointError,
        match=r"non-finite values in tensor "
        r"'model.face_decoder.landmark_mlp.0.weight'",
    ):
        load_model(tmp_path)


# ------------------------------------------------------------ the same via the CLI
@pytest.mark.parametrize(
    ("flags", "match"),
    [
        (["--lr", "1e30"], r"train.lr must be in \(0, 1\], got 1e\+30"),
        (["--set", "face.image_size=64.0"], r"face.image_size must be an integer, got 64.0"),
        (["--set", "voice.hidden_dim=true"], r"voice.hidden_dim must be an integer, got True"),
        (["--set", "face.n_identities=1e12"], r"face.n_identities must be an integer"),
    ],
)
def test_train_refuses_bad_settings_with_exit_2_before_any_work(tmp_path, capsys, flags, match):
    from s2f_cli import main

    code = main(
        ["train", "--manifest", str(tmp_path / "none.csv"), "--out", str(tmp_path / "run"), *flags]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert re.search(match, err), err
    assert "Traceback" not in err and not (tmp_path / "run").exists()


def test_predict_with_nan_weights_exits_2_naming_the_tensor(tmp_path, capsys):
    import numpy as np
    import soundfile as sf

    from s2f_cli import main

    cfg = tiny_config()
    model = build_model(cfg, seed=0)
    with torch.no_grad():
        model.voice_encoder.fc2.weight.fill_(math.nan)
    save_checkpoint(tmp_path / "run", model, cfg.to_dict(), name="model.json")
    sf.write(tmp_path / "v.wav", np.zeros(16000, dtype=np.float32) + 0.1, 16000)
    code = main(
        [
            "predict",
            "--checkpoint",
            str(tmp_path / "run"),
            str(tmp_path / "v.wav"),
            "-o",
            str(tmp_path / "face.png"),
        ]
    )
    assert code == 2
    assert "non-finite values in tensor 'model.voice_encoder.fc2.weight'" in capsys.readouterr().err
    assert not (tmp_path / "face.png").exists()


def test_non_finite_loss_stops_training_with_a_clear_error():
    class Diverged(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.ones(1))

        def forward(self, x):
            return (self.w * x).sum(), {}

    module = Diverged()
    optimizer = torch.optim.Adam(module.parameters(), lr=1e-3)
    with pytest.raises(TrainingError, match=r"loss became inf; lower train\.lr"):
        train_step(module, optimizer, (torch.tensor([math.inf]),))
    assert torch.equal(module.w.detach(), torch.ones(1))  # no step was taken


def test_face_from_an_unfinished_run_is_refused(tmp_path):
    manifest = make_manifest(tmp_path / "data", split=lambda s: "train")
    save_tiny(tmp_path / "face", stage="face_decoder", step=2, name="checkpoint.json")
    with pytest.raises(
        CheckpointError,
        match=r"the face side of this run is unfinished "
        r"\(stage 'face_decoder', step 2\)",
    ):
        train(
            tiny_config(), manifest, tmp_path / "run", progress=False, face_from=tmp_path / "face"
        )
