"""Missing-joint filling: threshold, interpolation over time, parent chains, the last-resort mean."""

from __future__ import annotations

import numpy as np
import pytest

from model.layout_fill import fill_missing, missing_mask

pytestmark = pytest.mark.unit


def test_missing_mask_threshold_zeros_and_non_finite() -> None:
    coords = np.array([[[[1.0, 2.0], [0.0, 0.0], [3.0, np.nan], [4.0, 5.0]]]])
    conf = np.array([[[0.9, 0.9, 0.9, 0.29]]])
    assert missing_mask(coords, conf, 0.3).tolist() == [[[False, True, True, True]]]
    assert missing_mask(coords, None, 0.3).tolist() == [[[False, True, True, False]]]


def test_interpolation_between_and_beyond_seen_frames() -> None:
    # one person, 5 frames, 2 joints in 1D; joint 1 seen at frames 1 and 3 only (values 10 and 30)
    coords = np.array([[[[1.0], [0.0]], [[1.0], [10.0]], [[1.0], [-7.0]], [[1.0], [30.0]], [[1.0], [0.0]]]])
    missing = np.array([[[False, True], [False, False], [False, True], [False, False], [False, True]]])
    filled, present = fill_missing(coords, missing, ((1,), (0,)))
    assert present.tolist() == [[True] * 5]
    assert filled[0, :, 1, 0].tolist() == [10.0, 10.0, 20.0, 30.0, 30.0]  # held, seen, midpoint, seen, held


def test_parent_chain_and_last_resort_mean() -> None:
    # joints: 0 seen, 1 never seen (parent 0), 2 never seen (parent 1), 3 and 4 never seen, parents of each other
    coords = np.zeros((1, 2, 5, 2))
    coords[0, :, 0] = [[2.0, 4.0], [6.0, 8.0]]
    missing = np.ones((1, 2, 5), dtype=bool)
    missing[..., 0] = False
    filled, _ = fill_missing(coords, missing, ((1,), (0,), (1,), (4,), (3,)))
    for joint in (1, 2, 3, 4):  # 1 and 2 through the chain from 0; 3 and 4 by the mean of the known joints
        np.testing.assert_array_equal(filled[0, :, joint], [[2.0, 4.0], [6.0, 8.0]])


def test_parents_average_two_joints() -> None:
    coords = np.zeros((1, 1, 3, 1))
    coords[0, 0, :2, 0] = [1.0, 3.0]
    missing = np.array([[[False, False, True]]])
    filled, _ = fill_missing(coords, missing, ((1,), (0,), (0, 1)))
    assert filled[0, 0, 2, 0] == 2.0


def test_absent_person_frames_become_zero() -> None:
    coords = np.ones((2, 3, 2, 2))
    missing = np.zeros((2, 3, 2), dtype=bool)
    missing[1] = True  # the second person is never there
    missing[0, 1] = True  # the first is absent in frame 1
    filled, present = fill_missing(coords, missing, ((1,), (0,)))
    assert present.tolist() == [[True, False, True], [False, False, False]]
    assert np.all(filled[1] == 0) and np.all(filled[0, 1] == 0) and np.all(filled[0, [0, 2]] == 1)
