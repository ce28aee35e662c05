"""MediaPipe's lite and heavy landmark models (`scale pose --model`, pose/extra-models.sh) on the paired NTU video.

docs/skeletons.md ("Image-plane x, y" and the landmark-model table) quotes these runs: the models' outputs
differ, yet the NTU-60 X-sub checkpoint gives the take's class for the 2D layouts with every model, and the
image-plane x, y bring every model's 3D layouts closer to Kinect and to the take's class.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from benchmarks.paired_eval import VIDEO, Classifier, joint_distances, kinect, landmarks
from model.layouts import to_ntu25
from pose.convert import from_mediapipe33
from pose.source import REPO_ROOT

pytestmark = pytest.mark.integration
DRINK_WATER = 1
MODELS = {"lite": "mediapipe-lite", "full": "mediapipe", "heavy": "mediapipe-heavy"}


@pytest.fixture(scope="module")
def runs(shared_data, pose_python, pose_cache):
    return {model: landmarks(shared_data / VIDEO, True, pose_python, estimator)
            for model, estimator in MODELS.items()}


def test_the_three_models_are_different_networks(runs) -> None:
    full_world = runs["full"][1]
    for model in ("lite", "heavy"):
        world = runs[model][1]
        assert world.shape == full_world.shape
        # the same network twice would agree to the float; the models differ by centimetres
        assert np.abs(world[..., :3] - full_world[..., :3]).mean() > 0.005, model


@pytest.mark.parametrize("layout", ["coco17", "openpose25"])
def test_every_model_gives_drink_water_in_2d(runs, shared_data, layout: str) -> None:
    classifier, reference = Classifier.load(shared_data, ("NTU-60 X-sub",)), kinect(shared_data)
    for model, (image, world) in runs.items():
        _, ours, _ = joint_distances(to_ntu25(from_mediapipe33(image, world, layout), layout), reference)
        answer = classifier.classify(ours, DRINK_WATER)["NTU-60 X-sub"]
        assert answer["class"] == DRINK_WATER, (model, answer)


def test_a_missing_model_file_is_named_with_the_way_to_install_it(pose_python) -> None:
    code = ("import pathlib, pose.mediapipe_pose as m\n"
            "m.landmark_model_file = lambda model: pathlib.Path('/nonexistent.tflite')\n"
            "try:\n    m.MediaPipePose('heavy')\nexcept RuntimeError as exc:\n    print(exc)\n")
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    out = subprocess.run([pose_python or sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         check=True, timeout=120).stdout
    assert "the MediaPipe heavy model is not installed: run pose/extra-models.sh" in out


@pytest.mark.parametrize("model", ["lite", "heavy"])
def test_image_plane_xy_helps_the_other_models_too(runs, shared_data, model: str) -> None:
    classifier, reference = Classifier.load(shared_data), kinect(shared_data)
    image, world = runs[model]
    for layout in ("mediapipe33", "coco17-3d", "openpose25-3d"):
        distance, answers = {}, {}
        for xy in ("world", "image"):
            per_joint, ours, _ = joint_distances(to_ntu25(from_mediapipe33(image, world, layout, xy), layout),
                                                 reference)
            distance[xy], answers[xy] = per_joint.mean(), classifier.classify(ours, DRINK_WATER)
        assert distance["image"] < distance["world"], (model, layout, distance)
        for checkpoint, after in answers["image"].items():
            assert after["p_expected"] > answers["world"][checkpoint]["p_expected"] + 0.02, (model, layout, checkpoint)
