"""The complete configuration :class:`S2FConfig`, its ``paper``/``compact`` presets and JSON form.

The whole configuration is one :class:`S2FConfig`; it is saved (as JSON via
:meth:`S2FConfig.to_dict`) inside every checkpoint, so loading needs nothing else. Its
sections live in ``_config_sections.py`` (model and losses) and ``_train_config.py``
(training: :class:`TrainConfig` defines a run, :class:`RunSettings` says how this process runs
it); the validation helpers in ``_config_checks.py``. The names stay importable from here.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from s2f_model._config_checks import (
    AUX_REGRESSION,
    AUX_TARGETS,
    FACE_SIDES,
    PRECISIONS,
    REPRESENTATIONS,
    VGGFACE_MEAN,
    VOICE_OBJECTIVES,
    VOICE_POOLINGS,
    FaceSide,
    Precision,
    Representation,
    VoiceObjective,
    VoicePooling,
    check_dense_size,
)
from s2f_model._config_sections import (
    AudioConfig,
    DecoderConfig,
    FaceConfig,
    LossConfig,
    VoiceConfig,
)
from s2f_model._train_config import (
    RunSettings,
    TrainConfig,
    split_train_section,
    train_section,
)
from s2f_model.exceptions import ConfigError

__all__ = [
    "AUX_REGRESSION",
    "AUX_TARGETS",
    "FACE_SIDES",
    "PRECISIONS",
    "REPRESENTATIONS",
    "VGGFACE_MEAN",
    "VOICE_OBJECTIVES",
    "VOICE_POOLINGS",
    "AudioConfig",
    "DecoderConfig",
    "FaceConfig",
    "FaceSide",
    "LossConfig",
    "Precision",
    "Representation",
    "RunSettings",
    "S2FConfig",
    "TrainConfig",
    "VoiceConfig",
    "VoiceObjective",
    "VoicePooling",
]


@dataclass(frozen=True, kw_only=True)
class S2FConfig:
    """The complete Speech2Face configuration.

    Parameters
    ----------
    name : str
        Preset or run name (informational).
    audio, voice, face, decoder, loss, train
        The nested settings that define the run (:meth:`identity`).
    run : RunSettings
        How this process runs the training (device, log/checkpoint/validation cadence):
        not part of the run's identity. Serialised inside ``train`` (see :meth:`to_dict`).

    Examples
    --------
    >>> cfg = S2FConfig.compact()
    >>> S2FConfig.from_dict(cfg.to_dict()) == cfg
    True
    >>> S2FConfig.paper().audio.n_frames
    598
    """

    name: str = "paper"
    audio: AudioConfig = field(default_factory=AudioConfig)
    voice: VoiceConfig = field(default_factory=VoiceConfig)
    face: FaceConfig = field(default_factory=FaceConfig)
    decoder: DecoderConfig = field(default_factory=DecoderConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    run: RunSettings = field(default_factory=RunSettings)

    def __post_init__(self) -> None:
        check_dense_size(self)
        if self.voice.feature_dim != self.face.feature_dim:
            raise ConfigError(
                f"voice.feature_dim ({self.voice.feature_dim}) must equal face.feature_dim "
                f"({self.face.feature_dim}): the voice encoder predicts the face feature"
            )
        if self.loss.objective == "standardized" and not self.voice.standardize_output:
            raise ConfigError(
                "loss.objective='standardized' needs voice.standardize_output="
                "True (the encoder holds the target mean and std)"
            )
        aux, sizes = self.loss.aux_targets, self.voice.aux_classes
        if aux and self.loss.objective != "standardized":
            raise ConfigError(
                "loss.aux_targets need loss.objective='standardized' (the paper "
                "objective has no auxiliary heads)"
            )
        if sizes and len(sizes) != len(aux):
            raise ConfigError(
                f"voice.aux_classes has {len(sizes)} entries, expected one per "
                f"loss.aux_targets entry {list(aux)} (or none)"
            )
        for name, k in zip(aux, sizes, strict=False):
            if name in AUX_REGRESSION and k not in (0, 1):
                raise ConfigError(
                    f"voice.aux_classes for regression target {name!r} must be 0 or 1, got {k}"
                )

    @property
    def feature_dim(self) -> int:
        """Size of the shared face feature (voice encoder output, face encoder fc7)."""
        return self.face.feature_dim

    # ----------------------------------------------------------------- presets
    @classmethod
    def paper(cls) -> S2FConfig:
        """Return the paper's settings (6 s clips, 598x257x2 input, VGG-Face, 224 px faces)."""
        return cls(name="paper")

    @classmethod
    def compact(cls) -> S2FConfig:
        """Return a small, fast variant of the same structure for 2-core CPU training.

        3 s clips, compressed magnitude (1 channel), frequency strides, narrow convolutions,
        256-D features, 64 px faces, 64-D decoder first layer scaled accordingly. The voice
        objective departs from the paper's (docs/model.md, "Voice objective"): standardised
        targets plus auxiliary heads on gender, age group, language, accent and face size.
        The face side is the shipped pretrained one (``train.face_side="pretrained"``,
        docs/model.md, "Pretrained compact face side").
        """
        return cls(
            name="compact",
            audio=AudioConfig(clip_seconds=3.0, representation="magnitude"),
            voice=VoiceConfig(
                channels=(16, 32, 32, 64, 64, 64, 128, 128, 128),
                freq_strides=(2, 2, 2, 1, 1, 1, 1, 2, 2),
                time_strides=(2, 1, 1, 1, 1, 1, 1, 2, 2),
                time_pool=(False, False, True, True, False, False, False, False, False),
                hidden_dim=512,
                feature_dim=256,
                pool_first=True,
                channels_last=True,
                standardize_output=True,
                input_stats=True,
            ),
            face=FaceConfig(
                image_size=64,
                block_channels=(16, 32, 64, 128, 128),
                feature_dim=256,
                n_identities=512,
                dropout=0.1,
            ),
            decoder=DecoderConfig(
                image_size=64,
                first_dim=256,
                landmark_hidden=256,
                texture_start=8,
                texture_channels=128,
                min_channels=16,
                warp_grid_size=32,
            ),
            loss=LossConfig(
                objective="standardized",
                aux_targets=("gender", "age_group", "language", "accent", "face_size"),
            ),
            # Sized for the demo's budget (about 3 CPU-minutes per training on ~2,000 clips,
            # docs/benchmarks.md); raise the steps for better models.
            # face_side "pretrained": the shipped face side (s2f_model/weights, issue 14);
            # face_steps only apply with train.face_side="train"
            train=TrainConfig(
                batch_size=16,
                face_steps=300,
                voice_steps=250,
                lr_decay_every=100,
                face_side="pretrained",
            ),
        )

    @classmethod
    def preset(cls, name: Literal["paper", "compact"]) -> S2FConfig:
        """Return a named preset (``"paper"`` or ``"compact"``)."""
        presets = {"paper": cls.paper, "compact": cls.compact}
        if name not in presets:
            raise ConfigError(f"unknown preset {name!r}; expected one of {sorted(presets)}")
        return presets[name]()

    # ----------------------------------------------------------- (de)serialise
    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready nested dict (tuples become lists).

        The run settings are written inside ``train``, in the layout of checkpoint format 1
        (:data:`~s2f_model._train_config.TRAIN_LAYOUT`), so a checkpoint's config JSON and the
        audit's ``model.config`` read the same as before the two were separated.
        """
        data = _to_jsonable(dataclasses.asdict(self))
        run = data.pop("run")
        data["train"] = train_section(data["train"], run)
        return data

    def identity(self) -> dict[str, Any]:
        """Return the settings that define the run: :meth:`to_dict` without the run settings.

        Two configs with the same identity train the same weights (a resumed run must keep
        it); they may differ in device or in log, checkpoint and validation cadence.

        Examples
        --------
        >>> a = S2FConfig.compact()
        >>> a.replace(**{"train.checkpoint_every": 5}).identity() == a.identity()
        True
        """
        data = _to_jsonable(dataclasses.asdict(self))
        del data["run"]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> S2FConfig:
        """Rebuild a config from :meth:`to_dict` output; unknown keys raise.

        Missing keys take their defaults, so older checkpoints with fewer settings load.
        """
        if not isinstance(data, Mapping):
            raise ConfigError(f"config must be a mapping, got {type(data).__name__}")
        if "run" in data:
            raise ConfigError(
                "config: unknown key(s) ['run']; the run settings are read "
                "from the 'train' object (train.device, train.log_every, ...)"
            )
        data = dict(data)
        train = data.get("train", {})
        if isinstance(train, Mapping):
            data["train"], data["run"] = split_train_section(train)
        return _from_mapping(cls, data, "config")

    def replace(self, **overrides: Any) -> S2FConfig:
        """Return a copy with dotted-path overrides, e.g. ``{"face.n_identities": 150}``.

        Parameters
        ----------
        **overrides
            Keys ``"section.field"`` (or top-level ``"name"``); pass them with
            ``cfg.replace(**{"voice.feature_dim": 128, "face.feature_dim": 128})``.

        Returns
        -------
        S2FConfig
            A validated copy.
        """
        data = _to_jsonable(dataclasses.asdict(self))  # every key, optional ones too
        data["train"] = {**data["train"], **data.pop("run")}
        for key, value in overrides.items():
            parts = key.split(".")
            node: Any = data
            for part in parts[:-1]:
                if not isinstance(node, dict) or part not in node:
                    raise ConfigError(f"unknown config key {key!r}")
                node = node[part]
            if not isinstance(node, dict) or parts[-1] not in node:
                raise ConfigError(f"unknown config key {key!r}")
            node[parts[-1]] = _to_jsonable(value)
        return S2FConfig.from_dict(data)


def _to_jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_jsonable(v) for v in value]
    return value


def _from_mapping(cls: type, data: Mapping[str, Any], where: str) -> Any:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; expected some of {sorted(names)}")
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            if not isinstance(value, Mapping):
                raise ConfigError(f"{where}.{name} must be a mapping, got {value!r}")
            kwargs[name] = _from_mapping(hint, value, f"{where}.{name}")
        elif typing.get_origin(hint) is tuple:
            if not isinstance(value, (list, tuple)):
                raise ConfigError(f"{where}.{name} must be a list, got {value!r}")
            kwargs[name] = tuple(value)
        else:
            kwargs[name] = value
    try:
        return cls(**kwargs)
    except TypeError as err:
        raise ConfigError(f"{where}: {err}") from err
