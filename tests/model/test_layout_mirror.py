"""Mirror views: hand-written permutations, names of the paired joints, mirror twice = identity."""

from __future__ import annotations

import numpy as np
import pytest
from test_layouts import COCO_3D, COCO_3D_AS_NTU
from test_layouts_more import h36m_pose, halpe26_pose, openpose18_pose, wholebody_pose

from model.layout_mirror import MIRROR_PAIRS, pairs_for, unmirror
from model.layouts import LAYOUTS, to_ntu25

pytestmark = pytest.mark.unit

# NTU-25 written out by hand: 4-7 <-> 8-11, 12-15 <-> 16-19, 21-22 <-> 23-24; the spine and head stay.
NTU_SWAP = [0, 1, 2, 3, 8, 9, 10, 11, 4, 5, 6, 7, 16, 17, 18, 19, 12, 13, 14, 15, 20, 23, 24, 21, 22]


def ntu_mirror(ntu: np.ndarray) -> np.ndarray:
    out = np.array(ntu, dtype=np.float64)[..., NTU_SWAP, :]
    out[..., 0] *= -1.0
    return out


def test_ntu25_mirror_negates_x_and_swaps_by_the_hand_written_permutation() -> None:
    x = np.random.default_rng(0).normal(size=(2, 3, 25, 3))
    got = to_ntu25(x, "ntu25", mirror=True)
    expected = x[..., NTU_SWAP, :] * [-1.0, 1.0, 1.0]
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    np.testing.assert_allclose(got[0, 0, 4], [-x[0, 0, 8, 0], x[0, 0, 8, 1], x[0, 0, 8, 2]], rtol=1e-6)


def test_coco17_3d_mirror_by_hand() -> None:
    """A mirrored COCO-17 pose maps onto the hand-computed NTU skeleton, mirrored by the hand-written table."""
    seen_in_mirror = COCO_3D[[0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]] * [-1.0, 1.0, 1.0]
    got = to_ntu25(seen_in_mirror[None], "coco17-3d", mirror=True)[0, 0]
    np.testing.assert_allclose(got, COCO_3D_AS_NTU, atol=1e-6)
    np.testing.assert_allclose(to_ntu25(COCO_3D[None], "coco17-3d", mirror=True)[0, 0], ntu_mirror(COCO_3D_AS_NTU),
                               atol=1e-6)


@pytest.mark.parametrize(("layout", "pose"), [
    ("openpose18", openpose18_pose), ("h36m17", h36m_pose), ("halpe26", halpe26_pose),
    ("coco_wholebody133", wholebody_pose),
])
def test_mirror_of_each_new_layout_is_the_mirrored_ntu_skeleton(layout: str, pose) -> None:
    x = pose()[None]
    np.testing.assert_allclose(to_ntu25(x, layout, mirror=True)[0, 0], ntu_mirror(to_ntu25(x, layout)[0, 0]),
                               atol=1e-6)


def test_openpose18_mirror_swaps_named_joints_by_hand() -> None:
    x = openpose18_pose()
    got = unmirror(x, "openpose18")
    np.testing.assert_allclose(got[2], [-240, 100, 0.9])  # RShoulder <- LShoulder, u negated
    np.testing.assert_allclose(got[17], [-190, 50, 0.9])  # LEar <- REar
    np.testing.assert_allclose(got[1], [-200, 100, 0.9])  # the neck stays, u negated


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_mirror_twice_is_the_identity(layout: str) -> None:
    spec = LAYOUTS[layout]
    x = np.random.default_rng(1).normal(size=(2, 4, spec.num_joints, spec.channels[-1]))
    np.testing.assert_allclose(unmirror(unmirror(x, layout), layout), x)
    assert np.any(unmirror(x, layout) != x)


def _side_free(name: str) -> str:
    for left, right in (("left", "right"), ("Left", "Right")):
        name = name.replace(left, "<side>").replace(right, "<side>")
    return name[1:] if name[:1] in "LR" and name[1:2].isupper() else name


def _side(name: str) -> str:
    if "left" in name.lower() or (name[:1] == "L" and name[1:2].isupper()):
        return "left"
    return "right" if "right" in name.lower() or (name[:1] == "R" and name[1:2].isupper()) else "?"


@pytest.mark.parametrize("layout", sorted(MIRROR_PAIRS))
def test_pairs_join_a_left_joint_with_the_right_joint_of_the_same_name(layout: str) -> None:
    joints = LAYOUTS[layout].joints
    pairs = pairs_for(layout)
    flat = [v for pair in pairs for v in pair]
    assert len(flat) == len(set(flat))  # each joint in at most one pair
    for left, right in pairs:
        a, b = joints[left], joints[right]
        if a.startswith("face_"):
            continue  # iBUG face points are numbered, not named
        assert {_side(a), _side(b)} == {"left", "right"}, (a, b)
        assert _side_free(a) == _side_free(b), (a, b)
    unpaired = [joints[v] for v in range(len(joints)) if v not in flat and not joints[v].startswith("face_")]
    assert not [n for n in unpaired if "left" in n.lower() or "right" in n.lower()], unpaired


def test_wholebody_face_has_29_pairs_and_10_midline_points() -> None:
    face = [p for p in pairs_for("coco_wholebody133") if 23 <= p[0] < 91]
    assert len(face) == 29
    assert (23 + 0, 23 + 16) in face and (23 + 36, 23 + 45) in face  # jaw ends, outer eye corners
    midline = set(range(23, 91)) - {v for p in face for v in p}
    assert sorted(v - 23 for v in midline) == [8, 27, 28, 29, 30, 33, 51, 57, 62, 66]
