"""Segments and background tile the frames: a property over random inputs and the real PKU-MMD sample."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from model.presence import frame_presence
from model.segments import DetectOptions, build_segments
from model.windows import window_starts

pytestmark = pytest.mark.unit


def owners(segments, background, frames: int) -> np.ndarray:
    """How many parts of the answer hold each frame."""
    count = np.zeros(frames, np.int64)
    for part in list(segments) + list(background):
        count[part.start:part.end + 1] += 1
    return count


@st.composite
def detect_inputs(draw):
    frames = draw(st.integers(1, 300))
    length = draw(st.integers(1, 64))
    stride = draw(st.integers(1, length))
    classes = draw(st.integers(1, 4))
    starts = window_starts(frames, length, stride)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    energy = rng.uniform(0.0, 10.0, (len(starts), classes))
    energy[rng.random(len(starts)) < draw(st.floats(0, 1))] = np.nan  # unscorable windows
    present = None
    if draw(st.booleans()):
        present = np.repeat(rng.random(frames // 7 + 1) < 0.7, 7)[:frames]
    opts = DetectOptions(smooth=draw(st.integers(1, 7)), threshold=draw(st.none() | st.floats(0.0, 10.0)),
                         min_score=draw(st.floats(0.0, 1.0)), nms_iou=draw(st.floats(0.05, 1.0)),
                         min_frames=draw(st.integers(1, 20)))
    return starts, energy, length, frames, draw(st.floats(0.5, 300.0)), opts, present


@settings(max_examples=300, deadline=None)
@given(detect_inputs())
def test_every_frame_in_exactly_one_part(case):
    starts, energy, length, frames, temperature, opts, present = case
    segments, background = build_segments(starts, energy, length, frames, temperature, opts, present)
    assert (owners(segments, background, frames) == 1).all()
    if present is not None:  # nobody in view: never part of an action
        for seg in segments:
            assert present[seg.start:seg.end + 1].all()
    assert all(b.class_index is None for b in background) and all(s.class_index is not None for s in segments)


def test_real_pkummd_sample_has_no_frame_in_neither(shared_data):
    """The issue's case: window energies of the real sample, the real bundles' temperature (256)."""
    from model.pkummd import read_pkummd_skeleton
    from tests.service.svc_support import LABELS, prompt_of, reference

    joints = read_pkummd_skeleton(shared_data / "skeletons" / "pkummd_raw" / "A10N08-L.txt")
    starts = window_starts(joints.shape[1], 128, 32)
    energy, _ = reference([joints[:, s:s + 128] for s in starts], [prompt_of(x) for x in LABELS])
    for smooth in range(1, 8):  # smooth 4 once gave segments 0-159 and 192-1039 and no background
        segments, background = build_segments(starts, np.asarray(energy, np.float64), 128, joints.shape[1], 256.0,
                                              DetectOptions(smooth=smooth), frame_presence(joints))
        assert (owners(segments, background, joints.shape[1]) == 1).all(), (smooth, segments)
        assert segments  # somebody is in view throughout and no threshold: every frame is some class
