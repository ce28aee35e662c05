"""Window starts (tail included), cutting and chunked scoring with an injected scorer."""

import numpy as np
import pytest

from model.windows import WindowSpec, score_windows, window_centres, window_starts

pytestmark = pytest.mark.unit


@pytest.mark.parametrize("frames, length, stride, want", [
    (10, 4, 3, [0, 3, 6]),  # the last regular window already ends at frame 9
    (11, 4, 3, [0, 3, 6, 7]),  # the tail window 7..10 is added
    (3, 4, 2, [0]),  # shorter than one window: the whole sequence
    (4, 4, 1, [0]),
    (8, 4, 4, [0, 4]),
])
def test_window_starts(frames, length, stride, want):
    assert window_starts(frames, length, stride).tolist() == want


def test_every_frame_covered_and_no_window_past_the_end():
    for frames in range(1, 60):
        starts = window_starts(frames, 16, 5)
        covered = np.zeros(frames, bool)
        for s in starts:
            assert s + min(16, frames) <= frames
            covered[s:s + 16] = True
        assert covered.all()


def test_bad_spec_refused():
    with pytest.raises(ValueError, match="skipped"):
        WindowSpec(length=4, stride=5)
    with pytest.raises(ValueError):
        WindowSpec(length=0, stride=1)


def test_score_windows_passes_each_window_once_in_chunks():
    joints = np.arange(11, dtype=np.float32)[None, :, None, None] * np.ones((1, 11, 25, 3), np.float32)
    calls = []

    def score(windows):
        calls.append(len(windows))
        # energy of a window = its first frame value (so the test can see which frames it got)
        return np.array([[w[0, 0, 0, 0], -w[0, -1, 0, 0]] for w in windows])

    starts, energy = score_windows(joints, WindowSpec(4, 3), score, chunk=3)
    assert starts.tolist() == [0, 3, 6, 7]
    assert calls == [3, 1]
    assert energy[:, 0].tolist() == [0, 3, 6, 7]
    assert energy[:, 1].tolist() == [-3, -6, -9, -10]


def test_window_centres():
    assert window_centres(np.array([0, 3]), 4, 6).tolist() == [1.5, 4.0]
