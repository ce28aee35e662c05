"""Partial bodies and implausible input on /recognize and /detect: scaled from what is seen, warned, refused."""

from __future__ import annotations

import numpy as np
import pytest

from model.skeleton_io import read_skeleton
from tests.model.test_layout_scale import waist_up
from tests.service.svc_support import LABELS, register, running_app

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def client():
    with running_app() as c:
        register(c, list(LABELS[:3]))
        yield c


def test_waist_up_openpose_frames_are_answered_without_a_warning(client):
    r = client.post("/recognize", json={"skeleton": waist_up(30).tolist(), "layout": "openpose25"})
    assert r.status_code == 200, r.text
    assert "warning" not in r.json()  # scaled by the shoulders: a 0.36 m shoulder width, not a giant


def test_real_ntu_clips_pass_and_a_giant_is_warned(client, shared_data):
    clip = read_skeleton(sorted((shared_data / "skeletons" / "ntu60_raw").glob("*.skeleton"))[0]).joints
    assert "warning" not in client.post("/recognize", json={"skeleton": clip.tolist()}).json()
    giant = client.post("/recognize", json={"skeleton": (clip * 5.0).tolist()}).json()
    assert "does not look human" in giant["warning"] and "torso" in giant["warning"]
    detect = client.post("/detect", json={"skeleton": (clip * 5.0).tolist(), "window": 32, "stride": 16}).json()
    assert "does not look human" in detect["warning"]


def test_2d_input_without_shoulders_is_refused_naming_the_joints(client):
    head = np.zeros((20, 17, 3))
    head[:, :5] = [300.0, 200.0, 0.9]
    head[:, :5, 0] += np.arange(5) * 10
    head[:, 5:7] = [[340.0, 260.0, 0.1], [260.0, 260.0, 0.2]]  # shoulders under the threshold
    r = client.post("/recognize", json={"skeleton": head.tolist(), "layout": "coco17"})
    assert r.status_code == 422 and r.json()["type"].endswith("/bad-skeleton")
    assert "left_shoulder (5), right_shoulder (6)" in r.json()["detail"]
