"""Run an estimator on a video and yield its records, in this interpreter or in an isolated one.

MediaPipe 0.10.14 pins numpy<2 and protobuf<5, which clash with the project's, so it usually lives in its own
virtualenv: set SCALE_POSE_PYTHON (or pass `python=`) to that interpreter, or create `.venv-video` in the
repository (docs/skeletons.md, "Video in"). The child runs `python -m pose.run` and streams JSON lines.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
LOCAL_VENV_PYTHON = REPO_ROOT / ".venv-video" / "bin" / "python"


class EstimatorUnavailable(RuntimeError):
    """No interpreter with the estimator's package was found."""


def estimator_python(python: str | None = None) -> str | None:
    """The interpreter to run the estimator in: None means this one (mediapipe importable here)."""
    chosen = python or os.environ.get("SCALE_POSE_PYTHON")
    if chosen:
        return chosen
    if importlib.util.find_spec("mediapipe") is not None and importlib.util.find_spec("cv2") is not None:
        return None
    if LOCAL_VENV_PYTHON.exists():
        return str(LOCAL_VENV_PYTHON)
    raise EstimatorUnavailable(
        "MediaPipe is not installed: run pose/install-venv.sh (it makes .venv-video), or set SCALE_POSE_PYTHON to "
        "an interpreter that has mediapipe==0.10.14 (docs/skeletons.md, 'Video in')")


def records(source: str, flip: bool = False, estimator: str = "mediapipe", max_frames: int | None = None,
            python: str | None = None) -> Iterator[dict[str, Any]]:
    """The header record, then one record per frame, as `pose.run` defines them."""
    interpreter = estimator_python(python)
    if interpreter is None:
        from pose.run import run

        yield from run(source, estimator, flip, max_frames)
        return
    command = [interpreter, "-m", "pose.run", source, "--estimator", estimator]
    command += ["--flip"] if flip else []
    command += ["--max-frames", str(max_frames)] if max_frames is not None else []
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "GLOG_minloglevel": "2", "TF_CPP_MIN_LOG_LEVEL": "2"}
    # stderr goes to a file, not a pipe: a chatty estimator must never block on a full pipe buffer
    with tempfile.TemporaryFile(mode="w+") as log, subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=log, text=True, env=env) as child:
        assert child.stdout is not None
        try:
            for line in child.stdout:
                yield json.loads(line)
        finally:
            if child.poll() is None:
                child.kill()
        if child.wait() > 0:
            log.seek(0)
            errors = log.read().splitlines()
            tail = [line.removeprefix("error: ") for line in errors if line.startswith("error")] or errors[-3:]
            raise EstimatorUnavailable(f"the pose estimator failed ({interpreter}): {' '.join(tail)}")
