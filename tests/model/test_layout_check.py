"""Anatomy check of the joint order and layout hints by shape."""

from __future__ import annotations

import numpy as np
import pytest
from test_layouts import COCO_3D, coco_2d
from test_layouts_more import h36m_pose, halpe26_pose, openpose18_pose, wholebody_pose

from model.layout_check import fitting_layouts, order_warning, shape_hint

pytestmark = pytest.mark.unit


def test_layouts_that_fit_a_shape_are_named() -> None:
    assert fitting_layouts(17, 3) == ["coco17", "coco17-3d", "h36m17"]
    assert fitting_layouts(17, 2) == ["coco17"]
    assert fitting_layouts(33, 4) == ["mediapipe33"]
    assert fitting_layouts(25, 3) == ["ntu25", "openpose25", "openpose25-3d"]
    assert fitting_layouts(19, 3) == []
    assert "fits layout coco17, coco17-3d, h36m17" in shape_hint((30, 17, 3))
    assert shape_hint((30, 19, 3)) == "" and shape_hint((17, 3)) == ""


def test_human36m_sent_as_coco17_is_spotted_and_h36m17_suggested() -> None:
    h36m = np.repeat(h36m_pose()[None], 5, axis=0)
    note = order_warning(h36m, "coco17", 0.3)
    assert note is not None and "layout 'coco17'" in note and "0%" in note
    assert note.endswith("its joints fit layout h36m17")
    assert order_warning(h36m, "h36m17", 0.3) is None


def test_coco_sent_as_human36m_is_spotted() -> None:
    note = order_warning(coco_2d(4), "h36m17", 0.3)
    assert note is not None and "fit layout coco17, coco17-3d" in note


@pytest.mark.parametrize(("layout", "array"), [
    ("coco17", coco_2d(3)), ("coco17-3d", COCO_3D[None]), ("h36m17", h36m_pose()[None]),
    ("openpose18", openpose18_pose()[None]), ("halpe26", halpe26_pose()[None]),
    ("coco_wholebody133", wholebody_pose()[None]),
])
def test_upright_people_in_their_own_layout_get_no_warning(layout: str, array: np.ndarray) -> None:
    assert order_warning(array, layout, 0.3) is None


def test_a_flipped_vertical_axis_is_spotted() -> None:
    upside_down = h36m_pose() * [1.0, -1.0, 1.0]  # y up sent as a y-down layout
    assert "vertical axis" in order_warning(upside_down[None], "h36m17", 0.3)


def test_frames_without_the_needed_joints_are_not_judged() -> None:
    x = coco_2d(2)
    x[..., 2] = 0.1  # nothing above the threshold
    assert order_warning(x, "coco17", 0.3) is None


def test_degenerate_frames_and_native_ntu25_are_not_judged() -> None:
    assert order_warning(np.ones((3, 17, 3)), "coco17", 0.3) is None
    flipped = np.zeros((2, 25, 3))
    flipped[:, 3, 1], flipped[:, 12, 1], flipped[:, 16, 1] = -1.0, 1.0, 1.0  # head below the hips
    flipped[:, :, 2] = 3.0
    assert order_warning(flipped, "ntu25", 0.3) is None
