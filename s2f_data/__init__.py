"""Data layer: the manifest format, atomic writes, loaders, adapters and the bias lab.

Everything downstream reads one format, the manifest (one row per utterance). Loaders turn
any audio file into mono float32 at 16 kHz and any image into RGB; batch helpers list every
bad file in an error table instead of stopping.
"""

from s2f_data._atomic import atomic_open, atomic_write_bytes, atomic_write_text
from s2f_data._audio import (
    SAMPLE_RATE_RANGE,
    VIDEO_SUFFIXES,
    AudioFileInfo,
    Clip,
    ClipPolicy,
    audio_info,
    decode_audio,
    fit_clip,
    load_audio,
    load_clip,
    resample,
    to_mono,
)
from s2f_data._batch import (
    BatchResult,
    check_media,
    load_audio_batch,
    load_face_batch,
    run_batch,
)
from s2f_data._cache import FeatureCache, file_digest
from s2f_data._crop import crop_around
from s2f_data._files import path_problem, printable_path
from s2f_data._images import load_face, prepare_face, to_rgb
from s2f_data._manifest import (
    DEMOGRAPHIC_COLUMNS,
    MANIFEST_SCHEMA_VERSION,
    REQUIRED_COLUMNS,
    SPLITS,
    Manifest,
    ManifestInfo,
    ManifestIssue,
    read_manifest,
    sidecar_path,
    validate_manifest,
    write_manifest,
)
from s2f_data._quality import (
    QUALITY_FLAGS,
    AudioQuality,
    QualityThresholds,
    assess_audio,
    assess_wave,
    load_audio_checked,
)
from s2f_data._video import VideoInfo, save_frame, video_frame, video_info
from s2f_data._wds import ShardStream, read_shard, rows_digest, write_shards
from s2f_data.exceptions import BatchError, DataFormatError, ManifestError, ShardError

__all__ = [
    "DEMOGRAPHIC_COLUMNS",
    "MANIFEST_SCHEMA_VERSION",
    "QUALITY_FLAGS",
    "REQUIRED_COLUMNS",
    "SAMPLE_RATE_RANGE",
    "SPLITS",
    "VIDEO_SUFFIXES",
    "AudioFileInfo",
    "AudioQuality",
    "BatchError",
    "BatchResult",
    "Clip",
    "ClipPolicy",
    "DataFormatError",
    "FeatureCache",
    "Manifest",
    "ManifestError",
    "ManifestInfo",
    "ManifestIssue",
    "QualityThresholds",
    "ShardError",
    "ShardStream",
    "VideoInfo",
    "assess_audio",
    "assess_wave",
    "atomic_open",
    "atomic_write_bytes",
    "atomic_write_text",
    "audio_info",
    "check_media",
    "crop_around",
    "decode_audio",
    "file_digest",
    "fit_clip",
    "load_audio",
    "load_audio_batch",
    "load_audio_checked",
    "load_clip",
    "load_face",
    "load_face_batch",
    "path_problem",
    "prepare_face",
    "printable_path",
    "read_manifest",
    "read_shard",
    "resample",
    "rows_digest",
    "run_batch",
    "save_frame",
    "sidecar_path",
    "to_mono",
    "to_rgb",
    "validate_manifest",
    "video_frame",
    "video_info",
    "write_manifest",
    "write_shards",
]
