"""`scale watch`: MediaPipe Pose on the paired NTU video, streamed to a live service's /streams."""

from __future__ import annotations

import json

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
