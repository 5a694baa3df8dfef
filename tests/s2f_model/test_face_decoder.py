"""Face decoder (Cole et al. layout) and the thin-plate-spline warp."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from s2f_model import (
    DecoderConfig,
    FaceDecoder,
    S2FConfig,
    border_points,
    default_mean_face,
    tps_grid,
    warp_image,
)


@pytest.fixture(scope="module")
def decoder() -> FaceDecoder:
    torch.manual_seed(0)
    return FaceDecoder(S2FConfig.compact().decoder, 256).eval()


@torch.no_grad()
def test_compact_output_shapes_and_ranges(decoder):
    out = decoder(torch.randn(3, 256))
    assert out.image.shape == (3, 3, 64, 64)
    assert out.texture.shape == (3, 3, 64, 64)
    assert out.landmarks.shape == (3, 68, 2)
    assert float(out.image.min()) >= 0.0 and float(out.image.max()) <= 1.0
    assert decoder.first_layer(torch.randn(3, 256)).shape == (3, 256)


def test_paper_layer_table_on_meta():
    cfg = DecoderConfig()
    with torch.device("meta"):
        dec = FaceDecoder(cfg, 4096)
    assert dec.fc_first.out_features == 1000
    assert dec.texture_fc.out_features == 14 * 14 * 256
    convs = [m for m in dec.upsample if isinstance(m, nn.ConvTranspose2d)]
    assert [c.out_channels for c in convs] == [128, 64, 32, 32]  # max(256 / 2^i, 32)
    assert all(c.kernel_size == (5, 5) and c.stride == (2, 2) for c in convs)
    x = dec.texture_fc(torch.empty(1, 1000, device="meta")).view(1, 256, 14, 14)
    assert dec.to_rgb(dec.upsample(x)).shape == (1, 3, 224, 224)
    assert dec.to_rgb.kernel_size == (1, 1)


def test_untrained_decoder_outputs_the_mean_face_geometry(decoder):
    out = decoder(torch.randn(2, 256))
    torch.testing.assert_close(out.landmarks, decoder.mean_face.expand(2, -1, -1))
    torch.testing.assert_close(out.image, out.texture, atol=1e-5, rtol=0)


def test_first_layer_is_relu_of_linear(decoder):
    x = torch.randn(4, 256)
    ref = torch.clamp(x @ decoder.fc_first.weight.T + decoder.fc_first.bias, min=0)
    torch.testing.assert_close(decoder.first_layer(x), ref)


def test_set_mean_face_validates_and_is_saved():
    dec = FaceDecoder(S2FConfig.compact().decoder, 256)
    new = np.full((68, 2), 0.5, dtype=np.float32)
    new[:, 0] = np.linspace(0.2, 0.8, 68)
    dec.set_mean_face(new)
    assert torch.equal(dec.state_dict()["mean_face"], torch.from_numpy(new))
    with pytest.raises(ValueError, match=r"mean face must have shape \(68, 2\), got \(5, 2\)"):
        dec.set_mean_face(np.zeros((5, 2)))
    with pytest.raises(ValueError, match="NaN or Inf"):
        dec.set_mean_face(np.full((68, 2), np.nan))


def test_default_mean_face_is_plausible():
    face = default_mean_face()
    assert face.shape == (68, 2) and face.dtype == np.float32
    assert face.min() > 0.0 and face.max() < 1.0
    # iBUG order: chin (8) lowest point, nose tip (30) between the eyes' centres and mouth.
    assert face[:, 1].argmax() == 8
    eyes_y, mouth_y = face[36:48, 1].mean(), face[48:68, 1].mean()
    assert eyes_y < face[30, 1] < mouth_y
    assert face[36:42, 0].mean() < 0.5 < face[42:48, 0].mean()  # subject's right eye on the left
    # Left-right symmetry of the jaw.
    np.testing.assert_allclose(face[:17, 0], 1.0 - face[16::-1, 0], atol=1e-6)


def test_gradients_reach_every_trainable_parameter():
    dec = FaceDecoder(S2FConfig.compact().decoder, 256)
    out = dec(torch.randn(2, 256))
    (out.image.mean() + out.landmarks.mean()).backward()
    missing = [n for n, p in dec.named_parameters() if p.grad is None]
    assert missing == []


def test_decoder_rejects_wrong_feature_size(decoder):
    with pytest.raises(ValueError, match=r"features of shape \(batch, 256\), got \(2, 128\)"):
        decoder(torch.randn(2, 128))


@pytest.mark.parametrize(("size", "start"), [(64, 12), (96, 8)])
def test_config_requires_power_of_two_upsampling(size, start):
    with pytest.raises(ValueError, match="must be a power of two"):
        DecoderConfig(image_size=size, texture_start=start)


# ------------------------------------------------------------------------- warp
def _pixel_centres(idx: list[tuple[int, int]], size: int) -> torch.Tensor:
    return (torch.tensor(idx, dtype=torch.float64) + 0.5) / size


def test_tps_interpolates_control_points_exactly():
    size = 16
    dst = _pixel_centres([(3, 5), (10, 12), (13, 2), (6, 9)], size)[None]  # (x, y)
    src = dst + torch.tensor([[0.04, -0.02], [-0.03, 0.05], [0.0, 0.03], [0.02, 0.02]])
    grid = tps_grid(dst, src, size, regularization=0.0)
    for (x, y), s in zip([(3, 5), (10, 12), (13, 2), (6, 9)], src[0], strict=True):
        torch.testing.assert_close(grid[0, y, x], 2 * s - 1, atol=1e-9, rtol=0)


def test_tps_reproduces_an_affine_map():
    # A thin-plate spline reproduces affine maps exactly (zero bending).
    g = torch.Generator().manual_seed(0)
    dst = torch.rand(1, 12, 2, generator=g, dtype=torch.float64)
    a = torch.tensor([[0.9, 0.1], [-0.05, 1.1]], dtype=torch.float64)
    shift = torch.tensor([0.02, -0.03], dtype=torch.float64)
    src = dst @ a.T + shift
    grid = tps_grid(dst, src, 8, regularization=0.0)
    centres = (torch.arange(8, dtype=torch.float64) + 0.5) / 8
    gy, gx = torch.meshgrid(centres, centres, indexing="ij")
    pts = torch.stack((gx, gy), -1)
    torch.testing.assert_close(grid[0], 2 * (pts @ a.T + shift) - 1, atol=1e-8, rtol=0)


def test_warp_identity_when_landmarks_equal():
    img = torch.rand(2, 3, 20, 20)
    marks = torch.rand(2, 10, 2) * 0.6 + 0.2
    torch.testing.assert_close(warp_image(img, marks, marks), img, atol=1e-5, rtol=0)


def test_warp_moves_a_blob_from_src_to_dst():
    size = 40
    c = (torch.arange(size, dtype=torch.float32) + 0.5) / size
    yy, xx = torch.meshgrid(c, c, indexing="ij")
    img = torch.exp(-((xx - 0.4) ** 2 + (yy - 0.45) ** 2) / (2 * 0.03**2)).view(1, 1, size, size)
    out = warp_image(
        img, torch.tensor([[[0.4, 0.45]]]), torch.tensor([[[0.55, 0.6]]]), regularization=0.0
    )
    y, x = divmod(int(out[0, 0].argmax()), size)
    assert abs((x + 0.5) / size - 0.55) <= 1.0 / size
    assert abs((y + 0.5) / size - 0.60) <= 1.0 / size
    # The border is held in place: the corners keep their (zero) content.
    assert float(out[0, 0, 0, 0]) < 1e-6 and float(out[0, 0, -1, -1]) < 1e-6


def test_coarse_spline_grid_is_close_to_the_exact_one():
    # A smooth landmark motion (affine + shift + small noise) of the mean face, border fixed.
    g = torch.Generator().manual_seed(0)
    mean = torch.from_numpy(default_mean_face())
    a = torch.eye(2) + 0.05 * torch.randn(4, 2, 2, generator=g)
    moved = (mean - 0.5) @ a.transpose(1, 2) + 0.5 + 0.005 * torch.randn(4, 68, 2, generator=g)
    border = border_points(5).expand(4, -1, -1)
    dst = torch.cat((mean.expand(4, -1, -1), border), 1)
    src = torch.cat((moved, border), 1)
    exact = tps_grid(dst, src, 64, 1e-3)
    coarse = tps_grid(dst, src, 64, 1e-3, grid_size=32)
    err_px = (exact - coarse).abs() * 64 / 2
    assert float(err_px.max()) < 0.5 and float(err_px.mean()) < 0.05
    same = tps_grid(dst, dst, 64, 1e-3, grid_size=16)  # identity stays exact
    torch.testing.assert_close(same, tps_grid(dst, dst, 64, 0.0), atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match=r"grid_size must be in \[1, 64\]"):
        tps_grid(dst, src, 64, grid_size=65)


def test_warp_is_differentiable_in_landmarks():
    img = torch.rand(1, 3, 16, 16)
    src = torch.rand(1, 5, 2) * 0.5 + 0.25
    dst = (src + 0.03).requires_grad_(True)
    warp_image(img, src, dst).sum().backward()
    assert dst.grad is not None and float(dst.grad.abs().sum()) > 0


def test_border_points():
    pts = border_points(3)
    assert pts.shape == (8, 2)
    expected = {
        (0.0, 0.0),
        (0.5, 0.0),
        (1.0, 0.0),
        (1.0, 0.5),
        (1.0, 1.0),
        (0.5, 1.0),
        (0.0, 1.0),
        (0.0, 0.5),
    }
    assert {tuple(p) for p in pts.tolist()} == expected
    with pytest.raises(ValueError, match="per_side must be >= 2"):
        border_points(1)


def test_warp_shape_errors():
    with pytest.raises(ValueError, match="square"):
        warp_image(torch.rand(1, 3, 8, 9), torch.rand(1, 2, 2), torch.rand(1, 2, 2))
    with pytest.raises(ValueError, match="landmarks must be"):
        warp_image(torch.rand(1, 3, 8, 8), torch.rand(1, 2, 2), torch.rand(1, 3, 2))
