"""Presence: missing joints, absent persons, empty frames and the present fraction of windows (by hand)."""

from __future__ import annotations

import numpy as np
import pytest

from model.presence import (
    MIN_PRESENT_FRACTION,
    frame_presence,
    has_person,
    missing_mask,
    person_presence,
    present_fraction,
    scorable_windows,
)
from model.windows import WindowSpec, score_windows

pytestmark = pytest.mark.unit


def test_zeros_nan_and_low_confidence_are_missing():
    coords = np.array([[[[1.0, 2.0], [0.0, 0.0], [np.nan, 1.0], [3.0, 4.0]]]])
    conf = np.array([[[0.9, 0.9, 0.9, np.nan]]])
    assert missing_mask(coords, conf, 0.3).tolist() == [[[False, True, True, True]]]
    assert missing_mask(coords, None, 0.3).tolist() == [[[False, True, True, False]]]
    assert person_presence(np.array([[[True, True], [False, True]]])).tolist() == [[False, True]]


def test_frame_presence_over_persons():
    joints = np.zeros((2, 4, 25, 3))
    joints[0, 0, 3] = [0.1, 0.2, 3.0]  # person 0 in frame 0
    joints[1, 2, 0] = [0.0, 0.0, 2.5]  # person 1 in frame 2
    joints[0, 3] = np.nan  # frame 3: non-finite only
    assert frame_presence(joints).tolist() == [True, False, True, False]
    assert frame_presence(joints[0]).tolist() == [True, False, False, False]  # (T,V,C) is one person
    assert has_person(joints) and not has_person(np.zeros((5, 25, 3)))


def test_present_fraction_by_hand():
    present = np.array([1, 1, 0, 0, 0, 1, 1, 1], bool)
    got = present_fraction(present, np.array([0, 2, 4, 6]), 4)
    assert got.tolist() == [0.5, 0.25, 0.75, 1.0]  # the last window is cut at T: 2 of 2 frames
    assert MIN_PRESENT_FRACTION == 0.5
    assert scorable_windows(present, np.array([0, 2, 4, 6]), 4).tolist() == [True, False, True, True]


def test_mostly_empty_windows_never_reach_the_scorer():
    joints = np.zeros((1, 16, 25, 3), np.float32)
    joints[:, :6] = 1.0  # somebody in frames 0-5 only
    seen = []

    def score(windows):
        seen.extend(w.copy() for w in windows)
        return np.array([[float(w.any()), 2.0] for w in windows])

    starts, energy = score_windows(joints, WindowSpec(8, 4), score)
    assert starts.tolist() == [0, 4, 8]
    assert len(seen) == 1 and seen[0].shape[1] == 8  # window 0 (6/8 present); 4 (2/8) and 8 (0/8) are not sent
    assert energy[0].tolist() == [1.0, 2.0] and np.isnan(energy[1:]).all()
    starts, energy = score_windows(np.zeros((1, 16, 25, 3)), WindowSpec(8, 4), score)
    assert energy.shape == (3, 0)  # nobody anywhere: nothing is scored
