"""The convolutional temporal shift against a direct loop over SPEC §4's formula (NumPy float64)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from model.temporal_shift import TemporalShift, temporal_shift, temporal_shift_kernel

pytestmark = pytest.mark.unit


def loop_shift(x: np.ndarray, ypos: np.ndarray, stride: int) -> np.ndarray:
    """out[c,t] = (1-d) x[c, t*s+y1] + d x[c, t*s+y1+1], zero outside; x (N, C, T, V)."""
    n, c, t, v = x.shape
    out = np.zeros((n, c, t // stride, v))
    for ch in range(c):
        y = float(ypos[ch]) + (0.5 if stride == 2 else 0.0)
        y1 = math.floor(y)
        d = y - y1
        for to in range(t // stride):
            for src, w in ((to * stride + y1, 1 - d), (to * stride + y1 + 1, d)):
                if 0 <= src < t:
                    out[:, ch, to] += w * x[:, ch, src]
    return out


YPOS = np.array([0.0, 0.3, -0.3, 1.0, -1.0, 2.75, -2.75, 9.7, -9.7, 4.5, -0.5, 0.5, 12.2, -15.9, 7.01, -6.99])


@pytest.mark.parametrize("stride", [1, 2])
@pytest.mark.parametrize("frames", [16, 18, 19])
def test_matches_loop_formula(stride: int, frames: int) -> None:
    rng = np.random.default_rng(frames * 10 + stride)
    x = rng.normal(size=(2, len(YPOS), frames, 3))
    got = temporal_shift(torch.from_numpy(x).float(), torch.from_numpy(YPOS).float(), stride)
    assert got.shape == (2, len(YPOS), frames // stride, 3)
    np.testing.assert_allclose(got.numpy(), loop_shift(x, YPOS, stride), atol=1e-5)


def test_random_shifts_float64() -> None:
    rng = np.random.default_rng(1)
    ypos = rng.uniform(-6, 6, size=24)
    x = rng.normal(size=(1, 24, 20, 2))
    for stride in (1, 2):
        got = temporal_shift(torch.from_numpy(x), torch.from_numpy(ypos), stride)
        np.testing.assert_allclose(got.numpy(), loop_shift(x, ypos, stride), atol=1e-12)


def test_kernel_size_follows_the_largest_shift() -> None:
    weight, pad = temporal_shift_kernel(torch.tensor([0.2, -8.6]), 1)
    assert pad == 9 and weight.shape == (2, 1, 19, 1)
    _, pad2 = temporal_shift_kernel(torch.tensor([0.2, 8.6]), 2)  # 8.6 + 0.5 = 9.1 -> offsets 9 and 10
    assert pad2 == 10
    # each channel's two taps sum to one (linear interpolation)
    np.testing.assert_allclose(weight.sum(dim=(1, 2, 3)).numpy(), 1.0, atol=1e-6)


def test_ypos_gradient_is_the_interpolation_slope() -> None:
    """d out[c,t] / d y_c = x[c, t*s+y1+1] - x[c, t*s+y1] (zero outside), away from integer positions."""
    rng = np.random.default_rng(2)
    ypos = np.array([0.4, -1.3, 2.6, -3.8])
    x = rng.normal(size=(1, 4, 12, 2))
    w = rng.normal(size=(1, 4, 6, 2))
    yt = torch.tensor(ypos, requires_grad=True)
    (temporal_shift(torch.from_numpy(x), yt, 2) * torch.from_numpy(w)).sum().backward()
    expected = np.zeros(4)
    for c in range(4):
        y1 = math.floor(ypos[c] + 0.5)
        for t in range(6):
            lo, hi = t * 2 + y1, t * 2 + y1 + 1
            xl = x[0, c, lo] if 0 <= lo < 12 else 0.0
            xh = x[0, c, hi] if 0 <= hi < 12 else 0.0
            expected[c] += (w[0, c, t] * (xh - xl)).sum()
    np.testing.assert_allclose(yt.grad.numpy(), expected, atol=1e-10)


def test_sign_rule_and_frozen_xpos() -> None:
    torch.manual_seed(0)
    plain, ruled = TemporalShift(5, 2), TemporalShift(5, 2, ypos_grad_rule=True)
    ruled.load_state_dict(plain.state_dict())
    x = torch.randn(2, 5, 8, 3)
    weights = torch.randn(2, 5, 4, 3)
    for mod in (plain, ruled):
        (mod(x) * weights).sum().backward()
    assert plain.ypos.grad.abs().max() > 0
    torch.testing.assert_close(ruled.ypos.grad, 0.01 * torch.sign(plain.ypos.grad))
    assert plain.xpos.grad is None and not plain.xpos.requires_grad
    assert plain.xpos.abs().max() <= 1e-8 and plain.ypos.abs().max() <= 1.0


@pytest.mark.parametrize("stride", [0, 3])
def test_bad_stride(stride: int) -> None:
    with pytest.raises(ValueError, match="stride must be 1 or 2"):
        temporal_shift(torch.zeros(1, 2, 8, 1), torch.zeros(2), stride)


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="finite"):
        temporal_shift(torch.zeros(1, 2, 8, 1), torch.tensor([0.0, float("nan")]))
    with pytest.raises(ValueError, match="expected x"):
        temporal_shift(torch.zeros(1, 3, 8, 1), torch.zeros(2))
