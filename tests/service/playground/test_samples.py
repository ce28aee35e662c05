"""The shipped sample motions: deterministic, rigid, in NTU conventions, and doing what their names say."""

from __future__ import annotations

import numpy as np
import pytest

from model.skeleton_io import read_skeleton
from service.playground import samples
from service.settings import Settings

pytestmark = pytest.mark.unit
HEAD, SHOULDER_L, SHOULDER_R, ELBOW_R, WRIST_R, HAND_R, HIP_R = 3, 4, 8, 9, 10, 11, 16
BONES = [(0, 1), (1, 20), (20, 2), (2, 3), (20, 8), (8, 9), (9, 10), (0, 16), (16, 17), (17, 18)]
NTU_FILES = ("S001C001P001R001A011", "S001C003P008R002A058", "S002C001P003R001A003")


def part(name: str, action: str) -> np.ndarray:
    """Frames (T', 25, 3) of the first `action` part of a sample."""
    first, last = next((s, e) for a, s, e in samples.part_frames(samples.SAMPLES[name]) if a == action)
    return samples.generate(name)[0, first:last + 1]


@pytest.mark.parametrize("name", list(samples.SAMPLES))
def test_samples_are_deterministic_finite_and_fit_one_recognize_request(name: str) -> None:
    joints = samples.generate(name)
    again = samples.generate.__wrapped__(name)  # recomputed, not the cached array
    assert np.array_equal(joints, again) and joints.dtype == np.float32
    assert joints.shape[0] == 1 and joints.shape[2:] == (25, 3) and np.isfinite(joints).all()
    assert joints.shape[1] == sum(round(seconds * samples.FPS) for _, seconds in samples.SAMPLES[name].parts)
    assert joints.shape[1] <= Settings().max_frames


@pytest.mark.parametrize("name", list(samples.SAMPLES))
def test_the_moving_arm_keeps_its_bone_lengths(name: str) -> None:
    j = samples.generate(name)[0].astype(np.float64)
    upper = np.linalg.norm(j[:, ELBOW_R] - j[:, SHOULDER_R], axis=-1)
    fore = np.linalg.norm(j[:, WRIST_R] - j[:, ELBOW_R], axis=-1)
    rounding = np.sqrt(3) * 10.0 ** -samples.DECIMALS  # both ends rounded to 0.1 mm
    assert np.abs(upper - 0.24).max() <= rounding and np.abs(fore - 0.22).max() <= rounding


def test_waving_raises_the_right_hand_above_the_head_and_swings_it_at_1_5_hz() -> None:
    wave = part("waving", "wave")
    middle = wave[30:-30]  # the arm is up once the 0.6 s lift is over
    assert (middle[:, HAND_R, 1] > middle[:, HEAD, 1]).all()
    lateral = middle[:, HAND_R, 0] - middle[:, HAND_R, 0].mean()
    crossings = np.count_nonzero(np.diff(np.sign(lateral)) != 0)
    seconds = len(middle) / samples.FPS
    assert crossings == pytest.approx(2 * 1.5 * seconds, abs=2)


def test_drinking_brings_the_right_hand_to_the_mouth_and_idle_keeps_it_down() -> None:
    drink = part("drinking", "drink")
    held = drink[40:-40]
    assert (np.linalg.norm(held[:, HAND_R] - held[:, HEAD], axis=-1) < 0.2).all()
    idle = part("drinking", "idle")
    assert (idle[:, HAND_R, 1] < idle[:, HIP_R, 1]).all()


def test_the_long_sample_plays_its_parts_in_order() -> None:
    parts = samples.part_frames(samples.SAMPLES["wave-then-drink"])
    assert [a for a, _, _ in parts] == ["idle", "wave", "idle", "drink", "idle"]
    assert all(s == prev_end + 1 for (_, _, prev_end), (_, s, _) in zip(parts, parts[1:], strict=False))


def test_the_body_has_ntu_axes_and_adult_proportions_like_real_ntu_skeletons(shared_data) -> None:
    real = [read_skeleton(shared_data / "skeletons" / "ntu60_raw" / f"{name}.skeleton").joints[0]
            for name in NTU_FILES]
    ours = samples.generate("waving")[0, :5]  # standing still, arms down
    for j in [*real, ours]:  # subject's right at +x (facing the sensor), head above the hips, z = depth > 0
        assert (j[:, SHOULDER_R, 0] > j[:, SHOULDER_L, 0]).all()
        assert (j[:, HEAD, 1] > j[:, 0, 1]).all() and (j[:, 0, 2] > 1.5).all()
    for a, b in BONES:
        lengths = [np.median(np.linalg.norm(j[:, a] - j[:, b], axis=-1)) for j in real]
        mine = np.linalg.norm(ours[0, a] - ours[0, b])
        assert min(lengths) * 0.75 <= mine <= max(lengths) * 1.25, (a, b, mine, lengths)
