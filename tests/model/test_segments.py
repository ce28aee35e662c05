"""Smoothing, frame pieces, per-class NMS and segments with background (hand-computed cases)."""

import numpy as np
import pytest

from model.segments import (
    DetectOptions,
    Segment,
    build_segments,
    frame_intervals,
    nms,
    smooth_windows,
    softmax_scores,
    temporal_iou,
)

pytestmark = pytest.mark.unit


def test_smooth_windows_edges_repeat():
    e = np.array([[0.0], [3.0], [6.0], [9.0]])
    # padded 0,0,3,6,9,9 -> means of three
    assert smooth_windows(e, 3)[:, 0].tolist() == [1.0, 3.0, 6.0, 8.0]
    assert smooth_windows(e, 1)[:, 0].tolist() == [0.0, 3.0, 6.0, 9.0]


def test_frame_intervals_average_covering_windows():
    bounds, e = frame_intervals(np.array([0, 2, 4]), 4, 8, np.array([[1.0], [3.0], [5.0]]))
    assert bounds.tolist() == [0, 2, 4, 6, 8]
    assert e[:, 0].tolist() == [1.0, 2.0, 4.0, 5.0]


def test_softmax_scores():
    p = softmax_scores(np.array([[0.0, np.log(3.0)]]), 1.0)  # exp(0) : exp(-log 3) = 3 : 1
    np.testing.assert_allclose(p, [[0.75, 0.25]])


def test_iou_and_nms_per_class():
    assert temporal_iou((0, 10), (5, 15)) == pytest.approx(5 / 15)
    a, b = Segment(0, 10, 0, 1.0, 0.9), Segment(1, 10, 0, 1.0, 0.8)  # IoU 0.9 with a
    c = Segment(1, 10, 1, 1.0, 0.7)  # other class: never suppressed by a
    d = Segment(8, 20, 0, 1.0, 0.6)  # IoU 2/20 with a
    assert nms([b, c, d, a], 0.5) == [a, c, d]


def test_build_segments_two_actions_and_background():
    # 8 windows of 4 frames, stride 4 (no overlap): class 0 wins windows 0-2, nobody 3-4, class 1 wins 5-7
    e = np.full((8, 2), 10.0)
    e[0:3, 0] = 1.0
    e[5:8, 1] = 2.0
    opts = DetectOptions(smooth=1, threshold=5.0, levels=(0.0,))
    segs, background = build_segments(np.arange(0, 32, 4), e, 4, 32, temperature=1.0, opts=opts)
    assert [(s.start, s.end, s.class_index) for s in segs] == [(0, 11, 0), (20, 31, 1)]
    assert segs[0].energy == pytest.approx(1.0) and segs[1].energy == pytest.approx(2.0)
    assert segs[0].score == pytest.approx(1 / (1 + np.exp(-9.0)))  # softmax of -1 vs -10
    assert [(b.start, b.end, b.class_index) for b in background] == [(12, 19, None)]
    assert background[0].energy == pytest.approx(10.0)


def test_without_threshold_every_frame_is_some_class():
    e = np.array([[1.0, 2.0], [2.0, 1.0]])
    segs, background = build_segments(np.array([0, 4]), e, 4, 8, 1.0, DetectOptions(smooth=1))
    assert background == []
    assert [(s.start, s.end, s.class_index) for s in segs] == [(0, 3, 0), (4, 7, 1)]


def test_nested_levels_deduplicated_by_nms():
    # class 0 everywhere; score >= 0.5 only in the middle: two proposals, the tighter one scores higher
    e = np.array([[1.0, 1.2], [0.0, 3.0], [1.0, 1.2]])
    segs, _ = build_segments(np.array([0, 4, 8]), e, 4, 12, 1.0, DetectOptions(smooth=1, levels=(0.0, 0.9)))
    assert [(s.start, s.end) for s in segs] == [(0, 11), (4, 7)]  # IoU (7-4)/(11-0) = 3/11 < 0.5: both stay
    segs, _ = build_segments(np.array([0, 4, 8]), e, 4, 12, 1.0,
                             DetectOptions(smooth=1, levels=(0.0, 0.9), nms_iou=0.25))
    assert [(s.start, s.end) for s in segs] == [(4, 7)]


def test_unscorable_windows_are_background():
    e = np.array([[1.0, 5.0], [np.nan, np.nan], [np.nan, np.nan], [1.0, 5.0]])
    segs, background = build_segments(np.arange(0, 16, 4), e, 4, 16, 1.0, DetectOptions(smooth=1))
    assert [(s.start, s.end, s.class_index) for s in segs] == [(0, 3, 0), (12, 15, 0)]
    assert [(b.start, b.end) for b in background] == [(4, 11)]


def test_stream_segmenter_runs_and_cores():
    from model.stream_segments import StreamSegmenter

    seg = StreamSegmenter(length=8, stride=4, temperature=1.0, threshold=5.0)
    rows = [[1, 9], [1, 9], [9, 9], [9, 2], [9, 2]]  # class 0, 0, background, class 1, 1
    closed = []
    for i, row in enumerate(rows):
        result, done = seg.push(4 * i, np.array(row, float), num_frames=4 * i + 8)
        closed += done
        assert result.start == 4 * i and result.end == 4 * i + 7
    closed += seg.finish(24)
    # cores: window i covers [4i+2, 4i+6) (the first from 0), so runs split at 10 and 14; the last run ends at 23
    assert [(s.start, s.end, s.class_index) for s in closed] == [(0, 9, 0), (10, 13, None), (14, 23, 1)]
    assert closed[0].energy == 1.0 and closed[2].energy == 2.0


def test_stream_segmenter_sends_empty_core_frames_to_background():
    from model.stream_segments import StreamSegmenter

    seg = StreamSegmenter(length=8, stride=4, temperature=1.0, threshold=5.0)
    present = np.ones(24, bool)
    present[8:11] = False  # nobody in view in frames 8-10
    closed = []
    for i in range(5):
        _, done = seg.push(4 * i, np.array([1.0, 9.0]), 4 * i + 8, present[4 * i:4 * i + 8])
        closed += done
    present[22:] = False  # the tail after the last core: empty too
    closed += seg.finish(24, present[seg.covered:])
    # cores [0,6) [6,10) [10,14) [14,18) [18,22), then the tail [22,24): class 0 except frames 8-10 and 22-23
    assert [(s.start, s.end, s.class_index) for s in closed] == [(0, 7, 0), (8, 10, None), (11, 21, 0),
                                                                 (22, 23, None)]
    assert closed[0].energy == 1.0 and np.isnan(closed[1].energy)
