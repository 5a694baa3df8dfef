"""Face encoder (VGG-16 layout) and the VGG-Face weight importer."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from safetensors.torch import save_file
from torch.nn import functional as F

from s2f_model import (
    FaceConfig,
    FaceEncoder,
    S2FConfig,
    WeightImportError,
    build_model,
    load_vggface_state_dict,
    vggface_key_shapes,
)

VGG_LAYERS = [
    "conv1_1",
    "conv1_2",
    "conv2_1",
    "conv2_2",
    "conv3_1",
    "conv3_2",
    "conv3_3",
    "conv4_1",
    "conv4_2",
    "conv4_3",
    "conv5_1",
    "conv5_2",
    "conv5_3",
    "fc6",
    "fc7",
    "fc8",
]


def _random_vggface_state(cfg: FaceConfig, seed: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    shapes = vggface_key_shapes(cfg)
    return {k: torch.randn(shape, generator=g) * 0.05 for k, shape in shapes.items()}


def test_paper_layout_is_vggface():
    shapes = vggface_key_shapes(FaceConfig())
    assert list(shapes) == [f"{n}.{p}" for n in VGG_LAYERS for p in ("weight", "bias")]
    assert shapes["conv1_1.weight"] == (64, 3, 3, 3)
    assert shapes["conv5_3.weight"] == (512, 512, 3, 3)
    assert shapes["fc6.weight"] == (4096, 7 * 7 * 512)
    assert shapes["fc7.weight"] == (4096, 4096)
    assert shapes["fc8.weight"] == (2622, 4096)
    # VGG-16 has 138,357,544 parameters with 1000 classes; VGG-Face has 2622 identities.
    total = sum(torch.Size(s).numel() for s in shapes.values())
    assert total == 138_357_544 + 4097 * (2622 - 1000)


def test_paper_forward_shapes_on_meta():
    with torch.device("meta"):
        enc = FaceEncoder(FaceConfig())
    out = enc(torch.empty(2, 3, 224, 224, device="meta"))
    assert out.features.shape == (2, 4096) and out.logits.shape == (2, 2622)


def _reference_vgg(state, cfg: FaceConfig, images):
    """Independent functional VGG forward from the raw state dict (eval mode)."""
    x = images * 255.0 - torch.tensor(cfg.pixel_mean).view(1, 3, 1, 1)
    for b, depth in enumerate(cfg.block_depths):
        for i in range(depth):
            name = f"conv{b + 1}_{i + 1}"
            x = F.relu(F.conv2d(x, state[f"{name}.weight"], state[f"{name}.bias"], padding=1))
        x = F.max_pool2d(x, 2)
    x = x.reshape(x.shape[0], -1)
    w6 = state["fc6.weight"].reshape(state["fc6.weight"].shape[0], -1)
    x = F.relu(F.linear(x, w6, state["fc6.bias"]))
    feats = F.relu(F.linear(x, state["fc7.weight"], state["fc7.bias"]))
    return feats, F.linear(feats, state["fc8.weight"], state["fc8.bias"])


def test_importer_loads_safetensors_in_vggface_layout(tmp_path):
    cfg = S2FConfig.compact().face
    state = _random_vggface_state(cfg, seed=1)
    path = tmp_path / "vgg_face.safetensors"
    save_file(state, str(path))
    enc = load_vggface_state_dict(FaceEncoder(cfg), path).eval()
    for k, v in state.items():
        assert torch.equal(enc.state_dict()[k], v), k
    images = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    feats, logits = _reference_vgg(state, cfg, images)
    with torch.no_grad():
        out = enc(images)
    torch.testing.assert_close(out.features, feats, rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(out.logits, logits, rtol=1e-4, atol=1e-4)


def test_importer_accepts_conv_style_fc6_and_a_whole_model():
    cfg = S2FConfig.compact().face
    state = _random_vggface_state(cfg, seed=2)
    flat = state["fc6.weight"]
    state["fc6.weight"] = flat.reshape(flat.shape[0], cfg.block_channels[-1], 2, 2)
    model = build_model(S2FConfig.compact())
    load_vggface_state_dict(model, state)
    assert torch.equal(model.face_encoder.fc6.weight, flat)


def test_importer_reads_pth_with_weights_only(tmp_path):
    cfg = S2FConfig.compact().face
    state = _random_vggface_state(cfg, seed=3)
    torch.save(state, tmp_path / "vgg_face_dag.pth")
    enc = load_vggface_state_dict(FaceEncoder(cfg), tmp_path / "vgg_face_dag.pth")
    assert torch.equal(enc.fc8.bias, state["fc8.bias"])


class _Payload:
    def __reduce__(self):
        return (print, ("pickled code ran",))


def test_importer_refuses_pickled_code(tmp_path):
    path = tmp_path / "evil.pth"
    torch.save({"x": _Payload()}, path)
    with pytest.raises(WeightImportError, match=r"evil\.pth: not a plain tensor state dict"):
        load_vggface_state_dict(FaceEncoder(S2FConfig.compact().face), path)


def test_importer_names_missing_and_unexpected_keys():
    cfg = S2FConfig.compact().face
    state = _random_vggface_state(cfg, seed=4)
    del state["conv3_2.weight"]
    state["conv6_1.weight"] = torch.zeros(1)
    match = r"missing keys \['conv3_2.weight'\], unexpected keys \['conv6_1.weight'\]"
    with pytest.raises(WeightImportError, match=match):
        load_vggface_state_dict(FaceEncoder(cfg), state)


def test_importer_names_wrong_shapes():
    cfg = S2FConfig.compact().face
    state = _random_vggface_state(cfg, seed=5)
    state["fc8.weight"] = torch.zeros(10, 256)
    match = r"fc8.weight: got \(10, 256\), expected \(512, 256\)"
    with pytest.raises(WeightImportError, match=match):
        load_vggface_state_dict(FaceEncoder(cfg), state)


def test_importer_rejects_unknown_suffix(tmp_path):
    (tmp_path / "w.h5").write_bytes(b"")
    with pytest.raises(WeightImportError, match=r"unsupported weight file suffix '.h5'"):
        load_vggface_state_dict(FaceEncoder(S2FConfig.compact().face), tmp_path / "w.h5")


def test_compact_shapes_and_fc7_is_nonnegative():
    cfg = dataclasses.replace(S2FConfig.compact().face, n_identities=37)
    enc = FaceEncoder(cfg).eval()
    out = enc(torch.rand(3, 3, 64, 64))
    assert out.features.shape == (3, 256) and out.logits.shape == (3, 37)
    assert (out.features >= 0).all()


@pytest.mark.parametrize("shape", [(2, 3, 32, 32), (2, 1, 64, 64), (3, 64, 64)])
def test_wrong_image_shape_raises(shape):
    enc = FaceEncoder(S2FConfig.compact().face)
    match = r"face encoder expects images of shape \(batch, 3, 64, 64\)"
    with pytest.raises(ValueError, match=match):
        enc(torch.rand(shape))


def test_image_size_must_fit_the_pools():
    with pytest.raises(ValueError, match=r"face\.image_size=100 must be divisible by 32"):
        FaceConfig(image_size=100)
