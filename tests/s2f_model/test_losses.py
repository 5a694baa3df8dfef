"""Losses against hand computations."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from s2f_model import (
    DecoderLossWeights,
    S2FConfig,
    build_model,
    decoder_losses,
    speech2face_loss,
)
from s2f_model._face_decoder import FaceOutput


class _IdentityDecoder:
    def first_layer(self, x):
        return x


class _IdentityFC8:
    def logits(self, x):
        return x


def test_speech2face_loss_hand_worked_example():
    v_face = torch.tensor([[3.0, 4.0]])
    v_speech = torch.tensor([[0.0, 1.0]])
    out = speech2face_loss(
        v_speech, v_face, _IdentityDecoder(), _IdentityFC8(), lambda1=0.5, lambda2=2.0, T=2.0
    )
    # L1: |3 - 0| + |4 - 1| = 6.
    assert float(out.decoder_l1) == pytest.approx(6.0)
    # Normalised: (0.6, 0.8) vs (0, 1): 0.6^2 + 0.2^2 = 0.4.
    assert float(out.normalized_l2) == pytest.approx(0.4)
    # Teacher softmax([1.5, 2.0]), student softmax([0.0, 0.5]): the same distribution.
    p = np.exp([1.5, 2.0]) / np.exp([1.5, 2.0]).sum()
    ce = -(p * np.log(p)).sum()
    assert float(out.distillation_ce) == pytest.approx(ce, rel=1e-6)
    assert float(out.distillation) == pytest.approx(0.0, abs=1e-6)
    assert float(out.total) == pytest.approx(6.0 + 0.5 * 0.4 + 2.0 * 0.0, abs=1e-5)


@torch.no_grad()
def test_speech2face_loss_against_numpy_on_real_modules():
    model = build_model(S2FConfig.compact(), seed=0).eval()
    g = torch.Generator().manual_seed(1)
    v_face = torch.relu(torch.randn(5, 256, generator=g))
    v_speech = torch.randn(5, 256, generator=g)
    out = speech2face_loss(v_speech, v_face, model.face_decoder, model.face_encoder)
    f, s = v_face.double().numpy(), v_speech.double().numpy()
    w1 = model.face_decoder.fc_first.weight.detach().double().numpy()
    b1 = model.face_decoder.fc_first.bias.detach().double().numpy()
    w8 = model.face_encoder.fc8.weight.detach().double().numpy()
    b8 = model.face_encoder.fc8.bias.detach().double().numpy()
    dec = lambda x: np.maximum(x @ w1.T + b1, 0.0)  # noqa: E731
    l1 = np.abs(dec(f) - dec(s)).sum(1).mean()
    unit = lambda x: x / np.linalg.norm(x, axis=1, keepdims=True)  # noqa: E731
    l2 = ((unit(f) - unit(s)) ** 2).sum(1).mean()

    def log_softmax(z):
        z = z - z.max(1, keepdims=True)
        return z - np.log(np.exp(z).sum(1, keepdims=True))

    lp_f = log_softmax((f @ w8.T + b8) / 2.0)
    lp_s = log_softmax((s @ w8.T + b8) / 2.0)
    ce = -(np.exp(lp_f) * lp_s).sum(1).mean()
    kl = (np.exp(lp_f) * (lp_f - lp_s)).sum(1).mean()
    assert float(out.decoder_l1) == pytest.approx(l1, rel=1e-5)
    assert float(out.normalized_l2) == pytest.approx(l2, rel=1e-5)
    assert float(out.distillation_ce) == pytest.approx(ce, rel=1e-5)
    assert float(out.distillation) == pytest.approx(kl, rel=1e-4, abs=1e-7)
    assert float(out.total) == pytest.approx(l1 + 0.025 * l2 + 200 * kl, rel=1e-4)


def test_normalisation_is_per_sample_not_per_batch():
    v_face = torch.randn(4, 8)
    v_speech = torch.randn(4, 8)
    base = speech2face_loss(v_speech, v_face, _IdentityDecoder(), _IdentityFC8())
    scaled = v_speech.clone()
    scaled[0] *= 7.0  # rescaling one sample must not change the normalised term
    other = speech2face_loss(scaled, v_face, _IdentityDecoder(), _IdentityFC8())
    assert float(other.normalized_l2) == pytest.approx(float(base.normalized_l2), rel=1e-6)


def test_face_side_is_a_target_no_gradient_to_v_face():
    v_face = torch.randn(3, 6, requires_grad=True)
    v_speech = torch.randn(3, 6, requires_grad=True)
    speech2face_loss(v_speech, v_face, _IdentityDecoder(), _IdentityFC8()).total.backward()
    assert v_face.grad is None
    assert v_speech.grad is not None and float(v_speech.grad.abs().sum()) > 0


@torch.no_grad()
def test_equal_features_give_zero_loss():
    model = build_model(S2FConfig.compact(), seed=0).double().eval()
    v = torch.randn(4, 256, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    out = speech2face_loss(v, v, model.face_decoder, model.face_encoder)
    # Equal inputs take the same path through the decoder and the normalisation, so the L1
    # and L2 terms are exactly 0. The KL term is CE - H, two float64 sums over K classes of
    # terms whose exact values agree (log_softmax vs log of softmax differ by a few ulps of
    # |log p|): each sum is off by at most gamma_K * sum|p log p| <= gamma_K * log K (Higham),
    # so |total| <= lambda2 * (2 gamma_K + 8u) * log K, about 1.5e-10 here.
    u = 2.0**-53
    k = model.face_encoder.fc8.out_features
    gamma = k * u / (1 - k * u)
    assert float(out.decoder_l1) == 0.0 and float(out.normalized_l2) == 0.0
    assert abs(float(out.total)) <= 200.0 * (2 * gamma + 8 * u) * math.log(k)
    assert float(out.distillation_ce) > 1.0  # the teacher's entropy remains in the CE


def test_speech2face_loss_errors():
    with pytest.raises(ValueError, match=r"v_speech and v_face must both be \(batch, "):
        speech2face_loss(torch.zeros(2, 3), torch.zeros(2, 4), _IdentityDecoder(), _IdentityFC8())
    with pytest.raises(ValueError, match="temperature T must be > 0, got 0"):
        speech2face_loss(
            torch.zeros(2, 3), torch.zeros(2, 3), _IdentityDecoder(), _IdentityFC8(), T=0
        )


# ---------------------------------------------------------------- decoder losses
def _output(batch=2, size=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    return FaceOutput(
        torch.rand(batch, 3, size, size, generator=g),
        torch.rand(batch, 68, 2, generator=g) * 0.5 + 0.25,
        torch.rand(batch, 3, size, size, generator=g),
    )


def test_decoder_losses_hand_computed_image_mode():
    out = _output()
    g = torch.Generator().manual_seed(5)
    images = torch.rand(2, 3, 16, 16, generator=g)
    marks = torch.rand(2, 68, 2, generator=g)
    res = decoder_losses(
        out,
        images,
        marks,
        None,
        weights=DecoderLossWeights(landmark=3.0, texture=2.0),
        texture_target="image",
    )
    lm = ((out.landmarks - marks) ** 2).sum() / marks.numel()
    tex = (out.image - images).abs().sum() / images.numel()
    assert float(res.landmark) == pytest.approx(float(lm), rel=1e-6)
    assert float(res.texture) == pytest.approx(float(tex), rel=1e-6)
    assert float(res.embedding) == 0.0
    assert float(res.total) == pytest.approx(3 * float(lm) + 2 * float(tex), rel=1e-6)


def test_decoder_texture_target_is_the_face_unwarped_to_the_mean():
    out = _output()
    images = torch.rand(2, 3, 16, 16)
    mean = out.landmarks[0]
    marks = mean.expand(2, -1, -1).clone()  # faces already in mean geometry: target = image
    res = decoder_losses(out, images, marks, None, mean_face=mean, texture_target="texture")
    tex = (out.texture - images).abs().mean()
    assert float(res.texture) == pytest.approx(float(tex), abs=1e-5)
    with pytest.raises(ValueError, match="needs mean_face"):
        decoder_losses(out, images, marks, None, texture_target="texture")


@torch.no_grad()
def test_decoder_embedding_term_is_negative_cosine():
    model = build_model(S2FConfig.compact(), seed=0).eval()
    g = torch.Generator().manual_seed(2)
    out = FaceOutput(
        torch.rand(3, 3, 64, 64, generator=g),
        torch.rand(3, 68, 2, generator=g),
        torch.rand(3, 3, 64, 64, generator=g),
    )
    images = torch.rand(3, 3, 64, 64, generator=g)
    res = decoder_losses(
        out,
        images,
        out.landmarks,
        model.face_encoder,
        texture_target="image",
        weights=DecoderLossWeights(0.0, 0.0, 2.0),
    )
    with torch.no_grad():
        a = model.encode_face(out.image).double().numpy()
        b = model.encode_face(images).double().numpy()
    cos = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    assert float(res.embedding) == pytest.approx(-cos.mean(), rel=1e-5)
    assert float(res.total) == pytest.approx(-2 * cos.mean(), rel=1e-5)
    assert not math.isnan(float(res.total))


def test_decoder_losses_shape_errors():
    out = _output()
    with pytest.raises(ValueError, match=r"target images \(2, 3, 8, 8\) do not match"):
        decoder_losses(out, torch.rand(2, 3, 8, 8), out.landmarks, texture_target="image")
    with pytest.raises(ValueError, match=r"target landmarks \(2, 5, 2\) do not match"):
        decoder_losses(out, out.image, torch.rand(2, 5, 2), texture_target="image")
    with pytest.raises(ValueError, match="texture_target must be 'texture' or 'image'"):
        decoder_losses(out, out.image, out.landmarks, texture_target="pixels")  # type: ignore[arg-type]


# ------------------------------------------------ standardised voice objective (compact)
def test_standardized_voice_loss_hand_worked_example():
    from s2f_model import standardized_voice_loss

    z_s = torch.tensor([[1.0, 0.0], [0.0, 2.0]], dtype=torch.float64)
    z_f = torch.tensor([[1.0, 1.0], [0.0, 2.0]], dtype=torch.float64)
    # one head of 2 classes, one regression head; sample 2 has no class label
    aux = torch.tensor([[0.0, math.log(3.0), 0.5], [5.0, -5.0, -1.0]], dtype=torch.float64)
    labels = torch.tensor([[1.0, 1.5], [float("nan"), 0.0]], dtype=torch.float64)
    out = standardized_voice_loss(
        z_s,
        z_f,
        cosine_weight=2.0,
        aux_outputs=aux,
        aux_labels=labels,
        aux_classes=(2, 1),
        aux_weight=0.5,
    )
    mse = (0 + 1 + 0 + 0) / 4  # mean over batch and dimensions
    cos = 1 - (1 / math.sqrt(2) + 1) / 2  # cosines: 1/sqrt(2) and 1
    ce = -math.log(3 / 4)  # softmax([0, log 3])[1] = 3/4, only sample 1 labelled
    reg = ((0.5 - 1.5) ** 2 + (-1.0 - 0.0) ** 2) / 2
    assert float(out.mse) == pytest.approx(mse, abs=1e-12)
    assert float(out.cosine_distance) == pytest.approx(cos, abs=1e-12)
    assert float(out.auxiliary) == pytest.approx(ce + reg, abs=1e-12)
    assert float(out.total) == pytest.approx(mse + 2 * cos + 0.5 * (ce + reg), abs=1e-12)


def test_standardized_voice_loss_skips_empty_heads_and_detaches_target():
    from s2f_model import standardized_voice_loss

    z_s = torch.randn(3, 4, requires_grad=True)
    z_f = torch.randn(3, 4, requires_grad=True)
    aux = torch.randn(3, 3, requires_grad=True)
    labels = torch.full((3, 2), float("nan"))  # no labels at all: heads add 0
    out = standardized_voice_loss(z_s, z_f, aux_outputs=aux, aux_labels=labels, aux_classes=(3, 0))
    assert float(out.auxiliary) == 0.0
    out.total.backward()
    assert z_f.grad is None and z_s.grad is not None
    with pytest.raises(
        ValueError,
        match=r"aux_outputs \(3, 3\) and aux_labels \(3, 2\) must "
        r"be \(3, 4\) and \(3, 2\)",
    ):
        standardized_voice_loss(z_s, z_f, aux_outputs=aux, aux_labels=labels, aux_classes=(3, 1))
    with pytest.raises(ValueError, match="aux_classes given without"):
        standardized_voice_loss(z_s, z_f, aux_classes=(2,))
