"""`scale pose` / `scale watch` options (no estimator needed)."""

from __future__ import annotations

import pytest

from cli.main import build_parser
from cli.pose import _request

pytestmark = pytest.mark.unit


def test_scale_pose_model_option_picks_the_estimator() -> None:
    parser = build_parser()
    assert _request(parser.parse_args(["pose", "clip.mp4"])).estimator == "mediapipe"
    assert _request(parser.parse_args(["pose", "clip.mp4", "--model", "heavy"])).estimator == "mediapipe-heavy"
    assert _request(parser.parse_args(["watch", "0", "--model", "lite"])).estimator == "mediapipe-lite"
    with pytest.raises(SystemExit):
        parser.parse_args(["pose", "clip.mp4", "--model", "huge"])
