"""The pretrained compact face side: rendered data, bit-for-bit regeneration, shipped file."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from s2f_cli.commands.face_side import command_line as face_side_command
from s2f_model import (
    S2FConfig,
    TrainingError,
    WeightImportError,
    build_model,
    decoder_losses,
    images_to_uint8,
    load_face_side,
    load_face_side_model,
    shipped_card_path,
    shipped_weights_path,
    train,
    write_face_side_run,
)
from s2f_model._face_side import (
    FaceSideSettings,
    _encoder_loss,
    _Heads,
    _init_config,
    _shrink,
    face_features,
    pretrain_face_side,
)
from s2f_model._face_side_data import CANONICAL_SCENE, PERSON_TARGETS, render_face_set


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_render_face_set_pairs_share_the_person_not_the_scene():
    s = render_face_set(4, seed=3, image_size=64)
    assert s.images.shape == (4, 2, 64, 64, 3) and s.images.dtype == np.uint8
    assert s.targets.shape == (4, len(PERSON_TARGETS))
    assert not np.array_equal(s.background[:, 0], s.background[:, 1])
    # the corner pixel is background: it follows the scene's background colour
    corner = s.images[:, :, 1, 1].astype(float) / 255
    assert np.abs(corner - s.background).max() < 0.25
    # hair-style one-hot: exactly one style per person
    np.testing.assert_array_equal(s.targets[:, -6:].sum(1), 1.0)
    again = render_face_set(4, seed=3, image_size=64)
    np.testing.assert_array_equal(s.images, again.images)
    assert not np.array_equal(render_face_set(4, seed=4).images, s.images)


def test_shipped_weights_match_their_card():
    path, card = shipped_weights_path(), json.loads(shipped_card_path().read_text())
    assert path.stat().st_size < 25 * 2**20
    assert card["sha256"] == _sha(path)
    assert card["config"]["face"] == S2FConfig.compact().to_dict()["face"]
    for key in ("settings", "cpu_seconds", "measured", "command"):
        assert key in card, key


def test_shipped_card_settings_are_the_defaults():
    """The documented command (the defaults) is the one that wrote the shipped weights."""
    card = json.loads(shipped_card_path().read_text())
    assert card["settings"] == dataclasses.asdict(FaceSideSettings())
    assert card["command"] == face_side_command(FaceSideSettings())
    choice = card["decoder_choice"]
    assert choice["candidates"] == FaceSideSettings().decoder_candidates == len(choice["scores"])
    assert choice["scores"][choice["chosen"]] == max(choice["scores"])


def test_face_side_is_built_beside_the_voice_encoder_it_was_shipped_with():
    """The decoder's initial weights are drawn after the voice encoder's (``build_model``):
    the shipped face side regenerates only if the voice parameters drawn first keep their
    shapes. These are the compact voice encoder's without the input-statistics branch
    (1,174,448 parameters in 40 tensors, docs/model.md); a change to the compact voice
    layers must bump the face side instead of silently breaking its regeneration.
    """
    cfg = _init_config(S2FConfig.compact())
    assert S2FConfig.compact().voice.input_stats and not cfg.voice.input_stats
    assert cfg.face == S2FConfig.compact().face and cfg.decoder == S2FConfig.compact().decoder
    with torch.device("meta"):
        voice = build_model(cfg, seed=0).voice_encoder
    shapes = [tuple(p.shape) for p in voice.parameters()]
    assert sum(int(np.prod(s)) for s in shapes) == 1_174_448
    assert len(shapes) == 40
    assert shapes[-2:] == [(256, 512), (256,)]


def test_canonical_renders_add_a_fixed_scene_and_draw_nothing():
    plain = render_face_set(6, seed=3, image_size=64)
    s = render_face_set(6, seed=3, image_size=64, canonical=True)
    assert plain.canonical is None and s.canonical.shape == (6, 64, 64, 3)
    np.testing.assert_array_equal(s.images, plain.images)  # the two scenes are unchanged
    np.testing.assert_array_equal(s.targets, plain.targets)
    # every canonical corner is the canonical background (1/255 rounding, bilinear shrink
    # of a flat area: exact up to one level)
    expected = np.round(np.array(CANONICAL_SCENE["background_rgb"]) * 255)
    assert np.abs(s.canonical[:, 1, 1].astype(float) - expected).max() <= 1.0
    assert np.abs(s.images[:, :, 1, 1].astype(float) - expected).max() > 10  # random scenes
    # the person is the same: the face centre matches one of its scenes far better than
    # another person's canonical render does
    canon = s.canonical[:, 24:40, 24:40].astype(float)
    scene = s.images[:, 0, 24:40, 24:40].astype(float)
    own = np.abs(canon - scene).mean((1, 2, 3))
    other = np.abs(canon[::-1] - scene).mean((1, 2, 3))
    assert (own < other).all()


def test_face_size_weight_adds_the_weighted_face_size_error():
    data = render_face_set(4, seed=5, image_size=64)
    model = build_model(S2FConfig.compact(), seed=0).eval()
    targets = torch.from_numpy(data.targets)
    mean, std = targets.mean(0), targets.std(0).clamp_min(1e-6)
    torch.manual_seed(1)
    heads = _Heads(model.cfg.face.feature_dim, len(PERSON_TARGETS))
    idx = np.arange(4)
    with torch.no_grad():
        t0, p0 = _encoder_loss(model, heads, data, idx, mean, std, FaceSideSettings())
        s = FaceSideSettings(face_size_weight=FaceSideSettings().face_size_weight + 2.5)
        t1, _ = _encoder_loss(model, heads, data, idx, mean, std, s)
        # independent: squared error of the face-size column (PERSON_TARGETS[0]) by hand
        pred = heads.targets(face_features_tensor(model, data))[:, 0]
    assert PERSON_TARGETS[0] == "face_size"
    expected = ((pred - (targets[np.repeat(idx, 2), 0] - mean[0]) / std[0]) ** 2).mean()
    assert p0["face_size"] == pytest.approx(float(expected), rel=1e-5)
    assert float(t1 - t0) == pytest.approx(2.5 * p0["face_size"], rel=1e-5)


def test_shrink_moves_rows_towards_the_centre_by_a_factor_in_range():
    feats = torch.randn(500, 6, generator=torch.Generator().manual_seed(0))
    centre = torch.arange(6, dtype=torch.float32)
    gen = torch.Generator().manual_seed(1)
    out = _shrink(feats, centre, 0.3, gen)
    # each row is centre + a * (row - centre): recover a per row by least squares
    d = feats - centre
    a = ((out - centre) * d).sum(1) / (d * d).sum(1)
    torch.testing.assert_close(out, centre + a[:, None] * d, rtol=0, atol=1e-5)
    assert a.min() >= 0.3 - 1e-6 and a.max() <= 1 + 1e-6
    assert a.min() < 0.35 and a.max() > 0.95  # uniform over the range, not one factor
    state = gen.get_state()
    assert _shrink(feats, centre, 1.0, gen) is feats  # off: as is, and nothing drawn
    assert torch.equal(gen.get_state(), state)


def test_settings_refuse_a_shrink_outside_0_1():
    with pytest.raises(ValueError, match=r"decoder_shrink must be in \[0, 1\], got 1.5"):
        FaceSideSettings(decoder_shrink=1.5)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("encoder_lr", float("nan"), "encoder_lr must be a number > 0, got nan"),
        ("decoder_lr", 0.0, "decoder_lr must be a number > 0, got 0.0"),
        ("texture_weight", float("inf"), "texture_weight must be a number >= 0, got inf"),
        ("ethnicity_weight", -1.0, "ethnicity_weight must be a number >= 0, got -1.0"),
    ],
)
def test_settings_refuse_rates_and_weights_that_are_no_numbers(field, value, message):
    """NaN reached torch, which refused it without naming the setting."""
    with pytest.raises(ValueError, match=message):
        FaceSideSettings(**{field: value})


def test_settings_refuse_an_unknown_texture_target():
    with pytest.raises(ValueError, match="texture_target must be 'texture' or 'image', got 'pix'"):
        FaceSideSettings(texture_target="pix")  # type: ignore[arg-type]


@pytest.mark.parametrize("target", ["texture", "image"])
def test_texture_target_chooses_what_the_decoder_l1_compares(monkeypatch, target):
    """The logged L1 term is the decoded texture's or the decoded image's distance."""
    import s2f_model._face_side as face_side

    seen = []

    def spy(output, images, landmarks, face_encoder=None, **kw):
        out = decoder_losses(output, images, landmarks, face_encoder, **kw)
        other = output.image if kw["texture_target"] == "image" else output.texture
        seen.append((kw["texture_target"], float(out.texture.detach()), other.detach(), images))
        return out

    monkeypatch.setattr(face_side, "decoder_losses", spy)
    settings = FaceSideSettings(
        n_persons=4,
        encoder_steps=1,
        decoder_steps=2,
        batch_size=2,
        decoder_candidates=1,
        texture_target=target,
    )
    r = pretrain_face_side(settings)
    assert [s[0] for s in seen] == [target, target]
    assert r.losses["decoder_texture"] == [s[1] for s in seen]
    if target == "image":  # independent: the mean absolute pixel error of the decoded image
        _, logged, image, truth = seen[0]
        assert logged == pytest.approx(float((image - truth).abs().mean()), rel=1e-6)


def test_decoder_target_canonical_draws_the_person_in_the_canonical_scene(monkeypatch):
    import s2f_model._face_side as face_side

    data = render_face_set(4, seed=6, image_size=64, canonical=True)
    seen = []

    def spy(output, images, landmarks, face_encoder=None, **kw):
        seen.append(images)
        return decoder_losses(output, images, landmarks, face_encoder, **kw)

    monkeypatch.setattr(face_side, "decoder_losses", spy)
    kw = {"n_persons": 4, "encoder_steps": 1, "decoder_steps": 2, "batch_size": 3}
    settings = FaceSideSettings(**kw, decoder_candidates=1, decoder_target="canonical")
    pretrain_face_side(settings, data=data)
    canonical = torch.from_numpy(data.canonical).permute(0, 3, 1, 2).float() / 255
    for images in seen:  # each target image is one of the persons' canonical renders
        dist = (images[:, None] - canonical[None]).abs().amax((2, 3, 4))
        assert (dist.amin(1) == 0).all()
    plain = render_face_set(4, seed=6, image_size=64)
    with pytest.raises(ValueError, match=r"render_face_set\(\.\.\., canonical=True\)"):
        pretrain_face_side(settings, data=plain)
    with pytest.raises(ValueError, match="decoder_target must be 'scene' or 'canonical'"):
        FaceSideSettings(decoder_target="studio")  # type: ignore[arg-type]


def face_features_tensor(model, data):
    """fc7 of both scenes of every person, person-major: ``(2N, D)``."""
    images = torch.from_numpy(data.images.reshape(-1, *data.images.shape[2:]))
    return model.face_encoder.features(images.permute(0, 3, 1, 2).float() / 255.0)


def test_load_refuses_a_changed_file_or_other_settings(tmp_path):
    folder = tmp_path / "w"
    shutil.copytree(shipped_weights_path().parent, folder)
    with pytest.raises(WeightImportError, match="face/decoder settings"):
        load_face_side(build_model(S2FConfig.compact().replace(**{"face.dropout": 0.2})), folder)
    weights = folder / "compact_face_side.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    with pytest.raises(WeightImportError, match="differs from the model card"):
        load_face_side(build_model(S2FConfig.compact()), folder)


@pytest.fixture(scope="module")
def held_out():
    """Held-out rendered persons (a seed pretraining never used) and the shipped model."""
    return render_face_set(120, seed=2024), load_face_side_model()


def test_upper_bound_reconstructions_are_closest_to_their_own_face(held_out):
    """Issue 14: true face -> encoder -> decoder is nearer its own face than to others."""
    data, model = held_out
    true = data.images[:, 0]
    feats = face_features(model, true)
    with torch.no_grad():
        recon = model.face_decoder(torch.from_numpy(feats)).image
    recon_u8 = images_to_uint8(recon)
    rec = face_features(model, recon_u8)
    rec /= np.linalg.norm(rec, axis=1, keepdims=True)
    tru = feats / np.linalg.norm(feats, axis=1, keepdims=True)
    sim = rec @ tru.T  # (recon, true) cosine
    own = np.diag(sim)
    assert (own > np.where(np.eye(len(sim), dtype=bool), -np.inf, sim).max(1)).mean() >= 0.8
    # pixels as an independent distance: own true face nearer than the average other one
    d = ((recon_u8[:, None].astype(float) - true[None].astype(float)) ** 2).mean((2, 3, 4))
    assert (np.diag(d) < d.mean(1)).mean() >= 0.9


def _judged_gender(images):
    from audit.judges._shipped import shipped_judge

    judge = shipped_judge()
    proba = judge.predict_proba(images)["gender"]
    return np.asarray(judge.vocabularies["gender"])[proba.argmax(1)]


def _decode_u8(model, feats):
    with torch.no_grad():
        return images_to_uint8(model.face_decoder(torch.from_numpy(feats.astype(np.float32))).image)


def test_features_moved_towards_the_mean_keep_their_judged_gender(held_out):
    """Issue 14: features moved towards the mean still decode as the true face's gender.

    Voice predictions sit nearer the mean feature than true faces (median 0.70-0.82 of a true
    face's distance, six demo voice models); the shipped decoder is trained for that
    (``FaceSideSettings.decoder_shrink``). Features moved 40 % of the way to the held-out
    mean are judged the gender the judge gives the true face (120 persons, standard error
    about 0.03). Measured: face side v4, trained without shrinkage, 0.70 (women 0.37: they
    decode as men); v5 0.91 (women 0.89).
    """
    data, model = held_out
    feats = face_features(model, data.images[:, 0])
    centre = feats.mean(0)
    truth = _judged_gender(data.images[:, 0])
    shrunk = _judged_gender(_decode_u8(model, centre + 0.6 * (feats - centre)))
    assert (shrunk == truth).mean() >= 0.8
    assert (shrunk[truth == "female"] == "female").mean() >= 0.75


def test_shipped_features_ignore_the_scene(held_out):
    """The two scenes of one person are nearer each other than to any other person."""
    data, model = held_out
    a, b = (face_features(model, data.images[:, v]) for v in (0, 1))
    a /= np.linalg.norm(a, axis=1, keepdims=True)
    b /= np.linalg.norm(b, axis=1, keepdims=True)
    sim = a @ b.T
    assert (sim.argmax(1) == np.arange(len(sim))).mean() >= 0.8


def test_shipped_features_carry_face_size_and_gender():
    """Issue 14: linear probes on fc7 of held-out persons (v3: face-size R^2 .90, gender .95).

    The previous shipped side (v2) measured R^2 .35, so the face-size bound can fail.
    """
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.metrics import r2_score

    data = render_face_set(400, seed=2025)
    feats = face_features(load_face_side_model(), data.images[:, 0])
    live = (feats[:200] > 0).mean(0) >= 0.01  # units that fire on >= 1 % of the fitting half
    x = feats[:, live]
    x = (x - x[:200].mean(0)) / x[:200].std(0)
    size = data.targets[:, PERSON_TARGETS.index("face_size")]
    ridge = Ridge(alpha=10.0).fit(x[:200], size[:200])
    assert r2_score(size[200:], ridge.predict(x[200:])) >= 0.75
    clf = LogisticRegression(max_iter=2000).fit(x[:200], data.gender[:200])
    assert (clf.predict(x[200:]) == data.gender[200:]).mean() >= 0.88


def test_pretraining_is_seeded_and_leaves_the_global_rng():
    settings = FaceSideSettings(
        n_persons=4, encoder_steps=1, decoder_steps=1, batch_size=2, decoder_candidates=1
    )
    torch.manual_seed(0)
    expected = torch.rand(1)
    torch.manual_seed(0)
    r = pretrain_face_side(settings)
    assert torch.equal(torch.rand(1), expected)
    assert not r.model.training and set(r.seconds) == {"render", "encoder", "decoder"}
    with pytest.raises(ValueError, match="n_persons must be >= 1"):
        FaceSideSettings(n_persons=0)


def test_write_face_side_run_is_reusable(tmp_path, tiny_manifest, tiny_config):
    """A run folder holding the shipped face side serves ``train(face_from=...)``."""
    cfg = S2FConfig.compact()
    run = write_face_side_run(tmp_path / "face", cfg)
    meta = json.loads((run / "model.json").read_text())
    assert (
        meta["metadata"]["face_from"]["tensors_sha256"]
        == json.loads(shipped_card_path().read_text())["sha256"]
    )
    assert len(meta["metadata"]["identities"]) == cfg.face.n_identities
    with pytest.raises(TrainingError, match="face settings differ"):
        train(tiny_config(), tiny_manifest, tmp_path / "x", progress=False, face_from=run)


def test_train_with_the_pretrained_face_side(tmp_path, tiny_manifest):
    """``train.face_side="pretrained"`` skips both face stages and keeps the shipped weights."""
    from safetensors.torch import load_file

    cfg = S2FConfig.compact().replace(
        **{
            "train.face_side": "pretrained",
            "train.voice_steps": 2,
            "train.batch_size": 4,
            "train.checkpoint_every": 0,
            "train.face_steps": 300,
        }
    )
    result = train(cfg, tiny_manifest, tmp_path / "run", progress=False)
    assert {k for k, v in result.losses.items() if v} == {"voice"}
    shipped = load_file(str(shipped_weights_path()))
    state = result.model.state_dict()
    for key, value in shipped.items():
        assert torch.equal(state[key], value), key
    meta = json.loads((tmp_path / "run" / "model.json").read_text())
    assert meta["metadata"]["face_from"]["tensors_sha256"] == _sha(shipped_weights_path())
    with pytest.raises(TrainingError, match=r"train\.face_side='pretrained'"):
        train(cfg.replace(**{"face.dropout": 0.2}), tiny_manifest, tmp_path / "bad", progress=False)
