"""The Speech2Face model: front-end, voice encoder, face encoder and face decoder."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from s2f_model._config import S2FConfig
from s2f_model._face_decoder import FaceDecoder, FaceOutput
from s2f_model._face_encoder import FaceEncoder
from s2f_model._frontend import AudioFrontEnd
from s2f_model._voice_encoder import VoiceEncoder

__all__ = ["Speech2Face", "build_model"]


class Speech2Face(nn.Module):
    """Voice -> face feature -> face image, after Oh et al. (CVPR 2019).

    Parameters
    ----------
    cfg : S2FConfig
        The complete configuration (kept as ``self.cfg``).

    Attributes
    ----------
    frontend : AudioFrontEnd
    voice_encoder : VoiceEncoder
    face_encoder : FaceEncoder
    face_decoder : FaceDecoder

    Examples
    --------
    >>> model = build_model(S2FConfig.compact()).eval()
    >>> feats = model.encode_voice(torch.randn(2, 16000))
    >>> feats.shape, model.decode(feats).image.shape
    (torch.Size([2, 256]), torch.Size([2, 3, 64, 64]))
    """

    def __init__(self, cfg: S2FConfig) -> None:
        super().__init__()
        self.cfg = cfg
        a = cfg.audio
        self.frontend = AudioFrontEnd(a)
        self.voice_encoder = VoiceEncoder(cfg.voice, a.n_channels, a.n_freq, a.n_frames)
        self.face_encoder = FaceEncoder(cfg.face)
        self.face_decoder = FaceDecoder(cfg.decoder, cfg.feature_dim)

    @property
    def sample_rate(self) -> int:
        """Audio rate the model expects (Hz)."""
        return self.cfg.audio.sample_rate

    def spectrogram(self, wave: Tensor, sample_rate: int | None = None) -> Tensor:
        """Clip policy + front-end: ``(batch, samples) -> (batch, channels, freq, frames)``.

        Shorter clips are looped and longer ones cropped from the start to
        ``cfg.audio.clip_seconds`` (crop before calling for a random window).
        """
        if wave.ndim != 2:
            raise ValueError(f"expected a (batch, samples) waveform, got shape {tuple(wave.shape)}")
        if sample_rate is not None and sample_rate != self.sample_rate:
            raise ValueError(
                f"audio at {sample_rate} Hz given to a model expecting {self.sample_rate} Hz; "
                f"resample when loading"
            )
        return self.frontend(self.frontend.fit_clip(wave))

    def encode_voice(self, wave: Tensor, sample_rate: int | None = None) -> Tensor:
        """Voice feature: ``(batch, samples)`` at ``cfg.audio.sample_rate`` -> ``(batch, D)``."""
        return self.voice_encoder(self.spectrogram(wave, sample_rate))

    def encode_face(self, images: Tensor) -> Tensor:
        """Face feature (fc7): ``(batch, 3, H, W)`` in [0, 1] -> ``(batch, D)``."""
        return self.face_encoder.features(images)

    def face_logits(self, features: Tensor) -> Tensor:
        """Identity logits (fc8): ``(batch, D) -> (batch, n_identities)``."""
        return self.face_encoder.logits(features)

    def decode(self, features: Tensor) -> FaceOutput:
        """Face from a feature: ``(batch, D)`` -> :class:`FaceOutput` (image, landmarks, ...)."""
        return self.face_decoder(features)

    def forward(self, wave: Tensor, sample_rate: int | None = None) -> FaceOutput:
        """Voice to face: ``(batch, samples)`` -> :class:`FaceOutput`."""
        return self.decode(self.encode_voice(wave, sample_rate))


def build_model(cfg: S2FConfig, seed: int | None = None) -> Speech2Face:
    """Build a freshly initialised :class:`Speech2Face` deterministically.

    Parameters
    ----------
    cfg : S2FConfig
        Configuration.
    seed : int or None
        Initialisation seed (default ``cfg.train.seed``). The global RNG state is left as
        it was.

    Returns
    -------
    Speech2Face
        In training mode, on the CPU, float32.

    Examples
    --------
    >>> a = build_model(S2FConfig.compact(), seed=1)
    >>> b = build_model(S2FConfig.compact(), seed=1)
    >>> torch.equal(a.voice_encoder.fc2.weight, b.voice_encoder.fc2.weight)
    True
    """
    seed = cfg.train.seed if seed is None else seed
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise ValueError(f"seed must be an int, got {seed!r}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return Speech2Face(cfg)
