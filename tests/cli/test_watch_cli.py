"""The README's way from a video to actions on the paired NTU video against a live service: `scale pose` then
`scale recognize` (with the units option on real estimator output), and `scale watch` to /streams."""

from __future__ import annotations

import json

import numpy as np
import pytest

from benchmarks.paired_eval import VIDEO
from cli.main import main
from model.windows import window_starts
from tests.client.live_service import demo_bundle_path, running_service
from tests.pose.estimator_check import estimator_or_skip

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def pose_python() -> str | None:
    return estimator_or_skip()


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory):
    classes = tmp_path_factory.mktemp("classes") / "classes.txt"
    classes.write_text("drink water\nwalking\nwaving a hand\n")
    with running_service(demo_bundle_path(tmp_path_factory), "", tmp_path_factory.mktemp("logs")) as url:
        assert main(["classes", "add", str(classes), "--url", url]) == 0
        yield url


def test_watch_streams_every_frame_in_the_layout(service, shared_data, pose_python, capsys) -> None:
    argv = ["watch", str(shared_data / VIDEO), "--flip", "--url", service, "--window", "64", "--stride", "32",
            "--chunk", "16", "--json"] + (["--python", pose_python] if pose_python else [])
    assert main(argv) == 0
    events = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert events[0]["type"] == "ready" and events[0]["layout"] == "mediapipe33"
    windows = [e for e in events if e["type"] == "window"]
    assert [w["start_frame"] for w in windows] == window_starts(103, 64, 32).tolist()
    assert all(w["label"] in {"drink water", "walking", "waving a hand"} for w in windows)
    assert events[-1] == {"type": "end", "frames": 103, "windows": len(windows)}


def test_watch_prints_readable_lines_and_refuses_a_bad_chunk(service, shared_data, pose_python, capsys) -> None:
    python = ["--python", pose_python] if pose_python else []
    assert main(["watch", str(shared_data / VIDEO), "--url", service, "--layout", "coco17", "--window", "64",
                 "--max-frames", "70", *python]) == 0
    out = capsys.readouterr().out
    assert "window 0-63:" in out and "end: 70 frames" in out
    assert main(["watch", str(shared_data / VIDEO), "--url", service, "--chunk", "0"]) == 2
    assert "--chunk must be >= 1" in capsys.readouterr().err


def test_pose_then_recognize_and_the_units_option(service, shared_data, pose_python, tmp_path, capsys) -> None:
    python = ["--python", pose_python] if pose_python else []
    clip, clip_cm = tmp_path / "clip.npy", tmp_path / "clip_cm.npy"
    assert main(["pose", str(shared_data / VIDEO), "--flip", "-o", str(clip), *python]) == 0  # README, line 1
    landmarks = np.load(clip, allow_pickle=False)
    assert landmarks.shape == (1, 103, 33, 4)  # (M, T, V, C)
    np.save(clip_cm, landmarks * np.array([100.0, 100.0, 100.0, 1.0], np.float32), allow_pickle=False)
    capsys.readouterr()

    def recognize(path, *options: str) -> tuple[list[dict], str]:
        argv = ["recognize", str(path), "--layout", "mediapipe33", "--url", service, "--format", "json", *options]
        assert main(argv) == 0  # README, line 2
        out = capsys.readouterr()
        return json.loads(out.out)[0]["predictions"], out.err

    metres, err = recognize(clip)
    assert {p["label"] for p in metres} == {"drink water", "walking", "waving a hand"}
    assert "centimetres" not in err
    unwarned, err = recognize(clip_cm)  # MediaPipe in centimetres, no --units: the service says so
    assert "centimetres" in err and "units='cm'" in err
    centimetres, err = recognize(clip_cm, "--units", "cm")
    assert "centimetres" not in err
    for ours, theirs in zip(centimetres, metres, strict=True):  # the same answer as the metres file
        assert ours["label"] == theirs["label"] and ours["energy"] == pytest.approx(theirs["energy"], rel=1e-4)
    assert unwarned[0]["energy"] != pytest.approx(metres[0]["energy"], rel=1e-2)
