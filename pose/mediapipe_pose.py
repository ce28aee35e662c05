"""MediaPipe Pose (legacy `solutions.pose` API, models inside the mediapipe==0.10.14 wheel, runs offline)."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np

from pose.estimator import NOBODY, FramePose

MEDIAPIPE_JOINTS = 33
# BlazePose landmark models by name: the wheel ships only "full"; pose/extra-models.sh adds the other two.
MODEL_COMPLEXITY = {"lite": 0, "full": 1, "heavy": 2}


def estimator_for(model: str) -> str:
    """The ESTIMATORS name of a landmark model: "mediapipe" for full (the default), "mediapipe-lite", ..."""
    return "mediapipe" if model == "full" else f"mediapipe-{model}"


def landmark_model_file(model: str) -> Path:
    """Where mediapipe's legacy API looks for the landmark model `model` (lite, full or heavy)."""
    import mediapipe

    return Path(mediapipe.__file__).parent / "modules" / "pose_landmark" / f"pose_landmark_{model}.tflite"


class MediaPipePose:
    """BlazePose in video mode (tracking across frames), one person per frame; model lite, full or heavy."""

    joints = "mediapipe33"

    def __init__(self, model: str = "full", min_detection_confidence: float = 0.5,
                 min_tracking_confidence: float = 0.5) -> None:
        try:
            from mediapipe.python.solutions import pose as mp_pose
        except ImportError as exc:  # pragma: no cover - depends on the interpreter
            raise RuntimeError("mediapipe is not installed in this interpreter: pip install 'mediapipe==0.10.14' "
                               "(see docs/skeletons.md, 'Video in')") from exc
        if model not in MODEL_COMPLEXITY:
            raise RuntimeError(f"unknown MediaPipe model {model!r}: one of {', '.join(MODEL_COMPLEXITY)}")
        if not landmark_model_file(model).exists():
            # mediapipe would try to download it, which fails offline with an unrelated message
            raise RuntimeError(f"the MediaPipe {model} model is not installed: run pose/extra-models.sh "
                               f"(docs/skeletons.md, 'Video in')")
        self.name = "mediapipe-pose" if model == "full" else f"mediapipe-pose-{model}"
        self._pose = mp_pose.Pose(static_image_mode=False, model_complexity=MODEL_COMPLEXITY[model],
                                  smooth_landmarks=True, min_detection_confidence=min_detection_confidence,
                                  min_tracking_confidence=min_tracking_confidence)

    def estimate(self, rgb: np.ndarray) -> FramePose:
        """Image landmarks in pixels and world landmarks in metres of the person MediaPipe tracks."""
        result = self._pose.process(np.ascontiguousarray(rgb))
        if result.pose_landmarks is None:
            return NOBODY
        height, width = rgb.shape[:2]
        image = np.array([(p.x * width, p.y * height, p.visibility) for p in result.pose_landmarks.landmark])
        world = None
        if result.pose_world_landmarks is not None:
            world = np.array([(p.x, p.y, p.z, p.visibility) for p in result.pose_world_landmarks.landmark])
        return FramePose(image=image.astype(np.float32),
                         world=None if world is None else world.astype(np.float32))

    def close(self) -> None:
        """Release the MediaPipe graph."""
        self._pose.close()


ESTIMATORS = {estimator_for(model): partial(MediaPipePose, model) for model in MODEL_COMPLEXITY}
