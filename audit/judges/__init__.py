"""Measurement instruments that look at faces: attribute judges and landmark detectors.

Importing this package needs neither torch nor the real-face packages; they are imported
when a judge is built. Real-face judges need the optional extra ``judges``
(``pip install 's2f-audit[judges]'``).
"""

from audit.judges._biaslab import (
    BIASLAB_VOCABULARIES,
    BiasLabJudge,
    JudgeTrainConfig,
    load_judge,
    render_judge_dataset,
    train_biaslab_judge,
)
from audit.judges._calibration import expected_calibration_error, fit_temperature
from audit.judges._errors import JudgeError, MissingJudgeDependencyError
from audit.judges._plugins import (
    ENTRY_POINT_GROUP,
    available_judge_plugins,
    get_judge,
    load_judge_plugin,
    real_face_judge,
)
from audit.judges._protocol import (
    CombinedJudge,
    Judge,
    check_images,
    check_probabilities,
    judge_labels,
)
from audit.judges._real import (
    AGE_BINS,
    AgeGenderJudge,
    DlibLandmarker,
    MediaPipeFaceMesh,
    face_recognition_models_dir,
)
from audit.judges._shipped import shipped_judge, shipped_judge_sha256

__all__ = [
    "AGE_BINS",
    "BIASLAB_VOCABULARIES",
    "ENTRY_POINT_GROUP",
    "AgeGenderJudge",
    "BiasLabJudge",
    "CombinedJudge",
    "DlibLandmarker",
    "Judge",
    "JudgeError",
    "JudgeTrainConfig",
    "MediaPipeFaceMesh",
    "MissingJudgeDependencyError",
    "available_judge_plugins",
    "check_images",
    "check_probabilities",
    "expected_calibration_error",
    "face_recognition_models_dir",
    "fit_temperature",
    "get_judge",
    "judge_labels",
    "load_judge",
    "load_judge_plugin",
    "real_face_judge",
    "render_judge_dataset",
    "shipped_judge",
    "shipped_judge_sha256",
    "train_biaslab_judge",
]
