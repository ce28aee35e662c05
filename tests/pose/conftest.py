"""The real estimator for the tests: skipped only outside CI when no interpreter has MediaPipe (CI must run it)."""

from __future__ import annotations

import os

import pytest

from pose.source import EstimatorUnavailable, estimator_python


@pytest.fixture(scope="session")
def pose_python() -> str | None:
    """The interpreter that runs MediaPipe (None = this one); fails in CI when there is none."""
    try:
        return estimator_python()
    except EstimatorUnavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the real pose estimator: {exc}")
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def pose_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Estimator output of the NTU video goes to a temporary folder (NTU data never lands in the repository)."""
    if not os.environ.get("SCALE_POSE_CACHE"):
        os.environ["SCALE_POSE_CACHE"] = str(tmp_path_factory.mktemp("pose-cache"))
