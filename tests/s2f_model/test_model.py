"""Speech2Face API, configuration, seeding and a tiny-batch overfit of the paper loss."""

from __future__ import annotations

import json
import math

import pytest
import torch

from s2f_model import (
    ConfigError,
    FaceOutput,
    S2FConfig,
    Speech2Face,
    build_model,
    speech2face_loss,
)


# ----------------------------------------------------------------------- config
@pytest.mark.parametrize("preset", ["paper", "compact"])
def test_config_round_trips_through_json(preset):
    cfg = S2FConfig.preset(preset)
    data = json.loads(json.dumps(cfg.to_dict()))
    assert S2FConfig.from_dict(data) == cfg
    assert isinstance(S2FConfig.from_dict(data).voice.channels, tuple)


def test_paper_preset_holds_the_paper_settings():
    cfg = S2FConfig.paper()
    a = cfg.audio
    assert (a.sample_rate, a.clip_seconds, a.n_fft, a.win_length, a.hop_length) == (
        16000,
        6.0,
        512,
        400,
        160,
    )
    assert (a.n_channels, a.n_freq, a.n_frames, a.compression) == (2, 257, 598, 0.3)
    assert (cfg.loss.lambda1, cfg.loss.lambda2, cfg.loss.temperature) == (0.025, 200.0, 2.0)
    t = cfg.train
    assert (t.lr, t.betas, t.eps, t.lr_decay, t.lr_decay_every, t.batch_size) == (
        1e-3,
        (0.5, 0.999),
        1e-4,
        0.95,
        10_000,
        8,
    )
    assert (cfg.face.n_identities, cfg.feature_dim, cfg.decoder.first_dim) == (2622, 4096, 1000)
    assert cfg.decoder.image_size == cfg.face.image_size == 224


def test_compact_preset_is_small():
    cfg = S2FConfig.compact()
    assert cfg.audio.clip_seconds == 3.0 and cfg.audio.n_channels == 1
    assert cfg.feature_dim == 256 and cfg.face.image_size == cfg.decoder.image_size == 64


def test_from_dict_rejects_unknown_keys_and_fills_defaults():
    data = S2FConfig.compact().to_dict()
    data["voice"]["kernal_size"] = 3
    with pytest.raises(ConfigError, match=r"config.voice: unknown key\(s\) \['kernal_size'\]"):
        S2FConfig.from_dict(data)
    partial = {"name": "x", "train": {"seed": 5}}
    cfg = S2FConfig.from_dict(partial)
    assert cfg.train.seed == 5 and cfg.audio == S2FConfig.paper().audio


def test_replace_with_dotted_keys():
    cfg = S2FConfig.compact().replace(**{"face.n_identities": 150, "train.seed": 3})
    assert cfg.face.n_identities == 150 and cfg.train.seed == 3
    with pytest.raises(ConfigError, match=r"unknown config key 'face\.n_identity'"):
        S2FConfig.compact().replace(**{"face.n_identity": 1})


def test_feature_dims_must_agree():
    with pytest.raises(ConfigError, match=r"voice.feature_dim \(128\) must equal face.feature_dim"):
        S2FConfig.compact().replace(**{"voice.feature_dim": 128})


@pytest.mark.parametrize(
    ("key", "value", "match"),
    [
        ("train.precision", "fp8", r"train.precision must be one of \['bf16', 'fp16', 'fp32'\]"),
        ("audio.representation", "phase", "audio.representation must be one of"),
        ("train.betas", [0.5, 1.5], "train.betas must be two values in"),
        ("train.lr", 0.0, r"train.lr must be > 0, got 0.0"),
        ("train.seed", 0.5, "train.seed must be an int"),
    ],
)
def test_invalid_settings_raise(key, value, match):
    with pytest.raises(ConfigError, match=match):
        S2FConfig.compact().replace(**{key: value})


def test_config_is_frozen():
    cfg = S2FConfig.compact()
    with pytest.raises(AttributeError):
        cfg.audio.sample_rate = 8000  # type: ignore[misc]


# ------------------------------------------------------------------------ model
@pytest.fixture(scope="module")
def model() -> Speech2Face:
    return build_model(S2FConfig.compact(), seed=0).eval()


@torch.no_grad()
def test_api_shapes(model):
    feats = model.encode_voice(torch.randn(2, 20000), sample_rate=16000)
    assert feats.shape == (2, 256)
    face = model.encode_face(torch.rand(2, 3, 64, 64))
    assert face.shape == (2, 256)
    assert model.face_logits(face).shape == (2, 512)
    out = model.decode(feats)
    assert isinstance(out, FaceOutput)
    assert out.image.shape == (2, 3, 64, 64) and out.landmarks.shape == (2, 68, 2)
    assert model(torch.randn(1, 70000)).image.shape == (1, 3, 64, 64)


@torch.no_grad()
def test_bf16_autocast_forward_works_and_warp_stays_float32(model):
    wave = torch.randn(2, 48000, generator=torch.Generator().manual_seed(0))
    ref = model.encode_voice(wave)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        feats = model.encode_voice(wave)
        out = model.decode(feats)
    assert out.image.dtype == torch.float32 and out.image.shape == (2, 3, 64, 64)
    rel = (feats.float() - ref).abs().max() / ref.abs().max()
    assert float(rel) < 0.05


def test_encode_voice_refuses_other_sample_rates(model):
    with pytest.raises(ValueError, match="44100 Hz given to a model expecting 16000 Hz"):
        model.encode_voice(torch.randn(1, 16000), sample_rate=44100)


def test_paper_model_shapes_on_meta():
    with torch.device("meta"):
        m = Speech2Face(S2FConfig.paper())
    spec = m.frontend(torch.empty(1, 96000, device="meta"))
    assert spec.shape == (1, 2, 257, 598)
    feats = m.voice_encoder(spec)
    assert feats.shape == (1, 4096)
    assert m.face_logits(feats).shape == (1, 2622)
    assert m.encode_face(torch.empty(1, 3, 224, 224, device="meta")).shape == (1, 4096)


def test_same_seed_same_init_different_seed_different():
    cfg = S2FConfig.compact()
    before = torch.random.get_rng_state()
    a, b, c = build_model(cfg, seed=7), build_model(cfg, seed=7), build_model(cfg, seed=8)
    assert torch.equal(torch.random.get_rng_state(), before)  # global RNG untouched
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    differing = [k for k in sa if not torch.equal(sa[k], sc[k])]
    assert "voice_encoder.fc1.weight" in differing and "face_encoder.conv1_1.weight" in differing
    assert (
        build_model(cfg.replace(**{"train.seed": 7}))
        .state_dict()["voice_encoder.fc2.bias"]
        .equal(sa["voice_encoder.fc2.bias"])
    )


def test_build_model_rejects_float_seed():
    with pytest.raises(ValueError, match=r"seed must be an int, got 0\.5"):
        build_model(S2FConfig.compact(), seed=0.5)  # type: ignore[arg-type]


# -------------------------------------------------------------------- overfit
def _overfit(clip_seconds: float, steps: int) -> tuple[list[float], float, float]:
    """Train the compact voice encoder on 4 clips with the paper loss, face side frozen."""
    cfg = S2FConfig.compact().replace(**{"audio.clip_seconds": clip_seconds})
    m = build_model(cfg, seed=0)
    m.face_encoder.eval()
    m.face_decoder.eval()
    m.face_encoder.requires_grad_(False)
    m.face_decoder.requires_grad_(False)
    g = torch.Generator().manual_seed(0)
    n = cfg.audio.clip_samples
    t = torch.arange(n) / 16000
    waves = torch.stack(
        [
            0.2 * sum(torch.sin(2 * math.pi * f0 * k * t) / k for k in range(1, 6))
            for f0 in (100.0, 140.0, 190.0, 240.0)
        ]
    ) + 0.01 * torch.randn(4, n, generator=g)
    with torch.no_grad():
        v_face = m.encode_face(torch.rand(4, 3, 64, 64, generator=g))
        spec = m.spectrogram(waves)
    tr = cfg.train
    opt = torch.optim.Adam(m.voice_encoder.parameters(), lr=tr.lr, betas=tr.betas, eps=tr.eps)
    losses = []
    for _ in range(steps):
        out = speech2face_loss(m.voice_encoder(spec), v_face, m.face_decoder, m.face_encoder)
        opt.zero_grad()
        out.total.backward()
        opt.step()
        losses.append(float(out.total.detach()))
    m.voice_encoder.eval()
    with torch.no_grad():
        final = speech2face_loss(m.voice_encoder(spec), v_face, m.face_decoder, m.face_encoder)
    return losses, float(final.total), float(final.decoder_l1)


def test_overfit_tiny_batch_paper_loss_drops_10x():
    losses, _, _ = _overfit(clip_seconds=2.0, steps=45)
    assert min(losses[-5:]) * 10 <= losses[0], losses[::10]


@pytest.mark.slow
def test_overfit_tiny_batch_300_steps_eval_mode():
    losses, final, _ = _overfit(clip_seconds=3.0, steps=300)
    assert final * 10 <= losses[0], (losses[0], final)


def test_voice_objective_settings_are_validated_and_round_trip():
    std = {"loss.objective": "standardized", "voice.standardize_output": True}
    cfg = S2FConfig.compact().replace(
        **std,
        **{
            "loss.aux_targets": ["gender", "face_size"],
            "voice.aux_classes": [2, 1],
            "voice.pooling": "mean_std",
        },
    )
    assert S2FConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg.loss.aux_targets == ("gender", "face_size")
    with pytest.raises(ConfigError, match="must not contain 'ethnicity'"):
        S2FConfig.compact().replace(**std, **{"loss.aux_targets": ["ethnicity"]})
    with pytest.raises(ConfigError, match=r"loss.aux_targets entry must be one of .*'skin'"):
        S2FConfig.compact().replace(**std, **{"loss.aux_targets": ["skin"]})
    with pytest.raises(ConfigError, match="lists a label twice"):
        S2FConfig.compact().replace(**std, **{"loss.aux_targets": ["gender", "gender"]})
    with pytest.raises(ConfigError, match=r"needs voice\.standardize_output=True"):
        S2FConfig.paper().replace(**{"loss.objective": "standardized"})
    with pytest.raises(ConfigError, match=r"need loss\.objective='standardized'"):
        S2FConfig.paper().replace(**{"loss.aux_targets": ["gender"]})
    with pytest.raises(ConfigError, match=r"aux_classes has 1 entries, expected one per"):
        S2FConfig.compact().replace(
            **std, **{"loss.aux_targets": ["gender", "language"], "voice.aux_classes": [2]}
        )
    with pytest.raises(ConfigError, match="regression target 'face_size' must be 0 or 1"):
        S2FConfig.compact().replace(
            **std, **{"loss.aux_targets": ["face_size"], "voice.aux_classes": [3]}
        )
    with pytest.raises(ConfigError, match=r"voice.pooling must be one of \['mean', 'mean_std'\]"):
        S2FConfig.compact().replace(**{"voice.pooling": "max"})
    with pytest.raises(ConfigError, match=r"loss.objective must be one of"):
        S2FConfig.compact().replace(**{"loss.objective": "cosine"})
    # the paper preset keeps the paper's loss; the compact preset departs from it
    assert S2FConfig.paper().loss.objective == "paper"
    assert S2FConfig.paper().loss.aux_targets == ()
    assert not S2FConfig.paper().voice.standardize_output
    compact = S2FConfig.compact()
    assert (compact.loss.objective, compact.voice.standardize_output) == ("standardized", True)
    assert "ethnicity" not in compact.loss.aux_targets
    # an older compact checkpoint's config (no objective keys) loads with the paper loss
    old = compact.to_dict()
    for key in ("objective", "cosine_weight", "aux_targets", "aux_weight"):
        del old["loss"][key]
    for key in ("pooling", "standardize_output", "aux_classes"):
        del old["voice"][key]
    assert S2FConfig.from_dict(old).loss.objective == "paper"
