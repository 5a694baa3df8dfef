"""The Speech2Face model (Oh et al., CVPR 2019) in PyTorch.

Audio front-end, voice encoder, face encoder (VGG-Face), face decoder (after Cole et al.
2017), losses, training and inference. Knows nothing about fairness.
"""

from s2f_model._config import (
    AudioConfig,
    DecoderConfig,
    FaceConfig,
    LossConfig,
    S2FConfig,
    TrainConfig,
    VoiceConfig,
)
from s2f_model._face_decoder import FaceDecoder, FaceOutput, default_mean_face
from s2f_model._face_encoder import (
    FaceEncoder,
    FaceEncoding,
    load_vggface_state_dict,
    vggface_key_shapes,
)
from s2f_model._frontend import AudioFrontEnd, fit_clip, random_clip_start
from s2f_model._losses import DecoderLoss, Speech2FaceLoss, decoder_losses, speech2face_loss
from s2f_model._model import Speech2Face, build_model
from s2f_model._voice_encoder import VoiceEncoder, VoiceLayerShape, voice_layer_table
from s2f_model._warp import border_points, tps_grid, warp_image
from s2f_model.exceptions import ConfigError, WeightImportError

__all__ = [
    "AudioConfig",
    "AudioFrontEnd",
    "ConfigError",
    "DecoderConfig",
    "DecoderLoss",
    "FaceConfig",
    "FaceDecoder",
    "FaceEncoder",
    "FaceEncoding",
    "FaceOutput",
    "LossConfig",
    "S2FConfig",
    "Speech2Face",
    "Speech2FaceLoss",
    "TrainConfig",
    "VoiceConfig",
    "VoiceEncoder",
    "VoiceLayerShape",
    "WeightImportError",
    "border_points",
    "build_model",
    "decoder_losses",
    "default_mean_face",
    "fit_clip",
    "load_vggface_state_dict",
    "random_clip_start",
    "speech2face_loss",
    "tps_grid",
    "vggface_key_shapes",
    "voice_layer_table",
    "warp_image",
]

# Training and serving (s2f_model/_train.py, _checkpoint.py, _predict.py) are written
# separately; each is exported once its module exists, so the package always imports. A module
# that exists but fails to import raises as usual.
try:
    from s2f_model._train import train
except ModuleNotFoundError as err:  # pragma: no cover - module not written yet
    if err.name != "s2f_model._train":
        raise
else:
    __all__ += ["train"]
try:
    from s2f_model._checkpoint import load_model, save_checkpoint
except ModuleNotFoundError as err:  # pragma: no cover - module not written yet
    if err.name != "s2f_model._checkpoint":
        raise
else:
    __all__ += ["load_model", "save_checkpoint"]
try:
    from s2f_model._predict import predict_faces
except ModuleNotFoundError as err:  # pragma: no cover - module not written yet
    if err.name != "s2f_model._predict":
        raise
else:
    __all__ += ["predict_faces"]
