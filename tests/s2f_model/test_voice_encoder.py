"""Voice encoder: the paper's layer table, parameter count, shapes and determinism."""

from __future__ import annotations

import dataclasses
import json

import pytest
import torch
from torch import nn

from s2f_model import (
    S2FConfig,
    VoiceConfig,
    VoiceEncoder,
    build_model,
    load_model,
    save_checkpoint,
    voice_layer_table,
)


def _paper_encoder_on_meta() -> VoiceEncoder:
    cfg = S2FConfig.paper()
    with torch.device("meta"):
        return VoiceEncoder(cfg.voice, 2, 257, 598)


def test_paper_parameter_count_matches_hand_table():
    # Hand-worked layer table (valid 4x4 convs; time pools do not touch frequency):
    # freq 257 -> 254 -> 251 -> 248 -> 245 -> 242 -> 239 -> 236 -> (236-4)//2+1 = 117
    # -> (117-4)//2+1 = 57 rows x 512 channels = 29,184 inputs to the first FC.
    convs = [
        (2, 64),
        (64, 64),
        (64, 128),
        (128, 128),
        (128, 128),
        (128, 256),
        (256, 512),
        (512, 512),
        (512, 512),
    ]
    conv_params = sum(16 * cin * cout + cout for cin, cout in convs)
    bn_params = 2 * sum(cout for _, cout in convs[:-1]) + 2 * 512  # none after the last conv
    fc1 = 57 * 512 * 4096 + 4096
    fc2 = 4096 * 4096 + 4096
    assert fc1 == 119_541_760
    expected = conv_params + bn_params + fc1 + fc2
    enc = _paper_encoder_on_meta()
    got = sum(p.numel() for p in enc.parameters())
    assert got == expected == 148_062_976
    assert sum(r.params for r in enc.table) == expected
    assert enc.fc1.in_features == 29_184


def test_paper_layer_shapes():
    table = voice_layer_table(VoiceConfig(), 2, 257, 598)
    shapes = {r.name: (r.channels, r.freq, r.time) for r in table}
    assert shapes["conv1"] == (64, 254, 595)
    assert shapes["pool3"] == (128, 248, 294)
    assert shapes["pool6"] == (256, 239, 34)
    assert shapes["conv7"] == (512, 236, 31)
    assert shapes["conv8"] == (512, 117, 14)
    assert shapes["conv9"] == (512, 57, 6)


def test_paper_forward_shape_on_meta():
    enc = _paper_encoder_on_meta()
    out = enc(torch.empty(2, 2, 257, 598, device="meta"))
    assert out.shape == (2, 4096)


def test_paper_block_order_conv_relu_bn_then_pool_and_last_conv_bare():
    enc = _paper_encoder_on_meta()
    kinds = [type(m).__name__ for m in enc.convs]
    assert kinds[:3] == ["Conv2d", "ReLU", "BatchNorm2d"]
    assert kinds[6:10] == ["Conv2d", "ReLU", "BatchNorm2d", "MaxPool2d"]  # conv3 + pool
    assert kinds[-1] == "Conv2d" and kinds[-2] == "BatchNorm2d"
    pools = [m for m in enc.convs if isinstance(m, nn.MaxPool2d)]
    assert len(pools) == 4 and all(p.kernel_size == (1, 2) for p in pools)  # time only
    strides = [m.stride for m in enc.convs if isinstance(m, nn.Conv2d)]
    assert strides == [(1, 1)] * 7 + [(2, 2)] * 2


def test_compact_pool_first_order():
    cfg = S2FConfig.compact()
    enc = VoiceEncoder(cfg.voice, 1, 257, cfg.audio.n_frames)
    kinds = [type(m).__name__ for m in enc.convs]
    i = kinds.index("MaxPool2d")
    assert kinds[i - 1 : i + 3] == ["Conv2d", "MaxPool2d", "ReLU", "BatchNorm2d"]


@pytest.fixture(scope="module")
def compact() -> tuple[S2FConfig, VoiceEncoder]:
    cfg = S2FConfig.compact()
    torch.manual_seed(0)
    return cfg, VoiceEncoder(cfg.voice, 1, 257, cfg.audio.n_frames).eval()


def test_compact_forward_shape_and_no_final_activation(compact):
    cfg, enc = compact
    x = torch.randn(3, 1, 257, cfg.audio.n_frames)
    out = enc(x)
    assert out.shape == (3, cfg.feature_dim)
    assert (out < 0).any()  # no ReLU on the last layer


def test_compact_batched_equals_one_by_one_in_eval(compact):
    cfg, enc = compact
    x = torch.randn(3, 1, 257, cfg.audio.n_frames)
    with torch.no_grad():
        batched = enc(x)
        single = torch.cat([enc(x[i : i + 1]) for i in range(3)])
    torch.testing.assert_close(batched, single, rtol=1e-4, atol=1e-5)


def test_time_axis_is_averaged_so_longer_inputs_work(compact):
    cfg, enc = compact
    assert enc(torch.randn(1, 1, 257, cfg.audio.n_frames + 100)).shape == (1, cfg.feature_dim)


@pytest.mark.parametrize("shape", [(2, 2, 257, 298), (2, 1, 200, 298), (1, 257, 298)])
def test_wrong_input_shape_raises(compact, shape):
    _, enc = compact
    with pytest.raises(ValueError, match=r"voice encoder expects \(batch, 1, 257, frames\)"):
        enc(torch.zeros(shape))


def test_too_short_input_for_table_raises():
    match = r"voice conv7 gets a 239 \(freq\) x 3 \(time\) input, smaller than its 4x4"
    with pytest.raises(ValueError, match=match):
        voice_layer_table(VoiceConfig(), 2, 257, 100)


def test_config_lengths_must_agree():
    with pytest.raises(ValueError, match=r"voice.time_pool has 2 entries, expected 9"):
        dataclasses.replace(VoiceConfig(), time_pool=(True, False))


def test_channels_last_gives_same_result_as_contiguous(compact):
    cfg, enc = compact
    plain_cfg = dataclasses.replace(cfg.voice, channels_last=False)
    plain = VoiceEncoder(plain_cfg, 1, 257, cfg.audio.n_frames).eval()
    plain.load_state_dict(enc.state_dict())
    x = torch.randn(2, 1, 257, cfg.audio.n_frames)
    with torch.no_grad():
        torch.testing.assert_close(plain(x), enc(x), rtol=1e-4, atol=1e-5)


# ------------------------------------- compact options: statistics pooling, standardisation
def _compact_voice(**changes):
    cfg = S2FConfig.compact()
    return dataclasses.replace(cfg.voice, **changes), cfg.audio


def test_mean_std_pooling_table_and_parameter_count_match_the_module():
    vcfg, audio = _compact_voice(pooling="mean_std", input_stats=False)
    enc = VoiceEncoder(vcfg, 1, 257, audio.n_frames)
    table = voice_layer_table(vcfg, 1, 257, audio.n_frames)
    assert sum(r.params for r in table) == sum(p.numel() for p in enc.parameters())
    base = VoiceEncoder(_compact_voice(input_stats=False)[0], 1, 257, audio.n_frames)
    c, f = base.out_channels, base.out_freq  # 128 channels x 3 bins: fc1 gets twice the input
    assert enc.fc1.in_features == 2 * base.fc1.in_features == 2 * c * f


def test_mean_std_pooling_concatenates_mean_and_std_over_time():
    vcfg, audio = _compact_voice(pooling="mean_std", input_stats=False)
    torch.manual_seed(0)
    enc = VoiceEncoder(vcfg, 1, 257, audio.n_frames).eval()
    spec = torch.randn(2, 1, 257, audio.n_frames)
    x = enc.convs(spec)  # (2, C, F', T')
    pooled = torch.cat([x.mean(3), x.std(3, unbiased=False)], 1)  # (2, 2C, F')
    expected = torch.relu(enc.fc1(enc.norm(torch.relu(pooled)).flatten(1)))
    torch.testing.assert_close(enc.embed(spec), expected)


def test_standardized_output_is_unstandardized_with_the_stored_stats():
    vcfg, audio = _compact_voice(standardize_output=True, aux_classes=(2, 1))
    torch.manual_seed(0)
    enc = VoiceEncoder(vcfg, 1, 257, audio.n_frames).eval()
    mean, std = torch.randn(256), torch.rand(256) + 0.5
    enc.set_target_stats(mean, std)
    spec = torch.randn(3, 1, 257, audio.n_frames)
    z, aux = enc.heads(enc.embed(spec))
    assert aux.shape == (3, 3)  # heads side by side: 2 + 1 outputs
    torch.testing.assert_close(enc(spec), z * std + mean)
    assert {"target_mean", "target_std"} <= set(enc.state_dict())
    with pytest.raises(ValueError, match="target std must be > 0"):
        enc.set_target_stats(mean, torch.zeros(256))
    with pytest.raises(ValueError, match=r"must both be \(256,\), got \(3,\)"):
        enc.set_target_stats(torch.zeros(3), std)
    plain = VoiceEncoder(_compact_voice(standardize_output=False)[0], 1, 257, audio.n_frames)
    assert "target_mean" not in plain.state_dict() and plain.aux_head is None
    with pytest.raises(ValueError, match=r"needs voice\.standardize_output=True"):
        plain.set_target_stats(mean, std)


# ------------------------------------------- compact option: input statistics branch (#14)
def _stats_encoder(in_channels: int = 1, seed: int = 0, **changes) -> VoiceEncoder:
    vcfg, audio = _compact_voice(input_stats=True, **changes)
    torch.manual_seed(seed)
    return VoiceEncoder(vcfg, in_channels, 257, audio.n_frames).eval()


@pytest.mark.parametrize(("in_channels", "pooling"), [(1, "mean"), (2, "mean_std")])
def test_input_stats_table_and_parameter_count_match_the_module(in_channels, pooling):
    vcfg, audio = _compact_voice(input_stats=True, pooling=pooling)
    enc = VoiceEncoder(vcfg, in_channels, 257, audio.n_frames)
    table = voice_layer_table(vcfg, in_channels, 257, audio.n_frames)
    assert sum(r.params for r in table) == sum(p.numel() for p in enc.parameters())
    row = next(r for r in table if r.name == "input_stats+bn")
    assert (row.channels, row.params) == (2 * 257, 2 * 2 * 257)  # BatchNorm: weight + bias
    base_cfg = dataclasses.replace(vcfg, input_stats=False)
    base = VoiceEncoder(base_cfg, in_channels, 257, audio.n_frames)
    # mean and std of 257 bins: fc1 gets 514 more inputs, i.e. 514 * hidden more weights
    assert enc.fc1.in_features == base.fc1.in_features + 514
    assert enc.out_freq == base.out_freq == 3
    extra = sum(p.numel() for p in enc.parameters()) - sum(p.numel() for p in base.parameters())
    assert extra == 514 * vcfg.hidden_dim + 2 * 514
    assert [r.name for r in table if r.name != "input_stats+bn"] == [
        r.name for r in voice_layer_table(base_cfg, in_channels, 257, audio.n_frames)
    ]


@pytest.mark.parametrize("in_channels", [1, 2])
def test_input_stats_forward_shape_and_longer_inputs(in_channels):
    enc = _stats_encoder(in_channels)
    frames = S2FConfig.compact().audio.n_frames
    for t in (frames, frames + 100):
        with torch.no_grad():
            assert enc(torch.randn(3, in_channels, 257, t)).shape == (3, 256)


def test_input_stats_are_mean_and_std_of_the_magnitude_over_channels():
    # real 3, imaginary 4 in every frame: magnitude 5, std 0; a bin alternating between
    # magnitudes 1 and 3 (real part only): mean 2, population std 1
    spec = torch.zeros(1, 2, 2, 4)
    spec[0, 0, 0], spec[0, 1, 0] = 3.0, -4.0
    spec[0, 0, 1] = torch.tensor([1.0, -3.0, 1.0, -3.0])
    torch.testing.assert_close(VoiceEncoder.input_stats(spec), torch.tensor([[5.0, 2.0, 0.0, 1.0]]))
    one = torch.tensor([[[[1.0, 2.0, 3.0, 6.0]]]])  # one channel: used as is
    std = ((1 + 2 * 2 + 3 * 3 + 6 * 6) / 4 - 3.0**2) ** 0.5  # sqrt(E[x^2] - E[x]^2) = sqrt(3.5)
    torch.testing.assert_close(VoiceEncoder.input_stats(one), torch.tensor([[3.0, std]]))


def test_input_stats_of_a_repeated_input_equal_those_of_one_period():
    spec = torch.rand(2, 2, 257, 50)
    torch.testing.assert_close(
        VoiceEncoder.input_stats(spec.repeat(1, 1, 1, 3)), VoiceEncoder.input_stats(spec)
    )


def _flat_spectrum(level: torch.Tensor, frames: int) -> torch.Tensor:
    """``(freq,)`` envelope -> ``(1, 1, freq, frames)``, constant over time."""
    return level[None, None, :, None].expand(1, 1, -1, frames).contiguous()


@pytest.mark.parametrize("input_stats", [True, False])
def test_stats_branch_sees_the_spectral_envelope_when_the_convs_are_blind(input_stats):
    vcfg, audio = _compact_voice(input_stats=input_stats)
    torch.manual_seed(0)
    enc = VoiceEncoder(vcfg, 1, 257, audio.n_frames).eval()
    with torch.no_grad():
        for m in enc.convs:  # the convolutions' output no longer depends on the input
            if isinstance(m, nn.Conv2d):
                m.weight.zero_()
                m.bias.fill_(0.1)
        low = _flat_spectrum(torch.linspace(1.0, 0.1, 257), audio.n_frames)
        high = _flat_spectrum(torch.linspace(0.1, 1.0, 257), audio.n_frames)
        conv_low, conv_high = enc.convs(low), enc.convs(high)
        differ = (enc(low) - enc(high)).abs().max().item()
    torch.testing.assert_close(conv_low, conv_high)
    if input_stats:
        assert differ > 1e-3
        # independent composition: conv features, then BatchNorm'd [mean, std] over time
        pooled = enc.norm(torch.relu(conv_low.mean(3))).flatten(1)
        stats = torch.cat([low[:, 0].mean(2), torch.zeros(1, 257)], 1)  # constant: std 0
        expected = torch.relu(enc.fc1(torch.cat([pooled, enc.stats_norm(stats)], 1)))
        torch.testing.assert_close(enc.embed(low), expected)
    else:
        assert differ == 0.0  # the control: without the branch the encoder is blind here


def test_input_stats_deterministic_and_seeded():
    frames = S2FConfig.compact().audio.n_frames
    x = torch.rand(2, 1, 257, frames)
    a, b, c = _stats_encoder(seed=0), _stats_encoder(seed=0), _stats_encoder(seed=1)
    with torch.no_grad():
        torch.testing.assert_close(a(x), b(x), rtol=0, atol=0)
        torch.testing.assert_close(a(x), a(x), rtol=0, atol=0)
        assert not torch.equal(a(x), c(x))
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(p, q), name
    assert {"stats_norm.weight", "stats_norm.running_mean"} <= set(a.state_dict())


def test_input_stats_type_checked_and_default_off():
    assert VoiceConfig().input_stats is False
    assert S2FConfig.paper().voice.input_stats is False
    with pytest.raises(ValueError, match="input_stats"):
        VoiceConfig(input_stats="yes")
    assert S2FConfig.compact().voice.input_stats  # the compact preset's default (issue #14)
    assert not S2FConfig.compact().replace(**{"voice.input_stats": False}).voice.input_stats


def test_checkpoint_without_the_input_stats_key_still_loads(tmp_path, tiny_config):
    # a compact run written before the option existed: no branch, and no key in its JSON
    cfg = tiny_config(**{"voice.input_stats": False})
    model = build_model(cfg, seed=0).eval()
    path = save_checkpoint(tmp_path, model, cfg.to_dict(), stage="done", name="model.json")
    meta = json.loads(path.read_text())
    del meta["config"]["voice"]["input_stats"]  # as written before the option existed
    path.write_text(json.dumps(meta))
    loaded = load_model(tmp_path)
    assert loaded.cfg.voice.input_stats is False and loaded.voice_encoder.stats_norm is None
    assert loaded.cfg == cfg
    enc = model.voice_encoder
    spec = torch.rand(2, enc.in_channels, enc.n_freq, cfg.audio.n_frames)
    with torch.no_grad():
        torch.testing.assert_close(loaded.voice_encoder(spec), model.voice_encoder(spec))
