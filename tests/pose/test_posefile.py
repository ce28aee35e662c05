"""The pose file `scale pose` writes: JSON with layout and fps, or a bare .npy; refusals name the problem."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pose.posefile import PoseFile, PoseFileError, read_pose_file, write_pose_file

pytestmark = pytest.mark.unit


def sample() -> PoseFile:
    skeleton = np.random.default_rng(0).normal(size=(4, 33, 4)).astype(np.float32)
    skeleton[2] = 0.0  # nobody in frame 2
    return PoseFile(skeleton, "mediapipe33", "m", 30.0, {"estimator": "mediapipe-pose", "flipped": True})


def test_json_round_trip_keeps_frames_layout_and_metadata(tmp_path) -> None:
    write_pose_file(tmp_path / "p.json", sample())
    body = json.loads((tmp_path / "p.json").read_text())
    assert body["format"] == "scale-pose" and body["version"] == 1 and body["layout"] == "mediapipe33"
    back = read_pose_file(tmp_path / "p.json")
    np.testing.assert_allclose(back.skeleton, sample().skeleton, atol=5e-6)
    assert (back.layout, back.units, back.fps) == ("mediapipe33", "m", 30.0)
    assert back.meta == {"estimator": "mediapipe-pose", "flipped": True}
    assert not back.skeleton[2].any()


def test_npy_is_a_plain_batch_of_one(tmp_path) -> None:
    write_pose_file(tmp_path / "p.npy", sample())
    arr = np.load(tmp_path / "p.npy", allow_pickle=False)
    assert arr.shape == (1, 4, 33, 4) and arr.dtype == np.float32
    np.testing.assert_array_equal(arr[0], sample().skeleton)


@pytest.mark.parametrize(("text", "message"), [
    ("[1, 2]", "not a 'scale-pose' file"),
    ('{"format": "scale-pose", "version": 2}', "version 2 is not supported"),
    ('{"format": "scale-pose", "version": 1, "layout": "coco17"}', "missing units, fps, skeleton"),
    ('{"format": "scale-pose", "version": 1, "layout": "coco17", "units": "px", "fps": 30, "skeleton": [[1, 2]]}',
     r"shaped \(T, V, C\), got \[1, 2\]"),
    ("{", "not a readable JSON pose file"),
])
def test_bad_files_are_refused(tmp_path, text: str, message: str) -> None:
    (tmp_path / "bad.json").write_text(text)
    with pytest.raises(PoseFileError, match=message):
        read_pose_file(tmp_path / "bad.json")


def test_other_suffixes_are_refused(tmp_path) -> None:
    with pytest.raises(PoseFileError, match="is .json or .npy"):
        write_pose_file(tmp_path / "p.csv", sample())
