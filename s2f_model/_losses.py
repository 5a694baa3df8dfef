"""Losses: the Speech2Face voice-encoder loss and the face-decoder losses (Cole et al.)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple

import torch
from torch import Tensor
from torch.nn import functional as F

from s2f_model._face_decoder import FaceDecoder, FaceOutput
from s2f_model._face_encoder import FaceEncoder
from s2f_model._warp import warp_image

__all__ = [
    "DecoderLoss",
    "DecoderLossWeights",
    "Speech2FaceLoss",
    "StandardizedVoiceLoss",
    "WarpSettings",
    "decoder_losses",
    "speech2face_loss",
    "standardized_voice_loss",
]


class Speech2FaceLoss(NamedTuple):
    """Total voice-encoder loss and its unweighted parts (each a scalar tensor).

    ``distillation`` is ``KL(p_face || p_speech)``, the paper's cross-entropy
    ``distillation_ce`` minus the teacher's entropy (a constant for the voice encoder: same
    gradient, but 0 at a perfect match). ``total`` uses ``distillation``.
    """

    total: Tensor
    decoder_l1: Tensor
    normalized_l2: Tensor
    distillation: Tensor
    distillation_ce: Tensor


class StandardizedVoiceLoss(NamedTuple):
    """Total of the standardised voice objective and its unweighted parts (scalars).

    ``auxiliary`` is the sum over the auxiliary heads (0 without heads).
    """

    total: Tensor
    mse: Tensor
    cosine_distance: Tensor
    auxiliary: Tensor


class DecoderLoss(NamedTuple):
    """Total face-decoder loss and its unweighted parts (each a scalar tensor)."""

    total: Tensor
    landmark: Tensor
    texture: Tensor
    embedding: Tensor


@dataclass(frozen=True)
class DecoderLossWeights:
    """Weights of the three face-decoder terms (Cole et al.): landmarks, texture, embedding."""

    landmark: float = 100.0
    texture: float = 1.0
    embedding: float = 1.0


@dataclass(frozen=True)
class WarpSettings:
    """Thin-plate warp of the texture target (:func:`~s2f_model._warp.warp_image`).

    Use the decoder's ``warp_border_points``, ``warp_regularization`` and (optionally)
    ``warp_grid_size``; ``grid_size=None`` evaluates the spline at every pixel.
    """

    border_per_side: int = 5
    regularization: float = 1e-3
    grid_size: int | None = None


def _check_pair(a: Tensor, b: Tensor, names: str) -> None:
    if a.ndim != 2 or a.shape != b.shape:
        raise ValueError(
            f"{names} must both be (batch, feature_dim), got {tuple(a.shape)} and {tuple(b.shape)}"
        )


def speech2face_loss(
    v_speech: Tensor,
    v_face: Tensor,
    decoder: FaceDecoder,
    face_encoder: FaceEncoder,
    lambda1: float = 0.025,
    lambda2: float = 200.0,
    T: float = 2.0,
) -> Speech2FaceLoss:
    """Compute the paper's loss for the voice encoder.

    ``L = |f_dec(v_f) - f_dec(v_s)|_1 + lambda1 * |v_f/|v_f| - v_s/|v_s||_2^2
    + lambda2 * CE(softmax(fc8(v_f)/T), softmax(fc8(v_s)/T))``, with the cross-entropy
    replaced by the KL divergence (the same up to the teacher's entropy, a constant for the
    voice encoder, so the gradients are the paper's and the loss is 0 at a perfect match;
    the cross-entropy is returned too). Norms are taken per sample
    (sums over the feature axis) and averaged over the batch; features are L2-normalised
    per sample (not over the batch); ``f_dec`` is the decoder's first layer (after ReLU);
    ``v_face`` is a target (detached). Dropout in ``fc8`` follows the encoder's mode: keep
    the frozen face side in ``eval()``.

    Parameters
    ----------
    v_speech : torch.Tensor
        ``(batch, feature_dim)`` voice-encoder output.
    v_face : torch.Tensor
        ``(batch, feature_dim)`` face-encoder fc7 features of the matching faces.
    decoder : FaceDecoder
        Supplies ``first_layer``.
    face_encoder : FaceEncoder
        Supplies ``logits`` (fc8).
    lambda1, lambda2 : float
        Weights of the normalised-L2 and distillation terms.
    T : float
        Distillation temperature.

    Returns
    -------
    Speech2FaceLoss
        ``total`` and the unweighted ``decoder_l1``, ``normalized_l2``, ``distillation``
        (KL) and ``distillation_ce``.

    Examples
    --------
    >>> from s2f_model import S2FConfig, build_model
    >>> m = build_model(S2FConfig.compact()).eval()
    >>> v = torch.randn(4, 256)
    >>> out = speech2face_loss(v, v, m.face_decoder, m.face_encoder)
    >>> abs(float(out.total.detach())) < 1e-5
    True
    """
    _check_pair(v_speech, v_face, "v_speech and v_face")
    if not T > 0:
        raise ValueError(f"temperature T must be > 0, got {T}")
    target = v_face.detach()
    with torch.no_grad():
        dec_face = decoder.first_layer(target)
        p_face = F.softmax(face_encoder.logits(target) / T, dim=1)
    dec_speech = decoder.first_layer(v_speech)
    l1 = (dec_face - dec_speech).abs().sum(1).mean()
    l2 = (F.normalize(target, dim=1) - F.normalize(v_speech, dim=1)).square().sum(1).mean()
    log_p_speech = F.log_softmax(face_encoder.logits(v_speech) / T, dim=1)
    ce = -(p_face * log_p_speech).sum(1).mean()
    teacher_entropy = -(p_face * torch.log(p_face.clamp_min(1e-30))).sum(1).mean()
    kl = ce - teacher_entropy
    total = l1 + lambda1 * l2 + lambda2 * kl
    return Speech2FaceLoss(total, l1, l2, kl, ce)


def standardized_voice_loss(
    z_speech: Tensor,
    z_face: Tensor,
    *,
    cosine_weight: float = 1.0,
    aux_outputs: Tensor | None = None,
    aux_labels: Tensor | None = None,
    aux_classes: tuple[int, ...] = (),
    aux_weight: float = 1.0,
) -> StandardizedVoiceLoss:
    """Voice objective on standardised targets, with optional auxiliary heads.

    ``L = mean_d (z_s - z_f)^2 + cosine_weight * (1 - cos(z_s, z_f))
    + aux_weight * sum_heads L_head``, batch means throughout. ``z_face`` is the face
    feature standardised per dimension with the training set's mean and std (a target:
    detached), so every dimension weighs the same whatever its scale. A head with ``k > 1``
    outputs is a classification (cross-entropy on integer labels), ``k == 1`` a regression
    (squared error), ``k == 0`` is skipped; rows whose label is NaN are left out of that
    head (a head without any labelled row adds 0).

    Parameters
    ----------
    z_speech, z_face : torch.Tensor
        ``(batch, feature_dim)`` standardised prediction and target.
    cosine_weight : float
        Weight of the cosine distance.
    aux_outputs : torch.Tensor or None
        ``(batch, sum(aux_classes))`` head outputs, heads side by side in order.
    aux_labels : torch.Tensor or None
        ``(batch, len(aux_classes))`` float labels: class index or regression value, NaN
        where unknown.
    aux_classes : tuple of int
        Outputs of each head.
    aux_weight : float
        Weight of each head's loss.

    Returns
    -------
    StandardizedVoiceLoss

    Examples
    --------
    >>> z = torch.randn(4, 8)
    >>> float(standardized_voice_loss(z, z).total) < 1e-6
    True
    """
    _check_pair(z_speech, z_face, "z_speech and z_face")
    target = z_face.detach()
    mse = (z_speech - target).square().mean()
    cos = 1.0 - F.cosine_similarity(z_speech, target, dim=1).mean()
    aux = mse.new_zeros(())
    if sum(aux_classes):
        if aux_outputs is None or aux_labels is None:
            raise ValueError("aux_classes given without aux_outputs and aux_labels")
        batch = z_speech.shape[0]
        if aux_outputs.shape != (batch, sum(aux_classes)) or aux_labels.shape != (
            batch,
            len(aux_classes),
        ):
            raise ValueError(
                f"aux_outputs {tuple(aux_outputs.shape)} and aux_labels "
                f"{tuple(aux_labels.shape)} must be ({batch}, {sum(aux_classes)}) and "
                f"({batch}, {len(aux_classes)})"
            )
        aux = aux + _aux_loss(aux_outputs, aux_labels, aux_classes)
    total = mse + cosine_weight * cos + aux_weight * aux
    return StandardizedVoiceLoss(total, mse, cos, aux)


def _aux_loss(outputs: Tensor, labels: Tensor, classes: tuple[int, ...]) -> Tensor:
    """Sum of the heads' losses: cross-entropy (k > 1) or squared error (k == 1)."""
    total = outputs.new_zeros(())
    start = 0
    for j, k in enumerate(classes):
        out = outputs[:, start : start + k]  # (batch, k)
        start += k
        known = ~torch.isnan(labels[:, j])
        if k == 0 or not bool(known.any()):
            continue
        if k == 1:
            total = total + (out[known, 0] - labels[known, j]).square().mean()
        else:
            total = total + F.cross_entropy(out[known], labels[known, j].long())
    return total


def decoder_losses(
    output: FaceOutput,
    images: Tensor,
    landmarks: Tensor,
    face_encoder: FaceEncoder | None = None,
    *,
    mean_face: Tensor | None = None,
    weights: DecoderLossWeights = DecoderLossWeights(),
    texture_target: Literal["texture", "image"] = "texture",
    warp: WarpSettings = WarpSettings(),
) -> DecoderLoss:
    """Face-decoder losses of Cole et al.: landmark MSE, texture L1, embedding similarity.

    Parameters
    ----------
    output : FaceOutput
        Decoder output for a batch.
    images : torch.Tensor
        ``(batch, 3, S, S)`` true faces in ``[0, 1]``.
    landmarks : torch.Tensor
        ``(batch, 68, 2)`` their normalised landmarks.
    face_encoder : FaceEncoder or None
        For the embedding term: ``-cos(fc7(output.image), fc7(images))`` (batch mean);
        ``None`` (or ``weights.embedding=0``) skips it (reported as 0).
    mean_face : torch.Tensor or None
        ``(68, 2)``, required for ``texture_target="texture"``.
    weights : DecoderLossWeights
        Term weights.
    texture_target : {"texture", "image"}
        ``"texture"`` (Cole et al.): L1 between ``output.texture`` and the true face warped
        from its landmarks to the mean face; ``"image"``: L1 between ``output.image`` and the
        true face.
    warp : WarpSettings
        Warp settings for the texture target (use the decoder's ``warp_*`` settings).

    Returns
    -------
    DecoderLoss
        ``total`` and the unweighted ``landmark`` (mean squared error per coordinate),
        ``texture`` (mean absolute error per pixel and channel) and ``embedding``.
    """
    if images.shape != output.image.shape:
        raise ValueError(
            f"target images {tuple(images.shape)} do not match output {tuple(output.image.shape)}"
        )
    if landmarks.shape != output.landmarks.shape:
        raise ValueError(
            f"target landmarks {tuple(landmarks.shape)} do not match output "
            f"{tuple(output.landmarks.shape)}"
        )
    if texture_target not in {"texture", "image"}:
        raise ValueError(f"texture_target must be 'texture' or 'image', got {texture_target!r}")
    lm = F.mse_loss(output.landmarks, landmarks)
    if texture_target == "texture":
        if mean_face is None:
            raise ValueError("texture_target='texture' needs mean_face (the decoder's)")
        batch = images.shape[0]
        mean = mean_face.to(images.dtype).expand(batch, -1, -1)
        with torch.no_grad():
            target = warp_image(
                images,
                landmarks,
                mean,
                border_per_side=warp.border_per_side,
                regularization=warp.regularization,
                grid_size=warp.grid_size,
            )
        tex = F.l1_loss(output.texture, target)
    else:
        tex = F.l1_loss(output.image, images)
    if face_encoder is not None and weights.embedding > 0:
        with torch.no_grad():
            true_emb = face_encoder.features(images)
        emb = -F.cosine_similarity(face_encoder.features(output.image), true_emb, dim=1).mean()
    else:
        emb = lm.new_zeros(())
    total = weights.landmark * lm + weights.texture * tex + weights.embedding * emb
    return DecoderLoss(total, lm, tex, emb)
