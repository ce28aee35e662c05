"""Fixtures of the real-estimator tests: the MediaPipe interpreter and a cache outside the repository."""

from __future__ import annotations

import os

import pytest

from tests.pose.estimator_check import estimator_or_skip


@pytest.fixture(scope="session")
def pose_python() -> str | None:
    """The interpreter that runs MediaPipe (None = this one); fails in CI when there is none."""
    return estimator_or_skip()


@pytest.fixture(scope="session")
def pose_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Estimator output of the NTU video goes to a temporary folder (NTU data never lands in the repository)."""
    if not os.environ.get("SCALE_POSE_CACHE"):
        os.environ["SCALE_POSE_CACHE"] = str(tmp_path_factory.mktemp("pose-cache"))
