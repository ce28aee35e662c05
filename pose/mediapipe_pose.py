"""MediaPipe Pose (legacy `solutions.pose` API, models inside the mediapipe==0.10.14 wheel, runs offline)."""

from __future__ import annotations

import numpy as np

from pose.estimator import NOBODY, FramePose

MEDIAPIPE_JOINTS = 33


class MediaPipePose:
    """BlazePose full model in video mode (tracking across frames), one person per frame."""

    name = "mediapipe-pose"
    joints = "mediapipe33"

    def __init__(self, min_detection_confidence: float = 0.5, min_tracking_confidence: float = 0.5) -> None:
        try:
            from mediapipe.python.solutions import pose as mp_pose
        except ImportError as exc:  # pragma: no cover - depends on the interpreter
            raise RuntimeError("mediapipe is not installed in this interpreter: pip install 'mediapipe==0.10.14' "
                               "(see docs/skeletons.md, 'Video in')") from exc
        # model_complexity=1 is the full landmark model, the one the wheel ships (0 and 2 need a download).
        self._pose = mp_pose.Pose(static_image_mode=False, model_complexity=1, smooth_landmarks=True,
                                  min_detection_confidence=min_detection_confidence,
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


ESTIMATORS = {"mediapipe": MediaPipePose}
