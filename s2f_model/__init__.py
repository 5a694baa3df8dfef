"""The Speech2Face model (Oh et al., CVPR 2019) in PyTorch.

Audio front-end, voice encoder, face encoder (VGG-Face), face decoder (after Cole et al.
2017), losses, training and inference. Knows nothing about fairness.
"""

from s2f_model._checkpoint import (
    LoadedCheckpoint,
    ResumeState,
    find_checkpoint,
    load_checkpoint,
    load_model,
    require_finished,
    save_checkpoint,
    training_info,
)
from s2f_model._config import (
    AudioConfig,
    DecoderConfig,
    FaceConfig,
    LossConfig,
    RunSettings,
    S2FConfig,
    TrainConfig,
    VoiceConfig,
)
from s2f_model._data import (
    FaceDataset,
    VoiceFaceDataset,
    load_voice_face_data,
    training_identities,
)
from s2f_model._distributed import (
    DistContext,
    barrier,
    init_distributed,
    resolve_device,
    shutdown,
    world_from_env,
)
from s2f_model._face_decoder import FaceDecoder, FaceOutput, default_mean_face
from s2f_model._face_encoder import (
    FaceEncoder,
    FaceEncoding,
    load_vggface_state_dict,
    vggface_key_shapes,
)
from s2f_model._face_images import images_to_uint8
from s2f_model._face_side import FaceSideResult, FaceSideSettings, pretrain_face_side
from s2f_model._face_side_io import (
    load_face_side,
    load_face_side_model,
    save_face_side,
    shipped_card_path,
    shipped_weights_path,
    write_face_side_run,
)
from s2f_model._frontend import AudioFrontEnd, fit_clip, random_clip_start
from s2f_model._losses import (
    DecoderLoss,
    DecoderLossWeights,
    Speech2FaceLoss,
    StandardizedVoiceLoss,
    WarpSettings,
    decoder_losses,
    speech2face_loss,
    standardized_voice_loss,
)
from s2f_model._model import Speech2Face, build_model
from s2f_model._predict import PredictionReport, predict_faces
from s2f_model._train import (
    STAGES,
    TRAINING_STAGES,
    TrainingData,
    TrainingStage,
    TrainResult,
    augment_faces,
    evaluate,
    init_face_encoder,
    load_training_data,
    train,
    train_seeds,
    train_step,
)
from s2f_model._voice_encoder import VoiceEncoder, VoiceLayerShape, voice_layer_table
from s2f_model._warp import border_points, tps_grid, warp_image
from s2f_model.exceptions import (
    CheckpointError,
    ConfigError,
    TrainingError,
    WeightImportError,
)

__all__ = [
    "STAGES",
    "TRAINING_STAGES",
    "AudioConfig",
    "AudioFrontEnd",
    "CheckpointError",
    "ConfigError",
    "DecoderConfig",
    "DecoderLoss",
    "DecoderLossWeights",
    "DistContext",
    "FaceConfig",
    "FaceDataset",
    "FaceDecoder",
    "FaceEncoder",
    "FaceEncoding",
    "FaceOutput",
    "FaceSideResult",
    "FaceSideSettings",
    "LoadedCheckpoint",
    "LossConfig",
    "PredictionReport",
    "ResumeState",
    "RunSettings",
    "S2FConfig",
    "Speech2Face",
    "Speech2FaceLoss",
    "StandardizedVoiceLoss",
    "TrainConfig",
    "TrainResult",
    "TrainingData",
    "TrainingError",
    "TrainingStage",
    "VoiceConfig",
    "VoiceEncoder",
    "VoiceFaceDataset",
    "VoiceLayerShape",
    "WarpSettings",
    "WeightImportError",
    "augment_faces",
    "barrier",
    "border_points",
    "build_model",
    "decoder_losses",
    "default_mean_face",
    "evaluate",
    "find_checkpoint",
    "fit_clip",
    "images_to_uint8",
    "init_distributed",
    "init_face_encoder",
    "load_checkpoint",
    "load_face_side",
    "load_face_side_model",
    "load_model",
    "load_training_data",
    "load_vggface_state_dict",
    "load_voice_face_data",
    "predict_faces",
    "pretrain_face_side",
    "random_clip_start",
    "require_finished",
    "resolve_device",
    "save_checkpoint",
    "save_face_side",
    "shipped_card_path",
    "shipped_weights_path",
    "shutdown",
    "speech2face_loss",
    "standardized_voice_loss",
    "tps_grid",
    "train",
    "train_seeds",
    "train_step",
    "training_identities",
    "training_info",
    "vggface_key_shapes",
    "voice_layer_table",
    "warp_image",
    "world_from_env",
    "write_face_side_run",
]
