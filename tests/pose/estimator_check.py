"""The interpreter with MediaPipe for the tests: skipped only outside CI when there is none (CI must run them)."""

from __future__ import annotations

import os

import pytest

from pose.source import EstimatorUnavailable, estimator_python


def estimator_or_skip() -> str | None:
    """The interpreter that runs MediaPipe (None = this one); fails in CI, skips elsewhere, when there is none."""
    try:
        return estimator_python()
    except EstimatorUnavailable as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the real pose estimator: {exc}")
        pytest.skip(str(exc))
