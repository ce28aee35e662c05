"""Bone-length plausibility: real Kinect skeletons pass without a warning; wrong scales are named."""

from __future__ import annotations

import numpy as np
import pytest

from model.pkummd import read_pkummd_skeleton
from model.plausibility import BONES, bone_medians, implausible_bones, plausibility_warning
from model.skeleton_io import read_skeleton

pytestmark = pytest.mark.unit


def real_skeletons(shared_data):
    clips = sorted((shared_data / "skeletons" / "ntu60_raw").glob("*.skeleton"))
    assert len(clips) == 5
    return [read_skeleton(p).joints for p in clips] + [
        read_pkummd_skeleton(shared_data / "skeletons" / "pkummd_raw" / "A10N08-L.txt")]


def test_real_ntu_and_pkummd_skeletons_look_human(shared_data):
    for joints in real_skeletons(shared_data):
        medians = bone_medians(joints)
        assert set(medians) == set(BONES)
        assert 0.15 < medians["shoulder width"] < 0.4 and 0.4 < medians["torso"] < 0.6  # Kinect, measured
        assert plausibility_warning(joints) is None, medians
        assert plausibility_warning(joints * 4.0) is not None  # a factor 4 is caught


def test_wrong_units_and_a_giant_are_named(shared_data):
    joints = real_skeletons(shared_data)[0]
    assert set(implausible_bones(joints * 1000.0)) == set(BONES)  # millimetres read as metres
    giant = joints * 5.0  # a torso of ~2.2 m: under the millimetre warning's reach (5), still no human
    warning = plausibility_warning(giant)
    assert warning is not None and "torso 2.2" in warning and "expected 0.1-1.5" in warning
    assert "torso" in implausible_bones(joints * 0.1)  # a doll: too short


def test_hand_made_bones_and_filled_joints():
    ntu = np.zeros((1, 3, 25, 3))
    ntu[..., 0, :] = [0.0, 0.0, 3.0]
    ntu[..., 20, :] = [0.0, 0.5, 3.0]
    ntu[..., 4, :] = [-0.18, 0.5, 3.0]
    ntu[..., 8, :] = [0.18, 0.5, 3.0]
    ntu[..., 5, :] = [-0.18, 0.2, 3.0]
    ntu[..., 9, :] = [0.18, 0.2, 3.0]
    ntu[..., [12, 13], :] = [-0.1, 0.0, 3.0]  # knee filled onto the hip: length 0, not judged
    ntu[..., [16, 17], :] = [0.1, 0.0, 3.0]
    got = bone_medians(ntu)
    assert got == pytest.approx({"shoulder width": 0.36, "upper arm": 0.3, "thigh": 0.0, "torso": 0.5})
    assert implausible_bones(ntu) == {}
    ntu[..., 8, :] = ntu[..., 9, :] = [40.0, 0.5, 3.0]  # right shoulder and elbow 40 m away
    assert list(implausible_bones(ntu)) == ["shoulder width"]
