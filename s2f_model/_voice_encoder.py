"""Voice encoder: compressed spectrogram -> face feature (the paper's layer table)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from s2f_model._config import VoiceConfig

__all__ = ["VoiceEncoder", "VoiceLayerShape", "voice_layer_table"]


@dataclass(frozen=True, kw_only=True)
class VoiceLayerShape:
    """One row of the voice encoder's layer table (output shape and parameter count)."""

    name: str
    channels: int
    freq: int
    time: int
    params: int


def _conv_out(size: int, kernel: int, stride: int) -> int:
    return (size - kernel) // stride + 1


def _head_rows(cfg: VoiceConfig, c: int, f: int, n_freq: int) -> list[VoiceLayerShape]:
    """Rows after the convolutions: time pooling, input statistics, fc1 and fc2.

    ``c`` and ``f`` are the last convolution's channels and frequency bins, ``n_freq`` the
    input's frequency bins (the input statistics branch has ``2 * n_freq`` values).
    """
    rows: list[VoiceLayerShape] = []
    pooled = "avgpool"
    if cfg.pooling == "mean_std":  # mean and std over time, side by side: 2c channels
        pooled, c = "meanstdpool", 2 * c
    rows.append(
        VoiceLayerShape(name=f"{pooled}_time+relu+bn", channels=c, freq=f, time=1, params=2 * c)
    )
    flat = c * f
    if cfg.input_stats:  # mean and std over time of each input bin's magnitude: 2F values
        rows.append(
            VoiceLayerShape(
                name="input_stats+bn", channels=2 * n_freq, freq=1, time=1, params=4 * n_freq
            )
        )
        flat += 2 * n_freq
    for name, n_in, n_out in (
        ("fc1", flat, cfg.hidden_dim),
        ("fc2", cfg.hidden_dim, cfg.feature_dim),
    ):
        rows.append(
            VoiceLayerShape(name=name, channels=n_out, freq=1, time=1, params=n_in * n_out + n_out)
        )
    return rows


def voice_layer_table(
    cfg: VoiceConfig, in_channels: int, n_freq: int, n_frames: int
) -> list[VoiceLayerShape]:
    """Compute output shapes and parameter counts layer by layer, without building tensors.

    Parameters
    ----------
    cfg : VoiceConfig
        Layer settings.
    in_channels, n_freq, n_frames : int
        Input spectrogram shape ``(channels, freq, frames)``.

    Returns
    -------
    list of VoiceLayerShape
        Rows for each convolution, time pool, the time pooling, the input statistics branch
        (``cfg.input_stats``: ``2 * n_freq`` channels, its BatchNorm's parameters) and both FC
        layers (the auxiliary heads of ``cfg.aux_classes`` are not listed).

    Raises
    ------
    ValueError
        If a layer would get an input smaller than its kernel.
    """
    rows: list[VoiceLayerShape] = []
    c, f, t = in_channels, n_freq, n_frames
    k = cfg.kernel_size
    last = len(cfg.channels) - 1
    for i, (out, sf, st, pool) in enumerate(
        zip(cfg.channels, cfg.freq_strides, cfg.time_strides, cfg.time_pool, strict=True)
    ):
        if f < k or t < k:
            raise ValueError(
                f"voice conv{i + 1} gets a {f} (freq) x {t} (time) input, smaller than its "
                f"{k}x{k} kernel; use longer clips, more frequency bins or fewer strides/pools"
            )
        f, t = _conv_out(f, k, sf), _conv_out(t, k, st)
        params = c * out * k * k + out + (2 * out if i != last else 0)  # conv + BatchNorm
        rows.append(
            VoiceLayerShape(name=f"conv{i + 1}", channels=out, freq=f, time=t, params=params)
        )
        c = out
        if pool:
            if t < 2:
                raise ValueError(f"voice pool after conv{i + 1} gets {t} frame(s), needs >= 2")
            t //= 2
            rows.append(VoiceLayerShape(name=f"pool{i + 1}", channels=c, freq=f, time=t, params=0))
    rows += _head_rows(cfg, c, f, n_freq)
    return rows


class VoiceEncoder(nn.Module):
    """Convolutional voice encoder of Speech2Face.

    ``(batch, in_channels, n_freq, frames) -> (batch, feature_dim)``. Time may differ from
    ``n_frames`` (the time axis is averaged out) but must leave every layer a valid input;
    channels and frequency bins must match the construction.

    Parameters
    ----------
    cfg : VoiceConfig
        Layer table.
    in_channels, n_freq, n_frames : int
        Expected input shape (``n_frames`` is used to check the table and size nothing).

    Examples
    --------
    >>> from s2f_model import S2FConfig
    >>> cfg = S2FConfig.compact()
    >>> enc = VoiceEncoder(cfg.voice, 1, 257, cfg.audio.n_frames)
    >>> enc(torch.zeros(2, 1, 257, cfg.audio.n_frames)).shape
    torch.Size([2, 256])
    """

    def __init__(self, cfg: VoiceConfig, in_channels: int, n_freq: int, n_frames: int) -> None:
        super().__init__()
        self.cfg = cfg
        self.in_channels = in_channels
        self.n_freq = n_freq
        self.table = voice_layer_table(cfg, in_channels, n_freq, n_frames)
        k = cfg.kernel_size
        last = len(cfg.channels) - 1
        layers: list[nn.Module] = []
        c = in_channels
        for i, (out, sf, st, pool) in enumerate(
            zip(cfg.channels, cfg.freq_strides, cfg.time_strides, cfg.time_pool, strict=True)
        ):
            block: list[nn.Module] = [nn.Conv2d(c, out, k, stride=(sf, st))]
            post: list[nn.Module] = [] if i == last else [nn.ReLU(), nn.BatchNorm2d(out)]
            pooling: list[nn.Module] = [nn.MaxPool2d((1, 2))] if pool else []
            block += pooling + post if cfg.pool_first else post + pooling
            layers += block
            c = out
        self.convs = nn.Sequential(*layers)
        self.out_freq = self.table[-4 if cfg.input_stats else -3].freq  # the time pooling's
        self.out_channels = c
        pooled = 2 * c if cfg.pooling == "mean_std" else c
        self.norm = nn.BatchNorm1d(pooled)
        stats = 2 * n_freq if cfg.input_stats else 0  # input statistics branch's width
        self.stats_norm = nn.BatchNorm1d(stats) if cfg.input_stats else None
        self.fc1 = nn.Linear(pooled * self.out_freq + stats, cfg.hidden_dim)
        self.fc2 = nn.Linear(cfg.hidden_dim, cfg.feature_dim)
        if cfg.standardize_output:
            self.register_buffer("target_mean", torch.zeros(cfg.feature_dim))
            self.register_buffer("target_std", torch.ones(cfg.feature_dim))
        self.aux_head = (
            nn.Linear(cfg.hidden_dim, sum(cfg.aux_classes)) if sum(cfg.aux_classes) else None
        )
        if cfg.channels_last:
            self.convs.to(memory_format=torch.channels_last)

    def set_target_stats(self, mean: Tensor, std: Tensor) -> None:
        """Store the training targets' per-dimension mean and std (``(feature_dim,)`` each).

        Only for ``cfg.standardize_output``; ``std`` must be positive (floor it first).
        """
        if not self.cfg.standardize_output:
            raise ValueError("set_target_stats needs voice.standardize_output=True")
        shape = (self.cfg.feature_dim,)
        if mean.shape != shape or std.shape != shape:
            raise ValueError(
                f"target mean and std must both be {shape}, got "
                f"{tuple(mean.shape)} and {tuple(std.shape)}"
            )
        if not bool((std > 0).all()):
            raise ValueError("target std must be > 0 in every dimension")
        self.target_mean.copy_(mean)
        self.target_std.copy_(std)

    @staticmethod
    def input_stats(spec: Tensor) -> Tensor:
        """Mean and std over time of each bin's magnitude: ``(batch, C, F, T) -> (batch, 2F)``.

        The magnitude is the Euclidean norm over the channels (real and imaginary parts of
        the compressed STFT), i.e. the input itself when ``C == 1`` and it is non-negative.
        """
        mag = spec[:, 0] if spec.shape[1] == 1 else torch.linalg.vector_norm(spec, dim=1)
        return torch.cat([mag.mean(dim=2), mag.std(dim=2, unbiased=False)], dim=1)

    def embed(self, spec: Tensor) -> Tensor:
        """First FC layer's activations: ``(batch, C, F, frames) -> (batch, hidden_dim)``.

        With ``cfg.input_stats`` the first FC layer also sees :meth:`input_stats` of ``spec``
        (after a BatchNorm), after the flattened convolution features.
        """
        if spec.ndim != 4 or spec.shape[1] != self.in_channels or spec.shape[2] != self.n_freq:
            raise ValueError(
                f"voice encoder expects (batch, {self.in_channels}, {self.n_freq}, frames), "
                f"got {tuple(spec.shape)}"
            )
        if self.cfg.channels_last:
            spec = spec.contiguous(memory_format=torch.channels_last)
        x = self.convs(spec)  # (batch, C, F', T')
        if self.cfg.pooling == "mean_std":  # statistics over time: (batch, 2C, F')
            x = torch.cat([x.mean(dim=3), x.std(dim=3, unbiased=False)], dim=1)
        else:
            x = x.mean(dim=3)  # average over time: (batch, C, F')
        x = self.norm(torch.relu(x))
        x = x.flatten(1)  # (batch, C * F'), channel-major
        if self.stats_norm is not None:  # (batch, C * F' + 2F)
            x = torch.cat([x, self.stats_norm(self.input_stats(spec))], dim=1)
        return torch.relu(self.fc1(x))

    def heads(self, hidden: Tensor) -> tuple[Tensor, Tensor | None]:
        """Standardised feature and auxiliary outputs from :meth:`embed`'s activations.

        ``(batch, hidden_dim) -> ((batch, feature_dim), (batch, sum(aux_classes)) or None)``.
        Without ``cfg.standardize_output`` the first output is the feature itself.
        """
        aux = None if self.aux_head is None else self.aux_head(hidden)
        return self.fc2(hidden), aux

    def unstandardize(self, z: Tensor) -> Tensor:
        """``(batch, feature_dim)`` standardised prediction -> face-feature scale."""
        if not self.cfg.standardize_output:
            return z
        return z * self.target_std + self.target_mean

    def forward(self, spec: Tensor) -> Tensor:
        """Encode ``(batch, in_channels, n_freq, frames)`` to ``(batch, feature_dim)``.

        The face feature on its own scale (un-standardised when ``cfg.standardize_output``).
        """
        return self.unstandardize(self.fc2(self.embed(spec)))
