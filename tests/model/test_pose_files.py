"""Pose-file readers: OpenPose --write_json folders, Kinetics-skeleton JSON, pyskl / mmaction2 pickles."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import numpy as np
import pytest

from model.pose_files import PoseFileError, is_openpose_folder, read_pose_path, restricted_loads

pytestmark = pytest.mark.unit


def openpose_frame(people: list[list[float]]) -> dict:
    return {"version": 1.3, "people": [{"person_id": [-1], "pose_keypoints_2d": p, "face_keypoints_2d": [],
                                        "hand_left_keypoints_2d": [], "hand_right_keypoints_2d": []}
                                       for p in people]}


def test_openpose_folder_stacks_frames_and_people(tmp_path: Path) -> None:
    a = [float(i) for i in range(75)]  # joint j = (3j, 3j+1, 3j+2)
    b = [100.0 + i for i in range(75)]
    frames = [[a], [a, b], []]
    for t, people in enumerate(frames):
        (tmp_path / f"video_{t:012d}_keypoints.json").write_text(json.dumps(openpose_frame(people)))
    assert is_openpose_folder(tmp_path)
    [seq] = read_pose_path(tmp_path)
    assert seq.layout == "openpose25" and seq.array.shape == (2, 3, 25, 3)
    np.testing.assert_array_equal(seq.array[0, 0, 4], [12.0, 13.0, 14.0])
    np.testing.assert_array_equal(seq.array[1, 1, 0], [100.0, 101.0, 102.0])
    assert not seq.array[1, 0].any() and not seq.array[:, 2].any()  # absent person / nobody in frame 2


def test_openpose_coco18_frame_file_and_bad_lengths(tmp_path: Path) -> None:
    one = tmp_path / "one.json"
    one.write_text(json.dumps(openpose_frame([[1.0] * 54])))
    [seq] = read_pose_path(one)
    assert seq.layout == "openpose18" and seq.array.shape == (1, 1, 18, 3)
    one.write_text(json.dumps(openpose_frame([[1.0] * 50])))
    with pytest.raises(PoseFileError, match="25 or 18 joints"):
        read_pose_path(one)


def test_kinetics_skeleton_json(tmp_path: Path) -> None:
    pose = [round(0.01 * i, 2) for i in range(36)]  # joint j = (0.02 j, 0.02 j + 0.01)
    doc = {"data": [{"frame_index": 1, "skeleton": [{"pose": pose, "score": [0.5] * 18}]},
                    {"frame_index": 3, "skeleton": [{"pose": pose, "score": [0.25] * 18},
                                                    {"pose": [0.0] * 36, "score": [0.0] * 18}]}],
           "label": "drinking", "label_index": 3}
    path = tmp_path / "clip.json"
    path.write_text(json.dumps(doc))
    [seq] = read_pose_path(path)
    assert seq.layout == "openpose18" and seq.array.shape == (2, 3, 18, 3)
    np.testing.assert_allclose(seq.array[0, 0, 5], [0.10, 0.11, 0.5])
    np.testing.assert_allclose(seq.array[0, 2, 17], [0.34, 0.35, 0.25])
    assert not seq.array[:, 1].any()  # frame 2 is not in the file: nobody


def test_plain_json_arrays_and_the_recognize_body_form(tmp_path: Path) -> None:
    path = tmp_path / "pose.json"
    path.write_text(json.dumps(np.ones((4, 17, 3)).tolist()))
    [seq] = read_pose_path(path)
    assert seq.array.shape == (1, 4, 17, 3) and seq.layout is None
    path.write_text(json.dumps({"skeleton": np.ones((2, 4, 33, 4)).tolist(), "layout": "mediapipe33"}))
    [seq] = read_pose_path(path)
    assert seq.array.shape == (2, 4, 33, 4) and seq.layout == "mediapipe33"


@pytest.mark.parametrize("protocol", [2, 4, pickle.HIGHEST_PROTOCOL])
def test_pyskl_and_mmaction2_annotations(tmp_path: Path, protocol: int) -> None:
    keypoint = np.arange(2 * 5 * 17 * 2, dtype=np.float32).reshape(2, 5, 17, 2)
    score = np.full((2, 5, 17), 0.75, dtype=np.float16)
    ann = {"frame_dir": "S001C001P001R001A001", "label": 0, "img_shape": (1080, 1920), "total_frames": 5,
           "keypoint": keypoint, "keypoint_score": score}
    pyskl = tmp_path / "ntu60_hrnet.pkl"
    pyskl.write_bytes(pickle.dumps({"split": {"xsub_train": ["S001C001P001R001A001"]}, "annotations": [ann]},
                                   protocol=protocol))
    [seq] = read_pose_path(pyskl)
    assert seq.name.endswith("#S001C001P001R001A001") and seq.layout == "coco17"
    assert seq.array.shape == (2, 5, 17, 3)
    np.testing.assert_array_equal(seq.array[..., :2], keypoint)
    assert np.all(seq.array[..., 2] == 0.75)
    mmaction = tmp_path / "list.pickle"
    ntu3d = {"frame_dir": "x", "keypoint": np.ones((1, 3, 25, 3)), "label": 1}
    mmaction.write_bytes(pickle.dumps([ann, ntu3d], protocol=protocol))
    seqs = read_pose_path(mmaction)
    assert [s.layout for s in seqs] == ["coco17", "ntu25"] and seqs[1].array.shape == (1, 3, 25, 3)


class _Exploit:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


class _GetAttr:
    def __reduce__(self):
        return getattr, (str, "join")


@pytest.mark.parametrize("payload", ["system", "getattr", "numpy-function"])
def test_a_pickle_with_any_other_global_is_refused_and_runs_nothing(tmp_path: Path, payload: str) -> None:
    marker = tmp_path / "ran"
    obj = {"system": lambda: {"annotations": [_Exploit(marker)]}, "getattr": lambda: [_GetAttr()],
           "numpy-function": lambda: {"keypoint": np.ones((1, 1, 17, 2)), "f": np.save}}[payload]()
    path = tmp_path / "evil.pkl"
    path.write_bytes(pickle.dumps(obj, protocol=2))
    with pytest.raises(PoseFileError, match="is not allowed"):
        read_pose_path(path)
    assert not marker.exists()
    with pytest.raises(pickle.UnpicklingError):
        restricted_loads(pickle.dumps(obj))


def test_plain_containers_and_arrays_round_trip() -> None:
    obj = {"a": [1, 2.5, "x", None, True], "b": (np.arange(3, dtype=np.int64), {1, 2}), "c": np.float32(1.5)}
    back = restricted_loads(pickle.dumps(obj, protocol=2))
    assert back["a"] == obj["a"] and back["b"][1] == {1, 2} and float(back["c"]) == 1.5
    np.testing.assert_array_equal(back["b"][0], obj["b"][0])


def test_the_service_never_reads_pose_files_or_pickles() -> None:
    """Pose files and their restricted unpickler are for the CLI and offline tools, never for HTTP bodies."""
    root = Path(__file__).resolve().parents[2] / "service"
    sources = {p: p.read_text(encoding="utf-8") for p in root.rglob("*.py")}
    assert sources
    readers = ("pose_files", "import pickle", "pickle.load", "allow_pickle=True")
    assert not [p for p, text in sources.items() if any(r in text for r in readers)]
