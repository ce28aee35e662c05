"""Drawing bones: every layout's graph names real joints and connects the whole body."""

from __future__ import annotations

import pytest

from model.layouts import LAYOUTS
from service.playground.bones import bones, layout_drawing

pytestmark = pytest.mark.unit


def components(n: int, edges: list[tuple[int, int]]) -> int:
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            i = parent[i]
        return i

    for a, b in edges:
        parent[find(a)] = find(b)
    return len({find(i) for i in range(n)})


@pytest.mark.parametrize("layout", list(LAYOUTS))
def test_bones_connect_every_joint_once(layout: str) -> None:
    edges = bones(layout)
    n = LAYOUTS[layout].num_joints
    assert all(0 <= a < n and 0 <= b < n and a != b for a, b in edges)
    assert len({frozenset(e) for e in edges}) == len(edges)
    # MediaPipe draws the face, the mouth and the body as three separate pieces
    assert components(n, edges) == (3 if layout == "mediapipe33" else 1)


def test_ntu25_bones_are_the_kinect_tree() -> None:
    edges = bones("ntu25")
    assert len(edges) == 24 and components(25, edges) == 1  # a tree over 25 joints
    assert (8, 9) in edges and (20, 8) in edges and (0, 16) in edges  # ShoulderRight-ElbowRight, ...
    assert layout_drawing("coco17")["axes"] == "opencv" and layout_drawing("coco17")["dims"] == 2
