"""Run settings out of the run's identity, with the checkpoint's JSON layout unchanged.

``TrainConfig`` holds what defines a run, ``RunSettings`` how this process runs it (device,
workers, log/checkpoint/validation cadence). Checkpoints keep one ``train`` object with both,
in the order written before the split, so old checkpoints load and the audit's
``model.config`` (``model.cfg.to_dict()``) reads byte for byte as before.
"""

from __future__ import annotations

import json

import pytest

from s2f_model import (
    STAGES,
    TRAINING_STAGES,
    ConfigError,
    RunSettings,
    S2FConfig,
    TrainConfig,
    build_model,
    load_model,
    save_checkpoint,
)

#: ``json.dumps(S2FConfig.compact().to_dict()["train"])`` as written by commit 17223a2,
#: before the run settings were separated (copied from that tree's output).
COMPACT_TRAIN_17223A2 = (
    '{"lr": 0.001, "betas": [0.5, 0.999], "eps": 0.0001, "weight_decay": 0.0, "lr_decay": '
    '0.95, "lr_decay_every": 100, "batch_size": 16, "face_steps": 300, "face_side": '
    '"pretrained", "voice_steps": 250, "grad_clip": null, "precision": "fp32", "device": '
    '"cpu", "seed": 0, "num_workers": 0, "log_every": 100, "checkpoint_every": 1000, '
    '"eval_every": 0}'
)
RUN_KEYS = ("device", "num_workers", "log_every", "checkpoint_every", "eval_every")


def test_train_section_is_written_as_before_the_split():
    assert json.dumps(S2FConfig.compact().to_dict()["train"]) == COMPACT_TRAIN_17223A2


def test_run_settings_are_read_from_the_train_object():
    cfg = S2FConfig.compact().replace(
        **{"train.device": "auto", "train.checkpoint_every": 7, "train.eval_every": 3}
    )
    assert cfg.run == RunSettings(device="auto", checkpoint_every=7, eval_every=3)
    assert cfg.train == S2FConfig.compact().train  # the identity part did not move
    assert S2FConfig.from_dict(cfg.to_dict()) == cfg
    assert not {"device", "checkpoint_every"} & {f for f in TrainConfig.__dataclass_fields__}


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("device", "cuda"),
        ("num_workers", 3),
        ("log_every", 1),
        ("checkpoint_every", 0),
        ("eval_every", 5),
    ],
)
def test_identity_leaves_run_settings_out(key, value):
    base = S2FConfig.compact()
    other = base.replace(**{f"train.{key}": value})
    assert other.to_dict() != base.to_dict()  # recorded in the checkpoint ...
    assert other.identity() == base.identity()  # ... but the same run
    assert key not in other.identity()["train"]


def test_identity_keeps_what_changes_the_weights():
    base = S2FConfig.compact()
    for key, value in [
        ("train.lr", 0.01),
        ("train.seed", 1),
        ("train.batch_size", 8),
        ("train.precision", "bf16"),
        ("voice.hidden_dim", 256),
    ]:
        assert base.replace(**{key: value}).identity() != base.identity(), key


def test_old_checkpoint_config_loads_and_is_recorded_unchanged(tmp_path):
    """A config written before the split (run keys inside train) reads back to the same JSON."""
    old = S2FConfig.compact().to_dict()
    old["train"] = json.loads(COMPACT_TRAIN_17223A2)
    old["train"].update(device="auto", log_every=10, checkpoint_every=50)
    cfg = S2FConfig.from_dict(old)
    assert (cfg.run.device, cfg.run.log_every, cfg.run.checkpoint_every) == ("auto", 10, 50)
    assert json.dumps(cfg.to_dict()) == json.dumps(old)
    # load_model: the audit writes model.cfg.to_dict() as model.config
    small = S2FConfig.compact().replace(**{"face.n_identities": 3})
    written = small.to_dict()
    written["train"].update(device="auto", eval_every=4)
    save_checkpoint(tmp_path, build_model(small, seed=0), written, name="model.json")
    model = load_model(tmp_path)
    recorded = json.loads((tmp_path / "model.json").read_text())["config"]
    assert json.dumps(model.cfg.to_dict(), sort_keys=True) == json.dumps(recorded, sort_keys=True)
    assert list(model.cfg.to_dict()["train"]) == list(written["train"])  # same key order


def test_run_settings_are_validated_with_their_train_key():
    with pytest.raises(ConfigError, match=r"train\.checkpoint_every must be >= 0, got -1"):
        S2FConfig.compact().replace(**{"train.checkpoint_every": -1})
    with pytest.raises(ConfigError, match=r"train\.log_every must be an integer, got 2\.5"):
        RunSettings(log_every=2.5)
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['run'\]"):
        S2FConfig.from_dict({**S2FConfig.compact().to_dict(), "run": {}})


def test_stage_objects_follow_the_stage_order():
    assert tuple(s.name for s in TRAINING_STAGES) == STAGES
    face_encoder, face_decoder, voice = TRAINING_STAGES
    assert face_encoder.lr_scale == 0.1 and face_decoder.lr_scale == voice.lr_scale == 1.0
    train = TrainConfig(face_steps=5, voice_steps=7)
    assert [s.n_steps(train, face_reused=False) for s in TRAINING_STAGES] == [5, 5, 7]
    assert [s.n_steps(train, face_reused=True) for s in TRAINING_STAGES] == [0, 0, 7]
    assert [s.validates for s in TRAINING_STAGES] == [False, False, True]
    model = build_model(S2FConfig.compact().replace(**{"face.n_identities": 3}), seed=0)
    parts = [s.trainable(model) for s in TRAINING_STAGES]
    assert parts == [model.face_encoder, model.face_decoder, model.voice_encoder]
