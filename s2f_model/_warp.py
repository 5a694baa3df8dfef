"""Differentiable thin-plate-spline image warp (landmark-driven, fixed image border)."""

from __future__ import annotations

import torch
from torch import Tensor
from torch.nn import functional as F

__all__ = ["border_points", "tps_grid", "warp_image"]


def border_points(
    per_side: int, *, dtype: torch.dtype = torch.float32, device: torch.device | str | None = None
) -> Tensor:
    """Evenly spaced points on the border of the unit square, corners included.

    Parameters
    ----------
    per_side : int
        Points per side (>= 2), corners counted on each side once.

    Returns
    -------
    torch.Tensor
        ``(4 * (per_side - 1), 2)`` points ``(x, y)`` in ``[0, 1]``.
    """
    if per_side < 2:
        raise ValueError(f"per_side must be >= 2, got {per_side}")
    t = torch.linspace(0.0, 1.0, per_side, dtype=dtype, device=device)[:-1]  # (n-1,)
    zeros, ones = torch.zeros_like(t), torch.ones_like(t)
    top = torch.stack((t, zeros), 1)
    right = torch.stack((ones, t), 1)
    bottom = torch.stack((1.0 - t, ones), 1)
    left = torch.stack((zeros, 1.0 - t), 1)
    return torch.cat((top, right, bottom, left))  # (4 * (n - 1), 2)


def _tps_kernel(sq_dist: Tensor) -> Tensor:
    # U(r) = r^2 log r = 0.5 * r^2 * log(r^2), with U(0) = 0.
    return 0.5 * sq_dist * torch.log(sq_dist.clamp_min(1e-12))


def tps_grid(
    dst: Tensor,
    src: Tensor,
    size: int,
    regularization: float = 0.0,
    grid_size: int | None = None,
) -> Tensor:
    """Compute the thin-plate-spline sampling grid mapping ``dst`` control points to ``src``.

    Parameters
    ----------
    dst, src : torch.Tensor
        ``(batch, K, 2)`` control points ``(x, y)`` in ``[0, 1]`` (x right, y down): output
        pixels at ``dst[k]`` will sample the input at ``src[k]``.
    size : int
        Output height and width.
    regularization : float
        Smoothing added to the kernel diagonal (0 interpolates exactly).
    grid_size : int or None
        Evaluate the spline on a ``grid_size`` x ``grid_size`` grid of pixel centres and
        upsample its displacement bilinearly to ``size`` (much cheaper; the spline is
        smooth). ``None`` evaluates every output pixel exactly.

    Returns
    -------
    torch.Tensor
        ``(batch, size, size, 2)`` grid in ``[-1, 1]`` coordinates for ``grid_sample``
        (``align_corners=False``).
    """
    if dst.ndim != 3 or dst.shape[-1] != 2 or dst.shape != src.shape:
        raise ValueError(
            f"dst and src must both be (batch, K, 2), got {tuple(dst.shape)} and {tuple(src.shape)}"
        )
    if grid_size is not None and not 1 <= grid_size <= size:
        raise ValueError(f"grid_size must be in [1, {size}] or None, got {grid_size}")
    with torch.autocast(dst.device.type, enabled=False):  # coordinates need full precision
        return _tps_grid(dst, src, size, regularization, grid_size or size)


def _pixel_centres(size: int, dtype: torch.dtype, device: torch.device) -> Tensor:
    centres = (torch.arange(size, dtype=dtype, device=device) + 0.5) / size
    gy, gx = torch.meshgrid(centres, centres, indexing="ij")
    return torch.stack((gx, gy), -1)  # (size, size, 2), (x, y)


def _tps_grid(dst: Tensor, src: Tensor, size: int, regularization: float, grid_size: int) -> Tensor:
    batch, k, _ = dst.shape
    out_dtype = dst.dtype if dst.dtype in (torch.float32, torch.float64) else torch.float32
    p = dst.to(torch.float64)
    v = src.to(torch.float64)
    kernel = _tps_kernel((p[:, :, None] - p[:, None]).square().sum(-1))  # (batch, K, K)
    eye = torch.eye(k, dtype=p.dtype, device=p.device)
    ones = torch.ones(batch, k, 1, dtype=p.dtype, device=p.device)
    affine = torch.cat((ones, p), 2)  # (batch, K, 3)
    top = torch.cat((kernel + regularization * eye, affine), 2)  # (batch, K, K + 3)
    bottom = torch.cat((affine.transpose(1, 2), p.new_zeros(batch, 3, 3)), 2)  # (b, 3, K + 3)
    system = torch.cat((top, bottom), 1)  # (batch, K + 3, K + 3)
    rhs = torch.cat((v - p, v.new_zeros(batch, 3, 2)), 1)  # displacement, (batch, K + 3, 2)
    coef = torch.linalg.solve(system, rhs).to(out_dtype)  # (batch, K + 3, 2)
    w, a = coef[:, :k], coef[:, k:]
    pts = _pixel_centres(grid_size, out_dtype, dst.device).reshape(1, -1, 2)  # (1, G*G, 2)
    q = dst.to(out_dtype)
    # |g - q|^2 = |g|^2 + |q|^2 - 2 g.q, via one batched matmul: (batch, G*G, K)
    sq = (
        pts.square().sum(-1, keepdim=True)
        + q.square().sum(-1)[:, None]
        - 2.0 * pts @ q.transpose(1, 2)
    ).clamp_min(0.0)
    disp = _tps_kernel(sq) @ w + a[:, :1] + pts @ a[:, 1:]  # (batch, G*G, 2)
    disp = disp.reshape(batch, grid_size, grid_size, 2)
    if grid_size != size:
        disp = F.interpolate(
            disp.permute(0, 3, 1, 2), size=(size, size), mode="bilinear", align_corners=False
        ).permute(0, 2, 3, 1)  # (batch, S, S, 2)
    mapped = _pixel_centres(size, out_dtype, dst.device) + disp  # (batch, S, S, 2)
    return 2.0 * mapped - 1.0


def warp_image(
    image: Tensor,
    src_landmarks: Tensor,
    dst_landmarks: Tensor,
    *,
    border_per_side: int = 5,
    regularization: float = 1e-3,
    grid_size: int | None = None,
) -> Tensor:
    """Move image content from ``src_landmarks`` to ``dst_landmarks`` (border fixed).

    Parameters
    ----------
    image : torch.Tensor
        ``(batch, C, S, S)``.
    src_landmarks, dst_landmarks : torch.Tensor
        ``(batch, L, 2)`` in ``[0, 1]`` (x right, y down).
    border_per_side : int
        Fixed points per side of the image border (zero displacement there).
    regularization : float
        Thin-plate spline smoothing.
    grid_size : int or None
        Resolution at which the spline is evaluated (see :func:`tps_grid`).

    Returns
    -------
    torch.Tensor
        ``(batch, C, S, S)`` warped image; differentiable in the image and both landmark sets.

    Examples
    --------
    >>> img = torch.rand(1, 3, 16, 16)
    >>> marks = torch.rand(1, 5, 2) * 0.5 + 0.25
    >>> torch.allclose(warp_image(img, marks, marks, regularization=0.0), img, atol=1e-4)
    True
    """
    if image.ndim != 4 or image.shape[-1] != image.shape[-2]:
        raise ValueError(f"expected a square (batch, C, S, S) image, got {tuple(image.shape)}")
    if src_landmarks.shape != dst_landmarks.shape or src_landmarks.shape[0] != image.shape[0]:
        raise ValueError(
            f"landmarks must be (batch={image.shape[0]}, L, 2) each, got "
            f"{tuple(src_landmarks.shape)} and {tuple(dst_landmarks.shape)}"
        )
    batch = image.shape[0]
    border = border_points(
        border_per_side, dtype=dst_landmarks.dtype, device=dst_landmarks.device
    ).expand(batch, -1, -1)
    dst = torch.cat((dst_landmarks, border), 1)  # (batch, L + P, 2)
    src = torch.cat((src_landmarks, border), 1)
    grid = tps_grid(dst, src, image.shape[-1], regularization, grid_size)
    dtype = torch.promote_types(image.dtype, torch.float32)  # no half-precision coordinates
    return F.grid_sample(
        image.to(dtype), grid.to(dtype), mode="bilinear", padding_mode="border", align_corners=False
    )
