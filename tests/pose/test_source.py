"""Which interpreter runs the estimator, and how its failures reach the user (no MediaPipe needed)."""

from __future__ import annotations

import sys

import pytest

from pose.source import EstimatorUnavailable, estimator_python, records

pytestmark = pytest.mark.unit


def test_an_explicit_interpreter_wins_over_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("SCALE_POSE_PYTHON", "/from/env/python")
    assert estimator_python("/given/python") == "/given/python"
    assert estimator_python() == "/from/env/python"


def test_a_failing_child_raises_with_its_error_line(tmp_path) -> None:
    missing = tmp_path / "missing.avi"
    with pytest.raises(EstimatorUnavailable, match="the pose estimator failed") as info:
        list(records(str(missing), python=sys.executable))
    # this interpreter has no cv2 (the project's venv) or cannot open the file: either way it is named
    assert "cv2" in str(info.value) or "cannot open video source" in str(info.value)
